"""Checks an audit runs before it measures anything: that the model's parts fit the estimators
(widths) and that the function the AGOP differentiates is the one the model runs (embedding path).
Each failure is one clear line: an InputError (exit 3) or a NumericalError (exit 5)."""

from __future__ import annotations

import torch

from ..errors import InputError, NumericalError
from ..models.adapters import ModelParts, mlp_weights
from .output_function import OutputFunction


def check_widths(parts: ModelParts, width: int) -> None:
    """Before any model pass: every recognised MLP input projection must read the residual width
    (``width``, the blocks' tensors); the embedding width (E_eff's, d_e) may differ from it
    (OPT-350m's ``word_embed_proj_dim``, ALBERT's ``embedding_size``): the input-space AGOP is taken
    in embedding space and the layer profile in the blocks' width."""
    for layer, weights in enumerate(mlp_weights(parts)):
        for w in weights or []:
            if w.shape[1] != width:
                raise InputError(f"block {layer}'s MLP input projection reads width {w.shape[1]}, the residual "
                                 f"stream is {width} wide; this architecture is not supported")


def check_embedding_path(fn: OutputFunction, parts: ModelParts, window: torch.Tensor) -> float:
    """Refuse a model whose output through ``inputs_embeds`` (the path the AGOP differentiates) is not
    its output through ``input_ids`` (the path it runs in use): some architectures scale embeddings
    only on the ``input_ids`` path (Falcon-H1's ``embedding_multiplier``). Returns the relative
    difference of the last-position outputs on one framed window."""
    ids = window.unsqueeze(0).to(fn.input_device)
    with torch.no_grad():
        by_ids = fn.raw_output(input_ids=ids).to(torch.float64)
        embeds = parts.embedding(ids[:, fn.prefix:])
        by_embeds = fn.raw_output(inputs_embeds=fn.frame(embeds)).to(torch.float64)
    if not (torch.isfinite(by_ids).all() and torch.isfinite(by_embeds).all()):
        raise NumericalError("non-finite model outputs on the probe windows (check the weights and --dtype)")
    rel = float((by_ids - by_embeds).norm() / by_ids.norm().clamp_min(1e-30))
    tol = 1e-2 if parts.E_eff.dtype in (torch.float16, torch.bfloat16) else 1e-4
    if not rel <= tol:
        raise NumericalError(
            f"the model's output through inputs_embeds differs from its output through input_ids by {rel:.3g} "
            f"relative (tolerance {tol:g}): it transforms embeddings on the input_ids path only (e.g. an "
            "embedding multiplier), so the AGOP would measure another function",
            "this architecture is not supported by the audit",
        )
    return rel
