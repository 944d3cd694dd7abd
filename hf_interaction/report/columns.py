"""The report's data table layout: its columns, the predictors analysed, the order of scoring setups.

A leaf module (pandas only), so the table builder, the statistics driver and the figures share one
definition without importing each other.
"""

from __future__ import annotations

import pandas as pd

#: Columns of the data table, in order; the audit columns follow when the store has audits.
TABLE_COLUMNS = (
    "model_id", "family", "model_type", "base_or_instruct", "mmlu_pro_setting", "mmlu_pro_score",
    "score_source", "depth", "width", "r_dw", "log10_r_dw", "interval_distance", "abs_interval_distance",
    "interval_coordinate", "inside_interval", "total_params", "log10_params", "embedding_params",
    "non_embedding_params", "in_fit", "excluded_reason",
)
AUDIT_COLUMNS = ("aofe", "aofe_ratio", "diag_share_vs_baseline_log10", "diag_share_log10", "audit_revision",
                 "audit_settings_hash")
#: Predictors analysed against the score, in report order; audit metrics only when present.
SHAPE_PREDICTORS = ("abs_interval_distance", "log10_r_dw")
#: ``diag_share_vs_baseline_log10`` (audit --baseline init) is the one comparable across vocabularies;
#: ``diag_share_log10`` (log10 D/F) stands in for it only when no stored audit has a baseline.
AUDIT_PREDICTORS = ("aofe", "aofe_ratio", "diag_share_vs_baseline_log10", "diag_share_log10")
#: Significant digits of every float in the table: the table is rounded once when built, so the
#: statistics, the figures and the written CSV all use exactly the numbers the CSV shows.
TABLE_DIGITS = 10


def settings_in_order(table: pd.DataFrame) -> list[str]:
    """Scoring setups with at least one score: most models first, then by name."""
    counts = table.loc[table["mmlu_pro_setting"] != ""].groupby("mmlu_pro_setting").size()
    return sorted(counts.index, key=lambda s: (-int(counts[s]), s))


def predictors_of(table: pd.DataFrame) -> list[str]:
    """Predictors to analyse: shape position always, audit metrics when the table has them (log10 D/F
    only when no audit has the baseline-normalised D/F, and some audit has D/F)."""
    audit = [p for p in AUDIT_PREDICTORS if p in table.columns]
    if "diag_share_log10" in audit and ("diag_share_vs_baseline_log10" in audit
                                        or not table["diag_share_log10"].notna().any()):
        audit.remove("diag_share_log10")
    return list(SHAPE_PREDICTORS) + audit


#: How the report names each predictor.
PREDICTOR_LABELS = {
    "abs_interval_distance": "|interval_distance|",
    "log10_r_dw": "log10 R_D/W",
    "aofe": "AOFE",
    "aofe_ratio": "AOFE-ratio",
    "diag_share_vs_baseline_log10": "log10 D/F over fresh init",
    "diag_share_log10": "log10 D/F",
}
