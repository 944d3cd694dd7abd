"""Curated model lists (``model_lists/*.csv``): config fields plus sourced reference data per row."""

from __future__ import annotations

import csv
from pathlib import Path

from ..errors import InputError

REQUIRED_COLUMNS = ("model_id", "model_type", "num_hidden_layers", "hidden_size")


def read_model_list(path: str | Path, required: tuple[str, ...] = REQUIRED_COLUMNS) -> list[dict]:
    """Rows of a model list CSV as dicts (strings), checked for the ``required`` columns (by default
    those ``shape --list`` needs)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"model list not found: {p}", "see model_lists/ for the bundled lists")
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = reader.fieldnames or []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"model list {p} is not a readable CSV file: {exc}") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise InputError(f"model list {p} lacks column(s) {', '.join(missing)}")
    if not rows:
        raise InputError(f"model list {p} has no rows")
    return rows
