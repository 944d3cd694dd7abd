"""One measurement of a model on its probe windows, as named steps: plan the window blocks (with the
memory plan), check the embedding path, scale f, build the accumulator, resume, accumulate, reduce
across processes, assemble the metrics.

Data parallel with Accelerate: windows go through the model in blocks of consecutive global
indices, the blocks are dealt to the processes, every process draws the same probes, and every
linear accumulator is summed across processes before any square or product, so 1 and N processes
agree up to summation order. Resume state is per process.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ..agop import AgopAccumulator, finalize, make_input_probes, make_output_probes
from ..agop.metrics import aofe_ratio
from ..agop.passes import JvpMethod, batched_backward_failure, forward_mode_failure
from ..core.runtime import Progress
from ..errors import InputError, NumericalError
from ..models.adapters import ModelParts, mlp_weights
from ..probe import ProbeWindows
from .device_memory import plan_memory
from .output_function import CAUSAL_LM, OUTPUT_FUNCTION_DOC, OutputFunction, ScaledOutput
from .preflight import check_embedding_path
from .settings import AuditSettings


@dataclass(frozen=True)
class MeasureOptions:
    """How a measurement runs, not what it measures: processes, resume state, batching, progress.
    ``with_nfa=False`` leaves the NFA correlations out (benchmarks that time the estimators alone)."""

    accelerator: Any = None
    resume_dir: str | Path | None = None
    save_every: int = 8
    probe_batch: int | None = None
    progress: bool = False
    with_nfa: bool = True

    @property
    def rank(self) -> int:
        return self.accelerator.process_index if self.accelerator is not None else 0

    @property
    def world(self) -> int:
        return self.accelerator.num_processes if self.accelerator is not None else 1


@dataclass
class BlockPlan:
    """The window blocks of one measurement: ``size`` windows per pass, this process's ``blocks``,
    ``probe_batch`` output probes per pass (None: all) and Hutchinson's ``diag_window_groups`` (0: no
    population cells); ``note`` says why when the audit cut the probes per pass."""

    size: int
    blocks: list[list[int]]
    probe_batch: int | None
    diag_window_groups: int
    note: str | None = None
    local: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.local = [i for block in self.blocks for i in block]


@dataclass
class Measurement:
    """The metric part of an audit record: ``metrics`` and ``layers`` (docs/schema.md), the notes
    the record carries, and the seconds the finalisation took (for ``runtime.finalize_s``)."""

    metrics: dict[str, Any]
    layers: list[dict[str, Any]]
    notes: list[str]
    finalize_s: float

    def record(self) -> dict[str, Any]:
        """The record's first keys, in the order records have always had them."""
        return {"metrics": self.metrics, "layers": self.layers, "notes": self.notes}


def measure(fn: OutputFunction, parts: ModelParts, windows: ProbeWindows, settings: AuditSettings, width: int,
            options: MeasureOptions, replicates: dict | None = None) -> Measurement:
    """Shard windows, accumulate, reduce, finalise. Returns the metric part of the record.

    ``width`` is the residual-stream width (the blocks' tensors), which may differ from E_eff's."""
    plan = plan_blocks(fn, parts, windows, settings, options)
    embedding_path_rel = check_embedding_path(fn, parts, windows.framed_ids[plan.local[0] if plan.local else 0])
    scale = scale_pass(fn, parts, windows, plan, options, embedding_path_rel)
    acc, U, R = build_accumulator(fn, parts, windows, settings, width, plan)
    state_file, done = resume(acc, settings, windows, plan, options)
    run = accumulate(acc, fn.scaled(scale.s), parts, windows, settings, plan, U, R, done, state_file, options)
    if options.world > 1:
        acc.all_reduce_(lambda t: options.accelerator.reduce(t, reduction="sum"))
    out = assemble(acc, fn, parts, windows, scale, run, options, replicates)
    if state_file is not None and state_file.exists():
        state_file.unlink()
    return out


def plan_blocks(fn: OutputFunction, parts: ModelParts, windows: ProbeWindows, settings: AuditSettings,
                options: MeasureOptions) -> BlockPlan:
    """Blocks of consecutive global window indices dealt to the processes, of the size the memory plan
    gives (device_memory.plan_memory): a pass's batch is then the same whatever the number of processes."""
    memory = plan_memory(settings, fn.prefix, windows.n, parts, options.probe_batch, options.accelerator)
    size = memory.windows
    blocks = [list(range(b, min(windows.n, b + size))) for b in range(0, windows.n, size)]
    return BlockPlan(size, blocks[options.rank::options.world], memory.probe_batch, memory.diag_window_groups,
                     memory.note)


@dataclass
class ScalePass:
    """One no-grad pass over this process's windows: the scale s of f (the RMS of the centred
    last-position outputs, over all processes), the probe-loss sums, and the embedding-path check."""

    s: float
    sums: dict[str, float]
    embedding_path_rel: float | None


def scale_pass(fn: OutputFunction, parts: ModelParts, windows: ProbeWindows, plan: BlockPlan,
               options: MeasureOptions, embedding_path_rel: float | None) -> ScalePass:
    framed = windows.framed_ids
    sums = _reduce_scalars(options.accelerator, _scale_and_loss(fn, framed[plan.local], batch=plan.size))
    s = math.sqrt(sums["sq"] / sums["count"])
    if not s > 0:
        raise NumericalError("the model's output is identically zero on the probe windows; nothing to measure")
    return ScalePass(s, sums, embedding_path_rel)


def build_accumulator(fn: OutputFunction, parts: ModelParts, windows: ProbeWindows, settings: AuditSettings,
                      width: int, plan: BlockPlan) -> tuple[AgopAccumulator, torch.Tensor | None, torch.Tensor]:
    """The accumulator and the probes (input probes U for Hutchinson only, output probes R); the memory
    plan has checked that they fit."""
    E_eff = parts.E_eff
    acc_device = E_eff.device
    V, d_embed = E_eff.shape
    out_dim = V if fn.kind == CAUSAL_LM else width  # an encoder's f is its last hidden state (length d)
    pairs = settings.f_estimator == "pairs"
    U = None if pairs else make_input_probes(settings.T, V, settings.input_probes, E_eff, settings.seed).to(E_eff.dtype)
    R = make_output_probes(out_dim, settings.output_probes, settings.seed).to(device=acc_device, dtype=E_eff.dtype)
    acc = AgopAccumulator(seq_len=settings.T, hidden_size=width, embed_size=d_embed, vocab_size=V,
                          n_layers=len(parts.blocks), input_probes=settings.input_probes,
                          output_probes=settings.output_probes, groups_per_half=settings.groups_per_half,
                          output_size=out_dim, window_groups=settings.window_groups,
                          diag_window_groups=plan.diag_window_groups,
                          cell_dtype=torch.float64 if settings.dtype == "float64" else torch.float32,
                          device=acc_device, pair_windows=windows.n if pairs else 0)
    return acc, U, R


def resume(acc: AgopAccumulator, settings: AuditSettings, windows: ProbeWindows, plan: BlockPlan,
           options: MeasureOptions) -> tuple[Path | None, list[int]]:
    """This process's resume file (None without ``--resume``) and the windows already in ``acc``,
    loaded from it when it exists and was made with the same settings, windows and blocks."""
    if not options.resume_dir:
        return None, []
    state_file = Path(options.resume_dir) / f"accumulator-rank{options.rank}.pt"
    if not state_file.is_file():
        return state_file, []
    saved = torch.load(state_file, map_location=acc.device, weights_only=True)
    if saved.get("key") != _resume_key(settings, windows, options.world):
        raise InputError(f"resume state {state_file} was made with other settings, windows or process count",
                         "delete it or point --resume at a fresh directory")
    acc.load_state_dict(saved["accumulator"])
    done = list(saved["done"])
    if any(set(b) & set(done) and not set(b) <= set(done) for b in plan.blocks):  # CUDA: sized by free memory
        raise InputError(f"resume state {state_file} was saved with other blocks of windows per pass (another "
                         "device or free memory)", "resume on the same device, or delete it")
    return state_file, done


@dataclass
class AccumulationRun:
    """What accumulating left besides the sums: the JVP method and output pass used, the notes, the timing."""

    jvp_method: str | None
    output_pass: str
    notes: list[str]
    seconds: float
    new_windows: int


def accumulate(acc: AgopAccumulator, f: ScaledOutput, parts: ModelParts, windows: ProbeWindows,
               settings: AuditSettings, plan: BlockPlan, U: torch.Tensor | None, R: torch.Tensor, done: list[int],
               state_file: Path | None, options: MeasureOptions) -> AccumulationRun:
    """Add every block of this process not yet in ``done`` to ``acc``, with progress and periodic saves."""
    E_eff, world = parts.E_eff, options.world
    ids = windows.input_ids.to(f.fn.input_device)  # one copy to an accelerator, not one per block
    notes: list[str] = list(parts.notes) + ([plan.note] if plan.note else [])
    jvp_method, one_forward = _capabilities(f, parts, ids, settings, U, R, notes)
    todo = [w for w in plan.local if w not in set(done)]
    t_start = time.perf_counter()
    with Progress(options.progress) as bar:
        task = bar.add(f"auditing ({world} process{'es' if world > 1 else ''})", len(plan.local) * world,
                       f"windows × {settings.input_probes + settings.output_probes} probes")
        bar.advance(task, len(done) * world)
        saved = len(done)
        for block in (b for b in plan.blocks if not set(b) <= set(done)):
            with torch.no_grad():
                e = parts.embedding(ids[block]).detach().to(E_eff.dtype)
            acc.add_windows(f, e, U, R, E_eff, probe_batch=plan.probe_batch, jvp_method=jvp_method or "forward",
                            window_indices=block, one_forward=one_forward)
            done.extend(block)
            bar.advance(task, len(block) * world)
            if state_file is not None and len(done) - saved >= options.save_every:
                _save_state(state_file, acc, done, _resume_key(settings, windows, world))
                saved = len(done)
    elapsed = time.perf_counter() - t_start
    return AccumulationRun(jvp_method, "one_forward" if one_forward else "copies", notes, elapsed, len(todo))


def _capabilities(f: ScaledOutput, parts: ModelParts, ids: torch.Tensor, settings: AuditSettings,
                  U: torch.Tensor | None, R: torch.Tensor, notes: list[str]) -> tuple[JvpMethod | None, bool]:
    """The JVP method (None for the pairs estimator, which forms no JVPs) and whether the output probes
    can share one forward, each checked on the first window before the run (agop/passes.py): a model
    without forward-mode formulas uses the double-backward JVP, one whose backward cannot be batched
    runs one forward per probe; both give the same numbers, slower, and the notes say so."""
    with torch.no_grad():
        e_i = parts.embedding(ids[:1]).detach().to(parts.E_eff.dtype)[0]  # ids: on the input device
    jvp_method: JvpMethod | None = None if settings.f_estimator == "pairs" else cast(JvpMethod, settings.jvp_method)
    if jvp_method == "forward" and U is not None and (why := forward_mode_failure(f, e_i, U)):
        notes.append(f"forward-mode JVP unavailable for this model ({why}); used the double-backward JVP "
                     "(same result, slower)")
        jvp_method = "double_backward"
    if batched_backward_failure(f, e_i, R, len(parts.blocks)):
        notes.append("the output probes ran as one forward per probe: this model's backward could not be batched "
                     "(same result, slower)")
        return jvp_method, False
    return jvp_method, True


def assemble(acc: AgopAccumulator, fn: OutputFunction, parts: ModelParts, windows: ProbeWindows, scale: ScalePass,
             run: AccumulationRun, options: MeasureOptions, replicates: dict | None) -> Measurement:
    """Finalise the (reduced) sums into the metric part of the record: metrics, layers, notes."""
    E_eff = parts.E_eff
    V, d_embed = E_eff.shape
    t_final = time.perf_counter()
    gram = acc.embedding_gram_of(E_eff)  # formed once: the population F already needed it
    weights = mlp_weights(parts) if options.with_nfa else [None] * len(parts.blocks)
    metrics = finalize(acc, gram, weights, E_eff=E_eff, replicates=replicates)
    finalize_s = time.perf_counter() - t_final
    layers = metrics.pop("layers")
    for layer, path in zip(layers, parts.mlp_paths, strict=True):
        layer["mlp_input"] = path
        if path is None and layer.get("nfa_note") is None:
            layer["nfa_note"] = "not available: MLP input projection not recognised for this architecture"
    metrics.update({
        "logit_scale": scale.s,
        "output_function": OUTPUT_FUNCTION_DOC[fn.kind],
        "embedding_gram_aofe_ratio": aofe_ratio(gram),
        "embedding_gram_init_reference": (d_embed - 1) / (float(V) + d_embed - 1),
        "embedding_scale": parts.embedding_scale,
        "embedding_path_rel_diff": scale.embedding_path_rel,
        "jvp_method": run.jvp_method,
        "output_pass": run.output_pass,
        "seconds_per_window": run.seconds / run.new_windows if run.new_windows else None,
    })
    if fn.kind == CAUSAL_LM:
        metrics["probe_loss_nats_per_token"] = scale.sums["nats"] / scale.sums["targets"]
        metrics["probe_loss_bits_per_byte"] = windows.bits_per_byte(scale.sums["nats"])
    notes = run.notes
    for note in (metrics.get("ci_note"), metrics["population"].get("note")):
        if note:
            notes.append(note)
    return Measurement(metrics, layers, notes, finalize_s)


def _scale_and_loss(fn: OutputFunction, windows: torch.Tensor, batch: int) -> dict[str, float]:
    """One no-grad pass over framed windows (prefix + T text tokens): sums for s (centred
    last-position outputs) and the next-token loss of text tokens 1..T-1 (never a prediction made at
    a prefix position)."""
    sq, count, nats, targets = 0.0, 0, 0.0, 0
    p = fn.prefix
    windows = windows.to(fn.input_device)  # one copy to an accelerator, not one per batch
    with torch.no_grad():
        for b0 in range(0, windows.shape[0], batch):
            ids = windows[b0:b0 + batch]
            if fn.kind == CAUSAL_LM:
                logits = fn.raw_output(input_ids=ids, full_logits=True).to(torch.float64)
                last = fn.centre(logits[:, -1, :])
                lp = torch.log_softmax(logits[:, p:-1, :], dim=-1)  # predicts text tokens 1..T-1
                tgt = ids[:, p + 1:].to(lp.device)
                nll = -lp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
                if not torch.isfinite(nll).all():
                    raise NumericalError("non-finite next-token loss on the probe windows (check the weights and "
                                         "--dtype)")
                nats += float(nll.sum())
                targets += tgt.numel()
            else:
                last = fn.raw_output(input_ids=ids).to(torch.float64)
            if not torch.isfinite(last).all():
                raise NumericalError("non-finite model outputs on the probe windows (check the weights and --dtype)")
            sq += float((last * last).sum())
            count += last.numel()
    return {"sq": sq, "count": count, "nats": nats, "targets": targets}


def _reduce_scalars(accelerator, values: dict[str, float]) -> dict[str, float]:
    if accelerator is None or accelerator.num_processes == 1:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=accelerator.device)
    t = accelerator.reduce(t, reduction="sum")
    return {k: float(v) for k, v in zip(keys, t.tolist(), strict=True)}


def _resume_key(settings: AuditSettings, windows: ProbeWindows, world: int) -> str:
    return f"{settings.cache_key(windows.corpus_sha256)}|{windows.windows_sha256}|{world}"


def _save_state(path: Path, acc: AgopAccumulator, done: list[int], key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    torch.save({"key": key, "done": done, "accumulator": acc.state_dict()}, tmp)
    tmp.replace(path)
