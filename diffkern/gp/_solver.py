"""The interface of a GP solver: how C = K(X, X) + diag(noise) is factored and used.

A solver is an Equinox module whose fields are static configuration; it holds no data.
:func:`diffkern.gp._resolve.resolve_solver` picks one from a name. A new solver subclasses
:class:`Solver`, implements its methods and says in :meth:`Solver.check_kernel` and
:meth:`Solver.check_inputs` what it cannot take.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from diffkern.gp._kernel import Kernel, checked_by_caller

# Argument types shared by every solver's methods (N points; B has N rows).
Points = Float[ArrayLike, " N"]
Noise = Float[ArrayLike, " N"] | Float[ArrayLike, ""]
Mask = Bool[ArrayLike, " N"] | None
Rows = Float[ArrayLike, " N *M"]
# What check/accepts take: the inputs of one series (N,) or a padded batch (..., N).
Series = Float[ArrayLike, "*batch N"]
SeriesMask = Bool[ArrayLike, "*batch N"] | None


class Solver(eqx.Module):
    """Log-likelihood, solves, conditioning and sampling for a kernel on 1-D inputs X (N,).

    ``noise`` is the observation-noise variance, a scalar or of shape (N,); ``mask`` (N,)
    leaves points out exactly (as if absent).
    """

    # Smallest bucket for the number of padded series in one ragged batch: 1 where a padded
    # series costs as much as a real one (pad counts finely), more where it is cheap.
    min_series_bucket: ClassVar[int] = 1

    def check_kernel(self, kernel: Kernel) -> None:
        """Raise ``ValueError`` for a kernel this solver cannot take (default: none)."""

    def check_inputs(self, X: Series, name: str = "X", mask: SeriesMask = None) -> None:
        """Raise ``ValueError`` for inputs (at the points kept by ``mask``) this solver cannot
        take: what is known before tracing; traced inputs are checked again at run time where
        they are used (default: none)."""

    def check(self, kernel: Kernel, X: Series, name: str = "X", mask: SeriesMask = None) -> None:
        """:meth:`check_kernel`, then :meth:`check_inputs`."""
        self.check_kernel(kernel)
        self.check_inputs(X, name, mask)

    def accepts(self, kernel: Kernel, X: Series, mask: SeriesMask = None) -> bool:
        """Whether :meth:`check` passes (traced inputs count as acceptable)."""
        try:
            self.check(kernel, X, "X", mask)
        except ValueError:
            return False
        return True

    @abc.abstractmethod
    def log_probability(
        self, kernel: Kernel, X: Points, noise: Noise, r: Points, mask: Mask = None
    ) -> Float[Array, ""]:
        """log N(r | 0, C) over the points kept by ``mask``."""

    @abc.abstractmethod
    def solve(
        self, kernel: Kernel, X: Points, noise: Noise, B: Rows, mask: Mask = None
    ) -> Float[Array, " N *M"]:
        """C^{-1} B for a vector or the columns of a matrix ``B`` (zero rows where masked);
        a non-finite ``B`` at a kept point raises (``"B must be finite"``)."""

    @abc.abstractmethod
    def sample(
        self, kernel: Kernel, X: Points, noise: Noise, key: PRNGKeyArray, shape: tuple[int, ...]
    ) -> Float[Array, "*shape N"]:
        """Draws from N(0, C), of shape ``shape + (N,)``."""

    def condition(
        self,
        kernel: Kernel,
        X: Points,
        noise: Noise,
        r: Points,
        X_test: Float[ArrayLike, " M"],
        *,
        return_cov: bool = False,
    ) -> tuple[Float[Array, " M"], Float[Array, " M"] | Float[Array, "M M"]]:
        """Mean and variance (or covariance) of f(X_test) given r at X, zero prior mean.

        mean = K*^T C^{-1} r, cov = K** - K*^T C^{-1} K* with K* = K(X, X_test); one solve
        against [r, K*]. Variances are clipped at zero (rounding).
        """
        with checked_by_caller():  # by the solve
            Ks = kernel(X, X_test)
            K_test = kernel(X_test) if return_cov else None
        r = jnp.asarray(r).astype(Ks.dtype)
        S = self.solve(kernel, X, noise, jnp.concatenate([r[:, None], Ks], axis=1))
        alpha, S = S[:, 0], S[:, 1:]
        mean = Ks.T @ alpha
        if return_cov:
            cov = K_test - Ks.T @ S
            return mean, 0.5 * (cov + cov.T)
        var = kernel.evaluate(jnp.zeros_like(X_test)) - jnp.sum(Ks * S, axis=0)
        return mean, jnp.maximum(var, 0)
