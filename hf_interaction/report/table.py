"""The report's data table (one row per model and scoring setup) and its statistics, one setup at a time.

:func:`build_table` joins the model list (shape from its config fields, published scores with their
sources) with what the results store holds (``hf-interaction eval`` scores as their own scoring
setups, ``hf-interaction audit`` metrics as columns); :func:`analyse_table` runs :mod:`.stats` once
per scoring setup, never pooling setups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..shape.interval import DEFAULT_INTERVAL, Interval
from . import stats
from .columns import AUDIT_COLUMNS, TABLE_COLUMNS, TABLE_DIGITS, predictors_of, settings_in_order
from .inputs import load_model_list, number_field, row_shape
from .store_rows import store_audits, store_scores


def build_table(model_list_path: str | Path | Sequence[str | Path], interval: Interval = DEFAULT_INTERVAL,
                store=None) -> pd.DataFrame:
    """One row per (model, scoring setup): shape, interval position, size, score, audit metrics.

    Every listed model appears; a model with no score gets one row with an empty setting and score
    (``excluded_reason`` says why it is not in any fit). Rows are sorted (setting, model), so the
    table, and everything computed from it, does not depend on the list's row order. Floats are
    rounded to :data:`~.columns.TABLE_DIGITS` significant digits, so nothing downstream depends on
    the last bits of a math library. ``table.attrs`` carries ``params_source``, ``notes`` (what
    was skipped and why) and ``lead_setting`` (see :func:`lead_setting_of`).

    Several lists may be given: their rows are joined, and a (model, setup) pair listed again in a
    later list is left out with a note (the first list's row is used).
    """
    paths = [model_list_path] if isinstance(model_list_path, (str, Path)) else list(model_list_path)
    lists = [(path, load_model_list(path)) for path in paths]
    rows = [row for _, rows_of in lists for row in rows_of]
    wheres = [f"model list {path}, line {number}" for path, rows_of in lists
              for number in range(2, len(rows_of) + 2)]
    notes: list[str] = []
    params_sources: set[str] = set()
    records: list[dict] = []
    model_ids = {r["model_id"].strip() for r in rows}
    eval_rows, eval_notes = store_scores(store, model_ids) if store is not None else ([], [])
    audits, audit_notes = store_audits(store, model_ids) if store is not None else ({}, [])
    notes += eval_notes + audit_notes
    shapes: dict[str, dict] = {}
    has_tokens = any("training_tokens" in rows_of[0] for _, rows_of in lists)
    for row, where in zip(rows, wheres, strict=True):
        model = row["model_id"].strip()
        shape, source = row_shape(row, interval, where)
        params_sources.add(source)
        listed = row.get("total_params", "").strip()
        if listed and "meta device" in source and listed != str(shape["total_params"]):
            notes.append(f"{model}: the list's total_params {listed} differs from the counted "
                         f"{shape['total_params']}; the counted value is used")
        base = _base_record(row, shape, interval)
        if has_tokens:
            base["training_tokens"] = training_tokens(row, where)
        shapes.setdefault(model, base)
        score = row["_score"]
        setting = row["mmlu_pro_setting"].strip() if math.isfinite(score) else ""
        records.append({**base, "mmlu_pro_setting": setting, "mmlu_pro_score": score,
                        "score_source": row.get("mmlu_pro_source", "").strip() if setting else ""})
    for ev in eval_rows:
        records.append({**shapes[ev["model_id"]], "mmlu_pro_setting": ev["setting"],
                        "mmlu_pro_score": ev["score"], "score_source": ev["source"]})
    table = pd.DataFrame.from_records(_first_of_each(records, notes))
    table = _drop_unscored_duplicates(table)
    if audits:
        for col in AUDIT_COLUMNS:
            if col == "diag_share_vs_baseline_log10" and not any(
                    math.isfinite(a.get(col, math.nan)) for a in audits.values()):
                continue  # no stored audit has a baseline: no empty column
            numeric = col.startswith("aofe") or col.startswith("diag_share")
            table[col] = [audits.get(m, {}).get(col, math.nan if numeric else "") for m in table["model_id"]]
    table = _mark_fits(table)
    table["_unscored"] = table["mmlu_pro_setting"] == ""
    table = table.sort_values(["_unscored", "mmlu_pro_setting", "model_id"], kind="mergesort")
    columns = [c for c in TABLE_COLUMNS if c in table.columns]
    if has_tokens:  # published training tokens (the lead setup's lists), after the parameter counts
        columns.insert(columns.index("in_fit"), "training_tokens")
    columns += [c for c in AUDIT_COLUMNS if c in table.columns]
    table = _round_floats(table[columns].reset_index(drop=True))
    table.attrs["params_source"] = "; ".join(sorted(params_sources))
    table.attrs["notes"] = notes
    table.attrs["lead_setting"] = lead_setting_of(lists[0][1])
    return table


def lead_setting_of(rows: list[dict]) -> str:
    """The setup the report leads with: the one scoring setup of the first list, if it has only one."""
    settings = {r["mmlu_pro_setting"].strip() for r in rows if math.isfinite(r["_score"])}
    return settings.pop() if len(settings) == 1 else ""


def training_tokens(row: dict, where: str) -> float:
    """The row's published training-token count (NaN when empty); InputError when not a positive number."""
    value = number_field(row.get("training_tokens"), "training_tokens", where)
    if not (math.isnan(value) or value > 0):
        raise InputError(f"{where}: training_tokens must be positive, got {row['training_tokens'].strip()!r}")
    return value


def _first_of_each(records: list[dict], notes: list[str]) -> list[dict]:
    """Records with each (model, setup) pair once: the first list's row; later duplicates noted."""
    seen: set[tuple[str, str]] = set()
    out = []
    for rec in records:
        key = (rec["model_id"], rec["mmlu_pro_setting"])
        if key in seen:
            if key[1]:
                notes.append(f"{key[0]}: listed again for {key[1]!r} in a later list; the first row is used")
            continue
        seen.add(key)
        out.append(rec)
    return out


def _round_floats(table: pd.DataFrame) -> pd.DataFrame:
    """Every float column rounded to TABLE_DIGITS significant digits (NaN stays NaN)."""
    for col in table.columns:
        if pd.api.types.is_float_dtype(table[col]):
            table[col] = [float(f"{v:.{TABLE_DIGITS}g}") for v in table[col]]
    return table


def _base_record(row: dict, shape: dict, interval: Interval) -> dict:
    """The per-model columns (everything but the score)."""
    r_dw = float(shape["r_dw"])
    position = interval.position(r_dw)
    total = int(shape["total_params"])
    family = row.get("family", "").strip() or row["model_id"].strip()
    return {
        "model_id": row["model_id"].strip(),
        "family": family,
        "model_type": row.get("model_type", "").strip(),
        "base_or_instruct": (row.get("base_or_instruct") or "").strip(),
        "depth": int(shape["depth"]),
        "width": int(shape["width"]),
        "r_dw": r_dw,
        "log10_r_dw": math.log10(r_dw),
        "interval_distance": position["interval_distance"],
        "abs_interval_distance": abs(position["interval_distance"]),
        "interval_coordinate": position["interval_coordinate"],
        "inside_interval": bool(position["inside_interval"]),
        "total_params": total,
        "log10_params": math.log10(total),
        **({"embedding_params": int(shape["embedding_params"]),
            "non_embedding_params": int(shape["non_embedding_params"])} if "embedding_params" in shape else {}),
    }


def _drop_unscored_duplicates(table: pd.DataFrame) -> pd.DataFrame:
    """A model with no listed score but a stored eval score needs no empty-score row."""
    scored = set(table.loc[table["mmlu_pro_setting"] != "", "model_id"])
    return table[(table["mmlu_pro_setting"] != "") | ~table["model_id"].isin(scored)].copy()


def _mark_fits(table: pd.DataFrame) -> pd.DataFrame:
    """``in_fit`` and ``excluded_reason``: which rows the statistics use, and why not the others."""
    counts = table.loc[table["mmlu_pro_setting"] != ""].groupby("mmlu_pro_setting").size()
    in_fit, reasons = [], []
    for setting in table["mmlu_pro_setting"]:
        if setting == "":
            in_fit.append(False)
            reasons.append("no MMLU-Pro score")
        elif counts[setting] < stats.MIN_MODELS:
            in_fit.append(False)
            reasons.append(f"setting has {counts[setting]} model(s), fewer than {stats.MIN_MODELS}")
        else:
            in_fit.append(True)
            reasons.append("")
    table["in_fit"] = in_fit
    table["excluded_reason"] = reasons
    return table


def analyse_table(table: pd.DataFrame, *, n_boot: int = stats.DEFAULT_N_BOOT,
                  n_perm: int = stats.DEFAULT_N_PERM, seed: int = stats.DEFAULT_SEED
                  ) -> list[stats.SettingAnalysis]:
    """The statistics of each scoring setup separately (setups are never pooled)."""
    results = []
    for setting in settings_in_order(table):
        sub = table[table["mmlu_pro_setting"] == setting]
        predictors = {p: sub[p].to_numpy(dtype=float) for p in predictors_of(table)}
        results.append(stats.analyse_setting(
            setting, sub["mmlu_pro_score"].to_numpy(dtype=float), predictors,
            sub["log10_params"].to_numpy(dtype=float), list(sub["family"]), list(sub["model_id"]),
            n_boot=n_boot, n_perm=n_perm, seed=seed))
    return results
