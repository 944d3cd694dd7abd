"""Measured peak memory of a small-n audit at a preset, on a CPU, against the audit's own estimate
(issue 19, item 7: "measure the peak with a meta-device or small-n dry run").

For each model of a list (its width, MLP width, heads, vocabulary and tying from the list's config
fields) the architecture is built with only a few blocks (``--blocks 1 2``), random float32 weights
on the CPU, and the real audit (``run_audit``: the preset's T and output probes, the eager attention
the audit loads with, the tokenizer of the embedded demo model, builtin probe text) runs on ``--n``
windows, each block count in a fresh process (so both pay the same one-time costs: imports, the
corpus). Linux's peak-RSS counter is reset once the model is built (``/proc/self/clear_refs``), so
each peak is the audit's working memory on top of the weights. Two
block counts give the memory per block; the peak at the model's real depth is extrapolated linearly
and printed beside what the audit sizes its CUDA passes by (``window_bytes`` of one window with all
output probes, and the pair store, which grows exactly as n·O·T·d: at the preset's n it is added as
computed, not measured).

CPU and CUDA keep the same autograd tensors (same attention implementation, same dtype); a CUDA
caching allocator adds fragmentation that this does not see, which is why the audit plans with half
the free memory. Linux only. Seconds to minutes per row (a window of 257 positions through one
8B-wide block with 32 probes).

Usage: python benchmarks/memory_dry_run.py [--list model_lists/open_llm_leaderboard.csv]
       [--models meta-llama/Meta-Llama-3-8B Qwen/Qwen2.5-7B] [--preset paper] [--n 2] [--blocks 1 2]
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import subprocess
import sys
from pathlib import Path

GB = 1e9


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def _config(row: dict, blocks: int):
    from transformers import AutoConfig

    return AutoConfig.for_model(
        row["model_type"], num_hidden_layers=blocks, hidden_size=int(row["hidden_size"]),
        intermediate_size=int(row["intermediate_size"]), num_attention_heads=int(row["num_attention_heads"]),
        num_key_value_heads=int(row["num_key_value_heads"]), head_dim=int(row["head_dim"]),
        vocab_size=int(row["vocab_size"]), tie_word_embeddings=row["tie_word_embeddings"].strip().lower() == "true")


def measure_row(row: dict, blocks: int, settings) -> dict:
    """The audit's peak working memory (GB) for ``row``'s shape with ``blocks`` blocks."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hf_interaction.audit.run import run_audit
    from hf_interaction.models.demo import demo_path
    from hf_interaction.models.loading import LoadedModel
    from hf_interaction.models.source import ModelRef

    config = _config(row, blocks)
    torch.manual_seed(0)
    with torch.device("cpu"):
        net = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation="eager").eval()
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    ref = ModelRef(f"dry-run:{row['model_id']}", "config_file", f"dry-run:{row['model_id']}:{blocks}", None, None,
                   "random-init", config.to_dict())
    loaded = LoadedModel(net, AutoTokenizer.from_pretrained(demo_path("demo")), ref,
                         {"dtype": "float32", "device": "cpu", "attn_implementation": "eager"})
    gc.collect()
    before = _status_kb("VmRSS") * 1024
    _reset_peak()
    record = run_audit(loaded, settings, store=None, show_progress=False, use_accelerate=False).record
    peak = _status_kb("VmHWM") * 1024
    return {"weights": weights, "working": peak - before, "seconds": record["runtime"]["wall_time_s"]}


def main() -> None:
    from hf_interaction.audit.device_memory import window_bytes
    from hf_interaction.audit.settings import AuditSettings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--list", default="model_lists/open_llm_leaderboard.csv")
    ap.add_argument("--models", nargs="+", default=["meta-llama/Meta-Llama-3-8B"])
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--n", type=int, default=2, help="windows of the dry run (the store is added at the preset's n)")
    ap.add_argument("--blocks", type=int, nargs=2, default=[1, 2])
    ap.add_argument("--one", nargs=2, metavar=("MODEL", "BLOCKS"), help=argparse.SUPPRESS)  # a child process
    args = ap.parse_args()

    rows = {r["model_id"]: r for r in csv.DictReader(open(args.list, encoding="utf-8"))}
    full = AuditSettings.from_preset(args.preset)
    dry = AuditSettings.from_preset(args.preset, n=args.n, probe="builtin")
    if args.one:
        print(json.dumps(measure_row(rows[args.one[0]], int(args.one[1]), dry)))
        return

    def child(model_id: str, blocks: int) -> dict:
        cmd = [sys.executable, __file__, "--list", args.list, "--preset", args.preset, "--n", str(args.n),
               "--one", model_id, str(blocks)]
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    print(f"preset {args.preset}: T = {full.T}, O = {full.output_probes}; dry run n = {args.n}, float32, CPU, "
          f"eager attention; GB = 1e9 bytes")
    print("| model | L | d | V | working GB at L = a, b | per block GB | extrapolated at L, n = 2 | "
          "estimate window_bytes | store at preset n | total estimate |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    for model_id in args.models:
        row = rows[model_id]
        a, b = args.blocks
        ma, mb = child(model_id, a), child(model_id, b)
        per_block = (mb["working"] - ma["working"]) / (b - a)
        L, d, V = int(row["num_hidden_layers"]), int(row["hidden_size"]), int(row["vocab_size"])
        extrapolated = ma["working"] + per_block * (L - a)
        block_params = (mb["weights"] - ma["weights"]) / (b - a) / 4
        estimate = window_bytes(full.T + 1, full.output_probes, L, d, int(block_params), V, 4)
        store = full.pair_store_bytes(d)
        print(f"| {model_id} | {L} | {d} | {V} | {ma['working'] / GB:.2f}, {mb['working'] / GB:.2f} | "
              f"{per_block / GB:.3f} | {extrapolated / GB:.1f} | {estimate / GB:.1f} | {store / GB:.1f} | "
              f"{(estimate + store) / GB:.1f} |", flush=True)


if __name__ == "__main__":
    main()
