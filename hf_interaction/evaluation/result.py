"""The record of one MMLU-Pro evaluation (what the store and ``--out`` files hold) and the
per-question summaries it is built from: per-category accuracy, the requests hash, slim samples."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..core.outputs import json_text, output_dir, text_writer, write_together
from ..core.store import key_hash
from ..schema import SCHEMA_VERSION


@dataclass
class EvalResult:
    """One MMLU-Pro evaluation: what the store and ``--out`` files hold (``to_dict``)."""

    model: str
    revision: str
    task: str
    metric: str
    acc: float
    acc_stderr: float | None
    n_questions: int
    categories: dict[str, dict]
    num_fewshot: int
    limit: float | int | None
    subsample: dict | None
    task_hash: str
    requests_hash: str
    data: dict
    provenance: dict
    runtime: dict
    versions: dict
    settings: dict
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION
    cached: bool = False
    samples: list[dict] | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """JSON-ready record (without the per-question samples and the cache flag)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("samples", "cached")}

    @classmethod
    def from_dict(cls, payload: dict, *, cached: bool = False) -> EvalResult:
        names = {f.name for f in dataclasses.fields(cls)} - {"samples", "cached"}
        return cls(**{k: v for k, v in payload.items() if k in names}, cached=cached)

    def to_frame(self):
        """Per-category rows (plus an ``overall`` row) as a pandas DataFrame."""
        import pandas as pd

        rows = [{"category": c, **v} for c, v in self.categories.items()]
        rows.append({"category": "overall", "acc": self.acc, "stderr": self.acc_stderr, "n": self.n_questions})
        return pd.DataFrame(rows)

    @property
    def lm_eval_version(self) -> str | None:
        return self.versions.get("lm_eval")

    @property
    def wall_time_s(self) -> float:
        return self.runtime["wall_time_s"]

    @property
    def settings_hash(self) -> str:
        return key_hash(self.settings)

    def save(self, out_dir: str | Path) -> Path:
        """Write the record to ``out_dir/eval-<model>@<revision>-<task>-<settings hash>.json`` and, when
        samples were logged, the samples to a ``.samples.jsonl`` next to it (all or nothing)."""
        out = output_dir(Path(out_dir).expanduser())
        name = self.model.replace("/", "__") if self.provenance.get("source") == "hub" else Path(self.model).name
        slug = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name or "model")
        stem = f"eval-{slug}@{self.revision[:16]}-{self.task}-{self.settings_hash}"
        path = out / f"{stem}.json"
        samples = None
        if self.samples is not None:
            samples = text_writer("".join(json.dumps(s, default=str, ensure_ascii=False) + "\n" for s in self.samples))
        # without --log-samples, a samples file an earlier run left under this name is removed
        write_together({path: text_writer(json_text(self.to_dict())), out / f"{stem}.samples.jsonl": samples})
        return path


def per_category(samples: Sequence[dict], metric: str) -> dict[str, dict]:
    """Accuracy, standard error (lm-eval's: sample sd / sqrt(n)) and count per category."""
    values: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        values[s["doc"]["category"]].append(float(s[metric]))
    out = {}
    for c in sorted(values):
        v = values[c]
        mean = sum(v) / len(v)
        stderr = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else None
        out[c] = {"acc": mean, "stderr": stderr, "n": len(v)}
    return out


def requests_hash(samples: Sequence[dict]) -> str:
    """lm-eval's per-sample doc/prompt/target hashes, ordered by (task, doc id), hashed together:
    equal exactly when the same questions were asked with the same prompts and targets."""
    h = hashlib.sha256()
    for s in sorted(samples, key=lambda s: (s.get("task", ""), s["doc_id"])):
        h.update((s["doc_hash"] + s["prompt_hash"] + s["target_hash"]).encode())
    return h.hexdigest()


def slim_samples(samples: Sequence[dict]) -> list[dict]:
    """Per-question records for ``--log-samples`` (the prompt once, not once per option)."""
    out = []
    for s in samples:
        out.append({
            "task": s["task"], "doc_id": s["doc_id"], "question_id": s["doc"].get("question_id"),
            "category": s["doc"]["category"], "target": s["target"], "prompt": s["arguments"][0][0],
            "continuations": [a[1] for a in s["arguments"]], "resps": [r[0] if len(r) == 1 else r for r in s["resps"]],
            "filtered_resps": s["filtered_resps"],
            "metrics": {m: s[m] for m in s["metrics"]}, "prompt_hash": s["prompt_hash"],
        })
    return out
