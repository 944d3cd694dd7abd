"""Candidate shapes for a parameter budget, ordered by closeness to the efficient interval's centre.

For each depth, the width is chosen with the sweep's matching rule (``width_matching.match_width``: widths
are multiples of the head dimension, the exact meta-device count closest to the budget wins), so
``suggest`` proposes exactly the shapes a sweep at that budget would train. Every count reported is
the meta-device count of the built config (``shape.count_parameters``), never a formula.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import InputError, UsageError
from .interval import DEFAULT_INTERVAL, Interval
from .width_matching import BudgetTooSmall, WidthMatch, match_width

DEFAULT_DEPTHS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 64)


def suggest_shapes(params: int, *, arch: str = "llama", vocab_size: int = 32000, ffn_ratio: float = 4.0,
                   head_dim: int = 64, match: str = "non-embedding", depths: Sequence[int] | None = None,
                   interval: Interval = DEFAULT_INTERVAL, max_mismatch: float = 0.1,
                   max_positions: int = 4096) -> list[dict]:
    """Candidate shapes for ``params``, the one closest (in log R_D/W) to the interval's centre first.

    With explicit ``depths`` every depth must match the budget within ``max_mismatch`` (else one
    ``InputError`` line). With the default depths, depths that cannot match are left out; if none
    can, the error for the shallowest depth is raised (usually: the budget is too small).
    """
    _check_inputs(params, vocab_size, ffn_ratio, head_dim, max_mismatch, depths)
    explicit = depths is not None
    rows, first_error = [], None
    for depth in sorted(set(DEFAULT_DEPTHS if depths is None else depths)):
        try:
            m = match_width(params, depth, arch=arch, head_dim=head_dim, ffn_ratio=ffn_ratio, vocab_size=vocab_size,
                            max_positions=max_positions, match=match, max_mismatch=max_mismatch)
        except InputError as exc:
            if explicit:
                raise
            first_error = first_error or exc
            if isinstance(exc, BudgetTooSmall):
                break  # deeper shapes need even more parameters
            continue
        rows.append(_row(m, interval))
    if not rows:
        raise first_error or InputError(f"no depth can match a budget of {params:,} parameters")
    rows.sort(key=lambda r: (r["log_distance_to_centre"], r["depth"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def _check_inputs(params: int, vocab_size: int, ffn_ratio: float, head_dim: int, max_mismatch: float,
                  depths: Sequence[int] | None) -> None:
    for name, value in (("--budget", params), ("--vocab", vocab_size), ("--ffn-ratio", ffn_ratio),
                        ("--head-dim", head_dim)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise UsageError(f"{name} must be positive, got {value!r}")
    if not 0 <= max_mismatch < 1:
        raise UsageError(f"--max-mismatch must be in [0, 1), got {max_mismatch}")
    if depths is not None and (not depths or any(d < 1 for d in depths)):
        raise UsageError(f"--depths must be positive integers, got {','.join(map(str, depths)) or 'nothing'}")


def _row(m: WidthMatch, interval: Interval) -> dict:
    """One candidate: shape, exact counts, R_D/W and its position in the interval."""
    s = m.spec
    return {
        "rank": 0,
        "depth": s.depth,
        "width": s.width,
        "heads": s.heads,
        "kv_heads": s.heads,
        "head_dim": s.head_dim,
        "ffn_width": s.ffn_width,
        "r_dw": s.r_dw,
        "total_params": m.counts["total_params"],
        "non_embedding_params": m.counts["non_embedding_params"],
        "embedding_params": m.counts["embedding_params"],
        "matched_params": m.achieved,
        "match": m.match,
        "mismatch": m.mismatch,
        **interval.position(s.r_dw),
        "log_distance_to_centre": abs(math.log10(s.r_dw / interval.centre)),
    }
