"""The efficient R_D/W interval (docs/design.md §3) and a model's position relative to it.

The interval is data with provenance, never a bare constant: every result records the bounds it
used and where they came from.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import InputError, UsageError

DEFAULT_SOURCE = (
    "paper authors' fixed-budget next-token sweeps (byte-level WikiText-103, budgets 1M-3M params): "
    "shapes within 2% of the best test loss at every budget; arXiv 2605.27989, repository "
    "wenjie1835/Interaction_Law @853f922 (hf_interaction/data/reference/paper_ntp_sweep.csv)"
)


@dataclass(frozen=True)
class Interval:
    """A closed interval [lo, hi] of R_D/W = depth / width, with where it came from."""

    lo: float
    hi: float
    source: str = "user"

    def __post_init__(self) -> None:
        for name, v in (("lower bound", self.lo), ("upper bound", self.hi)):
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise UsageError(f"interval {name} must be a positive number, got {v!r}")
        if self.lo >= self.hi:
            raise UsageError(f"interval lower bound {self.lo} must be below the upper bound {self.hi}")

    @property
    def centre(self) -> float:
        """Geometric centre: the interval is read on a log axis."""
        return math.sqrt(self.lo * self.hi)

    def distance(self, r_dw: float) -> float:
        """Signed distance in decades: 0 inside, log10(r/hi) > 0 above, log10(r/lo) < 0 below."""
        _check_ratio(r_dw)
        if r_dw > self.hi:
            return math.log10(r_dw / self.hi)
        if r_dw < self.lo:
            return math.log10(r_dw / self.lo)
        return 0.0

    def coordinate(self, r_dw: float) -> float:
        """(log r - log lo) / (log hi - log lo): 0 at lo, 1 at hi, outside [0, 1] outside."""
        _check_ratio(r_dw)
        return (math.log(r_dw) - math.log(self.lo)) / (math.log(self.hi) - math.log(self.lo))

    def contains(self, r_dw: float) -> bool:
        _check_ratio(r_dw)
        return self.lo <= r_dw <= self.hi

    def position(self, r_dw: float) -> dict:
        """The three position fields every output carries."""
        return {
            "interval_distance": self.distance(r_dw),
            "interval_coordinate": self.coordinate(r_dw),
            "inside_interval": self.contains(r_dw),
        }

    def to_dict(self) -> dict:
        return {**asdict(self), "centre": self.centre}


DEFAULT_INTERVAL = Interval(0.0204, 0.0645, DEFAULT_SOURCE)


def _check_ratio(r_dw: float) -> None:
    if not (isinstance(r_dw, (int, float)) and math.isfinite(r_dw) and r_dw > 0):
        raise InputError(f"R_D/W must be a positive finite number, got {r_dw!r}")


def parse_interval(text: str | None) -> Interval:
    """Parse ``LO:HI`` (e.g. ``0.02:0.05``); None gives the default interval."""
    if text is None:
        return DEFAULT_INTERVAL
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--interval must look like LO:HI (e.g. 0.02:0.05), got {text!r}")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"--interval bounds must be numbers, got {text!r}") from None
    return Interval(lo, hi, f"user (--interval {text})")


def load_interval_file(path: str | Path) -> Interval:
    """Read an interval file written by ``hf-interaction sweep`` (JSON with lo, hi, source)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"interval file not found: {p}")
    try:
        data = json.loads(p.read_text())
        return Interval(float(data["lo"]), float(data["hi"]), str(data.get("source", f"file {p}")))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"interval file {p} is not a valid interval file: {exc}") from None


def resolve_interval(interval: str | None, interval_file: str | None) -> Interval:
    """The interval a command uses: ``--interval`` or ``--interval-file`` (not both), else the default."""
    if interval and interval_file:
        raise UsageError("give --interval or --interval-file, not both")
    if interval_file:
        return load_interval_file(interval_file)
    return parse_interval(interval)
