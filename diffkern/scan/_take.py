"""Indexing with a checked mode: out-of-range indices raise instead of returning garbage."""

from typing import Literal

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Integer, Shaped

from diffkern._arrays import error_if
from diffkern._checks import checked
from diffkern.scan._index import wide_index

_MODES = ("check", "clip", "wrap", "fill")


@checked
def take(
    a: Shaped[ArrayLike, "..."],
    idx: Integer[ArrayLike, "*idx"],
    *,
    axis: int = 0,
    mode: Literal["check", "clip", "wrap", "fill"] = "check",
    fill_value: float | int | None = None,
) -> Shaped[Array, "..."]:
    """``jnp.take(a, idx, axis)`` with an explicit policy for out-of-range indices.

    Valid indices are ``-n <= idx < n`` with ``n = a.shape[axis]`` (negative ones count from
    the end, as in numpy), of any signed or unsigned integer dtype (widened before any
    arithmetic, so ``int8(-1)`` is the last element of any length). ``mode``:

    * ``"check"`` (default): raise when any index is out of range: :class:`diffkern.CheckError`
      on the host after a call outside ``jit`` (the compiled program holds no callback),
      through a host callback inside ``jit``, ``vmap`` and ``scan``
      (``diffkern.jit.set_value_checks("nan")`` returns NaN instead).
    * ``"clip"``: clamp to ``[0, n - 1]``; ``"wrap"``: indices modulo ``n``;
    * ``"fill"``: out-of-range positions take ``fill_value`` (default NaN, or the dtype's
      minimum for integer ``a``).
    """
    a = jnp.asarray(a)
    idx = jnp.asarray(idx)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if not jnp.issubdtype(idx.dtype, jnp.integer):
        raise TypeError(f"idx must be an integer array, got dtype {idx.dtype}")
    if not -a.ndim <= axis < a.ndim:
        raise ValueError(f"axis must be in [{-a.ndim}, {a.ndim}) for a of shape {a.shape}")
    n = a.shape[axis]
    if mode == "wrap" and jnp.issubdtype(idx.dtype, jnp.unsignedinteger):
        idx = idx % jnp.asarray(n, idx.dtype) if n <= jnp.iinfo(idx.dtype).max else idx
    idx = wide_index(idx, n)
    if mode == "check":
        out = jnp.take(a, jnp.where(idx < 0, idx + n, idx), axis=axis, mode="clip")
        bad = (idx < -n) | (idx >= n)
        return error_if(out, bad, f"take: idx must be in [{-n}, {n}) along axis {axis}")
    return jnp.take(a, idx, axis=axis, mode=mode, fill_value=fill_value)
