"""The embedded SQLite results store (docs/design.md §6).

One table per kind of result (shapes, audits, evaluations, sweeps), all with the same columns and
keyed by (model, revision, key hash): the *key* is the dict of everything that changes a record's
numbers (an audit's settings with its corpus and versions, an evaluation's settings), stored as JSON
beside the payload (the record itself; the SQL column keeps its first name, ``settings``). Each write is one SQLite
transaction, so a crash or a kill mid-write leaves either the whole record or nothing; concurrent
writers from several processes are serialised by SQLite's file lock. A ``failures`` table holds why
a model of an ``audit --list`` / ``eval --list`` run failed (``hf_interaction.commands.batch``).

Location: ``$HF_INTERACTION_STORE`` (a file path) if set, else ``store.sqlite`` in the user cache
directory (``platformdirs.user_cache_dir("hf-interaction")``).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, UsageError
from ..schema.spec import SCHEMA_VERSION
from ..schema.upgrade import upgrade
from .runtime import utc_now

KINDS = ("shapes", "audits", "evaluations", "sweeps")
STORE_ENV = "HF_INTERACTION_STORE"
_STORE_HINT = "move the file away, or point --store / HF_INTERACTION_STORE at another file"

_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    revision TEXT NOT NULL,
    settings_hash TEXT NOT NULL,
    settings TEXT NOT NULL,
    payload TEXT NOT NULL,
    schema_version INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (model, revision, settings_hash)
)
"""

#: Why a model of an ``audit --list`` / ``eval --list`` run failed: one row per (kind, model), the
#: newest failure; removed when that model's run later succeeds (``hf_interaction.commands.batch``).
_FAILURES_SQL = """
CREATE TABLE IF NOT EXISTS failures (
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    reason TEXT NOT NULL,
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (kind, model)
)
"""


def default_store_path() -> Path:
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("hf-interaction")) / "store.sqlite"


def key_hash(key: dict) -> str:
    """A stable 16-hex-digit hash of a key dict (key order does not matter)."""
    canon = json.dumps(key, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Record:
    kind: str
    model: str
    revision: str
    key_hash: str
    key: dict
    payload: dict
    schema_version: int
    created_at: str

    def to_dict(self) -> dict:
        """The record as ``store ls --json`` and ``store export`` write it: where it is kept, then the key
        and the payload."""
        names = ("kind", "model", "revision", "key_hash", "schema_version", "created_at", "key", "payload")
        return {name: getattr(self, name) for name in names}


def _check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise UsageError(f"unknown result kind {kind!r}; expected one of {', '.join(KINDS)}")
    return kind


class Store:
    """A results store backed by one SQLite file."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the results store's directory {self.path.parent}: {exc.strerror}",
                             _STORE_HINT) from None
        with self._connect() as conn:
            self._check_is_store(conn)
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            # The newest record schema in the file: an older hf-interaction then refuses it rather than misread it.
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?",
                         (str(SCHEMA_VERSION), SCHEMA_VERSION))
            for kind in KINDS:
                conn.execute(_TABLE_SQL.format(table=kind))
            conn.execute(_FAILURES_SQL)

    def _check_is_store(self, conn: sqlite3.Connection) -> None:
        """Refuse a file that is not an SQLite database, or one that some other program made (tables
        but no ``meta`` table of ours), or one written by a newer schema than this version reads."""
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "meta" not in tables:
            raise InputError(f"{self.path} is an SQLite database but not an hf-interaction results store "
                             f"(tables: {', '.join(sorted(tables)[:5])})", _STORE_HINT)
        if "meta" in tables:
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row and str(row[0]).isdigit() else None
            if version is None:
                raise InputError(f"{self.path} has no readable schema version: not an hf-interaction results "
                                 "store", _STORE_HINT)
            if version > SCHEMA_VERSION:
                raise InputError(f"{self.path} was written by a newer hf-interaction (store schema {version}; "
                                 f"this version reads up to {SCHEMA_VERSION})", "upgrade hf-interaction")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction; SQLite's own errors on a damaged or foreign file become one InputError line."""
        try:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except sqlite3.Error as exc:
            raise InputError(f"cannot open the results store at {self.path}: {exc}", _STORE_HINT) from None
        try:
            try:
                conn.execute("PRAGMA busy_timeout = 60000")
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise InputError(f"{self.path} is not a readable results store ({exc})", _STORE_HINT) from None
            try:
                yield conn
            except sqlite3.DatabaseError as exc:
                conn.execute("ROLLBACK")
                raise InputError(f"the results store {self.path} is damaged or not a results store ({exc})",
                                 _STORE_HINT) from None
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def put(self, kind: str, model: str, revision: str, key: dict, payload: dict) -> Record:
        """Insert or replace the record for (model, revision, key) in one transaction."""
        _check_kind(kind)
        digest = key_hash(key)
        created = utc_now()
        key_json = json.dumps(key, sort_keys=True, default=str)
        payload_json = json.dumps(payload, sort_keys=True, default=str, allow_nan=True)
        with self._connect() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO {kind} "
                "(model, revision, settings_hash, settings, payload, schema_version, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (model, revision, digest, key_json, payload_json, SCHEMA_VERSION, created),
            )
        return Record(kind, model, revision, digest, json.loads(key_json), json.loads(payload_json),
                      SCHEMA_VERSION, created)

    def get(self, kind: str, model: str, revision: str, key: dict) -> Record | None:
        """The stored record for exactly this key, or None (a cache miss)."""
        _check_kind(kind)
        rows = self._select(kind, "model = ? AND revision = ? AND settings_hash = ?",
                            (model, revision, key_hash(key)))
        return rows[0] if rows else None

    def list(self, kind: str | None = None, model: str | None = None) -> list[Record]:
        """All records of one kind (or every kind), optionally for one model, oldest first."""
        kinds = [_check_kind(kind)] if kind else list(KINDS)
        out: list[Record] = []
        for k in kinds:
            if model is None:
                out += self._select(k, "1 = 1", ())
            else:
                out += self._select(k, "model = ?", (model,))
        return out

    def latest(self, kind: str, model: str) -> builtins.list[Record]:
        """Records of one kind for a model, newest first (by insertion order: ``created_at`` has
        one-second resolution, and a replaced record is re-inserted, so row order is the truth)."""
        return list(reversed(self.list(kind, model)))

    def delete(self, kind: str, model: str, revision: str, key: dict) -> bool:
        _check_kind(kind)
        with self._connect() as conn:
            cur = conn.execute(
                f"DELETE FROM {kind} WHERE model = ? AND revision = ? AND settings_hash = ?",
                (model, revision, key_hash(key)),
            )
            return cur.rowcount > 0

    def record_failure(self, kind: str, model: str, reason: str, key: dict | None = None) -> None:
        """Record why ``model`` (as a list names it) failed for ``kind``; replaces an older failure."""
        _check_kind(kind)
        with self._connect() as conn:
            conn.execute("INSERT OR REPLACE INTO failures (kind, model, reason, settings, created_at) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (kind, model, reason, json.dumps(key or {}, sort_keys=True, default=str), utc_now()))

    def clear_failure(self, kind: str, model: str) -> None:
        """Forget a recorded failure (the model has now run or been found in the store)."""
        _check_kind(kind)
        with self._connect() as conn:
            conn.execute("DELETE FROM failures WHERE kind = ? AND model = ?", (kind, model))

    def failures(self, kind: str | None = None) -> builtins.list[dict]:
        """Recorded failures (kind, model, reason, key, created_at), oldest first."""
        where, args = ("kind = ?", (_check_kind(kind),)) if kind else ("1 = 1", ())
        with self._connect() as conn:
            rows = conn.execute(f"SELECT kind, model, reason, settings, created_at FROM failures WHERE {where} "
                                "ORDER BY created_at, kind, model", args).fetchall()
        return [{"kind": k, "model": m, "reason": r, "key": json.loads(s), "created_at": c}
                for k, m, r, s, c in rows]

    def _select(self, kind: str, where: str, args: tuple) -> builtins.list[Record]:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT model, revision, settings_hash, settings, payload, schema_version, created_at "
                f"FROM {kind} WHERE {where} ORDER BY id",
                args,
            ).fetchall()
        # Records of an earlier schema are read with today's key names (schema/upgrade.py); a newer one is refused.
        return [Record(kind, m, r, h, json.loads(s), upgrade(kind, json.loads(p), v), SCHEMA_VERSION, c)
                for m, r, h, s, p, v, c in rows]

    def export(self, path: str | Path, kind: str | None = None) -> Path:
        """Write records to JSON, CSV or Parquet, chosen by the file suffix.

        JSON keeps the nested key/payload; CSV and Parquet flatten them into dotted columns.
        The file is written to a temporary name and renamed, so a failed export leaves nothing.
        """
        import pandas as pd

        out = Path(path)
        suffix = out.suffix.lower()
        if suffix not in (".json", ".csv", ".parquet"):
            raise UsageError(f"export format is chosen by the suffix: .json, .csv or .parquet, got {out.name!r}")
        records = [r.to_dict() for r in self.list(kind)]
        tmp = out.with_name(out.name + ".partial")
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            if suffix == ".json":
                tmp.write_text(json.dumps(records, indent=2, sort_keys=True, default=str))
            else:
                frame = pd.json_normalize(records, sep=".") if records else pd.DataFrame()
                # Lists (per-layer profiles, bootstrap samples) do not fit a flat column: keep them as JSON.
                for col in frame.columns:
                    if frame[col].map(lambda v: isinstance(v, (list, dict))).any():
                        frame[col] = frame[col].map(lambda v: json.dumps(v) if isinstance(v, (list, dict)) else v)
                if suffix == ".csv":
                    frame.to_csv(tmp, index=False)
                else:
                    frame.to_parquet(tmp, index=False)
            tmp.replace(out)
        finally:
            tmp.unlink(missing_ok=True)
        return out
