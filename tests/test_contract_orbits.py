"""Contract of radial_velocity and time_of_periastron over generated inputs: the documented
CheckError naming every bad argument, or a finite result within the stated tolerance of a
float64 numpy reference (tolerances per dtype below)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from _contract import assert_check_errors, contract
from hypothesis import given
from hypothesis import strategies as st

from diffkern.orbits import max_cycles, radial_velocity, time_of_periastron
from diffkern.precision import float64

#: Kepler solver accuracy in E (rad), documented per dtype.
KEPLER = {"float32": 2e-6, "float64": 1e-14}
SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-30, 1e30]


def _numbers(low, high, specials=SPECIAL):
    return st.one_of(st.floats(low, high), st.sampled_from(specials))


def _periods():
    return st.one_of(st.floats(-3.0, 4.0).map(lambda x: 10.0**x), st.sampled_from(SPECIAL))


def _eccentricities():
    return st.one_of(st.floats(0.0, 0.99), st.sampled_from([-0.1, 1.0, 1.5, math.nan]))


def _eccentric_anomaly(M, e):
    """Bisection on E - e sin E = M over [0, 2 pi) in float64 (monotone, 64 halvings)."""
    lo, hi = np.zeros_like(M), np.full_like(M, 2 * np.pi)
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        below = mid - e * np.sin(mid) < M
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _rv_reference(t, period, tp, ecc, omega, k):
    cycles = (t - tp) / period
    M = 2 * np.pi * (cycles - np.floor(cycles))
    E = _eccentric_anomaly(M, ecc)
    denom = 1 - ecc * np.cos(E)
    cos_f, sin_f = (np.cos(E) - ecc) / denom, np.sqrt(1 - ecc**2) * np.sin(E) / denom
    return k * (cos_f * np.cos(omega) - sin_f * np.sin(omega) + ecc * np.cos(omega))


def _rv_violations(t, period, tp, ecc, omega, k, dtype):
    bad = []
    if not np.all(np.isfinite(t)):
        bad.append("t must be finite")
    if not (np.isfinite(period) and period > 0):
        bad.append("period must be finite and > 0")
    if not np.isfinite(tp):
        bad.append("time_of_periastron must be finite")
    if not 0 <= ecc < 1:
        bad.append("ecc must be in [0, 1)")
    if not np.isfinite(omega):
        bad.append("omega must be finite")
    if not (np.isfinite(k) and k >= 0):
        bad.append("semi_amplitude must be finite and >= 0")
    if not bad and not np.all(np.abs(t - tp) < max_cycles(dtype) * period):
        bad.append("|t - time_of_periastron| / period must be <")
    return bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(60)
@given(
    t=st.lists(_numbers(-1e4, 1e4, [math.nan, math.inf, 1e9]), min_size=6, max_size=6),
    period=_periods(),
    tp=_numbers(-1e4, 1e4),
    ecc=_eccentricities(),
    omega=_numbers(-100.0, 100.0),
    k=_numbers(0.0, 1e3),
)
def test_radial_velocity_contract(dtype, t, period, tp, ecc, omega, k):
    with float64(dtype == "float64"):
        values = [np.asarray(v, dtype) for v in (t, period, tp, ecc, omega, k)]
        t, period, tp, ecc, omega, k = (v.astype(np.float64) for v in values)
        expected_errors = _rv_violations(t, period, tp, ecc, omega, k, dtype)
        if expected_errors:
            call = lambda: radial_velocity(*map(jnp.asarray, values))  # noqa: E731
            assert_check_errors(call, "radial_velocity", expected_errors)
            return
        rv = np.asarray(radial_velocity(*map(jnp.asarray, values)))
    assert rv.dtype == dtype and np.all(np.isfinite(rv))
    # Rounding of the phase (a few eps per cycle), the solver's accuracy and the trig of omega,
    # through |d rv / dM| <= K (1 + e)^2 / (1 - e^2)^(3/2); results below the smallest normal
    # float may be flushed to zero.
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).smallest_normal
    cycles = np.abs(t - tp) / period
    gain = (1 + ecc) ** 2 / (1 - ecc**2) ** 1.5
    phase = 2 * np.pi * 4 * eps * (cycles + 1)
    tol = k * (gain * (phase + KEPLER[dtype]) + 8 * eps * (2 + abs(omega))) + 4 * tiny
    assert np.all(np.abs(rv - _rv_reference(t, period, tp, ecc, omega, k)) <= tol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(60)
@given(
    tc=_numbers(-1e4, 1e4),
    period=_periods(),
    ecc=_eccentricities(),
    omega=_numbers(-100.0, 100.0),
)
def test_time_of_periastron_contract(dtype, tc, period, ecc, omega):
    with float64(dtype == "float64"):
        values = [np.asarray(v, dtype) for v in (tc, period, ecc, omega)]
        tc, period, ecc, omega = (float(v) for v in values)
        expected_errors = []
        if not np.isfinite(tc):
            expected_errors.append("time_of_conjunction must be finite")
        if not (np.isfinite(period) and period > 0):
            expected_errors.append("period must be finite and > 0")
        if not 0 <= ecc < 1:
            expected_errors.append("ecc must be in [0, 1)")
        if not np.isfinite(omega):
            expected_errors.append("omega must be finite")
        if expected_errors:
            call = lambda: time_of_periastron(*map(jnp.asarray, values))  # noqa: E731
            assert_check_errors(call, "time_of_periastron", expected_errors)
            return
        tp = float(time_of_periastron(*map(jnp.asarray, values)))
    # At conjunction f = pi/2 - omega: E from f, then M = E - e sin E (float64 reference).
    f = np.pi / 2 - omega
    E = 2 * np.arctan2(np.sqrt(1 - ecc) * np.sin(f / 2), np.sqrt(1 + ecc) * np.cos(f / 2))
    E -= 2 * np.pi * np.round(E / (2 * np.pi))
    expected = tc - period / (2 * np.pi) * (E - ecc * np.sin(E))
    eps = np.finfo(dtype).eps
    # eps relative to each term; near e -> 1 the half-angle step amplifies omega's rounding.
    gain = np.sqrt((1 + ecc) / (1 - ecc))
    tiny = np.finfo(dtype).smallest_normal  # results below it may be flushed to zero
    tol = 8 * eps * (abs(tc) + period * (1 + gain * (1 + abs(omega)))) + 4 * tiny
    assert np.isfinite(tp) and abs(tp - expected) <= tol
