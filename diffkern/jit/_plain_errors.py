"""A plain :class:`diffkern.CheckError` from a failed value check inside the user's ``jit``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import jax

from diffkern import _checks

__all__ = ["plain_errors"]

F = TypeVar("F", bound=Callable[..., Any])


class _QuietCheckErrors(logging.Filter):
    """Drops JAX's log of a failed host callback when what it raised is diffkern's check (the
    exception carries the same text); every other callback failure is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _checks.CheckError)


def plain_errors(fn: F) -> F:
    """``fn`` whose failed diffkern value checks raise a plain :class:`diffkern.CheckError`.

    Inside your own ``jax.jit`` a failed check raises through a host callback, and XLA wraps
    it: a ``jax.errors.JaxRuntimeError`` (a ``ValueError`` with the same text once the
    program has run before, from JAX's fast path) whose text starts ``INTERNAL: CpuCallback
    error calling callback:`` and a traceback, and ends with ``CheckError: <message>``. The wrapper
    calls ``fn``, waits for its result (``jax.block_until_ready``, as a compiled program's
    error can arrive later than the call) and raises ``CheckError(message) from None`` for
    such an error, so ``str(err)`` is diffkern's message alone. Any other exception passes
    through unchanged, and so do results. Use it around the jitted function (``@plain_errors``
    above ``@jax.jit``, or ``plain_errors(jax.jit(f))``); inside a trace it is a plain call.
    ``equinox.filter_jit`` does not clean diffkern's errors (it knows only its own), so its
    users see the ``JaxRuntimeError`` too, and can wrap the same way.

    Example::

        import jax
        import diffkern
        from diffkern.orbits import radial_velocity

        @diffkern.jit.plain_errors
        @jax.jit
        def rv(t, ecc):
            return radial_velocity(t, 3.0, 0.0, ecc, 0.0, 1.0)

        try:
            rv(jax.numpy.linspace(0.0, 1.0, 4), 1.5)
        except diffkern.CheckError as err:  # also a ValueError
            assert str(err) == "radial_velocity: ecc must be in [0, 1)"
    """

    if not callable(fn):
        raise TypeError(f"plain_errors needs a callable, got {type(fn).__name__}")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet = _QuietCheckErrors()
        logger = logging.getLogger("jax._src.callback")
        logger.addFilter(quiet)
        try:
            return jax.block_until_ready(fn(*args, **kwargs))
        except _checks.RUNTIME_ERRORS as error:
            plain = _checks.plain_error(error)
            if plain is None:
                raise
            raise plain from None
        finally:
            logger.removeFilter(quiet)

    return wrapper  # type: ignore[return-value]
