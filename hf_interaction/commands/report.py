"""``hf-interaction report``: the MMLU-Pro correlation report (docs/design.md §7)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import InputError
from .common import get_interval, interval_options, open_store, store_option

# Defaults literal here (not imported from report.stats, which pulls in scipy) so `--help` stays fast;
# tests/report/test_report.py checks they equal stats.DEFAULT_N_BOOT / DEFAULT_N_PERM / DEFAULT_SEED.


def _store_for_report(store_path: str | None, no_store: bool):
    """The results store to read, or None.

    ``--no-store`` reads none (what the committed report uses, so it depends on committed files
    only). Otherwise the store is read only if its file exists: a report never creates a store, and
    a ``--store`` file named on the command line that does not exist is an error.
    """
    if no_store:
        return None, None
    from ..core.store import default_store_path

    path = Path(store_path) if store_path else default_store_path()
    if not path.is_file():
        source = click.get_current_context().get_parameter_source("store_path")
        if store_path and source == click.core.ParameterSource.COMMANDLINE:
            raise InputError(f"results store not found: {path}", "pass --no-store to use published scores only")
        return None, None
    return open_store(str(path)), str(path)


@click.command("report")
@click.option("--list", "list_path", required=True, multiple=True, metavar="CSV",
              help="Model list (e.g. model_lists/small_llms.csv): config fields and sourced MMLU-Pro scores. "
                   "Repeatable; when the first list has one scoring setup the report leads with it.")
@click.option("--out", "out_dir", default="reports", show_default=True, metavar="DIR",
              help="Directory for the report, its figures and its data table.")
@interval_options
@store_option
@click.option("--no-store", is_flag=True,
              help="Ignore the results store: published scores from the list only (reproducible from "
                   "committed files).")
@click.option("--n-boot", default=2000, show_default=True, type=click.IntRange(min=100),
              help="Bootstrap resamples per statistic.")
@click.option("--n-perm", default=2000, show_default=True, type=click.IntRange(min=100),
              help="Permutations per test (every permutation when n! is not larger).")
@click.option("--seed", default=0, show_default=True, type=int,
              help="Seed of the bootstrap and permutation draws.")
def command(list_path: tuple[str, ...], out_dir: str, interval_text: str | None, interval_file: str | None,
            store_path: str | None, no_store: bool, n_boot: int, n_perm: int, seed: int) -> None:
    """Correlate interval position with MMLU-Pro score, per scoring setup, raw and size-controlled.

    Writes mmlu_pro_correlation.md, a self-contained mmlu_pro_correlation.html, PNG and SVG figures
    and the exact data table (CSV) to --out. Scores from `hf-interaction eval` and metrics from
    `hf-interaction audit` found in the store are added (as their own setup / as columns) unless
    --no-store. The same inputs regenerate byte-identical files.
    """
    from ..report import generate_report, short_setting_summary

    interval = get_interval(interval_text, interval_file)
    store, resolved_store = _store_for_report(store_path, no_store)
    result = generate_report(list(list_path), out_dir, interval, store, store_path=resolved_store,
                             interval_file=interval_file, n_boot=n_boot, n_perm=n_perm, seed=seed)
    for line in short_setting_summary(result):
        click.echo(line)
    from ..report.store_rows import list_run_summary

    for line in list_run_summary(result.table.attrs.get("notes") or []):
        click.echo(line)
    click.echo(f"wrote {len(result.files)} files to {result.out_dir}/")
