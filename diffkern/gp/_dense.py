"""Dense Cholesky log-likelihood with its closed-form derivative.

For C = K + D (positive definite) and residual r, with alpha = C^{-1} r,

    log L = -1/2 r^T alpha - 1/2 log det C - n/2 log(2 pi),
    d log L = 1/2 tr((alpha alpha^T - C^{-1}) dC) - alpha^T dr.

The derivative is a ``jax.custom_jvp`` whose tangent is linear in (dC, dr) with coefficients
computed once from the factorisation, so reverse mode (by transposition) never differentiates
through the Cholesky factorisation: value + gradient costs one factorisation and one inverse.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve, solve_triangular
from jaxtyping import Array, Bool, Float


def _factor(C: Float[Array, "n n"], r: Float[Array, " n"]):
    L = jnp.linalg.cholesky(C)
    alpha = cho_solve((L, True), r)
    diag = jnp.diagonal(L)
    # A failed factorisation (not positive definite at this precision) gives NaN here.
    value = -0.5 * jnp.dot(r, alpha) - jnp.sum(jnp.log(diag))
    return L, alpha, value


@jax.custom_jvp
def gaussian_log_density(C: Float[Array, "n n"], r: Float[Array, " n"]) -> Float[Array, ""]:
    """-1/2 r^T C^{-1} r - 1/2 log det C (without the -n/2 log 2 pi); NaN if C is not PD."""
    return _factor(C, r)[2]


@gaussian_log_density.defjvp
def _gaussian_log_density_jvp(primals, tangents):
    C, r = primals
    dC, dr = tangents
    L, alpha, value = _factor(C, r)
    ok = jnp.isfinite(value)
    L_inv = solve_triangular(L, jnp.eye(L.shape[0], dtype=L.dtype), lower=True)
    W = 0.5 * (alpha[:, None] * alpha[None, :] - L_inv.T @ L_inv)
    # Zero coefficients on failure keep gradients finite where callers replace the value.
    W = jnp.where(ok, W, 0)
    alpha = jnp.where(ok, alpha, 0)
    return value, jnp.sum(W * dC) - jnp.dot(alpha, dr)


def failure_message(dtype) -> str:
    """The error raised when a dense factorisation fails."""
    return (
        f"Cholesky factorisation failed in {jnp.dtype(dtype).name}: the covariance K + diag is "
        "not positive definite at this precision (or holds non-finite values). Use float64, "
        "a larger diag (noise), or on_failure='-inf'."
    )


def noisy_covariance(
    K: Float[Array, "n n"],
    noise: Float[Array, " n"],
    jitter: float,
    mask: Bool[Array, " n"] | None = None,
) -> Float[Array, "n n"]:
    """C = K + diag(noise) + jitter * eps * mean(diag(K + noise)) I.

    With ``mask``, rows and columns of masked points become those of the identity, so they add
    exactly zero to the quadratic form and to log det C, and the jitter uses unmasked points only.
    """
    n = K.shape[0]
    d = jnp.diagonal(K) + noise
    if mask is None:
        scale = jnp.mean(d)
    else:
        d = jnp.where(mask, d, 0)
        scale = jnp.sum(d) / jnp.maximum(jnp.sum(mask), 1).astype(K.dtype)
        K = jnp.where(mask[:, None] & mask[None, :], K, 0)
    d = d + jitter * float(jnp.finfo(K.dtype).eps) * scale
    if mask is not None:
        d = jnp.where(mask, d, 1)
    return K.at[jnp.arange(n), jnp.arange(n)].set(d)


def dense_log_probability(
    C: Float[Array, "n n"], r: Float[Array, " n"], n_points: Array | int, on_failure: str
) -> Float[Array, ""]:
    """log N(r | 0, C) for ``n_points`` points; a failed factorisation raises or gives -inf."""
    n_points = jnp.asarray(n_points).astype(C.dtype)
    value = gaussian_log_density(C, r) - 0.5 * math.log(2 * math.pi) * n_points
    failed = ~jnp.isfinite(value)
    if on_failure == "-inf":
        return jnp.where(failed, -jnp.inf, value)
    return eqx.error_if(value, failed, failure_message(C.dtype))
