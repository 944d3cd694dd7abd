"""The one GGUF reader: a file's metadata and tensor table from one parse, no tensor data read.

GGUF (llama.cpp's single-file format, v2 and v3, little-endian): a 24-byte head (magic, version,
tensor count, metadata count), the metadata as key / type / value triples, the tensor table (name,
dimensions fastest-first, ggml type, offset into the data section), then the data section at the
next ``general.alignment`` boundary. Every metadata value is read, the vocabulary's string arrays
included, as transformers' ``read_gguf_metadata`` gives them (tests/models/test_gguf_load.py compares
the two), and a tensor type this reader has no dequantizer for is listed, not refused: the record
names the quantization of any GGUF file, and only loading its weights needs a dequantizer.
"""

from __future__ import annotations

import functools
import mmap
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

#: Metadata value types of a fixed size (type code -> struct format); 8 is a string, 9 an array.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
_VERSIONS = (2, 3)  # v1 counted in 32 bits; llama.cpp has not written it since 2023


@dataclass(frozen=True)
class TensorEntry:
    """One row of the tensor table: where a tensor lives and how it is stored."""

    name: str
    shape: tuple[int, ...]  # torch (slowest-first) order
    ggml_type: int
    offset: int  # from the start of the data section


@dataclass(frozen=True)
class GgufFile:
    """One parse of a GGUF file: all metadata values, and the tensor table."""

    path: str
    metadata: dict
    tensors: tuple[TensorEntry, ...]
    data_start: int

    @property
    def architecture(self) -> str:
        """``general.architecture`` ("" where the file names none)."""
        return str(self.metadata.get("general.architecture", ""))

    @property
    def tensor_names(self) -> list[str]:
        return [t.name for t in self.tensors]

    def quantization(self) -> dict:
        """``{"file_type": "Q4_1", "tensor_types": {"F32": 61, "Q4_1": 210, ...}}``: the file type the
        writer declared (``general.file_type``) and the count of each stored tensor type."""
        import gguf

        code = self.metadata.get("general.file_type")
        file_type = None
        if isinstance(code, int):
            try:
                file_type = gguf.LlamaFileType(code).name.removeprefix("MOSTLY_")
            except ValueError:
                file_type = f"file_type {code}"
        counts = Counter(_type_name(gguf, t.ggml_type) for t in self.tensors)
        return {"file_type": file_type, "tensor_types": dict(sorted(counts.items()))}


def read_gguf(path: str | Path) -> GgufFile:
    """The parse of ``path`` (ValueError for a file that is not a readable GGUF file, OSError for one
    that cannot be opened). Kept for the two most recent files, keyed by path, size and modification
    time, so resolving a model and loading it share one parse."""
    path = Path(path).resolve()
    stat = path.stat()
    return _read(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _read(path: str, size: int, mtime_ns: int) -> GgufFile:
    if size < 24:
        raise ValueError("too short for a GGUF header")
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        blob = memoryview(mapped)
        try:
            return _parse(blob, path)
        except (struct.error, IndexError) as exc:
            raise ValueError(f"truncated GGUF file ({exc})") from None
        except UnicodeDecodeError:
            raise ValueError("a GGUF string is not UTF-8") from None
        finally:
            blob.release()


def _parse(blob: memoryview, path: str) -> GgufFile:
    if bytes(blob[:4]) != b"GGUF":
        raise ValueError("no GGUF magic at the start of the file")
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", blob, 4)
    if version not in _VERSIONS:
        raise ValueError(f"GGUF version {version} is not supported (2 and 3 are)")
    cursor = _Cursor(blob, 24)
    metadata = {}
    for _ in range(n_kv):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.unpack("I"))
    tensors = []
    for _ in range(n_tensors):
        name = cursor.string()
        dims = cursor.unpack(f"{cursor.unpack('I')}Q", many=True)
        ggml_type, offset = cursor.unpack("I"), cursor.unpack("Q")
        tensors.append(TensorEntry(name, tuple(int(x) for x in reversed(dims)), ggml_type, offset))
    alignment = int(metadata.get("general.alignment", 32))
    data_start = (cursor.pos + alignment - 1) // alignment * alignment
    return GgufFile(path, metadata, tuple(tensors), data_start)


class _Cursor:
    """Sequential little-endian reads over the memory-mapped file."""

    def __init__(self, blob: memoryview, pos: int):
        self.blob, self.pos = blob, pos

    def unpack(self, fmt: str, many: bool = False):
        values = struct.unpack_from("<" + fmt, self.blob, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if many else values[0]

    def string(self) -> str:
        length = self.unpack("Q")
        if self.pos + length > len(self.blob):
            raise IndexError("string past the end of the file")
        text = bytes(self.blob[self.pos:self.pos + length]).decode("utf-8")
        self.pos += length
        return text

    def value(self, vtype: int):
        if vtype in _SCALARS:
            return self.unpack(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype, count = self.unpack("I"), self.unpack("Q")
            if etype in _SCALARS:
                return list(self.unpack(f"{count}{_SCALARS[etype]}", many=True))
            return [self.value(etype) for _ in range(count)]
        raise ValueError(f"unknown GGUF metadata value type {vtype}")


def _type_name(gguf, code: int) -> str:
    try:
        return gguf.GGMLQuantizationType(code).name
    except ValueError:
        return f"type {code}"
