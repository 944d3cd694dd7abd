"""Statistics of the MMLU-Pro correlation report (docs/design.md §7): pure numpy/scipy, no I/O.

Every statistic answers "does the score go with this predictor?" for one scoring setup, raw and
controlling for size, because interval position is confounded with size (the smallest models sit
inside the interval). Each is computed by :mod:`.residuals` (residualise on the controls, then
correlate or regress); this module adds the point estimates, their uncertainty and stability, and
the analysis of a whole setup.

Uncertainty:

- bootstrap: 95% percentile intervals from resampling models with replacement (the whole
  computation, ranking and residualising included, is redone in every resample, vectorised);
- permutation p-values (two-sided): raw statistics permute the predictor; controlled statistics
  permute the *residualised* predictor against the residualised score (Kennedy's method). When n! is
  at most the requested number of permutations every permutation is enumerated (an exact p-value);
- leave-one-family-out: each statistic recomputed with each family dropped, to show whether one
  family drives the result.

Everything is deterministic for a seed: resampling indices come from ``numpy.random.default_rng``
seeded with ``[seed, predictor number]``, shared by all statistics of that predictor.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as sps

from .residuals import STATISTICS, as_arrays, distinct_counts, family_codes, residuals, statistic_values

#: Fewer scored models than this: no correlation, no fit ("too few models").
MIN_MODELS = 5
#: Residual degrees of freedom a family-term regression must keep.
MIN_FAMILY_DF = 3

DEFAULT_N_BOOT = 2000
DEFAULT_N_PERM = 2000
DEFAULT_SEED = 0


def statistic(key: str, x, y, logp=None, families=None) -> float:
    """The point estimate of statistic ``key`` (see STATISTICS) of score y against predictor x."""
    stat = STATISTICS[key]
    x, y, logp, fams = as_arrays(x, y, logp, families)
    codes = family_codes(fams)[None] if fams is not None else None
    rx, ry, ss_x, ss_y, _ = residuals(stat, x[None], y[None], logp[None], codes)
    return float(statistic_values(stat, rx, ry, ss_x, ss_y)[0])


# Convenience names for the common statistics -------------------------------------------------

def pearson(x, y) -> float:
    """Pearson correlation of x and y."""
    return statistic("pearson", x, y)


def spearman(x, y) -> float:
    """Spearman rank correlation of x and y (average ranks for ties)."""
    return statistic("spearman", x, y)


def partial_corr(x, y, z, rank: bool = False) -> float:
    """Correlation of x and y after regressing both on z (with intercept); on ranks if ``rank``."""
    return statistic("partial_spearman" if rank else "partial_pearson", x, y, z)


def ols_coefficient(y, x, z, families=None) -> float:
    """Coefficient of x in y ~ 1 + z + x (+ family indicators when ``families`` is given)."""
    return statistic("ols_coef_family" if families is not None else "ols_coef", x, y, z, families)


# --------------------------------------------------------------------------------------------
# Resampling
# --------------------------------------------------------------------------------------------

def bootstrap_indices(n: int, n_boot: int, seed: int | Sequence[int]) -> np.ndarray:
    """n_boot × n indices of models drawn with replacement, from a seeded generator."""
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def permutations(n: int, n_perm: int, seed: int | Sequence[int]) -> tuple[np.ndarray, bool]:
    """Permutations of range(n) and whether they are all of them (exact test).

    If n! ≤ n_perm every permutation is enumerated (identity included); otherwise n_perm seeded
    random permutations are drawn.
    """
    if n <= 10 and math.factorial(n) <= n_perm:
        return np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(-1, n), True
    rng = np.random.default_rng(seed)
    return rng.permuted(np.tile(np.arange(n), (n_perm, 1)), axis=1), False


def bootstrap_values(key: str, x, y, logp=None, families=None, *, index: np.ndarray) -> np.ndarray:
    """The statistic recomputed on every resample (rows of ``index``); NaN where undefined."""
    stat = STATISTICS[key]
    x, y, logp, fams = as_arrays(x, y, logp, families)
    codes = family_codes(fams)[index] if fams is not None else None
    rx, ry, ss_x, ss_y, rank = residuals(stat, x[index], y[index], logp[index], codes)
    values = statistic_values(stat, rx, ry, ss_x, ss_y)
    # A resample with too few distinct models leaves fewer than two residual degrees of freedom,
    # where a correlation is ±1 by construction (three distinct models and two controls): such
    # resamples say nothing about the data and are counted as undefined. Both counts are integers.
    return np.where(distinct_counts(index) - rank >= 2, values, np.nan)


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, int]:
    """Percentile interval of the finite bootstrap values, and how many were finite.

    If fewer than half the resamples give a defined statistic the interval is NaN: the data are
    too degenerate for the bootstrap to mean anything.
    """
    finite = values[np.isfinite(values)]
    if finite.size < max(1, values.size // 2):
        return math.nan, math.nan, int(finite.size)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return float(lo), float(hi), int(finite.size)


def bootstrap_ci(key: str, x, y, logp=None, families=None, *, n_boot: int = DEFAULT_N_BOOT,
                 seed: int | Sequence[int] = DEFAULT_SEED, level: float = 0.95) -> tuple[float, float]:
    """Seeded percentile bootstrap interval of statistic ``key`` (models resampled)."""
    index = bootstrap_indices(len(np.asarray(x)), n_boot, seed)
    lo, hi, _ = percentile_ci(bootstrap_values(key, x, y, logp, families, index=index), level)
    return lo, hi


def permutation_null(key: str, x, y, logp=None, families=None, *, perms: np.ndarray) -> tuple[float, np.ndarray]:
    """Observed statistic and its permutation distribution (one value per row of ``perms``).

    Raw statistics: the predictor is permuted (centring commutes with permuting). Controlled
    statistics: the predictor's residual on the controls is permuted against the score's residual
    (Kennedy 1995), which keeps the score–size relation intact under the null.
    """
    stat = STATISTICS[key]
    x, y, logp, fams = as_arrays(x, y, logp, families)
    codes = family_codes(fams)[None] if fams is not None else None
    rx, ry, ss_x, ss_y, _ = residuals(stat, x[None], y[None], logp[None], codes)
    observed = float(statistic_values(stat, rx, ry, ss_x, ss_y)[0])
    rx_perm = rx[0][perms]
    null = statistic_values(stat, rx_perm, np.broadcast_to(ry, rx_perm.shape), np.broadcast_to(ss_x, perms.shape[:1]),
                   np.broadcast_to(ss_y, perms.shape[:1]))
    return observed, null


def permutation_pvalue(key: str, x, y, logp=None, families=None, *, n_perm: int = DEFAULT_N_PERM,
                       seed: int | Sequence[int] = DEFAULT_SEED) -> float:
    """Two-sided permutation p-value of statistic ``key`` (see :func:`permutation_null`)."""
    perms, exact = permutations(len(np.asarray(x)), n_perm, seed)
    observed, null = permutation_null(key, x, y, logp, families, perms=perms)
    return _pvalue(observed, null, exact)


def _pvalue(observed: float, null: np.ndarray, exact: bool) -> float:
    """Share of the null at least as extreme as observed; Monte Carlo adds the observed itself."""
    if not math.isfinite(observed):
        return math.nan
    null = null[np.isfinite(null)]
    extreme = int((np.abs(null) >= abs(observed) * (1 - 1e-9) - 1e-12).sum())
    if exact:
        return extreme / max(null.size, 1)
    return (extreme + 1) / (null.size + 1)


# --------------------------------------------------------------------------------------------
# Model choice and stability
# --------------------------------------------------------------------------------------------

def family_term_decision(families: Sequence[str]) -> tuple[bool, str]:
    """Whether a family fixed effect can be fitted, and why (or why not), in plain words."""
    n = len(families)
    counts = Counter(families)
    n_fam = len(counts)
    if n_fam < 2:
        return False, "one family only, so a family term would just be the intercept"
    if not any(c >= 2 for c in counts.values()):
        return False, "no family has two models, so a family term would absorb every model"
    df = n - (3 + n_fam - 1)
    if df < MIN_FAMILY_DF:
        return False, (f"{n_fam} families among {n} models leave {df} residual degrees of freedom "
                       f"(need {MIN_FAMILY_DF})")
    return True, f"{n_fam} families among {n} models, {df} residual degrees of freedom"


@dataclass(frozen=True)
class LofoResult:
    """Leave-one-family-out: the statistic with each family dropped."""

    values: dict[str, float]  # family dropped -> statistic (NaN: too few models left / undefined)
    minimum: float
    maximum: float
    sign_flips: tuple[str, ...]  # families whose removal flips the sign of the full estimate


def leave_one_family_out(key: str, x, y, logp, families, full_value: float) -> LofoResult | None:
    """Recompute statistic ``key`` dropping each family in turn; None with fewer than two families."""
    x, y, logp, fams = as_arrays(x, y, logp, families)
    assert fams is not None  # families are required here
    names = sorted(set(fams))
    if len(names) < 2:
        return None
    values: dict[str, float] = {}
    for name in names:
        keep = np.array([f != name for f in fams])
        if keep.sum() < MIN_MODELS:
            values[name] = math.nan
            continue
        sub_fams = [f for f, k in zip(fams, keep, strict=True) if k]
        if STATISTICS[key].controls == "size+family" and not family_term_decision(sub_fams)[0]:
            values[name] = math.nan
            continue
        values[name] = statistic(key, x[keep], y[keep], logp[keep],
                                 sub_fams if STATISTICS[key].controls == "size+family" else None)
    finite = [v for v in values.values() if math.isfinite(v)]
    flips = tuple(name for name, v in values.items()
                  if math.isfinite(v) and math.isfinite(full_value) and v * full_value < 0)
    return LofoResult(values, min(finite) if finite else math.nan, max(finite) if finite else math.nan, flips)


# --------------------------------------------------------------------------------------------
# One scoring setup
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestedValue:
    """A statistic's value over n models, with its percentile bootstrap interval (``boot_valid``
    replicates defined) and its permutation p-value (``p_exact``: over every permutation)."""

    n: int
    value: float
    ci_low: float
    ci_high: float
    boot_valid: int
    p_value: float
    p_exact: bool

    @property
    def ci_excludes_zero(self) -> bool:
        return math.isfinite(self.ci_low) and (self.ci_low > 0 or self.ci_high < 0)


@dataclass(frozen=True)
class Estimate(TestedValue):
    """One statistic for one predictor in one setup, with its uncertainty and stability."""

    statistic: str
    predictor: str
    lofo: LofoResult | None


@dataclass(frozen=True)
class PredictorAnalysis:
    """All statistics of the score against one predictor (models with that predictor measured)."""

    predictor: str
    n: int
    models: tuple[str, ...]
    estimates: dict[str, Estimate]
    family_term: bool
    family_term_reason: str
    size_spearman: float  # Spearman of the predictor with log10 params: the confounding to control
    size_r2: float  # share of the predictor's variance that log10 params explains (linear fit)


@dataclass(frozen=True)
class SettingAnalysis:
    """The analysis of one scoring setup; ``too_few`` means no statistics were computed."""

    setting: str
    n: int
    too_few: bool
    predictors: dict[str, PredictorAnalysis] = field(default_factory=dict)
    n_boot: int = DEFAULT_N_BOOT
    n_perm: int = DEFAULT_N_PERM
    seed: int = DEFAULT_SEED


def analyse_predictor(predictor: str, score, x, logp, families, models, *, n_boot: int, n_perm: int,
                      seed: Sequence[int]) -> PredictorAnalysis | None:
    """Every statistic of score against one predictor, over the models where all inputs are finite.

    Returns None when fewer than MIN_MODELS models have the predictor.
    """
    x, score, logp, fams = as_arrays(x, score, logp, families)
    assert fams is not None  # families are required here
    ok = np.isfinite(score) & np.isfinite(x) & np.isfinite(logp)
    if ok.sum() < MIN_MODELS:
        return None
    score, x, logp = score[ok], x[ok], logp[ok]
    fams = [f for f, k in zip(fams, ok, strict=True) if k]
    models = tuple(m for m, k in zip(models, ok, strict=True) if k)
    n = len(score)
    use_family, reason = family_term_decision(fams)
    index = bootstrap_indices(n, n_boot, seed)
    perms, exact = permutations(n, n_perm, seed)
    estimates: dict[str, Estimate] = {}
    for key, stat in STATISTICS.items():
        if stat.controls == "size+family" and not use_family:
            continue
        fam_arg = fams if stat.controls == "size+family" else None
        observed, null = permutation_null(key, x, score, logp, fam_arg, perms=perms)
        lo, hi, valid = percentile_ci(bootstrap_values(key, x, score, logp, fam_arg, index=index))
        estimates[key] = Estimate(
            statistic=key, predictor=predictor, n=n, value=observed, ci_low=lo, ci_high=hi,
            boot_valid=valid, p_value=_pvalue(observed, null, exact), p_exact=exact,
            lofo=leave_one_family_out(key, x, score, logp, fams, observed),
        )
    return PredictorAnalysis(predictor, n, models, estimates, use_family, reason,
                             statistic("spearman", x, logp), statistic("pearson", x, logp) ** 2)


def analyse_setting(setting: str, score, predictors: dict[str, Sequence[float]], log10_params,
                    families: Sequence[str], models: Sequence[str], *, n_boot: int = DEFAULT_N_BOOT,
                    n_perm: int = DEFAULT_N_PERM, seed: int = DEFAULT_SEED) -> SettingAnalysis:
    """All statistics for one scoring setup; ``too_few`` (and nothing computed) when n < MIN_MODELS.

    ``predictors`` maps a predictor name to its values per model (NaN where not measured, e.g. a
    model without an audit); each predictor is analysed over the models where it is present.
    """
    score_arr = np.asarray(score, dtype=float)
    n = int(np.isfinite(score_arr).sum())
    if n < MIN_MODELS:
        return SettingAnalysis(setting, n, True, {}, n_boot, n_perm, seed)
    results: dict[str, PredictorAnalysis] = {}
    for number, (name, values) in enumerate(predictors.items()):
        res = analyse_predictor(name, score_arr, values, log10_params, families, models,
                                n_boot=n_boot, n_perm=n_perm, seed=[seed, number])
        if res is not None:
            results[name] = res
    return SettingAnalysis(setting, n, False, results, n_boot, n_perm, seed)


def critical_r(n: int, n_controls: int = 0, alpha: float = 0.05) -> float:
    """Smallest |r| reaching two-sided significance at ``alpha`` (t test, df = n − 2 − n_controls).

    Used to state the sample-size caveat: with few models only large correlations are detectable.
    """
    df = n - 2 - n_controls
    if df < 1:
        return math.nan
    t = sps.t.ppf(1 - alpha / 2, df)
    return float(t / math.sqrt(df + t * t))
