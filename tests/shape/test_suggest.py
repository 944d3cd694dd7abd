"""`suggest`: exact counts (equal to meta-device counts of independently built configs), ordering by the
interval's centre, interval files, and one-line errors."""

from __future__ import annotations

import json
import math
import warnings

import pytest
import torch

from hf_interaction.shape.interval import DEFAULT_INTERVAL, Interval
from hf_interaction.shape.suggest import suggest_shapes


def _meta_counts(raw: dict) -> tuple[int, int]:
    """(total, non-embedding) parameters of a raw config, counted here on the meta device."""
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = AutoConfig.for_model(raw.pop("model_type"), **raw)
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")
        model = AutoModelForCausalLM.from_config(cfg)
    total = sum(p.numel() for p in model.parameters())
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings().weight
    return total, total - emb.numel() - (0 if out is emb else out.numel())


def test_suggest_counts_equal_meta_counts_llama():
    rows = suggest_shapes(200_000, vocab_size=259, head_dim=8, depths=[1, 2, 4, 8])
    assert sorted(r["depth"] for r in rows) == [1, 2, 4, 8]
    for r in rows:
        raw = {"model_type": "llama", "num_hidden_layers": r["depth"], "hidden_size": r["width"],
               "intermediate_size": r["ffn_width"], "num_attention_heads": r["heads"],
               "num_key_value_heads": r["kv_heads"], "head_dim": r["head_dim"], "vocab_size": 259}
        assert (r["total_params"], r["non_embedding_params"]) == _meta_counts(raw)
        assert r["ffn_width"] == 4 * r["width"] and r["width"] == 8 * r["heads"]
        assert abs(r["mismatch"]) <= 0.1


def test_suggest_other_arch_field_names():
    r = suggest_shapes(250_000, arch="gpt2", vocab_size=259, head_dim=16, depths=[2])[0]
    raw = {"model_type": "gpt2", "n_layer": 2, "n_embd": r["width"], "n_head": r["heads"], "n_inner": r["ffn_width"],
           "vocab_size": 259, "n_positions": 4096}
    assert (r["total_params"], r["non_embedding_params"]) == _meta_counts(raw)


def test_suggest_orders_by_distance_to_centre():
    interval = Interval(0.02, 0.08, "test")
    rows = suggest_shapes(2_000_000, vocab_size=1000, head_dim=16, depths=[1, 2, 3, 4, 6, 8, 12, 16], interval=interval,
                          max_mismatch=0.3)
    dist = [abs(math.log(r["r_dw"] / interval.centre)) for r in rows]
    assert dist == sorted(dist) and [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["inside_interval"] and rows[0]["interval_distance"] == 0.0
    assert {r["interval_coordinate"] for r in rows} == {interval.coordinate(r["r_dw"]) for r in rows}


def test_suggest_default_depths_skip_unmatchable():
    rows = suggest_shapes(20_000, vocab_size=259, head_dim=4)
    assert rows and all(abs(r["mismatch"]) <= 0.1 for r in rows)


def test_suggest_cli_json_and_interval_file(tmp_path, capsys):
    from hf_interaction.cli import main

    path = tmp_path / "interval.json"
    path.write_text(json.dumps({"lo": 0.01, "hi": 0.04, "source": "my sweep"}))
    main(["suggest", "--budget", "100000", "--vocab", "259", "--head-dim", "8", "--depths", "1,2,4",
          "--interval-file", str(path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert data["interval"]["source"] == "my sweep" and len(data["candidates"]) == 3
    assert data["candidates"][0]["rank"] == 1
    assert DEFAULT_INTERVAL.source != data["interval"]["source"]


@pytest.mark.parametrize("args, code, text", [
    (["--params", "1000"], 3, "too small for depth 1"),
    (["--params", "100000", "--head-dim", "64", "--vocab", "259", "--depths", "1"], 3, "depth 1 cannot match"),
    (["--params", "0"], 2, "--budget must be positive"),
    (["--params", "100000", "--ffn-ratio", "-1"], 2, "--ffn-ratio must be positive"),
    (["--params", "100000", "--arch", "nonsense"], 2, "unknown --arch"),
])
def test_suggest_bad_input_one_line(args, code, text, capsys):
    from hf_interaction.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["suggest", *args])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == code and len(err.splitlines()) == 1 and text in err
