"""``hf-interaction suggest``: candidate depth-width shapes for a parameter budget."""

from __future__ import annotations

import click

from .common import emit_json, get_interval, interval_options
from .sweep import parse_depths


@click.command("suggest")
@click.option("--budget", "--params", "params", type=int, required=True,
              help="Parameter budget (as `sweep --budget`; --params is the older spelling).")
@click.option("--arch", default="llama", show_default=True, help="Decoder config class (transformers model_type).")
@click.option("--vocab", "vocab_size", type=int, default=32000, show_default=True, help="Vocabulary size.")
@click.option("--ffn-ratio", type=float, default=4.0, show_default=True, help="FFN width / width.")
@click.option("--head-dim", type=int, default=64, show_default=True,
              help="Fixed head dimension; widths are multiples of it.")
@click.option("--match", type=click.Choice(["non-embedding", "total"]), default="non-embedding", show_default=True,
              help="Which parameter count is matched to the budget.")
@click.option("--depths", default=None,
              help="Comma-separated depths to consider (default: 1-64; depths that cannot match are left out).")
@click.option("--max-mismatch", type=float, default=0.1, show_default=True,
              help="Largest accepted |achieved/budget - 1| for a depth.")
@interval_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(params, arch, vocab_size, ffn_ratio, head_dim, match, depths, max_mismatch, interval_text, interval_file,
            as_json):
    """Candidate shapes (depth, width, heads, FFN width) for a budget of BUDGET parameters, with exact
    meta-device parameter counts, R_D/W and position in the efficient interval; the shape closest to
    the interval's centre (in log R_D/W) first. Width matching follows `sweep` (closest count among
    multiples of --head-dim)."""
    from ..shape.suggest import suggest_shapes

    interval = get_interval(interval_text, interval_file)
    rows = suggest_shapes(params, arch=arch, vocab_size=vocab_size, ffn_ratio=ffn_ratio, head_dim=head_dim,
                          match=match, depths=parse_depths(depths) if depths else None, interval=interval,
                          max_mismatch=max_mismatch)
    if as_json:
        emit_json({"params": params, "match": match, "arch": arch, "interval": interval.to_dict(), "candidates": rows})
        return
    click.echo(f"{params:,} {match} parameters, {arch}, head dim {head_dim}, FFN ratio {ffn_ratio:g}, vocab "
               f"{vocab_size:,}; interval [{interval.lo:g}, {interval.hi:g}] centre {interval.centre:.4f}")
    click.echo(f"{'rank':>4} {'depth':>5} {'width':>6} {'heads':>5} {'FFN':>6} {'R_D/W':>8} {'total':>14} "
               f"{'non-emb':>14} {'mismatch':>8} {'inside':>6} {'coord':>6}")
    for r in rows:
        click.echo(f"{r['rank']:>4} {r['depth']:>5} {r['width']:>6} {r['heads']:>5} {r['ffn_width']:>6} "
                   f"{r['r_dw']:>8.4f} {r['total_params']:>14,} {r['non_embedding_params']:>14,} "
                   f"{r['mismatch']:>+8.1%} {'yes' if r['inside_interval'] else 'no':>6} "
                   f"{r['interval_coordinate']:>6.2f}")
