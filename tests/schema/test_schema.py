"""The record schema (hf_interaction/schema/): every key documented with its type, docs/schema.md
generated from it, and records of an earlier schema version read with today's names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hf_interaction import api, schema
from hf_interaction.core.store import Store
from hf_interaction.schema.upgrade import RENAMES

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schema.md"


def test_docs_schema_md_is_generated_from_the_schema():
    assert DOCS.read_text(encoding="utf-8") == schema.reference_markdown(), (
        "docs/schema.md is stale: run `python -m hf_interaction.schema > docs/schema.md`")


@pytest.mark.parametrize("kind", sorted(schema.KINDS))
def test_every_kind_has_documented_keys(kind):
    s = schema.schema_of(kind)
    assert s.kind == kind and len(s.keys) >= 10
    assert all(k.meaning.strip() for k in s.keys), [k.path for k in s.keys if not k.meaning.strip()]
    paths = {k.path for k in s.keys}
    for k in s.keys:  # every nested key hangs below a documented parent
        parent = k.path.rsplit(".", 1)[0].removesuffix("[]") if "." in k.path else None
        assert parent is None or parent in paths, k.path


def test_a_shape_record_conforms(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    api.shape("demo", store=store)
    (rec,) = store.list("shapes")
    assert schema.problems("shape", rec.payload) == []


def test_the_checker_finds_undocumented_keys_wrong_types_and_missing_keys(tmp_path):
    store = Store(tmp_path / "s.sqlite")
    api.shape("demo", store=store)
    payload = json.loads(json.dumps(store.list("shapes")[0].payload))
    payload["surprise"] = 1
    payload["depth"] = "four"
    del payload["width"]
    payload["provenance"]["weights"]["bogus"] = True
    found = schema.problems("shape", payload)
    assert "shape: undocumented key surprise" in found
    assert "shape: depth is str, documented as int" in found
    assert "shape: missing key width" in found
    assert "shape: undocumented key provenance.weights.bogus" in found


def test_every_renamed_key_is_documented_under_its_new_name():
    for steps in RENAMES.values():
        for kind, pairs in steps.items():
            documented = {k.path for k in schema.schema_of(kind).keys}
            for _old, new in pairs:
                assert new is None or new in documented, (kind, new)
                assert _old not in documented, (kind, _old)


def test_upgrade_moves_keys_between_blocks_and_drops_retired_ones():
    old = {"schema_version": 1, "run": {"num_processes": 1}, "wall_time_s": 3.0, "lm_eval_version": "0.4"}
    new = schema.upgrade("evaluations", old, 1)
    assert new == {"schema_version": schema.SCHEMA_VERSION, "runtime": {"num_processes": 1, "wall_time_s": 3.0}}
    assert old["run"] == {"num_processes": 1}  # the input is not modified
    assert schema.upgrade("audits", {"x": 1}, schema.SCHEMA_VERSION) == {"x": 1}
