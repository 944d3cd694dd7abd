"""Data parallelism under ``accelerate launch`` / ``torchrun``: the accelerator, each process's
device and its whole copy of the model. lm-eval then spreads the questions over the processes and
gathers the scores on the main process, which alone builds the result and writes."""

from __future__ import annotations

import os
from typing import Any

from ..core.runtime import make_accelerator
from ..errors import UsageError
from ..models.loading import LoadedModel


def distributed(device: str | None) -> Any | None:
    """An ``accelerate.Accelerator`` when launched with several processes (``WORLD_SIZE`` > 1), else
    None; with lm-eval's own process-group timeout (rank 0 may post-process long after the others)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    return make_accelerator(device, long_timeout=True)


def default_device(device: str | None, accelerator: Any | None) -> str | None:
    """The device to load onto: as asked; else this process's device under accelerate; else the GPU
    when there is one (as lm-eval would), else CPU."""
    if device is not None:
        return device
    if accelerator is not None:
        return "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)
    import torch

    return "cuda" if torch.cuda.is_available() else None


def place_for_data_parallel(loaded: LoadedModel, accelerator: Any) -> None:
    """Each data-parallel process needs its whole model copy on its own device."""
    if getattr(loaded.model, "hf_device_map", None):
        raise UsageError("a model spread with --device-map cannot also run data parallel under accelerate launch")
    target = accelerator.device
    if loaded.model.device.type != target.type or (target.type != "cpu" and loaded.model.device != target):
        loaded.model.to(target)
