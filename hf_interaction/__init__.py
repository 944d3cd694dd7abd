"""hf-interaction: is this model's depth-width shape wasting its parameters?

Post-hoc analysis of pretrained Hugging Face language models: depth-width ratio R_D/W, gradient-space
neural interaction (AOFE, AOFE-ratio of the average gradient outer product), MMLU-Pro through
lm-evaluation-harness, and how a model's position relative to the efficient R_D/W interval relates
to its score. See DESIGN.md for definitions.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hf-interaction")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from .interval import DEFAULT_INTERVAL, Interval, parse_interval  # noqa: E402

__all__ = ["__version__", "DEFAULT_INTERVAL", "Interval", "parse_interval"]
