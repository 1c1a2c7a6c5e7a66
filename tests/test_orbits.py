"""Radial velocity and the conjunction-to-periastron conversion, against radvel and mpmath."""

import re
import warnings

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest
from test_kepler_reference import reference

from diffkern import CheckError, KeplerSolver
from diffkern.jit import count_compiles
from diffkern.kepler import true_anomaly
from diffkern.orbits import TimePrecisionWarning, max_cycles, radial_velocity, time_of_periastron
from diffkern.precision import float64
from diffkern.testing import check_grads

radvel = pytest.importorskip("radvel")

# (period, tp, e, omega, K); radvel clips e to 0.99.
PLANETS = [
    (7.3, 2.1, 0.4, 1.2, 5.0),
    (0.74, -0.3, 0.0, -2.0, 12.5),
    (51.2, 10.0, 0.95, 3.0, 1.3),
    (3.1, 0.0, 0.2, -0.4, 80.0),
]


@pytest.mark.parametrize("planet", PLANETS)
def test_radial_velocity_matches_radvel(x64, planet):
    t = np.linspace(-30.0, 200.0, 500)
    expected = radvel.kepler.rv_drive(t, np.array(planet))
    rv = jax.jit(radial_velocity)(jnp.asarray(t), *planet)
    np.testing.assert_allclose(rv, expected, rtol=0, atol=1e-9)


def test_several_planets_by_broadcasting(x64):
    t = np.linspace(0.0, 60.0, 200)
    params = [jnp.asarray(p)[:, None] for p in zip(*PLANETS, strict=True)]
    total = radial_velocity(jnp.asarray(t), *params).sum(axis=0)
    expected = sum(radvel.kepler.rv_drive(t, np.array(p)) for p in PLANETS)
    np.testing.assert_allclose(total, expected, rtol=0, atol=1e-9)


def _rv_mpmath(t, period, tp, ecc, omega, k):
    with mpmath.workdps(40):
        cycles = (mpmath.mpf(t) - mpmath.mpf(tp)) / mpmath.mpf(period)
        M = 2 * mpmath.pi * (cycles - mpmath.floor(cycles))
        # E from the reference solver at the exact phase, then f.
        f = reference(np.asarray(float(M)), np.asarray(ecc))["f"]
        return float(k * (mpmath.cos(mpmath.mpf(float(f)) + omega) + ecc * mpmath.cos(omega)))


def test_phase_accuracy_after_a_million_orbits(x64):
    period, tp, ecc, omega, k = 3.0, 0.25, 0.3, 1.0, 10.0
    phases = np.array([0.0, 0.1, 0.37, 0.5, 0.81, 0.999])
    t = tp + (1e6 + phases) * period  # exactly representable times, 10^6 orbits after tp
    rv = radial_velocity(jnp.asarray(t), period, tp, ecc, omega, k)
    expected = np.array([_rv_mpmath(ti, period, tp, ecc, omega, k) for ti in t])
    # Only the rounding of (t - tp) / P ~ 1e6 remains: half an ulp, 6e-11 cycles, times
    # |d rv / dM| <= K (1 + e)^2 / (1 - e^2)^(3/2).
    bound = 0.5 * np.spacing(1e6) * 2 * np.pi * k * (1 + ecc) ** 2 / (1 - ecc**2) ** 1.5
    np.testing.assert_allclose(rv, expected, rtol=0, atol=bound)
    assert bound < 1e-7


def test_radial_velocity_gradients(x64):
    t = jnp.linspace(0.0, 20.0, 7)
    args = [jnp.asarray(a) for a in (7.3, 2.1, 0.4, 1.2, 5.0)]
    f = jax.jit(lambda *p: radial_velocity(t, *p))
    check_grads(f, args, order=1, modes=("fwd", "rev"))  # order 2 is tested on the solver


def test_radial_velocity_float32_and_no_recompile(dtype):
    t = jnp.linspace(0.0, 20.0, 64, dtype=dtype)
    planet = [jnp.asarray(p, dtype) for p in PLANETS[0]]
    f = jax.jit(radial_velocity)
    rv = f(t, *planet)
    assert rv.dtype == dtype
    expected = radvel.kepler.rv_drive(np.asarray(t, np.float64), np.array(PLANETS[0]))
    tol = 1e-9 if dtype == jnp.float64 else 5.0 * 5e-6  # K times float32's phase rounding
    np.testing.assert_allclose(rv, expected, rtol=0, atol=tol)
    new = [p * 1.01 for p in planet]
    f(t + 1, *new).block_until_ready()  # eager ops above compile; the kernel must not
    with count_compiles() as counts:
        f(t + 1, *new).block_until_ready()
        f(t, *planet).block_until_ready()
    assert counts.compiles == 0


def test_shape_mismatch_names_arguments():
    with pytest.raises(ValueError, match="period"):
        radial_velocity(jnp.zeros(5), jnp.ones(3), 0.0, 0.1, 0.0, 1.0)


@pytest.mark.parametrize("ecc", [0.0, 0.1, 0.5, 0.9])
@pytest.mark.parametrize("omega", [-3.0, -1.6, -0.5, 0.0, 1.0, 2.5, 3.1])
def test_time_of_periastron_matches_radvel(x64, ecc, omega):
    tp = time_of_periastron(10.0, 3.0, ecc, omega)
    np.testing.assert_allclose(
        tp, radvel.orbit.timetrans_to_timeperi(10.0, 3.0, ecc, omega), rtol=0, atol=1e-12
    )


def test_time_of_periastron_puts_conjunction_at_f_equal_pi_over_2_minus_omega(x64):
    tc, period, ecc, omega = 5.0, 4.0, 0.6, jnp.asarray([-2.0, 0.3, 2.9])
    tp = time_of_periastron(tc, period, ecc, omega)
    f = true_anomaly(2 * np.pi * (tc - tp) / period, ecc)
    np.testing.assert_allclose(np.cos(f), np.cos(np.pi / 2 - omega), atol=1e-12)
    np.testing.assert_allclose(np.sin(f), np.sin(np.pi / 2 - omega), atol=1e-12)
    with pytest.raises(CheckError, match=r"time_of_periastron: ecc must be in \[0, 1\)"):
        time_of_periastron(tc, period, 1.0, 0.3)


# (argument index, bad value, message): every bad argument is named, never the mean anomaly.
BAD = [
    (0, np.nan, "t must be finite"),
    (1, 0.0, "period must be finite and > 0"),
    (1, -7.0, "period must be finite and > 0"),
    (1, np.inf, "period must be finite and > 0"),
    (2, -np.inf, "time_of_periastron must be finite"),
    (3, 1.0, r"ecc must be in \[0, 1\)"),
    (3, np.nan, r"ecc must be in \[0, 1\)"),
    (4, np.nan, "omega must be finite"),
    (4, np.inf, "omega must be finite"),
    (5, -1.0, "semi_amplitude must be finite and >= 0"),
    (5, np.nan, "semi_amplitude must be finite and >= 0"),
    (1, 1e-30, r"\|t - time_of_periastron\| / period must be <"),
]
GOOD = (jnp.linspace(0.0, 10.0, 5), *map(jnp.asarray, (7.3, 2.1, 0.4, 1.2, 5.0)))
_rv_jit = jax.jit(radial_velocity)


@pytest.mark.parametrize("index, value, match", BAD)
def test_bad_input_names_the_argument(index, value, match):
    args = list(GOOD)
    args[index] = jnp.full_like(args[index], value)
    with pytest.raises(CheckError, match=f"^radial_velocity: {match}"):
        radial_velocity(*args)
    with pytest.raises(Exception, match=f"radial_velocity: {match}"):  # the caller's jit
        jax.block_until_ready(_rv_jit(*args))


def test_bad_input_raises_under_vmap_and_grad():
    periods = jnp.asarray([7.3, -1.0])
    with pytest.raises(Exception, match="period must be finite and > 0"):
        rv = jax.vmap(lambda p: radial_velocity(GOOD[0], p, *GOOD[2:]))(periods)
        jax.block_until_ready(rv)
    with pytest.raises(CheckError, match="semi_amplitude must be finite and >= 0"):
        jax.grad(lambda k: radial_velocity(*GOOD[:5], k).sum())(jnp.asarray(np.nan))


def test_unchecked_solver_gives_nan_where_invalid():
    quiet = KeplerSolver(check=False)
    rv = radial_velocity(GOOD[0], jnp.asarray([7.3, -1.0])[:, None], *GOOD[2:], solver=quiet)
    assert bool(jnp.all(jnp.isfinite(rv[0]))) and bool(jnp.all(jnp.isnan(rv[1])))


def test_phase_bound_per_dtype(dtype):
    bound = max_cycles(dtype)
    assert bound == 2.0**-10 / np.finfo(dtype).eps  # 8192 in float32, 4.4e12 in float64
    t = jnp.asarray([0.0, 0.5 * bound], dtype)
    radial_velocity(t, jnp.asarray(1.0, dtype), 0.0, 0.1, 0.0, 1.0)  # within the bound
    with pytest.raises(CheckError, match=re.escape(f"must be < {bound:.4g} in {np.dtype(dtype)}")):
        radial_velocity(t * 4, jnp.asarray(1.0, dtype), 0.0, 0.1, 0.0, 1.0)


def test_float32_bjd_times_warn_and_reduced_times_do_not():
    t = np.array([2460000.3, 2460001.17])  # float64 on the host, float32 in the kernel
    with float64(False):
        with pytest.warns(TimePrecisionWarning, match="t rounded to float32 moves by up to"):
            radial_velocity(t, 7.0, 2460000.0, 0.1, 0.3, 10.0)
        with pytest.warns(TimePrecisionWarning, match="time_of_conjunction rounded"):
            time_of_periastron(2457582.936, 0.369, 0.0, 1.0)
        epoch = 2460000.0  # the recommended fix: subtract a reference epoch in float64
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            rv = radial_velocity(t - epoch, 7.0, 0.0, 0.1, 0.3, 10.0)
    with float64():
        expected = radial_velocity(t, 7.0, 2460000.0, 0.1, 0.3, 10.0)
    np.testing.assert_allclose(rv, expected, rtol=0, atol=1e-4)  # was off by up to 3.8 m/s
