"""The output function f of docs/design.md §4.1 around a Hugging Face model, with the hooks the estimators need.

f(e) = (z − mean(z)) / s where z are the last-position logits for input embeddings e and s is a fixed
scale (the RMS of the centred last-position logits over the probe windows): ``OutputFunction`` gives
z − mean(z) and ``OutputFunction.scaled(s)`` the f the estimators take, once s is measured. Encoders without an LM
head (BERT family) use the final hidden state at the last position instead, uncentred (there is no
softmax whose shift invariance would motivate centring), and the result says so.

Forward pre-hooks capture the exact tensors entering each block, and replace the tensor entering each
block's MLP by an alias made inside the MLP (``x.view_as(x)``): its gradient is then the MLP's alone,
also in parallel-attention blocks (Phi, Falcon-7B) where the same normed residual feeds attention.
One backward pass gives the gradients at all of them.

Windows may be framed with a prefix (BOS, probe/windows.py): ``f(e)`` takes the T text embeddings, puts the
prefix embeddings (constant) before them, and reports ``prefix`` so gradients at the prefix
positions are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, cast

import torch
from torch import nn

from ..agop.passes import ForwardOut
from ..models.adapters import ModelParts

CAUSAL_LM = "causal_lm"
ENCODER = "encoder"
OUTPUT_FUNCTION_DOC = {
    CAUSAL_LM: "last-position logits, centred over the vocabulary, divided by s (their RMS over the probe windows)",
    ENCODER: "encoder without an LM head: final hidden state at the last position, divided by s (its RMS over the "
             "probe windows); not centred",
}


class OutputFunction:
    """Callable ``e -> ForwardOut`` with the centred, unscaled output; :meth:`scaled` gives the f the
    AGOP estimators take (see agop/accumulator.py), once s is known."""

    def __init__(self, model: nn.Module, parts: ModelParts, kind: str, prefix_ids: tuple[int, ...] = ()):
        self.model, self.parts, self.kind = model, parts, kind
        self.prefix_ids = tuple(prefix_ids)
        self._prefix_embeds: torch.Tensor | None = None
        if self.prefix_ids:
            with torch.no_grad():
                ids = torch.tensor(self.prefix_ids, device=self.input_device)
                self._prefix_embeds = parts.embedding(ids).detach()
        self._blocks: list[torch.Tensor | None] = [None] * len(parts.blocks)
        self._mlps: list[torch.Tensor | None] = [None] * len(parts.blocks)
        self._handles = []
        aliases = parts.mlp_alias_modules or [None] * len(parts.blocks)
        for layer, block in enumerate(parts.blocks):
            self._handles.append(block.register_forward_pre_hook(self._block_hook(layer), with_kwargs=True))
            alias = aliases[layer]
            if alias is not None:
                self._handles.append(alias.register_forward_pre_hook(self._mlp_hook(layer), with_kwargs=True))

    @property
    def prefix(self) -> int:
        """Number of framing positions (BOS) before the text in every model input."""
        return len(self.prefix_ids)

    def _block_hook(self, layer: int):
        def hook(module, args, kwargs):
            self._blocks[layer] = args[0] if args else kwargs["hidden_states"]

        return hook

    def _mlp_hook(self, layer: int):
        def hook(module, args, kwargs):
            if args:
                alias = args[0].view_as(args[0])
                self._mlps[layer] = alias
                return (alias, *args[1:]), kwargs
            name = next(k for k in ("hidden_states", "x", "input", "hidden_state") if k in kwargs)
            alias = kwargs[name].view_as(kwargs[name])
            self._mlps[layer] = alias
            return args, {**kwargs, name: alias}

        return hook

    def frame(self, e: torch.Tensor) -> torch.Tensor:
        """B×T×d text embeddings → B×(P+T)×d model input with the constant prefix embeddings first."""
        if self._prefix_embeds is None:
            return e
        prefix = self._prefix_embeds.to(dtype=e.dtype).unsqueeze(0).expand(e.shape[0], -1, -1)
        return torch.cat([prefix, e], dim=1)

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    @property
    def input_device(self) -> torch.device:
        return cast(torch.Tensor, self.parts.embedding.weight).device

    def raw_output(self, *, input_ids: torch.Tensor | None = None, inputs_embeds: torch.Tensor | None = None,
                   full_logits: bool = False) -> torch.Tensor:
        """Uncentred, unscaled output: last-position logits (or all logits with ``full_logits``), or the
        encoder's last hidden state at the last position."""
        kwargs: dict[str, Any] = {"use_cache": False} if self.kind == CAUSAL_LM else {}
        if self.kind == CAUSAL_LM and not full_logits:
            kwargs["logits_to_keep"] = 1
        out = self.model(input_ids=input_ids, inputs_embeds=inputs_embeds, **kwargs)
        if self.kind == CAUSAL_LM:
            return out.logits if full_logits else out.logits[:, -1, :]
        return out.last_hidden_state[:, -1, :]

    def centre(self, z: torch.Tensor) -> torch.Tensor:
        return z - z.mean(dim=-1, keepdim=True) if self.kind == CAUSAL_LM else z

    def scaled(self, s: float) -> ScaledOutput:
        """f = (centred output) / s: what the estimators differentiate."""
        return ScaledOutput(self, s)

    def __call__(self, e: torch.Tensor) -> ForwardOut:
        self._blocks = [None] * len(self.parts.blocks)
        self._mlps = [None] * len(self.parts.blocks)
        z = self.raw_output(inputs_embeds=self.frame(e))
        f = self.centre(z.float() if z.dtype in (torch.float16, torch.bfloat16) else z)
        missing = [layer for layer, t in enumerate(self._blocks) if t is None]
        if missing:
            raise RuntimeError(f"blocks {missing} were not called in the forward pass")
        block_inputs = cast(list[torch.Tensor], list(self._blocks))  # none missing
        out = ForwardOut(f=f, block_inputs=block_inputs, mlp_inputs=list(self._mlps), prefix=self.prefix)
        # Drop our references so the autograd graph is freed as soon as the caller is done with it.
        self._blocks = [None] * len(self.parts.blocks)
        self._mlps = [None] * len(self.parts.blocks)
        return out


@dataclass(frozen=True)
class ScaledOutput:
    """The output function at a fixed scale s (docs/design.md §4.1): ``fn(e)`` with ``f / s``."""

    fn: OutputFunction
    s: float

    def __call__(self, e: torch.Tensor) -> ForwardOut:
        out = self.fn(e)
        return replace(out, f=out.f / self.s)
