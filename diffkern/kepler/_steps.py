"""One correction of Kepler's equation ``g(E) = E - e sin E - M = 0`` from the current state.

The state carries ``E``, ``sin E``, ``cos E``, ``E - sin E`` and ``1 - cos E``; the last two keep
``g(E) = (1 - e) E + e (E - sin E) - M`` and ``g'(E) = (1 - e) + e (1 - cos E)`` free of
cancellation near ``e -> 1, E -> 0``. After a step ``d`` the state is rotated by ``d`` with a
short series, so only the starter needs a full sine and cosine.
"""

from __future__ import annotations

from typing import NamedTuple

from jaxtyping import Array, Float

from diffkern.kepler._trig import small_sincos

#: Correction methods and their order of convergence.
METHODS = {"newton": 2, "halley": 3, "order4": 4, "order5": 5}


class State(NamedTuple):
    """An estimate of ``E`` with its sine, cosine and their cancellation-free complements."""

    E: Float[Array, "*b"]
    sin: Float[Array, "*b"]
    cos: Float[Array, "*b"]
    E_minus_sin: Float[Array, "*b"]
    versine: Float[Array, "*b"]


def correction(
    state: State,
    mean_anomaly: Float[Array, "*b"],
    ecc: Float[Array, "*b"],
    one_minus_ecc: Float[Array, "*b"],
    method: str,
) -> Float[Array, "*b"]:
    """The step ``d`` of order ``METHODS[method]``: the series reversion of ``g(E + d) = 0``.

    With ``s = g0 / g1`` and ``a_k = g_k / (k! g1)``, the root of ``g0 + g1 d + g2 d^2/2 + ...``
    is ``d = -s (1 + a2 s + (2 a2^2 - a3) s^2 + (5 a2^3 - 5 a2 a3 + a4) s^3 + O(s^4))``; keeping
    ``order - 1`` terms gives an error ``O(s^order)``. One division, whatever the order. For
    Kepler's equation ``g2 = e sin E``, ``g3 = e cos E`` and ``g4 = -g2``, so ``a4 = -a2 / 12``.
    """
    g1 = one_minus_ecc + ecc * state.versine
    s = (one_minus_ecc * state.E + ecc * state.E_minus_sin - mean_anomaly) / g1
    order = METHODS[method]
    if order == 2:
        return -s
    a2 = 0.5 * ecc * state.sin / g1
    a3 = ecc * state.cos / (6 * g1)
    coefficients = [a2, 2 * a2 * a2 - a3, a2 * (5 * (a2 * a2 - a3) - 1 / 12)][: order - 2]
    series = coefficients[-1]
    for c in coefficients[-2::-1]:
        series = c + s * series
    return -s * (1 + s * series)


def rotate(state: State, d: Float[Array, "*b"]) -> State:
    """The state at ``E + d``, by the angle-addition formulas (no cancellation)."""
    sin_d, d_minus_sin_d, one_minus_cos_d = small_sincos(d)
    s, c = state.sin, state.cos
    return State(
        E=state.E + d,
        sin=s + (c * sin_d - s * one_minus_cos_d),
        cos=c - (s * sin_d + c * one_minus_cos_d),
        E_minus_sin=state.E_minus_sin + d_minus_sin_d + sin_d * state.versine + s * one_minus_cos_d,
        versine=state.versine + c * one_minus_cos_d + s * sin_d,
    )
