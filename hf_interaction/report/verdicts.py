"""The report's plain-language verdicts: what the statistics of one scoring setup do and do not support.

They read the estimates of :mod:`.stats` (significance means permutation p < 0.05 and a bootstrap
interval excluding zero) and word the direction against the paper's claim that models closer to
the efficient interval score higher.
"""

from __future__ import annotations

import math

import pandas as pd

from ..core.numbers import fixed, interval, p_value
from .columns import PREDICTOR_LABELS
from .residuals import STATISTICS
from .stats import MIN_MODELS, Estimate, PredictorAnalysis, SettingAnalysis, critical_r

CHANCE = 10.0  # MMLU-Pro has ten options
ALPHA = 0.05


def fmt_ci(est: Estimate, digits: int = 3) -> str:
    """An estimate's bootstrap interval as ``[lo, hi]`` with fixed decimals; 'n/a' when undefined."""
    if not math.isfinite(est.ci_low):
        return "n/a"
    return interval(est.ci_low, est.ci_high, fixed, digits=digits)


def digits_of(est: Estimate) -> int:
    """Decimals an estimate is shown with: 2 for a coefficient (score points), 3 for a correlation."""
    return 2 if STATISTICS[est.statistic].output == "coef" else 3


def significant(est: Estimate | None) -> bool:
    """Permutation p below 5% and a bootstrap interval that excludes zero."""
    return bool(est is not None and math.isfinite(est.p_value) and est.p_value < ALPHA and est.ci_excludes_zero)


def direction(est: Estimate | None) -> str:
    """'higher' (farther from the interval scores higher), 'lower', or 'none' (not detectable)."""
    if est is None or not significant(est):
        return "none"
    return "higher" if est.value > 0 else "lower"


def _paper_relation(dir_: str) -> str:
    return {"higher": "the opposite of the paper's claim", "lower": "the direction the paper reports",
            "none": ""}[dir_]


def _describe(est: Estimate, name: str) -> str:
    return (f"{name} = {fixed(est.value, digits_of(est))}, 95% CI {fmt_ci(est, digits_of(est))}, "
            f"permutation p = {p_value(est.p_value)}{' (exact)' if est.p_exact else ''}")


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
    for name in ("aofe", "aofe_ratio", "diag_share_vs_baseline_log10", "diag_share_log10"):
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
            f"{fixed(pa.size_spearman, 2)} and size explains {100 * pa.size_r2:.0f}% of the variance of "
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
            f"coefficient of |distance| in score ~ log10(params) + |distance|: {fixed(coef.value, 1)} points "
            f"per decade, 95% CI {fmt_ci(coef, 1)}.")
    if (direction(spart) != part_dir):
        text += " The Pearson and Spearman versions disagree on significance, so the result is fragile."
    if "ols_coef_family" in est:
        fam = est["ols_coef_family"]
        text += (f" With a family term ({pa.family_term_reason}): {fixed(fam.value, 1)} points per decade, "
                 f"95% CI {fmt_ci(fam, 1)}, p = {p_value(fam.p_value)}.")
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
        span = f"{name} ranges from {fixed(lofo.minimum, 2)} to {fixed(lofo.maximum, 2)}"
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
    text = (f"Sample size: with n = {n}, a correlation needs |r| ≥ {fixed(r_raw, 2)} (raw) or "
            f"≥ {fixed(r_part, 2)} (partial) to reach p < 0.05, and percentile bootstrap intervals are "
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
