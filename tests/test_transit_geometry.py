"""Transit geometry: sky separation and side of the star against a closed form (circular
orbits), a float64 numpy reference (eccentric orbits) and batman; parameterisations, planets,
derivatives, transformations, recompilation, errors and the contract over generated inputs."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _contract import assert_check_errors, contract
from _transit_reference import position
from hypothesis import given
from hypothesis import strategies as st

from diffkern import CheckError
from diffkern.jit import count_compiles
from diffkern.precision import float64
from diffkern.testing import check_grads
from diffkern.transit import (
    TransitOrbit,
    impact_parameter,
    scaled_semi_major_axis,
    sky_position,
)

#: |separation - reference| / a_over_rstar: the Kepler solver (2e-6 rad in float32) and the
#: rounding of the phase; measured 9e-7 (float32) and 1.3e-15 (float64), per sqrt(1 - e^2).
TOL = {"float32": 4e-6, "float64": 1e-13}
T = np.linspace(-1.3, 4.1, 41)  # a transit at 0.2, one at 3.3 and the far side between
ECCENTRIC = dict(period=3.1, t0=0.2, a=12.0, b=0.45, ecc=0.35, omega=0.7)


def _ours(t, period, t0, a, b, ecc=0.0, omega=0.0, dtype="float64"):
    args = [np.asarray(v, dtype) for v in (t, period, t0, a, b, ecc, omega)]
    return sky_position(*args)


def _two_planets(*fields, dtype=np.float32, ecc=0.2):
    return TransitOrbit(*(np.asarray(f, dtype) for f in (*fields, ecc, 0.7)))


@pytest.mark.parametrize("b", [0.0, 0.6, 11.0])
def test_circular_orbit_matches_the_closed_form(dtype, b):
    period, t0, a = 3.1, 0.2, 12.0
    pos = _ours(T, period, t0, a, b, dtype=dtype)
    phi = 2 * np.pi * (T - t0) / period
    cos_i = b / a
    expected = a * np.sqrt(np.sin(phi) ** 2 + cos_i**2 * np.cos(phi) ** 2)
    assert pos.separation.dtype == dtype
    np.testing.assert_allclose(
        pos.separation, expected, rtol=0, atol=TOL[pos.separation.dtype.name] * a
    )
    los = a * np.sqrt(1 - cos_i**2) * np.cos(phi)
    np.testing.assert_allclose(pos.line_of_sight, los, rtol=0, atol=TOL[dtype.__name__] * a)


@pytest.mark.parametrize("ecc, omega", [(0.35, 0.7), (0.8, -2.0), (0.05, math.pi)])
def test_eccentric_orbit_matches_the_reference(dtype, ecc, omega):
    p = dict(ECCENTRIC, ecc=ecc, omega=omega)
    pos = _ours(T, *p.values(), dtype=dtype)
    sep, los = position(T, *p.values())
    tol = TOL[dtype.__name__] * p["a"] / np.sqrt(1 - ecc**2)  # the speed at periastron
    np.testing.assert_allclose(pos.separation, sep, rtol=0, atol=tol)
    np.testing.assert_allclose(pos.line_of_sight, los, rtol=0, atol=tol)
    # at transit the separation is the impact parameter, the planet in front
    at_transit = _ours(np.full_like(T, p["t0"]), *p.values(), dtype=dtype)
    np.testing.assert_allclose(at_transit.separation, p["b"], atol=tol)
    assert np.all(at_transit.line_of_sight > 0)


def test_against_batman(x64):
    batman = pytest.importorskip("batman")
    p = ECCENTRIC
    t = np.concatenate([np.linspace(0.0, 0.4, T.size - 6), [1.0, 1.5, 2.0, 2.5, 3.0, 3.3]])
    params = batman.TransitParams()
    params.t0, params.per, params.rp, params.a = p["t0"], p["period"], 0.1, p["a"]
    cos_i = p["b"] * (1 + p["ecc"] * np.sin(p["omega"])) / (p["a"] * (1 - p["ecc"] ** 2))
    params.inc, params.ecc, params.w = (
        np.degrees(np.arccos(cos_i)),
        p["ecc"],
        np.degrees(p["omega"]),
    )
    params.u, params.limb_dark = [0.3, 0.2], "quadratic"
    ds = batman.TransitModel(params, t).ds  # 100 where the planet is behind the star
    pos = _ours(t, *p.values())
    front = np.asarray(pos.line_of_sight) > 0
    assert np.all(ds[~front] == 100) and np.all(ds[front] < 100) and np.sum(~front) >= 3
    # batman solves Kepler's equation to 1e-7 rad: measured 1.3e-6 stellar radii at a = 12.
    np.testing.assert_allclose(np.asarray(pos.separation)[front], ds[front], atol=1e-5)


def test_parameterisations(x64):
    # The Sun (1.41 g/cm^3) and the Earth's year: a/R* = 215.
    np.testing.assert_allclose(scaled_semi_major_axis(365.25, 1.408), 215.0, rtol=2e-3)
    rho = 1.2
    a = float(scaled_semi_major_axis(3.0, rho))
    G = 6.6743e-8
    np.testing.assert_allclose(a**3, G * rho * (3.0 * 86400) ** 2 / (3 * np.pi), rtol=1e-14)
    inc, ecc, omega = 1.52, 0.3, 0.4
    b = float(impact_parameter(inc, a, ecc, omega))
    by_density = TransitOrbit(3.0, 0.1, stellar_density=rho, inclination=inc, ecc=ecc, omega=omega)
    direct = TransitOrbit(3.0, 0.1, a, b, ecc, omega)
    for name in ("a_over_rstar", "impact"):
        np.testing.assert_allclose(getattr(by_density, name), getattr(direct, name), rtol=1e-15)
    # i and pi - i: the same transit
    np.testing.assert_allclose(impact_parameter(math.pi - inc, a, ecc, omega), b, rtol=1e-12)
    # cos i = b (1 + e sin w) / (a (1 - e^2)): the reference's definition
    np.testing.assert_allclose(b * (1 + ecc * np.sin(omega)) / (a * (1 - ecc**2)), np.cos(inc))


def test_planets_on_a_leading_axis_under_jit_and_vmap(dtype):
    """Two systems of two planets through ``jit(vmap(...))``: each planet as alone."""
    fields = ([3.1, 7.0], [0.2, 1.0], [12.0, 20.0], [0.45, 0.1])
    orbit = _two_planets(*fields, dtype=dtype, ecc=[0.35, 0.0])
    assert orbit.n_planets == 2
    systems = jax.tree_util.tree_map(lambda x: jnp.stack([x, x]), orbit)
    t = jnp.asarray(T, dtype)
    batched = jax.jit(jax.vmap(lambda o: o.sky_position(t).separation))(systems)
    assert batched.shape == (2, 2, T.size)
    for p, (ecc, *params) in enumerate(zip([0.35, 0.0], *fields)):
        one = _ours(T, *params, ecc, 0.7, dtype=dtype).separation
        np.testing.assert_allclose(batched[1, p], one, rtol=0, atol=TOL[dtype.__name__] * 20)


def test_gradients_check_by_central_differences(x64):
    t = jnp.linspace(-0.1, 0.5, 7)  # in and around the first transit
    p = [jnp.asarray(v) for v in ECCENTRIC.values()]
    both = lambda *p: (sky_position(t, *p).separation, sky_position(t, *p).line_of_sight)
    check_grads(both, p, order=1, modes=["rev"])  # forward mode: the light-curve tests


def test_gradient_is_finite_at_zero_separation(dtype):
    # b = 0 at the transit: the separation is 0, where its square root is not differentiable
    grad = jax.grad(lambda b, t: sky_position(t, 3.0, 0.0, 10.0, b).separation, argnums=(0, 1))
    values = grad(jnp.asarray(0.0, dtype), jnp.asarray(0.0, dtype))
    assert all(np.isfinite(v) for v in values)


@pytest.mark.counts_compiles
def test_new_data_of_the_same_shape_never_recompiles():
    orbit = _two_planets([3.1, 7.0], [0.2, 1.0], [12.0, 20.0], [0.45, 0.1])
    other = _two_planets([3.2, 7.5], [0.1, 1.1], [13.0, 21.0], [0.4, 0.2])
    t, t2 = jnp.asarray(T, jnp.float32), jnp.asarray(T + 0.1, jnp.float32)
    orbit.sky_position(t)
    with count_compiles() as counts:
        other.sky_position(t2)
    assert counts.compiles == 0, counts.by_function


def test_static_errors():
    with pytest.raises(TypeError, match="exactly one of a_over_rstar and stellar_density"):
        TransitOrbit(3.0, 0.0, 10.0, stellar_density=1.0)
    with pytest.raises(TypeError, match="exactly one of a_over_rstar and stellar_density"):
        TransitOrbit(3.0, 0.0)
    with pytest.raises(TypeError, match="at most one of impact and inclination"):
        TransitOrbit(3.0, 0.0, 10.0, 0.1, inclination=1.5)
    with pytest.raises(ValueError, match="do not broadcast"):
        TransitOrbit(np.asarray([3.0, 4.0, 5.0]), np.asarray([0.0, 1.0]), 10.0)
    with pytest.raises(ValueError, match="use jax.vmap"):
        TransitOrbit(np.ones((2, 2)), 0.0, 10.0)
    with pytest.raises(ValueError, match="stellar_density must be > 0"):
        scaled_semi_major_axis(3.0, -1.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(t=math.nan), "t must be finite"),
        (dict(period=0.0), "period must be finite and > 0"),
        (dict(time_of_transit=math.inf), "time_of_transit must be finite"),
        (dict(a_over_rstar=0.9), "a_over_rstar must be finite with a_over_rstar (1 - ecc) > 1"),
        (
            dict(a_over_rstar=1.8, ecc=0.5),
            "a_over_rstar must be finite with a_over_rstar (1 - ecc) > 1",
        ),
        (dict(impact=-0.1), "impact must be finite and in [0,"),
        (dict(impact=10.5), "impact must be finite and in [0,"),
        (dict(ecc=1.0), "ecc must be in [0, 1)"),
        (dict(ecc=-0.1), "ecc must be in [0, 1)"),
        (dict(omega=math.nan), "omega must be finite"),
        (dict(t=1e6), "|t - time_of_transit| / period must be <"),
    ],
)
def test_bad_values_raise_naming_the_argument(kwargs, message):
    args = dict(t=0.5, period=3.0, time_of_transit=0.0, a_over_rstar=10.0, impact=0.3, ecc=0.0,
                omega=0.0) | kwargs  # fmt: skip
    values = [jnp.asarray(v, jnp.float32) for v in args.values()]
    with pytest.raises(CheckError) as err:
        sky_position(*values)
    assert f"sky_position: {message}" in str(err.value)
    assert str(err.value).count("sky_position:") == 1  # one bad argument, one message


def test_bad_values_raise_inside_the_callers_jit():
    with pytest.raises(Exception, match="sky_position: impact must be finite"):
        jax.block_until_ready(jax.jit(sky_position)(0.5, 3.0, 0.0, 10.0, -1.0))


SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -1.0]


def _violations(t, period, t0, a, b, ecc, omega, dtype):
    bad = []
    ecc_ok = 0 <= ecc < 1
    if not np.all(np.isfinite(t)):
        bad.append("t must be finite")
    if not (np.isfinite(period) and period > 0):
        bad.append("period must be finite and > 0")
    if not np.isfinite(t0):
        bad.append("time_of_transit must be finite")
    a_ok = np.isfinite(a) and not (ecc_ok and not a * (1 - ecc) > 1)
    if not a_ok:
        bad.append("a_over_rstar must be finite")
    if not (np.isfinite(b) and b >= 0) or (
        ecc_ok
        and np.isfinite(omega)
        and a_ok
        and not b * (1 + ecc * np.sin(omega)) <= a * (1 - ecc**2)
    ):
        bad.append("impact must be finite and in [0,")
    if not ecc_ok:
        bad.append("ecc must be in [0, 1)")
    if not np.isfinite(omega):
        bad.append("omega must be finite")
    if not bad and not np.all(np.abs(t - t0) < 2.0**-10 / np.finfo(dtype).eps * period):
        bad.append("|t - time_of_transit| / period must be <")
    return bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(25)
@given(
    t=st.lists(
        st.one_of(st.floats(-50, 50), st.sampled_from([math.nan, 1e9])), min_size=4, max_size=4
    ),
    period=st.one_of(st.floats(0.3, 100.0), st.sampled_from(SPECIAL)),
    t0=st.one_of(st.floats(-50, 50), st.sampled_from([math.nan, math.inf])),
    a=st.one_of(st.floats(1.5, 300.0), st.sampled_from([math.nan, 0.5, 1.0])),
    b=st.one_of(st.floats(0.0, 2.0), st.sampled_from([math.nan, -0.1, 500.0])),
    ecc=st.one_of(st.floats(0.0, 0.9), st.sampled_from([-0.1, 1.0, math.nan])),
    omega=st.one_of(st.floats(-10.0, 10.0), st.sampled_from([math.nan, math.inf])),
)
def test_sky_position_contract(dtype, t, period, t0, a, b, ecc, omega):
    """Either the CheckError naming each bad argument, or finite results within the stated
    tolerance of the float64 reference."""
    with float64(dtype == "float64"):
        values = [np.asarray(v, dtype) for v in (t, period, t0, a, b, ecc, omega)]
        t, period, t0, a, b, ecc, omega = (v.astype(np.float64) for v in values)
        expected_errors = _violations(t, period, t0, a, b, ecc, omega, dtype)
        call = lambda: sky_position(*map(jnp.asarray, values))  # noqa: E731
        if expected_errors:
            assert_check_errors(call, "sky_position", expected_errors)
            return
        pos = call()
    sep, los = position(t, period, t0, a, b, ecc, omega)
    # the phase's rounding (eps per cycle) and the solver, through the speed at periastron
    eps = np.finfo(dtype).eps
    cycles = np.abs(t - t0) / period
    speed = a * np.sqrt((1 + ecc) / (1 - ecc)) / (1 - ecc)
    tol = speed * (TOL[dtype] + 2 * np.pi * 8 * eps * (cycles + 1)) + 8 * eps * (a + b)
    assert np.all(np.isfinite(pos.separation)) and np.all(np.isfinite(pos.line_of_sight))
    assert np.all(np.abs(np.asarray(pos.separation) - sep) <= tol)
    assert np.all(np.abs(np.asarray(pos.line_of_sight) - los) <= tol)
