"""Fitted modules survive eqx.tree_serialise_leaves / tree_deserialise_leaves unchanged."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from diffkern.cli.demo._model import Params
from diffkern.fit import minimize
from diffkern.gp import QuasiPeriodic


def _leaves_equal(a, b):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert jax.tree_util.tree_structure(a) == jax.tree_util.tree_structure(b)
    for x, y in zip(la, lb, strict=True):
        assert jnp.result_type(x) == jnp.result_type(y)
        np.testing.assert_array_equal(x, y)


def _kernel(p):
    return QuasiPeriodic(
        jnp.exp(p["log_amp"]), p["scale"], p["period"], jnp.asarray(1.0, p["scale"].dtype)
    )


def test_fitted_kernel_round_trip(tmp_path, dtype):
    """Fit a quasi-periodic kernel, save the module, load it into a skeleton."""
    x = jnp.linspace(0.0, 5.0, 40, dtype=dtype)
    target = QuasiPeriodic(*(jnp.asarray(v, dtype) for v in (1.5, 2.0, 1.3, 1.0)))(x, x)
    loss = lambda p: jnp.mean((_kernel(p)(x, x) - target) ** 2)
    start = {
        k: jnp.asarray(v, dtype) for k, v in {"log_amp": 0.0, "scale": 1.5, "period": 1.25}.items()
    }
    fitted = _kernel(minimize(loss, start, optax.adam(0.02), steps=300, progress=False).params)

    path = tmp_path / "kernel.eqx"
    eqx.tree_serialise_leaves(path, fitted)
    skeleton = QuasiPeriodic(*(jnp.zeros((), dtype) + v for v in (1.0, 1.0, 1.0, 0.0)))
    restored = eqx.tree_deserialise_leaves(path, skeleton)
    _leaves_equal(fitted, restored)
    np.testing.assert_array_equal(restored(x, x), fitted(x, x))


def test_demo_params_round_trip(tmp_path, x64):
    rng = np.random.default_rng(0)
    scalar = lambda: jnp.asarray(rng.normal())
    pair = lambda: jnp.asarray(rng.normal(size=2))
    params = Params(*(scalar() for _ in range(3)), pair(), pair(), *(scalar() for _ in range(4)))
    path = tmp_path / "params.eqx"
    eqx.tree_serialise_leaves(path, params)
    skeleton = jax.tree_util.tree_map(jnp.zeros_like, params)
    _leaves_equal(params, eqx.tree_deserialise_leaves(path, skeleton))
