"""`hf-interaction report`: byte-identical regeneration, every model present, setups never mixed,
store results added, bad lists refused with one line and exit code 3."""

from __future__ import annotations

import csv
import io
import re
import shlex
import shutil
from pathlib import Path

import pandas as pd
import pytest

from hf_interaction.cli import main
from hf_interaction.core.store import Store
from hf_interaction.report import (
    DATA_FILE,
    EVAL_SETTING_PREFIX,
    REPORT_STEM,
    STATS_FILE,
    analyse_table,
    build_table,
    generate_report,
    render,
)
from hf_interaction.report.lead_figure import LEAD_FIGURE
from hf_interaction.report.lead_render import LEAD_STATS_FILE
from hf_interaction.shape.interval import DEFAULT_INTERVAL

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "model_lists" / "small_llms.csv"
REFERENCE = REPO.parent / "shared" / "reference" / "small_llm_reference.csv"
COMMITTED = REPO / "reports"
EXPECTED = {f"{REPORT_STEM}.md", f"{REPORT_STEM}.html", DATA_FILE, STATS_FILE,
            "mmlu_pro_rdw_vs_score.png", "mmlu_pro_rdw_vs_score.svg",
            "mmlu_pro_residual_vs_distance.png", "mmlu_pro_residual_vs_distance.svg"}
FAST = ["--n-boot", "400", "--n-perm", "400"]
#: Written when the first list has a single scoring setup (the lead setup, report/lead.py).
LEAD_FILES = {LEAD_STATS_FILE, f"{LEAD_FIGURE}.png", f"{LEAD_FIGURE}.svg"}


@pytest.fixture(scope="module")
def model_list(tmp_path_factory) -> Path:
    """The bundled list (or, before it exists, a copy of the reference table it is made from)."""
    if BUNDLED.is_file():
        return BUNDLED
    if not REFERENCE.is_file():
        pytest.skip("no bundled model list and no reference table")
    copy = tmp_path_factory.mktemp("list") / "small_llms.csv"
    shutil.copy(REFERENCE, copy)
    return copy


def _run(args: list[str], capsys) -> tuple[int, str, str]:
    """``hf-interaction ARGS`` in-process through the real entry point (one-line errors, exit codes)."""
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _read_all(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def report_runs(model_list, tmp_path_factory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """The report generated twice into the same directory through the CLI entry point."""
    out = tmp_path_factory.mktemp("report") / "reports"
    args = ["report", "--list", str(model_list), "--out", str(out), "--no-store", *FAST]
    main(args)
    first = _read_all(out)
    main(args)
    return out, first, _read_all(out)


@pytest.fixture(scope="module")
def report_dir(report_runs) -> Path:
    return report_runs[0]


def _list_rows(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_regeneration_is_byte_identical(report_runs):
    _, first, second = report_runs
    assert set(first) == EXPECTED
    assert second.keys() == first.keys()
    for name in first:
        assert second[name] == first[name], f"{name} differs between two regenerations"
    html = first[f"{REPORT_STEM}.html"].decode()
    assert "data:image/png;base64," in html and "<script" not in html and 'src="http' not in html
    assert "--n-boot 400 --n-perm 400" in first[f"{REPORT_STEM}.md"].decode()  # the regenerate command


def _software_line(md: str) -> str:
    return re.search(r"^- \*\*software:\*\* .*$", md, re.M).group(0)


@pytest.mark.slow  # over 5 s: CI runs it, the fast path (-m "not slow") does not
def test_committed_report_regenerates_byte_identically(tmp_path, monkeypatch):
    """The committed reports/ is what its own regenerate line writes from the committed model list.

    Every file is compared byte for byte when the installed numpy, scipy, pandas, matplotlib (with
    its bundled freetype), seaborn and pillow are the versions the report names; with other versions
    (the report's software line differs) the CSVs and the Markdown apart from that line must still
    match, and the figures and the HTML (which embeds the PNGs) are not compared: their bytes depend
    on the plotting stack.
    """
    committed_md = (COMMITTED / f"{REPORT_STEM}.md").read_text(encoding="utf-8")
    args = shlex.split(re.search(r"\*\*regenerate:\*\* `([^`]+)`", committed_md).group(1))
    assert args[:2] == ["hf-interaction", "report"] and "--no-store" in args  # committed files only
    out = args[args.index("--out") + 1]
    for list_path in (a for flag, a in zip(args, args[1:], strict=False) if flag == "--list"):
        (tmp_path / list_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / list_path, tmp_path / list_path)
    monkeypatch.chdir(tmp_path)
    main(args[1:])
    regenerated = _read_all(tmp_path / out)
    expected = EXPECTED | (LEAD_FILES if "\n## Lead setup: " in committed_md else set())
    assert set(regenerated) == expected
    committed = {name: (COMMITTED / name).read_bytes() for name in expected}
    for name in (DATA_FILE, STATS_FILE, *({LEAD_STATS_FILE} & expected)):
        assert regenerated[name] == committed[name], f"{name} differs from the committed reports/{name}"
    new_md = regenerated[f"{REPORT_STEM}.md"].decode()
    same_versions = _software_line(new_md) == _software_line(committed_md)
    assert new_md.replace(_software_line(new_md), _software_line(committed_md)) == committed_md
    if not same_versions:
        pytest.skip(f"figures and HTML not compared: installed versions differ from the report's "
                    f"({_software_line(committed_md)})")
    for name in sorted(expected):
        assert regenerated[name] == committed[name], f"{name} differs from the committed reports/{name}"


def test_every_listed_model_is_in_the_data_table(model_list, report_dir):
    listed = _list_rows(model_list)
    table = pd.read_csv(report_dir / DATA_FILE, dtype=str, keep_default_na=False)
    assert set(table["model_id"]) == {r["model_id"] for r in listed}
    unscored = {r["model_id"] for r in listed if not r["mmlu_pro_score"].strip()}
    assert unscored, "the bundled list has models without a score"
    rows = table[table["model_id"].isin(unscored)]
    assert (rows["mmlu_pro_score"] == "").all() and (rows["in_fit"] == "False").all()
    assert (rows["excluded_reason"] == "no MMLU-Pro score").all()
    md = (report_dir / f"{REPORT_STEM}.md").read_text()
    for model in unscored:
        assert f"`{model}`" in md


def test_no_section_mixes_settings(model_list, report_dir):
    table = pd.read_csv(report_dir / DATA_FILE, dtype=str, keep_default_na=False)
    setting_of = {}
    for row in table.itertuples():
        setting_of.setdefault(row.model_id, set()).add(row.mmlu_pro_setting)
    listed = {r["mmlu_pro_setting"] for r in _list_rows(model_list) if r["mmlu_pro_score"].strip()}
    md = (report_dir / f"{REPORT_STEM}.md").read_text()
    sections = md.split("\n## Setup: ")[1:]
    titles = [s.split("\n", 1)[0] for s in sections]
    assert sorted(titles) == sorted(listed)  # one section per exact setting string, none merged
    for title, text in zip(titles, sections, strict=True):
        body = text.split("\n## ", 1)[0]
        models_table = body.split("| model | family |", 1)[1].split("\n\n", 1)[0]
        models = [line.split(" | ")[0][2:] for line in models_table.splitlines()[2:]]
        assert models, title
        for model in models:
            assert title in setting_of[model], (model, title)
        n_rows = int(((table["mmlu_pro_setting"] == title)).sum())
        assert f"n = {n_rows}" in body
    stats_frame = pd.read_csv(report_dir / STATS_FILE)
    for (setting, _predictor), group in stats_frame.groupby(["mmlu_pro_setting", "predictor"]):
        in_fit = table[(table["mmlu_pro_setting"] == setting) & (table["in_fit"] == "True")]
        assert (group["n"] == len(in_fit)).all(), setting


def test_row_order_of_the_list_does_not_matter(model_list, tmp_path):
    rows = _list_rows(model_list)
    shuffled = tmp_path / "shuffled.csv"
    with shuffled.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(reversed(rows))
    a, b = build_table(model_list), build_table(shuffled)
    assert render.table_csv(a) == render.table_csv(b)
    assert render.stats_csv(analyse_table(a, n_boot=200, n_perm=200)) == render.stats_csv(
        analyse_table(b, n_boot=200, n_perm=200))


def test_store_scores_and_audits_are_added_as_their_own_setting(model_list, tmp_path):
    rows = [r for r in _list_rows(model_list) if r["mmlu_pro_score"].strip()][:6]
    store = Store(tmp_path / "store.sqlite")
    for i, row in enumerate(rows):
        # payload shapes as hf_interaction.evaluate / hf_interaction.audit.run write them
        store.put("evaluations", row["model_id"], "abc123", {"task": "leaderboard_mmlu_pro", "num_fewshot": 5},
                  {"task": "leaderboard_mmlu_pro", "metric": "acc", "acc": 0.1 + 0.02 * i, "acc_stderr": 0.003})
        store.put("audits", row["model_id"], "abc123", {"preset": "cpu"},
                  {"metrics": {"aofe": 1.0 + i, "aofe_ratio": 0.5 + 0.01 * i}, "layers": []})
    store.put("evaluations", "someone/not-in-the-list", "x", {"task": "leaderboard_mmlu_pro"}, {"acc": 0.3})
    table = build_table(model_list, DEFAULT_INTERVAL, store)
    label = f"{EVAL_SETTING_PREFIX}leaderboard_mmlu_pro, 5-shot (acc ×100)"
    evals = table[table["mmlu_pro_setting"] == label]
    assert len(evals) == 6
    assert sorted(evals["mmlu_pro_score"].round(6)) == [10.0, 12.0, 14.0, 16.0, 18.0, 20.0]
    assert "someone/not-in-the-list" not in set(table["model_id"])
    assert table.loc[table["model_id"] == rows[0]["model_id"], "aofe"].eq(1.0).all()
    assert table["aofe"].notna().groupby(table["model_id"]).any().sum() == 6
    assert any("not in the list" in note for note in table.attrs["notes"])

    out = tmp_path / "out"
    result = generate_report(model_list, out, DEFAULT_INTERVAL, store, store_path=str(store.path),
                             n_boot=200, n_perm=200)
    names = {p.name for p in result.files}
    assert {"aofe_vs_aofe_ratio.png", "aofe_vs_aofe_ratio.svg"} <= names
    eval_analysis = next(a for a in result.analyses if a.setting == label)
    assert eval_analysis.n == 6 and {"aofe", "aofe_ratio"} <= set(eval_analysis.predictors)
    md = (out / f"{REPORT_STEM}.md").read_text()
    assert f"## Setup: {label}" in md and "--store" in md


@pytest.mark.parametrize("case", ["missing", "no_setting_column", "bad_score", "score_without_setting",
                                  "not_csv", "bad_depth"])
def test_bad_list_is_one_line_exit_3_and_nothing_written(case, model_list, tmp_path, capsys):
    out = tmp_path / "out"
    bad = tmp_path / "bad.csv"
    text = model_list.read_text(encoding="utf-8")
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    if case == "no_setting_column":
        frame.drop(columns=["mmlu_pro_setting"]).to_csv(bad, index=False)
    elif case == "bad_score":
        frame.loc[0, "mmlu_pro_score"] = "about forty"
        frame.to_csv(bad, index=False)
    elif case == "score_without_setting":
        frame.loc[0, "mmlu_pro_setting"] = ""
        frame.to_csv(bad, index=False)
    elif case == "not_csv":
        bad.write_bytes(b"\xff\xfe\x00garbage\x00\xff")
    elif case == "bad_depth":
        frame.loc[0, "num_hidden_layers"] = "-3"
        frame.to_csv(bad, index=False)
    code, _, err = _run(["report", "--list", str(bad), "--out", str(out), "--no-store"], capsys)
    assert code == 3, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert not out.exists()


def test_missing_list_through_the_installed_entry_point(tmp_path, run_cli):
    out = tmp_path / "out"
    proc = run_cli("report", "--list", str(tmp_path / "nope.csv"), "--out", str(out))
    assert proc.returncode == 3
    assert proc.stderr.strip().count("\n") == 0 and "model list not found" in proc.stderr
    assert not out.exists()


def test_cli_defaults_match_stats_defaults():
    from hf_interaction.commands import report as report_cmd
    from hf_interaction.report import stats

    defaults = {p.name: p.default for p in report_cmd.command.params}
    assert (defaults["n_boot"], defaults["n_perm"], defaults["seed"]) == (
        stats.DEFAULT_N_BOOT, stats.DEFAULT_N_PERM, stats.DEFAULT_SEED)


def _audit_record(vocab_size: int, output_function: str | None = None, **overrides) -> tuple[dict, dict]:
    """Settings and payload of a stored audit as ``hf-interaction audit --preset paper`` writes them for a
    model of this vocabulary: ``groups_per_half`` is resolved from the vocabulary size."""
    from hf_interaction.audit.output_function import CAUSAL_LM, OUTPUT_FUNCTION_DOC
    from hf_interaction.audit.run import AuditSettings

    settings = AuditSettings.from_preset("paper", **overrides).resolve_groups(vocab_size).cache_key("c0ffee" * 10)
    return settings, {"metrics": {"output_function": output_function or OUTPUT_FUNCTION_DOC[CAUSAL_LM]}}


def _scored_rows(model_list, ids: list[str]) -> dict[str, dict]:
    rows = {r["model_id"]: r for r in _list_rows(model_list) if r["mmlu_pro_score"].strip()}
    missing = [m for m in ids if m not in rows]
    if missing:
        pytest.skip(f"the model list has no scored rows for {missing}")
    return {m: rows[m] for m in ids}


def test_audits_differing_only_in_groups_per_half_both_enter_the_table(model_list, tmp_path):
    qwen, smol = "Qwen/Qwen2.5-0.5B", "HuggingFaceTB/SmolLM2-1.7B"
    rows = _scored_rows(model_list, [qwen, smol])
    store = Store(tmp_path / "store.sqlite")
    stored = {}
    for i, model in enumerate((qwen, smol)):
        # Hutchinson: the default pairs estimator uses single probes, so only it resolves groups_per_half.
        settings, payload = _audit_record(int(rows[model]["vocab_size"]), f_estimator="hutchinson")
        payload["metrics"].update({"aofe": 2.0 + i, "aofe_ratio": 0.3 + 0.1 * i})
        stored[model] = store.put("audits", model, "abc123", settings, payload)
    # The premise: the same request gives the two vocabularies different groups_per_half, so their
    # full settings hashes differ, and nothing else does.
    a, b = stored[qwen], stored[smol]
    assert a.key["groups_per_half"] != b.key["groups_per_half"]
    assert a.key_hash != b.key_hash
    assert {k for k in a.key if a.key[k] != b.key[k]} == {"groups_per_half"}

    table = build_table(model_list, DEFAULT_INTERVAL, store)
    for i, model in enumerate((qwen, smol)):
        row = table[table["model_id"] == model]
        assert row["aofe"].eq(2.0 + i).all() and row["aofe_ratio"].round(9).eq(round(0.3 + 0.1 * i, 9)).all()
        assert row["audit_settings_hash"].eq(stored[model].key_hash).all()  # each record's own hash
    assert table["aofe"].notna().groupby(table["model_id"]).any().sum() == 2
    notes = table.attrs["notes"]
    assert not any("left out" in n for n in notes), notes
    assert any("groups_per_half" in n and "confidence intervals" in n for n in notes), notes


@pytest.mark.parametrize("differs", ["T", "output_function"])
def test_audits_with_other_point_estimate_settings_are_left_out_with_a_note(differs, model_list, tmp_path):
    from hf_interaction.audit.output_function import ENCODER, OUTPUT_FUNCTION_DOC

    ids = ["Qwen/Qwen2.5-0.5B", "EleutherAI/pythia-160m", "HuggingFaceTB/SmolLM2-1.7B"]
    rows = _scored_rows(model_list, ids)
    minority = ids[2]
    store = Store(tmp_path / "store.sqlite")
    for i, model in enumerate(ids):
        odd = model == minority
        overrides = {"T": 64} if odd and differs == "T" else {}
        function = OUTPUT_FUNCTION_DOC[ENCODER] if odd and differs == "output_function" else None
        settings, payload = _audit_record(int(rows[model]["vocab_size"]), function, **overrides)
        payload["metrics"].update({"aofe": 1.0 + i, "aofe_ratio": 0.5})
        store.put("audits", model, "abc123", settings, payload)

    table = build_table(model_list, DEFAULT_INTERVAL, store)
    has_audit = table["aofe"].notna().groupby(table["model_id"]).any()
    assert set(has_audit[has_audit].index) == set(ids[:2])
    assert table.loc[table["model_id"] == minority, "aofe"].isna().all()
    assert table.loc[table["model_id"] == minority, "audit_settings_hash"].eq("").all()
    left_out = [n for n in table.attrs["notes"] if "left out" in n]
    assert len(left_out) == 1 and minority in left_out[0] and "(2 models)" in left_out[0], table.attrs["notes"]
    assert not any(m in left_out[0] for m in ids[:2])


def test_newest_comparable_audit_of_a_model_wins(model_list, tmp_path):
    smol = "HuggingFaceTB/SmolLM2-1.7B"
    rows = _scored_rows(model_list, [smol])
    store = Store(tmp_path / "store.sqlite")
    vocab = int(rows[smol]["vocab_size"])
    for n_boot, aofe in ((2000, 1.5), (500, 2.5)):  # the second is written later: the newest
        settings, payload = _audit_record(vocab, n_boot=n_boot)
        payload["metrics"].update({"aofe": aofe, "aofe_ratio": 0.4})
        newest = store.put("audits", smol, "abc123", settings, payload)
    table = build_table(model_list, DEFAULT_INTERVAL, store)
    row = table[table["model_id"] == smol]
    assert row["aofe"].eq(2.5).all() and row["audit_settings_hash"].eq(newest.key_hash).all()


def test_baseline_ratio_is_a_predictor_and_mixed_vocabularies_are_named(model_list, tmp_path):
    """Audits with --baseline init give the report its cross-vocabulary predictor (issue 10, item 5)."""
    from hf_interaction.report import predictors_of

    qwen, smol = "Qwen/Qwen2.5-0.5B", "HuggingFaceTB/SmolLM2-1.7B"
    rows = _scored_rows(model_list, [qwen, smol])
    store = Store(tmp_path / "store.sqlite")
    for i, model in enumerate((qwen, smol)):
        vocab = int(rows[model]["vocab_size"])
        settings, payload = _audit_record(vocab)
        payload["metrics"].update({"aofe": 2.0 + i, "aofe_ratio": 0.3, "diag_share_vs_baseline_log10": -1.0 - i})
        payload["shape"] = {"vocab_size": vocab}
        store.put("audits", model, "abc123", settings, payload)
    table = build_table(model_list, DEFAULT_INTERVAL, store)
    assert "diag_share_vs_baseline_log10" in predictors_of(table)
    for i, model in enumerate((qwen, smol)):
        assert table.loc[table["model_id"] == model, "diag_share_vs_baseline_log10"].eq(-1.0 - i).all()
    assert any("2 different vocabulary sizes" in n and "2 of 2 models" in n for n in table.attrs["notes"])


@pytest.mark.parametrize("kind", ["evaluations", "audits"])
def test_stored_record_without_its_documented_keys_is_refused(kind, model_list, tmp_path):
    """The report reads an evaluation's ``acc`` and an audit's ``metrics.aofe_ratio``; it does not
    look for look-alike keys, and says which record lacks them."""
    from hf_interaction.errors import InputError

    model = next(r["model_id"] for r in _list_rows(model_list) if r["mmlu_pro_score"].strip())
    store = Store(tmp_path / "store.sqlite")
    if kind == "evaluations":
        store.put(kind, model, "abc123", {"task": "leaderboard_mmlu_pro", "num_fewshot": 5},
                  {"task": "leaderboard_mmlu_pro", "metric": "acc", "accuracy": 0.3})
    else:
        store.put(kind, model, "abc123", {"preset": "cpu"}, {"metrics": {"aofe": 1.0, "ratio": 0.5}})
    with pytest.raises(InputError) as info:
        build_table(model_list, DEFAULT_INTERVAL, store)
    message = info.value.one_line()
    assert "\n" not in message and model in message
    assert ("lacks acc" if kind == "evaluations" else "lacks aofe_ratio") in message


def test_the_keys_the_report_reads_are_documented_record_keys():
    from hf_interaction.report import store_rows
    from hf_interaction.schema import schema_of

    evaluation, audit = schema_of("evaluation").by_path(), schema_of("audit").by_path()
    read = [*store_rows.EVAL_PAYLOAD_KEYS, *(f"settings.{k}" for k in (*store_rows.EVAL_SETTINGS_KEYS, "limit",
                                                                        "subsample"))]
    assert all(path in evaluation for path in read), [p for p in read if p not in evaluation]
    read = [f"metrics.{k}" for k in (*store_rows.AUDIT_METRIC_KEYS, store_rows.BASELINE_METRIC, "output_function")]
    assert all(path in audit for path in read), [p for p in read if p not in audit]
