"""Polynomial sine and cosine on [0, pi], with the cancellation-free complements.

Kepler's equation needs ``E - sin E`` and ``1 - cos E`` accurately when ``E`` is small (near
``e -> 1, M -> 0`` they are the whole answer), which a library ``sin`` cannot give by
subtraction. Evaluating the Taylor polynomials ourselves gives both for free, and is faster than
the library's general-range trigonometry.
"""

from __future__ import annotations

import math

import jax
from jaxtyping import Array, Float

# Terms kept so that the truncation error is below half an ulp on |y| <= pi/4.
_NUM_TERMS = {"float32": (5, 6), "float64": (8, 9)}


def _series(start: int, n: int) -> list[float]:
    """Coefficients ``(-1)^k / (2k + start)!`` for ``k < n`` (Horner order: highest first)."""
    return [(-1) ** k / math.factorial(2 * k + start) for k in range(n)][::-1]


def _horner(coefficients: list[float], u: Float[Array, "*b"]) -> Float[Array, "*b"]:
    acc = coefficients[0] * u + coefficients[1]
    for c in coefficients[2:]:
        acc = acc * u + c
    return acc


def _complements(y: Float[Array, "*b"]) -> tuple[Float[Array, "*b"], Float[Array, "*b"]]:
    """``(y - sin y, 1 - cos y)`` by their Taylor series, accurate for ``|y| <= pi/4``."""
    n_sin, n_cos = _NUM_TERMS[y.dtype.name]
    u = y * y
    return y * u * _horner(_series(3, n_sin), u), u * _horner(_series(2, n_cos), u)


def sincos(x: Float[Array, "*b"]) -> tuple[Float[Array, "*b"], ...]:
    """``(sin x, cos x, x - sin x, 1 - cos x)`` for ``x`` in [0, pi], branch-free.

    ``x`` is mapped to ``|y| <= pi/4`` by ``y = x``, ``x - pi/2`` or ``pi - x`` and the results
    are permuted back. The offsets' rounding (1e-16 absolute in float64) is far below what the
    solver's correction step can notice.
    """
    low = x <= math.pi / 4
    high = x > 3 * math.pi / 4
    select = jax.lax.select  # jnp.where would trace a nested program per call
    y = select(high, math.pi - x, select(low, x, x - math.pi / 2))
    y_minus_sin, one_minus_cos = _complements(y)
    sin_y = y - y_minus_sin
    cos_y = 1 - one_minus_cos
    sin_x = select(low | high, sin_y, cos_y)
    cos_x = select(low, cos_y, select(high, -cos_y, -sin_y))
    x_minus_sin = select(low, y_minus_sin, x - sin_x)
    versine = select(low, one_minus_cos, 1 - cos_x)
    return sin_x, cos_x, x_minus_sin, versine


def small_sincos(d: Float[Array, "*b"]) -> tuple[Float[Array, "*b"], ...]:
    """``(sin d, d - sin d, 1 - cos d)`` for a small correction ``|d| <~ 1e-2``."""
    u = d * d
    d_minus_sin = d * u * (1 / 6 - u * (1 / 120 - u / 5040))
    one_minus_cos = u * (1 / 2 - u * (1 / 24 - u / 720))
    return d - d_minus_sin, d_minus_sin, one_minus_cos
