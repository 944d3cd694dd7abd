"""F, D and tr G from the output-probe VJPs of every window (the default estimator; issues 12 and 19).

For window i and output probe r_k the VJP vᵢₖ = Jᵢ r_k ∈ ℝ^{T·V} is kept (as aᵢₖ = ∂⟨f, r_k⟩/∂e,
T×d: vᵢₖ = aᵢₖ E_effᵀ). With Mᵢ = JᵢJᵢᵀ, G = (1/n) Σᵢ Mᵢ and *independent* probes k ≠ k′:

- F: E[⟨Jᵢr, Jᵢ′r′⟩²] = ‖JᵢᵀJᵢ′‖²_F = ⟨Mᵢ, Mᵢ′⟩, so Φ_kk′ = (1/n²) Σ_{i,i′} ⟨vᵢₖ, vᵢ′ₖ′⟩² is unbiased
  for ‖G‖²_F, and so is their mean over k ≠ k′;
- D: δᵢₖ = vᵢₖ ⊙ vᵢₖ is unbiased for diag Mᵢ, so with X_k = (1/n) Σᵢ δᵢₖ (unbiased for diag G),
  Δ_kk′ = ⟨X_k, X_k′⟩ is unbiased for ‖diag G‖² = D;
- tr G: τ_k = (1/n) Σᵢ ‖vᵢₖ‖²; (tr G)² from τ_k τ_k′.

Each is a U-statistic over single probes (a pair k = k′ is biased, E[(rᵀAr)²] ≠ ‖A‖²_F, and is never
used), so every estimate and its delete-one-probe replicates come from these O×O matrices
(:mod:`ustats`). The population versions (the probe corpus's AGOP Ḡ = E[Mᵢ]) use pairs of different
windows too, with windows in W contiguous blocks of the sorted windows as the second sample of units.

⟨vᵢₖ, vᵢ′ₖ′⟩ = Σ_t aᵢₖₜ Γ aᵢ′ₖ′ₜᵀ with Γ = E_effᵀE_eff (d×d): an (nO)×(nO) Gram matrix. The diagonal
terms need vᵢₖ itself: formed over chunks of the vocabulary, n·O·T·V·d multiply-adds in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from hf_interaction.agop.accumulator import AgopAccumulator

#: Positions of the stored VJPs converted to float64 per Gram step (memory only: ~this many elements).
_GRAM_CHUNK_ELEMENTS = 2**25
#: Elements of one (n × O × T × vocabulary-chunk) block of squared VJP entries (memory only).
DIAG_CHUNK_ELEMENTS = 2**25
#: At most this many (window block × probe) rows in the population D's Gram: its cost is rows² · T · V.
MAX_POPULATION_ROWS = 1024


def window_blocks(n: int, output_probes: int, max_rows: int = MAX_POPULATION_ROWS) -> int:
    """W, the number of window blocks (the population's units): every window its own block (W = n)
    while n·O ≤ ``max_rows``, else the largest divisor of n that keeps W·O within it (at least 1)."""
    if n * output_probes <= max_rows:
        return n
    fitting = [w for w in range(1, n + 1) if n % w == 0 and w * output_probes <= max_rows]
    return max(fitting) if fitting else 1


def block_of(n: int, blocks: int) -> torch.Tensor:
    """Block index of each window: contiguous runs of the (sorted) windows, n/W per block."""
    return torch.arange(n) * blocks // n


@dataclass
class PairStatistics:
    """The sums every pairs estimate is formed from (float64 numpy; O probes, W window blocks).

    Attributes:
        phi: O×O, Φ_kk′ = Σ_{i,i′} ⟨vᵢₖ, vᵢ′ₖ′⟩² / n² (zero on k = k′).
        delta: O×O, Δ_kk′ = ⟨X_k, X_k′⟩ (zero on k = k′).
        tau: O, τ_k = Σᵢ ‖vᵢₖ‖² / n.
        window_trace: n, mean_k ‖vᵢₖ‖²: window i's estimate of tr Mᵢ (its weight in G).
        pop_f, pop_f_count: W×W×O×O, Σ over i ∈ block g, i′ ∈ h, i ≠ i′ of ⟨vᵢₖ, vᵢ′ₗ⟩² (k ≠ l), and
            the number of terms.
        pop_d, pop_d_count: W×W×O×O, ⟨Σ_{i∈g} δᵢₖ, Σ_{i′∈h} δᵢ′ₗ⟩ for g ≠ h and k ≠ l, and the
            number of (window, window) pairs behind each.
    """

    phi: np.ndarray
    delta: np.ndarray
    tau: np.ndarray
    window_trace: np.ndarray
    pop_f: np.ndarray
    pop_f_count: np.ndarray
    pop_d: np.ndarray
    pop_d_count: np.ndarray

    @property
    def probes(self) -> int:
        return self.phi.shape[0]

    @property
    def f_hat(self) -> float:
        """The paper's F̂: the mean of Φ over probe pairs k ≠ k′."""
        return float(self.phi.sum() / (self.probes * (self.probes - 1)))

    @property
    def d_hat(self) -> float:
        """The paper's D̂: the mean of Δ over probe pairs k ≠ k′."""
        return float(self.delta.sum() / (self.probes * (self.probes - 1)))

    def population_f(self) -> float:
        """The population F̂: the mean over window pairs i ≠ i′ and probe pairs k ≠ k′ (nan without pairs)."""
        count = float(self.pop_f_count.sum())
        return float(self.pop_f.sum()) / count if count > 0 else float("nan")

    def population_d(self) -> float:
        """The population D̂: diagonal products of different window units and different probes."""
        count = float(self.pop_d_count.sum())
        return float(self.pop_d.sum()) / count if count > 0 else float("nan")

    @property
    def blocks(self) -> int:
        return self.pop_f.shape[0]


def vjp_gram(acc: AgopAccumulator, E_gram: torch.Tensor) -> torch.Tensor:
    """The (nO)×(nO) float64 Gram matrix ⟨vᵢₖ, vᵢ′ₖ′⟩ of the stored VJPs (row i·O + k), in the
    metric of E_effᵀE_eff, accumulated over chunks of positions to bound memory."""
    store = acc.output_vjp_store
    N, O, T, d = store.shape  # noqa: E741
    rows = N * O
    gram = E_gram.to(device=store.device, dtype=torch.float64)
    M = torch.zeros(rows, rows, dtype=torch.float64, device=store.device)
    step = max(1, _GRAM_CHUNK_ELEMENTS // max(1, rows * d))
    for t0 in range(0, T, step):
        x = store[:, :, t0 : t0 + step].to(torch.float64).reshape(rows, -1, d)
        M += x.reshape(rows, -1) @ (x @ gram).reshape(rows, -1).T
    return M


def _check_complete(acc: AgopAccumulator) -> None:
    seen = acc.pair_rows_seen
    if bool((seen != 1).any()):
        missing, doubled = int((seen == 0).sum()), int((seen > 1).sum())
        raise ValueError(f"F's pair estimator needs every one of the {acc.pair_windows} windows exactly once: "
                         f"{missing} missing, {doubled} added more than once")


def _f_sums(M: torch.Tensor, n: int, O: int, blocks: torch.Tensor, W: int) -> tuple:  # noqa: E741
    """Φ, τ, the per-window traces and the population F sums from the VJP Gram M."""
    norms = torch.diagonal(M).reshape(n, O)
    tau, window_trace = norms.sum(dim=0) / n, norms.mean(dim=1)
    Y = M.square().reshape(n, O, n, O)
    not_same_probe = 1.0 - torch.eye(O, dtype=torch.float64, device=Y.device)
    phi = torch.einsum("ikjl->kl", Y) * not_same_probe / n**2
    Y.diagonal(dim1=0, dim2=2).zero_()  # drop i = i′: the population pairs different windows only
    onehot = torch.nn.functional.one_hot(blocks.to(Y.device), W).to(torch.float64)
    pop = torch.einsum("ig,ikjl,jh->ghkl", onehot, Y, onehot) * not_same_probe
    size = onehot.sum(dim=0).cpu().numpy()
    window_pairs = np.outer(size, size) - np.diag(size)
    count = window_pairs[:, :, None, None] * (1.0 - np.eye(O))[None, None]
    return phi.cpu().numpy(), tau.cpu().numpy(), window_trace.cpu().numpy(), pop.cpu().numpy(), count


def diagonal_gram(store: torch.Tensor, E_eff: torch.Tensor, blocks: torch.Tensor, W: int,
                  chunk_elements: int = DIAG_CHUNK_ELEMENTS) -> torch.Tensor:
    """Z (W·O × W·O, float64): ⟨X_gk, X_hl⟩ over all T·V diagonal entries, X_gk = Σ_{i∈g} vᵢₖ ⊙ vᵢₖ.

    Per vocabulary chunk, in the store's dtype (float32 in a float32 audit, whose gradients carry no
    more precision; float64 in a float64 one): the entries vᵢₖ[t, v] = aᵢₖₜ·E_v are formed and
    squared, summed over each block's windows (at most n/W positive terms), and the chunk's product
    X Xᵀ is formed; the chunks' products are summed in float64."""
    n, O, T, d = store.shape  # noqa: E741
    V = E_eff.shape[0]
    onehot = torch.nn.functional.one_hot(blocks.to(store.device), W).T.to(store.dtype)  # W×n
    Z = torch.zeros(W * O, W * O, dtype=torch.float64, device=store.device)
    step = max(1, chunk_elements // max(1, n * O * T))
    for v0 in range(0, V, step):
        rows = E_eff[v0 : v0 + step].to(device=store.device, dtype=store.dtype)
        sq = torch.einsum("notd,vd->notv", store, rows).square_()
        X = torch.einsum("gn,notv->gotv", onehot, sq).reshape(W * O, -1)
        Z += (X @ X.T).to(torch.float64)
    return Z


def _d_sums(Z: torch.Tensor, n: int, O: int, blocks: torch.Tensor, W: int) -> tuple:  # noqa: E741
    """Δ and the population D sums from the block diagonal Gram Z."""
    Zb = Z.reshape(W, O, W, O).permute(0, 2, 1, 3).cpu().numpy()  # g, h, k, l
    off_probe = 1.0 - np.eye(O)
    delta = Zb.sum(axis=(0, 1)) * off_probe / n**2
    size = torch.bincount(blocks, minlength=W).to(torch.float64).numpy()
    off_window = 1.0 - np.eye(W)
    pop = Zb * off_window[:, :, None, None] * off_probe[None, None]
    count = (np.outer(size, size) * off_window)[:, :, None, None] * off_probe[None, None]
    return delta, pop, count


def pair_statistics(acc: AgopAccumulator, E_eff: torch.Tensor, E_gram: torch.Tensor,
                    blocks: int | None = None) -> PairStatistics:
    """:class:`PairStatistics` of an accumulator that stored the VJPs of every window (``pair_windows``).
    ``blocks``: W, the population's window blocks (default :func:`window_blocks`)."""
    _check_complete(acc)
    n, O = acc.pair_windows, acc.output_probes  # noqa: E741
    W = window_blocks(n, O) if blocks is None else blocks
    if not 1 <= W <= n:
        raise ValueError(f"window blocks must be between 1 and n = {n}, got {W}")
    which = block_of(n, W)
    phi, tau, window_trace, pop_f, pop_f_count = _f_sums(vjp_gram(acc, E_gram), n, O, which, W)
    chunk = DIAG_CHUNK_ELEMENTS * (4 if acc.output_vjp_store.device.type == "cuda" else 1)
    Z = diagonal_gram(acc.output_vjp_store, E_eff.to(acc.output_vjp_store.device), which, W, chunk)
    delta, pop_d, pop_d_count = _d_sums(Z, n, O, which, W)
    return PairStatistics(phi=phi, delta=delta, tau=tau, window_trace=window_trace, pop_f=pop_f,
                          pop_f_count=pop_f_count, pop_d=pop_d, pop_d_count=pop_d_count)
