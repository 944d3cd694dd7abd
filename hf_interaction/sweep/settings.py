"""The settings of a fixed-budget shape sweep (DESIGN.md §8): what defines it, their validation, and
the hash of the ones that change a trained checkpoint (resuming is refused when it differs)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from ..errors import UsageError
from ..presets import PRESETS, SWEEP_AUDIT_PRESETS
from ..width_matching import MATCH_RULES

if TYPE_CHECKING:
    from ..audit_settings import AuditSettings

@dataclass(frozen=True)
class SweepSettings:
    """Everything that defines a sweep. ``train_key`` hashes what changes a trained checkpoint."""

    budget: int
    depths: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12)
    match: str = "non-embedding"
    max_mismatch: float = 0.2
    arch: str = "llama"
    head_dim: int = 16
    ffn_ratio: float = 4.0
    tokens_per_param: float = 20.0
    seeds: int = 1
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_frac: float = 0.05
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    batch_size: int = 16
    seq_len: int = 128
    corpus: str = "builtin"
    val_fraction: float = 0.05
    max_val_windows: int = 64
    data_seed: int = 0
    tolerance: float = 0.02
    audit_preset: str = "tiny"
    threads: int | None = None

    def validate(self) -> None:
        """Refuse impossible values with one line (exit 2)."""
        positive = {"budget": self.budget, "head-dim": self.head_dim, "ffn-ratio": self.ffn_ratio,
                    "tokens-per-param": self.tokens_per_param, "seeds": self.seeds, "lr": self.lr,
                    "batch-size": self.batch_size, "seq-len": self.seq_len, "max-val-windows": self.max_val_windows}
        for name, v in positive.items():
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise UsageError(f"--{name} must be positive, got {v!r}")
        if not self.depths:
            raise UsageError("--depths must list at least one depth, e.g. 1,2,4,8")
        if any(d < 1 for d in self.depths):
            raise UsageError(f"--depths must be positive integers, got {','.join(map(str, self.depths))}")
        if len(set(self.depths)) != len(self.depths):
            raise UsageError(f"--depths lists a depth twice: {','.join(map(str, self.depths))}")
        if self.match not in MATCH_RULES:
            raise UsageError(f"--match must be one of {', '.join(MATCH_RULES)}, got {self.match!r}")
        if not 0 < self.tolerance < 1:
            raise UsageError(f"--tolerance must be in (0, 1) (a fraction, 0.02 = 2%), got {self.tolerance}")
        if not 0 <= self.max_mismatch < 1:
            raise UsageError(f"--max-mismatch must be in [0, 1), got {self.max_mismatch}")
        if not 0 < self.val_fraction < 0.5:
            raise UsageError(f"--val-fraction must be in (0, 0.5), got {self.val_fraction}")
        if not 0 <= self.warmup_frac < 1:
            raise UsageError(f"--warmup-frac must be in [0, 1), got {self.warmup_frac}")
        if self.seq_len < 2:
            raise UsageError("--seq-len must be at least 2")
        if self.audit_preset not in SWEEP_AUDIT_PRESETS:
            raise UsageError(f"--audit-preset must be one of {', '.join(SWEEP_AUDIT_PRESETS)}, "
                             f"got {self.audit_preset!r}")

    def train_key(self) -> str:
        """Hash of the settings that change a trained checkpoint (not depths, tolerance or audit)."""
        keep = {k: v for k, v in asdict(self).items()
                if k not in ("depths", "tolerance", "audit_preset", "max_mismatch", "threads")}
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]

    def audit_settings(self) -> AuditSettings | None:
        """The ``AuditSettings`` of the audit preset (T capped at seq_len), or None for ``none``."""
        if self.audit_preset == "none":
            return None
        preset = PRESETS[self.audit_preset]
        from ..audit_settings import AuditSettings

        values = {**preset, "T": min(preset["T"], self.seq_len)}
        return AuditSettings(**values, probe=self.corpus)
