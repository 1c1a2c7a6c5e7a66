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
  mode, through diffkern's own host callback: ``lax.cond`` on the failed flag (reduced over
  every ``vmap`` batch first, so it runs once and only when some element failed) calls a
  ``jax.pure_callback`` that raises ``CheckError(message)``. XLA wraps what a callback raises:
  the user gets a ``jax.errors.JaxRuntimeError`` whose text starts ``INTERNAL: CpuCallback
  error calling callback:`` and a traceback and ends with ``CheckError: <message>`` and one
  hint line. :func:`diffkern.jit.plain_errors` turns that back into the plain
  :class:`CheckError` (it reads the message the callback records in :data:`_last_message`), and
  so does a :class:`checked` entry point called outside ``jit`` whose check sits in a ``scan``
  body. When the reduced flag is known while tracing (eager ``vmap``), a failure raises
  :class:`CheckError` at once. With ``EQX_ON_ERROR=breakpoint`` the check is
  ``equinox.error_if``, which opens a debugger;
* in "nan" mode (:func:`set_check_mode`, ``diffkern.jit.set_value_checks``), and while a
  program is traced under :func:`checks_as_nan` (loops that check their result on the host,
  such as ``diffkern.fit.minimize``), the checked values become NaN without a callback.

In "raise" mode the failed flag also guards the checked values and their tangents (through a
``custom_jvp``), so a program that keeps only derivatives (``jit(grad(f))``) still computes the
flag and raises.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from equinox.internal import unvmap_any
from jaxtyping import Array, ArrayLike

from diffkern._compile import jit

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


_HINT = (
    "(diffkern: wrap your jitted function with diffkern.jit.plain_errors, or call the entry"
    " point outside jit, for a plain CheckError)"
)

_last_message: str | None = None
"""The message of the check that failed last in a host callback, set just before it raises
(the callback may run on another thread, so not thread-local): how :func:`plain_error` knows
a ``JaxRuntimeError`` for one of diffkern's."""


@dataclasses.dataclass(frozen=True)
class _Raise:
    """The host side of failed checks: records the message of every failed one (joined by
    "; "), raises :class:`CheckError`.

    Equal for equal messages, so programs holding it stay cached in memory across calls.
    """

    messages: tuple[str, ...]

    def __call__(self, failed: Any) -> Any:
        global _last_message
        message = _joined(self.messages, failed)
        _last_message = message
        raise CheckError(f"{message}\n{_HINT}")


def _joined(messages: Iterable[str], failed: Iterable[Any]) -> str:
    """The messages of the failed checks, each once, joined by "; "."""
    return "; ".join(dict.fromkeys(m for m, bad in zip(messages, failed, strict=True) if bad))


def any_each(preds: Sequence[ArrayLike]) -> list[Array]:
    """``jnp.any`` of each predicate, with one reduction per distinct shape.

    The predicates of one shape are stacked and reduced together: XLA compiles each
    reduction into loops of its own, so a dozen checks of the same arrays would cost a
    dozen passes over them and their share of compile time.
    """
    preds = [jnp.asarray(pred).astype(bool) for pred in preds]
    flags: list[Array | None] = [None] * len(preds)
    shapes: dict[tuple[int, ...], list[int]] = {}
    for i, pred in enumerate(preds):
        shapes.setdefault(pred.shape, []).append(i)
    for shape, members in shapes.items():
        if len(members) == 1 or math.prod(shape) <= 1:
            for i in members:
                flags[i] = preds[i].reshape(()) if preds[i].size == 1 else jnp.any(preds[i])
            continue
        stacked = jnp.any(
            jnp.stack([preds[i] for i in members]), axis=tuple(range(1, len(shape) + 1))
        )
        for k, i in enumerate(members):
            flags[i] = stacked[k]
    return flags


def _failed_flag(checks: list[tuple[ArrayLike, str]]) -> Array | None:
    """The scalar flag "some check failed" (per ``vmap`` batch element), raising on the host
    with the failed checks' messages when it is True; None when every check is known to pass
    while tracing. One host callback for all the checks: each would add its own conditional
    and callback to the program (compile time)."""
    preds = any_each([pred for pred, _ in checks])
    messages = tuple(message for _, message in checks)
    bad = functools.reduce(jnp.logical_or, preds)
    if os.environ.get("EQX_ON_ERROR") == "breakpoint":
        for pred, message in zip(preds, messages, strict=True):
            bad = eqx.error_if(bad, pred, message)  # equinox's debugger
        return bad
    # Every vmap batch at once: one callback, only on a failure.
    failed = jnp.stack([unvmap_any(pred) for pred in preds])
    known = _host_values(tuple(failed))
    if known is not None:  # eager vmap: known now
        if any(known):
            raise CheckError(_joined(messages, known))
        return None

    def fail():
        raised = jax.pure_callback(_Raise(messages), jax.ShapeDtypeStruct((), jnp.bool_), failed)
        return jnp.logical_and(raised, bad)  # bad, now depending on the callback

    return jax.lax.cond(jnp.any(failed), fail, lambda: bad)


def _raise_if(x, checks: list[tuple[ArrayLike, str]]):
    """A host callback raising :class:`CheckError` on one scalar flag that then guards every
    leaf of ``x``, values and derivatives alike (guarding ``x`` alone would pass tangents
    around the check, so ``jit(grad(f))`` would drop it)."""
    bad = _failed_flag(checks)
    if bad is None:
        return x

    def leaf(v):
        v = jnp.asarray(v)
        if jnp.issubdtype(v.dtype, jnp.inexact):
            return _guard(v, bad)
        return _poison(v, bad)

    return jax.tree_util.tree_map(leaf, x)


RUNTIME_ERRORS = (jax.errors.JaxRuntimeError, ValueError)
"""What a failed host callback arrives as: ``JaxRuntimeError``, or a ``ValueError`` with the
same text from JAX's fast path (a program that ran before)."""


def plain_error(error: BaseException) -> CheckError | None:
    """The plain :class:`CheckError` for an error that wraps a failed check of diffkern's host
    callback (its text holds the recorded message), else None."""
    message = _last_message
    if (
        message is None
        or isinstance(error, CheckError)
        or not isinstance(error, RUNTIME_ERRORS)
        or f"CheckError: {message}" not in str(error)
    ):
        return None
    return CheckError(message)


def error_if(x, pred: ArrayLike, message: str):
    """``x`` (a pytree), failing with ``message`` when any element of ``pred`` is True."""
    return error_if_each(x, [(pred, message)])


def error_if_each(x, checks: Iterable[tuple[ArrayLike, str]]):
    """``x`` (a pytree) after the checks ``(pred, message)``; a failure names every check that
    failed (one host callback for all of them inside the caller's ``jit``)."""
    collector = _collector.get()
    rest = []
    for pred, message in checks:
        whole = _unbatched(pred)
        if collector is not None and getattr(whole, "_trace", None) is collector.trace:
            collector.checks.append((whole, message))  # reduced in the collector's own trace
        else:
            rest.append((pred, message))
    if not rest:
        return x
    if _check_mode == "raise" and not _as_nan.get():
        return _raise_if(x, rest)
    bad = functools.reduce(jnp.logical_or, any_each([pred for pred, _ in rest]))
    return jax.tree_util.tree_map(lambda leaf: _poison(jnp.asarray(leaf), bad), x)


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

    @jit
    @functools.wraps(fn)  # the compiled program carries fn's name (compile counts, traces)
    def body(*args, **kwargs):
        collector = _Collector(_current_trace(), [])
        token = _collector.set(collector)
        try:
            out = fn(*args, **kwargs)
        finally:
            _collector.reset(token)
        conditions = tuple(any_each([condition for condition, _ in collector.checks]))
        messages = tuple(message for _, message in collector.checks)
        return out, conditions, messages

    return _Entry(fn, body, prefix)


class _Entry:
    """A :func:`checked` entry point: calling it runs the compiled program and raises on its
    failed checks; :meth:`lower` gives that program (inspection).

    A class, not a function with a ``lower`` attribute: ``jax.jit`` copies a function's
    attributes onto its own wrapper, so ``jax.jit(entry).lower`` would be the inner program's.
    """

    def __init__(self, fn: Callable, body: Callable, prefix: str):
        functools.update_wrapper(self, fn)
        self._body, self._prefix = body, prefix

    def lower(self, *args, **kwargs):
        """The program as compiled for these arguments (``equinox.filter_jit``'s ``lower``)."""
        return self._body.lower(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        try:
            out, conditions, messages = self._body(*args, **kwargs)
            failed = _host_values(conditions)
        except RUNTIME_ERRORS as error:  # a callback's check (in a scan body)
            plain = plain_error(error)
            if plain is None:
                raise
            raise plain from None
        if failed is None:
            checks = zip(conditions, (self._prefix + m for m in messages), strict=True)
            return error_if_each(out, list(checks))
        errors = _joined(messages, failed)
        if errors and _check_mode == "nan":  # the mode's promise: NaN results, no exception
            return jax.tree_util.tree_map(lambda leaf: _poison(jnp.asarray(leaf), True), out)
        if errors:
            raise CheckError(self._prefix + errors)
        return out
