"""Conversion from the time of conjunction (transit) to the time of periastron."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, error_if_each, result_dtype, to_device
from diffkern._checks import checked
from diffkern.orbits._epoch import warn_if_times_round


def time_of_periastron(
    time_of_conjunction: Real[ArrayLike, "*_"],
    period: Real[ArrayLike, "*_"],
    ecc: Real[ArrayLike, "*_"],
    omega: Real[ArrayLike, "*_"],
) -> Float[Array, "*batch"]:
    """``tp = tc - P (E - e sin E) / (2 pi)`` where ``E`` is the eccentric anomaly at transit.

    At conjunction the true anomaly is ``f = pi/2 - omega``, and
    ``E = 2 atan(sqrt((1 - e)/(1 + e)) tan(f/2))`` in (-pi, pi], as radvel's
    ``timetrans_to_timeperi`` (written with ``atan2``, so ``f = pi`` is regular).

    Valid input: finite ``time_of_conjunction`` and ``omega``, finite ``period > 0`` and
    ``0 <= ecc < 1``; anything else raises :class:`diffkern.CheckError` naming the argument
    (through a host callback inside the caller's ``jit``). A float64 host
    ``time_of_conjunction`` that loses more than 2^-11 of the period in float32 warns
    (:class:`TimePrecisionWarning`).
    """
    dtype = result_dtype(time_of_conjunction, period, ecc, omega)
    times = {"time_of_conjunction": time_of_conjunction}
    warn_if_times_round("time_of_periastron", times, period, dtype)
    return _time_of_periastron(*to_device(time_of_conjunction, period, ecc, omega))


@checked
def _time_of_periastron(*args: Real[Array, "*_"]) -> Float[Array, "*batch"]:
    names = ("time_of_conjunction", "period", "ecc", "omega")
    tc, period, ecc, omega = broadcast_floats(**dict(zip(names, args, strict=True)))
    half_f = (math.pi / 2 - omega) / 2
    E = 2 * jnp.arctan2(jnp.sqrt(1 - ecc) * jnp.sin(half_f), jnp.sqrt(1 + ecc) * jnp.cos(half_f))
    E = E - 2 * math.pi * jnp.round(E / (2 * math.pi))
    tp = tc - period / (2 * math.pi) * (E - ecc * jnp.sin(E))
    checks = [
        (~jnp.isfinite(tc), "time_of_conjunction must be finite"),
        (~(jnp.isfinite(period) & (period > 0)), "period must be finite and > 0"),
        (~((ecc >= 0) & (ecc < 1)), "ecc must be in [0, 1)"),
        (~jnp.isfinite(omega), "omega must be finite"),
    ]
    return error_if_each(tp, [(bad, f"time_of_periastron: {msg}") for bad, msg in checks])
