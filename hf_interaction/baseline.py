"""``audit --baseline init``: the same architecture freshly initialised, measured on the same windows
and probes, and the trained model's metrics relative to it (issue 10, item 2; docs/metrics.md).

A fresh init keeps what the architecture alone puts into the AGOP (vocabulary V, width d, window T,
the output function), so the trained-over-baseline ratios remove most of that structure: a diagonal
share of 7e-5 means little alone, "ten times below its own init" does not. The init is the config's
own initialiser (transformers' ``_init_weights``, seeded), built from the config alone: no download.
"""

from __future__ import annotations

import copy
import math
import statistics
from typing import Any

import numpy as np
import torch

#: Layer fields averaged over baseline seeds.
_LAYER_KEYS = ("nfa_offdiag", "nfa_full", "diag_share", "aofe_ratio", "effective_rank")
#: Scalar metrics averaged over baseline seeds (a geometric mean for the diagonal share).
_METRIC_KEYS = ("f_hat", "d_hat", "aofe_ratio", "trace", "effective_rank", "probe_loss_nats_per_token")


def init_seeds(seed: int, count: int) -> list[int]:
    """The initialisation seeds of the baseline: seed, seed + 1, …"""
    return [seed + k for k in range(count)]


def fresh_init(model: torch.nn.Module, init_seed: int) -> torch.nn.Module:
    """A new model of ``model``'s class from a copy of its config, initialised under ``init_seed``,
    with ``model``'s dtype and device, in eval mode without parameter gradients."""
    first = next(model.parameters())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        net = type(model)(copy.deepcopy(model.config))
    net = net.to(dtype=first.dtype, device=first.device).eval()
    net.requires_grad_(False)
    return net


def _geomean(values: list[float | None]) -> float | None:
    if not values or any(v is None or not v > 0 for v in values):
        return None
    return math.exp(statistics.fmean(math.log(v) for v in values))


def _mean(values: list[Any]) -> float | None:
    nums = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return statistics.fmean(nums) if nums and len(nums) == len(values) else None


def summarize(runs: list[dict]) -> tuple[dict, list[dict]]:
    """``baseline.metrics`` and ``baseline.layers`` from per-seed runs (means over seeds)."""
    metrics: dict[str, Any] = {k: _mean([r["metrics"].get(k) for r in runs]) for k in _METRIC_KEYS}
    metrics["diag_share"] = _geomean([r["metrics"]["diag_share"] for r in runs])
    metrics["population_diag_share"] = _geomean([r["metrics"]["population"]["diag_share"] for r in runs])
    if len(runs) == 1:  # one seed: its intervals are the baseline's (probe and window noise)
        m = runs[0]["metrics"]
        metrics.update({"diag_share_ci": m.get("diag_share_ci"), "aofe_ratio_ci": m.get("aofe_ratio_ci"),
                        "population_diag_share_ci": m["population"].get("diag_share_ci")})
    layers = []
    for idx, first in enumerate(runs[0]["layers"]):
        entry = {"layer": first["layer"]}
        for key in _LAYER_KEYS:
            entry[key] = _mean([r["layers"][idx].get(key) for r in runs])
        entry["nfa_offdiag_seeds"] = [r["layers"][idx].get("nfa_offdiag") for r in runs]
        layers.append(entry)
    return metrics, layers


def log_ratio(trained: np.ndarray, baselines: list[np.ndarray], point_trained: float, point_baselines: list[float],
              *, seed: int, level: float) -> dict[str, Any]:
    """log10(trained / baseline) of a diagonal share, with a percentile interval.

    ``trained`` and each ``baselines[k]`` are bootstrap replicates drawn with the *same* resamples
    (same windows, probes and bootstrap seed), so replicate b pairs them. With several init seeds,
    each replicate also resamples the seeds (init-to-init spread). Replicates that are not positive
    are left out and counted."""
    point = None
    if point_trained > 0 and all(p > 0 for p in point_baselines):
        point = math.log10(point_trained) - statistics.fmean(math.log10(p) for p in point_baselines)
    base = np.stack(baselines)  # K × B
    ok = (trained > 0) & np.all(base > 0, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_base = np.log10(base)
        log_trained = np.log10(trained)
    K = base.shape[0]
    if K > 1:
        pick = np.random.default_rng([seed, 2]).integers(0, K, size=(K, base.shape[1]))
        mean_base = np.take_along_axis(log_base, pick, axis=0).mean(axis=0)
    else:
        mean_base = log_base[0]
    values = (log_trained - mean_base)[ok]
    tail = 100.0 * (1.0 - level) / 2.0
    ci = [float(v) for v in np.percentile(values, [tail, 100.0 - tail])] if values.size >= 20 else None
    return {"value": point, "ci": ci, "n_boot_dropped": int((~ok).sum())}


def relate(record: dict, runs: list[dict], replicates: list[dict], trained_replicates: dict, *, seed: int,
           level: float) -> None:
    """Add ``metrics.diag_share_vs_baseline_log10`` (+ ``_ci``, ``_basis``) and each block's
    ``nfa_offdiag_over_baseline`` (trained minus the baseline's mean over seeds) to ``record``."""
    m = record["metrics"]
    pop = m["population"]
    basis = "population" if (pop.get("diag_share") and all(r["metrics"]["population"].get("diag_share")
                                                            for r in runs)
                             and "population" in trained_replicates) else "paper"
    if basis == "population":
        res = log_ratio(trained_replicates["population"], [r["population"] for r in replicates], pop["diag_share"],
                        [r["metrics"]["population"]["diag_share"] for r in runs], seed=seed, level=level)
    else:
        res = log_ratio(trained_replicates["paper"], [r["paper"] for r in replicates], m["diag_share"],
                        [r["metrics"]["diag_share"] for r in runs], seed=seed, level=level)
    m["diag_share_vs_baseline_log10"] = res["value"]
    m["diag_share_vs_baseline_log10_ci"] = res["ci"]
    m["diag_share_vs_baseline_basis"] = basis
    m["diag_share_vs_baseline_n_boot_dropped"] = res["n_boot_dropped"]
    base_layers = record["baseline"]["layers"]
    for layer, base in zip(record["layers"], base_layers, strict=True):
        t, b = layer.get("nfa_offdiag"), base.get("nfa_offdiag")
        layer["nfa_offdiag_over_baseline"] = None if t is None or b is None else t - b

