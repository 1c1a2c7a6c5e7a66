"""Quasiseparable GP log-likelihood, Matern-3/2 + white noise, float64: diffkern vs peers.

diffkern runs twice on the default device: ``Quasisep(method="sequential")`` (library
"diffkern": ``lax.scan``, the hand-written gradient) and ``method="parallel"``
("diffkern:parallel": parallel-in-time Kalman filter, O(log N) depth, gradients through the
scans).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.conftest import MODE, sizes
from diffkern.gp import Matern32, Quasisep
from diffkern.precision import float64

PARAMS = np.array([0.3, -0.2, -1.5])  # log scale, log amplitude, log noise


def _data(n):
    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(0, n / 10, n))
    return t, rng.normal(size=n)


def _diffkern(method):
    def log_probability(p, t, y):
        kernel = jnp.exp(2 * p[1]) * Matern32(jnp.exp(p[0]))
        return Quasisep(method=method).log_probability(kernel, t, jnp.exp(2 * p[2]), y)

    return log_probability


_reference = jax.jit(jax.value_and_grad(_diffkern("sequential")))


def _tinygp(p, t, y):
    import tinygp
    from tinygp.kernels.quasisep import Matern32 as TinyMatern32

    kernel = TinyMatern32(scale=jnp.exp(p[0]), sigma=jnp.exp(p[1]))
    return tinygp.GaussianProcess(kernel, t, diag=jnp.exp(2 * p[2])).log_probability(y)


FUNCTIONS = {
    "diffkern": _diffkern("sequential"),
    "diffkern:parallel": _diffkern("parallel"),
    "tinygp": _tinygp,
}


@pytest.fixture(autouse=True)
def _x64():
    with float64():
        yield


# Quick mode leaves out the parallel-in-time variant on the CPU, where it is slower and its
# gradient is the longest compile of the suite; it is for accelerators.
QUICK_LIBRARIES = [lib for lib in FUNCTIONS if lib != "diffkern:parallel"]


@pytest.mark.parametrize("n", sizes([1_000, 10_000, 100_000, 1_000_000]))
@pytest.mark.parametrize("what", ["value", "value+grad"])
@pytest.mark.parametrize(
    "library",
    QUICK_LIBRARIES if MODE == "quick" and jax.default_backend() == "cpu" else list(FUNCTIONS),
)
def test_quasisep_matern32(bench, library, what, n):
    if not library.startswith("diffkern"):
        pytest.importorskip(library)
    t, y = (jnp.asarray(a) for a in _data(n))
    p = jnp.asarray(PARAMS)
    f = FUNCTIONS[library]
    fn = jax.jit(f if what == "value" else jax.value_and_grad(f))
    reference = _reference(p, t, y)
    result = bench(fn, p, t, y, group=f"gp quasisep {what} float64 N={n}", library=library, n=n)
    value, grad = (result, None) if what == "value" else result
    np.testing.assert_allclose(value, reference[0], rtol=1e-10)
    if grad is not None:
        np.testing.assert_allclose(grad, reference[1], rtol=1e-8)


@pytest.mark.parametrize("n", sizes([10_000, 100_000], quick=[1_000]))
def test_quasisep_matern32_celerite2(bench, n):
    celerite2 = pytest.importorskip("celerite2")
    t, y = _data(n)
    scale, amplitude, noise = np.exp(PARAMS)
    # celerite2's Matern-3/2 is an approximation (eps); at eps=1e-5 it agrees to ~1e-6.
    term = celerite2.terms.Matern32Term(sigma=amplitude, rho=scale, eps=1e-5)

    def value(t, y):
        gp = celerite2.GaussianProcess(term, t=t, diag=np.full(n, noise**2))
        return gp.log_likelihood(y)

    reference = _reference(jnp.asarray(PARAMS), jnp.asarray(t), jnp.asarray(y))[0]
    result = bench(value, t, y, group=f"gp quasisep value float64 N={n}", library="celerite2", n=n)
    np.testing.assert_allclose(result, reference, rtol=1e-4)


@pytest.mark.filterwarnings("ignore:.*x64")  # celerite2.jax warns at import when x64 is off
@pytest.mark.parametrize("n", sizes([10_000, 100_000], quick=[1_000]))
@pytest.mark.parametrize("what", ["value", "value+grad"])
def test_quasisep_matern32_celerite2_jax(bench, what, n):
    pytest.importorskip("celerite2")
    celerite2_jax = pytest.importorskip("celerite2.jax")
    t, y = (jnp.asarray(a) for a in _data(n))

    def f(p):
        term = celerite2_jax.terms.Matern32Term(sigma=jnp.exp(p[1]), rho=jnp.exp(p[0]), eps=1e-5)
        diag = jnp.full(n, jnp.exp(2 * p[2]))
        return celerite2_jax.GaussianProcess(term, t=t, diag=diag).log_likelihood(y)

    p = jnp.asarray(PARAMS)
    fn = jax.jit(f if what == "value" else jax.value_and_grad(f))
    reference = _reference(p, t, y)
    group = f"gp quasisep {what} float64 N={n}"
    result = bench(fn, p, group=group, library="celerite2:jax", n=n)
    value, grad = (result, None) if what == "value" else result
    np.testing.assert_allclose(value, reference[0], rtol=1e-4)
    if grad is not None:
        np.testing.assert_allclose(grad, reference[1], rtol=1e-3)


@pytest.mark.parametrize("n", sizes([1_000, 1_000_000], quick=[1_000]))
@pytest.mark.parametrize(
    "library",
    QUICK_LIBRARIES if MODE == "quick" and jax.default_backend() == "cpu" else list(FUNCTIONS),
)
def test_quasisep_matern32_compile(bench_compile, library, n):
    """Compile time of the value+grad program: sequential and parallel, tinygp as the peer."""
    if not library.startswith("diffkern"):
        pytest.importorskip(library)
    t, y = (jnp.asarray(a) for a in _data(n))
    fn = jax.jit(jax.value_and_grad(FUNCTIONS[library]))
    group = f"compile gp quasisep value+grad float64 N={n}"
    bench_compile(fn, jnp.asarray(PARAMS), t, y, group=group, library=library, n=n)
