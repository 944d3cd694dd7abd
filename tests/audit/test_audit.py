"""`audit` end to end on tiny models of every supported family, offline."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch
from tiny_models import FAMILIES, save_tiny

from hf_interaction import schema
from hf_interaction.audit.run import AuditSettings, run_audit
from hf_interaction.core.store import Store

# Four output probes (cheap): the default pairs estimator's jackknife over them still gives every interval.
SMALL = AuditSettings(T=8, n=4, output_probes=4, probe="builtin")
CLI_SMALL = ["--probe", "builtin", "--T", "8", "--n", "4", "--output-probes", "4"]


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory, tokenizer_dir):
    return save_tiny("llama", tmp_path_factory.mktemp("llama"), tokenizer_dir)


def _finite(x) -> bool:
    return isinstance(x, float) and math.isfinite(x)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_audit_runs_on_every_family(family, tmp_path, tokenizer_dir):
    path = save_tiny(family, tmp_path / family, tokenizer_dir)
    store = Store(tmp_path / "s.sqlite")
    rec = run_audit(str(path), SMALL, store=store, show_progress=False).record
    m = rec["metrics"]
    for key in ("f", "d", "aofe", "aofe_ratio", "logit_scale", "embedding_gram_aofe_ratio"):
        assert _finite(m[key]), (key, m[key])
    assert m["f_ci"][0] < m["f"] < m["f_ci"][1] and m["d_ci"][0] < m["d"] < m["d_ci"][1]
    assert m["groups_per_half"] is None and m["input_probes"] == 0 and "jackknife" in m["ci_method"]
    assert len(rec["layers"]) == rec["shape"]["depth"] == 2
    for layer in rec["layers"]:
        assert layer["mlp_input"] is not None
        assert _finite(layer["nfa_offdiag"]) and _finite(layer["nfa_full"])
    if family == "bert":
        assert "encoder" in m["output_function"]
        assert "probe_loss_nats_per_token" not in m
    else:
        assert 0 < m["probe_loss_nats_per_token"] < 2 * math.log(320)
    if family in ("gemma2", "gemma3_text"):  # the embedding module scales by sqrt(d): found, not hard-coded
        assert m["embedding_scale"] == pytest.approx(math.sqrt(32), rel=1e-5)
    else:
        assert m["embedding_scale"] == 1.0
    assert store.get("audits", rec["model"], rec["revision"], SMALL.cache_key(rec["probe"]["probe_corpus_sha256"]))


def test_provenance_fields(llama_dir, tmp_path):
    rec = run_audit(str(llama_dir), SMALL, show_progress=False, out_dir=tmp_path / "out").record
    for key in ("model", "revision", "schema_version", "shape", "interval", "settings", "probe", "runtime",
                "versions"):
        assert key in rec
    assert rec["probe"]["windows_sha256"] and rec["runtime"]["num_processes"] == 1
    assert rec["runtime"]["attn_implementation"] == "eager"
    assert {"torch", "transformers", "accelerate", "hf-interaction"} <= rec["versions"].keys()
    assert schema.problems("audit", rec) == []  # every key documented, with its type
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(files) == 3 and not any(f.endswith(".partial") for f in files)
    assert json.loads((tmp_path / "out" / files[0]).read_text())["metrics"] == rec["metrics"]


def test_reproducible_and_store_hit(llama_dir, tmp_path):
    store = Store(tmp_path / "s.sqlite")
    a = run_audit(str(llama_dir), SMALL, store=store, show_progress=False)
    b = run_audit(str(llama_dir), SMALL, store=store, force=True, show_progress=False)
    assert not a.from_store and not b.from_store
    assert a.record["metrics"] | {"seconds_per_window": 0} == b.record["metrics"] | {"seconds_per_window": 0}
    assert a.layers == b.layers
    c = run_audit(str(llama_dir), SMALL, store=store, show_progress=False)
    assert c.from_store and c.record == json.loads(json.dumps(b.record, default=str))
    other_seed = run_audit(str(llama_dir), AuditSettings(**{**SMALL.__dict__, "seed": 7}), store=store,
                           show_progress=False)
    assert not other_seed.from_store and other_seed.metrics["f"] != a.metrics["f"]


def test_resume_gives_the_same_result(llama_dir, tmp_path, monkeypatch):
    from hf_interaction.audit import device_memory
    from hf_interaction.audit import measure as audit_mod

    # One window per pass, so the run can stop between saved windows (and all runs batch alike).
    monkeypatch.setattr(device_memory, "WINDOW_BATCH_ROWS", SMALL.output_probes * (SMALL.T + 1))
    full = run_audit(str(llama_dir), SMALL, show_progress=False).record["metrics"]
    calls = {"n": 0}
    original = audit_mod.AgopAccumulator.add_windows

    def failing(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # the user stops the run after two windows were saved
        return original(self, *args, **kwargs)

    audit_mod.AgopAccumulator.add_windows = failing
    try:
        with pytest.raises(KeyboardInterrupt):
            run_audit(str(llama_dir), SMALL, show_progress=False, resume_dir=tmp_path / "r", save_every=1)
    finally:
        audit_mod.AgopAccumulator.add_windows = original
    assert list((tmp_path / "r").glob("*.pt"))
    resumed = run_audit(str(llama_dir), SMALL, show_progress=False, resume_dir=tmp_path / "r").record["metrics"]
    for key in ("f", "d", "aofe", "aofe_ratio"):
        assert resumed[key] == pytest.approx(full[key], rel=1e-12)


def _metrics_vector(rec: dict) -> dict[str, float]:
    out = {k: v for k, v in rec["metrics"].items() if isinstance(v, float) and k != "seconds_per_window"}
    for layer in rec["layers"]:
        for k, v in layer.items():
            if isinstance(v, float):
                out[f"layer{layer['layer']}.{k}"] = v
    return out


def test_two_processes_match_one(llama_dir, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("the two-process CPU check needs a machine without GPU")
    # float64 weights isolate the reduction logic from float32 kernel-order noise (thread counts differ).
    args = ["audit", str(llama_dir), *CLI_SMALL, "--no-store", "--dtype", "float64"]
    env_cmd = [sys.executable, "-m", "hf_interaction"]
    one = subprocess.run([*env_cmd, *args, "--out", str(tmp_path / "one")], capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    # On a machine without GPU, accelerate's --multi_gpu launcher starts 2 gloo (MULTI_CPU) processes;
    # its --cpu launcher would start only one unless mpirun is configured.
    two = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                          "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                          "-m", "hf_interaction", *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True)
    assert two.returncode == 0, two.stderr[-3000:]
    rec1 = json.loads(next((tmp_path / "one").glob("*.json")).read_text())
    rec2 = json.loads(next((tmp_path / "two").glob("*.json")).read_text())
    assert rec2["runtime"]["num_processes"] == 2
    v1, v2 = _metrics_vector(rec1), _metrics_vector(rec2)
    assert v1.keys() == v2.keys()
    for key in v1:
        assert v2[key] == pytest.approx(v1[key], rel=1e-6, abs=1e-12), key


def _nan_weights(model):
    with torch.no_grad():
        next(iter(model.model.layers[0].parameters())).fill_(float("nan"))


@pytest.mark.parametrize("case, code, needle", [
    ("short-corpus", 3, "tokens"),
    ("nan-weights", 5, "non-finite"),
    ("bad-device-map", 2, "device-map"),
    ("remote-code", 6, "trust-remote-code"),
    ("unknown-model", 4, "Hub"),
    ("pickle-only", 6, "pickle"),
])
def test_bad_input(case, code, needle, tmp_path, tokenizer_dir, run_cli):
    model = str(tmp_path / "m")
    extra: list[str] = []
    if case == "short-corpus":
        save_tiny("llama", tmp_path / "m", tokenizer_dir)
        (tmp_path / "short.txt").write_text("too short")
        extra = ["--probe", str(tmp_path / "short.txt")]
    elif case == "nan-weights":
        save_tiny("llama", tmp_path / "m", tokenizer_dir, mutate=_nan_weights)
    elif case == "bad-device-map":
        save_tiny("llama", tmp_path / "m", tokenizer_dir)
        extra = ["--device-map", "banana"]
    elif case == "remote-code":
        save_tiny("llama", tmp_path / "m", tokenizer_dir)
        cfg = json.loads((tmp_path / "m" / "config.json").read_text())
        cfg.update({"model_type": "my_custom_lm", "auto_map": {"AutoModelForCausalLM": "modeling.MyLM"}})
        (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    elif case == "unknown-model":
        model = "nobody-xyz/no-such-model"
    elif case == "pickle-only":
        from transformers import AutoModelForCausalLM

        src = save_tiny("llama", tmp_path / "src", tokenizer_dir)
        (tmp_path / "m").mkdir()
        torch.save(AutoModelForCausalLM.from_pretrained(src).state_dict(), tmp_path / "m" / "pytorch_model.bin")
        for f in src.iterdir():
            if f.suffix != ".safetensors":
                (tmp_path / "m" / f.name).write_bytes(f.read_bytes())
    store = tmp_path / "store.sqlite"
    res = run_cli("audit", model, *CLI_SMALL, *extra, "--store", str(store))
    assert res.returncode == code, (res.stdout[-2000:], res.stderr[-2000:])
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not store.exists() or Store(store).list("audits") == []
