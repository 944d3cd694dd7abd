"""AGOP interaction metrics and their probe-based estimators (docs/design.md §4). Pure tensor math, no I/O.

Notation (docs/design.md §4): window i has embeddings eᵢ = qᵢ E_eff (T×d); J_i = (∂f/∂q)ᵀ is (T·V)×V;
G = (1/n) Σᵢ Jᵢ Jᵢᵀ. See docs/metrics.md for the derivations and every choice made here.

Work is split in two phases so that data-parallel runs are exact:

1. :class:`AgopAccumulator` ``.add_windows`` (:mod:`accumulator`, with the model passes of
   :mod:`passes` and the probes of :mod:`probes`) turns one window into contributions to sums that
   are *linear* in the windows (float64). Shards are combined before anything is squared.
2. :func:`finalize` (:mod:`finalization`, with :mod:`population`) turns the summed state into the
   metrics (:mod:`metrics`), jackknife confidence intervals (:mod:`jackknife`, :mod:`ustats`) and the
   layer profile.
"""

from hf_interaction.agop.accumulator import AgopAccumulator
from hf_interaction.agop.finalization import finalize
from hf_interaction.agop.metrics import (
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
from hf_interaction.agop.passes import ForwardFn, ForwardOut
from hf_interaction.agop.probes import (
    embedding_gram,
    iter_input_probe_signs,
    make_input_probes,
    make_output_probes,
)

__all__ = [
    "AgopAccumulator",
    "ForwardFn",
    "ForwardOut",
    "aofe",
    "aofe_ratio",
    "diagonal_energy",
    "effective_rank",
    "embedding_gram",
    "finalize",
    "frobenius_energy",
    "iter_input_probe_signs",
    "make_input_probes",
    "make_output_probes",
    "pearson_full",
    "pearson_offdiag",
    "psd_sqrt",
    "split_half_energies",
]
