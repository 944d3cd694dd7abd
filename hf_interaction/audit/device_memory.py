"""The memory plan of one measurement, decided in one place before any model pass (:func:`plan_memory`):
windows per model pass (a fixed row bound on a CPU, sized from free memory on CUDA), output probes per
pass, whether Hutchinson's population cells fit, and the pairs estimator's store checked against its
budget (:func:`pair_store_budget`). The per-window count is an upper estimate checked against the
peak of small-n dry runs on a CPU (benchmarks/memory_dry_run.py), not yet against a GPU's, and the
audit plans with half the free memory for the allocator's fragmentation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InputError
from .settings import DIAG_MEMORY_BUDGET, PAIR_MEMORY_BUDGET, AuditSettings

#: Rows (probes × windows × positions) of one batched backward pass on a CPU (window_batch).
WINDOW_BATCH_ROWS = 4096


@dataclass(frozen=True)
class MemoryPlan:
    """``windows`` per model pass, ``probe_batch`` output probes per pass (None: all O), and
    ``diag_window_groups`` (Hutchinson's population cells: 0 when they do not fit); ``note`` says why
    when the audit cut the probes per pass."""

    windows: int
    probe_batch: int | None
    diag_window_groups: int
    note: str | None = None


def plan_memory(settings: AuditSettings, prefix: int, n_windows: int, parts: Any, probe_batch: int | None = None,
                accelerator: Any = None) -> MemoryPlan:
    """The plan for ``n_windows`` framed windows of ``settings.T + prefix`` positions through the model
    ``parts`` (adapters.ModelParts). Refuses, with what to change, a pairs store over its budget. On
    CUDA without an asked ``probe_batch``, the probes per pass are cut down (to a divisor of O) when one
    window of all of them would not fit the free memory."""
    E = parts.E_eff
    V, d_embed = E.shape
    if settings.f_estimator == "pairs":
        store_bytes, budget = settings.pair_store_bytes(d_embed), pair_store_budget(E.device)
        if store_bytes > budget:
            raise InputError(f"the pairs estimator would keep {store_bytes / 2**30:.1f} GiB of output-probe VJPs "
                             f"(n × O × T × d = {n_windows} × {settings.output_probes} × {settings.T} × {d_embed}); "
                             f"{budget / 2**30:.1f} GiB are allowed on {E.device}",
                             "use fewer windows (--n), a shorter --T, or a device with more memory")
    note = None
    if probe_batch is None and E.device.type == "cuda":
        probe_batch = cuda_probe_batch(settings, settings.T + prefix, parts)
        if probe_batch is not None:
            note = (f"output probes ran {probe_batch} per pass: one window of all {settings.output_probes} did not "
                    "fit the free device memory by the audit's estimate (same result up to summation order)")
    diag = settings.window_groups if settings.diag_cells_fit(V) else 0
    return MemoryPlan(window_batch(settings, prefix, probe_batch, parts, accelerator), probe_batch, diag, note)


def window_batch(settings: AuditSettings, prefix: int, probe_batch: int | None, parts: Any = None,
                 accelerator: Any = None) -> int:
    """Windows per model pass: as many as keep probes × windows × positions within
    WINDOW_BATCH_ROWS (at least one, at most n). Batching fills the matrix products that one short
    window leaves idle on a CPU; the bound keeps the batched backward's memory small.

    On CUDA the block is sized from free device memory instead (:func:`cuda_windows`), the smallest
    over the processes, so every process deals the same blocks whatever their number."""
    probes = probe_batch or settings.output_probes
    if parts is None or parts.E_eff.device.type != "cuda":
        return max(1, min(settings.n, WINDOW_BATCH_ROWS // (probes * (settings.T + prefix))))
    size = cuda_windows(settings, settings.T + prefix, probes, parts)
    if accelerator is not None and accelerator.num_processes > 1:
        size = int(accelerator.gather(torch.tensor([size], device=accelerator.device)).min())
    return size


def cuda_free_bytes(device: torch.device) -> int:
    """Free memory of a CUDA device, counting what torch's caching allocator holds but does not use."""
    cuda = torch.cuda
    return cuda.mem_get_info(device)[0] + cuda.memory_reserved(device) - cuda.memory_allocated(device)


def window_bytes(P: int, probes: int, n_blocks: int, d: int, block_params: int, V: int, elem: int) -> int:
    """Peak bytes of one window of P positions in one pass, an upper estimate: the forward keeps
    a + 2hP values per block and position (a = block_params / d, a block's activation widths; h = d/64
    heads of attention weights), each probe's backward (5L + 1)·d gradients and twice one block's
    activations; the no-grad loss pass about 28 bytes per position and vocabulary entry (float32
    logits, their float64 copy and log-softmax). ``elem``: bytes per value of the model's dtype.

    The 5 d-wide gradients per probe, block and position are set from a measurement
    (benchmarks/memory_dry_run.py, a small-n audit on a CPU at the paper preset): the block input's
    and MLP input's gradients the pass returns are 2 of them, and the batched backward keeps about
    as much again (0.62 GB per block measured at d = 4096, 0.26 GB at d = 1536, 32 probes, P = 257).
    With 2 of them the estimate had been below the measured peak at both widths."""
    a = max(block_params / d, 4 * d)
    per_block = a + 2 * max(d // 64, 1) * P
    model = elem * P * (n_blocks * per_block + probes * ((5 * n_blocks + 1) * d + 2 * per_block))
    return int(max(model, 28 * P * V))


def room_for_passes(settings: AuditSettings, free_bytes: int, d_embed: int) -> int:
    """Bytes the model passes may take: half of ``free_bytes`` less the accumulators still to be
    allocated (F's pair store and the diagonal budget)."""
    return (free_bytes - settings.pair_store_bytes(d_embed) - DIAG_MEMORY_BUDGET) // 2


def windows_that_fit(settings: AuditSettings, free_bytes: int, per_window: int, d_embed: int) -> int:
    """Windows per pass in :func:`room_for_passes`, rounded down to a power of two (so small changes in
    free memory rarely change it), within [1, n]."""
    fit = max(1, int(room_for_passes(settings, free_bytes, d_embed) // max(per_window, 1)))
    return max(1, min(settings.n, 1 << (fit.bit_length() - 1)))


def probe_batch_that_fits(settings: AuditSettings, free_bytes: int, P: int, n_blocks: int, d: int, block_params: int,
                          V: int, elem: int) -> int | None:
    """Output probes per pass: None (all O in one pass) when one window of all of them fits
    :func:`room_for_passes`; else the largest divisor of O whose one window fits, and 1 when none
    does (the passes are then as small as they go)."""
    room = room_for_passes(settings, free_bytes, d)
    O = settings.output_probes  # noqa: E741 (the notation of docs/design.md)
    for batch in range(O, 0, -1):
        if O % batch == 0 and window_bytes(P, batch, n_blocks, d, block_params, V, elem) <= room:
            return None if batch == O else batch
    return 1


def model_memory_shape(parts) -> tuple[int, int, int, int, int]:
    """``(n_blocks, d, block_params, V, elem)`` of the model ``parts`` (adapters.ModelParts): what
    :func:`window_bytes` needs besides the positions and probes."""
    E = parts.E_eff
    V, d = E.shape
    block_params = sum(p.numel() for p in parts.blocks[0].parameters()) if parts.blocks else 0
    return len(parts.blocks), d, block_params, V, E.element_size()


def cuda_windows(settings: AuditSettings, P: int, probes: int, parts) -> int:
    """:func:`windows_that_fit` for the model ``parts`` on its CUDA device."""
    n_blocks, d, block_params, V, elem = model_memory_shape(parts)
    per_window = window_bytes(P, probes, n_blocks, d, block_params, V, elem)
    return windows_that_fit(settings, cuda_free_bytes(parts.E_eff.device), per_window, d)


def cuda_probe_batch(settings: AuditSettings, P: int, parts) -> int | None:
    """:func:`probe_batch_that_fits` for the model ``parts`` on its CUDA device."""
    return probe_batch_that_fits(settings, cuda_free_bytes(parts.E_eff.device), P, *model_memory_shape(parts))


def pair_store_budget(device: torch.device) -> int:
    """Bytes the pairs estimator's VJP store may take: PAIR_MEMORY_BUDGET on a CPU; on a CUDA device
    half its free memory once the model is loaded (the rest is for the passes and the finalisation's
    Gram matrices), so the paper preset runs every model up to 10B of the lists on an 80 GB GPU."""
    if device.type != "cuda":
        return PAIR_MEMORY_BUDGET
    return cuda_free_bytes(device) // 2
