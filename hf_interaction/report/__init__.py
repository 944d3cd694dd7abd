"""The MMLU-Pro correlation report (DESIGN.md §7).

Pipeline: :func:`build_table` joins a model list (shape from its stored config fields, published
scores with their sources) with what the results store holds (``hf-interaction eval`` scores as their
own scoring setups, ``hf-interaction audit`` metrics as columns); :func:`analyse_table` runs the
statistics of :mod:`.stats` once per scoring setup, never pooling setups; :func:`generate_report`
renders Markdown, self-contained HTML, figures and the data table, byte-identically for the same
inputs.
"""

from __future__ import annotations

import functools
import hashlib
import math
import shlex
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, UsageError, UserError
from ..interval import DEFAULT_INTERVAL, Interval
from ..presets import INTERVAL_ONLY_SETTINGS, comparable_settings
from ..store import settings_hash
from . import stats

REPORT_STEM = "mmlu_pro_correlation"
DATA_FILE = f"{REPORT_STEM}_data.csv"
STATS_FILE = f"{REPORT_STEM}_stats.csv"
EVAL_SETTING_PREFIX = "hf-interaction eval: "
#: Columns the report needs beyond what ``read_model_list`` checks.
REPORT_COLUMNS = ("family", "mmlu_pro_score", "mmlu_pro_setting")
#: Predictors analysed against the score, in report order; audit metrics only when present.
SHAPE_PREDICTORS = ("abs_interval_distance", "log10_r_dw")
#: ``diag_share_vs_baseline_log10`` (audit --baseline init) is the one comparable across vocabularies.
AUDIT_PREDICTORS = ("aofe", "aofe_ratio", "diag_share_vs_baseline_log10")

TABLE_COLUMNS = (
    "model_id", "family", "model_type", "base_or_instruct", "mmlu_pro_setting", "mmlu_pro_score",
    "score_source", "depth", "width", "r_dw", "log10_r_dw", "interval_distance", "abs_interval_distance",
    "interval_coordinate", "inside_interval", "total_params", "log10_params", "embedding_params",
    "non_embedding_params", "in_fit", "excluded_reason",
)
AUDIT_COLUMNS = ("aofe", "aofe_ratio", "diag_share_vs_baseline_log10", "audit_revision", "audit_settings_hash")

__all__ = ["build_table", "analyse_table", "generate_report", "short_setting_summary", "ReportOutput",
           "REPORT_STEM"]


# --------------------------------------------------------------------------------------------
# Model list
# --------------------------------------------------------------------------------------------

def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_model_list(path: str | Path) -> list[dict]:
    """Rows of a model list, checked for everything the report needs; InputError names the problem."""
    from ..model_list import read_model_list

    rows = read_model_list(path)
    columns = rows[0].keys()
    missing = [c for c in REPORT_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"model list {path} lacks column(s) {', '.join(missing)} needed by the report")
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"model list {path}, line {number}"
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"{where}: the number of fields does not match the header")
        model = row["model_id"].strip()
        if not model:
            raise InputError(f"{where}: empty model_id")
        row["_score"] = _parse_score(row["mmlu_pro_score"], where)
        setting = row["mmlu_pro_setting"].strip()
        if math.isfinite(row["_score"]) and not setting:
            raise InputError(f"{where} ({model}): a score without its mmlu_pro_setting cannot be used")
        key = (model, setting if math.isfinite(row["_score"]) else "")
        if key in seen:
            raise InputError(f"{where}: {model} appears twice for the same setting")
        seen.add(key)
    return rows


def _parse_score(text: str, where: str) -> float:
    text = text.strip()
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: mmlu_pro_score {text!r} is not a number") from None
    if not (0.0 <= value <= 100.0):
        raise InputError(f"{where}: mmlu_pro_score {value} is outside 0-100 (percent)")
    return value


@functools.lru_cache(maxsize=1024)
def _shape_cached(fields: tuple[tuple[str, str], ...], interval: Interval) -> dict:
    from ..shape import shape_from_fields

    return shape_from_fields(dict(fields), interval)


def _shape(row: dict, interval: Interval, where: str) -> tuple[dict, str]:
    """Shape fields of a row, and where the parameter count came from.

    Preferred: the meta-device count of :func:`hf_interaction.shape.shape_from_fields`. If the
    shape module or its dependencies (torch, transformers) cannot be imported, fall back to the
    list's ``total_params`` column and depth / width from its config fields, and say so.
    """
    fields = tuple(sorted((k, v) for k, v in row.items() if isinstance(k, str) and not k.startswith("_")))
    try:
        shape = _shape_cached(fields, interval)
        return shape, "counted on the meta device from the list's config fields (hf_interaction.shape)"
    except ModuleNotFoundError:
        pass
    except UserError as exc:
        raise InputError(f"{where} ({row['model_id']}): {exc.one_line()}") from None
    try:
        depth, width = int(row["num_hidden_layers"]), int(row["hidden_size"])
        total = int(row["total_params"])
    except (KeyError, ValueError):
        raise InputError(f"{where} ({row['model_id']}): needs integer num_hidden_layers, hidden_size and "
                         "total_params (the shape module is not available to count parameters)") from None
    if depth <= 0 or width <= 0 or total <= 0:
        raise InputError(f"{where} ({row['model_id']}): depth, width and total_params must be positive")
    return {"depth": depth, "width": width, "r_dw": depth / width, "total_params": total}, (
        "the list's total_params column (hf_interaction.shape not importable)")


# --------------------------------------------------------------------------------------------
# Results store
# --------------------------------------------------------------------------------------------

def _number(obj: object, keys: tuple[str, ...]) -> float:
    """First of ``keys`` found in a payload, as a float; values may be {"value": x} dicts."""
    if not isinstance(obj, dict):
        return math.nan
    for key in keys:
        value = obj.get(key)
        if isinstance(value, dict):
            value = value.get("value", value.get("estimate"))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    for nested in ("overall", "metrics", "results"):
        if isinstance(obj.get(nested), dict):
            found = _number(obj[nested], keys)
            if math.isfinite(found):
                return found
    return math.nan


def eval_setting_label(settings: dict, payload: dict) -> str | None:
    """The scoring-setup name of a stored evaluation, e.g.
    ``hf-interaction eval: leaderboard_mmlu_pro, 5-shot (acc ×100)``.

    Settings that change the score (task, few-shot count, limit, subsample) are part of the name,
    so evaluations that differ in them are different setups and never pooled.
    """
    task = settings.get("task") or payload.get("task")
    if not task:
        return None
    qualifiers = []
    shots = settings.get("num_fewshot", payload.get("num_fewshot"))
    if shots is not None:
        qualifiers.append(f"{shots}-shot")
    qualifiers += [f"{key} {settings[key]}" for key in ("limit", "subsample")
                   if settings.get(key) not in (None, False, "")]
    extra = f", {', '.join(qualifiers)}" if qualifiers else ""
    metric = payload.get("metric") or "acc"
    return f"{EVAL_SETTING_PREFIX}{task}{extra} ({metric} ×100)"


def store_scores(store, model_ids: set[str]) -> tuple[list[dict], list[str]]:
    """MMLU-Pro scores measured by ``hf-interaction eval`` for listed models, one per model and setup.

    The newest record wins when a model has several for the same setup. Returns score rows
    (model_id, setting, score, source) and notes on what was skipped.
    """
    notes: list[str] = []
    chosen: dict[tuple[str, str], object] = {}
    skipped_unlisted = 0
    for rec in store.list("evaluations"):
        if rec.model not in model_ids:
            skipped_unlisted += 1
            continue
        label = eval_setting_label(rec.settings, rec.payload)
        acc = _number(rec.payload, ("acc", "accuracy", "score"))
        if label is None or not math.isfinite(acc):
            notes.append(f"stored evaluation of {rec.model}@{rec.revision} has no task or accuracy; skipped")
            continue
        key = (rec.model, label)
        old = chosen.get(key)
        if old is None or (rec.created_at, rec.revision, rec.settings_hash) > (
                old.created_at, old.revision, old.settings_hash):
            chosen[key] = rec
    if skipped_unlisted:
        notes.append(f"{skipped_unlisted} stored evaluation(s) of models not in the list were not used")
    rows = []
    for (model, label), rec in sorted(chosen.items()):
        acc = _number(rec.payload, ("acc", "accuracy", "score"))
        rows.append({"model_id": model, "setting": label, "score": acc * 100 if acc <= 1.0 else acc,
                     "source": f"results store: evaluation {model}@{rec.revision} "
                               f"(settings {rec.settings_hash})"})
    return rows, notes


def audit_comparability(rec) -> str:
    """A hash of what changes an audit's point estimates: its settings less the interval-only ones
    (:data:`hf_interaction.presets.INTERVAL_ONLY_SETTINGS`), and its output function (causal-LM
    logits or an encoder's hidden state). Audits with the same hash are comparable even when their
    ``groups_per_half`` (chosen from the vocabulary), ``n_boot`` or ``jvp_method`` differ."""
    metrics = rec.payload.get("metrics") if isinstance(rec.payload.get("metrics"), dict) else {}
    return settings_hash({"settings": comparable_settings(rec.settings),
                          "output_function": metrics.get("output_function")})


def store_audits(store, model_ids: set[str]) -> tuple[dict[str, dict], list[str]]:
    """AOFE and AOFE-ratio from ``hf-interaction audit`` for listed models.

    Metrics from audits that differ in what changes the point estimates (window length, windows,
    probes, seed, dtype, corpus, output function; see :func:`audit_comparability`) are not
    comparable, so only the comparable group most listed models have is used (ties: the smallest
    hash); the newest record per model wins. ``audit_settings_hash`` is each record's own settings hash.
    """
    records = [r for r in store.list("audits") if r.model in model_ids
               and math.isfinite(_number(r.payload, ("aofe",)))
               and math.isfinite(_number(r.payload, ("aofe_ratio",)))]
    if not records:
        return {}, []
    group = {id(r): audit_comparability(r) for r in records}
    counts = Counter(g for _, g in {(r.model, group[id(r)]) for r in records})
    best = min(counts, key=lambda g: (-counts[g], g))
    used = [r for r in records if group[id(r)] == best]
    notes = []
    if len(counts) > 1:
        left_out = sorted({r.model for r in records} - {r.model for r in used})
        notes.append(f"audits of comparable settings {best} are used ({counts[best]} models); audits with other "
                     "window, probe, seed, dtype, corpus or output-function settings are not comparable and were "
                     "left out" + (f" (models without a usable audit: {', '.join(left_out)})" if left_out else ""))
    out: dict[str, dict] = {}
    vocabularies: dict[str, object] = {}
    for rec in sorted(used, key=lambda r: (r.model, r.created_at, r.revision)):
        out[rec.model] = {"aofe": _number(rec.payload, ("aofe",)),
                          "aofe_ratio": _number(rec.payload, ("aofe_ratio",)),
                          "diag_share_vs_baseline_log10": _number(rec.payload, ("diag_share_vs_baseline_log10",)),
                          "audit_revision": rec.revision, "audit_settings_hash": rec.settings_hash}
        shape = rec.payload.get("shape") if isinstance(rec.payload.get("shape"), dict) else {}
        vocabularies[rec.model] = shape.get("vocab_size")
    if len(set(vocabularies.values())) > 1:
        with_baseline = sum(math.isfinite(v["diag_share_vs_baseline_log10"]) for v in out.values())
        notes.append(f"the audited models have {len(set(vocabularies.values()))} different vocabulary sizes: AOFE and "
                     "AOFE-ratio scale with V/d and T, so as predictors they rank vocabularies as much as training; "
                     f"diag_share_vs_baseline_log10 (audit --baseline init; {with_baseline} of {len(out)} models) "
                     "is comparable across them")
    if len({out[m]["audit_settings_hash"] for m in out}) > 1:
        ignored = ", ".join(sorted(INTERVAL_ONLY_SETTINGS))
        notes.append("the audits used differ only in settings that change their confidence intervals or how the "
                     f"same quantity is computed, not their point estimates ({ignored}; groups_per_half is chosen "
                     "from the vocabulary), so their settings hashes differ")
    return out, notes


# --------------------------------------------------------------------------------------------
# The data table
# --------------------------------------------------------------------------------------------

def build_table(model_list_path: str | Path, interval: Interval = DEFAULT_INTERVAL,
                store=None) -> pd.DataFrame:
    """One row per (model, scoring setup): shape, interval position, size, score, audit metrics.

    Every listed model appears; a model with no score gets one row with an empty setting and score
    (``excluded_reason`` says why it is not in any fit). Rows are sorted (setting, model), so the
    table, and everything computed from it, does not depend on the list's row order.
    ``table.attrs`` carries ``params_source`` and ``notes`` (what was skipped and why).
    """
    rows = load_model_list(model_list_path)
    notes: list[str] = []
    params_sources: set[str] = set()
    records: list[dict] = []
    model_ids = {r["model_id"].strip() for r in rows}
    eval_rows, eval_notes = store_scores(store, model_ids) if store is not None else ([], [])
    audits, audit_notes = store_audits(store, model_ids) if store is not None else ({}, [])
    notes += eval_notes + audit_notes
    shapes: dict[str, dict] = {}
    for number, row in enumerate(rows, start=2):
        model = row["model_id"].strip()
        shape, source = _shape(row, interval, f"model list {model_list_path}, line {number}")
        params_sources.add(source)
        listed = row.get("total_params", "").strip()
        if listed and "meta device" in source and listed != str(shape["total_params"]):
            notes.append(f"{model}: the list's total_params {listed} differs from the counted "
                         f"{shape['total_params']}; the counted value is used")
        base = _base_record(row, shape, interval)
        shapes[model] = base
        score = row["_score"]
        setting = row["mmlu_pro_setting"].strip() if math.isfinite(score) else ""
        records.append({**base, "mmlu_pro_setting": setting, "mmlu_pro_score": score,
                        "score_source": row.get("mmlu_pro_source", "").strip() if setting else ""})
    for ev in eval_rows:
        records.append({**shapes[ev["model_id"]], "mmlu_pro_setting": ev["setting"],
                        "mmlu_pro_score": ev["score"], "score_source": ev["source"]})
    table = pd.DataFrame.from_records(records)
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
    columns += [c for c in AUDIT_COLUMNS if c in table.columns]
    table = table[columns].reset_index(drop=True)
    table.attrs["params_source"] = "; ".join(sorted(params_sources))
    table.attrs["notes"] = notes
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


def settings_in_order(table: pd.DataFrame) -> list[str]:
    """Scoring setups with at least one score: most models first, then by name."""
    counts = table.loc[table["mmlu_pro_setting"] != ""].groupby("mmlu_pro_setting").size()
    return sorted(counts.index, key=lambda s: (-int(counts[s]), s))


def predictors_of(table: pd.DataFrame) -> list[str]:
    """Predictors to analyse: shape position always, audit metrics when the table has them."""
    return list(SHAPE_PREDICTORS) + [p for p in AUDIT_PREDICTORS if p in table.columns]


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


# --------------------------------------------------------------------------------------------
# The whole report
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReportOutput:
    """What :func:`generate_report` wrote, and the analysis behind it."""

    out_dir: Path
    files: tuple[Path, ...]
    table: pd.DataFrame
    analyses: tuple[stats.SettingAnalysis, ...]


def regenerate_command(list_path: str, out_dir: str, interval: Interval, store_path: str | None,
                       n_boot: int, n_perm: int, seed: int, interval_file: str | None = None) -> str:
    """The command line that regenerates this report (options at their defaults left out)."""
    parts = ["hf-interaction", "report", "--list", str(list_path), "--out", str(out_dir)]
    if interval_file:
        parts += ["--interval-file", str(interval_file)]
    elif interval != DEFAULT_INTERVAL:
        parts += ["--interval", f"{interval.lo:g}:{interval.hi:g}"]
    parts += ["--store", str(store_path)] if store_path else ["--no-store"]
    for flag, value, default in (("--n-boot", n_boot, stats.DEFAULT_N_BOOT),
                                 ("--n-perm", n_perm, stats.DEFAULT_N_PERM),
                                 ("--seed", seed, stats.DEFAULT_SEED)):
        if value != default:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def provenance(list_path: str | Path, table: pd.DataFrame, interval: Interval, store_desc: str,
               command: str, n_boot: int, n_perm: int, seed: int) -> dict:
    """Everything needed to know what this report was computed from."""
    import matplotlib
    import scipy
    import seaborn

    from .. import __version__

    return {
        "model list": f"`{list_path}` (sha256 `{file_sha256(list_path)}`)",
        "interval": f"R_D/W ∈ [{interval.lo:g}, {interval.hi:g}] (centre {interval.centre:.4f}); "
                    f"source: {interval.source}",
        "parameter counts": table.attrs.get("params_source", ""),
        "results store": store_desc,
        "statistics": f"{n_boot} bootstrap resamples, {n_perm} permutations (exact enumeration when "
                      f"n! ≤ {n_perm}), seed {seed}",
        "software": f"hf-interaction {__version__}; numpy {np.__version__}, scipy {scipy.__version__}, "
                    f"pandas {pd.__version__}, matplotlib {matplotlib.__version__}, "
                    f"seaborn {seaborn.__version__}",
        "regenerate": f"`{command}`",
    }


def generate_report(list_path: str | Path, out_dir: str | Path = "reports",
                    interval: Interval = DEFAULT_INTERVAL, store=None, *,
                    store_path: str | None = None, interval_file: str | None = None,
                    n_boot: int = stats.DEFAULT_N_BOOT, n_perm: int = stats.DEFAULT_N_PERM,
                    seed: int = stats.DEFAULT_SEED) -> ReportOutput:
    """Compute and write the whole report; nothing is written unless everything succeeded.

    Files: ``mmlu_pro_correlation.{md,html}``, the data table and statistics CSVs, and each figure
    as PNG and SVG. Report files from an earlier run that this run does not produce (an AOFE figure
    when the store no longer has audits) are removed so the directory never mixes runs.
    ``store_path`` and ``interval_file`` only go into the regenerate command shown in the report.
    """
    from . import figures, render

    for name, value in (("--n-boot", n_boot), ("--n-perm", n_perm)):
        if value < 100:
            raise UsageError(f"{name} must be at least 100, got {value}")
    table = build_table(list_path, interval, store)
    analyses = analyse_table(table, n_boot=n_boot, n_perm=n_perm, seed=seed)
    command = regenerate_command(str(list_path), str(out_dir), interval, store_path, n_boot, n_perm, seed,
                                 interval_file)
    store_desc = _describe_store(store, store_path, table)
    prov = provenance(list_path, table, interval, store_desc, command, n_boot, n_perm, seed)
    figs = figures.make_figures(table, analyses, interval)
    files: dict[str, bytes] = {}
    for name, (png, svg) in figs.items():
        files[f"{name}.png"] = png
        files[f"{name}.svg"] = svg
    files[DATA_FILE] = render.table_csv(table).encode()
    files[STATS_FILE] = render.stats_csv(analyses).encode()
    doc = render.build_document(table, analyses, interval, prov, figs, DATA_FILE, STATS_FILE)
    files[f"{REPORT_STEM}.md"] = render.to_markdown(doc).encode()
    files[f"{REPORT_STEM}.html"] = render.to_html(doc, figs).encode()
    written = _write_all(Path(out_dir), files, figures.ALL_FIGURES)
    return ReportOutput(Path(out_dir), written, table, tuple(analyses))


def _describe_store(store, store_path: str | None, table: pd.DataFrame) -> str:
    if store is None:
        return "not used (`--no-store` or no store file): published scores only"
    n_eval = int(table["mmlu_pro_setting"].str.startswith(EVAL_SETTING_PREFIX).sum())
    n_audit = int(table["aofe"].notna().groupby(table["model_id"]).any().sum()) if "aofe" in table else 0
    return (f"`{store_path or store.path}`: {n_eval} evaluation score(s) and audits of {n_audit} model(s) "
            "used")


def _write_all(out: Path, files: dict[str, bytes], all_figures: tuple[str, ...]) -> tuple[Path, ...]:
    """Write every file (each via a temporary name and a rename) and remove stale report files."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sorted(files):
        path = out / name
        tmp = out / f".{name}.partial"
        tmp.write_bytes(files[name])
        tmp.replace(path)
        written.append(path)
    for stem in all_figures:
        for ext in ("png", "svg"):
            stale = out / f"{stem}.{ext}"
            if f"{stem}.{ext}" not in files and stale.exists():
                stale.unlink()
    return tuple(written)


def short_setting_summary(result: ReportOutput) -> list[str]:
    """One console line per scoring setup: n and the short verdict."""
    from .render import short_verdict

    return [f"{a.setting} (n = {a.n}): {short_verdict(a)}" for a in result.analyses]
