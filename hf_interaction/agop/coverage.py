"""Coverage and bias of every reported interval, measured against exact values (issue 19).

A *window population* is a set of N windows, each given by its exact Jacobian with respect to the
embeddings, Aᵢ ∈ ℝ^{(T·d) × V_out} (so the VJP of output probe r is aᵢ = Aᵢ r, reshaped T×d, and
Jᵢ = (I_T ⊗ E_eff) Aᵢ). Its exact AGOPs are known: G_n = (1/n) Σ_{i drawn} JᵢJᵢᵀ for the windows an
audit drew (the paper's target) and Ḡ = (1/N) Σ_all JᵢJᵢᵀ (the population target: windows are drawn
uniformly with replacement, so they are independent). Each simulated audit draws n windows and O
Rademacher output probes, fills a real :class:`AgopAccumulator` with the VJPs, and runs the real
:func:`finalize` (and, for the baseline ratio, the real :func:`ustats.log_ratio`, which ``--baseline init`` uses).

Populations: ``flat`` (i.i.d. Gaussian Jacobians), ``dominated`` (a few output directions and a
shared window component carry most of the energy, as on real LLMs: the heavy-tailed F̂ of issue 19),
``heavy`` (windows with log-normal scales: heavy-tailed window-to-window spread) and ``micro-llama``
(the exact Jacobians of a tiny random Llama through the audit's output function).
``benchmarks/coverage.py`` prints the table; ``tests/agop/test_coverage.py`` asserts a fixed subset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from hf_interaction.agop.accumulator import AgopAccumulator
from hf_interaction.agop.finalization import finalize
from hf_interaction.agop.probes import embedding_gram
from hf_interaction.agop.ustats import log_ratio
from hf_interaction.audit.presets import PRESETS

#: Interval keys checked: (name, path in the metrics dict).
INTERVALS = (
    ("F", ("f", "f_ci")), ("D", ("d", "d_ci")), ("AOFE", ("aofe", "aofe_ci")),
    ("AOFE-ratio", ("aofe_ratio", "aofe_ratio_ci")), ("D/F", ("diag_share", "diag_share_ci")),
    ("tr G", ("trace", "trace_ci")), ("erank", ("effective_rank", "effective_rank_ci")),
    ("pop F", ("population.f", "population.f_ci")), ("pop D", ("population.d", "population.d_ci")),
    ("pop D/F", ("population.diag_share", "population.diag_share_ci")),
    ("pop AOFE-ratio", ("population.aofe_ratio", "population.aofe_ratio_ci")),
)
#: The windows and output probes of the presets, (n, O) (T is the population's own).
PRESET_SIZES = {name: (PRESETS[name]["n"], PRESETS[name]["output_probes"]) for name in ("cpu", "demo", "paper")}


@dataclass
class WindowPopulation:
    """N windows' exact embedding Jacobians A (N × T·d × V_out) and the embedding E_eff (V × d)."""

    name: str
    A: np.ndarray
    E: np.ndarray
    T: int

    def __post_init__(self) -> None:
        self._P = np.einsum("nav,nbv->nab", self.A, self.A)  # Aᵢ Aᵢᵀ per window
        self._lift = np.kron(np.eye(self.T), self.E)  # I_T ⊗ E_eff: (T·V) × (T·d)

    def agop(self, idx: np.ndarray | None = None) -> np.ndarray:
        """The exact input-space AGOP of windows ``idx`` (all windows: the population's)."""
        P = self._P if idx is None else self._P[idx]
        return self._lift @ P.mean(axis=0) @ self._lift.T


def truths(G: np.ndarray) -> dict[str, float]:
    """F, D, AOFE, AOFE-ratio, D/F, tr and effective rank of an exact AGOP."""
    F, D, tr = float((G * G).sum()), float((np.diag(G) ** 2).sum()), float(np.trace(G))
    return {"F": F, "D": D, "AOFE": F - D, "AOFE-ratio": 1 - D / F, "D/F": D / F, "tr G": tr, "erank": tr * tr / F}


def make_population(kind: str, *, N: int = 400, T: int = 2, V: int = 12, d: int = 4, V_out: int = 10,
                    seed: int = 0) -> WindowPopulation:
    """A synthetic population (``flat``, ``dominated``, ``heavy``) or ``micro-llama``."""
    if kind == "micro-llama":
        return _micro_llama(N=min(N, 64), T=T, seed=seed)
    rng = np.random.default_rng([seed, 7])
    E = rng.normal(size=(V, d))
    p = 6
    W_U = rng.normal(size=(V_out, p))
    K = rng.normal(size=(N, T * d, p))
    if kind == "dominated":
        u, _, vt = np.linalg.svd(W_U, full_matrices=False)
        W_U = (u * np.array([12.0, 3.0, 1.0, 0.5, 0.3, 0.2])) @ vt
        K = rng.normal(size=(1, T * d, p)) * 1.5 + K * 0.6
    elif kind == "heavy":
        K = K * np.exp(rng.normal(scale=0.8, size=(N, 1, 1)))
    elif kind != "flat":
        raise ValueError(f"unknown population {kind!r}")
    return WindowPopulation(kind, K @ W_U.T, E, T)


def _micro_llama(*, N: int, T: int, seed: int) -> WindowPopulation:
    """Exact Jacobians of the centred last-position logits of a tiny random Llama (float64)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    V, d = 16, 8
    cfg = LlamaConfig(vocab_size=V, hidden_size=d, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=2, max_position_embeddings=32,
                      attn_implementation="eager")  # type: ignore[call-arg]  # stub omits config **kwargs
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).double().eval().requires_grad_(False)
    E = model.get_input_embeddings().weight.detach()
    tokens = torch.randint(0, V, (N, T), generator=torch.Generator().manual_seed(seed + 1))

    def f(e: torch.Tensor) -> torch.Tensor:
        logits = model(inputs_embeds=e.reshape(1, T, d)).logits[0, -1]
        return logits - logits.mean()

    A = np.stack([torch.autograd.functional.jacobian(f, E[t].reshape(-1)).T.numpy() for t in tokens])
    return WindowPopulation("micro-llama", A, E.numpy(), T)


def _accumulator(pop: WindowPopulation, idx: np.ndarray, R: np.ndarray) -> AgopAccumulator:
    """A reduced accumulator holding the VJPs aᵢₖ = Aᵢ r_k of the drawn windows (no layer sums)."""
    n, O = idx.size, R.shape[0]  # noqa: E741
    V, d = pop.E.shape
    acc = AgopAccumulator(seq_len=pop.T, hidden_size=d, vocab_size=V, n_layers=1, input_probes=0, output_probes=O,
                          output_size=R.shape[1], pair_windows=n)
    vjps = np.einsum("nav,kv->nka", pop.A[idx], R).reshape(n, O, pop.T, d)
    acc.output_vjp_store.copy_(torch.from_numpy(vjps))
    acc.pair_rows_seen.fill_(1)
    acc.window_count.fill_(n)
    return acc


def _get(metrics: dict, path: str):
    for part in path.split("."):
        metrics = metrics[part]
    return metrics


def simulate(pop: WindowPopulation, n: int, O: int, seed: int, *, level: float = 0.95,  # noqa: E741
             baseline: WindowPopulation | None = None) -> dict[str, tuple[float | None, list | None, float]]:
    """One simulated audit: {interval name: (estimate, interval, truth)} for every interval of
    :data:`INTERVALS` (and ``log10 D/F ratio`` with ``baseline``: the same windows and probes)."""
    rng = np.random.default_rng([seed, 11])
    idx = rng.integers(0, pop.A.shape[0], size=n)
    R = rng.choice([-1.0, 1.0], size=(O, pop.A.shape[2]))
    E = torch.from_numpy(pop.E)
    reps: dict = {}
    metrics = finalize(_accumulator(pop, idx, R), embedding_gram(E), None, E_eff=E, ci_level=level, replicates=reps)
    exact = truths(pop.agop(idx))
    exact.update({f"pop {k}": v for k, v in truths(pop.agop()).items()})
    out = {}
    for name, (point, ci) in INTERVALS:
        out[name] = (_get(metrics, point), _get(metrics, ci), exact[name])
    if baseline is not None:

        base_reps: dict = {}
        finalize(_accumulator(baseline, idx, R), embedding_gram(torch.from_numpy(baseline.E)), None,
                 E_eff=torch.from_numpy(baseline.E), ci_level=level, replicates=base_reps)
        basis = "population" if reps["population"] is not None and base_reps["population"] is not None else "paper"
        res = log_ratio(reps[basis], [base_reps[basis]], level=level)
        G_t, G_b = (pop.agop(), baseline.agop()) if basis == "population" else (pop.agop(idx), baseline.agop(idx))
        truth = math.log10(truths(G_t)["D/F"] / truths(G_b)["D/F"])
        shown = res["ci"] if reps[f"{basis}_interval"] and base_reps[f"{basis}_interval"] else None
        out["log10 D/F ratio"] = (res["value"], shown, truth)
    return out


@dataclass
class Row:
    """Coverage and bias of one interval over the seeds of one setting."""

    name: str
    shown: int
    covered: int
    bias: float  # mean (estimate − truth) / truth (log ratio: absolute)
    bias_over_sd: float  # that mean over the spread (sd) of the same errors

    @property
    def coverage(self) -> float:
        return self.covered / self.shown if self.shown else math.nan


def coverage(pop: WindowPopulation, n: int, O: int, seeds: range, *, level: float = 0.95,  # noqa: E741
             baseline: WindowPopulation | None = None) -> list[Row]:
    """:class:`Row` s over ``seeds`` simulated audits (one per seed)."""
    runs = [simulate(pop, n, O, s, level=level, baseline=baseline) for s in seeds]
    rows = []
    for name in runs[0]:
        est = np.array([r[name][0] if r[name][0] is not None else np.nan for r in runs], dtype=float)
        truth = np.array([r[name][2] for r in runs])
        shown = [r[name] for r in runs if r[name][1] is not None]
        covered = sum(1 for _, ci, t in shown if ci is not None and ci[0] <= t <= ci[1])
        rel = est - truth if name == "log10 D/F ratio" else (est - truth) / truth  # relative error per audit
        sd = float(np.nanstd(rel))
        bias = float(np.nanmean(rel))
        rows.append(Row(name, len(shown), covered, bias, bias / sd if sd > 0 else math.nan))
    return rows
