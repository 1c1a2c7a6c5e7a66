"""Elementwise programs over cache-sized blocks: a loop on CPU, where XLA would otherwise keep
every intermediate of a long elementwise program in memory."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
from jaxtyping import Array, Shaped


def in_blocks(fn: Callable, arrays: Sequence[Shaped[Array, "*b"]], block: int):
    """``fn(*arrays)`` (elementwise, arrays of one shape, any pytree of outputs of that shape)
    evaluated ``block`` elements at a time in a loop; directly when there are at most ``block``.

    The last block ends at the last element and overlaps the one before it (recomputing a few
    elements gives the same values), so nothing is padded and no remainder needs a program of
    its own; each block is written in place into the outputs.
    """
    shape, size = arrays[0].shape, arrays[0].size
    if size <= block:
        return fn(*arrays)
    flat = [x.reshape(-1) for x in arrays]

    def body(i, out):
        start = jnp.minimum(i * block, size - block)
        ys = fn(*(jax.lax.dynamic_slice_in_dim(x, start, block) for x in flat))
        return jax.tree_util.tree_map(
            lambda o, y: jax.lax.dynamic_update_slice_in_dim(o, y, start, 0), out, ys
        )

    shapes, tree = jax.tree_util.tree_flatten(jax.eval_shape(fn, *flat))
    # A different fill per output: XLA would merge equal ones into one buffer, then copy it
    # (a whole extra pass over memory) to give each output its own.
    out = [jnp.full(x.shape, k, x.dtype) for k, x in enumerate(shapes)]
    out = jax.tree_util.tree_unflatten(tree, out)
    out = jax.lax.fori_loop(0, -(-size // block), body, out)
    return jax.tree_util.tree_map(lambda x: x.reshape(shape), out)
