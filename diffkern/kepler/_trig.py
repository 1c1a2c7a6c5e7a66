"""Polynomial sine and cosine on [0, pi], with the cancellation-free complements.

Kepler's equation needs ``E - sin E`` and ``1 - cos E`` accurately when ``E`` is small (near
``e -> 1, M -> 0`` they are the whole answer), which a library ``sin`` cannot give by
subtraction. Evaluating the Taylor polynomials ourselves gives both for free, and is faster than
the library's general-range trigonometry.
"""

from __future__ import annotations

import math

import numpy as np
from jaxtyping import Array, Float


def _series(start: int, dtype_name: str) -> list[float]:
    """Coefficients ``(-1)^k / (2k + start)!`` of ``sum_k c_k h^(2k)`` (Horner order: highest
    first), truncated where a term falls below a quarter ulp of the sum on ``|h| <= pi/2``."""
    eps, u = float(np.finfo(dtype_name).eps), (math.pi / 2) ** 2
    coefficients, k = [], 0
    while u**k / math.factorial(2 * k + start) > eps / 8 / math.factorial(start):
        coefficients.append((-1) ** k / math.factorial(2 * k + start))
        k += 1
    return coefficients[::-1]


def _horner(coefficients: list[float], u: Float[Array, "*b"]) -> Float[Array, "*b"]:
    acc = coefficients[0] * u + coefficients[1]
    for c in coefficients[2:]:
        acc = acc * u + c
    return acc


def sincos(x: Float[Array, "*b"]) -> tuple[Float[Array, "*b"], ...]:
    """``(sin x, cos x, x - sin x, 1 - cos x)`` for ``x`` in [0, pi], branch-free.

    By the half angle ``h = x / 2`` in [0, pi/2], whose ``h - sin h`` and ``1 - cos h`` are
    Taylor series: ``sin x = 2 sin h cos h``, ``1 - cos x = 2 sin^2 h`` and
    ``x - sin x = 2 ((h - sin h) + sin h (1 - cos h))``, sums of non-negative terms, so every
    output keeps its relative accuracy as ``x -> 0`` and nothing is selected by range.
    """
    h = 0.5 * x
    u = h * h
    h_minus_sin = h * u * _horner(_series(3, x.dtype.name), u)
    one_minus_cos = u * _horner(_series(2, x.dtype.name), u)
    sin_h = h - h_minus_sin
    versine = 2 * (sin_h * sin_h)
    return (
        2 * (sin_h * (1 - one_minus_cos)),
        1 - versine,
        2 * (h_minus_sin + sin_h * one_minus_cos),
        versine,
    )


def small_sincos(d: Float[Array, "*b"]) -> tuple[Float[Array, "*b"], ...]:
    """``(sin d, d - sin d, 1 - cos d)`` for a small correction ``|d| <~ 1e-2``."""
    u = d * d
    d_minus_sin = d * u * (1 / 6 - u * (1 / 120 - u / 5040))
    one_minus_cos = u * (1 / 2 - u * (1 / 24 - u / 720))
    return d - d_minus_sin, d_minus_sin, one_minus_cos
