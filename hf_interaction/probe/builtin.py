"""The ``builtin`` probe corpus: English prose from standard-library docstrings, offline (docs/design.md §4.5).

English prose paragraphs extracted from the docstrings of a fixed list of Python standard-library
modules (``BUILTIN_MODULES``), in that order. For each module: its own docstring, then every class
and routine *defined in it* (public and ``_private``, not ``__dunder__``) in sorted name order,
classes recursively with their methods, properties, class- and static methods. Only an object's own
``__doc__`` is used (no inherited docstrings), cleaned with ``inspect.cleandoc``. Each docstring is
split into paragraphs at blank lines, bullet markers are dropped, lines are joined with single
spaces, and a paragraph is kept only if it reads as prose (see ``_is_prose``: at least four words,
capitalised, ending in ``.``, ``!`` or ``?``, mostly letters, hardly any code symbols, no doctest).
Paragraphs are deduplicated (first occurrence wins) and joined with blank lines.

The module list is the set of modules whose extracted text is byte-identical on CPython 3.10.13,
3.11.7, 3.12.1 and 3.13.0 (checked by running this extractor under each), minus platform-specific
and deprecated modules and ``cmath`` (a docstring typo fixed in a 3.11 patch release), so the
corpus - 164,502 bytes, about 26 k words, also identical on 3.11.2 - and its sha256
(``BUILTIN_SHA256``) are the same on every supported Python. A patch release could still edit a
docstring, so the description says whether the text is the reference one. A module that cannot be
imported is skipped and named in the description (the hash then differs). ``python -OO`` strips
docstrings, so there the builtin corpus is refused.

Top-level imports are standard library only, so the extractor can be run by any interpreter to check
its cross-version identity.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import platform
import re
import warnings
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from typing import Any

from ..errors import InputError
from .corpus_text import RECORD_SEPARATOR, CorpusText

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
