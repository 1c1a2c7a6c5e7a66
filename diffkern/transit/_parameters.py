"""Conversions between transit parameterisations: stellar density to ``a/R*`` (Kepler's third
law), inclination to impact parameter, and the physical constants they use."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, check_values, to_device

#: Newton's constant in cm^3 g^-1 s^-2 (CODATA 2018).
GRAVITATIONAL_CONSTANT_CGS = 6.6743e-8
#: The nominal solar radius in m (IAU 2015 B3).
SOLAR_RADIUS = 6.957e8
#: Seconds per day: periods and times are in days wherever a physical unit enters.
DAY = 86_400.0


def scaled_semi_major_axis(
    period: Real[ArrayLike, "*_"], stellar_density: Real[ArrayLike, "*_"]
) -> Float[Array, "*batch"]:
    """``a / R* = (G rho P^2 / (3 pi))^(1/3)``: Kepler's third law with the planet's mass
    neglected, for ``period`` in days and ``stellar_density`` in g/cm^3 (the Sun: 1.41).

    ``period`` and ``stellar_density`` must be > 0: ``ValueError`` when their values are known
    now, a run-time check (:class:`diffkern.CheckError`) when traced.
    """
    period, rho = to_device(period, stellar_density)
    period, rho = broadcast_floats(period=period, stellar_density=rho)
    period = check_values(period, "period", positive=True)
    rho = check_values(rho, "stellar_density", positive=True)
    seconds = period * DAY
    return jnp.cbrt(GRAVITATIONAL_CONSTANT_CGS * rho * seconds * seconds / (3 * math.pi))


def impact_parameter(
    inclination: Real[ArrayLike, "*_"],
    a_over_rstar: Real[ArrayLike, "*_"],
    ecc: Real[ArrayLike, "*_"] = 0.0,
    omega: Real[ArrayLike, "*_"] = 0.0,
) -> Float[Array, "*batch"]:
    """The sky separation at transit in stellar radii,
    ``b = a/R* |cos i| (1 - e^2) / (1 + e sin omega)`` (``inclination`` in radians, ``omega`` of
    the planet as in :func:`sky_position`; ``i`` and ``pi - i`` give the same transit)."""
    inclination, a, ecc, omega = to_device(inclination, a_over_rstar, ecc, omega)
    inclination, a, ecc, omega = broadcast_floats(
        inclination=inclination, a_over_rstar=a, ecc=ecc, omega=omega
    )
    return a * jnp.abs(jnp.cos(inclination)) * (1 - ecc * ecc) / (1 + ecc * jnp.sin(omega))
