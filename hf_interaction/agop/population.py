"""Population (corpus-AGOP) estimates of F, D and their ratios (issue 10; docs/metrics.md §"Population").

The paper's estimates (``finalize`` in :mod:`finalization`) are unbiased for the AGOP of the *n windows
drawn*, Ĝ_n = (1/n) Σᵢ Mᵢ with Mᵢ = JᵢJᵢᵀ. Squared, they are biased upward for the AGOP of the probe
corpus, Ḡ = E[Mᵢ]: E‖Ĝ_n‖² = ‖Ḡ‖² + (E‖M‖² − ‖Ḡ‖²)/n, so they drift with n. Here every product
pairs *different windows* (and, for D, different output probes), whose expectations factor:

- F: E_z⟨Mᵢz, Mᵢ′z⟩ = ⟨Mᵢ, Mᵢ′⟩ for Rademacher z and i ≠ i′, so the U-statistic over all pairs
  i ≠ i′ is unbiased for ‖Ḡ‖²_F. It needs only the per-window-group sums S_g of the input VJPs and
  each group's Σᵢ‖Mᵢzⱼ‖² (to remove the i = i′ terms): both are linear in the windows. With F from
  output-probe pairs (:mod:`pairs`), the same U-statistic averages ⟨Jᵢr_k, Jᵢ′r_k′⟩² over i ≠ i′
  and k ≠ k′ instead.
- D: the diagonal estimates of window unit g with output probe (group) c, averaged over pairs with
  g ≠ g′ *and* c ≠ c′, are unbiased for Σ_a Ḡ_aa².

Intervals: the delete-one jackknife over window units and over probes (:mod:`jackknife`), with the
same deletions for F and D so their ratio keeps the correlation of both. Window units are single
windows, or (pairs estimator, many windows) contiguous blocks of the sorted windows; Hutchinson's
window groups (i mod W) give intervals only when every group is one window.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from hf_interaction.agop.accumulator import AgopAccumulator
    from hf_interaction.agop.pairs import PairStatistics

from hf_interaction.agop.metrics import json_float
from hf_interaction.agop.ustats import Estimate, two_sample

#: Below this many window units the jackknife over windows is not trusted: intervals are not given.
MIN_WINDOW_UNITS = 4
#: Below this many windows no interval is given either: too few windows to tell a heavy tail
#: (below, MAX_WINDOW_DOMINANCE) from a light one. With 8 windows of heavy-tailed populations the
#: intervals that passed the dominance check covered 0.82 (benchmarks/coverage.py).
MIN_POPULATION_WINDOWS = 32
#: Population intervals are withheld when the largest window's weight (its tr Mᵢ estimate) exceeds this
#: many times the mean window's: then the corpus AGOP is dominated by rare windows that n draws mostly
#: miss, and no interval from them covers (benchmarks/coverage.py: 0.82–0.89 with log-normal window
#: scales; light-tailed windows gave 1.4–3.5 at n = 8–128, heavy-tailed ones 3.8–35).
MAX_WINDOW_DOMINANCE = 4.0
_CELL_CHUNK_ELEMENTS = 2**24

_FEW_UNITS_NOTE = ("population intervals not available: {w} window unit(s); fewer than "
                   f"{MIN_WINDOW_UNITS} say little about window-to-window spread (use more windows)")
_FEW_WINDOWS_NOTE = ("population intervals not available: {n} windows are too few to tell heavy-tailed windows from "
                     f"light ones (at least {MIN_POPULATION_WINDOWS}: --n); the paper's estimates, conditional on "
                     "these windows, keep their intervals")
_DOMINANT_NOTE = ("population intervals not available: one window carries {x:.1f}× the mean window's weight "
                  f"(tr Mᵢ; above {MAX_WINDOW_DOMINANCE:g}×), so the corpus AGOP is dominated by rare windows "
                  "that {n} draws mostly miss (heavy-tailed windows; the paper's estimates, conditional on these "
                  "windows, keep their intervals)")
_GROUPED_NOTE = ("population intervals not available: windows were pooled into groups by index (i mod W), which "
                 "understates window-to-window spread (--f-estimator hutchinson with more windows than its "
                 "diagonal cells allow; the default pairs estimator has no such limit)")
_NO_CELLS_NOTE = ("population D not available: the window × probe-group diagonal cells did not fit the "
                  "memory budget (lower T or the number of output probes)")


def input_pair_sums(acc: AgopAccumulator, E_gram: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """P (I×W×W) with P_j[g,h] = Σ_{i∈g, i′∈h, i≠i′} ⟨Mᵢzⱼ, Mᵢ′zⱼ⟩ and the pair counts N (W×W)."""
    S = acc.input_vjp_group_sums
    gram = E_gram.to(device=S.device, dtype=torch.float64)
    SG = torch.einsum("gjtd,de->gjte", S, gram)
    P = torch.einsum("gjte,hjte->jgh", SG, S)
    P -= torch.diag_embed(acc.input_vjp_self_sums.T)  # the i = i′ terms inside each group
    n_g = acc.window_group_counts.to(torch.float64)
    N = torch.outer(n_g, n_g) - torch.diag(n_g)
    return P.cpu().numpy(), N.cpu().numpy()


def diag_pair_sums(acc: AgopAccumulator) -> tuple[np.ndarray, np.ndarray]:
    """P (K×K, K = W·2m cells, cell index g·2m + c) with P[a,b] = ⟨A_a, A_b⟩ over g ≠ g′ and c ≠ c′
    (zero elsewhere), and the matching (window × probe) pair counts N."""
    cells = acc.diag_cell_sums
    W, C = cells.shape[0], cells.shape[1]
    K = W * C
    flat = cells.reshape(K, -1)
    P = torch.zeros(K, K, dtype=torch.float64, device=cells.device)
    step = max(1, _CELL_CHUNK_ELEMENTS // K)
    for c0 in range(0, flat.shape[1], step):
        x = flat[:, c0 : c0 + step].to(torch.float64)
        P += x @ x.T
    g = torch.arange(K) // C
    c = torch.arange(K) % C
    mask = ((g[:, None] != g[None, :]) & (c[:, None] != c[None, :])).to(torch.float64)
    n_cell = acc.window_group_counts.to(torch.float64).repeat_interleave(C) * acc.group_size
    N = torch.outer(n_cell, n_cell) * mask
    return (P.cpu() * mask).numpy(), N.numpy()


def _hutchinson_estimates(acc: AgopAccumulator, E_gram: torch.Tensor) -> tuple[Estimate, Estimate | None]:
    """Population F over window groups × input probes, and D over window groups × output-probe groups."""
    P_f, N_f = input_pair_sums(acc, E_gram)  # I×W×W, W×W
    I = P_f.shape[0]  # noqa: E741 (the notation of docs/design.md)
    f = two_sample("windows", "input_probes", np.moveaxis(P_f, 0, 2),
                   np.repeat(N_f[:, :, None], I, axis=2), probe_pairs=False)
    if acc.diag_cell_sums.shape[0] == 0:
        return f, None
    P_d, N_d = diag_pair_sums(acc)  # (W·C)², cell index g·C + c
    W, C = acc.window_groups, 2 * acc.groups_per_half

    def by_axes(x: np.ndarray) -> np.ndarray:
        return x.reshape(W, C, W, C).transpose(0, 2, 1, 3)

    return f, two_sample("windows", "output_probes", by_axes(P_d), by_axes(N_d))


def window_traces(acc: AgopAccumulator, stats: PairStatistics | None) -> np.ndarray:
    """Each window's estimate of tr Mᵢ (pairs), or each window group's (hutchinson: its diagonal cells)."""
    if stats is not None:
        return stats.window_trace
    if acc.diag_cell_sums.shape[0] == 0:
        return np.zeros(0)
    return acc.diag_cell_sums.to(torch.float64).sum(dim=(1, 2, 3)).cpu().numpy()


def _empty(out: dict[str, Any], note: str) -> tuple[dict[str, Any], None]:
    out.update(dict.fromkeys(("f", "d", "aofe_ratio", "diag_share", "diag_share_plugin", "f_ci", "d_ci",
                              "aofe_ratio_ci", "diag_share_ci")))
    out["note"] = note
    return out, None


def population_metrics(acc: AgopAccumulator, E_gram: torch.Tensor, *, ci_level: float,
                       stats: PairStatistics | None = None) -> tuple[dict[str, Any], Estimate | None]:
    """The ``metrics.population`` block (point estimates, jackknife intervals over windows and probes,
    or a note why not) and the D/F :class:`Estimate` (None when unavailable). ``stats``: the pairs
    estimator's sums (F and D over window blocks × single output probes); without them, Hutchinson's
    input-probe F and grouped diagonal cells."""
    if stats is not None:
        units, contiguous = stats.blocks, True
    else:
        units, contiguous = acc.window_groups, acc.window_groups == acc.n_windows
    out: dict[str, Any] = {
        "window_units": units,
        "window_unit_rule": ("contiguous blocks of the sorted windows" if contiguous and units < acc.n_windows
                             else "one window each" if contiguous else "window i in group i mod W"),
        "estimator": ("U-statistics over pairs of different windows and different output probes" if stats is not None
                      else "U-statistics over pairs of different windows (and different output-probe groups for D)"),
        "note": None,
    }
    if units < 2 or acc.n_windows < 2:
        return _empty(out, "population estimates not available: they need two windows in different window units")
    if stats is not None:
        f = two_sample("windows", "output_probes", stats.pop_f, stats.pop_f_count)
        d: Estimate | None = two_sample("windows", "output_probes", stats.pop_d, stats.pop_d_count)
    else:
        f, d = _hutchinson_estimates(acc, E_gram)
    share = d / f if d is not None else None
    out.update({"f": json_float(f.point), "d": json_float(d.point if d is not None else math.nan),
                "diag_share": json_float(share.corrected() if share is not None else math.nan),
                "diag_share_plugin": json_float(share.point if share is not None else math.nan)})
    out["aofe_ratio"] = None if out["diag_share"] is None else 1.0 - out["diag_share"]
    out.update(dict.fromkeys(("f_ci", "d_ci", "aofe_ratio_ci", "diag_share_ci")))
    if d is None:
        out["note"] = _NO_CELLS_NOTE
    traces = window_traces(acc, stats)
    dominance = float(traces.max() / traces.mean()) if traces.size and traces.mean() > 0 else math.nan
    out["window_dominance"] = json_float(dominance)
    if units < MIN_WINDOW_UNITS or not contiguous or acc.n_windows < MIN_POPULATION_WINDOWS:
        out["note"] = (_GROUPED_NOTE if not contiguous else _FEW_UNITS_NOTE.format(w=units) if units < MIN_WINDOW_UNITS
                       else _FEW_WINDOWS_NOTE.format(n=acc.n_windows))
        return out, None
    if not dominance <= MAX_WINDOW_DOMINANCE:
        out["note"] = _DOMINANT_NOTE.format(x=dominance, n=acc.n_windows)
        return out, None
    notes = [out["note"]] if out["note"] else []
    for key, est in (("f", f), ("d", d), ("diag_share", share)):
        if est is None:
            continue
        res = est.interval(ci_level)
        out[f"{key}_ci"] = res.ci
        if res.note:
            notes.append(f"population {key} interval not available: {res.note}")
    if out["diag_share_ci"] is not None:
        lo, hi = out["diag_share_ci"]
        out["aofe_ratio_ci"] = [1.0 - hi, 1.0 - lo]
    out["note"] = "; ".join(notes) or None
    return out, share
