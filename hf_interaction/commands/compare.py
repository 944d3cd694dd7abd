"""``hf-interaction compare``: models side by side (shape, interval position, AOFE, probe loss,
MMLU-Pro) with deltas against the first, and a gate on the interval for training pipelines."""

from __future__ import annotations

import shlex
import sys

import click

from ..audit.presets import PRESETS
from ..audit.settings import AuditSettings
from ..errors import GateFailed, UsageError
from .common import emit_csv, emit_json, get_interval, interval_options, open_store, safety_options, store_option
from .options import settings_options

PRESET_FIELDS = PRESETS
#: The audit settings that select stored audits (declared once, on AuditSettings).
COMPARE_FLAGS = ("T", "n", "input_probes", "output_probes", "groups_per_half", "seed", "probe", "dtype", "f_estimator",
                 "n_boot")


@click.command("compare")
@click.argument("models", nargs=-1, required=True)
@click.option("--run", is_flag=True,
              help="Compute missing audits (run_audit with the settings below) and store them. "
                   "Without it a missing audit is reported as missing.")
@click.option("--preset", type=click.Choice(sorted(PRESET_FIELDS)), default=None,
              help="Audit probe sizes: selects stored audits made with them, and the sizes --run uses "
                   "(default for --run: those of `audit MODEL`: cpu for smollm2, demo for the embedded demo "
                   "models, else paper).")
@settings_options(AuditSettings, COMPARE_FLAGS, mode="select",
                  select_prefix="Only stored audits with this value (and --run uses it). ")
@click.option("--settings-hash", default=None, metavar="H",
              help="Only audits with this settings hash (or prefix); --run computes with those settings.")
@click.option("--task", "eval_task", default=None,
              help="Only MMLU-Pro evaluations of this task (default: the newest stored evaluation).")
@click.option("--require-same-settings", is_flag=True,
              help="Fail (exit 3) instead of warning when the audits or evaluations were made with different settings.")
@click.option("--fail-outside-interval", is_flag=True,
              help="Exit 7 after printing when any compared model's R_D/W lies outside the interval.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write compare.md, compare.csv, compare.json and compare_layer_profiles.png here.")
@click.option("--device", default=None, help="Device for --run audits, e.g. cpu or cuda:0.")
@safety_options('for --run')
@interval_options
@store_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one row per model) instead of a table.")
def command(models, run, preset, T, n, input_probes, output_probes, groups_per_half, seed, probe, dtype, f_estimator,
            n_boot,
            settings_hash, eval_task, require_same_settings, fail_outside_interval, out_dir, device, allow_pickle,
            trust_remote_code, interval_text, interval_file, store_path, as_json, as_csv):
    """Compare MODELS side by side: shape (L, d, R_D/W, parameters), position in the efficient
    interval, AOFE and AOFE-ratio with CIs, probe loss, and MMLU-Pro when stored, with deltas against
    the first model (absolute; parameter counts as ratios).

    MODELS are Hub ids (ID@REVISION allowed), local checkpoint directories or embedded demo models
    (`demo`, `demo-shallow`, `demo-mid`, `demo-deep`); a Hub id that cannot be reached is compared
    from what the results store holds about it. Audits are read from
    the store (the newest one per model unless narrowed by --settings-hash or the audit flags);
    missing ones are computed only with --run. Audits made with different settings are reported
    (or refused with --require-same-settings), never compared silently.
    """
    from ..compare import AuditMatch, compare_models, write_outputs

    if len(models) < 2:
        raise UsageError("compare needs at least two models (A B [C ...])")
    if as_json and as_csv:
        raise UsageError("give --json or --csv, not both")
    interval = get_interval(interval_text, interval_file)
    fields = _match_fields(preset, T=T, n=n, input_probes=input_probes, output_probes=output_probes,
                           groups_per_half=groups_per_half, seed=seed, probe=probe, dtype=dtype,
                           f_estimator=f_estimator, n_boot=n_boot)
    # --run: the preset (default per model) with the explicit flags as overrides.
    settings = {"preset": preset, "T": T, "n": n, "input_probes": input_probes, "output_probes": output_probes,
                "groups_per_half": groups_per_half, "seed": seed, "probe": probe, "dtype": dtype,
                "f_estimator": f_estimator, "n_boot": n_boot}
    machine = as_json or as_csv
    comparison = compare_models(
        list(models), interval=interval, store=open_store(store_path), run=run, settings=settings,
        match=AuditMatch(settings_hash, fields), eval_task=eval_task, require_same_settings=require_same_settings,
        audit_options={"device": device, "allow_pickle": allow_pickle, "trust_remote_code": trust_remote_code},
        show_progress=not machine, on_message=lambda msg: click.echo(msg, err=True),
    )
    if as_json:
        emit_json(comparison.to_dict())
    elif as_csv:
        emit_csv(comparison.rows())
    else:
        print_table(comparison)
    for warning in comparison.warnings:  # on stderr in every mode, so pipelines see them next to the data
        click.echo(f"warning: {warning}", err=True)
    if out_dir:
        written = write_outputs(comparison, out_dir, command=_command_line())
        click.echo(f"wrote {', '.join(p.name for p in written.values())} to {out_dir}", err=True)
    gate = comparison.gate_message()
    if fail_outside_interval and gate:
        raise GateFailed(gate)


def _match_fields(preset: str | None, **flags) -> dict:
    """Audit settings a stored audit must have: the preset's sizes, overridden by explicit flags. A
    preset's input probes select only audits made with --f-estimator hutchinson (the default pairs
    estimator records 0), so without that flag they select nothing."""
    fields = dict(PRESET_FIELDS.get(preset, {})) if preset is not None else {}
    if flags.get("f_estimator") != "hutchinson":
        fields.pop("input_probes", None)
    fields.update({k: v for k, v in flags.items() if v is not None})
    return fields


def _command_line() -> str:
    return "hf-interaction " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def print_table(comparison) -> None:
    """The side-by-side table, arranged for the terminal's width, the interval and the notes, on
    stdout (warnings go to stderr)."""
    from ..compare import print_comparison

    print_comparison(comparison)
