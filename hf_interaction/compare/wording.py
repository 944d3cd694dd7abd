"""How ``compare`` words values in its messages, notes and Markdown: revisions shortened, and a
value that is not set said in words (what ``None`` means for that setting), never ``None``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

#: What an unset (None) audit setting means, by setting name (AuditSettings' defaults).
UNSET_MEANING = {
    "groups_per_half": "auto (chosen from the vocabulary and memory)",
    "baseline": "none",
}
#: Any other missing value: the record does not say (an older record, or a setting it lacks).
NOT_RECORDED = "not recorded"


def short_revision(revision: str) -> str:
    """A local fingerprint whole (``local-`` + 16 hex), a Hub commit hash shortened to 12."""
    return revision if revision.startswith("local-") else revision[:12]


def value_text(name: str, value: Any) -> str:
    """A setting's (or structural quantity's) value for a message: what None means for ``name``
    (``auto ...``, ``none``), ``not recorded`` for any other None, else the value as text."""
    if value is None:
        return UNSET_MEANING.get(name, NOT_RECORDED)
    return str(value)


def settings_text(items: Iterable[tuple[str, Any]]) -> str:
    """``name=value, ...`` with every None said in words."""
    return ", ".join(f"{name}={value_text(name, value)}" for name, value in items)
