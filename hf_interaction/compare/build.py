"""Building a comparison (:func:`compare_models`): resolve every spec first, then per model its
shape in the interval, the audit (stored, or computed with ``run``) and the newest evaluation;
finally the like-for-like checks."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..core.store import Store, key_hash
from ..errors import InputError, NotReachableError, UsageError
from ..models.source import ModelRef
from ..shape.interval import DEFAULT_INTERVAL, Interval
from .checks import check_settings
from .comparison import Comparison, ModelEntry, finite
from .resolve import Resolved, labels, resolve
from .select import AuditMatch, audit_settings_for, stored_records, weights_from_record
from .wording import settings_text, short_revision

if TYPE_CHECKING:  # torch is imported only when an audit is computed
    from ..audit.run import AuditSettings


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

    ``run``: compute a missing audit with :func:`hf_interaction.audit.run.run_audit` and store it.
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
    resolved = [resolve(spec, store) for spec in specs]
    entries = [_entry(r, label, interval) for r, label in zip(resolved, labels(resolved), strict=True)]
    for entry, res in zip(entries, resolved, strict=True):
        audits.attach(entry, res)
        _attach_evaluation(entry, store, eval_task)
    comparison = Comparison(entries, interval)
    check_settings(comparison, store, match)
    if require_same_settings and (comparison.settings_mismatch or comparison.eval_settings_mismatch):
        raise InputError("; ".join(comparison.warnings),
                         "--require-same-settings: compare audits made with the same settings "
                         "(--settings-hash, --preset/--T/--n/--seed/--probe, or --run with them)")
    return comparison


def _entry(res: Resolved, label: str, interval: Interval) -> ModelEntry:
    """The model's shape positioned in ``interval`` (computed from its config, or the stored shape)."""
    if res.ref is not None:
        from ..shape.config import shape_from_config

        shape = shape_from_config(res.ref.config, res.model_id, interval)
        weights: dict | None = res.ref.weights
    else:
        assert res.stored_shape is not None  # a spec resolved from the store carries its shape
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

    def attach(self, entry: ModelEntry, res: Resolved) -> None:
        candidates = [r for r in stored_records(self.store, "audits", entry.model_id, entry.revision)
                      if self.match.matches(r)]
        if candidates:
            rec = candidates[0]
            entry.audit, entry.audit_status = rec.payload, "stored"
            entry.audit_settings, entry.audit_settings_hash = rec.key, rec.key_hash
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
        from ..audit.run import run_audit

        chosen = audit_settings_for(ref, self.settings, store=self.store, match=self.match)
        matching = "" if self.match.is_empty else f" matching {self.match.describe()}"
        self.say(f"auditing {entry.label} (no stored audit{matching}): {settings_text(asdict(chosen).items())}")
        result = run_audit(ref, chosen, interval=self.interval, store=self.store, show_progress=self.show_progress,
                           **self.audit_options)
        key = chosen.cache_key(result.record.get("probe", {}).get("probe_corpus_sha256", ""))
        entry.audit, entry.audit_status = result.record, "stored" if result.from_store else "computed"
        entry.audit_settings = json.loads(json.dumps(key, default=str))  # as the store holds it
        entry.audit_settings_hash = key_hash(key)
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


def _attach_evaluation(entry: ModelEntry, store: Store | None, eval_task: str | None) -> None:
    """The newest stored evaluation of this model and revision (of ``eval_task`` if given)."""
    records = stored_records(store, "evaluations", entry.model_id, entry.revision)
    if eval_task:
        records = [r for r in records if (r.key.get("task") or r.payload.get("task")) == eval_task]
    usable = [r for r in records if finite(r.payload.get("acc")) is not None]
    if not usable:
        return
    rec = usable[0]
    entry.evaluation, entry.evaluation_settings, entry.evaluation_settings_hash = (
        rec.payload, rec.key, rec.key_hash)
    if len({r.key_hash for r in usable}) > 1:
        task = rec.payload.get("task") or rec.key.get("task") or "task not recorded"
        entry.notes.append(f"{entry.label} has {len(usable)} stored evaluations with different settings; the newest "
                           f"({task}, settings {rec.key_hash}) is shown (narrow with --task)")
