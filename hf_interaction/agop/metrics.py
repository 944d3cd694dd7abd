"""Interaction metrics of a PSD matrix (docs/design.md §4) and small matrix helpers.

Everything here is a pure function of its arguments. Inputs may be torch tensors or numpy arrays;
computation is done in float64 torch. Scalars come back as Python floats; matrices come back in
the container type they came in (numpy in, numpy out).

For a PSD matrix M: F = ‖M‖²_F, D = Σᵢ Mᵢᵢ², AOFE = F − D, AOFE-ratio = AOFE / F.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hf_interaction.core.runtime import matmul_precision

ArrayLike = torch.Tensor | np.ndarray

#: Eigenvalues of a matrix passed to :func:`psd_sqrt` that are negative but no more negative than
#: ``PSD_NEG_TOL_FACTOR * n * eps(float64) * max|λ|`` are treated as round-off and set to zero;
#: anything more negative means the matrix is not PSD and raises ``ValueError``.
PSD_NEG_TOL_FACTOR = 1000.0


def _as_f64(M: ArrayLike) -> torch.Tensor:
    """Return ``M`` as a float64 CPU/same-device torch tensor (no copy when already one)."""
    t = torch.as_tensor(M)
    return t.to(torch.float64)


def _square(M: ArrayLike) -> torch.Tensor:
    t = _as_f64(M)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {tuple(t.shape)}")
    return t


def frobenius_energy(M: ArrayLike) -> float:
    """F = ‖M‖²_F, the total (Frobenius) energy of ``M``."""
    t = _square(M)
    return float((t * t).sum())


def diagonal_energy(M: ArrayLike) -> float:
    """D = Σᵢ Mᵢᵢ², the energy on the diagonal of ``M``."""
    diag = torch.diagonal(_square(M))
    return float((diag * diag).sum())


def aofe(M: ArrayLike) -> float:
    """AOFE = F − D, the off-diagonal energy of ``M`` (computed directly, not as a difference)."""
    t = _square(M)
    off = t - torch.diag(torch.diagonal(t))
    return float((off * off).sum())


def aofe_ratio(M: ArrayLike) -> float:
    """AOFE-ratio = AOFE / F: the share of ``M``'s energy off the diagonal; ``nan`` for M = 0.

    For a PSD n×n matrix it lies in [0, 1 − 1/n]: 0 exactly for a diagonal matrix, 1 − 1/n for 11ᵀ.
    """
    f = frobenius_energy(M)
    return aofe(M) / f if f > 0 else math.nan


def split_half_energies(G1: ArrayLike, G2: ArrayLike) -> tuple[float, float]:
    """Unbiased (F, D) of a matrix G from two independent unbiased estimates G1, G2 of it.

    F = ⟨G1, G2⟩_F and D = ⟨diag G1, diag G2⟩. Because E[G1 ⊗ G2] = G ⊗ G when the two halves are
    independent, these are unbiased for ‖G‖²_F and Σᵢ Gᵢᵢ², unlike ‖Ĝ‖²_F of a single noisy Ĝ whose
    expectation is inflated by the estimator's variance.
    """
    a, b = _square(G1), _square(G2)
    if a.shape != b.shape:
        raise ValueError(f"halves differ in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    f = float((a * b).sum())
    d = float((torch.diagonal(a) * torch.diagonal(b)).sum())
    return f, d


def row_gram(M: torch.Tensor, *, chunk_rows: int = 4096) -> torch.Tensor:
    """MᵀM (float64) of an N×d matrix, over row chunks to bound memory.

    Each chunk's product is formed in M's dtype (float32 or wider; half precision is widened) and
    summed in float64: several times faster than float64 products, with entries within 2e-7 of the
    largest on SmolLM2's 49,152×576 embedding."""
    dtype = M.dtype if M.dtype in (torch.float32, torch.float64) else torch.float32
    gram = torch.zeros(M.shape[1], M.shape[1], dtype=torch.float64, device=M.device)
    # Full float32 products on CUDA whatever the audit's --matmul-precision: TF32 keeps 10 mantissa
    # bits, too few for the Grams formed once (WᵀW for NFA, E_effᵀE_eff for F and D); a CPU is untouched.
    with matmul_precision("highest", M.device.type, "float32"):
        for r0 in range(0, M.shape[0], chunk_rows):
            rows = M[r0 : r0 + chunk_rows].to(dtype)
            gram += (rows.T @ rows).to(torch.float64)
    return gram


def effective_rank(trace: float, F: float) -> float:
    """(tr G)² / ‖G‖²_F: between 1 (rank one) and n (G ∝ identity) for PSD G; ``nan`` if F ≤ 0."""
    return trace * trace / F if F > 0 else math.nan


def _eigh(sym: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh``; on CPU, small matrices run single-threaded: with two BLAS threads on a
    busy machine the spin-waiting threads made a 384×384 eigh about a hundred times slower."""
    if sym.device.type != "cpu" or sym.shape[0] > 1024:
        return torch.linalg.eigh(sym)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.eigh(sym)
    finally:
        torch.set_num_threads(threads)


def psd_sqrt(M: ArrayLike) -> ArrayLike:
    """Symmetric PSD square root of ``M`` via ``eigh`` of its symmetric part, in float64.

    Round-off can leave tiny negative eigenvalues on a matrix that is PSD in exact arithmetic (a sum
    of outer products); those within ``PSD_NEG_TOL_FACTOR·n·eps·max|λ|`` are clamped to zero. A more
    negative eigenvalue raises ``ValueError`` rather than being hidden. Returns numpy for numpy input.
    """
    t = _square(M)
    sym = 0.5 * (t + t.T)
    evals, evecs = _eigh(sym)
    scale = float(evals.abs().max()) if evals.numel() else 0.0
    tol = PSD_NEG_TOL_FACTOR * t.shape[0] * torch.finfo(torch.float64).eps * scale
    if evals.numel() and float(evals.min()) < -tol:
        raise ValueError(
            f"matrix is not PSD: smallest eigenvalue {float(evals.min()):.3e} is below the round-off "
            f"tolerance -{tol:.3e}"
        )
    root = (evecs * evals.clamp(min=0).sqrt()) @ evecs.T
    return root.cpu().numpy() if isinstance(M, np.ndarray) else root


def psd_sqrt_batched(M: torch.Tensor) -> torch.Tensor:
    """:func:`psd_sqrt` of every matrix of a B×n×n stack: one batched float64 ``eigh`` on ``M``'s
    device (on an accelerator, instead of one CPU ``eigh`` per matrix), the same round-off rule per
    matrix, and ``ValueError`` naming the first matrix that is not PSD. Roots agree with
    :func:`psd_sqrt`'s to round-off (another eigensolver). Returns a float64 tensor on ``M``'s device."""
    t = torch.as_tensor(M).to(torch.float64)
    if t.ndim != 3 or t.shape[1] != t.shape[2]:
        raise ValueError(f"expected a stack of square matrices (B×n×n), got shape {tuple(t.shape)}")
    if t.numel() == 0:
        return t.clone()
    evals, evecs = torch.linalg.eigh(0.5 * (t + t.transpose(1, 2)))
    tol = PSD_NEG_TOL_FACTOR * t.shape[1] * torch.finfo(torch.float64).eps * evals.abs().amax(dim=1)
    smallest = evals.amin(dim=1)
    bad = (smallest < -tol).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(f"matrix {i} is not PSD: smallest eigenvalue {float(smallest[i]):.3e} is below the "
                         f"round-off tolerance -{float(tol[i]):.3e}")
    return (evecs * evals.clamp(min=0).sqrt().unsqueeze(1)) @ evecs.transpose(1, 2)


def _pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    """Pearson correlation of two equally long vectors; ``nan`` when either is constant."""
    xc, yc = x - x.mean(), y - y.mean()
    denom = math.sqrt(float((xc * xc).sum()) * float((yc * yc).sum()))
    return float((xc * yc).sum()) / denom if denom > 0 else math.nan


def pearson_offdiag(A: ArrayLike, B: ArrayLike) -> float:
    """Pearson correlation between the off-diagonal entries of two square matrices of one size.

    Both (i, j) and (j, i) entries are included, so for symmetric matrices each pair counts twice,
    which does not change the correlation.
    """
    a, b = _square(A), _square(B)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    mask = ~torch.eye(a.shape[0], dtype=torch.bool, device=a.device)
    return _pearson(a[mask], b[mask].to(a.device))


def pearson_full(A: ArrayLike, B: ArrayLike) -> float:
    """Pearson correlation between all entries of two square matrices of one size."""
    a, b = _square(A), _square(B)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    return _pearson(a.reshape(-1), b.reshape(-1).to(a.device))


def json_float(x: float) -> float | None:
    """A finite float, or None for nan (JSON has no nan)."""
    return None if math.isnan(x) else float(x)


def percentile_ci(samples: np.ndarray, level: float) -> list[float]:
    """The central ``level`` percentile interval of bootstrap ``samples``, as [lo, hi]."""
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(samples, [tail, 100.0 - tail])
    return [float(lo), float(hi)]
