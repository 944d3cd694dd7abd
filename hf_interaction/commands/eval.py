"""``hf-interaction eval``: MMLU-Pro through lm-evaluation-harness (thin wrapper over ``evaluate``)."""

from __future__ import annotations

import os

import click

from ..audit.settings import DTYPES
from ..core.numbers import cell
from ..errors import UsageError
from .batch import DONE, STORED, Outcome, check_model_or_list, model_subdir, read_list_models, run_list
from .common import emit_json, open_store, safety_options, store_option
from .options import model_or_list


def _limit(value: float | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value >= 1 and value == int(value) else value


@click.command("eval")
@model_or_list("Evaluate", "results", "--out gets")
@click.option("--task", default="leaderboard_mmlu_pro", show_default=True,
              help="leaderboard_mmlu_pro: 5-shot, option letters scored by log-likelihood, acc (Open LLM "
                   "Leaderboard v2; ≈10 requests, ≈1 forward pass per question). mmlu_pro: 5-shot "
                   "chain-of-thought generation, exact_match (up to 2048 new tokens per question).")
@click.option("--num-fewshot", type=int, default=None,
              help="Few-shot examples per prompt (default: the task's 5).")
@click.option("--batch-size", default="1", show_default=True,
              help="lm-eval batch size: a number, or 'auto' to search the largest that fits.")
@click.option("--limit", type=float, default=None, metavar="N",
              help="Evaluate only the first N questions per task as lm-eval's --limit does (a value < 1 "
                   "is a fraction). MMLU-Pro's test split is ordered by category, so prefer --subsample.")
@click.option("--subsample", type=float, default=None, metavar="FRACTION",
              help="Evaluate a seeded sample of this fraction of the questions, stratified by category "
                   "(each category keeps its share and appears at least once); the result is marked as a "
                   "subsample with a stratified estimate and its standard error.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the --subsample draw.")
@click.option("--dtype", type=click.Choice(DTYPES), default="float32", show_default=True, help="Weights dtype.")
@click.option("--device", default=None,
              help="Device for the model, e.g. cpu, cuda, cuda:1 (default: cuda when available, else cpu; "
                   "under accelerate launch each process's own device).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Evaluate from local MMLU-Pro files (test/validation .parquet or .jsonl, as written by "
                   "--export-data) instead of the Hub: works offline and pins the questions.")
@click.option("--export-data", "export_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Download the MMLU-Pro test and validation splits from the Hub into DIR (parquet + "
                   "manifest.json). With MODEL, then evaluate from DIR.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, metavar="DIR",
              help="Also write the result as JSON into DIR (and the samples with --log-samples).")
@click.option("--force", is_flag=True, help="Evaluate even if the store already has this result.")
@click.option("--log-samples", is_flag=True,
              help="Also write every question's prompt, responses and score to --out DIR (needs --out; "
                   "always evaluates, since samples are not kept in the store).")
@safety_options()
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON instead of a table.")
def command(model, list_path, task, num_fewshot, batch_size, limit, subsample, seed, dtype, device, data_dir,
            export_dir, out_dir, force, log_samples, allow_pickle, trust_remote_code, store_path, as_json):
    """MMLU-Pro score of MODEL through EleutherAI's lm-evaluation-harness.

    MODEL is a Hub id (optionally ID@REVISION), a local model directory, or `demo`. The result
    (overall accuracy ± standard error, per-category accuracy and counts, task and data hashes,
    versions, timing) goes to the results store, keyed by model, revision and settings: a repeated
    request is answered from the store unless --force.

    Offline: `hf-interaction eval --export-data DIR` where the Hub is reachable, then
    `hf-interaction eval MODEL --data DIR`. Data parallel: `accelerate launch --num_processes N
    -m hf_interaction eval MODEL ...` (one GPU per process; on a CPU-only host add --multi_gpu,
    since accelerate's --cpu launcher starts one process) or `torchrun --nproc_per_node N -m
    hf_interaction eval ...` splits the questions over N processes; only the main process prints
    and writes.

    `--list CSV` instead of MODEL evaluates every model of a list into the store (README: "The whole
    study in one command").
    """
    from .. import evaluation as evaluate

    if log_samples and not out_dir:
        raise UsageError("--log-samples writes the samples next to the result: give --out DIR too")
    if export_dir:
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise UsageError("run --export-data once, without accelerate launch, then evaluate with --data DIR")
        if data_dir:
            raise UsageError("give --export-data DIR or --data DIR, not both (--export-data DIR with MODEL "
                             "evaluates from DIR)")
        path = evaluate.export_data(export_dir)
        click.echo(f"exported MMLU-Pro test and validation splits to {path}", err=True)
        if not model and not list_path:
            return
        data_dir = str(path)
    if not model and not list_path:
        raise UsageError("missing MODEL (a Hub id, a local model directory or `demo`), --list FILE, or "
                         "--export-data DIR")
    check_model_or_list(model, list_path, "eval")
    if list_path and as_json:
        raise UsageError("--json prints one model's result; with --list the results go to the store "
                         "(`hf-interaction export` writes them out)")
    store = open_store(store_path)
    options = dict(task=task, num_fewshot=num_fewshot, batch_size=batch_size, limit=_limit(limit),
                   subsample=subsample, seed=seed, data_dir=data_dir, log_samples=log_samples, device=device,
                   dtype=dtype, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, store=store,
                   force=force)
    if list_path:
        run_list(read_list_models(list_path), lambda m: _list_turn(m, options, model_subdir(out_dir, m)),
                 kind="evaluations", store=store, what=f"eval --list {list_path}",
                 settings={k: v for k, v in options.items() if k != "store"})
        return
    result = _evaluate(model, options, out_dir)
    if result is None:  # a non-main process of a data-parallel run: the main process reports
        return
    if as_json:
        emit_json({**result.to_dict(), "cached": result.cached})
    else:
        print_table(result)


def _evaluate(model: str, options: dict, out_dir: str | None):
    """One model's result (None in a non-main process), written to ``out_dir`` too when given."""
    from .. import evaluation as evaluate

    result = evaluate.evaluate_mmlu_pro(model, **options, progress=lambda line: click.echo(line, err=True))
    if result is not None and out_dir:
        path = result.save(out_dir)
        click.echo(f"wrote {path}", err=True)
    return result


def _list_turn(model: str, options: dict, out_dir: str | None) -> Outcome | None:
    """One model of `eval --list`: evaluated (or found in the store), as a progress-line Outcome."""
    result = _evaluate(model, options, out_dir)
    if result is None:
        return None
    stderr = f" ± {result.acc_stderr:.4f}" if isinstance(result.acc_stderr, (int, float)) else ""
    return Outcome(STORED if result.cached else DONE, f"{result.metric} {result.acc:.4f}{stderr}")


def print_table(result) -> None:
    """Overall accuracy ± stderr and one row per category."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    shots = f"{result.num_fewshot}-shot"
    title = f"MMLU-Pro  {escape(result.model)}  ({result.task}, {shots}, {result.metric})"
    table = Table(title=title, title_justify="left")
    table.add_column("category", justify="left", no_wrap=True)
    table.add_column("n", justify="right")
    table.add_column("acc", justify="right")
    table.add_column("± stderr", justify="right")
    for name, row in result.categories.items():
        table.add_row(escape(name), cell(row["n"]), f"{row['acc']:.4f}", _se(row["stderr"]))
    table.add_row("[bold]overall[/]", cell(result.n_questions), f"[bold]{result.acc:.4f}[/]",
                  _se(result.acc_stderr), end_section=True)
    console = Console()
    console.print(table)
    notes = []
    if result.subsample:
        sub = result.subsample
        notes.append(f"subsample {sub['fraction']:g} (seed {sub['seed']}): {sub['n_sampled']:,} of "
                     f"{sub['n_population']:,} questions; stratified estimate of the full score "
                     f"{sub['estimate']:.4f} ± {sub['estimate_stderr']:.4f}")
    if result.limit is not None:
        notes.append(f"--limit {result.limit}: not the full test split")
    notes.append(f"data: {result.data.get('dataset') or result.data.get('path')} "
                 f"(fingerprint {result.data['fingerprint'][:12]}); task hash {result.task_hash[:12]}; "
                 f"lm-eval {result.lm_eval_version}; {result.wall_time_s:.1f} s")
    if result.cached:
        notes.append("from the results store (--force to evaluate again)")
    for note in notes:
        console.print(note, style="dim", soft_wrap=True, markup=False)


def _se(value) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"
