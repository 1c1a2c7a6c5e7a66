r"""Parallel prefix scan in a program whose size does not depend on the length N.

``lax.associative_scan`` unrolls its ceil(log2 N) levels into the program, each level with its
own shapes, so its program (and compile time) grows with N. Here every loop has fixed shapes:

1. Blocks. The N elements (padded with the identity e to a multiple of the block length L) are
   laid out as L rows of N/L blocks; one ``lax.scan`` of L - 1 steps scans all blocks at once:
   :math:`y_{j,l} = y_{j,l-1} \circ x_{j,l}`.
2. Block totals. The totals :math:`T_j = y_{j,L-1}` are scanned by Hillis and Steele (1986):
   ``lax.fori_loop`` over the ceil(log2(N/L)) levels, level k combining every total with the
   one :math:`2^k` before it (:math:`T_j \leftarrow T_{j-2^k} \circ T_j` for
   :math:`j \ge 2^k`), a shift by a traced distance read through ``lax.dynamic_slice`` from
   the totals preceded by copies of e.
3. Carry in. :math:`z_{j,l} = P_{j-1} \circ y_{j,l}` with :math:`P_{j-1}` the inclusive
   total of the blocks before j (block 0 is left as it is).

Work: about 2N + (N/L) log2(N/L) combinations; depth: L - 1 + ceil(log2(N/L)) + 1; reverse-mode
residuals O(N) elements. The default L = max(1, ceil(log2 N)) keeps the work below 3N and the
depth below 2 log2 N + 1. ``block=1`` is the plain Hillis-Steele scan: depth ceil(log2 N), the
least, at N log2 N work and residuals. Derivatives (forward, reverse, any order) are JAX's:
the loops have static trip counts. Results equal a sequential fold up to the reassociation
of floating-point operations; outputs for elements combined with e are masked, never
approximated.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, PyTree

Combine = Callable[[Any, Any], Any]


def _map(f: Callable, *trees: Any) -> Any:
    return jax.tree_util.tree_map(f, *trees)


def _fill(identity: PyTree[Array], n: int) -> PyTree[Array]:
    """n copies of the identity element along a new leading axis."""
    return _map(lambda e: jnp.broadcast_to(e, (n, *e.shape)), identity)


def _keep(mask: Array, new: PyTree[Array], old: PyTree[Array]) -> PyTree[Array]:
    """``new`` where ``mask`` (over the leading axis) holds, else ``old``."""
    return _map(lambda u, v: jnp.where(mask.reshape(-1, *(1,) * (v.ndim - 1)), u, v), new, old)


def _hillis_steele(fn: Combine, xs: PyTree[Array], identity: PyTree[Array]) -> PyTree[Array]:
    """Inclusive scan of xs (leading length n) in ceil(log2 n) fixed-shape levels."""
    n = jax.tree_util.tree_leaves(xs)[0].shape[0]
    index = jnp.arange(n)

    def level(k: Array, xs: PyTree[Array]) -> PyTree[Array]:
        shift = jnp.left_shift(1, k)
        before = _map(
            lambda e, x: lax.dynamic_slice_in_dim(jnp.concatenate([e, x]), n - shift, n),
            _fill(identity, n),
            xs,
        )
        return _keep(index >= shift, fn(before, xs), xs)

    return lax.fori_loop(0, (n - 1).bit_length(), level, xs)


def _blocked(fn: Combine, xs: PyTree[Array], identity: PyTree[Array], block: int) -> Any:
    """Inclusive scan of xs (leading length n) by blocks of ``block`` elements."""
    n = jax.tree_util.tree_leaves(xs)[0].shape[0]
    blocks = -(-n // block)
    pad = _fill(identity, blocks * block - n)
    xs = _map(lambda x, p: jnp.concatenate([x, p]), xs, pad)
    # (blocks * block, ...) -> (block, blocks, ...): row l holds element l of every block.
    rows = _map(lambda x: jnp.swapaxes(x.reshape(blocks, block, *x.shape[1:]), 0, 1), xs)
    first = _map(lambda x: x[0], rows)

    def step(carry: PyTree[Array], x: PyTree[Array]) -> tuple[Any, Any]:
        carry = fn(carry, x)
        return carry, carry

    _, later = lax.scan(step, first, _map(lambda x: x[1:], rows))
    local = _map(lambda f, y: jnp.concatenate([f[None], y]), first, later)
    totals = _hillis_steele(fn, _map(lambda y: y[-1], local), identity)
    carry_in = _map(lambda e, t: jnp.concatenate([e, t[:-1]]), _fill(identity, 1), totals)
    flat = lambda y: y.reshape(block * blocks, *y.shape[2:])
    joined = fn(
        _map(lambda c: flat(jnp.broadcast_to(c, (block, *c.shape))), carry_in), _map(flat, local)
    )
    out = _keep(jnp.arange(block * blocks) % blocks > 0, joined, _map(flat, local))
    unrows = lambda y: jnp.swapaxes(y.reshape(block, blocks, *y.shape[1:]), 0, 1)
    return _map(lambda y: unrows(y).reshape(blocks * block, *y.shape[1:])[:n], out)


def _length(elems: PyTree[Array]) -> int:
    leaves = jax.tree_util.tree_leaves(elems)
    if not leaves:
        raise ValueError("elems must hold at least one array")
    shapes = [leaf.shape for leaf in leaves]
    if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(f"elems leaves must share one leading axis, got shapes {shapes}")
    if shapes[0][0] == 0:
        raise ValueError(f"elems must have a non-empty leading axis, got shapes {shapes}")
    return shapes[0][0]


def _identity_like(identity: PyTree[ArrayLike], elems: PyTree[Array]) -> PyTree[Array]:
    """The identity as one element of elems: same structure, element shapes and dtypes."""
    structure = jax.tree_util.tree_structure(elems)
    if jax.tree_util.tree_structure(identity) != structure:
        raise ValueError(
            f"identity must have the structure of elems, {structure}, "
            f"got {jax.tree_util.tree_structure(identity)}"
        )

    def one(e: ArrayLike, x: Array) -> Array:
        e = jnp.asarray(e)
        try:
            return jnp.broadcast_to(e.astype(x.dtype), x.shape[1:])
        except ValueError:
            raise ValueError(
                f"identity leaf of shape {e.shape} must broadcast to one element {x.shape[1:]}"
            ) from None

    return _map(one, identity, elems)


def prefix_scan(
    fn: Combine,
    elems: PyTree[ArrayLike],
    identity: PyTree[ArrayLike],
    *,
    reverse: bool = False,
    block: int | None = None,
) -> PyTree[Array]:
    r"""Every prefix combination :math:`x_0 \circ x_1 \circ \dots \circ x_i` of ``elems``.

    The contract of ``lax.associative_scan(fn, elems, reverse=reverse)`` (axis 0), compiled to
    a program whose size does not depend on N (see the module docstring for the algorithm).

    Args:
        fn: associative combination ``fn(a, b)`` = :math:`a \circ b`, a (earlier) before b,
            batched over the leading axis of every leaf (the pytree structure of ``elems``).
        elems: pytree of arrays sharing a non-empty leading axis N.
        identity: e with :math:`e \circ x = x`: one element (no leading axis), same structure
            as ``elems``, each leaf broadcastable to its element. It fills shifted-in and
            padding slots, whose results are masked; any element with finite combinations
            works.
        reverse: scan from the end: result i combines elements N-1 .. i, ``fn`` receiving
            the later part first.
        block: block length L, a positive int; ``None``: max(1, ceil(log2 N)); 1: Hillis-Steele.

    Returns:
        pytree like ``elems``: result i is the prefix (suffix when ``reverse``) ending at i.
    """
    elems = _map(jnp.asarray, elems)
    n = _length(elems)
    identity = _identity_like(identity, elems)
    if block is None:
        block = max(1, (n - 1).bit_length())
    if isinstance(block, bool) or not isinstance(block, int) or block < 1:
        raise ValueError(f"block must be a positive int or None, got {block!r}")
    flip = lambda tree: _map(lambda x: jnp.flip(x, 0), tree) if reverse else tree
    if block == 1:
        return flip(_hillis_steele(fn, flip(elems), identity))
    return flip(_blocked(fn, flip(elems), identity, min(block, n)))
