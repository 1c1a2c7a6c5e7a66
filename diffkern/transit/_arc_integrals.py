"""Integrals of powers of ``mu`` along the occultor's edge inside the star, for every order.

The occultor's edge is ``(b, 0) - r (cos phi, sin phi)``, ``phi = 0`` nearest the star's centre;
on it ``z^2 = mu^2 = a + c cos phi`` with ``a = 1 - b^2 - r^2`` and ``c = 2 b r``, and it lies
inside the star for ``|phi| <= kappa_0`` (``kappa_0 = pi`` when the occultor is inside). With

* ``M_n = int z^n dphi`` and ``C_n = int z^n cos phi dphi`` over ``[-kappa_0, kappa_0]``,

``z^2 = a + c cos phi`` and an integration by parts of ``C_(n+2)`` (whose boundary term
vanishes: ``z = 0`` at the ends of the arc, or the arc is closed) give the upward recursion

    M_(n+2) = a M_n + c C_n,      C_(n+2) = (n + 2) (c M_n + a C_n) / (n + 4),

from ``M_0 = 2 kappa_0``, ``C_0 = 2 sin kappa_0`` and the elliptic ``M_1``, ``C_1``
(:mod:`diffkern.transit._quadratic_terms`). Its two solutions grow like ``(a + c)^(n/2)`` (the
wanted one) and ``(a - c)^(n/2)``: for ``a >= 0`` every coefficient is non-negative, so the
recursion adds positive terms and is stable. For ``a < 0`` it would amplify rounding by
``((c - a) / (c + a))^(n/2)``, unbounded at the outer contact; there ``k^2 = (a + c) / (2 c)
< 1/2`` and, with ``s = sin(phi / 2) = k t``, the integrals are convergent series of positive
terms (Agol, Luger & Foreman-Mackey 2020 likewise switch to a series where the recursion is
unstable):

    M_n = 2 k (a + c)^(n/2) sum_j (1/2)_j / j! k^(2j) B(j + 1/2, n/2 + 1),
    E_n = int z^n sin^2(phi / 2) dphi = 2 k^3 (a + c)^(n/2) sum_j (1/2)_j / j! k^(2j)
          B(j + 3/2, n/2 + 1),

with ``C_n = M_n - 2 E_n``. The occulted flux needs ``D_n = int (r - b cos phi) z^n dphi``,
formed as ``r M_n - b C_n`` from the recursion and as ``(r - b) M_n + 2 b E_n`` from the series,
which subtracts no terms of size ``r`` when ``r > 1``.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float


class Arcs(NamedTuple):
    """``M_n``, ``C_n`` (``n = 0 .. n_max``) and ``D_n`` (``n = 2 .. n_max``, the first two
    entries unused zeros), each a tuple of arrays."""

    m: tuple[Float[Array, "*b"], ...]
    c: tuple[Float[Array, "*b"], ...]
    d: tuple[Float[Array, "*b"], ...]


@functools.cache
def _series_coefficients(n: int, shift: float, dtype: str) -> tuple[float, ...]:
    """``(1/2)_j / j! B(j + shift, n/2 + 1)`` for ``j = 0 ..`` until the tail at ``k^2 = 1/2``
    is below a quarter of ``eps`` of the sum."""
    eps = float(np.finfo(dtype).eps)
    q = n / 2 + 1
    term = math.exp(math.lgamma(shift) + math.lgamma(q) - math.lgamma(shift + q))
    coefficients = [term]
    j = 0
    while term * 0.5**j > 0.25 * eps * coefficients[0] or j < 2:
        # (1/2)_(j+1) / (j+1)! and B(j + 1 + shift, q) from their values at j.
        term *= (j + 0.5) / (j + 1) * (j + shift) / (j + shift + q)
        j += 1
        coefficients.append(term)
    return tuple(coefficients)


def _series(k2: Float[Array, "*b"], coefficients: tuple[float, ...]) -> Float[Array, "*b"]:
    """``sum_j coefficients[j] k2^j`` by Horner's rule."""
    total = jnp.zeros_like(k2)
    for c in reversed(coefficients):
        total = total * k2 + c
    return total


def arc_integrals(
    b: Float[Array, "*b"],
    r: Float[Array, "*b"],
    first: tuple[Float[Array, "*b"], ...],
    inside: Bool[Array, "*b"],
    n_max: int,
) -> Arcs:
    """:class:`Arcs` for overlapping discs (``b``, ``r`` the stand-ins of
    :func:`diffkern.transit._quadratic_terms.stand_ins`), from ``first = (M_0, C_0, M_1, C_1)``;
    ``inside`` where the occultor lies within the star."""
    dtype = b.dtype.name
    a = (1 - r) * (1 + r) - b * b
    c = 2 * b * r
    m, cos = list(first[0::2]), list(first[1::2])
    for n in range(n_max - 1):  # upward, from n to n + 2
        m.append(a * m[n] + c * cos[n])
        cos.append((n + 2) / (n + 4) * (c * m[n] + a * cos[n]))
    d = [jnp.zeros_like(b)] * 2 + [r * m[n] - b * cos[n] for n in range(2, n_max + 1)]
    if n_max < 2:
        return Arcs(tuple(m[: n_max + 1]), tuple(cos[: n_max + 1]), tuple(d[: n_max + 1]))

    series = ~inside & (a < 0)  # crossing the limb, k^2 < 1/2
    inner = jnp.where(series, (b + (1 - r)) * ((1 + r) - b), 0.5)  # a + c
    k2 = jnp.where(series, inner / jnp.where(series, 2 * c, 1), 0.25)
    k = jnp.sqrt(k2)
    sqrt_inner = jnp.sqrt(inner)
    for n in range(2, n_max + 1):
        scale = 2 * k * sqrt_inner**n
        m_n = scale * _series(k2, _series_coefficients(n, 0.5, dtype))
        e_n = scale * k2 * _series(k2, _series_coefficients(n, 1.5, dtype))
        m[n] = jnp.where(series, m_n, m[n])
        cos[n] = jnp.where(series, m_n - 2 * e_n, cos[n])
        d[n] = jnp.where(series, (r - b) * m_n + 2 * b * e_n, d[n])
    return Arcs(tuple(m), tuple(cos), tuple(d))
