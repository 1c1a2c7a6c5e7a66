"""Kepler and radial velocity over series of different lengths: exact, differentiable, cheap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.jit import bucket_length, count_compiles
from diffkern.kepler import eccentric_anomaly
from diffkern.orbits import eccentric_anomaly_ragged, radial_velocity, radial_velocity_ragged
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
