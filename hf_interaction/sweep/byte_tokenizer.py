"""A byte-level tokenizer built locally (no download): one token per UTF-8 byte, plus specials.

Token id ``b`` is the byte value ``b`` (0-255); the special tokens follow (``<pad>`` 256, ``<s>`` 257,
``</s>`` 258), so the vocabulary has 259 entries. It is a ``tokenizers`` BPE model with no merges over
the GPT-2 byte-to-unicode alphabet and a ByteLevel pre-tokenizer without regex splitting, wrapped as a
``PreTrainedTokenizerFast``: ``save_pretrained`` writes a ``tokenizer.json`` that ``AutoTokenizer``
loads, so sweep checkpoints work with ``audit``, ``eval`` and ``compare``. No special tokens are added
when encoding, so ``encode(text) == list(text.encode("utf-8"))`` (which ``encode_bytes`` uses directly
for speed on large corpora).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

SPECIAL_TOKENS = ("<pad>", "<s>", "</s>")
BYTE_VOCAB_SIZE = 256 + len(SPECIAL_TOKENS)
TOKENIZER_NAME = "byte-level (UTF-8 bytes 0-255 + <pad> <s> </s>; hf_interaction.sweep.byte_tokenizer)"


@lru_cache(maxsize=1)
def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte → printable-unicode map (what the ByteLevel pre-tokenizer emits)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), 256))
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, (chr(c) for c in chars), strict=True))


def build_byte_tokenizer(model_max_length: int = 1024) -> Any:
    """The byte-level ``PreTrainedTokenizerFast`` described in the module docstring."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {ch: b for b, ch in _byte_to_unicode().items()}
    for i, tok in enumerate(SPECIAL_TOKENS):
        vocab[tok] = 256 + i
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    core.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   model_max_length=model_max_length)
    return fast


def encode_bytes(text: str) -> list[int]:
    """Token ids of ``text`` under the byte tokenizer: its UTF-8 bytes (identical to ``encode``)."""
    return list(text.encode("utf-8"))
