"""Test-wide settings: no network, a private results store, quiet libraries."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Nothing in the tests may reach a hub; set before transformers / huggingface_hub are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _private_store(tmp_path, monkeypatch):
    """Every test gets its own results store so tests never see each other's records."""
    monkeypatch.setenv("HF_INTERACTION_STORE", str(tmp_path / "store.sqlite"))


def _run_cli(*args: str, env: dict | None = None, cwd: str | None = None):
    """Run ``python -m hf_interaction ARGS`` in a subprocess; returns CompletedProcess (text)."""
    import subprocess

    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "hf_interaction", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or ROOT, timeout=600)


@pytest.fixture
def run_cli():
    """The CLI as a user runs it, in a subprocess from the repository root (offline, private store)."""
    return _run_cli


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory):
    """The tiny models' byte-level BPE tokenizer (tests/tiny_models.py), trained once per session."""
    from tiny_models import train_tokenizer

    d = tmp_path_factory.mktemp("tokenizer")
    train_tokenizer(d)
    return d
