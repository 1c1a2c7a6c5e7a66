"""The Kepler kernel: ``E``, ``sin E``, ``cos E``, ``sin f``, ``cos f`` with exact derivatives.

Kepler's equation ``M = E - e sin E`` is solved for any real ``M`` and ``0 <= e < 1``:

1. ``M`` is reduced to ``m`` in [-pi, pi] (Cody-Waite, so ``M`` near ``2 pi k`` keeps all its
   digits, exact for ``|M| <= 2 pi MAX_CYCLES[dtype]``) and ``|m|`` solved; ``E(-m) = -E(m)``,
   and ``E`` is returned in [0, 2 pi).
2. Markley's starter, then ``num_iter`` corrections of the chosen order, evaluated without
   cancellation (see :mod:`diffkern.kepler._steps`).
3. ``cos f = (cos E - e) / (1 - e cos E)``, ``sin f = sqrt(1 - e^2) sin E / (1 - e cos E)``,
   with ``cos E - e = (1 - e) - (1 - cos E)`` and ``1 - e cos E = (1 - e) + e (1 - cos E)``.

Derivatives come from the implicit function theorem, never from the iterations:
``dE = (dM + sin E de) / (1 - e cos E)`` and ``df = sqrt(1 - e^2) / (1 - e cos E) dE
+ sin f / (1 - e^2) de``; ``jax.custom_jvp`` makes ``jvp``, ``grad``, ``vjp`` and every higher
order exact whatever the iteration count.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jaxtyping import Array, Float

from diffkern._blocks import in_blocks
from diffkern.kepler._constants import MAX_CYCLES, split_pi
from diffkern.kepler._starter import markley_starter
from diffkern.kepler._steps import State, correction, rotate
from diffkern.kepler._trig import sincos

#: The largest ``|M|`` reduced exactly, per dtype (about 2.6e4 in float32, 5.4e10 in float64).
MAX_MEAN_ANOMALY = {
    name: float(np.asarray(2 * math.pi * cycles, name)) for name, cycles in MAX_CYCLES.items()
}

#: ``(E, sin E, cos E, sin f, cos f, 1 - e cos E)``.
Solution = tuple[Float[Array, "*b"], ...]

# On CPU, XLA materialises the intermediates of a long elementwise kernel in memory; solving in
# blocks of this many elements keeps them in cache (2-3x faster at 10^6 elements).
_CPU_BLOCK = 4096


def below_two_pi(dtype) -> np.floating:
    """The largest float below 2 pi: ``2 pi - x`` for a tiny ``x`` rounds to 2 pi, outside the
    documented range [0, 2 pi) of the angles, so they are clamped to this."""
    two_pi = np.asarray(2 * math.pi, dtype)
    return np.nextafter(two_pi, np.zeros_like(two_pi))


def _reduce(mean_anomaly: Float[Array, "*b"]) -> Float[Array, "*b"]:
    """``M - 2 pi k`` in [-pi, pi]; ``2 pi`` is split so the result keeps its relative accuracy."""
    parts = split_pi(Fraction(2), mean_anomaly.dtype.name)
    k = jax.lax.round(mean_anomaly * (1 / (2 * math.pi)), jax.lax.RoundingMethod.TO_NEAREST_EVEN)
    for part in parts:
        mean_anomaly = mean_anomaly - k * part
    return mean_anomaly


def valid_inputs(mean_anomaly: Float[Array, "*b"], ecc: Float[Array, "*b"]) -> Array:
    """Where ``mean_anomaly`` is finite and in range and ``0 <= ecc < 1`` (NaN fails every
    comparison, so ``<=`` also rejects a NaN or infinite mean anomaly)."""
    limit = MAX_MEAN_ANOMALY[mean_anomaly.dtype.name]
    return (jnp.abs(mean_anomaly) <= limit) & (ecc >= 0) & (ecc < 1)


def _solve_elementwise(
    mean_anomaly: Float[Array, "*b"],
    ecc: Float[Array, "*b"],
    offset: Float[Array, ""],
    method: str,
    num_iter: int,
) -> Solution:
    # Added, not selected, so that derivatives are NaN there too.
    invalid = jnp.where(valid_inputs(mean_anomaly, ecc), 0, jnp.nan)
    m = _reduce(mean_anomaly + (offset + invalid))
    negative = m < 0
    m = jnp.abs(m)
    one_minus_ecc = 1 - ecc
    starter = markley_starter(m, ecc, one_minus_ecc)
    state = State(starter, *sincos(starter))
    for _ in range(num_iter):
        state = rotate(state, correction(state, m, ecc, one_minus_ecc, method))
    slope = one_minus_ecc + ecc * state.versine
    inv_slope = 1 / slope
    sin_f = jnp.sqrt(one_minus_ecc * (1 + ecc)) * state.sin * inv_slope
    cos_f = (one_minus_ecc - state.versine) * inv_slope
    return (
        jnp.minimum(
            jax.lax.select(negative, 2 * math.pi - state.E, state.E), below_two_pi(m.dtype)
        ),
        jax.lax.select(negative, -state.sin, state.sin),
        state.cos,
        jax.lax.select(negative, -sin_f, sin_f),
        cos_f,
        slope,
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5))
def solve(
    mean_anomaly: Float[Array, "*b"],
    ecc: Float[Array, "*b"],
    offset: Float[Array, ""],
    method: str,
    num_iter: int,
    platform: str,
) -> Solution:
    """The :data:`Solution` at ``mean_anomaly + offset`` for inputs of equal shape and dtype
    (``offset`` a scalar), ``E`` in [0, 2 pi); NaN where ``mean_anomaly`` is out of range or not
    finite or ``ecc`` is outside [0, 1).

    ``offset`` is how a value check reaches the program: a scalar 0 (NaN when the check
    failed) that the check guards, added inside each block (added to the whole array before
    the loop, it would cost a pass over memory of its own).

    ``platform`` (static, from where the inputs live) picks the program's structure: a loop
    over cache-sized blocks on CPU, one flat elementwise program elsewhere.
    """
    fn = functools.partial(_solve_elementwise, method=method, num_iter=num_iter)
    if platform == "cpu":
        return in_blocks(lambda m, e: fn(m, e, offset), (mean_anomaly, ecc), _CPU_BLOCK)
    return fn(mean_anomaly, ecc, offset)


@functools.partial(solve.defjvp, symbolic_zeros=True)
def _solve_jvp(
    method: str, num_iter: int, platform: str, primals, tangents
) -> tuple[Solution, Solution]:
    mean_anomaly, ecc, offset = primals
    d_mean_anomaly, d_ecc, d_offset = tangents
    solution = solve(mean_anomaly, ecc, offset, method, num_iter, platform)
    E, sin_E, cos_E, sin_f, cos_f, slope = solution
    one_minus_ecc_sq = (1 - ecc) * (1 + ecc)
    # dM + sin E de, skipping tangents that are symbolically zero.
    dE = jnp.zeros_like(E)
    for d_m in (d_mean_anomaly, d_offset):
        if not isinstance(d_m, SymbolicZero):
            dE = dE + d_m
    if not isinstance(d_ecc, SymbolicZero):
        dE = dE + sin_E * d_ecc
    dE = dE / slope
    df = jnp.sqrt(one_minus_ecc_sq) / slope * dE
    d_slope = ecc * sin_E * dE
    if not isinstance(d_ecc, SymbolicZero):
        df = df + sin_f / one_minus_ecc_sq * d_ecc
        d_slope = d_slope - cos_E * d_ecc
    return solution, (dE, cos_E * dE, -sin_E * dE, cos_f * df, -sin_f * df, d_slope)
