"""The comparison itself: one :class:`ModelEntry` per model (its shape, chosen audit and evaluation
as flat values) and the :class:`Comparison` of them, with deltas against the first model."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.numbers import sig, signed
from ..core.runtime import record_header
from ..shape.interval import Interval

if TYPE_CHECKING:
    import pandas as pd

# Parameter counts differ multiplicatively between models: their delta is a ratio (B / A).
RATIO_DELTAS = ("total_params", "non_embedding_params")
ABSOLUTE_DELTAS = ("depth", "width", "r_dw", "interval_distance", "interval_coordinate", "aofe", "aofe_ratio",
                   "probe_loss_nats_per_token", "probe_loss_bits_per_byte", "mmlu_pro_acc")
AUDIT_KEYS = ("aofe", "aofe_ratio", "diag_share", "diag_share_vs_baseline_log10", "probe_loss_nats_per_token",
              "probe_loss_bits_per_byte")
#: What AOFE, AOFE-ratio and the diagonal share scale with besides training (docs/metrics.md): models
#: that differ in any of these are not comparable on those metrics, only relative to a fresh init.
STRUCTURAL_KEYS = {"vocab_size": "vocabulary V", "probe_T": "window T", "output_function": "output function"}
EVAL_KEYS = ("mmlu_pro_acc", "mmlu_pro_task")
MISSING = "missing"


def finite(value: Any) -> float | None:
    """A finite number as float, else None (stored payloads are read defensively)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class ModelEntry:
    """One compared model: where it came from, its shape, and the audit and evaluation chosen for it."""

    spec: str
    label: str
    model_id: str
    revision: str
    source: str
    shape: dict
    audit: dict | None = None
    audit_status: str = MISSING  # "stored" | "computed" | "missing"
    audit_settings: dict | None = None
    audit_settings_hash: str | None = None
    evaluation: dict | None = None
    evaluation_settings: dict | None = None
    evaluation_settings_hash: str | None = None
    notes: list[str] = field(default_factory=list)
    weights: dict | None = None  # ModelRef.weights: format, and for GGUF the file and quantization

    @property
    def weights_format(self) -> str | None:
        """``gguf``, ``safetensors`` or ``none (config only)``; None when unknown (an old stored record)."""
        return (self.weights or {}).get("format")

    @property
    def quantization(self) -> str | None:
        """The GGUF file type (e.g. ``Q4_1``); None for weights that are not GGUF."""
        return (self.weights or {}).get("quantization") if self.weights_format == "gguf" else None

    @property
    def inside_interval(self) -> bool:
        return bool(self.shape["inside_interval"])

    def values(self) -> dict[str, Any]:
        """The compared quantities as flat JSON-ready fields (None where not available)."""
        sh = self.shape
        out: dict[str, Any] = {
            "label": self.label, "spec": self.spec, "model": self.model_id, "revision": self.revision,
            "source": self.source, "weights_format": self.weights_format, "quantization": self.quantization,
        }
        for key in ("depth", "width", "r_dw", "total_params", "non_embedding_params", "interval_distance",
                    "interval_coordinate", "inside_interval"):
            out[key] = sh.get(key)
        out.update(self._audit_values())
        out.update(self._eval_values())
        return out

    def _audit_values(self) -> dict[str, Any]:
        m = (self.audit or {}).get("metrics", {})
        out: dict[str, Any] = {"audit_status": self.audit_status, "audit_settings_hash": self.audit_settings_hash}
        for key in ("aofe", "aofe_ratio", "diag_share", "diag_share_vs_baseline_log10"):
            out[key] = finite(m.get(key))
            ci = m.get(f"{key}_ci") or [None, None]
            out[f"{key}_ci_lo"], out[f"{key}_ci_hi"] = finite(ci[0]), finite(ci[1])
        out["vocab_size"] = self.shape.get("vocab_size")
        out["probe_T"] = (self.audit_settings or {}).get("T")
        function = m.get("output_function")
        out["output_function"] = None if function is None else ("encoder" if "encoder" in function else "causal LM")
        out["ci_level"] = finite(m.get("ci_level"))
        out["probe_loss_nats_per_token"] = finite(m.get("probe_loss_nats_per_token"))
        out["probe_loss_bits_per_byte"] = finite(m.get("probe_loss_bits_per_byte"))
        return out

    def _eval_values(self) -> dict[str, Any]:
        ev = self.evaluation or {}
        return {
            "mmlu_pro_task": ev.get("task") or (self.evaluation_settings or {}).get("task"),
            "mmlu_pro_acc": finite(ev.get("acc")),
            "mmlu_pro_acc_stderr": finite(ev.get("acc_stderr")),
            "mmlu_pro_n_questions": ev.get("n_questions") if isinstance(ev.get("n_questions"), int) else None,
            "eval_settings_hash": self.evaluation_settings_hash,
        }


def deltas(reference: dict[str, Any], other: dict[str, Any]) -> dict[str, float | None]:
    """``other`` against ``reference``: ``delta_<key>`` = other − reference for most quantities,
    ``ratio_<key>`` = other / reference for parameter counts; None when either value is missing."""
    out: dict[str, float | None] = {}
    for key in ABSOLUTE_DELTAS:
        a, b = finite(reference.get(key)), finite(other.get(key))
        out[f"delta_{key}"] = None if a is None or b is None else b - a
    for key in RATIO_DELTAS:
        a, b = finite(reference.get(key)), finite(other.get(key))
        out[f"ratio_{key}"] = None if a is None or b is None or a == 0 else b / a
    return out


@dataclass
class Comparison:
    """The result of :func:`compare_models`; the first model is the reference of every delta."""

    models: list[ModelEntry]
    interval: Interval
    settings_mismatch: dict[str, dict[str, Any]] = field(default_factory=dict)
    eval_settings_mismatch: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def reference(self) -> ModelEntry:
        return self.models[0]

    def all_notes(self) -> list[str]:
        """The comparison's notes, then every model's."""
        return list(self.notes) + [n for m in self.models for n in m.notes]

    def outside(self) -> list[ModelEntry]:
        """Models whose R_D/W lies outside the interval."""
        return [m for m in self.models if not m.inside_interval]

    def gate_message(self) -> str | None:
        """One line naming the models outside the interval (None when all are inside)."""
        outside = self.outside()
        if not outside:
            return None
        iv = self.interval
        names = ", ".join(f"{m.label} (R_D/W = {sig(m.shape['r_dw'])}, {signed(m.shape['interval_distance'])} "
                          "decades)" for m in outside)
        return (f"{len(outside)} of {len(self.models)} compared models lie outside the efficient interval "
                f"[{sig(iv.lo, 6)}, {sig(iv.hi, 6)}]: {names}")

    def rows(self) -> list[dict[str, Any]]:
        """One flat row per model: values, deltas against the first model, mismatch and interval fields."""
        ref = self.reference.values()
        common = {
            "reference": self.reference.label,
            "settings_mismatch": ";".join(self.settings_mismatch),
            "eval_settings_mismatch": ";".join(self.eval_settings_mismatch),
            "interval_lo": self.interval.lo,
            "interval_hi": self.interval.hi,
            "interval_source": self.interval.source,
        }
        return [{**(v := m.values()), **deltas(ref, v), **common} for m in self.models]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (one row per model)."""
        import pandas as pd

        return pd.DataFrame(self.rows())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready comparison: interval, delta conventions, mismatches, warnings, and per model its
        values, deltas, notes, audit settings and layer profile."""
        ref = self.reference.values()
        models = []
        for m in self.models:
            v = m.values()
            models.append({**v, "deltas": deltas(ref, v), "notes": m.notes, "weights": m.weights,
                           "audit_settings": m.audit_settings, "evaluation_settings": m.evaluation_settings,
                           "layers": (m.audit or {}).get("layers")})
        return {
            **record_header(),
            "interval": self.interval.to_dict(),
            "reference": self.reference.label,
            "delta_kinds": {**{f"delta_{k}": "absolute (model − reference)" for k in ABSOLUTE_DELTAS},
                            **{f"ratio_{k}": "ratio (model / reference)" for k in RATIO_DELTAS}},
            "settings_mismatch": sorted(self.settings_mismatch),
            "settings_mismatch_values": self.settings_mismatch,
            "eval_settings_mismatch": sorted(self.eval_settings_mismatch),
            "eval_settings_mismatch_values": self.eval_settings_mismatch,
            "outside_interval": [m.label for m in self.outside()],
            "warnings": self.warnings,
            "notes": self.notes,
            "models": models,
        }
