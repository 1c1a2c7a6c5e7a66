"""Bulirsch's general complete elliptic integral ``cel``, three at once, as array operations.

``cel(kc, p, a, b) = int_0^(pi/2) (a cos^2 t + b sin^2 t)
/ ((cos^2 t + p sin^2 t) sqrt(cos^2 t + kc^2 sin^2 t)) dt``  (Bulirsch 1969, ``p > 0``).

It holds ``K``, ``E`` and ``Pi`` in one stable form: ``E(k) = cel(kc, 1, 1, kc^2)``, and
``(E - kc^2 K) / k^2 = cel(kc, 1, 1, 0)`` with ``k^2 = 1 - kc^2``. The three integrals that
the quadratic limb-darkening term needs share ``kc`` and so one arithmetic-geometric mean
(Agol, Luger & Foreman-Mackey 2020). The mean converges quadratically; a fixed number of steps
(:data:`STEPS`, per dtype) reaches the last bit for every ``kc`` down to :func:`min_kc`, so
the program has no data-dependent loop and runs the same on every backend.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

#: Steps of the arithmetic-geometric mean after the first, per dtype: enough for ``kc`` down
#: to :func:`min_kc` (measured against mpmath in tests/test_transit_flux.py).
STEPS = {"float32": 5, "float64": 8}


def min_kc(dtype) -> float:
    """The smallest ``kc`` :func:`cel3` is exact for: ``eps`` of ``dtype``."""
    return float(jnp.finfo(dtype).eps)


def cel3(
    kc: Float[Array, "*b"], p: Float[Array, "*b"], a: Float[Array, "*b"], b: Float[Array, "*b"]
) -> tuple[Float[Array, "*b"], Float[Array, "*b"], Float[Array, "*b"]]:
    """``(cel(kc, p, a, b), E(k), (E(k) - kc^2 K(k)) / k^2)`` for ``min_kc <= kc <= 1``, ``p > 0``.

    Bulirsch's recursion: each step replaces ``(m, kc)`` by their arithmetic and (doubled)
    geometric mean and updates the numerators ``a, b`` and the parameter ``p`` of each
    integral; the integral is ``pi / 2 (a m + b) / (m (m + p))`` in the limit.
    """
    ee = kc
    m = jnp.ones_like(kc)
    inv_sqrt_p = jax.lax.rsqrt(p)
    b = b * inv_sqrt_p
    # The first step: the general integral with its own p, the other two with p = 1
    # (a2 = 1, b2 = kc^2; a3 = 1, b3 = 0).
    g = ee * inv_sqrt_p
    a, b, p = a + b * inv_sqrt_p, 2 * (b + a * g), p * inv_sqrt_p + g
    a2, b2 = 1 + kc * kc, 2 * (kc * kc + kc)
    a3, b3 = m, 2 * kc
    p1 = 1 + kc
    m = m + kc
    for _ in range(STEPS[kc.dtype.name]):
        kc = 2 * jnp.sqrt(ee)
        ee = kc * m
        inv_p, inv_p1 = 1 / p, 1 / p1
        g, g1 = ee * inv_p, ee * inv_p1
        a, b, p = a + b * inv_p, 2 * (b + a * g), p + g
        a2, b2 = a2 + b2 * inv_p1, 2 * (b2 + a2 * g1)
        a3, b3 = a3 + b3 * inv_p1, 2 * (b3 + a3 * g1)
        p1 = p1 + g1
        m = m + kc
    scale = (0.5 * math.pi) / m
    return (
        scale * (a * m + b) / (m + p),
        scale * (a2 * m + b2) / (m + p1),
        scale * (a3 * m + b3) / (m + p1),
    )
