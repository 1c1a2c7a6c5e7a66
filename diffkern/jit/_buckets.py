"""Shape buckets: pad variable lengths up to a few sizes so a handful of programs serve all."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool

__all__ = ["bucket_length", "pad_to_bucket"]


def bucket_length(n: int, *, growth: float = 1.5, minimum: int = 16) -> int:
    """The bucket for length ``n``: the smallest ``ceil(minimum * growth**k) >= n``, k = 0, 1, ...

    Geometric buckets waste at most a factor ``growth`` of padding, and lengths in
    ``[a, b]`` need about ``log(b / a) / log(growth) + 1`` compiled programs.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if growth <= 1.0:
        raise ValueError(f"growth must be > 1, got {growth}")
    if minimum < 1:
        raise ValueError(f"minimum must be >= 1, got {minimum}")
    if n <= minimum:
        return minimum
    k = math.ceil(math.log(n / minimum) / math.log(growth) - 1e-12)
    length = math.ceil(minimum * growth**k)
    while length < n:  # guard against rounding in the logarithm
        k += 1
        length = math.ceil(minimum * growth**k)
    return length


def pad_to_bucket(
    x, axis: int = 0, fill=0, *, length: int | None = None, growth: float = 1.5, minimum: int = 16
) -> tuple[Array, Bool[Array, " bucket"]]:
    """Pad ``x`` along ``axis`` to its bucket length (or ``length``) with ``fill``.

    Returns ``(padded, mask)`` where ``mask[i]`` is True for the original entries. ``x`` must
    have a concrete shape (call this outside ``jit``, where lengths are known).
    """
    x = jnp.asarray(x) if not isinstance(x, np.ndarray) else x
    n = x.shape[axis]
    target = bucket_length(n, growth=growth, minimum=minimum) if length is None else int(length)
    if target < n:
        raise ValueError(f"length must be >= x.shape[{axis}] = {n}, got {target}")
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, target - n)
    padded = jnp.pad(jnp.asarray(x), widths, constant_values=fill)
    mask = jnp.arange(target) < n
    return padded, mask
