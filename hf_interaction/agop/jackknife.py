"""Delete-one jackknife intervals and bias corrections for statistics of independent samples (issue 19).

Every estimate of the audit is a function of one or two independent random samples of units: the
output probes (and, for ``--f-estimator hutchinson``, the input probes) and, for the population
estimates, the windows. For each sample s with n_s units the statistic is recomputed with one unit
left out (n_s replicates θ₍₋ⱼ₎); then, on a transformed scale φ = g(θ) (log for positive statistics),

    V_s = (n_s − 1)/n_s · Σⱼ (φ₍₋ⱼ₎ − φ̄_s)²            the sample's jackknife variance,
    V = Σ_s V_s,  df = V² / Σ_s V_s²/df_s               (Welch–Satterthwaite; df_s from the pseudo-values'
                                                        kurtosis, at most (n_s − 1)/3: DF_FACTOR),
    interval = g⁻¹(φ̂ ± t_{df, 1−α/2} √V).

The samples are independent, so their first-order variance terms add. A U-statistic (F, D, tr G of
the pairs estimator) has zero jackknife bias; a ratio of U-statistics (D/F, the effective rank)
has a bias of order 1/n_s, which the same replicates remove from the reported value:
:func:`bias_corrected`, b_s = (n_s − 1)(θ̄_s − θ̂). The method was chosen by its measured coverage
(``benchmarks/coverage.py``, docs/metrics.md), not by habit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Each sample's degrees of freedom are at most (m − 1) times this factor (and at most its kurtosis-based
#: df). The pseudo-values of a
#: U-statistic of degree 2 (F, D: pairs of probes) all share pairs with each other, so their spread
#: carries fewer degrees of freedom than independent values would; 1/3 is the largest simple factor
#: with which every interval of the coverage harness reached 0.93 at the cpu and paper probe counts
#: (1: 0.907–0.96 for D/F; 1/2: 0.922 for D/F with heavy-tailed windows; docs/metrics.md).
DF_FACTOR = 1 / 3
#: Scales an interval can be formed on: "log" (positive statistics; the interval stays positive and
#: follows their right skew) or "linear".
SCALES = ("log", "linear")


@dataclass(frozen=True)
class JackknifeInterval:
    """An interval and how it was formed (the transformed-scale standard error and degrees of freedom)."""

    ci: list[float] | None
    se: float | None
    df: float | None
    note: str | None = None


def _forward(values: np.ndarray, scale: str) -> np.ndarray:
    return np.log(values) if scale == "log" else values


def _inverse(values: np.ndarray, scale: str) -> np.ndarray:
    return np.exp(values) if scale == "log" else values


def _valid(point: float, reps: Mapping[str, np.ndarray], scale: str) -> str | None:
    """Why no interval can be formed (None when one can)."""
    if not reps or any(len(r) < 2 for r in reps.values()):
        return "fewer than 2 units in a resampled sample"
    values = np.concatenate([np.asarray(r, dtype=np.float64) for r in reps.values()] + [np.array([point])])
    if not np.all(np.isfinite(values)):
        return "a leave-one-out replicate is not finite"
    if scale == "log" and not np.all(values > 0):
        return "a leave-one-out replicate is not positive (too few probes for this statistic)"
    return None


def _sample_df(f: np.ndarray, phi: float) -> float:
    """Degrees of freedom of one sample's jackknife variance, from the kurtosis κ of its pseudo-values:
    Var(s²) = σ⁴(κ/m − (m − 3)/(m(m − 1))) gives df = 2m(m − 1)/(κ(m − 1) − (m − 3)), which is m − 1
    for normal pseudo-values and smaller for heavy-tailed ones; at most (m − 1)·DF_FACTOR, at least 1."""
    m = f.size
    pseudo = m * phi - (m - 1) * f
    dev = pseudo - pseudo.mean()
    m2 = float((dev**2).mean())
    if not m2 > 0:
        return float(m - 1)
    kappa = float((dev**4).mean()) / (m2 * m2)
    den = kappa * (m - 1) - (m - 3)
    df = 2 * m * (m - 1) / den if den > 0 else float(m - 1)
    return float(max(1.0, min((m - 1) * DF_FACTOR, df)))


def jackknife_interval(point: float, reps: Mapping[str, np.ndarray], level: float,
                       scale: str = "log") -> JackknifeInterval:
    """The jackknife-t interval of a statistic with value ``point`` and delete-one replicates ``reps``
    (one array per independent sample of units): centred on g(point), half-width t_df · √V with V the
    summed jackknife variances and df their Welch–Satterthwaite combination (each sample's df from
    its pseudo-values' kurtosis, :func:`_sample_df`). Centred on the plug-in value, not the
    bias-corrected one: on the log scale the plug-in ratio is close to median-unbiased, and the
    bias-corrected centre covered less (benchmarks/coverage.py; docs/metrics.md)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
    why = _valid(point, reps, scale)
    if why is not None:
        return JackknifeInterval(None, None, None, why)
    phi = float(_forward(np.array([point]), scale)[0])
    var, df_den = 0.0, 0.0
    for r in reps.values():
        f = _forward(np.asarray(r, dtype=np.float64), scale)
        m = f.size
        v = (m - 1) / m * float(((f - f.mean()) ** 2).sum())
        var += v
        df_den += v * v / _sample_df(f, phi)
    if not var > 0:
        return JackknifeInterval(None, 0.0, None, "the leave-one-out replicates are all equal (no spread to "
                                                  "estimate an interval from)")
    df = var * var / df_den
    half = float(stats.t.ppf(0.5 + level / 2.0, df)) * math.sqrt(var)
    lo, hi = _inverse(np.array([phi - half, phi + half]), scale)
    return JackknifeInterval([float(lo), float(hi)], math.sqrt(var), float(df))


def bias_corrected(point: float, reps: Mapping[str, np.ndarray]) -> float:
    """θ̂ − Σ_s (n_s − 1)(θ̄₍₋·₎,s − θ̂): the jackknife's bias-corrected estimate (exactly θ̂ for a
    U-statistic of the resampled units); θ̂ itself when a replicate is not finite."""
    total = float(point)
    for r in reps.values():
        r = np.asarray(r, dtype=np.float64)
        if r.size < 2 or not np.all(np.isfinite(r)):
            return float(point)
        total -= (r.size - 1) * (float(r.mean()) - float(point))
    return total


def leave_one_out(units: int) -> np.ndarray:
    """units × units weights: row j is all ones except unit j (the delete-one jackknife's resamples)."""
    return 1.0 - np.eye(units)


def design_hash(**counts: int | str) -> str:
    """A short hash of the resampling design (units per sample and what fixed them), so two runs
    whose replicates are to be paired (trained and fresh init) can check they used the same one."""
    import hashlib

    text = ";".join(f"{k}={counts[k]}" for k in sorted(counts))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
