"""Audit a real checkpoint next to a fresh initialisation of the same architecture, on the same windows.

    python scripts/real_vs_init.py smollm2 --preset cpu

The fresh model is built from the checkpoint's own config with its own initialiser (seeded) and the
same tokenizer, so both see identical windows and probes. Prints one table (probe loss, AOFE-ratio,
diagonal share D/F, NFA off-diagonal median, time, peak memory) — the check every change that touches
numbers is run with. Nothing is stored.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import statistics
import time

import torch
from transformers import AutoModelForCausalLM

from hf_interaction.audit import AuditSettings, load_for_audit, run_audit
from hf_interaction.loading import LoadedModel
from hf_interaction.shape import build_config


def _row(label: str, rec: dict, seconds: float) -> str:
    m = rec["metrics"]
    nfa = [layer["nfa_offdiag"] for layer in rec["layers"] if layer["nfa_offdiag"] is not None]
    ci = m["aofe_ratio_ci"] or [float("nan")] * 2
    dci = m.get("diag_share_ci") or [float("nan")] * 2
    return (f"| {label} | {m.get('probe_loss_nats_per_token', float('nan')):.3f} | {m['aofe_ratio']:.6f} "
            f"[{ci[0]:.6f}, {ci[1]:.6f}] | {m['d_hat'] / m['f_hat']:.2e} [{dci[0]:.2e}, {dci[1]:.2e}] | "
            f"{m.get('effective_rank', float('nan')):.3g} | "
            f"{statistics.median(nfa) if nfa else float('nan'):.3f} | {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--probe", default="builtin")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh initialisation")
    args = parser.parse_args()
    settings = AuditSettings.from_preset(args.preset, probe=args.probe)

    t0 = time.perf_counter()
    trained = load_for_audit(args.model, settings)
    rec = run_audit(trained, settings, show_progress=False).record
    t_trained = time.perf_counter() - t0

    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    fresh_model = AutoModelForCausalLM.from_config(build_config(trained.ref.config), attn_implementation="eager")
    fresh_ref = dataclasses.replace(trained.ref, model_id=f"{trained.ref.model_id} (fresh init, seed {args.seed})")
    fresh = LoadedModel(fresh_model.eval(), trained.tokenizer, fresh_ref, dict(trained.info))
    base = run_audit(fresh, settings, show_progress=False).record
    t_fresh = time.perf_counter() - t0
    assert base["probe"]["windows_sha256"] == rec["probe"]["windows_sha256"]

    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    weights = rec["provenance"]["weights"]
    print(f"{args.model}: preset {args.preset}, probe {args.probe}, bos {rec['probe']['bos']}, "
          f"weights {weights.get('format')} {weights.get('quantization') or ''}, "
          f"{torch.get_num_threads()} threads, peak RSS {peak_gb:.2f} GB (both runs)")
    print("| model | loss nats/token | AOFE-ratio [95% CI] | D/F [95% CI] | erank | NFA off-diag median "
          "| s (load + audit) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(_row("trained", rec, t_trained))
    print(_row("fresh init", base, t_fresh))


if __name__ == "__main__":
    main()
