"""Indices widened before any arithmetic, so no index dtype overflows against an array size."""

import jax.numpy as jnp
from jaxtyping import Array, Integer


def wide_index(idx: Integer[Array, "*idx"], limit: int) -> Integer[Array, "*idx"]:
    """``idx`` as a signed integer dtype that holds every array size (int32, int64 for 64-bit
    indices); unsigned values above ``limit`` become ``limit``, so they stay out of range.

    ``int8(-1) + 300`` overflows in int8 and ``uint32(3) < 0`` never holds: both are wrong
    before they are widened.
    """
    if jnp.issubdtype(idx.dtype, jnp.unsignedinteger) and limit < jnp.iinfo(idx.dtype).max:
        idx = jnp.minimum(idx, jnp.asarray(limit, idx.dtype))
    return idx.astype(jnp.int64 if idx.dtype.itemsize == 8 else jnp.int32)
