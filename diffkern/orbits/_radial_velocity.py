"""Keplerian radial velocity of a star from one companion."""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Bool, Float, Real

from diffkern._arrays import broadcast_floats, eps, error_if_each, result_dtype, to_device
from diffkern._checks import checked
from diffkern.kepler import KeplerSolver
from diffkern.orbits._epoch import warn_if_times_round

_DEFAULT_SOLVER = KeplerSolver()


def max_cycles(dtype) -> float:
    """Largest ``|t - tp| / P`` accepted: ``2^-10 / eps`` (8192 in float32, 4.4e12 in float64),
    where rounding the phase ``(t - tp) / P`` costs up to ``2^-10`` cycle."""
    return 2.0**-10 / eps(dtype)


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
    it.

    Valid input: finite ``t``, ``time_of_periastron`` and ``omega``; finite ``period > 0``;
    ``0 <= ecc < 1``; finite ``semi_amplitude >= 0``; ``|t - tp| / P`` below
    :func:`max_cycles` (8192 in float32, 4.4e12 in float64: the phase then keeps 2^-10 cycle).
    Anything else raises :class:`diffkern.CheckError` naming the argument (through a host callback
    inside the caller's ``jit``). ``solver`` sets the Kepler method; ``solver.check=False`` skips
    the checks and gives NaN where the input is invalid.
    float64 times (numpy arrays, Python floats) that lose more than 2^-11 of the period when
    rounded to float32 warn (:class:`TimePrecisionWarning`): subtract a reference epoch first.
    """
    dtype = result_dtype(t, period, time_of_periastron, ecc, omega, semi_amplitude)
    times = {"t": t, "time_of_periastron": time_of_periastron}
    warn_if_times_round("radial_velocity", times, period, dtype)
    args = to_device(t, period, time_of_periastron, ecc, omega, semi_amplitude)
    return _radial_velocity(solver, *args)


def orbit_checks(t, period, tp, ecc, omega) -> list[tuple[Bool[Array, "*batch"], str]]:
    """Where each orbit argument is invalid (non-finite, ``period <= 0``, ``ecc`` outside
    [0, 1)), with its message."""
    finite = jnp.isfinite
    return [
        (~finite(t), "t must be finite"),
        (~(finite(period) & (period > 0)), "period must be finite and > 0"),
        (~finite(tp), "time_of_periastron must be finite"),
        (~((ecc >= 0) & (ecc < 1)), "ecc must be in [0, 1)"),
        (~finite(omega), "omega must be finite"),
    ]


def phase_check(t, period, tp, valid) -> tuple[Bool[Array, "*batch"], str]:
    """``|t - tp| / P`` past :func:`max_cycles`, only where the other arguments are ``valid``
    (so one bad argument gives one message)."""
    bound = max_cycles(t.dtype)
    return (
        valid & ~(jnp.abs(t - tp) < bound * period),
        f"|t - time_of_periastron| / period must be < {bound:.4g} in {t.dtype} (the phase "
        "would lose more than 2^-10 cycle); use float64 or a time_of_periastron nearer to t",
    )


def _invalid(t, period, tp, ecc, omega, k) -> list[tuple[Bool[Array, "*batch"], str]]:
    """Where each argument is invalid, with its message."""
    checks = orbit_checks(t, period, tp, ecc, omega)
    checks.append((~(jnp.isfinite(k) & (k >= 0)), "semi_amplitude must be finite and >= 0"))
    others = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    checks.append(phase_check(t, period, tp, others))
    return [(bad, f"radial_velocity: {message}") for bad, message in checks]


@checked
def _radial_velocity(solver: KeplerSolver, *args: Real[Array, "*_"]) -> Float[Array, "*batch"]:
    names = ("t", "period", "time_of_periastron", "ecc", "omega", "semi_amplitude")
    t, period, tp, ecc, omega, k = broadcast_floats(**dict(zip(names, args, strict=True)))
    checks = _invalid(t, period, tp, ecc, omega, k)
    valid = ~jnp.any(jnp.stack([bad for bad, _ in checks]), axis=0)
    cycles = (t - tp) / period
    # Invalid elements are reported by the checks above, never by the solver: its message
    # would name the mean anomaly, which the caller never passed.
    mean_anomaly = jnp.where(valid, 2 * math.pi * (cycles - jnp.round(cycles)), 0)
    quiet = dataclasses.replace(solver, check=False)
    anomalies = quiet.solve(mean_anomaly, jnp.where(valid, ecc, 0))
    cos_w, sin_w = jnp.cos(omega), jnp.sin(omega)
    rv = k * (anomalies.cos_f * cos_w - anomalies.sin_f * sin_w + ecc * cos_w)
    if solver.check:
        return error_if_each(rv, checks)
    return jnp.where(valid, rv, jnp.nan)
