"""The CLI as a user runs it: exit codes, one-line errors, no tracebacks."""

import json

import pytest


def test_help_lists_real_commands(run_cli):
    res = run_cli("--help")
    assert res.returncode == 0
    for name in ("shape", "ls", "export"):
        assert name in res.stdout


def test_shape_list_offline_json(run_cli, tmp_path):
    res = run_cli("shape", "--list", "model_lists/small_llms.csv", "--json", "--interval", "0.02:0.05")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["interval"]["lo"] == 0.02 and data["interval"]["hi"] == 0.05
    assert len(data["models"]) == 35
    qwen = next(m for m in data["models"] if m["model"] == "Qwen/Qwen2.5-0.5B")
    assert qwen["total_params"] == 494_032_768 and qwen["inside_interval"] is True


def test_shape_csv_and_store(run_cli, tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "gpt2", "n_layer": 2, "n_embd": 64, "n_head": 4, "vocab_size": 50}))
    res = run_cli("shape", str(cfg), "--csv")
    assert res.returncode == 0, res.stderr
    header, row = res.stdout.strip().splitlines()
    assert "r_dw" in header.split(",") and "interval_lo" in header.split(",")
    ls = run_cli("ls", "--kind", "shapes", "--json")
    assert ls.returncode == 0
    assert json.loads(ls.stdout)[0]["payload"]["r_dw"] == 2 / 64


@pytest.mark.parametrize(
    "args, code, needle",
    [
        (["shape", "./does/not/exist"], 3, "no such file"),
        (["shape", "{malformed}"], 3, "JSON"),
        (["shape", "{nodepth}"], 3, "no depth field"),
        (["shape", "nobody-xyz/unknown-model-id"], 4, "Hugging Face Hub"),
        (["shape", "--list", "model_lists/small_llms.csv", "--interval", "0.05:0.01"], 2, "below the upper"),
        (["shape", "--list", "model_lists/small_llms.csv", "--interval", "abc"], 2, "LO:HI"),
        (["shape"], 2, "MODEL"),
    ],
)
def test_bad_input_one_line(run_cli, tmp_path, args, code, needle):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "nodepth.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    args = [str(tmp_path / "bad.json") if a == "{malformed}" else str(tmp_path / "nodepth.json")
            if a == "{nodepth}" else a for a in args]
    res = run_cli(*args)
    assert res.returncode == code, (res.stdout, res.stderr)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert needle in lines[0]
    assert "Traceback" not in res.stderr


def test_debug_shows_traceback(run_cli, tmp_path):
    res = run_cli("--debug", "shape", "./does/not/exist")
    assert res.returncode != 0
    assert "Traceback" in res.stderr


def test_public_api_entry_points():
    from hf_interaction import api

    for name in ("shape", "shapes_from_list", "run_audit", "AuditSettings", "evaluate_mmlu_pro", "compare_models",
                 "generate_report", "Store"):
        assert callable(getattr(api, name)), name
