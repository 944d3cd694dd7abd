"""Loading a probe corpus by its *spec* (the CLI's ``--probe``; docs/design.md §4.5).

``wikitext``
    The WikiText-2 (raw) test split, ``Salesforce/wikitext`` config ``wikitext-2-raw-v1``, loaded
    through ``datasets`` (from its cache when offline). The rows are joined with ``""``: each row
    already ends with its newline, so this reproduces the raw test file.

``builtin``
    An offline corpus that needs nothing downloaded: prose from standard-library docstrings
    (:mod:`builtin`).

``PATH``
    A local file: ``.txt`` (UTF-8), ``.jsonl`` (one JSON object per line; the ``text`` field, or
    the field named by ``PATH:field``) or ``.parquet`` (the ``text`` column, or ``PATH:column``).
    Records are joined with a blank line between them.

``datasets`` and ``pyarrow`` are imported where they are needed.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import InputError, NotReachableError
from .builtin import builtin_corpus
from .corpus_text import RECORD_SEPARATOR, CorpusText

WIKITEXT_DATASET = "Salesforce/wikitext"
WIKITEXT_CONFIG = "wikitext-2-raw-v1"
WIKITEXT_SPLIT = "test"

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
PARQUET_SUFFIXES = (".parquet",)
DEFAULT_FIELD = "text"


def load_corpus_text(spec: str) -> CorpusText:
    """Load the probe corpus named by ``spec``: ``builtin``, ``wikitext`` or a local file path."""
    if spec == "builtin":
        return builtin_corpus()
    if spec == "wikitext":
        return _load_wikitext()
    return _load_path(spec)



def _load_wikitext() -> CorpusText:
    """WikiText-2 raw test split through ``datasets`` (its cache when offline)."""
    import datasets
    from datasets.exceptions import DatasetNotFoundError

    try:
        rows = datasets.load_dataset(WIKITEXT_DATASET, WIKITEXT_CONFIG, split=WIKITEXT_SPLIT)["text"]
    except (OSError, DatasetNotFoundError) as exc:
        raise NotReachableError(
            f"cannot load the wikitext probe corpus ({WIKITEXT_DATASET} {WIKITEXT_CONFIG}, "
            f"{WIKITEXT_SPLIT} split): the Hugging Face Hub is not reachable and no cached copy was found "
            f"[{type(exc).__name__}: {_first_line(exc)}]",
            hint="use --probe builtin (offline, Python docstrings) or --probe PATH (.txt, .jsonl, .parquet)",
        ) from exc
    description = f"wikitext: {WIKITEXT_DATASET} {WIKITEXT_CONFIG}, {WIKITEXT_SPLIT} split, rows joined as-is"
    return CorpusText.from_text("wikitext", description, "".join(rows))


def _load_path(spec: str) -> CorpusText:
    """A local .txt, .jsonl or .parquet file; ``PATH:field`` names the text field of a record file."""
    path, field_name = _split_field(spec)
    if not path.is_file():
        raise InputError(
            f"probe corpus not found: {spec!r}",
            hint="use builtin, wikitext, or a .txt/.jsonl/.parquet file",
        )
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES and field_name is None:
        texts = [_read_utf8(path)]
    elif suffix in JSONL_SUFFIXES:
        texts = _read_jsonl(path, field_name or DEFAULT_FIELD)
    elif suffix in PARQUET_SUFFIXES:
        texts = _read_parquet(path, field_name or DEFAULT_FIELD)
    else:
        raise InputError(
            f"cannot read probe corpus {spec!r}: expected a .txt file, or a .jsonl or .parquet file "
            "(optionally PATH:field)"
        )
    text = RECORD_SEPARATOR.join(texts)
    if not text.strip():
        raise InputError(f"probe corpus {spec!r} contains no text")
    description = f"file: {path.name}" + (f" (field {field_name!r})" if field_name else "")
    return CorpusText.from_text(spec, description, text)


def _split_field(spec: str) -> tuple[Path, str | None]:
    """``PATH:field`` -> (PATH, field) when PATH itself is not an existing file; else (spec, None)."""
    path = Path(spec)
    if path.exists() or ":" not in spec:
        return path, None
    head, _, field_name = spec.rpartition(":")
    if not field_name or "/" in field_name or "\\" in field_name:
        return path, None
    return Path(head), field_name


def _read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"probe corpus {str(path)!r} is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None


def _read_jsonl(path: Path, field_name: str) -> list[str]:
    """The ``field_name`` string of every JSON object in a JSON-lines file (blank lines skipped)."""
    texts = []
    for number, line in enumerate(_read_utf8(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or field_name not in record:
            keys = ", ".join(map(str, record)) if isinstance(record, dict) else type(record).__name__
            raise InputError(
                f"{path}: line {number} has no field {field_name!r} (found: {keys})",
                hint="name the text field with PATH:field",
            )
        value = record[field_name]
        if not isinstance(value, str):
            raise InputError(f"{path}: line {number}: field {field_name!r} is {type(value).__name__}, not text")
        texts.append(value)
    return texts


def _read_parquet(path: Path, column: str) -> list[str]:
    """The non-null strings of one column of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
    if column not in schema.names:
        raise InputError(
            f"{path}: no column {column!r} (found: {', '.join(schema.names)})",
            hint="name the text column with PATH:column",
        )
    if not (pa.types.is_string(schema.field(column).type) or pa.types.is_large_string(schema.field(column).type)):
        raise InputError(f"{path}: column {column!r} is {schema.field(column).type}, not text")
    values = pq.read_table(path, columns=[column]).column(column).to_pylist()
    return [v for v in values if v is not None]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
