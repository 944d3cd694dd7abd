"""F, D and tr G from single output-probe VJPs (agop/pairs.py) against exact Jacobians of the micro Llama.

Exact references use the full input Jacobians Jᵢ of the micro Llama (tests/micro_llama.py) (``torch.autograd.functional
.jacobian`` with respect to the one-hot tokens): G = (1/n) Σᵢ JᵢJᵢᵀ, and for drawn probes the
products ⟨Jᵢr_k, Jᵢ′r_k′⟩ formed explicitly in T·V dimensions (not through the d×d Gram).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from micro_llama import CI_KEYS, D_MODEL, N_LAYERS, N_WINDOWS, T, V, exact_input_metrics

from hf_interaction.agop import AgopAccumulator, embedding_gram, finalize, make_input_probes, make_output_probes
from hf_interaction.agop.pairs import pair_statistics
from hf_interaction.agop.passes import (
    batched_backward_failure,
    forward_mode_failure,
    output_probe_grads,
    output_probe_grads_one_forward,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _accumulator(O: int, n: int, **kw) -> AgopAccumulator:  # noqa: E741
    return AgopAccumulator(seq_len=T, hidden_size=D_MODEL, vocab_size=V, n_layers=N_LAYERS, input_probes=0,
                           output_probes=O, pair_windows=n, **kw)


def _run(micro, idx, O, seed) -> AgopAccumulator:  # noqa: E741
    R = make_output_probes(V, O, seed)
    acc = _accumulator(O, len(idx))
    for e in micro.windows(idx):
        acc.add_window(micro.forward, e, None, R, micro.E)
    return acc


def _exact_products(micro, idx, R: torch.Tensor) -> torch.Tensor:
    """⟨Jᵢr_k, Jᵢ′r_k′⟩² as an n×O×n×O tensor, from the exact Jacobians in T·V dimensions."""
    Jr = torch.stack([(micro.J[i] @ R.T).T for i in idx])  # n × O × TV
    return torch.einsum("ikv,jlv->ikjl", Jr, Jr) ** 2


def _stats(acc: AgopAccumulator, micro, blocks: int | None = None):
    return pair_statistics(acc, micro.E, embedding_gram(micro.E), blocks)


def test_pair_statistics_equal_exact_jacobian_products(micro):
    """For the drawn probes: every stored VJP is Jᵢr_k; Φ, Δ and τ (hence F̂, D̂, tr Ĝ and their
    population versions) are the exact sums over the right pairs of Jᵢr_k formed in T·V dimensions;
    and f_se is the delete-one-probe jackknife computed by brute force."""
    O, n = 8, N_WINDOWS  # noqa: E741
    idx = list(range(n))
    acc = _run(micro, idx, O, seed=5)
    R = make_output_probes(V, O, 5)
    Jr = torch.stack([(micro.J[i] @ R.T).T for i in idx])
    stored = acc.output_vjp_store @ micro.E.T  # n × O × T × V
    torch.testing.assert_close(stored.reshape(n, O, -1), Jr, rtol=1e-5, atol=1e-5 * Jr.abs().max())

    X = _exact_products(micro, idx, R)
    off = ~torch.eye(O, dtype=torch.bool)
    per_probe = X.sum((0, 2)) / n**2
    sums = _stats(acc, micro)
    assert sums.blocks == n
    assert sums.f_hat == pytest.approx(float(per_probe[off].mean()), rel=1e-6)
    np.testing.assert_allclose(sums.phi, (per_probe * off).numpy(), rtol=1e-6, atol=0)
    different = torch.ones(n, n, dtype=torch.bool).fill_diagonal_(False)
    pop = X.permute(0, 2, 1, 3)[different][:, off]  # i ≠ i′ and k ≠ k′
    assert sums.population_f() == pytest.approx(float(pop.mean()), rel=1e-6)
    assert sums.pop_f_count.sum() == n * (n - 1) * O * (O - 1)

    sq = Jr**2  # n × O × TV: δᵢₖ, unbiased for diag Mᵢ
    X_k = sq.mean(0)
    delta = X_k @ X_k.T
    assert sums.d_hat == pytest.approx(float(delta[off].mean()), rel=1e-5)
    np.testing.assert_allclose(sums.tau, sq.sum(2).mean(0).numpy(), rtol=1e-6)
    cross = torch.einsum("ikv,jlv->ikjl", sq, sq).permute(0, 2, 1, 3)[different][:, off]
    assert sums.population_d() == pytest.approx(float(cross.mean()), rel=1e-5)
    blocked = _stats(acc, micro, blocks=2)  # two blocks of three windows: pairs across blocks only
    block = torch.arange(n) * 2 // n
    across = block[:, None] != block[None, :]
    assert blocked.population_d() == pytest.approx(
        float(torch.einsum("ikv,jlv->ikjl", sq, sq).permute(0, 2, 1, 3)[across][:, off].mean()), rel=1e-5)
    assert blocked.population_f() == pytest.approx(sums.population_f(), rel=1e-12)

    leave_out = []
    for k in range(O):
        keep = [j for j in range(O) if j != k]
        sub = per_probe[keep][:, keep]
        leave_out.append(float(sub[~torch.eye(O - 1, dtype=torch.bool)].mean()))
    loo = np.array(leave_out)
    jack = math.sqrt((O - 1) / O * ((loo - loo.mean()) ** 2).sum())
    res = finalize(acc, embedding_gram(micro.E), None, E_eff=micro.E)
    assert res["f"] == pytest.approx(sums.f_hat, rel=1e-12)
    assert res["f_se"] == pytest.approx(jack, rel=1e-6)


def test_pair_f_is_unbiased_for_exact_f(micro):
    """Over 60 probe seeds (16 output probes each) the mean of F̂ is within 3 standard errors of the
    exact ‖G‖²_F, and the population F̂ of the same runs within 3 SE of its own target (the mean
    over i ≠ i′ of ⟨Mᵢ, Mᵢ′⟩, from exact Jacobians)."""
    idx = list(range(N_WINDOWS))
    G = micro.G(idx)
    F = float((G * G).sum())
    M = [micro.J[i] @ micro.J[i].T for i in idx]
    pop_exact = np.mean([float((M[i] * M[j]).sum()) for i in idx for j in idx if i != j])
    rows = []
    for seed in range(60):
        sums = _stats(_run(micro, idx, 16, seed), micro)
        rows.append([sums.f_hat / F, sums.population_f() / pop_exact])
    a = np.asarray(rows)
    mean, se = a.mean(0), a.std(0, ddof=1) / np.sqrt(len(a))
    assert np.all(np.abs(mean - 1) < 3 * se), (mean, se)
    assert np.all(se < 0.1)  # the test has power: a 30% bias would fail it


def test_population_pair_f_is_exact_over_all_window_draws(micro):
    """Fixed probes, all 36 ordered draws of n = 2 windows: the mean population F̂ equals the mean
    over k ≠ k′ and all window pairs (a, b) of ⟨J_a r_k, J_b r_k′⟩², exactly (its expectation)."""
    O = 6  # noqa: E741
    R = make_output_probes(V, O, 2)
    draws = list(itertools.product(range(N_WINDOWS), repeat=2))
    pops = [_stats(_run(micro, list(d), O, 2), micro).population_f() for d in draws]
    X = _exact_products(micro, list(range(N_WINDOWS)), R)  # a × k × b × k′
    off = ~torch.eye(O, dtype=torch.bool)
    exact = float(X.mean((0, 2))[off].mean())
    assert np.mean(pops) == pytest.approx(exact, rel=1e-6)


def test_pair_intervals_cover_exact_values_and_are_not_trivially_wide(micro):
    """32 output probes on the micro Llama's exact G (coverage itself is measured over hundreds of
    seeds in tests/agop/test_coverage.py): over 10 probe seeds every exact value lies inside its 95%
    interval at least 8 times, and the intervals are not trivially wide: median relative half-width
    below 0.75, and no log-scale interval spans more than a factor of 10."""
    exact = exact_input_metrics(micro.G(range(N_WINDOWS)))
    covered = dict.fromkeys(CI_KEYS, 0)
    widths = {key: [] for key in CI_KEYS}
    for seed in range(10):
        res = finalize(_run(micro, list(range(N_WINDOWS)), 32, seed), embedding_gram(micro.E), None, E_eff=micro.E)
        assert res["f_estimator"] == "output_probe_pairs" and res["input_probes"] == 0
        for key, ci_key in CI_KEYS.items():
            lo, hi = res[ci_key]
            widths[key].append((hi - lo) / 2 / abs(exact[key]))
            covered[key] += lo <= exact[key] <= hi
            assert 0 < lo and hi / lo < 10, (key, lo, hi)
    assert all(count >= 8 for count in covered.values()), covered
    assert all(np.median(w) < 0.75 for w in widths.values()), widths


def test_one_forward_output_pass_equals_one_copy_per_probe(micro):
    """Batched backward passes from one forward of three windows give each window the gradients of a
    forward per probe, at the embeddings, every block input and every MLP input, in any probe batching."""
    R = make_output_probes(V, 6, 0)
    windows = torch.stack(micro.windows([1, 4, 2]))
    for b, e in enumerate(windows):
        ref = output_probe_grads(micro.forward, e, R, N_LAYERS)
        for batch in (None, 4):
            parts = list(output_probe_grads_one_forward(micro.forward, windows, R, N_LAYERS, batch))
            assert [sl.stop - sl.start for sl, _ in parts] == ([6] if batch is None else [4, 2])
            for name in ("at_input", "at_blocks", "at_mlp"):
                mine = [g.window(b) for _, g in parts]
                got = torch.cat([g.at_input if name == "at_input" else torch.stack(getattr(g, name), dim=1)
                                 for g in mine])
                want = ref.at_input if name == "at_input" else torch.stack(getattr(ref, name), dim=1)
                torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12 * float(want.abs().max()))


def test_sharded_pair_store_merges_to_one_run(micro):
    """Windows split over two accumulators by global index, merged (and all-reduced): the same
    store and the same finalized numbers as one run; a state dict round trip keeps them."""
    O, n = 8, N_WINDOWS  # noqa: E741
    R = make_output_probes(V, O, 1)
    whole = _run(micro, list(range(n)), O, 1)
    shards = [_accumulator(O, n) for _ in range(2)]
    for i, e in enumerate(micro.windows(range(n))):
        shards[i % 2].add_window(micro.forward, e, None, R, micro.E, window_index=i)
    merged = _accumulator(O, n)
    merged.merge_(shards[0]).merge_(shards[1])
    torch.testing.assert_close(merged.output_vjp_store, whole.output_vjp_store, rtol=0, atol=0)
    restored = _accumulator(O, n)
    restored.load_state_dict(merged.state_dict())
    gram = embedding_gram(micro.E)
    a, b = finalize(whole, gram, None, E_eff=micro.E), finalize(restored, gram, None, E_eff=micro.E)
    for key in ("f", "f_se", "f_ci", "d", "d_ci"):  # the store is exact, so F and D are bit-identical
        assert a[key] == b[key]
    assert a["population"]["f"] == b["population"]["f"]
    assert json.dumps(a, sort_keys=True).count(",") == json.dumps(b, sort_keys=True).count(",")
    assert _numbers(a) == pytest.approx(_numbers(b), rel=1e-12)  # the other sums: one-ulp summation order


def _numbers(obj) -> list[float]:
    """Every number in a nested record, in a fixed order."""
    if isinstance(obj, dict):
        return [x for key in sorted(obj) for x in _numbers(obj[key])]
    if isinstance(obj, list | tuple):
        return [x for item in obj for x in _numbers(item)]
    return [float(obj)] if isinstance(obj, int | float) and not isinstance(obj, bool) else []


def test_incomplete_or_misindexed_pair_store_is_refused(micro):
    acc = _run(micro, [0, 1], 4, 0)
    half = _accumulator(4, 3)
    half.load_state_dict({**acc.state_dict(), "pair_windows": 3, "output_vjp_store": torch.cat(
        [acc.output_vjp_store, torch.zeros_like(acc.output_vjp_store[:1])]),
        "pair_rows_seen": torch.tensor([1, 1, 0])})
    with pytest.raises(ValueError, match="1 missing"):
        _stats(half, micro)
    with pytest.raises(ValueError, match="beyond"):
        acc.add_window(micro.forward, micro.windows([0])[0], None, make_output_probes(V, 4, 0), micro.E,
                       window_index=2)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), O=st.integers(2, 5).map(lambda h: 2 * h), scale=st.floats(0.1, 10.0),
       seed=st.integers(0, 10_000))
def test_pair_f_laws(n, O, scale, seed):  # noqa: E741
    """For any stored VJPs: F̂ equals the brute-force mean over k ≠ k′ of Σ_{i,i′}⟨vᵢₖ, vᵢ′ₖ′⟩²/n² and
    D̂ that of ⟨mean_i vᵢₖ², mean_i vᵢₖ′²⟩; neither changes when windows are permuted, and both scale as
    c⁴ when the VJPs scale by c."""
    gen = torch.Generator().manual_seed(seed)
    E = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    acc = AgopAccumulator(seq_len=2, hidden_size=3, vocab_size=5, n_layers=1, input_probes=0, output_probes=O,
                          pair_windows=n)
    acc.output_vjp_store = torch.randn(n, O, 2, 3, generator=gen, dtype=torch.float64)
    acc.pair_rows_seen = torch.ones(n, dtype=torch.int64)
    gram = embedding_gram(E)
    v = (acc.output_vjp_store @ E.T).reshape(n, O, -1)
    brute = np.mean([sum(float(v[i, k] @ v[j, q]) ** 2 for i in range(n) for j in range(n)) / n**2
                     for k in range(O) for q in range(O) if k != q])
    sums = pair_statistics(acc, E, gram)
    assert sums.f_hat == pytest.approx(brute, rel=1e-9)
    brute_d = np.mean([float(((v[:, k] ** 2).mean(0) * (v[:, q] ** 2).mean(0)).sum())
                       for k in range(O) for q in range(O) if k != q])
    assert sums.d_hat == pytest.approx(brute_d, rel=1e-9)
    acc.output_vjp_store = acc.output_vjp_store[torch.randperm(n, generator=gen)] * scale
    again = pair_statistics(acc, E, gram)
    assert again.f_hat == pytest.approx(sums.f_hat * scale**4, rel=1e-9)
    assert again.d_hat == pytest.approx(sums.d_hat * scale**4, rel=1e-9)


class _NoBatchingRule(torch.autograd.Function):
    """Identity whose backward reads a value out of the gradient (``.item()``), which vmap cannot
    batch: torch refuses the batched backward, as it does for a model op without a batching rule."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        if not math.isfinite(grad.abs().sum().item()):
            raise FloatingPointError("non-finite gradient")
        return grad


def test_a_backward_that_cannot_be_batched_is_found_before_the_run_and_copies_store_the_same_vjps(micro):
    """The capability check finds a model whose backward has no batching rule (and passes the micro
    model's), and the per-copy output pass it then calls for stores the same VJPs as the shared one."""
    import dataclasses

    def unbatchable(e):
        out = micro.forward(e)
        return dataclasses.replace(out, f=_NoBatchingRule.apply(out.f))

    O, n = 4, 3  # noqa: E741
    R = make_output_probes(V, O, 2)
    windows = torch.stack(micro.windows(range(n)))
    assert batched_backward_failure(micro.forward, windows[0], R, N_LAYERS) is None
    assert batched_backward_failure(unbatchable, windows[0], R, N_LAYERS)  # the reason, in one line
    batched, copies = _accumulator(O, n), _accumulator(O, n)
    batched.add_windows(micro.forward, windows, None, R, micro.E, window_indices=list(range(n)))
    copies.add_windows(unbatchable, windows, None, R, micro.E, window_indices=list(range(n)), one_forward=False)
    torch.testing.assert_close(copies.output_vjp_store, batched.output_vjp_store, rtol=1e-10, atol=0)


class _NoForwardMode(torch.autograd.Function):
    """Identity without a ``jvp``: forward-mode AD cannot pass it, as for a model op without a
    forward-mode formula."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_an_op_without_a_forward_mode_formula_is_found_before_the_run(micro):
    """The forward-mode capability check names the failure for such a model and passes the micro model."""
    import dataclasses

    def no_forward_mode(e):
        out = micro.forward(e)
        return dataclasses.replace(out, f=_NoForwardMode.apply(out.f))

    U = make_input_probes(T, V, 2, micro.E, 0)
    e_i = micro.windows([0])[0]
    assert forward_mode_failure(micro.forward, e_i, U) is None
    assert "jvp" in forward_mode_failure(no_forward_mode, e_i, U).lower()
