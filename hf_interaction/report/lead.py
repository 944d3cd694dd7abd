"""The lead setup's analyses (issue 20): base and instruct models separately and pooled, each
controlled for size, on the subset with published training tokens also for data size, and with a
family fixed effect; each with n and the smallest partial r it could detect.

The predictor is |interval_distance| (decades of R_D/W outside the efficient interval, 0 inside), the
score the setup's MMLU-Pro score; every statistic comes from :mod:`.covariates` (bootstrap interval,
Kennedy permutation p-value, leave-one-family-out, Fisher-z detectable r).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import covariates
from .covariates import CovEstimate
from .stats import DEFAULT_N_BOOT, DEFAULT_N_PERM, DEFAULT_SEED, MIN_FAMILY_DF, MIN_MODELS

PREDICTOR = "abs_interval_distance"
KINDS = ("base", "instruct")
#: Seeds of the lead analyses are [seed, SEED_OFFSET + analysis number]: apart from the per-setup ones.
SEED_OFFSET = 100


@dataclass(frozen=True)
class Spec:
    """One analysis: which models, which covariates, whether a family term."""

    key: str
    models: str  # "all" | "base" | "instruct"
    tokens: bool  # only models with published training tokens, log10 tokens as a covariate
    family: bool  # family fixed effect
    token_control: bool = True  # with ``tokens``: False keeps the subset but not the covariate

    @property
    def label(self) -> str:
        who = {"all": "pooled (base + instruct)", "base": "base models", "instruct": "instruct models"}[self.models]
        subset = ", training tokens published" + ("" if self.token_control else ", tokens not controlled")
        return who + (subset if self.tokens else "") + (", family fixed effect" if self.family else "")

    @property
    def controls(self) -> str:
        parts = ["log10 params"] + (["instruct indicator"] if self.models == "all" else [])
        parts += (["log10 training tokens"] if self.tokens and self.token_control else [])
        parts += ["family"] if self.family else []
        return " + ".join(parts)


SPECS = (
    Spec("pooled", "all", False, False),
    Spec("base", "base", False, False),
    Spec("instruct", "instruct", False, False),
    Spec("pooled_family", "all", False, True),
    Spec("pooled_tokens", "all", True, False),
    Spec("pooled_tokens_subset", "all", True, False, token_control=False),
    Spec("base_tokens", "base", True, False),
    Spec("instruct_tokens", "instruct", True, False),
)


@dataclass(frozen=True)
class LeadResult:
    """One analysis: its models and, when computable, its estimate (else ``reason`` says why not)."""

    spec: Spec
    n: int
    n_base: int
    n_instruct: int
    n_families: int
    estimate: CovEstimate | None
    reason: str


@dataclass(frozen=True)
class LeadAnalysis:
    """All analyses of the lead setup, the headline first."""

    setting: str
    n: int
    n_base: int
    n_instruct: int
    n_tokens: int
    results: tuple[LeadResult, ...]
    notes: tuple[str, ...]
    family_sizes: tuple[tuple[str, int], ...] = ()  # models per family, sorted by family

    @property
    def headline(self) -> LeadResult:
        return self.results[0]


def lead_rows(table: pd.DataFrame, setting: str) -> tuple[pd.DataFrame, list[str]]:
    """The setup's scored rows usable here (base or instruct, predictor finite), and notes on the rest."""
    sub = table[(table["mmlu_pro_setting"] == setting) & table["in_fit"].astype(bool)]
    kind = sub["base_or_instruct"].str.strip().str.lower()
    ok = kind.isin(KINDS) & np.isfinite(sub[PREDICTOR].astype(float))
    notes = [f"{m}: base_or_instruct {k!r} is neither base nor instruct; left out of the lead analyses"
             for m, k in zip(sub.loc[~ok, "model_id"], sub.loc[~ok, "base_or_instruct"], strict=True)]
    out = sub[ok].copy()
    out["instruct"] = (kind[ok] == "instruct").astype(float)
    return out, notes


def _family_reason(sub: pd.DataFrame, n_covariates: int) -> str:
    """Why a family term cannot be fitted on these models, or '' when it can."""
    counts = Counter(sub["family"])
    if len(counts) < 2 or not any(c >= 2 for c in counts.values()):
        return "needs two families and a family with two models"
    df = len(sub) - (2 + n_covariates + len(counts) - 1)
    return "" if df >= MIN_FAMILY_DF else f"{len(counts)} families among {len(sub)} models leave {df} residual df"


def _select(rows: pd.DataFrame, spec: Spec) -> pd.DataFrame:
    sub = rows if spec.models == "all" else rows[rows["instruct"] == float(spec.models == "instruct")]
    if spec.tokens:
        tokens = sub["training_tokens"].astype(float) if "training_tokens" in sub else pd.Series(np.nan, sub.index)
        sub = sub[np.isfinite(tokens) & (tokens > 0)]
    return sub


def covariate_matrix(sub: pd.DataFrame, spec: Spec) -> np.ndarray:
    """The covariate columns of an analysis (models × k): log10 params, instruct, log10 tokens."""
    cols = [sub["log10_params"].to_numpy(float)]
    if spec.models == "all":
        cols.append(sub["instruct"].to_numpy(float))
    if spec.tokens and spec.token_control:
        cols.append(np.log10(sub["training_tokens"].to_numpy(float)))
    return np.column_stack(cols)


def run_spec(rows: pd.DataFrame, spec: Spec, *, n_boot: int, n_perm: int, seed: list[int]) -> LeadResult:
    """One analysis on the lead setup's rows."""
    sub = _select(rows, spec)
    n, n_inst = len(sub), int(sub["instruct"].sum())
    counts = (n, n - n_inst, n_inst, int(sub["family"].nunique()))
    cov = covariate_matrix(sub, spec)
    reason = ""
    if n == 0:
        reason = "no model has a published training-token count" if spec.tokens else "no models"
    elif n < max(MIN_MODELS, cov.shape[1] + 4):
        reason = f"{n} model(s), too few for {cov.shape[1]} covariate(s)"
    elif spec.family:
        reason = _family_reason(sub, cov.shape[1])
    if reason:
        return LeadResult(spec, *counts, None, reason)
    est = covariates.estimate(
        sub[PREDICTOR].to_numpy(float), sub["mmlu_pro_score"].to_numpy(float), cov,
        list(sub["family"]) if spec.family else None, groups=None if spec.family else list(sub["family"]),
        n_boot=n_boot, n_perm=n_perm, seed=seed)
    return LeadResult(spec, *counts, est, "")


def analyse_lead(table: pd.DataFrame, setting: str, *, n_boot: int = DEFAULT_N_BOOT,
                 n_perm: int = DEFAULT_N_PERM, seed: int = DEFAULT_SEED) -> LeadAnalysis | None:
    """Every analysis of SPECS on the lead setup; None when the setup has too few usable models."""
    rows, notes = lead_rows(table, setting)
    if len(rows) < MIN_MODELS:
        return None
    results = tuple(run_spec(rows, spec, n_boot=n_boot, n_perm=n_perm, seed=[seed, SEED_OFFSET + number])
                    for number, spec in enumerate(SPECS))
    n_inst = int(rows["instruct"].sum())
    n_tokens = len(_select(rows, Spec("", "all", True, False)))
    sizes = tuple(sorted(Counter(rows["family"]).items()))
    return LeadAnalysis(setting, len(rows), len(rows) - n_inst, n_inst, n_tokens, results, tuple(notes), sizes)


def pooled_residuals(rows: pd.DataFrame) -> np.ndarray:
    """Score residual after log10 params and the instruct indicator (what the lead figure plots)."""
    resid = covariates.residual_of(rows["mmlu_pro_score"].to_numpy(float), covariate_matrix(rows, SPECS[0]))
    return np.round(resid, 9)


def significant(est: CovEstimate | None) -> bool:
    """Permutation p below 5% and a bootstrap interval excluding zero (as for the per-setup verdicts)."""
    return bool(est is not None and math.isfinite(est.p_value) and est.p_value < 0.05 and est.ci_excludes_zero)
