"""The report's model list: every row checked for what the report needs, and each row's shape.

A bad list is refused with one InputError line naming the file, the line and the problem, before
anything is computed or written.
"""

from __future__ import annotations

import functools
import hashlib
import math
from pathlib import Path

from ..errors import InputError, UserError
from ..shape.interval import Interval
from ..shape.model_list import read_model_list

#: Columns the report needs beyond what ``read_model_list`` checks.
REPORT_COLUMNS = ("family", "mmlu_pro_score", "mmlu_pro_setting")


def file_sha256(path: str | Path) -> str:
    """The list's fingerprint for the report's provenance."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_model_list(path: str | Path) -> list[dict]:
    """Rows of a model list, checked for everything the report needs; InputError names the problem.

    Each row gains ``_score``: its MMLU-Pro score as a float (NaN when the list has none).
    """
    rows = read_model_list(path)
    columns = rows[0].keys()
    missing = [c for c in REPORT_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"model list {path} lacks column(s) {', '.join(missing)} needed by the report")
    seen: set[tuple[str, str]] = set()
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        where = f"model list {path}, line {number}"
        if None in row or any(v is None for v in row.values()):
            raise InputError(f"{where}: the number of fields does not match the header")
        model = row["model_id"].strip()
        if not model:
            raise InputError(f"{where}: empty model_id")
        row["_score"] = _parse_score(row["mmlu_pro_score"], where)
        setting = row["mmlu_pro_setting"].strip()
        if math.isfinite(row["_score"]) and not setting:
            raise InputError(f"{where} ({model}): a score without its mmlu_pro_setting cannot be used")
        key = (model, setting if math.isfinite(row["_score"]) else "")
        if key in seen:
            raise InputError(f"{where}: {model} appears twice for the same setting")
        seen.add(key)
    return rows


def number_field(text: str | None, column: str, where: str) -> float:
    """A list cell as a number: NaN when empty, InputError (naming the row) when not a finite number."""
    text = (text or "").strip()
    if not text:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {column} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {column} {text!r} is not a finite number")
    return value


def _parse_score(text: str, where: str) -> float:
    value = number_field(text, "mmlu_pro_score", where)
    if not (math.isnan(value) or 0.0 <= value <= 100.0):
        raise InputError(f"{where}: mmlu_pro_score {value} is outside 0-100 (percent)")
    return value


@functools.lru_cache(maxsize=1024)
def _shape_cached(fields: tuple[tuple[str, str], ...], interval: Interval) -> dict:
    from ..shape.config import shape_from_fields

    return shape_from_fields(dict(fields), interval)


def row_shape(row: dict, interval: Interval, where: str) -> tuple[dict, str]:
    """Shape fields of a row, and where the parameter count came from.

    Preferred: the meta-device count of :func:`hf_interaction.shape.config.shape_from_fields`. If the
    shape module or its dependencies (torch, transformers) cannot be imported, fall back to the
    list's ``total_params`` column and depth / width from its config fields, and say so.
    """
    fields = tuple(sorted((k, v) for k, v in row.items() if isinstance(k, str) and not k.startswith("_")))
    try:
        shape = _shape_cached(fields, interval)
        return shape, "counted on the meta device from the list's config fields (hf_interaction.shape.config)"
    except ModuleNotFoundError:
        pass
    except UserError as exc:
        raise InputError(f"{where} ({row['model_id']}): {exc.one_line()}") from None
    try:
        depth, width = int(row["num_hidden_layers"]), int(row["hidden_size"])
        total = int(row["total_params"])
    except (KeyError, ValueError):
        raise InputError(f"{where} ({row['model_id']}): needs integer num_hidden_layers, hidden_size and "
                         "total_params (the shape module is not available to count parameters)") from None
    if depth <= 0 or width <= 0 or total <= 0:
        raise InputError(f"{where} ({row['model_id']}): depth, width and total_params must be positive")
    return {"depth": depth, "width": width, "r_dw": depth / width, "total_params": total}, (
        "the list's total_params column (hf_interaction.shape.config not importable)")
