"""The installed package's version (a leaf module, so every module can stamp records with it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hf-interaction")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
