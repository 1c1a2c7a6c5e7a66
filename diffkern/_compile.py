"""The XLA options of the programs diffkern compiles itself.

The entry points called outside ``jit`` (:func:`diffkern._checks.checked`), ``minimize``,
``laplace``, ``argmin``, ``fit_ukr`` and the linear recurrences are compiled with
:data:`OPTIONS`: on XLA:CPU, its classic loop emitters (``xla_cpu_use_fusion_emitters=False``).
On 2 cores (jax 0.10) they compile the GP and fitting programs in 30-55% less time with
bitwise-equal results, while a long elementwise kernel runs slower (Kepler at 10^6 points by
17-37%, an associative scan by 23%): the trade suits programs that are compiled once and run a
few thousand times on small data. ``minimize_many`` (throughput over thousands of stars) and
programs the caller compiles (their own ``jax.jit``) keep XLA's defaults. Other backends ignore
the option; a jaxlib that no longer knows it (JAX 0.12) compiles with its defaults (found at
the first compile, then remembered).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import equinox as eqx
import jax

# Whether a call now compiles a program of its own: JAX takes compiler options only there, not
# in a program being traced nor under grad, jvp or vmap (their rules trace the inner program
# into theirs, whether or not its arguments are traced). JAX's own test; without it, no options.
try:
    from jax._src.core import trace_state_clean as _top_level
except ImportError:  # pragma: no cover - a JAX without it

    def _top_level() -> bool:
        return False


OPTIONS = {"xla_cpu_use_fusion_emitters": False}
_UNKNOWN = "No such compile option"
_known = True


class _Program:
    """``transform(fn, **kwargs)`` compiled with :data:`OPTIONS` where it is a top-level
    program and the jaxlib knows them, otherwise without; ``lower`` gives the program as a
    top-level call compiles it."""

    def __init__(self, fn: Callable, transform: Callable, kwargs: dict):
        functools.update_wrapper(self, fn)
        self._tuned = transform(fn, compiler_options=OPTIONS, **kwargs)
        self._plain = transform(fn, **kwargs)

    def lower(self, *args, **kwargs):
        return (self._tuned if _known else self._plain).lower(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        global _known
        if _known and _top_level():
            try:
                return self._tuned(*args, **kwargs)
            except jax.errors.JaxRuntimeError as error:
                if _UNKNOWN not in str(error):
                    raise
                _known = False
        return self._plain(*args, **kwargs)


def jit(fn: Callable | None = None, *, transform: Callable = eqx.filter_jit, **kwargs):
    """``transform(fn, **kwargs)`` (default ``equinox.filter_jit``; ``jax.jit`` for static
    argument numbers) with diffkern's compiler options. Use as ``@jit`` or ``@jit(...)``."""
    if fn is None:
        return functools.partial(jit, transform=transform, **kwargs)
    return _Program(fn, transform, kwargs)
