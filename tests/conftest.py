"""Strict settings for the whole suite: no silent dtype or rank promotion, warnings are errors.

The suite runs twice in CI (``ci/test.sh``), with ``JAX_ENABLE_X64=0`` and ``=1``. Tests
parametrised with the ``dtype`` fixture run in both float32 and float64 either way: float64
cases enable x64 for their duration with :func:`diffkern.precision.float64`.

Two settings keep the two passes fast without dropping a check (both set by ``ci/test.sh``):

* ``DIFFKERN_TESTS_DEDUPE=1`` in the x64 pass skips what runs exactly as in the first pass:
  tests that enable float64 themselves (the ``x64`` fixture, the float64 case of ``dtype``) and
  the modules in ``PRECISION_INDEPENDENT`` (the command line, the layering, trace files).
* A persistent compilation cache (``JAX_COMPILATION_CACHE_DIR``) shared by both passes and by
  the test workers: a program compiled once is loaded after. Modules in ``FRESH_COMPILES``
  assert exact backend compile counts, which a cache hit would change, and so do tests marked
  ``counts_compiles``: while the cache is on they are skipped, and ``ci/test.sh`` runs them
  (``-m counts_compiles``) in passes of their own without it.

Hypothesis runs derandomised (the same examples every run, so a run never stalls shrinking a
new failure) unless ``HYPOTHESIS_PROFILE=nightly``, which draws new examples every run.
"""

import os

import jax
import jax.numpy as jnp
import pytest
from hypothesis import settings

from diffkern.precision import float64, x64_enabled

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")

settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("nightly", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

PRECISION_INDEPENDENT = {
    "test_api",
    "test_architecture",
    "test_bench",
    "test_cli",
    "test_demo",
    "test_profile_cli",
    "test_profile_trace",
}
FRESH_COMPILES = {
    "test_jit_buckets",
    "test_jit_checks",
    "test_jit_count",
    "test_jit_explain",
    "test_jit_kernels",
    "test_kepler_api",
    "test_profile_cli",
    "test_profile_trace",
    "test_workflows",
}


def _module(item: pytest.Item) -> str:
    return item.path.stem


def _same_as_first_pass(item: pytest.Item) -> bool:
    params = getattr(item, "callspec", None)
    float64_case = params is not None and params.params.get("dtype") == "float64"
    return "x64" in item.fixturenames or float64_case or _module(item) in PRECISION_INDEPENDENT


@pytest.hookimpl(tryfirst=True)  # before ``-m`` selects by marker
def pytest_collection_modifyitems(config, items):
    dedupe = os.environ.get("DIFFKERN_TESTS_DEDUPE") == "1" and x64_enabled()
    same = pytest.mark.skip(reason="runs exactly as in the JAX_ENABLE_X64=0 pass")
    cached = pytest.mark.skip(reason="counts compiles: runs where no persistent cache is set")
    for item in items:
        if _module(item) in FRESH_COMPILES:
            item.add_marker(pytest.mark.counts_compiles)
        if dedupe and _same_as_first_pass(item):
            item.add_marker(same)
        elif os.environ.get("JAX_COMPILATION_CACHE_DIR") and item.get_closest_marker(
            "counts_compiles"
        ):
            item.add_marker(cached)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Run a test once per dtype; float64 cases run with x64 enabled."""
    if request.param == "float64":
        with float64():
            yield jnp.float64
    else:
        yield jnp.float32


@pytest.fixture
def x64():
    """Run a test with x64 enabled (gradient checks by finite differences need float64)."""
    with float64():
        yield
