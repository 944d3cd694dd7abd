"""Loading weights safely: safetensors only unless ``allow_pickle``, remote code only when asked.

Shared by ``audit`` and ``eval`` so one loaded model can serve both jobs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audit.settings import DTYPES  # noqa: F401  (re-exported: the dtypes a model loads in)
from ..errors import InputError, NotReachableError, UnsafeError, UsageError
from .source import ModelRef


@dataclass
class LoadedModel:
    """A model and tokenizer in memory, with how they were loaded (for provenance)."""

    model: Any
    tokenizer: Any
    ref: ModelRef
    info: dict = field(default_factory=dict)


def torch_dtype(name: str):
    import torch

    if name not in DTYPES:
        raise UsageError(f"unknown --dtype {name!r}; choose one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def _weight_files(path: Path) -> tuple[list[Path], list[Path]]:
    safe = sorted(path.glob("*.safetensors"))
    pickled = sorted(p for p in path.glob("*") if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
    return safe, pickled


def _check_local_weights(path: Path, allow_pickle: bool) -> None:
    safe, pickled = _weight_files(path)
    if safe:
        return
    if pickled and not allow_pickle:
        raise UnsafeError(
            f"{path} has only pickle weights ({pickled[0].name}); loading pickle can run arbitrary code",
            "convert to safetensors, or pass --allow-pickle if you trust the files",
        )
    if not pickled:
        raise InputError(f"{path} has no weight files (*.safetensors); a config alone cannot be audited")


def _check_hub_weights(ref: ModelRef, allow_pickle: bool) -> None:
    from huggingface_hub import list_repo_files

    try:
        files = list_repo_files(ref.model_id, revision=ref.resolved_revision)
    except Exception:  # offline with a cache: let from_pretrained decide; it honours use_safetensors
        return
    if any(f.endswith(".safetensors") for f in files):
        return
    if not allow_pickle:
        raise UnsafeError(
            f"{ref.model_id} publishes no safetensors weights; loading pickle can run arbitrary code",
            "pass --allow-pickle if you trust the repository",
        )


def load_model(
    ref: ModelRef,
    *,
    dtype: str = "float32",
    device: str | None = None,
    device_map: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    attn_implementation: str | None = None,
    causal_lm: bool = True,
) -> LoadedModel:
    """Load weights and tokenizer for ``ref``.

    ``causal_lm=False`` loads the bare encoder/decoder (``AutoModel``) for models without an LM head.
    ``device_map`` is passed to transformers (``"auto"`` spreads a model over the available devices).
    """
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    _check_request(ref, device=device, device_map=device_map, allow_pickle=allow_pickle,
                   trust_remote_code=trust_remote_code)
    location = str(ref.path) if ref.has_weights_dir else ref.model_id
    revision = None if ref.has_weights_dir else ref.resolved_revision
    kwargs: dict[str, Any] = {
        "revision": revision,
        "dtype": torch_dtype(dtype),
        "trust_remote_code": trust_remote_code,
        "use_safetensors": None if allow_pickle else True,
    }
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    if device_map:
        kwargs["device_map"] = device_map
    elif ref.kind != "gguf":
        kwargs.update(direct_placement(device))
    tok_kwargs: dict[str, Any] = {}
    if ref.kind == "gguf":
        kwargs["gguf_file"] = tok_kwargs["gguf_file"] = ref.gguf_file
        kwargs.pop("use_safetensors")
        # The config was read from the file's metadata when the model was resolved (gguf/file.py);
        # passing it saves transformers a second parse of the whole header.
        from ..shape.config import build_config

        kwargs["config"] = build_config(ref.config)
    auto = AutoModelForCausalLM if causal_lm else AutoModel
    try:
        model, tokenizer = _gguf_fast(ref, auto, kwargs) if ref.kind == "gguf" else (None, None)
        if model is None:
            model = auto.from_pretrained(location, **kwargs)
        if tokenizer is None:
            tokenizer = AutoTokenizer.from_pretrained(location, revision=revision,
                                                      trust_remote_code=trust_remote_code, **tok_kwargs)
    except OSError as exc:
        raise NotReachableError(f"cannot load {ref.model_id}: {str(exc).splitlines()[0]}") from None
    except ValueError as exc:
        msg = str(exc).splitlines()[0]
        if "trust_remote_code" in msg:
            raise UnsafeError(f"{ref.model_id} needs remote code", "pass --trust-remote-code if you trust it") from None
        raise InputError(f"cannot load {ref.model_id}: {msg}") from None
    if device and not device_map:
        try:
            model.to(device)  # type: ignore[arg-type]  # transformers' @wraps hides method binding
        except (RuntimeError, AssertionError) as exc:
            raise UsageError(f"cannot move the model to device {device!r}: {str(exc).splitlines()[0]}") from None
    model.eval()
    info = {
        "dtype": dtype,
        "device": str(next(model.parameters()).device) if not device_map else "device_map:" + device_map,
        "device_map": getattr(model, "hf_device_map", None) if device_map else None,
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "trust_remote_code": trust_remote_code,
        "weights_format": _weights_format(ref, allow_pickle),
    }
    if ref.kind == "gguf":
        info["gguf_quantization"] = ref.weights["quantization"]
    return LoadedModel(model, tokenizer, ref, info)


def direct_placement(device: str | None) -> dict[str, Any]:
    """from_pretrained arguments that load the weights straight onto an accelerator ``device``
    (``device_map={"": device}``) instead of into host memory and then across in a second copy
    (issue 22); none for the CPU or the default device, whose path stays as it was. A device this
    machine does not have is refused here, before anything is read."""
    if not device or device.startswith("cpu"):
        return {}
    import torch

    try:
        target = torch.device(device)
    except (RuntimeError, ValueError) as exc:
        raise UsageError(f"cannot move the model to device {device!r}: {str(exc).splitlines()[0]}") from None
    if target.type == "cuda":
        count = torch.cuda.device_count()
        if (target.index or 0) >= count:
            raise UsageError(f"cannot move the model to device {device!r}: this machine has {count} CUDA "
                             "device(s)", "pick another --device, or leave it unset")
    return {"device_map": {"": device}}


def _check_request(ref: ModelRef, *, device: str | None, device_map: str | None, allow_pickle: bool,
                   trust_remote_code: bool) -> None:
    """Refuse, before anything is read, what cannot or must not load: a bare config, a bad device
    request, remote code not asked for, pickled weights not allowed."""
    import transformers

    if ref.kind == "config_file":
        raise InputError(f"{ref.spec} is a config file; weights need the model directory or a Hub id")
    if device_map not in (None, "auto", "balanced", "sequential"):
        raise UsageError(f"unknown --device-map {device_map!r}; use 'auto' (or leave it unset)")
    if device_map and device:
        raise UsageError("give --device or --device-map, not both")
    if ref.config.get("auto_map") and not trust_remote_code:
        model_type = ref.config.get("model_type")
        known = model_type in transformers.models.auto.configuration_auto.CONFIG_MAPPING_NAMES
        if not known:
            raise UnsafeError(
                f"{ref.model_id} needs its own code from the repository (auto_map, model_type {model_type!r})",
                "pass --trust-remote-code if you trust it",
            )
    if ref.kind == "gguf":
        pass  # a GGUF file holds tensors only (no pickle); dequantized as transformers does (gguf/load.py)
    elif ref.has_weights_dir:
        assert ref.path is not None  # set for every kind with a weights directory
        _check_local_weights(ref.path, allow_pickle)
    else:
        _check_hub_weights(ref, allow_pickle)


def _gguf_fast(ref: ModelRef, auto, kwargs: dict):
    """Model and tokenizer of a GGUF file from one parse of it (gguf/load.py): the same tensors, config
    and token ids as ``from_pretrained(dir, gguf_file=...)`` and ``AutoTokenizer`` give, in a fraction
    of the time. Either is None where that module leaves the job to transformers."""
    from .gguf.load import load_model as load_gguf_model
    from .gguf.load import load_tokenizer, parse

    assert ref.path is not None and ref.gguf_file is not None  # both set for kind "gguf"
    gguf = parse(ref.path / ref.gguf_file)
    if gguf is None:
        return None, None
    return load_gguf_model(gguf, auto, kwargs["config"], kwargs), load_tokenizer(gguf, ref.path)


def _weights_format(ref: ModelRef, allow_pickle: bool) -> str:
    if ref.kind == "gguf":
        return "gguf"
    return "pickle" if allow_pickle and not _uses_safetensors(ref) else "safetensors"


def _uses_safetensors(ref: ModelRef) -> bool:
    if ref.has_weights_dir:
        assert ref.path is not None  # set for every kind with a weights directory
        return bool(_weight_files(ref.path)[0])
    return True
