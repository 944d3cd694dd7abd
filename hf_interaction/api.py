"""The public Python API. The CLI is a thin layer over these functions.

>>> from hf_interaction import api
>>> api.shape("Qwen/Qwen2.5-0.5B")["r_dw"]          # doctest: +SKIP
0.026785714285714284
"""

from __future__ import annotations

from pathlib import Path

from .interval import DEFAULT_INTERVAL, Interval
from .model_list import read_model_list
from .shape import shape_from_config, shape_from_fields
from .source import resolve_model
from .store import Store


def shape(spec: str, *, interval: Interval = DEFAULT_INTERVAL, store: Store | None = None) -> dict:
    """Shape of one model from its config (DESIGN §2–3); recorded in ``store`` if given."""
    ref = resolve_model(spec)
    result = shape_from_config(ref.config, ref.model_id, interval)
    result["revision"] = ref.resolved_revision
    if store is not None:
        settings = {"interval": [interval.lo, interval.hi]}
        store.put("shapes", ref.model_id, ref.resolved_revision, settings,
                  {**result, "interval": interval.to_dict(), "provenance": ref.provenance()})
    return result


def shapes_from_list(path: str | Path, interval: Interval = DEFAULT_INTERVAL) -> list[dict]:
    """Shapes of every row of a model list, offline from its stored config fields."""
    return [shape_from_fields(row, interval) for row in read_model_list(path)]
