"""Kepler and radial velocity over series of different lengths: exact, differentiable, cheap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.jit import bucket_length, count_compiles
from diffkern.kepler import eccentric_anomaly
from diffkern.orbits import (
    chi_square_ragged,
    eccentric_anomaly_ragged,
    radial_velocity,
    radial_velocity_ragged,
)
from diffkern.testing import tolerance

RNG = np.random.default_rng(11)


def _series(lengths, dtype):
    return [np.sort(RNG.uniform(0.0, 50.0, n)).astype(dtype) for n in lengths]


def _params(n_series, dtype):
    return [
        RNG.uniform(lo, hi, n_series).astype(dtype)
        for lo, hi in [(1.0, 20.0), (0.0, 5.0), (0.0, 0.9), (-3.0, 3.0), (1.0, 30.0)]
    ]


def test_radial_velocity_equals_per_series(dtype):
    ts = _series([100, 7, 1500, 333], dtype)
    params = _params(len(ts), dtype)
    out = radial_velocity_ragged(ts, *params)
    assert len(out) == len(ts)
    eps = float(np.finfo(dtype).eps)
    for i, (t, rv) in enumerate(zip(ts, out, strict=True)):
        period, tp, ecc, _, k = (float(p[i]) for p in params)
        expected = radial_velocity(t, *(p[i] for p in params))
        assert rv.shape == t.shape and rv.dtype == dtype
        # The same arithmetic, fused differently by XLA: a few roundings of the phase
        # (t - tp) / P apart, times |d rv / dM| <= K (1 + e)^2 / (1 - e^2)^(3/2).
        phase = 4 * eps * (np.abs(t - tp) / period + 1) * 2 * np.pi
        bound = phase * k * (1 + ecc) ** 2 / (1 - ecc**2) ** 1.5 + 4 * eps * k
        assert np.all(np.abs(np.asarray(rv, np.float64) - np.asarray(expected)) <= bound)


def test_shared_parameters_and_eccentric_anomaly(dtype):
    Ms = [RNG.uniform(-10, 10, n).astype(dtype) for n in (50, 1, 900)]
    eccs = np.asarray([0.1, 0.5, 0.999], dtype)
    tol = tolerance(dtype, float32=2e-6, float64=1e-14)  # the solver's accuracy
    for E, M, e in zip(eccentric_anomaly_ragged(Ms, eccs), Ms, eccs, strict=True):
        np.testing.assert_allclose(E, eccentric_anomaly(M, e), rtol=0, atol=tol)
    shared = eccentric_anomaly_ragged(Ms, np.asarray(0.3, dtype))
    expected = eccentric_anomaly(Ms[2], np.asarray(0.3, dtype))
    np.testing.assert_allclose(shared[2], expected, rtol=0, atol=tol)


def test_any_mix_of_lengths_costs_few_compiles():
    ts_first = _series([100, 2000, 40_000], np.float32)
    params = _params(3, np.float32)
    radial_velocity_ragged(ts_first, *params)  # compiles the bucket of 42100 points
    lengths = [[150, 1500, 40_000], [39_000, 3000, 100], [30_000, 12_000, 100]]
    assert {bucket_length(sum(n)) for n in lengths} == {bucket_length(42_100)}
    with count_compiles() as counts:
        for n in lengths:
            out = radial_velocity_ragged(_series(n, np.float32), *params)
            jax.block_until_ready(out)
    assert counts.compiles == 0, counts.explanations


def test_gradient_with_respect_to_per_series_parameters(x64):
    ts = _series([30, 80], np.float64)
    period, tp, ecc, omega, k = (jnp.asarray(p) for p in _params(2, np.float64))

    def loss(k):
        return sum(jnp.sum(rv**2) for rv in radial_velocity_ragged(ts, period, tp, ecc, omega, k))

    def reference(k):
        return sum(
            jnp.sum(radial_velocity(t, period[i], tp[i], ecc[i], omega[i], k[i]) ** 2)
            for i, t in enumerate(ts)
        )

    np.testing.assert_allclose(jax.grad(loss)(k), jax.grad(reference)(k), rtol=1e-12)
    np.testing.assert_allclose(jax.jit(jax.grad(loss))(k), jax.grad(reference)(k), rtol=1e-12)


def _numpy_rv(t, period, tp, ecc, omega, k):
    """float64 numpy: Newton on Kepler's equation to convergence, then radvel's formula."""
    cycles = (t - tp) / period
    M = 2 * np.pi * (cycles - np.round(cycles))
    E = M + ecc * np.sin(M)
    for _ in range(60):
        E = E - (E - ecc * np.sin(E) - M) / (1 - ecc * np.cos(E))
    f = 2 * np.arctan2(np.sqrt(1 + ecc) * np.sin(E / 2), np.sqrt(1 - ecc) * np.cos(E / 2))
    return k * (np.cos(f + omega) + ecc * np.cos(omega))


def _chi_square_reference(ts, rvs, errs, params, offset):
    """float64 numpy: per series, the planets' velocities summed, then the weighted residuals."""
    params = [np.asarray(p, np.float64) for p in params]
    out = []
    for i, (t, rv, err) in enumerate(zip(ts, rvs, errs, strict=True)):
        t, rv, err = (np.asarray(a, np.float64) for a in (t, rv, err))
        model = sum(_numpy_rv(t, *(p[j, i] for p in params)) for j in range(params[0].shape[0]))
        out.append(np.sum(((rv - offset[i] - model) / err) ** 2))
    return np.array(out)


def _rv_data(lengths, dtype):
    ts = _series(lengths, dtype)
    rvs = [RNG.normal(0.0, 10.0, t.size).astype(dtype) for t in ts]
    errs = [RNG.uniform(0.5, 2.0, t.size).astype(dtype) for t in ts]
    planets = [np.stack(pair) for pair in zip(_params(len(ts), dtype), _params(len(ts), dtype))]
    return ts, rvs, errs, planets, RNG.uniform(-5.0, 5.0, len(ts)).astype(dtype)


def test_chi_square_two_planets_equals_per_series(dtype):
    ts, rvs, errs, planets, offset = _rv_data([40, 3, 170, 75], dtype)
    out = chi_square_ragged(ts, rvs, errs, *planets, offset=offset)
    assert out.shape == (4,) and out.dtype == dtype
    rtol = tolerance(dtype, float32=2e-4, float64=1e-10)
    np.testing.assert_allclose(
        out, _chi_square_reference(ts, rvs, errs, planets, offset), rtol=rtol
    )
    single = chi_square_ragged(ts, rvs, errs, *(p[0] for p in planets))  # one planet, no offset
    reference = _chi_square_reference(ts, rvs, errs, [p[:1] for p in planets], np.zeros(4))
    np.testing.assert_allclose(single, reference, rtol=rtol)


def test_chi_square_gradient_matches_finite_differences_and_new_mixes_do_not_compile(x64):
    ts, rvs, errs, planets, offset = _rv_data([30, 80, 12], np.float64)
    period, tp, ecc, _, k = (jnp.asarray(p) for p in planets)

    def chi2(omega, offset):
        return chi_square_ragged(ts, rvs, errs, period, tp, ecc, omega, k, offset=offset).sum()

    args = (jnp.asarray(planets[3]), jnp.asarray(offset))
    jax.test_util.check_grads(chi2, args, order=1, modes=["fwd", "rev"], eps=1e-6)
    value_and_grad = jax.value_and_grad(chi2, argnums=(0, 1))
    value_and_grad(*args)  # eager, outside jit: a handful of programs, whatever the lengths
    other = _rv_data([31, 79, 12], np.float64)  # new lengths in the same buckets
    with count_compiles() as counts:
        v, _ = jax.value_and_grad(
            lambda w, c: chi_square_ragged(*other[:3], period, tp, ecc, w, k, offset=c).sum(),
            argnums=(0, 1),
        )(*args)
    assert counts.compiles == 0, counts.by_function
    expected = _chi_square_reference(*other[:3], [period, tp, ecc, args[0], k], offset).sum()
    np.testing.assert_allclose(v, expected, rtol=1e-10)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: {**d, "rvs": d["rvs"][:1]}, "same number of series"),
        (lambda d: {**d, "errs": [d["errs"][0], d["errs"][1][:3]]}, r"errs\[1\] must have one"),
        (lambda d: {**d, "errs": [d["errs"][0], -d["errs"][1]]}, r"errs\[1\] finite and > 0"),
        (lambda d: {**d, "rvs": [d["rvs"][0] * np.nan, d["rvs"][1]]}, r"rvs\[0\] must be finite"),
        (lambda d: {**d, "period": np.ones((2, 2, 2), np.float32)}, r"period must be a scalar"),
    ],
)
def test_chi_square_bad_input_names_the_argument(change, message):
    ts, rvs, errs, _, _ = _rv_data([5, 6], np.float32)
    data = {"ts": ts, "rvs": rvs, "errs": errs, "period": 3.0}
    data = change(data)
    with pytest.raises(ValueError, match=message):
        chi_square_ragged(data["ts"], data["rvs"], data["errs"], data["period"], 0.0, 0.1, 0.0, 1.0)


@pytest.mark.parametrize(
    "ts, period, message",
    [
        ([], 1.0, "ts must hold at least one series"),
        (
            [np.ones(3), np.ones(4)],
            np.ones(3),
            r"period must be a scalar or of shape \(n_series,\)",
        ),
    ],
)
def test_bad_input_names_the_argument(ts, period, message):
    with pytest.raises(ValueError, match=message):
        radial_velocity_ragged(ts, period, 0.0, 0.1, 0.0, 1.0)
