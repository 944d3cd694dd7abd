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
- D: the diagonal estimates of window group g with output-probe group c, averaged over pairs with
  g ≠ g′ *and* c ≠ c′, are unbiased for Σ_a Ḡ_aa².

Intervals resample window groups (the same resample for F and D, so their ratio keeps the windows'
correlation), input probes and output-probe groups (F from output-probe pairs uses D's probe-group
resample too), independently; each replicate is a ratio of the resampled pair sums to the
resampled pair counts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from hf_interaction.agop.accumulator import AgopAccumulator
    from hf_interaction.agop.pairs import PairSums

from hf_interaction.agop.metrics import json_float, percentile_ci
from hf_interaction.agop.pairs import bootstrap_population_f
from hf_interaction.presets import DEFAULT_WINDOW_GROUPS  # noqa: F401 (the audit's default W)

#: Below this many window groups the bootstrap over groups is not trusted: intervals are not given.
MIN_GROUPS_FOR_CI = 5
_CELL_CHUNK_ELEMENTS = 2**24

_FEW_GROUPS_NOTE = ("population intervals not available: {w} window group(s); resampling fewer than "
                    f"{MIN_GROUPS_FOR_CI} groups says little about window-to-window spread (use more windows)")
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


def _ratio(num: float, den: float) -> float:
    return num / den if den > 0 else math.nan


def population_metrics(acc: AgopAccumulator, E_gram: torch.Tensor, *, n_boot: int, seed: int,
                       ci_level: float, replicates: dict[str, np.ndarray] | None = None,
                       pair_sums: PairSums | None = None) -> dict[str, Any]:
    """The ``metrics.population`` block: point estimates, intervals (or a note why not), and how made.
    ``replicates`` (if given) receives the D/F replicates under ``"population"``; ``pair_sums``
    (F from output-probe pairs) replaces the input-probe F."""
    W = acc.window_groups
    groups_seen = int((acc.window_group_counts > 0).sum())
    out: dict[str, Any] = {
        "window_groups": W,
        "window_groups_seen": groups_seen,
        "estimator": ("U-statistics over pairs of different windows (and different output probes for F, "
                      "different output-probe groups for D)") if pair_sums is not None else (
                      "U-statistics over pairs of different windows (and different output-probe groups for D)"),
        "note": None,
    }
    if W < 2 or acc.n_windows < 2:
        out.update(dict.fromkeys(("f_hat", "d_hat", "aofe_ratio", "diag_share", "f_ci", "d_ci", "aofe_ratio_ci",
                                  "diag_share_ci", "n_boot_degenerate")))
        out["note"] = "population estimates not available: they need two windows in different window groups"
        return out
    if pair_sums is None:
        P_f, N_f = input_pair_sums(acc, E_gram)
        f_hat = _ratio(float(P_f.sum(axis=(1, 2)).mean()), float(N_f.sum()))
    else:
        f_hat = pair_sums.population_f()
    has_cells = acc.diag_cell_sums.shape[0] > 0
    if has_cells:
        P_d, N_d = diag_pair_sums(acc)
        d_hat = _ratio(float(P_d.sum()), float(N_d.sum()))
    else:
        d_hat = math.nan
    share = d_hat / f_hat if f_hat > 0 else math.nan
    out.update({
        "f_hat": json_float(f_hat), "d_hat": json_float(d_hat),
        "aofe_ratio": json_float(1.0 - share), "diag_share": json_float(share),
        "f_ci": None, "d_ci": None, "aofe_ratio_ci": None, "diag_share_ci": None, "n_boot_degenerate": None,
    })
    if not has_cells:
        out["note"] = _NO_CELLS_NOTE
    if groups_seen < MIN_GROUPS_FOR_CI:
        out["note"] = _FEW_GROUPS_NOTE.format(w=groups_seen)
        return out
    rng = np.random.default_rng([seed, 1])  # a stream separate from the conditional bootstrap
    cw = rng.multinomial(W, np.full(W, 1.0 / W), size=n_boot).astype(np.float64)
    C = 2 * acc.groups_per_half
    if pair_sums is None:
        I = P_f.shape[0]  # noqa: E741 (DESIGN's notation)
        a = rng.multinomial(I, np.full(I, 1.0 / I), size=n_boot) / I
        f_num = (a * np.einsum("bg,jgh,bh->bj", cw, P_f, cw)).sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):  # degenerate replicates are counted below
            f_boot = f_num / np.einsum("bg,gh,bh->b", cw, N_f, cw)
        cp = rng.multinomial(C, np.full(C, 1.0 / C), size=n_boot).astype(np.float64) if has_cells else None
    else:  # the probe-group resample serves F and D alike
        cp = rng.multinomial(C, np.full(C, 1.0 / C), size=n_boot).astype(np.float64)
        f_boot = bootstrap_population_f(pair_sums, cw, cp)
    ok = np.isfinite(f_boot)
    out["f_ci"] = percentile_ci(f_boot[ok], ci_level)
    if has_cells:
        w = (cw[:, :, None] * cp[:, None, :]).reshape(n_boot, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_boot = np.einsum("bk,kl,bl->b", w, P_d, w) / np.einsum("bk,kl,bl->b", w, N_d, w)
            share_boot = d_boot / f_boot
        ok &= np.isfinite(share_boot)
        out["d_ci"] = percentile_ci(d_boot[ok], ci_level)
        out["diag_share_ci"] = percentile_ci(share_boot[ok], ci_level)
        out["aofe_ratio_ci"] = percentile_ci(1.0 - share_boot[ok], ci_level)
        if replicates is not None:
            replicates["population"] = share_boot
    # A replicate that drew one window group only (or one probe group) has no pair to average.
    out["n_boot_degenerate"] = int(n_boot - ok.sum())
    return out

