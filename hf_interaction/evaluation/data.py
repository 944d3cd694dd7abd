"""Local MMLU-Pro data: export from the Hub, reading and validating split files, the fingerprint.

``export_data`` writes what ``--data DIR`` reads (``test``/``validation`` as parquet, plus a
``manifest.json``), so a machine without network evaluates exactly the same questions; every split,
wherever it comes from, is validated here before anything runs and fingerprinted by its rows.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from ..core.outputs import json_text, output_dir, text_writer, write_together
from ..core.runtime import utc_now
from ..errors import InputError, NotReachableError

HUB_DATASET = "TIGER-Lab/MMLU-Pro"
SPLITS = ("test", "validation")
COLUMNS = ("question_id", "question", "options", "answer", "answer_index", "cot_content", "category", "src")
LETTERS = "ABCDEFGHIJ"
DATA_FORMATS = {".parquet": "parquet", ".jsonl": "json", ".json": "json"}


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


def data_fingerprint(splits: Mapping[str, Sequence[dict]]) -> str:
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
    out = output_dir(out)
    manifest = {
        "dataset": dataset,
        "requested_revision": revision,
        "revision": commit,
        "rows": {split: len(rows[split]) for split in SPLITS},
        "data_fingerprint": data_fingerprint(rows),
        "exported_at": utc_now(),
        "datasets_version": datasets.__version__,
    }
    writers = {out / f"{split}.parquet": (lambda tmp, s=split: dsd[s].to_parquet(str(tmp))) for split in SPLITS}
    write_together({**writers, out / "manifest.json": text_writer(json_text(manifest))})
    return out


def _dataset_commit(dataset: str, revision: str | None) -> str | None:
    """The commit hash of a Hub dataset revision, or None when the Hub cannot be asked."""
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(dataset, revision=revision).sha
    except Exception:  # noqa: BLE001 - offline or unknown: the download below reports it
        return None

