"""The whole audit against an independent re-implementation of the paper authors' estimator, side by
side on the same model, windows, probe counts and output function (issue 12).

The authors' algorithm, as described in issue 12 and docs/design.md §4.2 (written from that description, not
from their code): every probe is its own pass over a batch of all n windows; F̂ = mean_j ‖G z_j‖² with
G z_j = (1/n) Σᵢ Jᵢ(Jᵢᵀ z_j), the JVP Jᵢᵀ z_j by double backward (as ``torch.autograd.functional.jvp``) and
the VJP by one more backward; D̂ = ⟨d̂¹, d̂²⟩ from two halves of output probes, d̂ = mean_k (1/n) Σᵢ
(Jᵢ r_k)²; accumulation in float64; intervals by the percentile bootstrap over probes (2000 replicates).

Both sides are timed from load to result, with the load (the same loader, ``load_for_audit``) shown on
its own; precision is compared through the relative standard error of F (half the 95% interval over
1.96, over F) and the width of the AOFE-ratio interval. Our side is ``run_audit`` with its default
estimator (F from output-probe pairs, no input probes); ``--hutchinson`` adds our paper-estimator row.
The pass-equivalent floor is the probe work each algorithm cannot avoid: its count of forwards,
backwards and JVPs on one window times their measured unit costs.

Usage: python benchmarks/authors_side_by_side.py [smollm2|MODEL] [--T 32] [--n 8] [--I 4] [--O 8]
       [--ours-O O] [--hutchinson] [--device cuda]
MODEL may be a local checkpoint directory. ``--device`` puts both sides on one device (default:
the audit's choice, an accelerator where there is one); each side keeps torch's own float32 matmul
setting except that our audit uses its default ``--matmul-precision high`` (TF32 on CUDA).
Prints a short table; numbers are from one run on the machine it runs on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

Z95 = 1.959963984540054


def authors_estimator(fn, embeds: torch.Tensor, E: torch.Tensor, I: int, O: int, seed: int,  # noqa: E741
                      n_boot: int = 2000, window_chunk: int | None = None) -> dict:
    """F̂, D̂ and AOFE-ratio with bootstrap intervals; per-probe passes over all windows at once (or
    over chunks of ``window_chunk`` windows where all n do not fit the device's memory)."""
    from hf_interaction.agop import make_input_probes, make_output_probes

    n, T, _ = embeds.shape
    V = E.shape[0]
    E64 = E.detach().to(torch.float64)
    # The same probes as the audit (same seed and generator), so both sides estimate from the same
    # draws: only the algorithm and its cost differ.
    U = make_input_probes(T, V, I, E.detach(), seed).to(E.dtype)  # zⱼ E_eff, I×T×d
    R = make_output_probes(V, O, seed).to(device=E.device, dtype=E.dtype)

    def f(e: torch.Tensor) -> torch.Tensor:
        return fn(e).f

    def input_space(grad_e: torch.Tensor) -> torch.Tensor:  # n×T×d (∂/∂e) → n×T×V (∂/∂q = ∂/∂e · Eᵀ)
        return grad_e.to(torch.float64) @ E64.T

    step = window_chunk or n
    chunks = [slice(c0, min(n, c0 + step)) for c0 in range(0, n, step)]
    F_j = []
    for j in range(I):
        Gz = torch.zeros(T, V, dtype=torch.float64, device=E.device)
        for c in chunks:  # windows in chunks only to fit memory (the sums are the same)
            x = embeds[c].clone().requires_grad_(True)
            out = f(x)
            tangent = U[j].expand(x.shape[0], T, -1).contiguous()
            # Double-backward JVP (what torch.autograd.functional.jvp does, here sharing the forward with
            # the VJP below, one forward fewer than calling it: favourable to the authors' side).
            u = torch.zeros_like(out, requires_grad=True)
            (vjp_u,) = torch.autograd.grad(out, x, grad_outputs=u, create_graph=True)
            (jz,) = torch.autograd.grad(vjp_u, u, grad_outputs=tangent, retain_graph=True)
            (grad_e,) = torch.autograd.grad(out, x, grad_outputs=jz.detach())
            Gz += input_space(grad_e).sum(0)
        F_j.append(float((Gz / n).pow(2).sum()))
    d_k = []
    for k in range(O):
        r = R[k]
        d = torch.zeros(T * V, dtype=torch.float64, device=E.device)
        for c in chunks:
            x = embeds[c].clone().requires_grad_(True)
            out = f(x)
            (grad_e,) = torch.autograd.grad(out, x, grad_outputs=r.expand(x.shape[0], V).contiguous())
            d += input_space(grad_e).pow(2).sum(0).flatten()
        d_k.append(d / n)
    half = O // 2
    first, second = torch.stack(d_k[:half]), torch.stack(d_k[half:])
    cross = (first @ second.T).cpu().numpy()  # ⟨d_a, d_b⟩ for a in half 1, b in half 2: D̂ of any resample
    F = np.array(F_j)
    f_hat, d_hat = float(F.mean()), float(cross.mean())
    rng = np.random.default_rng(seed)
    f_boot = F[rng.integers(0, I, (n_boot, I))].mean(1)
    wa = np.stack([np.bincount(row, minlength=half) for row in rng.integers(0, half, (n_boot, half))]) / half
    wb = np.stack([np.bincount(row, minlength=half) for row in rng.integers(0, half, (n_boot, half))]) / half
    d_boot = np.einsum("ba,ac,bc->b", wa, cross, wb)
    ratio_boot = (f_boot - d_boot) / f_boot
    return {"f": f_hat, "f_se": float(F.std(ddof=1) / np.sqrt(I)), "f_ci": list(np.percentile(f_boot, [2.5, 97.5])),
            "d": d_hat,
            "aofe_ratio": (f_hat - d_hat) / f_hat, "aofe_ratio_ci": list(np.percentile(ratio_boot, [2.5, 97.5]))}


def precision(metrics: dict) -> tuple[float, float]:
    """(relative standard error of F, width of the AOFE-ratio interval). The standard error is each
    side's own over its probes (ours: the delete-one jackknife; theirs: sd/√I of the per-probe Fⱼ), so
    the comparison does not depend on how either side turns it into an interval."""
    ratio_ci = metrics.get("aofe_ratio_ci") or [float("nan")] * 2
    if metrics.get("f_se") is not None:
        return metrics["f_se"] / metrics["f"], ratio_ci[1] - ratio_ci[0]
    lo, hi = metrics["f_ci"]
    return (hi - lo) / (2 * Z95) / metrics["f"], ratio_ci[1] - ratio_ci[0]


#: Windows per pass of the authors' algorithm on a GPU: all 128 paper-preset windows of the SmolLM2
#: shape in one pass ran out of an H200's 140 GB (their T×V float64 gradients alone are 13 GB).
WINDOW_CHUNK = 16
#: ``--device`` of this process (None: the audit's own choice).
DEVICE: str | None = None


def load(model: str, settings) -> tuple[object, object, float]:
    """Resolve and load the model as the audit does: (ref, loaded, seconds)."""
    from hf_interaction.audit.run import load_for_audit
    from hf_interaction.models.source import resolve_model

    t0 = time.perf_counter()
    ref = resolve_model(model)
    loaded = load_for_audit(ref, settings, device=DEVICE)
    return ref, loaded, time.perf_counter() - t0


def prepare(ref, loaded, settings, seed: int):
    """The audit's windows, output function (with its scale s) and window embeddings."""
    from hf_interaction.audit.measure import _scale_and_loss
    from hf_interaction.audit.output_function import OutputFunction
    from hf_interaction.audit.run import _model_kind
    from hf_interaction.models.adapters import find_parts
    from hf_interaction.probe import load_corpus_text, make_windows
    from hf_interaction.shape.config import shape_from_config

    net = loaded.model
    net.requires_grad_(False)
    parts = find_parts(net, shape_from_config(ref.config, ref.model_id)["depth"])
    windows = make_windows(load_corpus_text(settings.probe), loaded.tokenizer, settings.T, settings.n, seed)
    fn = OutputFunction(net, parts, _model_kind(ref), windows.prefix_ids)
    sums = _scale_and_loss(fn, windows.framed_ids, windows.n)  # the same s as the audit: RMS of f's logits
    with torch.no_grad():
        # n×T×d; fn frames them (prefix) itself
        embeds = parts.embedding(windows.input_ids.to(fn.input_device)).detach()
    return parts, fn.scaled((sums["sq"] / sums["count"]) ** 0.5), embeds


def run_authors(model: str, settings, seed: int) -> tuple[dict, float, float]:
    """Load, cut the same windows, fix the same scale s, run the authors' estimator:
    (metrics, load seconds, seconds after the load)."""
    ref, loaded, t_load = load(model, settings)
    t0 = time.perf_counter()
    parts, fn, embeds = prepare(ref, loaded, settings, seed)
    chunk = WINDOW_CHUNK if embeds.device.type == "cuda" else None
    metrics = authors_estimator(fn, embeds, parts.E_eff, settings.input_probes, settings.output_probes, seed,
                                window_chunk=chunk)
    fn.fn.close()
    return metrics, t_load, time.perf_counter() - t0


def run_ours(model: str, settings) -> tuple[dict, float, float]:
    """``run_audit`` as a user runs it, with its load timed on its own: (record, load s, rest s)."""
    from hf_interaction.audit.run import run_audit

    ref, loaded, t_load = load(model, settings)
    t0 = time.perf_counter()
    record = run_audit(loaded, settings, store=None, show_progress=False, use_accelerate=False).record
    return record, t_load, time.perf_counter() - t0


def pass_floor(model: str, settings, I: int, O: int, seed: int) -> dict[str, float]:  # noqa: E741
    """Unit costs on one window (median of 3): a forward with its graph, one backward (one probe),
    a double-backward JVP; and the probe work each algorithm cannot avoid at these counts, in seconds:
    pairs n·(forward + O backwards); authors' n·(I·(forward + JVP + backward) + O·(forward + backward))."""
    ref, loaded, _ = load(model, settings)
    parts, fn, embeds = prepare(ref, loaded, settings, seed)
    e = embeds[:1].clone().requires_grad_(True)
    r = torch.ones(1, fn(e).f.shape[-1], dtype=e.dtype, device=e.device)

    def median(job) -> float:
        job()
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            job()
            times.append(time.perf_counter() - t0)
        return sorted(times)[1]

    t_fwd = median(lambda: fn(e))
    out = fn(e)
    t_bwd = median(lambda: torch.autograd.grad(out.f, e, grad_outputs=r, retain_graph=True))

    def jvp() -> None:
        o = fn(e)
        u = torch.zeros_like(o.f, requires_grad=True)
        (g,) = torch.autograd.grad(o.f, e, grad_outputs=u, create_graph=True)
        torch.autograd.grad(g, u, grad_outputs=torch.ones_like(e))

    t_jvp = median(jvp) - t_fwd  # the double-backward JVP beyond its forward
    fn.fn.close()
    n = settings.n
    return {"forward": t_fwd, "backward": t_bwd, "jvp": t_jvp, "pairs": n * (t_fwd + O * t_bwd),
            "authors": n * (I * (t_fwd + t_jvp + t_bwd) + O * (t_fwd + t_bwd))}


SIDES = ("ours", "hutchinson", "authors", "authors-stock-load", "floor")


def run_side(side: str, args) -> dict:
    """One side in this (fresh) process: its timings and metrics as a JSON-ready dict."""
    from hf_interaction.audit.settings import AuditSettings

    def settings(**kw) -> AuditSettings:
        return AuditSettings(T=args.T, n=args.n, seed=args.seed, probe="builtin", **kw)

    ours_O = args.ours_O or args.O
    hutchinson = settings(input_probes=args.I, output_probes=args.O, f_estimator="hutchinson")
    if side == "ours":
        record, t_load, t_rest = run_ours(args.model, settings(output_probes=ours_O, f_estimator="pairs"))
        return {"load": t_load, "rest": t_rest, "metrics": record["metrics"]}
    if side == "hutchinson":
        record, t_load, t_rest = run_ours(args.model, hutchinson)
        return {"load": t_load, "rest": t_rest, "metrics": record["metrics"]}
    if side in ("authors", "authors-stock-load"):
        if side == "authors-stock-load":  # transformers' own GGUF loading, as the authors' code would load
            import hf_interaction.models.gguf.load as gguf_load

            gguf_load.FAST_ARCHITECTURES = frozenset()
        metrics, t_load, t_rest = run_authors(args.model, hutchinson, args.seed)
        return {"load": t_load, "rest": t_rest, "metrics": metrics}
    return pass_floor(args.model, settings(output_probes=ours_O), args.I, args.O, args.seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?", default="smollm2")
    ap.add_argument("--T", type=int, default=32)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--I", type=int, default=4, help="input probes (the authors' side; ours with --hutchinson)")
    ap.add_argument("--O", type=int, default=8, help="output probes (both sides)")
    ap.add_argument("--ours-O", type=int, default=None, help="output probes of our default (default: --O)")
    ap.add_argument("--hutchinson", action="store_true", help="also time our audit with --f-estimator hutchinson")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="e.g. cuda or cpu (default: the audit's choice)")
    ap.add_argument("--side", choices=SIDES, default=None, help=argparse.SUPPRESS)  # one side, in a child
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    global DEVICE
    DEVICE = args.device
    if args.side:
        print("RESULT " + json.dumps(run_side(args.side, args)))
        return

    results = {}
    for side in SIDES:
        if side == "hutchinson" and not args.hutchinson:
            continue
        # Each side in a fresh process: imports, file parses and caches are paid by every side alike.
        t0 = time.perf_counter()
        child = subprocess.run([sys.executable, __file__, *sys.argv[1:], "--side", side], capture_output=True,
                               text=True, check=False)
        lines = [line for line in child.stdout.splitlines() if line.startswith("RESULT ")]
        if child.returncode or not lines:
            sys.exit(f"the {side} run failed:\n{child.stderr[-3000:]}")
        results[side] = {**json.loads(lines[-1][7:]), "process": time.perf_counter() - t0}

    ours_O = args.ours_O or args.O
    names = {"ours": f"hf-interaction (pairs, O={ours_O})", "hutchinson": f"hf-interaction (hutchinson, I={args.I})",
             "authors": f"authors' algorithm (I={args.I}, O={args.O})",
             "authors-stock-load": "authors', transformers' GGUF load"}
    print(f"{args.model}: T={args.T}, n={args.n}, builtin probe corpus, {args.threads} torch threads, eager attention, "
          "one run each, each in a fresh process")
    print(f"{'estimator':<36}{'load s':>7}{'rest s':>7}{'whole':>7}{'proc s':>7}{'F':>10}{'rel SE F':>9}"
          f"{'AOFE-ratio':>11}{'CI width':>9}")
    for side, name in names.items():
        if side not in results:
            continue
        r, m = results[side], results[side]["metrics"]
        se, width = precision(m)
        print(f"{name:<36}{r['load']:>7.1f}{r['rest']:>7.1f}{r['load'] + r['rest']:>7.1f}{r['process']:>7.1f}"
              f"{m['f']:>10.4g}{se:>9.3f}{m['aofe_ratio']:>11.6f}{width:>9.2e}")
    ours, auth, stock = results["ours"], results["authors"], results["authors-stock-load"]
    se_ours, se_auth = precision(ours["metrics"])[0], precision(auth["metrics"])[0]
    print(f"speed ratio, authors / ours: after the load {auth['rest'] / ours['rest']:.2f}x; load to result, same "
          f"loader {(auth['load'] + auth['rest']) / (ours['load'] + ours['rest']):.2f}x, authors with transformers' "
          f"GGUF load {(stock['load'] + stock['rest']) / (ours['load'] + ours['rest']):.2f}x; whole processes "
          f"{stock['process'] / ours['process']:.2f}x")
    print(f"rel SE of F, ours / theirs: {se_ours / se_auth:.2f} (equal precision: <= 1.25)")
    floor = results["floor"]
    print(f"pass-equivalent floor (one window: forward {floor['forward']:.3f} s, backward {floor['backward']:.3f} s, "
          f"JVP {floor['jvp']:.3f} s): pairs {floor['pairs']:.1f} s, authors {floor['authors']:.1f} s "
          f"({floor['authors'] / floor['pairs']:.2f}x)")


if __name__ == "__main__":
    main()
