"""Run-time value checks: the one place where compiled code reports a bad value.

A kernel calls :func:`error_if` where a value can only be checked at run time (``e >= 1`` in a
traced array, a failed factorisation). How the failure is reported depends on where the check
is traced:

* inside the body of a :func:`checked` entry point, at its top level or under ``vmap`` there
  (a batched condition fails when any of its elements does), the condition becomes an output
  of the compiled program and the entry point raises :class:`CheckError` on the host.
  The program holds no host callback, so JAX's persistent compilation cache keeps it on every
  version (JAX up to 0.10 never writes programs with callbacks);
* anywhere else (the user's own ``jit``, ``vmap``, a ``scan`` body), in the default "raise"
  mode, through ``equinox.error_if``: a host callback that raises an
  ``equinox.EquinoxRuntimeError`` (``EQX_ON_ERROR=breakpoint`` and friends apply);
* in "nan" mode (:func:`set_check_mode`, ``diffkern.jit.set_value_checks``), and while a
  program is traced under :func:`checks_as_nan` (loops that check their result on the host,
  such as ``diffkern.fit.minimize``), the checked values become NaN without a callback.

A :class:`checked` entry point called inside the user's ``jit`` runs its checks as
``equinox.error_if`` at the user's level, so a failure still raises.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

__all__ = [
    "CHECK_MODES",
    "CheckError",
    "check_mode",
    "checked",
    "checks_as_nan",
    "error_if",
    "error_if_each",
    "set_check_mode",
]

CHECK_MODES = ("raise", "nan")
_check_mode = "nan" if os.environ.get("EQX_ON_ERROR") == "nan" else "raise"


class CheckError(eqx.EquinoxRuntimeError, ValueError):
    """A value check of a diffkern entry point failed (bad input or a failed factorisation).

    Both a ``ValueError`` (the input is bad) and an ``equinox.EquinoxRuntimeError`` (what the
    same check raises inside a compiled program).
    """


def check_mode() -> str:
    """How failed checks report in programs traced from now on: "raise" or "nan"."""
    return _check_mode


def set_check_mode(mode: str) -> str:
    """Set :func:`check_mode` (callers clear compiled caches); returns the previous mode."""
    global _check_mode
    if mode not in CHECK_MODES:
        raise ValueError(f"mode must be one of {CHECK_MODES}, got {mode!r}")
    previous, _check_mode = _check_mode, mode
    return previous


class _Collector(NamedTuple):
    """The checks of one entry point's body: its trace and the (condition, message) pairs."""

    trace: Any
    checks: list[tuple[Array, str]]


_collector: contextvars.ContextVar[_Collector | None] = contextvars.ContextVar(
    "diffkern_checks", default=None
)


_as_nan: contextvars.ContextVar[bool] = contextvars.ContextVar("diffkern_nan", default=False)


@contextlib.contextmanager
def checks_as_nan() -> Iterator[None]:
    """Trace the block's programs with failed checks as NaN instead of host callbacks.

    For callers that test the result on the host anyway (a non-finite loss stops a fit): their
    programs then hold no callback, so the persistent cache keeps them. Checks of
    :func:`checked` entry points traced at their own top level are unaffected.
    """
    token = _as_nan.set(True)
    try:
        yield
    finally:
        _as_nan.reset(token)


def _poison(x: Array, bad: Array) -> Array:
    """NaN (integers: their maximum, booleans: True) where a check failed."""
    dtype = jnp.result_type(x)
    if jnp.issubdtype(dtype, jnp.inexact):
        fill = jnp.nan
    elif dtype == jnp.bool_:
        fill = True
    else:
        fill = jnp.iinfo(dtype).max
    return jnp.where(bad, jnp.asarray(fill, dtype), x)


def _unbatched(pred: Any) -> Any:
    """``pred`` with every ``vmap`` level peeled off: the array of all its batch elements, in
    the trace that encloses the ``vmap`` calls."""
    while isinstance(pred, jax.core.Tracer) and hasattr(pred, "batch_dim"):
        pred = pred.val
    return pred


@jax.custom_jvp
def _guard(x: Array, bad: Array) -> Array:
    """``x``, NaN where ``bad`` (a check's flag, already raising on the host when True)."""
    return jnp.where(bad, jnp.asarray(jnp.nan, x.dtype), x)


@_guard.defjvp
def _guard_jvp(primals, tangents):
    # The tangent is selected by the flag too: a program that keeps only derivatives
    # (``jit(grad(f))``) still computes the flag, so the check cannot be dead code.
    x, bad = primals
    tx, _ = tangents
    return _guard(x, bad), jnp.where(bad, jnp.zeros_like(tx), tx)


def _raise_if(x, pred: ArrayLike, message: str):
    """``equinox.error_if`` on one scalar flag that then guards every leaf of ``x``, values
    and derivatives alike (``equinox.error_if`` on ``x`` itself passes tangents around the
    check, so ``jit(grad(f))`` would drop it)."""
    bad = jnp.any(jnp.asarray(pred))
    bad = eqx.error_if(bad, bad, message)

    def leaf(v):
        v = jnp.asarray(v)
        if jnp.issubdtype(v.dtype, jnp.inexact):
            return _guard(v, bad)
        return eqx.error_if(v, bad, message)

    return jax.tree_util.tree_map(leaf, x)


def error_if(x, pred: ArrayLike, message: str):
    """``x`` (a pytree), failing with ``message`` when any element of ``pred`` is True."""
    collector = _collector.get()
    whole = _unbatched(pred)
    if collector is not None and getattr(whole, "_trace", None) is collector.trace:
        collector.checks.append((whole, message))  # reduced in the collector's own trace
        return x
    if _check_mode == "raise" and not _as_nan.get():
        return _raise_if(x, pred, message)
    bad = jnp.any(jnp.asarray(pred))
    return jax.tree_util.tree_map(lambda leaf: _poison(jnp.asarray(leaf), bad), x)


def error_if_each(x: Array, checks: Iterable[tuple[ArrayLike, str]]) -> Array:
    """``x`` after the checks ``(pred, message)``, each failing on its own message."""
    for pred, message in checks:
        x = error_if(x, pred, message)
    return x


def _current_trace() -> Any:
    """The trace being built now (a probe value's), or None outside tracing."""
    return getattr(jnp.zeros(()), "_trace", None)


def _host_values(conditions: tuple[Array, ...]) -> list[bool] | None:
    """The conditions as Python bools, or None when they are traced by the caller."""
    try:
        return [bool(c) for c in conditions]
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError):
        return None


def checked(fn: Callable | None = None, *, name: str | None = None) -> Callable:
    """``fn`` compiled as one program whose value checks come back as outputs.

    Outside any trace (and under eager ``grad``/``jvp``) a failed check raises
    :class:`CheckError` on the host, naming the failed checks (in "nan" mode the outputs
    become NaN instead); inside the caller's ``jit`` or
    ``vmap`` the checks are applied at the caller's level through :func:`error_if`. Arguments
    follow ``equinox.filter_jit``: arrays are traced, everything else is static. With ``name``
    (the public entry point's), its messages start with ``"name: "``, also those of the entry
    points it calls (``"chi_square_ragged: radial_velocity: ecc must be in [0, 1)"``). Use as
    ``@checked`` or ``@checked(name=...)``.
    """
    if fn is None:
        return functools.partial(checked, name=name)
    prefix = f"{name}: " if name else ""

    @eqx.filter_jit
    @functools.wraps(fn)  # the compiled program carries fn's name (compile counts, traces)
    def body(*args, **kwargs):
        collector = _Collector(_current_trace(), [])
        token = _collector.set(collector)
        try:
            out = fn(*args, **kwargs)
        finally:
            _collector.reset(token)
        conditions = tuple(jnp.any(condition) for condition, _ in collector.checks)
        messages = tuple(message for _, message in collector.checks)
        return out, conditions, messages

    @functools.wraps(fn)
    def entry(*args, **kwargs):
        out, conditions, messages = body(*args, **kwargs)
        failed = _host_values(conditions)
        if failed is None:
            for condition, message in zip(conditions, messages, strict=True):
                out = error_if(out, condition, prefix + message)
            return out
        errors = [message for bad, message in zip(failed, messages, strict=True) if bad]
        if errors and _check_mode == "nan":  # the mode's promise: NaN results, no exception
            return jax.tree_util.tree_map(lambda leaf: _poison(jnp.asarray(leaf), True), out)
        if errors:
            raise CheckError(prefix + "; ".join(dict.fromkeys(errors)))
        return out

    entry.lower = body.lower  # the program as compiled for these arguments (inspection)
    return entry
