"""The Gaussian process: likelihood, conditional predictions and samples."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from diffkern._arrays import as_float, check_values, concrete, error_if, inputs, result_dtype
from diffkern.gp._dense import (
    DEFAULT_JITTER,
    dense_log_probability,
    failure_message,
    noisy_covariance,
)
from diffkern.gp._kernel import Kernel
from diffkern.gp._matrix import kernel_matrix
from diffkern.gp._quasisep import quasisep_log_probability, quasisep_solve
from diffkern.gp._solver import resolve_solver

Mean = Callable[[Array], Array] | ArrayLike | None
_FAILURE = ("raise", "-inf")


class GaussianProcess(eqx.Module):
    """A Gaussian process on 1-D inputs: data d ~ N(m(X), K(X, X) + diag(diag)).

    Args:
        kernel: the covariance function (a :class:`Kernel`).
        X: inputs, shape (N,).
        diag: observation noise variance, scalar or (N,), ``>= 0`` (default 0).
        mean: the mean m: ``None`` (zero), an array (scalar or (N,), known only at ``X``), or a
            callable / Equinox module ``m(X) -> (N,)`` such as a physical model; the GP models
            the residual d - m(X).
        solver: ``"cholesky"`` (dense, O(N^3)), ``"quasisep"`` (O(N), sorted ``X`` and kernels
            built from Exp, Matern32, Matern52, SHO, Cosine, Constant) or ``"auto"`` (quasisep
            when it applies and N >= 512).
        on_failure: what a failed dense factorisation (covariance not positive definite at this
            precision) does: ``"raise"`` an error through ``eqx.error_if`` (``EQX_ON_ERROR``
            switches it, e.g. to NaN) or return ``"-inf"`` log-probability with zero gradient,
            which samplers and optimisers treat as a rejected point.
        jitter: relative jitter added to the diagonal of the dense covariance, in units of the
            dtype's epsilon times the mean of its diagonal (default 10: 2e-15 relative in
            float64, 1e-6 in float32).
    """

    kernel: Kernel
    X: Float[Array, " N"]
    diag: Float[Array, "*d"]
    mean: Mean
    solver: str = eqx.field(static=True)
    on_failure: str = eqx.field(static=True)
    jitter: float = eqx.field(static=True)

    def __init__(
        self,
        kernel: Kernel,
        X: ArrayLike,
        *,
        diag: ArrayLike | None = None,
        mean: Mean = None,
        solver: str = "auto",
        on_failure: str = "raise",
        jitter: float = DEFAULT_JITTER,
    ):
        if not isinstance(kernel, Kernel):
            raise TypeError(f"kernel must be a diffkern.gp.Kernel, got {type(kernel).__name__}")
        if on_failure not in _FAILURE:
            raise ValueError(f"on_failure must be one of {_FAILURE}, got {on_failure!r}")
        if not jitter >= 0:
            raise ValueError(f"jitter must be >= 0, got {jitter}")
        X = inputs(X, "X")
        (n,) = X.shape
        diag = jnp.zeros((), X.dtype) if diag is None else as_float(diag)
        if diag.shape not in ((), (n,)):
            raise ValueError(f"diag must be a scalar or of shape ({n},) like X, got {diag.shape}")
        self.diag = check_values(diag, "diag", positive=False)
        if mean is not None and not callable(mean):
            mean = as_float(mean)
            if mean.shape not in ((), (n,)):
                raise ValueError(
                    f"mean must be a callable, a scalar or of shape ({n},) like X, got {mean.shape}"
                )
        self.kernel = kernel
        self.X = X
        self.mean = mean
        self.solver = resolve_solver(solver, kernel, X)
        values = concrete(X)
        if self.solver == "quasisep" and values is not None and np.any(np.diff(values) < 0):
            raise ValueError("X must be sorted (non-decreasing) for solver='quasisep'")
        self.on_failure = on_failure
        self.jitter = float(jitter)

    def _dtype(self, *arrays: Array) -> jnp.dtype:
        return result_dtype(self.X, *arrays)

    def _noise(self, dtype) -> Float[Array, " N"]:
        return jnp.broadcast_to(self.diag.astype(dtype), self.X.shape)

    def _mean_at(self, X: Float[Array, " M"], dtype, *, at_data: bool) -> Float[Array, " M"]:
        if self.mean is None:
            return jnp.zeros(X.shape, dtype)
        if callable(self.mean):
            m = jnp.asarray(self.mean(X))
            if m.shape not in ((), X.shape):
                raise ValueError(f"mean(X) must have shape () or {X.shape}, got {m.shape}")
        else:
            if self.mean.ndim and not at_data:
                raise ValueError(
                    "mean given as an array is known only at X; pass a callable mean to "
                    "predict at X_test"
                )
            m = self.mean
        return jnp.broadcast_to(m.astype(dtype), X.shape)

    def _residual(self, y: ArrayLike) -> tuple[Float[Array, " N"], jnp.dtype]:
        y = as_float(y)
        if y.shape != self.X.shape:
            raise ValueError(f"y must have shape {self.X.shape} like X, got {y.shape}")
        dtype = self._dtype(y)
        return y.astype(dtype) - self._mean_at(self.X, dtype, at_data=True), dtype

    def _covariance(self, dtype) -> Float[Array, "*shape N"]:
        """K(X, X) + diag(diag + jitter) in ``dtype``."""
        K = kernel_matrix(self.kernel, self.X.astype(dtype))
        return noisy_covariance(K, self._noise(dtype), self.jitter)

    def _cholesky(self, dtype) -> Float[Array, "*shape N"]:
        L = jnp.linalg.cholesky(self._covariance(dtype))
        return error_if(L, ~jnp.all(jnp.isfinite(L)), failure_message(dtype))

    def log_probability(self, y: ArrayLike) -> Float[Array, ""]:
        """log N(y | m(X), K + diag), with the closed-form gradient of the dense solver."""
        r, dtype = self._residual(y)
        if self.solver == "quasisep":
            diag = self._noise(dtype)
            return quasisep_log_probability(self.kernel, self.X, diag, r)
        return dense_log_probability(self._covariance(dtype), r, r.shape[0], self.on_failure)

    def condition(
        self,
        y: ArrayLike,
        X_test: ArrayLike | None = None,
        *,
        include_noise: bool = False,
        return_cov: bool = False,
    ) -> tuple[Float[Array, " M"], Float[Array, " M"] | Float[Array, "M M"]]:
        """Predictive mean and variance of f(X_test) given y (``X_test`` defaults to ``X``).

        mean = m(X*) + K*^T C^{-1} (y - m(X)), cov = K** - K*^T C^{-1} K*, C = K + diag.
        Returns ``(mean, variance)``, or ``(mean, covariance)`` with ``return_cov=True``.
        ``include_noise`` adds the observation noise (``diag``) to the prediction, which needs
        ``X_test`` omitted or a scalar ``diag``. Variances are clipped at zero (rounding).
        """
        r, dtype = self._residual(y)
        X = self.X.astype(dtype)
        X_test = X if X_test is None else inputs(X_test, "X_test").astype(dtype)
        same = X_test is X
        if include_noise and not same and self.diag.ndim:
            raise ValueError("include_noise with X_test needs a scalar diag (noise at X_test)")
        Ks = self.kernel(X, X_test)
        if self.solver == "quasisep":
            diag = self._noise(dtype)
            alpha = quasisep_solve(self.kernel, X, diag, r)
            columns = jax.vmap(lambda k: quasisep_solve(self.kernel, X, diag, k), 1, 1)
            S = columns(Ks)
        else:
            L = self._cholesky(dtype)
            alpha = cho_solve((L, True), r)
            S = cho_solve((L, True), Ks)
        mean = self._mean_at(X_test, dtype, at_data=same) + Ks.T @ alpha
        noise = self.diag.astype(dtype) if include_noise else jnp.zeros((), dtype)
        noise = jnp.broadcast_to(noise, X_test.shape)
        if return_cov:
            cov = self.kernel(X_test) - Ks.T @ S
            return mean, 0.5 * (cov + cov.T) + jnp.diag(noise)
        var = self.kernel.evaluate(jnp.zeros_like(X_test)) - jnp.sum(Ks * S, axis=0)
        return mean, jnp.maximum(var, 0) + noise

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Float[Array, "*shape N"]:
        """Draws from N(m(X), K + diag), shape ``shape + (N,)`` (dense factorisation)."""
        dtype = self._dtype()
        L = self._cholesky(dtype)
        z = jax.random.normal(key, (*shape, self.X.shape[0]), dtype)
        draws = z @ L.T
        return jnp.broadcast_to(self._mean_at(self.X, dtype, at_data=True), draws.shape) + draws

    def numpyro_dist(self):
        """This GP as a NumPyro distribution (``log_prob`` uses :meth:`log_probability`)."""
        from diffkern.gp._numpyro import GaussianProcessDistribution

        return GaussianProcessDistribution(self)
