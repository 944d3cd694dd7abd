"""Shape from configs: exact meta-device counts against the reference table and real tiny models."""

import csv
import json
from pathlib import Path

import pytest
import torch

from hf_interaction.errors import InputError
from hf_interaction.shape.config import build_config, shape_from_config, shape_from_fields

ROOT = Path(__file__).resolve().parents[2]
MODEL_LIST = ROOT / "model_lists" / "small_llms.csv"
PUBLISHED_TOTALS = {  # published totals named in shared/reference/README.md
    "Qwen/Qwen2.5-0.5B": 494_032_768,
    "EleutherAI/pythia-160m": 162_322_944,
    "google/gemma-2-2b": 2_614_341_888,
    "Qwen/Qwen3-0.6B-Base": 596_049_920,
    "meta-llama/Llama-3.1-8B": 8_030_261_248,
    "meta-llama/Llama-3.2-1B": 1_235_814_400,
    "HuggingFaceTB/SmolLM2-135M": 134_515_008,
}


def _rows():
    with MODEL_LIST.open() as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["model_id"])
def test_reference_totals_reproduced(row):
    shape = shape_from_fields(row)
    assert shape["total_params"] == int(row["total_params"])
    assert shape["depth"] == int(row["num_hidden_layers"])
    assert shape["r_dw"] == int(row["num_hidden_layers"]) / int(row["hidden_size"])
    assert shape["embedding_params"] + shape["non_embedding_params"] == shape["total_params"]
    if row["model_id"] in PUBLISHED_TOTALS:
        assert shape["total_params"] == PUBLISHED_TOTALS[row["model_id"]]


def test_all_published_totals_are_in_the_list():
    assert PUBLISHED_TOTALS.keys() <= {r["model_id"] for r in _rows()}


# Tiny configs in each architecture's own field names: (raw config, expected depth, width, ffn, heads, kv).
TINY = {
    "llama": ({"model_type": "llama", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}, 2, 32, 64, 4, 2),
    "qwen2": ({"model_type": "qwen2", "num_hidden_layers": 3, "hidden_size": 32, "intermediate_size": 48,
               "num_attention_heads": 4, "num_key_value_heads": 1, "vocab_size": 100,
               "tie_word_embeddings": True}, 3, 32, 48, 4, 1),
    "qwen3": ({"model_type": "qwen3", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100},
              2, 32, 64, 4, 2),
    "mistral": ({"model_type": "mistral", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100}, 2, 32, 64, 4, 2),
    "gemma2": ({"model_type": "gemma2", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
                "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100},
               2, 32, 64, 4, 2),
    "phi3": ({"model_type": "phi3", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
              "num_attention_heads": 4, "num_key_value_heads": 4, "vocab_size": 100, "pad_token_id": 0},
             2, 32, 64, 4, 4),
    "gpt_neox": ({"model_type": "gpt_neox", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 128,
                  "num_attention_heads": 4, "vocab_size": 100}, 2, 32, 128, 4, 4),
    "olmo2": ({"model_type": "olmo2", "num_hidden_layers": 2, "hidden_size": 32, "intermediate_size": 64,
               "num_attention_heads": 4, "vocab_size": 100, "pad_token_id": 0}, 2, 32, 64, 4, 4),
    "smollm3": ({"model_type": "smollm3", "num_hidden_layers": 4, "hidden_size": 32, "intermediate_size": 64,
                 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "pad_token_id": 0},
                4, 32, 64, 4, 2),
    "gpt2": ({"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 4, "vocab_size": 100,
              "n_positions": 64}, 2, 32, 128, 4, 4),
    "opt": ({"model_type": "opt", "num_hidden_layers": 2, "hidden_size": 32, "ffn_dim": 64,
             "num_attention_heads": 4, "vocab_size": 100, "word_embed_proj_dim": 32,
             "max_position_embeddings": 64}, 2, 32, 64, 4, 4),
    "bloom": ({"model_type": "bloom", "n_layer": 2, "hidden_size": 32, "n_head": 4, "vocab_size": 100},
              2, 32, 128, 4, 4),
    "falcon": ({"model_type": "falcon", "num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4,
                "vocab_size": 100, "multi_query": True, "new_decoder_architecture": False}, 2, 32, 128, 4, 1),
    "bert": ({"model_type": "bert", "architectures": ["BertModel"], "num_hidden_layers": 2, "hidden_size": 32,
              "intermediate_size": 64, "num_attention_heads": 4, "vocab_size": 100,
              "max_position_embeddings": 64}, 2, 32, 64, 4, 4),
}


def _real_count(raw: dict, causal: bool) -> tuple[int, bool]:
    from transformers import AutoModel, AutoModelForCausalLM

    torch.manual_seed(0)
    model = (AutoModelForCausalLM if causal else AutoModel).from_config(build_config(raw))
    out = model.get_output_embeddings() if causal else None
    tied = bool(out is not None and out.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr())
    return sum(p.numel() for p in model.parameters()), tied


@pytest.mark.parametrize("arch", sorted(TINY))
def test_architectures(arch):
    raw, depth, width, ffn, heads, kv = TINY[arch]
    s = shape_from_config(raw, arch)
    assert (s["depth"], s["width"], s["ffn_width"], s["heads"], s["kv_heads"]) == (depth, width, ffn, heads, kv)
    assert s["r_dw"] == depth / width
    causal = arch != "bert"
    total, tied = _real_count(raw, causal)  # an independent count on a real, materialised model
    assert s["total_params"] == total
    if causal:
        assert s["tied_embeddings"] is tied
        assert s["embedding_params"] == 100 * width * (1 if tied else 2)
    else:
        assert s["tied_embeddings"] is None and s["embedding_params"] == 100 * width


def test_gemma3_multimodal_nested_text_config():
    raw = {
        "model_type": "gemma3",
        "architectures": ["Gemma3ForConditionalGeneration"],
        "text_config": {"model_type": "gemma3_text", "num_hidden_layers": 3, "hidden_size": 48,
                        "intermediate_size": 96, "num_attention_heads": 4, "num_key_value_heads": 1,
                        "head_dim": 32, "vocab_size": 120},
        "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 64, "num_hidden_layers": 2},
    }
    s = shape_from_config(raw)
    assert (s["model_type"], s["depth"], s["width"], s["head_dim"]) == ("gemma3_text", 3, 48, 32)
    assert s["architecture"] == "Gemma3ForCausalLM"
    assert s["total_params"] == _real_count(raw["text_config"], True)[0]


def test_gpt2_style_field_names():
    s = shape_from_config(TINY["gpt2"][0])
    assert s["position_embedding_params"] == 64 * 32  # wpe reported separately
    assert s["ffn_ratio"] == 4.0


@pytest.mark.parametrize(
    "raw, needle",
    [
        ({"model_type": "llama", "hidden_size": 32}, "depth"),
        ({"model_type": "llama", "num_hidden_layers": 2}, "width"),
        ({"num_hidden_layers": 2, "hidden_size": 32}, "model_type"),
        ({"model_type": "not-a-model", "num_hidden_layers": 2, "hidden_size": 32}, "not-a-model"),
        ({"model_type": "llama", "num_hidden_layers": "two", "hidden_size": 32}, "depth"),
    ],
)
def test_unreadable_configs_name_the_problem(raw, needle):
    with pytest.raises(InputError, match=needle):
        shape_from_config(raw)


def test_local_dir_and_config_file(tmp_path):
    from hf_interaction import api

    raw = TINY["llama"][0]
    (tmp_path / "config.json").write_text(json.dumps(raw))
    by_dir = api.shape(str(tmp_path))
    by_file = api.shape(str(tmp_path / "config.json"))
    assert by_dir["total_params"] == by_file["total_params"] == _real_count(raw, True)[0]
    assert by_dir["revision"].startswith("local-")
