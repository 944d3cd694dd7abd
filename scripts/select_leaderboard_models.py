"""Build ``model_lists/open_llm_leaderboard.csv`` from the Open LLM Leaderboard v2 table.

Usage: ``python scripts/select_leaderboard_models.py [--check]``

1. Candidates: every row of ``shared/reference/open_llm_leaderboard_v2.csv`` whose Hub id starts with
   one of ``PROVIDERS`` (or is one of ``OTHER_BASE_MODELS``) and whose ``params_b`` is in (0, 10.0].
2. Exclusions: the rules of ``EXCLUDE`` (MoE, SSM/hybrid, encoder-decoder, multimodal, reward model,
   remote-code architectures, a missing parameter figure), each with its reason; duplicate rows of one
   model id keep one row (see ``pick_row``).
3. Each kept id needs a config in ``CONFIGS`` (fields read from a public copy of its ``config.json``,
   cited per row) or in ``shared/reference/small_llm_reference.csv``; ids without one are reported as
   "not yet sourced" and left out.
4. ``total_params`` is the meta-device count of ``hf_interaction.shape.config.shape_from_fields`` (the code
   ``hf-interaction shape --list`` runs); a row whose count does not agree with the leaderboard's
   ``params_b`` (see ``agrees``) is dropped with the reason.

Without ``--check`` it writes the csv and prints the exclusion / drop summary used in
``model_lists/README.md``.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from collections import Counter, OrderedDict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hf_interaction.shape.config import config_from_fields, shape_from_config, shape_from_fields  # noqa: E402

LEADERBOARD = ROOT.parent / "shared" / "reference" / "open_llm_leaderboard_v2.csv"
REFERENCE = ROOT.parent / "shared" / "reference" / "small_llm_reference.csv"
OUT = ROOT / "model_lists" / "open_llm_leaderboard.csv"

SETTING = "Open LLM Leaderboard v2 leaderboard_mmlu_pro"
SOURCE = ("https://github.com/chenjy16/modelrank_ai/blob/2c9830dc3f370334eba9a1b48e7d02b918102811/docs/index.html "
          "(Open LLM Leaderboard v2 contents as of 2025-05-09; shared/reference/open_llm_leaderboard_v2.csv)")

PROVIDERS = (
    "Qwen", "meta-llama", "google", "microsoft", "HuggingFaceTB", "EleutherAI", "allenai", "tiiuae",
    "stabilityai", "mistralai", "ibm-granite", "ibm", "01-ai", "internlm", "deepseek-ai", "bigscience",
    "facebook", "openai-community", "gpt2", "distilbert", "cerebras", "TinyLlama", "mosaicml",
    "togethercomputer", "nvidia", "apple", "Deci", "THUDM", "CohereForAI", "bigcode", "h2oai", "databricks",
    "openbmb", "amd", "Salesforce",
)
# Well-known open base models of other organisations.
OTHER_BASE_MODELS = ("princeton-nlp/Sheared-LLaMA-1.3B", "princeton-nlp/Sheared-LLaMA-2.7B")
MAX_PARAMS_B = 10.0

# (regex on the model id, category, reason); first match wins.
EXCLUDE = (
    (r"(?i)OLMoE|-a400m|-a800m|dbrx", "MoE", "mixture of experts"),
    (r"(?i)mamba|recurrentgemma|hymba", "SSM / hybrid", "state-space or recurrent hybrid, not a dense transformer"),
    (r"(?i)(^|/)(flan-|u?m)?t5-|switch-base", "encoder-decoder", "encoder-decoder (T5 family)"),
    (r"(?i)-VL-", "multimodal", "vision-language model"),
    (r"(?i)-RM$", "reward model", "reward model (sequence-classification head, not a causal LM)"),
    (r"(?i)DialoGPT", "other", "dialogue-response model (GPT-2 fine-tune), neither a base LM nor an instruct model"),
    (r"(?i)internlm2|/glm-4-9b(-chat)?(-1m)?$|Phi-3-small|DeciLM|DCLM",
     "remote code", "architecture needs trust_remote_code (not a transformers model type)"),
)
# Distinct model ids that are the same checkpoint under another name.
ALIASES = {"gpt2": "openai-community/gpt2"}

INSTRUCT = re.compile(r"(?i)instruct|chat|-it$|-it-|sft|dpo|tulu|zephyr|orca|merlinite|dolly|GPT-JT|"
                      r"R1-Distill|OpenMath2|AceMath|SFR|aya|command-r|-jpn-it")

F = ("model_type", "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
     "num_key_value_heads", "head_dim", "vocab_size", "tie_word_embeddings")


def C(family, model_type, layers, hidden, inter, heads, kv, head_dim, vocab, tie, source, note="", **extra):
    """One config record: the list's config fields as read from ``source``; ``extra`` = further fields
    of the same config.json that change the parameter count (checked, see ``build``)."""
    return {"family": family, "model_type": model_type, "num_hidden_layers": layers, "hidden_size": hidden,
            "intermediate_size": inter, "num_attention_heads": heads, "num_key_value_heads": kv,
            "head_dim": head_dim if head_dim is not None else hidden // heads, "vocab_size": vocab,
            "tie_word_embeddings": "true" if tie else "false", "config_source": source, "note": note,
            "extra": extra}


HF = "https://huggingface.co/"
NEOX_MASK = ("leaderboard count includes +{} ({} layers x (2048 x 2048 causal-mask buffer attention.bias + 1 "
             "masked_bias) that GPT-NeoX checkpoints store; inferred: the leaderboard's figure matches the count "
             "plus these buffers, not read from the checkpoint)")


def SH(other: str, url: str) -> str:
    """config_source for a model whose own config.json copy was not found: the config of a sibling of the same
    family and size (base <-> instruct, context-length variant); the leaderboard figure is checked as usual."""
    return f"{url} (config of {other}; this model is its same-size sibling and is assumed to share the shape)"


TIED_STORED = ("leaderboard count includes +{} (one more vocab x width matrix: the checkpoint evidently stores the "
               "tied output matrix as its own tensor, the config ties it so the model has it once; inferred from the "
               "leaderboard's figure, not read from the checkpoint)")

CONFIGS: dict[str, dict] = {
    # ---- Qwen ----
    "Qwen/Qwen2-7B": C("Qwen2", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                       HF + "alielfilali01/PG7BB/blob/main/config.json (_name_or_path Qwen/Qwen2-7B)"),
    "Qwen/Qwen2-7B-Instruct": C("Qwen2", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                                HF + "ZiyiYe/Con-J-Qwen2-7B/blob/main/config.json (_name_or_path Qwen2-7B-Instruct)"),
    "Qwen/Qwen2-1.5B": C("Qwen2", "qwen2", 28, 1536, 8960, 12, 2, None, 151936, True,
                         HF + "thundax/Qwen2-1.5B-Sign/blob/main/config.json (_name_or_path Qwen/Qwen2-1.5B)"),
    "Qwen/Qwen2-1.5B-Instruct": C("Qwen2", "qwen2", 28, 1536, 8960, 12, 2, None, 151936, True,
                                  HF + "unsloth/Qwen2-1.5B-Instruct/blob/main/config.json"),
    "Qwen/Qwen2-0.5B": C("Qwen2", "qwen2", 24, 896, 4864, 14, 2, None, 151936, True,
                         HF + "chgk13/Qwen2-0.5B-openvino/blob/05e859cf55f719d1a39656cfb7e2f7b83cbb8d18/config.json "
                         "(_name_or_path Qwen/Qwen2-0.5B)"),
    "Qwen/Qwen2-0.5B-Instruct": C("Qwen2", "qwen2", 24, 896, 4864, 14, 2, None, 151936, True,
                                  HF + "harry85/Qwen2-0.5B-Instruct/blob/71ca0f25bf423ea4424ced43f34b39741e9bcdfb/"
                                  "config.json (_name_or_path Qwen/Qwen2-0.5B-Instruct)"),
    "Qwen/Qwen1.5-4B": C("Qwen1.5", "qwen2", 40, 2560, 6912, 20, 20, None, 151936, False,
                         HF + "ricdomolm/ttt-mc-qwen-1.5-4b/blob/main/config.json (_name_or_path a Qwen1.5-4B "
                         "snapshot); same fields in " + HF + "RESMPDEV/Qwen1.5-Wukong-4B/blob/refs%2Fpr%2F2/config.json"),
    "Qwen/Qwen1.5-7B-Chat": C("Qwen1.5", "qwen2", 32, 4096, 11008, 32, 32, None, 151936, False,
                              HF + "Qwen/Qwen1.5-7B-Chat/blob/c893e33b7355e09bd215b8c3fbde3b6bef3d2864/config.json"),
    "Qwen/Qwen1.5-0.5B-Chat": C("Qwen1.5", "qwen2", 24, 1024, 2816, 16, 16, None, 151936, True,
                                HF + "kostiantynk-out/dec00ace-8164-4fde-b196-dcf433c7761f/blob/main/config.json "
                                "(_name_or_path Qwen/Qwen1.5-0.5B-Chat)", note=TIED_STORED.format(151936 * 1024)),
    "Qwen/Qwen1.5-0.5B": C("Qwen1.5", "qwen2", 24, 1024, 2816, 16, 16, None, 151936, True,
                           HF + "RESMPDEV/Qwen1.5-Wukong-0.5B/blob/6dfa914bae051a067a6e50ad82168f3df60b3c9b/config.json "
                           "(_name_or_path Qwen/Qwen1.5-0.5B)", note=TIED_STORED.format(151936 * 1024)),
    "Qwen/Qwen1.5-7B": C("Qwen1.5", "qwen2", 32, 4096, 11008, 32, 32, None, 151936, False,
                         HF + "lu-vae/qwen1.5-7b-fft/blob/293cc4b4df8a2d40da00f01d6b27015d339268ca/config.json "
                         "(_name_or_path Qwen/Qwen1.5-7B)"),
    "Qwen/Qwen1.5-1.8B": C("Qwen1.5", "qwen2", 24, 2048, 5504, 16, 16, None, 151936, False,
                           HF + "aloobun/Synch-Qwen1.5-1.8B/blame/5dede2620e5a01e039d3bdec9aa96b55610cd5b8/config.json "
                           "(_name_or_path Qwen/Qwen1.5-1.8B)"),
    "Qwen/Qwen1.5-1.8B-Chat": C("Qwen1.5", "qwen2", 24, 2048, 5504, 16, 16, None, 151936, False,
                                HF + "gmonsoon/Qwenchana-1.8B/blame/refs%2Fpr%2F1/config.json "
                                "(_name_or_path Qwen/Qwen1.5-1.8B-Chat)"),
    # ---- Mistral ----
    "mistralai/Mistral-7B-v0.1": C("Mistral", "mistral", 32, 4096, 14336, 32, 8, None, 32000, False,
                                   HF + "Pplus/mistral-health-faq/blob/0846f4b694d3cd129af7216bf743c56a3e8bb549/"
                                   "config.json (_name_or_path mistralai/Mistral-7B-v0.1)"),
    "mistralai/Mistral-7B-Instruct-v0.1": C("Mistral", "mistral", 32, 4096, 14336, 32, 8, None, 32000, False,
                                            HF + "taehallm/mois-mis-inst-7b/blob/main/config.json "
                                            "(_name_or_path mistralai/Mistral-7B-Instruct-v0.1)"),
    "mistralai/Mistral-7B-Instruct-v0.3": C("Mistral", "mistral", 32, 4096, 14336, 32, 8, None, 32768, False,
                                            HF + "mistralai/Mistral-7B-Instruct-v0.3/blob/"
                                            "c170c708c41dac9275d15a8fff4eca08d52bab71/config.json"),
    # ---- Google (Gemma 1: tie_word_embeddings unset = the GemmaConfig default, true) ----
    "google/gemma-7b": C("Gemma", "gemma", 28, 3072, 24576, 16, 16, 256, 256000, True,
                         HF + "juhwanlee/gemma-7B-alpaca-case-0-2/blame/main/config.json (_name_or_path google/gemma-7b)"),
    "google/gemma-2b": C("Gemma", "gemma", 18, 2048, 16384, 8, 1, 256, 256000, True,
                         HF + "PrunaAI/google-gemma-2b-HQQ-4bit-smashed/blob/5c8abf67b81d9c56d50040e5835b2f166d15fd3f/"
                         "config.json (_name_or_path google/gemma-2b)"),
    # ---- 01-ai ----
    "01-ai/Yi-6B": C("Yi", "llama", 32, 4096, 11008, 32, 4, None, 64000, False, HF + "01-ai/Yi-6B/blob/main/config.json"),
    "01-ai/Yi-6B-200K": C("Yi", "llama", 32, 4096, 11008, 32, 4, None, 64000, False,
                          HF + "01-ai/Yi-6B-200K/blob/9b7abaa5a01defaca872a1e5cab1b03bd2153fc5/config.json"),
    "01-ai/Yi-1.5-9B": C("Yi-1.5", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                         HF + "01-ai/Yi-1.5-9B/blob/main/config.json"),
    "01-ai/Yi-1.5-9B-Chat": C("Yi-1.5", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                              HF + "fakezeta/Yi-1.5-9B-Chat-ov-int4/blob/main/config.json (_name_or_path 01-ai/Yi-1.5-9B-Chat)"),
    # ---- Meta Llama 2 ----
    "meta-llama/Llama-2-7b-hf": C("Llama 2", "llama", 32, 4096, 11008, 32, 32, None, 32000, False,
                                  HF + "north/llama2-7b-exporttest1/blob/56dcaff1795adb409dc9756e86617ee237c166a2/"
                                  "config.json (_name_or_path meta-llama/Llama-2-7b-hf)"),
    "meta-llama/Llama-2-7b-chat-hf": C("Llama 2", "llama", 32, 4096, 11008, 32, 32, None, 32000, False,
                                       HF + "gibhug/llama2-7b-chicks_v2-0/blob/main/config.json "
                                       "(_name_or_path meta-llama/Llama-2-7b-chat-hf)"),
    # ---- TII Falcon3 (llama architecture) ----
    "tiiuae/Falcon3-7B-Base": C("Falcon3", "llama", 28, 3072, 23040, 12, 4, 256, 131072, False,
                                HF + "tiiuae/Falcon3-7B-Base/blame/92412d8e4cca51fddb0239394a9e45e34d6e9aaf/config.json"),
    "tiiuae/Falcon3-7B-Instruct": C("Falcon3", "llama", 28, 3072, 23040, 12, 4, 256, 131072, False,
                                    HF + "tiiuae/Falcon3-7B-Instruct/blob/ca6ceed0f6d5852f44ac1fdf5f8403bccb4449c9/config.json"),
    "tiiuae/Falcon3-3B-Base": C("Falcon3", "llama", 22, 3072, 9216, 12, 4, 256, 131072, False,
                                HF + "tiiuae/Falcon3-3B-Base/blob/refs%2Fpr%2F2/config.json"),
    "tiiuae/Falcon3-3B-Instruct": C("Falcon3", "llama", 22, 3072, 9216, 12, 4, 256, 131072, False,
                                    HF + "tiiuae/Falcon3-3B-Instruct/blob/main/config.json"),
    "tiiuae/Falcon3-1B-Base": C("Falcon3", "llama", 18, 2048, 8192, 8, 4, 256, 131072, False,
                                HF + "rahkaro/Moral_Instruct/blob/main/config.json (_name_or_path tiiuae/Falcon3-1B-Base)"),
    "tiiuae/Falcon3-1B-Instruct": C("Falcon3", "llama", 18, 2048, 8192, 8, 4, 256, 131072, False,
                                    HF + "AIFunOver/Falcon3-1B-Instruct-openvino-fp16/blame/main/config.json "
                                    "(_name_or_path tiiuae/Falcon3-1B-Instruct)"),
    # ---- IBM Granite 3.x ----
    "ibm-granite/granite-3.0-2b-instruct": C("Granite-3", "granite", 40, 2048, 8192, 32, 8, None, 49155, True,
                                             HF + "ibm-granite/granite-3.0-2b-instruct/blame/main/config.json",
                                             note=TIED_STORED.format(49155 * 2048)),
    "ibm-granite/granite-3.2-2b-instruct": C("Granite-3", "granite", 40, 2048, 8192, 32, 8, None, 49155, True,
                                             HF + "alexgusevski/granite-3.2-2b-instruct-q8-mlx/blame/main/config.json "
                                             "(MLX copy of ibm-granite/granite-3.2-2b-instruct)"),
    "ibm-granite/granite-3.2-8b-instruct": C("Granite-3", "granite", 40, 4096, 12800, 32, 8, None, 49155, True,
                                             HF + "huihui-ai/granite-3.2-8b-instruct-abliterated/blob/main/config.json "
                                             "(abliterated copy of ibm-granite/granite-3.2-8b-instruct)"),
    "ibm-granite/granite-3.1-8b-instruct": C("Granite-3", "granite", 40, 4096, 12800, 32, 8, None, 49155, True,
                                             HF + "ibm-granite/granite-3.1-8b-instruct/blame/"
                                             "96fedcdf5764b7e36d2737d129bc07caff913e72/config.json"),
    "ibm-granite/granite-3.1-2b-instruct": C("Granite-3", "granite", 40, 2048, 8192, 32, 8, None, 49155, True,
                                             HF + "NikIman1/companio_test/blob/main/config.json "
                                             "(_name_or_path ibm-granite/granite-3.1-2b-instruct)"),
    "ibm-granite/granite-7b-base": C("Granite-7b", "llama", 32, 4096, 11008, 32, 32, None, 32000, False,
                                     HF + "ibm-granite/granite-7b-base/blob/470d4df7772b2cacab56b290fc63ffbc59355df3/config.json"),
    # ---- Microsoft ----
    "microsoft/phi-2": C("Phi-1/2", "phi", 32, 2560, 10240, 32, 32, None, 51200, False,
                         HF + "microsoft/phi-2/blame/cb02e3efd822d6dbc1ca7e0dff31c29a11550411/config.json"),
    "microsoft/phi-1_5": C("Phi-1/2", "phi", 24, 2048, 8192, 32, 32, None, 51200, False,
                           HF + "microsoft/phi-1_5/blame/d3ba318b780bfb92942c28853066fe4036d1b496/config.json"),
    # ---- Hugging Face SmolLM ----
    "HuggingFaceTB/SmolLM-1.7B": C("SmolLM", "llama", 24, 2048, 8192, 32, 32, None, 49152, True,
                                   HF + "mlx-community/SmolLM-1.7B-fp16/blob/refs%2Fpr%2F1/config.json "
                                   "(MLX conversion of HuggingFaceTB/SmolLM-1.7B)"),
    "HuggingFaceTB/SmolLM-1.7B-Instruct": C("SmolLM", "llama", 24, 2048, 8192, 32, 32, None, 49152, True,
                                            HF + "unsloth/SmolLM-1.7B-Instruct/blob/"
                                            "eed2ce063e848a9e20ab2b762dd686b74a2ff95c/config.json"),
    "HuggingFaceTB/SmolLM2-135M-Instruct": C("SmolLM2", "llama", 30, 576, 1536, 9, 3, 64, 49152, True,
                                             HF + "thatupiso/SmolLM2-FT-DPO2/blame/82a39892c4a819fa6093b523130b534a133952f1/"
                                             "config.json (_name_or_path HuggingFaceTB/SmolLM2-135M-Instruct)"),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": C("SmolLM2", "llama", 24, 2048, 8192, 32, 32, 64, 49152, True,
                                             HF + "puettmann/SmolMaestra-1.7b-Translation/blame/"
                                             "4c7688724a0ce6c86e1dee0e4a3d5930935e100f/config.json "
                                             "(_name_or_path HuggingFaceTB/SmolLM2-1.7B-Instruct)"),
    # ---- DeepSeek ----
    "deepseek-ai/deepseek-llm-7b-base": C("DeepSeek-LLM", "llama", 30, 4096, 11008, 32, 32, None, 102400, False,
                                          HF + "RikkiXu/zephyr-7b-sft-full/blame/d63dce5b68e7aa54676ceecad7e499b6def21dd4/"
                                          "config.json (_name_or_path deepseek-ai/deepseek-llm-7b-base)"),
    "deepseek-ai/deepseek-llm-7b-chat": C("DeepSeek-LLM", "llama", 30, 4096, 11008, 32, 32, None, 102400, False,
                                          HF + "yiran-wang3/ds_chat_sppo_hard_iter0_nomask_linear_schedule/blob/main/"
                                          "config.json (_name_or_path deepseek-ai/deepseek-llm-7b-chat)"),
    # ---- other organisations' open base models ----
    "princeton-nlp/Sheared-LLaMA-2.7B": C("Sheared-LLaMA", "llama", 32, 2560, 6912, 20, 20, None, 32000, False,
                                          HF + "princeton-nlp/Sheared-LLaMA-2.7B/blob/"
                                          "2f157a0306b75d37694ae05f6a4067220254d540/config.json"),
    "princeton-nlp/Sheared-LLaMA-1.3B": C("Sheared-LLaMA", "llama", 24, 2048, 5504, 16, 16, None, 32000, False,
                                          HF + "princeton-nlp/Sheared-LLaMA-1.3B/blob/main/config.json"),
    # ---- H2O.ai ----
    "h2oai/h2o-danube3-4b-chat": C("H2O-Danube3", "llama", 24, 3840, 10240, 32, 8, None, 32000, False,
                                   HF + "h2oai/h2o-danube3-4b-chat/blob/refs%2Fpr%2F4/config.json"),
    "h2oai/h2o-danube3.1-4b-chat": C("H2O-Danube3", "llama", 24, 3840, 10240, 32, 8, 120, 32000, False,
                                     HF + "h2oai/h2o-danube3.1-4b-chat/blob/4914592b0427b013ef6d5688d0ae5f64fc0cbe17/config.json"),
    "h2oai/h2o-danube3-500m-chat": C("H2O-Danube3", "llama", 16, 1536, 4096, 16, 8, None, 32000, False,
                                     HF + "h2oai/h2o-danube3-500m-chat/blame/main/config.json"),
    "h2oai/h2o-danube-1.8b-chat": C("H2O-Danube", "mistral", 24, 2560, 6912, 32, 8, None, 32000, False,
                                    HF + "h2oai/h2o-danube-1.8b-chat/blob/c0a423e725a422bc31c83697d77c8bba775e5f0b/config.json"),
    # ---- Stability AI ----
    "stabilityai/stablelm-3b-4e1t": C("StableLM", "stablelm", 32, 2560, 6912, 32, 32, None, 50304, False,
                                      HF + "jon-tow/stablelm-3b-4e1t-dev/blob/refs%2Fpr%2F1/config.json (the model in the "
                                      "transformers-native stablelm format, use_qkv_bias false); same sizes in "
                                      + HF + "stabilityai/stablelm-3b-4e1t/blob/b6e4fc15bb19a0a7425f6b879cac0a595124b5b2/"
                                      "config.json (remote-code stablelm_epoch format)", use_qkv_bias=False),
    "stabilityai/stablelm-2-1_6b": C("StableLM-2", "stablelm", 24, 2048, 5632, 32, 32, None, 100352, False,
                                     HF + "stabilityai/stablelm-2-1_6b/blame/ebf5f386bd0f26fedce910780a123a20ef64e17d/config.json",
                                     use_qkv_bias=True),
    # ---- more Qwen ----
    "Qwen/Qwen2.5-Coder-7B-Instruct": C("Qwen2.5-Coder", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                                        HF + "VERSIL91/748b9db5-2b25-45c4-83bb-bebf0bf081ce/raw/main/config.json "
                                        "(_name_or_path Qwen/Qwen2.5-Coder-7B-Instruct)"),
    "Qwen/Qwen2.5-Coder-7B": C("Qwen2.5-Coder", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                               SH("Qwen/Qwen2.5-Coder-7B-Instruct", HF + "FreedomIntelligence/BlenderLLM/blob/main/"
                                  "config.json (_name_or_path a Qwen2.5-Coder-7B-Instruct snapshot)")),
    "Qwen/Qwen2.5-Math-7B": C("Qwen2.5-Math", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                              HF + "unsloth/Qwen2.5-Math-7B/blob/main/config.json (_name_or_path Qwen/Qwen2.5-Math-7B)"),
    "Qwen/Qwen2.5-Math-7B-Instruct": C("Qwen2.5-Math", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                                       HF + "flyingbugs/Qwen2.5-Math-7B-Instruct/blob/main/config.json "
                                       "(_name_or_path a Qwen--Qwen2.5-Math-7B-Instruct snapshot)"),
    "Qwen/Qwen2-Math-7B": C("Qwen2-Math", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                            SH("Qwen/Qwen2-Math-7B-Instruct", HF + "PrunaAI/Qwen-Qwen2-Math-7B-Instruct-HQQ-4bit-smashed/"
                               "blame/main/config.json (_name_or_path Qwen/Qwen2-Math-7B-Instruct)")),
    "Qwen/Qwen2.5-0.5B-Instruct": C("Qwen2.5", "qwen2", 24, 896, 4864, 14, 2, None, 151936, True,
                                    SH("Qwen/Qwen2.5-0.5B", HF + "osllmai-community/Qwen2.5-0.5B/blob/main/config.json")),
    "Qwen/Qwen2.5-1.5B-Instruct": C("Qwen2.5", "qwen2", 28, 1536, 8960, 12, 2, None, 151936, True,
                                    SH("Qwen/Qwen2.5-1.5B", HF + "kaitchup/Qwen2.5-1.5B-AutoRound-GPTQ-asym-4bit/blame/"
                                       "5b2afaa328afe39d67b206d6b0f3a5a1d43893a7/config.json")),
    "Qwen/Qwen1.5-4B-Chat": C("Qwen1.5", "qwen2", 40, 2560, 6912, 20, 20, None, 151936, False,
                              SH("Qwen/Qwen1.5-4B", HF + "ricdomolm/ttt-mc-qwen-1.5-4b/blob/main/config.json")),
    # ---- more 01-ai ----
    "01-ai/Yi-9B": C("Yi", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                     HF + "TechxGenus/Yi-9B-AWQ/blame/main/config.json (_name_or_path 01-ai/Yi-9B)"),
    "01-ai/Yi-9B-200K": C("Yi", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                          HF + "01-ai/Yi-9B-200K/blob/main/config.json"),
    "01-ai/Yi-1.5-9B-32K": C("Yi-1.5", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                             SH("01-ai/Yi-1.5-9B", HF + "01-ai/Yi-1.5-9B/blob/main/config.json")),
    "01-ai/Yi-1.5-9B-Chat-16K": C("Yi-1.5", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                                  SH("01-ai/Yi-1.5-9B-Chat", HF + "fakezeta/Yi-1.5-9B-Chat-ov-int4/blob/main/config.json")),
    "01-ai/Yi-6B-Chat": C("Yi", "llama", 32, 4096, 11008, 32, 4, None, 64000, False,
                          SH("01-ai/Yi-6B", HF + "01-ai/Yi-6B/blob/main/config.json")),
    # ---- more Google / Meta / Mistral instruct and sibling variants ----
    **{mid: C("Gemma", "gemma", 28, 3072, 24576, 16, 16, 256, 256000, True,
              SH("google/gemma-7b", HF + "juhwanlee/gemma-7B-alpaca-case-0-2/blame/main/config.json"))
       for mid in ("google/gemma-7b-it", "google/gemma-1.1-7b-it")},
    **{mid: C("Gemma", "gemma", 18, 2048, 16384, 8, 1, 256, 256000, True,
              SH("google/gemma-2b", HF + "PrunaAI/google-gemma-2b-HQQ-4bit-smashed/blob/"
                 "5c8abf67b81d9c56d50040e5835b2f166d15fd3f/config.json"))
       for mid in ("google/gemma-2b-it", "google/gemma-1.1-2b-it")},
    "mistralai/Mistral-7B-v0.3": C("Mistral", "mistral", 32, 4096, 14336, 32, 8, None, 32768, False,
                                   SH("mistralai/Mistral-7B-Instruct-v0.3", HF + "mistralai/Mistral-7B-Instruct-v0.3/"
                                      "blob/c170c708c41dac9275d15a8fff4eca08d52bab71/config.json")),
    "mistralai/Mistral-7B-Instruct-v0.2": C("Mistral", "mistral", 32, 4096, 14336, 32, 8, None, 32000, False,
                                            SH("mistralai/Mistral-7B-Instruct-v0.1", HF + "taehallm/mois-mis-inst-7b/"
                                               "blob/main/config.json")),
    # ---- more IBM Granite ----
    "ibm-granite/granite-3.1-8b-base": C("Granite-3", "granite", 40, 4096, 12800, 32, 8, None, 49155, True,
                                         SH("ibm-granite/granite-3.1-8b-instruct", HF + "ibm-granite/granite-3.1-8b-"
                                            "instruct/blame/96fedcdf5764b7e36d2737d129bc07caff913e72/config.json")),
    "ibm-granite/granite-3.1-2b-base": C("Granite-3", "granite", 40, 2048, 8192, 32, 8, None, 49155, True,
                                         SH("ibm-granite/granite-3.1-2b-instruct", HF + "NikIman1/companio_test/blob/"
                                            "main/config.json")),
    "ibm-granite/granite-3.0-2b-base": C("Granite-3", "granite", 40, 2048, 8192, 32, 8, None, 49155, True,
                                         SH("ibm-granite/granite-3.0-2b-instruct", HF + "ibm-granite/granite-3.0-2b-"
                                            "instruct/blame/main/config.json"), note=TIED_STORED.format(49155 * 2048)),
    # ---- H2O ----
    "h2oai/h2o-danube3-4b-base": C("H2O-Danube3", "llama", 24, 3840, 10240, 32, 8, None, 32000, False,
                                   SH("h2oai/h2o-danube3-4b-chat", HF + "h2oai/h2o-danube3-4b-chat/blob/refs%2Fpr%2F4/"
                                      "config.json")),
    # ---- NVIDIA (Minitron: pruned + distilled from larger models) ----
    "nvidia/Minitron-8B-Base": C("Minitron", "nemotron", 32, 4096, 16384, 48, 8, 128, 256000, False,
                                 HF + "nvidia/Minitron-8B-Base/blame/main/config.json"),
    "nvidia/Minitron-4B-Base": C("Minitron", "nemotron", 32, 3072, 9216, 24, 8, 128, 256000, False,
                                 HF + "nvidia/Minitron-4B-Base/blob/475785aa6f0a23f18b968821c9e2191697278bfd/config.json"),
    "nvidia/Mistral-NeMo-Minitron-8B-Base": C("Mistral-NeMo-Minitron", "mistral", 40, 4096, 11520, 32, 8, 128, 131072,
                                              False, HF + "solidrust/Mistral-NeMo-Minitron-8B-Base-AWQ/blob/main/"
                                              "config.json (AWQ copy of nvidia-Mistral-NeMo-Minitron-8B-Base)"),
    "nvidia/Mistral-NeMo-Minitron-8B-Instruct": C("Mistral-NeMo-Minitron", "mistral", 40, 4096, 11520, 32, 8, 128,
                                                  131072, False, HF + "nvidia/Mistral-NeMo-Minitron-8B-Instruct/"
                                                  "blob/main/config.json"),
    # ---- Microsoft Phi-3 ----
    "microsoft/Phi-3-mini-4k-instruct": C("Phi-3", "phi3", 32, 3072, 8192, 32, 32, None, 32064, False,
                                          HF + "Alignment-Lab-AI/idfkphi4kiguess/blob/main/config.json "
                                          "(duplicate of microsoft/Phi-3-mini-4k-instruct)"),
    "microsoft/Phi-3-mini-128k-instruct": C("Phi-3", "phi3", 32, 3072, 8192, 32, 32, None, 32064, False,
                                            SH("microsoft/Phi-3-mini-4k-instruct", HF + "Alignment-Lab-AI/"
                                               "idfkphi4kiguess/blob/main/config.json")),
    # ---- IBM Granite 3.0 8B (3.1 extends its context; same shape) ----
    **{mid: C("Granite-3", "granite", 40, 4096, 12800, 32, 8, None, 49155, True,
              SH("ibm-granite/granite-3.1-8b-instruct", HF + "ibm-granite/granite-3.1-8b-instruct/blame/"
                 "96fedcdf5764b7e36d2737d129bc07caff913e72/config.json"))
       for mid in ("ibm-granite/granite-3.0-8b-base", "ibm-granite/granite-3.0-8b-instruct")},
    # ---- AllenAI OLMo (1) ----
    "allenai/OLMo-7B-hf": C("OLMo", "olmo", 32, 4096, 11008, 32, 32, None, 50304, False,
                            HF + "PrunaAI/allenai-OLMo-7B-hf-HQQ-1bit-smashed/blob/refs%2Fpr%2F1/config.json "
                            "(_name_or_path allenai/OLMo-7B-hf)"),
    "allenai/OLMo-7B-Instruct-hf": C("OLMo", "olmo", 32, 4096, 11008, 32, 32, None, 50304, False,
                                     HF + "ssec-uw/OLMo-7B-Instruct-hf/blob/refs%2Fpr%2F1/config.json "
                                     "(copy of OLMo-7B-Instruct-hf)"),
    "allenai/OLMo-1B-hf": C("OLMo", "olmo", 16, 2048, 8192, 16, 16, None, 50304, True,
                            HF + "Shahradmz/OLMo-1B-hf-PPO-constitution-1/blame/main/config.json "
                            "(_name_or_path allenai/OLMo-1B-hf)"),
    # ---- more SmolLM / Mistral ----
    "HuggingFaceTB/SmolLM-360M": C("SmolLM", "llama", 32, 960, 2560, 15, 5, None, 49152, True,
                                   HF + "HuggingFaceTB/SmolLM-360M/blob/714709f2ab541dd5cebd04ea1457cd69e7a4bac3/config.json"),
    "HuggingFaceTB/SmolLM-360M-Instruct": C("SmolLM", "llama", 32, 960, 2560, 15, 5, None, 49152, True,
                                            HF + "HuggingFaceTB/SmolLM-360M-Instruct/blob/main/config.json"),
    "mistralai/Ministral-8B-Instruct-2410": C("Ministral", "mistral", 36, 4096, 12288, 32, 8, 128, 131072, False,
                                             HF + "stan-hua/Ministral-8B-Instruct-2410-AWQ-W4A16/blob/main/config.json "
                                             "(_name_or_path a mistralai--Ministral-8B-Instruct-2410 snapshot)"),
    "HuggingFaceTB/SmolLM-135M": C("SmolLM", "llama", 30, 576, 1536, 9, 3, None, 49152, True,
                                   HF + "a420/SmolLM-135M_onnx/blob/acdce14947e0d5639993487e8d6a5009b934ddd3/config.json "
                                   "(_name_or_path HuggingFaceTB/SmolLM-135M)"),
    "HuggingFaceTB/SmolLM-135M-Instruct": C("SmolLM", "llama", 30, 576, 1536, 9, 3, None, 49152, True,
                                            HF + "HuggingFaceTB/SmolLM-135M-Instruct/blob/main/config.json"),
    # ---- OpenAI GPT-2, BigScience BLOOM (no intermediate_size field: the MLP is 4 x width) ----
    "openai-community/gpt2-medium": C("GPT-2", "gpt2", 24, 1024, 4096, 16, 16, None, 50257, True,
                                      HF + "postbot/gpt2-medium-emailgen/blame/7a16ef2e2c2bb648aa109d873947e6de76e8c4c2/"
                                      "config.json (_name_or_path gpt2-medium; n_inner null = 4 x n_embd; "
                                      "tie_word_embeddings unset = GPT2Config default true)"),
    "bigscience/bloom-1b7": C("BLOOM", "bloom", 24, 2048, 8192, 16, 16, None, 250880, True,
                              HF + "marcsun13/bloom-1b7_with_lm_head/blob/main/config.json (_name_or_path "
                              "bigscience/bloom-1b7; MLP 4 x hidden; tie_word_embeddings unset = BloomConfig default true)"),
    "bigscience/bloom-7b1": C("BLOOM", "bloom", 30, 4096, 16384, 32, 32, None, 250880, True,
                              HF + "davisalex22/BLOOMTurismEC-7b1-ft/blame/main/config.json (_name_or_path "
                              "bigscience/bloom-7b1; MLP 4 x hidden; tie_word_embeddings unset = BloomConfig default true)"),
    # ---- DeepSeek R1 distill, AllenAI Tulu 3 ----
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": C("DeepSeek-R1-Distill", "qwen2", 28, 3584, 18944, 28, 4, None, 152064,
                                                 False, HF + "prithivMLmods/QwQ-R1-Distill-7B-CoT/blob/main/config.json "
                                                 "(_name_or_path deepseek-ai/DeepSeek-R1-Distill-Qwen-7B)"),
    "allenai/Llama-3.1-Tulu-3-8B": C("Tulu-3", "llama", 32, 4096, 14336, 32, 8, None, 128264, False,
                                     HF + "allenai/Llama-3.1-Tulu-3-8B/blob/main/config.json"),
    **{mid: C("Tulu-3", "llama", 32, 4096, 14336, 32, 8, None, 128264, False,
              SH("allenai/Llama-3.1-Tulu-3-8B", HF + "allenai/Llama-3.1-Tulu-3-8B/blob/main/config.json"))
       for mid in ("allenai/Llama-3.1-Tulu-3-8B-SFT", "allenai/Llama-3.1-Tulu-3-8B-DPO")},
    "01-ai/Yi-1.5-6B": C("Yi-1.5", "llama", 32, 4096, 11008, 32, 4, None, 64000, False,
                         HF + "rabbitcat/BashCopilot-6B-preview/blob/1c4507cc863e4d67916377b621fa6e631a450ad5/config.json "
                         "(_name_or_path a Yi-1.5-Base/Yi-1.5-6B checkpoint)"),
    "01-ai/Yi-1.5-6B-Chat": C("Yi-1.5", "llama", 32, 4096, 11008, 32, 4, None, 64000, False,
                              HF + "01-ai/Yi-1.5-6B-Chat/blob/dd86db5e101a25cc977f978735b4eaf5a9e5a5cf/config.json"),
    "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B": C("DeepSeek-R1-Distill", "qwen2", 28, 1536, 8960, 12, 2, None, 151936,
                                                   False, HF + "onnx-community/DeepSeek-R1-Distill-Qwen-1.5B-ONNX/blob/"
                                                   "main/config.json (_name_or_path deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B)"),
    # ---- Together RedPajama-INCITE (GPT-NeoX) ----
    **{mid: C("RedPajama-INCITE", "gpt_neox", 32, 2560, 10240, 32, 32, None, 50432, False,
              HF + "unionai/RedPajama-INCITE-Base-3B-v1-wikipedia-8bit/blame/30d3a01232f6f399ddd1cd2b0dfc881c48323060/"
              "config.json (_name_or_path togethercomputer/RedPajama-INCITE-Base-3B-v1)"
              + ("" if mid.endswith("Base-3B-v1") else "; the Instruct/Chat-3B models are its fine-tunes of the same shape"),
              note=NEOX_MASK.format(32 * (2048 * 2048 + 1), 32))
       for mid in ("togethercomputer/RedPajama-INCITE-Base-3B-v1", "togethercomputer/RedPajama-INCITE-Instruct-3B-v1",
                   "togethercomputer/RedPajama-INCITE-Chat-3B-v1")},
    **{mid: C("RedPajama-INCITE", "gpt_neox", 32, 4096, 16384, 32, 32, None, 50432, False,
              HF + "togethercomputer/RedPajama-INCITE-7B-Instruct/blame/main/config.json"
              + ("" if mid.endswith("7B-Instruct") else "; the 7B Base/Chat models share the shape"),
              note=NEOX_MASK.format(32 * (2048 * 2048 + 1), 32))
       for mid in ("togethercomputer/RedPajama-INCITE-7B-Base", "togethercomputer/RedPajama-INCITE-7B-Instruct",
                   "togethercomputer/RedPajama-INCITE-7B-Chat")},
    "openai-community/gpt2-xl": C("GPT-2", "gpt2", 48, 1600, 6400, 25, 25, None, 50257, True,
                                  HF + "openai-community/gpt2-xl/blob/main/config.json (n_inner unset = 4 x n_embd; "
                                  "tie_word_embeddings unset = GPT2Config default true)"),
    "bigscience/bloom-560m": C("BLOOM", "bloom", 24, 1024, 4096, 16, 16, None, 250880, True,
                               HF + "iproskurina/bloom-560m-gptq-4bit/blame/main/config.json (_name_or_path "
                               "bigscience/bloom-560m; MLP 4 x hidden; tie_word_embeddings unset = BloomConfig default true)"),
    "microsoft/Orca-2-7b": C("Orca-2", "llama", 32, 4096, 11008, 32, 32, None, 32003, False,
                             HF + "microsoft/Orca-2-7b/blob/a9cadf2641ab00118d57defb991d5eb36a91cb41/config.json"),
    "openai-community/gpt2-large": C("GPT-2", "gpt2", 36, 1280, 5120, 20, 20, None, 50257, True,
                                     HF + "openai-community/gpt2-large/blob/refs%2Fpr%2F1/config.json (PR revision of "
                                     "the official repository; n_inner unset = 4 x n_embd; tie_word_embeddings unset = "
                                     "GPT2Config default true)"),
    "bigcode/starcoder2-3b": C("StarCoder2", "starcoder2", 30, 3072, 12288, 24, 2, None, 49152, True,
                               HF + "OpenVINO/starcoder2-3b-int8-ov/blame/c1cc7147d839e0d240c5e7ed994f494f38ef7cb2/"
                               "config.json (OpenVINO export of bigcode/starcoder2-3b; use_bias unset = default true); "
                               "tie_word_embeddings true as set in the official repository by commit "
                               + HF + "bigcode/starcoder2-3b/commit/8c5d79c2f2801938962d18ea09bf4871e68f3031"),
    "openai-community/gpt2": C("GPT-2", "gpt2", 12, 768, 3072, 12, 12, None, 50257, True,
                               HF + "TopperThijs/GPT2-quantinez-test/commit/d5a6fd1192cfe8c0bd9a7eefae2b280c68ead303 "
                               "(config.json copy with _name_or_path openai-community/gpt2; n_inner null = 4 x n_embd; "
                               "tie_word_embeddings unset = GPT2Config default true)"),
    "distilbert/distilgpt2": C("DistilGPT2", "gpt2", 6, 768, 3072, 12, 12, None, 50257, True,
                               HF + "distilbert/distilgpt2/blob/09daaa0f403ae0cc7008de3fe24d179565245e6f/config.json "
                               "(official, old revision without model_type; model_type gpt2 as in the copy "
                               "https://huggingface.co/ashwinmuthuraman/my_awesome_eli5_clm-model/blame/"
                               "d16f9a0aebfe7face5e79b8357ef08e538ff5138/config.json, _name_or_path distilbert/distilgpt2; "
                               "4 x n_embd MLP; tied by GPT2Config default)"),
    "bigscience/bloom-1b1": C("BLOOM", "bloom", 24, 1536, 6144, 16, 16, None, 250880, True,
                              HF + "iproskurina/bloom-1b1-gptq-4bit/blame/main/config.json (_name_or_path "
                              "bigscience/bloom-1b1; MLP 4 x hidden; tie_word_embeddings unset = BloomConfig default true)"),
    "bigscience/bloom-3b": C("BLOOM", "bloom", 30, 2560, 10240, 32, 32, None, 250880, True,
                             HF + "iproskurina/bloom-3b-GPTQ-4bit-g128/blame/cdc960de448ea0be2f8c1f4939dc5ac336d4957b/"
                             "config.json (_name_or_path bigscience/bloom-3b; MLP 4 x hidden; tie_word_embeddings "
                             "unset = BloomConfig default true)"),
    "microsoft/phi-1": C("Phi-1", "phi", 24, 2048, 8192, 32, 32, None, 51200, False,
                         HF + "microsoft/phi-1/blame/main/config.json (num_key_value_heads null = num_attention_heads)"),
    "amd/AMD-Llama-135m": C("AMD-Llama", "llama", 12, 768, 2048, 12, 12, 64, 32000, False,
                            HF + "nlpguy/amdchess-v8/blame/main/config.json (copy of a fine-tune whose _name_or_path is "
                            "amd/AMD-Llama-135m; shape fields as in the base model)"),
    "bigcode/starcoder2-7b": C("StarCoder2", "starcoder2", 32, 4608, 18432, 36, 4, None, 49152, True,
                               HF + "bigcode/starcoder2-7b/blob/refs%2Fpr%2F4/config.json (official, BigCode upload "
                               "56cbdc2; tie_word_embeddings unset = Starcoder2Config default true; use_bias true)"),
    "google/codegemma-1.1-2b": C("CodeGemma", "gemma", 18, 2048, 16384, 8, 1, 256, 256000, True,
                                 SH("google/codegemma-2b", HF + "unsloth/codegemma-2b/blob/"
                                    "794473b952a25764c143ae2cf951dddab0c46cd7/config.json (_name_or_path "
                                    "google/codegemma-2b; tie_word_embeddings unset = GemmaConfig default true)")),
    "deepseek-ai/DeepSeek-R1-Distill-Llama-8B": C("DeepSeek-R1-Distill", "llama", 32, 4096, 14336, 32, 8, 128, 128256,
                                                  False, HF + "unsloth/DeepSeek-R1-Distill-Llama-8B-unsloth-bnb-4bit/blame/"
                                                  "44fae25e269ed56abdb59cdab48e4fe956ce93eb/config.json (_name_or_path "
                                                  "deepseek-ai/DeepSeek-R1-Distill-Llama-8B; quantised copy, shape fields "
                                                  "unchanged)"),
    "01-ai/Yi-Coder-9B-Chat": C("Yi-Coder", "llama", 48, 4096, 11008, 32, 4, None, 64000, False,
                                HF + "stelterlab/Yi-Coder-9B-Chat-AWQ/blob/main/config.json (_name_or_path a snapshot of "
                                "01-ai/Yi-Coder-9B-Chat, commit 32b78255; AWQ copy, shape fields unchanged)"),
    "ibm-granite/granite-7b-instruct": C("Granite-7b", "llama", 32, 4096, 11008, 32, 32, None, 32000, False,
                                         SH("ibm-granite/granite-7b-base", HF + "ibm-granite/granite-7b-base/blob/"
                                            "470d4df7772b2cacab56b290fc63ffbc59355df3/config.json")),
    "stabilityai/stablelm-zephyr-3b": C("StableLM", "stablelm", 32, 2560, 6912, 32, 32, None, 50304, False,
                                        SH("stabilityai/stablelm-3b-4e1t", HF + "jon-tow/stablelm-3b-4e1t-dev/blob/"
                                           "refs%2Fpr%2F1/config.json (use_qkv_bias false)"), use_qkv_bias=False),
    "Qwen/Qwen2.5-Math-1.5B-Instruct": C("Qwen2.5-Math", "qwen2", 28, 1536, 8960, 12, 2, None, 151936, True,
                                         HF + "loubnabnl/Qwen-Math-1.5B-Instruct-Bespoke-H4-5e5-4k-ep3/blob/main/"
                                         "config.json (fine-tune copy with _name_or_path Qwen/Qwen2.5-Math-1.5B-Instruct; "
                                         "shape fields as in the model)"),
    "nvidia/AceMath-1.5B-Instruct": C("AceMath", "qwen2", 28, 1536, 8960, 12, 2, None, 151936, True,
                                      HF + "nvidia/AceMath-1.5B-Instruct/blob/main/config.json (official, upload "
                                      "3c2ef30; the repository's model.safetensors is 3.55 GB, i.e. ~1.78 B bf16 values)",
                                      note=TIED_STORED.format(151936 * 1536)),
    "EleutherAI/gpt-j-6b": C("GPT-J", "gptj", 28, 4096, 16384, 16, 16, None, 50400, False,
                             HF + "hivemind/gpt-j-6B-8bit/blame/42c6b2b76f655137bc52a80db1b38555b963865a/config.json "
                             "(_name_or_path EleutherAI/gpt-j-6B; n_inner null = 4 x n_embd = 16384, the d_ff of the "
                             "official card " + HF + "EleutherAI/gpt-j-6b/commit/d3d295606169fbaf668141935a19865740c0ce20)"),
    "CohereForAI/aya-expanse-8b": C("Aya", "cohere", 32, 4096, 14336, 32, 8, None, 256000, True,
                                    HF + "kevinbazira/aya-expanse-8b-awq-4bit/blame/20ee9dbddd67040d5757be3a3da9e1e8afbfcba1/"
                                    "config.json (_name_or_path a snapshot of CohereForAI/aya-expanse-8b, commit d10159f8; "
                                    "AWQ copy, shape fields unchanged; use_qk_norm false; tie_word_embeddings unset = "
                                    "CohereConfig default true)"),
    "CohereForAI/aya-23-8B": C("Aya", "cohere", 32, 4096, 14336, 32, 8, None, 256000, True,
                               HF + "alijawad07/aya-23-8B-AWQ-GEMM/blob/ee0ba07e051476c40aa3db4efc5cf16e9aea2f90/config.json "
                               "(_name_or_path a snapshot of CohereForAI/aya-23-8B, commit ec151d21; AWQ copy, shape fields "
                               "unchanged; use_qk_norm false; tie_word_embeddings unset = CohereConfig default true)"),
    "nvidia/AceMath-7B-Instruct": C("AceMath", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                                    HF + "nvidia/AceMath-7B-Instruct/blob/main/config.json (official, upload a2b4688)"),
    "nvidia/AceInstruct-7B": C("AceInstruct", "qwen2", 28, 3584, 18944, 28, 4, None, 152064, False,
                               HF + "nvidia/AceInstruct-7B/blob/main/config.json (official, upload 7725256)"),
    "TinyLlama/TinyLlama-1.1B-Chat-v0.6": C("TinyLlama", "llama", 22, 2048, 5632, 32, 4, None, 32000, False,
                                            HF + "emozilla/tl-c6/commit/d500b2f93c84128b9ffe2d100ddc3e1e9464edeb "
                                            "(config of an upload whose _name_or_path is local-models/"
                                            "TinyLlama-1.1B-Chat-v0.6; same shape fields in the GPTQ copy "
                                            + HF + "atorsvn/TinyLlama-1.1B-Chat-v0.6-gptq-4bit/commit/"
                                            "7e647be12fc4c89af7ada63f8da42eb2aa371b19)"),
    "TinyLlama/TinyLlama-1.1B-Chat-v0.1": C("TinyLlama", "llama", 22, 2048, 5632, 32, 4, None, 32001, False,
                                            HF + "aegon-h/TinyLlama-1.1B/blame/2baee580eb5d49adf84ba5c74087b5148e3a522d/"
                                            "config.json (_name_or_path PY007/TinyLlama-1.1B-Chat-v0.1, the repository's "
                                            "name before the TinyLlama organisation; vocab 32001 = 32000 + a pad token)"),
    "ibm/merlinite-7b": C("Merlinite", "mistral", 32, 4096, 14336, 32, 8, None, 32008, False,
                          HF + "ibm/merlinite-7b/blob/07ed232c84b3784a69d9c190d6c7a2f0f071f9e3/config.json (official)"),
}

# Notes for configs taken from shared/reference/small_llm_reference.csv.
REFERENCE_NOTES = {
    f"EleutherAI/pythia-{size}": NEOX_MASK.format(layers * (2048 * 2048 + 1), layers)
    for size, layers in (("160m", 12), ("410m", 24), ("1b", 16), ("1.4b", 24), ("2.8b", 32), ("6.9b", 32))
}

# Published pretraining-token counts: model id -> (tokens, source read, note). An instruct row carries
# the pretraining tokens of the base model it was tuned from (same family and size), said in its note.
# Models pruned/distilled from a larger one (Falcon3-1B/3B, Sheared-LLaMA, Minitron) are left empty: their
# own token count is not comparable with a from-scratch count.
T = 10**12
_Q25 = "https://huggingface.co/Qwen/Qwen2.5-1.5B-Instruct/commit/582efe62d7cfafd242bffca71ecbde1bcecc1bcc"
_Q15 = "https://github.com/QwenLM/Qwen2/issues/97"
_SMOL135 = "https://huggingface.co/HuggingFaceTB/SmolLM2-135M"
_SMOL360 = "https://huggingface.co/HuggingFaceTB/SmolLM2-360M/blob/426f83cb922af02f0ba9c3c8353693fbbb0b3bca/README.md"
_SMOL17 = "https://huggingface.co/HuggingFaceTB/SmolLM2-1.7B/blob/4fa12cab4f5f53670b05125fb9d2873af587d231/README.md"
_L3 = "https://huggingface.co/Undi95/Meta-Llama-3-8B-hf/commit/78fb9e22c486cec013a2109bd0bdddc6925369bb"
_L2 = "https://huggingface.co/nikita-sh/LLMLingua__NousResearch-Llama-2-7b-inf/commit/4f5335b80390f7ff1d3ba01f55fab3f1fc99f4aa"
_PY = "https://github.com/EleutherAI/pythia"
_F3 = "https://huggingface.co/tiiuae/Falcon3-7B-Base/commit/09fd03d3f2da44917d2fd713b79c86d1198232e3"
_G30_8 = "https://huggingface.co/ibm-granite/granite-3.0-8b-base/commit/2b7658c39d1e4743c367a9bc14335b298b585a5b"
_G30_2 = "https://huggingface.co/ibm-granite/granite-3.0-2b-base/commit/5d0717b65fccdd2840a0e652a1b5a25b67fe440b"
_SLM = "https://huggingface.co/stabilityai/stablelm-3b-4e1t/blob/c24bc3656fa900de2a122ad8fe2264e9fe864bca/README.md"
_L31 = "https://huggingface.co./RiversHaveWings/Meta-Llama-3.1-405B-AWQ"
_L32 = "https://www.modelcards.net/documents/28"
_Q2 = "https://blog.omagiclee.com/posts/llms/qwens/qwen-2"
_YI15 = "https://huggingface.co/01-ai/Yi-1.5-6B/blob/main/README.md"
_G2 = "https://huggingface.co/lunahr/SystemGemma2-2b-it/commit/1ca7b3436c6c9514dd7e508bec467e42b39693b4"
_D3 = "https://huggingface.co/papers/2407.09276"
_D1 = "https://huggingface.co/papers/2401.16818"
_G7 = "https://huggingface.co/ibm-granite/granite-7b-base/blob/e18173d6915b20849fbc3c58a5dfc76ab154405f/README.md"
_OLMO = "https://huggingface.co/allenai/OLMo-1B-hf/blob/main/README.md"
_TL = "https://huggingface.co/TinyLlama/TinyLlama-1.1B-intermediate-step-955k-token-2T/blame/main/README.md"
BASE_OF = "pretraining tokens of {} (this model is its instruction-tuned version)"
TOKENS: dict[str, tuple[int, str, str]] = {
    **{f"Qwen/Qwen2.5-{s}": (18 * T, _Q25, "card: 'pretrained on ... up to 18T tokens' (family-level figure)")
       for s in ("0.5B", "1.5B", "3B", "7B")},
    **{f"Qwen/Qwen2.5-{s}-Instruct": (18 * T, _Q25, BASE_OF.format(f"Qwen2.5-{s}") + "; 'up to 18T tokens'")
       for s in ("0.5B", "1.5B", "3B", "7B")},
    **{f"Qwen/Qwen1.5-{s}": (n, _Q15, "Qwen maintainer's answer: 0.5B/1.8B/4B 2.4T, 7B 4T")
       for s, n in (("0.5B", 24 * T // 10), ("1.8B", 24 * T // 10), ("4B", 24 * T // 10), ("7B", 4 * T))},
    **{f"Qwen/Qwen1.5-{s}-Chat": (n, _Q15, BASE_OF.format(f"Qwen1.5-{s}"))
       for s, n in (("0.5B", 24 * T // 10), ("1.8B", 24 * T // 10), ("4B", 24 * T // 10), ("7B", 4 * T))},
    "HuggingFaceTB/SmolLM2-135M": (2 * T, _SMOL135, "card: 'trained on 2 trillion tokens'"),
    "HuggingFaceTB/SmolLM2-135M-Instruct": (2 * T, _SMOL135, BASE_OF.format("SmolLM2-135M")),
    "HuggingFaceTB/SmolLM2-360M": (4 * T, _SMOL360, "card: 'trained on 4 trillion tokens'"),
    "HuggingFaceTB/SmolLM2-360M-Instruct": (4 * T, _SMOL360, BASE_OF.format("SmolLM2-360M")),
    "HuggingFaceTB/SmolLM2-1.7B": (11 * T, _SMOL17, "card: 'trained on 11 trillion tokens'"),
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": (11 * T, _SMOL17, BASE_OF.format("SmolLM2-1.7B")),
    "meta-llama/Meta-Llama-3-8B": (15 * T, _L3, "Meta's card (copy): 'pretrained on over 15 trillion tokens'"),
    "meta-llama/Meta-Llama-3-8B-Instruct": (15 * T, _L3, BASE_OF.format("Meta-Llama-3-8B") + "; 'over 15T'"),
    "meta-llama/Llama-2-7b-hf": (2 * T, _L2, "Meta's card (copy): 'pretrained on 2 trillion tokens'"),
    "meta-llama/Llama-2-7b-chat-hf": (2 * T, _L2, BASE_OF.format("Llama-2-7b")),
    **{f"EleutherAI/pythia-{s}": (299_892_736_000, _PY, "README: 'Each model saw 299,892,736,000 tokens'")
       for s in ("160m", "410m", "1b", "1.4b", "2.8b", "6.9b")},
    "tiiuae/Falcon3-7B-Base": (14 * T, _F3, "card: 'Pretrained on 14 Teratokens'"),
    "tiiuae/Falcon3-7B-Instruct": (14 * T, _F3, BASE_OF.format("Falcon3-7B-Base")),
    "ibm-granite/granite-3.0-8b-base": (12 * T, _G30_8, "card: 10 trillion tokens, then 2 trillion"),
    "ibm-granite/granite-3.0-8b-instruct": (12 * T, _G30_8, BASE_OF.format("granite-3.0-8b-base")),
    "ibm-granite/granite-3.0-2b-base": (12 * T, _G30_2, "card: 10 trillion tokens, then 2 trillion"),
    "ibm-granite/granite-3.0-2b-instruct": (12 * T, _G30_2, BASE_OF.format("granite-3.0-2b-base")),
    "meta-llama/Llama-3.1-8B": (15 * T, _L31, "Meta's Llama 3.1 card (copy): token count '15T+' (pretraining)"),
    "meta-llama/Llama-3.1-8B-Instruct": (15 * T, _L31, BASE_OF.format("Llama-3.1-8B") + "; '15T+'"),
    **{f"meta-llama/Llama-3.2-{s}{v}": (9 * T, _L32, ("" if not v else BASE_OF.format(f"Llama-3.2-{s}") + "; ")
                                        + "summary of Meta's Llama 3.2 card: 'pretrained on up to 9 trillion tokens'")
       for s in ("1B", "3B") for v in ("", "-Instruct")},
    "Qwen/Qwen2-0.5B": (12 * T, _Q2, "Qwen2 technical report table (arXiv 2407.10671, as reproduced): 0.5B 12T"),
    "Qwen/Qwen2-0.5B-Instruct": (12 * T, _Q2, BASE_OF.format("Qwen2-0.5B") + "; report table: 12T"),
    **{f"Qwen/Qwen2-{s}{v}": (7 * T, _Q2, ("" if not v else BASE_OF.format(f"Qwen2-{s}") + "; ")
                              + "Qwen2 technical report table (arXiv 2407.10671, as reproduced): 7T")
       for s in ("1.5B", "7B") for v in ("", "-Instruct")},
    **{f"01-ai/Yi-1.5-{s}": (36 * T // 10, _YI15, ("card: " if "Chat" not in s else "instruction-tuned Yi-1.5; card: ")
                             + "Yi-1.5 pre-trained tokens 3.6T (Yi + 500B continued pretraining)")
       for s in ("6B", "9B", "9B-32K", "6B-Chat", "9B-Chat", "9B-Chat-16K")},
    **{f"google/gemma-2-2b{v}": (2 * T, _G2, ("" if not v else BASE_OF.format("gemma-2-2b") + "; ")
                                 + "Gemma 2 card (copy, updated by HF staff): '2B model was trained with 2 trillion tokens'")
       for v in ("", "-it", "-jpn-it")},
    "h2oai/h2o-danube3-4b-base": (6 * T, _D3, "H2O-Danube3 report abstract: H2O-Danube3-4B trained on 6T tokens"),
    "h2oai/h2o-danube3-4b-chat": (6 * T, _D3, BASE_OF.format("h2o-danube3-4b-base") + "; report: 6T"),
    "h2oai/h2o-danube3-500m-chat": (4 * T, _D3, "chat version of H2O-Danube3-500M; report abstract: trained on 4T tokens"),
    "h2oai/h2o-danube-1.8b-chat": (1 * T, _D1, "chat version of H2O-Danube-1.8B; report abstract: trained on 1T tokens"),
    "ibm-granite/granite-7b-base": (2 * T, _G7, "card: 'The model was trained on 2T tokens'"),
    "ibm-granite/granite-7b-instruct": (2 * T, _G7, BASE_OF.format("granite-7b-base") + "; card: 2T tokens"),
    "allenai/OLMo-1B-hf": (3 * T, _OLMO, "card table: OLMo 1B, Training Tokens 3 Trillion"),
    "allenai/OLMo-7B-hf": (25 * T // 10, _OLMO, "card table: OLMo 7B, Training Tokens 2.5 Trillion"),
    "stabilityai/stablelm-3b-4e1t": (4 * T, _SLM, "card: '1 trillion tokens ... for 4 epochs'"),
    "stabilityai/stablelm-zephyr-3b": (4 * T, _SLM, BASE_OF.format("stablelm-3b-4e1t") + "; card: 1T tokens x 4 epochs"),
    "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T": (3 * T, _TL, "project card: 1.1B model on 3 trillion "
                                                            "tokens; this is the final (1431k-step, 3T) checkpoint"),
    "bigcode/starcoder2-3b": (33 * T // 10, HF + "bigcode/starcoder2-3b/commit/088e2ed4b4043fbcf077404a5bad9e7cb84c6e76",
                              "first model-card commit by the BigCode authors: 'StarCoder2-3B (3.1T tokens) further "
                              "trained on 200B of the pre-training corpus' = 3.3T; the later card says '3+ trillion tokens'"),
    "bigscience/bloom-1b1": (341 * T // 1000, HF + "bigscience/bloom-1b1/tree/6a8e173a4090325a5767777454961e757bc35e89",
                             "maintainer commit 'Update to 341b tokens model' (the BLOOM-176B card gives 341B unique / "
                             "366B seen tokens for the same corpus; 341B taken as stated)"),
}

COLUMNS = ("model_id", "family", "model_type", "base_or_instruct", "num_hidden_layers", "hidden_size",
           "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
           "tie_word_embeddings", "total_params", "leaderboard_params_b", "mmlu_pro_score", "mmlu_pro_raw_acc",
           "mmlu_pro_setting", "mmlu_pro_source", "config_source", "training_tokens", "training_tokens_source",
           "data_notes")

BUFFER_NOTE = re.compile(r"leaderboard count includes \+(\d+)")


def agrees(total: int, params_b: float, extra: int = 0) -> bool:
    """The leaderboard's one-decimal figure (billions) agrees with an exact count.

    The leaderboard reads the count from the checkpoint's safetensors metadata and shows one decimal;
    on the rows checked it sometimes rounds (Qwen2.5-3B: 3,085,938,688 -> 3.1) and sometimes truncates
    (Qwen2.5-3B-Instruct, same weights' shape -> 3.0), so either is accepted. ``extra`` counts tensors a
    checkpoint stores besides the parameters (GPT-2 / GPT-NeoX causal-mask buffers)."""
    x = (total + extra) / 1e9
    rounded = math.floor(x * 10 + 0.5) / 10
    truncated = math.floor(x * 10) / 10
    return abs(rounded - params_b) < 1e-9 or abs(truncated - params_b) < 1e-9


def leaderboard_rows() -> list[dict]:
    with LEADERBOARD.open(newline="") as fh:
        return list(csv.DictReader(fh))


def is_candidate(model_id: str) -> bool:
    return model_id.split("/")[0] in PROVIDERS or model_id in OTHER_BASE_MODELS


def classify(model_id: str):
    for pattern, category, reason in EXCLUDE:
        if re.search(pattern, model_id):
            return category, reason
    return None


def pick_row(rows: list[dict]) -> dict:
    """Of several leaderboard rows of one model (other precision / revision) keep the first in the
    leaderboard's order, i.e. the evaluation with the highest average (the table carries no precision or
    date column to choose by)."""
    return rows[0]


# Same-size siblings of models whose config the reference table carries: sibling -> that model.
REFERENCE_SIBLINGS = {
    "google/gemma-2-2b-it": "google/gemma-2-2b",
    "google/gemma-2-2b-jpn-it": "google/gemma-2-2b",
    "meta-llama/Meta-Llama-3-8B-Instruct": "meta-llama/Meta-Llama-3-8B",
    "meta-llama/Llama-3.2-1B-Instruct": "meta-llama/Llama-3.2-1B",
    "HuggingFaceTB/SmolLM2-360M-Instruct": "HuggingFaceTB/SmolLM2-360M",
    "allenai/OLMo-2-1124-7B-Instruct": "allenai/OLMo-2-1124-7B",
    "TinyLlama/TinyLlama-1.1B-Chat-v1.0": "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
    "TinyLlama/TinyLlama_v1.1": "TinyLlama/TinyLlama-1.1B-intermediate-step-1431k-3T",
    "Qwen/Qwen2.5-7B-Instruct-1M": "Qwen/Qwen2.5-7B-Instruct",
}


def reference_configs() -> dict[str, dict]:
    out = {}
    with REFERENCE.open(newline="") as fh:
        for r in csv.DictReader(fh):
            rec = {k: r[k] for k in F}
            rec.update(family=r["family"], config_source=r["config_source"],
                       note=REFERENCE_NOTES.get(r["model_id"], ""), extra={})
            out[r["model_id"]] = rec
    for sibling, model in REFERENCE_SIBLINGS.items():
        out[sibling] = {**out[model], "config_source": SH(model, out[model]["config_source"]), "note": ""}
    return out


def select():
    """Candidate ids (in leaderboard order) with their kept row, and the excluded ids with reasons."""
    by_id: OrderedDict[str, list[dict]] = OrderedDict()
    excluded: dict[str, tuple[str, str]] = {}
    for row in leaderboard_rows():
        mid = row["model"]
        if not is_candidate(mid):
            continue
        params = float(row["params_b"] or "nan")
        cls = classify(mid)
        if cls is None and not (params > 0):
            cls = ("no parameter figure", f"leaderboard lists params_b = {row['params_b']} (missing)")
        if cls is None and params > MAX_PARAMS_B:
            continue
        if cls is not None:
            if params <= MAX_PARAMS_B or not params > 0:
                excluded.setdefault(mid, cls)
            continue
        by_id.setdefault(ALIASES.get(mid, mid), []).append(row)
    return by_id, excluded


def build():
    by_id, excluded = select()
    configs = {**reference_configs(), **CONFIGS}
    rows, unsourced, dropped, duplicates = [], [], {}, {}
    for mid, lb_rows in by_id.items():
        if len(lb_rows) > 1:
            duplicates[mid] = len(lb_rows)
        if mid not in configs:
            unsourced.append(mid)
            continue
        cfg = configs[mid]
        lb = pick_row(lb_rows)
        fields = {k: cfg[k] for k in F}
        shape = shape_from_fields({"model_id": mid, **fields})
        total = shape["total_params"]
        notes = [cfg["note"]] if cfg["note"] else []
        if cfg["extra"]:
            full = shape_from_config({**config_from_fields(fields), **cfg["extra"]}, mid)["total_params"]
            if full != total:
                dropped[mid] = (f"count depends on config field(s) {', '.join(cfg['extra'])} that the list "
                                f"format does not carry ({full:,} with them, {total:,} without)")
                continue
        m = BUFFER_NOTE.search(cfg["note"])
        extra = int(m.group(1)) if m else 0
        params_b = float(lb["params_b"])
        if not agrees(total, params_b, extra):
            plus = f" (+{extra:,} stored buffers)" if extra else ""
            dropped[mid] = f"meta-device count {total:,}{plus} disagrees with the leaderboard's {params_b} B"
            continue
        if len(lb_rows) > 1:
            notes.append(f"{len(lb_rows)} leaderboard rows for this id (ranks "
                         f"{', '.join(r['rank'] for r in lb_rows)}); kept rank {lb['rank']}")
        if lb["model"] != mid:
            notes.append(f"scored under the alias {lb['model']}")
        tokens = TOKENS.get(mid)
        if tokens:
            notes.append(f"training_tokens: {tokens[2]}")
        rows.append({
            "model_id": mid, "family": cfg["family"], "model_type": fields["model_type"],
            "base_or_instruct": "instruct" if INSTRUCT.search(mid) else "base",
            **{k: fields[k] for k in F[1:]},
            "total_params": total, "leaderboard_params_b": lb["params_b"], "mmlu_pro_score": lb["mmlu_pro"],
            "mmlu_pro_raw_acc": lb["mmlu_pro_raw_acc"], "mmlu_pro_setting": SETTING, "mmlu_pro_source": SOURCE,
            "config_source": cfg["config_source"],
            "training_tokens": tokens[0] if tokens else "", "training_tokens_source": tokens[1] if tokens else "",
            "data_notes": "; ".join(notes),
        })
    rows.sort(key=lambda r: r["model_id"].lower())
    return rows, excluded, unsourced, dropped, duplicates


def main(argv: list[str]) -> int:
    rows, excluded, unsourced, dropped, duplicates = build()
    if "--check" not in argv:
        with OUT.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            w.writeheader()
            w.writerows(rows)
    base = sum(r["base_or_instruct"] == "base" for r in rows)
    print(f"rows {len(rows)} (base {base}, instruct {len(rows) - base}, "
          f"with training tokens {sum(bool(r['training_tokens']) for r in rows)})")
    cats = Counter(c for c, _ in excluded.values())
    print("excluded:", dict(cats))
    for mid, (c, why) in excluded.items():
        print(f"  excluded {mid}: {c} ({why})")
    print(f"duplicates: {len(duplicates)} ids, {sum(duplicates.values()) - len(duplicates)} extra rows")
    for mid, n in duplicates.items():
        print(f"  duplicate {mid}: {n} rows")
    print(f"dropped: {len(dropped)}")
    for mid, why in dropped.items():
        print(f"  dropped {mid}: {why}")
    print(f"not yet sourced: {len(unsourced)}")
    for mid in unsourced:
        print(f"  unsourced {mid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
