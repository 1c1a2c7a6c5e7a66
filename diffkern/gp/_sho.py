"""celerite's stochastically driven, damped simple harmonic oscillator."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import cast, scalar_param
from diffkern.gp._kernel import Kernel

# Near critical damping (|f x^2| < _SERIES) the three closed forms meet; a series in z = f x^2
# is exact there and keeps value and gradients smooth through quality = 1/2.
_SERIES = 1e-2
_COS = [1.0 / math.factorial(2 * k) * (-1) ** k for k in range(6)]  # cos(sqrt z)
_SINC = [1.0 / math.factorial(2 * k + 1) * (-1) ** k for k in range(6)]  # sin(sqrt z)/sqrt z


def _series(coefficients: list[float], z: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
    out = jnp.full_like(z, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        out = out * z + c
    return out


class SHO(Kernel):
    """Simple harmonic oscillator, as ``celerite2.terms.SHOTerm(w0=omega, Q=quality, sigma=sigma)``.

    With x = omega tau, a = 1 / (2 quality) and f = 1 - a^2, k = sigma^2 e^{-a x} g(x) where
    g = cos(sqrt(f) x) + a sin(sqrt(f) x) / sqrt(f) for quality > 1/2 (underdamped),
    g = 1 + x at quality = 1/2, and the cosh/sinh analogue for quality < 1/2.
    """

    omega: Float[Array, ""]
    quality: Float[Array, ""]
    sigma: Float[Array, ""]

    def __init__(self, omega: ArrayLike, quality: ArrayLike, sigma: ArrayLike):
        self.omega = scalar_param(omega, "omega")
        self.quality = scalar_param(quality, "quality")
        self.sigma = scalar_param(sigma, "sigma", positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        dtype = tau.dtype
        x = cast(self.omega, dtype) * tau
        a = 0.5 / cast(self.quality, dtype)
        f = 1 - a * a
        z = f * x * x
        near = jnp.abs(z) < _SERIES
        # Each branch gets inputs that are valid for it, so unused branches never produce NaN
        # (whose zero cotangent would still turn into NaN gradients).
        eta = jnp.sqrt(jnp.where(f > 0, f, 1))
        under = jnp.exp(-a * x) * (jnp.cos(eta * x) + a * jnp.sin(eta * x) / eta)
        b = jnp.sqrt(jnp.where(f < 0, -f, 1))
        over = 0.5 * ((1 + a / b) * jnp.exp((b - a) * x) + (1 - a / b) * jnp.exp(-(a + b) * x))
        zs = jnp.where(near, z, 0)
        critical = jnp.exp(-a * x) * (_series(_COS, zs) + a * x * _series(_SINC, zs))
        g = jnp.where(near, critical, jnp.where(z > 0, under, over))
        s = cast(self.sigma, dtype)
        return s * s * g
