"""Stationary kernels of unit amplitude: Matern family, squared exponential, periodic ones.

The Matern kernels and Cosine also have a state-space form (see ``diffkern.gp._state_space``).
"""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from diffkern._arrays import cast
from diffkern.gp._kernel import Kernel, parameter
from diffkern.gp._phase import phase_grid
from diffkern.gp._state_space import StateSpace


class _Scaled(Kernel):
    """A kernel of r = tau / scale."""

    scale: Float[Array, ""] = parameter()

    def _r(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        # A product (with the reciprocal computed once): XLA duplicates it into every use of r,
        # so k(tau) of the whole matrix stays one fused pass (a division would be stored).
        return tau * (1 / cast(self.scale, tau.dtype))


class _Matern(_Scaled):
    """Matern-(J - 1/2): the state (x, x' / rate, ..., x^(J-1) / rate^(J-1)) obeys x' = F x with
    F = rate (N - I), rate = sqrt(2 J - 1) / scale and N nilpotent, so
    A(tau) = e^{-x} sum_k (x N)^k / k!, x = rate tau, and P is the state's stationary covariance.
    """

    _nilpotent: ClassVar[np.ndarray]  # N (J, J)
    _pinf: ClassVar[np.ndarray]  # P (J, J)

    def state_space(self, dtype) -> StateSpace:
        J = self._nilpotent.shape[0]
        rate = math.sqrt(2 * J - 1) / cast(self.scale, dtype)
        terms = [np.linalg.matrix_power(self._nilpotent, k) / math.factorial(k) for k in range(J)]
        stacked = jnp.asarray(np.stack(terms), dtype=dtype)  # (J, J, J): N^k / k!

        def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
            x = rate * tau
            powers = jnp.cumprod(jnp.stack([jnp.ones_like(x)] + [x] * (J - 1), -1), -1)
            return jnp.exp(-x)[:, None, None] * jnp.einsum("nk,kij->nij", powers, stacked)

        h = jnp.zeros(J, dtype).at[0].set(1)
        return StateSpace(h, jnp.asarray(self._pinf, dtype), transition)


class Exp(_Matern):
    """Matern-1/2: k = exp(-r), r = tau / scale."""

    _nilpotent = np.zeros((1, 1))
    _pinf = np.eye(1)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return jnp.exp(-self._r(tau))


class Matern32(_Matern):
    """Matern-3/2: k = (1 + sqrt(3) r) exp(-sqrt(3) r), r = tau / scale."""

    # x'' = rate^2 (-x - 2 x')
    _nilpotent = np.array([[1.0, 1.0], [-1.0, -1.0]])
    _pinf = np.eye(2)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        x = math.sqrt(3.0) * self._r(tau)
        return (1 + x) * jnp.exp(-x)


class Matern52(_Matern):
    """Matern-5/2: k = (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r), r = tau / scale."""

    # x''' = rate^3 (-x - 3 x' - 3 x'')
    _nilpotent = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [-1.0, -3.0, -2.0]])
    _pinf = np.array([[1.0, 0.0, -1 / 3], [0.0, 1 / 3, 0.0], [-1 / 3, 0.0, 1.0]])

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        x = math.sqrt(5.0) * self._r(tau)
        return (1 + x + x * x / 3) * jnp.exp(-x)


class ExpSquared(_Scaled):
    """Squared exponential (RBF): k = exp(-r^2 / 2), r = tau / scale."""

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        r = self._r(tau)
        return jnp.exp(-0.5 * r * r)


class Cosine(Kernel):
    """k = cos(2 pi tau / period)."""

    period: Float[Array, ""] = parameter()

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return jnp.cos(2 * math.pi * tau / cast(self.period, tau.dtype))

    def _grid(self, x1: Float[Array, " n"], x2: Float[Array, " m"]) -> Float[Array, "n m"]:
        return phase_grid(x1, x2, 2 * math.pi / cast(self.period, x1.dtype), sine=False)

    def state_space(self, dtype) -> StateSpace:
        # A rotation by the phase 2 pi tau / period; P = I.
        omega = 2 * math.pi / cast(self.period, dtype)

        def transition(tau: Float[Array, " N"]) -> Float[Array, "N 2 2"]:
            c, s = jnp.cos(omega * tau), jnp.sin(omega * tau)
            return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)

        return StateSpace(jnp.array([1, 0], dtype), jnp.eye(2, dtype=dtype), transition)


class ExpSineSquared(Kernel):
    """Periodic: k = exp(-gamma sin^2(pi tau / period)), ``gamma >= 0``."""

    period: Float[Array, ""] = parameter()
    gamma: Float[Array, ""] = parameter(positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self._of_sine(jnp.sin(math.pi * tau / cast(self.period, tau.dtype)))

    def _grid(self, x1: Float[Array, " n"], x2: Float[Array, " m"]) -> Float[Array, "n m"]:
        return self._of_sine(phase_grid(x1, x2, math.pi / cast(self.period, x1.dtype), sine=True))

    def _of_sine(self, s: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """k from s = sin(pi tau / period)."""
        return jnp.exp(-cast(self.gamma, s.dtype) * s * s)


class QuasiPeriodic(Kernel):
    """Stellar-activity kernel: amplitude^2 ExpSquared(scale) ExpSineSquared(period, gamma).

    k = amplitude^2 exp(-tau^2 / (2 scale^2) - gamma sin^2(pi tau / period)).
    """

    amplitude: Float[Array, ""] = parameter(positive=False)
    scale: Float[Array, ""] = parameter()
    period: Float[Array, ""] = parameter()
    gamma: Float[Array, ""] = parameter(positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self._of(tau, jnp.sin(math.pi * tau / cast(self.period, tau.dtype)))

    def _grid(self, x1: Float[Array, " n"], x2: Float[Array, " m"]) -> Float[Array, "n m"]:
        s = phase_grid(x1, x2, math.pi / cast(self.period, x1.dtype), sine=True)
        return self._of(x1[:, None] - x2[None, :], s)

    def _of(self, tau: Float[Array, "*shape"], s: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """k from tau (or -tau) and s = sin(pi tau / period)."""
        a = cast(self.amplitude, tau.dtype)
        r = tau * (1 / cast(self.scale, tau.dtype))
        return a * a * jnp.exp(-0.5 * r * r - cast(self.gamma, tau.dtype) * s * s)
