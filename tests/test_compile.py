"""The compiler options of diffkern's own programs: given to top-level programs only, a
fallback for a jaxlib that does not know them, and the same numbers as XLA's defaults."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import diffkern._compile as compile_module
from diffkern._compile import jit
from diffkern.gp import GaussianProcess, QuasiPeriodic
from diffkern.kepler import kepler


def _spy(calls: list):
    """A ``transform`` that records whether each call went to the program with options."""

    def transform(fn, **kwargs):
        tuned = "compiler_options" in kwargs
        compiled = jax.jit(fn, **kwargs)

        def run(*args):
            calls.append(tuned)
            return compiled(*args)

        run.lower = compiled.lower
        return run

    return transform


def test_only_top_level_calls_get_the_options():
    calls = []
    program = jit(lambda x: jnp.sin(x) * 2, transform=_spy(calls))
    x = jnp.linspace(0.0, 1.0, 5)
    expected = np.sin(np.asarray(x)) * 2
    np.testing.assert_allclose(program(x), expected, rtol=1e-6)
    assert calls == [True]
    # inside the caller's jit, and under eager grad and vmap (their rules trace the program
    # into theirs), JAX refuses options: the program without them runs
    np.testing.assert_allclose(jax.jit(program)(x), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(program)(x), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.grad(lambda x: program(x).sum())(x), 2 * np.cos(x), rtol=1e-6)
    assert calls == [True, False, False, False]


def test_an_option_the_jaxlib_does_not_know_falls_back_for_good(monkeypatch):
    monkeypatch.setattr(compile_module, "OPTIONS", {"xla_cpu_no_such_option": False})
    monkeypatch.setattr(compile_module, "_known", True)
    program = jit(lambda x: x + 1)
    np.testing.assert_array_equal(program(jnp.arange(3.0)), [1.0, 2.0, 3.0])
    assert compile_module._known is False
    np.testing.assert_array_equal(program(jnp.arange(2.0)), [1.0, 2.0])


def test_other_compile_errors_are_not_swallowed(monkeypatch):
    def transform(fn, **kwargs):
        def fail(*args):
            raise jax.errors.JaxRuntimeError("INTERNAL: something else")

        return fail

    monkeypatch.setattr(compile_module, "_known", True)
    with pytest.raises(jax.errors.JaxRuntimeError, match="something else"):
        jit(lambda x: x, transform=transform)(jnp.ones(2))
    assert compile_module._known is True


def _gp_log_probability(amp, t, y):
    gp = GaussianProcess(QuasiPeriodic(amp, 30.0, 12.0, 1.0), t, diag=1.0)
    return gp.log_probability(y)


def test_entry_points_give_the_numbers_of_xla_defaults(dtype):
    """Called eagerly, an entry point is diffkern's program (with the options); inside the
    caller's jit, XLA's defaults compile it: the two agree to a few ulp (measured: equal)."""
    rng = np.random.default_rng(0)
    t = jnp.asarray(np.sort(rng.uniform(0, 200, 150)), dtype)
    y = jnp.asarray(rng.normal(size=150), dtype)
    amp = jnp.asarray(2.0, dtype)
    mean_anomaly = jnp.asarray(rng.uniform(-10, 10, 300), dtype)
    ecc = jnp.asarray(rng.uniform(0, 0.99, 300), dtype)
    eps = float(jnp.finfo(dtype).eps)
    pairs = [
        (_gp_log_probability(amp, t, y), jax.jit(_gp_log_probability)(amp, t, y), 1e3 * eps),
        (kepler(mean_anomaly, ecc), jax.jit(kepler)(mean_anomaly, ecc), 4 * eps),
    ]
    for eager, jitted, atol in pairs:
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=4 * eps, atol=atol)
