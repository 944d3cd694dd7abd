"""Which stored records a comparison uses: the audits an :class:`AuditMatch` admits (newest first),
the settings ``--run`` audits a missing model with, and the weights a stored audit measured."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..core.store import Record, Store
from ..errors import UsageError
from ..models.source import ModelRef
from .wording import value_text

if TYPE_CHECKING:  # torch is imported only when an audit is computed
    from ..audit.run import AuditSettings


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
        if self.settings_hash and not record.key_hash.startswith(self.settings_hash):
            return False
        return all(record.key.get(k) == v for k, v in self.fields.items())

    def describe(self) -> str:
        parts = [f"settings hash {self.settings_hash}"] if self.settings_hash else []
        parts += [f"{k}={value_text(k, v)}" for k, v in sorted(self.fields.items())]
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
    from ..audit.run import AuditSettings

    names = {f.name for f in fields(AuditSettings)}
    for rec in store.list("audits") if store is not None else []:
        if rec.key_hash.startswith(settings_hash):
            # Keys written before the pairs estimator existed measured F by Hutchinson.
            return AuditSettings(**{"f_estimator": "hutchinson",
                                    **{k: v for k, v in rec.key.items() if k in names}})
    raise UsageError(f"no stored audit has settings hash {settings_hash!r}; cannot compute an audit from it",
                     "give the audit settings with --preset/--T/--n/... instead")


def audit_settings_for(ref: ModelRef, settings: AuditSettings | Mapping[str, Any] | None = None, *,
                       store: Store | None = None, match: AuditMatch | None = None) -> AuditSettings:
    """The :class:`AuditSettings` with which ``--run`` audits ``ref``.

    An ``AuditSettings`` is used as is; with a settings hash to match, the stored settings of that
    hash; otherwise ``settings`` is a mapping of ``preset`` and overrides (None = unset) with the
    per-model defaults of :func:`~hf_interaction.audit.settings.default_settings`, so ``compare --run``
    computes (and stores) the audit ``hf-interaction audit MODEL`` would.
    """
    from ..audit.settings import AuditSettings, default_settings

    if isinstance(settings, AuditSettings):
        return settings
    if match is not None and match.settings_hash:
        return settings_from_hash(store, match.settings_hash)
    opts = dict(settings or {})
    return default_settings(ref, opts.pop("preset", None), **opts)


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
