"""AGOP interaction metrics and their probe-based estimators (DESIGN §4). Pure tensor math, no I/O."""

from hf_interaction.agop.estimators import (
    AgopAccumulator,
    ForwardFn,
    ForwardOut,
    embedding_gram,
    finalize,
    iter_input_probe_signs,
    make_input_probes,
    make_output_probes,
)
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
