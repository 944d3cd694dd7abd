"""Figures as bytes that depend only on what is drawn: PNG and SVG without dates or software tags,
SVG element ids from a fixed salt and text drawn as paths (no font lookup on the reader's machine).
Every figure of a report (the correlation report, the sweep report) goes through here."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: rcParams that make the SVG output reproducible.
REPRODUCIBLE_RC: dict[RcKeyType, Any] = {"svg.hashsalt": "hf-interaction", "svg.fonttype": "path"}
PNG_METADATA = {"Software": None}
SVG_METADATA = {"Date": None, "Creator": None}


def figure_bytes(fig: Any, dpi: int, rc: dict[RcKeyType, Any] | None = None) -> tuple[bytes, bytes]:
    """(PNG at ``dpi``, SVG) bytes of a matplotlib figure, with ``rc`` on top of REPRODUCIBLE_RC."""
    import matplotlib

    png, svg = io.BytesIO(), io.BytesIO()
    with matplotlib.rc_context({**REPRODUCIBLE_RC, **(rc or {})}):
        fig.savefig(png, format="png", dpi=dpi, metadata=PNG_METADATA)
        fig.savefig(svg, format="svg", metadata=SVG_METADATA)
    return png.getvalue(), svg.getvalue()
