"""Probe corpora and token windows (hf_interaction.probe): offline, fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from itertools import pairwise

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hf_interaction.errors import InputError, NotReachableError
from hf_interaction.probe import (
    BUILTIN_SHA256,
    CorpusText,
    builtin_corpus,
    load_corpus_text,
    make_windows,
    tokenize_corpus,
    window_starts,
)
from hf_interaction.probe import builtin as probe


@pytest.fixture(scope="module")
def tokenizer():
    """A small byte-level BPE tokenizer trained on the builtin corpus (well under a second)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator([builtin_corpus().text], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, model_max_length=128)


# ---------------------------------------------------------------------------------------------
# builtin corpus


def test_builtin_is_deterministic_large_and_the_reference_text():
    first = builtin_corpus()
    builtin_corpus.cache_clear()
    second = builtin_corpus()
    assert first.sha256 == second.sha256 and first.text == second.text
    assert first.sha256 == BUILTIN_SHA256, "the builtin text changed: update BUILTIN_SHA256 and the demo"
    assert first.n_bytes == len(first.text.encode("utf-8")) >= 150_000
    assert "the reference text" in first.description and "NOT" not in first.description
    assert load_corpus_text("builtin").sha256 == BUILTIN_SHA256


def test_builtin_paragraphs_read_as_prose():
    paragraphs = builtin_corpus().text.rstrip("\n").split("\n\n")
    assert len(paragraphs) == len(set(paragraphs)) > 1000
    assert all(p[-1] in ".!?" and p[0].isupper() and ">>>" not in p and "\n" not in p for p in paragraphs)


@pytest.mark.parametrize(
    ("text", "keep"),
    [
        ("Return the number of items in the queue, or zero when it is empty.", True),
        ("x = foo(bar[0], **kwargs)  # call it.", False),
        ("short one.", False),
        ("lowercase start is not taken as a sentence here.", False),
        ("Ends without punctuation so it is probably a heading", False),
    ],
)
def test_prose_filter(text, keep):
    assert probe._is_prose(text) is keep


def test_doctest_paragraphs_are_dropped():
    doc = "Add two numbers and return the sum of them.\n\n>>> add(1, 2)\n3\n\n- Works on floats too, of course."
    assert list(probe._prose_paragraphs(doc)) == [
        "Add two numbers and return the sum of them.",
        "Works on floats too, of course.",
    ]


def test_builtin_refused_under_optimize_2(monkeypatch):
    builtin_corpus.cache_clear()
    monkeypatch.setattr(probe, "_docstrings_available", lambda: False)
    with pytest.raises(InputError, match="-OO"):
        builtin_corpus()
    builtin_corpus.cache_clear()


# ---------------------------------------------------------------------------------------------
# windows


def test_windows_are_seeded_reproducible_and_cut_from_the_token_stream(tokenizer):
    corpus = builtin_corpus()
    a = make_windows(corpus, tokenizer, T=64, n=16, seed=7)
    b = make_windows(corpus, tokenizer, T=64, n=16, seed=7)
    assert a.input_ids.dtype == torch.long and tuple(a.input_ids.shape) == (16, 64)
    assert torch.equal(a.input_ids, b.input_ids) and a.windows_sha256 == b.windows_sha256
    assert a.starts == b.starts
    ids = tokenize_corpus(corpus.text, tokenizer)
    for row, start in zip(a.input_ids.tolist(), a.starts, strict=True):
        assert row == ids[start : start + 64]
    assert all(later - earlier >= 64 for earlier, later in pairwise(a.starts))
    assert a.corpus_n_tokens == len(ids) and a.corpus_sha256 == corpus.sha256


def test_distinct_seeds_give_distinct_windows(tokenizer):
    a = make_windows(builtin_corpus(), tokenizer, T=32, n=8, seed=1)
    b = make_windows(builtin_corpus(), tokenizer, T=32, n=8, seed=2)
    assert a.starts != b.starts and a.windows_sha256 != b.windows_sha256


def test_too_short_corpus_is_an_error_with_the_counts(tokenizer):
    text = "A short corpus that cannot hold many windows of many tokens."
    n_tokens = len(tokenize_corpus(text, tokenizer))
    with pytest.raises(InputError) as caught:
        make_windows(text, tokenizer, T=16, n=4, seed=0)
    message = caught.value.one_line()
    assert f"has {n_tokens} tokens" in message and "need 64" in message


def test_exactly_enough_tokens_tiles_the_corpus(tokenizer):
    text = builtin_corpus().text[:3000]
    n_tokens = len(tokenize_corpus(text, tokenizer))
    windows = make_windows(text, tokenizer, T=n_tokens // 4, n=4, seed=3)
    assert windows.n == 4 and windows.spec == "text"


def test_byte_counts_and_bits_per_byte(tokenizer):
    windows = make_windows(builtin_corpus(), tokenizer, T=64, n=8, seed=0)
    decoded = [tokenizer.decode(row, clean_up_tokenization_spaces=False) for row in windows.input_ids.tolist()]
    assert windows.n_bytes == sum(len(d.encode()) for d in decoded)
    assert 0 < windows.n_bytes_targets < windows.n_bytes
    nats = 1.5 * windows.n * (windows.T - 1)
    assert windows.bits_per_byte(nats) == pytest.approx(nats / (0.6931471805599453 * windows.n_bytes_targets))


def test_provenance_is_json_ready(tokenizer):
    windows = make_windows(builtin_corpus(), tokenizer, T=32, n=4, seed=42)
    record = json.loads(json.dumps(windows.to_provenance()))
    assert record["probe_spec"] == "builtin" and record["T"] == 32 and record["n"] == 4 and record["seed"] == 42
    assert record["windows_sha256"] == windows.windows_sha256 and record["window_starts"] == list(windows.starts)
    assert record["probe_corpus_sha256"] == BUILTIN_SHA256


@given(
    n_tokens=st.integers(1, 5000),
    T=st.integers(2, 200),
    n=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_window_starts_never_overlap(n_tokens, T, n, seed):
    if n * T > n_tokens:
        with pytest.raises(InputError):
            window_starts(n_tokens, T, n, seed)
        return
    starts = window_starts(n_tokens, T, n, seed)
    assert len(starts) == n and starts[0] >= 0 and starts[-1] + T <= n_tokens
    assert all(later - earlier >= T for earlier, later in pairwise(starts))
    assert starts == window_starts(n_tokens, T, n, seed)


# ---------------------------------------------------------------------------------------------
# files


def test_txt_jsonl_and_parquet_paths_load(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    txt = tmp_path / "corpus.txt"
    txt.write_text("First line of text.\nSecond line.\n", encoding="utf-8")
    corpus = load_corpus_text(str(txt))
    assert corpus.text == "First line of text.\nSecond line.\n" and corpus.spec == str(txt)
    assert corpus.n_bytes == len(corpus.text.encode())

    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text('{"text": "one", "body": "uno"}\n\n{"text": "two", "body": "dos"}\n', encoding="utf-8")
    assert load_corpus_text(str(jsonl)).text == "one\n\ntwo"
    assert load_corpus_text(f"{jsonl}:body").text == "uno\n\ndos"

    parquet = tmp_path / "corpus.parquet"
    pq.write_table(pa.table({"text": ["alpha", None, "beta"], "other": ["x", "y", "z"]}), parquet)
    assert load_corpus_text(str(parquet)).text == "alpha\n\nbeta"
    assert load_corpus_text(f"{parquet}:other").text == "x\n\ny\n\nz"


@pytest.mark.parametrize(
    ("content", "spec_suffix", "message"),
    [
        ('{"text": "fine"}\n{"text": broken\n', "", "line 2 is not valid JSON"),
        ('{"text": "fine"}\n{"body": "no text field"}\n', "", "line 2 has no field 'text' (found: body)"),
        ('{"text": "fine"}\n', ":body", "line 1 has no field 'body'"),
        ('{"text": 3}\n', "", "field 'text' is int, not text"),
        ('["a list"]\n', "", "line 1 has no field 'text'"),
    ],
)
def test_bad_jsonl_is_an_input_error(tmp_path, content, spec_suffix, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_corpus_text(f"{path}{spec_suffix}")
    assert message in caught.value.one_line()


def test_other_bad_paths_are_input_errors(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    with pytest.raises(InputError, match="not found"):
        load_corpus_text(str(tmp_path / "missing.txt"))
    (tmp_path / "corpus.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected a .txt file"):
        load_corpus_text(str(tmp_path / "corpus.csv"))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        load_corpus_text(str(tmp_path / "latin1.txt"))
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    with pytest.raises(InputError, match="contains no text"):
        load_corpus_text(str(tmp_path / "empty.txt"))
    pq.write_table(pa.table({"body": ["x"], "n": [1]}), tmp_path / "c.parquet")
    with pytest.raises(InputError, match="no column 'text' \\(found: body, n\\)"):
        load_corpus_text(str(tmp_path / "c.parquet"))
    with pytest.raises(InputError, match="column 'n' is int64, not text"):
        load_corpus_text(f"{tmp_path / 'c.parquet'}:n")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        load_corpus_text(str(tmp_path / "junk.parquet"))


def test_corpus_text_repr_leaves_out_the_text():
    corpus = CorpusText.from_text("x", "d", "secret " * 1000)
    assert "secret" not in repr(corpus)


# ---------------------------------------------------------------------------------------------
# wikitext offline


_OFFLINE_PROBE = textwrap.dedent(
    """
    import socket

    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted in an offline test")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from hf_interaction.errors import NotReachableError
    from hf_interaction.probe import load_corpus_text

    try:
        load_corpus_text("wikitext")
        print("LOADED")
    except NotReachableError as exc:
        print("EXIT", exc.exit_code)
        print("MESSAGE", exc.one_line())
    print("ATTEMPTS", len(attempts))
    """
)


def test_wikitext_offline_without_cache_names_the_alternatives(tmp_path, monkeypatch):
    """Offline flags and an empty HF cache: a NotReachableError, and not one connection attempt."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf" / "datasets"))
    for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_ENDPOINT"):
        monkeypatch.delenv(variable, raising=False)
    done = subprocess.run([sys.executable, "-c", _OFFLINE_PROBE], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)
    assert lines.get("EXIT") == "4", done.stdout + done.stderr
    assert "--probe builtin" in lines["MESSAGE"] and "--probe PATH" in lines["MESSAGE"]
    assert lines["ATTEMPTS"] == "0"
    assert not any((tmp_path / "hf").rglob("*.arrow"))


def test_wikitext_connection_errors_become_not_reachable(monkeypatch):
    import datasets

    def unreachable(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'Salesforce/wikitext' on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", unreachable)
    with pytest.raises(NotReachableError) as caught:
        load_corpus_text("wikitext")
    assert "--probe builtin" in caught.value.one_line() and "--probe PATH" in caught.value.one_line()
    assert caught.value.exit_code == 4


def test_wikitext_rows_are_joined_as_the_raw_file(monkeypatch):
    import datasets

    rows = [" = Title = \n", "", " Some text .\n"]
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: {"text": rows})
    corpus = load_corpus_text("wikitext")
    assert corpus.text == "".join(rows) and corpus.spec == "wikitext"
