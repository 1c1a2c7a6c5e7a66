"""The three integrals over the occulted part of the stellar disc that quadratic limb darkening
needs, with their exact partial derivatives in ``b`` and ``r``.

On the unit disc, with ``rho`` the distance from its centre and ``mu = sqrt(1 - rho^2)``,
``I(mu) = 1 - u1 (1 - mu) - u2 (1 - mu)^2 = (1 - u1 - 2 u2) + (u1 + 2 u2) mu + u2 rho^2``, so
the blocked light is a combination of, over the region ``D`` covered by a disc of radius ``r``
centred at distance ``b``:

* ``area = int_D 1``: ``pi r^2`` inside the disc, else the two circular segments of the lens,
  ``(kappa_1 - sin kappa_1 cos kappa_1) + r^2 (kappa_0 - sin kappa_0 cos kappa_0)``, with
  ``kappa_0`` and ``kappa_1`` the half-angles the crossing points subtend at the occultor's and
  the star's centre;
* ``moment = int_D rho^2``: ``pi r^2 (r^2 / 2 + b^2)`` inside the disc, else by Green's theorem
  along the two arcs, ``kappa_1 / 2 + (r / 4) int_-kappa_0^kappa_0 rho^2 (r - b cos psi) dpsi``
  with ``rho^2 = (b - r)^2 + 4 b r sin^2(psi / 2)``, integrated in powers of ``sin^2(psi / 2)``
  (``x - sin x`` and its like by series below 1) so that no terms of size ``r^4`` cancel;
* ``depth = int_D mu = (2 pi theta + Lambda) / 3``, the linear term ``2 pi / 3 - s_1`` of Agol,
  Luger & Foreman-Mackey (2020), ``theta = 1`` when the occultor covers the centre
  (``r > b``), ``1/2`` on ``b = r``: ``Lambda`` holds complete elliptic integrals of the
  three kinds, taken in Bulirsch's form (:func:`diffkern.transit._elliptic.cel3`).

The derivatives need no third-kind integral (Agol et al. 2020, in these variables):
``d area / db = -2 Q / b`` (``Q`` the area of the kite of the two centres and the two crossing
points), ``d area / dr = 2 r kappa_0``, and ``d depth`` from ``E(k)`` and
``(E(k) - kc^2 K(k)) / k^2`` alone.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Bool, Float

from diffkern.transit._elliptic import cel3, min_kc

PI = math.pi


class Terms(NamedTuple):
    """``(area, depth, moment)`` and their partial derivatives in ``b`` and in ``r``; in the
    regions of no overlap and of a fully covered star they are constants (derivatives 0)."""

    value: tuple[Float[Array, "*b"], ...]
    d_b: tuple[Float[Array, "*b"], ...]
    d_r: tuple[Float[Array, "*b"], ...]
    full: Bool[Array, "*b"]
    none: Bool[Array, "*b"]
    #: ``(M_0, C_0, M_1, C_1)`` where the discs overlap: ``M_n = int z^n dphi`` and
    #: ``C_n = int z^n cos phi dphi`` along the occultor's arc inside the star
    #: (:mod:`diffkern.transit._arc_integrals`), ``z = mu`` there.
    arcs: tuple[Float[Array, "*b"], ...] = ()


def _kite(b: Float[Array, "*b"], r: Float[Array, "*b"]) -> Float[Array, "*b"]:
    """``2 K``: four times the area of the triangle of sides ``1, b, r`` (0 when there is none),
    by Heron's formula with the sides sorted so that no factor cancels (Kahan)."""
    one = jnp.ones_like(b)
    big, small = jnp.maximum(one, b), jnp.minimum(one, b)
    mid, low = jnp.minimum(big, r), jnp.minimum(small, r)
    high, mid = jnp.maximum(big, r), jnp.maximum(small, mid)
    square = (
        (high + (mid + low)) * (low - (high - mid)) * (low + (high - mid)) * (high + (mid - low))
    )
    return jnp.sqrt(jnp.maximum(square, 0))


def _series(x: Float[Array, "*b"], coefficients: list[float]) -> Float[Array, "*b"]:
    """``sum_n c_n x^(2n + 1)`` by Horner's rule in ``x^2``."""
    x2 = x * x
    total = jnp.zeros_like(x)
    for c in reversed(coefficients):
        total = total * x2 + c
    return total * x


# Taylor coefficients of x - sin x and of (3 x - 4 sin x + sin x cos x) / 4, odd powers up to
# x^25: below x = 1 they replace the forms that cancel (by up to 120x near 1, all digits at 0).
_MINUS_SIN = [0.0] + [(-1) ** (n + 1) / math.factorial(2 * n + 1) for n in range(1, 13)]
_SIN_SQUARE = [0.0, 0.0] + [
    (-1) ** n * (4**n - 4) / (4 * math.factorial(2 * n + 1)) for n in range(2, 13)
]


def _x_minus_sin(x: Float[Array, "*b"], sin_x: Float[Array, "*b"]) -> Float[Array, "*b"]:
    """``x - sin x`` (``x >= 0``, ``sin x`` given) without cancellation."""
    return jnp.where(x < 1, _series(x, _MINUS_SIN), x - sin_x)


def _sin_square_moment(k, sin_k, cos_k) -> Float[Array, "*b"]:
    """``int_-k^k sin^4(psi / 2) dpsi = (3 k - 4 sin k + sin k cos k) / 4`` without
    cancellation (``sin k`` and ``cos k`` given)."""
    return jnp.where(k < 1, _series(k, _SIN_SQUARE), 0.25 * (3 * k - sin_k * (4 - cos_k)))


def stand_ins(b: Float[Array, "*b"], r: Float[Array, "*b"]):
    """``(b, r, none, full, overlap)``: where the discs do not overlap (``none``) or the star is
    covered (``full``), ``b`` and ``r`` are replaced by a safe overlapping pair.

    The star counts as covered up to ``b <= r - 1 + eps``: at ``r ~ 1`` and ``b -> 0`` the
    edge-crossing formulas divide by ``b`` and square it (``b^2`` underflows below about 1e-19
    in float32), while the exact flux there is ``O(b)``, so covered is within ``O(eps)``.
    """
    none = (b >= 1 + r) | (r == 0)
    full = ~none & (b <= (r - 1) + float(jnp.finfo(b.dtype).eps))
    overlap = ~(none | full)
    return jnp.where(overlap, b, 0.5), jnp.where(overlap, r, 0.25), none, full, overlap


def terms(b: Float[Array, "*b"], r: Float[Array, "*b"]) -> Terms:
    """:class:`Terms` for ``b >= 0``, ``r >= 0`` of one shape and dtype (any values: the
    branches not taken are evaluated on safe stand-ins, so nothing non-finite is formed)."""
    dtype = b.dtype
    b, r, none, full, overlap = stand_ins(b, r)
    b2, r2, br = b * b, r * r, b * r
    # 1 - (b + r)^2 and 1 - (b - r)^2, factored so that neither cancels near a contact.
    outer = ((1 - r) - b) * ((1 + r) + b)
    inner = (b + (1 - r)) * ((1 + r) - b)
    inside = outer >= 0  # the occultor lies within the stellar disc

    two_kite = jnp.where(inside, 0, _kite(b, r))
    kappa0 = jnp.where(inside, PI, jnp.arctan2(two_kite, (r - 1) * (r + 1) + b2))
    kappa1 = jnp.where(inside, 0, jnp.arctan2(two_kite, (1 - r) * (1 + r) + b2))
    eta = r2 * (0.5 * r2 + b2)
    # Two circular segments; the rho^2 integral by Green's theorem along the two arcs. Unlike
    # the sectors-minus-kite forms these never subtract terms of size r^2 or r^4 (r > 1).
    b_pos = jnp.where(inside, 1, b)  # b > 0 wherever the disc edges cross
    sin1, cos1 = 0.5 * two_kite / b_pos, 0.5 * ((1 - r) * (1 + r) + b2) / b_pos
    sin0, cos0 = sin1 / r, 0.5 * ((r - 1) * (r + 1) + b2) / (b_pos * r)
    segments = _x_minus_sin(2 * kappa1, 2 * sin1 * cos1)
    segments = segments + r2 * _x_minus_sin(2 * kappa0, 2 * sin0 * cos0)
    area = jnp.where(inside, PI * r2, 0.5 * segments)
    d = b - r
    arc = (-2 * kappa0 * d**3 + 2 * b * d * (d - 2 * r) * _x_minus_sin(kappa0, sin0)) + (
        8 * b2 * r * _sin_square_moment(kappa0, sin0, cos0)
    )
    arc = 0.25 * r * arc
    moment = jnp.where(inside, PI * eta, 0.5 * kappa1 + arc)
    d_area = (jnp.where(inside, 0, -two_kite / b_pos), 2 * r * kappa0)
    d_moment = (
        2 * b * r2 * kappa0 - 0.5 * (1 + r2 + b2) * two_kite / b_pos,
        2 * r * ((r2 + b2) * kappa0 - two_kite),
    )

    depth, d_depth, arc1 = _depth(b, r, br, inner, outer, inside, min_kc(dtype) ** 2)
    # Constants where the discs do not overlap (0) or the star is covered (its whole disc).
    covered = (PI, 2 * PI / 3, 0.5 * PI)
    value = tuple(
        jnp.where(full, c, jnp.where(none, 0, x))
        for c, x in zip(covered, (area, depth, moment), strict=True)
    )

    def _mask(xs):
        return tuple(jnp.where(overlap, x, 0) for x in xs)

    return Terms(
        value,
        _mask((d_area[0], d_depth[0], d_moment[0])),
        _mask((d_area[1], d_depth[1], d_moment[1])),
        full,
        none,
        (2 * kappa0, 2 * sin0, *arc1),
    )


def _depth(b, r, br, inner, outer, inside, gap):
    """``int_D mu``, its partials ``(d/db, d/dr)`` and ``(M_1, C_1)`` (``-d/db / r`` and
    ``d/dr / r``: the integrals of ``mu`` and ``mu cos phi`` along the occultor's arc) where the
    discs overlap.

    ``outer = 1 - (b + r)^2`` vanishes at the inner contact, where ``kc = 0``; it is kept at
    least ``gap`` (``eps^2``) away from 0, which moves the result by ``O(gap log gap)``, far
    below rounding, and keeps ``kc >= eps``.
    """
    outer = jnp.where(inside, jnp.maximum(outer, gap), jnp.minimum(outer, -gap))
    diagonal = b == r  # the third-kind integral's pole: its two one-sided limits average
    theta = jnp.where(diagonal, 0.5, jnp.where(r > b, 1, 0))
    four_br = 4 * br
    # Inside the disc: k^2 = 4 b r / inner, kc^2 = outer / inner.
    ratio = (b - r) / (b + r)
    kc2_in = outer / inner
    p_in = ratio * ratio * kc2_in
    mu = 3 * ratio / inner
    # Crossing the limb: k^2 = inner / (4 b r), kc^2 = -outer / (4 b r).
    kc2_out = -outer / four_br
    kc2 = jnp.where(inside, kc2_in, kc2_out)
    p = jnp.where(inside, p_in, (b - r) ** 2 * kc2_out)
    a = jnp.where(inside, 1 + mu, 0)
    c = jnp.where(inside, p_in + mu, 3 * kc2_out * (b - r) * (b + r))
    # On the diagonal the pole term vanishes: cel(kc, 0, a, 0) = a K = cel(kc, 1, a, a).
    p = jnp.where(diagonal, 1, p)
    c = jnp.where(diagonal, a, c)
    pi_term, e, e_m = cel3(jnp.sqrt(kc2), p, a, c)

    sqrt_inner = jnp.sqrt(inner)
    inv_sqrt_br = 1 / jnp.sqrt(br)
    lam_in = (2 / 3) * sqrt_inner * (outer * pi_term - (4 - 7 * r * r - b * b) * e)
    lam_out = inner * (pi_term + (6 * r * r + 2 * br - 3) * e_m - four_br * e) * inv_sqrt_br / 3
    depth = (2 * PI * theta + jnp.where(inside, lam_in, lam_out)) / 3
    d_b = jnp.where(
        inside,
        (4 / 3) * r * sqrt_inner * (e - 2 * e_m),
        -(2 / 3) * r * inner * (2 * e - e_m) * inv_sqrt_br,
    )
    d_r = jnp.where(inside, 4 * r * sqrt_inner * e, 2 * r * inner * e_m * inv_sqrt_br)
    m1 = jnp.where(inside, 4 * sqrt_inner * e, 2 * inner * e_m * inv_sqrt_br)
    c1 = jnp.where(
        inside,
        (4 / 3) * sqrt_inner * (2 * e_m - e),
        (2 / 3) * inner * (2 * e - e_m) * inv_sqrt_br,
    )
    return depth, (d_b, d_r), (m1, c1)
