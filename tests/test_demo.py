"""The embedded demo model (hf_interaction/data/demo): present, safetensors-only, really trained."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hf_interaction import demo
from hf_interaction.demo import demo_path
from hf_interaction.errors import InputError
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
    monkeypatch.setattr(demo, "__file__", str(tmp_path / "demo.py"))
    with pytest.raises(InputError, match="config.json, model.safetensors") as caught:
        demo_path()
    assert "train_demo.py" in caught.value.one_line()
