"""Light-travel time across the orbit (Romer delay): retarded_time inverts the closed-form
delay on an eccentric orbit, transits are seen early by a R* sin(i) / c times the orbit's
radius factor, radial velocities through the same helper; derivatives, transformations,
recompilation, errors and the contract."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _contract import assert_check_errors, contract
from _transit_reference import eccentric_anomaly, true_anomaly
from hypothesis import given
from hypothesis import strategies as st
from test_contract_orbits import _rv_violations

from diffkern.jit import count_compiles
from diffkern.orbits import SPEED_OF_LIGHT, radial_velocity, retarded_time, time_of_periastron
from diffkern.precision import float64
from diffkern.testing import check_grads
from diffkern.transit import TransitOrbit

P, T0, ECC, OMEGA = 3.1, 0.4, 0.45, 2.2
LIGHT = 3e-4  # days: a hot Jupiter's a / c is about 25 s
TIMES = np.linspace(-2.0, 7.0, 41)


def _tp() -> float:
    with float64():
        return float(time_of_periastron(T0, P, ECC, OMEGA))


def _observed(t_emit, light_time):
    """The closed form: t = t_e + light_time (1 - e^2) / (1 + e cos f) sin(f + omega)."""
    f = true_anomaly(t_emit, P, T0, ECC, OMEGA)
    return t_emit + light_time * (1 - ECC**2) / (1 + ECC * np.cos(f)) * np.sin(f + OMEGA)


@pytest.mark.parametrize("light_time", [LIGHT, -LIGHT])  # the star (radvel's omega), a planet
def test_retarded_time_inverts_the_closed_form(x64, light_time):
    """Emission times, conjunctions among them, through the closed-form delay and back: within
    1e-14 d (measured 2e-16; the delay itself is up to 4e-4 d)."""
    conjunctions = T0 + P * np.arange(-1, 3)  # f = pi/2 - omega: the delay is +-light_time
    emitted = np.concatenate([TIMES[: -conjunctions.size], conjunctions])
    observed = _observed(emitted, light_time)
    got = np.asarray(retarded_time(observed, P, _tp(), ECC, OMEGA, light_time))
    np.testing.assert_allclose(got, emitted, rtol=0, atol=1e-14)
    delay = light_time * (1 - ECC**2) / (1 + ECC * np.sin(OMEGA))
    np.testing.assert_allclose(observed[-4:] - conjunctions, delay, rtol=0, atol=1e-14)


def test_transits_are_seen_early_by_the_light_time(x64):
    """At the observed mid-transit, t0 - a R* sin(i) / (c (1 + q)) (1 - e^2) / (1 + e sin w),
    the delayed geometry is the undelayed one at t0: separation b, planet in front."""
    a, b, radius, q = 8.5, 0.3, 1.2, 1e-3
    cos_i = b * (1 + ECC * np.sin(OMEGA)) / (a * (1 - ECC**2))
    metres = a * radius * 6.957e8 * np.sqrt(1 - cos_i**2) / (1 + q)
    early = metres / SPEED_OF_LIGHT / 86400 * (1 - ECC**2) / (1 + ECC * np.sin(OMEGA))
    assert 13 / 86400 < early < 15 / 86400  # a R* / c = 24 s, times 0.59 at this conjunction
    orbit = TransitOrbit(P, T0, a, b, ECC, OMEGA, stellar_radius=radius, mass_ratio=q)
    delayed = orbit.sky_position(np.full(TIMES.shape, T0 - early))
    np.testing.assert_allclose(delayed.separation, b, rtol=0, atol=1e-9)
    assert np.all(delayed.line_of_sight > 0)
    at = orbit.sky_position(TIMES).separation
    plain = TransitOrbit(P, T0, a, b, ECC, OMEGA).sky_position(TIMES - early).separation
    # away from the transit the shift differs (the delay follows the orbit): only its size
    assert 0 < np.max(np.abs(at - plain)) < 2 * np.pi * a / P * early * 3


def test_radial_velocity_with_the_romer_delay(x64):
    """radvel's omega of the star: light_time = K P sqrt(1 - e^2) / (2 pi c); the velocity seen
    at the observed time is the one at the emission time."""
    k = 200.0  # m/s
    light_time = k * P * np.sqrt(1 - ECC**2) / (2 * np.pi * SPEED_OF_LIGHT)
    observed = _observed(TIMES, light_time)
    tp = _tp()
    delayed = radial_velocity(retarded_time(observed, P, tp, ECC, OMEGA, light_time), P, tp, ECC,
                              OMEGA, k)  # fmt: skip
    np.testing.assert_allclose(delayed, radial_velocity(TIMES, P, tp, ECC, OMEGA, k), atol=1e-9)


def test_gradients_check_by_central_differences(x64):
    args = [jnp.asarray(v) for v in (TIMES[:7], P, _tp(), ECC, OMEGA, LIGHT)]
    check_grads(retarded_time, args, order=1, modes=["fwd", "rev"])


def test_the_derivative_is_implicit(x64):
    """dt_e/d light_time = -h / (1 + light_time dh/dt_e), whatever the fixed-point steps."""
    t = jnp.asarray(1.0)
    f = lambda L: retarded_time(t, P, _tp(), ECC, OMEGA, L)  # noqa: E731
    t_e = float(f(LIGHT))
    h = _observed(np.asarray(t_e), 1.0) - t_e
    dh = (
        _observed(np.asarray(t_e + 1e-6), 1.0) - _observed(np.asarray(t_e - 1e-6), 1.0)
    ) / 2e-6 - 1
    np.testing.assert_allclose(jax.grad(f)(LIGHT), -h / (1 + LIGHT * dh), rtol=1e-8)


def test_jit_vmap_and_float32(dtype):
    t = jnp.asarray(TIMES, dtype)
    args = [jnp.asarray(v, dtype) for v in (P, _tp(), ECC, OMEGA)]
    lights = jnp.asarray([LIGHT, -LIGHT], dtype)
    batched = jax.jit(jax.vmap(lambda L: retarded_time(t, *args, L)))(lights)
    assert batched.dtype == dtype and np.all(np.isfinite(batched))
    with float64():
        expected = np.asarray(retarded_time(TIMES, P, _tp(), ECC, OMEGA, LIGHT))
    # float32: the rounding of t (up to 7 d: 5e-7 d) and of the phase
    tol = 2e-6 if dtype == jnp.float32 else 1e-14
    np.testing.assert_allclose(np.asarray(batched[0], np.float64), expected, rtol=0, atol=tol)
    assert np.max(np.abs(expected - TIMES)) > 1e-4  # the delay is there


@pytest.mark.counts_compiles
def test_new_data_never_recompiles():
    args = [jnp.asarray(v, jnp.float32) for v in (TIMES, P, T0, ECC, OMEGA, LIGHT)]
    retarded_time(*args)
    other = [a * 1.01 for a in args]
    with count_compiles() as counts:
        retarded_time(*other)
    assert counts.compiles == 0, counts.by_function


def _violations(t, period, tp, ecc, omega, light, dtype):
    """radial_velocity's messages for the orbit, then light_time's (the phase bound never
    binds for the drawn ranges)."""
    bad = _rv_violations(t, period, tp, ecc, omega, 0.0, dtype)
    if not np.isfinite(light):
        bad.append("light_time must be finite")
    if not bad and not abs(light) * 2 * np.pi / period * np.sqrt((1 + ecc) / (1 - ecc)) < 1e-2:
        bad.append("|light_time| 2 pi / period sqrt((1 + ecc) / (1 - ecc)) must be < 0.01")
    return bad


SPECIAL = [math.nan, math.inf, -1.0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(25)
@given(
    t=st.lists(st.floats(-100, 100), min_size=4, max_size=4),
    period=st.one_of(st.floats(0.2, 100.0), st.sampled_from(SPECIAL)),
    tp=st.one_of(st.floats(-10, 10), st.sampled_from([math.nan])),
    ecc=st.one_of(st.floats(0.0, 0.95), st.sampled_from([1.0, -0.1])),
    omega=st.one_of(st.floats(-7, 7), st.sampled_from([math.inf])),
    light=st.one_of(st.floats(-0.01, 0.01), st.sampled_from([math.nan, 1.0])),
)
def test_retarded_time_contract(dtype, t, period, tp, ecc, omega, light):
    """The CheckError naming each bad argument, or emission times whose closed-form delay
    gives back t, within the rounding of t and the fixed point's (v/c)^3 |light_time|."""
    with float64(dtype == "float64"):
        values = [np.asarray(v, dtype) for v in (t, period, tp, ecc, omega, light)]
        t, period, tp, ecc, omega, light = (v.astype(np.float64) for v in values)
        expected = _violations(t, period, tp, ecc, omega, light, dtype)
        call = lambda: retarded_time(*map(jnp.asarray, values))  # noqa: E731
        if expected:
            assert_check_errors(call, "retarded_time", expected)
            return
        t_e = np.asarray(call(), np.float64)
    speed = abs(light) * 2 * np.pi / period * np.sqrt((1 + ecc) / (1 - ecc))
    cycles = (t_e - tp) / period
    M = 2 * np.pi * (cycles - np.round(cycles))
    E = eccentric_anomaly(M, ecc)
    f = 2 * np.arctan2(np.sqrt(1 + ecc) * np.sin(E / 2), np.sqrt(1 - ecc) * np.cos(E / 2))
    back = t_e + light * (1 - ecc**2) / (1 + ecc * np.cos(f)) * np.sin(f + omega)
    eps = np.finfo(dtype).eps
    # rounding of t and t_e, the phase's rounding through the speed, the fixed point
    tol = 4 * eps * (np.abs(t) + abs(light)) * (1 + speed * (1 + np.abs(cycles))) + speed**3 * abs(
        light
    )
    tol += (
        abs(light)
        * {"float32": 2e-6, "float64": 1e-14}[dtype]
        * np.sqrt((1 + ecc) / (1 - ecc))
        / (1 - ecc)
    )
    assert np.all(np.abs(back - t) <= tol + 1e-300)
