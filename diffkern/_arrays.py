"""The one private array layer: dtype policy, promotion, broadcasting and value checks.

Every kernel package normalises its inputs here, so integers promote, Python scalars stay
weakly typed and bad values are reported the same way everywhere:

* dtypes: :func:`default_float`, :func:`result_dtype`, :func:`as_float`, :func:`cast`;
* shapes: :func:`broadcast_floats` (one dtype, one broadcast shape), :func:`inputs` (1-D);
* values: :func:`concrete` (the value when known now), :func:`check_values` (``ValueError`` at
  once when concrete, :func:`error_if` when traced), :func:`scalar_param`;
* run-time checks: :func:`error_if`, the one place where compiled code reports a bad value
  (raise through ``equinox.error_if``, or NaN in the mode set by
  ``diffkern.jit.set_value_checks``);
* transfer: :func:`to_device` (data crosses a ``jit`` boundary as traced arrays);
* placement: :func:`platform` (the backend the inputs live on, for choices made by device).
"""

from __future__ import annotations

import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real


def x64_enabled() -> bool:
    """Whether 64-bit types are currently enabled (globally or by ``diffkern.float64``)."""
    return bool(jax.config.read("jax_enable_x64"))


def default_float() -> np.dtype:
    """The dtype Python scalars and integers promote to: float64 under x64, else float32."""
    return np.dtype(np.float64 if x64_enabled() else np.float32)


def result_dtype(*args) -> np.dtype:
    """Floating dtype of a kernel's result: the widest floating input, else the default float.

    Integer and boolean inputs never widen the result; Python scalars are weakly typed.
    """
    floats = [a for a in args if jnp.issubdtype(jnp.result_type(a), jnp.floating)]
    if not floats:
        return default_float()
    return np.dtype(jnp.result_type(*floats))  # weak types (Python floats) do not widen


def as_float(x, dtype=None) -> jax.Array:
    """``x`` as a floating array: integers promote to ``dtype`` (default: the default float)."""
    x = jnp.asarray(x)
    if dtype is None:
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else default_float()
    return x.astype(dtype)


def eps(dtype) -> float:
    """Machine epsilon of a floating dtype."""
    return float(jnp.finfo(dtype).eps)


def cast(x: Array, dtype) -> Array:
    """``x`` in ``dtype`` (parameters follow the dtype of a kernel's inputs)."""
    return jnp.asarray(x).astype(dtype)


def broadcast_floats(**arrays: Real[ArrayLike, "*_"]) -> list[Float[Array, "*batch"]]:
    """The keyword arguments as floating arrays of one dtype and one broadcast shape.

    Integers are promoted; the dtype is the widest floating input (else the default float).
    Shapes that do not broadcast raise a ``ValueError`` naming the arguments.
    """
    dtype = result_dtype(*arrays.values())
    floats = {name: as_float(x, dtype) for name, x in arrays.items()}
    try:
        shape = np.broadcast_shapes(*(x.shape for x in floats.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {x.shape}" for name, x in floats.items())
        raise ValueError(f"shapes must broadcast against each other, got {shapes}") from None
    return [jnp.broadcast_to(x, shape) for x in floats.values()]


def inputs(x: ArrayLike, name: str) -> Array:
    """1-D floating inputs (times, positions)."""
    x = as_float(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (N,), got shape {x.shape}")
    return x


def to_device(*arrays: Real[ArrayLike, "*_"]) -> list[Real[Array, "*_"]]:
    """Inputs as device arrays, so they cross a ``jit`` boundary as traced data (never as static
    Python values that would recompile per value). ``jax.device_put`` converts on the host and
    compiles nothing; Python scalars stay weakly typed."""
    return [
        x if isinstance(x, jax.Array) else jax.device_put(x if np.isscalar(x) else np.asarray(x))
        for x in arrays
    ]


def platform(*arrays) -> str:
    """The platform ("cpu", "gpu", "tpu") that a computation on ``arrays`` runs on.

    Decided from where the inputs are placed, never from their values, so a choice made with it
    is static: concrete arrays report their device's platform; traced values (inside ``jit``),
    NumPy arrays and Python scalars fall back to ``jax.default_backend()``.
    """
    for x in jax.tree_util.tree_leaves(arrays):
        if isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer):
            try:
                devices = x.devices()
            except Exception:  # deleted or donated buffers: fall back to the default
                continue
            return _platform_name(next(iter(devices)).platform)
    return _platform_name(jax.default_backend())


def _platform_name(name: str) -> str:
    return "gpu" if name in ("cuda", "rocm", "gpu") else name


def concrete(x: ArrayLike) -> np.ndarray | None:
    """``x`` as numpy when its value is known now (outside tracing), else None."""
    try:
        return np.asarray(x)
    except jax.errors.TracerArrayConversionError:
        return None


CHECK_MODES = ("raise", "nan")
_check_mode = "nan" if os.environ.get("EQX_ON_ERROR") == "nan" else "raise"


def check_mode() -> str:
    """How failed run-time checks report in programs traced from now on: "raise" or "nan"."""
    return _check_mode


def set_check_mode(mode: str) -> str:
    """Set :func:`check_mode` (callers clear compiled caches); returns the previous mode."""
    global _check_mode
    if mode not in CHECK_MODES:
        raise ValueError(f"mode must be one of {CHECK_MODES}, got {mode!r}")
    previous, _check_mode = _check_mode, mode
    return previous


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


def error_if(x, pred: ArrayLike, message: str):
    """``x`` (a pytree), failing with ``message`` when any element of ``pred`` is True.

    In the default "raise" mode this is ``equinox.error_if`` (a host callback; ``EQX_ON_ERROR``
    still selects breakpoints and the like). In "nan" mode every floating leaf of ``x`` becomes
    NaN instead, with no callback, so the program can be kept by the persistent cache.
    """
    if _check_mode == "raise":
        return eqx.error_if(x, pred, message)
    bad = jnp.any(jnp.asarray(pred))
    return jax.tree_util.tree_map(lambda leaf: _poison(jnp.asarray(leaf), bad), x)


def check_values(x: Array, name: str, *, positive: bool) -> Array:
    """``x`` after checking ``x > 0`` (``positive``) or ``x >= 0``.

    Concrete values raise ``ValueError`` at once; traced values are checked with
    ``eqx.error_if`` (``EQX_ON_ERROR=nan`` turns the check into NaN, ``=breakpoint`` debugs).
    """
    bound = "> 0" if positive else ">= 0"
    value = concrete(x)
    if value is not None:
        bad = ~(value > 0) if positive else ~(value >= 0)
        if np.any(bad):
            raise ValueError(f"{name} must be {bound}, got {value}")
        return x
    bad = ~(x > 0) if positive else ~(x >= 0)
    return error_if(x, bad, f"{name} must be {bound}")


def scalar_param(value: ArrayLike, name: str, *, positive: bool = True) -> Array:
    """A kernel parameter: a floating scalar array, checked to be positive (or non-negative)."""
    x = as_float(value)
    if x.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {x.shape}")
    return check_values(x, name, positive=positive)
