import multiprocessing as mp
import os
import sqlite3

import pandas as pd
import pytest

from hf_interaction.errors import UsageError
from hf_interaction.store import Store, settings_hash


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
    assert settings_hash({"a": 1, "b": 2}) == settings_hash({"b": 2, "a": 1})


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
