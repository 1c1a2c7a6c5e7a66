"""The dense solver: Cholesky factorisation of C = K + diag(noise) + jitter, O(N^3)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.scipy.linalg import cho_solve
from jaxtyping import Array, Float, PRNGKeyArray

from diffkern._arrays import error_if, result_dtype
from diffkern.gp._dense import (
    DEFAULT_JITTER,
    dense_log_probability,
    failure_message,
    noisy_covariance,
    trusted,
)
from diffkern.gp._finite import check_finite, finite_inputs
from diffkern.gp._kernel import Kernel
from diffkern.gp._matrix import kernel_matrix
from diffkern.gp._solver import Mask, Noise, Points, Rows, Solver

_FAILURE = ("raise", "-inf")


class Dense(Solver):
    """Any kernel, any order of X; O(N^3) time, O(N^2) memory.

    Args:
        on_failure: what a failed factorisation of the log-likelihood (C not positive definite
            at this precision) does: ``"raise"`` an error through
            :func:`diffkern._arrays.error_if` or return ``"-inf"`` with zero gradient, which
            samplers and optimisers treat as a rejected point. Solves and samples always raise.
        jitter: added to the diagonal of C, in units of the dtype's epsilon times the mean of
            its diagonal (default 10: 2e-15 relative in float64, 1e-6 in float32).
    """

    on_failure: str = eqx.field(static=True, default="raise")
    jitter: float = eqx.field(static=True, default=DEFAULT_JITTER, converter=float)

    def __check_init__(self):
        if self.on_failure not in _FAILURE:
            raise ValueError(f"on_failure must be one of {_FAILURE}, got {self.on_failure!r}")
        if not self.jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {self.jitter}")

    def _covariance(
        self, kernel: Kernel, X, noise, dtype, mask=None
    ) -> tuple[Float[Array, "N N"], Float[Array, " N"]]:
        """C and its diagonal."""
        X = jnp.asarray(X).astype(dtype)
        noise = jnp.broadcast_to(jnp.asarray(noise).astype(dtype), X.shape)
        K = kernel_matrix(kernel, X)
        return noisy_covariance(K, _diagonal(kernel, X, K), noise, self.jitter, mask)

    def _cholesky(
        self, kernel: Kernel, X, noise, dtype, mask=None, *, bound: bool = True
    ) -> Float[Array, "N N"]:
        """The Cholesky factor of C, checked: inputs finite, then C positive definite (with
        ``bound``, relative pivots above the bound as well: solves need it, draws do not)."""
        arrays, ok = finite_inputs(kernel, {"X": jnp.asarray(X), "diag": jnp.asarray(noise)}, mask)
        C, c_diagonal = self._covariance(kernel, arrays["X"], arrays["diag"], dtype, mask)
        L = jnp.linalg.cholesky(C)
        n = C.shape[0] if mask is None else jnp.sum(mask)
        good = trusted(L, c_diagonal, n) if bound else jnp.all(jnp.isfinite(L))
        return error_if(L, ok & ~good, failure_message(dtype))

    def log_probability(
        self, kernel: Kernel, X: Points, noise: Noise, r: Points, mask: Mask = None
    ) -> Float[Array, ""]:
        """log N(r | 0, C), with the closed-form gradient of ``gaussian_log_density``."""
        dtype = result_dtype(X, r)
        arrays, ok = finite_inputs(kernel, {"X": jnp.asarray(X), "diag": jnp.asarray(noise)}, mask)
        X, noise = arrays.values()
        r = jnp.asarray(r).astype(dtype)
        C, c_diagonal = self._covariance(kernel, X, noise, dtype, mask)
        if mask is None:
            return dense_log_probability(C, c_diagonal, r, r.shape[0], self.on_failure, ok)
        r = jnp.where(mask, r, 0)
        return dense_log_probability(C, c_diagonal, r, jnp.sum(mask), self.on_failure, ok)

    def solve(
        self, kernel: Kernel, X: Points, noise: Noise, B: Rows, mask: Mask = None
    ) -> Float[Array, " N *M"]:
        dtype = result_dtype(X, B)
        B = check_finite(jnp.asarray(B).astype(dtype), "B", mask)
        L = self._cholesky(kernel, X, noise, dtype, mask)
        if mask is not None:  # masked rows of C are the identity's: zero B there
            B = jnp.where(jnp.reshape(mask, mask.shape + (1,) * (B.ndim - 1)), B, 0)
        return cho_solve((L, True), B)

    def sample(
        self,
        kernel: Kernel,
        X: Points,
        noise: Noise,
        key: PRNGKeyArray,
        shape: tuple[int, ...] = (),
    ) -> Float[Array, "*shape N"]:
        """z L^T with z standard normal and C = L L^T."""
        dtype = result_dtype(X)
        L = self._cholesky(kernel, X, noise, dtype, bound=False)
        return jax.random.normal(key, (*shape, L.shape[0]), dtype) @ L.T


def _diagonal(kernel: Kernel, X: Float[Array, " N"], K: Float[Array, "N N"]) -> Float[Array, "*N"]:
    """diag K: k(0) for a stationary kernel (one that keeps ``Kernel.__call__``), else read
    from K (a kernel that overrides ``__call__`` may depend on more than |x1 - x2|)."""
    if type(kernel).__call__ is Kernel.__call__:
        return kernel.evaluate(jnp.zeros((), K.dtype))
    return jnp.diagonal(K)
