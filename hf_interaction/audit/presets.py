"""Audit probe-size presets (docs/design.md §4.2). A module of its own, free of heavy imports, so every CLI
command can offer the presets without importing torch at start-up."""

PRESETS: dict[str, dict[str, int]] = {
    # The paper's defaults.
    "paper": {"T": 256, "n": 128, "input_probes": 16, "output_probes": 32},
    # A ~100M-parameter model on a CPU (the README has measured times). 64 output probes: F̂'s draws
    # are right-skewed at few probes, and with 8 (or 32) the typical draw on SmolLM2 was 30-40% (18%)
    # below the exact F at the shortest windows (issue 19; docs/metrics.md).
    "cpu": {"T": 32, "n": 8, "input_probes": 4, "output_probes": 64},
    # The embedded demo models are tiny: longer windows and more probes, still well under two minutes.
    "demo": {"T": 64, "n": 16, "input_probes": 8, "output_probes": 32},
    # Sweep checkpoints (``sweep --audit-preset``; T is capped at the sweep's seq_len): tiny models.
    "tiny": {"T": 32, "n": 8, "input_probes": 4, "output_probes": 8, "groups_per_half": 4, "n_boot": 500},
    "small": {"T": 64, "n": 16, "input_probes": 8, "output_probes": 16, "groups_per_half": 4, "n_boot": 1000},
    # For tests and second-scale demos only: too few probes for tight intervals.
    "micro": {"T": 8, "n": 4, "input_probes": 2, "output_probes": 4, "groups_per_half": 1, "n_boot": 200},
}

#: The presets a sweep may audit its checkpoints with (``none`` skips the audit).
SWEEP_AUDIT_PRESETS = ("tiny", "small", "micro", "none")

#: Audit settings that change the confidence intervals (interval units and replicates) or the way the
#: same quantity is computed (the JVP method), not the audit's own point estimates. Audits that differ
#: only in these are comparable: ``groups_per_half`` is chosen from the vocabulary, so two models
#: audited with the same request can differ in it. One exception, stated rather than hidden: with
#: ``--f-estimator hutchinson`` the *population* D is a U-statistic over pairs of probe groups, so
#: ``groups_per_half`` moves it slightly (under 1.2% between 4 and 16 groups on one test model; the
#: default pairs estimator has no groups). ``baseline`` adds a fresh-init measurement beside the
#: model's own numbers and leaves those unchanged.
INTERVAL_ONLY_SETTINGS = frozenset({"groups_per_half", "n_boot", "jvp_method", "baseline", "baseline_seeds"})


#: Entries of an audit's cache key that version the record's format (``AuditSettings.cache_key``), not
#: the measurement: audits that differ only in these measured the same thing the same way.
RECORD_FORMAT_KEYS = frozenset({"schema_version", "metrics_version"})


def comparable_settings(settings: dict) -> dict:
    """The audit settings that change the point estimates (windows, probes, T, n, seed, dtype, corpus)."""
    return {k: v for k, v in settings.items() if k not in INTERVAL_ONLY_SETTINGS | RECORD_FORMAT_KEYS}

#: Hutchinson's population estimates (agop/population.py) above 32 windows: window i is in group
#: (global index) mod this many groups (no population intervals then). The pairs estimator uses
#: contiguous blocks of the sorted windows instead (agop/pairs.py).
DEFAULT_WINDOW_GROUPS = 8
