"""Reading records written under an earlier schema version: each version step lists the keys it
renamed, and :func:`upgrade` applies them in order, so an old record is read with today's names and
never misread. A record from a newer version is refused with one line."""

from __future__ import annotations

import copy

from ..errors import InputError
from .spec import SCHEMA_VERSION

#: Store table → record kind.
STORE_KINDS = {"shapes": "shape", "audits": "audit", "evaluations": "evaluation", "sweeps": "sweep"}

#: version → record kind → (old path, new path) renamed on the way to version + 1.
RENAMES: dict[int, dict[str, tuple[tuple[str, str], ...]]] = {
    1: {
        "audit": (("created_utc", "created_at"),
                  ("metrics.n_input_probes", "metrics.input_probes"),
                  ("metrics.n_output_probes", "metrics.output_probes"),
                  ("baseline.runs[].metrics.n_input_probes", "baseline.runs[].metrics.input_probes"),
                  ("baseline.runs[].metrics.n_output_probes", "baseline.runs[].metrics.output_probes"),
                  ("shape.model_id", "shape.model")),
        "shape": (("model_id", "model"),),
        "sweep": (("run", "runtime"), ("created_utc", "created_at")),
    },
}


def _rename(obj, old: list[str], new_leaf: str) -> None:
    """Rename the key at ``old`` (a split path; ``x[]`` steps into list items) to ``new_leaf``."""
    if not isinstance(obj, dict) or not old:
        return
    head, rest = old[0], old[1:]
    if head.endswith("[]"):
        for item in obj.get(head[:-2]) or []:
            _rename(item, rest, new_leaf)
    elif not rest:
        if head in obj and new_leaf not in obj:
            obj[new_leaf] = obj.pop(head)
    else:
        _rename(obj.get(head), rest, new_leaf)


def upgrade(kind: str, payload: dict, version: int) -> dict:
    """``payload`` (a record of ``kind``, written under ``version``) with today's key names.

    ``kind`` is a record kind or a store table name. The input is not modified.
    """
    kind = STORE_KINDS.get(kind, kind)
    if version > SCHEMA_VERSION:
        raise InputError(f"a stored {kind} record has schema version {version}, newer than this "
                         f"hf-interaction reads ({SCHEMA_VERSION})", "upgrade hf-interaction")
    if version == SCHEMA_VERSION:
        return payload
    out = copy.deepcopy(payload)
    for step in range(version, SCHEMA_VERSION):
        for old, new in RENAMES.get(step, {}).get(kind, ()):
            _rename(out, old.split("."), new.split(".")[-1])
    if "schema_version" in out:
        out["schema_version"] = SCHEMA_VERSION
    return out
