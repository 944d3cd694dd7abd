"""F̂'s spread over probe seeds at fixed windows, per estimator, on a real model (issue 19).

Loads the model once, draws the audit's own windows once (``make_windows(..., seed=42)``), then runs
the audit's measurement (``audit.measure.measure``: the real accumulation and finalisation) once per probe
seed, for each estimator configuration given. Prints, per configuration: mean F̂ over a reference
(exact F where known, else the first configuration's mean), its standard error, the median draw over
the reference, the relative SD, the median seconds per audit, and spread² × time (lower is better).

The exact F of SmolLM2-135M-Instruct at T = 2 and 4 (n = 2, builtin probe, these windows) is in
``shared/measurements/smollm2-exact-F.md``: pass it with ``--exact``.

Usage:
  python benchmarks/estimator_spread.py smollm2 --T 2 --n 2 --seeds 48 --exact 2.177e18 \\
      --config pairs:8 --config pairs:32 --config hutchinson:4 --config hutchinson:16
  python benchmarks/estimator_spread.py smollm2 --T 32 --n 8 --seeds 8 --config pairs:32 --config hutchinson:4
To time two estimators side by side (equal contention), run one process per configuration with
``--save`` and one thread each, then print the joint table:
  OMP_NUM_THREADS=1 python benchmarks/estimator_spread.py --T 32 --n 8 --seeds 32 --config pairs:32 --save a.json &
  OMP_NUM_THREADS=1 python benchmarks/estimator_spread.py --T 32 --n 8 --seeds 32 --config hutchinson:16 --save b.json
  python benchmarks/estimator_spread.py --merge a.json b.json
Numbers are from one run on the machine it runs on (set OMP/torch threads as you need).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import numpy as np


def _settings(kind: str, probes: int, T: int, n: int):
    from hf_interaction.audit.settings import AuditSettings

    if kind == "pairs":
        return AuditSettings(T=T, n=n, output_probes=probes, probe="builtin", f_estimator="pairs")
    return AuditSettings(T=T, n=n, input_probes=probes, output_probes=8, probe="builtin",
                         f_estimator="hutchinson").resolve_groups(49152)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", nargs="?", default="smollm2")
    ap.add_argument("--T", type=int, default=2)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--first-seed", type=int, default=1000)
    ap.add_argument("--exact", type=float, default=None, help="the exact F of these windows, if known")
    ap.add_argument("--config", action="append", default=[], help="ESTIMATOR:PROBES, e.g. pairs:32 or hutchinson:4")
    ap.add_argument("--with-nfa", action="store_true",
                    help="also form the NFA correlations (the same cost for every estimator; left out by default, "
                         "so the seconds are those of the passes and the estimates)")
    ap.add_argument("--save", help="also write every draw and its seconds to this JSON file")
    ap.add_argument("--merge", nargs="+", metavar="JSON", help="print one table from files written by --save")
    args = ap.parse_args()
    if args.merge:
        results, header = {}, None
        for path in args.merge:
            saved = json.loads(open(path).read())
            header = header or saved["header"]
            for config, (values, seconds) in saved["results"].items():
                results[config] = (np.array(values), statistics.median(seconds))
        _print_table(results, args.exact, header)
        return
    configs = args.config or ["pairs:32", "hutchinson:4"]

    from hf_interaction.audit.measure import MeasureOptions, measure
    from hf_interaction.audit.output_function import OutputFunction
    from hf_interaction.audit.run import _model_kind, load_for_audit
    from hf_interaction.models.adapters import find_parts
    from hf_interaction.models.source import resolve_model
    from hf_interaction.probe import load_corpus_text, make_windows
    from hf_interaction.shape.config import shape_from_config

    ref = resolve_model(args.model)
    base = _settings("pairs", 8, args.T, args.n)
    loaded = load_for_audit(ref, base, device="cpu")
    net = loaded.model.requires_grad_(False)
    shape = shape_from_config(ref.config, ref.model_id)
    parts = find_parts(net, shape["depth"])
    windows = make_windows(load_corpus_text("builtin"), loaded.tokenizer, args.T, args.n, 42)
    fn = OutputFunction(net, parts, _model_kind(ref), windows.prefix_ids)
    options = MeasureOptions(with_nfa=args.with_nfa)
    results, all_seconds = {}, {}
    for config in configs:
        kind, probes = config.split(":")
        settings = _settings(kind, int(probes), args.T, args.n)
        values, seconds = [], []
        all_seconds[config] = seconds
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            t0 = time.perf_counter()
            out = measure(fn, parts, windows, dataclasses.replace(settings, seed=seed), shape["width"], options)
            seconds.append(time.perf_counter() - t0)
            values.append(out.metrics["f"])
        results[config] = (np.array(values), statistics.median(seconds))
        print(f"# {config}: done ({len(values)} seeds, median {results[config][1]:.2f} s)", flush=True)
    header = f"{args.model}, T = {args.T}, n = {args.n}, windows seed 42, {args.seeds} probe seeds"
    if args.save:
        with open(args.save, "w") as f:
            json.dump({"header": header, "results": {c: [v.tolist(), all_seconds[c]] for c, (v, _) in
                                                     results.items()}}, f)
    _print_table(results, args.exact, header)


def _print_table(results: dict, exact: float | None, header: str) -> None:
    first = next(iter(results))
    reference = exact if exact else float(results[first][0].mean())
    label = "exact F" if exact else f"mean of {first}"
    print(f"\n{header}; reference: {label} = {reference:.4g}\n")
    print("| estimator | mean / ref | SE | median / ref | rel SD | s per audit | spread² × time |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for config, (v, sec) in results.items():
        rel = v / reference
        sd = float(np.std(v, ddof=1) / np.mean(v))
        print(f"| {config} | {rel.mean():.3f} | {rel.std(ddof=1) / np.sqrt(rel.size):.3f} | {np.median(rel):.3f} | "
              f"{sd:.3f} | {sec:.2f} | {sd * sd * sec:.3f} |")

if __name__ == "__main__":
    main()
