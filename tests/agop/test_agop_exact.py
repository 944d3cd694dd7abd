"""AGOP estimators against exact AGOPs on a micro Llama (docs/design.md §4.2–§4.4).

The model is a real ``LlamaForCausalLM`` (vocab 16, hidden 8, 2 layers, 2 heads, eager attention,
float64, init std 0.3 so that it is clearly non-linear). Stock Llama computes its RMSNorms and the
eager softmax in float32 even for a float64 model, so "exact" here means agreement to ~1e-7
relative; identities are checked to 1e-5 of the largest entry (a real bug is off by O(1)).

Exact references (tests/micro_llama.py), computed independently of the estimator code:

- input space: Jᵢ = (∂f/∂q)ᵀ from ``torch.autograd.functional.jacobian`` with respect to the one-hot
  tokens q, and G = (1/n) Σᵢ Jᵢ Jᵢᵀ (64 × 64);
- blocks and MLP inputs: ∂f_v/∂h for every logit v from one backward with the standard basis as
  output probes, giving Ḡ_l = (1/n) Σᵢ Σ_t Σ_v (∂f_v/∂h_t)ᵀ(∂f_v/∂h_t).
"""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from micro_llama import (
    CI_KEYS,
    D_MODEL,
    N_LAYERS,
    N_WINDOWS,
    LlamaForward,
    Micro,
    T,
    V,
    build_model,
    exact_input_metrics,
)

from hf_interaction.agop import (
    AgopAccumulator,
    ForwardOut,
    aofe_ratio,
    diagonal_energy,
    embedding_gram,
    finalize,
    frobenius_energy,
    iter_input_probe_signs,
    make_input_probes,
    make_output_probes,
    pearson_full,
    pearson_offdiag,
    psd_sqrt,
)
from hf_interaction.errors import NumericalError

pytestmark = pytest.mark.usefixtures("one_thread")

def run_estimator(
    micro: Micro,
    I: int,  # noqa: E741
    O: int,  # noqa: E741
    seed: int,
    *,
    groups_per_half: int,
    windows=range(N_WINDOWS),
    jvp_method: str = "forward",
    probe_batch: int | None = None,
) -> AgopAccumulator:
    U = make_input_probes(T, V, I, micro.E, seed)
    R = make_output_probes(V, O, seed)
    acc = AgopAccumulator(
        seq_len=T,
        hidden_size=D_MODEL,
        vocab_size=V,
        n_layers=N_LAYERS,
        input_probes=I,
        output_probes=O,
        groups_per_half=groups_per_half,
    )
    for e in micro.windows(windows):
        acc.add_window(micro.forward, e, U, R, micro.E, probe_batch=probe_batch, jvp_method=jvp_method)
    return acc


def _rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)




# --------------------------------------------------------------------------------------------------
# Probes
# --------------------------------------------------------------------------------------------------


def test_probes_are_seeded_rademacher_and_prefix_stable(micro):
    E = micro.E
    U = make_input_probes(T, V, 5, E, seed=7)
    Z = torch.zeros(5, T, V, dtype=torch.float64)
    for j, v0, z in iter_input_probe_signs(T, V, 5, seed=7):
        Z[j, :, v0 : v0 + z.shape[1]] = z
    assert set(Z.unique().tolist()) == {-1.0, 1.0}
    torch.testing.assert_close(U, Z @ E, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(make_input_probes(T, V, 3, E, seed=7), U[:3], rtol=0, atol=0)
    assert not torch.equal(make_input_probes(T, V, 5, E, seed=8), U)

    R = make_output_probes(V, 6, seed=7)
    assert R.shape == (6, V) and set(R.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(R, make_output_probes(V, 6, seed=7))
    assert not torch.equal(R[0], Z[0, 0]), "output probes must not reuse the input-probe stream"


# --------------------------------------------------------------------------------------------------
# Exact identities for fixed probes (no statistics involved)
# --------------------------------------------------------------------------------------------------


def test_accumulator_equals_exact_jacobian_products_probe_by_probe(micro):
    """For the drawn probes themselves: Sⱼ E_effᵀ/n = G zⱼ, each diagonal group, layer half and MLP
    sum equals the same sum formed from exact Jacobians, and finalize's numbers follow from them."""
    I, O, m, n = 3, 8, 2, N_WINDOWS  # noqa: E741
    idx = range(n)
    acc = run_estimator(micro, I, O, seed=3, groups_per_half=m)
    G = micro.G(idx)
    Z = torch.zeros(I, T * V, dtype=torch.float64)
    for j, v0, z in iter_input_probe_signs(T, V, I, seed=3):
        Z[j].view(T, V)[:, v0 : v0 + z.shape[1]] = z
    R = make_output_probes(V, O, seed=3)

    Gz = (Z @ G).reshape(I, T, V)  # G symmetric
    torch.testing.assert_close(acc.input_vjp_sums @ micro.E.T / n, Gz, rtol=1e-5, atol=1e-5 * Gz.abs().max())

    Jr_sq = torch.stack([(micro.J[i] @ R.T).T.reshape(O, T, V) ** 2 for i in idx]).sum(0)  # O × T × V
    groups = Jr_sq.reshape(2 * m, O // (2 * m), T, V).sum(1)
    torch.testing.assert_close(acc.diag_group_sums, groups, rtol=1e-5, atol=1e-5 * groups.abs().max())

    def probe_grams(jac_list, probes):  # Σ_i Σ_k Σ_t g gᵀ with g = Σ_v r_kv ∂f_v/∂h_t
        return sum(torch.einsum("kv,lvtd,kw,lwte->lde", probes, jac, probes, jac) for jac in jac_list)

    jb = [micro.block_jac[i] for i in idx]
    halves = torch.stack([probe_grams(jb, R[: O // 2]), probe_grams(jb, R[O // 2 :])], dim=1)
    torch.testing.assert_close(acc.layer_half_sums, halves, rtol=1e-5, atol=1e-5 * halves.abs().max())
    mlp = probe_grams([micro.mlp_jac[i] for i in idx], R)
    torch.testing.assert_close(acc.mlp_input_sums, mlp, rtol=1e-5, atol=1e-5 * mlp.abs().max())
    assert acc.n_windows == n and acc.mlp_window_counts.tolist() == [n] * N_LAYERS

    # finalize's arithmetic, from the (now verified) sums, with G zⱼ formed explicitly as T×V
    # matrices rather than through the d×d Gram trick.
    res = finalize(acc, embedding_gram(micro.E), None)
    assert json.loads(json.dumps(res, allow_nan=False)) == res
    f_per_probe = ((acc.input_vjp_sums @ micro.E.T / n) ** 2).sum(dim=(1, 2))
    d_groups = acc.diag_group_sums.reshape(2 * m, -1) / (n * O // (2 * m))
    products = d_groups @ d_groups.T  # D: every pair of different groups c ≠ c′ (a U-statistic over groups)
    d_hat = float((products.sum() - products.diagonal().sum()) / (2 * m * (2 * m - 1)))
    assert res["f"] == pytest.approx(float(f_per_probe.mean()), rel=1e-10)
    assert res["f_se"] == pytest.approx(float(f_per_probe.std() / math.sqrt(I)), rel=1e-10)
    assert res["d"] == pytest.approx(d_hat, rel=1e-10)
    assert res["aofe"] == pytest.approx(res["f"] - d_hat, rel=1e-10)
    assert res["diag_share_plugin"] == pytest.approx(d_hat / res["f"], rel=1e-10)
    assert res["aofe_ratio"] == pytest.approx(1 - res["diag_share"], rel=1e-12)
    assert res["f_below_d"] is (res["f"] < d_hat)
    for layer, entry in enumerate(res["layers"]):
        g1, g2 = acc.layer_half_sums[layer] / (n * O // 2)
        assert entry["f"] == pytest.approx(float((g1 * g2).sum()), rel=1e-10)
        assert entry["d"] == pytest.approx(float((g1.diagonal() * g2.diagonal()).sum()), rel=1e-10)
        trace = float(g1.trace() + g2.trace()) / 2
        assert entry["trace"] == pytest.approx(trace, rel=1e-10)
        assert entry["effective_rank"] == pytest.approx(trace**2 / entry["f"], rel=1e-10)
        assert entry["nfa_offdiag"] is None and entry["nfa_note"].startswith("not available")


# --------------------------------------------------------------------------------------------------
# Statistics: confidence intervals and convergence
# --------------------------------------------------------------------------------------------------



def test_hutchinson_intervals_cover_exact_values_at_paper_probe_counts(micro):
    """Paper probe counts (16 input, 32 output probes), single-probe groups for D̂ (--f-estimator
    hutchinson; the default estimator's coverage is measured over hundreds of seeds in
    tests/agop/test_coverage.py): over 10 probe seeds each exact value lies inside its 95% interval at
    least 8 times, and the intervals are not trivially wide (log-scale intervals: hi/lo below 20; with
    16 input probes F's jackknife t has at most 5 degrees of freedom)."""
    exact = exact_input_metrics(micro.G(range(N_WINDOWS)))
    covered = dict.fromkeys(CI_KEYS, 0)
    for seed in range(10):
        acc = run_estimator(micro, 16, 32, seed, groups_per_half=16, jvp_method="double_backward")
        res = finalize(acc, embedding_gram(micro.E), None)
        for key, ci_key in CI_KEYS.items():
            lo, hi = res[ci_key]
            assert 0 < lo and hi / lo < 20
            covered[key] += lo <= exact[key] <= hi
    assert all(count >= 8 for count in covered.values()), covered


@pytest.fixture(scope="module")
def many_probes(micro):
    """One run on window 0 with 40 000 input and 100 000 output probes (100 groups per half), on a
    float32 copy of the model (the production dtype; float64 accumulation), double-backward JVP.

    Sized from the spread over 40 seeds measured on this model with one window: relative SD per
    √probe ≈ 1.0 for F̂, 1.8 for D̂ (per √(output probes)) and ≤ 1.6 for each layer's F and D, so
    every standard error is ≤ 0.6% and the 2% tolerance is ≥ 3.5 SE. One window is the cheapest
    design per unit of precision here; sums over several windows are checked exactly elsewhere.
    The float32 model differs from the float64 references by ~1e-7 relative, negligible here.
    """
    windows, I, O = [0], 40_000, 100_000  # noqa: E741
    model32 = copy.deepcopy(micro.model).float()
    fwd32 = LlamaForward(model32, micro.forward.scale)
    E32 = model32.get_input_embeddings().weight
    U, R = make_input_probes(T, V, I, E32, seed=0), make_output_probes(V, O, seed=0)
    acc = AgopAccumulator(
        seq_len=T,
        hidden_size=D_MODEL,
        vocab_size=V,
        n_layers=N_LAYERS,
        input_probes=I,
        output_probes=O,
        groups_per_half=100,
    )
    for i in windows:
        acc.add_window(fwd32, E32[micro.tokens[i]], U, R, E32, probe_batch=5_000, jvp_method="double_backward")
    return windows, acc, finalize(acc, embedding_gram(micro.E), micro.mlp_weights())


def test_many_probes_converge_to_exact_input_and_layer_metrics(micro, many_probes):
    windows, _, res = many_probes
    exact = exact_input_metrics(micro.G(windows))
    assert res["f_se"] / res["f"] < 0.01  # the design assumption above
    for key in CI_KEYS:
        assert _rel(res[key], exact[key]) < 0.02, (key, res[key], exact[key])
    for layer, G_l in enumerate(micro.layer_agop(windows, "block")):
        entry = res["layers"][layer]
        assert _rel(entry["f"], frobenius_energy(G_l)) < 0.02, (layer, "f")
        assert _rel(entry["d"], diagonal_energy(G_l)) < 0.02, (layer, "d")
        assert _rel(entry["trace"], float(torch.trace(G_l))) < 0.02, (layer, "trace")


# --------------------------------------------------------------------------------------------------
# NFA alignment
# --------------------------------------------------------------------------------------------------


def test_nfa_from_exact_mlp_agop_matches_direct_computation(micro):
    """finalize's NFA plumbing, given the exact MLP-input AGOP as its sums, reproduces
    pearson(psd_sqrt(M_l), Σ W_kᵀW_k) computed here directly (to 1e-9)."""
    n, O = N_WINDOWS, 2  # noqa: E741
    acc = AgopAccumulator(
        seq_len=T,
        hidden_size=D_MODEL,
        vocab_size=V,
        n_layers=N_LAYERS,
        input_probes=1,
        output_probes=O,
        groups_per_half=1,
    )
    state = acc.state_dict()
    M = micro.layer_agop(range(n), "mlp")
    state["mlp_input_sums"] = M * n * O
    state["mlp_window_counts"] = torch.full((N_LAYERS,), n)
    state["window_count"] = torch.tensor(n)
    state["input_vjp_sums"] = torch.ones_like(state["input_vjp_sums"])  # any F̂ > 0
    acc.load_state_dict(state)
    res = finalize(acc, embedding_gram(micro.E), micro.mlp_weights())
    for layer, gram in enumerate(micro.mlp_weight_grams()):
        root = psd_sqrt(M[layer])
        entry = res["layers"][layer]
        assert entry["nfa_offdiag"] == pytest.approx(pearson_offdiag(root, gram), abs=1e-9)
        assert entry["nfa_full"] == pytest.approx(pearson_full(root, gram), abs=1e-9)
        assert entry["nfa_note"] is None


def test_nfa_estimate_with_many_probes_is_close_to_exact(micro, many_probes):
    """With 100 000 output probes on window 0 the estimated NFA correlations are within 0.01 of those
    of the exact MLP-input AGOP of the same window (observed: within 0.002)."""
    windows, _, res = many_probes
    M = micro.layer_agop(windows, "mlp")
    for layer, gram in enumerate(micro.mlp_weight_grams()):
        root = psd_sqrt(M[layer])
        entry = res["layers"][layer]
        assert entry["nfa_offdiag"] == pytest.approx(pearson_offdiag(root, gram), abs=0.01)
        assert entry["nfa_full"] == pytest.approx(pearson_full(root, gram), abs=0.01)


def test_nfa_not_available_is_reported_not_skipped(micro):
    fwd = LlamaForward(micro.model, micro.forward.scale, with_mlp=False)
    try:
        acc = AgopAccumulator(
            seq_len=T, hidden_size=D_MODEL, vocab_size=V, n_layers=N_LAYERS, input_probes=2, output_probes=4
        )
        U, R = make_input_probes(T, V, 2, micro.E, 0), make_output_probes(V, 4, 0)
        acc.add_window(fwd, micro.windows([0])[0], U, R, micro.E)
    finally:
        fwd.remove()
    weights = micro.mlp_weights()
    res = finalize(acc, embedding_gram(micro.E), [None, weights[1]])
    assert [len(entry) for entry in res["layers"]] == [len(res["layers"][0])] * N_LAYERS
    assert res["layers"][0]["nfa_offdiag"] is None and "no recognised MLP" in res["layers"][0]["nfa_note"]
    assert res["layers"][1]["nfa_full"] is None and "no gradients" in res["layers"][1]["nfa_note"]


# --------------------------------------------------------------------------------------------------
# Passes agree; sharding, resuming and reduction are exact
# --------------------------------------------------------------------------------------------------


def _assert_same_state(a: AgopAccumulator, b: AgopAccumulator, rtol: float) -> None:
    """Every accumulator tensor agrees elementwise to rtol, relative to the tensor's largest entry."""
    for name, ta in a.tensors().items():
        tb = b.tensors()[name]
        scale = float(tb.abs().max()) if tb.is_floating_point() and tb.numel() else 0.0
        torch.testing.assert_close(ta, tb, rtol=rtol, atol=rtol * scale, msg=name)


def test_forward_double_backward_and_naive_paths_agree(micro):
    windows, I, O = [0, 3], 4, 8  # noqa: E741
    U, R = make_input_probes(T, V, I, micro.E, 5), make_output_probes(V, O, 5)

    def new():
        return AgopAccumulator(
            seq_len=T, hidden_size=D_MODEL, vocab_size=V, n_layers=N_LAYERS, input_probes=I, output_probes=O
        )

    fast, double, naive = new(), new(), new()
    for e in micro.windows(windows):
        fast.add_window(micro.forward, e, U, R, micro.E)
        double.add_window(micro.forward, e, U, R, micro.E, probe_batch=3, jvp_method="double_backward")
        naive.add_window_naive(micro.forward, e, U, R, micro.E)
    _assert_same_state(fast, naive, rtol=1e-6)
    _assert_same_state(double, naive, rtol=1e-6)
    assert float(naive.input_vjp_sums.abs().max()) > 0 and float(naive.diag_group_sums.min()) > 0


def test_sharded_merge_all_reduce_and_resume_equal_one_run(micro):
    kw = {"groups_per_half": 4}  # ≥ 3, so D's interval (compared below) is reported
    full = run_estimator(micro, 4, 8, 1, **kw)
    shard_a = run_estimator(micro, 4, 8, 1, windows=range(0, 2), **kw)
    shard_b = run_estimator(micro, 4, 8, 1, windows=range(2, N_WINDOWS), probe_batch=5, **kw)

    merged = run_estimator(micro, 4, 8, 1, windows=[], **kw).merge_(shard_a).merge_(shard_b)
    _assert_same_state(merged, full, rtol=1e-9)

    # Two "processes" whose reduce_fn sums the partner's tensor of the same name (all_reduce order).
    partner = iter(shard_b.state_dict()[name] for name in shard_b.tensors())
    reduced = run_estimator(micro, 4, 8, 1, windows=range(0, 2), **kw).all_reduce_(lambda t: t + next(partner))
    _assert_same_state(reduced, full, rtol=1e-9)

    # Resume: save after the first shard, load into a fresh accumulator, continue with the rest.
    resumed = run_estimator(micro, 4, 8, 1, windows=[], **kw)
    resumed.load_state_dict(shard_a.state_dict())
    U, R = make_input_probes(T, V, 4, micro.E, 1), make_output_probes(V, 8, 1)
    for e in micro.windows(range(2, N_WINDOWS)):
        resumed.add_window(micro.forward, e, U, R, micro.E)
    _assert_same_state(resumed, full, rtol=1e-9)

    res_full = finalize(full, embedding_gram(micro.E), None)
    res_merged = finalize(merged, embedding_gram(micro.E), None)
    assert res_merged["aofe_ratio"] == pytest.approx(res_full["aofe_ratio"], rel=1e-9)
    assert res_merged["aofe_ci"] == pytest.approx(res_full["aofe_ci"], rel=1e-9)


# --------------------------------------------------------------------------------------------------
# Non-finite values
# --------------------------------------------------------------------------------------------------


def test_nan_weight_raises_numerical_error():
    model = build_model(seed=2)
    fwd = LlamaForward(model)
    E = model.get_input_embeddings().weight
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight[0, 0] = float("nan")
    acc = AgopAccumulator(
        seq_len=T,
        hidden_size=D_MODEL,
        vocab_size=V,
        n_layers=N_LAYERS,
        input_probes=2,
        output_probes=2,
        groups_per_half=1,
    )
    U, R = make_input_probes(T, V, 2, E, 0), make_output_probes(V, 2, 0)
    for method in ("forward", "double_backward"):
        with pytest.raises(NumericalError, match="non-finite"):
            acc.add_window(fwd, E[:T], U, R, E, jvp_method=method)


def test_non_finite_accumulator_or_weight_raises_in_finalize(micro):
    acc = run_estimator(micro, 2, 4, 0, groups_per_half=1, windows=[0])
    E_gram = embedding_gram(micro.E)
    bad_weights = [[w.clone() for w in ws] for ws in micro.mlp_weights()]
    bad_weights[1][0][0, 0] = float("inf")
    with pytest.raises(NumericalError, match="MLP input weight of block 1"):
        finalize(acc, E_gram, bad_weights)
    state = acc.state_dict()
    state["layer_half_sums"][1, 0, 2, 2] = float("nan")
    acc.load_state_dict(state)
    with pytest.raises(NumericalError, match="layer_half_sums"):
        finalize(acc, E_gram, None)


def test_exact_reference_is_sane(micro):
    """Guards the references themselves: J from q matches ∂f/∂e·E_effᵀ, and the model is not
    trivially linear or diagonal (so the assertions above have something to detect)."""
    fwd, E = micro.forward, micro.E
    x = micro.windows([0])[0][None].clone().requires_grad_(True)
    rows = [torch.autograd.grad(fwd(x).f[0, v], x)[0][0] @ E.T for v in range(V)]
    np.testing.assert_allclose(torch.stack(rows).reshape(V, T * V).T.numpy(), micro.J[0].numpy(), rtol=1e-10)
    G = micro.G(range(N_WINDOWS))
    assert 0.3 < aofe_ratio(G) < 0.99
    assert not torch.allclose(micro.J[0], micro.J[1])


def test_misuse_is_rejected(micro):
    with pytest.raises(ValueError, match="divide"):
        AgopAccumulator(
            seq_len=T, hidden_size=D_MODEL, vocab_size=V, n_layers=N_LAYERS, input_probes=2, output_probes=6
        )
    acc = run_estimator(micro, 2, 4, 0, groups_per_half=1, windows=[])
    U, R = make_input_probes(T, V, 2, micro.E, 0), make_output_probes(V, 4, 0)
    e = micro.windows([0])[0]
    with pytest.raises(ValueError, match="jvp_method"):
        acc.add_window(micro.forward, e, U, R, micro.E, jvp_method="reverse")
    with pytest.raises(ValueError, match="output probes"):
        acc.add_window(micro.forward, e, U, R[:2], micro.E)

    def detached_blocks(x):
        out = micro.forward(x)
        return ForwardOut(out.f, [b.detach() for b in out.block_inputs], out.mlp_inputs)

    with pytest.raises(ValueError, match="not connected"):
        acc.add_window(detached_blocks, e, U, R, micro.E)
    with pytest.raises(ValueError, match="no windows"):
        finalize(run_estimator(micro, 2, 4, 0, groups_per_half=1, windows=[]), embedding_gram(micro.E), None)
