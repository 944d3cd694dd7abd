"""The one computation every statistic of the report reduces to, batched over resamples.

Residualise the predictor x and the score y on a set of controls (an intercept; plus log10
parameter count for the size-controlled statistics; plus family indicators for the family-term
regression), on ranks for the Spearman variants; then correlate the two residual vectors or take the
OLS coefficient ⟨r_x, r_y⟩ / ⟨r_x, r_x⟩ (Frisch–Waugh–Lovell: the coefficient of x in score ~
controls + x).

Whether a statistic is defined is decided from exact facts about the data, never from a float
compared to 0: a vector is constant when its values are equal, the rank of the controls is counted
(families present, plus one where log10 params vary within some family), and "the controls explain
it" means a residual sum of squares at most :data:`EXPLAINED_TOL` of the vector's own variation, far
above round-off. So the same data give the same defined / undefined verdicts with any BLAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps


@dataclass(frozen=True)
class Statistic:
    """One statistic: whether it works on ranks, what it controls for, and what it outputs."""

    key: str
    label: str
    rank: bool
    controls: str  # "none" | "size" | "size+family"
    output: str  # "corr" | "coef"


STATISTICS: dict[str, Statistic] = {
    s.key: s
    for s in (
        Statistic("pearson", "Pearson r", False, "none", "corr"),
        Statistic("spearman", "Spearman ρ", True, "none", "corr"),
        Statistic("partial_pearson", "partial Pearson r | log10 params", False, "size", "corr"),
        Statistic("partial_spearman", "partial Spearman ρ | log10 params", True, "size", "corr"),
        Statistic("ols_coef", "OLS coef: score ~ log10 params + x", False, "size", "coef"),
        Statistic("ols_coef_family", "OLS coef: score ~ log10 params + x + family", False,
                  "size+family", "coef"),
    )
}


def family_codes(families: Sequence[str]) -> np.ndarray:
    """Each model's family as an integer code (families in sorted order)."""
    lookup = {name: i for i, name in enumerate(sorted(set(families)))}
    return np.array([lookup[f] for f in families], dtype=np.intp)


def varies(v: np.ndarray) -> np.ndarray:
    """Whether each row of v (B × n) holds two different values: an exact comparison of the data."""
    return v.max(axis=-1) != v.min(axis=-1)


def distinct_counts(index: np.ndarray) -> np.ndarray:
    """How many different entries each row of an integer array (B × n) holds."""
    return (np.diff(np.sort(index, axis=-1), axis=-1) != 0).sum(axis=-1) + 1


def _centre(v: np.ndarray, onehot: np.ndarray | None) -> np.ndarray:
    """v (B × n) less its mean, or less its family's mean when ``onehot`` (B × n × f) is given."""
    if onehot is None:
        return v - v.mean(axis=-1, keepdims=True)
    means = np.einsum("bnf,bn->bf", onehot, v) / np.maximum(onehot.sum(axis=1), 1.0)
    return v - np.einsum("bnf,bf->bn", onehot, means)


def residuals(stat: Statistic, x: np.ndarray, y: np.ndarray, logp: np.ndarray,
           codes: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Residualised predictor and score (each B × n), the predictor's and the score's centred sums
    of squares (B each; exactly 0 for a constant vector), and the rank of the control design (B).

    Inputs carry a leading batch axis (B resamples); ``codes`` (B × n family codes) only for the
    family-term statistic. The projection is written out (Frisch–Waugh–Lovell: centre within
    families, then project out the centred log10 params where they vary), so the design rank is an
    exact count — the families present, plus one where log10 params vary within some family —
    rather than a singular value compared to a round-off threshold.
    """
    if stat.rank:
        x, y, logp = (sps.rankdata(a, axis=-1) for a in (x, y, logp))
    onehot = None
    rank = np.ones(x.shape[0], dtype=np.intp)
    if stat.controls == "size+family":
        if codes is None:
            raise ValueError("the family-term statistic needs families")
        onehot = (codes[..., None] == np.arange(int(codes.max()) + 1)).astype(float)
        rank = distinct_counts(codes)
    rx, ry = _centre(x, onehot), _centre(y, onehot)
    if stat.controls in ("size", "size+family"):
        lc = _centre(logp, onehot)
        if onehot is None:
            uses_size = varies(logp)
        else:
            present = onehot > 0
            lo = np.where(present, logp[..., None], np.inf).min(axis=1)
            hi = np.where(present, logp[..., None], -np.inf).max(axis=1)
            uses_size = (hi > lo).any(axis=-1)
        ss_l = np.where(uses_size, (lc * lc).sum(axis=-1), 1.0)
        for r in (rx, ry):
            r -= (np.where(uses_size, (r * lc).sum(axis=-1) / ss_l, 0.0))[..., None] * lc
        rank = rank + uses_size
    ss_x = np.where(varies(x), ((x - x.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1), 0.0)
    ss_y = np.where(varies(y), ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1), 0.0)
    return rx, ry, ss_x, ss_y, rank


#: A residual sum of squares at or below this share of the vector's own variation counts as none:
#: the controls explain the vector. Far above round-off (about 1e-30 here), far below real data.
EXPLAINED_TOL = 1e-10


def statistic_values(stat: Statistic, rx: np.ndarray, ry: np.ndarray, ss_x: np.ndarray, ss_y: np.ndarray) -> np.ndarray:
    """Correlation of the residuals, or the OLS coefficient; NaN where undefined.

    Undefined: the predictor is constant or the controls explain it (its residual sum of squares
    is at most :data:`EXPLAINED_TOL` of its own variation), or, for a correlation, the same of the
    score (so a score the controls explain exactly gives NaN, not a correlation of round-off).
    """
    sxx = (rx * rx).sum(axis=-1)
    syy = (ry * ry).sum(axis=-1)
    sxy = (rx * ry).sum(axis=-1)
    ok = (ss_x > 0) & (sxx > EXPLAINED_TOL * ss_x)
    with np.errstate(divide="ignore", invalid="ignore"):
        if stat.output == "corr":
            ok &= (ss_y > 0) & (syy > EXPLAINED_TOL * ss_y)
            out = np.clip(sxy / np.sqrt(sxx * syy), -1.0, 1.0)
        else:
            out = sxy / sxx
    return np.where(ok, out, np.nan)


def as_arrays(x, y, logp, families) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str] | None]:
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    logp = np.zeros_like(x) if logp is None else np.asarray(logp, dtype=float)
    if not (x.shape == y.shape == logp.shape) or x.ndim != 1:
        raise ValueError("x, y and log10 params must be 1-D arrays of the same length")
    fams = None if families is None else [str(f) for f in families]
    if fams is not None and len(fams) != len(x):
        raise ValueError("families must have one entry per model")
    return x, y, logp, fams
