"""`audit --list` / `eval --list` / `report --list`: the whole study in one command (issue 20, item 3).

Lists of local models only: the embedded demo models, a tiny random checkpoint saved here and a
directory whose config.json is broken. The micro preset on the builtin corpus keeps every audit
around a second.
"""

from __future__ import annotations

import csv
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_models import save_tiny

from hf_interaction.cli import main
from hf_interaction.commands.batch import model_subdir, read_list_models
from hf_interaction.core.store import Store
from hf_interaction.errors import BatchFailed

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "mmlu_pro"
FAST = ["--preset", "micro", "--probe", "builtin"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tokenizer_dir) -> Path:
    return save_tiny("llama", tmp_path_factory.mktemp("tiny") / "tiny-llama", tokenizer_dir)


@pytest.fixture
def broken_dir(tmp_path) -> Path:
    path = tmp_path / "broken"
    path.mkdir()
    (path / "config.json").write_text('{"model_type": "llama", "num_hidden_layers": ')
    return path


def write_list(path: Path, models: list[str]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["model_id", "family"])
        writer.writerows([m, "test"] for m in models)
    return path


def cli(*args: str) -> int:
    """``hf-interaction ARGS`` in this process; its exit code."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def audit_rows(store_path: Path) -> dict[str, int]:
    """Stored audits as model -> row id (a recomputed audit is re-inserted under a new id)."""
    with sqlite3.connect(store_path) as conn:
        return dict(conn.execute("SELECT model, id FROM audits"))


def progress(out: str) -> dict[str, str]:
    """The progress lines of a list run: model -> what happened to it."""
    lines = [line for line in out.splitlines() if line.startswith("[")]
    return {line.split("] ", 1)[1].split(": ", 1)[0]: line.split(": ", 1)[1] for line in lines}


def test_audit_list_runs_all_skips_stored_and_survives_a_failing_model(tmp_path, tiny_dir, broken_dir,
                                                                      tokenizer_dir, capsys):
    store_path = tmp_path / "s.sqlite"
    models = ["demo", "demo-shallow", str(tiny_dir), str(broken_dir)]
    listed = write_list(tmp_path / "list.csv", [*models[:2], models[0], *models[2:]])  # demo twice: runs once
    args = ["audit", "--list", str(listed), *FAST, "--store", str(store_path)]

    assert cli(*args) == BatchFailed.exit_code
    out, err = capsys.readouterr()
    lines = progress(out)
    assert list(lines) == models, out
    assert all(lines[m].startswith("done in ") and "D/F " in lines[m] for m in models[:3]), out
    assert lines[str(broken_dir)].startswith("FAILED: ") and "config.json" in lines[str(broken_dir)]
    assert out.splitlines()[0].startswith("[1/4] demo: done in ")
    assert f"audit --list {listed}: 4 model(s): 3 done, 0 stored (skipped), 1 failed" in out
    errors = [line for line in err.splitlines() if line.strip()]  # (the progress bars leave blank lines)
    assert len(errors) == 1 and "1 of 4 model(s) failed" in errors[0] and "Traceback" not in err
    store = Store(store_path)
    failures = store.failures("audits")
    assert [f["model"] for f in failures] == [str(broken_dir)] and "config.json" in failures[0]["reason"]
    first = audit_rows(store_path)
    assert len(first) == 3

    assert cli(*args) == BatchFailed.exit_code  # second run: nothing recomputed
    out, _ = capsys.readouterr()
    lines = progress(out)
    assert all(lines[m].startswith("stored, skipped") for m in models[:3]), out
    assert "0 done, 3 stored (skipped), 1 failed" in out
    assert audit_rows(store_path) == first

    save_tiny("llama", broken_dir, tokenizer_dir, seed=1)  # the failing model fixed: it runs, its failure is gone
    assert cli(*args) == 0
    out, _ = capsys.readouterr()
    assert progress(out)[str(broken_dir)].startswith("done in ") and "1 done, 3 stored (skipped), 0 failed" in out
    assert store.failures() == [] and len(audit_rows(store_path)) == 4


@pytest.mark.parametrize(("args", "code", "words"), [
    (["audit"], 2, "missing MODEL"),
    (["audit", "demo", "--list", "x.csv"], 2, "not both"),
    (["eval", "demo", "--list", "x.csv"], 2, "not both"),
    (["audit", "--list", "does-not-exist.csv"], 3, "model list not found"),
    (["audit", "--list", "{no_id}"], 3, "lacks column(s) model_id"),
    (["audit", "--list", "{empty_id}"], 3, "line 3: empty model_id"),
    (["audit", "--list", "{ok}", "--json"], 2, "--json"),
])
def test_bad_list_requests_are_one_line_errors(args, code, words, tmp_path, capsys):
    files = {"{no_id}": "model,family\ndemo,x\n", "{empty_id}": "model_id\ndemo\n\"\"\n", "{ok}": "model_id\ndemo\n"}
    for i, arg in enumerate(args):
        if arg in files:
            (tmp_path / "l.csv").write_text(files[arg])
            args[i] = str(tmp_path / "l.csv")
    assert cli(*args) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


def test_list_reading_and_per_model_directories(tmp_path):
    listed = write_list(tmp_path / "l.csv", ["Qwen/Qwen2.5-0.5B", " demo ", "Qwen/Qwen2.5-0.5B"])
    assert read_list_models(listed) == ["Qwen/Qwen2.5-0.5B", "demo"]
    assert model_subdir("out", "Qwen/Qwen2.5-0.5B") == str(Path("out") / "Qwen__Qwen2.5-0.5B")
    assert model_subdir("out", "/tmp/a b/model") == str(Path("out") / "tmp__a_b__model")
    assert model_subdir(None, "demo") is None


def test_report_uses_stored_diag_share_and_lists_failed_and_missing_models(tmp_path):
    """Stored audits enter the report's table with log10 D/F as a predictor (no baseline stored);
    a failure recorded by `audit --list` and the listed models without an audit are named."""
    from hf_interaction.audit.run import AuditSettings, run_audit
    from hf_interaction.report import build_table, predictors_of
    from hf_interaction.report.store_rows import list_run_summary
    from hf_interaction.shape.interval import DEFAULT_INTERVAL

    listed = ROOT / "model_lists" / "small_llms.csv"
    scored = [r["model_id"] for r in csv.DictReader(listed.open()) if r["mmlu_pro_score"].strip()]
    models = list(dict.fromkeys(scored))[:5]
    store = Store(tmp_path / "s.sqlite")
    rec = run_audit("demo", AuditSettings.from_preset("micro", probe="builtin"), show_progress=False).record
    for model in models[:3]:  # a real audit payload, stored under listed names
        store.put("audits", model, "abc123", rec["settings"], rec)
    store.record_failure("audits", models[3], "model or data not reachable (offline)")
    store.record_failure("evaluations", models[3], "CUDA out of memory")

    from hf_interaction.report.store_rows import SHARE_METRIC
    from hf_interaction.schema import schema_of

    assert f"metrics.{SHARE_METRIC}" in schema_of("audit").by_path()  # a documented record key
    table = build_table(listed, DEFAULT_INTERVAL, store)
    assert "diag_share_log10" in predictors_of(table)
    expected = round(math.log10(rec["metrics"]["diag_share"]), 6)
    assert table.loc[table["model_id"] == models[0], "diag_share_log10"].round(6).eq(expected).all()
    notes = table.attrs["notes"]
    assert any(n.startswith(f"{models[3]}: `audit --list` failed") and "not reachable" in n for n in notes), notes
    assert any(n.startswith(f"{models[3]}: `eval --list` failed") and "out of memory" in n for n in notes), notes
    missing = [n for n in notes if n.startswith("no stored audit for ")]
    named = missing[0].split(": ", 1)[1].split(", ") if len(missing) == 1 else []
    assert models[4] in named and models[3] not in named and models[0] not in named, missing
    console = list_run_summary(notes)  # what `report` prints after its verdict lines
    assert console[0].startswith("1 listed model(s) failed") and console[0].endswith(f": {models[3]}")
    assert console[1].startswith("no stored audit for ") and len(console) == 2

    payload = {**rec, "metrics": {**rec["metrics"], "diag_share_vs_baseline_log10": -0.5}}
    store.put("audits", models[0], "abc123", rec["settings"], payload)  # a baseline: it replaces log10 D/F
    predictors = predictors_of(build_table(listed, DEFAULT_INTERVAL, store))
    assert "diag_share_vs_baseline_log10" in predictors and "diag_share_log10" not in predictors


@pytest.mark.slow
def test_eval_list_skips_stored_and_survives_a_failing_model(tmp_path, broken_dir, capsys):
    store_path = tmp_path / "s.sqlite"
    listed = write_list(tmp_path / "list.csv", ["demo", str(broken_dir)])
    args = ["eval", "--list", str(listed), "--data", str(FIXTURE), "--limit", "1", "--store", str(store_path)]
    assert cli(*args) == BatchFailed.exit_code
    lines = progress(capsys.readouterr().out)
    assert lines["demo"].startswith("done in ") and "(acc " in lines["demo"]
    assert lines[str(broken_dir)].startswith("FAILED: ")
    assert [f["model"] for f in Store(store_path).failures("evaluations")] == [str(broken_dir)]
    assert cli(*args) == BatchFailed.exit_code
    assert progress(capsys.readouterr().out)["demo"].startswith("stored, skipped")


@pytest.mark.slow
def test_audit_list_resumes_after_kill_9_without_recomputing_finished_models(tmp_path, tiny_dir):
    store_path = tmp_path / "s.sqlite"
    models = ["demo", "demo-shallow", "demo-mid", "demo-deep", str(tiny_dir)]
    listed = write_list(tmp_path / "list.csv", models)
    command = [sys.executable, "-m", "hf_interaction", "audit", "--list", str(listed), *FAST,
               "--store", str(store_path)]
    env = {**os.environ, "HF_INTERACTION_STORE": str(store_path)}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 120
        while not (store_path.is_file() and _stored(store_path)):  # poll until the first audit is stored
            assert proc.poll() is None and time.monotonic() < deadline, "the list run ended before any audit"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    finished = audit_rows(store_path)
    assert 1 <= len(finished) < len(models), finished

    rerun = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    lines = progress(rerun.stdout)
    assert list(lines) == models
    for model in models:
        stored_as = str(Path(model).resolve()) if Path(model).is_absolute() else model  # a local dir: its path
        expect = "stored, skipped" if stored_as in finished else "done in"
        assert lines[model].startswith(expect), (model, rerun.stdout)
    after = audit_rows(store_path)
    assert len(after) == len(models)
    assert all(after[m] == row for m, row in finished.items())  # finished audits were not recomputed


def _stored(store_path: Path) -> bool:
    try:
        with sqlite3.connect(store_path, timeout=0.1) as conn:
            return conn.execute("SELECT COUNT(*) FROM audits").fetchone()[0] > 0
    except sqlite3.OperationalError:  # not created yet, or locked by the writer
        return False
