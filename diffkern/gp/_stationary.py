"""Stationary kernels of unit amplitude: Matern family, squared exponential, periodic ones."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import cast, scalar_param
from diffkern.gp._kernel import Kernel


class _Scaled(Kernel):
    """A kernel of r = tau / scale."""

    scale: Float[Array, ""]

    def __init__(self, scale: ArrayLike):
        self.scale = scalar_param(scale, "scale")

    def _r(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return tau / cast(self.scale, tau.dtype)


class Exp(_Scaled):
    """Matern-1/2: k = exp(-r), r = tau / scale."""

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return jnp.exp(-self._r(tau))


class Matern32(_Scaled):
    """Matern-3/2: k = (1 + sqrt(3) r) exp(-sqrt(3) r), r = tau / scale."""

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        x = math.sqrt(3.0) * self._r(tau)
        return (1 + x) * jnp.exp(-x)


class Matern52(_Scaled):
    """Matern-5/2: k = (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r), r = tau / scale."""

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

    period: Float[Array, ""]

    def __init__(self, period: ArrayLike):
        self.period = scalar_param(period, "period")

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return jnp.cos(2 * math.pi * tau / cast(self.period, tau.dtype))


class ExpSineSquared(Kernel):
    """Periodic: k = exp(-gamma sin^2(pi tau / period)), ``gamma >= 0``."""

    period: Float[Array, ""]
    gamma: Float[Array, ""]

    def __init__(self, period: ArrayLike, gamma: ArrayLike):
        self.period = scalar_param(period, "period")
        self.gamma = scalar_param(gamma, "gamma", positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        s = jnp.sin(math.pi * tau / cast(self.period, tau.dtype))
        return jnp.exp(-cast(self.gamma, tau.dtype) * s * s)


class QuasiPeriodic(Kernel):
    """Stellar-activity kernel: amplitude^2 ExpSquared(scale) ExpSineSquared(period, gamma).

    k = amplitude^2 exp(-tau^2 / (2 scale^2) - gamma sin^2(pi tau / period)).
    """

    amplitude: Float[Array, ""]
    scale: Float[Array, ""]
    period: Float[Array, ""]
    gamma: Float[Array, ""]

    def __init__(self, amplitude: ArrayLike, scale: ArrayLike, period: ArrayLike, gamma: ArrayLike):
        self.amplitude = scalar_param(amplitude, "amplitude", positive=False)
        self.scale = scalar_param(scale, "scale")
        self.period = scalar_param(period, "period")
        self.gamma = scalar_param(gamma, "gamma", positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        a = cast(self.amplitude, tau.dtype)
        r = tau / cast(self.scale, tau.dtype)
        s = jnp.sin(math.pi * tau / cast(self.period, tau.dtype))
        return a * a * jnp.exp(-0.5 * r * r - cast(self.gamma, tau.dtype) * s * s)
