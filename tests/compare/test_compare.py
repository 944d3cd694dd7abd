"""`compare` on two tiny trained Llama checkpoints (depth 2: R_D/W = 0.0625, inside the default
interval; depth 4: R_D/W = 0.125, outside), audited into private stores, offline.

Expected values are recomputed here from the store records, never taken from the compare output.
"""

from __future__ import annotations

import csv
import json
import math
import shutil

import pytest
import torch
from tiny_models import FAMILIES, VOCAB, train_tokenizer

from hf_interaction import schema
from hf_interaction.audit.presets import PRESETS
from hf_interaction.audit.run import AuditSettings, run_audit
from hf_interaction.compare import AuditMatch, compare_models
from hf_interaction.core.store import Store
from hf_interaction.shape.interval import Interval

TINY = AuditSettings(T=8, n=2, output_probes=4, probe="builtin")
CLI_TINY = ["--probe", "builtin", "--T", "8", "--n", "2", "--output-probes", "4"]
METRICS = ("aofe", "aofe_ratio", "probe_loss_nats_per_token", "probe_loss_bits_per_byte")


def _save_trained_llama(depth: int, out_dir, tokenizer_dir, steps: int = 4):
    """A tiny Llama of the given depth, trained a few Adam steps on the builtin corpus, saved with
    the shared tokenizer as an ordinary checkpoint directory."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    from hf_interaction.probe import load_corpus_text
    from hf_interaction.shape.config import build_config

    config = build_config({**FAMILIES["llama"], "num_hidden_layers": depth, "vocab_size": VOCAB})
    torch.manual_seed(depth)
    model = AutoModelForCausalLM.from_config(config)
    tok = PreTrainedTokenizerFast.from_pretrained(tokenizer_dir)
    ids = torch.tensor(tok(load_corpus_text("builtin").text[:20_000])["input_ids"])
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(steps):
        batch = torch.stack([ids[s:s + 32] for s in range(step * 128, step * 128 + 4 * 32, 32)])
        loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.save_pretrained(out_dir, safe_serialization=True)
    for f in tokenizer_dir.iterdir():
        shutil.copy(f, out_dir / f.name)
    return out_dir


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Paths of the shallow (inside) and deep (outside) checkpoints."""
    tok = tmp_path_factory.mktemp("compare_tokenizer")
    train_tokenizer(tok)
    root = tmp_path_factory.mktemp("compare_models")
    return {"shallow": _save_trained_llama(2, root / "shallow", tok),
            "deep": _save_trained_llama(4, root / "deep", tok)}


@pytest.fixture(scope="module")
def stores(models, tmp_path_factory):
    """Store files: ``a`` (shallow audited), ``ab`` (both), ``mismatch`` (both, plus a newer audit of
    deep with seed 1). Tests copy them before writing."""
    root = tmp_path_factory.mktemp("compare_stores")
    paths = {k: root / f"{k}.sqlite" for k in ("a", "ab", "mismatch")}
    run_audit(str(models["shallow"]), TINY, store=Store(paths["a"]), show_progress=False)
    shutil.copy(paths["a"], paths["ab"])
    run_audit(str(models["deep"]), TINY, store=Store(paths["ab"]), show_progress=False)
    shutil.copy(paths["ab"], paths["mismatch"])
    run_audit(str(models["deep"]), AuditSettings(**{**TINY.__dict__, "seed": 1}), store=Store(paths["mismatch"]),
              show_progress=False)
    return paths


def _copy(src, tmp_path):
    dst = tmp_path / "store.sqlite"
    shutil.copy(src, dst)
    return dst


def _cli(capsys, *args):
    """The CLI in-process (same entry point and error handling as the console script): (code, out, err)."""
    from hf_interaction.cli import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _audit(store_path, path) -> dict:
    """The newest stored audit payload of a checkpoint, read straight from the store."""
    recs = Store(store_path).list("audits", str(path.resolve()))
    assert recs, path
    return recs[-1].payload


def test_compare_json_deltas_and_files(models, stores, run_cli, tmp_path):
    out = tmp_path / "out"
    res = run_cli("compare", models["shallow"], models["deep"], "--store", stores["ab"], "--json", "--out", out)
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert schema.problems("comparison", data) == []  # every key documented, with its type
    shallow, deep = data["models"]
    assert (shallow["label"], deep["label"]) == ("shallow", "deep") and data["reference"] == "shallow"
    assert data["settings_mismatch"] == [] and "warning" not in res.stderr
    a, b = _audit(stores["ab"], models["shallow"]), _audit(stores["ab"], models["deep"])
    for key in METRICS:
        assert shallow[key] == a["metrics"][key] and deep[key] == b["metrics"][key]
        assert deep["deltas"][f"delta_{key}"] == pytest.approx(b["metrics"][key] - a["metrics"][key], rel=1e-12)
        assert shallow["deltas"][f"delta_{key}"] == 0
    assert [deep["aofe_ci_lo"], deep["aofe_ci_hi"]] == (b["metrics"]["aofe_ci"] or [None, None])
    assert deep["deltas"]["delta_depth"] == 2 and deep["deltas"]["delta_r_dw"] == pytest.approx(4 / 32 - 2 / 32)
    params = b["shape"]["total_params"] / a["shape"]["total_params"]
    assert deep["deltas"]["ratio_total_params"] == pytest.approx(params)
    assert data["delta_kinds"]["ratio_total_params"].startswith("ratio")
    assert (shallow["inside_interval"], deep["inside_interval"]) == (True, False)
    assert data["interval"]["lo"] == 0.0204 and data["outside_interval"] == ["deep"]
    assert [len(m["layers"]) for m in data["models"]] == [2, 4]

    assert sorted(p.name for p in out.iterdir()) == ["compare.csv", "compare.json", "compare.md",
                                                     "compare_layer_profiles.png"]
    assert (out / "compare_layer_profiles.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = list(csv.DictReader((out / "compare.csv").open()))
    assert [r["label"] for r in rows] == ["shallow", "deep"]
    assert float(rows[1]["delta_aofe_ratio"]) == pytest.approx(b["metrics"]["aofe_ratio"] - a["metrics"]["aofe_ratio"])
    assert rows[1]["interval_lo"] == "0.0204" and rows[1]["settings_mismatch"] == ""
    md = (out / "compare.md").read_text()
    assert "| quantity | shallow | deep | Δ deep vs shallow |" in md and "AOFE-ratio" in md


def test_table_lists_both_models(models, stores, capsys):
    code, out, err = _cli(capsys, "compare", models["shallow"], models["deep"], "--store", stores["ab"])
    assert code == 0, err
    for text in ("shallow", "deep", "Δ deep vs shallow", "AOFE-ratio", "R_D/W", "0.1250", "0.0625", "×"):
        assert text in out
    assert "missing" in out  # no MMLU-Pro evaluation is stored


def test_gate_fails_outside_the_interval(models, stores, capsys):
    code, out, err = _cli(capsys, "compare", models["shallow"], models["deep"], "--store", stores["ab"],
                          "--fail-outside-interval")
    assert code == 7
    assert "Δ deep vs shallow" in out  # the table is printed first
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:")
    assert "deep (R_D/W = 0.125" in lines[0] and "shallow (" not in lines[0] and "[0.0204, 0.0645]" in lines[0]


def test_gate_passes_when_all_inside(models, stores, capsys):
    code, out, err = _cli(capsys, "compare", models["shallow"], models["deep"], "--store", stores["ab"],
                          "--fail-outside-interval", "--interval", "0.01:0.2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["interval"]["lo"] == 0.01 and data["interval"]["hi"] == 0.2 and data["outside_interval"] == []
    assert all(m["inside_interval"] for m in data["models"])


def test_missing_model_path(models, run_cli, tmp_path):
    res = run_cli("compare", tmp_path / "no_such_model", models["shallow"], "--out", tmp_path / "out")
    assert res.returncode == 3
    assert res.stderr.strip().count("\n") == 0 and "no such file or directory" in res.stderr
    assert not (tmp_path / "out").exists()


def test_unreachable_hub_id_exits_4(models, capsys):
    code, _, err = _cli(capsys, "compare", "some-org/never-downloaded", models["shallow"])
    assert code == 4 and err.startswith("error:") and err.strip().count("\n") == 0


def test_missing_audit_reported_not_computed(models, capsys, tmp_path):
    store = tmp_path / "empty.sqlite"
    code, out, err = _cli(capsys, "compare", models["shallow"], models["deep"], "--store", store, "--json")
    assert code == 0, err
    data = json.loads(out)
    for m in data["models"]:
        assert m["audit_status"] == "missing" and m["aofe"] is None and m["layers"] is None
        assert any("no stored audit" in n and "--run" in n for n in m["notes"])
        assert m["r_dw"] is not None  # the shape is still there
    assert Store(store).list("audits") == []


def test_run_computes_missing_audit_and_stores_it(models, stores, capsys, tmp_path):
    store = _copy(stores["a"], tmp_path)
    code, out, err = _cli(capsys, "compare", models["shallow"], models["deep"], "--store", store, "--run",
                          *CLI_TINY, "--json")
    assert code == 0, err
    shallow, deep = json.loads(out)["models"]
    assert shallow["audit_status"] == "stored" and deep["audit_status"] == "computed"
    recs = Store(store).list("audits", str(models["deep"].resolve()))
    assert len(recs) == 1 and recs[0].key["T"] == 8 and recs[0].key["n"] == 2
    assert deep["aofe_ratio"] == recs[0].payload["metrics"]["aofe_ratio"]
    assert deep["audit_settings_hash"] == shallow["audit_settings_hash"] == recs[0].key_hash


def test_mismatched_settings_are_reported(models, stores, capsys):
    args = ["compare", models["shallow"], models["deep"], "--store", stores["mismatch"]]
    code, out, err = _cli(capsys, *args, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["settings_mismatch"] == ["seed"]
    assert data["settings_mismatch_values"]["seed"] == {"shallow": 42, "deep": 1}
    warning = [line for line in err.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "seed (shallow: 42, deep: 1)" in warning[0] and "--settings-hash" in warning[0]

    code, out, _ = _cli(capsys, *args, "--seed", "42", "--json")  # narrowing picks the seed-42 audit of deep
    assert code == 0 and json.loads(out)["settings_mismatch"] == []
    common = data["models"][0]["audit_settings_hash"]
    code, out, _ = _cli(capsys, *args, "--settings-hash", common[:8], "--json")
    narrowed = json.loads(out)
    assert code == 0 and narrowed["settings_mismatch"] == []
    assert [m["audit_settings_hash"] for m in narrowed["models"]] == [common, common]

    code, out, err = _cli(capsys, *args, "--require-same-settings")
    assert code == 3 and out == ""
    assert err.strip().count("\n") == 0 and err.startswith("error:") and "seed" in err


def test_api_frame_evaluations_and_stored_hub_results(models, stores, tmp_path):
    store = Store(_copy(stores["ab"], tmp_path))
    accs = {"shallow": (0.12, 0.01), "deep": (0.15, 0.02)}
    for name, (acc, se) in accs.items():
        rev = _audit(store.path, models[name])["revision"]
        store.put("evaluations", str(models[name].resolve()), rev, {"task": "leaderboard_mmlu_pro", "num_fewshot": 5},
                  {"task": "leaderboard_mmlu_pro", "acc": acc, "acc_stderr": se, "n_questions": 40})
    # A Hub model known only through the store (offline): an audit stored under its id and commit.
    hub_payload = {**_audit(store.path, models["shallow"]), "model": "org/tiny-shallow", "revision": "0123abcd" * 5}
    store.put("audits", "org/tiny-shallow", "0123abcd" * 5, {"T": 8}, hub_payload)

    comp = compare_models([str(models["shallow"]), str(models["deep"]), "org/tiny-shallow"],
                          interval=Interval(0.01, 0.1), store=store, match=AuditMatch())
    frame = comp.to_frame()
    assert list(frame["label"]) == ["shallow", "deep", "org/tiny-shallow"]
    assert frame.loc[1, "delta_mmlu_pro_acc"] == pytest.approx(0.15 - 0.12)
    assert frame.loc[1, "mmlu_pro_acc_stderr"] == 0.02 and math.isnan(frame.loc[2, "mmlu_pro_acc"])
    assert comp.eval_settings_mismatch == {}
    hub = comp.models[2]
    assert hub.source == "store" and hub.audit_status == "stored" and "not reachable" in hub.notes[0]
    assert hub.shape["r_dw"] == 2 / 32 and hub.shape["interval_coordinate"] == pytest.approx(
        math.log(0.0625 / 0.01) / math.log(10))
    assert set(comp.settings_mismatch) >= {"n", "seed", "probe"}  # {"T": 8} lacks the other settings
    assert comp.to_dict()["models"][1]["deltas"]["delta_depth"] == 2


def test_cli_presets_match_the_audit_presets():
    from hf_interaction.commands.compare import PRESET_FIELDS

    assert PRESET_FIELDS == PRESETS
