"""Defects real checkpoints exposed (issue 9), each checked exactly on tiny models, offline.

- windows framed as the tokenizer frames text (BOS), the prefix kept out of the AGOP and the loss;
- an architecture that transforms embeddings on the input_ids path only is refused (exit 5);
- NFA gradients taken at the MLP's own input in parallel-attention blocks (Phi, Falcon);
- embedding width apart from block width (OPT-350m's word_embed_proj_dim);
- degenerate probe counts refused; files written when the audit comes from the store.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from tiny_models import FAMILIES, VOCAB, save_tiny
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_interaction.agop import AgopAccumulator, make_output_probes
from hf_interaction.audit.output_function import CAUSAL_LM, OutputFunction
from hf_interaction.audit.run import AuditSettings, run_audit
from hf_interaction.models.adapters import find_parts
from hf_interaction.probe import framing_prefix, load_corpus_text, make_windows
from hf_interaction.shape.config import build_config

SMALL = AuditSettings(T=8, n=3, output_probes=4, probe="builtin")
CLI_SMALL = ["--probe", "builtin", "--T", "8", "--n", "2", "--output-probes", "4",
             "--n-boot", "100"]


@pytest.fixture(scope="module")
def bos_tokenizer_dir(tmp_path_factory, tokenizer_dir):
    """The same tokenizer, framing text as ``<eos> text`` (a BOS, as GPT-2-style vocabularies do)."""
    from tokenizers import processors

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    bos_id = tok.convert_tokens_to_ids("<eos>")
    tok._tokenizer.post_processor = processors.TemplateProcessing(single="<eos> $A", special_tokens=[("<eos>", bos_id)])
    tok.bos_token = "<eos>"
    d = tmp_path_factory.mktemp("bos_tokenizer")
    tok.save_pretrained(d)
    return d


def _tiny(family: str, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    config = build_config({**FAMILIES[family], "vocab_size": VOCAB})
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").to(torch.float64).eval()
    model.requires_grad_(False)
    return model


def _exact_G_times(fn: OutputFunction, E: torch.Tensor, windows: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """G z for G = (1/n) Σᵢ Jᵢ Jᵢᵀ, Jᵢ = ∂f/∂qᵢ from the full Jacobian over the one-hot text tokens."""
    out = torch.zeros(z.numel(), dtype=torch.float64)
    for ids in windows:
        q = torch.nn.functional.one_hot(ids, E.shape[0]).to(torch.float64)
        J = torch.autograd.functional.jacobian(lambda q_: fn((q_ @ E)[None]).f[0], q)  # V_out × T × V
        J = J.reshape(J.shape[0], -1).T  # (T·V) × V_out
        out += J @ (J.T @ z.reshape(-1))
    return (out / len(windows)).reshape(z.shape)


def _accumulated_G_times(fn, parts, windows, z: torch.Tensor, hidden: int) -> torch.Tensor:
    """G z from the accumulator's input-space sums: (1/n) Sⱼ E_effᵀ."""
    E = parts.E_eff
    T, V = z.shape
    acc = AgopAccumulator(seq_len=T, hidden_size=hidden, embed_size=E.shape[1], vocab_size=V,
                          n_layers=len(parts.blocks), input_probes=1, output_probes=4, groups_per_half=2)
    U = (z @ E)[None]
    R = make_output_probes(V, 4, 0)
    for ids in windows:
        acc.add_window(fn, parts.embedding(ids), U, R, E, jvp_method="double_backward")
    return acc.input_vjp_sums[0] @ E.T / len(windows)


# --- framing ------------------------------------------------------------------------------------------


def test_framing_prefix_follows_the_tokenizer(tokenizer_dir, bos_tokenizer_dir):
    plain = AutoTokenizer.from_pretrained(tokenizer_dir)
    framed = AutoTokenizer.from_pretrained(bos_tokenizer_dir)
    assert framing_prefix(plain) == ()
    assert framing_prefix(framed) == (framed.convert_tokens_to_ids("<eos>"),)

    corpus = load_corpus_text("builtin")
    a = make_windows(corpus, plain, 16, 4, 7)
    b = make_windows(corpus, framed, 16, 4, 7)
    assert torch.equal(a.input_ids, b.input_ids)  # T tokens of text either way
    assert torch.equal(a.framed_ids, a.input_ids)
    assert b.framed_ids.shape == (4, 17) and (b.framed_ids[:, 0] == b.prefix_ids[0]).all()
    assert (a.n_bytes, a.n_bytes_targets) == (b.n_bytes, b.n_bytes_targets)  # the prefix has no text bytes
    assert a.windows_sha256 != b.windows_sha256  # the hash is of what the model sees
    assert a.to_provenance()["bos"] is False and b.to_provenance()["bos"] is True


def test_bos_model_loss_counts_text_predictions_only(tmp_path, tokenizer_dir, bos_tokenizer_dir):
    path = save_tiny("llama", tmp_path / "m", tokenizer_dir, seed=3)
    for f in bos_tokenizer_dir.iterdir():
        shutil.copy(f, path / f.name)
    rec = run_audit(str(path), SMALL, show_progress=False).record
    assert rec["probe"]["bos"] is True and rec["probe"]["prefix_ids"] == [1]

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64, attn_implementation="eager").eval()
    windows = make_windows(load_corpus_text("builtin"), AutoTokenizer.from_pretrained(path), SMALL.T, SMALL.n,
                           SMALL.seed)
    ids = windows.framed_ids  # n × (1 + T)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits, dim=-1)
    nll = -logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]  # nll[:, t] predicts position t + 1
    text_only = nll[:, 1:]  # text tokens 1..T-1; the prediction made at the BOS position is left out
    assert rec["metrics"]["probe_loss_nats_per_token"] == pytest.approx(float(text_only.mean()), rel=1e-6)
    assert rec["metrics"]["probe_loss_nats_per_token"] != pytest.approx(float(nll.mean()), rel=1e-3)
    assert rec["metrics"]["probe_loss_bits_per_byte"] == pytest.approx(
        float(text_only.sum()) / (torch.log(torch.tensor(2.0)).item() * windows.n_bytes_targets), rel=1e-6)


def test_agop_with_a_prefix_is_over_the_text_positions_exactly(bos_tokenizer_dir):
    model = _tiny("llama", seed=1)
    parts = find_parts(model, 2)
    fn = OutputFunction(model, parts, CAUSAL_LM, prefix_ids=(1,))
    try:
        windows = torch.randint(3, VOCAB, (2, 3), generator=torch.Generator().manual_seed(0))
        z = torch.randint(0, 2, (3, VOCAB), generator=torch.Generator().manual_seed(1)).double() * 2 - 1
        exact = _exact_G_times(fn, parts.E_eff, windows, z)
        got = _accumulated_G_times(fn, parts, windows, z, hidden=32)
        assert float((got - exact).abs().max()) <= 1e-6 * float(exact.abs().max()), float((got - exact).abs().max())
        out = fn(parts.embedding(windows[0])[None].requires_grad_(True))
        assert out.prefix == 1 and out.block_inputs[0].shape[1] == 4  # the model saw BOS + 3 text tokens
    finally:
        fn.close()


# --- embedding path -----------------------------------------------------------------------------------


def test_input_ids_only_multiplier_is_refused(tmp_path, tokenizer_dir, run_cli):
    path = save_tiny("falcon_h1", tmp_path / "h1", tokenizer_dir)
    res = run_cli("audit", str(path), *CLI_SMALL, "--no-store")
    assert res.returncode == 5, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith("[transformers]")]
    assert len(lines) == 1 and "inputs_embeds differs from its output through input_ids" in lines[0], res.stderr


# --- NFA at the MLP's own input -----------------------------------------------------------------------


@pytest.mark.parametrize("family", ["phi", "falcon"])
def test_parallel_block_mlp_gradient_is_the_mlp_only_one(family):
    model = _tiny(family, seed=2)
    parts = find_parts(model, 2)
    fn = OutputFunction(model, parts, CAUSAL_LM)
    mlps = [block.mlp for block in parts.blocks]
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = [m.register_forward_hook(lambda mod, args, out, i=i: seen.__setitem__(i, (args[0], out)))
               for i, m in enumerate(mlps)]
    try:
        ids = torch.randint(0, VOCAB, (1, 6), generator=torch.Generator().manual_seed(3))
        e = parts.embedding(ids).detach().requires_grad_(True)
        r = torch.randn(1, VOCAB, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
        out = fn(e)
        xs = [seen[i][0] for i in range(2)]  # the normed residual entering the MLP (also feeds attention)
        ys = [seen[i][1] for i in range(2)]
        grads = torch.autograd.grad(out.f, out.mlp_inputs + ys + xs, grad_outputs=r)
        at_alias, at_out, at_shared = grads[:2], grads[2:4], grads[4:]
        for layer in range(2):
            x = xs[layer].detach().requires_grad_(True)
            (mlp_only,) = torch.autograd.grad(mlps[layer](x), x, grad_outputs=at_out[layer])
            assert torch.allclose(at_alias[layer], mlp_only, rtol=1e-10, atol=1e-12)
            agop = lambda g: g.reshape(-1, g.shape[-1]).T @ g.reshape(-1, g.shape[-1])  # noqa: E731
            assert torch.allclose(agop(at_alias[layer]), agop(mlp_only), rtol=1e-10, atol=1e-12)
            # The tensor itself also feeds attention: its gradient is not the MLP's.
            rel = float((at_shared[layer] - mlp_only).norm() / mlp_only.norm())
            assert rel > 0.05, (family, layer, rel)
    finally:
        for h in handles:
            h.remove()
        fn.close()


# --- embedding width apart from block width -----------------------------------------------------------


def test_projected_embeddings_are_measured_in_embedding_space_exactly():
    model = _tiny("opt_proj", seed=5)
    parts = find_parts(model, 2)
    assert tuple(parts.E_eff.shape) == (VOCAB, 16)  # 16-wide embeddings, 32-wide blocks
    fn = OutputFunction(model, parts, CAUSAL_LM)
    try:
        windows = torch.randint(3, VOCAB, (2, 3), generator=torch.Generator().manual_seed(6))
        z = torch.randint(0, 2, (3, VOCAB), generator=torch.Generator().manual_seed(7)).double() * 2 - 1
        exact = _exact_G_times(fn, parts.E_eff, windows, z)
        got = _accumulated_G_times(fn, parts, windows, z, hidden=32)
        assert float((got - exact).abs().max()) <= 1e-6 * float(exact.abs().max()), float((got - exact).abs().max())
    finally:
        fn.close()


def test_block_width_mismatch_is_refused_not_folded():
    acc = AgopAccumulator(seq_len=3, hidden_size=16, vocab_size=8, n_layers=1, input_probes=2,
                          output_probes=4, groups_per_half=2)
    with pytest.raises(ValueError, match="width 32"):
        acc._add_layer_halves(slice(0, 4), [torch.zeros(4, 3, 32)])


# --- degenerate probe counts, cache hits --------------------------------------------------------------


@pytest.mark.parametrize(("args", "flag"), [(["--f-estimator", "hutchinson", "--input-probes", "1"], "--input-probes"),
                                           (["--output-probes", "2"], "--output-probes"),
                                           (["--input-probes", "4"], "--f-estimator hutchinson")])
def test_degenerate_probe_counts_are_refused(run_cli, args, flag):
    """Too few probes, or input probes for the default estimator (which uses none): one line, exit 2."""
    res = run_cli("audit", "demo", *args, "--no-store")
    assert res.returncode == 2 and flag in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_one_group_per_half_reports_no_d_interval(tmp_path, tokenizer_dir):
    path = save_tiny("llama", tmp_path / "m", tokenizer_dir)
    settings = AuditSettings(T=8, n=2, input_probes=2, output_probes=4, groups_per_half=1, probe="builtin",
                             f_estimator="hutchinson")
    rec = run_audit(str(path), settings, show_progress=False).record
    m = rec["metrics"]
    assert m["d_ci"] is None and m["aofe_ci"] is None and m["aofe_ratio_ci"] is None
    assert "groups-per-half" in m["ci_note"] and m["ci_note"] in rec["notes"]
    assert m["f_ci"][0] <= m["f"] <= m["f_ci"][1]


def test_out_dir_is_written_on_a_store_hit(tmp_path, tokenizer_dir, run_cli):
    path = save_tiny("llama", tmp_path / "m", tokenizer_dir)
    store = str(tmp_path / "store.sqlite")
    first = run_cli("audit", str(path), *CLI_SMALL, "--store", store)
    assert first.returncode == 0, first.stderr[-2000:]
    out = tmp_path / "out"
    second = run_cli("audit", str(path), *CLI_SMALL, "--store", store, "--out", str(out))
    assert second.returncode == 0 and "from the results store" in second.stdout, second.stdout
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 3 and not any(n.endswith(".partial") for n in written), written
    record = json.loads(next(out.glob("*.json")).read_text())
    assert record["probe"]["windows_sha256"] and record["metrics"]["aofe_ratio"] is not None
