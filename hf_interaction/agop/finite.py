"""Refuse non-finite tensors, naming where they came from (every estimator step checks its inputs)."""

from __future__ import annotations

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
