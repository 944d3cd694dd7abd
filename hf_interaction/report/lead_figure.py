"""The lead setup's figure: score residual after size (and the instruct indicator) against signed
interval distance, base and instruct models marked differently, the interval (distance 0) shaded.

Drawn inside :func:`.figures.make_figures`' style context and rendered with :func:`.figures.render`,
so its bytes depend only on the data, like the other figures.
"""

from __future__ import annotations

import textwrap

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.numbers import fixed
from .lead import LeadAnalysis, lead_rows, pooled_residuals

#: The lead figure's file stem (figures.ALL_FIGURES lists it first).
LEAD_FIGURE = "mmlu_pro_lead_residual_vs_distance"

__all__ = ["LEAD_FIGURE", "CAPTION", "lead_residual_figure"]

CAPTION = ("Lead setup: MMLU-Pro score residual after log10 parameter count and an instruct indicator "
           "(least squares over all its models) against signed interval distance (decades of R_D/W; 0 = "
           "inside the efficient interval, shaded; negative = below it, too wide and shallow). Filled "
           "circles: base models; open triangles: instruct models. The title gives the pooled partial r "
           "of score and |distance| with its 95% bootstrap interval, and the smallest |r| the analysis "
           "detects with 80% power.")
SIZE = (7.2, 5.0)
#: Half-width of the shaded band at distance 0, as a share of the plotted distance range.
BAND = 0.012
STYLE = {"base": ("o", True), "instruct": ("^", False)}


def _points(ax, rows: pd.DataFrame, colours: dict[str, tuple]) -> None:
    for kind, (marker, filled) in STYLE.items():
        sub = rows[rows["base_or_instruct"].str.strip().str.lower() == kind]
        colour = colours[kind]
        ax.scatter(sub["interval_distance"], sub["residual"], s=34, marker=marker, linewidths=1.0,
                   facecolors=colour if filled else "none", edgecolors="black" if filled else colour,
                   alpha=0.9, zorder=3)


def _legend(ax, rows: pd.DataFrame, colours: dict[str, tuple]) -> None:
    kinds = rows["base_or_instruct"].str.strip().str.lower()
    handles: list[Line2D | Patch] = [Line2D([], [], linestyle="", marker=STYLE[k][0], markersize=7,
                                            markerfacecolor=colours[k] if STYLE[k][1] else "none",
                                            markeredgecolor="black" if STYLE[k][1] else colours[k],
                                            label=f"{k} (n = {int((kinds == k).sum())})")
                                     for k in STYLE]
    inside = int((rows["interval_distance"] == 0).sum())
    handles.append(Patch(facecolor="0.80", edgecolor="0.55", label=f"inside the interval, distance 0 (n = {inside})"))
    ax.figure.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False, fontsize=7.5)


def _box_text(lead: LeadAnalysis) -> str:
    est = lead.headline.estimate
    if est is None:
        return f"pooled partial r: not computed ({lead.headline.reason})"
    return (f"partial r(score, |distance| | {lead.headline.spec.controls}) = {fixed(est.value, 2)} "
            f"[{fixed(est.ci_low, 2)}, {fixed(est.ci_high, 2)}], n = {est.n}\n"
            f"smallest |r| detectable at 80% power: {fixed(est.detectable, 2)}")


def lead_residual_figure(table: pd.DataFrame, lead: LeadAnalysis) -> Figure:
    """The lead figure (one panel)."""
    rows, _ = lead_rows(table, lead.setting)
    rows = rows.sort_values("model_id", kind="mergesort").copy()
    rows["residual"] = pooled_residuals(rows)
    palette = sns.color_palette("colorblind", 10)
    colours = {"base": tuple(palette[0]), "instruct": tuple(palette[3])}
    fig = Figure(figsize=SIZE, dpi=150, layout="constrained")
    ax = fig.subplots()
    x_min, x_max = float(rows["interval_distance"].min()), float(rows["interval_distance"].max())
    lo, hi = min(x_min, 0.0), max(x_max, 0.0)
    span = max(hi - lo, 0.1)
    ax.set_xlim(lo - 0.06 * span, hi + 0.06 * span)
    ax.axvspan(-BAND * span, BAND * span, facecolor="0.80", edgecolor="0.55", zorder=0)
    ax.axhline(0.0, color="0.6", linewidth=0.8, zorder=1)
    _points(ax, rows, colours)
    ax.set_title("\n".join(textwrap.wrap(lead.setting, 80) + _box_text(lead).split("\n")))
    ax.set_xlabel("signed interval distance (decades of R_D/W; 0 = inside, < 0 = too wide and shallow)")
    ax.set_ylabel("score residual after log10 params + instruct (points)")
    _legend(ax, rows, colours)
    return fig
