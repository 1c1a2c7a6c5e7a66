"""Markley's starter for Kepler's equation (Markley 1995, Celest. Mech. 63, 101).

For ``M`` in [0, pi] it solves a cubic obtained from a Pade approximant of ``sin E`` in closed
form; its relative error is below ~1e-3 over all ``0 <= e < 1``, including the corner
``e -> 1, M -> 0`` where it follows ``E ~ (6 M)^(1/3)``. Branch-free, one square and one cube
root (by bit trick and division-free steps), no trigonometry.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

_PI2 = math.pi**2

# x^(-1/3) ~ bits: B - bits(x) / 3 within 3.5% (a bit trick on the exponent and mantissa), then
# two division-free third-order steps; no library cbrt (slow on CPU) and no division, so the
# starter compiles into the same loop as the rest of the kernel.
_INV_CBRT_BIAS = {
    "float32": (jnp.uint32, 0x54A237FA),
    "float64": (jnp.uint64, 0x553EF1A9FBE76C8C),
}


def _cbrt(x: Float[Array, "*b"]) -> Float[Array, "*b"]:
    """Cube root of a normal ``x > 0`` to a few ulp: ``x y^2`` with ``y ~ x^(-1/3)``.

    With ``t = 1 - x y^3``, the step ``y <- y (1 + t/3 + 2 t^2/9)`` (the series of
    ``(1 - t)^(-1/3)``) cubes the relative error: 3.5% -> 1e-5 -> 1e-16.
    """
    uint, bias = _INV_CBRT_BIAS[x.dtype.name]
    bits = uint(bias) - jax.lax.div(jax.lax.bitcast_convert_type(x, uint), uint(3))
    y = jax.lax.bitcast_convert_type(bits, x.dtype)
    for _ in range(2):
        t = 1 - x * (y * y * y)
        y = y + y * t * (1 / 3 + t * (2 / 9))
    return x * (y * y)


def markley_starter(
    mean_anomaly: Float[Array, "*b"], ecc: Float[Array, "*b"], one_minus_ecc: Float[Array, "*b"]
) -> Float[Array, "*b"]:
    """Approximate ``E`` in [0, pi] for ``mean_anomaly`` in [0, pi] and ``0 <= ecc < 1``."""
    m = mean_anomaly
    alpha = (3 * _PI2 + 1.6 * math.pi * (math.pi - m) / (1 + ecc)) / (_PI2 - 6)
    d = 3 * one_minus_ecc + alpha * ecc
    alpha_d = alpha * d
    q = 2 * alpha_d * one_minus_ecc - m * m
    r = (3 * alpha_d * (d - one_minus_ecc) + m * m) * m
    # r + sqrt(q^3 + r^2) >= 2 q^(3/2) >= 1e-21 since q >= 2 alpha^2 (1 - e)
    w = _cbrt(r + jnp.sqrt(jnp.maximum(q * q * q + r * r, 0)))
    w = w * w
    den = w * w + w * q + q * q
    # (2 r w / den + m) / d, with one division; every term is >= 0, so only pi can be exceeded.
    return jnp.minimum((2 * r * w + m * den) / (den * d), math.pi)
