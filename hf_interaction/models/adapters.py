"""Finding the pieces the audit needs inside a Hugging Face model, through the model's own modules.

- the input embedding and its effective matrix E_eff (including any scale the embedding module
  applies, found by comparing the module's output with its weight rows — never hard-coded);
- the list of blocks (the ModuleList whose length is the model's depth);
- each block's MLP input projection(s), from a small table of attribute paths per family.

Architectures whose MLP input is not recognised get an explicit "not available" note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import torch
from torch import nn

from ..errors import InputError

# Attribute paths (relative to a block) of MLP input projections, per family. All projections of one
# entry receive the same input (the normed residual), so the first one's input is captured.
MLP_INPUT_PATHS: tuple[tuple[str, ...], ...] = (
    ("mlp.gate_proj", "mlp.up_proj"),  # Llama, Qwen2/3, Mistral, Gemma 2/3, OLMo-2, SmolLM3
    ("mlp.gate_up_proj",),  # Phi-3 (fused gate and up)
    ("mlp.c_fc",),  # GPT-2 (Conv1D: weight is d × d_ff)
    ("mlp.dense_h_to_4h",),  # GPT-NeoX, Falcon, BLOOM
    ("fc1",),  # OPT
    ("intermediate.dense",),  # BERT family
    ("mlp.fc1",),  # Phi-1/2, others
    ("mlp.up_proj",),  # up-only MLPs
)


@dataclass
class ModelParts:
    """The modules of one model the audit hooks into."""

    embedding: nn.Module
    E_eff: torch.Tensor  # V × d, what a one-hot row maps to (the inputs_embeds the model sees)
    embedding_scale: float
    blocks: list[nn.Module]
    blocks_path: str
    mlp_inputs: list[list[nn.Module] | None]
    mlp_paths: list[str | None]
    notes: list[str] = field(default_factory=list)
    # Per block, the module whose input is the MLP's own input: the projection itself, or the MLP
    # module holding gate and up. The hook aliases the tensor there, so its gradient is the MLP's only
    # (in parallel-attention blocks the same normed residual also feeds attention).
    mlp_alias_modules: list[nn.Module | None] = field(default_factory=list)


def _get(module: nn.Module, path: str) -> nn.Module | None:
    found: nn.Module | None = module
    for part in path.split("."):
        found = getattr(found, part, None)
        if found is None:
            return None
    return found


def find_blocks(model: nn.Module, depth: int) -> tuple[str, list[nn.Module]]:
    """The ModuleList of the model's ``depth`` blocks (the first such list in module order)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == depth and len(module) > 0:
            first = module[0]
            if sum(p.numel() for p in first.parameters()) > 0:
                return name, list(module)
    raise InputError(f"cannot find the {depth} blocks of {type(model).__name__}; this architecture is not supported")


def effective_embedding(embedding: nn.Module) -> tuple[torch.Tensor, float]:
    """E_eff and the scale the embedding module applies to its weight rows (Gemma: √d).

    The scale is measured: the module's output for a few token ids is compared with the weight rows
    by least squares. A module whose output is not a scalar multiple of its rows is refused.
    """
    weight = cast(torch.Tensor, embedding.weight)
    ids = torch.arange(min(64, weight.shape[0]), device=weight.device)
    with torch.no_grad():
        out = embedding(ids).to(torch.float64)
        rows = weight[ids].to(torch.float64)
    denom = float((rows * rows).sum())
    if denom == 0.0:
        raise InputError("the input embedding's first rows are all zero; cannot determine its scale")
    scale = float((out * rows).sum()) / denom
    resid = float((out - scale * rows).norm()) / max(float(out.norm()), 1e-30)
    tol = 1e-2 if weight.dtype in (torch.float16, torch.bfloat16) else 1e-5
    if resid > tol:
        raise InputError(f"the input embedding ({type(embedding).__name__}) is not a scaled lookup table "
                         f"(relative residual {resid:.2g}); this architecture is not supported")
    if abs(scale - 1.0) < 1e-6:
        scale = 1.0
    E_eff = weight.detach() * scale if scale != 1.0 else weight.detach()
    return E_eff, scale


def mlp_alias_path(paths: tuple[str, ...]) -> str:
    """Where the MLP's own input is aliased: a lone projection itself (``fc1``, ``mlp.dense_h_to_4h``),
    or the module holding all the projections that share the input (``mlp`` for gate + up)."""
    if len(paths) == 1:
        return paths[0]
    parts = [p.split(".") for p in paths]
    common = []
    for names in zip(*parts, strict=False):
        if len(set(names)) != 1:
            break
        common.append(names[0])
    if not common:
        raise ValueError(f"MLP projections {paths} share no parent module")
    return ".".join(common)


def _mlp_weight(module: nn.Module) -> torch.Tensor:
    """Weight as (d_out, d_in); GPT-2's Conv1D stores (d_in, d_out)."""
    w = cast(torch.Tensor, module.weight)
    if type(module).__name__ == "Conv1D":
        return w.t()
    return w


def mlp_weights(parts: ModelParts) -> list[list[torch.Tensor] | None]:
    """Per block, the MLP input projection weights as (d_ff, d) matrices, or None."""
    return [None if mods is None else [_mlp_weight(m).detach() for m in mods] for mods in parts.mlp_inputs]


def find_parts(model: nn.Module, depth: int) -> ModelParts:
    """Locate embedding, blocks and MLP input projections of ``model``."""
    embedding = model.get_input_embeddings()  # type: ignore[operator]  # nn.Module __getattr__ too loose
    if embedding is None or not hasattr(embedding, "weight"):
        raise InputError(f"{type(model).__name__} has no input embedding table; cannot audit it")
    E_eff, scale = effective_embedding(embedding)
    blocks_path, blocks = find_blocks(model, depth)
    mlp_inputs: list[list[nn.Module] | None] = []
    mlp_paths: list[str | None] = []
    aliases: list[nn.Module | None] = []
    for block in blocks:
        found = None
        for paths in MLP_INPUT_PATHS:
            mods = [_get(block, p) for p in paths]
            if all(m is not None and hasattr(m, "weight") for m in mods):
                found = (paths, cast(list[nn.Module], mods))
                break
        mlp_inputs.append(found[1] if found else None)
        mlp_paths.append("+".join(found[0]) if found else None)
        aliases.append(_get(block, mlp_alias_path(found[0])) if found else None)
    notes = []
    if scale != 1.0:
        notes.append(f"input embedding scaled by {scale:.6g} inside the embedding module (included in E_eff)")
    if all(m is None for m in mlp_inputs):
        notes.append(f"MLP input projection of {type(blocks[0]).__name__} not recognised: NFA alignment not available")
    return ModelParts(embedding, E_eff, scale, blocks, blocks_path, mlp_inputs, mlp_paths, notes, aliases)
