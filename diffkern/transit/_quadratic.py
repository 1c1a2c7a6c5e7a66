"""The flux of a limb-darkened star occulted by an opaque disc: the public entry point, its checks,
and the quadratic law (the polynomial laws of other orders are :mod:`._polynomial`)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, error_if_each, platform, to_device
from diffkern._checks import checked
from diffkern.transit import _polynomial as polynomial
from diffkern.transit._elementwise import with_partials
from diffkern.transit._polynomial import invalid, valid, valid_only
from diffkern.transit._quadratic_terms import terms


def limb_darkened_flux(
    b: Real[ArrayLike, "*_"],
    r: Real[ArrayLike, "*_"],
    u: Real[ArrayLike, "*_"],
    *,
    check: bool = True,
) -> Float[Array, "*batch"]:
    """Relative flux of a star with polynomial limb darkening
    ``I(mu) / I(1) = 1 - sum_(n=1)^N u_n (1 - mu)^n`` occulted by an opaque disc of radius
    ``r`` whose centre is ``b`` from the star's.

    ``b`` and ``r`` are in stellar radii; ``u = (u1, .., uN)`` is the last axis of ``u``, of any
    static length ``N >= 1`` (``N = 1`` linear, ``N = 2`` quadratic). ``b``, ``r`` and
    ``u[..., 0]`` broadcast; the result has their shape and follows their dtype. The flux is 1
    out of transit (exactly 1 for ``|b| >= 1 + r`` or ``r = 0``) and 0 when the disc covers the
    star (``|b| <= r - 1``); in between it is exact. Quadratic: the closed form of Mandel &
    Agol (2002) in the stable form of Agol, Luger & Foreman-Mackey (2020):
    ``F = 1 - [(1 - u1 - 2 u2) A + (u1 + 2 u2) M + u2 R] / (pi (1 - u1 / 3 - u2 / 6))`` with
    ``A``, ``M``, ``R`` the integrals of ``1``, ``mu`` and ``rho^2`` over the occulted area
    (:mod:`diffkern.transit._quadratic_terms`). Other orders: the integrals of ``mu^n`` over
    the occulted area from the Green's basis of Agol et al. (2020), each a line integral along
    the occultor's edge, by a recursion in ``n`` or, where that is unstable, a series
    (:mod:`diffkern.transit._polynomial`). Any ``r >= 0`` is valid, ``r > 1`` included. The
    flux depends on ``|b|``; which side of the star the occultor is on (in front or behind) is
    for the caller to decide.

    Derivatives in ``b``, ``r`` and ``u`` are the analytic ones (``jax.custom_jvp``): exact
    and finite everywhere, the contact points ``|b| = |1 - r|, 1 + r``, ``b = 0``, ``b = r``
    and ``r -> 0`` included. Accuracy: within 1e-12 of the exact flux in float64 and 1e-6 in
    float32 for ``r <= 3`` (2.4e-6 at ``r = 10``; tests/test_transit_flux.py) for ``N = 2``.
    Other orders: within 1e-12 in float64 and, in float32 for ``r <= 3``,
    ``1e-7 (1 + sum_n 2^n |u_n|) / (1 - sum_n 2 u_n / ((n + 1) (n + 2)))`` (the expansion of
    ``(1 - mu)^n`` in powers of ``mu`` costs up to ``2^n`` in rounding: 1e-6 for ``N = 3``,
    3e-6 for ``N = 6`` with ``|u_n| <= 1``; tests/test_transit_flux_polynomial.py).

    Limb darkening that makes the intensity negative somewhere on the disc (for instance
    ``u1 + u2 > 1``) is allowed: the flux is still the exact integral of the law as given, so
    that fits can cross the boundary; constrain ``u`` in the model if it must be physical.
    The star's total flux must be positive,
    ``sum_n 2 u_n / ((n + 1) (n + 2)) = u1 / 3 + u2 / 6 + u3 / 10 + .. < 1``.

    ``check=True`` validates values in the compiled program: non-finite ``b``, ``r`` or ``u``,
    ``r < 0`` or a stellar flux that is not positive raise :class:`diffkern.CheckError` naming
    the argument (through a host callback inside the caller's ``jit``); ``check=False`` skips
    the checks and gives NaN where the input is invalid. An empty or non-static last axis of
    ``u`` raises ``ValueError`` at once.
    """
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    check_limb_darkening(np.shape(u))
    args = to_device(b, r, u)
    return _limb_darkened_flux(check, platform(*args), *args)


def check_limb_darkening(shape: tuple) -> None:
    """``ValueError`` unless ``shape`` (of ``u``) has a static last axis of length >= 1."""
    if len(shape) == 0 or not isinstance(shape[-1], int) or shape[-1] < 1:
        raise ValueError(
            f"u must have a static last axis of size N >= 1 (u1, .., uN), got shape {shape}"
        )


@checked
def _limb_darkened_flux(check: bool, where: str, b, r, u) -> Float[Array, "*batch"]:
    n = u.shape[-1]
    b, r, *u = broadcast_floats(b=b, r=r, **{f"u{k + 1}": u[..., k] for k in range(n)})
    flux = (_flux if n == 2 else polynomial.flux)(where, b, r, *u)
    if check:
        return error_if_each(flux, invalid(b, r, u))
    return jnp.where(valid(b, r, u), flux, jnp.nan)


def _evaluate(b, r, u1, u2) -> tuple[Float[Array, "*b"], tuple[Float[Array, "*b"], ...]]:
    """The flux and its partial derivatives in ``(b, r, u1, u2)``."""
    t = terms(jnp.abs(b), r)
    area, depth, moment = t.value
    weights = (1 - u1 - 2 * u2, u1 + 2 * u2, u2)
    scale = 1 / (math.pi * (1 - u1 / 3 - u2 / 6))

    def blocked(xs):
        return scale * sum(w * x for w, x in zip(weights, xs, strict=True))

    deficit = blocked(t.value)
    d_u1 = scale * (depth - area + (math.pi / 3) * deficit)
    d_u2 = scale * (2 * (depth - area) + moment + (math.pi / 6) * deficit)
    flux = jnp.where(t.full, 0, 1 - deficit)
    partials = (
        jnp.where(b < 0, 1, -1) * blocked(t.d_b),
        -blocked(t.d_r),
        jnp.where(t.full, 0, -d_u1),
        jnp.where(t.full, 0, -d_u2),
    )
    return flux, partials


#: The quadratic flux for inputs of one shape and dtype, ``flux(where, b, r, u1, u2)``, with
#: analytic derivatives (1 where the inputs are invalid, never NaN).
_flux = with_partials(valid_only(_evaluate))
