"""`compare` treats audits that differ only in interval-only settings (groups_per_half, chosen from the
vocabulary; n_boot; jvp_method) as comparable: a note, not a settings mismatch. Other settings (T) still
are a mismatch. Models are known only through stored audits (offline Hub ids), so nothing is loaded."""

from __future__ import annotations

import pytest
from tiny_models import FAMILIES

from hf_interaction.audit.presets import INTERVAL_ONLY_SETTINGS
from hf_interaction.compare import compare_models
from hf_interaction.core.store import Store
from hf_interaction.errors import InputError
from hf_interaction.shape.config import shape_from_config

BASE = {"T": 256, "n": 128, "input_probes": 16, "output_probes": 32, "seed": 42, "probe": "wikitext",
        "dtype": "float32", "jvp_method": "forward", "n_boot": 2000, "probe_corpus_sha256": "ab" * 32,
        "schema_version": 1}


def _store(tmp_path, settings_a: dict, settings_b: dict) -> Store:
    store = Store(tmp_path / "store.sqlite")
    for model, settings, vocab in (("org/small-vocab", settings_a, 32000), ("org/large-vocab", settings_b, 151936)):
        shape = shape_from_config({**FAMILIES["llama"], "vocab_size": vocab}, model)
        store.put("audits", model, "e" * 40, settings,
                  {"shape": shape, "metrics": {"aofe": 1.0, "aofe_ratio": 0.5}, "layers": []})
    return store


def test_groups_per_half_and_n_boot_differences_are_not_a_mismatch(tmp_path):
    store = _store(tmp_path, {**BASE, "groups_per_half": 16, "n_boot": 2000},
                   {**BASE, "groups_per_half": 2, "n_boot": 500, "jvp_method": "double_backward"})
    comp = compare_models(["org/small-vocab", "org/large-vocab"], store=store, require_same_settings=True)
    assert [m.audit_status for m in comp.models] == ["stored", "stored"]
    assert comp.settings_mismatch == {}
    # The settings agree, but the vocabularies do not: AOFE side by side is flagged (issue 10, item 5).
    (warning,) = comp.warnings
    assert "not comparable" in warning and "vocabulary V (org/small-vocab: " in warning and "--baseline init" in warning
    hashes = [m.audit_settings_hash for m in comp.models]  # two different full hashes, compared anyway
    assert set(hashes) == {r.key_hash for r in store.list("audits")} and len(set(hashes)) == 2
    note = next(n for n in comp.notes if "confidence intervals" in n)
    for name in ("groups_per_half", "n_boot", "jvp_method"):
        assert name in note
    assert INTERVAL_ONLY_SETTINGS == {"groups_per_half", "n_boot", "jvp_method", "baseline", "baseline_seeds"}


def test_a_window_length_difference_is_still_a_mismatch(tmp_path):
    store = _store(tmp_path, {**BASE, "groups_per_half": 16}, {**BASE, "T": 64, "groups_per_half": 2})
    comp = compare_models(["org/small-vocab", "org/large-vocab"], store=store)
    assert set(comp.settings_mismatch) == {"T"}
    assert len(comp.warnings) == 2 and "T (org/small-vocab: 256, org/large-vocab: 64)" in comp.warnings[0]
    assert "groups_per_half" not in comp.warnings[0]
    assert "window T (org/small-vocab: 256, org/large-vocab: 64)" in comp.warnings[1]
    with pytest.raises(InputError, match="T"):
        compare_models(["org/small-vocab", "org/large-vocab"], store=store, require_same_settings=True)


def test_messages_say_what_an_unset_value_means(tmp_path):
    """groups_per_half None (chosen from the vocabulary), a setting or window length a record lacks:
    said in words in the notes, warnings and compare.md, never ``None``."""
    from dataclasses import asdict

    from hf_interaction.audit.run import AuditSettings
    from hf_interaction.compare import render_markdown
    from hf_interaction.compare.wording import settings_text

    settings_b = {k: v for k, v in BASE.items() if k != "T"}
    store = _store(tmp_path, {**BASE, "groups_per_half": 16}, {**settings_b, "groups_per_half": None})
    comp = compare_models(["org/small-vocab", "org/large-vocab"], store=store)
    note = next(n for n in comp.notes if "confidence intervals" in n)
    assert "groups_per_half (org/small-vocab: 16, org/large-vocab: auto (chosen from the vocabulary" in note
    assert "T (org/small-vocab: 256, org/large-vocab: not recorded)" in comp.warnings[0]
    assert "window T (org/small-vocab: 256, org/large-vocab: not recorded)" in comp.warnings[1]
    for text in [*comp.notes, *comp.warnings, render_markdown(comp)]:
        assert "None" not in text
    assert "None" not in settings_text(asdict(AuditSettings()).items())  # the `auditing ...` line of --run
