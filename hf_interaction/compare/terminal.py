"""The comparison on a terminal, readable at any width (80 columns when stdout is not a terminal).

The cells are those of :func:`table_cells` (so the terminal and ``compare.md`` agree); only their
arrangement depends on the width, the first that fits being used:

* ``wide``: the Markdown table as is, a column per model with a delta column after each;
* ``split``: a table of values (a column per model), then a table of the deltas;
* ``per model``: one block per model (quantity, value, delta), long labels in the block's title.

Quantity labels and delta headers wrap at spaces; values never wrap (except in the last resort, a
terminal too narrow for even one block, where the widest column folds).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .comparison import Comparison
from .render import interval_text
from .table import table_cells

if TYPE_CHECKING:
    from rich.console import Console

NON_TERMINAL_WIDTH = 80
QUANTITY_MIN = 20  # the quantity labels wrap down to this width ("log10 D/F over fresh init [CI]" in two lines)
FOLD_MIN = 4


@dataclass(frozen=True)
class Panel:
    """One printed table: an optional title, its header and rows, and each column's width."""

    title: str | None
    header: list[str]
    rows: list[list[str]]
    widths: list[int]
    dim: frozenset[int] = frozenset()  # delta columns, printed dim

    @property
    def width(self) -> int:
        """Printed width: the columns, one space of padding either side, and the borders."""
        return sum(self.widths) + 3 * len(self.widths) + 1


def _len(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def _longest_word(text: str) -> int:
    return max((_len(w) for w in text.split()), default=0)


def _ci_on_own_line(text: str) -> str:
    """A value with its interval, the interval on a line of its own."""
    return text.replace(" [", "\n[", 1)


# How a column may be narrowed: "label" wraps at spaces (to QUANTITY_MIN), "value" puts a value's
# interval on its own line, "delta" wraps its header at spaces; "fixed" is never narrowed.
def _least(kind: str, header: str, cells: list[str]) -> int:
    natural = max(_len(c) for c in (header, *cells))
    if kind == "label":
        return max(min(natural, QUANTITY_MIN), _longest_word(header), *(_longest_word(c) for c in cells))
    if kind == "value":
        return max(_len(header), *(_len(_ci_on_own_line(c)) for c in cells))
    if kind == "delta":
        return max(_longest_word(header), *(_len(c) for c in cells))
    return natural


def _panel(title: str | None, header: list[str], rows: list[list[str]], kinds: list[str], width: int,
           dim: frozenset[int] = frozenset()) -> Panel | None:
    """The panel with columns as wide as their text, narrowed where their kind allows (delta headers
    first, then the quantity labels, then the values' intervals) to fit ``width``; None when it cannot
    fit without breaking a value or a word."""
    columns = [[r[i] for r in rows] for i in range(len(header))]
    widths = [max(_len(c) for c in (h, *col)) for h, col in zip(header, columns, strict=True)]
    least = [_least(k, h, col) for k, h, col in zip(kinds, header, columns, strict=True)]
    natural = list(widths)
    excess = sum(widths) + 3 * len(widths) + 1 - width
    for kind in ("delta", "label"):
        for i in reversed(range(len(widths))):
            if kinds[i] == kind and excess > 0:
                cut = min(excess, widths[i] - least[i])
                widths[i], excess = widths[i] - cut, excess - cut
    if excess > 0:  # every value's interval on its own line (all columns alike), the labels get back the room
        for i, kind in enumerate(kinds):
            if kind == "value":
                widths[i], excess = least[i], excess - (widths[i] - least[i])
        for i, kind in enumerate(kinds):
            if kind == "label" and excess < 0:
                grow = min(-excess, natural[i] - widths[i])
                widths[i], excess = widths[i] + grow, excess + grow
    if excess > 0:
        return None
    rows = [[_ci_on_own_line(c) if kinds[i] == "value" and _len(c) > widths[i] else c for i, c in enumerate(row)]
            for row in rows]
    return Panel(title, header, rows, widths, dim)


def _folded(title: str | None, header: list[str], rows: list[list[str]], width: int,
            dim: frozenset[int] = frozenset()) -> Panel:
    """The last resort: the widest column folded until the panel fits."""
    widths = [max(_len(c) for c in (h, *(r[i] for r in rows))) for i, h in enumerate(header)]
    panel = Panel(title, header, rows, widths, dim)
    while panel.width > width and max(widths) > FOLD_MIN:
        widths[widths.index(max(widths))] -= 1
    return panel


def layout(comparison: Comparison, width: int) -> tuple[str, list[Panel]]:
    """The arrangement (``wide``, ``split`` or ``per model``) and its panels for a terminal ``width`` wide."""
    header, body = table_cells(comparison)
    n = len(comparison.models)
    ref = comparison.reference.label
    title = f"compare (deltas against {ref}; parameter counts as ratios ×)"
    value_cols = [1] + [2 * k for k in range(1, n)]
    delta_cols = [2 * k + 1 for k in range(1, n)]

    kinds = ["label"] + ["delta" if i in delta_cols else "value" for i in range(1, len(header))]
    wide = _panel(title, header, body, kinds, width, frozenset(delta_cols))
    if wide is not None:
        return "wide", [wide]

    def columns(cols: list[int], rows: list[list[str]]) -> tuple[list[str], list[list[str]]]:
        return [header[0], *(header[c] for c in cols)], [[row[0], *(row[c] for c in cols)] for row in rows]

    values = _panel(f"compare (values; deltas against {ref} below)", *columns(value_cols, body),
                    ["label"] + ["value"] * n, width)
    with_delta = [row for row in body if any(row[c] for c in delta_cols)]
    deltas = _panel("deltas (parameter counts as ratios ×)", *columns(delta_cols, with_delta),
                    ["label"] + ["delta"] * (n - 1), width, frozenset(range(1, n))) if n > 1 else None
    if values is not None and (deltas is not None or n == 1):
        return "split", [p for p in (values, deltas) if p is not None]

    panels = []
    for k, label in enumerate(header[c] for c in value_cols):
        cols = [value_cols[k]] + ([delta_cols[k - 1]] if k else [])
        names = ["quantity", "value"] + (["Δ"] if k else [])
        block_title = f"{label} (reference)" if k == 0 else f"{label} (Δ {label} vs {ref})"
        rows = [[row[0], *(row[c] for c in cols)] for row in body]
        dim = frozenset({2}) if k else frozenset()
        panels.append(_panel(block_title, names, rows, ["label", "value", "delta"][:len(names)], width, dim)
                      or _folded(block_title, names, rows, width, dim))
    return "per model", panels


def terminal_width(console: Console) -> int:
    """The width to lay the table out for: the terminal's (``COLUMNS`` honoured), else 80."""
    if console.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return console.width
    return NON_TERMINAL_WIDTH


def print_comparison(comparison: Comparison, width: int | None = None) -> None:
    """The table (arranged for ``width``, default the terminal's), the interval and the notes on stdout."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    console.width = width or terminal_width(console)
    for panel in layout(comparison, console.width)[1]:
        table = Table(title=Text(panel.title) if panel.title else None, title_justify="left")
        for i, (name, w) in enumerate(zip(panel.header, panel.widths, strict=True)):
            table.add_column(Text(name), justify="left" if i == 0 else "right", width=w, overflow="fold",
                             style="dim" if i in panel.dim else None)
        for row in panel.rows:
            table.add_row(*(Text(c) for c in row))
        console.print(table)
    console.print(Text(f"interval: {interval_text(comparison)}"), style="dim")
    for note in comparison.all_notes():
        console.print(Text(f"note: {note}"), style="dim")
