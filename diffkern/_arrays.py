"""The one private array layer: dtype policy, promotion, broadcasting and value checks.

Every kernel package normalises its inputs here, so integers promote, Python scalars stay
weakly typed and bad values are reported the same way everywhere:

* dtypes: :func:`default_float`, :func:`result_dtype`, :func:`as_float`, :func:`cast`;
* shapes: :func:`broadcast_floats` (one dtype, one broadcast shape), :func:`inputs` (1-D);
* values: :func:`concrete` (the value when known now), :func:`check_values` (``ValueError`` at
  once when concrete, :func:`error_if` when traced);
* run-time checks: :func:`error_if` and :func:`error_if_each` (from :mod:`diffkern._checks`,
  re-exported here);
* transfer: :func:`to_device` (data crosses a ``jit`` boundary as traced arrays);
* placement: :func:`platform` (the backend the inputs live on, for choices made by device).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._checks import error_if, error_if_each

__all__ = [
    "as_float",
    "broadcast_floats",
    "cast",
    "check_values",
    "concrete",
    "default_float",
    "eps",
    "error_if",
    "error_if_each",
    "inputs",
    "platform",
    "result_dtype",
    "to_device",
    "x64_enabled",
]


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
    # numpy arrays are never weakly typed: one of each dtype decides as well as all of them
    # (ragged calls pass hundreds of series).
    args = list({a.dtype if isinstance(a, np.ndarray) else id(a): a for a in args}.values())
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


def check_values(x: Array, name: str, *, positive: bool, traced: bool = True) -> Array:
    """``x`` after checking ``x > 0`` (``positive``) or ``x >= 0``.

    Values known now raise ``ValueError`` at once: concrete arrays, and under eager ``grad`` or
    ``jvp`` the primal values (no host callback is compiled). Values traced by ``jit`` or
    ``vmap`` are checked at run time with :func:`error_if` (with ``traced``; without, they pass
    here and their user checks them).
    """
    bound = "> 0" if positive else ">= 0"
    value = concrete(x)  # numpy when known: compiles nothing
    known = x if value is None else value
    bad = ~(known > 0) if positive else ~(known >= 0)
    try:
        failed = bool(bad.any())  # also known under eager grad/jvp
    except jax.errors.ConcretizationTypeError:
        return error_if(x, bad, f"{name} must be {bound}") if traced else x
    if failed:
        got = f", got {value}" if value is not None else ""
        raise ValueError(f"{name} must be {bound}{got}")
    return x
