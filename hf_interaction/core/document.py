"""One document model for every page the tool writes (report, compare, sweep report).

A page is a list of blocks (headings, paragraphs, bullet lists, tables, figures, code) built once
and written by two small renderers, so the Markdown and the self-contained HTML always say the same
thing. Nothing here reads the clock, so the same blocks give the same bytes.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: str


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class FigureRef:
    """A figure written next to the page as ``{name}.png`` and ``{name}.svg``."""

    name: str
    caption: str


@dataclass(frozen=True)
class Code:
    text: str
    language: str = ""


Block = Heading | Para | Bullets | Table | FigureRef | Code


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: Sequence[Block]) -> str:
    """GitHub-flavoured Markdown; figures link the PNG next to the page and mention the SVG."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) for h in b.headers) + " |",
                     "|" + "|".join(" --- " for _ in b.headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
        elif isinstance(b, FigureRef):
            out.append(f"![{b.caption}]({b.name}.png)\n\n*{b.caption}* (vector: [{b.name}.svg]({b.name}.svg))")
        elif isinstance(b, Code):
            out.append(f"```{b.language}\n{b.text}\n```")
    return "\n\n".join(out) + "\n"


def _inline_html(text: str) -> str:
    """Escape, then the Markdown inline marks the pages use: `code`, **bold**, *italic*."""
    text = html.escape(text, quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"<em>\1</em>", text)


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; line-height: 1.45; color: #1a1a1a; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
code { background: #f4f4f4; padding: 0 0.2em; font-size: 0.92em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; }
""".strip()


def to_html(blocks: Sequence[Block], title: str, figures: dict[str, bytes] | None = None) -> str:
    """A self-contained HTML page: inline CSS, figures embedded as base64 PNG (``figures`` maps a
    figure's name to its PNG bytes), no scripts, no dates."""
    figures = figures or {}
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{_inline_html(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{_inline_html(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>\n" + "\n".join(f"<li>{_inline_html(i)}</li>" for i in b.items) + "\n</ul>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{_inline_html(h)}</th>" for h in b.headers)
            rows = "\n".join("<tr>" + "".join(f"<td>{_inline_html(c)}</td>" for c in row) + "</tr>"
                             for row in b.rows)
            body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}\n</tbody>\n</table>")
        elif isinstance(b, FigureRef):
            data = base64.b64encode(figures[b.name]).decode("ascii")
            body.append(f'<figure>\n<img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">\n'
                        f"<figcaption>{_inline_html(b.caption)}</figcaption>\n</figure>")
        elif isinstance(b, Code):
            body.append(f"<pre><code>{html.escape(b.text, quote=False)}</code></pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>\n{_CSS}\n</style>\n</head>\n<body>\n"
            + "\n".join(body) + "\n</body>\n</html>\n")
