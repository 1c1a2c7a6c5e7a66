"""Dense Cholesky log-likelihood with its closed-form derivative.

For C = K + D (positive definite) and residual r, with alpha = C^{-1} r,

    log L = -1/2 r^T alpha - 1/2 log det C - n/2 log(2 pi),
    d log L = 1/2 tr((alpha alpha^T - C^{-1}) dC) - alpha^T dr.

The derivative is a ``jax.custom_jvp`` whose tangent is linear in (dC, dr) with coefficients
computed once from the factorisation, so reverse mode (by transposition) never differentiates
through the Cholesky factorisation: value + gradient costs one factorisation (N^3 / 3 flops)
and one inverse from it (5 N^3 / 6 flops, in matrix products and triangular solves).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.lax.linalg import triangular_solve
from jax.scipy.linalg import cho_solve, solve_triangular
from jaxtyping import Array, Bool, Float

from diffkern._arrays import error_if, platform
from diffkern.gp._finite import pivot_bound, pivot_message

# On CPU, _cho_inverse recurses down to blocks of this size, then solves against the identity
# (2 n^3 flops, negligible here); other platforms solve against the identity in one call.
_BLOCK = 128
# Jitter added to the covariance's diagonal, in units of eps * mean(diag) (see noisy_covariance).
DEFAULT_JITTER = 10.0


def _cho_inverse(L: Float[Array, "n n"], block: int) -> Float[Array, "n n"]:
    """C^{-1} from the Cholesky factor L of C, by recursion on 2 x 2 blocks down to ``block``.

    With X = L21 L11^{-1} and P_k = (L_kk L_kk^T)^{-1} (recursively):
    C^{-1} = [[P_1 + X^T P_2 X, -X^T P_2], [-P_2 X, P_2]]; 5 n^3 / 6 flops, against 2 n^3
    for solving against the identity.
    """
    n = L.shape[0]
    if n <= block:
        return cho_solve((L, True), jnp.eye(n, dtype=L.dtype))
    k = n // 2
    L11, L21, L22 = L[:k, :k], L[k:, :k], L[k:, k:]
    X = triangular_solve(L11, L21, left_side=False, lower=True)
    P2 = _cho_inverse(L22, block)
    C21 = -(P2 @ X)
    C11 = _cho_inverse(L11, block) - X.T @ C21
    return jnp.block([[C11, C21.T], [C21, P2]])


def _factor(C: Float[Array, "n n"], r: Float[Array, " n"], c_diagonal: Float[Array, " n"]):
    """L, z = L^{-1} r, the value -1/2 z^T z - sum log diag L (NaN if C is not PD) and the
    smallest relative pivot min_k L_kk^2 / C_kk."""
    L = jnp.linalg.cholesky(C, symmetrize_input=False)  # C is symmetric by construction
    z = solve_triangular(L, r, lower=True)
    diagonal = jnp.diagonal(L)
    value = -0.5 * jnp.dot(z, z) - jnp.sum(jnp.log(diagonal))
    return L, z, value, jnp.min(diagonal * diagonal / c_diagonal)


@jax.custom_jvp
def gaussian_log_density(
    C: Float[Array, "n n"], r: Float[Array, " n"], c_diagonal: Float[Array, " n"]
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """-1/2 r^T C^{-1} r - 1/2 log det C (without the -n/2 log 2 pi; NaN if C is not PD) and
    the smallest relative pivot of the factorisation (for the caller's check; derivative 0).

    ``c_diagonal`` is diag C as the caller built it: read back from C, XLA would have to store
    the kernel matrix before the diagonal's select instead of computing C in one pass.
    """
    return _factor(C, r, c_diagonal)[2:]


@gaussian_log_density.defjvp
def _gaussian_log_density_jvp(primals, tangents):
    C, r, c_diagonal = primals
    dC, dr, _ = tangents
    L, z, value, pivot = _factor(C, r, c_diagonal)
    ok = jnp.isfinite(value)
    alpha = solve_triangular(L, z, lower=True, trans=1)
    block = _BLOCK if platform(L) == "cpu" else L.shape[0]
    W = 0.5 * (alpha[:, None] * alpha[None, :] - _cho_inverse(L, block))
    # Zero coefficients on failure keep gradients finite where callers replace the value.
    W = jnp.where(ok, W, 0)
    alpha = jnp.where(ok, alpha, 0)
    return (value, pivot), (jnp.sum(W * dC) - jnp.dot(alpha, dr), jnp.zeros_like(pivot))


def failure_message(dtype) -> str:
    """The error raised when a dense factorisation fails."""
    return pivot_message(dtype, "Cholesky factorisation") + ", or on_failure='-inf'."


def trusted(
    L: Float[Array, "n n"], c_diagonal: Float[Array, " n"], n_points: Array | int
) -> Bool[Array, ""]:
    """Whether the Cholesky factor L of C (with diagonal ``c_diagonal``) is finite with
    relative pivots above the bound."""
    pivots = jnp.diagonal(L) ** 2 / c_diagonal
    return jnp.all(jnp.isfinite(L)) & jnp.all(pivots > pivot_bound(n_points, L.dtype))


def noisy_covariance(
    K: Float[Array, "n n"],
    k_diagonal: Float[Array, "*n"],
    noise: Float[Array, " n"],
    jitter: float,
    mask: Bool[Array, " n"] | None = None,
) -> tuple[Float[Array, "n n"], Float[Array, " n"]]:
    """C = K + diag(noise) + jitter * eps * mean(diag(K + noise)) I, and its diagonal.

    ``k_diagonal`` is diag(K), given by the caller (k(0) for a stationary kernel) rather than
    read from K: then K's only use is the final select, and XLA computes C in one fused pass
    without storing K. With ``mask``, rows and columns of masked points become those of the
    identity, so they add exactly zero to the quadratic form and to log det C, and the jitter
    uses unmasked points only.
    """
    d = k_diagonal + noise
    if mask is None:
        scale = jnp.mean(d)
    else:
        d = jnp.where(mask, d, 0)
        scale = jnp.sum(d) / jnp.maximum(jnp.sum(mask), 1).astype(K.dtype)
        K = jnp.where(mask[:, None] & mask[None, :], K, 0)
    d = d + jitter * float(jnp.finfo(K.dtype).eps) * scale
    if mask is not None:
        d = jnp.where(mask, d, 1)
    # A select, not a scatter, so XLA fuses it into the computation of K.
    return jnp.where(jnp.eye(K.shape[0], dtype=bool), d[:, None], K), d


def dense_log_probability(
    C: Float[Array, "n n"],
    c_diagonal: Float[Array, " n"],
    r: Float[Array, " n"],
    n_points: Array | int,
    on_failure: str,
    inputs_ok: Bool[Array, ""] | bool = True,
) -> Float[Array, ""]:
    """log N(r | 0, C) for ``n_points`` points; a failed factorisation (C not positive definite,
    or a relative pivot below :func:`diffkern.gp._finite.pivot_bound`) raises or gives -inf.
    The failure is only reported where ``inputs_ok`` (the inputs' own checks passed); the
    residual ``r`` is the caller's to check."""
    value, pivot = gaussian_log_density(C, r, c_diagonal)
    n_points = jnp.asarray(n_points).astype(C.dtype)
    value = value - 0.5 * math.log(2 * math.pi) * n_points
    failed = inputs_ok & ~(pivot > pivot_bound(n_points, C.dtype))  # NaN if C is not PD
    if on_failure == "-inf":
        return jnp.where(failed, -jnp.inf, value)
    return error_if(value, failed, failure_message(C.dtype))
