"""Estimates with their delete-one replicates: ratios of weighted sums over independent samples of units.

Every estimate the audit reports is built from sums of the form

    linear:     Σ_a w_a num_a / Σ_a w_a cnt_a                 (e.g. tr G over output probes)
    quadratic:  Σ_{a≠b} w_a w_b num_ab / Σ_{a≠b} w_a w_b cnt_ab   (U-statistics: F, D, (tr G)²)

over the units a of one sample (probes, or windows), with w = 1 for the estimate itself and w = 1
except one 0 for each delete-one replicate. A population estimate pairs two samples (windows and
probes): ``num[g, h, k, l]``; deleting a window sums the probe axes first and vice versa. Ratios,
differences and logs of :class:`Estimate` s combine replicate by replicate, so D/F keeps the
correlation of D and F (they come from the same probes). :mod:`jackknife` turns the replicates into
intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hf_interaction.agop.jackknife import JackknifeInterval, bias_corrected, jackknife_interval


@dataclass
class Estimate:
    """A point value and its delete-one replicates, one array per sample (absent: does not depend on it)."""

    point: float
    reps: dict[str, np.ndarray] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)

    def rep(self, sample: str, units: int) -> np.ndarray:
        """The replicates for deleting each unit of ``sample`` (constant where it does not depend on it)."""
        return self.reps[sample] if sample in self.reps else np.full(units, self.point)

    def combine(self, other: Estimate, op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Estimate:
        """``op`` applied to the points and, sample by sample, to the replicates."""
        units = {**self.units, **other.units}
        with np.errstate(divide="ignore", invalid="ignore"):
            point = float(op(np.array(self.point), np.array(other.point)))
            reps = {s: op(self.rep(s, u), other.rep(s, u)) for s, u in units.items()}
        return Estimate(point, reps, units)

    def map(self, op: Callable[[np.ndarray], np.ndarray]) -> Estimate:
        with np.errstate(divide="ignore", invalid="ignore"):
            return Estimate(float(op(np.array(self.point))), {s: op(r) for s, r in self.reps.items()},
                            dict(self.units))

    def __truediv__(self, other: Estimate) -> Estimate:
        return self.combine(other, np.divide)

    def __sub__(self, other: Estimate) -> Estimate:
        return self.combine(other, np.subtract)

    def __mul__(self, other: Estimate) -> Estimate:
        return self.combine(other, np.multiply)

    def interval(self, level: float, scale: str = "log") -> JackknifeInterval:
        return jackknife_interval(self.point, self.reps, level, scale)

    def corrected(self) -> float:
        """The jackknife bias-corrected value (the point itself for a U-statistic)."""
        return bias_corrected(self.point, self.reps)


def _ratio(num: np.ndarray | float, cnt: np.ndarray | float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(num, dtype=np.float64) / np.asarray(cnt, dtype=np.float64)


def _quadratic_loo(num: np.ndarray, cnt: np.ndarray) -> tuple[float, np.ndarray]:
    """Point and delete-one values of Σ_ab num_ab / Σ_ab cnt_ab, where deleting unit a removes its row
    and column (a diagonal entry, e.g. two different windows of one block, is removed once)."""
    def without(x: np.ndarray) -> np.ndarray:
        return x.sum() - x.sum(axis=0) - x.sum(axis=1) + np.diagonal(x)

    return float(_ratio(num.sum(), cnt.sum())), _ratio(without(num), without(cnt))


def quadratic(sample: str, num: np.ndarray, cnt: np.ndarray) -> Estimate:
    """The U-statistic Σ_{a≠b} num_ab / Σ_{a≠b} cnt_ab over one sample's units (a ≠ b enforced here)."""
    off = 1.0 - np.eye(num.shape[0])
    point, loo = _quadratic_loo(num * off, cnt * off)
    return Estimate(point, {sample: loo}, {sample: num.shape[0]})


def linear(sample: str, num: np.ndarray, cnt: np.ndarray) -> Estimate:
    """Σ_a num_a / Σ_a cnt_a over one sample's units."""
    point = float(_ratio(num.sum(), cnt.sum()))
    return Estimate(point, {sample: _ratio(num.sum() - num, cnt.sum() - cnt)}, {sample: num.shape[0]})


def two_sample(windows: str, probes: str, num: np.ndarray, cnt: np.ndarray, probe_pairs: bool = True) -> Estimate:
    """A population U-statistic over window units g ≠ h and (``probe_pairs``) probe units k ≠ l:
    ``num``/``cnt`` of shape W×W×K×K (or W×W×K when the probe axis is linear, e.g. input probes).
    Entries that pair a unit with itself must already be zero in both."""
    if probe_pairs:
        by_windows, by_probes = num.sum(axis=(2, 3)), num.sum(axis=(0, 1))
        cnt_windows, cnt_probes = cnt.sum(axis=(2, 3)), cnt.sum(axis=(0, 1))
        point, probe_loo = _quadratic_loo(by_probes, cnt_probes)
    else:
        by_windows, cnt_windows = num.sum(axis=2), cnt.sum(axis=2)
        by_probes, cnt_probes = num.sum(axis=(0, 1)), cnt.sum(axis=(0, 1))
        point = float(_ratio(by_probes.sum(), cnt_probes.sum()))
        probe_loo = _ratio(by_probes.sum() - by_probes, cnt_probes.sum() - cnt_probes)
    _, window_loo = _quadratic_loo(by_windows, cnt_windows)
    return Estimate(point, {windows: window_loo, probes: probe_loo},
                    {windows: num.shape[0], probes: num.shape[2]})


def log_ratio(trained: Estimate, baselines: list[Estimate], *, level: float) -> dict[str, Any]:
    """log10(trained / baseline) of a diagonal share, bias-corrected, with a jackknife-t interval.

    ``trained`` and each ``baselines[k]`` carry delete-one replicates over the *same* units (the same
    windows and probes), so replicate j of each leaves out the same probe or window and their
    difference keeps the pairing. The baseline is the mean of log10 D/F over the init seeds; the
    interval is conditional on those seeds (their spread is not a unit of the jackknife)."""
    log10 = np.log10
    diff = trained.map(log10)
    mean_base = baselines[0].map(log10)
    for other in baselines[1:]:
        mean_base = mean_base.combine(other.map(log10), np.add)
    mean_base = mean_base.map(lambda x: x / len(baselines))
    diff = diff - mean_base
    if not math.isfinite(diff.point):
        return {"value": None, "ci": None, "note": "a diagonal share is not positive"}
    res = diff.interval(level, "linear")
    return {"value": diff.corrected(), "plugin": diff.point, "ci": res.ci, "note": res.note}
