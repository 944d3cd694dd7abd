"""``python -m hf_interaction.schema``: print docs/schema.md."""

from . import reference_markdown

print(reference_markdown(), end="")
