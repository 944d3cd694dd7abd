"""The settings of a fixed-budget shape sweep (docs/design.md §8): what defines it, their validation, and
the hash of the ones that change a trained checkpoint (resuming is refused when it differs)."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import MISSING, asdict, dataclass
from typing import TYPE_CHECKING, Any

from ..audit.presets import PRESETS, SWEEP_AUDIT_PRESETS
from ..core.setting import setting
from ..errors import UsageError
from ..shape.width_matching import MATCH_RULES

if TYPE_CHECKING:
    from ..audit.settings import AuditSettings

@dataclass(frozen=True)
class SweepSettings:
    """Everything that defines a sweep. ``train_key`` hashes what changes a trained checkpoint."""

    budget: int = setting(MISSING, "Parameter budget every shape is matched to.", type=int)
    depths: tuple[int, ...] = setting((1, 2, 3, 4, 6, 8, 12), "Comma-separated depths, e.g. 1,2,4,8.", type=str,
                                      metavar="L,L,...")
    match: str = setting("non-embedding", "Which parameter count is matched to the budget (total = as the paper's "
                                          "authors did).", choices=MATCH_RULES)
    max_mismatch: float = setting(0.2, "Refuse a depth whose closest width misses the budget by more than this "
                                       "fraction.")
    arch: str = setting("llama", "Decoder config class (transformers model_type).")
    head_dim: int = setting(16, "Fixed head dimension; widths are multiples of it (heads = width / head dim).")
    ffn_ratio: float = setting(4.0, "FFN width / width.")
    tokens_per_param: float = setting(20.0, "Training tokens (targets) = this × budget, the same for every shape.")
    seeds: int = setting(1, "Initialisation seeds per shape (0..K-1).")
    lr: float = setting(3e-3, "Peak AdamW learning rate.")
    min_lr_ratio: float = setting(0.1, "Floor of the cosine decay, as a fraction of the peak learning rate.")
    warmup_frac: float = setting(0.05, "Linear warm-up share of steps.")
    weight_decay: float = setting(0.1, "AdamW weight decay.")
    grad_clip: float = setting(1.0, "Gradient-norm clip.")
    batch_size: int = setting(16, "Sequences per step.")
    seq_len: int = setting(128, "Tokens per training sequence.")
    corpus: str = setting("builtin", "Training corpus: builtin (offline), wikitext (needs the dataset cached) or a "
                                     "PATH (.txt/.jsonl/.parquet); tokenized byte-level (vocabulary 256 + 3 "
                                     "specials). Its held-out end is also each checkpoint's probe corpus.")
    val_fraction: float = setting(0.05, "Share of the corpus (its end) held out for validation.")
    max_val_windows: int = setting(64, "Validation windows (at most).")
    data_seed: int = setting(0, "Seed of the training chunks' order (the same for every shape).")
    tolerance: float = setting(0.02, "Interval = shapes whose mean validation loss is within this fraction of "
                                     "the best.")
    audit_preset: str = setting("tiny", "Audit of each checkpoint. tiny: T=min(32, seq len), n=8, 4/8 probes; "
                                        "small: T=64, n=16, 8/16; micro: T=8, n=4, 2/4 (tests); none: skip.",
                                choices=SWEEP_AUDIT_PRESETS)
    threads: int | None = setting(None, "torch threads (default: torch's choice).", type=int)

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
        from ..audit.settings import AuditSettings

        values: dict[str, Any] = {**preset, "T": min(preset["T"], self.seq_len)}
        return AuditSettings(**values, probe=self.corpus)
