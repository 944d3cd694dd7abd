"""`audit --baseline init`: a fresh init of the same architecture on the same windows and probes."""

from __future__ import annotations

import pytest
import torch
from tiny_models import save_tiny

from hf_interaction import schema
from hf_interaction.audit.baseline import fresh_init
from hf_interaction.audit.run import AuditSettings, load_for_audit, run_audit

SETTINGS = AuditSettings(T=8, n=6, output_probes=8, probe="builtin", baseline="init", baseline_seeds=2)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory, tokenizer_dir):
    return save_tiny("llama", tmp_path_factory.mktemp("llama"), tokenizer_dir)


@pytest.fixture(scope="module")
def record(llama_dir):
    return run_audit(str(llama_dir), SETTINGS, show_progress=False).record


def test_fresh_init_is_seeded_and_differs_between_seeds(llama_dir):
    net = load_for_audit(str(llama_dir), SETTINGS).model
    a, b, c = fresh_init(net, 0), fresh_init(net, 0), fresh_init(net, 1)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb), name
        assert not pa.requires_grad
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))
    assert a.dtype == net.dtype and type(a) is type(net)


def test_baseline_block_uses_the_same_windows_and_probes(record):
    assert schema.problems("audit", record) == []  # the baseline's keys are documented too
    base = record["baseline"]
    assert base["kind"] == "init" and base["init_seeds"] == [42, 43]
    assert base["windows_sha256"] == record["probe"]["windows_sha256"]
    assert base["probe_seed"] == record["settings"]["seed"]
    runs = base["runs"]
    assert len(runs) == 2 and runs[0]["metrics"]["diag_share"] != runs[1]["metrics"]["diag_share"]
    for run in runs:  # the same probe counts and bootstrap, another model
        assert run["metrics"]["input_probes"] == record["metrics"]["input_probes"]
        assert run["metrics"]["f"] != record["metrics"]["f"]
    assert len(base["layers"]) == len(record["layers"])
    assert all(layer["nfa_offdiag_seeds"][0] != layer["nfa_offdiag_seeds"][1] for layer in base["layers"])


def test_log_ratio_and_nfa_over_baseline_follow_from_the_parts(record):
    import math

    m, base = record["metrics"], record["baseline"]
    basis = m["diag_share_vs_baseline_basis"]
    assert basis in ("population", "paper")
    assert basis == "paper"  # 6 windows: too few for population intervals, so the ratio is on these windows
    assert "conditional on these windows" in m["diag_share_vs_baseline_basis_text"]
    key = (lambda r: r["population"]["diag_share_plugin"]) if basis == "population" else (
        lambda r: r["diag_share_plugin"])
    trained = key(m)
    expected = math.log10(trained) - sum(math.log10(key(r["metrics"])) for r in base["runs"]) / 2
    assert m["diag_share_vs_baseline_log10_plugin"] == pytest.approx(expected, rel=1e-12)
    lo, hi = m["diag_share_vs_baseline_log10_ci"]
    assert lo < expected < hi  # the interval is centred on the plug-in difference
    assert abs(m["diag_share_vs_baseline_log10"] - expected) < (hi - lo) / 2  # a bias correction, not a jump
    for layer, b in zip(record["layers"], base["layers"], strict=True):
        assert layer["nfa_offdiag_over_baseline"] == pytest.approx(layer["nfa_offdiag"] - b["nfa_offdiag"])


def test_baseline_leaves_the_trained_numbers_alone(llama_dir, record):
    import dataclasses

    plain = run_audit(str(llama_dir), dataclasses.replace(SETTINGS, baseline=None), show_progress=False).record
    assert "baseline" not in plain
    for key in ("f", "d", "diag_share", "aofe_ratio"):
        assert plain["metrics"][key] == record["metrics"][key]


def test_cli_baseline_summary_and_bad_seeds(llama_dir, run_cli, tmp_path):
    res = run_cli("audit", str(llama_dir), "--probe", "builtin", "--T", "8", "--n", "5",
                  "--output-probes", "4", "--baseline", "init", "--no-store")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "trained vs fresh init" in res.stdout and "log10(D/F trained / init)" in res.stdout
    bad = run_cli("audit", str(llama_dir), "--baseline", "init", "--baseline-seeds", "0", "--no-store")
    assert bad.returncode == 2 and "--baseline-seeds" in bad.stderr and "Traceback" not in bad.stderr
