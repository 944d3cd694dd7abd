"""One MMLU-Pro evaluation through lm-eval's Python API, and its record.

``lm_eval.simple_evaluate`` runs on an ``HFLM`` wrapping an already-loaded model, never a
subprocess, so the scores are lm-eval's scores. A stored result for the same request is returned
instead of running; only the main process of a data-parallel run builds the record and stores it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.runtime import package_versions, utc_now
from ..core.store import Store
from ..errors import InputError
from ..models.loading import LoadedModel, load_model
from ..models.source import ModelRef
from . import lm_eval_compat
from .data import quiet_datasets
from .parallel import default_device, distributed, place_for_data_parallel
from .plan import EvalPlan, describe_work, plan_evaluation
from .result import EvalResult, per_category, requests_hash, slim_samples
from .subsample import stratified_estimate
from .tasks import DEFAULT_TASK, LoadedTask

log = logging.getLogger(__name__)


def evaluate_mmlu_pro(
    model: LoadedModel | ModelRef | str,
    *,
    task: str = DEFAULT_TASK,
    num_fewshot: int | None = None,
    batch_size: int | str = 1,
    limit: int | float | None = None,
    subsample: float | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
    log_samples: bool = False,
    device: str | None = None,
    dtype: str = "float32",
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    store: Store | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> EvalResult | None:
    """Evaluate a model on MMLU-Pro through lm-eval and (with ``store``) record the result.

    ``model`` is an already-loaded :class:`LoadedModel` (``audit --eval`` reuses its model), a
    :class:`ModelRef` or a model spec; the latter two are loaded with ``dtype``/``device``/
    ``allow_pickle``/``trust_remote_code`` only when the store has no result for the request.
    ``limit`` is lm-eval's (first N questions per task, or a fraction if < 1); ``subsample`` is a
    seeded category-stratified fraction; they exclude each other. ``data_dir`` evaluates from files
    written by :func:`export_data`. A stored result for the same model, revision and settings is
    returned (``cached=True``) unless ``force`` or ``log_samples`` (samples are never stored).

    Returns the result on the main process and None on the other processes of a multi-process run.
    """
    with quiet_datasets():
        plan = plan_evaluation(model, task=task, num_fewshot=num_fewshot, batch_size=batch_size, limit=limit,
                               subsample=subsample, seed=seed, data_dir=data_dir, dtype=dtype)
        if store is not None and not force and not log_samples:
            record = store.get("evaluations", plan.ref.model_id, plan.ref.resolved_revision, plan.settings)
            if record is not None:
                return EvalResult.from_dict(record.payload, cached=True)
        accelerator = distributed(device)
        device = default_device(device, accelerator)
        loaded = model if isinstance(model, LoadedModel) else load_model(
            plan.ref, dtype=dtype, device=device, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
        run = _run(plan, loaded, batch_size, accelerator, progress or log.info)
        if run is None:  # not the main process: lm-eval gathered everything on rank 0
            return None
        result = _build_result(plan, loaded, *run, log_samples=log_samples)
        if store is not None:
            store.put("evaluations", plan.ref.model_id, plan.ref.resolved_revision, plan.settings,
                      result.to_dict())
        return result


def _run(plan: EvalPlan, loaded: LoadedModel, batch_size: int | str, accelerator: Any | None,
         progress: Callable[[str], None]) -> tuple[dict, float, int] | None:
    """Run ``lm_eval.simple_evaluate``; (results, wall seconds, processes) on the main process."""
    if accelerator is not None:
        place_for_data_parallel(loaded, accelerator)
    lm = lm_eval_compat.make_hflm(loaded.model, loaded.tokenizer, batch_size, accelerator)
    if plan.spec.kind == "generation":
        _check_generation_room(lm, plan.task, plan.ref)
    if accelerator is None or accelerator.is_main_process:
        progress(describe_work(plan.task, plan.samples, plan.limit, plan.settings["num_fewshot"], lm.world_size)[1])
    start = time.perf_counter()
    results = lm_eval_compat.simple_evaluate(
        model=lm, tasks=[plan.task.top], task_manager=plan.task.manager, num_fewshot=plan.num_fewshot,
        batch_size=batch_size, limit=plan.limit, samples=plan.samples, log_samples=True,
    )
    if results is None:
        return None
    return results, time.perf_counter() - start, lm.world_size


def _check_generation_room(lm: Any, loaded_task: LoadedTask, ref: ModelRef) -> None:
    """lm-eval asserts when the generation budget does not fit the context; say so up front."""
    task = next(iter(loaded_task.tasks.values()))
    max_gen = int((task.config.generation_kwargs or {}).get("max_gen_toks", lm.max_gen_toks))
    if lm.max_length <= max_gen:
        raise InputError(f"{ref.model_id} has a {lm.max_length}-token context, too short for {loaded_task.spec.name}'s "
                         f"{max_gen}-token chain-of-thought answers plus the prompt",
                         "use --task leaderboard_mmlu_pro")


def _build_result(plan: EvalPlan, loaded: LoadedModel, results: dict, wall: float, world_size: int, *,
                  log_samples: bool) -> EvalResult:
    """The :class:`EvalResult` from lm-eval's results and samples (main process only)."""
    spec, ref = plan.spec, plan.ref
    top = results["results"][spec.name]
    stderr = top.get(f"{spec.metric}_stderr,{spec.filter}")
    samples = [dict(s, task=name) for name, rows in sorted(results["samples"].items()) for s in rows]
    categories = per_category(samples, spec.metric)
    sub_info = plan.subsample
    if sub_info is not None:
        estimate, estimate_se = stratified_estimate(categories, sub_info["population"])
        sub_info = {**sub_info, "estimate": estimate, "estimate_stderr": estimate_se}
    versions = package_versions()
    return EvalResult(
        model=ref.model_id,
        revision=ref.resolved_revision,
        task=spec.name,
        metric=spec.metric,
        acc=float(top[f"{spec.metric},{spec.filter}"]),
        acc_stderr=float(stderr) if isinstance(stderr, (int, float)) else None,
        n_questions=len(samples),
        categories=categories,
        num_fewshot=int(results["n-shot"].get(spec.name, plan.settings["num_fewshot"])),
        limit=plan.limit,
        subsample=sub_info,
        task_hash=plan.settings["task_hash"],
        requests_hash=requests_hash(samples),
        data=plan.task.data,
        provenance=ref.provenance(),
        runtime={**{k: v for k, v in loaded.info.items() if k != "device_map"}, "dtype": plan.settings["dtype"],
                 "num_processes": world_size, "batch_size": results.get("config", {}).get("batch_size"),
                 "wall_time_s": wall, "questions_per_s": len(samples) / wall if wall > 0 else None},
        versions=versions,
        created_at=utc_now(),
        settings=plan.settings,
        samples=slim_samples(samples) if log_samples else None,
    )
