"""The one training loop for the small causal LMs this tool trains itself (the sweep's shapes and the
embedded demo models), and the losses they are scored with.

AdamW (β 0.9/0.95, weight decay on matrices only), a linear warm-up then cosine learning-rate
schedule, gradient clipping at a fixed norm, one optimizer step per batch. Deterministic given the
model's initialisation and the order of the batches: nothing here draws random numbers.

torch and transformers are imported where they are used, so importing this module is cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from ..errors import NumericalError
from ..probe.windows import frame_ids

Batch = TypeVar("Batch")
LossOf = Callable[[Any, Batch], Any]  # (model, batch) -> scalar loss tensor


def adamw(model: Any, lr: float, weight_decay: float) -> Any:
    """AdamW with β (0.9, 0.95); weight decay on matrices (dim ≥ 2), none on norms and biases."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))


def warmup_cosine(step: int, steps: int, warmup: int, min_ratio: float) -> float:
    """The sweep's learning-rate factor at 0-based ``step``: linear warm-up over ``warmup`` steps that
    reaches the peak at step ``warmup - 1`` (step k uses (k + 1) / warmup, so no step has lr 0), then
    cosine decay from 1 to ``min_ratio`` at the end.

    After the warm-up this is exactly transformers' ``get_cosine_with_min_lr_schedule_with_warmup``;
    during it, transformers' factor at step k is k / warmup (one step later). The sweep keeps its own
    warm-up so that trained checkpoints stay the same as those of earlier versions."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def warmup_cosine_schedule(optimizer: Any, steps: int, warmup: int, min_ratio: float, *,
                           warmup_from_zero: bool = False) -> Any:
    """The learning-rate schedule as a torch ``LambdaLR`` (peak lr = the optimizer's lr).

    ``warmup_from_zero=False``: the sweep's rule (``warmup_cosine``). ``True``: transformers'
    ``get_cosine_with_min_lr_schedule_with_warmup`` (the first step has lr 0), as the demo model
    was trained."""
    if warmup_from_zero:
        from transformers import get_cosine_with_min_lr_schedule_with_warmup

        return get_cosine_with_min_lr_schedule_with_warmup(optimizer, warmup, steps, min_lr_rate=min_ratio)
    from torch.optim.lr_scheduler import LambdaLR

    return LambdaLR(optimizer, partial(warmup_cosine, steps=steps, warmup=warmup, min_ratio=min_ratio))


def next_token_loss(model: Any, inputs: Any, targets: Any, n_prefix: int = 0) -> Any:
    """Mean cross-entropy of ``targets`` given ``inputs`` (framed with ``n_prefix`` prefix tokens,
    whose predictions are not scored)."""
    import torch.nn.functional as F

    logits = model(input_ids=inputs).logits[:, n_prefix:]
    return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())


def validation_loss(model: Any, windows: Any, batch: int = 16, prefix_ids: tuple[int, ...] = ()) -> float:
    """Mean next-token cross-entropy (nats/token) over the fixed validation windows, framed with
    ``prefix_ids``; predictions made at prefix positions are not counted."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for b0 in range(0, windows.shape[0], batch):
            rows = windows[b0:b0 + batch]
            logits = model(input_ids=frame_ids(rows[:, :-1], prefix_ids)).logits[:, len(prefix_ids):].float()
            loss = F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten(), reduction="sum")
            total += float(loss)
            count += rows[:, 1:].numel()
    model.train()
    return total / count


def train_steps(model: Any, batches: Iterable[Batch], loss_of: LossOf[Batch], optimizer: Any, schedule: Any, *,
                grad_clip: float, name: str = "model",
                on_step: Callable[[int, float], None] | None = None) -> list[float]:
    """One optimizer step per batch: loss, backward, clip the gradient norm, AdamW step, schedule step.

    Returns the training loss of every step; ``on_step(step, loss)`` is called after each (1-based
    step). A non-finite loss stops training with a ``NumericalError`` naming ``name`` and the step."""
    import torch

    model.train()
    losses: list[float] = []
    for step, batch in enumerate(batches):
        loss = loss_of(model, batch)
        if not torch.isfinite(loss):
            raise NumericalError(f"{name}: non-finite training loss at step {step} (lower --lr?)")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step + 1, losses[-1])
    return losses
