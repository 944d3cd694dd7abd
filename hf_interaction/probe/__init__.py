"""Probe corpora and the token windows the interaction metrics are measured on (docs/design.md §4, §4.5).

A corpus is named by a spec (``builtin``, ``wikitext`` or a local file) and loaded by
:func:`load_corpus_text` (:mod:`corpus`; the offline docstring corpus in :mod:`builtin`) as a
:class:`CorpusText` (:mod:`corpus_text`); :func:`make_windows` (:mod:`windows`) cuts n framed
windows of T tokens from it. Top-level imports are standard library only, so importing this package
is cheap; numpy, torch, datasets and pyarrow are imported where they are needed.
"""

from .builtin import BUILTIN_MODULES, BUILTIN_SHA256, builtin_corpus, builtin_module_paragraphs
from .corpus import (
    DEFAULT_FIELD,
    JSONL_SUFFIXES,
    PARQUET_SUFFIXES,
    TEXT_SUFFIXES,
    WIKITEXT_CONFIG,
    WIKITEXT_DATASET,
    WIKITEXT_SPLIT,
    load_corpus_text,
)
from .corpus_text import RECORD_SEPARATOR, CorpusText
from .windows import (
    ProbeWindows,
    frame_ids,
    framing_description,
    framing_prefix,
    make_windows,
    tokenize_corpus,
    window_starts,
)

__all__ = [
    "BUILTIN_MODULES",
    "BUILTIN_SHA256",
    "DEFAULT_FIELD",
    "JSONL_SUFFIXES",
    "PARQUET_SUFFIXES",
    "RECORD_SEPARATOR",
    "TEXT_SUFFIXES",
    "WIKITEXT_CONFIG",
    "WIKITEXT_DATASET",
    "WIKITEXT_SPLIT",
    "CorpusText",
    "ProbeWindows",
    "builtin_corpus",
    "builtin_module_paragraphs",
    "frame_ids",
    "framing_description",
    "framing_prefix",
    "load_corpus_text",
    "make_windows",
    "tokenize_corpus",
    "window_starts",
]
