"""What the report reads from the results store: ``hf-interaction eval`` scores and
``hf-interaction audit`` metrics of the listed models.

Only documented keys (:mod:`hf_interaction.schema`) are read — an evaluation's ``task``, ``metric``
and ``acc`` (a fraction) with the ``num_fewshot``, ``limit`` and ``subsample`` of its settings; an
audit's ``metrics.aofe``, ``metrics.aofe_ratio``, ``metrics.output_function`` and, with ``--baseline
init``, ``metrics.diag_share_vs_baseline_log10``, and ``metrics.diag_share`` (D/F, as its log10) when
present. A record of a listed model that lacks the required keys is refused with one InputError line
rather than guessed at. Failures recorded by ``audit --list`` / ``eval --list`` (the store's
``failures`` table) and listed models without a stored audit are named in the notes.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import cast

from ..audit.presets import INTERVAL_ONLY_SETTINGS, comparable_settings
from ..core.store import Record, key_hash
from ..errors import InputError

EVAL_SETTING_PREFIX = "hf-interaction eval: "
#: Keys of a stored evaluation's payload the report reads, and those of its settings.
EVAL_PAYLOAD_KEYS = ("task", "metric", "acc")
EVAL_SETTINGS_KEYS = ("num_fewshot",)
#: Keys of a stored audit's ``metrics`` the report requires, and the one it reads when present.
AUDIT_METRIC_KEYS = ("aofe", "aofe_ratio")
BASELINE_METRIC = "diag_share_vs_baseline_log10"
#: D/F of a stored audit (``metrics.diag_share``), read when present; the table's column is its log10,
#: the audit predictor when no audit has the baseline ratio (not comparable across vocabularies).
SHARE_METRIC, SHARE_COLUMN = "diag_share", "diag_share_log10"
_NO_STORE_HINT = "re-run the command that wrote it, or pass --no-store to use published scores only"


def _describe(kind: str, rec) -> str:
    return f"stored {kind} of {rec.model}@{rec.revision} (settings {rec.key_hash})"


def _require(obj: object, keys: tuple[str, ...], what: str) -> dict:
    """``obj`` as a dict holding every one of ``keys``, or one InputError line naming what lacks."""
    missing = list(keys) if not isinstance(obj, dict) else [k for k in keys if k not in obj]
    if missing:
        raise InputError(f"{what} lacks {', '.join(missing)}", _NO_STORE_HINT)
    return cast(dict, obj)


def _number(value: object, what: str) -> float:
    """A stored metric as a float; ``None`` (JSON for "not computable") is NaN; anything else is refused."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{what} is {value!r}, not a number", _NO_STORE_HINT)
    return float(value)


def eval_setting_label(settings: dict, payload: dict) -> str:
    """The scoring-setup name of a stored evaluation, e.g.
    ``hf-interaction eval: leaderboard_mmlu_pro, 5-shot (acc ×100)``.

    Settings that change the score (task, few-shot count, limit, subsample) are part of the name,
    so evaluations that differ in them are different setups and never pooled.
    """
    qualifiers = [f"{settings['num_fewshot']}-shot"] if settings["num_fewshot"] is not None else []
    qualifiers += [f"{key} {settings[key]}" for key in ("limit", "subsample")
                   if settings.get(key) not in (None, False, "")]
    extra = f", {', '.join(qualifiers)}" if qualifiers else ""
    return f"{EVAL_SETTING_PREFIX}{payload['task']}{extra} ({payload['metric']} ×100)"


def _eval_score(rec) -> tuple[str, float]:
    """The setup label and score (percent) of a stored evaluation; InputError if it lacks them."""
    what = _describe("evaluation", rec)
    payload = _require(rec.payload, EVAL_PAYLOAD_KEYS, what)
    settings = _require(rec.key, EVAL_SETTINGS_KEYS, f"the settings of {what}")
    acc = _number(payload["acc"], f"acc of {what}")
    if not (0.0 <= acc <= 1.0):
        raise InputError(f"acc of {what} is {acc}, not a fraction in [0, 1]", _NO_STORE_HINT)
    return eval_setting_label(settings, payload), 100.0 * acc


def store_scores(store, model_ids: set[str]) -> tuple[list[dict], list[str]]:
    """MMLU-Pro scores measured by ``hf-interaction eval`` for listed models, one per model and setup.

    The newest record wins when a model has several for the same setup. Returns score rows
    (model_id, setting, score, source) and notes on what was skipped.
    """
    notes: list[str] = []
    chosen: dict[tuple[str, str], tuple[Record, float]] = {}
    skipped_unlisted = 0
    for rec in store.list("evaluations"):
        if rec.model not in model_ids:
            skipped_unlisted += 1
            continue
        label, score = _eval_score(rec)
        old = chosen.get((rec.model, label))
        if old is None or (rec.created_at, rec.revision, rec.key_hash) > (
                old[0].created_at, old[0].revision, old[0].key_hash):
            chosen[(rec.model, label)] = (rec, score)
    if skipped_unlisted:
        notes.append(f"{skipped_unlisted} stored evaluation(s) of models not in the list were not used")
    notes += failure_notes(store, "evaluations", model_ids, {model for model, _ in chosen})
    rows = [{"model_id": model, "setting": label, "score": score,
             "source": f"results store: evaluation {model}@{rec.revision} (settings {rec.key_hash})"}
            for (model, label), (rec, score) in sorted(chosen.items())]
    return rows, notes


def audit_comparability(rec) -> str:
    """A hash of what changes an audit's point estimates: its settings less the interval-only ones
    (:data:`hf_interaction.audit.presets.INTERVAL_ONLY_SETTINGS`), and its output function (causal-LM
    logits or an encoder's hidden state). Audits with the same hash are comparable even when their
    ``groups_per_half`` (chosen from the vocabulary), ``n_boot`` or ``jvp_method`` differ."""
    return key_hash({"settings": comparable_settings(rec.key),
                          "output_function": rec.payload["metrics"].get("output_function")})


def _audit_metrics(rec) -> dict[str, float]:
    """AOFE, AOFE-ratio, (NaN without a baseline) the baseline ratio and (NaN when absent or not
    positive) log10 D/F of a stored audit."""
    what = _describe("audit", rec)
    metrics = _require(_require(rec.payload, ("metrics",), what)["metrics"], AUDIT_METRIC_KEYS,
                       f"the metrics of {what}")
    out = {key: _number(metrics.get(key), f"metrics.{key} of {what}") for key in (*AUDIT_METRIC_KEYS, BASELINE_METRIC)}
    share = _number(metrics.get(SHARE_METRIC), f"metrics.{SHARE_METRIC} of {what}")
    out[SHARE_COLUMN] = math.log10(share) if math.isfinite(share) and share > 0 else math.nan
    return out


def list_run_summary(notes: list[str]) -> list[str]:
    """Console lines for ``report``: the listed models whose list run failed, and how many have no audit."""
    failed = sorted({n.split(": ", 1)[0] for n in notes if "--list` failed (" in n})
    lines = [f"{len(failed)} listed model(s) failed in `audit --list` / `eval --list` (reasons under \"Notes on "
             f"the inputs\"): {', '.join(failed)}"] if failed else []
    return lines + [n.split(" (`hf-interaction", 1)[0] for n in notes if n.startswith("no stored audit for ")]


def failure_notes(store, kind: str, model_ids: set[str], have: set[str]) -> list[str]:
    """Notes naming the listed models whose ``audit --list`` / ``eval --list`` run failed (the
    store's ``failures`` table) and have no usable result (``have``), with the recorded reason."""
    command = "audit" if kind == "audits" else "eval"
    return [f"{f['model']}: `{command} --list` failed ({f['created_at']}): {f['reason']}"
            for f in sorted(store.failures(kind), key=lambda f: f["model"])
            if f["model"] in model_ids and f["model"] not in have]


def missing_audit_note(store, model_ids: set[str], have: set[str]) -> list[str]:
    """A note naming the listed models without a usable stored audit, once the store has audits or
    audit failures for any listed model (an audit-free store needs no such list)."""
    failed = {f["model"] for f in store.failures("audits")}
    missing = sorted(model_ids - have - failed)
    if not missing or not (have or failed & model_ids):
        return []
    return [f"no stored audit for {len(missing)} of {len(model_ids)} listed model(s) (`hf-interaction audit "
            f"--list` computes them): {', '.join(missing)}"]


def store_audits(store, model_ids: set[str]) -> tuple[dict[str, dict], list[str]]:
    """AOFE and AOFE-ratio from ``hf-interaction audit`` for listed models.

    Metrics from audits that differ in what changes the point estimates (window length, windows,
    probes, seed, dtype, corpus, output function; see :func:`audit_comparability`) are not
    comparable, so only the comparable group most listed models have is used (ties: the smallest
    hash); the newest record per model wins. An audit whose AOFE or AOFE-ratio was not computable
    (stored as null) is not used. ``audit_settings_hash`` is each record's own settings hash.
    """
    metrics = {id(r): (r, _audit_metrics(r)) for r in store.list("audits") if r.model in model_ids}
    records = [r for r, m in metrics.values() if all(math.isfinite(m[k]) for k in AUDIT_METRIC_KEYS)]
    if not records:
        return {}, failure_notes(store, "audits", model_ids, set()) + missing_audit_note(store, model_ids, set())
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
        out[rec.model] = {**metrics[id(rec)][1], "audit_revision": rec.revision,
                          "audit_settings_hash": rec.key_hash}
        shape = rec.payload.get("shape") if isinstance(rec.payload.get("shape"), dict) else {}
        vocabularies[rec.model] = shape.get("vocab_size")
    if len(set(vocabularies.values())) > 1:
        with_baseline = sum(math.isfinite(v[BASELINE_METRIC]) for v in out.values())
        notes.append(f"the audited models have {len(set(vocabularies.values()))} different vocabulary sizes: AOFE and "
                     "AOFE-ratio scale with V/d and T, so as predictors they rank vocabularies as much as training; "
                     f"{BASELINE_METRIC} (audit --baseline init; {with_baseline} of {len(out)} models) "
                     "is comparable across them")
    if len({out[m]["audit_settings_hash"] for m in out}) > 1:
        ignored = ", ".join(sorted(INTERVAL_ONLY_SETTINGS))
        notes.append("the audits used differ only in settings that change their confidence intervals or how the "
                     f"same quantity is computed, not their point estimates ({ignored}; groups_per_half is chosen "
                     "from the vocabulary), so their settings hashes differ")
    notes += failure_notes(store, "audits", model_ids, set(out)) + missing_audit_note(store, model_ids, set(out))
    return out, notes
