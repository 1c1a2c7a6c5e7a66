"""BLAS threads of JAX's CPU solvers: one inside diffkern's fits, the user's choice kept."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info, threadpool_limits

import diffkern
from diffkern.fit import laplace, minimize
from diffkern.gp import GaussianProcess, Matern32

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU BLAS threads")


def _threads() -> set[int]:
    """The thread counts of the BLAS libraries loaded now (SciPy's, which jaxlib calls, too)."""
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


def _loss(p, t, y):
    return -GaussianProcess(p[0] * Matern32(p[1]), t, diag=0.1, solver="cholesky").log_probability(
        y
    )


def _data(dtype):
    t = jnp.linspace(0.0, 10.0, 24, dtype=dtype)
    return t, jnp.sin(t)


@pytest.fixture
def no_user_setting(monkeypatch):
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)


def test_lapack_threads_sets_and_restores():
    before = _threads()
    with diffkern.lapack_threads(1):
        assert _threads() == {1}
    assert _threads() == before
    with diffkern.lapack_threads(np.int64(1)):  # NumPy integers too
        assert _threads() == {1}
    assert _threads() == before


@pytest.mark.parametrize("threads", [0, -1, 1.5, True, "2", None])
def test_lapack_threads_rejects_bad_counts(threads):
    """Below 1: ValueError; not an int: TypeError (under the test suite's run-time type
    checks, from the annotation), each naming the argument."""
    error = ValueError if isinstance(threads, int) and not isinstance(threads, bool) else TypeError
    with pytest.raises(error, match="threads"):
        with diffkern.lapack_threads(threads):
            pass


@settings(max_examples=30, deadline=None)
@given(
    st.one_of(
        st.integers(-3, 64),
        st.floats(allow_nan=True),
        st.booleans(),
        st.none(),
        st.text(max_size=2),
    )
)
def test_lapack_threads_contract(threads):
    """Any argument: an error naming it (TypeError for a non-int, ValueError below 1), or every
    BLAS library at between 1 and ``threads`` threads inside the block; restored after."""
    before = _threads()
    is_int = isinstance(threads, int) and not isinstance(threads, bool)
    if not is_int or threads < 1:
        with pytest.raises(ValueError if is_int else TypeError, match="threads"):
            with diffkern.lapack_threads(threads):
                pass
    else:
        with diffkern.lapack_threads(threads):
            assert all(1 <= n <= threads for n in _threads())
    assert _threads() == before


def test_fits_run_with_one_blas_thread_then_restore(no_user_setting, dtype):
    """minimize's callback runs inside the fit; laplace and the result are unchanged."""
    t, y = _data(dtype)
    seen = []
    before = _threads()
    options = dict(args=(t, y), progress=False, chunks=2)
    record = lambda *_: seen.append(_threads())
    start = jnp.array([1.0, 2.0], dtype)
    fit = minimize(_loss, start, optax.adam(0.05), steps=20, callback=record, **options)
    assert seen == [{1}, {1}]
    assert _threads() == before
    with diffkern.lapack_threads(2):  # the user's choice is kept inside the fit
        again = minimize(_loss, start, optax.adam(0.05), steps=20, callback=record, **options)
    assert seen[2:] == [{2}, {2}]
    rtol = 1e-5 if dtype == jnp.float32 else 1e-12
    np.testing.assert_allclose(again.params, fit.params, rtol=rtol)
    approx = laplace(_loss, fit.params, t, y)
    assert _threads() == before
    assert np.all(np.isfinite(np.asarray(approx.cov)))


def test_a_user_environment_setting_is_kept(monkeypatch, dtype):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    t, y = _data(dtype)
    seen = []
    with threadpool_limits(2, user_api="blas"):
        minimize(_loss, jnp.array([1.0, 2.0], dtype), optax.adam(0.05), steps=2, args=(t, y),
                 progress=False, callback=lambda *_: seen.append(_threads()))  # fmt: skip
    assert seen and all(s == {2} for s in seen)
