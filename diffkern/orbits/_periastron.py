"""Conversion from the time of conjunction (transit) to the time of periastron."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, to_device
from diffkern._checks import checked


def time_of_periastron(
    time_of_conjunction: Real[ArrayLike, "*_"],
    period: Real[ArrayLike, "*_"],
    ecc: Real[ArrayLike, "*_"],
    omega: Real[ArrayLike, "*_"],
) -> Float[Array, "*batch"]:
    """``tp = tc - P (E - e sin E) / (2 pi)`` where ``E`` is the eccentric anomaly at transit.

    At conjunction the true anomaly is ``f = pi/2 - omega``, and
    ``E = 2 atan(sqrt((1 - e)/(1 + e)) tan(f/2))`` in (-pi, pi], as radvel's
    ``timetrans_to_timeperi`` (written with ``atan2``, so ``f = pi`` is regular). Needs
    ``0 <= ecc < 1``; other values give NaN.
    """
    return _time_of_periastron(*to_device(time_of_conjunction, period, ecc, omega))


@checked
def _time_of_periastron(*args: Real[Array, "*_"]) -> Float[Array, "*batch"]:
    names = ("time_of_conjunction", "period", "ecc", "omega")
    tc, period, ecc, omega = broadcast_floats(**dict(zip(names, args, strict=True)))
    half_f = (math.pi / 2 - omega) / 2
    E = 2 * jnp.arctan2(jnp.sqrt(1 - ecc) * jnp.sin(half_f), jnp.sqrt(1 + ecc) * jnp.cos(half_f))
    E = E - 2 * math.pi * jnp.round(E / (2 * math.pi))
    E = jnp.where((ecc >= 0) & (ecc < 1), E, jnp.nan)
    return tc - period / (2 * math.pi) * (E - ecc * jnp.sin(E))
