"""The sweep report (docs/design.md §8): ``sweep_report.md`` with its figures and ``paper_bands.csv``,
built from a sweep record as document blocks (``hf_interaction.core.document``).

The page gives the settings, the per-shape table, the derived interval and, side by side, the paper
authors' own sweeps (``paper.py``): their per-budget optimum and band under the same tolerance.
"""

from __future__ import annotations

from pathlib import Path

from ..core.document import Block, Bullets, FigureRef, Heading, Para, Table, to_markdown
from ..core.numbers import cell, count, fixed
from ..core.outputs import Writer, bytes_writer, text_writer, write_together
from .figures import AOFE_FIGURE, CAPTIONS, LOSS_FIGURE, sweep_figures
from .paper import PAPER_SOURCE, paper_bands, paper_bands_csv, paper_csv_path

REPORT_NAME = "sweep_report.md"
PAPER_BANDS_NAME = "paper_bands.csv"


def _total_wall(record: dict) -> float:
    return record["runtime"]["wall_time_total_s"]


def report_blocks(record: dict, paper: dict | None) -> list[Block]:
    """The report page: settings, the per-shape table, the derived interval, the paper comparison."""
    st, data, derived = record["settings"], record["data"], record["interval"]
    blocks: list[Block] = [
        Heading(1, f"Shape sweep: budget {count(st['budget'])} {st['match']} parameters"),
        Para(f"Architecture `{st['arch']}`, head dimension {st['head_dim']}, FFN ratio {st['ffn_ratio']:g}, "
             f"depths {', '.join(map(str, st['depths']))}, {st['seeds']} seed(s). Corpus `{data['corpus']}` "
             f"({data['corpus_description']}; sha256 `{data['corpus_sha256'][:16]}`), tokenizer: "
             f"{data['tokenizer']}. Every shape trained on the same {count(data['tokens_trained'])} tokens "
             f"({st['tokens_per_param']:g} per budget parameter; {data['steps']} steps of {st['batch_size']} × "
             f"{st['seq_len']}; {fixed(data['epochs'], 2)} epochs of {count(data['train_tokens_available'])} "
             f"training tokens) in the same order (stream sha256 `{data['train_stream_sha256'][:16]}`), validated "
             f"on the same {data['val_windows']} held-out windows ({count(data['val_tokens'])} tokens, sha256 "
             f"`{data['val_windows_sha256'][:16]}`). AdamW (β 0.9/0.95, weight decay {st['weight_decay']:g} on "
             f"matrices), peak lr {st['lr']:g}, linear warm-up {st['warmup_frac']:.0%} then cosine to "
             f"{st['min_lr_ratio']:g}× peak, gradient clip {st['grad_clip']:g}. Audit preset "
             f"`{st['audit_preset']}`. Wall time {fixed(_total_wall(record) / 60, 1)} min over all invocations "
             f"(training time summed over runs {fixed(sum(r['train_wall_s'] for r in record['rows']) / 60, 1)} "
             "min)."),
        Para("Matching rule: for each depth, the width (a multiple of the head dimension) whose exact meta-device "
             f"{st['match']} parameter count is closest to the budget; nothing padded; mismatch = achieved / "
             "budget - 1."),
        Heading(2, "Shapes"),
        _shapes_table(record["summary"]),
        Heading(2, f"Derived interval (within {derived['tolerance']:.0%} of the best mean validation loss)"),
        Bullets(tuple(_interval_items(record))),
        FigureRef(LOSS_FIGURE, CAPTIONS[LOSS_FIGURE]),
        FigureRef(AOFE_FIGURE, CAPTIONS[AOFE_FIGURE]),
    ]
    return blocks + _paper_blocks(record, paper)


def _shapes_table(summary: list[dict]) -> Table:
    headers = ("depth", "width", "heads", "FFN", "R_D/W", "params (matched)", "mismatch", "total params",
               "val loss mean", "seed std", "min", "max", "AOFE", "AOFE-ratio")
    rows = tuple(
        (str(s["depth"]), str(s["width"]), str(s["heads"]), str(s["ffn_width"]), fixed(s["r_dw"], 4),
         count(s["achieved_params"]), f"{s['mismatch']:+.1%}", count(s["total_params"]),
         fixed(s["val_loss_mean"], 4), fixed(s["val_loss_std"], 4) if s["seeds"] > 1 else "- (1 seed)",
         fixed(s["val_loss_min"], 4), fixed(s["val_loss_max"], 4), cell(s["aofe_mean"]), cell(s["aofe_ratio_mean"]))
        for s in summary)
    return Table(headers, rows)


def _interval_items(record: dict) -> list[str]:
    derived = record["interval"]
    items = [
        f"loss-optimal shape: depth {derived['optimal_depth']}, width {derived['optimal_width']}, "
        f"R_D/W = {fixed(derived['optimal_r_dw'], 4)}, mean validation loss {fixed(derived['best_val_loss'], 4)}",
        f"band: depths {', '.join(map(str, derived['band_depths']))}; **R_D/W ∈ [{fixed(derived['lo'], 4)}, "
        f"{fixed(derived['hi'], 4)}]** (`interval.json`, usable as `--interval-file`)",
        f"contiguous in depth: {'yes' if derived['contiguous'] else 'no'}",
        *(f"note: {n}" for n in derived["notes"]),
    ]
    ratios = [s["r_dw"] for s in record["summary"]]
    items.append(f"R_D/W covered by this sweep: {fixed(min(ratios), 4)}-{fixed(max(ratios), 4)}; an optimum at "
                 "either end means the true optimum may lie beyond the swept range")
    missing = sorted(name for name, status in record.get("statuses", {}).items() if status.startswith("missing"))
    if missing:
        items.append(f"**incomplete**: {len(missing)} run(s) not trained, left out: {', '.join(missing)}")
    return items


def _paper_blocks(record: dict, paper: dict | None) -> list[Block]:
    if paper is None:
        return [Heading(2, "Paper comparison"),
                Para("The authors' table was not found (package data `data/reference/paper_ntp_sweep.csv`).")]
    derived, st = record["interval"], record["settings"]
    totals = [s["total_params"] for s in record["summary"]]
    c13, c110 = paper["common_1M_3M"], paper["common_1M_10M"]
    lo_opt, hi_opt = paper["optimal_range_ge_1M"]
    budgets = paper["per_budget"]
    table = Table(
        ("budget", "shapes", "optimal depth", "optimal width", "optimal R_D/W", "best test loss", "band lo",
         "band hi", "band depths"),
        tuple((count(r["budget"]), str(r["shapes"]), str(r["optimal_depth"]), str(r["optimal_width"]),
               fixed(r["optimal_r_dw"], 4), fixed(r["best_test_loss"], 4), fixed(r["band_lo"], 4),
               fixed(r["band_hi"], 4), ", ".join(map(str, r["band_depths"]))) for r in budgets))
    inside = lo_opt <= derived["optimal_r_dw"] <= hi_opt
    overlap = max(derived["lo"], c13["lo"]) < min(derived["hi"], c13["hi"])
    return [
        Heading(2, "Side by side with the paper authors' sweeps"),
        Para(f"Source: {PAPER_SOURCE}. Their setup: byte-level WikiText-103, T = 256, head dim 4, d_ff = 4d, "
             "budgets counted as total parameters, one seed; loss = test cross-entropy (nats/byte). Bands below "
             f"use the same {paper['tolerance']:.0%} rule as this sweep."),
        table,
        Bullets((
            f"Scale: this sweep's budget is {count(st['budget'])} {st['match']} parameters ({count(min(totals))}-"
            f"{count(max(totals))} total) with {count(record['data']['tokens_trained'])} training tokens; the "
            f"authors' budgets are {count(budgets[0]['budget'])}-{count(budgets[-1]['budget'])} "
            "total parameters, and their interval comes from budgets ≥ 1M.",
            f"Their optimal R_D/W for budgets ≥ 1M: {fixed(lo_opt, 4)}-{fixed(hi_opt, 4)}. This sweep's optimum "
            f"{fixed(derived['optimal_r_dw'], 4)} is **{'inside' if inside else 'outside'}** that range.",
            f"Their band common to budgets {c13['budgets']}: [{fixed(c13['lo'], 4)}, {fixed(c13['hi'], 4)}] (the "
            f"default interval); common to {c110['budgets']}: [{fixed(c110['lo'], 4)}, {fixed(c110['hi'], 4)}].",
            f"This sweep's band [{fixed(derived['lo'], 4)}, {fixed(derived['hi'], 4)}] "
            f"{'overlaps' if overlap else 'does not overlap'} their 1M-3M band.",
        )),
    ]


def report_files(record: dict, out_dir: str | Path) -> dict[Path, Writer | None]:
    """Every file of the report, as writers for ``outputs.write_together``: the figures (PNG and SVG),
    ``paper_bands.csv`` (None, i.e. removed, when the authors' table is missing) and the page."""
    out = Path(out_dir)
    csv_path = paper_csv_path()
    paper = paper_bands(csv_path, record["interval"]["tolerance"]) if csv_path else None
    files: dict[Path, Writer | None] = {}
    for name, (png, svg) in sweep_figures(record).items():
        files[out / f"{name}.png"] = bytes_writer(png)
        files[out / f"{name}.svg"] = bytes_writer(svg)
    files[out / PAPER_BANDS_NAME] = text_writer(paper_bands_csv(paper)) if paper else None
    files[out / REPORT_NAME] = text_writer(to_markdown(report_blocks(record, paper)))
    return files


def write_report(record: dict, out_dir: str | Path) -> Path:
    """Write the figures, ``paper_bands.csv`` and ``sweep_report.md`` into ``out_dir``; returns the page."""
    write_together(report_files(record, out_dir))
    return Path(out_dir) / REPORT_NAME
