"""What the output pass does once per pass rather than once per probe or tensor (issue 22): the two
ways of vectorising its K backward passes (agop/passes.batched_vjp) give the same gradients, and
functorch's does not loop over the probes where the legacy vmap does; the finite check of all its
gradients is one host round trip."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.profiler import ProfilerActivity, profile

from hf_interaction.agop.finite import refuse_any_non_finite, refuse_non_finite
from hf_interaction.agop.passes import _output_targets, batched_vjp, vjp_backend
from hf_interaction.audit.output_function import CAUSAL_LM, ENCODER, OutputFunction
from hf_interaction.errors import NumericalError
from hf_interaction.models.adapters import find_parts
from tests.tiny_models import FAMILIES

#: Families whose blocks hold the ops legacy vmap loops over: SiLU (llama), GELU + layer norm (gpt2,
#: gpt_neox, bert, phi), softmax (all, eager attention).
BACKEND_FAMILIES = ("llama", "gpt2", "gpt_neox", "phi", "bert")


def _pass(family: str, B: int = 2, T: int = 6):
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

    fields = dict(FAMILIES[family])
    model_type = fields.pop("model_type")
    fields.pop("architectures", None)
    config = AutoConfig.for_model(model_type, vocab_size=64, **fields)
    torch.manual_seed(0)
    encoder = family == "bert"
    net = (AutoModel if encoder else AutoModelForCausalLM).from_config(config, attn_implementation="eager").eval()
    net.requires_grad_(False)
    depth = config.num_hidden_layers
    parts = find_parts(net, depth)
    fn = OutputFunction(net, parts, ENCODER if encoder else CAUSAL_LM).scaled(1.0)
    e = parts.embedding(torch.randint(0, 64, (B, T))).detach()
    x = e.clone().requires_grad_(True)
    out = fn(x)
    targets, _, _ = _output_targets(out, x, depth, torch.zeros(1, out.f.shape[-1]))
    return out.f, targets, depth


@pytest.mark.parametrize("family", BACKEND_FAMILIES)
def test_functorch_and_legacy_backward_agree(family):
    """The same gradients to float32 round-off; bit for bit for a Llama-type model (SmolLM2's family)."""
    f, targets, _ = _pass(family)
    torch.manual_seed(1)
    probes = torch.randn(5, *f.shape)
    legacy = batched_vjp(f, targets, probes, backend="legacy")
    functorch = batched_vjp(f, targets, probes, backend="functorch")
    assert len(legacy) == len(functorch) == len(targets)
    for a, b in zip(legacy, functorch, strict=True):
        assert a is not None and b is not None
        assert a.shape == b.shape == (5, *targets[0].shape[:-1], a.shape[-1])
        if family == "llama":
            assert torch.equal(a, b)
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5 * float(a.abs().max()))


def test_an_unused_target_is_none_with_either_backend():
    f, targets, _ = _pass("llama")
    stray = torch.zeros(3, requires_grad=True)
    probes = torch.randn(2, *f.shape)
    for backend in ("legacy", "functorch"):
        grads = batched_vjp(f, [*targets, stray], probes, backend=backend)
        assert grads[-1] is None and all(g is not None for g in grads[:-1])


def _calls(f, targets, probes, backend: str, op: str) -> int:
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        batched_vjp(f, targets, probes, backend=backend)
    return sum(event.count for event in prof.key_averages() if event.key == op)


def test_functorch_batches_the_ops_legacy_vmap_loops_over():
    """Legacy vmap calls silu_backward and the softmax backward once more per probe in every block;
    functorch's count does not depend on the number of probes."""
    f, targets, depth = _pass("llama")
    for op in ("aten::silu_backward", "aten::_softmax_backward_data"):
        counts = {backend: [_calls(f, targets, torch.randn(K, *f.shape), backend, op) for K in (2, 7)]
                  for backend in ("legacy", "functorch")}
        assert counts["functorch"][0] == counts["functorch"][1] >= depth, (op, counts)
        assert counts["legacy"][1] - counts["legacy"][0] == (7 - 2) * depth, (op, counts)


def test_the_backend_follows_the_device():
    assert vjp_backend(torch.device("cpu")) == "legacy"
    assert vjp_backend(torch.device("cuda", 0)) == "functorch"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["finite", "nan", "inf", "overflow", "int"]), min_size=1, max_size=6))
def test_one_check_of_many_tensors_refuses_exactly_what_one_check_each_refuses(kinds):
    """refuse_any_non_finite (one host round trip per output pass) raises exactly when checking the
    tensors one by one raises, naming the same first bad tensor; a float32 sum that overflows with
    finite entries is not refused by either."""
    make = {"finite": lambda: torch.ones(4), "nan": lambda: torch.tensor([1.0, float("nan")]),
            "inf": lambda: torch.tensor([float("-inf"), 2.0]), "overflow": lambda: torch.full((4,), 3e38),
            "int": lambda: torch.arange(3)}
    named = [(make[kind](), f"tensor {i}") for i, kind in enumerate(kinds)]
    expected = None
    for t, where in named:
        try:
            refuse_non_finite(t, where)
        except NumericalError as exc:
            expected = str(exc)
            break
    if expected is None:
        refuse_any_non_finite(named)
    else:
        with pytest.raises(NumericalError) as caught:
            refuse_any_non_finite(named)
        assert str(caught.value) == expected
