"""Will the audit fit? The CUDA memory plan of every model of a list at a preset, by the audit's own
rules (audit/device_memory.py), without a GPU (issue 19, item 7).

For each model (shape from the list's config fields; weights from its exact parameter count) on a GPU
of ``--gpu-gb`` GB, the audit's rules give: the pairs estimator's VJP store (n × O × T × d, float32),
the store budget (half the memory left after the weights and a CUDA context of ``--context-gb``), and
the windows per model pass (half of what is left after the store and the diagonal budget, over the
rough per-window estimate of ``window_bytes``). A model is "refused" when the store exceeds its
budget (the audit then stops with a line that says what to change) and "at risk" when even one window
is estimated above the room left for passes at the default (all probes in one pass); for those it
names the largest ``--probe-batch`` whose one window fits. These are the code's estimates, not a measured peak: a
GPU run (benchmarks/gpu_paper_preset.py) is what measures.

Usage: python benchmarks/memory_plan.py [--list model_lists/open_llm_leaderboard.csv] [--preset paper]
       [--gpu-gb 80] [--dtype float32] [--max-params-b 10]
"""

from __future__ import annotations

import argparse
import csv

GIB = 2**30


def main() -> None:
    from hf_interaction.audit.device_memory import (
        probe_batch_that_fits,
        room_for_passes,
        window_bytes,
        windows_that_fit,
    )
    from hf_interaction.audit.settings import AuditSettings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", default="model_lists/open_llm_leaderboard.csv")
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--gpu-gb", type=float, default=80.0)
    ap.add_argument("--context-gb", type=float, default=1.0, help="CUDA context and allocator slack")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--max-params-b", type=float, default=10.0)
    args = ap.parse_args()

    settings = AuditSettings.from_preset(args.preset, dtype=args.dtype)
    elem = 4 if args.dtype == "float32" else 2
    seen, rows = set(), []
    for row in csv.DictReader(open(args.list, encoding="utf-8")):
        if row["model_id"] in seen or float(row["total_params"]) > args.max_params_b * 1e9:
            continue
        seen.add(row["model_id"])
        L, d, V = int(row["num_hidden_layers"]), int(row["hidden_size"]), int(row["vocab_size"])
        total = float(row["total_params"])
        tied = row["tie_word_embeddings"].strip().lower() in ("true", "1")
        block_params = (total - V * d * (1 if tied else 2)) / L
        free = int(args.gpu_gb * 1e9 - total * elem - args.context_gb * GIB)
        store, room = settings.pair_store_bytes(d), room_for_passes(settings, free, d)
        shape = (L, d, int(block_params), V, elem)
        per_window = window_bytes(settings.T + 1, settings.output_probes, *shape)
        batch = probe_batch_that_fits(settings, free, settings.T + 1, *shape)  # the audit's own choice
        per_pass_window = window_bytes(settings.T + 1, batch or settings.output_probes, *shape)
        if store > free // 2:  # pair_store_budget on CUDA: half the free memory
            status, windows = "refused", 0
        elif per_pass_window > room:
            status, windows = "at risk", 0
        else:
            status = "fits" if batch is None else f"--probe-batch {batch}"
            windows = windows_that_fit(settings, free, per_pass_window, d)
        rows.append((row["model_id"], total / 1e9, total * elem / 1e9, store / 1e9, free / 2e9, per_window / 1e9,
                     room / 1e9, windows, status))

    print(f"{args.list}: {len(rows)} models ≤ {args.max_params_b:g}B; preset {args.preset} (T = {settings.T}, "
          f"n = {settings.n}, O = {settings.output_probes}), {args.dtype}, one {args.gpu_gb:g} GB GPU\n")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r[-1]] = counts.get(r[-1], 0) + 1
    print(" · ".join(f"{k}: {v}" for k, v in sorted(counts.items())) + "\n")
    print("| model | params B | weights GB | store GB | store budget GB | one window GB (est.) | room for passes GB "
          "| windows per pass | plan |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    shown = sorted(rows, key=lambda r: (r[-1] == "fits", -r[1]))[:12]
    for r in shown:
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.1f} | {r[7]} "
              f"| {r[8]} |")
    print(f"\n(the {len(shown)} largest or not fitting of {len(rows)}; estimates by the audit's rules, not measured)")


if __name__ == "__main__":
    main()
