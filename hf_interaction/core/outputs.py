"""Writing result files: all or nothing.

Every command that writes files writes each one under a temporary name (``NAME.partial``) in the
same directory and renames them all at the end, so a failure or a kill leaves no half-written file
and never a mix of old and new files from two runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError

Writer = Callable[[Path], object]  # what it returns is ignored


def output_dir(path: str | Path) -> Path:
    """``path`` as a directory that exists, or one clear InputError."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {out}: {exc.strerror}",
                         "choose a writable --out directory") from None
    return out


def partial_path(path: Path) -> Path:
    return path.with_name(path.name + ".partial")


def write_together(writers: Mapping[Path, Writer | None]) -> list[Path]:
    """Write every file through its writer (called with the temporary path), then rename them all.

    A writer of ``None`` means "this run has no such file": a file of that name left by an earlier
    run is removed, so a directory never mixes runs. Returns the paths written, in the given order.
    """
    tmp = {path: partial_path(path) for path in writers}
    written: list[Path] = []
    try:
        for path, writer in writers.items():
            if writer is not None:
                writer(tmp[path])
        for path, writer in writers.items():
            if writer is None:
                path.unlink(missing_ok=True)
            else:
                tmp[path].replace(path)
                written.append(path)
    finally:
        for t in tmp.values():
            t.unlink(missing_ok=True)
    return written


def text_writer(text: str) -> Writer:
    return lambda tmp: tmp.write_text(text, encoding="utf-8")


def bytes_writer(data: bytes) -> Writer:
    return lambda tmp: tmp.write_bytes(data)


def json_text(obj: Any) -> str:
    """The JSON every written file uses: two-space indent, keys in insertion order, trailing newline."""
    return json.dumps(obj, indent=2, default=str) + "\n"


def write_text(path: str | Path, text: str) -> Path:
    """One text file, atomically."""
    path = Path(path)
    write_together({path: text_writer(text)})
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    """One JSON file, atomically."""
    return write_text(path, json_text(obj))
