"""Bounds-checked ``dynamic_slice``: a window that errors instead of silently shifting."""

from typing import Literal

import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Integer, Shaped

from diffkern._arrays import error_if
from diffkern._checks import checked
from diffkern.scan._index import wide_index


@checked
def window(
    a: Shaped[ArrayLike, "..."],
    start: Integer[ArrayLike, ""],
    size: int,
    *,
    axis: int = 0,
    mode: Literal["check", "clip"] = "check",
) -> Shaped[Array, "..."]:
    """``a[start : start + size]`` along ``axis`` for a traced ``start`` (static ``size``).

    ``lax.dynamic_slice`` moves a window that leaves the array back inside it, returning the
    wrong elements without a word. Here ``mode="check"`` (default) requires
    ``0 <= start <= a.shape[axis] - size`` and otherwise raises (:class:`diffkern.CheckError`
    on the host after a call outside ``jit``; a host callback inside ``jit``, ``vmap`` and
    ``scan``; ``diffkern.jit.set_value_checks("nan")`` returns NaN instead). ``mode="clip"``
    keeps JAX's clamping, on purpose. ``start`` may be of any integer dtype (signed or
    unsigned; widened before any arithmetic).
    """
    a = jnp.asarray(a)
    start = jnp.asarray(start)
    if mode not in ("check", "clip"):
        raise ValueError(f'mode must be "check" or "clip", got {mode!r}')
    if not jnp.issubdtype(start.dtype, jnp.integer) or start.ndim != 0:
        raise TypeError(f"start must be an integer scalar, got {start.dtype}{list(start.shape)}")
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"axis must be in [{-a.ndim}, {a.ndim}) for a of shape {a.shape}")
    axis %= a.ndim
    n = a.shape[axis]
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= n:
        raise ValueError(f"size must be a static int in [0, {n}] (a.shape[{axis}]), got {size!r}")
    start = wide_index(start, n + 1)  # unsigned starts past n stay out of range for size 0
    out = lax.dynamic_slice_in_dim(a, start, size, axis=axis)
    if mode == "clip":
        return out
    bad = (start < 0) | (start > n - size)
    return error_if(out, bad, f"window: start must be in [0, {n - size}] for size {size}")
