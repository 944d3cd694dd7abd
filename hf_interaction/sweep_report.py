"""The sweep report: figures and a markdown page from a sweep record (DESIGN.md §8).

Figures (PNG, matplotlib Agg):

- ``sweep_loss_vs_rdw.png`` — mean validation loss against R_D/W (log x) with seed error bars
  (min-max over seeds), the derived interval shaded and the default interval dashed;
- ``sweep_aofe_vs_rdw.png`` — AOFE and AOFE-ratio (DESIGN §4.2) against R_D/W.

``paper_bands.csv`` holds the per-budget optimum and band derived from the authors' table.

The markdown page also sets the sweep beside the paper authors' own sweeps
(``reports/reference/paper_ntp_sweep.csv``): for each of their budgets the loss-optimal R_D/W and
the band of shapes within the same tolerance of their best test loss, and the band common to budgets
1M-3M (and 1M-10M), which is how the default interval [0.0204, 0.0645] was obtained.
"""

from __future__ import annotations

from pathlib import Path

from .interval import DEFAULT_INTERVAL

PAPER_CSV_NAME = "paper_ntp_sweep.csv"
PAPER_SOURCE = ("paper authors' sweeps, repository wenjie1835/Interaction_Law @853f922, "
                "budget_scaling/transformer_ntp_shape_sweep/ntp_sweep_merged_by_budget_and_shape.csv "
                "(copied to reports/reference/paper_ntp_sweep.csv)")


def paper_csv_path() -> Path | None:
    """The authors' table in the source tree (``reports/reference``), or None in an installed package."""
    path = Path(__file__).resolve().parents[1] / "reports" / "reference" / PAPER_CSV_NAME
    return path if path.is_file() else None


def paper_bands(csv_path: str | Path, tolerance: float = 0.02) -> dict:
    """Per budget: the loss-optimal R_D/W and the band within ``tolerance`` of the best test loss;
    plus the bands common to budgets 1M-3M and 1M-10M (intersection of the per-budget bands)."""
    import pandas as pd

    table = pd.read_csv(csv_path)
    per_budget = []
    for budget, group in table.groupby("target_n"):
        best = group.loc[group["test_ce"].idxmin()]
        band = group[group["test_ce"] <= best["test_ce"] * (1 + tolerance)]
        per_budget.append({"budget": int(budget), "shapes": len(group), "optimal_depth": int(best["depth"]),
                           "optimal_width": int(best["d_model"]), "optimal_r_dw": float(best["depth_over_d_model"]),
                           "best_test_loss": float(best["test_ce"]),
                           "band_lo": float(band["depth_over_d_model"].min()),
                           "band_hi": float(band["depth_over_d_model"].max()),
                           "band_depths": sorted(int(d) for d in band["depth"])})

    def common(lo_budget: int, hi_budget: int) -> dict:
        rows = [r for r in per_budget if lo_budget <= r["budget"] <= hi_budget]
        return {"budgets": f"{lo_budget:,}-{hi_budget:,}", "lo": max(r["band_lo"] for r in rows),
                "hi": min(r["band_hi"] for r in rows)}

    large = [r["optimal_r_dw"] for r in per_budget if r["budget"] >= 1_000_000]
    return {"per_budget": per_budget, "common_1M_3M": common(1_000_000, 3_000_000),
            "common_1M_10M": common(1_000_000, 10_000_000),
            "optimal_range_ge_1M": [min(large), max(large)], "tolerance": tolerance}


def plot_loss(record: dict, path: Path) -> None:
    """Validation loss against R_D/W with seed error bars and both intervals."""
    plt = _pyplot()
    summary, derived = record["summary"], record["interval"]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = [s["r_dw"] for s in summary]
    y = [s["val_loss_mean"] for s in summary]
    err = [[s["val_loss_mean"] - s["val_loss_min"] for s in summary],
           [s["val_loss_max"] - s["val_loss_mean"] for s in summary]]
    ax.axvspan(derived["lo"], derived["hi"], color="tab:green", alpha=0.18, label="derived interval")
    ax.axvline(DEFAULT_INTERVAL.lo, color="grey", ls="--", lw=1, label="default interval (paper)")
    ax.axvline(DEFAULT_INTERVAL.hi, color="grey", ls="--", lw=1)
    ax.errorbar(x, y, yerr=err, fmt="o-", color="tab:blue", capsize=3, label="mean over seeds (min-max)")
    for s in summary:
        ax.annotate(f"L={s['depth']}", (s["r_dw"], s["val_loss_mean"]), textcoords="offset points",
                    xytext=(4, 5), fontsize=7)
    ax.axhline(derived["threshold"], color="tab:green", lw=0.8, ls=":", label=f"best + {derived['tolerance']:.0%}")
    _log_x(ax, [*x, derived["lo"], derived["hi"]])
    ax.set_xlabel("R_D/W = depth / width (log)")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title(f"budget {record['settings']['budget']:,} {record['settings']['match']} params")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_aofe(record: dict, path: Path) -> None:
    """AOFE and AOFE-ratio (means over seeds, min-max bars) against R_D/W, the derived interval shaded."""
    plt = _pyplot()
    rows, derived = record["rows"], record["interval"]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for ax, key, label in ((axes[0], "aofe", "AOFE"), (axes[1], "aofe_ratio", "AOFE-ratio")):
        ax.axvspan(derived["lo"], derived["hi"], color="tab:green", alpha=0.18)
        for lim in (DEFAULT_INTERVAL.lo, DEFAULT_INTERVAL.hi):
            ax.axvline(lim, color="grey", ls="--", lw=1)
        pts = [(r["r_dw"], r[key]) for r in rows if r.get(key) is not None]
        if pts:
            ax.scatter(*zip(*pts, strict=True), color="tab:purple", s=18)
        _log_x(ax, [r["r_dw"] for r in rows] + [derived["lo"], derived["hi"]])
        if key == "aofe" and pts and all(v > 0 for _, v in pts):
            ax.set_yscale("log")
        ax.set_xlabel("R_D/W (log)")
        ax.set_ylabel(label)
    fig.suptitle("input-space AGOP interaction (each point: one seed)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _log_x(ax, ratios: list[float]) -> None:
    """Log x axis with plain tick labels at 1-2-5 steps spanning the data and the default interval."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, StrMethodFormatter

    ax.set_xscale("log")
    lo = min([*ratios, DEFAULT_INTERVAL.lo]) / 1.3
    hi = max([*ratios, DEFAULT_INTERVAL.hi]) * 1.3
    ticks = [m * 10.0 ** e for e in range(-4, 2) for m in (1, 2, 5) if lo <= m * 10.0 ** e <= hi]
    ax.set_xlim(lo, hi)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _total_wall(record: dict) -> float:
    return record.get("wall_time_total_s", record["wall_time_s"])


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}g}"


def render_markdown(record: dict, paper: dict | None) -> str:
    """The report page: settings, the per-shape table, the derived interval, the paper comparison."""
    st, data, derived = record["settings"], record["data"], record["interval"]
    lines = [
        f"# Shape sweep: budget {st['budget']:,} {st['match']} parameters",
        "",
        f"Architecture `{st['arch']}`, head dimension {st['head_dim']}, FFN ratio {st['ffn_ratio']:g}, "
        f"depths {', '.join(map(str, st['depths']))}, {st['seeds']} seed(s). Corpus `{data['corpus']}` "
        f"({data['corpus_description']}; sha256 `{data['corpus_sha256'][:16]}`), tokenizer: {data['tokenizer']}. "
        f"Every shape trained on the same {data['tokens_trained']:,} tokens ({st['tokens_per_param']:g} per budget "
        f"parameter; {data['steps']} steps of {st['batch_size']} × {st['seq_len']}; {data['epochs']:.2f} epochs "
        f"of {data['train_tokens_available']:,} training tokens) in the same order (stream sha256 "
        f"`{data['train_stream_sha256'][:16]}`), validated on the same {data['val_windows']} held-out windows "
        f"({data['val_tokens']:,} tokens, sha256 `{data['val_windows_sha256'][:16]}`). AdamW "
        f"(β 0.9/0.95, weight decay {st['weight_decay']:g} on matrices), peak lr {st['lr']:g}, linear warm-up "
        f"{st['warmup_frac']:.0%} then cosine to {st['min_lr_ratio']:g}× peak, gradient clip {st['grad_clip']:g}. "
        f"Audit preset `{st['audit_preset']}`. Wall time {_total_wall(record) / 60:.1f} min over all invocations "
        f"(training time summed over runs {sum(r['train_wall_s'] for r in record['rows']) / 60:.1f} min).",
        "",
        "Matching rule: for each depth, the width (a multiple of the head dimension) whose exact meta-device "
        f"{st['match']} parameter count is closest to the budget; nothing padded; mismatch = achieved / budget - 1.",
        "",
        "## Shapes",
        "",
        "| depth | width | heads | FFN | R_D/W | params (matched) | mismatch | total params | val loss mean "
        "| seed std | min | max | AOFE | AOFE-ratio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in record["summary"]:
        spread = f"{s['val_loss_std']:.4f}" if s["seeds"] > 1 else "- (1 seed)"
        lines.append(
            f"| {s['depth']} | {s['width']} | {s['heads']} | {s['ffn_width']} | {s['r_dw']:.4f} | "
            f"{s['achieved_params']:,} | {s['mismatch']:+.1%} | {s['total_params']:,} | {s['val_loss_mean']:.4f} | "
            f"{spread} | {s['val_loss_min']:.4f} | {s['val_loss_max']:.4f} | "
            f"{_fmt(s['aofe_mean'])} | {_fmt(s['aofe_ratio_mean'])} |")
    lines += [
        "",
        f"## Derived interval (within {derived['tolerance']:.0%} of the best mean validation loss)",
        "",
        f"- loss-optimal shape: depth {derived['optimal_depth']}, width {derived['optimal_width']}, "
        f"R_D/W = {derived['optimal_r_dw']:.4f}, mean validation loss {derived['best_val_loss']:.4f}",
        f"- band: depths {', '.join(map(str, derived['band_depths']))}; **R_D/W ∈ [{derived['lo']:.4f}, "
        f"{derived['hi']:.4f}]** (`interval.json`, usable as `--interval-file`)",
        f"- contiguous in depth: {'yes' if derived['contiguous'] else 'no'}",
    ]
    lines += [f"- note: {n}" for n in derived["notes"]]
    ratios = [s["r_dw"] for s in record["summary"]]
    lines.append(f"- R_D/W covered by this sweep: {min(ratios):.4f}-{max(ratios):.4f}; an optimum at either end "
                 "means the true optimum may lie beyond the swept range")
    missing = sorted(name for name, status in record.get("statuses", {}).items() if status.startswith("missing"))
    if missing:
        lines.append(f"- **incomplete**: {len(missing)} run(s) not trained, left out: {', '.join(missing)}")
    lines += ["", "![loss](sweep_loss_vs_rdw.png)", "", "![aofe](sweep_aofe_vs_rdw.png)", ""]
    lines += _paper_section(record, paper)
    return "\n".join(lines) + "\n"


def _paper_section(record: dict, paper: dict | None) -> list[str]:
    if paper is None:
        return ["## Paper comparison", "", "The authors' table was not found (run from the source tree).", ""]
    derived, st = record["interval"], record["settings"]
    totals = [s["total_params"] for s in record["summary"]]
    c13, c110 = paper["common_1M_3M"], paper["common_1M_10M"]
    lo_opt, hi_opt = paper["optimal_range_ge_1M"]
    out = [
        "## Side by side with the paper authors' sweeps",
        "",
        f"Source: {PAPER_SOURCE}. Their setup: byte-level WikiText-103, T = 256, head dim 4, d_ff = 4d, "
        "budgets counted as total parameters, one seed; loss = test cross-entropy (nats/byte). Bands below use "
        f"the same {paper['tolerance']:.0%} rule as this sweep.",
        "",
        "| budget | shapes | optimal depth | optimal width | optimal R_D/W | best test loss | band lo | band hi "
        "| band depths |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in paper["per_budget"]:
        out.append(f"| {r['budget']:,} | {r['shapes']} | {r['optimal_depth']} | {r['optimal_width']} | "
                   f"{r['optimal_r_dw']:.4f} | {r['best_test_loss']:.4f} | {r['band_lo']:.4f} | {r['band_hi']:.4f} | "
                   f"{', '.join(map(str, r['band_depths']))} |")
    inside = lo_opt <= derived["optimal_r_dw"] <= hi_opt
    overlap = max(derived["lo"], c13["lo"]) < min(derived["hi"], c13["hi"])
    out += [
        "",
        f"- Scale: this sweep's budget is {st['budget']:,} {st['match']} parameters ({min(totals):,}-{max(totals):,} "
        f"total) with {record['data']['tokens_trained']:,} training tokens; the authors' budgets are "
        f"{paper['per_budget'][0]['budget']:,}-{paper['per_budget'][-1]['budget']:,} total parameters, and their "
        "interval comes from budgets ≥ 1M.",
        f"- Their optimal R_D/W for budgets ≥ 1M: {lo_opt:.4f}-{hi_opt:.4f}. This sweep's optimum "
        f"{derived['optimal_r_dw']:.4f} is **{'inside' if inside else 'outside'}** that range.",
        f"- Their band common to budgets {c13['budgets']}: [{c13['lo']:.4f}, {c13['hi']:.4f}] (the default "
        f"interval); common to {c110['budgets']}: [{c110['lo']:.4f}, {c110['hi']:.4f}].",
        f"- This sweep's band [{derived['lo']:.4f}, {derived['hi']:.4f}] "
        f"{'overlaps' if overlap else 'does not overlap'} their 1M-3M band.",
        "",
    ]
    return out


def _write_paper_bands(paper: dict, path: Path) -> None:
    """The per-budget optimum and band derived from the authors' table, as CSV (with its source)."""
    import csv

    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["budget", "shapes", "optimal_depth", "optimal_width", "optimal_r_dw", "best_test_loss",
                         "band_lo", "band_hi", "band_depths", "tolerance", "source"])
        for r in paper["per_budget"]:
            writer.writerow([r["budget"], r["shapes"], r["optimal_depth"], r["optimal_width"], r["optimal_r_dw"],
                             r["best_test_loss"], r["band_lo"], r["band_hi"], " ".join(map(str, r["band_depths"])),
                             paper["tolerance"], PAPER_SOURCE])


def write_report(record: dict, out_dir: str | Path) -> Path:
    """Write the figures and ``sweep_report.md`` into ``out_dir``; returns the markdown path."""
    out = Path(out_dir)
    plot_loss(record, out / "sweep_loss_vs_rdw.png")
    plot_aofe(record, out / "sweep_aofe_vs_rdw.png")
    csv_path = paper_csv_path()
    paper = paper_bands(csv_path, record["interval"]["tolerance"]) if csv_path else None
    if paper is not None:
        _write_paper_bands(paper, out / "paper_bands.csv")
    md = out / "sweep_report.md"
    md.write_text(render_markdown(record, paper))
    return md
