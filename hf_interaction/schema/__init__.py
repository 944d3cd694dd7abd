"""The record schema: every key the tool writes, with its type and meaning, one module per record
kind (shape, audit, evaluation, sweep, comparison), in the manner of lm-eval's ``result_schema``.

A kind's schema is a table of lines ``PATH TYPE MEANING`` (see :mod:`.spec`). The same tables
check records (:func:`problems`), upgrade records written under an earlier schema version
(:func:`upgrade`; a newer one is refused with one line), and generate ``docs/schema.md``
(:func:`reference_markdown`).
"""

from __future__ import annotations

from importlib import import_module

from .spec import SCHEMA_VERSION, RecordSchema, problems_in
from .upgrade import upgrade

#: Record kind → the module holding its key table (and that table's name).
KINDS = {"shape": ("shape", "SHAPE_RECORD"), "audit": ("audit", "AUDIT"), "evaluation": ("evaluation", "EVALUATION"),
         "sweep": ("sweep", "SWEEP"), "comparison": ("comparison", "COMPARISON")}


def schema_of(kind: str) -> RecordSchema:
    """The schema of one record kind."""
    module, name = KINDS[kind]
    return getattr(import_module(f"{__name__}.{module}"), name)


def schemas() -> dict[str, RecordSchema]:
    """Every record kind's schema, by kind name."""
    return {kind: schema_of(kind) for kind in KINDS}


def problems(kind: str, record: dict) -> list[str]:
    """What in ``record`` disagrees with the schema of ``kind``: undocumented keys, wrong types,
    missing required keys. Empty for a conforming record."""
    return problems_in(schema_of(kind), record)


def reference_markdown() -> str:
    """``docs/schema.md``: every key of every record kind, with its type and meaning."""
    from .spec import to_markdown

    return to_markdown(list(schemas().values()))


__all__ = ["KINDS", "SCHEMA_VERSION", "RecordSchema", "problems", "reference_markdown", "schema_of", "schemas",
           "upgrade"]
