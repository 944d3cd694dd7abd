"""``audit``: load a model, run the interaction estimators of docs/design.md §4 over probe windows, return a
provenance-carrying result (docs/design.md §5–§6).

Data parallel with Accelerate: windows are sharded across processes (window i goes to process
i mod N), every process draws the same probes, and every linear accumulator is summed across
processes before any square or product, so 1 and N processes agree up to summation order. Only the
main process writes (store, files, resume state is per process).
"""

from __future__ import annotations

import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import cast

import torch

from .adapters import find_parts, mlp_weights
from .agop import AgopAccumulator, finalize, make_input_probes, make_output_probes
from .agop.metrics import aofe_ratio
from .agop.passes import JvpMethod
from .audit_settings import (  # noqa: F401 (re-exported)
    DIAG_MEMORY_BUDGET,
    PAIR_MEMORY_BUDGET,
    AuditSettings,
    default_settings,
)
from .errors import InputError, NumericalError
from .interval import DEFAULT_INTERVAL, Interval
from .loading import LoadedModel, load_model
from .model_function import CAUSAL_LM, ENCODER, OUTPUT_FUNCTION_DOC, OutputFunction
from .preflight import check_embedding_path, check_widths
from .probe import ProbeWindows, load_corpus_text, make_windows
from .runtime import Progress, gpu_peak_gb, make_accelerator, matmul_precision, record_header
from .shape import ENCODER_TYPES, shape_from_config, text_config_dict
from .source import ModelRef, resolve_model
from .store import Store


@dataclass
class AuditResult:
    """An audit's full record (JSON-ready ``record``) and whether it came from the store."""

    record: dict
    from_store: bool = False

    @property
    def metrics(self) -> dict:
        return self.record["metrics"]

    @property
    def layers(self) -> list[dict]:
        return self.record["layers"]

    def to_frame(self):
        """The per-layer profile as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.layers)


def _model_kind(ref: ModelRef) -> str:
    cfg = text_config_dict(ref.config)
    archs = cfg.get("architectures") or []
    if cfg.get("model_type") in ENCODER_TYPES or (archs and not any("CausalLM" in a or "LMHead" in a for a in archs)
                                                  and cfg.get("model_type") in ENCODER_TYPES):
        return ENCODER
    return CAUSAL_LM


def _scale_and_loss(fn: OutputFunction, windows: torch.Tensor, batch: int) -> dict[str, float]:
    """One no-grad pass over framed windows (prefix + T text tokens): sums for s (centred
    last-position outputs) and the next-token loss of text tokens 1..T-1 (never a prediction made at
    a prefix position)."""
    sq, count, nats, targets = 0.0, 0, 0.0, 0
    p = fn.prefix
    with torch.no_grad():
        for b0 in range(0, windows.shape[0], batch):
            ids = windows[b0:b0 + batch].to(fn.input_device)
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


def _resume_path(resume_dir: Path, rank: int) -> Path:
    return resume_dir / f"accumulator-rank{rank}.pt"


def run_audit(
    model: str | ModelRef | LoadedModel,
    settings: AuditSettings | None = None,
    *,
    interval: Interval = DEFAULT_INTERVAL,
    store: Store | None = None,
    force: bool = False,
    out_dir: str | Path | None = None,
    resume_dir: str | Path | None = None,
    save_every: int = 8,
    probe_batch: int | None = None,
    device: str | None = None,
    device_map: str | None = None,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
    use_accelerate: bool = True,
    show_progress: bool = True,
    matmul: str = "high",
) -> AuditResult:
    """Audit one model. ``model`` is a spec (Hub id[@rev], local dir, ``demo``), a resolved ModelRef,
    or an already loaded model (so ``audit --eval`` loads once). ``settings``: None for the model's
    defaults (:func:`~hf_interaction.audit_settings.default_settings`: ``cpu`` and the offline corpus for
    ``smollm2``, ``demo`` for the demo models, else ``paper`` on wikitext). ``matmul``: the float32
    matmul precision on CUDA (runtime.matmul_precision): "high" (TF32) or "highest"."""
    if settings is not None:
        settings.validate()  # before resolving: bad settings fail without reaching the Hub
    loaded = model if isinstance(model, LoadedModel) else None
    if isinstance(model, LoadedModel):
        ref = model.ref
    else:
        ref = model if isinstance(model, ModelRef) else resolve_model(model)
    settings = settings if settings is not None else default_settings(ref)
    settings = settings.resolve_groups(text_config_dict(ref.config).get("vocab_size") or 1).resolve_estimator()
    corpus = load_corpus_text(settings.probe)
    key = settings.cache_key(corpus.sha256)
    accelerator = make_accelerator(device) if use_accelerate and device_map is None else None
    is_main = accelerator is None or accelerator.is_main_process
    if store is not None and not force:
        hit = store.get("audits", ref.model_id, ref.resolved_revision, key)
        if hit is not None:
            if out_dir is not None and is_main:
                from .audit_output import write_audit_files

                write_audit_files(hit.payload, Path(out_dir))
            return AuditResult(hit.payload, from_store=True)

    t0 = time.perf_counter()
    kind = _model_kind(ref)
    if loaded is None:
        loaded = load_for_audit(ref, settings, device=device, device_map=device_map, allow_pickle=allow_pickle,
                                trust_remote_code=trust_remote_code, accelerator=accelerator)
    load_s = time.perf_counter() - t0 if model is not loaded else None
    net = loaded.model
    net.requires_grad_(False)
    shape = shape_from_config(ref.config, ref.model_id, interval)
    parts = find_parts(net, shape["depth"])
    check_widths(parts, shape["width"])
    windows = make_windows(corpus, loaded.tokenizer, settings.T, settings.n, settings.seed)
    fn = OutputFunction(net, parts, kind, windows.prefix_ids)
    trained_replicates: dict = {}
    on_cuda = any(p.device.type == "cuda" for p in net.parameters())
    with matmul_precision(matmul, "cuda" if on_cuda else "cpu", settings.dtype) as precision:
        try:
            record = _measure(fn, parts, windows, settings, shape["width"], accelerator, resume_dir, save_every,
                              probe_batch, show_progress and is_main, trained_replicates)
        finally:
            fn.close()
        if settings.baseline == "init":
            _measure_baseline(record, net, kind, windows, settings, shape, accelerator, probe_batch,
                              show_progress and is_main, trained_replicates)
    finalize_s = record.pop("finalize_s")
    if not is_main:
        return AuditResult({}, from_store=False)

    wall = time.perf_counter() - t0
    record.update({
        **record_header(),
        "model": ref.model_id,
        "revision": ref.resolved_revision,
        "provenance": ref.provenance(),
        "shape": shape,
        "interval": interval.to_dict(),
        "settings": asdict(settings),
        "probe": {**windows.to_provenance(), "description": corpus.description},
        "runtime": {
            **loaded.info,
            "num_processes": accelerator.num_processes if accelerator is not None else 1,
            "devices": _devices(net, accelerator),
            "wall_time_s": wall,
            "probe_batch": probe_batch,
            "torch_threads": torch.get_num_threads(),
            "peak_rss_gb": _peak_rss_gb(),
            "matmul_precision": precision,
            "load_s": load_s,
            "finalize_s": finalize_s,
            "gpu_peak_gb": gpu_peak_gb(p.device for p in net.parameters()),
        },
    })
    if store is not None:
        store.put("audits", ref.model_id, ref.resolved_revision, key, record)
    if out_dir is not None:
        from .audit_output import write_audit_files

        write_audit_files(record, Path(out_dir))
    return AuditResult(record)


def _peak_rss_gb() -> float | None:
    """This process's peak resident memory so far (Linux and macOS), in GB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if platform.system() == "Darwin" else 1e6)


def _measure_baseline(record: dict, net, kind: str, windows: ProbeWindows, settings: AuditSettings, shape: dict,
                      accelerator, probe_batch, progress: bool, trained_replicates: dict) -> None:
    """``--baseline init``: measure fresh inits of ``net``'s architecture on the same windows and
    probes, and add ``record["baseline"]`` and the trained-over-baseline metrics (baseline.py)."""
    from . import baseline as bl

    t0 = time.perf_counter()
    runs, replicates = [], []
    for init_seed in bl.init_seeds(settings.seed, settings.baseline_seeds):
        fresh = bl.fresh_init(net, init_seed)
        parts = find_parts(fresh, shape["depth"])
        fn = OutputFunction(fresh, parts, kind, windows.prefix_ids)
        reps: dict = {}
        try:
            out = _measure(fn, parts, windows, settings, shape["width"], accelerator, None, 8, probe_batch, progress,
                           reps)
        finally:
            fn.close()
        runs.append({"init_seed": init_seed, "metrics": out["metrics"], "layers": out["layers"]})
        replicates.append(reps)
        del fresh, parts, fn
    metrics, layers = bl.summarize(runs)
    record["baseline"] = {
        "kind": "init",
        "initializer": f"{type(net).__name__}(config): the config's own initialiser, seeded "
                       f"(initializer_range={getattr(net.config, 'initializer_range', None)})",
        "init_seeds": [r["init_seed"] for r in runs],
        "windows_sha256": windows.windows_sha256,
        "probe_seed": settings.seed,
        "metrics": metrics,
        "layers": layers,
        "runs": runs,
        "seconds": time.perf_counter() - t0,
    }
    bl.relate(record, runs, replicates, trained_replicates, level=record["metrics"]["ci_level"])


def load_for_audit(model: str | ModelRef, settings: AuditSettings, *, device: str | None = None,
                   device_map: str | None = None, allow_pickle: bool = False, trust_remote_code: bool = False,
                   accelerator=None) -> LoadedModel:
    """Load a model the way the audit needs it: eager attention (forward-mode JVPs need it on CPU),
    the settings' dtype, on this process's device (or spread with ``device_map``)."""
    ref = model if isinstance(model, ModelRef) else resolve_model(model)
    if accelerator is None and device_map is None:
        accelerator = make_accelerator(device)
    dev = device or (str(accelerator.device) if accelerator is not None else None)
    return load_model(ref, dtype=settings.dtype, device=None if device_map else dev, device_map=device_map,
                      allow_pickle=allow_pickle, trust_remote_code=trust_remote_code,
                      attn_implementation="eager", causal_lm=(_model_kind(ref) == CAUSAL_LM))


def _devices(net, accelerator) -> list[str]:
    devs = sorted({str(p.device) for p in net.parameters()})
    if accelerator is not None and accelerator.num_processes > 1:
        return [f"{accelerator.num_processes} processes × {', '.join(devs)}"]
    return devs


def _measure(fn: OutputFunction, parts, windows: ProbeWindows, settings: AuditSettings, width: int, accelerator,
             resume_dir, save_every: int, probe_batch: int | None, progress: bool,
             replicates: dict | None = None) -> dict:
    """Shard windows, accumulate, reduce, finalise. Returns the metric part of the record.

    ``width`` is the residual-stream width (the blocks' tensors), which may differ from E_eff's."""
    rank = accelerator.process_index if accelerator is not None else 0
    world = accelerator.num_processes if accelerator is not None else 1
    # Windows go through the model in blocks of consecutive global indices, and the blocks are dealt
    # to the processes: a pass's batch is then the same whatever the number of processes.
    size = window_batch(settings, fn.prefix, probe_batch, parts, accelerator)
    blocks = [list(range(b, min(windows.n, b + size))) for b in range(0, windows.n, size)][rank::world]
    local = [i for block in blocks for i in block]
    ids, framed = windows.input_ids, windows.framed_ids
    embedding_path_rel = check_embedding_path(fn, parts, framed[local[0] if local else 0])

    sums = _reduce_scalars(accelerator, _scale_and_loss(fn, framed[local], batch=size))
    s = math.sqrt(sums["sq"] / sums["count"])
    if not s > 0:
        raise NumericalError("the model's output is identically zero on the probe windows; nothing to measure")
    fn.scale = s

    E_eff = parts.E_eff
    acc_device = E_eff.device
    V, d_embed = E_eff.shape
    out_dim = V if fn.kind == CAUSAL_LM else width  # an encoder's f is its last hidden state (length d)
    pairs = settings.f_estimator == "pairs"
    from .device_memory import pair_store_budget

    store_bytes, budget = settings.pair_store_bytes(d_embed), pair_store_budget(acc_device)
    if store_bytes > budget:
        raise InputError(f"the pairs estimator would keep {store_bytes / 2**30:.1f} GiB of output-probe VJPs "
                         f"(n × O × T × d = {windows.n} × {settings.output_probes} × {settings.T} × {d_embed}); "
                         f"{budget / 2**30:.1f} GiB are allowed on {acc_device}",
                         "use fewer windows (--n), a shorter --T, or a device with more memory")
    U = None if pairs else make_input_probes(settings.T, V, settings.input_probes, E_eff, settings.seed).to(E_eff.dtype)
    R = make_output_probes(out_dim, settings.output_probes, settings.seed).to(device=acc_device, dtype=E_eff.dtype)
    acc = AgopAccumulator(seq_len=settings.T, hidden_size=width, embed_size=d_embed, vocab_size=V,
                          n_layers=len(parts.blocks), input_probes=settings.input_probes,
                          output_probes=settings.output_probes, groups_per_half=settings.groups_per_half,
                          output_size=out_dim, window_groups=settings.window_groups,
                          diag_window_groups=settings.window_groups if settings.diag_cells_fit(V) else 0,
                          cell_dtype=torch.float64 if settings.dtype == "float64" else torch.float32,
                          device=acc_device, pair_windows=windows.n if pairs else 0)
    done: list[int] = []
    state_file = _resume_path(Path(resume_dir), rank) if resume_dir else None
    if state_file is not None and state_file.is_file():
        saved = torch.load(state_file, map_location=acc_device, weights_only=True)
        if saved.get("key") != _resume_key(settings, windows, world):
            raise InputError(f"resume state {state_file} was made with other settings, windows or process count",
                             "delete it or point --resume at a fresh directory")
        acc.load_state_dict(saved["accumulator"])
        done = list(saved["done"])
        if any(set(b) & set(done) and not set(b) <= set(done) for b in blocks):  # CUDA: sized by free memory
            raise InputError(f"resume state {state_file} was saved with other blocks of windows per pass (another "
                             "device or free memory)", "resume on the same device, or delete it")
    jvp_method = None if pairs else settings.jvp_method  # the pairs estimator forms no JVPs
    notes: list[str] = list(parts.notes)
    todo = [w for w in local if w not in set(done)]
    t_start = time.perf_counter()
    with Progress(progress) as bar:
        task = bar.add(f"auditing ({world} process{'es' if world > 1 else ''})", len(local) * world,
                       f"windows × {settings.input_probes + settings.output_probes} probes")
        bar.advance(task, len(done) * world)
        saved = len(done)
        for count, block in enumerate(b for b in blocks if not set(b) <= set(done)):
            with torch.no_grad():
                e = parts.embedding(ids[block].to(fn.input_device)).detach().to(E_eff.dtype)
            if count == 0 and jvp_method == "forward" and not done:
                jvp_method = _first_block(acc, fn, e, U, R, E_eff, probe_batch, notes, block)
            else:
                acc.add_windows(fn, e, U, R, E_eff, probe_batch=probe_batch,
                                jvp_method=cast(JvpMethod, jvp_method or "forward"), window_indices=block)
            done.extend(block)
            bar.advance(task, len(block) * world)
            if state_file is not None and len(done) - saved >= save_every:
                _save_state(state_file, acc, done, _resume_key(settings, windows, world))
                saved = len(done)
    elapsed = time.perf_counter() - t_start
    if acc.output_pass != "one_forward":
        notes.append("the output probes ran as one forward per probe: this model's backward could not be batched "
                     "(same result, slower)")
    if accelerator is not None and world > 1:
        acc.all_reduce_(lambda t: accelerator.reduce(t, reduction="sum"))
    t_final = time.perf_counter()
    gram = acc.embedding_gram_of(E_eff)  # formed once: the population F already needed it
    metrics = finalize(acc, gram, mlp_weights(parts), E_eff=E_eff, replicates=replicates)
    finalize_s = time.perf_counter() - t_final
    layers = metrics.pop("layers")
    for layer, path in zip(layers, parts.mlp_paths, strict=True):
        layer["mlp_input"] = path
        if path is None and layer.get("nfa_note") is None:
            layer["nfa_note"] = "not available: MLP input projection not recognised for this architecture"
    V_float = float(V)
    metrics.update({
        "logit_scale": s,
        "output_function": OUTPUT_FUNCTION_DOC[fn.kind],
        "embedding_gram_aofe_ratio": aofe_ratio(gram),
        "embedding_gram_init_reference": (d_embed - 1) / (V_float + d_embed - 1),
        "embedding_scale": parts.embedding_scale,
        "embedding_path_rel_diff": embedding_path_rel,
        "jvp_method": jvp_method,
        "output_pass": acc.output_pass,
        "seconds_per_window": elapsed / len(todo) if todo else None,
    })
    if fn.kind == CAUSAL_LM:
        metrics["probe_loss_nats_per_token"] = sums["nats"] / sums["targets"]
        metrics["probe_loss_bits_per_byte"] = windows.bits_per_byte(sums["nats"])
    for note in (metrics.get("ci_note"), metrics["population"].get("note")):
        if note:
            notes.append(note)
    if state_file is not None and state_file.exists():
        state_file.unlink()
    return {"metrics": metrics, "layers": layers, "notes": notes, "finalize_s": finalize_s}


def window_batch(settings: AuditSettings, prefix: int, probe_batch: int | None, parts=None, accelerator=None) -> int:
    """Windows per model pass: as many as keep probes × windows × positions within
    WINDOW_BATCH_ROWS (at least one, at most n). Batching fills the matrix products that one short
    window leaves idle on a CPU; the bound keeps the batched backward's memory small.

    On CUDA the block is sized from free device memory instead (device_memory.py), the smallest
    over the processes, so every process deals the same blocks whatever their number."""
    probes = probe_batch or settings.output_probes
    if parts is None or parts.E_eff.device.type != "cuda":
        return max(1, min(settings.n, WINDOW_BATCH_ROWS // (probes * (settings.T + prefix))))
    from .device_memory import cuda_windows

    size = cuda_windows(settings, settings.T + prefix, probes, parts)
    if accelerator is not None and accelerator.num_processes > 1:
        size = int(accelerator.gather(torch.tensor([size], device=accelerator.device)).min())
    return size


#: Rows (probes × windows × positions) of one batched backward pass (window_batch).
WINDOW_BATCH_ROWS = 4096


def _first_block(acc: AgopAccumulator, fn, e, U, R, E_eff, probe_batch, notes: list[str], block: list[int]) -> str:
    """Add the first windows with forward-mode JVPs; if the model has an op without a forward-mode
    derivative, undo them and use the double-backward JVP for the whole run (and say so)."""
    snapshot = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in acc.state_dict().items()}
    try:
        acc.add_windows(fn, e, U, R, E_eff, probe_batch=probe_batch, jvp_method="forward", window_indices=block)
        return "forward"
    except (NotImplementedError, RuntimeError) as exc:
        text = str(exc).lower()
        if "forward" not in text and "dual" not in text and "jvp" not in text:
            raise
        acc.load_state_dict(snapshot)
        notes.append(f"forward-mode JVP unavailable for this model ({str(exc).splitlines()[0][:120]}); "
                     "used the double-backward JVP (same result, slower)")
        acc.add_windows(fn, e, U, R, E_eff, probe_batch=probe_batch, jvp_method="double_backward",
                        window_indices=block)
        return "double_backward"


def _resume_key(settings: AuditSettings, windows: ProbeWindows, world: int) -> str:
    return f"{settings.cache_key(windows.corpus_sha256)}|{windows.windows_sha256}|{world}"


def _save_state(path: Path, acc: AgopAccumulator, done: list[int], key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    torch.save({"key": key, "done": done, "accumulator": acc.state_dict()}, tmp)
    tmp.replace(path)

