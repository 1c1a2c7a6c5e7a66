"""Transit light curves: batman's model point by point, exposure-time integration against a
fine-grid average (and batman's supersample_factor), several planets, exactly 1 out of transit
and behind the star, derivatives, transformations, recompilation, errors and the contract.

The light curve compiles to a large program (the flux kernel's elliptic integrals): the tests
share a few of them, one system of two planets at 41 times per dtype (a planet is left out by
giving it a zero radius)."""

import functools
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
from diffkern.transit import LightCurve, TransitOrbit, light_curve

# planet 0 transits at 0; planet 1 (circular, P = 5) at 2.0
ORBIT = dict(
    period=[3.1, 5.0], time_of_transit=[0.0, 2.0], a_over_rstar=[12.0, 15.0],
    impact=[0.42, 0.0], ecc=[0.2, 0.0], omega=[0.7, 0.0],
)  # fmt: skip
R, U = 0.1, np.array([0.4, 0.25])
FIRST, SECOND = [R, 0.0], [0.0, 0.05]  # radius ratios: one planet or the other
LONG_CADENCE = 29.4 / 60 / 24  # Kepler's long cadence, days
T = np.linspace(-0.16, 0.16, 41)  # the first transit lasts +/- 0.11 d
#: |flux - batman| (batman solves Kepler's equation to ~1e-7 rad): measured 3.7e-8 in float64
#: and 7.4e-8 in float32.
BATMAN_TOL = {"float32": 1e-6, "float64": 2e-7}


def _orbit(dtype=np.float64, **changes) -> TransitOrbit:
    return TransitOrbit(**{k: np.asarray(v, dtype) for k, v in (ORBIT | changes).items()})


def _flux(t, radius_ratio=FIRST, dtype=np.float64, **kwargs):
    t = np.asarray(t, dtype)
    return light_curve(t, _orbit(dtype), np.asarray(radius_ratio, dtype), U.astype(dtype), **kwargs)


def _batman(t, supersample=1, exp_time=0.0):
    batman = pytest.importorskip("batman")
    period, t0, a, b, ecc, omega = (ORBIT[k][0] for k in ORBIT)
    params = batman.TransitParams()
    params.t0, params.per, params.rp, params.a = t0, period, R, a
    cos_i = b * (1 + ecc * np.sin(omega)) / (a * (1 - ecc**2))
    params.inc, params.ecc, params.w = np.degrees(np.arccos(cos_i)), ecc, np.degrees(omega)
    params.u, params.limb_dark = list(U), "quadratic"
    model = batman.TransitModel(params, t, supersample_factor=supersample, exp_time=exp_time)
    return model.light_curve(params)


def test_matches_batman_point_by_point(dtype):
    flux = _flux(T, dtype=dtype)
    assert flux.dtype == dtype and flux.shape == T.shape
    expected = _batman(T)
    assert np.min(expected) < 0.99  # in transit
    np.testing.assert_allclose(flux, expected, rtol=0, atol=BATMAN_TOL[np.dtype(dtype).name])


@functools.cache
def _fine_average(ends: bool) -> np.ndarray:
    """diffkern's instantaneous light curve (float64) averaged in numpy over :data:`FINE`
    (or, with ``ends``, batman's ``linspace(-1/2, 1/2, n)``) offsets of each long-cadence
    exposure, in units of the exposure time."""
    nodes = np.linspace(-0.5, 0.5, FINE.size) if ends else FINE
    orbit, r = _orbit(), np.asarray(FIRST)
    return np.mean([light_curve(T + LONG_CADENCE * x, orbit, r, U) for x in nodes], axis=0)


FINE = (np.arange(100) + 0.5) / 100 - 0.5  # midpoints: 4e-9 from the exact average here


@pytest.mark.parametrize("rule, tol", [("uniform", 2e-5), ("gauss", 2e-5)])
def test_exposure_integration_matches_a_fine_grid_average(x64, rule, tol):
    """Kepler long cadence, 15 nodes: within 2e-5 of the fine-grid average (measured 5.2e-6
    uniform, 4.2e-6 Gauss-Legendre, both limited by the kinks at the contacts), where the
    instantaneous curve is 1.1e-3 away."""
    reference = _fine_average(ends=False)
    flux = _flux(T, exposure_time=LONG_CADENCE, supersample=15, rule=rule)
    np.testing.assert_allclose(flux, reference, rtol=0, atol=tol)
    assert np.max(np.abs(_flux(T) - reference)) > 10 * tol  # integration matters here
    if rule == "uniform":  # the same average from batman's instantaneous flux
        times = (T[:, None] + LONG_CADENCE * FINE).ravel()
        by_batman = _batman(times).reshape(T.size, -1).mean(axis=1)
        np.testing.assert_allclose(by_batman, reference, rtol=0, atol=BATMAN_TOL["float64"])


def test_batman_supersample_factor_is_an_equal_weight_average_over_linspace_nodes(x64):
    """batman samples ``linspace(-T/2, T/2, n)`` (the exposure's ends included) with equal
    weights, an error decaying as 1/n (the midpoint rule's as 1/n^2): the same nodes through
    diffkern's model give batman's value."""
    np.testing.assert_allclose(
        _batman(T, supersample=FINE.size, exp_time=LONG_CADENCE), _fine_average(ends=True),
        rtol=0, atol=BATMAN_TOL["float64"],
    )  # fmt: skip


def test_flux_is_exactly_one_out_of_transit_and_behind_the_star(dtype):
    # the first planet is behind the star (separation < 1 + r) from 1.81 to 1.90 (e = 0.2);
    # the second transits at 2.0
    t = np.concatenate([np.linspace(1.78, 1.92, 21), np.linspace(1.95, 2.05, 20)]).astype(dtype)
    both = np.asarray(_flux(t, [R, 0.05], dtype))
    pos = _orbit(dtype).sky_position(t)
    sep, los = np.asarray(pos.separation), np.asarray(pos.line_of_sight)
    r = np.asarray([R, 0.05])[:, None]
    behind = (los < 0) & (sep < 1 + r)
    out = sep > 1 + r
    assert behind[0].sum() >= 3
    assert np.all(both[np.all(out | behind, axis=0)] == 1)
    assert np.sum(both < 1) >= 5  # the second planet's transit
    # 1 - the sum of the planets' deficits, each as if alone
    first, second = (np.asarray(_flux(t, radii, dtype)) for radii in (FIRST, SECOND))
    assert np.all(first == 1)
    np.testing.assert_array_equal(both, 1 - (1 - first) - (1 - second))


def test_gradients_check_by_central_differences(x64):
    """Forward and reverse mode in transit with long-cadence integration, with respect to
    every orbit parameter, r, u and the exposure time."""

    @jax.jit
    def flux(period, t0, a, b, ecc, omega, r, u, texp):
        orbit = TransitOrbit(period, t0, a, b, ecc, omega)
        return light_curve(T[15:20], orbit, r, u, exposure_time=texp, supersample=5)

    # float64, not weakly typed: the finite differences reuse the first call's program
    args = [jnp.asarray(v, jnp.float64) for v in [ORBIT[k][0] for k in ORBIT] + [R, U, 0.02]]
    check_grads(flux, args, order=1, modes=["fwd", "rev"])


@jax.jit
def _transformed(model: LightCurve, t, radii):
    """grad, jvp (along the all-ones tangent) and vmap over radius ratios, in one program."""
    loss = lambda m: jnp.sum((m(t) - 1) ** 2)
    grad = jax.grad(loss)(model)
    tangent = jax.tree_util.tree_map(jnp.ones_like, model)
    _, directional = jax.jvp(loss, (model,), (tangent,))
    batched = jax.vmap(lambda r: LightCurve(model.orbit, r, model.u)(t))(radii)
    return grad, directional, batched


def test_grad_jvp_and_vmap_under_jit():
    """float32 (float64: the central differences above, forward and reverse)."""
    dtype = jnp.float32
    model = LightCurve(_orbit(dtype), np.asarray(FIRST, dtype), U.astype(dtype),
                       exposure_time=np.asarray(LONG_CADENCE, dtype), supersample=3)  # fmt: skip
    t = jnp.asarray(T, dtype)
    radii = jnp.asarray([FIRST, [0.05, 0.0]], dtype)
    grad, directional, batched = _transformed(model, t, radii)
    leaves = jax.tree_util.tree_leaves(grad)
    assert all(np.all(np.isfinite(leaf)) for leaf in leaves)
    assert np.all(np.asarray(grad.radius_ratio[0]) != 0)
    expected = sum(float(jnp.sum(g)) for g in leaves)
    np.testing.assert_allclose(directional, expected, rtol=1e-4)
    np.testing.assert_allclose(batched[0], _flux(T, FIRST, dtype), rtol=0, atol=1e-6)
    assert np.all(batched[1] >= batched[0]) and np.min(batched[1]) < 1


@pytest.mark.counts_compiles
def test_a_new_exposure_time_never_recompiles():
    f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
    model = LightCurve(_orbit(np.float32), f32(FIRST), f32(U), exposure_time=f32(LONG_CADENCE),
                       supersample=7, rule="gauss")  # fmt: skip
    t = jnp.asarray(T, jnp.float32)
    first = model(t)
    shorter = LightCurve(model.orbit, model.radius_ratio, model.u, exposure_time=f32(1 / 1440),
                         supersample=7, rule="gauss")  # fmt: skip
    with count_compiles() as counts:
        second = shorter(t)
        light_curve(t + 0.01, model.orbit, model.radius_ratio, model.u, exposure_time=f32(0.01),
                    supersample=7, rule="gauss")  # fmt: skip
    assert counts.by_function["_light_curve"] == 0, counts.by_function
    assert np.max(np.abs(np.asarray(second) - np.asarray(first))) > 1e-5  # it did change


def test_static_errors():
    orbit = _orbit(np.float32)
    with pytest.raises(ValueError, match="supersample must be >= 1"):
        light_curve(T, orbit, R, U, supersample=0)
    with pytest.raises(TypeError, match="supersample"):  # jaxtyping or diffkern
        light_curve(T, orbit, R, U, supersample=2.0)
    with pytest.raises(ValueError, match="rule must be one of"):
        light_curve(T, orbit, R, U, rule="simpson")
    with pytest.raises(ValueError, match=r"u must be of static shape \(N,\), N >= 1"):
        light_curve(T, orbit, R, np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"u must be of static shape \(N,\), N >= 1"):
        light_curve(T, orbit, R, np.ones(0))
    with pytest.raises(ValueError, match="radius_ratio must be a scalar or of shape"):
        light_curve(T, orbit, np.ones(3), U)
    with pytest.raises(ValueError, match="exposure_time must be a scalar or broadcast"):
        light_curve(T, orbit, R, U, exposure_time=np.ones(3))


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(r=-0.01), "radius_ratio must be finite and >= 0"),
        (dict(r=math.nan), "radius_ratio must be finite and >= 0"),
        (
            dict(a=1.05),
            "a_over_rstar must be finite with a_over_rstar (1 - ecc) > 1 + radius_ratio",
        ),
        (dict(b=-0.2), "impact must be finite and in [0,"),
        (dict(ecc=1.0), "ecc must be in [0, 1)"),
        (dict(t=math.nan), "t must be finite"),
        (dict(texp=-1.0), "exposure_time must be finite and >= 0"),
    ],
)
def test_bad_values_raise_naming_the_argument(changes, message):
    v = dict(t=0.01, a=12.0, b=0.42, ecc=0.2, r=R, texp=0.0) | changes
    orbit = _orbit(np.float32, a_over_rstar=[v["a"], 15.0], impact=[v["b"], 0.0],
                   ecc=[v["ecc"], 0.0])  # fmt: skip
    t, r = np.full(T.shape, v["t"], np.float32), np.asarray([v["r"], 0.0], np.float32)
    with pytest.raises(CheckError) as err:
        light_curve(t, orbit, r, U.astype(np.float32), exposure_time=v["texp"])
    assert f"light_curve: {message}" in str(err.value)
    assert str(err.value).count("light_curve:") == 1  # one bad argument, one message


SPECIAL = [math.nan, math.inf, -1.0]


def _violations(f: dict) -> list[str]:
    ecc_ok = 0 <= f["ecc"] < 1
    r_ok = np.isfinite(f["r"]) and f["r"] >= 0
    a_ok = np.isfinite(f["a"]) and not (
        ecc_ok and r_ok and not f["a"] * (1 - f["ecc"]) > 1 + f["r"]
    )
    bad = [] if a_ok else ["a_over_rstar must be finite"]
    limit = f["a"] * (1 - f["ecc"] ** 2) / (1 + f["ecc"] * np.sin(f["omega"]))
    if not (np.isfinite(f["b"]) and f["b"] >= 0) or (ecc_ok and a_ok and not f["b"] <= limit):
        bad.append("impact must be finite and in [0,")
    if not ecc_ok:
        bad.append("ecc must be in [0, 1)")
    if not r_ok:
        bad.append("radius_ratio must be finite and >= 0")
    if not (np.isfinite(f["texp"]) and f["texp"] >= 0):
        bad.append("exposure_time must be finite and >= 0")
    return bad


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@contract(20)
@given(
    start=st.floats(-0.3, 3.0),
    a=st.one_of(st.floats(1.2, 50.0), st.sampled_from(SPECIAL)),
    b=st.one_of(st.floats(0.0, 1.3), st.sampled_from(SPECIAL)),
    ecc=st.one_of(st.floats(0.0, 0.6), st.sampled_from([1.0, math.nan])),
    omega=st.floats(-4.0, 4.0),
    r=st.one_of(st.floats(0.0, 0.3), st.sampled_from(SPECIAL)),
    texp=st.one_of(st.just(0.0), st.sampled_from(SPECIAL)),
)
def test_light_curve_contract(dtype, start, a, b, ecc, omega, r, texp):
    """The CheckError naming each bad argument, or a flux in [0, 1], exactly 1 where the
    planet is out of transit or behind the star, and within the stated tolerance of the flux
    at the float64 reference positions (exoplanet-core's flux, as a peer)."""
    exoplanet_core = pytest.importorskip("exoplanet_core")
    t = start + np.linspace(0, 0.4, T.size)
    with float64(dtype == "float64"):
        f = dict(a=a, b=b, ecc=ecc, omega=omega, r=r, texp=texp)
        v = {k: np.asarray(x, dtype) for k, x in f.items()}
        f = {k: float(x) for k, x in v.items()}
        changes = dict(a_over_rstar=[f["a"], 15.0], impact=[f["b"], 0.0], ecc=[f["ecc"], 0.0],
                       omega=[f["omega"], 0.0])  # fmt: skip
        orbit = _orbit(dtype, **changes)
        radii = np.asarray([f["r"], 0.0], dtype)
        call = lambda: light_curve(t.astype(dtype), orbit, radii, U.astype(dtype),  # noqa: E731
                                   exposure_time=float(v["texp"]))  # fmt: skip
        expected = _violations(f)
        if expected:
            assert_check_errors(call, "light_curve", expected)
            return
        flux = np.asarray(call())
    assert np.all((flux >= 0) & (flux <= 1))
    t = t.astype(dtype).astype(np.float64)
    sep, los = position(t, 3.1, 0.0, f["a"], f["b"], f["ecc"], f["omega"])
    # the geometry's error (test_transit_geometry.TOL of a, times the speed at periastron)
    # and the kernel's (3e-6 in float32, 1e-12 in float64), through |dF/db| <= 4 r / pi / (1 -
    # u1/3 - u2/6)
    speed = np.sqrt((1 + f["ecc"]) / (1 - f["ecc"])) / (1 - f["ecc"])
    margin = {"float32": 4e-6, "float64": 1e-13}[dtype] * f["a"] * speed
    assert np.all(flux[(sep > 1 + f["r"] + margin) | (los < -margin)] == 1)
    reference = 1 + exoplanet_core.quad_limbdark_light_curve(*U, sep, np.full_like(sep, f["r"]))
    reference = np.where(los > 0, reference, 1)
    slope = 4 * f["r"] / (np.pi * (1 - U[0] / 3 - U[1] / 6))
    tol = 1.01 * slope * margin + {"float32": 3e-6, "float64": 1e-12}[dtype]
    assert np.all((np.abs(flux - reference) <= tol) | (np.abs(los) < margin))
