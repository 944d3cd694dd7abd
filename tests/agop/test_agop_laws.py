"""Laws of the AGOP metrics (docs/design.md §4) and of the split-half estimator, checked with hypothesis.

Statistical checks use a tolerance derived from the replicates' own spread (6 standard errors of a
mean over N independent replicates), and run with ``derandomize=True`` so a CI run cannot flake.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_interaction.agop import (
    aofe,
    aofe_ratio,
    diagonal_energy,
    effective_rank,
    frobenius_energy,
    pearson_full,
    pearson_offdiag,
    psd_sqrt,
    split_half_energies,
)

sizes = st.integers(min_value=2, max_value=9)
seeds = st.integers(min_value=0, max_value=2**32 - 1)


def random_psd(n: int, seed: int, rank: int | None = None) -> np.ndarray:
    """X Xᵀ with X an n×rank Gaussian matrix with column scales spread over two decades."""
    rng = np.random.default_rng(seed)
    rank = rank or n
    X = rng.standard_normal((n, rank)) * np.logspace(-1, 1, rank)
    return X @ X.T


@given(n=sizes, seed=seeds, rank=st.integers(1, 12))
def test_aofe_ratio_lies_in_zero_to_one_minus_one_over_n(n, seed, rank):
    M = random_psd(n, seed, rank)
    r = aofe_ratio(M)
    assert 0.0 <= r <= 1.0 - 1.0 / n + 1e-12
    assert aofe(M) + diagonal_energy(M) == pytest.approx(frobenius_energy(M), rel=1e-12)


@given(n=sizes, seed=seeds, rank=st.integers(1, 12))
def test_diag_share_and_effective_rank_bounds(n, seed, rank):
    """For PSD G ≠ 0: D/F ∈ [1/n, 1] (so in (0, 1]) and 1 ≤ (tr G)²/‖G‖²_F ≤ min(rank, n)."""
    M = random_psd(n, seed, rank)
    share = diagonal_energy(M) / frobenius_energy(M)
    assert 1.0 / n - 1e-12 <= share <= 1.0 + 1e-12
    erank = effective_rank(float(np.trace(M)), frobenius_energy(M))
    assert 1.0 - 1e-9 <= erank <= min(rank, n) + 1e-9


@given(n=sizes, seed=seeds, scale=st.floats(1e-4, 1e4))
def test_aofe_ratio_is_invariant_to_positive_scaling(n, seed, scale):
    M = random_psd(n, seed)
    assert aofe_ratio(scale * M) == pytest.approx(aofe_ratio(M), rel=1e-10, abs=1e-14)
    assert aofe(scale * M) == pytest.approx(scale**2 * aofe(M), rel=1e-10)


@given(data=st.data(), n=sizes, seed=seeds)
def test_aofe_and_ratio_are_invariant_to_coordinate_permutation(data, n, seed):
    M = random_psd(n, seed)
    perm = np.array(data.draw(st.permutations(range(n))))
    P = M[np.ix_(perm, perm)]
    assert aofe_ratio(P) == pytest.approx(aofe_ratio(M), rel=1e-12, abs=1e-15)
    assert aofe(P) == pytest.approx(aofe(M), rel=1e-12, abs=1e-15)


@given(diag=st.lists(st.floats(1e-6, 1e6), min_size=1, max_size=12))
def test_aofe_ratio_is_zero_for_diagonal_matrices(diag):
    assert aofe_ratio(np.diag(diag)) == 0.0


@given(n=st.integers(1, 64))
def test_aofe_ratio_of_all_ones_is_one_minus_one_over_n(n):
    assert aofe_ratio(np.ones((n, n))) == pytest.approx(1.0 - 1.0 / n, rel=1e-15, abs=1e-15)
    assert aofe_ratio(torch.ones(n, n)) == pytest.approx(1.0 - 1.0 / n, rel=1e-15, abs=1e-15)


def test_degenerate_inputs():
    assert math.isnan(aofe_ratio(np.zeros((3, 3))))
    assert effective_rank(3.0, 9.0) == 1.0 and effective_rank(3.0, 3.0) == 3.0
    assert math.isnan(effective_rank(1.0, 0.0))
    with pytest.raises(ValueError, match="square"):
        frobenius_energy(np.ones((2, 3)))


# --------------------------------------------------------------------------------------------------
# Split-half energies
# --------------------------------------------------------------------------------------------------


def noisy_halves(A: np.ndarray, K: int, N: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """N independent pairs of unbiased estimates of M = A Aᵀ, each (1/K) Σ_k (Aρ_k)(Aρ_k)ᵀ with
    Rademacher ρ_k: the same construction as the probe estimators (shape N×n×n each)."""

    def one_half() -> np.ndarray:
        rho = rng.choice([-1.0, 1.0], size=(N, K, A.shape[1]))
        v = rho @ A.T  # N×K×n
        return np.einsum("Nki,Nkj->Nij", v, v) / K

    return one_half(), one_half()


def _within_sigma(samples: np.ndarray, target: float, n_sigma: float = 6.0) -> bool:
    se = samples.std(ddof=1) / math.sqrt(samples.size)
    return abs(samples.mean() - target) <= n_sigma * se + 1e-12 * abs(target)


@settings(max_examples=30, derandomize=True, deadline=None)
@given(n=st.integers(2, 7), rank=st.integers(1, 8), K=st.integers(1, 4), seed=seeds)
def test_split_half_energies_are_unbiased(n, rank, K, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, rank))
    M = A @ A.T
    G1, G2 = noisy_halves(A, K, 2000, rng)
    F = np.einsum("Nij,Nij->N", G1, G2)
    D = np.einsum("Nii,Nii->N", G1, G2)
    assert _within_sigma(F, frobenius_energy(M))
    assert _within_sigma(D, diagonal_energy(M))
    assert split_half_energies(G1[0], G2[0]) == pytest.approx((F[0], D[0]), rel=1e-12)


def test_plug_in_energy_is_biased_and_the_check_above_detects_it():
    """Power check for the tolerance used above: ‖Ĝ‖²_F of a single noisy half overestimates ‖M‖²_F
    by Σ Var(Ĝᵢⱼ) > 0, and the 6-SE criterion rejects it."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 3))
    M = A @ A.T
    G1, G2 = noisy_halves(A, 2, 2000, rng)
    plug_in = np.einsum("Nij,Nij->N", G1, G1)
    assert plug_in.mean() > frobenius_energy(M)
    assert not _within_sigma(plug_in, frobenius_energy(M))
    assert _within_sigma(np.einsum("Nij,Nij->N", G1, G2), frobenius_energy(M))


@given(n=sizes, seed=seeds)
def test_split_half_of_identical_halves_is_exact(n, seed):
    M = random_psd(n, seed)
    assert split_half_energies(M, M) == pytest.approx((frobenius_energy(M), diagonal_energy(M)), rel=1e-12)


# --------------------------------------------------------------------------------------------------
# PSD square root and Pearson helpers
# --------------------------------------------------------------------------------------------------


@given(n=sizes, seed=seeds, rank=st.integers(1, 12))
def test_psd_sqrt_squares_back_and_is_psd(n, seed, rank):
    M = random_psd(n, seed, rank)
    root = psd_sqrt(M)
    assert isinstance(root, np.ndarray)
    np.testing.assert_allclose(root @ root, M, atol=1e-10 * np.abs(M).max())
    np.testing.assert_allclose(root, root.T, atol=1e-12 * np.abs(root).max())
    assert np.linalg.eigvalsh(root).min() >= -1e-8 * np.abs(root).max()
    torch_root = psd_sqrt(torch.from_numpy(M))
    assert isinstance(torch_root, torch.Tensor)
    np.testing.assert_allclose(torch_root.numpy(), root, atol=1e-12 * np.abs(root).max())


def test_psd_sqrt_tolerates_round_off_but_rejects_non_psd():
    M = random_psd(5, 0, rank=2)  # exactly singular: round-off gives tiny negative eigenvalues
    np.testing.assert_allclose(psd_sqrt(M) @ psd_sqrt(M), M, atol=1e-10 * np.abs(M).max())
    with pytest.raises(ValueError, match="not PSD"):
        psd_sqrt(M - 1e-3 * np.abs(M).max() * np.eye(5))


@given(n=sizes, seed=seeds)
def test_pearson_helpers_match_numpy_corrcoef(n, seed):
    rng = np.random.default_rng(seed)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n)) + 0.5 * np.eye(n)
    off = ~np.eye(n, dtype=bool)
    assert pearson_full(A, B) == pytest.approx(np.corrcoef(A.ravel(), B.ravel())[0, 1], abs=1e-12)
    assert pearson_offdiag(A, B) == pytest.approx(np.corrcoef(A[off], B[off])[0, 1], abs=1e-12)
    assert pearson_offdiag(torch.from_numpy(A), B) == pytest.approx(pearson_offdiag(A, B), abs=1e-15)


def test_pearson_offdiag_ignores_the_diagonal_and_is_nan_when_constant():
    A = np.array([[100.0, 1.0, 2.0], [1.0, -50.0, 3.0], [2.0, 3.0, 7.0]])
    B = np.array([[0.0, 2.0, 4.0], [2.0, 9.0, 6.0], [4.0, 6.0, 1.0]])
    assert pearson_offdiag(A, B) == pytest.approx(1.0, abs=1e-12)
    assert pearson_full(A, B) < 0.5
    assert math.isnan(pearson_offdiag(np.diag([1.0, 2.0, 3.0]), B))
