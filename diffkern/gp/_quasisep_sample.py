"""Draws from N(0, K + diag(d)) at sorted points in O(N J^3), sequential or parallel in time.

With the state-space form (h, P, A_i, Q_i = P - A_i P A_i^T) the draw is

    x_0 = P^{1/2} z_0,   x_i = A_i x_{i-1} + Q_i^{1/2} z_i,   y_i = h^T x_i + sqrt(d_i) eps_i,

with z, eps standard normal: an affine recursion, whose maps x -> A x + c compose
associatively ((A_2, c_2) o (A_1, c_1) = (A_2 A_1, A_2 c_1 + c_2)), so the parallel version is
an associative scan over them and gives the same draw as the sequential one for the same key.

Square roots: Q_i is positive semi-definite in exact arithmetic, but P - A_i P A_i^T cancels for
steps much shorter than the correlation length and can come out slightly indefinite (float32
most of all). The root V diag(sqrt(max(lambda, 0))) of the eigen-decomposition Q = V diag(lambda)
V^T never gives NaN; clipping changes the covariance by at most the rounding error of Q. Draws
are not meant to be differentiated (eigh has no derivative at repeated eigenvalues: Cosine's
Q_i = 0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PRNGKeyArray

from diffkern.gp._quasisep_parallel import _scan, _sym, _t
from diffkern.gp._quasisep_scan import _mm, _mv


def _affine(first, second):
    """x -> A_2 (A_1 x + c_1) + c_2."""
    (a1, c1), (a2, c2) = first, second
    return _mm(a2, a1), _mv(a2, c1) + c2


def _sqrt_psd(q: Float[Array, "N J J"]) -> Float[Array, "N J J"]:
    """L with L L^T = q, negative eigenvalues (rounding) clipped to 0."""
    w, v = jnp.linalg.eigh(q)
    return v * jnp.sqrt(jnp.maximum(w, 0))[..., None, :]


def sample(
    key: PRNGKeyArray,
    A: Float[Array, "N J J"],
    P: Float[Array, "J J"],
    h: Float[Array, " J"],
    d: Float[Array, " N"],
    *,
    parallel: bool = True,
) -> Float[Array, " N"]:
    """One draw of N(0, K + diag(d)); A_i is the transition from point i-1 (A_0: any)."""
    n, J = A.shape[:2]
    state_key, noise_key = jax.random.split(key)
    z = jax.random.normal(state_key, (n + 1, J), h.dtype)
    eps = jax.random.normal(noise_key, (n,), h.dtype)
    Pn = jnp.broadcast_to(P, A.shape)
    Q = _sym(Pn - _mm(_mm(A, Pn), _t(A)))
    noise = _mv(_sqrt_psd(jnp.concatenate([P[None], Q])), z)
    c = noise[1:].at[0].add(_mv(A[0], noise[0]))
    identity = (jnp.eye(J, dtype=h.dtype), jnp.zeros(J, h.dtype))
    _, x = _scan(_affine, (A, c), identity, reverse=False, parallel=parallel)
    return jnp.sum(x * jnp.broadcast_to(h, x.shape), -1) + jnp.sqrt(d) * eps
