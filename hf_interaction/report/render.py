"""The report rendered: the document (summary, provenance, method, figures, one section per setup,
data) as :mod:`hf_interaction.core.document` blocks, and the data table and statistics as CSV text.

Numbers are written with fixed rules — the document with fixed decimals, the data table with
:data:`~.columns.TABLE_DIGITS` and the statistics with :data:`STATS_DIGITS` significant digits — and
nothing depends on the clock, so the same inputs give the same bytes on any machine.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import pandas as pd

from ..core.document import Block, Bullets, FigureRef, Heading, Para, Table
from ..core.numbers import fixed, p_value, params
from ..core.numbers import interval as bracket
from ..shape.interval import Interval
from . import figures as figs_mod
from .columns import PREDICTOR_LABELS, TABLE_DIGITS
from .lead import LeadAnalysis
from .lead_figure import CAPTION as LEAD_CAPTION
from .lead_render import LEAD_STATS_FILE, lead_blocks, opening_sentence, robustness_sentence
from .residuals import STATISTICS
from .stats import MIN_MODELS, SettingAnalysis
from .verdicts import digits_of, fmt_ci, short_verdict, verdict

TITLE = "MMLU-Pro score and position relative to the efficient R_D/W interval"
#: Significant digits of every float in the statistics CSV: far fewer than a float carries, so
#: round-off in the last bits of a BLAS or math library cannot show.
STATS_DIGITS = 6


def _stats_table(analysis: SettingAnalysis) -> Table:
    rows = []
    for name, pa in analysis.predictors.items():
        for key, est in pa.estimates.items():
            d = digits_of(est)
            lofo = est.lofo
            rows.append((
                PREDICTOR_LABELS.get(name, name), STATISTICS[key].label, str(est.n), fixed(est.value, d),
                fmt_ci(est, d), p_value(est.p_value) + (" (exact)" if est.p_exact else ""),
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
    return bracket(lofo.minimum, lofo.maximum, fixed, digits=digits)


def _models_table(sub: pd.DataFrame) -> Table:
    rows = tuple(
        (r.model_id, r.family, params(r.total_params), fixed(r.r_dw, 4), fixed(r.interval_distance, 3),
         "yes" if r.inside_interval else "no", fixed(r.mmlu_pro_score, 2), r.score_source or "")
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
            f"95% intervals: percentile bootstrap over models ({n_boot} seeded resamples). A resample is "
            "dropped where the statistic is undefined or degenerate, decided from exact facts about it: "
            "fewer than two residual degrees of freedom (distinct models minus the rank of the controls, "
            "both counted, not computed in floating point; a correlation is ±1 by construction there), a "
            "constant predictor or score, or one the controls explain to within 1e-10 of its own variation "
            "(round-off is about 1e-30); the number kept is `bootstrap_valid` in the statistics CSV.",
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
                   prov: dict, figures: dict, data_file: str, stats_file: str,
                   lead: LeadAnalysis | None = None) -> list[Block]:
    """The report as blocks: summary, provenance, method, figures, one section per setup, data.

    With a lead setup the summary opens with its answer, its section follows the summary, and its
    own setup section comes first.
    """
    scored = table[table["mmlu_pro_setting"] != ""]
    unscored = table[table["mmlu_pro_setting"] == ""]
    blocks: list[Block] = [
        Heading(1, TITLE),
        Para("Does a model's position relative to the efficient depth-width interval of *Law of Neural "
             "Interaction* (arXiv 2605.27989) go together with its MMLU-Pro score, before and after "
             "controlling for model size? One section per scoring setup; setups are never pooled."),
        Heading(2, "Summary"),
        *([Para(opening_sentence(lead)), Para(robustness_sentence(lead))] if lead is not None else []),
        Table(("setup", "n", "inside interval", "raw Spearman ρ(score, |distance|)", "partial r | log10 params",
               "verdict"),
              tuple(_summary_row(a, scored) for a in analyses)),
        Para(f"{len(table['model_id'].unique())} models in the list, {scored['model_id'].nunique()} with at "
             f"least one score, {len(unscored)} without any score (listed at the end, in no fit)."),
        *(lead_blocks(table, lead, figs_mod.LEAD_FIGURE if figs_mod.LEAD_FIGURE in figures else None,
                      LEAD_CAPTION) if lead is not None else []),
        Heading(2, "Provenance"),
        Bullets(tuple(f"**{k}:** {v}" for k, v in prov.items())),
    ]
    notes = table.attrs.get("notes") or []
    if notes:
        blocks += [Heading(3, "Notes on the inputs"), Bullets(tuple(notes))]
    blocks += _method_blocks(analyses)
    blocks.append(Heading(2, "Figures"))
    for name in figures:
        if name != figs_mod.LEAD_FIGURE:
            blocks.append(FigureRef(name, figs_mod.CAPTIONS[name]))
    by_setting = {a.setting: a for a in analyses}
    if lead is not None and lead.setting in by_setting:
        by_setting = {lead.setting: by_setting[lead.setting], **by_setting}
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
             f"statistic with its interval and p-value is in `{stats_file}` (floats to {TABLE_DIGITS} and "
             f"{STATS_DIGITS} significant digits)."
             + (f" The lead setup's analyses are in `{LEAD_STATS_FILE}`." if lead is not None else "")),
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
            f"{fixed(raw.value, 2)} {fmt_ci(raw, 2)}, p = {p_value(raw.p_value)}",
            f"{fixed(part.value, 2)} {fmt_ci(part, 2)}, p = {p_value(part.p_value)}", short_verdict(a))


def table_csv(table: pd.DataFrame) -> str:
    """The data table as CSV: fixed float format, '\\n' line ends, empty cells for missing values."""
    buf = io.StringIO()
    table.to_csv(buf, index=False, float_format=f"%.{TABLE_DIGITS}g", lineterminator="\n")
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
    frame.to_csv(buf, index=False, float_format=f"%.{STATS_DIGITS}g", lineterminator="\n")
    return buf.getvalue()
