"""NumPyro: NUTS on a model of diffkern's Kepler solver and GP, in reverse and forward mode."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.gp import GaussianProcess, Matern32
from diffkern.orbits import radial_velocity

numpyro = pytest.importorskip("numpyro")
dist = pytest.importorskip("numpyro.distributions")
infer = pytest.importorskip("numpyro.infer")

TRUTH = {"K": 8.0, "ecc": 0.4}
PERIOD, TP, OMEGA = 4.0, 0.7, 1.2


def _gp(t, K, ecc):
    mean = lambda x: radial_velocity(x, PERIOD, TP, ecc, OMEGA, K)
    return GaussianProcess(4.0 * Matern32(2.0), t, diag=jnp.full_like(t, 0.25), mean=mean)


def _model(t, y):
    K = numpyro.sample("K", dist.Uniform(1.0, 20.0))
    ecc = numpyro.sample("ecc", dist.Uniform(0.0, 0.9))
    numpyro.sample("y", _gp(t, K, ecc).numpyro_dist(), obs=y)


@pytest.fixture(scope="module")
def data():
    from diffkern.precision import float64

    with float64():
        t = jnp.asarray(np.sort(np.random.default_rng(1).uniform(0.0, 12.0, 40)))
        y = _gp(t, jnp.asarray(TRUTH["K"]), jnp.asarray(TRUTH["ecc"])).sample(jax.random.key(2))
        return t, y


@pytest.mark.parametrize("forward", [False, True], ids=["reverse", "forward"])
def test_nuts_recovers_truth(x64, data, forward):
    kernel = infer.NUTS(_model, forward_mode_differentiation=forward)
    mcmc = infer.MCMC(kernel, num_warmup=200, num_samples=200, progress_bar=False)
    with jax.numpy_dtype_promotion("standard"):  # numpyro mixes dtypes internally
        mcmc.run(jax.random.key(0), *data)
    samples = mcmc.get_samples()
    for name, value in TRUTH.items():
        mean, sd = float(jnp.mean(samples[name])), float(jnp.std(samples[name]))
        assert abs(mean - value) < 3 * sd + 0.05 * value, (name, mean, sd, value)
    assert float(jnp.mean(mcmc.get_extra_fields()["diverging"])) < 0.05
