"""F = ‖G‖²_F from pairs of output-probe VJPs, with no JVPs and no input probes (issue 12).

For window i and output probe r_k, the VJP vᵢₖ = Jᵢ r_k ∈ ℝ^{T·V} is already needed for D. For
*independent* probes r, r′ (k ≠ k′) and any two windows i, i′,

    E[⟨Jᵢ r, Jᵢ′ r′⟩²] = E[rᵀ JᵢᵀJᵢ′ r′ r′ᵀ Jᵢ′ᵀJᵢ r] = ‖JᵢᵀJᵢ′‖²_F = ⟨JᵢJᵢᵀ, Jᵢ′Jᵢ′ᵀ⟩_F,

so with Mᵢ = JᵢJᵢᵀ and G = (1/n) Σᵢ Mᵢ:

- the paper's F (conditional on the n windows): ‖G‖² = (1/n²) Σ_{i,i′} ⟨Mᵢ, Mᵢ′⟩, estimated without
  bias by averaging ⟨vᵢₖ, vᵢ′ₖ′⟩² over all window pairs (i = i′ included) and probe pairs k ≠ k′;
- the population F (the probe corpus's AGOP Ḡ = E[Mᵢ]): the same average over i ≠ i′ only, since
  E⟨Mᵢ, Mᵢ′⟩ = ‖Ḡ‖² for independent windows.

A pair k = k′ would be biased (E[(rᵀAr)²] ≠ ‖A‖²_F), so those are left out everywhere, also in the
bootstrap, where a resample may hold one probe twice. With vᵢₖ = aᵢₖ E_effᵀ (aᵢₖ = ∂⟨f, r_k⟩/∂e,
T×d), ⟨vᵢₖ, vᵢ′ₖ′⟩ = Σ_t aᵢₖₜ Γ aᵢ′ₖ′ₜᵀ with the d×d Gram Γ = E_effᵀE_eff: an (nO)×(nO) Gram matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from hf_interaction.agop.accumulator import AgopAccumulator

#: Positions of the stored VJPs converted to float64 per Gram step (memory only: ~this many elements).
_GRAM_CHUNK_ELEMENTS = 2**25


@dataclass
class PairSums:
    """Sums of squared VJP inner products ⟨vᵢₖ, vᵢ′ₖ′⟩² over probe pairs k ≠ k′.

    Attributes:
        per_probe: O×O, Σ_{i,i′} ⟨vᵢₖ, vᵢ′ₖ′⟩² / n² (all window pairs; zero on the diagonal k = k′).
        groups: 2m×2m, ``per_probe`` summed over the probes of output-probe groups c, c′.
        group_pairs: 2m×2m, the number of probe pairs k ≠ k′ behind each entry of ``groups``.
        population: W×W×2m×2m, Σ over i ∈ window group g, i′ ∈ h, i ≠ i′ (not divided by n²).
        population_pairs: W×W×2m×2m, the number of (window, probe) pairs behind each entry.
    """

    per_probe: np.ndarray
    groups: np.ndarray
    group_pairs: np.ndarray
    population: np.ndarray
    population_pairs: np.ndarray

    @property
    def f_hat(self) -> float:
        """The paper's F̂: the mean over probe pairs k ≠ k′ of Σ_{i,i′}⟨vᵢₖ, vᵢ′ₖ′⟩² / n²."""
        O = self.per_probe.shape[0]  # noqa: E741 (DESIGN's notation)
        return float(self.per_probe.sum() / (O * (O - 1)))

    def jackknife_se(self) -> float:
        """Delete-one-probe jackknife standard error of :attr:`f_hat` (nan below 3 probes)."""
        O = self.per_probe.shape[0]  # noqa: E741
        if O < 3:
            return math.nan
        total, row = self.per_probe.sum(), self.per_probe.sum(axis=1)
        leave_out = (total - 2 * row) / ((O - 1) * (O - 2))  # Φ is symmetric
        return float(math.sqrt((O - 1) / O * ((leave_out - leave_out.mean()) ** 2).sum()))

    def population_f(self) -> float:
        """The population F̂: the mean over window pairs i ≠ i′ and probe pairs k ≠ k′ (nan without pairs)."""
        count = float(self.population_pairs.sum())
        return float(self.population.sum()) / count if count > 0 else math.nan


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


def pair_sums(acc: AgopAccumulator, E_gram: torch.Tensor) -> PairSums:
    """:class:`PairSums` from an accumulator that stored the VJPs of every window (``pair_windows``)."""
    seen = acc.pair_rows_seen
    if bool((seen != 1).any()):
        missing, doubled = int((seen == 0).sum()), int((seen > 1).sum())
        raise ValueError(f"F's pair estimator needs every one of the {acc.pair_windows} windows exactly once: "
                         f"{missing} missing, {doubled} added more than once")
    n, O, m = acc.pair_windows, acc.output_probes, acc.groups_per_half  # noqa: E741
    C, W = 2 * m, acc.window_groups
    Y = vjp_gram(acc, E_gram).square_().reshape(n, O, n, O)
    not_same_probe = 1.0 - torch.eye(O, dtype=torch.float64, device=Y.device)
    per_probe = torch.einsum("ikjl->kl", Y) * not_same_probe / n**2
    Y.diagonal(dim1=0, dim2=2).zero_()  # drop i = i′: the population pairs different windows only
    window_group = torch.nn.functional.one_hot(torch.arange(n, device=Y.device) % W, W).to(torch.float64)
    by_groups = torch.einsum("ig,ikjl,jh->ghkl", window_group, Y, window_group) * not_same_probe
    probe_group = torch.nn.functional.one_hot(torch.arange(O, device=Y.device) // acc.group_size, C).to(torch.float64)
    groups = probe_group.T @ per_probe @ probe_group
    population = torch.einsum("kc,ghkl,ld->ghcd", probe_group, by_groups, probe_group)
    size = float(acc.group_size)
    group_pairs = np.full((C, C), size * size) - np.eye(C) * size
    n_g = torch.bincount(torch.arange(n) % W, minlength=W).to(torch.float64).numpy()
    window_pairs = np.outer(n_g, n_g) - np.diag(n_g)
    return PairSums(per_probe=per_probe.cpu().numpy(), groups=groups.cpu().numpy(), group_pairs=group_pairs,
                    population=population.cpu().numpy(),
                    population_pairs=window_pairs[:, :, None, None] * group_pairs[None, None])


def bootstrap_f(sums: PairSums, weights: np.ndarray) -> np.ndarray:
    """Paper F̂ for each row of ``weights`` (n_boot × 2m group weights): Σ w_c w_c′ Ψ_cc′ / Σ w_c w_c′ N_cc′."""
    num = np.einsum("bc,cd,bd->b", weights, sums.groups, weights)
    return num / np.einsum("bc,cd,bd->b", weights, sums.group_pairs, weights)


def bootstrap_f_by_probe(sums: PairSums, weights: np.ndarray) -> np.ndarray:
    """Paper F̂ for each row of ``weights`` (n_boot × O probe weights), pairs k ≠ k′ only."""
    O = weights.shape[1]  # noqa: E741
    off = 1.0 - np.eye(O)
    num = np.einsum("bk,kl,bl->b", weights, sums.per_probe, weights)
    return num / np.einsum("bk,kl,bl->b", weights, off, weights)


def bootstrap_population_f(sums: PairSums, window_weights: np.ndarray, group_weights: np.ndarray) -> np.ndarray:
    """Population F̂ for resampled window groups (n_boot × W) and probe groups (n_boot × 2m)."""
    def resampled(x: np.ndarray) -> np.ndarray:
        by_probe = np.einsum("bg,ghcd,bh->bcd", window_weights, x, window_weights)
        return np.einsum("bc,bcd,bd->b", group_weights, by_probe, group_weights)

    with np.errstate(divide="ignore", invalid="ignore"):  # a replicate without pairs is nan (counted)
        return resampled(sums.population) / resampled(sums.population_pairs)
