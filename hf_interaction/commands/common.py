"""Options and output helpers shared by the subcommands."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ..core.store import Store
from ..shape.interval import Interval, resolve_interval


def interval_options(func: Callable) -> Callable:
    """``--interval LO:HI`` and ``--interval-file PATH``; the command receives ``interval: Interval``."""
    func = click.option(
        "--interval-file",
        type=click.Path(dir_okay=False),
        default=None,
        help="Interval file written by `hf-interaction sweep` (JSON with lo, hi, source).",
    )(func)
    func = click.option(
        "--interval",
        "interval_text",
        metavar="LO:HI",
        default=None,
        help="Efficient R_D/W interval to use, e.g. 0.02:0.05 (default 0.0204:0.0645, the paper's).",
    )(func)
    return func


def get_interval(interval_text: str | None, interval_file: str | None) -> Interval:
    return resolve_interval(interval_text, interval_file)


def safety_options(when: str = "") -> Callable[[Callable], Callable]:
    """``--allow-pickle`` and ``--trust-remote-code``, off by default (README: Safety); ``when`` says
    when they apply (e.g. "for --run")."""
    suffix = f" {when}" if when else ""

    def decorate(func: Callable) -> Callable:
        func = click.option("--trust-remote-code", is_flag=True,
                            help=f"Run model code from the repository{suffix} (off by default).")(func)
        return click.option("--allow-pickle", is_flag=True,
                            help=f"Allow pickle (.bin) weights{suffix}; they can run code.")(func)

    return decorate


def store_option(func: Callable) -> Callable:
    return click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False),
        default=None,
        envvar="HF_INTERACTION_STORE",
        help="Results store (SQLite file). Default: the user cache directory; env HF_INTERACTION_STORE.",
    )(func)


def open_store(store_path: str | None) -> Store:
    return Store(store_path)


def format_options(func: Callable) -> Callable:
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV instead of a table.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)
    return func


def emit_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False, default=str))


def emit_csv(rows: list[dict]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    fields: list[str] = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    sys.stdout.write(buf.getvalue())


