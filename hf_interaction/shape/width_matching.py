"""Width matching (docs/design.md §8): for a depth and a parameter budget, the width whose exact
meta-device parameter count is closest to the budget.

Shared by ``sweep`` (which trains the matched shapes) and ``suggest`` (which lists them), so both
propose exactly the same shapes. Widths are multiples of the head dimension; nothing is padded: the
achieved count and the relative mismatch are reported, and a depth whose closest count is further
than ``max_mismatch`` from the budget is refused with one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ..errors import InputError, UsageError

MATCH_RULES = ("non-embedding", "total")


class BudgetTooSmall(InputError):
    """Even the narrowest valid width (one head) exceeds the budget for this depth (and deeper ones)."""


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
    from .config import ENCODER_TYPES

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
    from .config import DEPTH_FIELDS, FFN_FIELDS, HEAD_FIELDS, WIDTH_FIELDS

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
    from ..sweep.byte_tokenizer import SPECIAL_TOKENS

    if spec.vocab_size >= 256 + len(SPECIAL_TOKENS):
        raw.update(pad_token_id=256, bos_token_id=257, eos_token_id=258)
    return raw


@lru_cache(maxsize=4096)
def count_shape(spec: ShapeSpec) -> dict:
    """Exact meta-device parameter counts of a shape (``shape.count_parameters``), cached."""
    from .config import build_config, count_parameters

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
