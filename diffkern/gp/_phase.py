"""sin and cos of omega (x1[i] - x2[j]) on a grid, from O(N + M) trigonometric functions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float


def phase_grid(
    x1: Float[Array, " n"], x2: Float[Array, " m"], omega: Float[Array, ""], *, sine: bool
) -> Float[Array, "n m"]:
    """``sin(omega (x1[i] - x2[j]))`` (``sine=True``) or ``cos(...)``, by the difference
    formulas ``sin(a - b) = sin a cos b - cos a sin b``, ``cos(a - b) = cos a cos b + sin a sin b``
    written as one rank-2 matrix product.

    The N x M elements then cost no trigonometric function: evaluated per element (and again
    for its derivative), sin dominates a periodic kernel matrix and its gradient. A matrix
    product, because XLA fuses elementwise ``sin(x1)`` into the N x M loop that broadcasts it
    and recomputes it per element. Phases are taken from a common origin inside the data
    (``x2``'s middle element), so they stay small and float32 keeps the accuracy of the
    differences; the kernel depends on differences only, so the origin carries no derivative.
    ``HIGHEST`` precision keeps float32 products in float32 on GPUs (no TF32).
    """
    origin = jax.lax.stop_gradient(x2[x2.shape[0] // 2]) if x2.shape[0] else 0
    a, b = omega * (x1 - origin), omega * (x2 - origin)
    sin_a, cos_a, sin_b, cos_b = jnp.sin(a), jnp.cos(a), jnp.sin(b), jnp.cos(b)
    left = jnp.stack([sin_a, -cos_a] if sine else [cos_a, sin_a], axis=1)
    right = jnp.stack([cos_b, sin_b], axis=0)
    return jnp.matmul(left, right, precision=jax.lax.Precision.HIGHEST)
