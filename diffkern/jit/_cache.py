"""JAX's persistent compilation cache, on by one call, tuned so diffkern's small kernels count."""

from __future__ import annotations

import math
import os
import sys
import uuid
import warnings
from numbers import Real
from pathlib import Path

import jax
from jax.experimental.compilation_cache import compilation_cache

__all__ = ["CacheWarning", "default_cache_dir", "enable_persistent_cache"]

_ENV = "DIFFKERN_CACHE_DIR"


class CacheWarning(UserWarning):
    """The persistent cache could not be used; the run continues without it."""


def default_cache_dir() -> Path:
    """``$DIFFKERN_CACHE_DIR``, else the per-user cache directory + ``diffkern/jax``."""
    if os.environ.get(_ENV):
        return Path(os.environ[_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "diffkern" / "jax"


def _writable(path: Path) -> str | None:
    """None if ``path`` is a writable directory (created if needed), else why not."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return f"{type(err).__name__}: {err}"
    return None


def _check_options(path, min_compile_time_secs, min_entry_size_bytes) -> None:
    """``ValueError``/``TypeError`` naming the argument and its valid range."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, an os.PathLike or None, got {type(path).__name__}")
    if path is not None and not os.fspath(path).strip():
        # Path("") is the current directory: caching there is never what an empty value meant.
        raise ValueError("path must be a non-empty directory name (or None for the default)")
    if isinstance(min_compile_time_secs, bool) or not isinstance(min_compile_time_secs, Real):
        raise TypeError(
            f"min_compile_time_secs must be a number, got {type(min_compile_time_secs).__name__}"
        )
    if not (math.isfinite(min_compile_time_secs) and min_compile_time_secs >= 0):
        raise ValueError(
            f"min_compile_time_secs must be finite and >= 0, got {min_compile_time_secs}"
        )
    if isinstance(min_entry_size_bytes, bool) or not isinstance(min_entry_size_bytes, int):
        raise TypeError(
            f"min_entry_size_bytes must be an int, got {type(min_entry_size_bytes).__name__}"
        )
    if min_entry_size_bytes < -1:
        raise ValueError(f"min_entry_size_bytes must be >= -1, got {min_entry_size_bytes}")


def enable_persistent_cache(
    path: str | os.PathLike | None = None,
    *,
    min_compile_time_secs: float | int = 0.0,
    min_entry_size_bytes: int = -1,
) -> Path | None:
    """Keep compiled programs on disk so later processes load instead of compiling.

    diffkern's entry points called outside ``jit`` (also under eager ``grad``) and its fit
    loops compile to programs without host callbacks: their value checks come back as
    outputs and raise on the host. So every one of them is kept, in the default mode, on every
    JAX version. Inside the caller's own ``jit``, checks raise through a host callback, and JAX up
    to 0.10 never writes such a program to the cache (later versions do);
    ``diffkern.jit.set_value_checks("nan")`` makes those programs cacheable too,
    with failed checks as NaN (check results on the host).

    Args:
        path: cache directory; default :func:`default_cache_dir` (``$DIFFKERN_CACHE_DIR`` or a
            per-user cache directory). An empty or blank name raises ``ValueError`` (it would
            mean the current directory).
        min_compile_time_secs: programs that compiled faster than this are not written. JAX's
            default (1 s) would skip nearly every diffkern kernel; 0 caches all of them. Must
            be finite and >= 0 (NaN would silently write nothing).
        min_entry_size_bytes: smallest entry written; -1 (default) writes entries of any size.
            An int >= -1.

    Returns:
        The directory in use, or None when it is not usable: an unwritable directory warns
        (:class:`CacheWarning`) and the run goes on uncached. A corrupted entry is reported by
        JAX as a warning when read, then recompiled and rewritten.
    """
    _check_options(path, min_compile_time_secs, min_entry_size_bytes)
    directory = Path(path).expanduser() if path is not None else default_cache_dir()
    problem = _writable(directory)
    if problem is not None:
        warnings.warn(
            f"persistent compilation cache disabled: {directory} is not writable ({problem})",
            CacheWarning,
            stacklevel=2,
        )
        return None
    jax.config.update("jax_compilation_cache_dir", str(directory))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_time_secs))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", int(min_entry_size_bytes))
    # JAX decides once per process whether the cache is used: make it decide again.
    compilation_cache.reset_cache()
    return directory
