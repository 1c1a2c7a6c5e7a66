"""Strict settings for the whole suite: no silent dtype or rank promotion, warnings are errors.

The suite runs twice in CI (``ci/test.sh``), with ``JAX_ENABLE_X64=0`` and ``=1``. Tests
parametrised with the ``dtype`` fixture run in both float32 and float64 either way: float64
cases enable x64 for their duration with :func:`diffkern.precision.float64`.

Two settings keep the two passes fast without dropping a check (both set by ``ci/test.sh``):

* ``DIFFKERN_TESTS_DEDUPE=1`` in the x64 pass skips what runs exactly as in the first pass:
  tests that enable float64 themselves (the ``x64`` fixture, the float64 case of ``dtype``) and
  the modules in ``PRECISION_INDEPENDENT`` (the command line, which computes in float64
  whatever the mode, the layering, trace files, the persistent cache's mechanics).
* A persistent compilation cache (``JAX_COMPILATION_CACHE_DIR``) shared by both passes and by
  the test workers: a program compiled once is loaded after. Modules in ``FRESH_COMPILES``
  assert exact backend compile counts, which a cache hit would change, and so do tests marked
  ``counts_compiles``: each of them runs with the persistent cache switched off and JAX's
  in-memory caches cleared, so it compiles what a fresh process would (in the same pass,
  without a pytest start of its own).

Hypothesis runs derandomised (the same examples every run, so a run never stalls shrinking a
new failure) unless ``HYPOTHESIS_PROFILE=nightly``, which draws new examples every run.
"""

import os

import jax
import jax.numpy as jnp
import pytest
from hypothesis import settings
from jax.experimental.compilation_cache import compilation_cache

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
    "test_cli_fit_many_distributed",
    "test_demo",
    "test_jit_cache",
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
    for item in items:
        if _module(item) in FRESH_COMPILES:
            item.add_marker(pytest.mark.counts_compiles)
        if dedupe and _same_as_first_pass(item):
            item.add_marker(same)


_after_counting = [False]  # whether this worker's previous test counted compiles


@pytest.fixture(autouse=True)
def _fresh_compiles(request, monkeypatch):
    """For a test marked ``counts_compiles``: no persistent cache (nor for the processes it
    starts), and no compiled program kept in memory from earlier tests that do not count
    (those that do compiled theirs without the cache too: kept, as in a process of their
    own); restored afterwards."""
    counting = request.node.get_closest_marker("counts_compiles") is not None
    after_counting, _after_counting[0] = _after_counting[0], counting
    if not counting:
        yield
        return
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    directory = jax.config.jax_compilation_cache_dir
    jax.config.update("jax_compilation_cache_dir", None)
    compilation_cache.reset_cache()
    if not after_counting:
        jax.clear_caches()
    try:
        yield
    finally:
        jax.config.update("jax_compilation_cache_dir", directory)
        compilation_cache.reset_cache()


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
