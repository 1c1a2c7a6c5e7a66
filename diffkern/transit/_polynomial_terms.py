"""The integrals of ``mu^n`` over the occulted part of the stellar disc, ``n = 0 .. n_max``, with
their exact partial derivatives in ``b`` and ``r``.

``P_0`` (the area) and ``P_1`` (``int_D mu``) are those of quadratic limb darkening
(:mod:`diffkern.transit._quadratic_terms`). Above them, the Green's basis of Agol, Luger &
Foreman-Mackey (2020), ``g_n = (n + 2) mu^n - n mu^(n-2) = div(mu^n (x, y))``, vanishes in
total over the disc and its integral over the occulted region ``D`` is, by the divergence
theorem, a line integral along the occultor's edge alone (``mu = 0`` on the star's limb):
``int_D g_n = r D_n`` with ``D_n`` of :mod:`diffkern.transit._arc_integrals`. Hence

    P_n = (r D_n + n P_(n-2)) / (n + 2),

a recursion that damps earlier errors (``n / (n + 2) < 1``). Moving the occultor moves only its
edge, so (Reynolds' transport theorem) ``dP_n / dr = r M_n`` and ``dP_n / db = -r C_n``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from diffkern.transit._arc_integrals import arc_integrals
from diffkern.transit._quadratic_terms import stand_ins, terms


class Moments(NamedTuple):
    """``P_n`` for ``n = 0 .. n_max`` and their partial derivatives in ``b`` and ``r``; where
    the discs do not overlap they are 0, where the star is covered ``2 pi / (n + 2)``."""

    value: tuple[Float[Array, "*b"], ...]
    d_b: tuple[Float[Array, "*b"], ...]
    d_r: tuple[Float[Array, "*b"], ...]
    full: Bool[Array, "*b"]


def moments(b: Float[Array, "*b"], r: Float[Array, "*b"], n_max: int) -> Moments:
    """:class:`Moments` for ``b >= 0``, ``r >= 0`` of one shape and dtype (``n_max >= 1``)."""
    t = terms(b, r)
    b, r, _, full, overlap = stand_ins(b, r)
    inside = ((1 - r) - b) >= 0
    arcs = arc_integrals(b, r, t.arcs, inside, n_max)
    area, depth = (jnp.where(overlap, x, 0) for x in t.value[:2])  # unmasked below
    p = [area, depth]
    for n in range(2, n_max + 1):
        p.append((r * arcs.d[n] + n * p[n - 2]) / (n + 2))

    def _mask(xs, covered):
        return tuple(
            jnp.where(full, c, jnp.where(overlap, x, 0)) for c, x in zip(covered, xs, strict=True)
        )

    zeros = [0.0] * (n_max + 1)
    return Moments(
        _mask(p, [2 * math.pi / (n + 2) for n in range(n_max + 1)]),
        _mask([*t.d_b[:2], *(-r * x for x in arcs.c[2:])], zeros),
        _mask([*t.d_r[:2], *(r * x for x in arcs.m[2:])], zeros),
        full,
    )
