"""The model passes behind one window's contributions (docs/design.md §4.2–§4.4); nothing is accumulated here.

The model is seen only through a *forward callable* supplied by the caller (the audit module):
``forward(e) -> ForwardOut`` maps a batch of embedded windows ``e`` (B×T×d) to the centred, scaled
last-position logits ``f`` (B×V) and exposes the tensors entering every block and every block's MLP
input projection. An input-probe pass gives ∂⟨f, Jᵀz⟩/∂e (a JVP, then a VJP); an output-probe pass
gives the gradients of ⟨f, r⟩ at the embeddings, every block input and every MLP input, either
from a forward of one copy per probe or from one forward shared by all probes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import torch
from torch.autograd import forward_ad as fwAD

from hf_interaction.agop.finite import refuse_any_non_finite, refuse_non_finite

JvpMethod = Literal["forward", "double_backward"]


@dataclass
class ForwardOut:
    """What the caller's ``forward(e)`` returns for a batch ``e`` of B embedded windows (B×T×d).

    Attributes:
        f: B×V, the last-position logits centred over the vocabulary and divided by the fixed scale s.
        block_inputs: one B×T×d tensor per block: exactly the tensor entering the block, part of the
            autograd graph that produced ``f`` (block 0's input may be ``e`` itself).
        mlp_inputs: one entry per block: the B×T×d tensor entering the block's MLP input projection
            (the normed residual), or ``None`` where the MLP input is not recognised.
        prefix: number of leading framing positions (a BOS token) in ``block_inputs`` and
            ``mlp_inputs`` that are not part of ``e``: their gradients are left out of every sum, so
            those tensors are B×(prefix+T)×d.
    """

    f: torch.Tensor
    block_inputs: list[torch.Tensor]
    mlp_inputs: list[torch.Tensor | None]
    prefix: int = 0


ForwardFn = Callable[[torch.Tensor], ForwardOut]


def _copies(e: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` independent copies of one window e (T×d) as a leaf batch that requires grad."""
    return e.detach().unsqueeze(0).expand(count, *e.shape).clone().requires_grad_(True)


def jvp_vjp_forward(forward: ForwardFn, e: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """For each copy b: ∂⟨f, wᵦ⟩/∂e with wᵦ = Jᵀzᵦ = JVP of f along tangent uᵦ (forward-mode AD).

    The primal output keeps its reverse-mode graph; the backward pass runs *after* leaving the dual
    level, because inside it autograd would try to forward-differentiate the backward ops
    (e.g. ``silu_backward`` has no forward-mode formula).
    """
    x = _copies(e, tangents.shape[0])
    with fwAD.dual_level():
        out = forward(fwAD.make_dual(x, tangents.to(device=x.device, dtype=x.dtype)))
        f, w = fwAD.unpack_dual(out.f)
        if w is None:
            raise ValueError("forward output f carries no forward-mode tangent: is it connected to e?")
        w = w.detach().clone()
    refuse_non_finite(f, "the forward output f (input-probe pass)")
    refuse_non_finite(w, "the JVP Jᵀz (forward-mode tangent of f)")
    (g,) = torch.autograd.grad(f, x, grad_outputs=w)
    refuse_non_finite(g, "the VJP ∂⟨f, Jᵀz⟩/∂e")
    return g


def jvp_vjp_double_backward(forward: ForwardFn, e: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """Same result as :func:`jvp_vjp_forward`, with the JVP from the double-backward trick.

    w ↦ ⟨∂⟨f, w⟩/∂e, u⟩ is linear in w with gradient J_e u, so differentiating it with respect to a
    dummy w (built with ``create_graph=True``) gives the JVP using reverse-mode derivatives only.
    """
    x = _copies(e, tangents.shape[0])
    f = forward(x).f
    refuse_non_finite(f, "the forward output f (input-probe pass)")
    dummy = torch.zeros_like(f, requires_grad=True)
    (gx,) = torch.autograd.grad(f, x, grad_outputs=dummy, create_graph=True)
    (w,) = torch.autograd.grad(gx, dummy, grad_outputs=tangents.to(gx), retain_graph=True)
    w = w.detach()
    refuse_non_finite(w, "the JVP Jᵀz (double-backward)")
    (g,) = torch.autograd.grad(f, x, grad_outputs=w)
    refuse_non_finite(g, "the VJP ∂⟨f, Jᵀz⟩/∂e")
    return g


@dataclass
class OutputGrads:
    """Per-probe gradients of ⟨f, r_k⟩ from one output-probe pass (each K×T×d, or K×B×T×d for a
    batch of windows: :meth:`window` takes one window's)."""

    at_input: torch.Tensor
    at_blocks: list[torch.Tensor]
    at_mlp: list[torch.Tensor | None]

    def window(self, b: int) -> OutputGrads:
        """Window b's K×T×d gradients from a batch's K×B×T×d ones."""
        return OutputGrads(at_input=self.at_input[:, b], at_blocks=[g[:, b] for g in self.at_blocks],
                           at_mlp=[None if g is None else g[:, b] for g in self.at_mlp])


def _output_targets(out: ForwardOut, x: torch.Tensor, n_layers: int, R: torch.Tensor):
    """Check one forward's output and list the tensors to differentiate at (and their names)."""
    if len(out.block_inputs) != n_layers or len(out.mlp_inputs) != n_layers:
        raise ValueError(
            f"forward returned {len(out.block_inputs)} block inputs and {len(out.mlp_inputs)} MLP inputs, "
            f"expected {n_layers} of each"
        )
    if out.f.shape[-1] != R.shape[-1]:
        raise ValueError(f"forward output f has shape {tuple(out.f.shape)}, probes have length {R.shape[-1]}")
    refuse_non_finite(out.f, "the forward output f (output-probe pass)")
    mlp_layers = [layer for layer, t in enumerate(out.mlp_inputs) if t is not None]
    targets = [x, *out.block_inputs, *(t for t in out.mlp_inputs if t is not None)]
    names = (
        ["the embeddings e"]
        + [f"the input of block {layer}" for layer in range(n_layers)]
        + [f"the MLP input of block {layer}" for layer in mlp_layers]
    )
    for target, name in zip(targets, names, strict=True):
        if not target.requires_grad:
            raise ValueError(f"{name} is not connected to f in the autograd graph (it does not require grad)")
    return targets, names, mlp_layers


def _output_grads(grads, names, mlp_layers: list[int], n_layers: int, prefix: int, dims: int = 3) -> OutputGrads:
    """Check the gradients of one output-probe pass and sort them into an :class:`OutputGrads`
    (``dims`` = 3: K×T×d tensors; 4: K×B×T×d, positions on dimension 2)."""
    for grad, name in zip(grads, names, strict=True):
        if grad is None:
            raise ValueError(f"{name} is not connected to f in the autograd graph (check the hooks)")
    refuse_any_non_finite([(grad, f"the gradient of ⟨f, r⟩ at {name}")
                           for grad, name in zip(grads, names, strict=True)])
    p = prefix  # framing positions (BOS) are not part of e: leave their gradients out

    def text(g: torch.Tensor) -> torch.Tensor:
        return g[:, p:] if dims == 3 else g[:, :, p:]

    at_mlp: list[torch.Tensor | None] = [None] * n_layers
    for layer, grad in zip(mlp_layers, grads[1 + n_layers :], strict=True):
        at_mlp[layer] = text(grad)
    return OutputGrads(at_input=grads[0], at_blocks=[text(g) for g in grads[1 : 1 + n_layers]], at_mlp=at_mlp)


def output_probe_grads(forward: ForwardFn, e: torch.Tensor, R: torch.Tensor, n_layers: int) -> OutputGrads:
    """One forward of K copies of e and one backward of Σ_k ⟨f_k, r_k⟩ to e, blocks and MLP inputs."""
    x = _copies(e, R.shape[0])
    out = forward(x)
    if tuple(out.f.shape) != tuple(R.shape):
        raise ValueError(f"forward output f has shape {tuple(out.f.shape)}, expected {tuple(R.shape)}")
    targets, names, mlp_layers = _output_targets(out, x, n_layers, R)
    grads = torch.autograd.grad(out.f, targets, grad_outputs=R.to(out.f), allow_unused=True)
    return _output_grads(grads, names, mlp_layers, n_layers, out.prefix)


def output_probe_grads_one_forward(forward: ForwardFn, e: torch.Tensor, R: torch.Tensor, n_layers: int,
                                   batch: int | None = None) -> Iterator[tuple[slice, OutputGrads]]:
    """The gradients of :func:`output_probe_grads` for B windows at once, from **one** forward of the
    batch e (B×T×d): the K probes are K backward passes of Σ_b ⟨f_b, r_k⟩, vectorised over the probes
    (:func:`batched_vjp`), ``batch`` probes at a time (all at once if
    None). The windows do not interact, so each window's slice is its own gradient. Yields
    ``(probes, grads)`` with every tensor K×B×T×d.

    A forward is about as costly as a backward without parameter gradients, so K probes cost K + 1
    passes instead of 2K, and a batch of windows fills the matrix products a single window leaves
    idle on a CPU.
    """
    if e.ndim != 3:
        raise ValueError(f"windows must be B×T×d, got shape {tuple(e.shape)}")
    x = e.detach().clone().requires_grad_(True)
    out = forward(x)
    if tuple(out.f.shape) != (e.shape[0], R.shape[-1]):
        raise ValueError(f"forward output f has shape {tuple(out.f.shape)}, expected ({e.shape[0]}, {R.shape[-1]})")
    targets, names, mlp_layers = _output_targets(out, x, n_layers, R)
    slices = list(probe_slices(R.shape[0], batch))
    for number, sl in enumerate(slices):
        probes = R[sl].to(out.f).unsqueeze(1).expand(-1, e.shape[0], -1)  # K×B×V: probe k for every window
        grads = batched_vjp(out.f, targets, probes, keep_graph=number + 1 < len(slices))
        yield sl, _output_grads(grads, names, mlp_layers, n_layers, out.prefix, dims=4)


#: How the K backward passes of one output pass are vectorised: "legacy" (autograd's own
#: ``is_grads_batched``, torch's legacy vmap) or "functorch" (``torch.func.vmap``).
VjpBackend = Literal["legacy", "functorch"]


def vjp_backend(device: torch.device) -> VjpBackend:
    """The backend for a model on ``device``: functorch on an accelerator, legacy on a CPU.

    The legacy vmap has no batching rule for the backward of SiLU, GELU, tanh, softmax or layer norm,
    and loops over the K probes for each of them in every block: 2·K·L more kernel launches per pass
    for a Llama-type model (benchmarks/backward_ops.py counts the operator calls). functorch batches
    them. The gradients agree to float32 round-off, bit for bit on Llama-type models
    (tests/agop/test_output_pass.py). On a CPU the loop costs little and functorch was the slower of
    the two on the real SmolLM2 (benchmarks/backward_ops.py times both), so the CPU keeps the legacy path."""
    return "legacy" if device.type == "cpu" else "functorch"


def batched_vjp(f: torch.Tensor, targets: list[torch.Tensor], probes: torch.Tensor, *, keep_graph: bool = True,
                backend: VjpBackend | None = None) -> list[torch.Tensor | None]:
    """The K backward passes of ⟨f, probes[k]⟩ to each target as one vectorised backward (K×… each;
    None for a target f does not depend on). ``keep_graph=False`` lets the legacy backward free the
    graph as it goes (the last call on it). ``backend``: see :func:`vjp_backend` (None: its choice
    for f's device)."""
    if (backend or vjp_backend(f.device)) == "legacy":
        return list(torch.autograd.grad(f, targets, grad_outputs=probes, allow_unused=True, is_grads_batched=True,
                                        retain_graph=keep_graph))
    unused: list[int] = []

    def vjp(v: torch.Tensor) -> tuple[torch.Tensor, ...]:
        grads = torch.autograd.grad(f, targets, grad_outputs=v, allow_unused=True, retain_graph=True)
        unused[:] = [i for i, g in enumerate(grads) if g is None]  # traced once: the same for every probe
        return tuple(g for g in grads if g is not None)

    found = iter(torch.func.vmap(vjp)(probes))
    return [None if i in unused else next(found) for i in range(len(targets))]


def output_passes(forward: ForwardFn, e: torch.Tensor, R: torch.Tensor, n_layers: int, batch: int | None,
                  one_forward: bool) -> Iterator[tuple[slice, OutputGrads]]:
    """The output-probe pass over the windows e (B×T×d): its (probes, gradients, each K×B×T×d), from
    one shared forward of the batch (:func:`output_probe_grads_one_forward`) when ``one_forward``, else
    from a forward of one copy per probe and window (for a model whose backward cannot be batched:
    :func:`batched_backward_failure` says so before the run)."""
    if one_forward:
        return output_probe_grads_one_forward(forward, e, R, n_layers, batch)
    return _output_passes_by_copies(forward, e, R, n_layers, batch)


def capability_failure(trial: Callable[[], object]) -> str | None:
    """Run ``trial``, a small computation that needs one autograd capability; None when it ran, else the
    first line of what it raised. The audit chooses its fallbacks with these checks before the run,
    instead of reading the text of an error raised in the middle of it."""
    try:
        trial()
    except (NotImplementedError, RuntimeError) as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
    return None


def forward_mode_failure(forward: ForwardFn, e_i: torch.Tensor, U: torch.Tensor) -> str | None:
    """Why forward-mode AD cannot run through ``forward`` (an op without a forward-mode formula), or
    None: one JVP of one window (T×d) along its first input probe."""
    return capability_failure(lambda: jvp_vjp_forward(forward, e_i, U[:1]))


def batched_backward_failure(forward: ForwardFn, e_i: torch.Tensor, R: torch.Tensor, n_layers: int) -> str | None:
    """Why the backward of ``forward`` cannot be batched over probes (an op without a batching rule),
    or None: one shared forward of one window (T×d) and the batched backward of two output probes."""
    return capability_failure(
        lambda: next(output_probe_grads_one_forward(forward, e_i.unsqueeze(0), R[:2], n_layers, None)))


def _output_passes_by_copies(forward: ForwardFn, e: torch.Tensor, R: torch.Tensor, n_layers: int,
                             batch: int | None) -> Iterator[tuple[slice, OutputGrads]]:
    for sl in probe_slices(R.shape[0], batch):
        per_window = [output_probe_grads(forward, e_i, R[sl], n_layers) for e_i in e]
        yield sl, OutputGrads(
            at_input=torch.stack([g.at_input for g in per_window], dim=1),
            at_blocks=[torch.stack(layer, dim=1) for layer in zip(*(g.at_blocks for g in per_window), strict=True)],
            at_mlp=[None if layer[0] is None else torch.stack(layer, dim=1)
                    for layer in zip(*(g.at_mlp for g in per_window), strict=True)])


def probe_slices(total: int, size: int | None) -> Iterator[slice]:
    """Consecutive slices of ``range(total)`` of at most ``size`` elements (all at once if None)."""
    step = max(1, total if not size else int(size))
    for start in range(0, total, step):
        yield slice(start, min(total, start + step))
