"""The whole audit against an independent re-implementation of the paper authors' estimator, side by
side on the same model, windows, probe counts and output function (issue 12).

The authors' algorithm, as described in issue 12 and DESIGN §4.2 (written from that description, not
from their code): every probe is its own pass over a batch of all n windows; F̂ = mean_j ‖G z_j‖² with
G z_j = (1/n) Σᵢ Jᵢ(Jᵢᵀ z_j), the JVP Jᵢᵀ z_j by double backward (as ``torch.autograd.functional.jvp``) and
the VJP by one more backward; D̂ = ⟨d̂¹, d̂²⟩ from two halves of output probes, d̂ = mean_k (1/n) Σᵢ
(Jᵢ r_k)²; accumulation in float64; intervals by the percentile bootstrap over probes (2000 replicates).

Both sides are timed from load to result; precision is compared through the relative standard
error of F (half the 95% interval over 1.96, over F) and the width of the AOFE-ratio interval.

Usage: python benchmarks/authors_side_by_side.py [smollm2|MODEL] [--T 32] [--n 8] [--I 4] [--O 8]
Prints a short table; numbers are from one run on the machine it runs on.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

Z95 = 1.959963984540054


def authors_estimator(fn, embeds: torch.Tensor, E: torch.Tensor, I: int, O: int, seed: int,  # noqa: E741
                      n_boot: int = 2000) -> dict:
    """F̂, D̂ and AOFE-ratio with bootstrap intervals; per-probe passes over all windows at once."""
    from hf_interaction.agop import make_input_probes, make_output_probes

    n, T, _ = embeds.shape
    V = E.shape[0]
    E64 = E.detach().to(torch.float64)
    # The same probes as the audit (same seed and generator), so both sides estimate from the same
    # draws: only the algorithm and its cost differ.
    U = make_input_probes(T, V, I, E.detach(), seed).to(E.dtype)  # zⱼ E_eff, I×T×d
    R = make_output_probes(V, O, seed).to(E.dtype)

    def f(e: torch.Tensor) -> torch.Tensor:
        return fn(e).f

    def input_space(grad_e: torch.Tensor) -> torch.Tensor:  # n×T×d (∂/∂e) → n×T×V (∂/∂q = ∂/∂e · Eᵀ)
        return grad_e.to(torch.float64) @ E64.T

    F_j = []
    for j in range(I):
        tangent = U[j].expand(n, T, -1).contiguous()
        x = embeds.clone().requires_grad_(True)
        out = f(x)
        # Double-backward JVP (what torch.autograd.functional.jvp does, here sharing the forward with
        # the VJP below, one forward fewer than calling it: favourable to the authors' side).
        u = torch.zeros_like(out, requires_grad=True)
        (vjp_u,) = torch.autograd.grad(out, x, grad_outputs=u, create_graph=True)
        (jz,) = torch.autograd.grad(vjp_u, u, grad_outputs=tangent, retain_graph=True)
        (grad_e,) = torch.autograd.grad(out, x, grad_outputs=jz.detach())
        Gz = input_space(grad_e).mean(0)
        F_j.append(float(Gz.pow(2).sum()))
    d_k = []
    for k in range(O):
        r = R[k]
        x = embeds.clone().requires_grad_(True)
        out = f(x)
        (grad_e,) = torch.autograd.grad(out, x, grad_outputs=r.expand(n, V).contiguous())
        d_k.append(input_space(grad_e).pow(2).mean(0).flatten())
    half = O // 2
    first, second = torch.stack(d_k[:half]), torch.stack(d_k[half:])
    cross = (first @ second.T).numpy()  # ⟨d_a, d_b⟩ for a in half 1, b in half 2: D̂ of any resample
    F = np.array(F_j)
    f_hat, d_hat = float(F.mean()), float(cross.mean())
    rng = np.random.default_rng(seed)
    f_boot = F[rng.integers(0, I, (n_boot, I))].mean(1)
    wa = np.stack([np.bincount(row, minlength=half) for row in rng.integers(0, half, (n_boot, half))]) / half
    wb = np.stack([np.bincount(row, minlength=half) for row in rng.integers(0, half, (n_boot, half))]) / half
    d_boot = np.einsum("ba,ac,bc->b", wa, cross, wb)
    ratio_boot = (f_boot - d_boot) / f_boot
    return {"f_hat": f_hat, "f_ci": list(np.percentile(f_boot, [2.5, 97.5])), "d_hat": d_hat,
            "aofe_ratio": (f_hat - d_hat) / f_hat, "aofe_ratio_ci": list(np.percentile(ratio_boot, [2.5, 97.5]))}


def precision(metrics: dict) -> tuple[float, float]:
    """(relative SE of F from its 95% interval, width of the AOFE-ratio interval)."""
    lo, hi = metrics["f_ci"]
    ratio_ci = metrics.get("aofe_ratio_ci") or [float("nan")] * 2
    return (hi - lo) / (2 * Z95) / metrics["f_hat"], ratio_ci[1] - ratio_ci[0]


def run_authors(model: str, settings, seed: int) -> tuple[dict, float]:
    """Load, cut the same windows, fix the same scale s, run the authors' estimator: (metrics, seconds)."""
    from hf_interaction.adapters import find_parts
    from hf_interaction.audit import _model_kind, _scale_and_loss, load_for_audit
    from hf_interaction.model_function import OutputFunction
    from hf_interaction.probe import load_corpus_text, make_windows
    from hf_interaction.shape import shape_from_config
    from hf_interaction.source import resolve_model

    t0 = time.perf_counter()
    ref = resolve_model(model)
    loaded = load_for_audit(ref, settings)
    net = loaded.model
    net.requires_grad_(False)
    parts = find_parts(net, shape_from_config(ref.config, ref.model_id)["depth"])
    windows = make_windows(load_corpus_text(settings.probe), loaded.tokenizer, settings.T, settings.n, seed)
    fn = OutputFunction(net, parts, _model_kind(ref), windows.prefix_ids)
    ids = windows.input_ids
    sums = _scale_and_loss(fn, windows.framed_ids, windows.n)  # the same s as the audit: RMS of f's logits
    fn.scale = (sums["sq"] / sums["count"]) ** 0.5
    with torch.no_grad():
        embeds = parts.embedding(ids).detach()  # n×T×d; fn frames them (prefix) itself
    metrics = authors_estimator(fn, embeds, parts.E_eff, settings.input_probes, settings.output_probes, seed)
    fn.close()
    return metrics, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="smollm2")
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--I", type=int, default=4, help="input probes (both sides)")
    ap.add_argument("--O", type=int, default=8, help="output probes (both sides)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from hf_interaction.audit import run_audit
    from hf_interaction.audit_settings import AuditSettings

    settings = AuditSettings(T=args.T, n=args.n, input_probes=args.I, output_probes=args.O, seed=args.seed,
                             probe="builtin")
    t0 = time.perf_counter()
    ours = run_audit(args.model, settings, store=None, show_progress=False, use_accelerate=False).record
    t_ours = time.perf_counter() - t0
    theirs, t_theirs = run_authors(args.model, settings, args.seed)

    print(f"{args.model}: T={args.T}, n={args.n}, I={args.I}, O={args.O}, builtin probe corpus, "
          f"{torch.get_num_threads()} torch threads, eager attention, one run each")
    print(f"{'estimator':<34}{'wall s':>8}{'F':>12}{'rel SE F':>10}{'AOFE-ratio':>12}{'CI width':>10}")
    rows = [("hf-interaction run_audit (default)", t_ours, ours["metrics"]), ("authors' algorithm", t_theirs, theirs)]
    for name, t, m in rows:
        se, width = precision(m)
        print(f"{name:<34}{t:>8.1f}{m['f_hat']:>12.4g}{se:>10.3f}{m['aofe_ratio']:>12.6f}{width:>10.2e}")
    se_ours, se_theirs = precision(ours["metrics"])[0], precision(theirs)[0]
    print(f"speed ratio (authors / ours): {t_theirs / t_ours:.2f}x; rel SE of F, ours / theirs: "
          f"{se_ours / se_theirs:.2f} (equal precision needs <= 1.25)")


if __name__ == "__main__":
    main()
