"""The public API: top-level re-exports, the callable ``diffkern.kepler`` package, docstrings,
the version, and the import layers (the library never imports the application)."""

import ast
import importlib
import importlib.metadata
import inspect
from pathlib import Path

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
    "transit",
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


def test_version_comes_from_the_package_metadata():
    assert diffkern.__version__ == importlib.metadata.version("diffkern")


PACKAGE = Path(diffkern.__file__).parent


def _imported(path: Path) -> set[str]:
    """Absolute module names a source file imports (``from a import b`` gives ``a`` and ``a.b``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _sources(*parts: str) -> list[Path]:
    return sorted(PACKAGE.joinpath(*parts).rglob("*.py"))


def test_the_library_never_imports_the_application():
    cli = PACKAGE / "cli"
    for path in _sources():
        if cli not in path.parents:
            bad = {
                n for n in _imported(path) if n == "diffkern.cli" or n.startswith("diffkern.cli.")
            }
            assert not bad, f"{path.relative_to(PACKAGE.parent)} imports {bad}"


@pytest.mark.parametrize("package", ["cli", "profile"])
def test_observers_and_the_application_use_public_names_only(package):
    """No import of another package's private module or name (``diffkern.jit._watch``, ...)."""
    for path in _sources(package):
        for name in _imported(path):
            parts = name.split(".")
            if parts[0] != "diffkern" or parts[1] == package:
                continue
            assert not any(p.startswith("_") for p in parts[1:]), (
                f"{path.relative_to(PACKAGE.parent)} imports the private {name}"
            )
