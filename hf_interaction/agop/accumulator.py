"""The AGOP accumulator (docs/design.md §5): per-window sums that are linear in the windows, in float64.

:class:`AgopAccumulator` ``.add_windows`` turns a block of windows into contributions to those sums; shards
are combined with ``merge_`` or ``all_reduce_`` before anything is squared, so data-parallel runs are
exact. ``state_dict`` / ``load_state_dict`` save and resume them; :mod:`finalization` turns them into
the metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from hf_interaction.agop.finite import refuse_non_finite
from hf_interaction.agop.passes import (
    ForwardFn,
    JvpMethod,
    OutputGrads,
    jvp_vjp_double_backward,
    jvp_vjp_forward,
    output_passes,
    probe_slices,
)
from hf_interaction.agop.probes import embedding_gram

#: Default cap on the number of elements of one temporary (probes × T × vocabulary-chunk) product
#: formed when accumulating the diagonal estimate (2**24 float64 elements = 128 MiB).
DEFAULT_CHUNK_ELEMENTS = 2**24

ReduceFn = Callable[[torch.Tensor], torch.Tensor]


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
    "output_vjp_store",
    "pair_rows_seen",
)
_CONFIG_NAMES = (
    "seq_len",
    "hidden_size",
    "embed_size",
    "vocab_size",
    "output_size",
    "n_layers",
    "input_probes",
    "output_probes",
    "groups_per_half",
    "window_groups",
    "diag_window_groups",
    "pair_windows",
)


class AgopAccumulator:
    """Sums over windows that are linear in the windows, in float64 (docs/design.md §5).

    Tensors (names as in :meth:`state_dict`):

    - ``input_vjp_sums`` S (I×T×d_e): Sⱼ = Σᵢ ∂⟨f, Jᵢᵀzⱼ⟩/∂eᵢ, so G zⱼ = (1/n) Sⱼ E_effᵀ.
    - ``diag_group_sums`` A (2m×T×V, Hutchinson only; empty with ``pair_windows``; in ``cell_dtype``:
      float32 halves the memory of a float32 audit, whose gradients carry no more precision):
      A_c = Σᵢ Σ_{k∈c} (Jᵢ r_k)⊙(Jᵢ r_k) for output-probe group c; groups 0..m−1 form the first
      half, m..2m−1 the second.
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

    For F from pairs of output-probe VJPs (:mod:`pairs`; ``pair_windows`` = N > 0, the number of
    windows of the audit), no input probes are needed:

    - ``output_vjp_store`` (N×O×T×d_e, in ``cell_dtype``): row i holds window i's VJPs ∂⟨f, r_k⟩/∂e,
      zero until window i (global index) is added, so shards still combine by summing. F, D and tr G
      are all formed from it at the end (:mod:`pairs`), so no diagonal groups or cells are kept and
      ``groups_per_half`` / ``window_groups`` are ignored (one probe per group, one window group).
    - ``pair_rows_seen`` (int64, N): how many times each row was filled (1 after a complete run).

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
        input_probes: int,
        output_probes: int,
        groups_per_half: int | None = 2,
        output_size: int | None = None,
        embed_size: int | None = None,
        window_groups: int = 1,
        diag_window_groups: int | None = None,
        cell_dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
        chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
        pair_windows: int = 0,
    ) -> None:
        if pair_windows < 0:
            raise ValueError(f"pair_windows must be non-negative, got {pair_windows}")
        if input_probes < 0 or (input_probes < 1 and not pair_windows):
            raise ValueError("need at least one input probe (or pair_windows > 0: F from output-probe pairs)")
        if output_probes < 2 or output_probes % 2:
            raise ValueError(f"the number of output probes must be even and ≥ 2, got {output_probes}")
        if pair_windows:  # D comes from the stored VJPs, one probe at a time (pairs.py): no groups
            groups_per_half, window_groups, diag_window_groups = output_probes // 2, 1, 0
        assert groups_per_half is not None, "groups_per_half may be None only with pair_windows"
        if groups_per_half < 1 or (output_probes // 2) % groups_per_half:
            raise ValueError(
                f"groups_per_half={groups_per_half} must divide the {output_probes // 2} probes of a half"
            )
        self.seq_len, self.hidden_size, self.vocab_size = seq_len, hidden_size, vocab_size
        self.output_size = vocab_size if output_size is None else output_size
        self.embed_size = hidden_size if embed_size is None else embed_size
        self.n_layers, self.input_probes, self.output_probes = n_layers, input_probes, output_probes
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
        kw: dict[str, Any] = {"device": self.device}
        self.window_count = torch.zeros((), dtype=torch.int64, **kw)
        self.input_vjp_sums = torch.zeros(input_probes, T, self.embed_size, dtype=f64, **kw)
        self.diag_group_sums = torch.zeros(0 if pair_windows else 2 * groups_per_half, T, V, dtype=cell_dtype, **kw)
        self.layer_half_sums = torch.zeros(L, 2, d, d, dtype=f64, **kw)
        self.mlp_input_sums = torch.zeros(L, d, d, dtype=f64, **kw)
        self.mlp_window_counts = torch.zeros(L, dtype=torch.int64, **kw)
        W, I = window_groups, input_probes  # noqa: E741
        self.window_group_counts = torch.zeros(W, dtype=torch.int64, **kw)
        self.input_vjp_group_sums = torch.zeros(W, I, T, self.embed_size, dtype=f64, **kw)
        self.input_vjp_self_sums = torch.zeros(W, I, dtype=f64, **kw)
        self.diag_cell_sums = torch.zeros(self.diag_window_groups, 2 * groups_per_half, T, V, dtype=cell_dtype, **kw)
        self.pair_windows = pair_windows
        self.output_vjp_store = torch.zeros(pair_windows, output_probes, T, self.embed_size, dtype=cell_dtype, **kw)
        self.pair_rows_seen = torch.zeros(pair_windows, dtype=torch.int64, **kw)

    # -- sizes --------------------------------------------------------------------------------------

    @property
    def n_windows(self) -> int:
        """Number of windows accumulated (summed over shards after a merge or all-reduce)."""
        return int(self.window_count)

    @property
    def group_size(self) -> int:
        """Output probes per diagonal group: O / (2m)."""
        return self.output_probes // (2 * self.groups_per_half)

    def config(self) -> dict[str, int]:
        """The integers that fix the accumulator's shapes and probe layout."""
        return {name: int(getattr(self, name)) for name in _CONFIG_NAMES}

    # -- accumulation -------------------------------------------------------------------------------

    def _check_window(self, e_i: torch.Tensor, U: torch.Tensor | None, R: torch.Tensor, E_eff: torch.Tensor) -> None:
        T, d, V = self.seq_len, self.embed_size, self.vocab_size
        if tuple(e_i.shape) != (T, d):
            raise ValueError(f"window embeddings must be T×d = {T}×{d}, got {tuple(e_i.shape)}")
        got = None if U is None else tuple(U.shape)
        if got != (self.input_probes, T, d) and not (got is None and self.input_probes == 0):
            raise ValueError(f"input probes must be {self.input_probes}×{T}×{d}, got {got}")
        if tuple(R.shape) != (self.output_probes, self.output_size):
            raise ValueError(f"output probes must be {self.output_probes}×{self.output_size}, got {tuple(R.shape)}")
        if tuple(E_eff.shape) != (V, d):
            raise ValueError(f"E_eff must be {V}×{d}, got {tuple(E_eff.shape)}")

    def add_window(self, forward: ForwardFn, e_i: torch.Tensor, U: torch.Tensor | None, R: torch.Tensor,
                   E_eff: torch.Tensor, window_index: int | None = None, **options: Any) -> None:
        """Add one window e_i (T×d) as window ``window_index``; ``options`` (``probe_batch``,
        ``jvp_method``, ``one_forward``) as for :meth:`add_windows`."""
        self.add_windows(forward, e_i.unsqueeze(0), U, R, E_eff,
                         window_indices=None if window_index is None else [window_index], **options)

    def add_windows(
        self,
        forward: ForwardFn,
        e: torch.Tensor,
        U: torch.Tensor | None,
        R: torch.Tensor,
        E_eff: torch.Tensor,
        probe_batch: int | None = None,
        jvp_method: JvpMethod = "forward",
        window_indices: list[int] | None = None,
        one_forward: bool = True,
    ) -> None:
        """Add B windows e (B×T×d): per window the I input-probe passes (none when F comes from
        output-probe pairs), then the O output probes of all B windows together.

        ``window_indices``: the windows' global indices (group = index mod ``window_groups``); None:
        the next B after the windows seen (right for one process). ``probe_batch`` caps the probes per
        model pass (None: all at once). ``jvp_method``: ``"forward"`` (forward-mode AD; needs formulas
        for every op, e.g. eager attention on CPU) or ``"double_backward"`` (reverse-mode only).
        ``one_forward``: the output probes share one forward of the batch; False runs a forward of one
        copy per probe and window (for a model whose backward cannot be batched:
        :func:`~hf_interaction.agop.passes.batched_backward_failure` tells). Model parameters
        should have ``requires_grad=False`` so no parameter gradients are built."""
        if e.ndim != 3:
            raise ValueError(f"windows must be B×T×d, got shape {tuple(e.shape)}")
        for e_i in e:
            self._check_window(e_i, U, R, E_eff)
        jvp_vjp = {"forward": jvp_vjp_forward, "double_backward": jvp_vjp_double_backward}.get(jvp_method)
        if jvp_vjp is None and self.input_probes:
            raise ValueError(f"unknown jvp_method {jvp_method!r}: use 'forward' or 'double_backward'")
        given: Sequence[int]
        if window_indices is None:  # reading the count is a host round trip on an accelerator: only here
            first = self.n_windows
            given = range(first, first + e.shape[0])
        else:
            given = window_indices
        if len(given) != e.shape[0]:
            raise ValueError(f"{len(given)} window indices for {e.shape[0]} windows")
        indices = [self._index(i) for i in given]
        groups = [index % self.window_groups for index in indices]
        for e_i, group in zip(e, groups, strict=True):
            for sl in probe_slices(self.input_probes, probe_batch):
                assert jvp_vjp is not None and U is not None  # input probes: checked above
                self._add_input_vjps(sl, jvp_vjp(forward, e_i, U[sl]), group, E_eff)
        mlp_seen: set[int] = set()
        for sl, grads in output_passes(forward, e, R, self.n_layers, probe_batch, one_forward):  # K×B×T×d
            if not self.pair_windows:  # the pairs estimator forms D from the stored VJPs at the end
                self._add_diag_groups(sl, grads.at_input, E_eff, groups)
            else:  # K×B×T×d → the windows' rows, probes sl
                self.output_vjp_store[indices, sl] = grads.at_input.transpose(0, 1).to(self.output_vjp_store)
            mlp_seen |= self._add_block_grads(sl, grads)  # sums over all windows: one product per batch
        self._count_windows(mlp_seen, groups, indices)

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
        self.add_window(forward, e_i, U, R, E_eff, probe_batch=1, jvp_method="double_backward",
                        window_index=window_index, one_forward=False)

    def _index(self, window_index: int | None) -> int:
        index = self.n_windows if window_index is None else int(window_index)
        if index < 0:
            raise ValueError(f"window_index must be non-negative, got {index}")
        if self.pair_windows and index >= self.pair_windows:
            raise ValueError(f"window_index {index} is beyond the {self.pair_windows} windows stored for F's pairs")
        return index

    def _count_windows(self, mlp_seen: set[int], groups: list[int], indices: list[int]) -> None:
        """Count a block's windows: overall, per window group, per pair-store row and per block with an
        MLP input; a few integer operations per block, not per window and block (issue 22)."""
        count = len(indices)
        self.window_count += count
        self.window_group_counts += torch.bincount(torch.tensor(groups), minlength=self.window_groups).to(self.device)
        if self.pair_windows:
            rows = torch.tensor(indices, device=self.device)
            self.pair_rows_seen.index_add_(0, rows, torch.ones_like(rows))
        if mlp_seen:
            self.mlp_window_counts[sorted(mlp_seen)] += count

    def embedding_gram_of(self, E_eff: torch.Tensor) -> torch.Tensor:
        """E_effᵀE_eff (:func:`embedding_gram`), formed once per embedding tensor and kept."""
        key = (E_eff.data_ptr(), tuple(E_eff.shape), E_eff.dtype, E_eff._version)
        if self._gram_key != key:
            self._gram, self._gram_key = embedding_gram(E_eff).to(self.device), key
        assert self._gram is not None
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

    def _add_block_grads(self, sl: slice, grads: OutputGrads) -> set[int]:
        """Add the output probes k in ``sl`` at the blocks and MLP inputs (K×…×T×d, any windows);
        return the blocks whose MLP input was seen."""
        self._add_layer_halves(sl, grads.at_blocks)
        seen = set()
        for layer, grad in enumerate(grads.at_mlp):
            if grad is not None:
                self._check_width(grad, f"the MLP input of block {layer}")
                # float64 products: NFA takes this sum's square root, which needs it PSD to float64
                # round-off (float32 products leave eigenvalues of −1e-7 × the largest).
                x = grad.reshape(-1, self.hidden_size).to(device=self.device, dtype=torch.float64)
                self.mlp_input_sums[layer] += x.T @ x
                seen.add(layer)
        return seen

    def _add_diag_groups(self, sl: slice, g: torch.Tensor, E_eff: torch.Tensor, groups: list[int]) -> None:
        """A_c += Σ_{k∈c∩sl} (g_k E_effᵀ)² for the B windows of g (K×B×T×d; window b into its window
        group ``groups[b]``'s cells), over vocabulary chunks of bounded size.

        The products and squares are formed in the groups' own dtype (``cell_dtype``: float32 for a
        float32 audit, whose gradients carry no more precision; float64 for float64) and a group of
        several probes is summed in float64. The T×V×d product is the audit's largest after the model
        passes, and float32 forms it in about half the time of float64 on a CPU, with entries within
        3e-6 and D within 2e-10 relative on SmolLM2's shapes; forming all windows of a block in one
        product (B·K·T rows) fills the matrix product better than one window at a time."""
        dtype = self._product_dtype
        gc = g.to(device=self.device, dtype=dtype)
        n_copies, n_windows = gc.shape[0], gc.shape[1]
        v_chunk = max(1, self.chunk_elements // (n_copies * n_windows * self.seq_len))
        group_ranges = self._ranges(sl, self.group_size)
        for v0 in range(0, self.vocab_size, v_chunk):
            v1 = min(self.vocab_size, v0 + v_chunk)
            rows = E_eff[v0:v1].to(device=self.device, dtype=dtype)
            sq = torch.einsum("kbtd,vd->kbtv", gc, rows).square_()
            for b, group in enumerate(groups):
                for c, lo, hi in group_ranges:
                    # One probe needs no sum (and no float64 round trip, which would give it back unchanged).
                    part = sq[lo, b] if hi - lo == 1 else sq[lo:hi, b].sum(0, dtype=torch.float64)
                    self.diag_group_sums[c, :, v0:v1] += part.to(self.diag_group_sums.dtype)
                    if self.diag_window_groups:
                        self.diag_cell_sums[group, c, :, v0:v1] += part.to(self.diag_cell_sums.dtype)

    @property
    def _product_dtype(self) -> torch.dtype:
        """The dtype one window's products are formed in before float64 accumulation: the cells'
        (float32 for a float32 audit, whose gradients carry no more precision; float64 for float64)."""
        return self.diag_group_sums.dtype

    def _add_layer_halves(self, sl: slice, grads: list[torch.Tensor]) -> None:
        """Per block and half: Σ_{k∈half∩sl} Σ_t g gᵀ (d×d), formed in the product dtype and
        accumulated in float64 (float32 products are about twice as fast, entries within 3e-7 of the
        largest on SmolLM2's shapes)."""
        half_ranges = self._ranges(sl, self.output_probes // 2)
        for layer, grad in enumerate(grads):
            self._check_width(grad, f"the input of block {layer}")
            gc = grad.to(device=self.device, dtype=self._product_dtype)
            for half, lo, hi in half_ranges:
                x = gc[lo:hi].reshape(-1, self.hidden_size)
                self.layer_half_sums[layer, half] += (x.T @ x).to(torch.float64)

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
                refuse_non_finite(t, f"the accumulator tensor {name}")

