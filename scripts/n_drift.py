"""Does the estimate drift with the number of windows n? The paper's conditional F, D/F next to the
population ones, on one model, for several n and window seeds.

    python scripts/n_drift.py demo --n 2 8 32 --seeds 0 1 2 3

Prints a Markdown table: per n, the mean (and spread) over seeds of each estimate. The paper's F
targets ‖Ĝ_n‖², which shrinks towards ‖Ḡ‖² as n grows; the population F targets ‖Ḡ‖² at every n.
"""

from __future__ import annotations

import argparse
import statistics

from hf_interaction.audit.run import AuditSettings, load_for_audit, run_audit


def _summary(values: list[float | None]) -> str:
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    if len(vals) == 1:
        return f"{vals[0]:.4g}"
    return f"{statistics.fmean(vals):.4g} ± {statistics.stdev(vals) / len(vals) ** 0.5:.2g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--preset", default="demo")
    parser.add_argument("--probe", default="builtin")
    parser.add_argument("--n", type=int, nargs="+", default=[2, 8, 32])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    args = parser.parse_args()
    loaded = None
    print("| n | seeds | paper F | population F | paper D/F | population D/F | paper AOFE-ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for n in args.n:
        rows = []
        for seed in args.seeds:
            settings = AuditSettings.from_preset(args.preset, probe=args.probe, n=n, seed=seed)
            loaded = loaded or load_for_audit(args.model, settings)
            m = run_audit(loaded, settings, show_progress=False).record["metrics"]
            rows.append(m)
        pop = [r["population"] for r in rows]
        print(f"| {n} | {len(rows)} | {_summary([r['f_hat'] for r in rows])} | {_summary([p['f_hat'] for p in pop])} "
              f"| {_summary([r['diag_share'] for r in rows])} | {_summary([p['diag_share'] for p in pop])} "
              f"| {_summary([r['aofe_ratio'] for r in rows])} |")


if __name__ == "__main__":
    main()
