"""Figures of the MMLU-Pro correlation report (docs/design.md §7), rendered to PNG and SVG bytes.

Reproducibility: figures are built with the object-oriented API (no pyplot global state), a fixed
panel size and DPI, the bundled DejaVu Sans font, and saved without dates or software tags
(``svg.hashsalt`` fixes the SVG element ids), so the same inputs give the same bytes.
Colours come from seaborn's colour-blind-safe palette; every family also gets its own marker, so
nothing depends on colour alone.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullFormatter

from ..core.figure_bytes import figure_bytes
from ..shape.interval import Interval
from .columns import settings_in_order
from .lead import LeadAnalysis
from .lead_figure import LEAD_FIGURE, lead_residual_figure
from .residuals import STATISTICS, residuals
from .stats import SettingAnalysis

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

RDW_FIGURE = "mmlu_pro_rdw_vs_score"
RESIDUAL_FIGURE = "mmlu_pro_residual_vs_distance"
AOFE_FIGURE = "aofe_vs_aofe_ratio"
ALL_FIGURES = (LEAD_FIGURE, RDW_FIGURE, RESIDUAL_FIGURE, AOFE_FIGURE)

CAPTIONS = {
    RDW_FIGURE: "MMLU-Pro score against R_D/W (log axis), one panel per scoring setup; the shaded band "
                "is the efficient interval, point area grows with log10 parameter count, colour and "
                "marker give the family.",
    RESIDUAL_FIGURE: "Size-controlled score (residual of score after a linear fit on log10 parameter "
                     "count, within each setup) against signed interval distance (0 = inside; negative = "
                     "below the interval, i.e. too wide and shallow); setups with at least 5 models.",
    AOFE_FIGURE: "AOFE against AOFE-ratio from stored audits (one point per model).",
}

DPI = 150
PANEL_SIZE = (6.4, 4.6)  # inches per panel
POINT_SIZES = (30.0, 260.0)  # marker area range for log10 params
RDW_TICKS = (0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.045, 0.065, 0.1, 0.15)
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
RC: dict[RcKeyType, Any] = {
    "svg.hashsalt": "hf-interaction",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 8.5,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "path.simplify": True,
}
#: Decimals (score points) of the plotted size-controlled residuals.
RESIDUAL_DECIMALS = 9


def family_styles(families: Sequence[str]) -> dict[str, tuple[tuple[float, float, float], str]]:
    """A fixed (colour, marker) per family, in sorted family order, the same in every figure."""
    palette = sns.color_palette("colorblind", 10)
    return {fam: (tuple(palette[i % 10]), MARKERS[i % len(MARKERS)]) for i, fam in enumerate(sorted(set(families)))}


def short_name(model_id: str) -> str:
    return model_id.rsplit("/", 1)[-1]


def _size_of(log10_params: float, norm: tuple[float, float]) -> float:
    """Marker area for a log10 parameter count, the mapping seaborn uses with ``size_norm``."""
    lo, hi = norm
    frac = 0.5 if hi <= lo else (log10_params - lo) / (hi - lo)
    return POINT_SIZES[0] + frac * (POINT_SIZES[1] - POINT_SIZES[0])


# Label positions tried in turn (offset in points, horizontal alignment) until one is free.
LABEL_OFFSETS = ((5, 3, "left"), (5, -10, "left"), (5, 11, "left"), (-5, 3, "right"), (-5, -10, "right"),
                 (-5, 11, "right"), (5, -18, "left"), (5, 19, "left"))
LABEL_FONT = 6.5
#: Panels with more models than this carry no point labels.
MAX_LABELLED = 30


def _label_points(ax, xs, ys, labels) -> None:
    """Label each point with its model name, avoiding labels already placed where possible.

    Boxes are estimated from the label length in display coordinates (the axis limits must be
    final), and candidate offsets are tried in a fixed order, so placement is deterministic.
    """
    ax.get_xlim(), ax.get_ylim()  # settle autoscaled limits before reading positions
    to_px = ax.figure.dpi / 72.0
    placed: list[tuple[float, float, float, float]] = []
    points = sorted(zip(xs, ys, labels, strict=True), key=lambda t: (t[0], t[1], t[2]))
    for x, y, label in points:
        px, py = ax.transData.transform((x, y))
        width, height = 0.58 * LABEL_FONT * len(label) * to_px, LABEL_FONT * 1.1 * to_px
        choice = LABEL_OFFSETS[0]
        for dx, dy, ha in LABEL_OFFSETS:
            x0 = px + dx * to_px - (width if ha == "right" else 0.0)
            y0 = py + dy * to_px
            box = (x0, y0, x0 + width, y0 + height)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                choice = (dx, dy, ha)
                break
        dx, dy, ha = choice
        x0 = px + dx * to_px - (width if ha == "right" else 0.0)
        placed.append((x0, py + dy * to_px, x0 + width, py + dy * to_px + height))
        ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=LABEL_FONT,
                    ha=ha, color="0.15")


def _scatter(ax, data: pd.DataFrame, x: str, y: str, styles: dict, size_norm: tuple[float, float]) -> None:
    fams = sorted(set(data["family"]))
    sns.scatterplot(
        data=data, x=x, y=y, hue="family", style="family", size="log10_params", ax=ax,
        hue_order=fams, style_order=fams, palette={f: styles[f][0] for f in fams},
        markers={f: styles[f][1] for f in fams}, sizes=POINT_SIZES, size_norm=size_norm,
        edgecolor="black", linewidth=0.4, alpha=0.9, legend=False, zorder=3,
    )


def _legend(fig: Figure, styles: dict, families: Sequence[str], size_norm: tuple[float, float],
            interval: Interval | None) -> None:
    """One figure legend: families (colour + marker), reference sizes, and the interval band."""
    handles: list[Line2D | Patch] = [Line2D([], [], linestyle="", marker=styles[f][1], markerfacecolor=styles[f][0],
                                            markeredgecolor="black", markeredgewidth=0.4, markersize=7, label=f)
                                     for f in sorted(set(families))]
    lo, hi = size_norm
    for params in (1e8, 3e8, 1e9, 3e9, 1e10):
        lp = math.log10(params)
        if lo - 0.15 <= lp <= hi + 0.15:
            handles.append(Line2D([], [], linestyle="", marker="o", markerfacecolor="0.7", markeredgecolor="black",
                                  markeredgewidth=0.4, markersize=math.sqrt(_size_of(lp, size_norm)),
                                  label=f"{params / 1e9:g}B params"))
    if interval is not None:
        handles.append(Patch(facecolor="0.86", edgecolor="0.6",
                             label=f"efficient interval [{interval.lo:g}, {interval.hi:g}]"))
    ncol = 6 if len(fig.axes) > 1 else 3
    fig.legend(handles=handles, loc="outside lower center", ncol=min(ncol, len(handles)), frameon=False)


def _grid(n_panels: int) -> tuple[Figure, list]:
    ncols = 1 if n_panels == 1 else 2
    nrows = math.ceil(n_panels / ncols)
    fig = Figure(figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows + 1.4), dpi=DPI, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel().tolist()
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def _title(setting: str, n: int) -> str:
    return "\n".join(textwrap.wrap(setting, 62)) + f"\nn = {n}"


def _stats_text(analysis: SettingAnalysis | None) -> str | None:
    """Two-line summary of the main statistics for a panel, or None when none were computed."""
    if analysis is None or analysis.too_few or "abs_interval_distance" not in analysis.predictors:
        return None
    est = analysis.predictors["abs_interval_distance"].estimates
    raw, part = est["spearman"], est["partial_pearson"]
    return (f"Spearman ρ(score, |distance|) = {raw.value:.2f}, p = {raw.p_value:.3f}\n"
            f"partial r | log10 params = {part.value:.2f}, p = {part.p_value:.3f}")


def _text_box(ax, text: str) -> None:
    ax.text(0.98, 0.97, text, transform=ax.transAxes, ha="right", va="top", fontsize=6.8,
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "white", "edgecolor": "0.7", "alpha": 0.9}, zorder=5)


def _annotate(ax, sub: pd.DataFrame, x: str, y: str, analysis: SettingAnalysis | None, xlabel: str,
              ylabel: str) -> None:
    """A setup's panel finished: model names at the points (up to MAX_LABELLED models; beyond that
    labels only hide the points, and the data table names them), title, axis labels, statistics box."""
    if len(sub) <= MAX_LABELLED:
        _label_points(ax, sub[x].tolist(), sub[y].tolist(), [short_name(m) for m in sub["model_id"]])
    ax.set_title(_title(sub["mmlu_pro_setting"].iloc[0], len(sub)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    text = _stats_text(analysis)
    if text:
        _text_box(ax, text)


def rdw_vs_score(table: pd.DataFrame, settings: Sequence[str], analyses: dict[str, SettingAnalysis],
                 interval: Interval) -> Figure:
    """R_D/W (log axis) against score, one panel per scoring setup, interval shaded."""
    scored = table[table["mmlu_pro_setting"] != ""]
    styles = family_styles(table["family"])
    size_norm = (float(table["log10_params"].min()), float(table["log10_params"].max()))
    x_lo = min(float(scored["r_dw"].min()), interval.lo) / 1.35
    x_hi = max(float(scored["r_dw"].max()), interval.hi) * 1.35
    fig, axes = _grid(len(settings))
    for ax, setting in zip(axes, settings, strict=True):
        sub = scored[scored["mmlu_pro_setting"] == setting]
        ax.axvspan(interval.lo, interval.hi, facecolor="0.86", edgecolor="0.6", zorder=0)
        _scatter(ax, sub, "r_dw", "mmlu_pro_score", styles, size_norm)
        ax.set_xscale("log")
        ax.set_xlim(x_lo, x_hi)
        ax.xaxis.set_major_locator(FixedLocator([t for t in RDW_TICKS if x_lo <= t <= x_hi]))
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        _pad_y(ax, sub["mmlu_pro_score"])
        _annotate(ax, sub, "r_dw", "mmlu_pro_score", analyses.get(setting),
                  "R_D/W = layers / hidden width (log scale)", "MMLU-Pro score (%)")
    _legend(fig, styles, scored["family"], size_norm, interval)
    return fig


def _pad_y(ax, values: pd.Series) -> None:
    lo, hi = float(values.min()), float(values.max())
    pad = max(0.12 * (hi - lo), 0.5)
    ax.set_ylim(lo - pad, hi + 1.6 * pad)


def size_residuals(score: np.ndarray, log10_params: np.ndarray) -> np.ndarray:
    """Residuals of score after a least-squares line on log10 params (what 'size-controlled' means),
    as the statistics compute them, rounded to RESIDUAL_DECIMALS so round-off cannot move a point."""
    _, residual, *_ = residuals(STATISTICS["partial_pearson"], score[None], score[None], log10_params[None], None)
    return np.round(residual[0], RESIDUAL_DECIMALS)


def residual_vs_distance(table: pd.DataFrame, settings: Sequence[str],
                         analyses: dict[str, SettingAnalysis]) -> Figure | None:
    """Size-controlled score residual against signed interval distance, per setup with a fit."""
    fitted = [s for s in settings if s in analyses and not analyses[s].too_few]
    if not fitted:
        return None
    styles = family_styles(table["family"])
    size_norm = (float(table["log10_params"].min()), float(table["log10_params"].max()))
    fig, axes = _grid(len(fitted))
    families: list[str] = []
    for ax, setting in zip(axes, fitted, strict=True):
        sub = table[table["mmlu_pro_setting"] == setting].copy()
        sub["residual"] = size_residuals(sub["mmlu_pro_score"].to_numpy(float), sub["log10_params"].to_numpy(float))
        families += list(sub["family"])
        ax.axvline(0.0, color="0.5", linewidth=1.0, linestyle="--", zorder=1)
        ax.axhline(0.0, color="0.8", linewidth=0.8, zorder=1)
        _scatter(ax, sub, "interval_distance", "residual", styles, size_norm)
        _pad_y(ax, sub["residual"])
        x_min, x_max = float(sub["interval_distance"].min()), float(sub["interval_distance"].max())
        span = max(x_max - x_min, 0.1)
        ax.set_xlim(x_min - 0.1 * span, max(x_max, 0.0) + 0.35 * span)
        _annotate(ax, sub, "interval_distance", "residual", analyses.get(setting),
                  "interval distance (decades of R_D/W; 0 = inside, < 0 = too wide and shallow)",
                  "score residual after log10(params) fit (points)")
    _legend(fig, styles, families, size_norm, None)
    return fig


def aofe_vs_ratio(table: pd.DataFrame) -> Figure | None:
    """AOFE against AOFE-ratio, one point per audited model; None without audit data."""
    if "aofe" not in table.columns:
        return None
    sub = table[np.isfinite(table["aofe"].astype(float)) & np.isfinite(table["aofe_ratio"].astype(float))]
    sub = sub.drop_duplicates("model_id").sort_values("model_id")
    if sub.empty:
        return None
    styles = family_styles(table["family"])
    size_norm = (float(table["log10_params"].min()), float(table["log10_params"].max()))
    fig, axes = _grid(1)
    ax = axes[0]
    _scatter(ax, sub, "aofe", "aofe_ratio", styles, size_norm)
    log_x = bool((sub["aofe"] > 0).all())
    if log_x:
        ax.set_xscale("log")
    _label_points(ax, sub["aofe"].tolist(), sub["aofe_ratio"].tolist(), [short_name(m) for m in sub["model_id"]])
    ax.set_title(f"AOFE vs AOFE-ratio (stored audits)\nn = {len(sub)}")
    ax.set_xlabel("AOFE (off-diagonal AGOP energy" + (", log scale)" if log_x else ")"))
    ax.set_ylabel("AOFE-ratio")
    _legend(fig, styles, sub["family"], size_norm, None)
    return fig


def render(fig: Figure) -> tuple[bytes, bytes]:
    """PNG and SVG bytes of a figure, without dates or software tags."""
    with matplotlib.rc_context(RC):
        # Lay out once (constrained layout is half the drawing cost), then freeze it for both formats.
        fig.draw_without_rendering()
        fig.set_layout_engine("none")
    return figure_bytes(fig, DPI, RC)


def make_figures(table: pd.DataFrame, analyses: Sequence[SettingAnalysis],
                 interval: Interval, lead: LeadAnalysis | None = None) -> dict[str, tuple[bytes, bytes]]:
    """Every figure the data allow, as {name: (png, svg)} in report order (the lead figure first)."""

    by_setting = {a.setting: a for a in analyses}
    settings = settings_in_order(table)
    out: dict[str, tuple[bytes, bytes]] = {}
    # From matplotlib's defaults whatever the process's global settings: the bytes depend only on the data.
    with matplotlib.style.context("default"), matplotlib.rc_context(RC), sns.axes_style("whitegrid"), \
            sns.plotting_context("paper"):
        matplotlib.rcParams.update(RC)
        builders = (
            (LEAD_FIGURE, lambda: lead_residual_figure(table, lead) if lead is not None else None),
            (RDW_FIGURE, lambda: rdw_vs_score(table, settings, by_setting, interval) if settings else None),
            (RESIDUAL_FIGURE, lambda: residual_vs_distance(table, settings, by_setting)),
            (AOFE_FIGURE, lambda: aofe_vs_ratio(table)),
        )
        for name, build in builders:
            fig = build()
            if fig is not None:
                out[name] = render(fig)
    return out
