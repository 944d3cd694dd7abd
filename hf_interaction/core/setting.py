"""One declaration per setting: its default, its CLI flag and its help text live on the settings
dataclass field, and every command that takes the setting builds its option from there
(``commands/options.py``). Free of click and torch imports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Flag:
    """How a settings field appears on the command line."""

    help: str
    flag: str | None = None  # default: --field-name
    choices: tuple[str, ...] | None = None
    type: Any = None  # default: the type of the field's default (int, float, str)
    metavar: str | None = None
    by_preset: bool = False  # the default comes from a preset (the option's own default is None)

    def name(self, field_name: str) -> str:
        return self.flag or "--" + field_name.replace("_", "-")


def setting(default: Any, help: str, **flag: Any) -> Any:
    """A dataclass field carrying its CLI declaration (see :class:`Flag`)."""
    return dataclasses.field(default=default, metadata={"flag": Flag(help=help, **flag)})


def flag_of(cls: type, name: str) -> tuple[dataclasses.Field, Flag]:
    """The dataclass field ``name`` of ``cls`` and its CLI declaration."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            if "flag" not in f.metadata:
                raise KeyError(f"{cls.__name__}.{name} has no CLI declaration")
            return f, f.metadata["flag"]
    raise KeyError(f"{cls.__name__} has no field {name!r}")
