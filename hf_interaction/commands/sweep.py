"""``hf-interaction sweep``: train a fixed-budget shape sweep and derive the efficient interval (DESIGN §8)."""

from __future__ import annotations

import click

from ..errors import UsageError
from .common import emit_json, open_store, store_option


def parse_depths(text: str) -> tuple[int, ...]:
    """``1,2,4,8`` → (1, 2, 4, 8); anything else is a usage error."""
    try:
        depths = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"--depths must be comma-separated integers like 1,2,4,8, got {text!r}") from None
    if not depths:
        raise UsageError("--depths must list at least one depth, e.g. 1,2,4,8")
    return depths


@click.command("sweep")
@click.option("--budget", type=int, required=True, help="Parameter budget every shape is matched to.")
@click.option("--depths", default="1,2,3,4,6,8,12", show_default=True, help="Comma-separated depths.")
@click.option("--match", type=click.Choice(["non-embedding", "total"]), default="non-embedding", show_default=True,
              help="Which parameter count is matched to the budget (total = as the paper's authors did).")
@click.option("--max-mismatch", type=float, default=0.2, show_default=True,
              help="Refuse a depth whose closest width misses the budget by more than this fraction.")
@click.option("--arch", default="llama", show_default=True, help="Decoder config class (transformers model_type).")
@click.option("--head-dim", type=int, default=16, show_default=True,
              help="Fixed head dimension; widths are multiples of it (heads = width / head dim).")
@click.option("--ffn-ratio", type=float, default=4.0, show_default=True, help="FFN width / width.")
@click.option("--tokens-per-param", type=float, default=20.0, show_default=True,
              help="Training tokens (targets) = this × budget, the same for every shape.")
@click.option("--seeds", type=int, default=1, show_default=True, help="Initialisation seeds per shape (0..K-1).")
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Peak AdamW learning rate.")
@click.option("--warmup-frac", type=float, default=0.05, show_default=True, help="Linear warm-up share of steps.")
@click.option("--batch-size", type=int, default=16, show_default=True, help="Sequences per step.")
@click.option("--seq-len", type=int, default=128, show_default=True, help="Tokens per training sequence.")
@click.option("--corpus", default="builtin", show_default=True,
              help="builtin (offline), wikitext (needs the dataset cached) or a PATH (.txt/.jsonl/.parquet); "
                   "tokenized byte-level (vocabulary 256 + 3 specials).")
@click.option("--val-fraction", type=float, default=0.05, show_default=True,
              help="Share of the corpus (its end) held out for validation.")
@click.option("--max-val-windows", type=int, default=64, show_default=True, help="Validation windows (at most).")
@click.option("--tolerance", type=float, default=0.02, show_default=True,
              help="Interval = shapes whose mean validation loss is within this fraction of the best.")
@click.option("--audit-preset", type=click.Choice(["tiny", "small", "micro", "none"]), default="tiny",
              show_default=True,
              help="Audit of each checkpoint. tiny: T=min(32, seq len), n=8, 4/8 probes; small: T=64, n=16, "
                   "8/16; micro: T=8, n=4, 2/4 (tests); none: skip.")
@click.option("--threads", type=int, default=None, help="torch threads (default: torch's choice).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output directory (checkpoints under OUT/shapes/; rerun to resume).")
@store_option
@click.option("--no-store", is_flag=True, help="Do not write the sweep to the results store.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--report-only", is_flag=True,
              help="Train nothing: table, interval and report from the shapes already finished in --out.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-shape summary and interval as JSON.")
def command(budget, depths, match, max_mismatch, arch, head_dim, ffn_ratio, tokens_per_param, seeds, lr,
            warmup_frac, batch_size, seq_len, corpus, val_fraction, max_val_windows, tolerance, audit_preset,
            threads, out_dir, store_path, no_store, no_progress, report_only, as_json):
    """Train one small causal LM per depth at a fixed parameter BUDGET (width matched to it), on the same
    tokens in the same order, audit each, and derive the efficient R_D/W interval as the shapes within
    --tolerance of the best validation loss. Writes interval.json (for --interval-file), sweep_report.md,
    figures and CSV tables into --out. Finished shapes are not retrained on a rerun."""
    from ..sweep import SweepSettings, run_sweep

    settings = SweepSettings(
        budget=budget, depths=parse_depths(depths), match=match, max_mismatch=max_mismatch, arch=arch,
        head_dim=head_dim, ffn_ratio=ffn_ratio, tokens_per_param=tokens_per_param, seeds=seeds, lr=lr,
        warmup_frac=warmup_frac, batch_size=batch_size, seq_len=seq_len, corpus=corpus, val_fraction=val_fraction,
        max_val_windows=max_val_windows, tolerance=tolerance, audit_preset=audit_preset, threads=threads,
    )
    store = None if no_store else open_store(store_path)
    result = run_sweep(settings, out_dir, store=store, show_progress=not no_progress,
                       log=lambda m: click.echo(m, err=True), report_only=report_only)
    if as_json:
        emit_json({"summary": result.summary, "interval": result.record["interval_file"],
                   "statuses": result.statuses})
        return
    _print_summary(result)


def _print_summary(result) -> None:
    iv = result.interval
    click.echo(f"{'depth':>5} {'width':>5} {'R_D/W':>8} {'params':>10} {'mismatch':>8} {'val loss':>9} "
               f"{'±std':>7} {'AOFE-ratio':>10}")
    for s in result.summary:
        ratio = s["aofe_ratio_mean"]
        click.echo(f"{s['depth']:>5} {s['width']:>5} {s['r_dw']:>8.4f} {s['achieved_params']:>10,} "
                   f"{s['mismatch']:>+8.1%} {s['val_loss_mean']:>9.4f} {s['val_loss_std']:>7.4f} "
                   f"{'-' if ratio is None else f'{ratio:.4f}':>10}")
    click.echo(f"optimal R_D/W {iv['optimal_r_dw']:.4f} (depth {iv['optimal_depth']}); interval within "
               f"{iv['tolerance']:.0%}: [{iv['lo']:.4f}, {iv['hi']:.4f}], depths {iv['band_depths']}"
               f"{'' if iv['contiguous'] else ' (not contiguous in depth)'}")
    for note in iv["notes"]:
        click.echo(f"note: {note}")
    click.echo(f"wrote {result.out_dir / 'interval.json'} and {result.out_dir / 'sweep_report.md'}")
