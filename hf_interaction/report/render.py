"""Rendering of the MMLU-Pro correlation report: one document model, written as Markdown and HTML.

The report is built once as a list of blocks (headings, paragraphs, bullet lists, tables, figures,
code) and written by two small renderers, so the Markdown and the self-contained HTML always say the
same thing. Numbers are formatted with fixed precision and nothing depends on the clock, so the same
inputs give the same bytes. The plain-language verdicts live here too: they read the statistics of
:mod:`.stats` and say what the data do and do not support.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..interval import Interval
from . import figures as figs_mod
from .stats import MIN_MODELS, STATISTICS, Estimate, PredictorAnalysis, SettingAnalysis, critical_r

TITLE = "MMLU-Pro score and position relative to the efficient R_D/W interval"
PREDICTOR_LABELS = {
    "abs_interval_distance": "|interval_distance|",
    "log10_r_dw": "log10 R_D/W",
    "aofe": "AOFE",
    "aofe_ratio": "AOFE-ratio",
    "diag_share_vs_baseline_log10": "log10 D/F over fresh init",
}
CHANCE = 10.0  # MMLU-Pro has ten options
ALPHA = 0.05


# --------------------------------------------------------------------------------------------
# Document model
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class FigureRef:
    name: str
    caption: str


Block = Heading | Para | Bullets | Table | FigureRef


# --------------------------------------------------------------------------------------------
# Number formatting
# --------------------------------------------------------------------------------------------

def fmt(value: float, digits: int = 3) -> str:
    """Fixed-precision number; 'n/a' for NaN; never '-0.000'."""
    if value is None or not math.isfinite(value):
        return "n/a"
    text = f"{value:.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.?0*", text) else text


def fmt_p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return f"{p:.4f}" if p < 0.001 else f"{p:.3f}"


def fmt_ci(est: Estimate, digits: int = 3) -> str:
    if not math.isfinite(est.ci_low):
        return "n/a"
    return f"[{fmt(est.ci_low, digits)}, {fmt(est.ci_high, digits)}]"


def _digits(est: Estimate) -> int:
    return 2 if STATISTICS[est.statistic].output == "coef" else 3


def fmt_params(n: int) -> str:
    return f"{n / 1e9:.2f}B"


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------

def significant(est: Estimate | None) -> bool:
    """Permutation p below 5% and a bootstrap interval that excludes zero."""
    return bool(est is not None and math.isfinite(est.p_value) and est.p_value < ALPHA and est.ci_excludes_zero)


def direction(est: Estimate | None) -> str:
    """'higher' (farther from the interval scores higher), 'lower', or 'none' (not detectable)."""
    if not significant(est):
        return "none"
    return "higher" if est.value > 0 else "lower"


def _paper_relation(dir_: str) -> str:
    return {"higher": "the opposite of the paper's claim", "lower": "the direction the paper reports",
            "none": ""}[dir_]


def _describe(est: Estimate, name: str) -> str:
    return (f"{name} = {fmt(est.value, _digits(est))}, 95% CI {fmt_ci(est, _digits(est))}, "
            f"permutation p = {fmt_p(est.p_value)}{' (exact)' if est.p_exact else ''}")


def short_verdict(analysis: SettingAnalysis) -> str:
    """One line for the summary table."""
    if analysis.too_few:
        return f"too few models (n < {MIN_MODELS}): no fit"
    pa = analysis.predictors.get("abs_interval_distance")
    if pa is None:
        return "no statistics"
    raw, part = direction(pa.estimates["spearman"]), direction(pa.estimates["partial_pearson"])
    words = {"higher": "farther from the interval scores higher (contradicts the paper)",
             "lower": "closer to the interval scores higher (as the paper reports)",
             "none": "no detectable association"}
    return f"raw: {words[raw]}; controlling for size: {words[part]}"


def verdict(analysis: SettingAnalysis, sub: pd.DataFrame) -> list[str]:
    """Plain-language paragraphs: what the data of one setup do and do not support."""
    n = analysis.n
    if analysis.too_few:
        return [f"**Too few models** (n = {n}; at least {MIN_MODELS} are needed): no correlation, "
                "test or fit is computed for this setup. Its scores are listed below and plotted, and "
                "cannot be compared with scores from any other setup."]
    pa = analysis.predictors["abs_interval_distance"]
    est = pa.estimates
    out = [_composition(sub)]
    raw, part = est["spearman"], est["partial_pearson"]
    raw_dir, part_dir = direction(raw), direction(part)
    out.append(_raw_sentence(raw, est["pearson"], raw_dir))
    if abs(pa.size_spearman) >= 0.5:
        out.append(_confounding_sentence(pa))
    out.append(_controlled_sentence(est, raw_dir, part_dir, pa))
    out.append(_stability_sentence(est))
    out.append(_support_sentence(raw_dir, part_dir, n))
    out.append(_caveat_sentence(n, sub))
    for name in ("aofe", "aofe_ratio", "diag_share_vs_baseline_log10"):
        if name in analysis.predictors:
            out.append(_audit_sentence(analysis.predictors[name]))
    return out


def _composition(sub: pd.DataFrame) -> str:
    n = len(sub)
    inside = int(sub["inside_interval"].sum())
    below = int((sub["interval_distance"] < 0).sum())
    above = int((sub["interval_distance"] > 0).sum())
    fams = sub["family"].nunique()
    text = (f"n = {n} models from {fams} famil{'y' if fams == 1 else 'ies'}: {inside} inside the interval, "
            f"{below} below it (too wide and shallow), {above} above it (too deep and narrow).")
    if inside <= 1:
        text += (" With at most one model inside, this setup tests how far below the interval a model is, "
                 "more than inside against outside.")
    return text


def _raw_sentence(raw: Estimate, pearson: Estimate, raw_dir: str) -> str:
    lead = {"higher": "**Raw:** models farther from the interval score *higher*",
            "lower": "**Raw:** models closer to the interval score higher",
            "none": "**Raw:** no association between score and distance from the interval is detectable"}[raw_dir]
    rel = _paper_relation(raw_dir)
    return (f"{lead} ({_describe(raw, 'Spearman ρ')}; {_describe(pearson, 'Pearson r')})"
            + (f", {rel}." if rel else "."))


def _confounding_sentence(pa: PredictorAnalysis) -> str:
    who = "largest" if pa.size_spearman > 0 else "smallest"
    return (f"Distance is confounded with size: Spearman ρ(|distance|, log10 params) = "
            f"{fmt(pa.size_spearman, 2)} and size explains {100 * pa.size_r2:.0f}% of the variance of "
            f"|distance|; the models farthest from the interval are the {who}, so an effect of size on "
            "MMLU-Pro alone would show up as a raw correlation with distance. Only the size-controlled statistics "
            "speak to the paper's claim, and with this much overlap they have little independent "
            "variation to work with.")


def _controlled_sentence(est: dict[str, Estimate], raw_dir: str, part_dir: str, pa: PredictorAnalysis) -> str:
    part, spart, coef = est["partial_pearson"], est["partial_spearman"], est["ols_coef"]
    if part_dir == "none":
        lead = "**Controlling for log10 parameter count:** no association is detectable"
        if raw_dir != "none":
            lead += ", so the raw association is accounted for by size"
    elif part_dir == "higher":
        lead = ("**Controlling for log10 parameter count:** models farther from the interval still score "
                "*higher*, contradicting the paper")
    else:
        lead = ("**Controlling for log10 parameter count:** models closer to the interval score higher, "
                "consistent with the paper")
    text = (f"{lead}: {_describe(part, 'partial r')}; {_describe(spart, 'partial Spearman ρ')}; OLS "
            f"coefficient of |distance| in score ~ log10(params) + |distance|: {fmt(coef.value, 1)} points "
            f"per decade, 95% CI {fmt_ci(coef, 1)}.")
    if (direction(spart) != part_dir):
        text += " The Pearson and Spearman versions disagree on significance, so the result is fragile."
    if "ols_coef_family" in est:
        fam = est["ols_coef_family"]
        text += (f" With a family term ({pa.family_term_reason}): {fmt(fam.value, 1)} points per decade, "
                 f"95% CI {fmt_ci(fam, 1)}, p = {fmt_p(fam.p_value)}.")
    else:
        text += f" No family term was fitted: {pa.family_term_reason}."
    return text


def _stability_sentence(est: dict[str, Estimate]) -> str:
    parts = []
    for key, name in (("spearman", "raw Spearman ρ"), ("partial_pearson", "partial r")):
        lofo = est[key].lofo
        if lofo is None:
            return "Leave-one-family-out: not applicable (one family)."
        if not math.isfinite(lofo.minimum):
            return (f"Leave-one-family-out: not computable (dropping any family leaves fewer than "
                    f"{MIN_MODELS} models).")
        dropped = sum(math.isfinite(v) for v in lofo.values.values())
        span = f"{name} ranges from {fmt(lofo.minimum, 2)} to {fmt(lofo.maximum, 2)}"
        if dropped < len(lofo.values):
            span += f" ({dropped} of {len(lofo.values)} families could be dropped)"
        if lofo.sign_flips:
            span += f" and changes sign when dropping {', '.join(lofo.sign_flips)}"
        parts.append(span)
    return "Leave-one-family-out: " + "; ".join(parts) + "."


def _support_sentence(raw_dir: str, part_dir: str, n: int) -> str:
    if part_dir == "lower":
        return ("**Supported:** in this setup, closeness to the interval goes with higher scores beyond what "
                "size explains. **Not supported:** a causal reading; shape, data and training recipe vary "
                "together across these models.")
    if part_dir == "higher":
        return ("**Contradicts the paper:** beyond size, models farther from the interval score higher here. "
                "**Not supported:** a causal reading either way.")
    not_raw = {"higher": " The raw correlation runs against the paper, but it is a size effect.",
               "lower": " The raw correlation matches the paper, but it is a size effect.",
               "none": ""}[raw_dir]
    return ("**Not supported:** that interval position predicts MMLU-Pro score beyond model size in this "
            f"setup.{not_raw} **Also not shown:** that there is no effect; with n = {n} only a large one "
            "could have been detected.")


def _caveat_sentence(n: int, sub: pd.DataFrame) -> str:
    r_raw, r_part = critical_r(n), critical_r(n, 1)
    text = (f"Sample size: with n = {n}, a correlation needs |r| ≥ {fmt(r_raw, 2)} (raw) or "
            f"≥ {fmt(r_part, 2)} (partial) to reach p < 0.05, and percentile bootstrap intervals are "
            "rough at this size (they tend to be too narrow, or span almost everything when resamples "
            "repeat few models). No correction for the several statistics and setups tested is applied.")
    top = float(sub["mmlu_pro_score"].max())
    if top < CHANCE + 5:
        text += (f" All scores lie within {top - CHANCE:.1f} points of chance ({CHANCE:g}% with ten "
                 "options): differences between these models are of the order of evaluation noise, so "
                 "this setup carries almost no information about the claim.")
    return text


def _audit_sentence(pa: PredictorAnalysis) -> str:
    label = PREDICTOR_LABELS[pa.predictor]
    est = pa.estimates
    return (f"{label} (stored audits, n = {pa.n}): raw {_describe(est['spearman'], 'Spearman ρ')}; "
            f"controlling for size {_describe(est['partial_pearson'], 'partial r')}.")


# --------------------------------------------------------------------------------------------
# Building the document
# --------------------------------------------------------------------------------------------

def _stats_table(analysis: SettingAnalysis) -> Table:
    rows = []
    for name, pa in analysis.predictors.items():
        for key, est in pa.estimates.items():
            d = _digits(est)
            lofo = est.lofo
            rows.append((
                PREDICTOR_LABELS.get(name, name), STATISTICS[key].label, str(est.n), fmt(est.value, d),
                fmt_ci(est, d), fmt_p(est.p_value) + (" (exact)" if est.p_exact else ""),
                _lofo_range(lofo, d),
                "n/a" if lofo is None else (", ".join(lofo.sign_flips) or "none"),
            ))
    return Table(("predictor x", "statistic", "n", "estimate", "95% bootstrap CI", "permutation p",
                  "leave-one-family-out range", "sign flips when dropping"), tuple(rows))


def _lofo_range(lofo, digits: int) -> str:
    if lofo is None:
        return "n/a (one family)"
    if not math.isfinite(lofo.minimum):
        return f"n/a (< {MIN_MODELS} models left)"
    return f"[{fmt(lofo.minimum, digits)}, {fmt(lofo.maximum, digits)}]"


def _models_table(sub: pd.DataFrame) -> Table:
    rows = tuple(
        (r.model_id, r.family, fmt_params(r.total_params), fmt(r.r_dw, 4), fmt(r.interval_distance, 3),
         "yes" if r.inside_interval else "no", fmt(r.mmlu_pro_score, 2), r.score_source or "")
        for r in sub.itertuples()
    )
    return Table(("model", "family", "params", "R_D/W", "interval distance", "inside", "score", "score source"),
                 rows)


def _method_blocks(analyses: Sequence[SettingAnalysis]) -> list[Block]:
    n_boot = analyses[0].n_boot if analyses else 0
    n_perm = analyses[0].n_perm if analyses else 0
    return [
        Heading(2, "Method"),
        Bullets((
            "Scores from different scoring setups (`mmlu_pro_setting`, grouped by exact string) are never "
            "pooled: each setup is analysed on its own, and only setups with at least "
            f"{MIN_MODELS} scored models get statistics.",
            "Predictors: |interval_distance| (decades of R_D/W outside the interval, 0 inside; the paper "
            "predicts scores *fall* as it grows, i.e. a negative association) and log10 R_D/W"
            "; AOFE and AOFE-ratio when stored audits exist.",
            "Raw: Pearson r and Spearman ρ of score with the predictor. Controlled for size: partial "
            "correlation (score and predictor each residualised on log10 total parameters, residuals "
            "correlated; on ranks for partial Spearman) and the OLS coefficient of the predictor in "
            "score ~ log10(params) + predictor, in score points per unit (per decade for distance). "
            "A family fixed effect is added in a second regression when some family has two or more "
            "models and at least 3 residual degrees of freedom remain.",
            f"95% intervals: percentile bootstrap over models ({n_boot} seeded resamples; resamples with "
            "fewer than two residual degrees of freedom, where a correlation is ±1 by construction, are "
            "dropped; the number kept is `bootstrap_valid` in the statistics CSV).",
            f"p-values: two-sided permutation tests ({n_perm} seeded permutations, or every permutation "
            "when n! is not larger, marked exact). Raw statistics permute the predictor; controlled "
            "statistics permute the predictor's residual on log10 params against the score's residual "
            "(Kennedy 1995).",
            "Leave-one-family-out: every statistic recomputed with each family dropped (only when at "
            f"least {MIN_MODELS} models remain); the range and the families whose removal flips the sign.",
            "Significant below means permutation p < 0.05 and a bootstrap interval excluding 0.",
        )),
    ]


def build_document(table: pd.DataFrame, analyses: Sequence[SettingAnalysis], interval: Interval,
                   prov: dict, figures: dict, data_file: str, stats_file: str) -> list[Block]:
    """The report as blocks: summary, provenance, method, figures, one section per setup, data."""
    scored = table[table["mmlu_pro_setting"] != ""]
    unscored = table[table["mmlu_pro_setting"] == ""]
    blocks: list[Block] = [
        Heading(1, TITLE),
        Para("Does a model's position relative to the efficient depth-width interval of *Law of Neural "
             "Interaction* (arXiv 2605.27989) go together with its MMLU-Pro score, before and after "
             "controlling for model size? One section per scoring setup; setups are never pooled."),
        Heading(2, "Summary"),
        Table(("setup", "n", "inside interval", "raw Spearman ρ(score, |distance|)", "partial r | log10 params",
               "verdict"),
              tuple(_summary_row(a, scored) for a in analyses)),
        Para(f"{len(table['model_id'].unique())} models in the list, {scored['model_id'].nunique()} with at "
             f"least one score, {len(unscored)} without any score (listed at the end, in no fit)."),
        Heading(2, "Provenance"),
        Bullets(tuple(f"**{k}:** {v}" for k, v in prov.items())),
    ]
    notes = table.attrs.get("notes") or []
    if notes:
        blocks += [Heading(3, "Notes on the inputs"), Bullets(tuple(notes))]
    blocks += _method_blocks(analyses)
    blocks.append(Heading(2, "Figures"))
    for name in figures:
        blocks.append(FigureRef(name, figs_mod.CAPTIONS[name]))
    by_setting = {a.setting: a for a in analyses}
    for setting in by_setting:
        analysis = by_setting[setting]
        sub = scored[scored["mmlu_pro_setting"] == setting]
        blocks += [Heading(2, f"Setup: {setting}")]
        blocks += [Para(p) for p in verdict(analysis, sub)]
        if not analysis.too_few:
            blocks.append(_stats_table(analysis))
        blocks.append(_models_table(sub))
    blocks += [Heading(2, "Models without a score")]
    if len(unscored):
        blocks.append(Para("Listed in the data table with an empty score and excluded from every fit: "
                           + ", ".join(f"`{m}`" for m in unscored["model_id"]) + "."))
    else:
        blocks.append(Para("None."))
    blocks += [
        Heading(2, "Data"),
        Para(f"The exact table every number above was computed from is `{data_file}` (one row per model "
             f"and scoring setup; `in_fit` and `excluded_reason` say which rows the statistics use); every "
             f"statistic with its interval and p-value is in `{stats_file}`."),
    ]
    return blocks


def _summary_row(a: SettingAnalysis, scored: pd.DataFrame) -> tuple[str, ...]:
    sub = scored[scored["mmlu_pro_setting"] == a.setting]
    inside = str(int(sub["inside_interval"].sum()))
    pa = None if a.too_few else a.predictors.get("abs_interval_distance")
    if pa is None:
        return (a.setting, str(a.n), inside, "n/a", "n/a", short_verdict(a))
    raw, part = pa.estimates["spearman"], pa.estimates["partial_pearson"]
    return (a.setting, str(a.n), inside,
            f"{fmt(raw.value, 2)} {fmt_ci(raw, 2)}, p = {fmt_p(raw.p_value)}",
            f"{fmt(part.value, 2)} {fmt_ci(part, 2)}, p = {fmt_p(part.p_value)}", short_verdict(a))


# --------------------------------------------------------------------------------------------
# Markdown and HTML writers
# --------------------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """GitHub-flavoured Markdown; figures link the PNG next to the report and mention the SVG."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                     "|" + "|".join(" --- " for _ in b.headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, FigureRef):
            out.append(f"![{b.caption}]({b.name}.png)\n\n*{b.caption}* (vector: [{b.name}.svg]({b.name}.svg))")
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    """Escape, then the Markdown inline marks the report uses: `code`, **bold**, *italic*."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", text)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; line-height: 1.45; color: #1a1a1a; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
code { background: #f4f4f4; padding: 0 0.2em; font-size: 0.92em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
""".strip()


def to_html(blocks: Sequence[Block], figures: dict[str, tuple[bytes, bytes]]) -> str:
    """A self-contained HTML page: inline CSS, figures embedded as base64 PNG, no scripts, no dates."""
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>\n" + "\n".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "\n</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in b.headers)
            rows = "\n".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                             for row in b.rows)
            body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>")
        elif isinstance(b, FigureRef):
            data = base64.b64encode(figures[b.name][0]).decode("ascii")
            body.append(f'<figure>\n<img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">\n'
                        f"<figcaption>{_inline_html(b.caption)}</figcaption>\n</figure>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(TITLE)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")


# --------------------------------------------------------------------------------------------
# CSV outputs
# --------------------------------------------------------------------------------------------

def table_csv(table: pd.DataFrame) -> str:
    """The data table as CSV: fixed float format, '\\n' line ends, empty cells for missing values."""
    buf = io.StringIO()
    table.to_csv(buf, index=False, float_format="%.10g", lineterminator="\n")
    return buf.getvalue()


def stats_csv(analyses: Sequence[SettingAnalysis]) -> str:
    """Every statistic of every setup and predictor, one row each."""
    rows = []
    for a in analyses:
        for name, pa in a.predictors.items():
            for key, est in pa.estimates.items():
                lofo = est.lofo
                rows.append({
                    "mmlu_pro_setting": a.setting, "predictor": name, "statistic": key, "n": est.n,
                    "estimate": est.value, "ci_low": est.ci_low, "ci_high": est.ci_high,
                    "bootstrap_valid": est.boot_valid, "bootstrap_reps": a.n_boot, "p_value": est.p_value,
                    "p_exact": est.p_exact,
                    "lofo_min": math.nan if lofo is None else lofo.minimum,
                    "lofo_max": math.nan if lofo is None else lofo.maximum,
                    "lofo_sign_flips": "" if lofo is None else ";".join(lofo.sign_flips),
                    "family_term": pa.family_term, "family_term_reason": pa.family_term_reason,
                    "size_spearman": pa.size_spearman, "seed": a.seed,
                })
    frame = pd.DataFrame(rows, columns=[
        "mmlu_pro_setting", "predictor", "statistic", "n", "estimate", "ci_low", "ci_high", "bootstrap_valid",
        "bootstrap_reps", "p_value", "p_exact", "lofo_min", "lofo_max", "lofo_sign_flips", "family_term",
        "family_term_reason", "size_spearman", "seed"])
    buf = io.StringIO()
    frame.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()
