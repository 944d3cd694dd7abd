"""The embedded demo model: a tiny trained Llama shipped inside the package.

``hf-interaction audit demo`` audits it fully offline. It is a 4-block, width-128 ``LlamaForCausalLM``
(R_D/W = 0.031, inside the default interval) with a 1024-entry byte-level BPE tokenizer, both trained
on the builtin probe corpus by ``scripts/train_demo.py``; ``data/demo/TRAINING.md`` records how.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError

DEMO_NAME = "demo"
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def demo_path() -> Path:
    """The packaged demo model directory, loadable with ``from_pretrained``; InputError if incomplete."""
    path = Path(__file__).resolve().parent / "data" / DEMO_NAME
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise InputError(
            f"the embedded demo model is incomplete: {', '.join(missing)} missing from {path}",
            hint="reinstall hf-interaction, or run `python scripts/train_demo.py` in a source checkout",
        )
    return path
