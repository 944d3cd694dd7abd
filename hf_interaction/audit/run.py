"""``audit``: resolve the settings, load a model, measure it (measure.py) and, with ``--baseline init``,
fresh inits of its architecture on the same windows, and return a provenance-carrying result
(docs/design.md §5–§6). Only the main process of a data-parallel run writes (store, files)."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..core.runtime import gpu_peak_gb, make_accelerator, matmul_precision, record_header
from ..core.store import Store
from ..models.adapters import find_parts
from ..models.loading import LoadedModel, load_model
from ..models.source import ModelRef, resolve_model
from ..probe import ProbeWindows, load_corpus_text, make_windows
from ..shape.config import ENCODER_TYPES, shape_from_config, text_config_dict
from ..shape.interval import DEFAULT_INTERVAL, Interval
from .baseline import measure_baseline
from .files import write_audit_files
from .measure import MeasureOptions, measure
from .output_function import CAUSAL_LM, ENCODER, OutputFunction
from .preflight import check_widths
from .settings import (  # noqa: F401 (re-exported)
    DIAG_MEMORY_BUDGET,
    PAIR_MEMORY_BUDGET,
    AuditSettings,
    default_settings,
)


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
    defaults (:func:`~hf_interaction.audit.settings.default_settings`: ``cpu`` and the offline corpus for
    ``smollm2``, ``demo`` for the demo models, else ``paper`` on wikitext). ``matmul``: the float32
    matmul precision on CUDA (runtime.matmul_precision): "high" (TF32) or "highest"."""
    if settings is not None:
        settings.validate()  # before resolving: bad settings fail without reaching the Hub
    if isinstance(model, LoadedModel):
        ref = model.ref
    else:
        ref = model if isinstance(model, ModelRef) else resolve_model(model)
    settings = settings if settings is not None else default_settings(ref)
    settings = settings.resolve_groups(text_config_dict(ref.config).get("vocab_size") or 1)
    corpus = load_corpus_text(settings.probe)
    key = settings.cache_key(corpus.sha256)
    accelerator = make_accelerator(device) if use_accelerate and device_map is None else None
    is_main = accelerator is None or accelerator.is_main_process
    hit = store.get("audits", ref.model_id, ref.resolved_revision, key) if store is not None and not force else None
    if hit is not None:
        if out_dir is not None and is_main:
            write_audit_files(hit.payload, Path(out_dir))
        return AuditResult(hit.payload, from_store=True)

    t0 = time.perf_counter()
    if isinstance(model, LoadedModel):
        loaded, load_s = model, None
    else:
        loaded = load_for_audit(ref, settings, device=device, device_map=device_map, allow_pickle=allow_pickle,
                                trust_remote_code=trust_remote_code, accelerator=accelerator)
        load_s = time.perf_counter() - t0
    options = MeasureOptions(accelerator, resume_dir, save_every, probe_batch, show_progress and is_main)
    measured = _measure_model(loaded, settings, corpus, interval, options, matmul)
    if not is_main:
        return AuditResult({}, from_store=False)
    record = _complete_record(measured, loaded, settings, corpus, interval, options, t0, load_s)
    if store is not None:
        store.put("audits", ref.model_id, ref.resolved_revision, key, record)
    if out_dir is not None:
        write_audit_files(record, Path(out_dir))
    return AuditResult(record)


@dataclass
class _Measured:
    """The record so far (the measurement, and the baseline with ``--baseline init``) and what the
    rest of the record says about how it was made."""

    record: dict
    finalize_s: float
    shape: dict
    windows: ProbeWindows
    precision: str


def _measure_model(loaded: LoadedModel, settings: AuditSettings, corpus, interval: Interval,
                   options: MeasureOptions, matmul: str) -> _Measured:
    """The model's own measurement and, with ``--baseline init``, its fresh inits', under the
    requested matmul precision."""
    ref, net = loaded.ref, loaded.model
    kind = _model_kind(ref)
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
            measurement = measure(fn, parts, windows, settings, shape["width"], options, trained_replicates)
        finally:
            fn.close()
        record = measurement.record()
        if settings.baseline == "init":
            measure_baseline(record, net, kind, windows, settings, shape, options, trained_replicates)
    return _Measured(record, measurement.finalize_s, shape, windows, precision)


def _complete_record(measured: _Measured, loaded: LoadedModel, settings: AuditSettings, corpus,
                     interval: Interval, options: MeasureOptions, t0: float, load_s: float | None) -> dict:
    """The record: the measurement with its provenance (model, revision, settings, windows, runtime)."""
    ref, net, accelerator, record = loaded.ref, loaded.model, options.accelerator, measured.record
    wall = time.perf_counter() - t0
    record.update({
        **record_header(),
        "model": ref.model_id,
        "revision": ref.resolved_revision,
        "provenance": ref.provenance(),
        "shape": measured.shape,
        "interval": interval.to_dict(),
        "settings": asdict(settings),
        "probe": {**measured.windows.to_provenance(), "description": corpus.description},
        "runtime": {
            **loaded.info,
            "num_processes": options.world,
            "devices": _devices(net, accelerator),
            "wall_time_s": wall,
            "probe_batch": options.probe_batch,
            "torch_threads": torch.get_num_threads(),
            "peak_rss_gb": _peak_rss_gb(),
            "matmul_precision": measured.precision,
            "load_s": load_s,
            "finalize_s": measured.finalize_s,
            "gpu_peak_gb": gpu_peak_gb(p.device for p in net.parameters()),
        },
    })
    return record


def _peak_rss_gb() -> float | None:
    """This process's peak resident memory so far (Linux and macOS), in GB."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1e9 if platform.system() == "Darwin" else 1e6)


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
