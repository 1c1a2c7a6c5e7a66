"""celerite's stochastically driven, damped simple harmonic oscillator."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, Float

from diffkern._arrays import cast
from diffkern.gp._kernel import Kernel, parameter
from diffkern.gp._state_space import StateSpace

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


def _damped(
    x: Float[Array, "*shape"], a: Float[Array, ""]
) -> tuple[Float[Array, "*shape"], Float[Array, "*shape"]]:
    """c = e^{-a x} cos(eta x) and s = e^{-a x} sin(eta x) / eta, eta^2 = f = 1 - a^2.

    The three damping regimes: f > 0 as written (underdamped), f < 0 with cosh and sinh of
    b x, b^2 = -f (overdamped), and a series in z = f x^2 near f x^2 = 0 (critical).
    """
    f = 1 - a * a
    z = f * x * x
    near = jnp.abs(z) < _SERIES
    decay = jnp.exp(-a * x)
    # Every branch sees inputs valid for it, so unused branches never produce NaN (whose zero
    # cotangent would still turn into NaN gradients).
    eta = jnp.sqrt(jnp.where(f > 0, f, 1))
    c_under, s_under = decay * jnp.cos(eta * x), decay * jnp.sin(eta * x) / eta
    b = jnp.sqrt(jnp.where(f < 0, -f, 1))
    slow = jnp.exp(-x / (a + b))  # e^{(b - a) x} without cancellation (a^2 - b^2 = 1)
    fast = jnp.exp(-(a + b) * x)
    c_over, s_over = 0.5 * (slow + fast), 0.5 * (slow - fast) / b
    zs = jnp.where(near, z, 0)
    c_near, s_near = decay * _series(_COS, zs), decay * x * _series(_SINC, zs)
    c = jnp.where(near, c_near, jnp.where(z > 0, c_under, c_over))
    s = jnp.where(near, s_near, jnp.where(z > 0, s_under, s_over))
    return c, s


class SHO(Kernel):
    """Simple harmonic oscillator, as ``celerite2.terms.SHOTerm(w0=omega, Q=quality, sigma=sigma)``.

    With x = omega tau, a = 1 / (2 quality) and (c, s) from the damping (``_damped``),
    k = sigma^2 (c + a s): e^{-a x} (cos(eta x) + a sin(eta x) / eta) for quality > 1/2
    (underdamped), e^{-x} (1 + x) at quality = 1/2, and the cosh/sinh analogue below.

    State space: x'' = omega^2 (-x - 2 a x'), state (x, x' / omega). With N = [[a, 1], [-1, -a]]
    (N^2 = (a^2 - 1) I), A = c I + s N and P = sigma^2 I.
    """

    omega: Float[Array, ""] = parameter()
    quality: Float[Array, ""] = parameter()
    sigma: Float[Array, ""] = parameter(positive=False)

    def _a(self, dtype) -> Float[Array, ""]:
        return 0.5 / cast(self.quality, dtype)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        dtype = tau.dtype
        a = self._a(dtype)
        c, s = _damped(cast(self.omega, dtype) * tau, a)
        sigma = cast(self.sigma, dtype)
        return sigma * sigma * (c + a * s)

    def state_space(self, dtype) -> StateSpace:
        omega, a = cast(self.omega, dtype), self._a(dtype)

        def transition(tau: Float[Array, " N"]) -> Float[Array, "N 2 2"]:
            c, s = _damped(omega * tau, a)
            row0 = jnp.stack([c + a * s, s], -1)
            row1 = jnp.stack([-s, c - a * s], -1)
            return jnp.stack([row0, row1], -2)

        sigma = cast(self.sigma, dtype)
        pinf = sigma * sigma * jnp.eye(2, dtype=dtype)
        return StateSpace(jnp.array([1, 0], dtype), pinf, transition)
