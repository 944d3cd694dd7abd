"""Writing an audit's files: ``audit.json`` (the full record), ``layers.csv`` and ``layer_profile.png``.

Files are written under temporary names and renamed at the end, so an interrupted write leaves no
half-written result.
"""

from __future__ import annotations

from pathlib import Path

from ..core.figure_bytes import PNG_METADATA
from ..core.outputs import json_text, output_dir, text_writer, write_together


def _slug(model: str) -> str:
    return model.strip("/").replace("/", "__").replace(":", "_")[-80:]


def write_audit_files(record: dict, out_dir: Path) -> dict[str, Path]:
    """``audit_<model>.json``, ``audit_<model>_layers.csv`` and ``audit_<model>_layer_profile.png`` in
    ``out_dir``, all or nothing."""
    import pandas as pd

    out = output_dir(out_dir)
    stem = f"audit_{_slug(record['model'])}"
    targets = {
        "json": out / f"{stem}.json",
        "csv": out / f"{stem}_layers.csv",
        "png": out / f"{stem}_layer_profile.png",
    }
    write_together({
        targets["json"]: text_writer(json_text(record)),
        targets["csv"]: lambda tmp: pd.DataFrame(record["layers"]).to_csv(tmp, index=False),
        targets["png"]: lambda tmp: plot_layer_profiles([record], tmp),
    })
    return targets


def plot_layer_profiles(records: list[dict], path: Path, labels: list[str] | None = None) -> None:
    """Layer profile(s): AOFE-ratio, effective rank and NFA off-diagonal alignment against relative depth."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    rows = []
    for idx, rec in enumerate(records):
        label = labels[idx] if labels else rec["model"]
        L = len(rec["layers"])
        for layer in rec["layers"]:
            rows.append({"model": label, "relative depth": (layer["layer"] + 0.5) / L,
                         "AOFE-ratio": layer.get("aofe_ratio"), "effective rank": layer.get("effective_rank"),
                         "NFA off-diagonal r": layer.get("nfa_offdiag")})
    frame = pd.DataFrame(rows)
    # Styled in a context, not with sns.set_theme: a library call must not change the caller's (or
    # another figure's) global matplotlib settings.
    with sns.axes_style("whitegrid"), sns.color_palette("colorblind"):
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
        for ax, col in zip(axes, ("AOFE-ratio", "effective rank", "NFA off-diagonal r"), strict=True):
            data = frame.dropna(subset=[col])
            if not data.empty:
                sns.lineplot(data=data, x="relative depth", y=col, hue="model", marker="o", ax=ax,
                             legend=(col == "AOFE-ratio"))
            ax.set_title(col)
            ax.set_xlim(0, 1)
        fig.suptitle("Layer interaction profile (residual stream entering each block)")
        fig.savefig(path, dpi=110, format="png", metadata=PNG_METADATA)
    plt.close(fig)
