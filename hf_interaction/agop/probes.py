"""The random probes of the AGOP estimators (docs/design.md §4.2): Rademacher input probes zⱼ ∈ {±1}^{T×V},
projected onto the embeddings as tangents uⱼ = zⱼ E_eff, and Rademacher output probes r_k ∈ {±1}^V.

Every probe is drawn on the CPU from a ``torch.Generator`` with a fixed draw order, so the probes
depend only on their sizes and the seed, on every process and device.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from hf_interaction.agop.metrics import row_gram

#: Number of vocabulary columns of an input probe zⱼ drawn per generator call. Part of the probe
#: definition: changing it changes the probes drawn for a given seed.
INPUT_PROBE_CHUNK = 4096
#: Output probes are drawn from a generator seeded with ``seed + OUTPUT_PROBE_SEED_OFFSET`` so that
#: they form a stream separate from the input probes drawn with ``seed``.
OUTPUT_PROBE_SEED_OFFSET = 1_000_003


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
    I: int,  # noqa: E741 (the notation of docs/design.md)
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
    I: int,  # noqa: E741 (the notation of docs/design.md)
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
    O: int,  # noqa: E741 (the notation of docs/design.md)
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


def embedding_gram(E_eff: torch.Tensor) -> torch.Tensor:
    """E_effᵀ E_eff (d×d, float64): :func:`~hf_interaction.agop.metrics.row_gram` of the embedding."""
    return row_gram(E_eff)
