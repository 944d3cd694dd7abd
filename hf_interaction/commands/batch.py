"""Every model of a list, one after the other: ``audit --list FILE`` and ``eval --list FILE``.

The results store is what makes a list run resumable: a model whose result is stored with the same
settings is answered from the store ("stored, skipped"), so a run killed at any point (even with
``kill -9``) and started again recomputes only the models it had not finished. A model that fails
does not stop the run: why it failed is recorded in the store's ``failures`` table (``report
--list`` lists it), and the run ends with exit code 8 (:class:`~hf_interaction.errors.BatchFailed`)
once every model has had its turn. A model that later runs or is found in the store loses its
failure record.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from ..errors import BatchFailed, InputError, UsageError, UserError
from ..shape.model_list import read_model_list

#: Statuses of one model's turn.
DONE, STORED, FAILED = "done", "stored", "failed"


@dataclass(frozen=True)
class Outcome:
    """What one model's turn produced: ``status`` is DONE (computed) or STORED (a store hit);
    ``detail`` is a few words for the progress line (e.g. ``D/F 1.2e-04``)."""

    status: str
    detail: str = ""


@dataclass
class Summary:
    """Counts and failures of a list run."""

    total: int
    done: list[str] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def line(self, what: str) -> str:
        return (f"{what}: {self.total} model(s): {len(self.done)} done, {len(self.stored)} stored (skipped), "
                f"{len(self.failed)} failed")


def check_model_or_list(model: str | None, list_path: str | None, command: str) -> None:
    """One clear UsageError unless exactly one of MODEL and ``--list FILE`` is given."""
    if model and list_path:
        raise UsageError(f"give MODEL or --list FILE, not both (`hf-interaction {command} --list FILE` runs "
                         "every model of the list)")
    if not model and not list_path:
        raise UsageError("missing MODEL: give a Hub id, a local model directory or `demo`, or --list FILE "
                         "(a model-list CSV with a model_id column) to run every model of a list")


def read_list_models(path: str | Path) -> list[str]:
    """The ``model_id`` column of a model-list CSV, each model once, in list order.

    A list may name a model on several rows (one per published score); it runs once.
    """
    p = Path(path)
    rows = read_model_list(p, required=("model_id",))
    models: list[str] = []
    for number, row in enumerate(rows, start=2):  # line 1 is the header
        model = (row.get("model_id") or "").strip()
        if not model:
            raise InputError(f"model list {p}, line {number}: empty model_id")
        if model not in models:
            models.append(model)
    if not models:
        raise InputError(f"model list {p} has no rows")
    return models


def model_subdir(base: str | Path | None, model: str) -> str | None:
    """``base/<model as a file name>`` (e.g. ``out/Qwen__Qwen2.5-0.5B``), or None without a base."""
    if base is None:
        return None
    name = re.sub(r"[^\w.@-]+", "_", model.strip().strip("/").replace("/", "__")) or "model"
    return str(Path(base) / name)


def one_line_reason(exc: BaseException) -> str:
    """A failure as one line: a user error's message, else the exception's type and first line."""
    if isinstance(exc, UserError):
        text = exc.one_line()
    else:
        text = f"{type(exc).__name__}: {exc}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = lines[0] if lines else type(exc).__name__
    return line if len(line) <= 300 else line[:297] + "..."


def is_main_process() -> bool:
    """False in every process but the first of a data-parallel launch (``accelerate launch``, torchrun)."""
    return int(os.environ.get("RANK", "0")) == 0


def run_list(models: list[str], run_one: Callable[[str], Outcome | None], *, kind: str, store,
             what: str, settings: dict | None = None) -> Summary:
    """Run ``run_one`` on every model, print one progress line per model and a summary line.

    ``run_one`` returns an Outcome (None in a non-main process, which prints nothing). A model whose
    turn raises an Exception is recorded in ``store`` (``kind``; with ``settings`` for reference)
    and the run goes on; a UsageError (bad flags: every model would fail alike) and KeyboardInterrupt
    stop it. Raises :class:`BatchFailed` at the end when
    any model failed (in the main process only).
    """
    main = is_main_process()
    summary = Summary(total=len(models))
    width = len(str(len(models)))
    for index, model in enumerate(models, start=1):
        prefix = f"[{index:>{width}}/{len(models)}] {model}:"
        t0 = time.perf_counter()
        try:
            outcome = run_one(model)
        except UsageError:  # the flags, not the model: every model would fail the same way
            raise
        except Exception as exc:  # noqa: BLE001 - one model's failure must not stop the list
            reason = one_line_reason(exc)
            summary.failed.append((model, reason))
            _free_memory()
            if main:
                if store is not None:
                    store.record_failure(kind, model, reason, settings)
                _echo(f"{prefix} FAILED: {reason}")
            continue
        if not main or outcome is None:
            continue
        if store is not None:
            store.clear_failure(kind, model)
        detail = f" ({outcome.detail})" if outcome.detail else ""
        if outcome.status == STORED:
            summary.stored.append(model)
            _echo(f"{prefix} stored, skipped{detail}")
        else:
            summary.done.append(model)
            seconds = time.perf_counter() - t0
            _echo(f"{prefix} done in {seconds:.1f} s{detail}" if seconds < 10 else
                  f"{prefix} done in {seconds:.0f} s{detail}")
    if main:
        _echo(summary.line(what))
    if summary.failed and main:  # (the other processes of a launch stay quiet: the main one reports)
        names = ", ".join(m for m, _ in summary.failed[:5]) + (", ..." if len(summary.failed) > 5 else "")
        raise BatchFailed(f"{len(summary.failed)} of {len(models)} model(s) failed: {names}",
                          "each is recorded in the store and listed by `report --list`; rerunning the same "
                          "command retries them and skips the stored ones")
    return summary


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


def _free_memory() -> None:
    """Release what a failed model left on the accelerator before the next one loads."""
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
