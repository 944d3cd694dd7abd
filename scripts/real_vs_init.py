"""Audit a checkpoint with ``--baseline init`` for several seeds and print one Markdown table.

    python scripts/real_vs_init.py smollm2 --preset cpu --seeds 42 43

Each seed draws other windows and probes (and initialises the baseline with that seed), so the rows
show both what the metrics say and how much they move between draws. Nothing is stored. This is
the check every change that touches numbers is run with.
"""

from __future__ import annotations

import argparse
import statistics
import time

from hf_interaction.audit.run import AuditSettings, load_for_audit, run_audit


def _ci(ci, spec: str) -> str:
    return f"[{ci[0]:{spec}}, {ci[1]:{spec}}]" if ci else "[n/a]"


def _nfa(layers: list[dict]) -> str:
    values = [x["nfa_offdiag"] for x in layers if x.get("nfa_offdiag") is not None]
    return f"{statistics.median(values):.3f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--probe", default="builtin")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43])
    args = parser.parse_args()
    print("| model | seed | loss nats/token | AOFE-ratio [CI] | D/F paper [CI] | D/F population [CI] | "
          "log10 D/F over init [CI] | NFA off-diag median | s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for seed in args.seeds:
        settings = AuditSettings.from_preset(args.preset, probe=args.probe, seed=seed, baseline="init")
        loaded = load_for_audit(args.model, settings)
        t0 = time.perf_counter()
        rec = run_audit(loaded, settings, show_progress=False).record
        seconds = time.perf_counter() - t0
        m, base = rec["metrics"], rec["baseline"]
        for label, mm, layers in (("trained", m, rec["layers"]), ("fresh init", base["runs"][0]["metrics"],
                                                                  base["runs"][0]["layers"])):
            pop = mm["population"]
            ratio = ""
            if label == "trained" and m.get("diag_share_vs_baseline_log10") is not None:
                ratio = (f"{m['diag_share_vs_baseline_log10']:+.3f} {_ci(m['diag_share_vs_baseline_log10_ci'], '+.3f')}"
                         f" ({m['diag_share_vs_baseline_basis']})")
            share = f"{pop['diag_share']:.2e} {_ci(pop['diag_share_ci'], '.2e')}" if pop.get("diag_share") else "-"
            print(f"| {label} | {seed} | {mm.get('probe_loss_nats_per_token', float('nan')):.3f} | "
                  f"{mm['aofe_ratio']:.6f} {_ci(mm['aofe_ratio_ci'], '.6f')} | "
                  f"{mm['diag_share']:.2e} {_ci(mm['diag_share_ci'], '.2e')} | {share} | {ratio} | "
                  f"{_nfa(layers)} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
