"""The embedded demo models: `demo` (hf_interaction/data/demo) and the demo family (data/demo_family)."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_interaction.errors import InputError
from hf_interaction.models import demo
from hf_interaction.models.demo import demo_path
from hf_interaction.probe import builtin_corpus, make_windows


@pytest.fixture(scope="module")
def demo_model_and_tokenizer():
    path = demo_path()
    model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return model.eval(), tokenizer


def test_demo_files_are_small_and_safetensors_only():
    path = demo_path()
    assert (path / "model.safetensors").stat().st_size < 8 * 2**20
    assert not list(path.glob("*.bin")) and not list(path.glob("*.pt"))
    training = (path / "TRAINING.md").read_text(encoding="utf-8")
    assert "python scripts/train_demo.py" in training and "0.03125" in training


def test_demo_shape_is_inside_the_default_interval(demo_model_and_tokenizer):
    model, tokenizer = demo_model_and_tokenizer
    config = model.config
    assert config.num_hidden_layers / config.hidden_size == pytest.approx(4 / 128)
    assert 0.0204 <= config.num_hidden_layers / config.hidden_size <= 0.0645
    assert config.tie_word_embeddings and len(tokenizer) == config.vocab_size
    assert tokenizer.eos_token and tokenizer.bos_token and tokenizer.pad_token and tokenizer.unk_token


def test_demo_has_learned_the_builtin_corpus(demo_model_and_tokenizer):
    """Its loss on builtin windows is far below ln(vocabulary), the loss of a uniform guess."""
    model, tokenizer = demo_model_and_tokenizer
    windows = make_windows(builtin_corpus(), tokenizer, T=128, n=4, seed=0)
    with torch.no_grad():
        loss = model(input_ids=windows.input_ids, labels=windows.input_ids).loss.item()
    assert math.isfinite(loss) and loss < 0.7 * math.log(model.config.vocab_size)


def test_missing_demo_files_are_an_input_error(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "models" / "demo.py"))  # data/ would be tmp_path/data
    with pytest.raises(InputError, match="config.json, model.safetensors") as caught:
        demo_path()
    assert "train_demo.py" in caught.value.one_line()


# --------------------------------------------------------------------------------------------
# The demo family (hf_interaction/data/demo_family): one budget, three depths, from a micro sweep.

DEFAULT_INTERVAL = (0.0204, 0.0645)
FAMILY_POSITION = {"demo-shallow": "below", "demo-mid": "inside", "demo-deep": "above"}


def _position(r_dw: float) -> str:
    lo, hi = DEFAULT_INTERVAL
    return "below" if r_dw < lo else "above" if r_dw > hi else "inside"


@pytest.mark.parametrize("name", sorted(FAMILY_POSITION))
def test_family_member_loads_has_its_position_and_has_learned(name):
    path = demo_path(name)
    assert (path / "model.safetensors").stat().st_size < 2 * 2**20
    assert not list(path.glob("*.bin")) and not list(path.glob("*.pt"))
    model = AutoModelForCausalLM.from_pretrained(path, use_safetensors=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    config = model.config
    assert _position(config.num_hidden_layers / config.hidden_size) == FAMILY_POSITION[name]
    # Validation loss on the sweep's held-out windows (the last 5% of the builtin corpus, byte level).
    text = builtin_corpus().text
    ids = tokenizer(text[-len(text) // 20:], add_special_tokens=False, return_tensors="pt").input_ids
    n = ids.shape[1] // 129
    windows = ids[0, :min(n, 8) * 129].view(-1, 129)
    with torch.no_grad():
        loss = model(input_ids=windows, labels=windows).loss.item()
    assert math.isfinite(loss) and loss < 0.6 * math.log(config.vocab_size)


def test_family_members_share_one_budget_and_ship_the_sweep_interval():
    import json

    from hf_interaction.models.demo import demo_family_dir
    from hf_interaction.shape.config import shape_from_config

    counts = []
    for name in FAMILY_POSITION:
        config = json.loads((demo_path(name) / "config.json").read_text())
        counts.append(shape_from_config(config)["non_embedding_params"])
    assert max(counts) / min(counts) < 1.1
    family = demo_family_dir()
    interval = json.loads((family / "interval.json").read_text())
    assert 0 < interval["lo"] < interval["hi"] and "sweep" in interval["source"]
    assert (family / "sweep_runs.csv").is_file()
    assert "python scripts/train_demo_family.py" in (family / "TRAINING.md").read_text(encoding="utf-8")


def test_family_resolves_as_embedded_models():
    from hf_interaction.models.source import resolve_model

    ref = resolve_model("demo-mid")
    assert ref.kind == "embedded" and ref.model_id == "demo-mid" and ref.path == demo_path("demo-mid")
    assert ref.config["num_hidden_layers"] == 2
    assert resolve_model("demo").path == demo_path()
    with pytest.raises(InputError, match="not an embedded model"):
        demo_path("demo-huge")


def test_cli_compares_the_family_offline(run_cli):
    import json

    proc = run_cli("compare", "demo-shallow", "demo-deep", "--run", "--json", "--n-boot", "100")
    assert proc.returncode == 0, proc.stderr
    models = json.loads(proc.stdout)["models"]
    assert [m["label"] for m in models] == ["demo-shallow", "demo-deep"]
    assert [m["inside_interval"] for m in models] == [False, False]
    for m in models:
        assert m["aofe_ratio"] is not None and m["probe_loss_nats_per_token"] is not None
        assert m["audit_settings"]["probe"] == "builtin" and m["audit_settings"]["T"] == 64
