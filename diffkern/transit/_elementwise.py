"""Elementwise flux programs with analytic derivatives, evaluated in cache-sized blocks on CPU."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, Float

# On CPU, XLA keeps the intermediates of a long elementwise program in memory; evaluating it
# over blocks of this many elements keeps them in cache (measured 4x faster at 10^6 points).
_CPU_BLOCK = 4096


def by_blocks(where: str, fn, *arrays: Float[Array, "*b"]):
    """``fn`` (elementwise, arrays of one shape) over blocks of ``_CPU_BLOCK`` elements on CPU,
    over the whole arrays elsewhere (``where`` is the platform, static)."""
    shape = arrays[0].shape
    if where != "cpu" or arrays[0].size <= _CPU_BLOCK:
        return fn(*arrays)
    flat = [x.reshape(-1) for x in arrays]
    out = jax.lax.map(lambda xs: fn(*xs), flat, batch_size=_CPU_BLOCK)
    return jax.tree_util.tree_map(lambda x: x.reshape(shape), out)


def with_partials(evaluate: Callable) -> Callable:
    """``f(where, *args)``: the value of ``evaluate(*args) -> (value, partials)`` (elementwise,
    arrays of one shape), whose JVP is ``sum_i partials[i] * tangents[i]`` (``jax.custom_jvp``;
    symbolic-zero tangents are skipped)."""

    def value(*args):
        return evaluate(*args)[0]

    @functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
    def f(where: str, *args) -> Float[Array, "*b"]:
        return by_blocks(where, value, *args)

    @functools.partial(f.defjvp, symbolic_zeros=True)
    def _jvp(where: str, primals, tangents):
        out, partials = by_blocks(where, evaluate, *primals)
        d_out = jnp.zeros_like(out)
        for partial, tangent in zip(partials, tangents, strict=True):
            if not isinstance(tangent, SymbolicZero):
                d_out = d_out + partial * tangent
        return out, d_out

    return f
