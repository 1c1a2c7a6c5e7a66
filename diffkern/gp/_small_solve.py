"""Batched solves of small dense systems in elementwise array operations.

The parallel Kalman filter solves one J x J system per pair of combined elements (J, the state
size, is a handful). jaxlib's CPU LAPACK kernels (from 0.10) split a batch over XLA's intra-op
thread pool and block a pool thread until the parts are done: two such calls running at once on
a two-thread pool wait on each other forever. Gauss-Jordan elimination with partial pivoting,
unrolled over the J columns, needs no library call, runs the same on every backend, and for
J <= 8 costs no more than the LAPACK call.

For each column k: swap up the row of largest ``|m_ik|`` (i >= k), scale it by ``1 / m_kk``,
and subtract ``m_ik`` times it from every other row of the augmented matrix ``m = [a | b]``;
after J columns ``m = [I | a^-1 b]``.
"""

import jax.numpy as jnp
from jaxtyping import Array, Float


def solve_small(
    a: Float[Array, "*batch J J"], b: Float[Array, "*batch J K"]
) -> Float[Array, "*batch J K"]:
    """``a^-1 b`` for a batch of small square ``a`` (J static and small: the loop is unrolled)."""
    n = a.shape[-1]
    m = jnp.concatenate([a, b], axis=-1)
    rows = jnp.arange(n).reshape((1,) * (a.ndim - 2) + (n,))
    for k in range(n):
        size = jnp.where(rows >= k, jnp.abs(m[..., :, k]), -1)
        pivot = jnp.argmax(size, axis=-1)[..., None]
        row_k = m[..., k, :]
        row_p = jnp.take_along_axis(m, pivot[..., None], axis=-2)[..., 0, :]
        m = jnp.where((rows == pivot)[..., None], row_k[..., None, :], m)  # row p <- row k
        scaled = row_p / row_p[..., k : k + 1]
        m = m - m[..., :, k : k + 1] * scaled[..., None, :]
        m = m.at[..., k, :].set(scaled)
    return m[..., :, n:]
