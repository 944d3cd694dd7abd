"""The token windows the interaction metrics are measured on: cutting, framing, byte counts (docs/design.md §4.5).

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
token. A byte-level tokenizer can cut a multi-byte character at a window edge; the stray bytes
decode to U+FFFD (3 bytes each), an error of at most a few bytes per window.

numpy and torch are imported where they are needed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputError
from .corpus_text import CorpusText

if TYPE_CHECKING:
    import torch


def frame_ids(ids: Any, prefix_ids: tuple[int, ...]) -> Any:
    """Rows of token ids (B×T) as the model sees them: the tokenizer's prefix (BOS, :func:`framing_prefix`)
    before each row; the one place windows are framed (the audit's probe windows, the sweep's training
    and validation rows)."""
    import torch

    if not prefix_ids:
        return ids
    prefix = torch.tensor(prefix_ids, dtype=ids.dtype).expand(ids.shape[0], -1)
    return torch.cat([prefix, ids], dim=1)


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
        return frame_ids(self.input_ids, self.prefix_ids)

    def bits_per_byte(self, total_nats: float) -> float:
        """Bits per byte of a next-token loss summed (in nats) over text positions 1..T-1 of every window."""
        return total_nats / (math.log(2) * self.n_bytes_targets)

    def to_provenance(self) -> dict[str, Any]:
        """JSON-ready record of how the windows were made (docs/design.md §6)."""
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
