"""Issue 22's device-side pieces, checked on a CPU: the float32 matmul precision (TF32 only on CUDA,
set and put back), the batched PSD square root of the NFA, the CUDA window-block sizing arithmetic,
and that the CPU audit's numbers do not depend on --matmul-precision."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tiny_models import save_tiny

from hf_interaction import schema
from hf_interaction.agop import finalization
from hf_interaction.agop.metrics import psd_sqrt, psd_sqrt_batched
from hf_interaction.audit.device_memory import (
    WINDOW_BATCH_ROWS,
    probe_batch_that_fits,
    window_batch,
    window_bytes,
    windows_that_fit,
)
from hf_interaction.audit.measure import MeasureOptions, plan_blocks
from hf_interaction.audit.run import AuditSettings, run_audit
from hf_interaction.core.runtime import matmul_precision
from hf_interaction.errors import UsageError

SMALL = AuditSettings(T=8, n=4, output_probes=4, probe="builtin")


def _psd_stack(B: int, n: int, rank: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(B, n, rank, dtype=torch.float64, generator=g)
    return X @ X.transpose(1, 2)  # rank-deficient for rank < n: round-off leaves tiny negative eigenvalues


@pytest.mark.parametrize("rank", [3, 12])
def test_batched_psd_sqrt_matches_psd_sqrt(rank):
    M = _psd_stack(5, 12, rank)
    roots = psd_sqrt_batched(M)
    assert roots.dtype == torch.float64 and roots.shape == M.shape
    for m, root in zip(M, roots, strict=True):
        torch.testing.assert_close(root, psd_sqrt(m), rtol=0, atol=1e-10 * float(m.abs().max()) ** 0.5)
        torch.testing.assert_close(root @ root, m, rtol=0, atol=1e-9 * float(m.abs().max()))
    # float32 input (the accumulator's sums may be either) is widened first
    well = _psd_stack(2, 12, 48).float()
    torch.testing.assert_close(psd_sqrt_batched(well), psd_sqrt_batched(well.double()), rtol=0, atol=0)


def test_batched_psd_sqrt_refuses_a_matrix_that_is_not_psd_and_names_it():
    M = _psd_stack(4, 6, 6)
    M[2] -= 10 * torch.eye(6, dtype=torch.float64) * float(M[2].abs().max())
    with pytest.raises(ValueError, match=r"matrix 2 is not PSD: smallest eigenvalue .* round-off tolerance"):
        psd_sqrt_batched(M)
    with pytest.raises(ValueError, match="not PSD"):  # the single-matrix rule agrees
        psd_sqrt(M[2])
    with pytest.raises(ValueError, match="B×n×n"):
        psd_sqrt_batched(M[0])


class _Elsewhere(torch.Tensor):
    """A CPU tensor that reports another device: takes the accelerator branch of _nfa_all on a CPU."""

    @property
    def device(self):  # noqa: D102
        return torch.device("cuda")

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # results are plain CPU tensors
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))


def test_nfa_on_an_accelerator_batches_the_roots_and_agrees_with_the_cpu_path():
    L, d, O = 3, 8, 4  # noqa: E741
    sums = _psd_stack(L, d, 5, seed=1)
    g = torch.Generator().manual_seed(2)
    weights = [torch.randn(16, d, generator=g), None, [torch.randn(16, d, generator=g) for _ in range(2)]]

    def acc(mlp_sums):
        return SimpleNamespace(n_layers=L, output_probes=O, hidden_size=d, mlp_input_sums=mlp_sums,
                               mlp_window_counts=torch.tensor([2, 2, 2]))

    on_cpu = finalization._nfa_all(acc(sums), weights)
    elsewhere = finalization._nfa_all(acc(sums.as_subclass(_Elsewhere)), weights)
    assert [e["nfa_note"] for e in on_cpu] == [e["nfa_note"] for e in elsewhere]
    for a, b in zip(on_cpu, elsewhere, strict=True):
        for key in ("nfa_offdiag", "nfa_full"):
            assert (a[key] is None and b[key] is None) or a[key] == pytest.approx(b[key], abs=1e-12)


def _tf32_flags() -> tuple[bool, bool]:
    return torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32


def test_matmul_precision_sets_tf32_on_cuda_only_for_float32_and_puts_the_flags_back():
    before = _tf32_flags()
    try:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, True  # the caller's own
        with matmul_precision("high", "cuda", "float32") as precision:
            assert precision == "high" and _tf32_flags() == (True, True)
        assert _tf32_flags() == (False, True)
        with matmul_precision("highest", "cuda", "float32") as precision:
            assert precision == "highest" and _tf32_flags() == (False, False)
        assert _tf32_flags() == (False, True)
        with matmul_precision("high", "cuda", "bfloat16") as precision:
            assert precision == "highest" and _tf32_flags() == (False, False)
        with pytest.raises(RuntimeError, match="boom"), matmul_precision("high", "cuda", "float32"):
            raise RuntimeError("boom")
        assert _tf32_flags() == (False, True)
        torch.backends.cuda.matmul.allow_tf32 = True
        with matmul_precision("high", "cpu", "float32") as precision:  # no TF32 on a CPU: nothing touched
            assert precision == "highest" and _tf32_flags() == (True, True)
        assert torch.get_float32_matmul_precision() in ("high", "highest", "medium")  # still readable
        with pytest.raises(UsageError, match="--matmul-precision"), matmul_precision("medium", "cuda", "float32"):
            pass
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


@pytest.mark.skipif(not hasattr(torch.backends.cuda.matmul, "fp32_precision"), reason="torch < 2.9")
def test_matmul_precision_follows_a_caller_that_uses_torchs_newer_api():
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    before = (matmul.fp32_precision, conv.fp32_precision)
    try:
        matmul.fp32_precision = "ieee"  # the legacy flags are now unreadable (torch refuses the mix)
        with matmul_precision("high", "cuda", "float32") as precision:
            assert precision == "high" and (matmul.fp32_precision, conv.fp32_precision) == ("tf32", "tf32")
        assert matmul.fp32_precision == "ieee" and conv.fp32_precision == before[1]
    finally:
        matmul.fp32_precision, conv.fp32_precision = before


def test_cuda_window_batch_dispatches_to_the_free_memory_rule(monkeypatch):
    import hf_interaction.audit.device_memory as dm

    paper = AuditSettings.from_preset("paper", probe="builtin")
    block = torch.nn.Linear(64, 256)
    parts = SimpleNamespace(E_eff=torch.zeros(1000, 64).as_subclass(_Elsewhere), blocks=[block, block])
    monkeypatch.setattr(dm, "cuda_free_bytes", lambda device: 40 * 2**30)
    per = window_bytes(257, 32, 2, 64, sum(p.numel() for p in block.parameters()), 1000, 4)
    assert window_batch(paper, 1, None, parts) == windows_that_fit(paper, 40 * 2**30, per, 64) == paper.n
    monkeypatch.setattr(dm, "cuda_free_bytes", lambda device: 3 * 2**30)
    assert window_batch(paper, 1, None, parts) == windows_that_fit(paper, 3 * 2**30, per, 64) < paper.n


def test_cuda_window_blocks_fill_half_the_free_memory_in_powers_of_two():
    paper = AuditSettings.from_preset("paper", probe="builtin")
    # The Qwen2.5-0.5B shape: 24 blocks of 896, about 14.9M parameters each, V = 151,936.
    per = window_bytes(257, 32, 24, 896, 14_912_384, 151_936, 4)
    assert 1e9 < per < 1e10  # a few GB per window at the paper preset
    free = 130 * 10**9
    size = windows_that_fit(paper, free, per, 896)
    assert size & (size - 1) == 0 and 1 <= size <= paper.n
    assert size * per <= (free - paper.pair_store_bytes(896)) / 2 < 2 * size * per + 2 * 2**30
    assert windows_that_fit(paper, 10**9, per, 896) == 1  # never fewer than one
    assert windows_that_fit(paper, 10**15, per, 896) == paper.n  # never more than n
    assert window_bytes(257, 32, 24, 896, 14_912_384, 151_936, 2) < per  # bfloat16 halves the model part


def test_window_batch_on_a_cpu_keeps_its_row_bound():
    cpu_parts = SimpleNamespace(E_eff=torch.zeros(3, 2))
    for settings in (SMALL, AuditSettings.from_preset("paper", probe="builtin")):
        expected = max(1, min(settings.n, WINDOW_BATCH_ROWS // (settings.output_probes * (settings.T + 1))))
        assert window_batch(settings, 1, None) == window_batch(settings, 1, None, cpu_parts) == expected


def test_cpu_audit_numbers_do_not_depend_on_matmul_precision(tmp_path, tokenizer_dir):
    path = save_tiny("llama", tmp_path / "llama", tokenizer_dir)
    high = run_audit(str(path), SMALL, show_progress=False, matmul="high").record
    highest = run_audit(str(path), SMALL, show_progress=False, matmul="highest").record
    for rec in (high, highest):
        rt = rec["runtime"]
        assert rt["matmul_precision"] == "highest"  # a CPU has no TF32, whatever was asked
        assert rt["load_s"] > 0 and rt["finalize_s"] > 0 and rt["gpu_peak_gb"] is None
        assert [p for p in schema.problems("audit", rec) if "runtime" in p] == []  # documented in docs/schema.md
    for key in ("f", "d", "aofe_ratio", "diag_share", "trace", "probe_loss_nats_per_token"):
        assert high["metrics"][key] == highest["metrics"][key], key
    assert [x["nfa_offdiag"] for x in high["layers"]] == [x["nfa_offdiag"] for x in highest["layers"]]
    np.testing.assert_equal(high["metrics"]["f_ci"], highest["metrics"]["f_ci"])


def test_probes_per_pass_shrink_to_a_divisor_of_O_only_when_one_window_does_not_fit():
    paper = AuditSettings.from_preset("paper", probe="builtin")
    # The Llama-3-8B shape: 32 blocks of 4096, about 218M parameters each, V = 128,256.
    shape = (257, 32, 4096, 218_112_000, 128_256, 4)
    per_window = {b: window_bytes(shape[0], b, *shape[1:]) for b in (1, 2, 4, 8, 16, 32)}
    store = paper.pair_store_bytes(4096)
    roomy = 2 * per_window[32] + store + 2**32
    assert probe_batch_that_fits(paper, roomy, *shape) is None  # all 32 probes in one pass
    tight = 2 * per_window[8] + store + 2**31 + 1  # room for one window of 8 probes, not of 16
    assert per_window[16] > (tight - store - 2**31) // 2
    assert probe_batch_that_fits(paper, tight, *shape) == 8
    assert probe_batch_that_fits(paper, store, *shape) == 1  # nothing fits: the smallest passes


def test_cuda_plan_names_the_probe_batch_it_chose(monkeypatch):
    import hf_interaction.audit.device_memory as dm

    paper = AuditSettings.from_preset("paper", probe="builtin")
    block = torch.nn.Linear(64, 256)
    parts = SimpleNamespace(E_eff=torch.zeros(1000, 64).as_subclass(_Elsewhere), blocks=[block, block])
    fn, windows = SimpleNamespace(prefix=1), SimpleNamespace(n=paper.n)  # plan_blocks reads no more of them
    params = sum(p.numel() for p in block.parameters())
    one_window_of_4 = window_bytes(257, 4, 2, 64, params, 1000, 4)
    free = paper.pair_store_bytes(64) + 2 * 2**30 + 2 * one_window_of_4 + 1
    monkeypatch.setattr(dm, "cuda_free_bytes", lambda device: free)
    plan = plan_blocks(fn, parts, windows, paper, MeasureOptions())
    assert plan.probe_batch == probe_batch_that_fits(paper, free, 257, 2, 64, params, 1000, 4) == 4
    assert plan.note and "4 per pass" in plan.note and plan.size >= 1
    assert plan_blocks(fn, parts, windows, paper, MeasureOptions(probe_batch=2)).probe_batch == 2  # asked: kept
    assert plan_blocks(fn, SimpleNamespace(E_eff=torch.zeros(1000, 64), blocks=[block]), windows, paper,
                       MeasureOptions()).probe_batch is None  # a CPU: all probes


def test_memory_plan_refuses_a_pair_store_over_its_budget_with_what_to_change():
    from hf_interaction.audit.device_memory import plan_memory
    from hf_interaction.errors import InputError

    paper = AuditSettings.from_preset("paper", probe="builtin")  # n·O·T·d·4 bytes = 17 GB at d = 4096
    wide = SimpleNamespace(E_eff=torch.zeros(8, 4096), blocks=[])
    with pytest.raises(InputError, match=r"keep 16\.0 GiB of output-probe VJPs") as err:
        plan_memory(paper, 1, paper.n, wide)
    assert "8.0 GiB are allowed on cpu" in err.value.message and "--n" in (err.value.hint or "")
    narrow = SimpleNamespace(E_eff=torch.zeros(8, 64), blocks=[])
    plan = plan_memory(paper, 1, paper.n, narrow)
    assert plan.probe_batch is None and plan.note is None and plan.windows >= 1  # a CPU: all probes, row bound
