"""Everything an MMLU-Pro evaluation decides before it needs the model: the request checked, the
task and data loaded and validated, the subsample drawn, the work estimated, and the settings that
key the results store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.numbers import count, fixed
from ..core.runtime import package_versions
from ..errors import UsageError
from ..models.loading import LoadedModel
from ..models.source import ModelRef, resolve_model
from . import lm_eval_compat
from .subsample import plan_samples
from .tasks import (
    DEFAULT_TASK,
    LoadedTask,
    TaskSpec,
    check_fewshot_pool,
    get_task_spec,
    load_task,
    task_definition_hash,
)


@dataclass
class EvalPlan:
    """Everything decided before the model is needed: task, data, questions, and the store key."""

    spec: TaskSpec
    ref: ModelRef
    task: LoadedTask
    num_fewshot: int | None  # as requested (None: the task's own)
    limit: int | float | None
    samples: dict[str, list[int]] | None  # lm-eval ``samples`` for a subsample
    subsample: dict | None
    settings: dict


def plan_evaluation(model: LoadedModel | ModelRef | str, *, task: str = DEFAULT_TASK,
                    num_fewshot: int | None = None, batch_size: int | str = 1, limit: int | float | None = None,
                    subsample: float | None = None, seed: int = 0, data_dir: str | Path | None = None,
                    dtype: str = "float32") -> EvalPlan:
    """Check the request, load and validate the task and data, draw the subsample, and build the
    settings that key the store: every setting that changes the score (task and its definition
    hash, data fingerprint, few-shot count, limit, subsample and seed, dtype, lm-eval version)."""
    spec = get_task_spec(task)
    _check_arguments(num_fewshot, limit, subsample, batch_size)
    if isinstance(model, LoadedModel):
        ref = model.ref
    else:
        ref = model if isinstance(model, ModelRef) else resolve_model(model)
    loaded_task = load_task(spec, data_dir)
    fewshot = 5 if num_fewshot is None else num_fewshot
    check_fewshot_pool(spec, loaded_task.rows, fewshot)
    if limit is not None and limit >= 1:
        limit = int(limit)
    samples, sub_info = plan_samples(loaded_task, subsample, seed) if subsample else (None, None)
    settings = {
        "task": spec.name,
        "task_hash": task_definition_hash(spec),
        "data_fingerprint": loaded_task.data["fingerprint"],
        "num_fewshot": fewshot,
        "limit": limit,
        "subsample": subsample,
        "seed": seed if subsample else None,
        "dtype": _loaded_dtype(model) if isinstance(model, LoadedModel) else dtype,
        "lm_eval": package_versions()["lm_eval"],
    }
    return EvalPlan(spec, ref, loaded_task, num_fewshot, limit, samples, sub_info, settings)


def _check_arguments(num_fewshot: int | None, limit: int | float | None, subsample: float | None,
                     batch_size: int | str) -> None:
    """One clear UsageError for a request lm-eval would reject or misread."""
    if limit is not None and subsample is not None:
        raise UsageError("give --limit or --subsample, not both (lm-eval takes one way of choosing questions)")
    if limit is not None and (limit <= 0 or (limit >= 1 and limit != int(limit))):
        raise UsageError(f"--limit {limit} must be a positive whole number of questions or a fraction below 1")
    if subsample is not None and not 0 < subsample <= 1:
        raise UsageError(f"--subsample {subsample} must be a fraction in (0, 1]")
    if num_fewshot is not None and num_fewshot < 0:
        raise UsageError(f"--num-fewshot {num_fewshot} must be 0 or more")
    if isinstance(batch_size, str) and not (batch_size.startswith("auto") or batch_size.isdigit()):
        raise UsageError(f"--batch-size {batch_size!r} must be a number or 'auto'")


def describe_work(loaded: LoadedTask, samples: dict[str, list[int]] | None, limit: float | None,
                  num_fewshot: int, world_size: int) -> tuple[int, str]:
    """Number of questions and a one-line estimate of the work, before running."""
    n_questions = 0
    n_options = 0
    for name, task in loaded.tasks.items():
        docs = task.eval_docs
        chosen: Sequence[int]
        if samples is not None:
            chosen = samples.get(name, [])
        else:
            size = lm_eval_compat.sample_size(task, limit)
            chosen = range(min(len(docs), size) if size is not None else len(docs))
        n_questions += len(chosen)
        if loaded.spec.kind == "loglikelihood":
            n_options += sum(len(docs[int(i)]["options"]) for i in chosen)
    spread = f" over {world_size} processes" if world_size > 1 else ""
    if loaded.spec.kind == "loglikelihood":
        per_question = fixed(n_options / max(n_questions, 1), 1)
        work = (f"{count(n_options)} log-likelihood requests (≈{per_question} per question; ≈{count(n_questions)} "
                f"forward passes of the {num_fewshot}-shot prompt with lm-eval's logits cache)")
    else:
        work = (f"{count(n_questions)} generation requests of up to 2,048 new tokens each (greedy; "
                f"{num_fewshot}-shot chain-of-thought prompts)")
    return n_questions, f"{loaded.spec.name}: {count(n_questions)} questions → {work}{spread}"


def _loaded_dtype(loaded: LoadedModel) -> str:
    """The dtype of an already-loaded model, as its load recorded it or as torch names it."""
    dtype = loaded.info.get("dtype") if loaded.info else None
    if dtype:
        return str(dtype)
    return str(getattr(loaded.model, "dtype", "unknown")).replace("torch.", "")
