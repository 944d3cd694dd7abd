"""Benchmark of the audit's per-window estimator work (docs/design.md §4.2–4.4).

Measures, on a fixed small Llama-style model (random weights; speed does not depend on training):

- wall time per window, tokens/s and peak memory of the fused estimator (`add_window`: one batched
  forward-mode JVP pass + one backward for the I input probes, one batched forward + one backward for
  the O output probes);
- the minimum the probe counts require, from measured unit costs: one forward (t_f), I JVPs (tangent
  propagation only, t_jvp = dual forward − primal forward) and I+O VJPs (t_vjp, one backward each),
  so measured/minimum says how close the implementation is to the work it cannot avoid;
- the same window through the straightforward implementation (`add_window_naive`: a fresh forward
  per probe, double-backward JVP), and the speed-up.

Usage: python benchmarks/audit_bench.py [--device cpu|cuda] [--T 64] [--I 16] [--O 32] [--windows 2]
Prints a short table; numbers are from one run on the machine it runs on.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

import torch
from torch.autograd import forward_ad as fwAD


def build_model(device: str, d: int, layers: int, vocab: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    from hf_interaction.audit.output_function import CAUSAL_LM, OutputFunction
    from hf_interaction.models.adapters import find_parts

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=d, intermediate_size=4 * d, num_hidden_layers=layers,
                      num_attention_heads=max(1, d // 64), num_key_value_heads=max(1, d // 64),
                      max_position_embeddings=2048, attn_implementation="eager")
    model = LlamaForCausalLM(cfg).to(device).eval()
    model.requires_grad_(False)
    parts = find_parts(model, layers)
    fn = OutputFunction(model, parts, CAUSAL_LM)
    return model, parts, fn


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def unit_costs(fn, e: torch.Tensor, device: str) -> dict[str, float]:
    """t_f, t_jvp (tangent part of a dual forward) and t_vjp for one window (batch 1)."""
    x = e.unsqueeze(0).clone().requires_grad_(True)
    u = torch.randn_like(x)
    r = torch.randn(fn(x).f.shape, device=e.device)

    def forward():
        fn(x)

    def dual_forward():
        with fwAD.dual_level():
            fwAD.unpack_dual(fn(fwAD.make_dual(x, u)).f)

    out = fn(x)

    def backward():
        torch.autograd.grad(out.f, x, grad_outputs=r, retain_graph=True)

    t_f = timed(forward, device)
    t_dual = timed(dual_forward, device)
    t_vjp = timed(backward, device)
    return {"t_f": t_f, "t_jvp": max(t_dual - t_f, 0.0), "t_vjp": t_vjp}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--d", type=int, default=256, help="model width")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--T", type=int, default=64)
    ap.add_argument("--I", type=int, default=16, help="input probes")
    ap.add_argument("--O", type=int, default=32, help="output probes")
    ap.add_argument("--windows", type=int, default=2)
    ap.add_argument("--skip-naive", action="store_true")
    args = ap.parse_args()

    from hf_interaction.agop import AgopAccumulator, make_input_probes, make_output_probes

    dev = args.device
    model, parts, fn = build_model(dev, args.d, args.layers, args.vocab)
    E = parts.E_eff
    V, d = E.shape
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, V, (args.windows, args.T), generator=g).to(dev)
    with torch.no_grad():
        embeds = [parts.embedding(ids[i]).detach() for i in range(args.windows)]
        fn = fn.scaled(float(fn.centre(fn.raw_output(input_ids=ids)).pow(2).mean().sqrt()))
    U = make_input_probes(args.T, V, args.I, E, 42).to(E.dtype)
    R = make_output_probes(V, args.O, 42).to(device=dev, dtype=E.dtype)

    def new_acc():
        return AgopAccumulator(seq_len=args.T, hidden_size=d, vocab_size=V, n_layers=args.layers,
                               input_probes=args.I, output_probes=args.O, device=dev)

    costs = unit_costs(fn, embeds[0], dev)
    minimum = costs["t_f"] + args.I * costs["t_jvp"] + (args.I + args.O) * costs["t_vjp"]
    pass_unit = costs["t_f"] + costs["t_vjp"]  # one forward+backward pass of one window

    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fused_by_method = {}
    for method in ("forward", "double_backward"):
        acc = new_acc()
        acc.add_window(fn, embeds[0], U, R, E, jvp_method=method)  # warm-up
        _sync(dev)
        t0 = time.perf_counter()
        for e in embeds:
            acc.add_window(fn, e, U, R, E, jvp_method=method)
        _sync(dev)
        fused_by_method[method] = (time.perf_counter() - t0) / args.windows
    fused = fused_by_method["forward"]
    peak = (torch.cuda.max_memory_allocated() / 2**20 if dev.startswith("cuda")
            else (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024)

    naive = None
    if not args.skip_naive:
        acc_n = new_acc()
        _sync(dev)
        t0 = time.perf_counter()
        acc_n.add_window_naive(fn, embeds[0], U, R, E)
        _sync(dev)
        naive = time.perf_counter() - t0

    params = sum(p.numel() for p in model.parameters())
    print(f"model: Llama d={d} L={args.layers} V={V} ({params / 1e6:.1f}M params), T={args.T}, "
          f"I={args.I}, O={args.O}, device={dev}, torch threads={torch.get_num_threads()}")
    print(f"unit costs per window: forward {costs['t_f'] * 1e3:.1f} ms, JVP tangent {costs['t_jvp'] * 1e3:.1f} ms, "
          f"VJP {costs['t_vjp'] * 1e3:.1f} ms")
    rows = [
        ("minimum (1 fwd + I JVP + (I+O) VJP)", minimum),
        ("fused estimator, forward-mode JVP (the default)", fused),
        ("fused estimator, double-backward JVP", fused_by_method["double_backward"]),
    ]
    if naive is not None:
        rows.append(("straightforward (fresh fwd per probe, double-backward JVP)", naive))
    print(f"{'implementation':<62}{'s/window':>10}{'fwd+bwd passes':>16}{'tokens/s':>10}{'vs minimum':>12}")
    for name, t in rows:
        print(f"{name:<62}{t:>10.3f}{t / pass_unit:>16.1f}{args.T / t:>10.0f}{t / minimum:>12.2f}")
    if naive is not None:
        print(f"speed-up of the fused estimator over the straightforward one: {naive / fused:.2f}x")
    kind = 'CUDA allocated' if dev.startswith('cuda') else 'RSS growth'
    print(f"peak memory during the fused windows: {peak:.0f} MiB ({kind})")


if __name__ == "__main__":
    main()
