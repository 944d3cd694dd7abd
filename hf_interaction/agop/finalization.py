"""Finalisation: the metrics of a (fully reduced) accumulator as JSON-ready Python values (DESIGN §4).

:func:`finalize` gives the paper's estimates of F, D, AOFE, AOFE-ratio, D/F, tr G and the effective
rank with percentile-bootstrap intervals, the per-block layer profile and NFA correlations, and the
population estimates of :mod:`population`. See docs/metrics.md for the derivations.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from hf_interaction.agop.accumulator import AgopAccumulator
from hf_interaction.agop.finite import refuse_non_finite
from hf_interaction.agop.metrics import (
    effective_rank,
    pearson_full,
    pearson_offdiag,
    psd_sqrt,
    psd_sqrt_batched,
    row_gram,
    split_half_energies,
)
from hf_interaction.agop.metrics import (
    json_float as _json_float,
)
from hf_interaction.agop.metrics import (
    percentile_ci as _percentile_ci,
)
from hf_interaction.agop.pairs import PairSums, bootstrap_f, bootstrap_f_by_probe, pair_sums
from hf_interaction.agop.population import population_metrics
from hf_interaction.errors import NumericalError

_NO_MLP_NOTE = "not available: no recognised MLP input projection for this block"
_NO_MLP_GRAD_NOTE = "not available: no gradients at this block's MLP input were accumulated"
_CONSTANT_NOTE = "undefined: the compared entries are constant"
#: Fewest output-probe groups per half for which D's bootstrap interval is reported.
MIN_GROUPS_FOR_D_CI = 3
_FEW_GROUPS_NOTE = ("intervals of D, AOFE, AOFE-ratio, D/F, tr G and effective rank not available: {m} "
                    "output-probe group(s) per half give D's bootstrap {why} (use --groups-per-half 4 or more, "
                    "or more output probes)")


def _hutchinson_f(acc: AgopAccumulator, E_gram: torch.Tensor) -> np.ndarray:
    """Per-probe Fⱼ = ‖G zⱼ‖² (length I) from the input-probe VJP sums."""
    S = acc.input_vjp_sums
    gram = E_gram.to(device=S.device, dtype=torch.float64)
    return ((torch.einsum("jtd,de->jte", S, gram) * S).sum(dim=(1, 2)) / acc.n_windows**2).cpu().numpy()


def _diagonal(acc: AgopAccumulator) -> tuple[np.ndarray, np.ndarray]:
    """The m×m matrix P_ab = ⟨d̂_a, d̂_b⟩ over half-1 × half-2 groups, where d̂_c = A_c / (n·|c|) is
    group c's unbiased estimate of diag G, and each group's trace estimate Σ d̂_c (length 2m,
    unbiased for tr G)."""
    n, m = acc.n_windows, acc.groups_per_half
    diag_est = acc.diag_group_sums.reshape(2 * m, -1).to(torch.float64) / (n * acc.group_size)
    pair = diag_est[:m] @ diag_est[m:].T
    return pair.cpu().numpy(), diag_est.sum(dim=1).cpu().numpy()


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


def _bootstrap_d(rng: np.random.Generator, pair: np.ndarray, traces: np.ndarray,
                 n_boot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replicates of D̂ (groups resampled within each half, independently, so a group is never paired
    with itself) and tr Ĝ (the same resamples), and the 2m group weights drawn."""
    m = pair.shape[0]
    w1, w2 = _resample_weights(rng, n_boot, m), _resample_weights(rng, n_boot, m)
    d_boot = ((w1 @ pair) * w2).sum(axis=1)
    trace_boot = 0.5 * (w1 @ traces[:m] + w2 @ traces[m:])
    return d_boot, trace_boot, np.concatenate([w1, w2], axis=1)


def _f_estimate(acc: AgopAccumulator, E_gram: torch.Tensor, rng: np.random.Generator, n_boot: int,
                pair: np.ndarray, traces: np.ndarray) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """F̂ with its standard error, and the bootstrap replicates of F̂, D̂ and tr Ĝ.

    Hutchinson (input probes): F̂ = mean_j ‖G zⱼ‖², input probes resampled, then D's groups.
    Output-probe pairs (:mod:`pairs`): D's group resamples also resample F's probes (so D/F keeps the
    correlation of F and D, which come from the same VJPs); with fewer than 3 groups per half, where
    D has no interval, F resamples single probes within each half instead."""
    if not acc.pair_windows:
        per_probe = _hutchinson_f(acc, E_gram)
        f_boot = _bootstrap_means(rng, per_probe, n_boot)
        d_boot, trace_boot, _ = _bootstrap_d(rng, pair, traces, n_boot)
        n_in = per_probe.shape[0]
        f_se = float(per_probe.std(ddof=1) / math.sqrt(n_in)) if n_in > 1 else math.nan
        return {"f_hat": float(per_probe.mean()), "f_se": f_se, "f_estimator": "hutchinson"}, f_boot, d_boot, trace_boot
    sums: PairSums = pair_sums(acc, E_gram)
    d_boot, trace_boot, group_weights = _bootstrap_d(rng, pair, traces, n_boot)
    if acc.groups_per_half >= MIN_GROUPS_FOR_D_CI:
        f_boot = bootstrap_f(sums, group_weights)
    else:
        half = acc.output_probes // 2
        probe_weights = np.concatenate([_resample_weights(rng, n_boot, half), _resample_weights(rng, n_boot, half)],
                                       axis=1)
        f_boot = bootstrap_f_by_probe(sums, probe_weights)
    return {"f_hat": sums.f_hat, "f_se": sums.jackknife_se(), "f_estimator": "output_probe_pairs",
            "_pair_sums": sums}, f_boot, d_boot, trace_boot


def _layer_profile(acc: AgopAccumulator, layer: int) -> dict[str, Any]:
    """Split-half F, D, AOFE, AOFE-ratio, trace and effective rank of block ``layer``'s AGOP."""
    per_half = acc.n_windows * (acc.output_probes // 2)
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
        refuse_non_finite(w, f"the MLP input weight of block {layer}")
        gram += row_gram(w.detach().to(device="cpu"))  # float32 products summed in float64
    return gram


def _nfa(acc: AgopAccumulator, layer: int, weights: torch.Tensor | Sequence[torch.Tensor] | None,
         root: torch.Tensor | None = None) -> dict[str, Any]:
    """Pearson correlations between WᵀW and sqrt of the MLP-input AGOP of block ``layer`` (``root``:
    that square root, when already formed)."""
    if weights is None:
        return {"nfa_offdiag": None, "nfa_full": None, "nfa_note": _NO_MLP_NOTE}
    count = int(acc.mlp_window_counts[layer])
    if count == 0:
        return {"nfa_offdiag": None, "nfa_full": None, "nfa_note": _NO_MLP_GRAD_NOTE}
    if root is None:
        root = psd_sqrt((acc.mlp_input_sums[layer] / (count * acc.output_probes)).cpu())
    gram = _weight_gram(weights, layer, acc.hidden_size)
    off, full = pearson_offdiag(root, gram), pearson_full(root, gram)
    note = _CONSTANT_NOTE if math.isnan(off) or math.isnan(full) else None
    return {"nfa_offdiag": _json_float(off), "nfa_full": _json_float(full), "nfa_note": note}


def _nfa_all(acc: AgopAccumulator, mlp_weights: Sequence) -> list[dict[str, Any]]:
    """:func:`_nfa` of every block. On a CPU the blocks run in parallel, one per torch thread, each
    single-threaded (an eigh of d×d is faster on one BLAS thread, metrics._eigh): on SmolLM2's 30
    blocks of 576² and 2 threads, 0.94 s against 1.89 s one after another. Same numbers either way.
    On an accelerator all blocks' square roots come from one batched float64 ``eigh`` there
    (metrics.psd_sqrt_batched; issue 22: 24 CPU eighs of 896² took 2.5 s beside a GPU)."""
    threads = torch.get_num_threads()
    workers = min(threads, acc.n_layers)
    if acc.mlp_input_sums.device.type != "cpu":
        counts = acc.mlp_window_counts.tolist()
        have = [layer for layer in range(acc.n_layers) if mlp_weights[layer] is not None and counts[layer]]
        scale = torch.tensor([counts[layer] * acc.output_probes for layer in have], dtype=torch.float64)
        sums = acc.mlp_input_sums[have].to(torch.float64)
        agops = sums / scale.to(sums)[:, None, None]
        roots = dict(zip(have, psd_sqrt_batched(agops).cpu(), strict=True)) if have else {}
        return [_nfa(acc, layer, mlp_weights[layer], roots.get(layer)) for layer in range(acc.n_layers)]
    if workers < 2:
        return [_nfa(acc, layer, mlp_weights[layer]) for layer in range(acc.n_layers)]
    from concurrent.futures import ThreadPoolExecutor

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda layer: _nfa(acc, layer, mlp_weights[layer]), range(acc.n_layers)))
    finally:
        torch.set_num_threads(threads)


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
    refuse_non_finite(E_gram, "the embedding Gram matrix E_effᵀE_eff")
    if mlp_weights is None:
        mlp_weights = [None] * acc.n_layers
    if len(mlp_weights) != acc.n_layers:
        raise ValueError(f"mlp_weights has {len(mlp_weights)} entries for {acc.n_layers} blocks")

    pair, traces = _diagonal(acc)
    d_hat, trace = float(pair.mean()), float(traces.mean())
    f_info, f_boot, d_boot, trace_boot = _f_estimate(acc, E_gram, np.random.default_rng(seed), n_boot, pair, traces)
    f_hat, f_se, sums = f_info["f_hat"], f_info["f_se"], f_info.pop("_pair_sums", None)
    if not f_hat > 0:
        raise NumericalError(f"F̂ = {f_hat!r}: the output f does not depend on the input (AOFE-ratio undefined)")
    aofe_boot = f_boot - d_boot
    if replicates is not None:
        replicates["paper"] = d_boot / f_boot

    layers = []
    for layer, nfa in enumerate(_nfa_all(acc, mlp_weights)):
        entry = _layer_profile(acc, layer)
        entry.update(nfa)
        layers.append(entry)

    # One group per half: every resample of D is D itself, a zero-width interval that would also
    # make the AOFE intervals cover probe noise in F only; two: 68% coverage measured for a nominal
    # 95% (docs/metrics.md). Report them as unavailable instead.
    d_known = acc.groups_per_half >= MIN_GROUPS_FOR_D_CI
    return {
        "f_estimator": f_info["f_estimator"],
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
        "input_probes": acc.input_probes,
        "output_probes": acc.output_probes,
        "groups_per_half": acc.groups_per_half,
        # Unbiased for the AGOP of the probe corpus rather than of these n windows (population.py).
        "population": population_metrics(acc, E_gram, n_boot=n_boot, seed=seed, ci_level=ci_level,
                                         replicates=replicates, pair_sums=sums),
        "layers": layers,
    }
