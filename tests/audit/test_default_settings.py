"""One rule for a model's default audit settings, shared by the CLI, ``compare --run`` and ``run_audit``
(issue 21: the copies in commands/audit.py and compare/select.py disagreed, and ``run_audit("smollm2")``
got neither and went to the network)."""

from __future__ import annotations

import dataclasses

import pytest

from hf_interaction.audit.run import run_audit
from hf_interaction.audit.settings import AuditSettings, default_settings
from hf_interaction.commands.audit import settings_for
from hf_interaction.compare.select import audit_settings_for
from hf_interaction.errors import UsageError
from hf_interaction.models.source import resolve_model


@pytest.mark.parametrize(("model", "preset", "probe"), [
    ("demo", "demo", "builtin"),
    ("demo-deep", "demo", "builtin"),
    ("smollm2", "cpu", "builtin"),
    ("Qwen/Qwen2.5-0.5B", "paper", "wikitext"),
    ("./my-checkpoint", "paper", "wikitext"),
])
def test_default_preset_and_probe_per_model_kind(model, preset, probe):
    assert default_settings(model) == AuditSettings.from_preset(preset, probe=probe)


def test_flags_override_and_none_means_unset():
    s = default_settings("smollm2", "demo", T=16, probe=None, seed=None)
    assert s == AuditSettings.from_preset("demo", probe="builtin", T=16)
    with pytest.raises(UsageError, match="input-probes"):
        default_settings("smollm2", input_probes=4)  # meaningless with the default pairs estimator


def test_cli_and_compare_use_the_same_rule():
    ref = resolve_model("demo")
    for preset in (None, "micro"):
        flags = {"T": None, "n": 4 if preset else None, "probe": None}
        assert settings_for("demo", preset, flags) == default_settings("demo", preset, **flags)
        assert audit_settings_for(ref, {"preset": preset, **flags}) == default_settings("demo", preset, **flags)


@pytest.mark.slow  # a demo-preset audit: seconds
def test_run_audit_without_settings_audits_a_demo_model_offline_with_its_defaults():
    record = run_audit("demo", show_progress=False).record  # tests run offline: wikitext would fail
    assert record["settings"] == dataclasses.asdict(default_settings("demo"))
    assert record["probe"]["probe_spec"] == "builtin" and record["settings"]["T"] == 64  # the demo preset


def test_settings_are_as_measured_once_built():
    """Built directly (the API), pairs settings hold no input probes and no groups: what the record and
    the cache key say is what ran, with no later resolution step; Hutchinson's are kept."""
    pairs = AuditSettings(f_estimator="pairs", input_probes=8, groups_per_half=2)
    assert (pairs.input_probes, pairs.groups_per_half) == (0, None)
    assert dataclasses.replace(pairs, T=16) == AuditSettings(T=16)
    hutchinson = AuditSettings(f_estimator="hutchinson", input_probes=8, groups_per_half=2)
    assert (hutchinson.input_probes, hutchinson.groups_per_half) == (8, 2)
    assert pairs.resolve_groups(49152) is pairs
