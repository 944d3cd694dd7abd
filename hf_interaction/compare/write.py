"""``compare --out``: ``compare.md``, ``compare.csv``, ``compare.json`` and the layer-profile overlay,
written all or nothing through :func:`hf_interaction.core.outputs.write_together`."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from ..core.outputs import json_text, output_dir, text_writer, write_together
from .comparison import Comparison
from .render import render_markdown


def write_outputs(comparison: Comparison, out_dir: str | Path, command: str | None = None) -> dict[str, Path]:
    """Write ``compare.md``, ``compare.csv``, ``compare.json`` and (when any model has an audit)
    ``compare_layer_profiles.png`` to ``out_dir``; returns ``{"md"|"csv"|"json"|"png": path}`` of
    the files written. All are renamed into place together, so a failure leaves nothing half-written;
    a figure left by an earlier run is removed when this comparison has no layer profiles, so the
    directory never mixes runs."""
    import pandas as pd

    from ..audit.files import plot_layer_profiles

    out = output_dir(out_dir)
    audited = [m for m in comparison.models if m.audit and m.audit.get("layers")]

    def figure(tmp: Path) -> None:
        plot_layer_profiles(cast(list[dict], [m.audit for m in audited]), tmp, [m.label for m in audited])

    targets = {"md": out / "compare.md", "csv": out / "compare.csv", "json": out / "compare.json",
               "png": out / "compare_layer_profiles.png"}
    written = set(write_together({
        targets["md"]: text_writer(render_markdown(comparison, command)),
        targets["csv"]: lambda tmp: pd.DataFrame(comparison.rows()).to_csv(tmp, index=False),
        targets["json"]: text_writer(json_text(comparison.to_dict())),
        targets["png"]: figure if audited else None,
    }))
    return {kind: path for kind, path in targets.items() if path in written}
