"""The lead setup's analyses (report/covariates.py, lead.py, lead_render.py, lead_figure.py) on
synthetic tables where the answer is known, the detectable-r formula against a direct computation,
and the figure's bytes."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from hf_interaction.core.numbers import fixed
from hf_interaction.report import covariates as C
from hf_interaction.report import stats as S
from hf_interaction.report.lead import SPECS, analyse_lead, lead_rows, pooled_residuals, significant
from hf_interaction.report.lead_render import lead_blocks, lead_stats_csv, opening_sentence, robustness_sentence
from hf_interaction.shape.interval import DEFAULT_INTERVAL

SETTING = "Leaderboard-like setup (synthetic)"


def _planted(seed: int, n: int, rho: float, share_instruct: float = 0.4):
    """Distance and score whose partial correlation given log10 params and instruct is rho.

    Both depend on size (distance strongly, as in the real lists) and the score on instruct; their
    remaining parts are standard normal with correlation rho, so the population partial r is rho.
    """
    rng = np.random.default_rng(seed)
    logp = rng.uniform(8.0, 10.0, n)
    instruct = (rng.random(n) < share_instruct).astype(float)
    e1 = rng.normal(size=n)
    e2 = rho * e1 + math.sqrt(1 - rho * rho) * rng.normal(size=n)
    distance = 0.3 * (logp - 8.0) + 0.1 * e1
    score = 8.0 * logp + 4.0 * instruct + 2.0 * e2
    return distance, score, logp, instruct


def _table(seed: int, n: int, rho: float, n_families: int = 8) -> pd.DataFrame:
    """A data table like build_table's for one setup (the columns the lead analyses read)."""
    distance, score, logp, instruct = _planted(seed, n, rho)
    rng = np.random.default_rng(seed + 1)
    tokens = np.where(rng.random(n) < 0.6, 10 ** rng.uniform(11.5, 13.2, n), np.nan)
    return pd.DataFrame({
        "model_id": [f"m{i:03d}" for i in range(n)], "family": [f"fam{i % n_families}" for i in range(n)],
        "base_or_instruct": np.where(instruct > 0, "instruct", "base"), "mmlu_pro_setting": SETTING,
        "mmlu_pro_score": score, "interval_distance": -distance, "abs_interval_distance": distance,
        "inside_interval": distance == 0, "log10_params": logp, "training_tokens": tokens, "in_fit": True,
    })


# ------------------------------------------------------------------ the residualiser

def test_one_covariate_equals_the_existing_partial_correlation_and_family_regression():
    x, y, logp, _ = _planted(1, 40, -0.4)
    fams = [f"f{i % 4}" for i in range(40)]
    r, k = C.point_estimate(x, y, logp[:, None])
    assert r == pytest.approx(S.partial_corr(x, y, logp), abs=1e-12) and k == 1
    est = C.estimate(x, y, logp[:, None], fams, n_boot=100, n_perm=100)
    assert est.coef == pytest.approx(S.statistic("ols_coef_family", x, y, logp, fams), abs=1e-10)
    assert est.k == 1 + 3  # log10 params and three family indicators beyond the first


def test_two_covariates_match_the_precision_matrix_and_the_full_regression():
    x, y, logp, inst = _planted(2, 50, 0.3)
    precision = np.linalg.inv(np.corrcoef(np.vstack([x, y, logp, inst])))
    expected = -precision[0, 1] / math.sqrt(precision[0, 0] * precision[1, 1])
    assert C.point_estimate(x, y, np.column_stack([logp, inst]))[0] == pytest.approx(expected, abs=1e-12)
    design = np.column_stack([np.ones(50), logp, inst, x])
    coef = np.linalg.lstsq(design, y, rcond=None)[0][-1]
    est = C.estimate(x, y, np.column_stack([logp, inst]), n_boot=100, n_perm=100)
    assert est.coef == pytest.approx(coef, abs=1e-9)


def test_a_constant_covariate_is_dropped_exactly_not_fitted():
    x, y, logp, _ = _planted(3, 30, 0.2)
    r1, k1 = C.point_estimate(x, y, logp[:, None])
    r2, k2 = C.point_estimate(x, y, np.column_stack([logp, np.ones(30)]))
    assert (r2, k2) == (pytest.approx(r1, abs=1e-12), k1)


# ------------------------------------------------------------------ known answers

@pytest.mark.parametrize("rho", [0.45, 0.0])
def test_planted_partial_correlation_is_recovered_within_its_interval(rho):
    x, y, logp, inst = _planted(4, 300, rho)
    est = C.estimate(x, y, np.column_stack([logp, inst]), n_boot=600, n_perm=600, seed=[0, 1])
    assert est.ci_low < rho < est.ci_high
    assert abs(est.value - rho) < 0.12
    assert est.ci_excludes_zero == (rho != 0.0)
    assert (est.p_value < 0.01) == (rho != 0.0)


def test_detectable_r_formula():
    z = sps.norm.ppf(0.975) + sps.norm.ppf(0.8)  # 2.8016
    assert C.detectable_r(63, 2) == pytest.approx(math.tanh(z / math.sqrt(58)), abs=1e-12)
    assert C.detectable_r(63, 2) == pytest.approx(0.3521, abs=5e-4)  # tanh(2.8016 / 7.6158)
    assert C.detectable_r(11, 1) == pytest.approx(0.7853, abs=5e-4)  # tanh(2.8016 / 2.6458)
    assert math.isnan(C.detectable_r(4, 1))
    assert C.detectable_r(200, 1) < C.detectable_r(60, 1) < C.detectable_r(60, 10)


def test_detectable_r_has_80_percent_power_in_a_direct_simulation():
    """Simulate many samples with population partial r = detectable_r(n, k); the Fisher-z test at
    alpha 0.05 rejects in about 80% of them."""
    n, k, sims = 60, 2, 4000
    rho = C.detectable_r(n, k)
    rng = np.random.default_rng(5)
    covs = rng.normal(size=(sims, n, k))
    e1 = rng.normal(size=(sims, n))
    e2 = rho * e1 + math.sqrt(1 - rho * rho) * rng.normal(size=(sims, n))
    x, y = covs.sum(axis=-1) + e1, 2.0 * covs[..., 0] - covs[..., 1] + e2
    rx, ry, rank = C.project(x, y, covs, None)
    r = (rx * ry).sum(-1) / np.sqrt((rx * rx).sum(-1) * (ry * ry).sum(-1))
    assert (rank == k + 1).all()
    power = float((np.abs(np.arctanh(r)) * math.sqrt(n - k - 3) > sps.norm.ppf(0.975)).mean())
    assert power == pytest.approx(0.80, abs=0.03)


# ------------------------------------------------------------------ the lead analyses

def test_lead_analyses_base_instruct_pooled_tokens_and_family():
    table = _table(6, 120, 0.45)
    table.loc[0, "base_or_instruct"] = "chat"  # neither: left out with a note
    lead = analyse_lead(table, SETTING, n_boot=300, n_perm=300)
    assert lead.n == 119 and lead.n_base + lead.n_instruct == 119
    assert lead.notes and "m000" in lead.notes[0]
    by_key = {r.spec.key: r for r in lead.results}
    assert [r.spec.key for r in lead.results] == [s.key for s in SPECS] and lead.headline.spec.key == "pooled"
    assert by_key["base"].n == lead.n_base and by_key["instruct"].n == lead.n_instruct
    assert by_key["pooled"].estimate.k == 2 and by_key["base"].estimate.k == 1
    assert by_key["pooled_tokens"].n == lead.n_tokens < lead.n and by_key["pooled_tokens"].estimate.k == 3
    assert by_key["pooled_tokens_subset"].n == lead.n_tokens and by_key["pooled_tokens_subset"].estimate.k == 2
    assert by_key["pooled_family"].estimate.k == 2 + 7 and by_key["pooled_family"].estimate.lofo is None
    assert set(by_key["pooled"].estimate.lofo.values) == {f"fam{i}" for i in range(8)}
    for res in lead.results:
        est = res.estimate
        assert est.ci_low < 0.45 < est.ci_high, res.spec.key
        assert est.detectable == pytest.approx(C.detectable_r(res.n, est.k))
    assert by_key["pooled"].estimate.ci_excludes_zero


def test_too_few_models_in_a_subset_says_why():
    table = _table(7, 30, 0.0)
    table["training_tokens"] = np.nan
    table.loc[:3, "training_tokens"] = 1e12
    lead = analyse_lead(table, SETTING, n_boot=100, n_perm=100)
    res = {r.spec.key: r for r in lead.results}["pooled_tokens"]
    assert res.estimate is None and "too few" in res.reason
    assert "not computed" in lead_stats_csv(lead, 100, 0) or res.reason in lead_stats_csv(lead, 100, 0)


def test_opening_sentence_states_answer_interval_n_and_detectable_effect():
    lead = analyse_lead(_table(8, 90, 0.0), SETTING, n_boot=300, n_perm=300)
    est = lead.headline.estimate
    text = opening_sentence(lead)
    assert text.count(". ") == 0 and text.endswith(".")  # one sentence
    assert "no detectable association" in text and SETTING in text
    assert f"partial r = {fixed(est.value, 2)}" in text
    assert f"95% CI [{fixed(est.ci_low, 2)}, {fixed(est.ci_high, 2)}]" in text
    assert f"n = {lead.n} models" in text and f"|r| = {fixed(est.detectable, 2)}" in text
    planted = analyse_lead(_table(8, 200, -0.5), SETTING, n_boot=300, n_perm=300)
    assert "closer to the efficient R_D/W interval score higher" in opening_sentence(planted)
    blocks = lead_blocks(_table(8, 90, 0.0), lead, None, "")
    assert any("atanh(r)·√(n − k − 3)" in getattr(b, "text", "") for b in blocks)


def test_an_association_between_families_only_vanishes_with_the_family_fixed_effect():
    """Families far from the interval score lower as a whole; within a family distance does nothing."""
    rng = np.random.default_rng(99)  # not _table's seed: its draws would repeat log10 params
    table = _table(12, 96, 0.0, n_families=12)
    offset = {f"fam{i}": 0.3 * i / 11 for i in range(12)}
    fam_offset = table["family"].map(offset).to_numpy(float)
    table["abs_interval_distance"] = fam_offset + rng.uniform(0, 0.2, 96)
    table["interval_distance"] = -table["abs_interval_distance"]
    table["mmlu_pro_score"] = 8.0 * table["log10_params"] - 30.0 * fam_offset + rng.normal(0, 1.0, 96)
    lead = analyse_lead(table, SETTING, n_boot=300, n_perm=300)
    by_key = {r.spec.key: r for r in lead.results}
    assert significant(by_key["pooled"].estimate) and by_key["pooled"].estimate.value < -0.5
    fam = by_key["pooled_family"].estimate
    assert not significant(fam) and fam.ci_low < 0 < fam.ci_high
    assert "differences between families" in robustness_sentence(lead)


def test_pooled_residuals_remove_size_and_instruct():
    table = _table(9, 80, 0.3)
    rows, _ = lead_rows(table, SETTING)
    resid = pooled_residuals(rows)
    for col in (rows["log10_params"], rows["instruct"]):
        assert abs(float(np.dot(resid, col - col.mean()))) < 1e-6
    assert abs(float(resid.sum())) < 1e-6


# ------------------------------------------------------------------ the figure

def test_lead_figure_bytes_are_stable_across_renders_and_follow_the_data():
    from hf_interaction.report.figures import LEAD_FIGURE, make_figures

    table = _table(10, 60, 0.2)
    table["r_dw"] = 0.02
    lead = analyse_lead(table, SETTING, n_boot=100, n_perm=100)
    first = make_figures(table, [], DEFAULT_INTERVAL, lead)
    second = make_figures(table, [], DEFAULT_INTERVAL, lead)
    assert list(first)[0] == LEAD_FIGURE
    assert first[LEAD_FIGURE] == second[LEAD_FIGURE]
    png, svg = first[LEAD_FIGURE]
    assert png.startswith(b"\x89PNG") and b"<svg" in svg and b"Date" not in svg
    moved = table.assign(mmlu_pro_score=table["mmlu_pro_score"] + np.linspace(0, 3, 60))
    assert make_figures(moved, [], DEFAULT_INTERVAL, lead)[LEAD_FIGURE][0] != png


# ------------------------------------------------------------------ the report, end to end

LIST_COLUMNS = ("model_id,family,model_type,base_or_instruct,num_hidden_layers,hidden_size,intermediate_size,"
                "num_attention_heads,num_key_value_heads,head_dim,vocab_size,tie_word_embeddings,total_params,"
                "mmlu_pro_score,mmlu_pro_setting,mmlu_pro_source,config_source,training_tokens")


def _write_lead_list(path, n: int = 24) -> None:
    """A made-up list in the leaderboard list's layout: llama-shaped models of one setup."""
    rng = np.random.default_rng(11)
    shapes = ((12, 768), (16, 1024), (24, 896), (22, 2048), (28, 1536), (24, 2048), (32, 2560), (26, 2304))
    lines = [LIST_COLUMNS]
    for i in range(n):
        depth, width = shapes[i % len(shapes)]
        kind = "instruct" if i % 3 == 1 else "base"
        score = 5 * math.log10(depth * width * width) + 3 * (kind == "instruct") + rng.normal(0, 2)
        tokens = str(int(10 ** rng.uniform(11.5, 13))) if i % 2 else ""
        lines.append(f"test/m{i},fam{i % 5},llama,{kind},{depth},{width},{4 * width},{width // 64},{width // 64},"
                     f"64,32000,false,,{score:.2f},\"{SETTING}\",made up,made up,{tokens}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow  # over 5 s: CI runs it, the fast path (-m "not slow") does not
def test_report_leads_with_the_first_lists_setup(tmp_path, monkeypatch):
    from hf_interaction.cli import main
    from hf_interaction.report import REPORT_STEM
    from hf_interaction.report.lead_figure import LEAD_FIGURE
    from hf_interaction.report.lead_render import LEAD_STATS_FILE

    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)
    _write_lead_list(tmp_path / "lead.csv")
    args = ["report", "--list", "lead.csv", "--list", str(repo / "model_lists" / "small_llms.csv"),
            "--out", "out", "--no-store", "--n-boot", "100", "--n-perm", "100"]
    main(args)
    first = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    main(args)
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == first
    assert {LEAD_STATS_FILE, f"{LEAD_FIGURE}.png", f"{LEAD_FIGURE}.svg"} <= set(first)
    md = first[f"{REPORT_STEM}.md"].decode()
    summary = md.split("## Summary\n\n", 1)[1]
    assert summary.startswith(f"**In the lead setup ({SETTING})") and "detectable" in summary.split("\n")[0]
    assert md.index("## Lead setup: ") < md.index("## Provenance") < md.index("## Setup: ")
    assert md.split("## Setup: ", 1)[1].startswith(SETTING)
    assert "--list lead.csv --list" in md
    lead_stats = pd.read_csv(io.StringIO(first[LEAD_STATS_FILE].decode()))
    assert list(lead_stats["analysis"]) == [s.key for s in SPECS] and (lead_stats["n"] <= 24).all()
    main(["report", "--list", str(repo / "model_lists" / "small_llms.csv"), "--out", "out", "--no-store",
          "--n-boot", "100", "--n-perm", "100"])
    left = {p.name for p in (tmp_path / "out").iterdir()}
    assert not {LEAD_STATS_FILE, f"{LEAD_FIGURE}.png"} & left  # a list without one setup: no lead, stale files gone
