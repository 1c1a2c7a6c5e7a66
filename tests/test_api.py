"""The public API: top-level re-exports, the callable ``diffkern.kepler`` package, docstrings."""

import importlib
import inspect

import jax.numpy as jnp
import numpy as np
import pytest

import diffkern

SUBPACKAGES = [
    "fit",
    "gp",
    "implicit",
    "jit",
    "kepler",
    "orbits",
    "precision",
    "profile",
    "regression",
    "scan",
    "testing",
]


def test_top_level_names_are_the_subpackage_ones():
    assert diffkern.eccentric_anomaly is diffkern.kepler.eccentric_anomaly
    assert diffkern.KeplerSolver is diffkern.kepler.KeplerSolver
    assert diffkern.radial_velocity is diffkern.orbits.radial_velocity
    assert diffkern.GaussianProcess is diffkern.gp.GaussianProcess
    assert diffkern.linear_recurrence is diffkern.scan.linear_recurrence
    assert diffkern.count_compiles is diffkern.jit.count_compiles


def test_kepler_package_is_callable_as_the_kepler_function():
    M, e = jnp.asarray([0.3, 2.0]), jnp.asarray([0.1, 0.9])
    sin_f, cos_f = diffkern.kepler(M, e)
    expected = diffkern.kepler.kepler(M, e)
    np.testing.assert_array_equal(sin_f, expected[0])
    np.testing.assert_array_equal(cos_f, expected[1])
    assert inspect.ismodule(diffkern.kepler)


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_public_name_is_documented(name):
    module = importlib.import_module(f"diffkern.{name}")
    assert module.__doc__
    public = [n for n in dir(module) if not n.startswith("_")]
    for attr in public:
        obj = getattr(module, attr)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__.startswith(
            "diffkern"
        ):
            assert obj.__doc__, f"diffkern.{name}.{attr} has no docstring"
