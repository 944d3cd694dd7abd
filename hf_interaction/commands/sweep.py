"""``hf-interaction sweep``: train a fixed-budget shape sweep and derive the efficient interval (docs/design.md §8)."""

from __future__ import annotations

import dataclasses

import click

from ..errors import UsageError
from ..sweep.settings import SweepSettings
from .common import emit_json, open_store, store_option
from .options import settings_options

#: Every sweep setting is a flag (declared once, on SweepSettings), in --help order.
SWEEP_FLAGS = tuple(f.name for f in dataclasses.fields(SweepSettings))


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
@settings_options(SweepSettings, SWEEP_FLAGS, optional=("budget",))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output directory (checkpoints under OUT/shapes/; rerun to resume).")
@store_option
@click.option("--no-store", is_flag=True, help="Do not write the sweep to the results store.")
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option("--report-only", is_flag=True,
              help="Train nothing: table, interval and report from the shapes already finished in --out.")
@click.option("--rerender", is_flag=True,
              help="Train and audit nothing: rewrite every file derived from --out/sweep.json (interval.json, "
                   "tables, report, figures) from that record alone; no checkpoints or other flags needed.")
@click.option("--json", "as_json", is_flag=True, help="Print the per-shape summary and interval as JSON.")
def command(out_dir, store_path, no_store, no_progress, report_only, rerender, as_json, **settings_flags):
    """Train one small causal LM per depth at a fixed parameter BUDGET (width matched to it), on the same
    tokens in the same order, audit each, and derive the efficient R_D/W interval as the shapes within
    --tolerance of the best validation loss. Writes interval.json (for --interval-file), sweep_report.md,
    figures and CSV tables into --out. Finished shapes are not retrained on a rerun."""
    from ..sweep import rerender as rerender_sweep
    from ..sweep import run_sweep

    if rerender:
        written = rerender_sweep(out_dir)
        click.echo(f"rewrote {len(written)} files in {out_dir} from its sweep.json")
        return
    if settings_flags["budget"] is None:
        raise UsageError("--budget is required (the parameter budget every shape is matched to)")

    settings = SweepSettings(**{**settings_flags, "depths": parse_depths(settings_flags["depths"])})
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
