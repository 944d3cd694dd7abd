"""Whether the compared numbers are like-for-like: the settings that differ between the chosen
audits (and evaluations), structural differences (V, T, output function) that AOFE scales with,
and probe windows that differ although the probe settings agree. Each becomes a warning or a note."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..audit.presets import INTERVAL_ONLY_SETTINGS, RECORD_FORMAT_KEYS
from ..core.store import Store
from .comparison import STRUCTURAL_KEYS, Comparison, ModelEntry
from .select import AuditMatch, stored_records
from .wording import value_text


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


def describe_differences(diff: Mapping[str, Mapping[str, Any]]) -> str:
    """``name (A: value, B: value); ...``, long hashes cut to 12 characters, None said in words."""
    def short(name: str, v: Any) -> str:
        text = value_text(name, v)
        return text[:12] if len(text) > 16 and " " not in text else text

    return "; ".join(f"{name} (" + ", ".join(f"{label}: {short(name, v)}" for label, v in values.items()) + ")"
                     for name, values in diff.items())


def check_settings(comparison: Comparison, store: Store | None, match: AuditMatch) -> None:
    """Name the settings that differ between the chosen audits (and evaluations), and the probe windows."""
    audited = [m for m in comparison.models if m.audit_settings is not None]
    # Settings that change only the CIs (bootstrap units, replicates) or how the same quantity is
    # computed (the JVP method) are not a mismatch: groups_per_half is chosen from the vocabulary.
    by_label = {m.label: m.audit_settings for m in audited if m.audit_settings is not None}
    diff = differing_settings(by_label, INTERVAL_ONLY_SETTINGS | RECORD_FORMAT_KEYS)
    comparison.settings_mismatch = diff
    interval_only = {k: v for k, v in differing_settings(by_label, RECORD_FORMAT_KEYS).items()
                     if k in INTERVAL_ONLY_SETTINGS}
    if interval_only:
        comparison.notes.append("the audits differ in settings that change only their confidence intervals or how "
                                f"the same quantity is computed, not the point estimates: "
                                f"{describe_differences(interval_only)}")
    if diff:
        text = (f"the audits were made with different settings, so their metrics are not like-for-like: "
                f"{describe_differences(diff)}")
        common = _common_settings_hash(audited, store)
        if common and match.is_empty:
            text += f"; every compared model has an audit with settings {common}: pass --settings-hash {common}"
        comparison.warnings.append(text)
    evaluated = [m for m in comparison.models if m.evaluation_settings is not None]
    ediff = differing_settings({m.label: m.evaluation_settings for m in evaluated if m.evaluation_settings is not None})
    comparison.eval_settings_mismatch = ediff
    if ediff:
        comparison.warnings.append("the MMLU-Pro evaluations were made with different settings, so their scores are "
                                   f"not like-for-like: {describe_differences(ediff)}")
    _check_structure(comparison, audited)
    windows = {m.label: (m.audit or {}).get("probe", {}).get("windows_sha256") for m in audited}
    probe_keys = {"T", "n", "seed", "probe", "probe_corpus_sha256"}
    if len(set(windows.values())) > 1 and not probe_keys & diff.keys():
        comparison.notes.append("the probe windows differ although the probe settings agree: the models tokenise the "
                                "probe text differently, so nats/token is not comparable across them (bits/byte is)")


def _check_structure(comparison: Comparison, audited: list[ModelEntry]) -> None:
    """Warn when AOFE, AOFE-ratio and D/F are put side by side for models whose vocabulary, window
    length or output function differ: those metrics then rank models by V/d and T (docs/metrics.md)."""
    values = {m.label: m.values() for m in audited}
    differing = []
    for key, name in STRUCTURAL_KEYS.items():
        seen = {label: v.get(key) for label, v in values.items()}
        if len({json.dumps(v) for v in seen.values()}) > 1:
            differing.append(f"{name} (" + ", ".join(f"{label}: {value_text(key, v)}" for label, v in seen.items())
                             + ")")
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
    sets = [{r.key_hash for r in stored_records(store, "audits", m.model_id, m.revision)} for m in audited]
    common = set.intersection(*sets) if sets else set()
    return min(common) if common else None
