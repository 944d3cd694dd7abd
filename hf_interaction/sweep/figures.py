"""The sweep report's figures, rendered to PNG and SVG bytes (matplotlib, no pyplot state):

- ``sweep_loss_vs_rdw`` — mean validation loss against R_D/W (log x) with seed error bars
  (min-max over seeds), the derived interval shaded and the default interval dashed;
- ``sweep_aofe_vs_rdw`` — AOFE and AOFE-ratio (docs/design.md §4.2) against R_D/W, one point per seed.
"""

from __future__ import annotations

from typing import Any

from ..core.figure_bytes import figure_bytes
from ..shape.interval import DEFAULT_INTERVAL

LOSS_FIGURE = "sweep_loss_vs_rdw"
AOFE_FIGURE = "sweep_aofe_vs_rdw"
CAPTIONS = {
    LOSS_FIGURE: "Mean validation loss against R_D/W (log axis; bars: min-max over seeds); the derived "
                 "interval shaded, the default (paper) interval dashed.",
    AOFE_FIGURE: "AOFE and AOFE-ratio against R_D/W (one point per seed); the derived interval shaded.",
}


def sweep_figures(record: dict) -> dict[str, tuple[bytes, bytes]]:
    """Both figures of a sweep record as {name: (png, svg)}, drawn from matplotlib's defaults whatever
    the process's global settings (so the bytes depend only on the record)."""
    import matplotlib.style

    with matplotlib.style.context("default"):
        return {LOSS_FIGURE: _render(loss_figure(record)), AOFE_FIGURE: _render(aofe_figure(record))}


def loss_figure(record: dict) -> Any:
    """Validation loss against R_D/W with seed error bars and both intervals."""
    from matplotlib.figure import Figure

    summary, derived = record["summary"], record["interval"]
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.subplots()
    x = [s["r_dw"] for s in summary]
    y = [s["val_loss_mean"] for s in summary]
    err = [[s["val_loss_mean"] - s["val_loss_min"] for s in summary],
           [s["val_loss_max"] - s["val_loss_mean"] for s in summary]]
    ax.axvspan(derived["lo"], derived["hi"], color="tab:green", alpha=0.18, label="derived interval")
    ax.axvline(DEFAULT_INTERVAL.lo, color="grey", ls="--", lw=1, label="default interval (paper)")
    ax.axvline(DEFAULT_INTERVAL.hi, color="grey", ls="--", lw=1)
    ax.errorbar(x, y, yerr=err, fmt="o-", color="tab:blue", capsize=3, label="mean over seeds (min-max)")
    for s in summary:
        ax.annotate(f"L={s['depth']}", (s["r_dw"], s["val_loss_mean"]), textcoords="offset points",
                    xytext=(4, 5), fontsize=7)
    ax.axhline(derived["threshold"], color="tab:green", lw=0.8, ls=":", label=f"best + {derived['tolerance']:.0%}")
    _log_x(ax, [*x, derived["lo"], derived["hi"]])
    ax.set_xlabel("R_D/W = depth / width (log)")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title(f"budget {record['settings']['budget']:,} {record['settings']['match']} params")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def aofe_figure(record: dict) -> Any:
    """AOFE and AOFE-ratio (each seed) against R_D/W, the derived interval shaded."""
    from matplotlib.figure import Figure

    rows, derived = record["rows"], record["interval"]
    fig = Figure(figsize=(9, 3.6))
    axes = fig.subplots(1, 2)
    for ax, key, label in ((axes[0], "aofe", "AOFE"), (axes[1], "aofe_ratio", "AOFE-ratio")):
        ax.axvspan(derived["lo"], derived["hi"], color="tab:green", alpha=0.18)
        for lim in (DEFAULT_INTERVAL.lo, DEFAULT_INTERVAL.hi):
            ax.axvline(lim, color="grey", ls="--", lw=1)
        pts = [(r["r_dw"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.scatter(*zip(*pts, strict=True), color="tab:purple", s=18)
        _log_x(ax, [r["r_dw"] for r in rows] + [derived["lo"], derived["hi"]])
        if key == "aofe" and pts and all(v > 0 for _, v in pts):
            ax.set_yscale("log")
        ax.set_xlabel("R_D/W (log)")
        ax.set_ylabel(label)
    fig.suptitle("input-space AGOP interaction (each point: one seed)", fontsize=9)
    fig.tight_layout()
    return fig


def _log_x(ax: Any, ratios: list[float]) -> None:
    """Log x axis with plain tick labels at 1-2-5 steps spanning the data and the default interval."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, StrMethodFormatter

    ax.set_xscale("log")
    lo = min([*ratios, DEFAULT_INTERVAL.lo]) / 1.3
    hi = max([*ratios, DEFAULT_INTERVAL.hi]) * 1.3
    ticks = [m * 10.0 ** e for e in range(-4, 2) for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _render(fig: Any) -> tuple[bytes, bytes]:
    """(PNG at 120 dpi, SVG) bytes of a sweep figure (figure_bytes: no dates, fixed SVG ids)."""
    return figure_bytes(fig, 120)
