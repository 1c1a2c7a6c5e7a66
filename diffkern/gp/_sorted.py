"""The one sortedness check of GP inputs (the quasiseparable solver needs X in order)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float

from diffkern._arrays import concrete, error_if
from diffkern.gp._finite import check_finite, finite_at


def is_sorted(
    x: Float[ArrayLike, "*batch N"], mask: Bool[ArrayLike, "*batch N"] | None = None
) -> bool | Bool[Array, ""]:
    """Whether ``x`` is non-decreasing along its last axis at the points where ``mask`` is True.

    A Python bool when ``x`` (and ``mask``) are concrete, else a traced boolean. NaN at a kept
    point counts as out of order; masked points may hold anything.
    """
    values = concrete(x)
    keep = None if mask is None else concrete(mask)
    if values is not None and (mask is None or keep is not None):
        return bool(_in_order(np, values, keep))
    return _in_order(jnp, jnp.asarray(x), None if mask is None else jnp.asarray(mask))


def _in_order(xp, x, keep):
    """x_i >= max(kept x_j, j < i) at every kept i, with numpy or jax.numpy as ``xp``."""
    if keep is None:
        return xp.all(x[..., 1:] >= x[..., :-1])
    kept = xp.where(keep, x, -xp.inf)
    # lax.cummax, not jnp.maximum.accumulate (a while loop: slow to compile and to run).
    axis = kept.ndim - 1
    running = np.maximum.accumulate(kept, axis) if xp is np else jax.lax.cummax(kept, axis)
    previous = xp.concatenate([xp.full_like(x[..., :1], -xp.inf), running[..., :-1]], axis=-1)
    return xp.all(~keep | (x >= previous))


def check_sorted(
    x: Float[ArrayLike, "*batch N"],
    name: str,
    mask: Bool[ArrayLike, "*batch N"] | None = None,
    *,
    traced: bool = True,
) -> Float[ArrayLike, "*batch N"]:
    """``x`` after checking it is finite, then :func:`is_sorted` (at the kept points):
    ``ValueError`` now when ``x`` is concrete, else run-time checks through
    :func:`diffkern._arrays.error_if` on the returned ``x`` (with ``traced``; without, traced
    values pass here and are checked where they are used); non-finite ``x`` reports only that."""
    x = check_finite(x, name, mask, traced=traced)
    ok = is_sorted(x, mask)
    message = f"{name} must be sorted (non-decreasing) for the quasiseparable solver"
    if isinstance(ok, bool):
        if not ok:
            raise ValueError(message)
        return x
    if not traced:
        return x
    return error_if(x, ~ok & finite_at(jnp.asarray(x), mask), message)
