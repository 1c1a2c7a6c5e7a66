"""diffkern's version, from the installed package's metadata (written only in pyproject.toml)."""

import importlib.metadata

try:
    __version__ = importlib.metadata.version("diffkern")
except importlib.metadata.PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"
