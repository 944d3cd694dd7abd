"""Partial correlation with several covariates (and optionally family fixed effects), batched over
resamples, with the report's bootstrap, permutation and leave-one-family-out machinery.

:mod:`.residuals` controls for log10 parameters alone; the lead setup's analyses also control for an
instruct indicator, log10 training tokens or family. This module residualises the predictor and the
score on any set of covariate columns by Frisch–Waugh–Lovell: centre (within families when a family
term is fitted), then project out each covariate's part not explained by the earlier ones (batched
Gram–Schmidt). A covariate counts only when it adds variation: its remaining sum of squares must
exceed :data:`~.residuals.EXPLAINED_TOL` of its own, so an indicator that is constant in a resample
(all base models drawn) or within every family is dropped exactly, and the rank of the controls is a
count, as in :mod:`.residuals`. With log10 params as the only covariate the results equal
``partial_pearson`` and ``ols_coef`` there.

The smallest detectable effect: :func:`detectable_r` is the partial r that a two-sided test at
α = 0.05 detects with 80% power at n models and k covariates, from Fisher's z:
atanh(r)·sqrt(n − k − 3) = z_{0.975} + z_{0.80}.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from .residuals import EXPLAINED_TOL, STATISTICS, _centre, distinct_counts, family_codes, statistic_values, varies
from .stats import (
    DEFAULT_N_BOOT,
    DEFAULT_N_PERM,
    MIN_MODELS,
    LofoResult,
    TestedValue,
    _pvalue,
    bootstrap_indices,
    percentile_ci,
    permutations,
)

ALPHA = 0.05
POWER = 0.80


def detectable_r(n: int, k: int, alpha: float = ALPHA, power: float = POWER) -> float:
    """|partial r| detectable with ``power`` by a two-sided test at ``alpha`` (Fisher z; NaN if n ≤ k + 3)."""
    df = n - k - 3
    if df <= 0:
        return math.nan
    z = sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)
    return float(math.tanh(z / math.sqrt(df)))


def project(x: np.ndarray, y: np.ndarray, covariates: np.ndarray, codes: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x and y (B × n) residualised on an intercept (or family indicators), then on each covariate
    column of ``covariates`` (B × n × k) in turn; and the rank of the controls (B, an exact count)."""
    onehot = None
    rank = np.ones(x.shape[0], dtype=np.intp)
    if codes is not None:
        onehot = (codes[..., None] == np.arange(int(codes.max()) + 1)).astype(float)
        rank = distinct_counts(codes)
    rx, ry = _centre(x, onehot), _centre(y, onehot)
    basis: list[np.ndarray] = []
    for j in range(covariates.shape[-1]):
        raw = covariates[..., j]
        c = _centre(raw, onehot)
        for b in basis:
            c = c - (c * b).sum(axis=-1, keepdims=True) * b
        own = _own_ss(raw)
        left = (c * c).sum(axis=-1)
        used = (own > 0) & (left > EXPLAINED_TOL * own)
        unit = np.where(used[..., None], c / np.sqrt(np.where(used, left, 1.0))[..., None], 0.0)
        basis.append(unit)
        rx = rx - (rx * unit).sum(axis=-1, keepdims=True) * unit
        ry = ry - (ry * unit).sum(axis=-1, keepdims=True) * unit
        rank = rank + used
    return rx, ry, rank


def _own_ss(v: np.ndarray) -> np.ndarray:
    """Centred sum of squares of each row (B × n): exactly 0 for a constant row."""
    return np.where(varies(v), ((v - v.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1), 0.0)


def _values(x: np.ndarray, y: np.ndarray, covariates: np.ndarray, codes: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Partial r, OLS coefficient of x and the control rank, per row of the batch."""
    rx, ry, rank = project(x, y, covariates, codes)
    ss_x, ss_y = _own_ss(x), _own_ss(y)
    r = statistic_values(STATISTICS["partial_pearson"], rx, ry, ss_x, ss_y)
    coef = statistic_values(STATISTICS["ols_coef"], rx, ry, ss_x, ss_y)
    return r, coef, rank


def residual_of(y: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """y (n) residualised on an intercept and the covariate columns (n × k): what a figure plots."""
    _, ry, _ = project(y[None], y[None], covariates[None], None)
    return ry[0]


@dataclass(frozen=True)
class CovEstimate(TestedValue):
    """Partial r of score and predictor given the covariates, with its uncertainty and power."""

    k: int  # covariates in the full-sample fit (family indicators counted), intercept not counted
    coef: float  # OLS coefficient of the predictor (score points per unit)
    coef_ci_low: float
    coef_ci_high: float
    detectable: float  # |r| detectable at 80% power, alpha 0.05 two-sided
    lofo: LofoResult | None


def _prepare(x, y, covariates, families) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str] | None]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    cov = np.asarray(covariates, dtype=float).reshape(len(x), -1)
    fams = None if families is None else [str(f) for f in families]
    if y.shape != x.shape or x.ndim != 1 or (fams is not None and len(fams) != len(x)):
        raise ValueError("x, y, covariates and families need one entry per model")
    return x, y, cov, fams


def point_estimate(x, y, covariates, families=None) -> tuple[float, int]:
    """Partial r of y and x given the covariates (and family indicators), and the number of controls."""
    x, y, cov, fams = _prepare(x, y, covariates, families)
    codes = family_codes(fams)[None] if fams is not None else None
    r, _, rank = _values(x[None], y[None], cov[None], codes)
    return float(r[0]), int(rank[0]) - 1


def leave_one_family_out(x, y, covariates, groups: Sequence[str], full: float,
                         families=None) -> LofoResult | None:
    """The partial r with each group (family) dropped in turn; None with fewer than two groups."""
    x, y, cov, fams = _prepare(x, y, covariates, families)
    names = sorted(set(groups))
    if len(names) < 2:
        return None
    values: dict[str, float] = {}
    for name in names:
        keep = np.array([g != name for g in groups])
        sub_fams = None if fams is None else [f for f, k in zip(fams, keep, strict=True) if k]
        values[name] = (point_estimate(x[keep], y[keep], cov[keep], sub_fams)[0]
                        if keep.sum() >= MIN_MODELS else math.nan)
    finite = [v for v in values.values() if math.isfinite(v)]
    flips = tuple(k for k, v in values.items() if math.isfinite(v) and math.isfinite(full) and v * full < 0)
    return LofoResult(values, min(finite) if finite else math.nan, max(finite) if finite else math.nan, flips)


def estimate(x, y, covariates, families=None, *, groups: Sequence[str] | None = None,
             n_boot: int = DEFAULT_N_BOOT, n_perm: int = DEFAULT_N_PERM,
             seed: int | Sequence[int] = 0) -> CovEstimate:
    """Partial r of score y and predictor x given the covariates (n × k) and, when ``families`` is
    given, family fixed effects: bootstrap interval (models resampled, the whole fit redone),
    Kennedy permutation p-value, OLS coefficient, detectable r and, when ``groups`` is given, the
    leave-one-group-out range."""
    x, y, cov, fams = _prepare(x, y, covariates, families)
    n = len(x)
    codes = family_codes(fams) if fams is not None else None
    r, coef, rank = _values(x[None], y[None], cov[None], None if codes is None else codes[None])
    value, k = float(r[0]), int(rank[0]) - 1
    index = bootstrap_indices(n, n_boot, seed)
    r_b, coef_b, rank_b = _values(x[index], y[index], cov[index], None if codes is None else codes[index])
    keep = distinct_counts(index) - rank_b >= 2
    lo, hi, valid = percentile_ci(np.where(keep, r_b, np.nan))
    c_lo, c_hi, _ = percentile_ci(np.where(keep, coef_b, np.nan))
    perms, exact = permutations(n, n_perm, seed)
    rx, ry, _ = project(x[None], y[None], cov[None], None if codes is None else codes[None])
    rx_perm = rx[0][perms]
    ss_x, ss_y = (np.broadcast_to(_own_ss(v[None]), perms.shape[:1]) for v in (x, y))
    null = statistic_values(STATISTICS["partial_pearson"], rx_perm, np.broadcast_to(ry, rx_perm.shape), ss_x, ss_y)
    lofo = None if groups is None else leave_one_family_out(x, y, cov, groups, value, fams)
    return CovEstimate(n=n, value=value, ci_low=lo, ci_high=hi, boot_valid=valid, p_value=_pvalue(value, null, exact),
                       p_exact=exact, k=k, coef=float(coef[0]), coef_ci_low=c_lo, coef_ci_high=c_hi,
                       detectable=detectable_r(n, k), lofo=lofo)
