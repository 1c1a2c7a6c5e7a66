"""Elementwise flux programs ``fn(b, r, *rest)`` with analytic derivatives, evaluated in
cache-sized blocks on CPU, each block's flux one XLA kernel (:func:`diffkern._fusion.fused`)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, Float

from diffkern._blocks import in_blocks
from diffkern._fusion import fused

# On CPU, XLA keeps the intermediates of a long elementwise program in memory; evaluating it
# over blocks of this many elements keeps them in cache (measured 4x faster at 10^6 points).
_CPU_BLOCK = 4096


def by_blocks(where: str, fn, b: Float[Array, "*b"], r: Float[Array, "*b"], *rest):
    """``fn(b, r, *rest)`` (an elementwise flux program, arrays of one shape) over blocks of
    ``_CPU_BLOCK`` elements on CPU, over the whole arrays elsewhere (``where`` is the platform,
    static).

    A block where the discs nowhere overlap (``|b| >= 1 + r`` or ``r = 0``) skips ``fn``: its
    first output is 1 there and every other output 0, as ``fn``'s are. A light curve is mostly
    out of transit, so most blocks of a time-ordered one cost next to nothing. Each block runs in
    a ``lax.cond`` branch, which also keeps XLA from fusing the program with the block's slicing
    (fusions that slice or update in place compile to slower code).
    """
    if where != "cpu":
        return fn(b, r, *rest)
    return in_blocks(functools.partial(_unless_apart, fn), (b, r, *rest), _CPU_BLOCK)


def _unless_apart(fn, b, r, *rest):
    """``fn(b, r, *rest)``, or its constant value where the discs are apart everywhere."""
    leaves, tree = jax.tree_util.tree_flatten(jax.eval_shape(fn, b, r, *rest))

    def apart(*_):
        constants = [jnp.full(x.shape, 1 if i == 0 else 0, x.dtype) for i, x in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(tree, constants)

    return jax.lax.cond(jnp.all((jnp.abs(b) >= 1 + r) | (r == 0)), apart, fn, b, r, *rest)


def with_partials(evaluate: Callable) -> Callable:
    """``f(where, *args)``: the value of ``evaluate(*args) -> (value, partials)`` (elementwise,
    arrays of one shape), whose JVP is ``sum_i partials[i] * tangents[i]`` (``jax.custom_jvp``;
    symbolic-zero tangents are skipped)."""

    def value(*args):
        return evaluate(*args)[0]

    @functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
    def f(where: str, *args) -> Float[Array, "*b"]:
        return by_blocks(where, fused(value), *args)

    @functools.partial(f.defjvp, symbolic_zeros=True)
    def _jvp(where: str, primals, tangents):
        out, partials = by_blocks(where, fused(evaluate), *primals)
        d_out = jnp.zeros_like(out)
        for partial, tangent in zip(partials, tangents, strict=True):
            if not isinstance(tangent, SymbolicZero):
                d_out = d_out + partial * tangent
        return out, d_out

    return f
