"""How failed value checks (``eqx.error_if``) report: raise from a host callback, or give NaN.

The mode decides what the persistent compilation cache can keep: JAX up to 0.10 never writes a
program with a host callback to it (later versions do), and ``eqx.error_if`` raises through
one, so in ``"raise"`` mode every program with a value check (most diffkern kernels with traced
parameters) compiles again in each process there. In ``"nan"`` mode the checks compile to a
plain select and every program is cacheable; a failed check then shows as NaN in the result
instead of an exception, so results must be checked on the host (``jnp.isfinite`` of a loss,
say) to never pass a NaN on silently.
"""

from __future__ import annotations

import equinox as eqx
import equinox._errors as _eqx_errors
import jax

__all__ = ["set_value_checks", "value_checks"]

_MODES = ("raise", "nan")


def value_checks() -> str:
    """The current mode: ``"raise"`` (default, from ``EQX_ON_ERROR``) or ``"nan"``."""
    return str(getattr(_eqx_errors, "EQX_ON_ERROR", "raise"))


def set_value_checks(mode: str) -> str:
    """Choose how ``eqx.error_if`` checks report in programs traced from now on.

    ``"raise"`` (Equinox's default): a failed check raises with its message, through a host
    callback; such programs are never written to the persistent compilation cache. ``"nan"``:
    the checked value becomes NaN (integers their maximum, booleans True) without a callback,
    so :func:`enable_persistent_cache` keeps every program; check results on the host
    (``jnp.isfinite``). Both are Equinox's own modes (``EQX_ON_ERROR=raise|nan`` set before
    import does the same for a whole process); ``"off"``, which hides failures, is not offered.

    A change clears JAX's and Equinox's in-memory caches, so no program traced in the other
    mode is reused (the next call of each function traces again; the persistent cache still
    serves it). Returns the previous mode.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if not hasattr(_eqx_errors, "EQX_ON_ERROR"):
        raise RuntimeError(
            f"equinox {eqx.__version__} keeps its error mode elsewhere: set EQX_ON_ERROR={mode} "
            "in the environment before importing diffkern instead"
        )
    previous = value_checks()
    if mode != previous:
        _eqx_errors.EQX_ON_ERROR = mode
        jax.clear_caches()
        eqx.clear_caches()
    return previous
