"""A GGUF checkpoint from one parse of the file: its config, its dequantized weights and its tokenizer.

transformers' own route (``from_pretrained(dir, gguf_file=...)`` and ``AutoTokenizer``) reads the whole
file with ``gguf.GGUFReader`` three times and rebuilds its GGUF-to-Hugging-Face tensor-name map once
per submodule (about 400 times for SmolLM2). Here the file is parsed once, memory-mapped, by the
package's one GGUF reader (header.py; kept per process, so resolving and loading share it), and the
steps of transformers' legacy GGUF path
(``load_gguf_checkpoint`` and ``get_gguf_hf_weights_map`` in ``modeling_gguf_pytorch_utils``, and the
GGUF tokenizer of ``tokenization_utils_tokenizers``) are applied to that parse: the same config keys,
the same ``gguf.dequantize`` of the same bytes, the same tensor processors and cast, the name map
computed once, the tokenizer converted from the parsed vocabulary. The results are identical to
transformers' (tests/models/test_gguf_load.py checks SmolLM2 tensor by tensor).

Only the architectures in :data:`FAST_ARCHITECTURES` take this route: those ``load_gguf_checkpoint``
handles with its generic code alone (no architecture-specific config branch, and not transformers'
newer packed-GGUF loader). Anything else, or a file this reader cannot read, returns None and the
caller keeps transformers' route.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from .header import GgufFile, read_gguf

#: GGUF ``general.architecture`` values loaded here; the rest keep transformers' own GGUF route.
FAST_ARCHITECTURES = frozenset({"llama", "mistral", "qwen2", "qwen3", "phi3", "gemma2", "starcoder2"})

#: Files beside a GGUF that transformers' tokenizer loading would read instead of (or on top of) the
#: file's own vocabulary: with any of them the tokenizer comes from ``AutoTokenizer`` as before.
_TOKENIZER_FILES = ("tokenizer*", "special_tokens_map.json", "added_tokens.json", "chat_template*", "*.jinja",
                    "vocab*", "merges.txt")


def parse(path: str | Path) -> GgufFile | None:
    """The one parse of ``path`` (:func:`.header.read_gguf`), or None when it cannot be read
    (transformers' route then decides, and says why)."""
    try:
        return read_gguf(path)
    except (ValueError, OSError):
        return None


def _unwrap(value):
    """``load_gguf_checkpoint`` reads every field as a list of its parts and unwraps a single one."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def config_dict(gguf: GgufFile) -> dict | None:
    """The config dict ``load_gguf_checkpoint(path)["config"]`` gives, for a fast architecture; else None.

    The generic part of that function, line for line: the mistral rename, ``tie_word_embeddings`` from
    the tensor names, the defaults, the key renames, and ``vocab_size`` from the token list."""
    from transformers.integrations import GGUF_CONFIG_DEFAULTS_MAPPING
    from transformers.modeling_gguf_pytorch_utils import GGUF_TO_TRANSFORMERS_MAPPING

    metadata = gguf.metadata
    architecture = gguf.architecture
    if architecture not in FAST_ARCHITECTURES:
        return None
    name = metadata.get("general.name")
    model_name = [] if "general.name" not in metadata else name if isinstance(name, list) else [name]
    updated = "mistral" if "llama" in architecture and "mistral" in model_name else architecture

    config: dict = {"tie_word_embeddings": all(n != "output.weight" for n in gguf.tensor_names)}
    defaults = GGUF_CONFIG_DEFAULTS_MAPPING.get(updated, GGUF_CONFIG_DEFAULTS_MAPPING.get(architecture) or {})
    for key, default in defaults.items():
        config.setdefault(key, default)
    renames = cast(dict[str, dict[str, Any]], GGUF_TO_TRANSFORMERS_MAPPING["config"])
    for gguf_key, value in metadata.items():
        prefix, _, config_key = gguf_key.replace(architecture, updated).partition(".")
        value = _unwrap(value)
        if isinstance(value, str) and architecture in value:
            value = value.replace(architecture, updated)
        renamed = renames.get(prefix, {}).get(config_key, -1)
        if renamed != -1 and renamed is not None:
            config[renamed] = value
    if "vocab_size" not in config and "tokenizer.ggml.tokens" in metadata:
        config["vocab_size"] = len(_unwrap(metadata["tokenizer.ggml.tokens"]))
    return config


def tokenizer_parts(gguf: GgufFile) -> tuple[str, dict, dict]:
    """``(architecture, tokenizer_dict, tokenizer_config)`` as transformers' ``get_gguf_tokenizer(path)``
    builds them, from the parse instead of a second read of the file."""
    from transformers.integrations.gguf.gguf_tokenizer_mapping import _SPECIAL_TOKENS, GGUF_TOKENIZER_MAPPING

    metadata = gguf.metadata
    grouped = {
        group: {name: metadata[f"tokenizer.{key}"] for key, name in renames.items() if f"tokenizer.{key}" in metadata}
        for group, renames in GGUF_TOKENIZER_MAPPING.items()
    }
    tokenizer, tokenizer_config = grouped["tokenizer"], grouped["tokenizer_config"]
    tokenizer_type = tokenizer.get("tokenizer_type")
    if tokenizer_type == "llama":
        tokenizer_config.setdefault("add_bos_token", True)
    elif tokenizer_type == "gemma4":
        tokenizer_config["add_bos_token"] = False
    for name, key in _SPECIAL_TOKENS.items():
        token_id = metadata.get(f"tokenizer.ggml.{key}")
        tokenizer_config[name] = tokenizer["tokens"][token_id] if token_id is not None else None
    return gguf.architecture, tokenizer, tokenizer_config


def weights_map(model, processor, model_type: str | None = None, num_layers: int | None = None,
                qual_name: str = "", _name_maps: dict | None = None) -> dict[str, str]:
    """``get_gguf_hf_weights_map(model, processor)``: GGUF tensor name -> model parameter name.

    The same walk over the model and its submodules, with ``gguf.get_tensor_name_map`` built once
    (transformers builds it again for every submodule: about 400 times for SmolLM2)."""
    from gguf import MODEL_ARCH_NAMES, get_tensor_name_map

    model_type = model.config.model_type if model_type is None else model_type
    num_layers = model.config.num_hidden_layers if num_layers is None else num_layers
    gguf_type = {"cohere": "command-r", "qwen2_moe": "qwen2moe", "qwen3_moe": "qwen3moe", "gemma3_text": "gemma3",
                 "gemma4_text": "gemma4", "umt5": "t5", "minimax_m2": "minimax-m2",
                 "gpt_oss": "gpt-oss"}.get(model_type, model_type)
    _name_maps = {} if _name_maps is None else _name_maps
    if (gguf_type, num_layers) not in _name_maps:
        arch = next((key for key, value in MODEL_ARCH_NAMES.items() if value == gguf_type), None)
        if arch is None:
            raise NotImplementedError(f"Unknown gguf model_type: {gguf_type} in gguf-py")
        _name_maps[gguf_type, num_layers] = get_tensor_name_map(arch, num_layers)
    name_map = _name_maps[gguf_type, num_layers]

    mapping: dict[str, str] = {}
    for hf_name in model.state_dict():
        hf_name = processor.preprocess_name(hf_name)
        name, suffix = hf_name, ""
        if hf_name.endswith(".weight") or hf_name.endswith(".bias"):
            name, suffix = hf_name.rsplit(".", 1)
            suffix = "." + suffix
        gguf_name = name_map.get_name(name)
        if gguf_name is None:
            processor.perform_fallback_tensor_mapping(mapping, suffix, qual_name, hf_name)
            continue
        mapping[gguf_name + suffix] = qual_name + hf_name
    for child_name, child in model.named_children():
        sub = weights_map(child, processor, model_type, num_layers, f"{qual_name}{child_name}.", _name_maps)
        mapping.update({k: v for k, v in sub.items() if k not in mapping})
    return mapping


def _tensor_data(blob, start: int, info):
    """The tensor's array exactly as ``gguf.GGUFReader`` gives it (``ReaderTensor.data``)."""
    import numpy as np
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
    from gguf.quants import quant_shape_to_byte_shape

    ggml_type = GGMLQuantizationType(info.ggml_type)
    shape = tuple(info.shape)  # already in numpy (slowest-first) order
    n_elems = int(np.prod(shape))
    block_size, type_size = GGML_QUANT_SIZES[ggml_type]
    plain = {GGMLQuantizationType.F16: np.float16, GGMLQuantizationType.F32: np.float32,
             GGMLQuantizationType.F64: np.float64, GGMLQuantizationType.I8: np.int8,
             GGMLQuantizationType.I16: np.int16, GGMLQuantizationType.I32: np.int32,
             GGMLQuantizationType.I64: np.int64}
    if ggml_type in plain:
        item_type, count = plain[ggml_type], n_elems
    else:
        item_type, count = np.uint8, n_elems * type_size // block_size
        shape = quant_shape_to_byte_shape(shape, ggml_type)
    offset = start + info.offset
    itemsize = np.dtype(item_type).itemsize
    return blob[offset:offset + itemsize * count].view(dtype=item_type)[:count].reshape(shape), ggml_type


def state_dict(gguf: GgufFile, config: dict, model, dtype) -> dict:
    """``load_gguf_checkpoint(path, return_tensors=True, model_to_load=model, torch_dtype=dtype)["tensors"]``:
    each tensor dequantized by ``gguf.dequantize``, passed through the architecture's tensor processor,
    renamed by :func:`weights_map` and cast to ``dtype``."""
    import numpy as np
    import torch
    from transformers.modeling_gguf_pytorch_utils import TENSOR_PROCESSORS, TensorProcessor

    from .dequant import dequantize_fast

    parsed: dict = {"config": config, "tensors": {}}
    processor = TENSOR_PROCESSORS.get(gguf.architecture, TensorProcessor)(config=config)
    key_mapping = weights_map(model, processor)
    blob = np.memmap(gguf.path, mode="r")
    for info in gguf.tensors:
        data, ggml_type = _tensor_data(blob, gguf.data_start, info)
        result = processor.process(weights=dequantize_fast(data, ggml_type), name=info.name,
                                   tensor_key_mapping=key_mapping, parsed_parameters=parsed)
        if result.name not in key_mapping:
            continue
        tensor = torch.from_numpy(np.copy(result.weights))
        if dtype is not None:
            tensor = tensor.to(dtype)
        parsed["tensors"][key_mapping[result.name]] = tensor
    return parsed["tensors"]


def load_model(gguf: GgufFile, auto, config_obj, kwargs: dict):
    """The model ``auto.from_pretrained(dir, gguf_file=..., config=config_obj, **kwargs)`` loads, from the
    parse: the tensors are built against a meta-device copy of the model (for the name map), then handed
    to ``from_pretrained`` as its ``state_dict``, which ties, places and finalises them as it does for
    the GGUF route. None for an architecture outside :data:`FAST_ARCHITECTURES`."""
    import torch

    raw = config_dict(gguf)
    if raw is None:
        return None
    dtype = kwargs.get("dtype")
    with torch.device("meta"):
        skeleton = auto.from_config(config_obj, dtype=dtype)
    tensors = state_dict(gguf, raw, skeleton, dtype)
    model_class = type(skeleton)  # the class ``auto`` picks for this config (auto classes take no None path)
    del skeleton
    keep = {k: kwargs[k] for k in ("dtype", "attn_implementation", "device_map") if k in kwargs}
    model = model_class.from_pretrained(None, config=config_obj, state_dict=tensors, **keep)
    model.config.name_or_path = str(Path(gguf.path).parent)  # as from_pretrained(dir, ...) records it
    return model


def load_tokenizer(gguf: GgufFile, directory: Path):
    """The tokenizer ``AutoTokenizer.from_pretrained(directory, gguf_file=...)`` gives, built from the parse;
    None where that call would choose another class or read other files (the caller then makes it)."""
    from transformers import AutoConfig, TokenizersBackend
    from transformers.integrations.gguf import convert_gguf_tokenizer
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING

    raw = config_dict(gguf)
    if raw is None or any(any(directory.glob(pattern)) for pattern in _TOKENIZER_FILES):
        return None
    # AutoTokenizer's class for a GGUF directory without tokenizer files: the config type's, else this one.
    if TOKENIZER_MAPPING.get(type(AutoConfig.for_model(**raw)), TokenizersBackend) is not TokenizersBackend:
        return None
    architecture, tokenizer_dict, tokenizer_config = tokenizer_parts(gguf)
    backend, extra = convert_gguf_tokenizer(architecture, tokenizer_dict)
    return TokenizersBackend.from_pretrained(str(directory), tokenizer_object=backend,
                                             **{**tokenizer_config, **extra})
