import json
import multiprocessing as mp
import os
import sqlite3

import pandas as pd
import pytest

from hf_interaction.core.store import Store, key_hash
from hf_interaction.errors import UsageError


def test_round_trip(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    rec = store.put("audits", "org/m", "abc123", {"T": 8, "n": 4}, {"metrics": {"aofe": 1.5}, "layers": [1, 2]})
    got = store.get("audits", "org/m", "abc123", {"n": 4, "T": 8})
    assert got == rec
    assert got.payload == {"metrics": {"aofe": 1.5}, "layers": [1, 2]}
    assert store.list("audits")[0].model == "org/m"


def test_cache_key(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    store.put("audits", "m", "r1", {"T": 8}, {"v": 1})
    assert store.get("audits", "m", "r1", {"T": 16}) is None  # other settings: miss
    assert store.get("audits", "m", "r2", {"T": 8}) is None  # other revision: miss
    assert store.get("evaluations", "m", "r1", {"T": 8}) is None  # other kind: miss
    store.put("audits", "m", "r1", {"T": 8}, {"v": 2})  # same key: replaced, not duplicated
    assert [r.payload["v"] for r in store.list("audits")] == [2]
    assert key_hash({"a": 1, "b": 2}) == key_hash({"b": 2, "a": 1})


def test_unknown_kind(tmp_path):
    with pytest.raises(UsageError):
        Store(tmp_path / "s.sqlite").put("nope", "m", "r", {}, {})


def _writer(path: str, worker: int, count: int) -> None:
    store = Store(path)
    for i in range(count):
        store.put("audits", f"model-{worker}", "rev", {"i": i}, {"worker": worker, "i": i, "blob": "x" * 1000})


def test_concurrent_writers(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 40)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    records = Store(path).list("audits")
    assert len(records) == 80
    assert {(r.payload["worker"], r.payload["i"]) for r in records} == {(w, i) for w in range(2) for i in range(40)}
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _die_mid_write(path: str) -> None:
    store = Store(path)
    with store._connect() as conn:
        conn.execute(
            "INSERT INTO audits (model, revision, settings_hash, settings, payload, schema_version, created_at) "
            "VALUES ('half', 'r', 'h', '{}', '{}', 1, 'now')"
        )
        os._exit(1)  # killed before the transaction commits


def test_interrupted_write_leaves_nothing(tmp_path):
    path = str(tmp_path / "s.sqlite")
    Store(path).put("audits", "whole", "r", {}, {"ok": True})
    p = mp.get_context("spawn").Process(target=_die_mid_write, args=(path,))
    p.start()
    p.join(60)
    assert p.exitcode == 1
    store = Store(path)
    assert [r.model for r in store.list("audits")] == ["whole"]
    store.put("audits", "after", "r", {}, {})  # the store is still writable (no stale lock)
    assert len(store.list("audits")) == 2


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet"])
def test_export(tmp_path, suffix):
    store = Store(tmp_path / "s.sqlite")
    store.put("shapes", "a", "r", {"x": 1}, {"r_dw": 0.03, "layers": [1, 2]})
    store.put("shapes", "b", "r", {"x": 1}, {"r_dw": 0.01, "layers": [3]})
    out = store.export(tmp_path / f"out{suffix}")
    if suffix == ".json":
        frame = pd.read_json(out)
    elif suffix == ".csv":
        frame = pd.read_csv(out)
    else:
        frame = pd.read_parquet(out)
    assert len(frame) == 2
    assert not list(tmp_path.glob("*.partial"))
    with pytest.raises(UsageError):
        store.export(tmp_path / "out.xlsx")


def test_latest_is_newest_even_within_one_second(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    for i in range(3):
        store.put("audits", "m", "r", {"i": i}, {"i": i})
    store.put("audits", "m", "r", {"i": 0}, {"i": "again"})  # replacing makes it the newest
    assert [r.payload["i"] for r in store.latest("audits", "m")] == ["again", 2, 1]


def _ls(path, capsys) -> tuple[int, str]:
    """``hf-interaction ls --store PATH`` through the real entry point: (exit code, stderr)."""
    from hf_interaction.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["ls", "--store", str(path)])
    return exit_info.value.code, capsys.readouterr().err


def test_corrupt_store_is_one_line_exit_3(tmp_path, capsys):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"not a database " * 400)
    code, out = _ls(bad, capsys)
    assert code == 3
    assert "not a readable results store" in out and "Traceback" not in out
    assert bad.read_bytes() == b"not a database " * 400  # untouched


def test_damaged_store_is_one_line_exit_3(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    Store(path).put("audits", "m", "r", {"T": 8}, {"v": 1})
    data = path.read_bytes()
    path.write_bytes(data[:100] + b"x" * (len(data) - 100))  # header kept, pages overwritten
    code, out = _ls(path, capsys)
    assert code == 3 and "Traceback" not in out and "results store" in out


def test_foreign_sqlite_file_is_refused_and_left_alone(tmp_path, capsys):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE people (name TEXT)")
    conn.commit()
    conn.close()
    code, out = _ls(path, capsys)
    assert code == 3 and "not an hf-interaction results store" in out
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"people"}  # nothing created in someone else's database


def test_newer_store_schema_is_refused(tmp_path):
    from hf_interaction.core.store import SCHEMA_VERSION
    from hf_interaction.errors import InputError

    path = tmp_path / "s.sqlite"
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="newer hf-interaction"):
        Store(path)


def test_records_of_an_earlier_schema_are_read_with_todays_names(tmp_path):
    """A schema-1 audit (created_utc, metrics.n_input_probes, shape.model_id) reads with the schema-2 names."""
    from hf_interaction.schema import SCHEMA_VERSION

    path = tmp_path / "s.sqlite"
    Store(path)
    old = {"schema_version": 1, "created_utc": "2026-01-01T00:00:00Z", "shape": {"model_id": "m", "depth": 2},
           "metrics": {"n_input_probes": 4, "n_output_probes": 8, "aofe": 1.0},
           "baseline": {"runs": [{"metrics": {"n_input_probes": 4}}]}}
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO audits (model, revision, settings_hash, settings, payload, schema_version, created_at) "
                 "VALUES ('m', 'r', 'h', '{}', ?, 1, '2026-01-01T00:00:00Z')", (json.dumps(old),))
    conn.commit()
    conn.close()
    rec = Store(path).list("audits")[0]
    assert rec.schema_version == SCHEMA_VERSION and rec.payload["schema_version"] == SCHEMA_VERSION
    assert rec.payload["created_at"] == "2026-01-01T00:00:00Z" and "created_utc" not in rec.payload
    assert rec.payload["shape"] == {"model": "m", "depth": 2}
    # Before schema 3 F was always Hutchinson's and each output probe had its own forward.
    assert rec.payload["metrics"] == {"input_probes": 4, "output_probes": 8, "aofe": 1.0, "f_estimator": "hutchinson",
                                      "output_pass": "copies"}
    assert rec.payload["baseline"]["runs"][0]["metrics"] == {"input_probes": 4, "f_estimator": "hutchinson",
                                                             "output_pass": "copies"}


def test_a_newer_record_schema_is_refused(tmp_path):
    from hf_interaction.errors import InputError
    from hf_interaction.schema import SCHEMA_VERSION

    path = tmp_path / "s.sqlite"
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO audits (model, revision, settings_hash, settings, payload, schema_version, created_at) "
                 "VALUES ('m', 'r', 'h', '{}', '{}', ?, 'x')", (SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(InputError, match="newer than this hf-interaction reads"):
        Store(path).list("audits")


def test_a_stored_schema_1_audit_stays_a_cache_hit(tmp_path):
    """A record-schema change renames keys only: an audit stored under schema 1 is still found by
    today's cache key (nothing is recomputed) and is returned with today's key names."""
    from hf_interaction.audit.run import AuditSettings, run_audit
    from hf_interaction.models.source import resolve_model
    from hf_interaction.probe import load_corpus_text

    settings = AuditSettings.from_preset("micro", probe="builtin")
    ref = resolve_model("demo")
    key = settings.resolve_groups(ref.config["vocab_size"]).cache_key(load_corpus_text("builtin").sha256)
    assert key["schema_version"] == 1  # the key keeps the schema it was first written under
    old = {"schema_version": 1, "created_utc": "2026-01-01T00:00:00Z", "model": "demo",
           "metrics": {"n_input_probes": 2, "aofe": 1.0}}
    path = tmp_path / "s.sqlite"
    Store(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO audits (model, revision, settings_hash, settings, payload, schema_version, created_at) "
                 "VALUES (?, ?, ?, ?, ?, 1, '2026-01-01T00:00:00Z')",
                 (ref.model_id, ref.resolved_revision, key_hash(key), json.dumps(key), json.dumps(old)))
    conn.commit()
    conn.close()
    result = run_audit("demo", settings, store=Store(path), show_progress=False)
    assert result.from_store
    assert result.record["created_at"] == "2026-01-01T00:00:00Z" and result.record["metrics"]["input_probes"] == 2


def test_a_schema_3_audit_reads_with_one_suffix_rule_and_a_true_gguf_note(tmp_path):
    """Schema 4: F and D lose their "_hat" in every block, the baseline's population D/F moves under
    population, and the GGUF note that said transformers dequantized the weights is corrected in place."""
    path = tmp_path / "s.sqlite"
    Store(path)
    weights = {"format": "gguf", "note": "dequantized from GGUF to the audit dtype by transformers", "file": "x.gguf"}
    old = {"schema_version": 3, "provenance": {"weights": weights},
           "metrics": {"f_hat": 2.0, "f_ci": [1.0, 3.0], "d_hat": 1.0, "population": {"f_hat": 4.0, "d_hat": 3.0}},
           "baseline": {"metrics": {"f_hat": 5.0, "population_diag_share": 0.5, "population_diag_share_ci": [0.4, 0.6]},
                        "runs": [{"metrics": {"d_hat": 6.0, "population": {"f_hat": 7.0}}}]}}
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO audits (model, revision, settings_hash, settings, payload, schema_version, created_at) "
                 "VALUES ('m', 'r', 'h', '{}', ?, 3, '2026-01-01T00:00:00Z')", (json.dumps(old),))
    conn.commit()
    conn.close()
    payload = Store(path).list("audits")[0].payload
    assert payload["metrics"] == {"f": 2.0, "f_ci": [1.0, 3.0], "d": 1.0, "population": {"f": 4.0, "d": 3.0}}
    assert payload["baseline"]["metrics"] == {"f": 5.0, "population": {"diag_share": 0.5, "diag_share_ci": [0.4, 0.6]}}
    assert payload["baseline"]["runs"][0]["metrics"] == {"d": 6.0, "population": {"f": 7.0}}
    note = payload["provenance"]["weights"]["note"]
    assert "gguf-py's arithmetic" in note and "by transformers\"" not in note
    assert list(payload["provenance"]["weights"]) == ["format", "note", "file"]  # corrected in place
