"""Keplerian radial velocity of a star from one companion."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, to_device
from diffkern._checks import checked
from diffkern.kepler import KeplerSolver

_DEFAULT_SOLVER = KeplerSolver()


def radial_velocity(
    t: Real[ArrayLike, "*_"],
    period: Real[ArrayLike, "*_"],
    time_of_periastron: Real[ArrayLike, "*_"],
    ecc: Real[ArrayLike, "*_"],
    omega: Real[ArrayLike, "*_"],
    semi_amplitude: Real[ArrayLike, "*_"],
    *,
    solver: KeplerSolver = _DEFAULT_SOLVER,
) -> Float[Array, "*batch"]:
    """``K (cos(f + omega) + e cos omega)``, radvel's convention (``omega`` of the star).

    The mean anomaly is reduced in cycles, ``M = 2 pi ((t - tp) / P - round((t - tp) / P))``, so
    its accuracy does not decay with the number of orbits since ``tp`` (only the rounding of
    ``(t - tp) / P`` remains). All arguments broadcast: for several planets give the parameters a
    leading planet axis (shape ``(n_planets, 1)`` against ``t`` of shape ``(n,)``) and sum over
    it. ``solver`` sets the Kepler method and input checks (``0 <= ecc < 1``).
    """
    args = to_device(t, period, time_of_periastron, ecc, omega, semi_amplitude)
    return _radial_velocity(solver, *args)


@checked
def _radial_velocity(solver: KeplerSolver, *args: Real[Array, "*_"]) -> Float[Array, "*batch"]:
    names = ("t", "period", "time_of_periastron", "ecc", "omega", "semi_amplitude")
    t, period, tp, ecc, omega, k = broadcast_floats(**dict(zip(names, args, strict=True)))
    cycles = (t - tp) / period
    mean_anomaly = 2 * math.pi * (cycles - jnp.round(cycles))
    anomalies = solver.solve(mean_anomaly, ecc)
    cos_w, sin_w = jnp.cos(omega), jnp.sin(omega)
    return k * (anomalies.cos_f * cos_w - anomalies.sin_f * sin_w + ecc * cos_w)
