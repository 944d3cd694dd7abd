"""Coverage and bias of every interval the audit prints, against exact values (issue 19).

Runs the real finalisation (``hf_interaction.agop.finalize``) and the real baseline ratio
(``agop.ustats.log_ratio``, which ``--baseline init`` uses) on simulated audits of window populations
whose AGOP is known exactly (``hf_interaction/agop/coverage.py``: flat, dominated, heavy-tailed
windows, and the exact Jacobians of a tiny random Llama), at the probe counts of the presets, and
prints one table per preset:
coverage of each nominal 95% interval (over the audits where it was shown), how often it was shown,
and the mean relative bias of the reported value with that bias over the spread of the errors.

Usage: python benchmarks/coverage.py [--seeds 400] [--presets cpu,demo,paper] [--populations ...]
Time per population at 400 seeds on one thread: seconds at the cpu and demo presets, about 6 minutes at
the paper preset (n = 128 windows, 32 probes).
"""

from __future__ import annotations

import argparse
import time

from hf_interaction.agop.coverage import PRESET_SIZES, coverage, make_population


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=400)
    ap.add_argument("--presets", default="cpu,demo,paper")
    ap.add_argument("--populations", default="flat,dominated,heavy,micro-llama")
    ap.add_argument("--level", type=float, default=0.95)
    args = ap.parse_args()
    for preset in args.presets.split(","):
        n, O = PRESET_SIZES[preset]  # noqa: E741
        print(f"\n## {preset} preset: n = {n} windows, O = {O} output probes, {args.seeds} seeds, nominal "
              f"{args.level:.0%}\n")
        print("| population | interval | shown | coverage | mean rel. bias | bias / spread |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for kind in args.populations.split(","):
            pop = make_population(kind)
            base = make_population(kind, seed=1) if kind == "micro-llama" else make_population("flat", seed=5)
            t0 = time.perf_counter()
            rows = coverage(pop, n, O, range(args.seeds), level=args.level, baseline=base)
            for r in rows:
                cov = f"{r.coverage:.3f}" if r.shown else "–"
                print(f"| {kind} | {r.name} | {r.shown} | {cov} | {r.bias:+.3f} | {r.bias_over_sd:+.2f} |")
            print(f"<!-- {kind}: {time.perf_counter() - t0:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
