"""The sweep's data: the same byte-level token stream and validation windows for every shape and seed.

The corpus is tokenized byte-level; its last ``val_fraction`` is held out and cut into fixed
validation windows; the training stream is a seeded order of fixed chunks (epoch after epoch, a
permutation). Both are hashed, and the hashes are recorded with every trained shape.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..probe.windows import frame_ids
from .settings import SweepSettings


@dataclass
class SweepData:
    """Byte-level tokens, the fixed validation windows and the training chunk order."""

    corpus_spec: str
    corpus_description: str
    corpus_sha256: str
    train_tokens: Any  # torch.LongTensor, 1-D
    val_windows: Any  # torch.LongTensor, n_val x (seq_len + 1)
    chunk_order: Any  # numpy int64 array: chunk index of every training sequence, in order
    seq_len: int
    batch_size: int
    steps: int
    val_windows_sha256: str
    train_stream_sha256: str
    prefix_ids: tuple[int, ...] = ()  # what the tokenizer puts before text (probe.framing_prefix)

    @property
    def tokens_trained(self) -> int:
        """Predicted (target) tokens seen in training: steps × batch × seq_len."""
        return self.steps * self.batch_size * self.seq_len

    def batch(self, step: int) -> tuple[Any, Any]:
        """Input/target tensors of training step ``step`` (the same for every shape and seed)."""
        import torch

        idx = self.chunk_order[step * self.batch_size:(step + 1) * self.batch_size]
        rows = torch.stack([self.train_tokens[i * self.seq_len:i * self.seq_len + self.seq_len + 1]
                            for i in idx.tolist()])
        return frame_ids(rows[:, :-1], self.prefix_ids), rows[:, 1:]

    def provenance(self) -> dict:
        """What every record says about the data (corpus, tokenizer, hashes, sizes)."""
        return {"corpus": self.corpus_spec, "corpus_description": self.corpus_description,
                "corpus_sha256": self.corpus_sha256, "tokenizer": _tokenizer_name(),
                "train_tokens_available": int(self.train_tokens.numel()),
                "val_windows": int(self.val_windows.shape[0]), "val_tokens": int(self.val_windows[:, 1:].numel()),
                "val_windows_sha256": self.val_windows_sha256, "bos": bool(self.prefix_ids),
                "prefix_ids": list(self.prefix_ids), "train_stream_sha256": self.train_stream_sha256,
                "steps": self.steps, "tokens_trained": self.tokens_trained,
                "epochs": self.tokens_trained / max(1, int(self.train_tokens.numel()))}


def _tokenizer_name() -> str:
    from .byte_tokenizer import TOKENIZER_NAME

    return TOKENIZER_NAME


def _sha256_tensor(t: Any) -> str:
    import numpy as np

    return hashlib.sha256(np.ascontiguousarray(t.numpy().astype("<i8")).tobytes()).hexdigest()


def prepare_data(settings: SweepSettings) -> SweepData:
    """Tokenize the corpus (bytes), hold out validation windows, fix the training chunk order."""
    import numpy as np
    import torch

    from ..probe import load_corpus_text

    corpus = load_corpus_text(settings.corpus)
    ids = torch.tensor(np.frombuffer(corpus.text.encode("utf-8"), dtype=np.uint8).astype(np.int64))
    T = settings.seq_len
    n_val_tokens = int(len(ids) * settings.val_fraction)
    train, val = ids[:len(ids) - n_val_tokens], ids[len(ids) - n_val_tokens:]
    n_val = min(settings.max_val_windows, len(val) // (T + 1))
    n_chunks = (len(train) - 1) // T
    if n_val < 1 or n_chunks < settings.batch_size:
        raise InputError(f"corpus {settings.corpus} is too short ({len(ids):,} bytes) for --seq-len {T} and "
                         f"--batch-size {settings.batch_size}: need at least one validation window and one batch")
    val_windows = val[:n_val * (T + 1)].view(n_val, T + 1).clone()
    steps = max(1, math.ceil(settings.tokens_per_param * settings.budget / (settings.batch_size * T)))
    order = _chunk_order(n_chunks, steps * settings.batch_size, settings.data_seed)
    stream_hash = hashlib.sha256(_sha256_tensor(train).encode() + order.astype("<i8").tobytes()
                                 + f"|{T}|{settings.batch_size}".encode()).hexdigest()
    from ..probe import framing_prefix
    from .byte_tokenizer import build_byte_tokenizer

    prefix = framing_prefix(build_byte_tokenizer())  # the audit's framing rule; the byte tokenizer adds none
    return SweepData(settings.corpus, corpus.description, corpus.sha256, train, val_windows, order, T,
                     settings.batch_size, steps, _sha256_tensor(val_windows), stream_hash, prefix_ids=prefix)


def _chunk_order(n_chunks: int, needed: int, data_seed: int) -> Any:
    """Epoch after epoch, a seeded permutation of the chunk indices, until ``needed`` are drawn."""
    import numpy as np

    parts, have, epoch = [], 0, 0
    while have < needed:
        perm = np.random.default_rng([data_seed, epoch]).permutation(n_chunks)
        parts.append(perm)
        have += len(perm)
        epoch += 1
    return np.concatenate(parts)[:needed].astype(np.int64)
