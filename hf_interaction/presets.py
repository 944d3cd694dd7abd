"""Audit probe-size presets (DESIGN §4.2). A module of its own, free of heavy imports, so every CLI
command can offer the presets without importing torch at start-up."""

PRESETS: dict[str, dict[str, int]] = {
    # The paper's defaults.
    "paper": {"T": 256, "n": 128, "input_probes": 16, "output_probes": 32},
    # About a minute for a ~100M-parameter model on 2 CPU cores (see README for measurements).
    "cpu": {"T": 32, "n": 8, "input_probes": 4, "output_probes": 8},
    # The embedded demo models are tiny: longer windows and more probes, still well under two minutes.
    "demo": {"T": 64, "n": 16, "input_probes": 8, "output_probes": 16},
}
