"""Where and with what a command runs: the one Accelerator factory, the one provenance stamp and
the one progress display, shared by audit, eval and sweep."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

NO_PROGRESS_ENV = "HF_INTERACTION_NO_PROGRESS"
PACKAGES = ("torch", "transformers", "accelerate", "lm_eval", "datasets")


def has_accelerator() -> bool:
    """CUDA, MPS or XPU is usable in this process."""
    import torch

    if torch.cuda.is_available():
        return True
    mps = getattr(torch.backends, "mps", None)
    xpu = getattr(torch, "xpu", None)
    return bool((mps and mps.is_available()) or (xpu and xpu.is_available()))


def make_accelerator(device: str | None = None, *, long_timeout: bool = False):
    """Accelerate's view of the processes.

    ``cpu=True`` when asked for ``--device cpu`` or when no accelerator exists: that is what makes a
    multi-process launch (torchrun / ``accelerate launch``) a gloo MULTI_CPU group rather than N
    independent single processes. ``long_timeout`` gives the process group lm-eval's own timeout
    (rank 0 may post-process long after the others finished).
    """
    from accelerate import Accelerator

    cpu = (device or "").startswith("cpu") or not has_accelerator()
    if not long_timeout:
        return Accelerator(cpu=cpu)
    from accelerate.utils import InitProcessGroupKwargs

    return Accelerator(cpu=cpu, kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(weeks=52))])


def package_versions() -> dict[str, str | None]:
    """The provenance stamp of every record: this tool's version, Python's and the libraries that
    shape the numbers (``null`` for a package that is not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    from ..version import __version__

    out: dict[str, str | None] = {"hf-interaction": __version__, "python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            out[pkg] = version(pkg.replace("_", "-"))
        except PackageNotFoundError:
            out[pkg] = None
    return out


def utc_now() -> str:
    """The time stamp of every record: UTC, ISO 8601, to the second."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def record_header() -> dict:
    """The keys every record starts with (docs/schema.md): schema version, creation time, versions."""
    from ..schema.spec import SCHEMA_VERSION

    return {"schema_version": SCHEMA_VERSION, "created_at": utc_now(), "versions": package_versions()}


#: ``--matmul-precision``: float32 matmuls on CUDA with TF32 tensor cores (high) or in full float32 (highest).
MATMUL_PRECISIONS = ("high", "highest")


@contextmanager
def matmul_precision(requested: str, device_type: str, dtype: str) -> Iterator[str]:
    """Run a block with float32 matmuls at ``requested`` precision; yields the precision in force.

    TF32 ("high") exists only for float32 work on CUDA: there CUDA's matmul and cuDNN TF32 flags are
    set for the block ("highest" clears them) and put back afterwards, so the caller's process keeps
    its own setting. Anywhere else nothing is touched and "highest" is in force. Only the CUDA flags
    are set, not ``torch.set_float32_matmul_precision``, which would also change CPU (oneDNN) matmuls."""
    if requested not in MATMUL_PRECISIONS:
        from ..errors import UsageError

        raise UsageError(f"--matmul-precision must be one of {', '.join(MATMUL_PRECISIONS)}, got {requested!r}")
    if device_type != "cuda":
        yield "highest"
        return
    import torch

    tf32 = requested == "high" and dtype == "float32"
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    try:  # the flags transformers and accelerate set; unreadable once a caller used torch's newer API
        saved = ("allow_tf32", matmul.allow_tf32, cudnn.allow_tf32)
    except RuntimeError:
        conv = cudnn.conv  # type: ignore[attr-defined]  # torch stub lacks cudnn.conv
        saved = ("fp32_precision", matmul.fp32_precision, conv.fp32_precision)
    value = tf32 if saved[0] == "allow_tf32" else ("tf32" if tf32 else "ieee")
    _set_tf32(saved[0], value, value)
    try:
        yield "high" if tf32 else "highest"
    finally:
        _set_tf32(*saved)


def _set_tf32(api: str, matmul_value: Any, cudnn_value: Any) -> None:
    import torch

    if api == "allow_tf32":
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul_value, cudnn_value
    else:
        conv = torch.backends.cudnn.conv  # type: ignore[attr-defined]  # torch stub lacks cudnn.conv
        torch.backends.cuda.matmul.fp32_precision, conv.fp32_precision = matmul_value, cudnn_value


def gpu_peak_gb(devices) -> float | None:
    """Peak memory torch allocated on the CUDA ``devices`` (names or torch devices) in this process, GB
    (summed over them); None where none is a CUDA device."""
    import torch

    cuda = sorted({str(d) for d in devices if str(d).startswith("cuda")})
    if not cuda or not torch.cuda.is_available():
        return None
    return sum(torch.cuda.max_memory_allocated(torch.device(d)) for d in cuda) / 1e9


def progress_enabled(requested: bool) -> bool:
    return requested and os.environ.get(NO_PROGRESS_ENV) != "1"


class Progress:
    """Progress bars on stderr (rich), on request and unless ``HF_INTERACTION_NO_PROGRESS=1``; a
    disabled one does nothing, so callers never branch. Use as a context manager.

    ``add(description, total, detail="")`` returns a task id for ``advance``/``update``/``remove``.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = progress_enabled(enabled)
        self._progress: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                          TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                                          TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._progress.start()
        return self

    def add(self, description: str, total: int, detail: str = "") -> int | None:
        return self._progress.add_task(description, total=total, detail=detail) if self._progress else None

    def advance(self, task: int | None, k: int = 1) -> None:
        if self._progress is not None and task is not None:
            self._progress.advance(task, k)

    def update(self, task: int | None, completed: int) -> None:
        if self._progress is not None and task is not None:
            self._progress.update(task, completed=completed)

    def remove(self, task: int | None) -> None:
        if self._progress is not None and task is not None:
            self._progress.remove_task(task)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
