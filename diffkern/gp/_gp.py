"""The Gaussian process: likelihood, conditional predictions and samples.

Each method called outside ``jit`` runs one compiled program (a :func:`diffkern._checks.checked`
entry point: module-level functions of the GP and the data), whose value checks (sortedness,
positive definiteness, noise) come back as outputs and raise :class:`diffkern.CheckError` on
the host: no host callback, so JAX's persistent cache keeps the program. Inside the caller's
``jit`` or ``vmap`` the checks raise through a host callback.
"""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray

from diffkern._arrays import as_float, check_values, error_if, inputs, result_dtype, to_device
from diffkern._checks import checked
from diffkern.gp._finite import DATA, check_finite, finite_message
from diffkern.gp._kernel import Kernel
from diffkern.gp._resolve import resolve_solver
from diffkern.gp._solver import Solver

Mean = Callable[[Array], Array] | ArrayLike | None


class GaussianProcess(eqx.Module):
    """A Gaussian process on 1-D inputs: data d ~ N(m(X), K(X, X) + diag(diag)).

    Args:
        kernel: the covariance function (a :class:`Kernel`).
        X: inputs, shape (N,).
        diag: observation noise variance, scalar or (N,), ``>= 0`` (default 0).
        mean: the mean m: ``None`` (zero), an array (scalar or (N,), known only at ``X``), or a
            callable / Equinox module ``m(X) -> (N,)`` such as a physical model; the GP models
            the residual d - m(X).
        solver: a :class:`Solver` object, or its name: ``"cholesky"`` (:class:`Dense`, O(N^3)),
            ``"quasisep"`` (:class:`Quasisep`, O(N): sorted ``X`` and kernels with a
            state-space form, their sums and products) or ``"auto"`` (quasisep when it
            applies and N >= 512). The choice is made once, here; ``gp.solver`` is the object.
        on_failure: for a solver chosen by name, the dense solver's handling of a failed
            factorisation: ``"raise"`` (default) or ``"-inf"`` (see :class:`Dense`).
        jitter: for a solver chosen by name, the dense solver's relative jitter (default 10
            epsilons, see :class:`Dense`).
    """

    kernel: Kernel
    X: Float[Array, " N"]
    diag: Float[Array, "*d"]
    mean: Mean
    solver: Solver

    def __init__(
        self,
        kernel: Kernel,
        X: ArrayLike,
        *,
        diag: ArrayLike | None = None,
        mean: Mean = None,
        solver: str | Solver = "auto",
        on_failure: str | None = None,
        jitter: float | None = None,
    ):
        if not isinstance(kernel, Kernel):
            raise TypeError(f"kernel must be a diffkern.gp.Kernel, got {type(kernel).__name__}")
        X = check_finite(inputs(X, "X"), "X", traced=False)  # traced: checked by the solver
        (n,) = X.shape
        if n == 0:
            raise ValueError("X must hold at least one point, got shape (0,)")
        diag = jnp.zeros((), X.dtype) if diag is None else as_float(diag)
        if diag.shape not in ((), (n,)):
            raise ValueError(f"diag must be a scalar or of shape ({n},) like X, got {diag.shape}")
        # Traced values: checked by the solver in each call (one run-time check per call).
        diag = check_finite(diag, "diag", traced=False)
        self.diag = check_values(diag, "diag", positive=False, traced=False)
        if mean is not None and not callable(mean):
            mean = as_float(mean)
            if mean.shape not in ((), (n,)):
                raise ValueError(
                    f"mean must be a callable, a scalar or of shape ({n},) like X, got {mean.shape}"
                )
        self.kernel = kernel
        self.X = X
        self.mean = mean
        self.solver = resolve_solver(solver, kernel, {"X": X}, on_failure=on_failure, jitter=jitter)

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
        r = y.astype(dtype) - self._mean_at(self.X, dtype, at_data=True)
        return error_if(r, ~jnp.all(jnp.isfinite(r)), finite_message(DATA)), dtype

    def log_probability(self, y: ArrayLike) -> Float[Array, ""]:
        """log N(y | m(X), K + diag), by the solver (closed-form or hand-written gradients)."""
        return _log_probability(self, *to_device(y))

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
        X_test = None if X_test is None else inputs(X_test, "X_test")
        if include_noise and X_test is not None and self.diag.ndim:
            raise ValueError("include_noise with X_test needs a scalar diag (noise at X_test)")
        return _condition(self, *to_device(y), X_test, include_noise, return_cov)

    def sample(self, key: PRNGKeyArray, shape: tuple[int, ...] = ()) -> Float[Array, "*shape N"]:
        """Draws from N(m(X), K + diag), shape ``shape + (N,)``, by the solver (O(N) each for
        :class:`Quasisep`)."""
        return _sample(self, key, tuple(shape))

    def numpyro_dist(self):
        """This GP as a NumPyro distribution (``log_prob`` uses :meth:`log_probability`)."""
        from diffkern.gp._numpyro import GaussianProcessDistribution

        return GaussianProcessDistribution(self)


@checked
def _log_probability(gp: GaussianProcess, y: Float[Array, " N"]) -> Float[Array, ""]:
    r, dtype = gp._residual(y)
    return gp.solver.log_probability(gp.kernel, gp.X.astype(dtype), gp._noise(dtype), r)


@checked
def _condition(
    gp: GaussianProcess,
    y: Float[Array, " N"],
    X_test: Float[Array, " M"] | None,
    include_noise: bool,
    return_cov: bool,
) -> tuple[Float[Array, " M"], Float[Array, " M"] | Float[Array, "M M"]]:
    r, dtype = gp._residual(y)
    X = gp.X.astype(dtype)
    same = X_test is None
    X_test = X if same else X_test.astype(dtype)
    X_test = check_finite(X_test, "X_test")
    mean, spread = gp.solver.condition(
        gp.kernel, X, gp._noise(dtype), r, X_test, return_cov=return_cov
    )
    mean = gp._mean_at(X_test, dtype, at_data=same) + mean
    noise = gp.diag.astype(dtype) if include_noise else jnp.zeros((), dtype)
    noise = jnp.broadcast_to(noise, X_test.shape)
    return mean, spread + (jnp.diag(noise) if return_cov else noise)


@checked
def _sample(
    gp: GaussianProcess, key: PRNGKeyArray, shape: tuple[int, ...]
) -> Float[Array, "*shape N"]:
    dtype = gp._dtype()
    draws = gp.solver.sample(gp.kernel, gp.X, gp._noise(dtype), key, shape)
    return jnp.broadcast_to(gp._mean_at(gp.X, dtype, at_data=True), draws.shape) + draws
