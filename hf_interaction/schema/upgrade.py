"""Reading records written under an earlier schema version: each version step lists the keys it
renamed, and :func:`upgrade` applies them in order, so an old record is read with today's names and
never misread. A record from a newer version is refused with one line."""

from __future__ import annotations

import copy

from ..errors import InputError
from .spec import SCHEMA_VERSION

#: Store table → record kind.
STORE_KINDS = {"shapes": "shape", "audits": "audit", "evaluations": "evaluation", "sweeps": "sweep"}

#: version → record kind → (old path, new path) renamed or moved on the way to version + 1 (a new path
#: of None: the key was dropped, its value lives elsewhere).
RENAMES: dict[int, dict[str, tuple[tuple[str, str | None], ...]]] = {
    1: {
        "audit": (("created_utc", "created_at"),
                  ("metrics.n_input_probes", "metrics.input_probes"),
                  ("metrics.n_output_probes", "metrics.output_probes"),
                  ("baseline.runs[].metrics.n_input_probes", "baseline.runs[].metrics.input_probes"),
                  ("baseline.runs[].metrics.n_output_probes", "baseline.runs[].metrics.output_probes"),
                  ("shape.model_id", "shape.model")),
        "shape": (("model_id", "model"),),
        "sweep": (("created_utc", "created_at"), ("wall_time_s", "runtime.wall_time_s"),
                  ("wall_time_total_s", "runtime.wall_time_total_s"), ("rows[].run", "rows[].run_dir")),
        "evaluation": (("run", "runtime"), ("wall_time_s", "runtime.wall_time_s"), ("lm_eval_version", None)),
    },
    # Schema 4: one suffix rule in every block (an estimate X, its interval X_ci, its standard error
    # X_se: F and D lose their "_hat", as the layers already had them), and one spelling for the
    # population D/F (the baseline's population_diag_share moves under population, as in the metrics).
    3: {
        "audit": tuple(
            (f"{block}.{old}", f"{block}.{new}")
            for block in ("metrics", "baseline.runs[].metrics")
            for old, new in (("f_hat", "f"), ("d_hat", "d"), ("population.f_hat", "population.f"),
                             ("population.d_hat", "population.d"))
        ) + (("baseline.metrics.f_hat", "baseline.metrics.f"), ("baseline.metrics.d_hat", "baseline.metrics.d"),
             ("baseline.metrics.population_diag_share", "baseline.metrics.population.diag_share"),
             ("baseline.metrics.population_diag_share_ci", "baseline.metrics.population.diag_share_ci")),
    },
}

#: A GGUF provenance note that was untrue when written: transformers' GGUF route had been replaced by
#: the package's own loader, which ran gguf-py's dequantization arithmetic. Early records made with
#: transformers' route carry the same sentence, so the correction says what is true of both.
_GGUF_NOTE_WRONG = "dequantized from GGUF to the audit dtype by transformers"
_GGUF_NOTE_RIGHT = ("dequantized from GGUF to the audit dtype with gguf-py's arithmetic (by transformers' GGUF loader "
                    "or by hf-interaction's own: a record written before schema 4 does not say which)")

#: version → record kind → (path, untrue value, true value): values corrected on the way to version + 1.
CORRECTIONS: dict[int, dict[str, tuple[tuple[str, object, object], ...]]] = {
    3: {kind: (("provenance.weights.note", _GGUF_NOTE_WRONG, _GGUF_NOTE_RIGHT),)
        for kind in ("audit", "shape", "evaluation")},
}

#: version → record kind → (path, value): keys an earlier version lacked, with the one value they
#: had then (``x[]`` steps into the items of list ``x``).
VALUES: dict[int, dict[str, tuple[tuple[str, object], ...]]] = {
    # Before version 3, F was always the Hutchinson estimate and each output probe had its own forward.
    2: {"audit": (("settings.f_estimator", "hutchinson"),
                  ("metrics.f_estimator", "hutchinson"), ("metrics.output_pass", "copies"),
                  ("baseline.runs[].metrics.f_estimator", "hutchinson"),
                  ("baseline.runs[].metrics.output_pass", "copies"))},
}


#: version → record kind → (path, path it defaults to): keys an earlier version could lack.
DEFAULTS: dict[int, dict[str, tuple[tuple[str, str], ...]]] = {
    # The first sweeps were one invocation: their total wall time is their wall time.
    1: {"sweep": (("runtime.wall_time_total_s", "runtime.wall_time_s"),)},
}


def _get(obj, path: list[str]):
    for key in path:
        obj = obj.get(key, _ABSENT) if isinstance(obj, dict) else _ABSENT
    return obj


def _pop(obj, path: list[str]):
    """Remove and return the value at ``path`` (no ``[]`` steps), or a sentinel when absent."""
    for key in path[:-1]:
        obj = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(obj, dict) and path[-1] in obj:
        return obj.pop(path[-1])
    return _ABSENT


def _put(obj: dict, path: list[str], value) -> None:
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj.setdefault(path[-1], value)


def _put_value(obj, path: list[str], value) -> None:
    """Set ``path`` to ``value`` where it is absent (its parent must exist); ``x[]`` steps into lists."""
    if not isinstance(obj, dict):
        return
    if len(path) == 1:
        obj.setdefault(path[0], value)
    elif path[0].endswith("[]"):
        for item in obj.get(path[0][:-2]) or []:
            _put_value(item, path[1:], value)
    else:
        _put_value(obj.get(path[0]), path[1:], value)


def _move(obj, old: list[str], new: list[str] | None) -> None:
    """Move the value at ``old`` to ``new`` (both relative to ``obj``); ``x[]`` in a path steps into
    the items of list ``x`` (both paths share that prefix); ``new`` None drops the key."""
    if not isinstance(obj, dict) or not old:
        return
    split = next((i for i, part in enumerate(old) if part.endswith("[]")), None)
    if split is not None:
        for key in old[:split]:  # down to the dict holding the list
            obj = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(obj, dict):
            return
        for item in obj.get(old[split][:-2]) or []:
            _move(item, old[split + 1:], None if new is None else new[split + 1:])
        return
    value = _pop(obj, old)
    if value is not _ABSENT and new is not None:
        _put(obj, new, value)


_ABSENT = object()


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
            _move(out, old.split("."), None if new is None else new.split("."))
        for path, source in DEFAULTS.get(step, {}).get(kind, ()):
            value = _get(out, source.split("."))
            if _get(out, path.split(".")) is _ABSENT and value is not _ABSENT:
                _put(out, path.split("."), value)
        for path, value in VALUES.get(step, {}).get(kind, ()):
            _put_value(out, path.split("."), value)
        for path, wrong, right in CORRECTIONS.get(step, {}).get(kind, ()):
            *parent, key = path.split(".")
            holder = _get(out, parent)
            if isinstance(holder, dict) and holder.get(key) == wrong:
                holder[key] = right  # in place: the key keeps its position
    if "schema_version" in out:
        out["schema_version"] = SCHEMA_VERSION
    return out
