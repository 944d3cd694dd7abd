"""The whole report computed and written: Markdown, self-contained HTML, figures, data table and
statistics, all or nothing, byte-identical for the same inputs.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.document import to_html, to_markdown
from ..core.outputs import Writer, bytes_writer, output_dir, write_together
from ..core.runtime import package_versions
from ..errors import UsageError
from ..shape.interval import DEFAULT_INTERVAL, Interval
from . import stats
from .inputs import file_sha256
from .lead import LeadAnalysis, analyse_lead
from .store_rows import EVAL_SETTING_PREFIX
from .table import analyse_table, build_table

REPORT_STEM = "mmlu_pro_correlation"
DATA_FILE = f"{REPORT_STEM}_data.csv"
STATS_FILE = f"{REPORT_STEM}_stats.csv"


@dataclass(frozen=True)
class ReportOutput:
    """What :func:`generate_report` wrote, and the analysis behind it."""

    out_dir: Path
    files: tuple[Path, ...]
    table: pd.DataFrame
    analyses: tuple[stats.SettingAnalysis, ...]
    lead: LeadAnalysis | None = None


def _paths(list_path: str | Path | Sequence[str | Path]) -> list[str]:
    """One model list or several, as strings in the order given."""
    return [str(list_path)] if isinstance(list_path, (str, Path)) else [str(p) for p in list_path]


def regenerate_command(list_path: str | Sequence[str], out_dir: str, interval: Interval, store_path: str | None,
                       n_boot: int, n_perm: int, seed: int, interval_file: str | None = None) -> str:
    """The command line that regenerates this report (options at their defaults left out)."""
    parts = ["hf-interaction", "report"]
    for path in _paths(list_path):
        parts += ["--list", path]
    parts += ["--out", str(out_dir)]
    if interval_file:
        parts += ["--interval-file", str(interval_file)]
    elif interval != DEFAULT_INTERVAL:
        parts += ["--interval", f"{interval.lo:g}:{interval.hi:g}"]
    parts += ["--store", str(store_path)] if store_path else ["--no-store"]
    for flag, value, default in (("--n-boot", n_boot, stats.DEFAULT_N_BOOT),
                                 ("--n-perm", n_perm, stats.DEFAULT_N_PERM),
                                 ("--seed", seed, stats.DEFAULT_SEED)):
        if value != default:
            parts += [flag, str(value)]
    return " ".join(shlex.quote(p) for p in parts)


def provenance(list_path: str | Path | Sequence[str | Path], table: pd.DataFrame, interval: Interval, store_desc: str,
               command: str, n_boot: int, n_perm: int, seed: int) -> dict:
    """Everything needed to know what this report was computed from."""
    import matplotlib
    import PIL
    import scipy
    import seaborn

    return {
        "model list": "; ".join(f"`{p}` (sha256 `{file_sha256(p)}`)" for p in _paths(list_path)),
        "interval": f"R_D/W ∈ [{interval.lo:g}, {interval.hi:g}] (centre {interval.centre:.4f}); "
                    f"source: {interval.source}",
        "parameter counts": table.attrs.get("params_source", ""),
        "results store": store_desc,
        "statistics": f"{n_boot} bootstrap resamples, {n_perm} permutations (exact enumeration when "
                      f"n! ≤ {n_perm}), seed {seed}",
        "software": f"hf-interaction {package_versions()['hf-interaction']}; numpy {np.__version__}, "
                    f"scipy {scipy.__version__}, pandas {pd.__version__}, matplotlib {matplotlib.__version__}, "
                    f"seaborn {seaborn.__version__}, pillow {PIL.__version__} (writes the PNGs)",
        "regenerate": f"`{command}`",
    }


def generate_report(list_path: str | Path | Sequence[str | Path], out_dir: str | Path = "reports",
                    interval: Interval = DEFAULT_INTERVAL, store=None, *,
                    store_path: str | None = None, interval_file: str | None = None,
                    n_boot: int = stats.DEFAULT_N_BOOT, n_perm: int = stats.DEFAULT_N_PERM,
                    seed: int = stats.DEFAULT_SEED) -> ReportOutput:
    """Compute and write the whole report; nothing is written unless everything succeeded.

    Files: ``mmlu_pro_correlation.{md,html}``, the data table and statistics CSVs, and each figure
    as PNG and SVG. Report files from an earlier run that this run does not produce (an AOFE figure
    when the store no longer has audits) are removed so the directory never mixes runs.
    ``store_path`` and ``interval_file`` only go into the regenerate command shown in the report.
    Several lists may be given; when the first has a single scoring setup, the report leads with it
    (:mod:`.lead`: base / instruct / pooled analyses, detectable effect sizes, its own figure and CSV).
    """
    from . import figures, render
    from .lead_render import LEAD_STATS_FILE, lead_stats_csv

    for name, value in (("--n-boot", n_boot), ("--n-perm", n_perm)):
        if value < 100:
            raise UsageError(f"{name} must be at least 100, got {value}")
    table = build_table(list_path, interval, store)
    analyses = analyse_table(table, n_boot=n_boot, n_perm=n_perm, seed=seed)
    lead_setting = table.attrs.get("lead_setting", "")
    lead = analyse_lead(table, lead_setting, n_boot=n_boot, n_perm=n_perm, seed=seed) if lead_setting else None
    command = regenerate_command(_paths(list_path), str(out_dir), interval, store_path, n_boot, n_perm, seed,
                                 interval_file)
    prov = provenance(list_path, table, interval, _describe_store(store, store_path, table), command,
                      n_boot, n_perm, seed)
    figs = figures.make_figures(table, analyses, interval, lead)
    files: dict[str, bytes] = {}
    for name, (png, svg) in figs.items():
        files[f"{name}.png"] = png
        files[f"{name}.svg"] = svg
    files[DATA_FILE] = render.table_csv(table).encode()
    files[STATS_FILE] = render.stats_csv(analyses).encode()
    if lead is not None:
        files[LEAD_STATS_FILE] = lead_stats_csv(lead, n_boot, seed).encode()
    doc = render.build_document(table, analyses, interval, prov, figs, DATA_FILE, STATS_FILE, lead)
    files[f"{REPORT_STEM}.md"] = to_markdown(doc).encode()
    files[f"{REPORT_STEM}.html"] = to_html(doc, render.TITLE, {name: png for name, (png, _) in figs.items()}).encode()
    out = output_dir(out_dir)
    writers: dict[Path, Writer | None] = {out / name: bytes_writer(files[name]) for name in sorted(files)}
    stale = ({f"{stem}.{ext}" for stem in figures.ALL_FIGURES for ext in ("png", "svg")} | {LEAD_STATS_FILE}
             ) - files.keys()
    writers.update({out / name: None for name in sorted(stale)})
    written = write_together(writers)
    return ReportOutput(out, tuple(written), table, tuple(analyses), lead)


def _describe_store(store, store_path: str | None, table: pd.DataFrame) -> str:
    if store is None:
        return "not used (`--no-store` or no store file): published scores only"
    n_eval = int(table["mmlu_pro_setting"].str.startswith(EVAL_SETTING_PREFIX).sum())
    n_audit = int(table["aofe"].notna().groupby(table["model_id"]).any().sum()) if "aofe" in table else 0
    return (f"`{store_path or store.path}`: {n_eval} evaluation score(s) and audits of {n_audit} model(s) "
            "used")


def short_setting_summary(result: ReportOutput) -> list[str]:
    """One console line per scoring setup: n and the short verdict."""
    from .verdicts import short_verdict

    lines = [f"{a.setting} (n = {a.n}): {short_verdict(a)}" for a in result.analyses]
    if result.lead is not None:
        from .lead_render import opening_sentence

        lines.insert(0, opening_sentence(result.lead).replace("**", ""))
    return lines
