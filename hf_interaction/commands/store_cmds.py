"""``hf-interaction ls`` and ``hf-interaction export``: what the results store holds."""

from __future__ import annotations

import click

from ..core.store import KINDS
from .common import emit_json, open_store, store_option


def _summary(record) -> str:
    p = record.payload
    if record.kind == "shapes":
        return f"R_D/W={p.get('r_dw', float('nan')):.4f}"
    if record.kind == "audits":
        m = p.get("metrics", {})
        return f"AOFE-ratio {m['aofe_ratio']:.4f}" if m.get("aofe_ratio") is not None else ""
    if record.kind == "evaluations":
        return f"{p.get('task')} acc {p['acc']:.4f}" if p.get("acc") is not None else str(p.get("task"))
    return ""


@click.command("ls")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only this kind of result.")
@click.option("--model", default=None, help="Only results for this model id (or absolute local path).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records (key and payload included).")
@store_option
def ls_command(kind, model, as_json, store_path):
    """List what the results store holds (shapes, audits, evaluations, sweeps)."""
    store = open_store(store_path)
    records = store.list(kind, model)
    if as_json:
        emit_json([r.to_dict() for r in records])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"results store: {store.path}", title_justify="left")
    for col in ("kind", "model", "revision", "key hash", "created (UTC)", "summary"):
        table.add_column(col)
    for r in records:
        table.add_row(r.kind, r.model, r.revision[:12], r.key_hash, r.created_at, _summary(r))
    Console(width=max(Console().width, 150)).print(table)
    if not records:
        click.echo("(empty)")


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only this kind of result.")
@store_option
def export_command(path, kind, store_path):
    """Export stored results to PATH (.json keeps nesting; .csv / .parquet flatten it)."""
    out = open_store(store_path).export(path, kind)
    click.echo(f"wrote {out}")
