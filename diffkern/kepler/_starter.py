"""Markley's starter for Kepler's equation (Markley 1995, Celest. Mech. 63, 101).

For ``M`` in [0, pi] it solves a cubic obtained from a Pade approximant of ``sin E`` in closed
form; its relative error is below ~1e-3 over all ``0 <= e < 1``, including the corner
``e -> 1, M -> 0`` where it follows ``E ~ (6 M)^(1/3)``. Branch-free, one square and one cube
root (by bit trick and Halley steps), no trigonometry.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

_PI2 = math.pi**2

# cbrt(x) ~ bits(x) / 3 + B within ~6% (Kahan's bit trick), then two cubically convergent
# Halley steps; the library cbrt is an order of magnitude slower on CPU.
_CBRT_BIAS = {"float32": (jnp.uint32, 709958130), "float64": (jnp.uint64, 0x2A9F7893782DA1CE)}


def _cbrt(x: Float[Array, "*b"]) -> Float[Array, "*b"]:
    """Cube root of a normal ``x > 0`` to ~1e-15 (float64) or ~2e-7 (float32) relative."""
    uint, bias = _CBRT_BIAS[x.dtype.name]
    bits = jax.lax.bitcast_convert_type(x, uint) // 3 + uint(bias)
    root = jax.lax.bitcast_convert_type(bits, x.dtype)
    for _ in range(2):
        cube = root * root * root
        root = root * (cube + 2 * x) / (2 * cube + x)
    return root


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
    starter = (2 * r * w / (w * w + w * q + q * q) + m) / d
    return jnp.clip(starter, 0, math.pi)
