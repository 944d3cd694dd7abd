"""Running a sweep end to end (docs/design.md §8): match a width to the budget for every depth, train each
shape with each seed on the shared data, audit each checkpoint, derive the interval, and write the
table, the interval file, the record and the report into the output directory.

A finished shape (checkpoint + ``metrics.json``, and ``audit.json`` when auditing) is never
retrained: rerunning a sweep into the same directory resumes it. Resuming into a directory trained
with other settings, or on other data, is refused.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..core.outputs import Writer, json_text, text_writer, write_json, write_together
from ..core.runtime import Progress, record_header
from ..errors import InputError
from ..schema.upgrade import upgrade
from ..shape.width_matching import WidthMatch, match_width
from .checkpoints import is_finished, run_dir, save_checkpoint
from .data import SweepData, prepare_data
from .derive import derive_interval, interval_file_content, summarise
from .settings import SweepSettings
from .train import train_shape

Log = Callable[[str], None]


def match_all(settings: SweepSettings, vocab_size: int) -> list[WidthMatch]:
    """Width matches for every depth of a sweep, in depth order."""
    return [match_width(settings.budget, d, arch=settings.arch, head_dim=settings.head_dim,
                        ffn_ratio=settings.ffn_ratio, vocab_size=vocab_size, max_positions=settings.seq_len,
                        match=settings.match, max_mismatch=settings.max_mismatch)
            for d in sorted(settings.depths)]


AUDIT_FIELDS = ("aofe", "aofe_ci", "aofe_ratio", "aofe_ratio_ci", "f", "d", "f_below_d",
                "probe_loss_nats_per_token", "probe_loss_bits_per_byte", "embedding_gram_aofe_ratio")


def audit_shape(path: Path, settings: SweepSettings, store: Any = None) -> dict | None:
    """Audit a saved checkpoint with the sweep's audit preset; the headline numbers (``audit.json``)."""
    audit_settings = settings.audit_settings()
    if audit_settings is None:
        return None
    done = path / "audit.json"
    if done.is_file():
        saved = json.loads(done.read_text())
        if saved.get("settings") == asdict(audit_settings):
            return saved
    from ..audit.run import run_audit

    rec = run_audit(str(path), audit_settings, store=store, show_progress=False, use_accelerate=False).record
    summary = {"settings": asdict(audit_settings), "windows_sha256": rec["probe"]["windows_sha256"],
               "wall_time_s": rec["runtime"]["wall_time_s"],
               **{k: rec["metrics"].get(k) for k in AUDIT_FIELDS},
               "layers": [{k: layer.get(k) for k in ("layer", "aofe_ratio", "effective_rank", "nfa_offdiag")}
                          for layer in rec["layers"]]}
    write_json(done, summary)
    return summary




@dataclass
class SweepResult:
    """Rows (one per shape and seed), per-shape summary, the derived interval and where files went."""

    record: dict
    rows: list[dict]
    summary: list[dict]
    interval: dict
    out_dir: Path
    statuses: dict[str, str]

    def to_frame(self) -> Any:
        """The per-shape-and-seed table as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows)


def _stderr_log(message: str) -> None:
    import sys

    print(message, file=sys.stderr, flush=True)


def run_sweep(settings: SweepSettings, out_dir: str | Path, *, store: Any = None, show_progress: bool = True,
              log: Log | None = None, write_report: bool = True, report_only: bool = False) -> SweepResult:
    """Run (or resume) a sweep into ``out_dir`` and write its table, interval file and report.

    With ``report_only`` nothing is trained: the table, interval and report are made from the shapes
    already finished (e.g. to look at a sweep that is still running or was stopped); the missing ones
    are listed in ``statuses`` and in the report."""
    import torch

    settings.validate()
    log = log or _stderr_log
    out = Path(out_dir)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    from .byte_tokenizer import BYTE_VOCAB_SIZE

    matches = match_all(settings, BYTE_VOCAB_SIZE)
    data = prepare_data(settings)
    out.mkdir(parents=True, exist_ok=True)
    _check_out_dir(out, settings)
    t0 = time.perf_counter()
    rows, statuses = [], {}
    jobs = [(m, s) for s in range(settings.seeds) for m in matches]  # all shapes of seed 0 first
    with Progress(show_progress) as progress:
        overall = progress.add("sweep (shapes × seeds)", len(jobs))
        for m, seed in jobs:
            name = run_dir(out, m.spec, seed).name
            if report_only and not is_finished(run_dir(out, m.spec, seed)):
                statuses[name] = "missing (not trained yet; --report-only)"
                log(f"{name}: {statuses[name]}")
                continue
            row, status = _run_one(m, seed, data, settings, out, store, progress, log)
            statuses[name] = status
            rows.append(row)
            progress.advance(overall)
    if not rows:
        raise InputError(f"{out} holds no finished shapes to report on")
    summary = summarise(rows)
    derived = derive_interval(summary, settings.tolerance)
    record = {
        **record_header(), "kind": "sweep", "settings": {**asdict(settings),
                                                                      "depths": sorted(settings.depths)},
        "train_key": settings.train_key(), "data": data.provenance(), "rows": rows, "summary": summary,
        "interval": derived, "interval_file": interval_file_content(derived, settings, data),
        "statuses": statuses,
        "runtime": {"wall_time_s": time.perf_counter() - t0,
                    "wall_time_total_s": _previous_wall_time(out) + time.perf_counter() - t0},
    }
    _write_outputs(out, record, write_report)
    if store is not None:
        store.put("sweeps", f"sweep:{out.resolve().name}", settings.train_key(), record["settings"], record)
    return SweepResult(record, rows, summary, derived, out, statuses)


def _previous_wall_time(out: Path) -> float:
    """Wall time of the earlier invocations on this directory (from the previous ``sweep.json``)."""
    previous = out / "sweep.json"
    if not previous.is_file():
        return 0.0
    rec = json.loads(previous.read_text())
    rec = upgrade("sweep", rec, rec.get("schema_version", 1))
    return float(rec["runtime"].get("wall_time_total_s", rec["runtime"].get("wall_time_s", 0.0)))


def _check_out_dir(out: Path, settings: SweepSettings) -> None:
    """Refuse to resume into a directory trained with other settings (its shapes would not compare)."""
    marker = out / "sweep_settings.json"
    key = settings.train_key()
    if marker.is_file():
        saved = json.loads(marker.read_text())
        if saved.get("train_key") != key:
            raise InputError(f"{out} holds a sweep trained with other settings (train key {saved.get('train_key')} "
                             f"≠ {key})", "use another --out directory")
    write_json(marker, {"train_key": key, "settings": {**asdict(settings), "depths": sorted(settings.depths)}})


def _run_one(m: WidthMatch, seed: int, data: SweepData, settings: SweepSettings, out: Path, store: Any,
             progress: Progress, log: Log) -> tuple[dict, str]:
    """Train (unless finished), audit (unless done) and return the table row and a status word."""
    path = run_dir(out, m.spec, seed)
    task = None
    if is_finished(path):
        metrics = json.loads((path / "metrics.json").read_text())
        if metrics.get("train_key") != settings.train_key():
            raise InputError(f"{path} was trained with other settings", "use another --out directory")
        if (metrics.get("train_stream_sha256"), metrics.get("val_windows_sha256")) != (
                data.train_stream_sha256, data.val_windows_sha256):
            raise InputError(f"{path} was trained on other data (the corpus text changed since)",
                             "use another --out directory")
        status = "skipped (finished: checkpoint and metrics.json present)"
        log(f"{path.name}: {status}")
    else:
        task = progress.add(f"  {path.name} (steps)", data.steps)
        model, metrics = train_shape(m.spec, seed, data, settings, on_step=lambda done: progress.update(task, done))
        metrics.update(train_key=settings.train_key(), seed=seed, shape=m.to_row(),
                       val_windows_sha256=data.val_windows_sha256, train_stream_sha256=data.train_stream_sha256,
                       corpus_sha256=data.corpus_sha256)
        save_checkpoint(model, path, metrics)
        status = "trained"
        log(f"{path.name}: trained in {metrics['train_wall_s']:.0f} s, validation loss {metrics['val_loss']:.4f}")
    audit = audit_shape(path, settings, store)
    progress.remove(task)
    row = {**m.to_row(), "seed": seed, "run_dir": path.name, "val_loss": metrics["val_loss"],
           "val_bits_per_byte": metrics["val_bits_per_byte"], "train_loss_final": metrics["train_loss_final"],
           "tokens_trained": metrics["tokens_trained"], "steps": metrics["steps"],
           "train_wall_s": metrics["train_wall_s"], "val_windows_sha256": metrics["val_windows_sha256"],
           "train_stream_sha256": metrics["train_stream_sha256"]}
    for key in ("aofe", "aofe_ratio", "aofe_ratio_ci", "probe_loss_nats_per_token", "f_below_d"):
        row[key] = audit.get(key) if audit else None
    return row, status


def _csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def rerender(out: str | Path) -> list[Path]:
    """Rewrite every file derived from ``OUT/sweep.json`` (interval file, tables, report, figures)
    from that record alone, without the checkpoints: a fresh clone regenerates a committed sweep's
    files byte for byte. The record itself is left as it is (an earlier schema is read upgraded)."""
    out = Path(out)
    source = out / "sweep.json"
    if not source.is_file():
        raise InputError(f"{out} has no sweep.json to rerender from", "give the --out directory of a finished sweep")
    try:
        record = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{source} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    record = upgrade("sweep", record, record.get("schema_version", 1))
    return write_together(_derived_files(out, record, write_report=True))


def _derived_files(out: Path, record: dict, write_report: bool) -> dict[Path, Writer | None]:
    """Everything written from the record besides the record: interval file, tables, report."""
    files: dict[Path, Writer | None] = {
        out / "interval.json": text_writer(json_text(record["interval_file"])),
        out / "sweep_runs.csv": text_writer(_csv_text(record["rows"])),
        out / "sweep_shapes.csv": text_writer(_csv_text(record["summary"])),
    }
    if write_report:
        from .report import report_files

        files.update(report_files(record, out))
    return files


def _write_outputs(out: Path, record: dict, write_report: bool) -> None:
    """The record, the interval file, both tables and (unless told not to) the report, all together."""
    write_together({out / "sweep.json": text_writer(json_text(record)), **_derived_files(out, record, write_report)})
