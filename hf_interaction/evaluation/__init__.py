"""MMLU-Pro through EleutherAI's lm-evaluation-harness (docs/design.md §7, issue 4).

* ``leaderboard_mmlu_pro`` (default): 5-shot, the ten option letters scored by log-likelihood,
  ``acc``; what the Open LLM Leaderboard v2 ran (≈10 log-likelihood requests per question, ≈1
  forward pass with lm-eval's one-token logits cache).
* ``mmlu_pro``: 5-shot chain-of-thought generation (greedy, up to 2048 new tokens), answer letter
  extracted by regex, ``exact_match``; a group of 14 per-category subtasks.

Modules, one job each: ``data`` (local MMLU-Pro files: export, reading, validation, fingerprint),
``tasks`` (the lm-eval task objects, generated YAML for local data), ``subsample`` (stratified draw
and its estimate), ``plan`` (what is decided before the model is needed), ``parallel`` (data
parallelism under ``accelerate launch``), ``run`` (the run and its record), ``result`` (the record),
``lm_eval_compat`` (every lm-eval internal relied on, and the version it was checked against).
"""

from .data import HUB_DATASET, data_fingerprint, export_data
from .plan import EvalPlan, plan_evaluation
from .result import EvalResult
from .run import evaluate_mmlu_pro
from .subsample import allocate, stratified_estimate, stratified_subsample
from .tasks import DEFAULT_TASK, TASKS, TaskSpec, builtin_task_dir, get_task_spec, load_task

__all__ = [
    "DEFAULT_TASK", "HUB_DATASET", "TASKS", "EvalPlan", "EvalResult", "TaskSpec", "allocate", "builtin_task_dir",
    "data_fingerprint", "evaluate_mmlu_pro", "export_data", "get_task_spec", "load_task", "plan_evaluation",
    "stratified_estimate", "stratified_subsample",
]
