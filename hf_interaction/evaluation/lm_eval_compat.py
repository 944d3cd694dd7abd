"""Every lm-evaluation-harness internal the evaluation relies on, in one place.

Checked against lm-eval 0.4.13 (``CHECKED_LM_EVAL``). The rest of the package uses lm-eval's public
API directly (``TaskManager(include_path=...)``, ``TaskManager.load``, ``HFLM(pretrained=model)``,
``simple_evaluate(model=lm, tasks=[...], samples=...)``, the Task/HFLM attributes ``eval_docs``,
``dataset``, ``config``, ``max_length``, ``max_gen_toks``, ``world_size``) and reaches anything
non-public only through the functions below. Each internal carries its reason; a missing one raises
:class:`LmEvalMismatch` (one line, exit code 3) naming it and the checked version, instead of an
AttributeError deep inside a run.

Internals used:

* the built-in task files under ``lm_eval/tasks/<dir>`` (the local-data task ``include``s them, and
  their bytes are the task hash): lm-eval has no API that returns a task's YAML path;
* ``HFLM._rank`` / ``HFLM._world_size`` (and ``accelerator``): lm-eval sets up data parallelism
  only for models it loads itself, and ``rank``/``world_size`` are read-only properties over these;
* ``lm_eval.evaluator.get_git_commit_hash`` / ``add_env_info`` replaced for one call: at its end
  ``simple_evaluate`` runs ``git describe`` and torch's ``collect_env`` (gcc, cmake, pip, ...:
  seconds of subprocesses and stderr noise) for provenance that does not affect scores and that we record ourselves;
* ``lm_eval.evaluator_utils.get_sample_size``: the question count printed before a run must be the
  one lm-eval will use for ``limit``;
* the ``lm_eval.models.huggingface`` logger's wording, to drop two warnings about pre-loaded models
  that do not apply (we set up data parallelism ourselves).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import InputError

CHECKED_LM_EVAL = "0.4.13"
_HF_LOGGER = "lm_eval.models.huggingface"
_PRELOADED_WARNINGS = ("not of type `str`", "already-initialized model")


class LmEvalMismatch(InputError):
    """The installed lm-eval lacks something this tool relies on (it was checked against 0.4.13)."""


def lm_eval_version() -> str:
    import lm_eval

    return str(getattr(lm_eval, "__version__", "unknown"))


def _mismatch(what: str) -> LmEvalMismatch:
    return LmEvalMismatch(f"the installed lm-eval {lm_eval_version()} has no {what}, which hf-interaction "
                          f"relies on (checked against lm-eval {CHECKED_LM_EVAL})",
                          f"install lm_eval=={CHECKED_LM_EVAL}")


def _internal(module: str, name: str) -> Any:
    """``module.name`` from lm-eval, or :class:`LmEvalMismatch`."""
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise _mismatch(f"{module}.{name}") from None
    return obj


def builtin_task_dir(relative: str) -> Path:
    """The directory of a built-in task's YAML and ``utils.py`` in the installed lm-eval."""
    import lm_eval

    path = Path(lm_eval.__file__).resolve().parent / "tasks" / relative
    if not path.is_dir():
        raise _mismatch(f"built-in task directory lm_eval/tasks/{relative}")
    return path


def task_manager(include_path: str | Path) -> Any:
    """A ``TaskManager`` that indexes only ``include_path`` (the full index of every task is slow to scan)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False, include_path=str(include_path))


class _DropPreloadedWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not any(text in msg for text in _PRELOADED_WARNINGS)


def make_hflm(model: Any, tokenizer: Any, batch_size: int | str, accelerator: Any | None) -> Any:
    """lm-eval's ``HFLM`` around an already-loaded model; under ``accelerate launch`` it gets the
    rank, world size and accelerator that lm-eval's evaluator uses to split and gather the work."""
    from lm_eval.models.huggingface import HFLM

    hf_log = logging.getLogger(_HF_LOGGER)
    quiet = _DropPreloadedWarnings()
    hf_log.addFilter(quiet)
    try:
        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)
    finally:
        hf_log.removeFilter(quiet)
    if accelerator is not None:
        if not (hasattr(lm, "_rank") and hasattr(lm, "_world_size")):
            raise _mismatch("HFLM._rank/_world_size (data parallelism for a pre-loaded model)")
        lm.accelerator = accelerator
        lm._rank = accelerator.process_index
        lm._world_size = accelerator.num_processes
    return lm


@contextlib.contextmanager
def lean_simple_evaluate() -> Iterator[None]:
    """``simple_evaluate`` without its ``git describe`` and ``collect_env`` provenance step."""
    from unittest import mock

    module = "lm_eval.evaluator"
    for name in ("get_git_commit_hash", "add_env_info"):
        _internal(module, name)
    ev = importlib.import_module(module)
    with mock.patch.object(ev, "get_git_commit_hash", lambda: None), \
            mock.patch.object(ev, "add_env_info", lambda storage: None):
        yield


def simple_evaluate(**kwargs: Any) -> dict | None:
    """``lm_eval.simple_evaluate(**kwargs)`` without the provenance subprocesses (see above)."""
    import lm_eval

    with lean_simple_evaluate():
        return lm_eval.simple_evaluate(**kwargs)


def sample_size(task: Any, limit: int | float | None) -> int | None:
    """The number of documents lm-eval evaluates for ``limit`` (None: all of them)."""
    return _internal("lm_eval.evaluator_utils", "get_sample_size")(task, limit)
