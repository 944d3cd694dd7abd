"""Refuse non-finite tensors, naming where they came from (every estimator step checks its inputs)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from hf_interaction.errors import NumericalError


def refuse_non_finite(x: torch.Tensor, where: str) -> None:
    """Raise :class:`NumericalError` naming ``where`` if ``x`` holds any non-finite value.

    The sum is non-finite whenever an entry is (inf and nan propagate), so one reduction clears the
    common case; only a non-finite sum (a bad entry, or finite entries that overflow it) has the
    entries counted, which is what decides; counting on every check would be a full extra pass."""
    if not x.is_floating_point() or bool(torch.isfinite(x.sum())):
        return
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise NumericalError(f"{bad} non-finite value(s) of {x.numel()} in {where}")


def refuse_any_non_finite(named: Sequence[tuple[torch.Tensor, str]]) -> None:
    """:func:`refuse_non_finite` of every (tensor, where) pair with one host round trip instead of one
    per tensor: their sums are gathered into one tensor and checked together; only when one of them is
    not finite are the tensors checked one by one, in order, so the error names the first bad one."""
    sums = [t.sum().to(dtype=torch.float64) for t, _ in named if t.is_floating_point()]
    if not sums:
        return
    device = sums[0].device
    if bool(torch.isfinite(torch.stack([v.to(device) for v in sums])).all()):
        return
    for t, where in named:
        refuse_non_finite(t, where)
