"""The schema language: one line per key, ``PATH  TYPE  MEANING``, and the checker.

- PATH: dotted keys; ``[]`` steps into the items of a list, ``*`` stands for any key of a mapping
  (``versions.*``, ``categories.*.acc``).
- TYPE: ``int``, ``float``, ``str``, ``bool``, ``dict``, ``list``, ``list[int]``, ``list[float]``,
  ``list[str]``, ``list[dict]``, ``interval`` (``[low, high]``, two floats), ``any``; a trailing
  ``?`` allows ``null``; a leading ``~`` marks a key that only some records have (the meaning says
  when); ``=PATH`` means "the same keys as PATH" (e.g. a baseline's metrics).
- MEANING: free text to the end of the line (continued on indented lines).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: The version of every record the tool writes (store rows, --out files, JSON output). Bumped when
#: a key is renamed or changes meaning; :mod:`.upgrade` reads the records of earlier versions.
SCHEMA_VERSION = 4

_SCALAR = {"int": (int,), "float": (int, float), "str": (str,), "bool": (bool,), "dict": (dict,), "list": (list,)}


@dataclass(frozen=True)
class Key:
    path: str
    type: str
    meaning: str
    nullable: bool = False
    optional: bool = False


@dataclass(frozen=True)
class RecordSchema:
    """The keys of one record kind. ``where`` says where such records are found."""

    kind: str
    title: str
    where: str
    keys: tuple[Key, ...]

    @classmethod
    def parse(cls, kind: str, title: str, where: str, table: str) -> RecordSchema:
        keys: list[Key] = []
        for raw in table.strip("\n").splitlines():
            if not raw.strip():
                continue
            if raw.startswith(" ") and keys:  # a continued meaning
                last = keys.pop()
                keys.append(Key(last.path, last.type, f"{last.meaning} {raw.strip()}", last.nullable, last.optional))
                continue
            path, typ, *rest = raw.split(None, 2)
            optional, typ = typ.startswith("~"), typ.lstrip("~")
            nullable, typ = typ.endswith("?"), typ.rstrip("?")
            keys.append(Key(path, typ, rest[0] if rest else "", nullable, optional))
        paths = [k.path for k in keys]
        if len(set(paths)) != len(paths):
            raise ValueError(f"{kind} schema lists a key twice: {sorted(p for p in paths if paths.count(p) > 1)}")
        return cls(kind, title, where, tuple(keys))

    def by_path(self) -> dict[str, Key]:
        return {k.path: k for k in self.keys}


def _type_ok(value, key: Key) -> bool:
    if value is None:
        return key.nullable or key.type == "any"
    t = key.type
    if t == "any" or t.startswith("="):
        return True
    if t == "interval":
        return (isinstance(value, list) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))
    m = re.fullmatch(r"list\[(\w+)\]", t)
    if m:
        return isinstance(value, list) and all(v is None or _type_ok(v, Key("", m.group(1), "")) for v in value)
    if t in ("int", "float") and isinstance(value, bool):
        return False
    if t == "float" and isinstance(value, float) and not math.isfinite(value):
        return True  # NaN and inf are written as such (allow_nan): a failed statistic is never dropped
    return isinstance(value, _SCALAR[t])


def _children(keys: dict[str, Key], prefix: str) -> dict[str, Key]:
    """The keys directly below ``prefix`` (``prefix`` is '' for the top level)."""
    out = {}
    for path, key in keys.items():
        if prefix == "":
            if "." not in path and "[" not in path:
                out[path] = key
        elif path.startswith(prefix + ".") and "." not in path[len(prefix) + 1:]:
            out[path[len(prefix) + 1:]] = key
    return out


def problems_in(schema: RecordSchema, record: dict) -> list[str]:
    """Every disagreement between ``record`` and ``schema``, as readable lines."""
    keys = schema.by_path()
    out: list[str] = []

    def walk(obj: dict, prefix: str) -> None:
        children = _children(keys, prefix)
        if set(children) == {"*"}:  # a mapping with free keys
            for name, value in obj.items():
                check(value, f"{prefix}.*", f"{prefix}.{name}")
            return
        for name, value in obj.items():
            if name not in children:
                out.append(f"{schema.kind}: undocumented key {prefix + '.' if prefix else ''}{name}")
                continue
            check(value, f"{prefix}.{name}" if prefix else name, f"{prefix}.{name}" if prefix else name)
        for name, key in children.items():
            if name != "*" and name not in obj and not key.optional:
                out.append(f"{schema.kind}: missing key {key.path}")

    def check(value, path: str, shown: str) -> None:
        key = keys[path]
        if key.type.startswith("="):
            target = key.type[1:]
            if value is not None and not isinstance(value, dict):
                out.append(f"{schema.kind}: {shown} should have the keys of {target}")
            elif value is not None:
                walk_as(value, target)
            return
        if not _type_ok(value, key):
            out.append(f"{schema.kind}: {shown} is {type(value).__name__}, documented as "
                       f"{key.type}{'?' if key.nullable else ''}")
            return
        if isinstance(value, dict) and key.type == "dict":
            walk(value, path)
        elif isinstance(value, list) and key.type == "list[dict]":
            for item in value:
                if isinstance(item, dict):
                    walk(item, path + "[]")

    def walk_as(obj: dict, target: str) -> None:
        walk(obj, target)

    walk(record, "")
    return out


def to_markdown(schemas: list[RecordSchema]) -> str:
    """The schema reference page (docs/schema.md), generated: edit the schema modules, not the page."""
    lines = ["# Record schema", "",
             f"Schema version {SCHEMA_VERSION}. Generated from `hf_interaction/schema/` by "
             "`python -m hf_interaction.schema > docs/schema.md`; a test keeps it current.", "",
             "Types: `interval` is `[low, high]`; `?` means the value may be `null` (the meaning says when); "
             "*optional* keys appear only in some records; `same as X` means the keys of X. "
             "`[]` steps into list items, `*` is any key of a mapping. Every record also names its "
             "`schema_version`; records of an earlier version are upgraded when read (renamed keys), "
             "records of a newer version are refused with one line.", ""]
    for s in schemas:
        lines += [f"## {s.title}", "", s.where, "", "| key | type | meaning |", "| --- | --- | --- |"]
        for k in s.keys:
            typ = f"same as `{k.type[1:]}`" if k.type.startswith("=") else f"`{k.type}{'?' if k.nullable else ''}`"
            if k.optional:
                typ += " *optional*"
            meaning = k.meaning.replace("|", "\\|")
            lines.append(f"| `{k.path}` | {typ} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
