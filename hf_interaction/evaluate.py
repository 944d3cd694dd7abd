"""MMLU-Pro through EleutherAI's lm-evaluation-harness (DESIGN.md §7, issue 4).

Everything runs through lm-eval's Python API (``lm_eval.simple_evaluate`` with an ``HFLM`` wrapping
an already-loaded model), never a subprocess, so the scores are lm-eval's scores:

* ``leaderboard_mmlu_pro`` (default): 5-shot, the ten option letters scored by log-likelihood,
  ``acc``; what the Open LLM Leaderboard v2 ran. Cost: one log-likelihood request per option
  (≈10 per question); lm-eval's one-token logits cache turns them into ≈1 forward pass per question.
* ``mmlu_pro``: 5-shot chain-of-thought generation (greedy, up to 2048 new tokens, stops at
  "Question:"), answer letter extracted by regex, ``exact_match``; one group of 14 per-category
  subtasks. Cost: one generation request per question, i.e. up to 2048 decoding steps.

Data comes from the Hub (``TIGER-Lab/MMLU-Pro``, as in lm-eval's built-in task) or, for offline and
pinned runs, from a directory written by :func:`export_data` (``test`` and ``validation`` splits as
``.parquet`` or ``.jsonl``). For local data an equivalent task is generated as YAML that
``include``s lm-eval's built-in task file and only replaces ``dataset_path``/``dataset_kwargs``, then
loaded with ``TaskManager(include_path=...)``: the prompt functions, few-shot split and sampler and
the metric are the built-in ones, so the scores agree.

The seeded, category-stratified subsample is passed to lm-eval as its ``samples`` argument (document
indices per task), so lm-eval itself evaluates exactly those questions.

Under ``accelerate launch -m hf_interaction eval ...`` every process loads the model on its own
device and lm-eval spreads the questions over the processes (``HFLM``'s rank/world size, set here
because lm-eval only does it for models it loads itself and only for GPUs); only the main process
builds the result and writes to the store and to files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import os
import tempfile
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from .errors import InputError, NotReachableError, UsageError
from .loading import LoadedModel, load_model
from .source import ModelRef, resolve_model
from .store import Store, settings_hash

log = logging.getLogger(__name__)

DEFAULT_TASK = "leaderboard_mmlu_pro"
HUB_DATASET = "TIGER-Lab/MMLU-Pro"
SPLITS = ("test", "validation")
COLUMNS = ("question_id", "question", "options", "answer", "answer_index", "cot_content", "category", "src")
LETTERS = "ABCDEFGHIJ"
DATA_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}
RESULT_SCHEMA = 1


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
    import lm_eval

    return Path(lm_eval.__file__).resolve().parent / "tasks" / spec.builtin_dir


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


# --------------------------------------------------------------------------------------------- data


def validate_rows(rows: Sequence[dict], split: str, where: str) -> None:
    """Check MMLU-Pro rows: the columns exist, options are 1-10 strings, answer_index is in range
    and agrees with the answer letter, and the split is not empty. Raises :class:`InputError`."""
    if len(rows) == 0:
        raise InputError(f"the {split} split in {where} is empty", "re-export it with --export-data DIR")
    # A column absent from one split's file comes back as all-None when datasets reads both splits.
    missing = [c for c in COLUMNS if all(row.get(c) is None for row in rows)]
    if missing:
        raise InputError(f"the {split} split in {where} lacks the column(s) {', '.join(missing)}",
                         f"MMLU-Pro files need {', '.join(COLUMNS)}")
    for row in rows:
        qid = row.get("question_id")
        options = row.get("options")
        if not isinstance(options, (list, tuple)) or not options:
            raise InputError(f"question {qid} in the {split} split of {where} has no options")
        if len(options) > len(LETTERS):
            raise InputError(f"question {qid} in the {split} split of {where} has {len(options)} options; "
                             f"MMLU-Pro has at most {len(LETTERS)}")
        index = row.get("answer_index")
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(options):
            raise InputError(f"question {qid} in the {split} split of {where} has answer_index {index!r}, "
                             f"outside 0..{len(options) - 1} for its {len(options)} options")
        if row.get("answer") != LETTERS[index]:
            raise InputError(f"question {qid} in the {split} split of {where} has answer "
                             f"{row.get('answer')!r} but answer_index {index} (letter {LETTERS[index]})")
        if not isinstance(row.get("question"), str) or not isinstance(row.get("category"), str):
            raise InputError(f"question {qid} in the {split} split of {where} lacks question text or category")


def find_split_file(data_dir: Path, split: str) -> Path:
    """``DIR/<split>.parquet`` or ``DIR/<split>.jsonl`` (the first that exists)."""
    for suffix in DATA_FORMATS:
        path = data_dir / f"{split}{suffix}"
        if path.is_file():
            return path
    raise InputError(f"no {split} split in {data_dir} (expected {split}.parquet or {split}.jsonl)",
                     "write one with `hf-interaction eval --export-data DIR` where the Hub is reachable")


def local_data_files(data_dir: str | Path) -> dict[str, Path]:
    """The split files of a local MMLU-Pro directory, checked to exist and share one format."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise InputError(f"--data {data_dir}: no such directory",
                         "give a directory written by `hf-interaction eval --export-data DIR`")
    files = {split: find_split_file(root, split).resolve() for split in SPLITS}
    if len({DATA_FORMATS[f.suffix] for f in files.values()}) > 1:
        raise InputError(f"the splits in {root} mix file formats; use parquet or jsonl for both")
    return files


def read_local_data(files: dict[str, Path]) -> dict[str, list[dict]]:
    """Read and validate the split files with the same ``datasets`` loader lm-eval will use."""
    import datasets

    fmt = DATA_FORMATS[files["test"].suffix]
    for split, path in files.items():
        if path.stat().st_size == 0:
            raise InputError(f"the {split} split in {path.parent} is empty ({path.name} has no rows)")
    try:
        dsd = datasets.load_dataset(fmt, data_files={k: str(v) for k, v in files.items()})
    except Exception as exc:  # noqa: BLE001 - datasets raises many types for unreadable files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read the MMLU-Pro files in {files['test'].parent}: {first}") from None
    rows = {split: dsd[split].to_list() for split in SPLITS}
    for split in SPLITS:
        validate_rows(rows[split], split, str(files[split].parent))
    return rows


def data_fingerprint(splits: dict[str, Sequence[dict]]) -> str:
    """sha256 of the rows of every split as canonical JSON: equal for equal data, whatever the source."""
    h = hashlib.sha256()
    for split in sorted(splits):
        h.update(split.encode() + b"\0")
        for row in splits[split]:
            h.update(json.dumps(row, sort_keys=True, ensure_ascii=False, default=str).encode() + b"\n")
    return h.hexdigest()


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """Hide ``datasets``' per-call progress bars (split generation, the per-category ``filter`` of
    every mmlu_pro subtask): noise next to lm-eval's own progress, and an error must stay one line."""
    import datasets

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if was_enabled:
            datasets.enable_progress_bars()


def _atomic_write_bytes(path: Path, writer: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_data(out_dir: str | Path, *, dataset: str = HUB_DATASET, revision: str | None = None) -> Path:
    """Save the MMLU-Pro test and validation splits as ``test.parquet``/``validation.parquet`` plus
    ``manifest.json`` (dataset id, resolved commit, row counts, data fingerprint) under ``out_dir``.

    Needs the Hub (or a warm ``datasets`` cache). The directory is what ``--data DIR`` reads, so a
    machine without network can evaluate exactly the same questions.
    """
    import datasets

    out = Path(out_dir).expanduser()
    commit = _dataset_commit(dataset, revision)
    try:
        dsd = datasets.load_dataset(dataset, revision=commit or revision)
    except Exception as exc:  # noqa: BLE001 - network and hub errors come in many types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotReachableError(f"cannot download {dataset} from the Hugging Face Hub: {first}",
                                "connect to the network, or copy a directory written by --export-data") from None
    missing = [s for s in SPLITS if s not in dsd]
    if missing:
        raise InputError(f"{dataset} has no {', '.join(missing)} split; is it MMLU-Pro?")
    rows = {split: dsd[split].to_list() for split in SPLITS}
    for split in SPLITS:
        validate_rows(rows[split], split, dataset)
    out.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        _atomic_write_bytes(out / f"{split}.parquet", lambda tmp, s=split: dsd[s].to_parquet(str(tmp)))
    manifest = {
        "dataset": dataset,
        "requested_revision": revision,
        "revision": commit,
        "rows": {split: len(rows[split]) for split in SPLITS},
        "data_fingerprint": data_fingerprint(rows),
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "datasets_version": datasets.__version__,
    }
    _atomic_write_bytes(out / "manifest.json",
                        lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8"))
    return out


def _dataset_commit(dataset: str, revision: str | None) -> str | None:
    """The commit hash of a Hub dataset revision, or None when the Hub cannot be asked."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(dataset, revision=revision).sha
    except Exception:  # noqa: BLE001 - offline or unknown: the download below reports it
        return None


# ------------------------------------------------------------------------------------------- tasks


@dataclass
class LoadedTask:
    """lm-eval task objects for one evaluation, with what the rest of this module needs to know."""

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
    from lm_eval.tasks._yaml_loader import load_yaml

    group = load_yaml(builtin / "_mmlu_pro.yaml", resolve_func=False, recursive=False)
    group["task"] = [t for t in group["task"] if t in subtasks]
    (dest / "_mmlu_pro.yaml").write_text(yaml.safe_dump(group, sort_keys=False))
    return dest


def _build(spec: TaskSpec, include_path: Path) -> tuple[Any, Any, dict[str, Any]]:
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False, include_path=str(include_path))
    loaded = manager.load([spec.name])
    top = loaded["groups"].get(spec.name) or loaded["tasks"][spec.name]
    return manager, top, dict(loaded["tasks"])


def load_task(spec: TaskSpec, data_dir: str | Path | None = None) -> LoadedTask:
    """Build the lm-eval task objects (this loads the data) and validate the data.

    Hub data uses lm-eval's built-in YAML directory as the only include path (fast: the full task
    index takes ~10 s to scan). Local data is read, validated, fingerprinted, and served through
    generated YAML (:func:`write_local_task`).
    """
    if data_dir is None:
        try:
            manager, top, tasks = _build(spec, builtin_task_dir(spec))
        except Exception as exc:  # noqa: BLE001 - only the dataset download can fail for built-in YAML
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NotReachableError(f"cannot load {HUB_DATASET} from the Hugging Face Hub: {first}",
                                    "connect, or evaluate from exported files with --data DIR") from None
        rows = _task_rows(tasks)
        for split in SPLITS:
            validate_rows(rows[split], split, HUB_DATASET)
        data = {"source": "hub", "dataset": HUB_DATASET}
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


def _check_fewshot_pool(spec: TaskSpec, rows: dict[str, list[dict]], num_fewshot: int) -> None:
    """lm-eval's first_n sampler asserts on a short pool; say what is wrong instead."""
    if num_fewshot <= 0:
        return
    if spec.name == "leaderboard_mmlu_pro":
        if len(rows["validation"]) < num_fewshot:
            raise InputError(f"the validation split has {len(rows['validation'])} rows, fewer than the "
                             f"{num_fewshot} few-shot examples", "use --num-fewshot with a smaller number")
        return
    per_category = defaultdict(int)
    for row in rows["validation"]:
        per_category[row["category"]] += 1
    for category in sorted({r["category"] for r in rows["test"]}):
        if per_category[category] < num_fewshot:
            raise InputError(f"the validation split has {per_category[category]} rows of category "
                             f"{category!r}, fewer than the {num_fewshot} few-shot examples mmlu_pro takes "
                             "per category", "use --num-fewshot with a smaller number")


# --------------------------------------------------------------------------------------- subsample


def allocate(counts: dict[str, int], fraction: float) -> dict[str, int]:
    """Questions to draw per category: ``round(fraction × N_c)`` (halves up), at least 1, at most N_c."""
    return {c: max(1, min(n, math.floor(fraction * n + 0.5))) for c, n in counts.items()}


def stratified_subsample(categories: Sequence[str], fraction: float, seed: int) -> list[int]:
    """Sorted indices of a seeded sample stratified by category.

    Each category keeps its share (:func:`allocate`) and is represented at least once. A category's
    draw is the first n_c of a permutation seeded by (seed, category), so the sample does not depend
    on the other categories, and a smaller fraction's sample is contained in a larger one's.
    """
    import numpy as np

    if not 0 < fraction <= 1:
        raise UsageError(f"--subsample {fraction} must be a fraction in (0, 1]")
    by_category: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(categories):
        by_category[c].append(i)
    quota = allocate({c: len(ix) for c, ix in by_category.items()}, fraction)
    chosen: list[int] = []
    for c in sorted(by_category):
        rng = np.random.default_rng([seed, zlib.crc32(c.encode())])
        perm = rng.permutation(len(by_category[c]))[: quota[c]]
        chosen += [by_category[c][int(k)] for k in perm]
    return sorted(chosen)


def plan_samples(loaded: LoadedTask, fraction: float, seed: int) -> tuple[dict[str, list[int]], dict]:
    """lm-eval ``samples`` (sorted doc indices per leaf task) for a stratified subsample, and its
    description (population and sample size per category)."""
    pairs = [(name, i, doc["category"]) for name, task in sorted(loaded.tasks.items())
             for i, doc in enumerate(task.eval_docs)]
    picked = stratified_subsample([c for _, _, c in pairs], fraction, seed)
    samples: dict[str, list[int]] = defaultdict(list)
    for k in picked:
        samples[pairs[k][0]].append(pairs[k][1])
    population = defaultdict(int)
    for _, _, c in pairs:
        population[c] += 1
    info = {"fraction": fraction, "seed": seed, "population": dict(sorted(population.items())),
            "sampled": dict(sorted(allocate(population, fraction).items())),
            "n_population": len(pairs), "n_sampled": len(picked)}
    return {k: sorted(v) for k, v in samples.items()}, info


def stratified_estimate(per_category: dict[str, dict], population: dict[str, int]) -> tuple[float, float]:
    """Stratified estimate of the full-test score and its standard error (with the finite
    population correction); a category sampled once contributes the maximal Bernoulli variance."""
    total = sum(population.values())
    estimate = 0.0
    variance = 0.0
    for c, big_n in population.items():
        n = per_category[c]["n"]
        p = per_category[c]["acc"]
        weight = big_n / total
        estimate += weight * p
        s2 = p * (1 - p) * n / (n - 1) if n > 1 else 0.25
        variance += weight**2 * (1 - n / big_n) * s2 / n
    return estimate, math.sqrt(variance)


# ----------------------------------------------------------------------------------------- results


@dataclass
class EvalResult:
    """One MMLU-Pro evaluation: what the store and ``--out`` files hold (``to_dict``)."""

    model: str
    revision: str
    task: str
    metric: str
    acc: float
    acc_stderr: float | None
    n_questions: int
    categories: dict[str, dict]
    num_fewshot: int
    limit: float | int | None
    subsample: dict | None
    task_hash: str
    requests_hash: str
    data: dict
    lm_eval_version: str
    wall_time_s: float
    provenance: dict
    run: dict
    versions: dict
    settings: dict
    schema_version: int = RESULT_SCHEMA
    cached: bool = False
    samples: list[dict] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready record (without the per-question samples and the cache flag)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("samples", "cached")}

    @classmethod
    def from_dict(cls, payload: dict, *, cached: bool = False) -> EvalResult:
        names = {f.name for f in dataclasses.fields(cls)} - {"samples", "cached"}
        return cls(**{k: v for k, v in payload.items() if k in names}, cached=cached)

    def to_frame(self):
        """Per-category rows (plus an ``overall`` row) as a pandas DataFrame."""
        import pandas as pd

        rows = [{"category": c, **v} for c, v in self.categories.items()]
        rows.append({"category": "overall", "acc": self.acc, "stderr": self.acc_stderr, "n": self.n_questions})
        return pd.DataFrame(rows)

    @property
    def settings_hash(self) -> str:
        return settings_hash(self.settings)

    def save(self, out_dir: str | Path) -> Path:
        """Write the record to ``out_dir/eval-<model>@<revision>-<task>-<settings hash>.json`` (temp file then
        rename) and, when samples were logged, the samples to a ``.samples.jsonl`` next to it."""
        out = Path(out_dir).expanduser()
        out.mkdir(parents=True, exist_ok=True)
        name = self.model.replace("/", "__") if self.provenance.get("source") == "hub" else Path(self.model).name
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name or "model")
        stem = f"eval-{slug}@{self.revision[:16]}-{self.task}-{self.settings_hash}"
        path = out / f"{stem}.json"
        text = json.dumps(self.to_dict(), indent=2, default=str) + "\n"
        _atomic_write_bytes(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        if self.samples is not None:
            lines = "".join(json.dumps(s, default=str, ensure_ascii=False) + "\n" for s in self.samples)
            _atomic_write_bytes(out / f"{stem}.samples.jsonl", lambda tmp: tmp.write_text(lines, encoding="utf-8"))
        return path


def per_category(samples: Sequence[dict], metric: str) -> dict[str, dict]:
    """Accuracy, standard error (lm-eval's: sample sd / sqrt(n)) and count per category."""
    values: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        values[s["doc"]["category"]].append(float(s[metric]))
    out = {}
    for c in sorted(values):
        v = values[c]
        mean = sum(v) / len(v)
        stderr = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else None
        out[c] = {"acc": mean, "stderr": stderr, "n": len(v)}
    return out


def requests_hash(samples: Sequence[dict]) -> str:
    """lm-eval's per-sample doc/prompt/target hashes, ordered by (task, doc id), hashed together:
    equal exactly when the same questions were asked with the same prompts and targets."""
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: (s.get("task", ""), s["doc_id"])):
        h.update((s["doc_hash"] + s["prompt_hash"] + s["target_hash"]).encode())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("hf-interaction", "lm_eval", "torch", "transformers", "accelerate", "datasets"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out


# ------------------------------------------------------------------------------------------- running


def _distributed(device: str | None) -> Any | None:
    """An ``accelerate.Accelerator`` when launched with several processes (``WORLD_SIZE`` > 1), else None.

    On a machine without CUDA (or with ``--device cpu``) accelerate only forms a process group when
    told it runs on CPU, so ``cpu=True`` is passed then (gloo backend).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    import torch
    from accelerate import Accelerator
    from accelerate.utils import InitProcessGroupKwargs

    cpu = (device or "").startswith("cpu") or not torch.cuda.is_available()
    # lm-eval's own timeout: rank 0 may post-process long after the others finished.
    return Accelerator(cpu=cpu, kwargs_handlers=[InitProcessGroupKwargs(timeout=timedelta(weeks=52))])


def _default_device(device: str | None, accelerator: Any | None) -> str | None:
    """The device to load onto: as asked; else this process's device under accelerate; else the GPU
    when there is one (as lm-eval would), else CPU."""
    if device is not None:
        return device
    if accelerator is not None:
        return "cpu" if accelerator.device.type == "cpu" else str(accelerator.device)
    import torch

    return "cuda" if torch.cuda.is_available() else None


class _DropMessages(logging.Filter):
    """Hide lm-eval's warnings about pre-initialized models: we set up data parallelism ourselves."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return "not of type `str`" not in msg and "already-initialized model" not in msg


def make_lm(loaded: LoadedModel, batch_size: int | str, accelerator: Any | None) -> Any:
    """Wrap a loaded model and tokenizer in lm-eval's ``HFLM``; under ``accelerate launch`` give it
    the rank, world size and accelerator that lm-eval's evaluator uses to split and gather work."""
    from lm_eval.models.huggingface import HFLM

    hf_log = logging.getLogger("lm_eval.models.huggingface")
    quiet = _DropMessages()
    hf_log.addFilter(quiet)
    try:
        lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=batch_size)
    finally:
        hf_log.removeFilter(quiet)
    if accelerator is not None:
        lm.accelerator = accelerator
        lm._rank = accelerator.process_index
        lm._world_size = accelerator.num_processes
    return lm


@contextlib.contextmanager
def _lean_simple_evaluate() -> Iterator[None]:
    """At its end ``simple_evaluate`` runs ``git describe`` and torch's ``collect_env`` (which spawns
    gcc, cmake, pip, ...: ~3 s, subprocesses, stderr noise). Neither affects scores and we record our
    own provenance, so both are replaced by no-ops for the duration of the call."""
    from unittest import mock

    import lm_eval.evaluator as ev

    with mock.patch.object(ev, "get_git_commit_hash", lambda: None), \
            mock.patch.object(ev, "add_env_info", lambda storage: None):
        yield


def describe_work(loaded: LoadedTask, samples: dict[str, list[int]] | None, limit: float | None,
                  num_fewshot: int, world_size: int) -> tuple[int, str]:
    """Number of questions and a one-line estimate of the work, before running."""
    from lm_eval.evaluator_utils import get_sample_size

    n_questions = 0
    n_options = 0
    for name, task in loaded.tasks.items():
        docs = task.eval_docs
        if samples is not None:
            chosen = samples.get(name, [])
        else:
            size = get_sample_size(task, limit)
            chosen = range(min(len(docs), size) if size is not None else len(docs))
        n_questions += len(chosen)
        if loaded.spec.kind == "loglikelihood":
            n_options += sum(len(docs[int(i)]["options"]) for i in chosen)
    spread = f" over {world_size} processes" if world_size > 1 else ""
    if loaded.spec.kind == "loglikelihood":
        work = (f"{n_options:,} log-likelihood requests (≈{n_options / max(n_questions, 1):.1f} per question; "
                f"≈{n_questions:,} forward passes of the {num_fewshot}-shot prompt with lm-eval's logits cache)")
    else:
        work = (f"{n_questions:,} generation requests of up to 2,048 new tokens each (greedy; "
                f"{num_fewshot}-shot chain-of-thought prompts)")
    return n_questions, f"{loaded.spec.name}: {n_questions:,} questions → {work}{spread}"


def _loaded_dtype(loaded: LoadedModel) -> str:
    dtype = loaded.info.get("dtype") if loaded.info else None
    if dtype:
        return str(dtype)
    return str(getattr(loaded.model, "dtype", "unknown")).replace("torch.", "")


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
        accelerator = _distributed(device)
        device = _default_device(device, accelerator)
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
    _check_fewshot_pool(spec, loaded_task.rows, fewshot)
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


def _run(plan: EvalPlan, loaded: LoadedModel, batch_size: int | str, accelerator: Any | None,
         progress: Callable[[str], None]) -> tuple[dict, float, int] | None:
    """Run ``lm_eval.simple_evaluate``; (results, wall seconds, processes) on the main process."""
    import lm_eval

    if accelerator is not None:
        _place_for_data_parallel(loaded, accelerator)
    lm = make_lm(loaded, batch_size, accelerator)
    if plan.spec.kind == "generation":
        _check_generation_room(lm, plan.task, plan.ref)
    if accelerator is None or accelerator.is_main_process:
        progress(describe_work(plan.task, plan.samples, plan.limit, plan.settings["num_fewshot"], lm.world_size)[1])
    start = time.perf_counter()
    with _lean_simple_evaluate():
        results = lm_eval.simple_evaluate(
            model=lm, tasks=[plan.task.top], task_manager=plan.task.manager, num_fewshot=plan.num_fewshot,
            batch_size=batch_size, limit=plan.limit, samples=plan.samples, log_samples=True,
        )
    if results is None:
        return None
    return results, time.perf_counter() - start, lm.world_size


def _check_arguments(num_fewshot, limit, subsample, batch_size) -> None:
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


def _check_generation_room(lm: Any, loaded_task: LoadedTask, ref: ModelRef) -> None:
    """lm-eval asserts when the generation budget does not fit the context; say so up front."""
    task = next(iter(loaded_task.tasks.values()))
    max_gen = int((task.config.generation_kwargs or {}).get("max_gen_toks", lm.max_gen_toks))
    if lm.max_length <= max_gen:
        raise InputError(f"{ref.model_id} has a {lm.max_length}-token context, too short for {loaded_task.spec.name}'s "
                         f"{max_gen}-token chain-of-thought answers plus the prompt",
                         "use --task leaderboard_mmlu_pro")


def _place_for_data_parallel(loaded: LoadedModel, accelerator: Any) -> None:
    """Each data-parallel process needs its whole model copy on its own device."""
    if getattr(loaded.model, "hf_device_map", None):
        raise UsageError("a model spread with --device-map cannot also run data parallel under accelerate launch")
    target = accelerator.device
    if loaded.model.device.type != target.type or (target.type != "cpu" and loaded.model.device != target):
        loaded.model.to(target)


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
        lm_eval_version=versions["lm_eval"],
        wall_time_s=wall,
        provenance=ref.provenance(),
        run={**{k: v for k, v in loaded.info.items() if k != "device_map"}, "dtype": plan.settings["dtype"],
             "num_processes": world_size, "batch_size": results.get("config", {}).get("batch_size"),
             "questions_per_s": len(samples) / wall if wall > 0 else None},
        versions=versions,
        settings=plan.settings,
        samples=_slim_samples(samples) if log_samples else None,
    )


def _slim_samples(samples: Sequence[dict]) -> list[dict]:
    """Per-question records for ``--log-samples`` (the prompt once, not once per option)."""
    out = []
    for s in samples:
        out.append({
            "task": s["task"], "doc_id": s["doc_id"], "question_id": s["doc"].get("question_id"),
            "category": s["doc"]["category"], "target": s["target"], "prompt": s["arguments"][0][0],
            "continuations": [a[1] for a in s["arguments"]], "resps": [r[0] if len(r) == 1 else r for r in s["resps"]],
            "filtered_resps": s["filtered_resps"],
            "metrics": {m: s[m] for m in s["metrics"]}, "prompt_hash": s["prompt_hash"],
        })
    return out
