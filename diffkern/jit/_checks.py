"""How diffkern's failed value checks report: raise from a host callback, or give NaN.

The mode matters only inside the caller's own ``jit`` (or ``vmap``, or a ``scan`` body): there
a check in "raise" mode is a host callback raising :class:`diffkern.CheckError`, and JAX up to
0.10 never writes a program with a callback to the persistent cache (later versions do). In
``"nan"`` mode the checks compile to a plain select and every program is cacheable; a failed check
then
shows as NaN in the result instead of an exception, so results must be checked on the host
(``jnp.isfinite`` of a loss, say) to never pass a NaN on silently. diffkern's entry points
called outside ``jit`` need neither: their checks are outputs of the program, raised on the
host as :class:`diffkern.CheckError`, so their programs are cached in both modes.
"""

from __future__ import annotations

import equinox as eqx
import jax

from diffkern import _checks

__all__ = ["set_value_checks", "value_checks"]


def value_checks() -> str:
    """The current mode: ``"raise"`` (default, from ``EQX_ON_ERROR``) or ``"nan"``."""
    return _checks.check_mode()


def set_value_checks(mode: str) -> str:
    """Choose how diffkern's value checks report in programs traced from now on.

    ``"raise"`` (Equinox's default): a failed check raises with its message, through a host
    callback; such programs are never written to the persistent compilation cache. ``"nan"``:
    the checked value becomes NaN (integers their maximum, booleans True) without a callback,
    so :func:`enable_persistent_cache` keeps every program; check results on the host
    (``jnp.isfinite``). ``EQX_ON_ERROR=nan`` set before import starts a process in ``"nan"``;
    ``"off"``, which hides failures, is not offered. ``equinox.error_if`` checks in the
    user's own code are not affected.

    A change clears JAX's and Equinox's in-memory caches, so no program traced in the other
    mode is reused (the next call of each function traces again; the persistent cache still
    serves it). Returns the previous mode.
    """
    previous = _checks.set_check_mode(mode)
    if mode != previous:
        jax.clear_caches()
        eqx.clear_caches()
    return previous
