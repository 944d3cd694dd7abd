"""model_lists/open_llm_leaderboard.csv: columns, values, size targets, and exact meta-device counts."""

import csv
import math
import re
from pathlib import Path

import pytest

from hf_interaction.shape.config import shape_from_fields
from hf_interaction.shape.model_list import read_model_list

ROOT = Path(__file__).resolve().parents[2]
LIST = ROOT / "model_lists" / "open_llm_leaderboard.csv"
COLUMNS = ["model_id", "family", "model_type", "base_or_instruct", "num_hidden_layers", "hidden_size",
           "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
           "tie_word_embeddings", "total_params", "leaderboard_params_b", "mmlu_pro_score", "mmlu_pro_raw_acc",
           "mmlu_pro_setting", "mmlu_pro_source", "config_source", "training_tokens", "training_tokens_source",
           "data_notes"]
SETTING = "Open LLM Leaderboard v2 leaderboard_mmlu_pro"
# A row whose leaderboard figure counts stored tensors besides the parameters says how many.
EXTRA = re.compile(r"leaderboard count includes \+(\d+)")


def _rows():
    with LIST.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_columns_in_order_and_readable_by_the_list_reader():
    with LIST.open(newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == COLUMNS
    assert len(read_model_list(LIST)) == len(_rows())


def test_values():
    rows = _rows()
    assert len({r["model_id"] for r in rows}) == len(rows), "one row per model id"
    for r in rows:
        assert r["base_or_instruct"] in ("base", "instruct"), r["model_id"]
        assert r["mmlu_pro_setting"] == SETTING, r["model_id"]
        assert "chenjy16/modelrank_ai" in r["mmlu_pro_source"], r["model_id"]
        assert r["config_source"].startswith("https://"), r["model_id"]
        assert r["family"], r["model_id"]
        assert r["tie_word_embeddings"] in ("true", "false"), r["model_id"]
        for col in COLUMNS[4:13]:
            if col != "tie_word_embeddings":
                assert int(r[col]) > 0, (r["model_id"], col)
        score, raw = float(r["mmlu_pro_score"]), float(r["mmlu_pro_raw_acc"])
        assert 0 <= score <= 100
        # the leaderboard's normalisation: raw = 0.1 + 0.9 * normalised / 100 (raw given to 4 decimals)
        assert abs(raw - (0.1 + 0.9 * score / 100)) < 6e-5, r["model_id"]
        assert 0 < float(r["leaderboard_params_b"]) <= 10.0
        if r["training_tokens"]:
            assert int(r["training_tokens"]) >= 10**9 and r["training_tokens_source"].startswith("http")
        else:
            assert not r["training_tokens_source"]


def test_size_targets():
    rows = _rows()
    assert len(rows) >= 60
    assert sum(r["base_or_instruct"] == "base" for r in rows) >= 35


def agrees(total: int, params_b: float) -> bool:
    """The leaderboard's one-decimal figure in billions: rounded or truncated (it does both)."""
    x = total / 1e9
    return any(abs(v / 10 - params_b) < 1e-9 for v in (math.floor(x * 10 + 0.5), math.floor(x * 10)))


def test_agreement_rule():
    assert agrees(3_085_938_688, 3.1) and agrees(3_085_938_688, 3.0)  # Qwen2.5-3B (base 3.1, instruct 3.0)
    assert not agrees(9_241_705_984, 9.0) and not agrees(405_334_016, 0.5)


@pytest.mark.slow
@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["model_id"])
def test_meta_device_count_matches_and_agrees_with_the_leaderboard(row):
    shape = shape_from_fields(row)
    assert shape["total_params"] == int(row["total_params"])
    extra = EXTRA.search(row["data_notes"])
    assert agrees(int(row["total_params"]) + (int(extra.group(1)) if extra else 0),
                  float(row["leaderboard_params_b"]))
