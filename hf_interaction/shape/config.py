"""Depth-width shape of a model from its config alone (docs/design.md §2).

Depth and width are read from the raw config (a missing field is an error naming it, never a
library default). Parameter counts are exact: the model skeleton is built on the ``meta`` device
(no memory, no weights) and its parameters counted, shared (tied) tensors once.
"""

from __future__ import annotations

import warnings
from typing import Any

from ..errors import InputError
from .interval import DEFAULT_INTERVAL, Interval

# Field names used across architectures for the same quantity, in order of preference.
DEPTH_FIELDS = ("num_hidden_layers", "n_layer", "num_layers", "n_layers")
WIDTH_FIELDS = ("hidden_size", "n_embd", "d_model", "dim", "model_dim")
HEAD_FIELDS = ("num_attention_heads", "n_head", "num_heads", "n_heads")
KV_HEAD_FIELDS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
FFN_FIELDS = ("intermediate_size", "n_inner", "ffn_dim", "ffn_hidden_size", "d_ff", "ffn_dim_multiplier")
# Architectures whose MLP width is hard-coded as 4 × width when the config leaves it unset.
FOUR_X_FFN = {"gpt2", "bloom", "falcon", "gpt_neox", "gptj", "codegen"}
ENCODER_TYPES = {"bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta", "deberta-v2",
                 "mpnet", "camembert", "albert", "modernbert"}

def text_config_dict(config: dict) -> dict:
    """The decoder's config: multimodal configs (Gemma 3, Llava, ...) keep it under ``text_config``."""
    for key in ("text_config", "language_config", "llm_config"):
        sub = config.get(key)
        if isinstance(sub, dict) and any(f in sub for f in DEPTH_FIELDS):
            merged = dict(sub)
            if "model_type" not in merged:
                raise InputError(f"config field {key}.model_type is missing; cannot tell the decoder type")
            return merged
    return config


def _first(cfg: dict, fields: tuple[str, ...]) -> Any:
    for f in fields:
        if cfg.get(f) is not None:
            return cfg[f]
    return None


def read_depth_width(cfg: dict) -> tuple[int, int]:
    """Depth and width from the raw config dict; a clear error names the missing field."""
    depth = _first(cfg, DEPTH_FIELDS)
    if depth is None:
        raise InputError(f"config has no depth field (looked for {', '.join(DEPTH_FIELDS)})")
    width = _first(cfg, WIDTH_FIELDS)
    if width is None:
        raise InputError(f"config has no width field (looked for {', '.join(WIDTH_FIELDS)})")
    for name, v in (("depth", depth), ("width", width)):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise InputError(f"config {name} must be a positive integer, got {v!r}")
    return depth, width


def build_config(cfg: dict):
    """A transformers config object of the right class for a raw config dict."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = cfg.get("model_type")
    if not model_type:
        raise InputError("config has no model_type field; cannot tell which architecture it is")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise InputError(
            f"model_type {model_type!r} is not known to the installed transformers",
            "upgrade transformers, or the model needs remote code this command does not run",
        )
    kwargs = {k: v for k, v in cfg.items() if k not in ("model_type", "transformers_version", "auto_map")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return AutoConfig.for_model(model_type, **kwargs)
        except (TypeError, ValueError) as exc:
            raise InputError(f"transformers rejected the {model_type} config: {exc}") from None


def _is_causal(config, raw: dict) -> bool:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if config.model_type in ENCODER_TYPES:
        return False
    archs = raw.get("architectures") or []
    if archs and not any(("CausalLM" in a or "LMHead" in a or "ForConditionalGeneration" in a) for a in archs):
        return False
    return config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def count_parameters(config, causal: bool = True) -> dict:
    """Exact parameter counts from a meta-device skeleton (no memory, no weights)."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    auto = AutoModelForCausalLM if causal else AutoModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):
            try:
                model = auto.from_config(config)
            except Exception as exc:  # noqa: BLE001 - transformers raises many types for bad configs
                raise InputError(f"cannot build a {config.model_type} model from this config: {exc}") from None
    total = sum(p.numel() for p in model.parameters())
    inp = model.get_input_embeddings()
    out = model.get_output_embeddings() if causal else None
    in_w = inp.weight if inp is not None else None
    emb = in_w.numel() if in_w is not None else 0
    tied = bool(out is not None and in_w is not None and out.weight is in_w)
    if out is not None and not tied:
        emb += out.weight.numel()
    pos = 0
    for name, module in model.named_modules():
        learned_positions = "position" in name.lower() or name.endswith(("wpe", "embed_positions"))
        if isinstance(module, torch.nn.Embedding) and module is not inp and learned_positions:
            pos += sum(p.numel() for p in module.parameters(recurse=False))
    return {
        "architecture": type(model).__name__,
        "total_params": int(total),
        "embedding_params": int(emb),
        "non_embedding_params": int(total - emb),
        "position_embedding_params": int(pos),
        "tied_embeddings": tied if causal else None,
    }


def shape_from_config(raw: dict, model_id: str = "", interval: Interval = DEFAULT_INTERVAL) -> dict:
    """Every shape field of docs/design.md §2 and the interval position, from a raw config dict."""
    cfg = text_config_dict(raw)
    depth, width = read_depth_width(cfg)
    config = build_config(cfg)
    causal = _is_causal(config, cfg)
    counts = count_parameters(config, causal)
    heads = _first(cfg, HEAD_FIELDS) or getattr(config, "num_attention_heads", None)
    kv_heads = _first(cfg, KV_HEAD_FIELDS)
    if kv_heads is None:
        kv_heads = 1 if cfg.get("multi_query") else heads
    head_dim = cfg.get("head_dim") or (width // heads if heads else None)
    ffn = _first(cfg, FFN_FIELDS[:-1])
    if ffn is None and config.model_type in FOUR_X_FFN:
        ffn = 4 * width
    r_dw = depth / width
    return {
        "model": model_id,
        "model_type": config.model_type,
        "architecture": counts["architecture"],
        "depth": depth,
        "width": width,
        "r_dw": r_dw,
        "total_params": counts["total_params"],
        "embedding_params": counts["embedding_params"],
        "non_embedding_params": counts["non_embedding_params"],
        "position_embedding_params": counts["position_embedding_params"],
        "ffn_width": ffn,
        "ffn_ratio": (ffn / width) if ffn else None,
        "heads": heads,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "vocab_size": cfg.get("vocab_size", getattr(config, "vocab_size", None)),
        "tied_embeddings": counts["tied_embeddings"],
        **interval.position(r_dw),
    }


# Columns of a model list that are config fields (see model_lists/README.md).
LIST_CONFIG_FIELDS = ("model_type", "num_hidden_layers", "hidden_size", "intermediate_size",
                      "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
                      "tie_word_embeddings")


def config_from_fields(row: dict) -> dict:
    """A raw config dict from a model-list row's stored config fields (empty cells dropped)."""
    cfg: dict[str, Any] = {}
    for key in LIST_CONFIG_FIELDS:
        value = row.get(key)
        if value is None or (isinstance(value, float) and value != value) or value == "":
            continue
        if key == "model_type":
            cfg[key] = str(value)
        elif key == "tie_word_embeddings":
            cfg[key] = value if isinstance(value, bool) else str(value).strip().lower() == "true"
        else:
            cfg[key] = int(value)
    return cfg


def shape_from_fields(row: dict, interval: Interval = DEFAULT_INTERVAL) -> dict:
    """Shape of a model-list row, offline, from its stored config fields."""
    return shape_from_config(config_from_fields(row), str(row.get("model_id", "")), interval)
