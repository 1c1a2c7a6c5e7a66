"""The flux of a star with polynomial limb darkening of any order occulted by an opaque disc.

``I(mu) / I(1) = 1 - sum_(k=1)^N u_k (1 - mu)^k``. Expanded in powers of ``mu`` (the binomial
theorem), the light the disc blocks is ``X = P_0 - sum_k u_k Q_k`` with
``Q_k = int_D (1 - mu)^k = sum_j C(k, j) (-1)^j P_j`` and ``P_j = int_D mu^j``
(:mod:`diffkern.transit._polynomial_terms`); the star's total is
``T = pi - sum_k u_k T_k``, ``T_k = int_disc (1 - mu)^k = 2 pi / ((k + 1) (k + 2))``, and the
relative flux ``F = 1 - X / T``. Its partial derivatives: ``dF/du_k = (Q_k - (1 - F) T_k) / T``
and ``dF/db``, ``dF/dr`` from those of ``P_j``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from diffkern.transit._elementwise import with_partials
from diffkern.transit._polynomial_terms import moments


def total_weights(n: int) -> list[float]:
    """``T_k / pi = 2 / ((k + 1) (k + 2))`` for ``k = 1 .. n``: the star's flux is
    ``pi (1 - sum_k u_k T_k / pi)``."""
    return [2 / ((k + 1) * (k + 2)) for k in range(1, n + 1)]


def normalisation_message(n: int) -> str:
    """The condition of a positive stellar flux, as written in the error message."""
    parts = [f"u{k}/{(k + 1) * (k + 2) // 2}" for k in range(1, n + 1)]
    if n > 4:
        parts = [*parts[:3], "...", parts[-1]]
    return f"u must give a positive stellar flux: {' + '.join(parts)} < 1"


def invalid(b, r, u: list) -> list[tuple[Bool[Array, "*batch"], str]]:
    """Where each argument is invalid, with its message (``u`` the list of ``u_k``)."""
    finite = jnp.isfinite
    u_finite = functools.reduce(jnp.logical_and, [finite(x) for x in u])
    total = sum(x / ((k + 2) * (k + 3) // 2) for k, x in enumerate(u))
    checks = [
        (~finite(b), "b must be finite"),
        (~(finite(r) & (r >= 0)), "r must be finite and >= 0"),
        (~u_finite, "u must be finite"),
        (u_finite & ~(total < 1), normalisation_message(len(u))),
    ]
    return [(bad, f"limb_darkened_flux: {message}") for bad, message in checks]


def valid(b, r, u: list) -> Bool[Array, "*batch"]:
    """Where every argument is valid (:func:`invalid`)."""
    return ~functools.reduce(jnp.logical_or, [bad for bad, _ in invalid(b, r, u)])


def valid_only(evaluate: Callable) -> Callable:
    """``evaluate(b, r, *u)`` where the arguments are valid, and at ``b = r = u = 0`` (no
    overlap: flux 1) elsewhere; inside the flux program, so that no sanitised copy of the
    inputs is stored."""

    def run(b, r, *u):
        ok = valid(b, r, list(u))
        return evaluate(*(jnp.where(ok, x, 0) for x in (b, r, *u)))

    return run


@functools.cache
def _binomials(n: int) -> np.ndarray:
    """``C(k, j) (-1)^j`` for ``k = 1 .. n`` (rows), ``j = 0 .. n``: ``(1 - mu)^k`` in powers."""
    return np.array([[(-1) ** j * math.comb(k, j) for j in range(n + 1)] for k in range(1, n + 1)])


def _evaluate(b, *u) -> tuple[Float[Array, "*b"], tuple[Float[Array, "*b"], ...]]:
    """The flux and its partial derivatives in ``(b, r, u_1, .., u_N)`` (``r`` first in ``u``)."""
    r, *u = u
    n = len(u)
    p = moments(jnp.abs(b), r, n)
    weights = _binomials(n)

    def powers(k, xs):  # int_D (1 - mu)^k from the int_D mu^j in xs
        return sum(float(w) * x for w, x in zip(weights[k], xs, strict=True) if w)

    def blocked(xs):  # int_D I(mu) from the int_D mu^j in xs
        return xs[0] - sum(u_k * powers(k, xs) for k, u_k in enumerate(u))

    scale = 1 / (math.pi * (1 - sum(w * x for w, x in zip(total_weights(n), u, strict=True))))
    deficit = scale * blocked(p.value)
    flux = jnp.where(p.full, 0, 1 - deficit)
    d_u = [
        jnp.where(p.full, 0, scale * (powers(k, p.value) - math.pi * t * deficit))
        for k, t in enumerate(total_weights(n))
    ]
    partials = (
        jnp.where(b < 0, 1, -1) * scale * blocked(p.d_b),
        -scale * blocked(p.d_r),
        *d_u,
    )
    return flux, partials


#: The flux for inputs of one shape and dtype, ``flux(where, b, r, u_1, .., u_N)``, with
#: analytic derivatives (1 where the inputs are invalid, never NaN).
flux = with_partials(valid_only(_evaluate))
