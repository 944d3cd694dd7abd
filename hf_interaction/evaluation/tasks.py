"""The two supported lm-eval MMLU-Pro tasks and their lm-eval task objects, for Hub or local data.

For local data an equivalent task is generated as YAML that ``include``s lm-eval's built-in task file
and replaces only ``dataset_path``/``dataset_kwargs``, then loaded with ``TaskManager(include_path=
...)``: prompt functions, few-shot split and sampler and the metric are the built-in ones, so the
scores agree with the built-in task's.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, NotReachableError, UsageError
from . import lm_eval_compat
from .data import DATA_FORMATS, HUB_DATASET, SPLITS, data_fingerprint, local_data_files, read_local_data, validate_rows

DEFAULT_TASK = "leaderboard_mmlu_pro"


@dataclass(frozen=True)
class TaskSpec:
    """One supported lm-eval task: where its built-in definition lives and how it is scored."""

    name: str
    builtin_dir: str  # relative to lm_eval/tasks
    metric: str
    filter: str
    kind: str  # "loglikelihood" | "generation"
    description: str


TASKS: dict[str, TaskSpec] = {
    "leaderboard_mmlu_pro": TaskSpec(
        "leaderboard_mmlu_pro", "leaderboard/mmlu_pro", "acc", "none", "loglikelihood",
        "5-shot, option letters scored by log-likelihood, acc (Open LLM Leaderboard v2)",
    ),
    "mmlu_pro": TaskSpec(
        "mmlu_pro", "mmlu_pro", "exact_match", "custom-extract", "generation",
        "5-shot chain-of-thought generation, regex-extracted letter, exact_match",
    ),
}


def get_task_spec(name: str) -> TaskSpec:
    """The :class:`TaskSpec` for a task name; a :class:`UsageError` for anything else."""
    if name not in TASKS:
        raise UsageError(f"unknown task {name!r}; choose one of {', '.join(TASKS)}")
    return TASKS[name]


def builtin_task_dir(spec: TaskSpec) -> Path:
    """The directory of lm-eval's built-in YAML/utils for ``spec`` in the installed lm-eval."""
    return lm_eval_compat.builtin_task_dir(spec.builtin_dir)


def task_definition_hash(spec: TaskSpec) -> str:
    """sha256 over the built-in task definition files (YAML and utils.py, name and bytes).

    Local-data tasks include these very files, so the hash names the prompt/few-shot/metric
    definition independently of where the data comes from; the data has its own fingerprint.
    """
    h = hashlib.sha256()
    for f in sorted(builtin_task_dir(spec).iterdir()):
        if f.is_file() and (f.suffix in (".yaml", ".py") or f.name.endswith("_yaml")):
            h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass
class LoadedTask:
    """lm-eval task objects for one evaluation, with what the evaluation needs to know."""

    spec: TaskSpec
    manager: Any  # lm_eval.tasks.TaskManager
    top: Any  # the Task (leaderboard) or Group (mmlu_pro) handed to simple_evaluate
    tasks: dict[str, Any]  # leaf task name -> Task
    data: dict[str, Any]  # source description: kind, path/dataset, files, fingerprint, rows
    rows: dict[str, list[dict]] = field(repr=False, default_factory=dict)  # the raw splits


def _category_subtask(category: str) -> str:
    return "mmlu_pro_" + category.replace(" ", "_")


def write_local_task(spec: TaskSpec, files: dict[str, Path], categories: Sequence[str], dest: Path) -> Path:
    """Write YAML for ``spec`` over local files into ``dest``: each file ``include``s the built-in
    task YAML and overrides only the dataset, so prompts, few-shot and metric are lm-eval's own.

    For ``mmlu_pro`` one subtask per category present in the data is written (the built-in group
    has all 14; exported MMLU-Pro data has all 14 too) plus the group file.
    """
    import yaml

    builtin = builtin_task_dir(spec)
    fmt = DATA_FORMATS[files["test"].suffix]
    dataset = {
        "dataset_path": fmt,
        "dataset_name": None,
        "dataset_kwargs": {"data_files": {split: str(path) for split, path in files.items()}},
    }
    dest.mkdir(parents=True, exist_ok=True)
    if spec.name == "leaderboard_mmlu_pro":
        doc = {"include": str(builtin / "mmlu_pro.yaml"), "task": spec.name, **dataset}
        (dest / "leaderboard_mmlu_pro.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        return dest
    subtasks = []
    for category in sorted(set(categories)):
        name = _category_subtask(category)
        source = builtin / f"{name}.yaml"
        if not source.is_file():
            raise InputError(f"category {category!r} has no subtask in lm-eval's mmlu_pro group",
                             "MMLU-Pro categories are lower-case names such as 'math' or 'computer science'")
        doc = {"include": str(source), "task": name, **dataset}
        (dest / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
        subtasks.append(name)
    group = yaml.safe_load((builtin / "_mmlu_pro.yaml").read_text(encoding="utf-8"))  # plain data, no !function
    group["task"] = [t for t in group["task"] if t in subtasks]
    (dest / "_mmlu_pro.yaml").write_text(yaml.safe_dump(group, sort_keys=False))
    return dest


def _build(spec: TaskSpec, include_path: Path) -> tuple[Any, Any, dict[str, Any]]:
    manager = lm_eval_compat.task_manager(include_path)
    loaded = manager.load([spec.name])
    top = loaded["groups"].get(spec.name) or loaded["tasks"][spec.name]
    return manager, top, dict(loaded["tasks"])


def load_task(spec: TaskSpec, data_dir: str | Path | None = None) -> LoadedTask:
    """Build the lm-eval task objects (this loads the data) and validate the data.

    Hub data uses lm-eval's built-in YAML directory as the only include path (the full task
    index is slow to scan). Local data is read, validated, fingerprinted, and served through
    generated YAML (:func:`write_local_task`).
    """
    if data_dir is None:
        builtin = builtin_task_dir(spec)
        try:
            manager, top, tasks = _build(spec, builtin)
        except Exception as exc:  # noqa: BLE001 - only the dataset download can fail for built-in YAML
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NotReachableError(f"cannot load {HUB_DATASET} from the Hugging Face Hub: {first}",
                                    "connect, or evaluate from exported files with --data DIR") from None
        rows = _task_rows(tasks)
        for split in SPLITS:
            validate_rows(rows[split], split, HUB_DATASET)
        data: dict[str, Any] = {"source": "hub", "dataset": HUB_DATASET}
    else:
        files = local_data_files(data_dir)
        rows = read_local_data(files)
        with tempfile.TemporaryDirectory(prefix="hf-interaction-task-") as tmp:
            write_local_task(spec, files, [r["category"] for r in rows["test"]], Path(tmp))
            manager, top, tasks = _build(spec, Path(tmp))
        data = {"source": "local", "path": str(files["test"].parent),
                "files": {s: f.name for s, f in files.items()}}
    data.update(fingerprint=data_fingerprint(rows), rows={s: len(rows[s]) for s in SPLITS})
    return LoadedTask(spec, manager, top, tasks, data, rows)


def _task_rows(tasks: dict[str, Any]) -> dict[str, list[dict]]:
    """The raw splits behind the tasks (every mmlu_pro subtask loads the same dataset)."""
    dataset = next(iter(tasks.values())).dataset
    return {split: dataset[split].to_list() for split in SPLITS}


def check_fewshot_pool(spec: TaskSpec, rows: dict[str, list[dict]], num_fewshot: int) -> None:
    """lm-eval's first_n sampler asserts on a short pool; say what is wrong instead."""
    if num_fewshot <= 0:
        return
    if spec.name == "leaderboard_mmlu_pro":
        if len(rows["validation"]) < num_fewshot:
            raise InputError(f"the validation split has {len(rows['validation'])} rows, fewer than the "
                             f"{num_fewshot} few-shot examples", "use --num-fewshot with a smaller number")
        return
    per_category: defaultdict[str, int] = defaultdict(int)
    for row in rows["validation"]:
        per_category[row["category"]] += 1
    for category in sorted({r["category"] for r in rows["test"]}):
        if per_category[category] < num_fewshot:
            raise InputError(f"the validation split has {per_category[category]} rows of category "
                             f"{category!r}, fewer than the {num_fewshot} few-shot examples mmlu_pro takes "
                             "per category", "use --num-fewshot with a smaller number")
