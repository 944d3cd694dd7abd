"""The text of a probe corpus with its description and content hash (what every corpus source returns)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

#: Records (file records, builtin paragraphs) are joined with a blank line between them.
RECORD_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class CorpusText:
    """The text of a probe corpus, with what it is and a hash of its exact content."""

    spec: str
    description: str
    text: str = field(repr=False)
    n_bytes: int
    sha256: str

    @classmethod
    def from_text(cls, spec: str, description: str, text: str) -> CorpusText:
        """Wrap ``text``, computing its UTF-8 byte count and sha256."""
        data = text.encode("utf-8")
        return cls(spec, description, text, len(data), hashlib.sha256(data).hexdigest())
