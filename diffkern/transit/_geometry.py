"""Sky-projected geometry of a planet on a Keplerian orbit: its separation from the star's
centre and its side of the star, at times ``t``."""

from __future__ import annotations

import dataclasses
import math

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Real

from diffkern._arrays import broadcast_floats, error_if_each, to_device
from diffkern._checks import checked
from diffkern.kepler import KeplerSolver
from diffkern.orbits import SPEED_OF_LIGHT, max_cycles, retarded_time, time_of_periastron
from diffkern.transit._parameters import DAY, SOLAR_RADIUS

_DEFAULT_SOLVER = KeplerSolver()
_ORBIT = ("t", "period", "time_of_transit", "a_over_rstar", "impact", "ecc", "omega")
_LIGHT = ("stellar_radius", "mass_ratio")
#: Values that replace invalid ones before the solve (the checks report the invalid ones).
_SAFE = {"period": 1, "a_over_rstar": 10, "stellar_radius": 1}


class SkyPosition(eqx.Module):
    """The planet relative to the star, in stellar radii: ``separation`` on the sky plane
    (``>= 0``) and ``line_of_sight``, positive towards the observer (the planet in front of the
    star, where it can transit), negative behind it."""

    separation: Float[Array, "*batch"]
    line_of_sight: Float[Array, "*batch"]


def sky_position(
    t: Real[ArrayLike, "*_"],
    period: Real[ArrayLike, "*_"],
    time_of_transit: Real[ArrayLike, "*_"],
    a_over_rstar: Real[ArrayLike, "*_"],
    impact: Real[ArrayLike, "*_"] = 0.0,
    ecc: Real[ArrayLike, "*_"] = 0.0,
    omega: Real[ArrayLike, "*_"] = 0.0,
    *,
    stellar_radius: Real[ArrayLike, "*_"] | None = None,
    mass_ratio: Real[ArrayLike, "*_"] = 0.0,
    solver: KeplerSolver = _DEFAULT_SOLVER,
) -> SkyPosition:
    """The planet's :class:`SkyPosition` at times ``t``, all arguments broadcast together.

    With ``r = a (1 - e^2) / (1 + e cos f)`` (``a = a_over_rstar``, ``f`` the true anomaly) and
    ``cos i = b (1 + e sin omega) / (a (1 - e^2))`` (``b = impact``, the separation at
    transit), ``separation = r sqrt(cos^2(f + omega) + cos^2 i sin^2(f + omega))`` and
    ``line_of_sight = r sin i sin(f + omega)``: for a circular orbit
    ``a sqrt(sin^2 phi + cos^2 i cos^2 phi)``, ``phi = 2 pi (t - time_of_transit) / period``.
    ``omega`` is the argument of periastron of the planet's orbit with the line of sight
    towards the observer, as in exoplanet, jaxoplanet and batman: the transit is at
    ``f = pi/2 - omega``. It is the same number as radvel's ``omega`` of the star
    (:func:`diffkern.orbits.radial_velocity`), which measures the line of sight away from the
    observer, so one ``omega`` serves transits and radial velocities.

    Light-travel time: with ``stellar_radius`` (R* in solar radii; then ``t`` and ``period`` are
    in days) the position is the planet's when it met the light observed at ``t``, at its
    barycentric distance ``a R* / (1 + mass_ratio)`` (``mass_ratio`` = planet / star mass):
    :func:`diffkern.orbits.retarded_time` with ``light_time = -a R* sin(i) / (c (1 + q))``.
    Transits are seen earlier than the barycentric conjunction by ``a R* sin i / c`` (for
    ``e = 0``).

    Valid input: finite ``t``, ``time_of_transit`` and ``omega``; finite ``period > 0``;
    ``0 <= ecc < 1``; finite ``a_over_rstar`` with ``a (1 - e) > 1`` (periastron outside the
    star); finite ``impact`` with ``0 <= b <= a (1 - e^2) / (1 + e sin omega)`` (``cos i <=
    1``); ``|t - time_of_transit| / period`` below :func:`diffkern.orbits.max_cycles`; finite
    ``stellar_radius > 0`` and ``mass_ratio >= 0``. Anything else raises
    :class:`diffkern.CheckError` naming the argument (a host callback inside the caller's
    ``jit``); ``solver.check=False`` gives NaN there instead.
    """
    args = to_device(t, period, time_of_transit, a_over_rstar, impact, ecc, omega)
    light = None if stellar_radius is None else to_device(stellar_radius, mass_ratio)
    return _sky_position(solver, args, light)


@checked
def _sky_position(solver: KeplerSolver, args: list, light: list | None) -> SkyPosition:
    position, valid, checks = checked_position(solver, "sky_position", args, light)
    zero = error_if_each(jnp.zeros((), position[0].dtype), checks)
    return SkyPosition(*(reported(x + zero, valid, solver) for x in position))


def reported(x: Float[Array, "*b"], valid: Bool[Array, "*b"], solver: KeplerSolver):
    """``x``, NaN where invalid when the solver's checks are off (else the checks report)."""
    return x if solver.check else jnp.where(valid, x, jnp.nan)


def checked_position(
    solver: KeplerSolver,
    where: str,
    args: list,
    light: list | None,
    contact: Float[Array, "*_"] | None = None,
) -> tuple[tuple[Array, Array], Bool[Array, "*batch"], list[tuple[Array, str]]]:
    """``(separation, line_of_sight)``, where all inputs are valid, and the checks: ``args``
    are ``t`` and the orbit (:data:`_ORBIT`), ``light`` None or ``(stellar_radius,
    mass_ratio)``; the periastron must clear ``contact`` stellar radii (default 1, the light
    curve passes ``1 + radius_ratio``)."""
    names = _ORBIT + (_LIGHT if light is not None else ())
    arrays = broadcast_floats(**dict(zip(names, [*args, *(light or ())], strict=True)))
    values = dict(zip(names, arrays, strict=True))
    checks = _invalid(values, contact, where)
    valid = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    safe = {k: jnp.where(valid, v, _SAFE.get(k, 0)) for k, v in values.items()}
    return _position(solver, **safe), valid, checks


def _invalid(
    v: dict[str, Array], contact: Array | None, where: str
) -> list[tuple[Bool[Array, "*b"], str]]:
    """Where each argument is invalid, with its message; the bounds that involve several
    arguments only where those are valid, so one bad argument gives one message."""
    finite = jnp.isfinite
    t, period, t0, a, b, ecc, omega = (v[k] for k in _ORBIT)
    side = "1" if contact is None else "1 + radius_ratio"
    contact = 1 if contact is None else contact
    ecc_ok, omega_ok = (ecc >= 0) & (ecc < 1), finite(omega)
    a_ok = finite(a) & ~(ecc_ok & finite(contact) & ~(a * (1 - ecc) > contact))
    b_ok = finite(b) & (b >= 0)
    b_ok &= ~(ecc_ok & omega_ok & a_ok & ~(b * (1 + ecc * jnp.sin(omega)) <= a * (1 - ecc * ecc)))
    checks = [
        (~finite(t), "t must be finite"),
        (~(finite(period) & (period > 0)), "period must be finite and > 0"),
        (~finite(t0), "time_of_transit must be finite"),
        (
            ~a_ok,
            f"a_over_rstar must be finite with a_over_rstar (1 - ecc) > {side} (the "
            "planet would touch the star at periastron)",
        ),  # fmt: skip
        (
            ~b_ok,
            "impact must be finite and in [0, a_over_rstar (1 - ecc^2) / (1 + ecc sin "
            "omega)] (cos i <= 1)",
        ),  # fmt: skip
        (~ecc_ok, "ecc must be in [0, 1)"),
        (~omega_ok, "omega must be finite"),
    ]
    if "stellar_radius" in v:
        radius, q = v["stellar_radius"], v["mass_ratio"]
        checks.append((~(finite(radius) & (radius > 0)), "stellar_radius must be finite and > 0"))
        checks.append((~(finite(q) & (q >= 0)), "mass_ratio must be finite and >= 0"))
    others = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    bound = max_cycles(t.dtype)
    checks.append((
        others & ~(jnp.abs(t - t0) < bound * period),
        f"|t - time_of_transit| / period must be < {bound:.4g} in {t.dtype} (the phase would "
        "lose more than 2^-10 cycle); use float64 or a time_of_transit nearer to t",
    ))  # fmt: skip
    return [(bad, f"{where}: {message}") for bad, message in checks]


def _position(
    solver: KeplerSolver,
    t: Array,
    period: Array,
    time_of_transit: Array,
    a_over_rstar: Array,
    impact: Array,
    ecc: Array,
    omega: Array,
    stellar_radius: Array | None = None,
    mass_ratio: Array | None = None,
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """Separation and line of sight for valid, broadcast inputs (the formulas of
    :func:`sky_position`). The phase is taken from the transit, ``M = M_0 + 2 pi (c -
    round(c))`` with ``c = (t - time_of_transit) / period``, so it is exact near transits."""
    a, b = a_over_rstar, impact
    sin_w, cos_w = jnp.sin(omega), jnp.cos(omega)
    cos_i = b * (1 + ecc * sin_w) / (a * (1 - ecc * ecc))
    sin_i = jnp.sqrt((1 - cos_i) * (1 + cos_i))
    since_periastron = -time_of_periastron(jnp.zeros_like(t), period, ecc, omega)
    if stellar_radius is not None:
        light_time = a * sin_i * stellar_radius * (SOLAR_RADIUS / SPEED_OF_LIGHT / DAY)
        light_time = light_time / (1 + mass_ratio)
        tp = time_of_transit - since_periastron
        t = retarded_time(t, period, tp, ecc, omega, -light_time, solver=solver)
    cycles = (t - time_of_transit) / period
    mean_anomaly = 2 * math.pi * (since_periastron / period + cycles - jnp.round(cycles))
    anomaly = dataclasses.replace(solver, check=False).solve(mean_anomaly, ecc)
    sin_f, cos_f = anomaly.sin_f, anomaly.cos_f
    sin_fw, cos_fw = sin_f * cos_w + cos_f * sin_w, cos_f * cos_w - sin_f * sin_w
    r = a * (1 - ecc * ecc) / (1 + ecc * cos_f)
    x, y = r * cos_fw, sin_fw * b * (1 + ecc * sin_w) / (1 + ecc * cos_f)  # y = r sin_fw cos i
    square = x * x + y * y
    positive = square > 0  # the square root's derivative is infinite at 0: select around it
    separation = jnp.where(positive, jnp.sqrt(jnp.where(positive, square, 1)), 0)
    return separation, r * sin_i * sin_fw
