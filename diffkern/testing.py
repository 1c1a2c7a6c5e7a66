"""Test helpers shared by diffkern's suite and by users checking their own models.

* :func:`tolerance` - one tolerance per dtype, stated next to the assertion that uses it.
* :func:`check_grads` - ``jax.test_util.check_grads`` with a finite-difference step chosen per
  dtype (central differences have error O(h^2) + O(eps/h), minimised near h = eps^(1/3)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jax.test_util import check_grads as _jax_check_grads

__all__ = ["tolerance", "fd_step", "check_grads", "central_difference"]


def tolerance(dtype, *, float32: float, float64: float) -> float:
    """Pick the tolerance for ``dtype`` from the per-dtype values given."""
    name = jnp.dtype(dtype).name
    if name in ("float32", "complex64", "float16", "bfloat16"):
        return float32
    if name in ("float64", "complex128"):
        return float64
    raise ValueError(f"dtype must be a floating dtype, got {name}")


def fd_step(dtype) -> float:
    """Central-difference step for ``dtype``: eps^(1/3) (about 6e-6 in float64, 5e-3 in float32)."""
    return float(jnp.finfo(dtype).eps) ** (1.0 / 3.0)


def check_grads(
    f: Callable,
    args: Sequence,
    order: int = 2,
    modes: Sequence[str] = ("fwd", "rev"),
    *,
    atol: float | None = None,
    rtol: float | None = None,
) -> None:
    """``jax.test_util.check_grads`` with the step chosen for the arguments' dtype."""
    dtype = jnp.result_type(*args)
    _jax_check_grads(f, tuple(args), order, modes, atol=atol, rtol=rtol, eps=fd_step(dtype))


def central_difference(f: Callable, x: jax.Array) -> jax.Array:
    """d f / d x by a central difference, elementwise in ``x`` (``f`` must act elementwise)."""
    h = fd_step(jnp.result_type(x)) * jnp.maximum(1.0, jnp.abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)
