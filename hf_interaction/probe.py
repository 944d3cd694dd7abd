"""Probe corpora and the token windows the interaction metrics are measured on (DESIGN.md §4, §4.5).

A probe is named by a *spec* (the CLI's ``--probe``):

``wikitext``
    The WikiText-2 (raw) test split, ``Salesforce/wikitext`` config ``wikitext-2-raw-v1``, loaded
    through ``datasets`` (from its cache when offline). The rows are joined with ``""``: each row
    already ends with its newline, so this reproduces the raw test file.

``builtin``
    An offline corpus that needs nothing downloaded: English prose paragraphs extracted from the
    docstrings of a fixed list of Python standard-library modules (``BUILTIN_MODULES``), in that
    order. For each module: its own docstring, then every class and routine *defined in it* (public
    and ``_private``, not ``__dunder__``) in sorted name order, classes recursively with their
    methods, properties, class- and static methods. Only an object's own ``__doc__`` is used (no
    inherited docstrings), cleaned with ``inspect.cleandoc``. Each docstring is split into
    paragraphs at blank lines, bullet markers are dropped, lines are joined with single spaces,
    and a paragraph is kept only if it reads as prose (see ``_is_prose``: at least four words,
    capitalised, ending in ``.``, ``!`` or ``?``, mostly letters, hardly any code symbols, no
    doctest). Paragraphs are deduplicated (first occurrence wins) and joined with blank lines.

    The module list is the set of modules whose extracted text is byte-identical on CPython
    3.10.13, 3.11.7, 3.12.1 and 3.13.0 (checked by running this extractor under each), minus
    platform-specific and deprecated modules and ``cmath`` (a docstring typo fixed in a 3.11 patch
    release), so the corpus - 164,502 bytes, about 26 k words, also identical on 3.11.2 -
    and its sha256 (``BUILTIN_SHA256``) are the same on every supported Python. A patch release
    could still edit a docstring, so the description says whether the text is the reference one.
    A module that cannot be imported is skipped and named in the description (the hash then
    differs). ``python -OO`` strips docstrings, so there the builtin corpus is refused.

``PATH``
    A local file: ``.txt`` (UTF-8), ``.jsonl`` (one JSON object per line; the ``text`` field, or
    the field named by ``PATH:field``) or ``.parquet`` (the ``text`` column, or ``PATH:column``).
    Records are joined with a blank line between them.

Windows (``make_windows``): the whole text is tokenized once with the model's tokenizer (no special
tokens added), and n non-overlapping windows of T tokens of text are placed at positions drawn from
``numpy.random.default_rng(seed)``; a corpus with fewer than n*T tokens is refused, never cut to
fewer windows.

Framing (``framing_prefix``): each window is framed the way the model's tokenizer frames text, so
the model sees input like what it was trained on. The tokenizer encodes a sample text with and
without its special tokens; the tokens it puts *before* the text (BOS for Gemma, Llama-3, BERT's
[CLS]; none for GPT-2, Qwen, SmolLM2) are the window prefix. The model sees prefix + T text tokens;
the AGOP is taken with respect to the T text positions only (the prefix is a constant input), and
the probe loss and bits per byte count the predictions of text tokens 1..T-1 from their preceding
text, never a prediction made at a prefix position. Trailing special tokens (EOS, [SEP]) are not
added: a window is a cut from running text, and f is read at its last text token.

Byte convention for bits per byte: each window's ids are decoded with the tokenizer
(``skip_special_tokens=False, clean_up_tokenization_spaces=False``) and the UTF-8 bytes of the
result are counted. ``n_bytes`` counts whole windows of text (the prefix excluded).
``n_bytes_targets`` counts only the bytes of the tokens a next-token loss predicts (text positions
1..T-1 of each window): it is the byte count of the decoded window minus that of its decoded first
token. A byte-level tokenizer can cut a
multi-byte character at a window edge; the stray bytes decode to U+FFFD (3 bytes each), an error
of at most a few bytes per window.

Top-level imports are standard library only, so importing this module is cheap and the builtin
extractor can be run by any interpreter to check its cross-version identity; numpy, torch,
datasets and pyarrow are imported where they are needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import io
import json
import math
import platform
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, NotReachableError

if TYPE_CHECKING:
    import torch

WIKITEXT_DATASET = "Salesforce/wikitext"
WIKITEXT_CONFIG = "wikitext-2-raw-v1"
WIKITEXT_SPLIT = "test"

TEXT_SUFFIXES = (".txt",)
JSONL_SUFFIXES = (".jsonl",)
PARQUET_SUFFIXES = (".parquet",)
DEFAULT_FIELD = "text"
RECORD_SEPARATOR = "\n\n"

# Modules whose extracted prose is byte-identical on CPython 3.10.13, 3.11.7, 3.12.1 and 3.13.0,
# without platform-specific (POSIX- or Windows-only) and deprecated modules, and without cmath
# (its docstrings differ between 3.11 patch releases). Fixed and sorted.
BUILTIN_MODULES: tuple[str, ...] = tuple(
    """
    abc asyncio asyncio.base_futures asyncio.base_subprocess asyncio.base_tasks asyncio.constants
    asyncio.futures asyncio.log asyncio.mixins asyncio.proactor_events asyncio.protocols
    asyncio.staggered asyncio.subprocess asyncio.threads asyncio.trsock atexit bisect cProfile cmd
    code codecs codeop colorsys compileall concurrent concurrent.futures concurrent.futures.process
    concurrent.futures.thread contextvars copyreg csv datetime difflib email email.base64mime
    email.contentmanager email.encoders email.feedparser email.generator email.header
    email.headerregistry email.iterators email.message email.mime email.mime.application email.mime.base
    email.mime.image email.mime.message email.mime.multipart email.mime.nonmultipart email.mime.text
    email.parser email.policy email.quoprimime errno filecmp fnmatch ftplib genericpath getopt gettext
    graphlib heapq hmac html html.entities html.parser http http.cookies importlib.machinery json
    json.decoder json.encoder json.scanner json.tool keyword linecache logging.config modulefinder
    multiprocessing multiprocessing.dummy multiprocessing.dummy.connection multiprocessing.managers
    multiprocessing.pool multiprocessing.process multiprocessing.queues multiprocessing.sharedctypes
    multiprocessing.spawn multiprocessing.synchronize multiprocessing.util netrc nturl2path numbers
    opcode operator optparse pickle pickletools plistlib poplib pprint profile py_compile pyclbr pyexpat
    quopri reprlib rlcompleter runpy secrets shlex stat string stringprep struct tabnanny textwrap token
    trace tracemalloc types unittest unittest.loader unittest.main unittest.runner unittest.signals
    unittest.suite unittest.util urllib urllib.error urllib.response urllib.robotparser weakref wsgiref
    wsgiref.handlers wsgiref.headers wsgiref.simple_server wsgiref.util wsgiref.validate xml xml.dom
    xml.dom.NodeFilter xml.dom.domreg xml.dom.expatbuilder xml.dom.minicompat xml.dom.minidom
    xml.dom.pulldom xml.dom.xmlbuilder xml.etree xml.etree.ElementInclude xml.etree.ElementPath
    xml.etree.ElementTree xml.parsers xml.parsers.expat xml.sax xml.sax.expatreader xml.sax.handler
    xml.sax.saxutils xml.sax.xmlreader xmlrpc xmlrpc.client xmlrpc.server zipapp zoneinfo
    """.split()
)

# sha256 of the builtin corpus text on CPython 3.10.13, 3.11.2, 3.11.7, 3.12.1 and 3.13.0 (all the same).
BUILTIN_SHA256 = "c6d9d510c56bd4cc6fb423d9b3dfdc31188fe4028afe69894590bbc717b369fa"

_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_BULLETS = ("* ", "- ", "+ ")
_CODE_SYMBOLS = frozenset("()[]{}<>=_*\\|#@%$`~^+/")


@dataclass(frozen=True)
class CorpusText:
    """The text of a probe corpus, with what it is and a hash of its exact content."""

    spec: str
    description: str
    text: str = field(repr=False)
    n_bytes: int
    sha256: str

    @classmethod
    def from_text(cls, spec: str, description: str, text: str) -> CorpusText:
        """Wrap ``text``, computing its UTF-8 byte count and sha256."""
        data = text.encode("utf-8")
        return cls(spec, description, text, len(data), hashlib.sha256(data).hexdigest())


@dataclass(frozen=True)
class ProbeWindows:
    """n windows of T token ids cut from a probe corpus, with everything needed to reproduce them."""

    input_ids: torch.Tensor = field(repr=False)  # LongTensor, n x T: the text tokens (no prefix)
    starts: tuple[int, ...] = field(repr=False)  # token offset of each window in the corpus, sorted
    spec: str
    T: int
    n: int
    seed: int
    windows_sha256: str  # sha256 of the framed windows (prefix + text) as little-endian int64, row-major
    n_bytes: int  # UTF-8 bytes of the decoded text windows
    n_bytes_targets: int  # UTF-8 bytes of the predicted tokens (text positions 1..T-1 of each window)
    corpus_sha256: str
    corpus_n_bytes: int
    corpus_n_tokens: int
    prefix_ids: tuple[int, ...] = ()  # what the tokenizer puts before text (BOS), see framing_prefix

    @property
    def framed_ids(self) -> torch.Tensor:
        """n x (P + T): the prefix, then the T text tokens, as the model sees each window."""
        import torch

        if not self.prefix_ids:
            return self.input_ids
        prefix = torch.tensor(self.prefix_ids, dtype=self.input_ids.dtype).expand(self.n, -1)
        return torch.cat([prefix, self.input_ids], dim=1)

    def bits_per_byte(self, total_nats: float) -> float:
        """Bits per byte of a next-token loss summed (in nats) over text positions 1..T-1 of every window."""
        return total_nats / (math.log(2) * self.n_bytes_targets)

    def to_provenance(self) -> dict[str, Any]:
        """JSON-ready record of how the windows were made (DESIGN.md §6)."""
        return {
            "bos": bool(self.prefix_ids),
            "prefix_ids": list(self.prefix_ids),
            "framing": framing_description(self.prefix_ids),
            "probe_spec": self.spec,
            "probe_corpus_sha256": self.corpus_sha256,
            "probe_corpus_bytes": self.corpus_n_bytes,
            "probe_corpus_tokens": self.corpus_n_tokens,
            "T": self.T,
            "n": self.n,
            "seed": self.seed,
            "windows_sha256": self.windows_sha256,
            "window_starts": list(self.starts),
            "n_bytes": self.n_bytes,
            "n_bytes_targets": self.n_bytes_targets,
        }


# --------------------------------------------------------------------------------------------
# Loading corpora


def load_corpus_text(spec: str) -> CorpusText:
    """Load the probe corpus named by ``spec``: ``builtin``, ``wikitext`` or a local file path."""
    if spec == "builtin":
        return builtin_corpus()
    if spec == "wikitext":
        return _load_wikitext()
    return _load_path(spec)


@lru_cache(maxsize=1)
def builtin_corpus() -> CorpusText:
    """The offline corpus of standard-library docstring prose described in the module docstring."""
    if not _docstrings_available():
        raise InputError(
            "the builtin probe corpus is made of docstrings, which `python -OO` strips",
            hint="run without -OO, or use --probe PATH",
        )
    seen: set[str] = set()
    paragraphs: list[str] = []
    skipped: list[str] = []
    for name in BUILTIN_MODULES:
        try:
            module_paragraphs = builtin_module_paragraphs(name)
        except ImportError:
            skipped.append(name)
            continue
        for paragraph in module_paragraphs:
            if paragraph not in seen:
                seen.add(paragraph)
                paragraphs.append(paragraph)
    if not paragraphs:
        raise InputError("the builtin probe corpus came out empty", hint="use --probe PATH")
    corpus = CorpusText.from_text("builtin", "", RECORD_SEPARATOR.join(paragraphs) + "\n")
    reference = "the reference text" if corpus.sha256 == BUILTIN_SHA256 else "NOT the reference text"
    description = (
        f"builtin: prose paragraphs from the docstrings of {len(BUILTIN_MODULES) - len(skipped)} Python "
        f"standard-library modules (CPython {platform.python_version()}: {reference} of CPython 3.10-3.13)"
    )
    if skipped:
        description += f"; not importable here, skipped: {', '.join(skipped)}"
    return replace(corpus, description=description)


def _docstrings_available() -> bool:
    """False under ``python -OO``, which strips docstrings (this one included)."""
    return _docstrings_available.__doc__ is not None


def builtin_module_paragraphs(name: str) -> list[str]:
    """The prose paragraphs of one standard-library module's docstrings, in extraction order."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        module = importlib.import_module(name)
    return [p for doc in _module_docstrings(module) for p in _prose_paragraphs(doc)]


def _module_docstrings(module: Any) -> Iterator[str]:
    """The module's own docstring, then those of the classes and routines defined in it, by name."""
    yield _own_doc(module)
    for name, obj in sorted(vars(module).items()):
        if name.startswith("__") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) and obj.__qualname__ == name:
            yield from _class_docstrings(obj)
        elif inspect.isroutine(obj):
            yield _own_doc(obj)


def _class_docstrings(cls: type) -> Iterator[str]:
    """A class's own docstring, then its methods' and nested classes', by attribute name."""
    yield _own_doc(cls)
    for name, member in sorted(vars(cls).items()):
        if name.startswith("__"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        elif isinstance(member, property):
            member = member.fget
        if inspect.isclass(member):
            if member.__module__ == cls.__module__ and member.__qualname__ == f"{cls.__qualname__}.{name}":
                yield from _class_docstrings(member)
        elif inspect.isroutine(member) and getattr(member, "__module__", cls.__module__) == cls.__module__:
            yield _own_doc(member)


def _own_doc(obj: Any) -> str:
    """The object's own docstring (never an inherited one), cleaned; empty if it has none."""
    doc = getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) else ""


def _prose_paragraphs(doc: str) -> Iterator[str]:
    """Split a docstring at blank lines and yield the paragraphs that read as prose, one line each."""
    for block in _BLANK_LINE.split(doc.strip("\n")):
        lines = block.splitlines()
        if any(line.lstrip().startswith((">>>", "...")) for line in lines):
            continue
        text = " ".join(line.strip() for line in lines)
        if text.startswith(_BULLETS):
            text = text[2:]
        if _is_prose(text):
            yield text


def _is_prose(text: str) -> bool:
    """A sentence-like paragraph: capitalised, terminated, mostly letters, hardly any code symbols."""
    if len(text) < 24 or len(text.split()) < 4:
        return False
    if not (text[0].isascii() and text[0].isupper()) or text[-1] not in ".!?":
        return False
    if not text.isprintable() or ">>>" in text:
        return False
    non_space = len(text) - text.count(" ")
    letters = sum(c.isalpha() for c in text)
    symbols = sum(c in _CODE_SYMBOLS for c in text)
    digits = sum(c.isdigit() for c in text)
    return letters >= 0.8 * non_space and symbols <= 0.03 * len(text) and digits <= 0.05 * len(text)


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


# --------------------------------------------------------------------------------------------
# Windows


def make_windows(text_or_corpus: str | CorpusText, tokenizer: Any, T: int, n: int, seed: int) -> ProbeWindows:
    """Tokenize the corpus and cut n non-overlapping windows of T tokens at seeded positions.

    Raises InputError when the corpus has fewer than n*T tokens: never fewer windows silently.
    """
    import numpy as np
    import torch

    corpus = text_or_corpus if isinstance(text_or_corpus, CorpusText) else CorpusText.from_text(
        "text", "text passed directly", text_or_corpus
    )
    if T < 2 or n < 1:
        raise InputError(f"probe windows need T >= 2 tokens and n >= 1 windows, got T={T}, n={n}")
    ids = np.asarray(tokenize_corpus(corpus.text, tokenizer), dtype=np.int64)
    needed = n * T
    if len(ids) < needed:
        raise InputError(
            f"probe corpus {corpus.spec!r} is too short: it has {len(ids)} tokens with this tokenizer, "
            f"and {n} windows of {T} tokens need {needed}",
            hint="use a larger corpus, or lower the number of windows or the window length",
        )
    starts = window_starts(len(ids), T, n, seed)
    windows = np.stack([ids[s : s + T] for s in starts])
    prefix = framing_prefix(tokenizer)
    framed = np.concatenate([np.tile(np.asarray(prefix, dtype=np.int64), (n, 1)), windows], axis=1)
    n_bytes, n_bytes_targets = _window_bytes(windows, tokenizer)
    return ProbeWindows(
        input_ids=torch.from_numpy(windows),
        starts=tuple(int(s) for s in starts),
        spec=corpus.spec,
        T=T,
        n=n,
        seed=seed,
        prefix_ids=prefix,
        windows_sha256=hashlib.sha256(framed.astype("<i8").tobytes(order="C")).hexdigest(),
        n_bytes=n_bytes,
        n_bytes_targets=n_bytes_targets,
        corpus_sha256=corpus.sha256,
        corpus_n_bytes=corpus.n_bytes,
        corpus_n_tokens=len(ids),
    )


def tokenize_corpus(text: str, tokenizer: Any) -> list[int]:
    """Token ids of the whole text, without special tokens and without the too-long warning."""
    # verbose=False silences "sequence length is longer than the specified maximum": the ids are
    # cut into windows of T tokens afterwards, never fed to the model whole.
    encoded = tokenizer(text, add_special_tokens=False, verbose=False, return_attention_mask=False)
    return list(encoded["input_ids"])


#: Sample texts the tokenizer frames to reveal its prefix (two, so a merge across the boundary of one
#: cannot hide or fake a prefix).
_FRAMING_SAMPLES = ("The probe window starts here.", "2 plus 2 is 4, said the model")


def framing_prefix(tokenizer: Any) -> tuple[int, ...]:
    """The token ids the tokenizer puts before text when it adds its special tokens (BOS, [CLS]).

    Found by encoding sample texts with and without special tokens: the prefix is what precedes the
    plain encoding inside the framed one. A tokenizer that frames the samples differently, or
    changes the text tokens themselves, is refused rather than guessed at.
    """
    found = set()
    for sample in _FRAMING_SAMPLES:
        plain = list(tokenizer(sample, add_special_tokens=False)["input_ids"])
        framed = list(tokenizer(sample, add_special_tokens=True)["input_ids"])
        starts = [i for i in range(len(framed) - len(plain) + 1) if framed[i : i + len(plain)] == plain]
        if not plain or not starts:
            raise InputError(f"cannot tell how {type(tokenizer).__name__} frames text: encoding with special "
                             "tokens changes the text tokens themselves")
        found.add(tuple(int(t) for t in framed[: starts[0]]))
    if len(found) != 1:
        raise InputError(f"{type(tokenizer).__name__} puts different prefixes before different texts; "
                         "cannot frame probe windows")
    return found.pop()


def framing_description(prefix: tuple[int, ...] | list[int]) -> str:
    """One line for the record: how windows were framed."""
    if not prefix:
        return "no prefix: the tokenizer adds no special token before text (windows are T text tokens)"
    return (f"prefix of {len(prefix)} special token(s) the tokenizer adds before text (BOS); excluded from the "
            "AGOP inputs, the probe loss and bits per byte")


def window_starts(n_tokens: int, T: int, n: int, seed: int) -> list[int]:
    """Sorted starts of n non-overlapping windows of T tokens in n_tokens, drawn with ``default_rng(seed)``.

    The slack (tokens not covered by any window) is split into n + 1 gaps by n sorted uniform
    draws, so every window is equally likely to sit anywhere and windows never overlap.
    """
    import numpy as np

    slack = n_tokens - n * T
    if slack < 0:
        raise InputError(f"{n} windows of {T} tokens need {n * T} tokens, the corpus has {n_tokens}")
    offsets = np.sort(np.random.default_rng(seed).integers(0, slack + 1, size=n))
    return [int(o) + i * T for i, o in enumerate(offsets)]


def _window_bytes(windows: Any, tokenizer: Any) -> tuple[int, int]:
    """(bytes of whole windows, bytes of positions 1..T-1) under the decoding convention above."""
    total = targets = 0
    for row in windows.tolist():
        window = _decoded_bytes(tokenizer, row)
        first = _decoded_bytes(tokenizer, row[:1])
        total += window
        targets += max(window - first, 0)
    return total, targets


def _decoded_bytes(tokenizer: Any, ids: list[int]) -> int:
    text = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return len(text.encode("utf-8"))
