"""`hf-interaction eval`: MMLU-Pro through lm-evaluation-harness, checked offline on a tiny model.

A tiny Llama (seeded random init; a byte-level BPE tokenizer trained here on the fixture text) is
evaluated on tests/fixtures/mmlu_pro (24 test questions in 4 categories of unequal size, 5 validation
questions per category, ten options each). A random model is near chance, so the checks compare
question by question (letters and log-likelihoods), not only the mean.

"The Hub" is never reached: where the built-in task must be built, ``datasets.load_dataset`` is
patched to serve the fixture for ``TIGER-Lab/MMLU-Pro`` (``fake_hub``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hf_interaction import schema
from hf_interaction.core.store import Store
from hf_interaction.evaluation import (
    HUB_DATASET,
    TASKS,
    allocate,
    builtin_task_dir,
    data_fingerprint,
    evaluate_mmlu_pro,
    export_data,
    load_task,
    stratified_subsample,
)
from hf_interaction.evaluation.lm_eval_compat import lean_simple_evaluate
from hf_interaction.models.loading import load_model
from hf_interaction.models.source import resolve_model

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "mmlu_pro"
ROOT = Path(__file__).resolve().parents[2]
LETTERS = "ABCDEFGHIJ"


def _rows(split: str) -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / f"{split}.jsonl").read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """The CI box has 2 shared cores: two torch threads per forward are ~10x slower than one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    """A 2-layer Llama (hidden 64) and a BPE tokenizer trained on the fixture, saved as safetensors.

    The large init scale (0.5) makes the last hidden state depend on the question, so the random
    model does not answer every question with the same letter."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [line for split in ("test", "validation") for line in (FIXTURE / f"{split}.jsonl").read_text().splitlines()]
    texts += [f"Answer: {letter}\n" for letter in LETTERS] * 20  # " A" ... " J" become single tokens
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=800, special_tokens=["<s>", "</s>"], show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         initializer_range=0.5, bos_token_id=0, eos_token_id=1)
    path = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    assert (path / "model.safetensors").is_file()
    return path


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    return load_model(resolve_model(str(tiny_dir)))


@pytest.fixture(scope="module")
def module_store(tmp_path_factory) -> Store:
    return Store(tmp_path_factory.mktemp("store") / "store.sqlite")


@pytest.fixture(scope="module")
def baseline(loaded, module_store):
    """The API on local fixture data, one process, all 24 questions, samples kept, result stored."""
    return evaluate_mmlu_pro(loaded, data_dir=FIXTURE, batch_size=4, log_samples=True, store=module_store)


@pytest.fixture
def fake_hub(monkeypatch):
    """``datasets.load_dataset("TIGER-Lab/MMLU-Pro")`` answered from the fixture; all else passes through."""
    import datasets

    real = datasets.load_dataset

    def load_dataset(path=None, name=None, **kwargs):
        if path == HUB_DATASET:
            return datasets.DatasetDict({s: datasets.Dataset.from_list(_rows(s)) for s in ("test", "validation")})
        return real(path, name=name, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)


@pytest.fixture
def lean_lm_eval():
    """simple_evaluate's git/collect_env provenance (subprocesses, ~3 s) is irrelevant to scores."""
    with lean_simple_evaluate():
        yield


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in-process, as ``hf-interaction ARGS`` (exit code, stdout, stderr)."""
    from hf_interaction.cli import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _predicted(sample: dict) -> str:
    lls = [r[0] for r in sample["resps"]]
    return LETTERS[max(range(len(lls)), key=lls.__getitem__)]


# ------------------------------------------------------------------------------------- correctness


def _prompt(doc: dict) -> str:
    """The leaderboard prompt, written here from the task's documented format (not lm-eval's code)."""
    lines = [doc["question"]] + [f"{LETTERS[i]}. {option}" for i, option in enumerate(doc["options"])]
    return "\n".join(lines) + "\nAnswer:"


def _independent_scores(model, tokenizer) -> dict[int, list[float]]:
    """log p(" A" ... " J" | 5-shot prompt) straight from the model's next-token distribution.

    Each continuation tokenizes to exactly one token after the unchanged context (asserted), so one
    forward pass over the context per question gives all ten log-likelihoods."""
    shots = _rows("validation")[:5]  # first_n few-shot from the validation split
    head = "".join(f"{_prompt(s)} {s['answer']}\n\n" for s in shots)
    scores = {}
    with torch.no_grad():
        for doc in _rows("test"):
            context = head + _prompt(doc)
            ctx_ids = tokenizer.encode(context)
            letter_ids = []
            for letter in LETTERS[: len(doc["options"])]:
                ids = tokenizer.encode(context + " " + letter)
                assert ids[:-1] == ctx_ids, "continuation is not one token after the context"
                letter_ids.append(ids[-1])
            logp = torch.log_softmax(model(torch.tensor([ctx_ids])).logits[0, -1].float(), dim=-1)
            scores[doc["question_id"]] = logp[letter_ids].tolist()
    return scores


def test_accuracy_equals_independent_letter_scoring(loaded, baseline, module_store):
    """Stored-result accuracy = argmax over the ten letter log-likelihoods computed directly,
    question by question (same letters, same log-likelihoods), overall and per category."""
    record = module_store.get("evaluations", baseline.model, baseline.revision, baseline.settings)
    assert record.payload == baseline.to_dict()
    independent = _independent_scores(loaded.model, loaded.tokenizer)
    by_qid = {s["question_id"]: s for s in baseline.samples}
    assert sorted(by_qid) == sorted(independent) and baseline.n_questions == 24
    answers = {d["question_id"]: d["answer"] for d in _rows("test")}
    correct = []
    for qid, lls in independent.items():
        sample = by_qid[qid]
        assert [r[0] for r in sample["resps"]] == pytest.approx(lls, abs=1e-4)
        mine = LETTERS[max(range(len(lls)), key=lls.__getitem__)]
        assert _predicted(sample) == mine, f"question {qid}"
        correct.append(mine == answers[qid])
    assert record.payload["acc"] == baseline.acc == pytest.approx(sum(correct) / len(correct), abs=1e-12)
    assert len({_predicted(s) for s in baseline.samples}) > 1  # the model is not a constant answerer
    category = {d["question_id"]: d["category"] for d in _rows("test")}
    assert set(baseline.categories) == {"biology", "history", "law", "math"}
    for name, row in baseline.categories.items():
        hits = [ok for qid, ok in zip(independent, correct, strict=True) if category[qid] == name]
        assert row["n"] == len(hits) and row["acc"] == pytest.approx(sum(hits) / len(hits))


def test_accuracy_equals_direct_simple_evaluate_of_builtin_task(loaded, baseline, fake_hub, lean_lm_eval):
    """A direct lm_eval.simple_evaluate of the *built-in* leaderboard_mmlu_pro (fed the fixture as its
    Hub data) gives the same acc, stderr, per-question scores and prompt hashes as the local-data run."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_defaults=False, include_path=str(builtin_task_dir(TASKS[baseline.task])))
    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=4)
    direct = lm_eval.simple_evaluate(model=lm, tasks=["leaderboard_mmlu_pro"], task_manager=manager,
                                     log_samples=True)
    top = direct["results"]["leaderboard_mmlu_pro"]
    assert top["acc,none"] == pytest.approx(baseline.acc, abs=1e-12)
    assert top["acc_stderr,none"] == pytest.approx(baseline.acc_stderr, abs=1e-12)
    assert direct["n-shot"]["leaderboard_mmlu_pro"] == baseline.num_fewshot == 5
    ours = {s["question_id"]: s for s in baseline.samples}
    for s in direct["samples"]["leaderboard_mmlu_pro"]:
        mine = ours[s["doc"]["question_id"]]
        assert s["acc"] == mine["metrics"]["acc"]
        assert s["prompt_hash"] == mine["prompt_hash"]
        assert [r[0][0] for r in s["resps"]] == pytest.approx([r[0] for r in mine["resps"]], abs=1e-5)


def test_hub_and_local_data_give_the_same_result(loaded, baseline, fake_hub):
    """Same questions from the 'Hub' path: same data fingerprint, requests hash and score."""
    hub = evaluate_mmlu_pro(loaded, batch_size=4)
    assert hub.data["source"] == "hub" and baseline.data["source"] == "local"
    assert hub.data["fingerprint"] == baseline.data["fingerprint"]
    assert hub.requests_hash == baseline.requests_hash
    assert hub.acc == baseline.acc and hub.categories == baseline.categories
    assert hub.task_hash == baseline.task_hash and hub.settings == baseline.settings


def _config_without_data(task) -> str:
    """A task's config minus where the data comes from, as comparable text (functions and
    functools.partial objects by repr: the same imported objects for both tasks)."""
    skip = {"dataset_path", "dataset_name", "dataset_kwargs", "metadata"}
    return json.dumps({k: v for k, v in task.dump_config().items() if k not in skip}, sort_keys=True, default=repr)


@pytest.mark.parametrize("task", ["leaderboard_mmlu_pro", "mmlu_pro"])
def test_local_task_renders_the_builtin_requests(task, fake_hub):
    """The generated local task and lm-eval's built-in task (same rows) build identical requests
    (context with few-shot, continuations / generation settings) and identical configs."""
    from lm_eval.tasks import TaskManager

    spec = TASKS[task]
    local = load_task(spec, FIXTURE)
    manager = TaskManager(include_defaults=False, include_path=str(builtin_task_dir(spec)))
    # mmlu_pro: the built-in subtasks of the fixture's four categories (the other ten have no rows here)
    builtin = manager.load(sorted(local.tasks))["tasks"]
    assert sorted(local.tasks) == sorted(builtin)
    assert len(local.tasks) == (1 if task == "leaderboard_mmlu_pro" else 4)
    for name, ours in local.tasks.items():
        theirs = builtin[name]
        for t in (ours, theirs):
            t.build_all_requests(limit=None, rank=0, world_size=1)
        assert len(ours.instances) > 0
        assert [(i.doc_id, i.idx, i.args) for i in ours.instances] == \
               [(i.doc_id, i.idx, i.args) for i in theirs.instances]
        assert _config_without_data(ours) == _config_without_data(theirs)
    first = next(iter(local.tasks.values())).instances[0]
    if task == "leaderboard_mmlu_pro":
        assert first.args[0].count("\nAnswer:") == 6 and first.args[0].endswith("Answer:")
        assert [i.args[1] for i in local.tasks[task].instances[:10]] == [f" {c}" for c in LETTERS]
    else:
        assert first.args[0].count("Question:\n") == 6 and first.args[0].endswith("Let's think step by step.")


def test_cot_task_scored_through_lm_eval(loaded, monkeypatch):
    """mmlu_pro (generation): lm-eval's regex extraction, exact_match, per-subtask group and our
    per-category table, with canned generations (real 2048-token CoT is far too slow for a test)."""
    from lm_eval.models.huggingface import HFLM

    def generate_until(self, requests, disable_tqdm=False):
        return [f" Some reasoning. The answer is ({r.doc['answer']})." if r.doc["question_id"] % 2 == 0
                else " I cannot tell." for r in requests]

    monkeypatch.setattr(HFLM, "generate_until", generate_until)
    monkeypatch.setattr(loaded.model.config, "max_position_embeddings", 4096)
    result = evaluate_mmlu_pro(loaded, task="mmlu_pro", data_dir=FIXTURE, log_samples=True)
    rows = _rows("test")
    assert result.metric == "exact_match" and result.n_questions == 24 and result.num_fewshot == 5
    assert result.acc == pytest.approx(sum(r["question_id"] % 2 == 0 for r in rows) / len(rows))
    assert result.acc_stderr is not None
    for category, row in result.categories.items():
        mine = [r["question_id"] % 2 == 0 for r in rows if r["category"] == category]
        assert row["n"] == len(mine) and row["acc"] == pytest.approx(sum(mine) / len(mine))
    sample = result.samples[0]  # few-shot examples come from the question's own category
    assert f"about {sample['category']}" in sample["prompt"]


# ----------------------------------------------------------------------------------------- subsample


@settings(max_examples=60, deadline=None)
@given(counts=st.dictionaries(st.sampled_from(["math", "law", "biology", "history", "other"]),
                              st.integers(1, 60), min_size=1),
       fraction=st.floats(0.01, 1.0), seed=st.integers(0, 2**31))
def test_stratified_subsample_properties(counts, fraction, seed):
    """Reproducible, every category present, each category's share preserved (to rounding),
    and a half-size draw nested in the full one."""
    categories = [c for c, n in sorted(counts.items()) for _ in range(n)]
    picked = stratified_subsample(categories, fraction, seed)
    assert picked == stratified_subsample(categories, fraction, seed)
    assert picked == sorted(set(picked))
    got = Counter(categories[i] for i in picked)
    assert set(got) == set(counts)
    for c, n in counts.items():
        assert got[c] == allocate(counts, fraction)[c]
        assert abs(got[c] - fraction * n) <= 0.5 or got[c] == 1
    assert set(stratified_subsample(categories, fraction / 2, seed)) <= set(picked)


def test_stratified_subsample_seed_changes_the_draw():
    categories = [r["category"] for r in _rows("test")]
    draws = {tuple(stratified_subsample(categories, 0.5, seed)) for seed in range(5)}
    assert len(draws) > 1


def test_subsample_evaluation(loaded, baseline, tmp_path):
    """lm-eval evaluates exactly the planned stratified questions (scores = the full run's on
    them), the result is marked as a subsample with stderr and a stratified estimate, and the
    same request is a store hit."""
    store = Store(tmp_path / "store.sqlite")
    result = evaluate_mmlu_pro(loaded, data_dir=FIXTURE, subsample=0.5, seed=7, batch_size=4, store=store,
                               log_samples=True)
    rows = _rows("test")
    planned = {rows[i]["question_id"] for i in stratified_subsample([r["category"] for r in rows], 0.5, 7)}
    assert {s["question_id"] for s in result.samples} == planned
    sub = result.subsample
    assert sub["fraction"] == 0.5 and sub["seed"] == 7 and sub["n_population"] == 24
    assert sub["sampled"] == {"biology": 4, "history": 3, "law": 2, "math": 5} == \
           {c: v["n"] for c, v in result.categories.items()}
    assert result.n_questions == sub["n_sampled"] == 14
    full = {s["question_id"]: s["metrics"]["acc"] for s in baseline.samples}
    assert result.acc == pytest.approx(sum(full[q] for q in planned) / len(planned))
    assert isinstance(result.acc_stderr, float) and isinstance(sub["estimate_stderr"], float)
    assert 0 <= sub["estimate"] <= 1
    record = store.get("evaluations", result.model, result.revision, result.settings)
    assert record.key["subsample"] == 0.5 and record.key["seed"] == 7
    assert record.payload["subsample"]["estimate_stderr"] == sub["estimate_stderr"]
    again = evaluate_mmlu_pro(loaded, data_dir=FIXTURE, subsample=0.5, seed=7, store=store)
    assert again.cached and again.acc == result.acc and again.requests_hash == result.requests_hash


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_json_table_out_store_hit_and_force(tiny_dir, baseline, tmp_path, capsys):
    store = tmp_path / "cli.sqlite"
    args = ["eval", str(tiny_dir), "--data", str(FIXTURE), "--batch-size", "4", "--store", str(store)]
    code, out, err = _cli(capsys, *args, "--json", "--out", str(tmp_path / "out"))
    assert code == 0, err
    first = json.loads(out)
    assert first["acc"] == baseline.acc and first["cached"] is False
    assert "24 questions" in err and "240 log-likelihood requests" in err
    assert first["versions"]["lm_eval"] and first["runtime"]["num_processes"] == 1
    assert first["runtime"]["wall_time_s"] > 0
    assert schema.problems("evaluation", first) == []  # every key documented, with its type
    (written,) = (tmp_path / "out").glob("*.json")
    assert json.loads(written.read_text()) == {k: v for k, v in first.items() if k != "cached"}
    code, out, err = _cli(capsys, *args)
    assert code == 0 and "overall" in out and "math" in out and "from the results store" in out
    assert "24 questions" not in err  # nothing evaluated
    code, out, _ = _cli(capsys, *args, "--json", "--force")
    assert code == 0 and json.loads(out)["cached"] is False and json.loads(out)["acc"] == baseline.acc
    assert len(Store(store).list("evaluations")) == 1


def _corrupt(tmp_path: Path, kind: str) -> Path:
    """A copy of the fixture with one defect."""
    data = tmp_path / "data"
    data.mkdir()
    splits = {s: _rows(s) for s in ("test", "validation")}
    if kind == "no options":
        splits["test"][3]["options"] = []
    elif kind == "index out of range":
        splits["test"][2]["answer_index"] = 12
    elif kind == "letter disagrees":
        row = splits["test"][1]
        row["answer"] = LETTERS[(row["answer_index"] + 1) % 10]
    elif kind == "missing column":
        for row in splits["validation"]:
            del row["category"]
    for split, rows in splits.items():
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if kind == "empty split":
        (data / "validation.jsonl").write_text("")
    elif kind == "missing split":
        (data / "validation.jsonl").unlink()
    elif kind == "malformed file":
        (data / "test.jsonl").write_text('{"question_id": 1, "question": \n')
    return data


@pytest.mark.parametrize("kind, code, needle", [
    ("no options", 3, "has no options"),
    ("index out of range", 3, "answer_index 12, outside 0..9"),
    ("letter disagrees", 3, "but answer_index"),
    ("missing column", 3, "lacks the column(s) category"),
    ("empty split", 3, "validation split"),
    ("missing split", 3, "no validation split"),
    ("malformed file", 3, "cannot read"),
    ("no such dir", 3, "no such directory"),
    ("unknown task", 2, "unknown task 'mmlu_pro_x'"),
    ("limit and subsample", 2, "not both"),
    ("short context for cot", 3, "too short for mmlu_pro"),
    ("hub unreachable", 4, "cannot download TIGER-Lab/MMLU-Pro"),
])
def test_bad_input_is_one_line_and_nothing_is_stored(tiny_dir, tmp_path, capsys, kind, code, needle):
    store = tmp_path / "bad.sqlite"
    data = tmp_path / "nowhere" if kind == "no such dir" else FIXTURE if kind in (
        "unknown task", "limit and subsample", "short context for cot") else None
    data = data or (_corrupt(tmp_path, kind) if kind != "hub unreachable" else None)
    args = ["eval", str(tiny_dir), "--store", str(store)]
    if kind == "hub unreachable":
        args = ["eval", "--export-data", str(tmp_path / "export"), "--store", str(store)]
    else:
        args += ["--data", str(data)]
    args += {"unknown task": ["--task", "mmlu_pro_x"], "limit and subsample": ["--limit", "3", "--subsample", "0.5"],
             "short context for cot": ["--task", "mmlu_pro"]}.get(kind, [])
    got, out, err = _cli(capsys, *args)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert got == code, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], err
    assert "Traceback" not in err and out == ""
    assert not store.exists() or Store(store).list("evaluations") == []


# ------------------------------------------------------------------------------------- export, data


def test_export_data_writes_files_that_evaluate_identically(fake_hub, tmp_path):
    out = export_data(tmp_path / "mmlu-pro")
    manifest = json.loads((out / "manifest.json").read_text())
    fixture_fp = data_fingerprint({s: _rows(s) for s in ("test", "validation")})
    assert manifest["rows"] == {"test": 24, "validation": 20} and manifest["dataset"] == HUB_DATASET
    assert manifest["data_fingerprint"] == fixture_fp
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "test.parquet", "validation.parquet"]
    exported = load_task(TASKS["leaderboard_mmlu_pro"], out)
    assert exported.data["fingerprint"] == fixture_fp == load_task(TASKS["leaderboard_mmlu_pro"], FIXTURE).data[
        "fingerprint"]


# ----------------------------------------------------------------------------------- data parallel


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_agree_with_one(tiny_dir, baseline, tmp_path):
    """`accelerate launch` with two CPU processes: lm-eval splits the questions, the main process
    gathers them; same accuracy, per-category table and requests hash as one process; one record
    and one file written. (`--multi_gpu` picks accelerate's torchrun launcher; on a CPU-only host
    `--cpu --num_processes 2` starts a single process unless MPI is set up.)"""
    store, out = tmp_path / "dp.sqlite", tmp_path / "out"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_free_port()),
           "-m", "hf_interaction", "eval", str(tiny_dir), "--data", str(FIXTURE), "--batch-size", "4",
           "--json", "--out", str(out), "--store", str(store)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1"}
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    two = json.loads(res.stdout)
    assert two["runtime"]["num_processes"] == 2
    assert two["acc"] == baseline.acc and two["n_questions"] == 24
    assert two["categories"] == baseline.categories and two["requests_hash"] == baseline.requests_hash
    assert res.stderr.count("over 2 processes") == 1
    assert len(Store(store).list("evaluations")) == 1 and len(list(out.glob("*.json"))) == 1


# ------------------------------------------------------------------------------------------ the Hub


@pytest.mark.hub
def test_hub_export_and_subsample_estimate(tmp_path):
    """With network: export MMLU-Pro, then a stored 1% subsample estimate for a small Hub model."""
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        pytest.skip("needs the Hugging Face Hub")
    data = export_data(tmp_path / "mmlu-pro")
    store = Store(tmp_path / "hub.sqlite")
    result = evaluate_mmlu_pro("HuggingFaceTB/SmolLM2-135M", data_dir=data, subsample=0.01, seed=0,
                               batch_size=8, store=store)
    assert result.subsample["n_population"] == 12032 and len(result.categories) == 14
    assert store.get("evaluations", result.model, result.revision, result.settings) is not None
