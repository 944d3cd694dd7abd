"""The paper authors' own shape sweeps, shipped as package data, and what the sweep report compares
with: for each of their budgets the loss-optimal R_D/W and the band of shapes within a tolerance of
their best test loss, and the band common to budgets 1M-3M (and 1M-10M), which is how the default
interval [0.0204, 0.0645] was obtained.

The table is read through ``importlib.resources`` (``hf_interaction/data/reference/``), so it is
found in an installed package as well as in the source tree.
"""

from __future__ import annotations

import csv
import io
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PAPER_CSV_NAME = "paper_ntp_sweep.csv"
PAPER_SOURCE = ("paper authors' sweeps, repository wenjie1835/Interaction_Law @853f922, "
                "budget_scaling/transformer_ntp_shape_sweep/ntp_sweep_merged_by_budget_and_shape.csv "
                "(copied to hf_interaction/data/reference/paper_ntp_sweep.csv)")


def paper_csv_path() -> Traversable | None:
    """The authors' table in the package data (``hf_interaction/data/reference``), or None if missing."""
    resource = files("hf_interaction") / "data" / "reference" / PAPER_CSV_NAME
    return resource if resource.is_file() else None


def paper_bands(csv_path: str | Path | Traversable, tolerance: float = 0.02) -> dict:
    """Per budget: the loss-optimal R_D/W and the band within ``tolerance`` of the best test loss;
    plus the bands common to budgets 1M-3M and 1M-10M (intersection of the per-budget bands)."""
    import pandas as pd

    with (Path(csv_path) if isinstance(csv_path, str) else csv_path).open("rb") as fh:
        table = pd.read_csv(fh)
    per_budget: list[dict[str, Any]] = []
    for budget, group in table.groupby("target_n"):
        best = group.loc[group["test_ce"].idxmin()]
        band = group[group["test_ce"] <= best["test_ce"] * (1 + tolerance)]
        per_budget.append({"budget": int(budget), "shapes": len(group), "optimal_depth": int(best["depth"]),
                           "optimal_width": int(best["d_model"]), "optimal_r_dw": float(best["depth_over_d_model"]),
                           "best_test_loss": float(best["test_ce"]),
                           "band_lo": float(band["depth_over_d_model"].min()),
                           "band_hi": float(band["depth_over_d_model"].max()),
                           "band_depths": sorted(int(d) for d in band["depth"])})

    def common(lo_budget: int, hi_budget: int) -> dict:
        rows = [r for r in per_budget if lo_budget <= r["budget"] <= hi_budget]
        return {"budgets": f"{lo_budget:,}-{hi_budget:,}", "lo": max(r["band_lo"] for r in rows),
                "hi": min(r["band_hi"] for r in rows)}

    large = [r["optimal_r_dw"] for r in per_budget if r["budget"] >= 1_000_000]
    return {"per_budget": per_budget, "common_1M_3M": common(1_000_000, 3_000_000),
            "common_1M_10M": common(1_000_000, 10_000_000),
            "optimal_range_ge_1M": [min(large), max(large)], "tolerance": tolerance}


def paper_bands_csv(paper: dict) -> str:
    """The per-budget optimum and band derived from the authors' table, as CSV text (with its source)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["budget", "shapes", "optimal_depth", "optimal_width", "optimal_r_dw", "best_test_loss",
                     "band_lo", "band_hi", "band_depths", "tolerance", "source"])
    for r in paper["per_budget"]:
        writer.writerow([r["budget"], r["shapes"], r["optimal_depth"], r["optimal_width"], r["optimal_r_dw"],
                         r["best_test_loss"], r["band_lo"], r["band_hi"], " ".join(map(str, r["band_depths"])),
                         paper["tolerance"], PAPER_SOURCE])
    return buffer.getvalue()
