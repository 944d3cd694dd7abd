"""The public Python API. The CLI is a thin layer over these functions.

>>> from hf_interaction import api
>>> api.shape("Qwen/Qwen2.5-0.5B")["r_dw"]                                  # doctest: +SKIP
0.026785714285714284
>>> result = api.run_audit("demo", api.AuditSettings.from_preset("demo", probe="builtin"))  # doctest: +SKIP
>>> result.metrics["aofe_ratio"], result.to_frame()                          # doctest: +SKIP

Heavy entry points (audit, eval, compare, report, sweep) are imported on first use so that
``import hf_interaction.api`` stays light.
"""

from __future__ import annotations

from pathlib import Path

from .core.runtime import record_header
from .core.store import Store  # noqa: F401 (also part of the API)
from .models.source import resolve_model
from .shape.config import shape_from_config, shape_from_fields
from .shape.interval import DEFAULT_INTERVAL, Interval
from .shape.model_list import read_model_list


def shape(spec: str, *, interval: Interval = DEFAULT_INTERVAL, store: Store | None = None) -> dict:
    """Shape of one model from its config (docs/design.md §2–3); recorded in ``store`` if given."""
    ref = resolve_model(spec)
    result = shape_from_config(ref.config, ref.model_id, interval)
    result["revision"] = ref.resolved_revision
    if store is not None:
        settings = {"interval": [interval.lo, interval.hi]}
        store.put("shapes", ref.model_id, ref.resolved_revision, settings,
                  {**record_header(), **result, "interval": interval.to_dict(), "provenance": ref.provenance()})
    return result


def shapes_from_list(path: str | Path, interval: Interval = DEFAULT_INTERVAL) -> list[dict]:
    """Shapes of every row of a model list, offline from its stored config fields."""
    return [shape_from_fields(row, interval) for row in read_model_list(path)]


_LAZY = {
    "AuditSettings": "hf_interaction.audit.run",
    "run_audit": "hf_interaction.audit.run",
    "load_for_audit": "hf_interaction.audit.run",
    "evaluate_mmlu_pro": "hf_interaction.evaluation",
    "export_data": "hf_interaction.evaluation",
    "compare_models": "hf_interaction.compare",
    "build_table": "hf_interaction.report",
    "generate_report": "hf_interaction.report",
    "Store": "hf_interaction.core.store",
}


def __getattr__(name: str):
    """Lazy access to the heavy API functions (PEP 562)."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hf_interaction.api' has no attribute {name!r}")
