"""Refuse non-finite tensors, naming where they came from (every estimator step checks its inputs)."""

from __future__ import annotations

import torch

from hf_interaction.errors import NumericalError


def refuse_non_finite(x: torch.Tensor, where: str) -> None:
    """Raise :class:`NumericalError` naming ``where`` if ``x`` holds any non-finite value."""
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise NumericalError(f"{bad} non-finite value(s) of {x.numel()} in {where}")
