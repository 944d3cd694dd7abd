"""The printed `compare` table fits the terminal: at 80 columns (the width when stdout is not a
terminal) every line of the output for three and five models with long Hub ids is at most 80
characters, and every cell of the Markdown table is still printed (only the arrangement changes).
Models are known only through stored audits (offline Hub ids), so nothing is loaded."""

from __future__ import annotations

import pytest
from tiny_models import FAMILIES

from hf_interaction.compare import compare_models, table_cells
from hf_interaction.compare.terminal import layout
from hf_interaction.core.store import Store
from hf_interaction.shape.config import shape_from_config

LONG_IDS = ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct",
            "Qwen/Qwen2.5-Coder-32B-Instruct-GPTQ-Int4", "mistralai/Mistral-Small-24B-Instruct-2501",
            "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B")
SHORT_IDS = ("org/a", "org/b", "org/c")


def _audited(tmp_path, ids) -> Store:
    """A store with one audit per id (depths 2, 3, ...), metrics with intervals and a probe loss."""
    store = Store(tmp_path / "store.sqlite")
    for depth, model in enumerate(ids, start=2):
        metrics = {"aofe": 1.2345e-5 * depth, "aofe_ci": [1.1e-5, 9.9e-5], "aofe_ratio": 0.5 + depth / 100,
                   "aofe_ratio_ci": [0.4123, 0.6789], "diag_share": 1.23e-4, "diag_share_ci": [1.01e-4, 2.02e-4],
                   "probe_loss_nats_per_token": 3.0 + depth / 10, "probe_loss_bits_per_byte": 1.1}
        shape = shape_from_config({**FAMILIES["llama"], "num_hidden_layers": depth}, model)
        store.put("audits", model, "c" * 40, {"T": 8, "seed": 42}, {"shape": shape, "metrics": metrics, "layers": []})
    return store


def _value_cells(rows) -> set[str]:
    """Every non-empty cell but the quantity labels (which may wrap), an interval on its own line put back."""
    return {c.replace("\n[", " [") for row in rows for c in row[1:] if c}


@pytest.mark.parametrize("n", [3, 5])
def test_printed_table_fits_80_columns(n, tmp_path, capsys, monkeypatch):
    from hf_interaction.cli import main

    monkeypatch.delenv("COLUMNS", raising=False)
    store = _audited(tmp_path, LONG_IDS[:n])
    main(["compare", *LONG_IDS[:n], "--store", str(store.path)])  # stdout is not a terminal: 80 columns
    out = capsys.readouterr().out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    for model in LONG_IDS[:n]:
        assert model in out  # labels are never folded
    header, body = table_cells(compare_models(list(LONG_IDS[:n]), store=store))
    for cell in _value_cells(body):
        for part in cell.split(" ["):
            assert part in out


@pytest.mark.parametrize(("ids", "width", "arrangement"), [
    (SHORT_IDS, 200, "wide"), (SHORT_IDS[:2], 80, "split"), (LONG_IDS[:3], 80, "per model"),
    (LONG_IDS, 60, "per model")])
def test_the_arrangement_changes_not_the_cells(ids, width, arrangement, tmp_path):
    comp = compare_models(list(ids), store=_audited(tmp_path, ids))
    chosen, panels = layout(comp, width)
    assert chosen == arrangement
    assert all(p.width <= width for p in panels)
    assert set().union(*(_value_cells(p.rows) for p in panels)) == _value_cells(table_cells(comp)[1])
