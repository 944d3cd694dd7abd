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


#: Test files whose every test loads the real SmolLM2 GGUF (98 MB, seconds per load).
_SMOLLM2_FILES = {"test_smollm2.py", "test_compare_gguf.py", "test_gguf_load.py", "test_gguf_dequant.py"}


def _is_slow(item) -> bool:
    """A test that starts a subprocess (the CLI as a user runs it, accelerate launch) or loads SmolLM2."""
    if "run_cli" in getattr(item, "fixturenames", ()) or item.path.name in _SMOLLM2_FILES:
        return True
    source = getattr(getattr(item, "function", None), "__code__", None)
    return source is not None and any(name in source.co_names for name in ("subprocess", "Popen"))


def pytest_collection_modifyitems(config, items):
    """Mark every subprocess and SmolLM2 test ``slow``, so ``pytest -m "not slow"`` is a fast path."""
    for item in items:
        if _is_slow(item):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors: one torch thread is faster than two contended ones (use with
    ``pytestmark = pytest.mark.usefixtures("one_thread")``)."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def micro(one_thread):
    """The micro Llama with its exact Jacobians (tests/micro_llama.py), built once per module."""
    from micro_llama import build_micro

    return build_micro()
