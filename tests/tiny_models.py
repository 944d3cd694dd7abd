"""Tiny models of each supported family, built from configs and saved as normal checkpoint dirs.

Shared by the audit, compare and eval tests. Nothing is downloaded: the tokenizer is a small
byte-level BPE trained on the builtin probe corpus.
"""

from __future__ import annotations

from pathlib import Path

import torch

VOCAB = 320

FAMILIES: dict[str, dict] = {
    "llama": {"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
              "num_attention_heads": 4, "num_key_value_heads": 2},
    "qwen2": {"model_type": "qwen2", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
              "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": True},
    "qwen3": {"model_type": "qwen3", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
              "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8},
    "gemma2": {"model_type": "gemma2", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8},
    "gemma3_text": {"model_type": "gemma3_text", "num_hidden_layers": 2, "hidden_size": 32,
                    "intermediate_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8},
    "phi3": {"model_type": "phi3", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
             "num_attention_heads": 4, "num_key_value_heads": 4, "pad_token_id": 0},
    "gpt2": {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 4, "n_positions": 128},
    "gpt_neox": {"model_type": "gpt_neox", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
                 "num_attention_heads": 4},
    "opt": {"model_type": "opt", "num_hidden_layers": 2, "hidden_size": 32, "ffn_dim": 64,
            "num_attention_heads": 4, "word_embed_proj_dim": 32, "max_position_embeddings": 128},
    # OPT-350m style: embeddings 16 wide, projected in and out of a 32-wide residual stream.
    "opt_proj": {"model_type": "opt", "num_hidden_layers": 2, "hidden_size": 32, "ffn_dim": 64,
                 "num_attention_heads": 4, "word_embed_proj_dim": 16, "max_position_embeddings": 128},
    # Parallel-attention blocks: the normed residual feeds attention and the MLP.
    "phi": {"model_type": "phi", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
            "num_attention_heads": 4, "max_position_embeddings": 128},
    "falcon": {"model_type": "falcon", "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4,
               "parallel_attn": True, "new_decoder_architecture": False, "alibi": False, "multi_query": True},
    "olmo2": {"model_type": "olmo2", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
              "num_attention_heads": 4, "pad_token_id": 0},
    "bert": {"model_type": "bert", "architectures": ["BertModel"], "num_hidden_layers": 2, "hidden_size": 32,
             "intermediate_size": 64, "num_attention_heads": 4, "max_position_embeddings": 128},
}


def train_tokenizer(out_dir: Path):
    """A byte-level BPE tokenizer with VOCAB entries, trained on the builtin corpus (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from hf_interaction.probe import load_corpus_text

    text = load_corpus_text("builtin").text[:400_000]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<unk>", "<eos>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([text[i:i + 10_000] for i in range(0, len(text), 10_000)], trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<pad>")
    fast.save_pretrained(out_dir)
    return fast


#: Architectures the audit must refuse, not measure (kept out of FAMILIES).
REFUSED: dict[str, dict] = {
    # Falcon-H1 multiplies embeddings by embedding_multiplier on the input_ids path only.
    "falcon_h1": {"model_type": "falcon_h1", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
                  "num_attention_heads": 4, "num_key_value_heads": 2, "embedding_multiplier": 2.0,
                  "mamba_d_ssm": 32, "mamba_n_heads": 4, "mamba_d_head": 8, "mamba_d_state": 8,
                  "mamba_chunk_size": 4, "max_position_embeddings": 128,
                  "time_step_limit": [0.0, 1e4]},  # the default (0, inf) does not survive a save and reload
}


def save_tiny(family: str, out_dir: Path, tokenizer_dir: Path, seed: int = 0, mutate=None) -> Path:
    """Save a seeded tiny model of ``family`` (FAMILIES or REFUSED) with the shared tokenizer as a
    checkpoint directory."""
    import shutil

    from transformers import AutoModel, AutoModelForCausalLM

    from hf_interaction.shape.config import build_config

    raw = {**(FAMILIES.get(family) or REFUSED[family]), "vocab_size": VOCAB}
    config = build_config(raw)
    torch.manual_seed(seed)
    auto = AutoModel if family == "bert" else AutoModelForCausalLM
    model = auto.from_config(config)
    if mutate is not None:
        mutate(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir, safe_serialization=True)
    for f in tokenizer_dir.iterdir():
        shutil.copy(f, out_dir / f.name)
    return out_dir
