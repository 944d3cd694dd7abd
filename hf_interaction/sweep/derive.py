"""From trained shapes to the efficient interval: one summary row per shape (mean and spread over
seeds), the band of shapes within the tolerance of the best mean validation loss, and the content of
``interval.json`` (read by ``interval.load_interval_file``, i.e. every ``--interval-file``)."""

from __future__ import annotations

import math

from ..errors import InputError
from .data import SweepData
from .settings import SweepSettings


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

