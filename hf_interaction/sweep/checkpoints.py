"""Where a sweep keeps its trained shapes, and how one is saved and recognised as finished.

Each shape is a normal Hugging Face checkpoint directory ``OUT/shapes/depth{L}_width{d}_seed{s}/``
(config, safetensors, byte-level tokenizer) with ``metrics.json``, written last: its presence is
what makes a shape finished, so a rerun resumes instead of retraining.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ..core.outputs import partial_path, write_json
from ..shape.width_matching import ShapeSpec


def run_dir(out: Path, spec: ShapeSpec, seed: int) -> Path:
    """Where one trained shape lives: ``OUT/shapes/depth{L}_width{d}_seed{s}/``."""
    return out / "shapes" / f"{spec.name}_seed{seed}"


def is_finished(path: Path) -> bool:
    """A trained shape: a checkpoint and its ``metrics.json`` (written last, atomically)."""
    return (path / "model.safetensors").is_file() and (path / "metrics.json").is_file()


def save_checkpoint(model: Any, path: Path, metrics: dict) -> None:
    """Save config + safetensors + byte tokenizer, then ``metrics.json`` (the 'finished' marker)."""
    from .byte_tokenizer import build_byte_tokenizer

    tmp = partial_path(path)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    build_byte_tokenizer(model_max_length=model.config.max_position_embeddings
                         if hasattr(model.config, "max_position_embeddings") else 1024).save_pretrained(tmp)
    if path.exists():
        shutil.rmtree(path)
    tmp.rename(path)
    write_json(path / "metrics.json", metrics)

