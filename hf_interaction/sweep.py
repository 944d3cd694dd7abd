"""Fixed-budget shape sweeps (DESIGN.md §8): match widths to a parameter budget, train, audit, derive
the efficient R_D/W interval.

The pipeline, one function per step:

1. ``match_width`` — for each depth, the width (a multiple of the head dimension) whose exact
   meta-device parameter count is closest to the budget under the matching rule
   (``non-embedding`` or ``total``). Nothing is padded: the achieved count and the relative mismatch
   are reported, and a depth whose closest count is further than ``max_mismatch`` from the budget is
   refused with one line.
2. ``prepare_data`` — the corpus is tokenized byte-level; the last ``val_fraction`` is held out and
   cut into fixed validation windows; the training stream is a seeded order of fixed chunks. Both are
   identical for every shape and seed (their sha256 hashes are recorded with every run).
3. ``train_shape`` — AdamW, linear warm-up then cosine decay, gradient clipping; the same number of
   training tokens (``tokens_per_param`` × budget) for every shape. The model is saved as a normal
   Hugging Face checkpoint directory (config, safetensors, tokenizer) with ``metrics.json``.
4. ``audit_shape`` — the checkpoint is audited (DESIGN §4) with a small preset; ``audit.json``.
5. ``derive_interval`` — the R_D/W range of shapes whose mean validation loss over seeds is within
   ``tolerance`` of the best, and the loss-optimal R_D/W, written as ``interval.json``.

A finished shape (checkpoint + ``metrics.json``, and ``audit.json`` when auditing) is never
retrained: rerunning a sweep into the same directory resumes it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from .errors import InputError, NumericalError, UsageError
from .presets import PRESETS, SWEEP_AUDIT_PRESETS

MATCH_RULES = ("non-embedding", "total")


class BudgetTooSmall(InputError):
    """Even the narrowest valid width (one head) exceeds the budget for this depth (and deeper ones)."""

SWEEP_SCHEMA = 1

Log = Callable[[str], None]


# --------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class SweepSettings:
    """Everything that defines a sweep. ``train_key`` hashes what changes a trained checkpoint."""

    budget: int
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)
    match: str = "non-embedding"
    max_mismatch: float = 0.2
    arch: str = "llama"
    head_dim: int = 16
    ffn_ratio: float = 4.0
    tokens_per_param: float = 20.0
    seeds: int = 1
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_frac: float = 0.05
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    batch_size: int = 16
    seq_len: int = 128
    corpus: str = "builtin"
    val_fraction: float = 0.05
    max_val_windows: int = 64
    data_seed: int = 0
    tolerance: float = 0.02
    audit_preset: str = "tiny"
    threads: int | None = None

    def validate(self) -> None:
        """Refuse impossible values with one line (exit 2)."""
        positive = {"budget": self.budget, "head-dim": self.head_dim, "ffn-ratio": self.ffn_ratio,
                    "tokens-per-param": self.tokens_per_param, "seeds": self.seeds, "lr": self.lr,
                    "batch-size": self.batch_size, "seq-len": self.seq_len, "max-val-windows": self.max_val_windows}
        for name, v in positive.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UsageError(f"--{name} must be positive, got {v!r}")
        if not self.depths:
            raise UsageError("--depths must list at least one depth, e.g. 1,2,4,8")
        if any(d < 1 for d in self.depths):
            raise UsageError(f"--depths must be positive integers, got {','.join(map(str, self.depths))}")
        if len(set(self.depths)) != len(self.depths):
            raise UsageError(f"--depths lists a depth twice: {','.join(map(str, self.depths))}")
        if self.match not in MATCH_RULES:
            raise UsageError(f"--match must be one of {', '.join(MATCH_RULES)}, got {self.match!r}")
        if not 0 < self.tolerance < 1:
            raise UsageError(f"--tolerance must be in (0, 1) (a fraction, 0.02 = 2%), got {self.tolerance}")
        if not 0 <= self.max_mismatch < 1:
            raise UsageError(f"--max-mismatch must be in [0, 1), got {self.max_mismatch}")
        if not 0 < self.val_fraction < 0.5:
            raise UsageError(f"--val-fraction must be in (0, 0.5), got {self.val_fraction}")
        if not 0 <= self.warmup_frac < 1:
            raise UsageError(f"--warmup-frac must be in [0, 1), got {self.warmup_frac}")
        if self.seq_len < 2:
            raise UsageError("--seq-len must be at least 2")
        if self.audit_preset not in SWEEP_AUDIT_PRESETS:
            raise UsageError(f"--audit-preset must be one of {', '.join(SWEEP_AUDIT_PRESETS)}, "
                             f"got {self.audit_preset!r}")

    def train_key(self) -> str:
        """Hash of the settings that change a trained checkpoint (not depths, tolerance or audit)."""
        keep = {k: v for k, v in asdict(self).items()
                if k not in ("depths", "tolerance", "audit_preset", "max_mismatch", "threads")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def audit_settings(self):
        """The ``AuditSettings`` of the audit preset (T capped at seq_len), or None for ``none``."""
        if self.audit_preset == "none":
            return None
        preset = PRESETS[self.audit_preset]
        from .audit import AuditSettings

        values = {**preset, "T": min(preset["T"], self.seq_len)}
        return AuditSettings(**values, probe=self.corpus)


# --------------------------------------------------------------------------------------------
# Shapes and width matching


@dataclass(frozen=True)
class ShapeSpec:
    """One candidate shape: depth, width and the fields derived from the fixed rules."""

    arch: str
    depth: int
    width: int
    head_dim: int
    ffn_ratio: float
    vocab_size: int
    max_positions: int

    @property
    def heads(self) -> int:
        return self.width // self.head_dim

    @property
    def ffn_width(self) -> int:
        return int(round(self.ffn_ratio * self.width))

    @property
    def r_dw(self) -> float:
        return self.depth / self.width

    @property
    def name(self) -> str:
        return f"depth{self.depth}_width{self.width}"


@lru_cache(maxsize=64)
def _default_config_dict(arch: str) -> dict:
    """The default config of ``arch`` (to learn which field names the class uses), or a clear error."""
    from transformers import AutoConfig
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if arch not in CONFIG_MAPPING_NAMES:
        raise UsageError(f"unknown --arch {arch!r}: not a model_type of the installed transformers "
                         "(e.g. llama, qwen2, qwen3, gemma2, gpt2, gpt_neox, opt)")
    from .shape import ENCODER_TYPES

    if arch not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or arch in ENCODER_TYPES:
        raise UsageError(f"--arch {arch!r} has no causal-LM (decoder) model class in transformers; "
                         "choose a decoder such as llama, qwen2, gpt2")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return AutoConfig.for_model(arch).to_dict()


def _pick_field(default: dict, names: Sequence[str], what: str, arch: str) -> str:
    for name in names:
        if name in default:
            return name
    raise UsageError(f"--arch {arch}: its config has no {what} field this tool knows ({', '.join(names)})")


def raw_config(spec: ShapeSpec) -> dict:
    """The raw config dict of a shape, using the field names of its config class."""
    from .shape import DEPTH_FIELDS, FFN_FIELDS, HEAD_FIELDS, WIDTH_FIELDS

    default = _default_config_dict(spec.arch)
    raw: dict[str, Any] = {"model_type": spec.arch, "vocab_size": spec.vocab_size}
    raw[_pick_field(default, DEPTH_FIELDS, "depth", spec.arch)] = spec.depth
    raw[_pick_field(default, WIDTH_FIELDS, "width", spec.arch)] = spec.width
    raw[_pick_field(default, HEAD_FIELDS, "attention-heads", spec.arch)] = spec.heads
    raw[_pick_field(default, FFN_FIELDS[:-1], "FFN-width", spec.arch)] = spec.ffn_width
    for kv in ("num_key_value_heads", "num_kv_heads"):
        if kv in default:
            raw[kv] = spec.heads
    if "head_dim" in default:
        raw["head_dim"] = spec.head_dim
    for pos in ("max_position_embeddings", "n_positions"):
        if pos in default:
            raw[pos] = spec.max_positions
    if "word_embed_proj_dim" in default:  # OPT projects embeddings unless this equals the width
        raw["word_embed_proj_dim"] = spec.width
    from .byte_tokenizer import SPECIAL_TOKENS

    if spec.vocab_size >= 256 + len(SPECIAL_TOKENS):
        raw.update(pad_token_id=256, bos_token_id=257, eos_token_id=258)
    return raw


@lru_cache(maxsize=4096)
def count_shape(spec: ShapeSpec) -> dict:
    """Exact meta-device parameter counts of a shape (``shape.count_parameters``), cached."""
    from .shape import build_config, count_parameters

    config = build_config(raw_config(spec))
    got = (getattr(config, "num_hidden_layers", None), getattr(config, "hidden_size", None))
    if got != (spec.depth, spec.width):
        raise UsageError(f"--arch {spec.arch}: its config did not take depth {spec.depth} and width {spec.width} "
                         f"(got {got}); this architecture is not supported by sweep/suggest")
    return count_parameters(config, causal=True)


def matched_count(spec: ShapeSpec, match: str) -> int:
    """The parameter count the matching rule compares with the budget."""
    counts = count_shape(spec)
    return counts["non_embedding_params"] if match == "non-embedding" else counts["total_params"]


@dataclass(frozen=True)
class WidthMatch:
    """The width chosen for one depth, with its achieved count and relative mismatch."""

    spec: ShapeSpec
    budget: int
    match: str
    achieved: int
    counts: dict = field(hash=False, compare=False)

    @property
    def mismatch(self) -> float:
        """(achieved - budget) / budget: negative below the budget, positive above."""
        return (self.achieved - self.budget) / self.budget

    def to_row(self) -> dict:
        s = self.spec
        return {"depth": s.depth, "width": s.width, "heads": s.heads, "head_dim": s.head_dim,
                "ffn_width": s.ffn_width, "r_dw": s.r_dw, "match": self.match, "budget": self.budget,
                "achieved_params": self.achieved, "mismatch": self.mismatch,
                "total_params": self.counts["total_params"],
                "non_embedding_params": self.counts["non_embedding_params"],
                "embedding_params": self.counts["embedding_params"]}


def match_width(budget: int, depth: int, *, arch: str = "llama", head_dim: int = 16, ffn_ratio: float = 4.0,
                vocab_size: int = 259, max_positions: int = 1024, match: str = "non-embedding",
                max_mismatch: float | None = 0.2) -> WidthMatch:
    """The width for ``depth`` whose counted parameters are closest to ``budget``.

    Rule: widths are the multiples of ``head_dim``; the matched count (``non-embedding`` or
    ``total``) grows with width, so the two widths around the budget are found by bisection and the
    one with the smaller absolute difference wins (a tie goes to the narrower, under-budget one).
    The bracket is located from an exact quadratic-in-width guess and then confirmed with exact
    meta-device counts, so the result does not depend on the guess being right.
    If ``max_mismatch`` is given and the winner is further than that fraction from the budget, the
    depth cannot match and an ``InputError`` says why.
    """
    if budget <= 0:
        raise UsageError(f"the parameter budget must be positive, got {budget}")
    if depth <= 0:
        raise UsageError(f"depth must be positive, got {depth}")

    def spec(k: int) -> ShapeSpec:
        return ShapeSpec(arch, depth, k * head_dim, head_dim, ffn_ratio, vocab_size, max_positions)

    def count(k: int) -> int:
        return matched_count(spec(k), match)

    lo, hi = _bracket(count, budget, _quadratic_guess(count, budget))
    candidates = [hi] if hi == 1 else [lo, hi]
    best = min(candidates, key=lambda k: (abs(count(k) - budget), k))
    result = WidthMatch(spec(best), budget, match, count(best), count_shape(spec(best)))
    if max_mismatch is not None and abs(result.mismatch) > max_mismatch:
        too_small = candidates == [1] and count(1) > budget
        error = BudgetTooSmall if too_small else InputError
        raise error(_mismatch_message(result, candidates, count, max_mismatch, head_dim))
    return result


def _quadratic_guess(count: Callable[[int], int], budget: int) -> int:
    """Width multiple k where a quadratic through the exact counts at k = 1, 2, 3 reaches the budget.

    With heads = width / head dim and FFN = ratio × width, a decoder's count is quadratic in width,
    so the guess is usually exact; it only seeds ``_bracket``, which checks with real counts."""
    c1, c2, c3 = count(1), count(2), count(3)
    a = (c3 - 2 * c2 + c1) / 2
    b = c2 - c1 - 3 * a
    c = c1 - a - b
    if a <= 0:
        return 1
    k = (-b + math.sqrt(max(0.0, b * b - 4 * a * (c - budget)))) / (2 * a)
    return max(1, int(k))


def _bracket(count: Callable[[int], int], budget: int, guess: int) -> tuple[int, int]:
    """(lo, hi) with count(lo) < budget <= count(hi) and hi = lo + 1, or (1, 1) if count(1) >= budget.

    Walks from ``guess`` with exact counts (counts grow with width); falls back to exponential search
    and bisection when the guess is far off."""
    k = guess
    for _ in range(16):
        if k > 1 and count(k) >= budget:
            k -= 1
        elif count(k) < budget and count(k + 1) < budget:
            k += 1
        else:
            break
    if k == 1 and count(1) >= budget:
        return 1, 1
    if count(k) < budget <= count(k + 1):
        return k, k + 1
    lo, hi = 1, 1
    while count(hi) < budget:
        lo, hi = hi, hi * 2
    if hi == 1:
        return 1, 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < budget else (lo, mid)
    return lo, hi


def _mismatch_message(result: WidthMatch, candidates: list[int], count: Callable[[int], int],
                      max_mismatch: float, head_dim: int) -> str:
    depth, budget = result.spec.depth, result.budget
    if candidates == [1] and count(1) > budget:
        return (f"budget {budget:,} is too small for depth {depth}: the narrowest valid shape (width "
                f"{head_dim} = one head) already has {count(1):,} {result.match} parameters "
                f"({result.mismatch:+.0%}, limit ±{max_mismatch:.0%}); raise --budget, lower --head-dim or drop "
                f"depth {depth}")
    near = ", ".join(f"width {k * head_dim}: {count(k):,} ({(count(k) - budget) / budget:+.0%})" for k in candidates)
    return (f"depth {depth} cannot match budget {budget:,} {result.match} parameters within ±{max_mismatch:.0%} "
            f"(nearest {near}); use a smaller --head-dim, another --budget, or a larger --max-mismatch")


def match_all(settings: SweepSettings, vocab_size: int) -> list[WidthMatch]:
    """Width matches for every depth of a sweep, in depth order."""
    return [match_width(settings.budget, d, arch=settings.arch, head_dim=settings.head_dim,
                        ffn_ratio=settings.ffn_ratio, vocab_size=vocab_size, max_positions=settings.seq_len,
                        match=settings.match, max_mismatch=settings.max_mismatch)
            for d in sorted(settings.depths)]


# --------------------------------------------------------------------------------------------
# Data: the same token stream and validation windows for every shape


@dataclass
class SweepData:
    """Byte-level tokens, the fixed validation windows and the training chunk order."""

    corpus_spec: str
    corpus_description: str
    corpus_sha256: str
    train_tokens: Any  # torch.LongTensor, 1-D
    val_windows: Any  # torch.LongTensor, n_val x (seq_len + 1)
    chunk_order: Any  # numpy int64 array: chunk index of every training sequence, in order
    seq_len: int
    batch_size: int
    steps: int
    val_windows_sha256: str
    train_stream_sha256: str
    prefix_ids: tuple[int, ...] = ()  # what the tokenizer puts before text (probe.framing_prefix)

    @property
    def tokens_trained(self) -> int:
        """Predicted (target) tokens seen in training: steps × batch × seq_len."""
        return self.steps * self.batch_size * self.seq_len

    def batch(self, step: int):
        """Input/target tensors of training step ``step`` (the same for every shape and seed)."""
        import torch

        idx = self.chunk_order[step * self.batch_size:(step + 1) * self.batch_size]
        rows = torch.stack([self.train_tokens[i * self.seq_len:i * self.seq_len + self.seq_len + 1]
                            for i in idx.tolist()])
        return frame_inputs(rows[:, :-1], self.prefix_ids), rows[:, 1:]

    def provenance(self) -> dict:
        return {"corpus": self.corpus_spec, "corpus_description": self.corpus_description,
                "corpus_sha256": self.corpus_sha256, "tokenizer": _tokenizer_name(),
                "train_tokens_available": int(self.train_tokens.numel()),
                "val_windows": int(self.val_windows.shape[0]), "val_tokens": int(self.val_windows[:, 1:].numel()),
                "val_windows_sha256": self.val_windows_sha256, "bos": bool(self.prefix_ids),
                "prefix_ids": list(self.prefix_ids), "train_stream_sha256": self.train_stream_sha256,
                "steps": self.steps, "tokens_trained": self.tokens_trained,
                "epochs": self.tokens_trained / max(1, int(self.train_tokens.numel()))}


def _tokenizer_name() -> str:
    from .byte_tokenizer import TOKENIZER_NAME

    return TOKENIZER_NAME


def _sha256_tensor(t) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(t.numpy().astype("<i8")).tobytes()).hexdigest()


def prepare_data(settings: SweepSettings) -> SweepData:
    """Tokenize the corpus (bytes), hold out validation windows, fix the training chunk order."""
    import numpy as np
    import torch

    from .probe import load_corpus_text

    corpus = load_corpus_text(settings.corpus)
    ids = torch.tensor(np.frombuffer(corpus.text.encode("utf-8"), dtype=np.uint8).astype(np.int64))
    T = settings.seq_len
    n_val_tokens = int(len(ids) * settings.val_fraction)
    train, val = ids[:len(ids) - n_val_tokens], ids[len(ids) - n_val_tokens:]
    n_val = min(settings.max_val_windows, len(val) // (T + 1))
    n_chunks = (len(train) - 1) // T
    if n_val < 1 or n_chunks < settings.batch_size:
        raise InputError(f"corpus {settings.corpus} is too short ({len(ids):,} bytes) for --seq-len {T} and "
                         f"--batch-size {settings.batch_size}: need at least one validation window and one batch")
    val_windows = val[:n_val * (T + 1)].view(n_val, T + 1).clone()
    steps = max(1, math.ceil(settings.tokens_per_param * settings.budget / (settings.batch_size * T)))
    order = _chunk_order(n_chunks, steps * settings.batch_size, settings.data_seed)
    stream_hash = hashlib.sha256(_sha256_tensor(train).encode() + order.astype("<i8").tobytes()
                                 + f"|{T}|{settings.batch_size}".encode()).hexdigest()
    from .byte_tokenizer import build_byte_tokenizer
    from .probe import framing_prefix

    prefix = framing_prefix(build_byte_tokenizer())  # the audit's framing rule; the byte tokenizer adds none
    return SweepData(settings.corpus, corpus.description, corpus.sha256, train, val_windows, order, T,
                     settings.batch_size, steps, _sha256_tensor(val_windows), stream_hash, prefix_ids=prefix)


def _chunk_order(n_chunks: int, needed: int, data_seed: int):
    """Epoch after epoch, a seeded permutation of the chunk indices, until ``needed`` are drawn."""
    import numpy as np

    parts, have, epoch = [], 0, 0
    while have < needed:
        perm = np.random.default_rng([data_seed, epoch]).permutation(n_chunks)
        parts.append(perm)
        have += len(perm)
        epoch += 1
    return np.concatenate(parts)[:needed].astype(np.int64)


# --------------------------------------------------------------------------------------------
# Training one shape


def lr_factor(step: int, steps: int, warmup: int, min_ratio: float) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from 1 to ``min_ratio`` at the end."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, steps - warmup)
    progress = min(1.0, (step - warmup) / span)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def frame_inputs(inputs, prefix_ids: tuple[int, ...]):
    """Put the tokenizer's prefix (BOS) before each row of inputs, as the audit frames probe windows."""
    import torch

    if not prefix_ids:
        return inputs
    prefix = torch.tensor(prefix_ids, dtype=inputs.dtype).expand(inputs.shape[0], -1)
    return torch.cat([prefix, inputs], dim=1)


def validation_loss(model, windows, batch: int = 16, prefix_ids: tuple[int, ...] = ()) -> float:
    """Mean next-token cross-entropy (nats/token) over the fixed validation windows, framed with
    ``prefix_ids``; predictions made at prefix positions are not counted."""
    import torch
    import torch.nn.functional as F

    total, count = 0.0, 0
    model.eval()
    with torch.no_grad():
        for b0 in range(0, windows.shape[0], batch):
            rows = windows[b0:b0 + batch]
            logits = model(input_ids=frame_inputs(rows[:, :-1], prefix_ids)).logits[:, len(prefix_ids):].float()
            loss = F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten(), reduction="sum")
            total += float(loss)
            count += rows[:, 1:].numel()
    model.train()
    return total / count


def _build_model(spec: ShapeSpec, seed: int):
    import warnings

    import torch
    from transformers import AutoModelForCausalLM

    from .shape import build_config

    config = build_config(raw_config(spec))
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
        except (ValueError, ImportError):
            return AutoModelForCausalLM.from_config(config, attn_implementation="eager")


def _optimizer(model, settings: SweepSettings):
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": settings.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=settings.lr, betas=(0.9, 0.95))


def train_shape(spec: ShapeSpec, seed: int, data: SweepData, settings: SweepSettings,
                on_step: Callable[[int], None] | None = None) -> tuple[Any, dict]:
    """Train one shape with one seed on the shared stream; returns (model, training metrics)."""
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    model = _build_model(spec, seed)
    model.train()
    opt = _optimizer(model, settings)
    warmup = int(round(settings.warmup_frac * data.steps))
    log_every = max(1, data.steps // 50)
    curve, window_losses = [], []
    for step in range(data.steps):
        factor = lr_factor(step, data.steps, warmup, settings.min_lr_ratio)
        for group in opt.param_groups:
            group["lr"] = settings.lr * factor
        x, y = data.batch(step)
        logits = model(input_ids=x).logits[:, len(data.prefix_ids):]  # no loss at prefix positions
        loss = F.cross_entropy(logits.flatten(0, 1).float(), y.flatten())
        if not torch.isfinite(loss):
            raise NumericalError(f"{spec.name} seed {seed}: non-finite training loss at step {step} "
                                 "(lower --lr?)")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        window_losses.append(float(loss.detach()))
        if (step + 1) % log_every == 0 or step + 1 == data.steps:
            curve.append({"step": step + 1, "tokens": (step + 1) * data.batch_size * data.seq_len,
                          "train_loss": sum(window_losses) / len(window_losses)})
            window_losses = []
        if on_step is not None:
            on_step(step + 1)
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


# --------------------------------------------------------------------------------------------
# Saving, resuming, auditing


def run_dir(out: Path, spec: ShapeSpec, seed: int) -> Path:
    """Where one trained shape lives: ``OUT/shapes/depth{L}_width{d}_seed{s}/``."""
    return out / "shapes" / f"{spec.name}_seed{seed}"


def is_finished(path: Path) -> bool:
    """A trained shape: a checkpoint and its ``metrics.json`` (written last, atomically)."""
    return (path / "model.safetensors").is_file() and (path / "metrics.json").is_file()


def _write_json(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(".json.partial")
    tmp.write_text(json.dumps(obj, indent=2, default=str))
    tmp.replace(path)


def save_checkpoint(model, path: Path, metrics: dict) -> None:
    """Save config + safetensors + byte tokenizer, then ``metrics.json`` (the 'finished' marker)."""
    from .byte_tokenizer import build_byte_tokenizer

    tmp = path.with_name(path.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    build_byte_tokenizer(model_max_length=model.config.max_position_embeddings
                         if hasattr(model.config, "max_position_embeddings") else 1024).save_pretrained(tmp)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    _write_json(path / "metrics.json", metrics)


AUDIT_FIELDS = ("aofe", "aofe_ci", "aofe_ratio", "aofe_ratio_ci", "f_hat", "d_hat", "f_below_d",
                "probe_loss_nats_per_token", "probe_loss_bits_per_byte", "embedding_gram_aofe_ratio")


def audit_shape(path: Path, settings: SweepSettings, store=None) -> dict | None:
    """Audit a saved checkpoint with the sweep's audit preset; the headline numbers (``audit.json``)."""
    audit_settings = settings.audit_settings()
    if audit_settings is None:
        return None
    done = path / "audit.json"
    if done.is_file():
        saved = json.loads(done.read_text())
        if saved.get("settings") == asdict(audit_settings):
            return saved
    from .audit import run_audit

    rec = run_audit(str(path), audit_settings, store=store, show_progress=False, use_accelerate=False).record
    summary = {"settings": asdict(audit_settings), "windows_sha256": rec["probe"]["windows_sha256"],
               "wall_time_s": rec["runtime"]["wall_time_s"],
               **{k: rec["metrics"].get(k) for k in AUDIT_FIELDS},
               "layers": [{k: layer.get(k) for k in ("layer", "aofe_ratio", "effective_rank", "nfa_offdiag")}
                          for layer in rec["layers"]]}
    _write_json(done, summary)
    return summary


# --------------------------------------------------------------------------------------------
# Aggregation and the derived interval


def summarise(rows: list[dict]) -> list[dict]:
    """One row per shape: mean, spread (std, min, max) of the validation loss over seeds, metrics means."""
    import statistics

    by_shape: dict[tuple[int, int], list[dict]] = {}
    for row in rows:
        by_shape.setdefault((row["depth"], row["width"]), []).append(row)
    out = []
    for (_, _), group in sorted(by_shape.items()):
        losses = [r["val_loss"] for r in group]
        first = group[0]
        summary = {k: first[k] for k in ("depth", "width", "heads", "ffn_width", "r_dw", "achieved_params",
                                         "mismatch", "total_params", "non_embedding_params")}
        summary.update(seeds=len(group), val_loss_mean=statistics.fmean(losses),
                       val_loss_std=statistics.stdev(losses) if len(losses) > 1 else 0.0,
                       val_loss_min=min(losses), val_loss_max=max(losses))
        for key in ("aofe", "aofe_ratio", "probe_loss_nats_per_token"):
            vals = [r[key] for r in group if r.get(key) is not None]
            summary[f"{key}_mean"] = statistics.fmean(vals) if vals else None
            summary[f"{key}_std"] = statistics.stdev(vals) if len(vals) > 1 else (0.0 if vals else None)
        out.append(summary)
    return out


def derive_interval(summary: list[dict], tolerance: float) -> dict:
    """The band of shapes within ``tolerance`` of the best mean validation loss, and the optimum.

    lo/hi are the smallest and largest R_D/W in the band. A band of one shape has no width, so it is
    widened to the geometric midpoints towards its neighbouring shapes (the sweep's resolution) and
    that is said in ``notes``. Depths outside the band lying between band depths make it
    non-contiguous; that is said too.
    """
    if not summary:
        raise InputError("no trained shapes to derive an interval from")
    best = min(summary, key=lambda s: s["val_loss_mean"])
    threshold = best["val_loss_mean"] * (1 + tolerance)
    band = [s for s in summary if s["val_loss_mean"] <= threshold]
    ratios = sorted(s["r_dw"] for s in summary)
    band_r = sorted(s["r_dw"] for s in band)
    lo, hi = band_r[0], band_r[-1]
    notes = []
    if lo == hi:
        lo, hi = _widen_single(lo, ratios)
        notes.append("only one shape is within the tolerance; the interval was widened to the geometric "
                     "midpoints towards its neighbouring shapes (the sweep's resolution)")
    band_depths = sorted(s["depth"] for s in band)
    outside = [s["depth"] for s in summary if band_depths[0] < s["depth"] < band_depths[-1] and s not in band]
    contiguous = not outside
    if not contiguous:
        notes.append(f"the band is not contiguous in depth: depth(s) {', '.join(map(str, sorted(outside)))} lie "
                     f"between band depths but are more than {tolerance:.0%} worse than the best")
    return {"lo": lo, "hi": hi, "optimal_r_dw": best["r_dw"], "optimal_depth": best["depth"],
            "optimal_width": best["width"], "best_val_loss": best["val_loss_mean"], "threshold": threshold,
            "tolerance": tolerance, "band_depths": band_depths, "band_r_dw": band_r, "contiguous": contiguous,
            "notes": notes}


def _widen_single(r: float, ratios: list[float]) -> tuple[float, float]:
    """Half-way (geometrically) towards the neighbouring swept ratios; mirrored at the ends of the
    sweep, and a factor 1.5 each way when the sweep has a single shape."""
    if len(ratios) == 1:
        return r / 1.5, r * 1.5
    i = ratios.index(r)
    below = ratios[i - 1] if i > 0 else r * r / ratios[i + 1]
    above = ratios[i + 1] if i + 1 < len(ratios) else r * r / ratios[i - 1]
    return math.sqrt(below * r), math.sqrt(above * r)


def interval_source(derived: dict, settings: SweepSettings, data: SweepData) -> str:
    """One-line provenance for ``interval.json`` (what the other commands record as the source)."""
    return (f"hf-interaction sweep: shapes within {settings.tolerance:.0%} of the best mean validation loss; "
            f"budget {settings.budget:,} {settings.match} params ({settings.arch}, head dim {settings.head_dim}, "
            f"FFN ratio {settings.ffn_ratio:g}), depths {','.join(map(str, sorted(settings.depths)))}, corpus "
            f"{settings.corpus} sha256 {data.corpus_sha256[:12]}, {data.tokens_trained:,} training tokens per shape, "
            f"{settings.seeds} seed(s); optimal R_D/W {derived['optimal_r_dw']:.4g}")


def interval_file_content(derived: dict, settings: SweepSettings, data: SweepData) -> dict:
    """The interval file: lo, hi, source (read by ``load_interval_file``) plus full provenance."""
    return {"lo": derived["lo"], "hi": derived["hi"], "source": interval_source(derived, settings, data),
            "optimal_r_dw": derived["optimal_r_dw"], "contiguous": derived["contiguous"], "notes": derived["notes"],
            "provenance": {"budget": settings.budget, "match": settings.match, "arch": settings.arch,
                           "depths": sorted(settings.depths), "head_dim": settings.head_dim,
                           "ffn_ratio": settings.ffn_ratio, "seeds": settings.seeds,
                           "tolerance": settings.tolerance, "corpus": settings.corpus,
                           "corpus_sha256": data.corpus_sha256, "tokens_trained": data.tokens_trained,
                           "tokens_per_param": settings.tokens_per_param,
                           "val_windows_sha256": data.val_windows_sha256,
                           "train_stream_sha256": data.train_stream_sha256, "band_depths": derived["band_depths"],
                           "band_r_dw": derived["band_r_dw"], "best_val_loss": derived["best_val_loss"]}}


# --------------------------------------------------------------------------------------------
# The whole sweep


@dataclass
class SweepResult:
    """Rows (one per shape and seed), per-shape summary, the derived interval and where files went."""

    record: dict
    rows: list[dict]
    summary: list[dict]
    interval: dict
    out_dir: Path
    statuses: dict[str, str]

    def to_frame(self):
        """The per-shape-and-seed table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def _stderr_log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def run_sweep(settings: SweepSettings, out_dir: str | Path, *, store=None, show_progress: bool = True,
              log: Log | None = None, write_report: bool = True, report_only: bool = False) -> SweepResult:
    """Run (or resume) a sweep into ``out_dir`` and write its table, interval file and report.

    With ``report_only`` nothing is trained: the table, interval and report are made from the shapes
    already finished (e.g. to look at a sweep that is still running or was stopped); the missing ones
    are listed in ``statuses`` and in the report."""
    import torch

    settings.validate()
    log = log or _stderr_log
    out = Path(out_dir)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    from .byte_tokenizer import BYTE_VOCAB_SIZE

    matches = match_all(settings, BYTE_VOCAB_SIZE)
    data = prepare_data(settings)
    out.mkdir(parents=True, exist_ok=True)
    _check_out_dir(out, settings)
    t0 = time.perf_counter()
    rows, statuses = [], {}
    jobs = [(m, s) for s in range(settings.seeds) for m in matches]  # all shapes of seed 0 first
    with _Bars(show_progress, len(jobs)) as bars:
        for m, seed in jobs:
            name = run_dir(out, m.spec, seed).name
            if report_only and not is_finished(run_dir(out, m.spec, seed)):
                statuses[name] = "missing (not trained yet; --report-only)"
                log(f"{name}: {statuses[name]}")
                continue
            row, status = _run_one(m, seed, data, settings, out, store, bars, log)
            statuses[name] = status
            rows.append(row)
            bars.job_done()
    if not rows:
        raise InputError(f"{out} holds no finished shapes to report on")
    summary = summarise(rows)
    derived = derive_interval(summary, settings.tolerance)
    record = {
        "schema_version": SWEEP_SCHEMA, "kind": "sweep", "settings": {**asdict(settings),
                                                                      "depths": sorted(settings.depths)},
        "train_key": settings.train_key(), "data": data.provenance(), "rows": rows, "summary": summary,
        "interval": derived, "interval_file": interval_file_content(derived, settings, data),
        "wall_time_s": time.perf_counter() - t0,
        "wall_time_total_s": _previous_wall_time(out) + time.perf_counter() - t0, "statuses": statuses,
        "versions": _versions(), "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_outputs(out, record, write_report)
    if store is not None:
        store.put("sweeps", f"sweep:{out.resolve().name}", settings.train_key(), record["settings"], record)
    return SweepResult(record, rows, summary, derived, out, statuses)


def _previous_wall_time(out: Path) -> float:
    """Wall time of the earlier invocations on this directory (from the previous ``sweep.json``)."""
    previous = out / "sweep.json"
    if not previous.is_file():
        return 0.0
    rec = json.loads(previous.read_text())
    return float(rec.get("wall_time_total_s", rec.get("wall_time_s", 0.0)))


def _check_out_dir(out: Path, settings: SweepSettings) -> None:
    """Refuse to resume into a directory trained with other settings (its shapes would not compare)."""
    marker = out / "sweep_settings.json"
    key = settings.train_key()
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("train_key") != key:
            raise InputError(f"{out} holds a sweep trained with other settings (train key {saved.get('train_key')} "
                             f"≠ {key})", "use another --out directory")
    _write_json(marker, {"train_key": key, "settings": {**asdict(settings), "depths": sorted(settings.depths)}})


def _run_one(m: WidthMatch, seed: int, data: SweepData, settings: SweepSettings, out: Path, store,
             bars: _Bars, log: Log) -> tuple[dict, str]:
    """Train (unless finished), audit (unless done) and return the table row and a status word."""
    path = run_dir(out, m.spec, seed)
    if is_finished(path):
        metrics = json.loads((path / "metrics.json").read_text())
        if metrics.get("train_key") != settings.train_key():
            raise InputError(f"{path} was trained with other settings", "use another --out directory")
        if (metrics.get("train_stream_sha256"), metrics.get("val_windows_sha256")) != (
                data.train_stream_sha256, data.val_windows_sha256):
            raise InputError(f"{path} was trained on other data (the corpus text changed since)",
                             "use another --out directory")
        status = "skipped (finished: checkpoint and metrics.json present)"
        log(f"{path.name}: {status}")
    else:
        bars.start_shape(path.name, data.steps)
        model, metrics = train_shape(m.spec, seed, data, settings, on_step=bars.step)
        metrics.update(train_key=settings.train_key(), seed=seed, shape=m.to_row(),
                       val_windows_sha256=data.val_windows_sha256, train_stream_sha256=data.train_stream_sha256,
                       corpus_sha256=data.corpus_sha256)
        save_checkpoint(model, path, metrics)
        status = "trained"
        log(f"{path.name}: trained in {metrics['train_wall_s']:.0f} s, validation loss {metrics['val_loss']:.4f}")
    audit = audit_shape(path, settings, store)
    row = {**m.to_row(), "seed": seed, "run": path.name, "val_loss": metrics["val_loss"],
           "val_bits_per_byte": metrics["val_bits_per_byte"], "train_loss_final": metrics["train_loss_final"],
           "tokens_trained": metrics["tokens_trained"], "steps": metrics["steps"],
           "train_wall_s": metrics["train_wall_s"], "val_windows_sha256": metrics["val_windows_sha256"],
           "train_stream_sha256": metrics["train_stream_sha256"]}
    for key in ("aofe", "aofe_ratio", "aofe_ratio_ci", "probe_loss_nats_per_token", "f_below_d"):
        row[key] = audit.get(key) if audit else None
    return row, status


def _write_outputs(out: Path, record: dict, write_report: bool) -> None:
    import csv

    _write_json(out / "sweep.json", record)
    _write_json(out / "interval.json", record["interval_file"])
    for name, rows in (("sweep_runs.csv", record["rows"]), ("sweep_shapes.csv", record["summary"])):
        with open(out / name, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    if write_report:
        from .sweep_report import write_report as _write_report

        _write_report(record, out)


def _versions() -> dict:
    from .audit import package_versions

    return package_versions()


class _Bars:
    """Two rich progress bars (overall and current shape) on stderr, or nothing when disabled."""

    def __init__(self, enabled: bool, jobs: int):
        self.enabled = enabled and os.environ.get("HF_INTERACTION_NO_PROGRESS") != "1"
        self.jobs = jobs
        self._shape_task = None

    def __enter__(self) -> _Bars:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
                                      transient=True)
            self._progress.start()
            self._overall = self._progress.add_task("sweep (shapes × seeds)", total=self.jobs)
        return self

    def start_shape(self, name: str, steps: int) -> None:
        if self.enabled:
            if self._shape_task is not None:
                self._progress.remove_task(self._shape_task)
            self._shape_task = self._progress.add_task(f"  {name} (steps)", total=steps)

    def step(self, done: int) -> None:
        if self.enabled and self._shape_task is not None:
            self._progress.update(self._shape_task, completed=done)

    def job_done(self) -> None:
        if self.enabled:
            self._progress.advance(self._overall)

    def __exit__(self, *exc) -> None:
        if self.enabled:
            self._progress.stop()
