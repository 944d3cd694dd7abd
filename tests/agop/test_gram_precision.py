"""The Grams the finalisation forms once (row_gram: WᵀW for NFA, E_effᵀE_eff) use full float32 products
on CUDA even inside the audit's TF32 block, and leave the process's matmul settings as they were."""

from __future__ import annotations

import pytest
import torch

from hf_interaction.agop.metrics import row_gram
from hf_interaction.core.runtime import matmul_precision


def test_row_gram_leaves_the_matmul_settings_as_they_were():
    before = (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32)
    M = torch.randn(300, 7)
    gram = row_gram(M, chunk_rows=64)
    assert (torch.get_float32_matmul_precision(), torch.backends.cuda.matmul.allow_tf32) == before
    torch.testing.assert_close(gram, M.double().T @ M.double(), rtol=1e-6, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_row_gram_on_cuda_is_full_float32_inside_a_tf32_block():
    torch.manual_seed(0)
    M = torch.randn(8192, 64, device="cuda")
    exact = (M.double().T @ M.double()).cpu()
    with matmul_precision("high", "cuda", "float32") as precision:
        assert precision == "high"
        gram = row_gram(M).cpu()
    scale = float(exact.abs().max())
    assert float((gram - exact).abs().max()) < 1e-5 * scale  # TF32 products miss by ~1e-3 of the scale
