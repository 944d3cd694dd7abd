"""Resolving the compared models: each spec's source (config only), or, for a Hub id that cannot
be reached, what the results store holds about it; and the short unique column labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.store import Store
from ..errors import NotReachableError
from ..models.gguf.file import PACKAGED_GGUF
from ..models.source import ModelRef, resolve_model, split_revision
from .select import stored_records, weights_from_record
from .wording import short_revision


@dataclass(frozen=True)
class Resolved:
    """One resolved spec; ``ref`` is None when only stored results are available (source ``store``)."""

    spec: str
    model_id: str
    revision: str
    source: str  # ModelRef.kind, or "store" when only stored results are available
    ref: ModelRef | None
    stored_shape: dict | None = None
    note: str | None = None
    stored_weights: dict | None = None  # the weights a stored record says it measured (source "store")


def resolve(spec: str, store: Store | None) -> Resolved:
    """Resolve a spec (config only). A Hub id that cannot be reached falls back to stored results of
    that id; with nothing stored the original error (exit 4) stands."""
    try:
        ref = resolve_model(spec)
    except NotReachableError as exc:
        stored = _resolve_from_store(spec, store, exc.message)
        if stored is None:
            raise
        return stored
    return Resolved(spec, ref.model_id, ref.resolved_revision, ref.kind, ref)


def _resolve_from_store(spec: str, store: Store | None, reason: str) -> Resolved | None:
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
    return Resolved(spec, name, chosen.revision, "store", None, dict(shape), note, weights)


def labels(resolved: Sequence[Resolved]) -> list[str]:
    """Short, unique column labels: the spec for Hub ids, ``demo`` and ``smollm2``, the directory name
    for checkpoint paths, the file name for GGUF paths."""
    out: list[str] = []
    for r in resolved:
        if r.source in ("local_dir", "config_file") and r.ref is not None and r.ref.path is not None:
            base = r.ref.path.name if r.source == "local_dir" else f"{r.ref.path.name}/{Path(r.spec).name}"
        elif r.source == "gguf" and r.ref is not None and r.ref.gguf_file and r.spec not in PACKAGED_GGUF:
            base = r.ref.gguf_file  # a GGUF path: its file name (the short name of a packaged one stays)
        else:
            base = r.spec
        label, k = base, 2
        while label in out:
            label, k = f"{base}#{k}", k + 1
        out.append(label)
    return out
