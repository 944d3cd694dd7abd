"""`sweep`: width matching, the shared data stream, training determinism, the derived interval, and a
micro sweep end to end through the CLI (train, save, audit, report, resume), offline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hf_interaction import schema
from hf_interaction.errors import InputError, UsageError
from hf_interaction.shape.interval import load_interval_file
from hf_interaction.shape.width_matching import ShapeSpec, match_width, matched_count
from hf_interaction.sweep import SweepSettings, derive_interval, paper_bands, paper_csv_path, prepare_data, train_shape
from hf_interaction.sweep.byte_tokenizer import BYTE_VOCAB_SIZE, build_byte_tokenizer, encode_bytes

MICRO = ["--budget", "5000", "--depths", "1,2,4", "--head-dim", "4", "--tokens-per-param", "0.1",
         "--batch-size", "4", "--seq-len", "16", "--audit-preset", "micro", "--max-val-windows", "8",
         "--threads", "1", "--no-progress"]


def _brute_force(budget: int, depth: int, head_dim: int, match: str) -> int:
    """Smallest |count - budget| over every valid width (multiples of head_dim) up to past the budget."""
    best, k = None, 1
    while True:
        spec = ShapeSpec("llama", depth, k * head_dim, head_dim, 4.0, BYTE_VOCAB_SIZE, 128)
        c = matched_count(spec, match)
        diff = abs(c - budget)
        if best is None or diff < best:
            best = diff
        if c >= budget:
            return best
        k += 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=st.integers(1_000, 40_000), depth=st.sampled_from([1, 3]), head_dim=st.sampled_from([4, 8]),
       match=st.sampled_from(["non-embedding", "total"]))
def test_width_matching_is_closest_valid_width(budget, depth, head_dim, match):
    m = match_width(budget, depth, head_dim=head_dim, vocab_size=BYTE_VOCAB_SIZE, max_positions=128, match=match,
                    max_mismatch=None)
    assert m.spec.width % head_dim == 0 and m.spec.heads * head_dim == m.spec.width
    assert abs(m.achieved - budget) == _brute_force(budget, depth, head_dim, match)
    assert m.achieved == (m.counts["non_embedding_params"] if match == "non-embedding" else m.counts["total_params"])
    tol = 0.2
    try:
        accepted = match_width(budget, depth, head_dim=head_dim, vocab_size=BYTE_VOCAB_SIZE, max_positions=128,
                               match=match, max_mismatch=tol)
    except InputError:
        assert abs(m.mismatch) > tol
    else:  # never further than the stated tolerance, in particular never above budget × (1 + tol)
        assert accepted.achieved <= budget * (1 + tol) and abs(accepted.mismatch) <= tol


def test_byte_tokenizer_is_bytes():
    tok = build_byte_tokenizer()
    text = "Héllo, wörld → 🙂\n\ttabs"
    assert tok.encode(text) == encode_bytes(text) and len(tok) == BYTE_VOCAB_SIZE
    assert tok.decode(encode_bytes(text)) == text


def _tiny_settings(**kw) -> SweepSettings:
    base = {"budget": 4000, "depths": (1,), "head_dim": 4, "tokens_per_param": 0.2, "batch_size": 4, "seq_len": 16,
            "max_val_windows": 4, "audit_preset": "none"}
    return SweepSettings(**{**base, **kw})


def test_same_seed_same_losses_and_shared_data():
    s = _tiny_settings()
    data = prepare_data(s)
    assert prepare_data(s).val_windows_sha256 == data.val_windows_sha256
    assert prepare_data(s).train_stream_sha256 == data.train_stream_sha256
    spec = match_width(s.budget, 1, head_dim=4, vocab_size=BYTE_VOCAB_SIZE, max_positions=16).spec
    _, a = train_shape(spec, 0, data, s)
    _, b = train_shape(spec, 0, data, s)
    _, c = train_shape(spec, 1, data, s)
    assert a["val_loss"] == b["val_loss"] and a["train_curve"] == b["train_curve"]
    assert c["val_loss"] != a["val_loss"]
    assert a["tokens_trained"] == data.steps * 4 * 16 >= 0.2 * 4000


def test_other_arch_trains_saves_and_loads(tmp_path):
    from transformers import AutoModelForCausalLM

    from hf_interaction.sweep import save_checkpoint

    s = _tiny_settings(arch="gpt2", tokens_per_param=0.05)
    data = prepare_data(s)
    m = match_width(s.budget, 2, arch="gpt2", head_dim=4, vocab_size=BYTE_VOCAB_SIZE, max_positions=16)
    model, metrics = train_shape(m.spec, 0, data, s)
    save_checkpoint(model, tmp_path / "gpt2", metrics)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "gpt2")
    assert (loaded.config.n_layer, loaded.config.n_embd) == (2, m.spec.width)
    assert sum(p.numel() for p in loaded.parameters()) == m.counts["total_params"]


def _summary(depth, width, loss):
    return {"depth": depth, "width": width, "r_dw": depth / width, "val_loss_mean": loss}


def test_derive_interval_band_contiguity_and_single_shape():
    rows = [_summary(1, 64, 2.00), _summary(2, 48, 2.01), _summary(4, 32, 2.10), _summary(8, 24, 2.03)]
    d = derive_interval(rows, 0.02)
    assert d["optimal_depth"] == 1 and d["band_depths"] == [1, 2, 8]
    assert d["lo"] == pytest.approx(1 / 64) and d["hi"] == pytest.approx(8 / 24)
    assert not d["contiguous"] and "not contiguous" in d["notes"][0]
    single = derive_interval(rows, 0.001)
    assert single["band_depths"] == [1] and single["lo"] < 1 / 64 < single["hi"]
    assert single["hi"] == pytest.approx(math.sqrt((1 / 64) * (2 / 48)))


def test_paper_table_reproduces_reference_readme():
    bands = paper_bands(paper_csv_path())
    lo, hi = bands["optimal_range_ge_1M"]
    assert 0.023 <= lo and hi <= 0.047
    assert bands["common_1M_3M"]["lo"] == pytest.approx(0.0204, abs=5e-5)
    assert bands["common_1M_3M"]["hi"] == pytest.approx(0.0645, abs=5e-5)
    assert bands["common_1M_10M"]["hi"] == pytest.approx(0.0583, abs=5e-5)


def test_paper_table_is_read_from_the_package_data():
    """Found through importlib.resources inside the package, so an installed package has it too."""
    from importlib.resources import files
    from pathlib import Path

    import hf_interaction

    path = paper_csv_path()
    assert path is not None and path == files("hf_interaction") / "data" / "reference" / "paper_ntp_sweep.csv"
    assert Path(str(path)).resolve().is_relative_to(Path(hf_interaction.__file__).resolve().parent)
    assert path.is_file() and (files("hf_interaction") / "data" / "reference" / "README.md").is_file()


@pytest.mark.slow
def test_wheel_ships_every_data_file(tmp_path):
    """A wheel built from (a copy of) the source tree contains every file under hf_interaction/data."""
    import shutil
    import subprocess
    import sys
    import zipfile
    from pathlib import Path

    pytest.importorskip("setuptools")
    root = Path(__file__).resolve().parents[2]
    src = tmp_path / "src"
    shutil.copytree(root / "hf_interaction", src / "hf_interaction",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.partial"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(root / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(tmp_path / "wheel"), str(src)], check=True, capture_output=True, timeout=300)
    (wheel,) = (tmp_path / "wheel").glob("*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    data = {p.relative_to(src).as_posix() for p in (src / "hf_interaction" / "data").rglob("*") if p.is_file()}
    assert "hf_interaction/data/reference/paper_ntp_sweep.csv" in data
    assert data <= shipped, sorted(data - shipped)


def test_learning_rate_schedule_shape():
    """The sweep's warm-up + cosine rule, numerically, and how transformers' schedule relates to it."""
    import torch

    from hf_interaction.sweep.training import warmup_cosine, warmup_cosine_schedule

    steps, warmup, min_ratio, peak = 45, 5, 0.1, 3e-3

    def lrs(**kw) -> list[float]:
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=peak)
        schedule = warmup_cosine_schedule(opt, steps, warmup, min_ratio, **kw)
        out = []
        for _ in range(steps):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            schedule.step()
        return out

    ours = lrs()
    # linear warm-up reaching the peak at step warmup - 1 (no step at lr 0), then the peak again ...
    assert ours[:warmup + 1] == pytest.approx([peak * (k + 1) / warmup for k in range(warmup)] + [peak])
    # ... a cosine that never rises, half-way at the middle of the decay, min_ratio × peak at the end
    assert all(a >= b for a, b in zip(ours[warmup:-1], ours[warmup + 1:], strict=True))
    assert ours[warmup + (steps - warmup) // 2] == pytest.approx(peak * (min_ratio + (1 - min_ratio) / 2))
    assert ours[-1] == pytest.approx(peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * 39 / 40))))
    assert warmup_cosine(steps, steps, warmup, min_ratio) == pytest.approx(min_ratio)
    assert ours == [peak * warmup_cosine(k, steps, warmup, min_ratio) for k in range(steps)]
    # transformers' get_cosine_with_min_lr_schedule_with_warmup: the same cosine, a warm-up one step later
    theirs = lrs(warmup_from_zero=True)
    assert theirs[warmup:] == pytest.approx(ours[warmup:], rel=1e-12)
    assert theirs[:warmup] == pytest.approx([peak * k / warmup for k in range(warmup)])


def test_micro_sweep_end_to_end_and_resume(tmp_path):
    from click.testing import CliRunner

    from hf_interaction.cli import cli

    out = tmp_path / "sweep"
    proc = CliRunner().invoke(cli, ["sweep", *MICRO, "--out", str(out)])
    assert proc.exit_code == 0, proc.output
    assert "optimal R_D/W" in proc.stdout and "trained" in proc.stderr
    shapes = sorted((out / "shapes").iterdir())
    assert [p.name.split("_")[0] for p in shapes] == ["depth1", "depth2", "depth4"]
    for name in ("sweep_report.md", "sweep_loss_vs_rdw.png", "sweep_aofe_vs_rdw.png", "sweep_runs.csv",
                 "sweep_shapes.csv", "sweep.json"):
        assert (out / name).is_file(), name
    interval = load_interval_file(out / "interval.json")
    assert interval.lo < interval.hi and "budget 5,000" in interval.source
    record = json.loads((out / "sweep.json").read_text())
    assert "created_at" in record and "created_utc" not in record and "versions" in record
    assert schema.problems("sweep", record) == []  # every key documented, with its type
    rows = record["rows"]
    assert len({r["val_windows_sha256"] for r in rows}) == 1 and len({r["train_stream_sha256"] for r in rows}) == 1
    assert all(r["aofe_ratio"] is not None and r["tokens_trained"] == rows[0]["tokens_trained"] for r in rows)
    audits = [json.loads((p / "audit.json").read_text()) for p in shapes]
    assert len({a["windows_sha256"] for a in audits}) == 1

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(shapes[0])
    tok = AutoTokenizer.from_pretrained(shapes[0])
    assert model.config.num_hidden_layers == 1 and tok.encode("ab") == [97, 98]

    # Rerun: every shape is skipped, checkpoints untouched, the report rewritten.
    mtimes = {p: (p / "model.safetensors").stat().st_mtime_ns for p in shapes}
    again = CliRunner().invoke(cli, ["sweep", *MICRO, "--out", str(out), "--json", "--no-store"])
    assert again.exit_code == 0, again.output
    statuses = json.loads(again.stdout)["statuses"]
    assert len(statuses) == 3 and all(v.startswith("skipped") for v in statuses.values())
    assert again.stderr.count("skipped") == 3
    assert mtimes == {p: (p / "model.safetensors").stat().st_mtime_ns for p in shapes}


def _cli_error(capsys, *args):
    from hf_interaction.cli import main

    with pytest.raises(SystemExit) as exc:
        main(list(args))
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    return exc.value.code, err


def test_bad_input_one_line(capsys, tmp_path):
    out = str(tmp_path / "o")
    code, err = _cli_error(capsys, "sweep", "--budget", "500", "--depths", "1,2", "--out", out)
    assert code == 3 and "too small for depth 1" in err
    code, err = _cli_error(capsys, "sweep", "--budget", "6000", "--depths", "1", "--head-dim", "16", "--out", out)
    assert code == 3 and "depth 1 cannot match" in err
    code, err = _cli_error(capsys, "sweep", "--budget", "5000", "--arch", "nonsense", "--out", out)
    assert code == 2 and "unknown --arch" in err
    code, err = _cli_error(capsys, "sweep", "--budget", "5000", "--arch", "bert", "--out", out)
    assert code == 2 and "causal-LM" in err
    code, err = _cli_error(capsys, "sweep", "--budget", "0", "--out", out)
    assert code == 2 and "--budget must be positive" in err
    code, err = _cli_error(capsys, "sweep", "--budget", "5000", "--depths", "1,x", "--out", out)
    assert code == 2 and "--depths" in err
    with pytest.raises(UsageError):
        SweepSettings(budget=5000, tolerance=2).validate()


def test_validation_loss_with_a_prefix_counts_text_predictions_only():
    """The sweep frames windows by the audit's rule: a prefix is fed but never scored."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from hf_interaction.probe.windows import frame_ids
    from hf_interaction.sweep.training import validation_loss

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=32, initializer_range=0.5)).eval()
    rows = torch.randint(3, 40, (3, 9), generator=torch.Generator().manual_seed(1))
    framed = frame_ids(rows[:, :-1], (1,))
    assert framed.shape == (3, 9) and (framed[:, 0] == 1).all()
    with torch.no_grad():
        logits = model(input_ids=framed).logits[:, 1:]
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten())
    assert validation_loss(model, rows, prefix_ids=(1,)) == pytest.approx(float(expected), rel=1e-6)
    assert validation_loss(model, rows) != pytest.approx(float(expected), rel=1e-4)


@pytest.mark.parametrize("name", ["llama_40k_builtin", "llama_100k_builtin"])
def test_committed_reference_sweeps_rerender_byte_identically(name, tmp_path):
    """reports/sweeps/NAME regenerates from its committed sweep.json alone (`sweep --rerender`): every
    derived file comes out byte for byte as committed, on any machine with the same plotting stack."""
    import shutil

    from hf_interaction.cli import main

    committed = Path(__file__).resolve().parents[2] / "reports" / "sweeps" / name
    work = tmp_path / name
    work.mkdir()
    shutil.copy(committed / "sweep.json", work / "sweep.json")
    import matplotlib

    # Another figure's global style in this process (as seaborn's set_theme leaves it) must not show.
    with matplotlib.rc_context({"lines.linewidth": 7.0, "axes.grid": True, "font.size": 15.0}):
        main(["sweep", "--rerender", "--out", str(work)])  # returns normally (errors exit non-zero)
    written = sorted(p.name for p in work.iterdir() if p.name != "sweep.json")
    assert "sweep_report.md" in written and "interval.json" in written
    for file in written:
        assert (work / file).read_bytes() == (committed / file).read_bytes(), f"{name}/{file} differs"
