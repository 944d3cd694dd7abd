"""Training one sweep shape: build the model of its ``ShapeSpec`` with a seed, run the one training
loop (``hf_interaction.sweep.training``) on the shared token stream, and measure the validation loss.

Every shape trains on the same ``tokens_per_param`` × budget tokens in the same order, so shapes
differ only in their depth and width (and the seed in their initialisation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from ..shape.width_matching import ShapeSpec, raw_config
from .data import SweepData
from .settings import SweepSettings
from .training import adamw, next_token_loss, train_steps, validation_loss, warmup_cosine_schedule


def build_model(spec: ShapeSpec, seed: int) -> Any:
    """A freshly initialised causal LM of the shape (``torch.manual_seed(seed)`` first; SDPA attention
    where the architecture has it)."""
    import warnings

    import torch
    from transformers import AutoModelForCausalLM

    from ..shape.config import build_config

    config = build_config(raw_config(spec))
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
        except (ValueError, ImportError):
            return AutoModelForCausalLM.from_config(config, attn_implementation="eager")


def train_shape(spec: ShapeSpec, seed: int, data: SweepData, settings: SweepSettings,
                on_step: Callable[[int], None] | None = None) -> tuple[Any, dict]:
    """Train one shape with one seed on the shared stream; returns (model, training metrics).

    ``on_step(done)`` is called after every step (progress display)."""
    import torch

    t0 = time.perf_counter()
    model = build_model(spec, seed)
    optimizer = adamw(model, settings.lr, settings.weight_decay)
    warmup = int(round(settings.warmup_frac * data.steps))
    schedule = warmup_cosine_schedule(optimizer, data.steps, warmup, settings.min_lr_ratio)
    n_prefix = len(data.prefix_ids)  # no loss at prefix positions
    losses = train_steps(model, (data.batch(step) for step in range(data.steps)),
                         lambda m, xy: next_token_loss(m, *xy, n_prefix=n_prefix), optimizer, schedule,
                         grad_clip=settings.grad_clip, name=f"{spec.name} seed {seed}",
                         on_step=None if on_step is None else lambda done, _loss: on_step(done))
    curve = _train_curve(losses, max(1, data.steps // 50), data.batch_size * data.seq_len)
    val = validation_loss(model, data.val_windows, prefix_ids=data.prefix_ids)
    metrics = {
        "val_loss": val,
        "val_bits_per_byte": val / math.log(2),  # one token = one byte under the byte tokenizer
        "train_loss_final": curve[-1]["train_loss"],
        "train_curve": curve,
        "steps": data.steps,
        "warmup_steps": warmup,
        "tokens_trained": data.tokens_trained,
        "train_wall_s": time.perf_counter() - t0,
        "torch_threads": torch.get_num_threads(),
    }
    return model, metrics


def _train_curve(losses: list[float], every: int, tokens_per_step: int) -> list[dict]:
    """Mean training loss over each block of ``every`` steps (and the last, possibly shorter, block)."""
    curve, window = [], []
    for step, loss in enumerate(losses, start=1):
        window.append(loss)
        if step % every == 0 or step == len(losses):
            curve.append({"step": step, "tokens": step * tokens_per_step, "train_loss": sum(window) / len(window)})
            window = []
    return curve
