"""Shape buckets: pad variable lengths up to a few sizes so a handful of programs serve all.

Shared by the kernels' batch paths (GP, orbits) and re-exported by :mod:`diffkern.jit`; it sits
outside :mod:`diffkern.jit` because kernels never import the packages that observe them.
"""

from __future__ import annotations

import math

import jax
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

    def size(k: int) -> int:
        return math.ceil(minimum * growth**k)

    # size(k) >= n  <=>  minimum * growth**k > n - 1; the loops only absorb rounding.
    k = math.floor(math.log((n - 1) / minimum) / math.log(growth)) + 1 if n - 1 >= minimum else 0
    while k > 0 and size(k - 1) >= n:
        k -= 1
    while size(k) < n:
        k += 1
    return size(k)


def pad_to_bucket(
    x, axis: int = 0, fill=0, *, length: int | None = None, growth: float = 1.5, minimum: int = 16
) -> tuple[Array, Bool[Array, " bucket"]]:
    """Pad ``x`` along ``axis`` to its bucket length (or ``length``) with ``fill``.

    Returns ``(padded, mask)`` where ``mask[i]`` is True for the original entries. ``x`` must
    have a concrete shape (call this outside ``jit``, where lengths are known); the padding is
    done on the host with numpy, so new lengths compile nothing (a device array is copied to
    the host and back). Computations must ignore the padded entries through ``mask``
    (``jnp.where(mask, ..., neutral)``), so a padded input gives the same result as the original.
    """
    x = np.asarray(x)  # padding on the host compiles nothing, whatever the length
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis must be in [{-x.ndim}, {x.ndim}) for shape {x.shape}, got {axis}")
    n = x.shape[axis]
    target = bucket_length(n, growth=growth, minimum=minimum) if length is None else int(length)
    if target < n:
        raise ValueError(f"length must be >= x.shape[{axis}] = {n}, got {target}")
    widths = [(0, 0)] * x.ndim
    widths[axis] = (0, target - n)
    # device_put, not jnp.asarray: the latter stages (compiles) a program per new shape
    padded = jax.device_put(np.pad(x, widths, constant_values=fill))
    mask = jax.device_put(np.arange(target) < n)
    return padded, mask
