"""Light-travel time across an orbit (the Romer delay): the emission time of observed light."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, error_if_each, to_device
from diffkern._checks import checked
from diffkern.kepler import KeplerSolver
from diffkern.orbits._radial_velocity import orbit_checks, phase_check

_DEFAULT_SOLVER = KeplerSolver()
#: Fixed-point steps: each multiplies the error by at most v/c (below MAX_SPEED).
_ITERATIONS = 4
#: Largest line-of-sight speed accepted, as a fraction of the speed of light.
MAX_SPEED = 1e-2
#: The speed of light in m/s (exact, SI).
SPEED_OF_LIGHT = 299_792_458.0


def retarded_time(
    t: Real[ArrayLike, "*_"],
    period: Real[ArrayLike, "*_"],
    time_of_periastron: Real[ArrayLike, "*_"],
    ecc: Real[ArrayLike, "*_"],
    omega: Real[ArrayLike, "*_"],
    light_time: Real[ArrayLike, "*_"],
    *,
    solver: KeplerSolver = _DEFAULT_SOLVER,
) -> Float[Array, "*batch"]:
    """The time ``t_e`` at which a body on a Keplerian orbit emitted the light observed at ``t``:
    the root of ``t = t_e + light_time * (1 - e^2) / (1 + e cos f(t_e)) * sin(f(t_e) + omega)``.

    ``light_time * (1 - e^2) / (1 + e cos f) sin(f + omega)`` is the body's line-of-sight
    coordinate away from the observer divided by ``c``, measured from the barycentre, so
    ``light_time = a sin(i) / c`` with ``a`` the body's barycentric semi-major axis. For the star
    with radvel's ``omega`` (:func:`radial_velocity`), ``a sin i = K P sqrt(1 - e^2) / (2 pi)``:
    ``light_time = K P sqrt(1 - e^2) / (2 pi c)`` in the unit of ``P`` (``K`` in m/s, ``c`` =
    :data:`SPEED_OF_LIGHT`), and ``radial_velocity(retarded_time(t, ...), ...)`` is the velocity
    with the Romer delay. For a planet with the transit convention (the same ``omega``, transit at
    ``f = pi/2 - omega``, planet in front) the sign flips: ``light_time = -a_p sin(i) / c``.

    Four fixed-point steps ``t_e <- t - light_time h(t_e)`` from ``t_e = t``, each multiplying
    the error by at most ``v/c``; the derivatives are implicit (exact whatever the steps):
    ``dt_e = (dt - d(light_time h)) / (1 + light_time dh/dt_e)``. Valid input as
    :func:`radial_velocity` (finite ``t``, ``time_of_periastron``, ``omega``; ``period > 0``;
    ``0 <= ecc < 1``; the phase bound), with a finite ``light_time`` whose largest speed
    ``|light_time| 2 pi / P sqrt((1 + e) / (1 - e))`` is below ``MAX_SPEED`` (0.01 of ``c``: the
    root is then found to 1e-8 of ``light_time``, 1e-12 at the 0.001 c of the fastest known
    planets); anything else raises :class:`diffkern.CheckError` naming the argument. In float32 a
    delay below the spacing of ``t`` (``t * 6e-8``) is lost: use float64 for delays.
    """
    args = to_device(t, period, time_of_periastron, ecc, omega, light_time)
    return _retarded_time(solver, *args)


def _line_of_sight(solver, t, period, tp, ecc, omega):
    """``(1 - e^2) / (1 + e cos f) sin(f + omega)`` at ``t``."""
    cycles = (t - tp) / period
    anomaly = solver.solve(2 * math.pi * (cycles - jnp.round(cycles)), ecc)
    sin_f, cos_f = anomaly.sin_f, anomaly.cos_f
    radius = (1 - ecc * ecc) / (1 + ecc * cos_f)
    return radius * (sin_f * jnp.cos(omega) + cos_f * jnp.sin(omega))


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _fixed_point(solver, t, period, tp, ecc, omega, light_time):
    t_e = t
    for _ in range(_ITERATIONS):
        t_e = t - light_time * _line_of_sight(solver, t_e, period, tp, ecc, omega)
    return t_e


@_fixed_point.defjvp
def _fixed_point_jvp(solver, primals, tangents):
    t_e = _fixed_point(solver, *primals)

    def residual(t_e, t, period, tp, ecc, omega, light_time):
        return t_e + light_time * _line_of_sight(solver, t_e, period, tp, ecc, omega) - t

    _, slope = jax.jvp(lambda x: residual(x, *primals), (t_e,), (jnp.ones_like(t_e),))
    _, push = jax.jvp(functools.partial(residual, t_e), primals, tangents)
    return t_e, -push / slope


@checked
def _retarded_time(solver: KeplerSolver, *args: Real[Array, "*_"]) -> Float[Array, "*batch"]:
    names = ("t", "period", "time_of_periastron", "ecc", "omega", "light_time")
    t, period, tp, ecc, omega, light = broadcast_floats(**dict(zip(names, args, strict=True)))
    speed = jnp.abs(light) * 2 * math.pi / period * jnp.sqrt((1 + ecc) / (1 - ecc))
    checks = orbit_checks(t, period, tp, ecc, omega)
    checks.append((~jnp.isfinite(light), "light_time must be finite"))
    valid = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    checks += [
        (
            valid & ~(speed < MAX_SPEED),
            f"|light_time| 2 pi / period sqrt((1 + ecc) / (1 - ecc)) must be < {MAX_SPEED:g} "
            "(the orbital speed as a fraction of c)",
        ),
        phase_check(t, period, tp, valid),
    ]
    valid = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    safe = [jnp.where(valid, x, fill) for x, fill in zip(
        (t, period, tp, ecc, omega, light), (0, 1, 0, 0, 0, 0), strict=True)]  # fmt: skip
    quiet = dataclasses.replace(solver, check=False)
    t_e = _fixed_point(quiet, *safe)
    if solver.check:
        return error_if_each(t_e, [(bad, f"retarded_time: {message}") for bad, message in checks])
    return jnp.where(valid, t_e, jnp.nan)
