"""The side-by-side table shared by the terminal and ``compare.md``: which quantities are rows, how
each value and delta is written (through :mod:`hf_interaction.core.numbers`), and the header and cells."""

from __future__ import annotations

from typing import Any, cast

from ..core.numbers import count, fixed, interval, sci, sig, signed
from .comparison import AUDIT_KEYS, EVAL_KEYS, MISSING, Comparison
from .wording import short_revision

# (row label, value key, cell kind, delta key or None)
TABLE_ROWS: tuple[tuple[str, str, str, str | None], ...] = (
    ("revision", "revision", "revision", None),
    ("weights", "weights_format", "text", None),
    ("quantization", "quantization", "text", None),
    ("depth L", "depth", "int", "delta_depth"),
    ("width d", "width", "int", "delta_width"),
    ("R_D/W", "r_dw", "fixed", "delta_r_dw"),
    ("params (total)", "total_params", "int", "ratio_total_params"),
    ("params (non-embedding)", "non_embedding_params", "int", "ratio_non_embedding_params"),
    ("interval distance (decades)", "interval_distance", "signed", "delta_interval_distance"),
    ("interval coordinate", "interval_coordinate", "signed", "delta_interval_coordinate"),
    ("inside interval", "inside_interval", "bool", None),
    ("AOFE [CI]", "aofe", "ci", "delta_aofe"),
    ("AOFE-ratio [CI]", "aofe_ratio", "ci", "delta_aofe_ratio"),
    ("diagonal share D/F [CI]", "diag_share", "sci_ci", None),
    ("log10 D/F over fresh init [CI]", "diag_share_vs_baseline_log10", "ci", None),
    ("probe loss (nats/token)", "probe_loss_nats_per_token", "fixed", "delta_probe_loss_nats_per_token"),
    ("probe loss (bits/byte)", "probe_loss_bits_per_byte", "fixed", "delta_probe_loss_bits_per_byte"),
    ("MMLU-Pro acc ± stderr", "mmlu_pro_acc", "acc", "delta_mmlu_pro_acc"),
    ("MMLU-Pro task", "mmlu_pro_task", "text", None),
    ("audit", "audit_status", "audit", None),
)


def _with_ci(row: dict[str, Any], key: str, fmt) -> str:
    """The value, then ``[lo, hi]`` when the audit has an interval."""
    lo, hi = row.get(f"{key}_ci_lo"), row.get(f"{key}_ci_hi")
    return fmt(row[key]) + (f" {interval(lo, hi, fmt)}" if lo is not None and hi is not None else "")


def value_cell(row: dict[str, Any], key: str, kind: str) -> str:
    """A value formatted for the table; ``missing`` for audit/eval values that are not available."""
    value = row.get(key)
    if value is None and kind != "audit":
        missing_audit = key in AUDIT_KEYS and row.get("audit_status") == MISSING
        missing_eval = key in EVAL_KEYS and row.get("mmlu_pro_acc") is None
        return MISSING if missing_audit or missing_eval else "-"
    if kind == "revision":
        return short_revision(str(value))
    if kind == "int":
        return count(value)
    if kind == "fixed":
        return fixed(value, 4)
    if kind == "signed":
        return signed(value)
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "ci":
        return _with_ci(row, key, sig)
    if kind == "sci_ci":
        return _with_ci(row, key, sci)
    if kind == "acc":
        err = row.get("mmlu_pro_acc_stderr")
        return fixed(value, 4) + (f" ± {fixed(err, 4)}" if err is not None else "")
    if kind == "audit":
        status = cast(str, value)  # audit_status is always set
        return status if not row.get("audit_settings_hash") else f"{status} ({row['audit_settings_hash'][:8]})"
    return str(value)


def delta_cell(row: dict[str, Any], key: str | None) -> str:
    """A delta: ``×ratio`` for parameter counts, a signed difference otherwise; empty for rows without one."""
    if key is None:
        return ""
    value = row.get(key)
    if value is None:
        return "-"
    if key.startswith("ratio_"):
        return f"×{sig(value, 3)}"
    return ("-" if value < 0 else "+") + sig(abs(value))


def delta_header(label: str, reference: str) -> str:
    return f"Δ {label} vs {reference}"


def table_cells(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the side-by-side table: a column per model, then for every model after
    the first a delta column against the first (absolute, except parameter counts: ratio ×)."""
    rows = comparison.rows()
    ref = comparison.reference.label
    header = ["quantity", rows[0]["label"]]
    for row in rows[1:]:
        header += [row["label"], delta_header(row["label"], ref)]
    body = []
    for title, key, kind, delta_key in TABLE_ROWS:
        line = [title, value_cell(rows[0], key, kind)]
        for row in rows[1:]:
            line += [value_cell(row, key, kind), delta_cell(row, delta_key)]
        body.append(line)
    return header, body
