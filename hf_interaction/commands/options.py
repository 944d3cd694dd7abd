"""click options generated from the settings dataclasses (``core/setting.py``): one declaration per
setting, used by every command that takes it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import click

from ..core.setting import flag_of

#: ``run``: the command computes with the value (default: the field's, or the preset's);
#: ``select``: the value selects stored results (and is used when the command computes missing ones).
MODES = ("run", "select")


def settings_options(cls: type, names: Sequence[str], *, mode: str = "run",
                     select_prefix: str = "Only stored results with this value (and --run uses it). ",
                     help_overrides: dict[str, str] | None = None,
                     optional: Sequence[str] = ()) -> Callable[[Callable], Callable]:
    """A decorator adding one click option per settings field in ``names`` (in that order).

    The parameter name is the field name. In ``run`` mode a preset-backed field (``by_preset``)
    defaults to None (the preset decides), others to the field's default, shown in --help; a field
    without a default is a required option unless listed in ``optional`` (the command then checks
    it). In ``select`` mode every option defaults to None (no filter).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    overrides = help_overrides or {}

    def decorate(func: Callable) -> Callable:
        for name in reversed(names):
            field, flag = flag_of(cls, name)
            required = field.default is dataclasses.MISSING and name not in optional
            default = None if field.default is dataclasses.MISSING else field.default
            if isinstance(default, tuple):  # a list setting (e.g. --depths 1,2,4): given as comma-separated text
                default = ",".join(map(str, default))
            kind = click.Choice(flag.choices) if flag.choices else (
                flag.type or (type(default) if default is not None and not isinstance(default, bool) else str))
            help_text = overrides.get(name, flag.help)
            if mode == "select":
                help_text, shown = select_prefix + help_text, None
                if default is not None and not flag.by_preset:
                    help_text += f" (--run default: {default})"
            elif flag.by_preset:
                shown = None
            else:
                shown = default
            option = click.option(flag.name(name), name, type=kind, default=shown, metavar=flag.metavar,
                                  required=required and mode == "run", show_default=shown is not None,
                                  help=help_text)
            func = option(func)
        return func

    return decorate


def model_or_list(verb: str, stored: str, per_model: str) -> Callable:
    """The MODEL argument and the ``--list CSV`` option that ``audit`` and ``eval`` share (batch.py runs
    the list): ``verb`` the command's work, ``stored`` what a resumed run skips, ``per_model`` the
    options whose directories get one subdirectory per model."""
    help_text = (f"{verb} every model of a model list (a CSV with a model_id column, e.g. model_lists/small_llms.csv) "
                 f"instead of MODEL, with the same flags: one progress line per model; {stored} already stored are "
                 "skipped (so a killed run resumes); a model that fails is recorded in the store and the run goes on "
                 f"(exit code 8 at the end). {per_model} one subdirectory per model.")

    def decorate(command: Callable) -> Callable:
        command = click.option("--list", "list_path", type=click.Path(dir_okay=False), default=None, metavar="CSV",
                               help=help_text)(command)
        return click.argument("model", required=False, metavar="[MODEL]")(command)

    return decorate
