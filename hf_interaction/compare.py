"""Side-by-side comparison of models (issue 5): shape and interval position (DESIGN §2–3), the
interaction metrics and probe loss of stored audits (§4), and stored MMLU-Pro scores (§7), with
deltas against the first model.

Nothing is computed silently: a model without a stored audit is reported as missing unless
``run=True``; audits (or evaluations) made with different settings are reported by name
(``settings_mismatch``), or refused with ``require_same_settings=True``; the interval used is
recorded in every output. :func:`compare_models` is the API, :func:`write_outputs` writes the
Markdown/CSV/JSON/figure files of ``compare --out``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, NotReachableError, UsageError
from .gguf_file import PACKAGED_GGUF
from .interval import DEFAULT_INTERVAL, Interval
from .presets import INTERVAL_ONLY_SETTINGS
from .source import ModelRef, resolve_model, split_revision
from .store import Record, Store, settings_hash

if TYPE_CHECKING:  # torch is imported only when an audit is computed
    from .audit import AuditSettings

# Parameter counts differ multiplicatively between models: their delta is a ratio (B / A).
RATIO_DELTAS = ("total_params", "non_embedding_params")
ABSOLUTE_DELTAS = ("depth", "width", "r_dw", "interval_distance", "interval_coordinate", "aofe", "aofe_ratio",
                   "probe_loss_nats_per_token", "probe_loss_bits_per_byte", "mmlu_pro_acc")
AUDIT_KEYS = ("aofe", "aofe_ratio", "diag_share", "diag_share_vs_baseline_log10", "probe_loss_nats_per_token",
              "probe_loss_bits_per_byte")
#: What AOFE, AOFE-ratio and the diagonal share scale with besides training (docs/metrics.md): models
#: that differ in any of these are not comparable on those metrics, only relative to a fresh init.
STRUCTURAL_KEYS = {"vocab_size": "vocabulary V", "probe_T": "window T", "output_function": "output function"}
EVAL_KEYS = ("mmlu_pro_acc", "mmlu_pro_task")
MISSING = "missing"


# --------------------------------------------------------------------------------------------
# Choosing among stored audits
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AuditMatch:
    """Which stored audits qualify: a settings hash (or a prefix of one) and/or settings fields that
    must be equal (e.g. ``{"T": 32, "seed": 42}``). Empty: every audit qualifies (the newest wins)."""

    settings_hash: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.settings_hash and not self.fields

    def matches(self, record: Record) -> bool:
        if self.settings_hash and not record.settings_hash.startswith(self.settings_hash):
            return False
        return all(record.settings.get(k) == v for k, v in self.fields.items())

    def describe(self) -> str:
        parts = [f"settings hash {self.settings_hash}"] if self.settings_hash else []
        parts += [f"{k}={v}" for k, v in sorted(self.fields.items())]
        return ", ".join(parts)


def _newest_first(records: list[Record]) -> list[Record]:
    """Newest first by creation time, ties (same second) broken by insertion order (the store's id
    order), so the record written last wins."""
    order = sorted(enumerate(records), key=lambda pair: (pair[1].created_at, pair[0]), reverse=True)
    return [rec for _, rec in order]


def stored_records(store: Store | None, kind: str, model_id: str, revision: str | None = None) -> list[Record]:
    """Records of ``kind`` for a model (and revision, if given), newest first."""
    if store is None:
        return []
    records = _newest_first(store.list(kind, model_id))
    return [r for r in records if revision is None or r.revision == revision]


def settings_from_hash(store: Store | None, settings_hash: str) -> AuditSettings:
    """The :class:`AuditSettings` of any stored audit with this settings hash (or prefix), so
    ``--run --settings-hash H`` can compute a missing audit with exactly those settings."""
    from .audit import AuditSettings

    names = {f.name for f in fields(AuditSettings)}
    for rec in store.list("audits") if store is not None else []:
        if rec.settings_hash.startswith(settings_hash):
            return AuditSettings(**{k: v for k, v in rec.settings.items() if k in names})
    raise UsageError(f"no stored audit has settings hash {settings_hash!r}; cannot compute an audit from it",
                     "give the audit settings with --preset/--T/--n/... instead")


# --------------------------------------------------------------------------------------------
# Resolving a model: its source, or (Hub unreachable) what the store holds about it
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Resolved:
    spec: str
    model_id: str
    revision: str
    source: str  # ModelRef.kind, or "store" when only stored results are available
    ref: ModelRef | None
    stored_shape: dict | None = None
    note: str | None = None
    stored_weights: dict | None = None  # the weights a stored record says it measured (source "store")


def _resolve(spec: str, store: Store | None) -> _Resolved:
    """Resolve a spec (config only). A Hub id that cannot be reached falls back to stored results of
    that id; with nothing stored the original error (exit 4) stands."""
    try:
        ref = resolve_model(spec)
    except NotReachableError as exc:
        stored = _resolve_from_store(spec, store, exc.message)
        if stored is None:
            raise
        return stored
    return _Resolved(spec, ref.model_id, ref.resolved_revision, ref.kind, ref)


def _resolve_from_store(spec: str, store: Store | None, reason: str) -> _Resolved | None:
    """What the store holds about a Hub id (the newest audited revision, else the newest shape)."""
    name, revision = split_revision(spec.strip())
    records = stored_records(store, "audits", name) + stored_records(store, "shapes", name)
    if revision is not None:
        records = [r for r in records if r.revision == revision or r.revision.startswith(revision)]
    with_shape = [r for r in records if isinstance(r.payload.get("shape", r.payload), dict)
                  and "r_dw" in r.payload.get("shape", r.payload)]
    if not with_shape:
        return None
    chosen = with_shape[0]
    revisions = sorted({r.revision for r in with_shape})
    note = (f"{spec} is compared from the results store, revision {short_revision(chosen.revision)} "
            f"(the Hub is not reachable for it: {reason})")
    if len(revisions) > 1:
        note += f"; the store holds {len(revisions)} revisions of it, the newest audited is used (pass ID@REVISION)"
    shape = chosen.payload.get("shape", chosen.payload)
    weights = next((w for r in with_shape if r.revision == chosen.revision
                    if (w := weights_from_record(r.payload)) is not None), None)
    return _Resolved(spec, name, chosen.revision, "store", None, dict(shape), note, weights)


def weights_from_record(payload: Mapping[str, Any]) -> dict | None:
    """The weight format (and GGUF quantization) a stored audit measured: ``provenance.weights``, else
    ``runtime.weights_format`` / ``runtime.gguf_quantization``; None when the record does not say."""
    provenance = payload.get("provenance")
    if isinstance(provenance, dict) and isinstance(provenance.get("weights"), dict):
        return dict(provenance["weights"])
    runtime = payload.get("runtime")
    if isinstance(runtime, dict) and runtime.get("weights_format"):
        return {"format": runtime["weights_format"], "quantization": runtime.get("gguf_quantization")}
    return None


def _labels(resolved: Sequence[_Resolved]) -> list[str]:
    """Short, unique column labels: the spec for Hub ids, ``demo`` and ``smollm2``, the directory name
    for checkpoint paths, the file name for GGUF paths."""
    labels = []
    for r in resolved:
        if r.source in ("local_dir", "config_file") and r.ref is not None and r.ref.path is not None:
            base = r.ref.path.name if r.source == "local_dir" else f"{r.ref.path.name}/{Path(r.spec).name}"
        elif r.source == "gguf" and r.ref is not None and r.ref.gguf_file and r.spec not in PACKAGED_GGUF:
            base = r.ref.gguf_file  # a GGUF path: its file name (the short name of a packaged one stays)
        else:
            base = r.spec
        label, k = base, 2
        while label in labels:
            label, k = f"{base}#{k}", k + 1
        labels.append(label)
    return labels


# --------------------------------------------------------------------------------------------
# The comparison
# --------------------------------------------------------------------------------------------

@dataclass
class ModelEntry:
    """One compared model: where it came from, its shape, and the audit and evaluation chosen for it."""

    spec: str
    label: str
    model_id: str
    revision: str
    source: str
    shape: dict
    audit: dict | None = None
    audit_status: str = MISSING  # "stored" | "computed" | "missing"
    audit_settings: dict | None = None
    audit_settings_hash: str | None = None
    evaluation: dict | None = None
    evaluation_settings: dict | None = None
    evaluation_settings_hash: str | None = None
    notes: list[str] = field(default_factory=list)
    weights: dict | None = None  # ModelRef.weights: format, and for GGUF the file and quantization

    @property
    def weights_format(self) -> str | None:
        """``gguf``, ``safetensors`` or ``none (config only)``; None when unknown (an old stored record)."""
        return (self.weights or {}).get("format")

    @property
    def quantization(self) -> str | None:
        """The GGUF file type (e.g. ``Q4_1``); None for weights that are not GGUF."""
        return (self.weights or {}).get("quantization") if self.weights_format == "gguf" else None

    @property
    def inside_interval(self) -> bool:
        return bool(self.shape["inside_interval"])

    def values(self) -> dict[str, Any]:
        """The compared quantities as flat JSON-ready fields (None where not available)."""
        sh = self.shape
        out: dict[str, Any] = {
            "label": self.label, "spec": self.spec, "model": self.model_id, "revision": self.revision,
            "source": self.source, "weights_format": self.weights_format, "quantization": self.quantization,
        }
        for key in ("depth", "width", "r_dw", "total_params", "non_embedding_params", "interval_distance",
                    "interval_coordinate", "inside_interval"):
            out[key] = sh.get(key)
        out.update(self._audit_values())
        out.update(self._eval_values())
        return out

    def _audit_values(self) -> dict[str, Any]:
        m = (self.audit or {}).get("metrics", {})
        out: dict[str, Any] = {"audit_status": self.audit_status, "audit_settings_hash": self.audit_settings_hash}
        for key in ("aofe", "aofe_ratio", "diag_share", "diag_share_vs_baseline_log10"):
            out[key] = _num(m.get(key))
            ci = m.get(f"{key}_ci") or [None, None]
            out[f"{key}_ci_lo"], out[f"{key}_ci_hi"] = _num(ci[0]), _num(ci[1])
        out["vocab_size"] = self.shape.get("vocab_size")
        out["probe_T"] = (self.audit_settings or {}).get("T")
        function = m.get("output_function")
        out["output_function"] = None if function is None else ("encoder" if "encoder" in function else "causal LM")
        out["ci_level"] = _num(m.get("ci_level"))
        out["probe_loss_nats_per_token"] = _num(m.get("probe_loss_nats_per_token"))
        out["probe_loss_bits_per_byte"] = _num(m.get("probe_loss_bits_per_byte"))
        return out

    def _eval_values(self) -> dict[str, Any]:
        ev = self.evaluation or {}
        return {
            "mmlu_pro_task": ev.get("task") or (self.evaluation_settings or {}).get("task"),
            "mmlu_pro_acc": _num(ev.get("acc")),
            "mmlu_pro_acc_stderr": _num(ev.get("acc_stderr")),
            "mmlu_pro_n_questions": ev.get("n_questions") if isinstance(ev.get("n_questions"), int) else None,
            "eval_settings_hash": self.evaluation_settings_hash,
        }


def _num(value: Any) -> float | None:
    """A finite number as float, else None (stored payloads are read defensively)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def deltas(reference: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """``other`` against ``reference``: ``delta_<key>`` = other − reference for most quantities,
    ``ratio_<key>`` = other / reference for parameter counts; None when either value is missing."""
    out: dict[str, float | None] = {}
    for key in ABSOLUTE_DELTAS:
        a, b = _num(reference.get(key)), _num(other.get(key))
        out[f"delta_{key}"] = None if a is None or b is None else b - a
    for key in RATIO_DELTAS:
        a, b = _num(reference.get(key)), _num(other.get(key))
        out[f"ratio_{key}"] = None if a is None or b is None or a == 0 else b / a
    return out


def differing_settings(settings_by_label: Mapping[str, Mapping[str, Any]],
                       ignore: frozenset[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """Settings whose values are not the same for every model: ``{name: {label: value}}``."""
    if len(settings_by_label) < 2:
        return {}
    names = sorted(set().union(*(s.keys() for s in settings_by_label.values())) - ignore)
    out = {}
    for name in names:
        values = {label: s.get(name) for label, s in settings_by_label.items()}
        if len({json.dumps(v, sort_keys=True, default=str) for v in values.values()}) > 1:
            out[name] = values
    return out


def _describe_differences(diff: Mapping[str, Mapping[str, Any]]) -> str:
    def short(v: Any) -> str:
        text = str(v)
        return text[:12] if len(text) > 16 and " " not in text else text

    return "; ".join(f"{name} (" + ", ".join(f"{label}: {short(v)}" for label, v in values.items()) + ")"
                     for name, values in diff.items())


@dataclass
class Comparison:
    """The result of :func:`compare_models`; the first model is the reference of every delta."""

    models: list[ModelEntry]
    interval: Interval
    settings_mismatch: dict[str, dict[str, Any]] = field(default_factory=dict)
    eval_settings_mismatch: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reference(self) -> ModelEntry:
        return self.models[0]

    def outside(self) -> list[ModelEntry]:
        """Models whose R_D/W lies outside the interval."""
        return [m for m in self.models if not m.inside_interval]

    def gate_message(self) -> str | None:
        """One line naming the models outside the interval (None when all are inside)."""
        outside = self.outside()
        if not outside:
            return None
        iv = self.interval
        names = ", ".join(f"{m.label} (R_D/W = {m.shape['r_dw']:.4g}, {m.shape['interval_distance']:+.3f} decades)"
                          for m in outside)
        return (f"{len(outside)} of {len(self.models)} compared models lie outside the efficient interval "
                f"[{iv.lo:g}, {iv.hi:g}]: {names}")

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per model: values, deltas against the first model, mismatch and interval fields."""
        ref = self.reference.values()
        common = {
            "reference": self.reference.label,
            "settings_mismatch": ";".join(self.settings_mismatch),
            "eval_settings_mismatch": ";".join(self.eval_settings_mismatch),
            "interval_lo": self.interval.lo,
            "interval_hi": self.interval.hi,
            "interval_source": self.interval.source,
        }
        return [{**(v := m.values()), **deltas(ref, v), **common} for m in self.models]

    def to_frame(self):
        """The rows as a pandas DataFrame (one row per model)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready comparison: interval, delta conventions, mismatches, warnings, and per model its
        values, deltas, notes, audit settings and layer profile."""
        ref = self.reference.values()
        models = []
        for m in self.models:
            v = m.values()
            models.append({**v, "deltas": deltas(ref, v), "notes": m.notes, "weights": m.weights,
                           "audit_settings": m.audit_settings, "evaluation_settings": m.evaluation_settings,
                           "layers": (m.audit or {}).get("layers")})
        return {
            "interval": self.interval.to_dict(),
            "reference": self.reference.label,
            "delta_kinds": {**{f"delta_{k}": "absolute (model − reference)" for k in ABSOLUTE_DELTAS},
                            **{f"ratio_{k}": "ratio (model / reference)" for k in RATIO_DELTAS}},
            "settings_mismatch": sorted(self.settings_mismatch),
            "settings_mismatch_values": self.settings_mismatch,
            "eval_settings_mismatch": sorted(self.eval_settings_mismatch),
            "eval_settings_mismatch_values": self.eval_settings_mismatch,
            "outside_interval": [m.label for m in self.outside()],
            "warnings": self.warnings,
            "notes": self.notes,
            "models": models,
        }


# --------------------------------------------------------------------------------------------
# compare_models
# --------------------------------------------------------------------------------------------

def compare_models(
    specs: Sequence[str],
    *,
    interval: Interval = DEFAULT_INTERVAL,
    store: Store | None = None,
    run: bool = False,
    settings: AuditSettings | Mapping[str, Any] | None = None,
    match: AuditMatch | None = None,
    eval_task: str | None = None,
    require_same_settings: bool = False,
    audit_options: Mapping[str, Any] | None = None,
    show_progress: bool = False,
    on_message: Callable[[str], None] | None = None,
) -> Comparison:
    """Compare models side by side.

    ``specs``: Hub ids (``id@revision``), local checkpoint directories or ``demo``; all are resolved
    (config only) before anything else, so a bad spec fails before any work. For each model: its
    shape and interval position, the newest stored audit of the same model and resolved revision
    that ``match`` admits, and the newest stored evaluation (of task ``eval_task`` if given).

    ``run``: compute a missing audit with :func:`hf_interaction.audit.run_audit` and store it.
    ``settings`` is then an ``AuditSettings`` used for every model, or a mapping of preset name
    (``preset``) and overrides applied per model (default preset ``cpu``, ``demo`` for ``demo``;
    default probe ``wikitext``, ``builtin`` for ``demo``). ``audit_options`` go to ``run_audit``
    (device, allow_pickle, ...).

    Audits (or evaluations) with different settings are reported in ``settings_mismatch``
    (``eval_settings_mismatch``) and a warning; with ``require_same_settings`` they raise
    :class:`InputError` (exit 3).
    """
    if not specs:
        raise UsageError("give at least one model to compare")
    match = match or AuditMatch()
    audits = _AuditSource(store, match, run, settings, interval, audit_options or {}, show_progress,
                          on_message or (lambda _msg: None))
    resolved = [_resolve(spec, store) for spec in specs]
    entries = [_entry(r, label, interval) for r, label in zip(resolved, _labels(resolved), strict=True)]
    for entry, res in zip(entries, resolved, strict=True):
        audits.attach(entry, res)
        _attach_evaluation(entry, store, eval_task)
    comparison = Comparison(entries, interval)
    _check_settings(comparison, store, match)
    if require_same_settings and (comparison.settings_mismatch or comparison.eval_settings_mismatch):
        raise InputError("; ".join(comparison.warnings),
                         "--require-same-settings: compare audits made with the same settings "
                         "(--settings-hash, --preset/--T/--n/--seed/--probe, or --run with them)")
    return comparison


def _entry(res: _Resolved, label: str, interval: Interval) -> ModelEntry:
    """The model's shape positioned in ``interval`` (computed from its config, or the stored shape)."""
    if res.ref is not None:
        from .shape import shape_from_config

        shape = shape_from_config(res.ref.config, res.model_id, interval)
        weights = res.ref.weights
    else:
        shape = {**res.stored_shape, **interval.position(res.stored_shape["r_dw"])}
        weights = res.stored_weights
    entry = ModelEntry(res.spec, label, res.model_id, res.revision, res.source, shape, weights=weights)
    if res.note:
        entry.notes.append(res.note)
    return entry


@dataclass
class _AuditSource:
    """Where a model's audit comes from: the store (newest audit ``match`` admits), else (``run``)
    a fresh :func:`run_audit` with :func:`audit_settings_for`'s settings, else nothing (a note)."""

    store: Store | None
    match: AuditMatch
    run: bool
    settings: AuditSettings | Mapping[str, Any] | None
    interval: Interval
    audit_options: Mapping[str, Any]
    show_progress: bool
    say: Callable[[str], None]

    def attach(self, entry: ModelEntry, res: _Resolved) -> None:
        candidates = [r for r in stored_records(self.store, "audits", entry.model_id, entry.revision)
                      if self.match.matches(r)]
        if candidates:
            rec = candidates[0]
            entry.audit, entry.audit_status = rec.payload, "stored"
            entry.audit_settings, entry.audit_settings_hash = rec.settings, rec.settings_hash
            if entry.weights is None:
                entry.weights = weights_from_record(rec.payload)
        elif not self.run:
            entry.notes.append(_missing_note(entry, self.store, self.match) + "; pass --run to compute it")
        elif res.ref is None:
            raise NotReachableError(f"cannot audit {entry.spec}: the Hub is not reachable and the store holds no "
                                    "matching audit", "connect to the network, or pass a local model directory")
        else:
            self._compute(entry, res.ref)

    def _compute(self, entry: ModelEntry, ref: ModelRef) -> None:
        from dataclasses import asdict

        from .audit import run_audit

        chosen = audit_settings_for(ref, self.settings, store=self.store, match=self.match)
        matching = "" if self.match.is_empty else f" matching {self.match.describe()}"
        self.say(f"auditing {entry.label} (no stored audit{matching}): "
                 + ", ".join(f"{k}={v}" for k, v in asdict(chosen).items()))
        result = run_audit(ref, chosen, interval=self.interval, store=self.store, show_progress=self.show_progress,
                           **self.audit_options)
        key = chosen.cache_key(result.record.get("probe", {}).get("probe_corpus_sha256", ""))
        entry.audit, entry.audit_status = result.record, "stored" if result.from_store else "computed"
        entry.audit_settings = json.loads(json.dumps(key, default=str))  # as the store holds it
        entry.audit_settings_hash = settings_hash(key)
        if not self.match.fields.items() <= entry.audit_settings.items():
            entry.notes.append(f"the audit computed for {entry.label} does not match {self.match.describe()}")


def _missing_note(entry: ModelEntry, store: Store | None, match: AuditMatch) -> str:
    note = f"no stored audit of {entry.label} at revision {short_revision(entry.revision)}"
    if not match.is_empty:
        note += f" matching {match.describe()}"
    others = sorted({short_revision(r.revision) for r in stored_records(store, "audits", entry.model_id)
                     if r.revision != entry.revision})
    if others:
        note += f" (the store has audits of other revisions: {', '.join(others)})"
    return note


def audit_settings_for(ref: ModelRef, settings: AuditSettings | Mapping[str, Any] | None = None, *,
                       store: Store | None = None, match: AuditMatch | None = None) -> AuditSettings:
    """The :class:`AuditSettings` with which ``--run`` audits ``ref``.

    An ``AuditSettings`` is used as is; with a settings hash to match, the stored settings of that
    hash; otherwise ``settings`` is a mapping of ``preset`` and overrides (None = unset) with the
    per-model defaults: preset ``cpu`` (``demo`` for the demo model), probe ``wikitext`` (``builtin``
    for the demo models and ``smollm2``).
    """
    from .audit import AuditSettings

    if isinstance(settings, AuditSettings):
        return settings
    if match is not None and match.settings_hash:
        return settings_from_hash(store, match.settings_hash)
    opts = {k: v for k, v in dict(settings or {}).items() if v is not None}
    is_demo = ref.kind == "embedded"
    preset = opts.pop("preset", None) or ("demo" if is_demo else "cpu")
    offline = is_demo or ref.spec in PACKAGED_GGUF  # models on this disk get the offline corpus
    opts.setdefault("probe", "builtin" if offline else "wikitext")
    return AuditSettings.from_preset(preset, **opts)


def _attach_evaluation(entry: ModelEntry, store: Store | None, eval_task: str | None) -> None:
    """The newest stored evaluation of this model and revision (of ``eval_task`` if given)."""
    records = stored_records(store, "evaluations", entry.model_id, entry.revision)
    if eval_task:
        records = [r for r in records if (r.settings.get("task") or r.payload.get("task")) == eval_task]
    usable = [r for r in records if _num(r.payload.get("acc")) is not None]
    if not usable:
        return
    rec = usable[0]
    entry.evaluation, entry.evaluation_settings, entry.evaluation_settings_hash = (
        rec.payload, rec.settings, rec.settings_hash)
    if len({r.settings_hash for r in usable}) > 1:
        entry.notes.append(f"{entry.label} has {len(usable)} stored evaluations with different settings; the newest "
                           f"({rec.payload.get('task')}, settings {rec.settings_hash}) is shown (narrow with --task)")


def _check_settings(comparison: Comparison, store: Store | None, match: AuditMatch) -> None:
    """Name the settings that differ between the chosen audits (and evaluations), and the probe windows."""
    audited = [m for m in comparison.models if m.audit_settings is not None]
    # Settings that change only the CIs (bootstrap units, replicates) or how the same quantity is
    # computed (the JVP method) are not a mismatch: groups_per_half is chosen from the vocabulary.
    by_label = {m.label: m.audit_settings for m in audited}
    diff = differing_settings(by_label, INTERVAL_ONLY_SETTINGS)
    comparison.settings_mismatch = diff
    interval_only = {k: v for k, v in differing_settings(by_label).items() if k in INTERVAL_ONLY_SETTINGS}
    if interval_only:
        comparison.notes.append("the audits differ in settings that change only their confidence intervals or how "
                                f"the same quantity is computed, not the point estimates: "
                                f"{_describe_differences(interval_only)}")
    if diff:
        text = (f"the audits were made with different settings, so their metrics are not like-for-like: "
                f"{_describe_differences(diff)}")
        common = _common_settings_hash(audited, store)
        if common and match.is_empty:
            text += f"; every compared model has an audit with settings {common}: pass --settings-hash {common}"
        comparison.warnings.append(text)
    evaluated = [m for m in comparison.models if m.evaluation_settings is not None]
    ediff = differing_settings({m.label: m.evaluation_settings for m in evaluated})
    comparison.eval_settings_mismatch = ediff
    if ediff:
        comparison.warnings.append("the MMLU-Pro evaluations were made with different settings, so their scores are "
                                   f"not like-for-like: {_describe_differences(ediff)}")
    _check_structure(comparison, audited)
    windows = {m.label: (m.audit or {}).get("probe", {}).get("windows_sha256") for m in audited}
    probe_keys = {"T", "n", "seed", "probe", "probe_corpus_sha256"}
    if len(set(windows.values())) > 1 and not probe_keys & diff.keys():
        comparison.notes.append("the probe windows differ although the probe settings agree: the models tokenise the "
                                "probe text differently, so nats/token is not comparable across them (bits/byte is)")


def _check_structure(comparison: Comparison, audited: list[ModelEntry]) -> None:
    """Warn when AOFE, AOFE-ratio and D/F are put side by side for models whose vocabulary, window
    length or output function differ: those metrics then rank models by V/d and T (docs/metrics.md)."""
    values = {label: m.values() for label, m in ((m.label, m) for m in audited)}
    differing = []
    for key, name in STRUCTURAL_KEYS.items():
        seen = {label: v.get(key) for label, v in values.items()}
        if len({json.dumps(v) for v in seen.values()}) > 1:
            differing.append(f"{name} (" + ", ".join(f"{label}: {v}" for label, v in seen.items()) + ")")
    if not differing:
        return
    text = ("AOFE, AOFE-ratio and the diagonal share are not comparable across these models: they differ in "
            + "; ".join(differing) + ", which those metrics scale with. ")
    if all(v.get("diag_share_vs_baseline_log10") is not None for v in values.values()):
        text += "Compare 'log10 D/F over fresh init' instead."
    else:
        text += "Audit each with --baseline init and compare 'log10 D/F over fresh init'."
    comparison.warnings.append(text)


def _common_settings_hash(audited: list[ModelEntry], store: Store | None) -> str | None:
    """A settings hash every audited model has a stored audit with (smallest if several)."""
    sets = [{r.settings_hash for r in stored_records(store, "audits", m.model_id, m.revision)} for m in audited]
    common = set.intersection(*sets) if sets else set()
    return min(common) if common else None


# --------------------------------------------------------------------------------------------
# Presentation: the side-by-side table (shared by the terminal and Markdown) and the files
# --------------------------------------------------------------------------------------------

# (row label, value key, formatter name, delta key or None)
TABLE_ROWS: tuple[tuple[str, str, str, str | None], ...] = (
    ("revision", "revision", "revision", None),
    ("weights", "weights_format", "text", None),
    ("quantization", "quantization", "text", None),
    ("depth L", "depth", "int", "delta_depth"),
    ("width d", "width", "int", "delta_width"),
    ("R_D/W", "r_dw", "ratio", "delta_r_dw"),
    ("params (total)", "total_params", "int", "ratio_total_params"),
    ("params (non-embedding)", "non_embedding_params", "int", "ratio_non_embedding_params"),
    ("interval distance (decades)", "interval_distance", "signed", "delta_interval_distance"),
    ("interval coordinate", "interval_coordinate", "signed", "delta_interval_coordinate"),
    ("inside interval", "inside_interval", "bool", None),
    ("AOFE [CI]", "aofe", "ci", "delta_aofe"),
    ("AOFE-ratio [CI]", "aofe_ratio", "ci", "delta_aofe_ratio"),
    ("diagonal share D/F [CI]", "diag_share", "sci_ci", None),
    ("log10 D/F over fresh init [CI]", "diag_share_vs_baseline_log10", "ci", None),
    ("probe loss (nats/token)", "probe_loss_nats_per_token", "float", "delta_probe_loss_nats_per_token"),
    ("probe loss (bits/byte)", "probe_loss_bits_per_byte", "float", "delta_probe_loss_bits_per_byte"),
    ("MMLU-Pro acc ± stderr", "mmlu_pro_acc", "acc", "delta_mmlu_pro_acc"),
    ("MMLU-Pro task", "mmlu_pro_task", "text", None),
    ("audit", "audit_status", "audit", None),
)


def short_revision(revision: str) -> str:
    """A local fingerprint whole (``local-`` + 16 hex), a Hub commit hash shortened to 12."""
    return revision if revision.startswith("local-") else revision[:12]


def _g(v: float, digits: int = 4) -> str:
    return f"{v:.{digits}g}"


def _cell(row: dict[str, Any], key: str, kind: str) -> str:
    """A value formatted for the table; ``missing`` for audit/eval values that are not available."""
    value = row.get(key)
    if value is None and kind != "audit":
        missing_audit = key in AUDIT_KEYS and row.get("audit_status") == MISSING
        missing_eval = key in EVAL_KEYS and row.get("mmlu_pro_acc") is None
        return MISSING if missing_audit or missing_eval else "-"
    if kind == "revision":
        return short_revision(str(value))
    if kind == "int":
        return f"{int(value):,}"
    if kind == "ratio":
        return f"{value:.4f}"
    if kind == "signed":
        return f"{value:+.3f}"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "ci":
        lo, hi = row.get(f"{key}_ci_lo"), row.get(f"{key}_ci_hi")
        return _g(value) + (f" [{_g(lo)}, {_g(hi)}]" if lo is not None and hi is not None else "")
    if kind == "sci_ci":
        lo, hi = row.get(f"{key}_ci_lo"), row.get(f"{key}_ci_hi")
        return f"{value:.2e}" + (f" [{lo:.2e}, {hi:.2e}]" if lo is not None and hi is not None else "")
    if kind == "acc":
        err = row.get("mmlu_pro_acc_stderr")
        return f"{value:.4f}" + (f" ± {err:.4f}" if err is not None else "")
    if kind == "audit":
        return value if not row.get("audit_settings_hash") else f"{value} ({row['audit_settings_hash'][:8]})"
    if kind == "float":
        return f"{value:.4f}"
    return str(value)


def _delta_cell(row: dict[str, Any], key: str | None) -> str:
    if key is None:
        return ""
    value = row.get(key)
    if value is None:
        return "-"
    return f"×{value:.3g}" if key.startswith("ratio_") else f"{value:+.4g}"


def table_cells(comparison: Comparison) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the side-by-side table: a column per model, then for every model after
    the first a delta column against the first (absolute, except parameter counts: ratio ×)."""
    rows = comparison.rows()
    ref = comparison.reference.label
    header = ["quantity", rows[0]["label"]]
    for row in rows[1:]:
        header += [row["label"], f"Δ {row['label']} vs {ref}"]
    body = []
    for title, key, kind, delta_key in TABLE_ROWS:
        line = [title, _cell(rows[0], key, kind)]
        for row in rows[1:]:
            line += [_cell(row, key, kind), _delta_cell(row, delta_key)]
        body.append(line)
    return header, body


def render_markdown(comparison: Comparison, command: str | None = None) -> str:
    """The comparison as a Markdown document: interval, table, warnings, notes, audit settings."""
    header, body = table_cells(comparison)
    iv = comparison.interval

    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["# Model comparison", ""]
    if command:
        lines += [f"Generated by `{command}`.", ""]
    lines += [f"Efficient interval: R_D/W ∈ [{iv.lo:g}, {iv.hi:g}] ({iv.source}).", "",
              f"Deltas are against **{comparison.reference.label}**: absolute (model − reference) except parameter "
              "counts, which are ratios (×). CIs are the audits' bootstrap intervals.", "",
              "| " + " | ".join(esc(h) for h in header) + " |",
              "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in body]
    lines.append("")
    for w in comparison.warnings:
        lines.append(f"**Warning:** {w}")
        lines.append("")
    notes = list(comparison.notes) + [n for m in comparison.models for n in m.notes]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += ["## Models", ""]
    for m in comparison.models:
        lines.append(f"- **{m.label}**: `{m.model_id}` @ `{m.revision}` ({m.source})")
        if m.weights:
            w = m.weights
            extra = [f"file `{w['file']}`"] if w.get("file") else []
            extra += [f"quantization {m.quantization}"] if m.quantization else []
            extra += [w["note"]] if w.get("note") else []
            lines.append(f"  - weights: {m.weights_format}" + (f" ({'; '.join(extra)})" if extra else ""))
        if m.audit_settings is not None:
            s = ", ".join(f"{k}={v}" for k, v in sorted(m.audit_settings.items()) if k != "probe_corpus_sha256")
            lines.append(f"  - audit ({m.audit_status}, settings {m.audit_settings_hash}): {s}")
        if m.evaluation_settings is not None:
            lines.append(f"  - MMLU-Pro evaluation (settings {m.evaluation_settings_hash}): "
                         f"task {m.evaluation_settings.get('task')}, {m.evaluation_settings.get('num_fewshot')}-shot")
    lines.append("")
    return "\n".join(lines)


def write_outputs(comparison: Comparison, out_dir: str | Path, command: str | None = None) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.csv``, ``compare.json`` and (when any model has an audit)
    ``compare_layer_profiles.png`` to ``out_dir``. Every file is written under a temporary name and
    all are renamed at the end, so a failure leaves nothing half-written; a figure left by an
    earlier run is removed when this comparison has no layer profiles, so the directory never mixes runs."""
    import pandas as pd

    from .audit_output import plot_layer_profiles

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {out}: {exc.strerror}") from None
    targets = {"md": out / "compare.md", "csv": out / "compare.csv", "json": out / "compare.json",
               "png": out / "compare_layer_profiles.png"}
    tmp = {k: p.with_name(p.name + ".partial") for k, p in targets.items()}
    audited = [m for m in comparison.models if m.audit and m.audit.get("layers")]
    try:
        tmp["md"].write_text(render_markdown(comparison, command), encoding="utf-8")
        pd.DataFrame(comparison.rows()).to_csv(tmp["csv"], index=False)
        tmp["json"].write_text(json.dumps(comparison.to_dict(), indent=2, default=str), encoding="utf-8")
        if audited:
            plot_layer_profiles([m.audit for m in audited], tmp["png"], [m.label for m in audited])
        written = {}
        for k, p in targets.items():
            if tmp[k].exists():
                tmp[k].replace(p)
                written[k] = p
        if not audited:
            targets["png"].unlink(missing_ok=True)
    finally:
        for p in tmp.values():
            p.unlink(missing_ok=True)
    return written
