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
import time
from dataclasses import replace
from typing import Any, cast

import torch

from ..agop.ustats import log_ratio
from ..models.adapters import find_parts
from ..probe import ProbeWindows
from .measure import MeasureOptions, measure
from .output_function import OutputFunction
from .settings import AuditSettings

#: Layer fields averaged over baseline seeds.
_LAYER_KEYS = ("nfa_offdiag", "nfa_full", "diag_share", "aofe_ratio", "effective_rank")
#: Scalar metrics averaged over baseline seeds (a geometric mean for the diagonal share).
_METRIC_KEYS = ("f", "d", "aofe_ratio", "trace", "effective_rank", "probe_loss_nats_per_token")


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
    return math.exp(statistics.fmean(math.log(cast(float, v)) for v in values))


def _mean(values: list[Any]) -> float | None:
    nums = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return statistics.fmean(nums) if nums and len(nums) == len(values) else None


def summarize(runs: list[dict]) -> tuple[dict, list[dict]]:
    """``baseline.metrics`` and ``baseline.layers`` from per-seed runs (means over seeds)."""
    metrics: dict[str, Any] = {k: _mean([r["metrics"].get(k) for r in runs]) for k in _METRIC_KEYS}
    metrics["diag_share"] = _geomean([r["metrics"]["diag_share"] for r in runs])
    metrics["population"] = {"diag_share": _geomean([r["metrics"]["population"]["diag_share"] for r in runs])}
    if len(runs) == 1:  # one seed: its intervals are the baseline's (probe and window noise)
        m = runs[0]["metrics"]
        metrics.update({"diag_share_ci": m.get("diag_share_ci"), "aofe_ratio_ci": m.get("aofe_ratio_ci")})
        metrics["population"]["diag_share_ci"] = m["population"].get("diag_share_ci")
    layers = []
    for idx, first in enumerate(runs[0]["layers"]):
        entry = {"layer": first["layer"]}
        for key in _LAYER_KEYS:
            entry[key] = _mean([r["layers"][idx].get(key) for r in runs])
        entry["nfa_offdiag_seeds"] = [r["layers"][idx].get("nfa_offdiag") for r in runs]
        layers.append(entry)
    return metrics, layers


def relate(record: dict, runs: list[dict], replicates: list[dict], trained_replicates: dict, *, level: float) -> None:
    """Add ``metrics.diag_share_vs_baseline_log10`` (+ ``_ci``, ``_basis``, ``_note``) and each block's
    ``nfa_offdiag_over_baseline`` (trained minus the baseline's mean over seeds) to ``record``.

    The population basis (probes and windows) is used when every run has a population D/F with an
    interval (enough windows, none dominant), else the paper basis (probe noise only, conditional on
    these windows). The ratio's interval is withheld
    whenever a side's own D/F interval is, and the runs must share one resampling design."""
    m = record["metrics"]
    designs = {r.get("design") for r in replicates} | {trained_replicates.get("design")}
    if len(designs) != 1:
        raise ValueError(f"the trained model and its fresh inits were measured with different resampling designs "
                         f"({sorted(map(str, designs))}): their replicates cannot be paired")
    sides = [trained_replicates, *replicates]
    basis = "population" if all(s.get("population") is not None and s.get("population_interval")
                                for s in sides) else "paper"
    res = log_ratio(trained_replicates[basis], [r[basis] for r in replicates], level=level)
    withheld = not all(s.get(f"{basis}_interval") for s in sides)
    m["diag_share_vs_baseline_log10"] = res["value"]
    m["diag_share_vs_baseline_log10_plugin"] = res.get("plugin")
    m["diag_share_vs_baseline_log10_ci"] = None if withheld else res["ci"]
    m["diag_share_vs_baseline_basis"] = basis
    m["diag_share_vs_baseline_basis_text"] = (
        f"{'probe and window noise' if basis == 'population' else 'probe noise only, conditional on these windows'}; "
        f"conditional on the init seed(s) {[r['init_seed'] for r in runs]}")
    m["diag_share_vs_baseline_note"] = (
        "interval withheld: a side's own D/F interval is not available" if withheld else res.get("note"))
    base_layers = record["baseline"]["layers"]
    for layer, base in zip(record["layers"], base_layers, strict=True):
        t, b = layer.get("nfa_offdiag"), base.get("nfa_offdiag")
        layer["nfa_offdiag_over_baseline"] = None if t is None or b is None else t - b


def measure_baseline(record: dict, net, kind: str, windows: ProbeWindows, settings: AuditSettings, shape: dict,
                      options: MeasureOptions, trained_replicates: dict) -> None:
    """``--baseline init``: measure fresh inits of ``net``'s architecture on the same windows and
    probes, and add ``record["baseline"]`` and the trained-over-baseline metrics (:func:`relate`)."""
    t0 = time.perf_counter()
    runs, replicates = [], []
    for init_seed in init_seeds(settings.seed, settings.baseline_seeds):
        fresh = fresh_init(net, init_seed)
        parts = find_parts(fresh, shape["depth"])
        fn = OutputFunction(fresh, parts, kind, windows.prefix_ids)
        reps: dict = {}
        try:
            out = measure(fn, parts, windows, settings, shape["width"], replace(options, resume_dir=None), reps)
        finally:
            fn.close()
        runs.append({"init_seed": init_seed, "metrics": out.metrics, "layers": out.layers})
        replicates.append(reps)
        del fresh, parts, fn
    metrics, layers = summarize(runs)
    record["baseline"] = {
        "kind": "init",
        "initializer": f"{type(net).__name__}(config): the config's own initialiser, seeded "
                       f"(initializer_range={getattr(net.config, 'initializer_range', None)})",
        "init_seeds": [r["init_seed"] for r in runs],
        "windows_sha256": windows.windows_sha256,
        "probe_seed": settings.seed,
        "metrics": metrics,
        "layers": layers,
        "runs": runs,
        "seconds": time.perf_counter() - t0,
    }
    relate(record, runs, replicates, trained_replicates, level=record["metrics"]["ci_level"])
