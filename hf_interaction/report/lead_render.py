"""The lead setup in words: the report's opening sentence, its section and its statistics CSV."""

from __future__ import annotations

import io
import math

import pandas as pd
from scipy import stats as sps

from ..core.document import Block, FigureRef, Heading, Para, Table
from ..core.numbers import fixed, p_value
from .covariates import ALPHA, POWER, CovEstimate
from .lead import SEED_OFFSET, LeadAnalysis, LeadResult, lead_rows, significant

LEAD_STATS_FILE = "mmlu_pro_correlation_lead_stats.csv"
STATS_DIGITS = 6


def _ci(low: float, high: float, digits: int) -> str:
    return "n/a" if not math.isfinite(low) else f"[{fixed(low, digits)}, {fixed(high, digits)}]"


def _controls_words(res: LeadResult) -> str:
    words = {"log10 params": "log10 parameters", "instruct indicator": "an instruct indicator",
             "log10 training tokens": "log10 training tokens", "family": "family"}
    parts = [words[p] for p in res.spec.controls.split(" + ")]
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _claim(est: CovEstimate) -> str:
    if not significant(est):
        return ("a model's distance from the efficient R_D/W interval shows no detectable association "
                "with its MMLU-Pro score once size is accounted for")
    if est.value < 0:
        return ("models closer to the efficient R_D/W interval score higher on MMLU-Pro once size is "
                "accounted for, as the paper reports")
    return ("models farther from the efficient R_D/W interval score higher on MMLU-Pro once size is "
            "accounted for, the opposite of the paper's claim")


def opening_sentence(lead: LeadAnalysis) -> str:
    """One sentence answering the report's question for the lead setup, with its interval and power."""
    head = lead.headline
    est = head.estimate
    if est is None:
        return f"**Lead setup ({lead.setting}):** the pooled analysis could not be computed ({head.reason})."
    return (f"**In the lead setup ({lead.setting}), {_claim(est)}:** partial r = {fixed(est.value, 2)}, 95% CI "
            f"{_ci(est.ci_low, est.ci_high, 2)}, permutation p = {p_value(est.p_value)} (score and "
            f"|interval distance| controlled for {_controls_words(head)}; n = {est.n} models, {head.n_base} "
            f"base and {head.n_instruct} instruct); at this n the smallest association detectable with "
            f"{POWER:.0%} power at α = {ALPHA:g} is |r| = {fixed(est.detectable, 2)}.")


def _brief(res: LeadResult) -> str:
    est = res.estimate
    if est is None:
        return f"{res.spec.label}: not computed ({res.reason})"
    return (f"{res.spec.label}: partial r = {fixed(est.value, 2)}, 95% CI {_ci(est.ci_low, est.ci_high, 2)}, "
            f"n = {est.n}{', significant' if significant(est) else ''}")


def robustness_sentence(lead: LeadAnalysis) -> str:
    """How the headline holds up: base and instruct apart, within families, with training tokens."""
    by_key = {r.spec.key: r for r in lead.results}
    parts = [_brief(by_key[k]) for k in ("base", "instruct", "pooled_family", "pooled_tokens")]
    text = "Checks: " + "; ".join(parts) + "."
    head, fam = lead.headline.estimate, by_key["pooled_family"].estimate
    if significant(head) and fam is not None and not significant(fam):
        multi = sum(c >= 2 for _, c in lead.family_sizes)
        text += (f" With a family fixed effect (only within-family differences count; {multi} families have "
                 "two or more models) the association is not detectable, so it may reflect differences "
                 "between families (data, recipe) more than shape within a family.")
    tok, sub = by_key["pooled_tokens"].estimate, by_key["pooled_tokens_subset"].estimate
    if significant(head) and tok is not None and sub is not None and not significant(tok):
        text += (f" On the {tok.n} models with a published training-token count it is not detectable once "
                 f"tokens are controlled (the same models without that control: partial r = "
                 f"{fixed(sub.value, 2)}, 95% CI {_ci(sub.ci_low, sub.ci_high, 2)}); that subset detects only "
                 f"|r| ≥ {fixed(tok.detectable, 2)}.")
    return text


def _row(res: LeadResult) -> tuple[str, ...]:
    counts = f"{res.n} ({res.n_base} / {res.n_instruct})"
    est = res.estimate
    if est is None:
        return (res.spec.label, res.spec.controls, counts, f"not computed: {res.reason}", "", "", "", "")
    lofo = est.lofo
    lofo_text = "n/a" if lofo is None or not math.isfinite(lofo.minimum) else (
        _ci(lofo.minimum, lofo.maximum, 2).strip("[]").replace(", ", " to ")
        + (f"; sign flips without {', '.join(lofo.sign_flips)}" if lofo.sign_flips else ""))
    return (res.spec.label, res.spec.controls, counts,
            f"{fixed(est.value, 3)} {_ci(est.ci_low, est.ci_high, 3)}",
            p_value(est.p_value) + (" (exact)" if est.p_exact else ""),
            f"{fixed(est.coef, 1)} {_ci(est.coef_ci_low, est.coef_ci_high, 1)}",
            f"{fixed(est.detectable, 2)} (k = {est.k})", lofo_text)


def _composition(lead: LeadAnalysis, rows: pd.DataFrame) -> str:
    inside = int(rows["inside_interval"].sum())
    below = int((rows["interval_distance"] < 0).sum())
    above = int((rows["interval_distance"] > 0).sum())
    return (f"n = {lead.n} models from {rows['family'].nunique()} families ({lead.n_base} base, {lead.n_instruct} "
            f"instruct), all scored in this one setup: {inside} inside the interval, {below} below it (too wide "
            f"and shallow), {above} above it (too deep and narrow); {lead.n_tokens} have a published "
            "training-token count.")


def _findings(lead: LeadAnalysis) -> str:
    done = [(r, r.estimate) for r in lead.results if r.estimate is not None]
    sig = [(r, est) for r, est in done if significant(est)]
    if not sig:
        text = (f"None of the {len(done)} computed analyses finds an association (permutation p < 0.05 with a "
                "bootstrap interval excluding 0). The detectable |r| column gives the size of association each could "
                "have detected; smaller ones are not ruled out.")
    else:
        text = ("Significant (permutation p < 0.05, bootstrap interval excluding 0): "
                + "; ".join(f"{r.spec.label} (partial r = {fixed(est.value, 3)})" for r, est in sig) + ".")
    flips = [(r, est.lofo) for r, est in sig if est.lofo is not None and est.lofo.sign_flips]
    if flips:
        text += " Dropping one family changes the sign of a significant estimate in: " + "; ".join(
            f"{r.spec.label} (without {', '.join(lofo.sign_flips)})" for r, lofo in flips) + "."
    return text


def _method() -> str:
    z = sps.norm.ppf(1 - ALPHA / 2) + sps.norm.ppf(POWER)
    return ("Method (lead setup): score and |interval distance| are both residualised on the listed covariates "
            "(an intercept, or one per family with a family term; log10 total parameters; an instruct "
            "indicator where base and instruct models are pooled; log10 published training tokens on that "
            "subset) and the residuals correlated (partial r); the OLS coefficient of |distance| is in score "
            "points per decade. 95% intervals: percentile bootstrap over models, the whole fit redone in "
            "each resample; p-values: Kennedy permutation of the residualised predictor; leave-one-family-out: "
            "the partial r with each family dropped (range over families). **Detectable |r|** is the partial "
            f"r a two-sided test at α = {ALPHA:g} detects with {POWER:.0%} power at n models and k covariates "
            "(family indicators counted, the intercept not), from Fisher's z: atanh(r)·√(n − k − 3) = "
            f"z_0.975 + z_0.80 = {z:.3f}, i.e. r = tanh({z:.3f} / √(n − k − 3)). An analysis that finds "
            "nothing rules out associations of that size or larger with 80% probability, not smaller ones.")


def lead_blocks(table: pd.DataFrame, lead: LeadAnalysis, figure: str | None, caption: str) -> list[Block]:
    """The lead section: composition, the analyses table, what it shows, the figure, the method."""
    rows, _ = lead_rows(table, lead.setting)
    blocks: list[Block] = [
        Heading(2, f"Lead setup: {lead.setting}"),
        Para(_composition(lead, rows)),
        Table(("analysis", "covariates", "n (base / instruct)", "partial r(score, |distance|) [95% CI]",
               "permutation p", "OLS coef, points per decade [95% CI]", "detectable |r| (80% power)",
               "leave-one-family-out range"), tuple(_row(r) for r in lead.results)),
        Para(_findings(lead)),
    ]
    if figure:
        blocks.append(FigureRef(figure, caption))
    blocks.append(Para(_method()))
    if lead.notes:
        blocks.append(Para("Left out of these analyses: " + "; ".join(lead.notes) + "."))
    return blocks


def lead_stats_csv(lead: LeadAnalysis, n_boot: int, seed: int) -> str:
    """Every lead analysis, one row each (floats to STATS_DIGITS significant digits)."""
    records = []
    for number, res in enumerate(lead.results):
        est = res.estimate
        lofo = None if est is None else est.lofo
        records.append({
            "mmlu_pro_setting": lead.setting, "analysis": res.spec.key, "covariates": res.spec.controls,
            "n": res.n, "n_base": res.n_base, "n_instruct": res.n_instruct, "n_families": res.n_families,
            "k": math.nan if est is None else est.k,
            **{col: math.nan if est is None else getattr(est, attr) for col, attr in (
                ("partial_r", "value"), ("ci_low", "ci_low"), ("ci_high", "ci_high"),
                ("bootstrap_valid", "boot_valid"), ("p_value", "p_value"), ("p_exact", "p_exact"),
                ("ols_coef", "coef"), ("ols_ci_low", "coef_ci_low"), ("ols_ci_high", "coef_ci_high"),
                ("detectable_r", "detectable"))},
            "bootstrap_reps": n_boot,
            "lofo_min": math.nan if lofo is None else lofo.minimum,
            "lofo_max": math.nan if lofo is None else lofo.maximum,
            "lofo_sign_flips": "" if lofo is None else ";".join(lofo.sign_flips),
            "not_computed": res.reason, "seed": f"{seed};{SEED_OFFSET + number}",
        })
    buf = io.StringIO()
    pd.DataFrame(records).to_csv(buf, index=False, float_format=f"%.{STATS_DIGITS}g", lineterminator="\n")
    return buf.getvalue()
