"""The embedded demo models: tiny trained Llamas shipped inside the package.

``demo`` is a 4-block, width-128 ``LlamaForCausalLM`` (R_D/W = 0.031, inside the default interval)
with a 1024-entry byte-level BPE tokenizer, trained on the builtin probe corpus by
``scripts/train_demo.py`` (``data/demo/TRAINING.md``).

The demo family ``demo-shallow``, ``demo-mid`` and ``demo-deep`` comes from one micro shape sweep
(``scripts/train_demo_family.py``, ``data/demo_family/TRAINING.md``): three Llamas at the same budget
of 100,000 non-embedding parameters, byte-level tokenizer, whose R_D/W lies below, inside and above
the default interval. All four are audited, compared and shaped fully offline.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

DEMO_NAME = "demo"
# Embedded name -> directory under hf_interaction/data/.
EMBEDDED_MODELS: dict[str, str] = {
    "demo": "demo",
    "demo-shallow": "demo_family/demo-shallow",
    "demo-mid": "demo_family/demo-mid",
    "demo-deep": "demo_family/demo-deep",
}
REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json")


def demo_family_dir() -> Path:
    """The packaged demo family directory (members, ``interval.json``, ``sweep_runs.csv``, TRAINING.md)."""
    return Path(__file__).resolve().parents[1] / "data" / "demo_family"


def demo_path(name: str = DEMO_NAME) -> Path:
    """The packaged directory of embedded model ``name``, loadable with ``from_pretrained``;
    InputError if unknown or incomplete."""
    if name not in EMBEDDED_MODELS:
        raise InputError(f"{name!r} is not an embedded model; choose one of {', '.join(EMBEDDED_MODELS)}")
    path = Path(__file__).resolve().parents[1] / "data" / EMBEDDED_MODELS[name]
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        script = "train_demo.py" if name == DEMO_NAME else "train_demo_family.py"
        raise InputError(
            f"the embedded model {name} is incomplete: {', '.join(missing)} missing from {path}",
            hint=f"reinstall hf-interaction, or run `python scripts/{script}` in a source checkout",
        )
    return path
