"""Probe-based estimators of the AGOP interaction metrics (DESIGN §4.2–§4.4).

The model is seen only through a *forward callable* supplied by the caller (the audit module):
``forward(e) -> ForwardOut`` maps a batch of embedded windows ``e`` (B×T×d) to the centred, scaled
last-position logits ``f`` (B×V) and exposes the tensors entering every block and every block's MLP
input projection. Nothing here loads models or touches files.

Work is split in two phases so that data-parallel runs are exact:

1. :class:`AgopAccumulator` ``.add_window`` turns one window into contributions to sums that are
   *linear* in the windows (float64). Shards are combined with ``merge_`` or ``all_reduce_``
   before anything is squared.
2. :func:`finalize` turns the summed state into the metrics, bootstrap confidence intervals and the
   layer profile, as JSON-ready Python values.

Notation (DESIGN §4): window i has embeddings eᵢ = qᵢ E_eff (T×d); J_i = (∂f/∂q)ᵀ is (T·V)×V;
G = (1/n) Σᵢ Jᵢ Jᵢᵀ. See docs/metrics.md for the derivations and every choice made here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch.autograd import forward_ad as fwAD

from hf_interaction.agop.metrics import (
    effective_rank,
    pearson_full,
    pearson_offdiag,
    psd_sqrt,
    split_half_energies,
)
from hf_interaction.agop.metrics import (
    json_float as _json_float,
)
from hf_interaction.agop.metrics import (
    percentile_ci as _percentile_ci,
)
from hf_interaction.agop.population import population_metrics
from hf_interaction.errors import NumericalError

#: Number of vocabulary columns of an input probe zⱼ drawn per generator call. Part of the probe
#: definition: changing it changes the probes drawn for a given seed.
INPUT_PROBE_CHUNK = 4096
#: Output probes are drawn from a generator seeded with ``seed + OUTPUT_PROBE_SEED_OFFSET`` so that
#: they form a stream separate from the input probes drawn with ``seed``.
OUTPUT_PROBE_SEED_OFFSET = 1_000_003
#: Default cap on the number of elements of one temporary (probes × T × vocabulary-chunk) product
#: formed when accumulating the diagonal estimate (2**24 float64 elements = 128 MiB).
DEFAULT_CHUNK_ELEMENTS = 2**24

JvpMethod = Literal["forward", "double_backward"]
ReduceFn = Callable[[torch.Tensor], torch.Tensor]


# --------------------------------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------------------------------


def _rademacher(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Independent ±1 entries (float64, CPU) drawn from ``generator``."""
    return _bits_to_signs(torch.randint(0, 2, shape, generator=generator), torch.float64)


def _bits_to_signs(bits: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Map {0, 1} to {−1, +1} in ``dtype``."""
    return bits.to(dtype).mul_(2.0).sub_(1.0)


def _iter_input_probe_bits(T: int, V: int, n_probes: int, seed: int) -> Iterator[tuple[int, int, torch.Tensor]]:
    """The draws behind :func:`iter_input_probe_signs`, as {0, 1} integers (sign = 2·bit − 1)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    for j in range(n_probes):
        for v0 in range(0, V, INPUT_PROBE_CHUNK):
            yield j, v0, torch.randint(0, 2, (T, min(V, v0 + INPUT_PROBE_CHUNK) - v0), generator=gen)


def iter_input_probe_signs(
    T: int,
    V: int,
    I: int,  # noqa: E741 (DESIGN's notation)
    seed: int,
) -> Iterator[tuple[int, int, torch.Tensor]]:
    """Yield ``(j, v0, z)`` where ``z`` (float64, CPU) is columns ``v0:v0+chunk`` of input probe
    zⱼ ∈ {±1}^{T×V}.

    The draw order (probe-major, then vocabulary chunks of :data:`INPUT_PROBE_CHUNK` columns, one
    ``torch.randint`` call each) is fixed, so the probes depend only on (T, V, seed) and probe j is
    the same whatever I is.
    """
    for j, v0, bits in _iter_input_probe_bits(T, V, I, seed):
        yield j, v0, _bits_to_signs(bits, torch.float64)


def make_input_probes(
    T: int,
    V: int,
    I: int,  # noqa: E741 (DESIGN's notation)
    E_eff: torch.Tensor,
    seed: int,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Embedding-space tangents uⱼ = zⱼ E_eff (I×T×d, ``dtype``, on ``E_eff``'s device).

    zⱼ ∈ {±1}^{T×V} are Rademacher input probes drawn on the CPU from a ``torch.Generator`` seeded with
    ``seed`` (identical on every process and device); they are never materialised whole, only one
    T×chunk block at a time. The products are formed in ``dtype`` (float64 by default).
    """
    if E_eff.ndim != 2 or E_eff.shape[0] != V:
        raise ValueError(f"E_eff must be V×d with V={V}, got shape {tuple(E_eff.shape)}")
    U = torch.zeros(I, T, E_eff.shape[1], dtype=dtype, device=E_eff.device)
    pending: list[tuple[int, int, torch.Tensor]] = []
    for item in _iter_input_probe_bits(T, V, I, seed):
        pending.append(item)
        if len(pending) * item[2].numel() >= _PROBE_BLOCK_ELEMENTS:
            _project_signs(pending, E_eff, U)
            pending = []
    _project_signs(pending, E_eff, U)
    return U


#: Sign blocks are projected onto E_eff in batches of about this many elements (speed only).
_PROBE_BLOCK_ELEMENTS = 2**20


def _project_signs(items: list[tuple[int, int, torch.Tensor]], E_eff: torch.Tensor, U: torch.Tensor) -> None:
    """U[j] += z E_eff[v0:v0+width] for every ``(j, v0, bits)`` with z = 2·bits − 1, batched over the
    items that share a vocabulary chunk."""
    by_chunk: dict[int, list[tuple[int, torch.Tensor]]] = {}
    for j, v0, bits in items:
        by_chunk.setdefault(v0, []).append((j, bits))
    for v0, entries in by_chunk.items():
        signs = _bits_to_signs(torch.stack([b for _, b in entries]).to(U.device), U.dtype)
        rows = E_eff[v0 : v0 + signs.shape[-1]].to(U.dtype)
        index = torch.tensor([j for j, _ in entries], device=U.device)
        U.index_add_(0, index, signs @ rows)


def make_output_probes(
    V: int,
    O: int,  # noqa: E741 (DESIGN's notation)
    seed: int,
    *,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Rademacher output probes r_k ∈ {±1}^V as an O×V CPU tensor of ``dtype``.

    Drawn from a CPU generator seeded with ``seed + OUTPUT_PROBE_SEED_OFFSET`` (a stream separate from
    the input probes). Probes ``0:O/2`` form the first half and ``O/2:O`` the second.
    """
    gen = torch.Generator(device="cpu").manual_seed(seed + OUTPUT_PROBE_SEED_OFFSET)
    return _rademacher((O, V), gen).to(dtype)


def embedding_gram(E_eff: torch.Tensor, *, chunk_rows: int = 65536) -> torch.Tensor:
    """E_effᵀ E_eff (d×d, float64), accumulated over row chunks to bound memory."""
    d = E_eff.shape[1]
    gram = torch.zeros(d, d, dtype=torch.float64, device=E_eff.device)
    for v0 in range(0, E_eff.shape[0], chunk_rows):
        rows = E_eff[v0 : v0 + chunk_rows].to(torch.float64)
        gram += rows.T @ rows
    return gram


# --------------------------------------------------------------------------------------------------
# The forward callable's output
# --------------------------------------------------------------------------------------------------


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


def _check_finite(x: torch.Tensor, where: str) -> None:
    """Raise :class:`NumericalError` naming ``where`` if ``x`` holds any non-finite value."""
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        raise NumericalError(f"{bad} non-finite value(s) of {x.numel()} in {where}")


def _batches(total: int, size: int | None) -> Iterator[slice]:
    """Consecutive slices of ``range(total)`` of at most ``size`` elements (all at once if None)."""
    step = total if not size else max(1, int(size))
    for start in range(0, total, step):
        yield slice(start, min(total, start + step))


def _copies(e: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` independent copies of one window e (T×d) as a leaf batch that requires grad."""
    return e.detach().unsqueeze(0).expand(count, *e.shape).clone().requires_grad_(True)


# --------------------------------------------------------------------------------------------------
# Model passes (no accumulation here)
# --------------------------------------------------------------------------------------------------


def _jvp_vjp_forward(forward: ForwardFn, e: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
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
    _check_finite(f, "the forward output f (input-probe pass)")
    _check_finite(w, "the JVP Jᵀz (forward-mode tangent of f)")
    (g,) = torch.autograd.grad(f, x, grad_outputs=w)
    _check_finite(g, "the VJP ∂⟨f, Jᵀz⟩/∂e")
    return g


def _jvp_vjp_double_backward(forward: ForwardFn, e: torch.Tensor, tangents: torch.Tensor) -> torch.Tensor:
    """Same result as :func:`_jvp_vjp_forward`, with the JVP from the double-backward trick.

    w ↦ ⟨∂⟨f, w⟩/∂e, u⟩ is linear in w with gradient J_e u, so differentiating it with respect to a
    dummy w (built with ``create_graph=True``) gives the JVP using reverse-mode derivatives only.
    """
    x = _copies(e, tangents.shape[0])
    f = forward(x).f
    _check_finite(f, "the forward output f (input-probe pass)")
    dummy = torch.zeros_like(f, requires_grad=True)
    (gx,) = torch.autograd.grad(f, x, grad_outputs=dummy, create_graph=True)
    (w,) = torch.autograd.grad(gx, dummy, grad_outputs=tangents.to(gx), retain_graph=True)
    w = w.detach()
    _check_finite(w, "the JVP Jᵀz (double-backward)")
    (g,) = torch.autograd.grad(f, x, grad_outputs=w)
    _check_finite(g, "the VJP ∂⟨f, Jᵀz⟩/∂e")
    return g


@dataclass
class _OutputGrads:
    """Per-copy gradients of ⟨f, r_k⟩ from one output-probe pass (each K×T×d)."""

    at_input: torch.Tensor
    at_blocks: list[torch.Tensor]
    at_mlp: list[torch.Tensor | None]


def _output_probe_grads(forward: ForwardFn, e: torch.Tensor, R: torch.Tensor, n_layers: int) -> _OutputGrads:
    """One forward of K copies of e and one backward of Σ_k ⟨f_k, r_k⟩ to e, blocks and MLP inputs."""
    x = _copies(e, R.shape[0])
    out = forward(x)
    if len(out.block_inputs) != n_layers or len(out.mlp_inputs) != n_layers:
        raise ValueError(
            f"forward returned {len(out.block_inputs)} block inputs and {len(out.mlp_inputs)} MLP inputs, "
            f"expected {n_layers} of each"
        )
    if tuple(out.f.shape) != tuple(R.shape):
        raise ValueError(f"forward output f has shape {tuple(out.f.shape)}, expected {tuple(R.shape)}")
    _check_finite(out.f, "the forward output f (output-probe pass)")
    mlp_layers = [layer for layer, t in enumerate(out.mlp_inputs) if t is not None]
    targets = [x, *out.block_inputs, *(out.mlp_inputs[layer] for layer in mlp_layers)]
    names = (
        ["the embeddings e"]
        + [f"the input of block {layer}" for layer in range(n_layers)]
        + [f"the MLP input of block {layer}" for layer in mlp_layers]
    )
    for target, name in zip(targets, names, strict=True):
        if not target.requires_grad:
            raise ValueError(f"{name} is not connected to f in the autograd graph (it does not require grad)")
    grads = torch.autograd.grad(out.f, targets, grad_outputs=R.to(out.f), allow_unused=True)
    for grad, name in zip(grads, names, strict=True):
        if grad is None:
            raise ValueError(f"{name} is not connected to f in the autograd graph (check the hooks)")
        _check_finite(grad, f"the gradient of ⟨f, r⟩ at {name}")
    p = out.prefix  # framing positions (BOS) are not part of e: leave their gradients out
    at_mlp: list[torch.Tensor | None] = [None] * n_layers
    for layer, grad in zip(mlp_layers, grads[1 + n_layers :], strict=True):
        at_mlp[layer] = grad[:, p:]
    return _OutputGrads(at_input=grads[0], at_blocks=[g[:, p:] for g in grads[1 : 1 + n_layers]], at_mlp=at_mlp)


# --------------------------------------------------------------------------------------------------
# Accumulator
# --------------------------------------------------------------------------------------------------

_TENSOR_NAMES = (
    "window_count",
    "input_vjp_sums",
    "diag_group_sums",
    "layer_half_sums",
    "mlp_input_sums",
    "mlp_window_counts",
    "window_group_counts",
    "input_vjp_group_sums",
    "input_vjp_self_sums",
    "diag_cell_sums",
)
_CONFIG_NAMES = (
    "seq_len",
    "hidden_size",
    "embed_size",
    "vocab_size",
    "output_size",
    "n_layers",
    "n_input_probes",
    "n_output_probes",
    "groups_per_half",
    "window_groups",
    "diag_window_groups",
)


class AgopAccumulator:
    """Sums over windows that are linear in the windows, in float64 (DESIGN §5).

    Tensors (names as in :meth:`state_dict`):

    - ``input_vjp_sums`` S (I×T×d_e): Sⱼ = Σᵢ ∂⟨f, Jᵢᵀzⱼ⟩/∂eᵢ, so G zⱼ = (1/n) Sⱼ E_effᵀ.
    - ``diag_group_sums`` A (2m×T×V, in ``cell_dtype``: float32 halves the memory of a float32
      audit, whose gradients carry no more precision): A_c = Σᵢ Σ_{k∈c} (Jᵢ r_k)⊙(Jᵢ r_k) for output-probe group c;
      groups 0..m−1 form the first half, m..2m−1 the second.
    - ``layer_half_sums`` (L×2×d×d): Σᵢ Σ_{k∈half} Σ_t g gᵀ with g = ∂⟨f, r_k⟩/∂h_{l,t}.
    - ``mlp_input_sums`` (L×d×d): the same over all output probes at each block's MLP input.
    - ``window_count`` (int64 scalar) and ``mlp_window_counts`` (int64, L): windows seen, overall and
      with a recognised MLP input per block.

    For the population estimates (:mod:`population`), window i belongs to group i mod W
    (``window_groups``; the *global* window index, so shards stay exact):

    - ``window_group_counts`` (int64, W), ``input_vjp_group_sums`` (W×I×T×d_e): S per group;
      ``input_vjp_self_sums`` (W×I): Σ_{i∈g} ‖Mᵢzⱼ‖², the i = i′ terms to remove from products.
    - ``diag_cell_sums`` (W_D×2m×T×V, in ``cell_dtype``): the diagonal group sums per window group;
      W_D (``diag_window_groups``) is W, or 0 where the cells do not fit in memory.

    ``vocab_size`` is V, the number of rows of E_eff (the input one-hot dimension);
    ``output_size`` is the length of f and of each output probe (default V, the logits);
    ``embed_size`` d_e is the width of E_eff and of e (default ``hidden_size``): it differs from the
    width d of the block tensors where the model projects embeddings (OPT-350m, ALBERT).

    If :meth:`add_window` raises, the accumulator may hold part of that window: discard it (or reload
    the last saved state).
    """

    def __init__(
        self,
        *,
        seq_len: int,
        hidden_size: int,
        vocab_size: int,
        n_layers: int,
        n_input_probes: int,
        n_output_probes: int,
        groups_per_half: int = 2,
        output_size: int | None = None,
        embed_size: int | None = None,
        window_groups: int = 1,
        diag_window_groups: int | None = None,
        cell_dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
    ) -> None:
        if n_input_probes < 1:
            raise ValueError("need at least one input probe")
        if n_output_probes < 2 or n_output_probes % 2:
            raise ValueError(f"the number of output probes must be even and ≥ 2, got {n_output_probes}")
        if groups_per_half < 1 or (n_output_probes // 2) % groups_per_half:
            raise ValueError(
                f"groups_per_half={groups_per_half} must divide the {n_output_probes // 2} probes of a half"
            )
        self.seq_len, self.hidden_size, self.vocab_size = seq_len, hidden_size, vocab_size
        self.output_size = vocab_size if output_size is None else output_size
        self.embed_size = hidden_size if embed_size is None else embed_size
        self.n_layers, self.n_input_probes, self.n_output_probes = n_layers, n_input_probes, n_output_probes
        self.groups_per_half = groups_per_half
        if window_groups < 1:
            raise ValueError(f"window_groups must be at least 1, got {window_groups}")
        self.window_groups = window_groups
        if diag_window_groups is None:  # one group has no pairs of groups: no cells needed
            diag_window_groups = window_groups if window_groups > 1 else 0
        self.diag_window_groups = diag_window_groups
        if self.diag_window_groups not in (0, window_groups):
            raise ValueError(f"diag_window_groups must be 0 or window_groups ({window_groups})")
        self._gram_key: tuple | None = None
        self._gram: torch.Tensor | None = None
        self.device = torch.device(device)
        self.chunk_elements = chunk_elements
        T, d, V, L, f64 = seq_len, hidden_size, vocab_size, n_layers, torch.float64
        kw = {"device": self.device}
        self.window_count = torch.zeros((), dtype=torch.int64, **kw)
        self.input_vjp_sums = torch.zeros(n_input_probes, T, self.embed_size, dtype=f64, **kw)
        self.diag_group_sums = torch.zeros(2 * groups_per_half, T, V, dtype=cell_dtype, **kw)
        self.layer_half_sums = torch.zeros(L, 2, d, d, dtype=f64, **kw)
        self.mlp_input_sums = torch.zeros(L, d, d, dtype=f64, **kw)
        self.mlp_window_counts = torch.zeros(L, dtype=torch.int64, **kw)
        W, I = window_groups, n_input_probes  # noqa: E741
        self.window_group_counts = torch.zeros(W, dtype=torch.int64, **kw)
        self.input_vjp_group_sums = torch.zeros(W, I, T, self.embed_size, dtype=f64, **kw)
        self.input_vjp_self_sums = torch.zeros(W, I, dtype=f64, **kw)
        self.diag_cell_sums = torch.zeros(self.diag_window_groups, 2 * groups_per_half, T, V, dtype=cell_dtype, **kw)

    # -- sizes --------------------------------------------------------------------------------------

    @property
    def n_windows(self) -> int:
        """Number of windows accumulated (summed over shards after a merge or all-reduce)."""
        return int(self.window_count)

    @property
    def group_size(self) -> int:
        """Output probes per diagonal group: O / (2m)."""
        return self.n_output_probes // (2 * self.groups_per_half)

    def config(self) -> dict[str, int]:
        """The integers that fix the accumulator's shapes and probe layout."""
        return {name: int(getattr(self, name)) for name in _CONFIG_NAMES}

    # -- accumulation -------------------------------------------------------------------------------

    def _check_window(self, e_i: torch.Tensor, U: torch.Tensor, R: torch.Tensor, E_eff: torch.Tensor) -> None:
        T, d, V = self.seq_len, self.embed_size, self.vocab_size
        if tuple(e_i.shape) != (T, d):
            raise ValueError(f"window embeddings must be T×d = {T}×{d}, got {tuple(e_i.shape)}")
        if tuple(U.shape) != (self.n_input_probes, T, d):
            raise ValueError(f"input probes must be {self.n_input_probes}×{T}×{d}, got {tuple(U.shape)}")
        if tuple(R.shape) != (self.n_output_probes, self.output_size):
            raise ValueError(f"output probes must be {self.n_output_probes}×{self.output_size}, got {tuple(R.shape)}")
        if tuple(E_eff.shape) != (V, d):
            raise ValueError(f"E_eff must be {V}×{d}, got {tuple(E_eff.shape)}")

    def add_window(
        self,
        forward: ForwardFn,
        e_i: torch.Tensor,
        U: torch.Tensor,
        R: torch.Tensor,
        E_eff: torch.Tensor,
        probe_batch: int | None = None,
        jvp_method: JvpMethod = "forward",
        window_index: int | None = None,
    ) -> None:
        """Add one window e_i (T×d): I input-probe and O output-probe copies, in micro-batches.

        ``window_index`` is the window's global index (its group is index mod ``window_groups``);
        None means the number of windows this accumulator has seen (right for a single process).

        ``probe_batch`` caps the number of copies of the window per model pass (None: all I input
        probes in one pass and all O output probes in another). ``jvp_method`` is ``"forward"``
        (forward-mode AD; needs forward-mode formulas for every op, e.g. eager attention on CPU) or
        ``"double_backward"`` (reverse-mode only). Model parameters should have
        ``requires_grad=False`` so no parameter gradients are built.
        """
        self._check_window(e_i, U, R, E_eff)
        if jvp_method == "forward":
            jvp_vjp = _jvp_vjp_forward
        elif jvp_method == "double_backward":
            jvp_vjp = _jvp_vjp_double_backward
        else:
            raise ValueError(f"unknown jvp_method {jvp_method!r}: use 'forward' or 'double_backward'")
        group = self._group(window_index)
        for sl in _batches(self.n_input_probes, probe_batch):
            self._add_input_vjps(sl, jvp_vjp(forward, e_i, U[sl]), group, E_eff)
        mlp_seen: set[int] = set()
        for sl in _batches(self.n_output_probes, probe_batch):
            grads = _output_probe_grads(forward, e_i, R[sl], self.n_layers)
            mlp_seen |= self._add_output_grads(sl, grads, E_eff, group)
        self._count_window(mlp_seen, group)

    def add_window_naive(
        self,
        forward: ForwardFn,
        e_i: torch.Tensor,
        U: torch.Tensor,
        R: torch.Tensor,
        E_eff: torch.Tensor,
        window_index: int | None = None,
    ) -> None:
        """Reference implementation of :meth:`add_window`: a fresh single-copy forward per probe and
        the double-backward JVP. Slow by design; for tests and the benchmark."""
        self._check_window(e_i, U, R, E_eff)
        group = self._group(window_index)
        for j in range(self.n_input_probes):
            sl = slice(j, j + 1)
            self._add_input_vjps(sl, _jvp_vjp_double_backward(forward, e_i, U[sl]), group, E_eff)
        mlp_seen: set[int] = set()
        for k in range(self.n_output_probes):
            sl = slice(k, k + 1)
            grads = _output_probe_grads(forward, e_i, R[sl], self.n_layers)
            mlp_seen |= self._add_output_grads(sl, grads, E_eff, group)
        self._count_window(mlp_seen, group)

    def _group(self, window_index: int | None) -> int:
        index = self.n_windows if window_index is None else int(window_index)
        if index < 0:
            raise ValueError(f"window_index must be non-negative, got {index}")
        return index % self.window_groups

    def _count_window(self, mlp_seen: set[int], group: int) -> None:
        self.window_count += 1
        self.window_group_counts[group] += 1
        for layer in mlp_seen:
            self.mlp_window_counts[layer] += 1

    def embedding_gram_of(self, E_eff: torch.Tensor) -> torch.Tensor:
        """E_effᵀE_eff (:func:`embedding_gram`), formed once per embedding tensor and kept."""
        key = (E_eff.data_ptr(), tuple(E_eff.shape), E_eff.dtype, E_eff._version)
        if self._gram_key != key:
            self._gram, self._gram_key = embedding_gram(E_eff).to(self.device), key
        return self._gram

    def _add_input_vjps(self, sl: slice, vjps: torch.Tensor, group: int, E_eff: torch.Tensor) -> None:
        """Sⱼ += ∂⟨f, Jᵀzⱼ⟩/∂e for the input probes j in ``sl``; the same into the window's group, and
        ‖Mᵢzⱼ‖² = ⟨s, s E_effᵀE_eff⟩ into the group's self sums (the population F removes them)."""
        v64 = vjps.to(device=self.device, dtype=torch.float64)
        self.input_vjp_sums[sl] += v64
        self.input_vjp_group_sums[group, sl] += v64
        if self.window_groups > 1:
            gram = self.embedding_gram_of(E_eff)
            self.input_vjp_self_sums[group, sl] += (torch.einsum("jtd,de->jte", v64, gram) * v64).sum(dim=(1, 2))

    def _add_output_grads(self, sl: slice, grads: _OutputGrads, E_eff: torch.Tensor, group: int) -> set[int]:
        """Add the output probes k in ``sl``; return the blocks whose MLP input was seen."""
        self._add_diag_groups(sl, grads.at_input, E_eff, group)
        self._add_layer_halves(sl, grads.at_blocks)
        seen = set()
        for layer, grad in enumerate(grads.at_mlp):
            if grad is not None:
                self._check_width(grad, f"the MLP input of block {layer}")
                x = grad.reshape(-1, self.hidden_size).to(device=self.device, dtype=torch.float64)
                self.mlp_input_sums[layer] += x.T @ x
                seen.add(layer)
        return seen

    def _add_diag_groups(self, sl: slice, g: torch.Tensor, E_eff: torch.Tensor, group: int) -> None:
        """A_c += Σ_{k∈c∩sl} (g_k E_effᵀ)² in float64, over vocabulary chunks of bounded size."""
        g64 = g.to(device=self.device, dtype=torch.float64)
        n_copies = g64.shape[0]
        v_chunk = max(1, self.chunk_elements // (n_copies * self.seq_len))
        group_ranges = self._ranges(sl, self.group_size)
        for v0 in range(0, self.vocab_size, v_chunk):
            v1 = min(self.vocab_size, v0 + v_chunk)
            rows = E_eff[v0:v1].to(device=self.device, dtype=torch.float64)
            sq = torch.einsum("ktd,vd->ktv", g64, rows).square_()
            for c, lo, hi in group_ranges:
                part = sq[lo:hi].sum(0)
                self.diag_group_sums[c, :, v0:v1] += part.to(self.diag_group_sums.dtype)
                if self.diag_window_groups:
                    self.diag_cell_sums[group, c, :, v0:v1] += part.to(self.diag_cell_sums.dtype)

    def _add_layer_halves(self, sl: slice, grads: list[torch.Tensor]) -> None:
        """Per block and half: Σ_{k∈half∩sl} Σ_t g gᵀ (d×d, float64)."""
        half_ranges = self._ranges(sl, self.n_output_probes // 2)
        for layer, grad in enumerate(grads):
            self._check_width(grad, f"the input of block {layer}")
            g64 = grad.to(device=self.device, dtype=torch.float64)
            for half, lo, hi in half_ranges:
                x = g64[lo:hi].reshape(-1, self.hidden_size)
                self.layer_half_sums[layer, half] += x.T @ x

    def _check_width(self, grad: torch.Tensor, where: str) -> None:
        """Refuse a block tensor whose width is not ``hidden_size`` (never fold it into the sums)."""
        if grad.shape[-1] != self.hidden_size:
            raise ValueError(f"{where} has width {grad.shape[-1]}, the accumulator expects {self.hidden_size}")

    @staticmethod
    def _ranges(sl: slice, block: int) -> list[tuple[int, int, int]]:
        """Split the probe indices ``sl`` into runs of one block of size ``block``.

        Returns ``(block index, lo, hi)`` with lo:hi relative to ``sl.start``."""
        out = []
        k = sl.start
        while k < sl.stop:
            b = k // block
            end = min(sl.stop, (b + 1) * block)
            out.append((b, k - sl.start, end - sl.start))
            k = end
        return out

    # -- state, merging, distributed reduction ------------------------------------------------------

    def tensors(self) -> dict[str, torch.Tensor]:
        """The accumulator tensors by name (all linear in the windows)."""
        return {name: getattr(self, name) for name in _TENSOR_NAMES}

    def state_dict(self) -> dict[str, Any]:
        """Config integers and (cloned) accumulator tensors, for saving and resuming."""
        state: dict[str, Any] = dict(self.config())
        state.update({name: t.detach().clone() for name, t in self.tensors().items()})
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; the config integers must match this accumulator."""
        mismatched = {k: (state.get(k), v) for k, v in self.config().items() if state.get(k) != v}
        if mismatched:
            raise ValueError(f"state does not match this accumulator's config (saved, expected): {mismatched}")
        for name, current in self.tensors().items():
            loaded = torch.as_tensor(state[name])
            if loaded.shape != current.shape or loaded.dtype != current.dtype:
                raise ValueError(
                    f"state tensor {name} has {loaded.shape}/{loaded.dtype}, expected {current.shape}/{current.dtype}"
                )
            setattr(self, name, loaded.to(self.device).clone())

    def merge_(self, other: AgopAccumulator) -> AgopAccumulator:
        """Add another accumulator's sums (e.g. a shard over other windows) into this one."""
        if other.config() != self.config():
            raise ValueError(f"cannot merge accumulators with configs {other.config()} and {self.config()}")
        for name, t in self.tensors().items():
            t += getattr(other, name).to(t.device)
        return self

    def all_reduce_(self, reduce_fn: ReduceFn) -> AgopAccumulator:
        """Replace every accumulator tensor by ``reduce_fn(tensor)`` (a cross-process sum), in the
        fixed order of :meth:`tensors`. Sums are taken before anything is squared."""
        for name, t in self.tensors().items():
            reduced = reduce_fn(t)
            if reduced.shape != t.shape:
                raise ValueError(f"reduce_fn changed the shape of {name}: {t.shape} -> {reduced.shape}")
            setattr(self, name, reduced.to(device=self.device, dtype=t.dtype))
        return self

    def check_finite(self) -> None:
        """Raise :class:`NumericalError` if any accumulator tensor holds a non-finite value."""
        for name, t in self.tensors().items():
            if t.is_floating_point():
                _check_finite(t, f"the accumulator tensor {name}")


# --------------------------------------------------------------------------------------------------
# Finalisation
# --------------------------------------------------------------------------------------------------

_NO_MLP_NOTE = "not available: no recognised MLP input projection for this block"
_NO_MLP_GRAD_NOTE = "not available: no gradients at this block's MLP input were accumulated"
_CONSTANT_NOTE = "undefined: the compared entries are constant"
#: Fewest output-probe groups per half for which D's bootstrap interval is reported.
MIN_GROUPS_FOR_D_CI = 3
_FEW_GROUPS_NOTE = ("intervals of D, AOFE, AOFE-ratio, D/F, tr G and effective rank not available: {m} "
                    "output-probe group(s) per half give D's bootstrap {why} (use --groups-per-half 4 or more, "
                    "or more output probes)")


def _input_space(acc: AgopAccumulator, E_gram: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-probe Fⱼ = ‖G zⱼ‖² (length I), the m×m matrix P_ab = ⟨d̂_a, d̂_b⟩ over half-1 × half-2
    groups, where d̂_c = A_c / (n·|c|) is group c's unbiased estimate of diag G, and each group's
    trace estimate Σ d̂_c (length 2m, unbiased for tr G)."""
    n, m = acc.n_windows, acc.groups_per_half
    S = acc.input_vjp_sums
    gram = E_gram.to(device=S.device, dtype=torch.float64)
    per_probe = (torch.einsum("jtd,de->jte", S, gram) * S).sum(dim=(1, 2)) / n**2
    diag_est = acc.diag_group_sums.reshape(2 * m, -1).to(torch.float64) / (n * acc.group_size)
    pair = diag_est[:m] @ diag_est[m:].T
    return per_probe.cpu().numpy(), pair.cpu().numpy(), diag_est.sum(dim=1).cpu().numpy()


#: Bootstrap replicates are drawn in blocks of at most this many indices (memory only; the block
#: size depends only on the number of units, so results are reproducible for a given seed).
_BOOT_BLOCK_ELEMENTS = 2**22


def _block_rows(n_boot: int, units: int) -> Iterator[tuple[int, int]]:
    """(first replicate, replicate count) blocks holding at most ~_BOOT_BLOCK_ELEMENTS draws."""
    rows_per_block = max(1, _BOOT_BLOCK_ELEMENTS // units)
    for b0 in range(0, n_boot, rows_per_block):
        yield b0, min(n_boot, b0 + rows_per_block) - b0


def _bootstrap_means(rng: np.random.Generator, values: np.ndarray, n_boot: int) -> np.ndarray:
    """Means of n_boot resamples (with replacement, same size) of ``values``."""
    out = np.empty(n_boot)
    for b0, rows in _block_rows(n_boot, values.size):
        out[b0 : b0 + rows] = values[rng.integers(0, values.size, size=(rows, values.size))].mean(axis=1)
    return out


def _resample_weights(rng: np.random.Generator, n_boot: int, m: int) -> np.ndarray:
    """n_boot × m multinomial weights (counts / m) of m units drawn with replacement."""
    weights = np.empty((n_boot, m))
    for b0, rows in _block_rows(n_boot, m):
        flat = (np.arange(rows)[:, None] * m + rng.integers(0, m, size=(rows, m))).ravel()
        weights[b0 : b0 + rows] = np.bincount(flat, minlength=rows * m).reshape(rows, m) / m
    return weights


def _bootstrap_fd(per_probe: np.ndarray, pair: np.ndarray, traces: np.ndarray, n_boot: int,
                  seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bootstrap replicates of F̂ (input probes resampled), D̂ (groups resampled within each half,
    independently, so a group is never paired with itself) and tr Ĝ (the same group resamples)."""
    rng = np.random.default_rng(seed)
    f_boot = _bootstrap_means(rng, per_probe, n_boot)
    m = pair.shape[0]
    w1, w2 = _resample_weights(rng, n_boot, m), _resample_weights(rng, n_boot, m)
    d_boot = ((w1 @ pair) * w2).sum(axis=1)
    trace_boot = 0.5 * (w1 @ traces[:m] + w2 @ traces[m:])
    return f_boot, d_boot, trace_boot


def _layer_profile(acc: AgopAccumulator, layer: int) -> dict[str, Any]:
    """Split-half F, D, AOFE, AOFE-ratio, trace and effective rank of block ``layer``'s AGOP."""
    per_half = acc.n_windows * (acc.n_output_probes // 2)
    g1 = acc.layer_half_sums[layer, 0] / per_half
    g2 = acc.layer_half_sums[layer, 1] / per_half
    f, d = split_half_energies(g1, g2)
    trace = 0.5 * (float(torch.trace(g1)) + float(torch.trace(g2)))
    return {
        "layer": layer,
        "f": f,
        "d": d,
        "aofe": f - d,
        "aofe_ratio": _json_float((f - d) / f if f > 0 else math.nan),
        "diag_share": _json_float(d / f if f > 0 else math.nan),
        "f_below_d": f < d,
        "trace": trace,
        "effective_rank": _json_float(effective_rank(trace, f)),
    }


def _weight_gram(weights: torch.Tensor | Sequence[torch.Tensor], layer: int, d: int) -> torch.Tensor:
    """WᵀW = Σ_k W_kᵀ W_k (float64) for the MLP input projection(s) W_k of shape (d_ff, d)."""
    mats = [weights] if isinstance(weights, torch.Tensor) else list(weights)
    if not mats:
        raise ValueError(f"block {layer}: empty list of MLP input weights")
    gram = torch.zeros(d, d, dtype=torch.float64)
    for w in mats:
        if w.ndim != 2 or w.shape[1] != d:
            raise ValueError(f"block {layer}: MLP input weight must be (d_ff, {d}), got {tuple(w.shape)}")
        _check_finite(w, f"the MLP input weight of block {layer}")
        w64 = w.detach().to(device="cpu", dtype=torch.float64)
        gram += w64.T @ w64
    return gram


def _nfa(acc: AgopAccumulator, layer: int, weights: torch.Tensor | Sequence[torch.Tensor] | None) -> dict[str, Any]:
    """Pearson correlations between WᵀW and sqrt of the MLP-input AGOP of block ``layer``."""
    if weights is None:
        return {"nfa_offdiag": None, "nfa_full": None, "nfa_note": _NO_MLP_NOTE}
    count = int(acc.mlp_window_counts[layer])
    if count == 0:
        return {"nfa_offdiag": None, "nfa_full": None, "nfa_note": _NO_MLP_GRAD_NOTE}
    agop = (acc.mlp_input_sums[layer] / (count * acc.n_output_probes)).cpu()
    root = psd_sqrt(agop)
    gram = _weight_gram(weights, layer, acc.hidden_size)
    off, full = pearson_offdiag(root, gram), pearson_full(root, gram)
    note = _CONSTANT_NOTE if math.isnan(off) or math.isnan(full) else None
    return {"nfa_offdiag": _json_float(off), "nfa_full": _json_float(full), "nfa_note": note}


def finalize(
    acc: AgopAccumulator,
    E_gram: torch.Tensor,
    mlp_weights: Sequence[torch.Tensor | Sequence[torch.Tensor] | None] | None,
    *,
    n_boot: int = 2000,
    seed: int = 42,
    ci_level: float = 0.95,
    replicates: dict[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Metrics from a (fully reduced) accumulator, as JSON-ready Python values.

    Args:
        acc: the accumulator after all windows (and shards) were added.
        E_gram: E_effᵀE_eff (d×d), e.g. from :func:`embedding_gram`.
        mlp_weights: per block, the MLP input projection weight(s) (each (d_ff, d); a list for
            gate + up) or ``None`` where not recognised; ``None`` for all blocks at once.
        n_boot, seed, ci_level: percentile bootstrap settings (numpy ``default_rng(seed)``).
        replicates: if given, receives the bootstrap replicates of the diagonal share D/F, under
            ``"paper"`` and ``"population"``: the same seed draws the same resamples for any
            accumulator of the same layout, so two models' replicates pair (baseline.py).

    Returns a dict with ``f_hat``, ``f_se``, ``d_hat``, ``aofe``, ``aofe_ratio``, their ``*_ci``
    ([lo, hi]), ``f_below_d``, probe counts and ``layers`` (one dict per block).
    """
    acc.check_finite()
    n = acc.n_windows
    if n < 1:
        raise ValueError("the accumulator holds no windows")
    d = acc.embed_size
    if tuple(E_gram.shape) != (d, d):
        raise ValueError(f"E_gram must be {d}×{d}, got {tuple(E_gram.shape)}")
    _check_finite(E_gram, "the embedding Gram matrix E_effᵀE_eff")
    if mlp_weights is None:
        mlp_weights = [None] * acc.n_layers
    if len(mlp_weights) != acc.n_layers:
        raise ValueError(f"mlp_weights has {len(mlp_weights)} entries for {acc.n_layers} blocks")

    per_probe, pair, traces = _input_space(acc, E_gram)
    f_hat, d_hat, trace = float(per_probe.mean()), float(pair.mean()), float(traces.mean())
    if not f_hat > 0:
        raise NumericalError(f"F̂ = {f_hat!r}: the output f does not depend on the input (AOFE-ratio undefined)")
    f_boot, d_boot, trace_boot = _bootstrap_fd(per_probe, pair, traces, n_boot, seed)
    aofe_boot = f_boot - d_boot
    if replicates is not None:
        replicates["paper"] = d_boot / f_boot
    n_in = per_probe.shape[0]
    f_se = float(per_probe.std(ddof=1) / math.sqrt(n_in)) if n_in > 1 else math.nan

    layers = []
    for layer in range(acc.n_layers):
        entry = _layer_profile(acc, layer)
        entry.update(_nfa(acc, layer, mlp_weights[layer]))
        layers.append(entry)

    # One group per half: every resample of D is D itself, a zero-width interval that would also
    # make the AOFE intervals cover probe noise in F only; two: 68% coverage measured for a nominal
    # 95% (docs/metrics.md). Report them as unavailable instead.
    d_known = acc.groups_per_half >= MIN_GROUPS_FOR_D_CI
    return {
        "f_hat": f_hat,
        "f_se": _json_float(f_se),
        "f_ci": _percentile_ci(f_boot, ci_level),
        "d_hat": d_hat,
        "d_ci": _percentile_ci(d_boot, ci_level) if d_known else None,
        "aofe": f_hat - d_hat,
        "aofe_ci": _percentile_ci(aofe_boot, ci_level) if d_known else None,
        "aofe_ratio": (f_hat - d_hat) / f_hat,
        "aofe_ratio_ci": _percentile_ci(aofe_boot / f_boot, ci_level) if d_known else None,
        # D/F = 1 − AOFE-ratio, readable where AOFE-ratio rounds to 1 (DESIGN §4.6); tr G and the
        # effective rank (tr G)²/F from the same diagonal estimates (issue 10, item 1).
        "diag_share": d_hat / f_hat,
        "diag_share_ci": _percentile_ci(d_boot / f_boot, ci_level) if d_known else None,
        "trace": trace,
        "trace_ci": _percentile_ci(trace_boot, ci_level) if d_known else None,
        "effective_rank": trace * trace / f_hat,
        "effective_rank_ci": _percentile_ci(trace_boot * trace_boot / f_boot, ci_level) if d_known else None,
        "ci_note": None if d_known else _FEW_GROUPS_NOTE.format(
            m=acc.groups_per_half, why="no spread" if acc.groups_per_half == 1 else "too little spread (68% coverage "
            "measured for a nominal 95%)"),
        "f_below_d": f_hat < d_hat,
        "ci_level": ci_level,
        "n_boot": n_boot,
        "bootstrap_seed": seed,
        "n_windows": n,
        "n_input_probes": acc.n_input_probes,
        "n_output_probes": acc.n_output_probes,
        "groups_per_half": acc.groups_per_half,
        # Unbiased for the AGOP of the probe corpus rather than of these n windows (population.py).
        "population": population_metrics(acc, E_gram, n_boot=n_boot, seed=seed, ci_level=ci_level,
                                         replicates=replicates),
        "layers": layers,
    }
