"""One number formatter for every table and message the tool prints or writes.

Fixed rules, so the same value reads the same everywhere and written files do not depend on the
machine: ``fixed`` for quantities on a known scale (scores, correlations), ``sig`` for quantities
spanning decades (AOFE, F, D), ``sci`` for tiny shares, ``count`` for integers. Missing values read
``"-"`` (or ``"n/a"`` where a statistic could not be computed); never ``None`` or ``nan``.
"""

from __future__ import annotations

import math
import re
from typing import Any, TypeGuard

MISSING = "-"
NOT_AVAILABLE = "n/a"


def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fixed(value: float | None, digits: int = 3, missing: str = NOT_AVAILABLE) -> str:
    """Fixed-point with ``digits`` decimals; never ``-0.000``."""
    if not _finite(value):
        return missing
    text = f"{value:.{digits}f}"
    return text[1:] if re.fullmatch(r"-0\.?0*", text) else text


def sig(value: float | None, digits: int = 4, missing: str = MISSING) -> str:
    """``digits`` significant digits (``%g``)."""
    if not _finite(value):
        return missing
    return f"{value:.{digits}g}"


def sci(value: float | None, digits: int = 2, missing: str = MISSING) -> str:
    """Scientific notation with ``digits`` decimals in the mantissa."""
    if not _finite(value):
        return missing
    return f"{value:.{digits}e}"


def signed(value: float | None, digits: int = 3, missing: str = MISSING) -> str:
    """Fixed-point with an explicit sign (distances in decades, differences)."""
    if not _finite(value):
        return missing
    return f"{value:+.{digits}f}"


def count(value: int | None, missing: str = MISSING) -> str:
    """An integer with thousands separators."""
    return missing if value is None else f"{int(value):,}"


def p_value(p: float | None) -> str:
    """A p-value: four decimals below 0.001, else three."""
    if not _finite(p):
        return NOT_AVAILABLE
    return f"{p:.4f}" if p < 0.001 else f"{p:.3f}"


def params(n: int) -> str:
    """A parameter count in billions, two decimals."""
    return f"{n / 1e9:.2f}B"


def interval(low: float | None, high: float | None, fmt=sig, **kw) -> str:
    """``[low, high]`` in one formatter, or ``-`` when either end is missing."""
    if not (_finite(low) and _finite(high)):
        return MISSING
    return f"[{fmt(low, **kw)}, {fmt(high, **kw)}]"


def cell(value: Any, digits: int = 4) -> str:
    """Any table cell: ints with separators, floats with ``digits`` significant digits, booleans as
    yes/no, missing as ``-``."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return sig(value, digits)
    return str(value)
