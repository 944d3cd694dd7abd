"""hf-interaction: is this model's depth-width shape wasting its parameters?

Post-hoc analysis of pretrained Hugging Face language models: depth-width ratio R_D/W, gradient-space
neural interaction (AOFE, AOFE-ratio of the average gradient outer product), MMLU-Pro through
lm-evaluation-harness, and how a model's position relative to the efficient R_D/W interval relates
to its score. See docs/design.md for definitions.
"""

from .shape.interval import DEFAULT_INTERVAL, Interval, parse_interval
from .version import __version__

__all__ = ["__version__", "DEFAULT_INTERVAL", "Interval", "parse_interval"]
