"""Finalisation: the metrics of a (fully reduced) accumulator as JSON-ready Python values (docs/design.md §4).

:func:`finalize` gives the paper's estimates of F, D, AOFE, AOFE-ratio, D/F, tr G and the effective
rank with bias-corrected delete-one jackknife intervals (:mod:`jackknife`, :mod:`ustats`), the per-block
layer profile and NFA correlations, and the population estimates of :mod:`population`. See
docs/metrics.md for the derivations and the measured coverage of every interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hf_interaction.agop.accumulator import AgopAccumulator
from hf_interaction.agop.finite import refuse_non_finite
from hf_interaction.agop.jackknife import design_hash
from hf_interaction.agop.metrics import (
    ArrayLike,
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
from hf_interaction.agop.pairs import PairStatistics, pair_statistics
from hf_interaction.agop.population import population_metrics
from hf_interaction.agop.ustats import Estimate, linear, quadratic
from hf_interaction.errors import NumericalError

_NO_MLP_NOTE = "not available: no recognised MLP input projection for this block"
_NO_MLP_GRAD_NOTE = "not available: no gradients at this block's MLP input were accumulated"
_CONSTANT_NOTE = "undefined: the compared entries are constant"
#: How every interval of the record is formed (agop/jackknife.py; coverage measured by benchmarks/coverage.py).
CI_METHOD = ("delete-one jackknife over the output probes (and input probes for hutchinson; windows too for the "
             "population), t interval on the log scale (linear for AOFE when a replicate is not positive), "
             "Welch–Satterthwaite degrees of freedom, jackknife bias correction")


def _hutchinson_f(acc: AgopAccumulator, E_gram: torch.Tensor) -> np.ndarray:
    """Per-probe Fⱼ = ‖G zⱼ‖² (length I) from the input-probe VJP sums."""
    S = acc.input_vjp_sums
    gram = E_gram.to(device=S.device, dtype=torch.float64)
    return ((torch.einsum("jtd,de->jte", S, gram) * S).sum(dim=(1, 2)) / acc.n_windows**2).cpu().numpy()


def _group_diagonal(acc: AgopAccumulator) -> tuple[np.ndarray, np.ndarray]:
    """Δ_cc′ = ⟨S_c, S_c′⟩ over the 2m output-probe groups (S_c = A_c / n sums the group's |c| unbiased
    estimates of diag G) and τ_c = Σ S_c (|c| estimates of tr G each)."""
    S = acc.diag_group_sums.reshape(2 * acc.groups_per_half, -1).to(torch.float64) / acc.n_windows
    return (S @ S.T).cpu().numpy(), S.sum(dim=1).cpu().numpy()


def conditional_estimates(acc: AgopAccumulator, E_gram: torch.Tensor,
                          stats: PairStatistics | None) -> dict[str, Estimate]:
    """F, D, tr G and (tr G)² of the n windows' AGOP as :class:`Estimate` s with delete-one replicates:
    over single output probes (pairs), or over input probes (F) and output-probe groups (hutchinson)."""
    if stats is not None:
        O = stats.probes  # noqa: E741
        ones = np.ones((O, O))
        return {"f": quadratic("output_probes", stats.phi, ones), "d": quadratic("output_probes", stats.delta, ones),
                "trace": linear("output_probes", stats.tau, np.ones(O)),
                "trace_sq": quadratic("output_probes", np.outer(stats.tau, stats.tau), ones)}
    per_probe = _hutchinson_f(acc, E_gram)
    delta, tau = _group_diagonal(acc)
    size = float(acc.group_size)
    C = delta.shape[0]
    return {"f": linear("input_probes", per_probe, np.ones(per_probe.size)),
            "d": quadratic("output_probes", delta, np.full((C, C), size * size)),
            "trace": linear("output_probes", tau, np.full(C, size)),
            "trace_sq": quadratic("output_probes", np.outer(tau, tau), np.full((C, C), size * size))}


def interval_or_none(est: Estimate, level: float, scale: str = "log") -> tuple[list[float] | None, str | None]:
    """The estimate's jackknife interval, or None and the reason."""
    res = est.interval(level, scale)
    return res.ci, res.note


def _ratio_block(f: Estimate, d: Estimate, level: float) -> dict[str, Any]:
    """AOFE, AOFE-ratio and D/F with intervals (AOFE on the log scale where all replicates are positive)."""
    share = d / f
    aofe = f - d
    aofe_ci, aofe_note = interval_or_none(aofe, level, "log")
    if aofe_ci is None:
        aofe_ci, aofe_note = interval_or_none(aofe, level, "linear")
    share_ci, share_note = interval_or_none(share, level)
    corrected = share.corrected()
    return {
        "aofe": aofe.point, "aofe_ci": aofe_ci,
        "aofe_ratio": 1.0 - corrected,
        "aofe_ratio_ci": None if share_ci is None else [1.0 - share_ci[1], 1.0 - share_ci[0]],
        "diag_share": corrected, "diag_share_plugin": share.point, "diag_share_ci": share_ci,
        "_notes": [n for n in (aofe_note, share_note) if n],
        "_share": share,
    }


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
    gram = torch.zeros(d, d, dtype=torch.float64, device=mats[0].device)
    for w in mats:
        if w.ndim != 2 or w.shape[1] != d:
            raise ValueError(f"block {layer}: MLP input weight must be (d_ff, {d}), got {tuple(w.shape)}")
        refuse_non_finite(w, f"the MLP input weight of block {layer}")
        # float32 products summed in float64, where the weights are: an accelerator's weights are
        # not copied to the host for it (issue 22), only the d×d result is
        gram += row_gram(w.detach()).to(gram.device)
    return gram.cpu()


def _nfa(acc: AgopAccumulator, layer: int, weights: torch.Tensor | Sequence[torch.Tensor] | None,
         root: ArrayLike | None = None) -> dict[str, Any]:
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
    single-threaded (an eigh of d×d is faster on one BLAS thread, metrics._eigh), which halves the
    time one after another would take on two threads. Same numbers either way. On an accelerator all
    blocks' square roots come from one batched float64 ``eigh`` there (metrics.psd_sqrt_batched), so
    the CPU does not hold up the GPU (issue 22)."""
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


def _conditional_block(acc: AgopAccumulator, E_gram: torch.Tensor, stats: PairStatistics | None,
                       level: float) -> tuple[dict[str, Any], dict[str, Estimate]]:
    """The paper's estimates (conditional on the n windows drawn) with their intervals."""
    est = conditional_estimates(acc, E_gram, stats)
    f, d, trace = est["f"], est["d"], est["trace"]
    if not f.point > 0:
        raise NumericalError(f"F̂ = {f.point!r}: the output f does not depend on the input (AOFE-ratio undefined)")
    erank = est["trace_sq"] / f
    f_ci, f_note = interval_or_none(f, level)
    d_ci, d_note = interval_or_none(d, level)
    trace_ci, trace_note = interval_or_none(trace, level)
    erank_ci, erank_note = interval_or_none(erank, level)
    ratios = _ratio_block(f, d, level)
    notes = [n for n in (f_note, d_note, trace_note, erank_note, *ratios.pop("_notes")) if n]
    if stats is None and acc.groups_per_half < 2:
        notes.insert(0, "intervals of D and its ratios need at least 2 output-probe groups per half "
                        "(--groups-per-half 2 or more, or more output probes)")
    share = ratios.pop("_share")
    f_se = f.interval(level, "linear").se
    out = {
        "f_estimator": "output_probe_pairs" if stats is not None else "hutchinson",
        "f": f.point, "f_se": _json_float(math.nan if f_se is None else f_se), "f_ci": f_ci,
        "d": d.point, "d_ci": d_ci,
        **ratios,
        "trace": trace.point, "trace_ci": trace_ci,
        "effective_rank": erank.corrected(), "effective_rank_plugin": erank.point, "effective_rank_ci": erank_ci,
        "ci_note": "; ".join(dict.fromkeys(notes)) or None,
        "f_below_d": f.point < d.point,
    }
    return out, {"diag_share": share, "d": d}


def finalize(
    acc: AgopAccumulator,
    E_gram: torch.Tensor,
    mlp_weights: Sequence[torch.Tensor | Sequence[torch.Tensor] | None] | None,
    *,
    E_eff: torch.Tensor | None = None,
    ci_level: float = 0.95,
    replicates: dict[str, Any] | None = None,
    window_blocks: int | None = None,
) -> dict[str, Any]:
    """Metrics from a (fully reduced) accumulator, as JSON-ready Python values.

    Args:
        acc: the accumulator after all windows (and shards) were added.
        E_gram: E_effᵀE_eff (d×d), e.g. from :func:`embedding_gram`.
        mlp_weights: per block, the MLP input projection weight(s) (each (d_ff, d); a list for
            gate + up) or ``None`` where not recognised; ``None`` for all blocks at once.
        E_eff: the input embedding (V×d); needed by the pairs estimator (``acc.pair_windows``), whose
            diagonal terms are formed here from the stored VJPs.
        ci_level: the intervals' nominal coverage.
        replicates: if given, receives the diagonal share D/F as :class:`Estimate` s with their
            delete-one replicates under ``"paper"`` and ``"population"`` (and ``"design"``, a hash of
            the resampling design), so two models measured on the same windows and probes pair (audit/baseline.py).
        window_blocks: W, the population's window units (pairs; default: ``pairs.window_blocks``).

    Returns a dict with ``f``, ``f_se``, ``d``, ``aofe``, ``aofe_ratio``, ``diag_share``, ``trace``,
    ``effective_rank``, their ``*_ci`` ([lo, hi] or None, see ``ci_note``), probe counts, ``population``
    and ``layers`` (one dict per block).
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
    stats = None
    if acc.pair_windows:
        if E_eff is None:
            raise ValueError("the pairs estimator needs E_eff (its diagonal terms are formed from the stored VJPs)")
        stats = pair_statistics(acc, E_eff, E_gram, window_blocks)
    conditional, parts = _conditional_block(acc, E_gram, stats, ci_level)
    population, pop_share = population_metrics(acc, E_gram, ci_level=ci_level, stats=stats)
    if replicates is not None:
        replicates.update({"paper": parts["diag_share"], "population": pop_share,
                           "paper_interval": conditional["diag_share_ci"] is not None,
                           "population_interval": population.get("diag_share_ci") is not None,
                           "design": design_hash(output_probes=acc.output_probes, input_probes=acc.input_probes,
                                                 windows=n, window_units=population.get("window_units") or 0,
                                                 estimator=conditional["f_estimator"])})
    layers = []
    for layer, nfa in enumerate(_nfa_all(acc, mlp_weights)):
        entry = _layer_profile(acc, layer)
        entry.update(nfa)
        layers.append(entry)
    return {
        **conditional,
        "ci_level": ci_level,
        "ci_method": CI_METHOD,
        "n_windows": n,
        "input_probes": acc.input_probes,
        "output_probes": acc.output_probes,
        "groups_per_half": None if acc.pair_windows else acc.groups_per_half,
        # Unbiased for the AGOP of the probe corpus rather than of these n windows (population.py).
        "population": population,
        "layers": layers,
    }
