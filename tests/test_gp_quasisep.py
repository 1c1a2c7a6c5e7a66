"""The quasiseparable solver against dense float64 references, peers, and its own contracts."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from diffkern.gp import SHO, Constant, Cosine, Exp, ExpSquared, Matern32, Matern52, Quasisep
from diffkern.gp._state_space import state_space
from diffkern.jit import count_compiles
from diffkern.testing import check_grads, tolerance

# Compiled once per kernel structure and size: eager calls would compile op by op.
_logp = jax.jit(Quasisep().log_probability)
_solve = jax.jit(Quasisep().solve)


def _kernels():
    return {
        "exp": Exp(0.7),
        "matern32": Matern32(1.3),
        "matern52": Matern52(0.4),
        "cosine+exp": Cosine(1.7) + Exp(1.0),
        "constant+matern32": Constant(2.0) + Matern32(1.0),
        "sho-under": SHO(2.0, 3.0, 1.5),
        "sho-critical": SHO(2.0, 0.5, 1.5),
        "sho-near-critical": SHO(2.0, 0.5005, 1.5),
        "sho-over": SHO(2.0, 0.2, 1.5),
        "matern32+sho": Matern32(1.0) + SHO(1.0, 2.0, 0.5),
        "scaled-product": 2.0 * Matern52(1.0) * Cosine(3.0),
    }


KERNELS = list(_kernels())


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 10, n))
    return t, rng.uniform(0.1, 0.3, n), rng.normal(size=n)


@jax.jit
def _kernel_matrix(kernel, t):
    return kernel.evaluate(jnp.abs(t[:, None] - t[None, :]))


def _dense(kernel, t, diag, r):
    """Textbook log N(r | 0, K + D) and (K + D)^{-1} r with scipy, float64 (``kernel``: a kernel,
    or its matrix at ``t``)."""
    K = np.asarray(kernel if isinstance(kernel, jax.Array) else _kernel_matrix(kernel, t))
    factor = scipy.linalg.cho_factor(K + np.diag(diag), lower=True)
    alpha = scipy.linalg.cho_solve(factor, r)
    logdet = 2 * np.sum(np.log(np.diag(factor[0])))
    return -0.5 * (r @ alpha + logdet + len(t) * np.log(2 * np.pi)), alpha


def _dense_jax(kernel, t, diag, r):
    """The same log-probability in JAX, for reference gradients by autodiff."""
    K = kernel.evaluate(jnp.abs(t[:, None] - t[None, :])) + jnp.diag(diag)
    L = jnp.linalg.cholesky(K)
    z = jax.scipy.linalg.solve_triangular(L, r, lower=True)
    return -0.5 * (z @ z) - jnp.sum(jnp.log(jnp.diag(L))) - 0.5 * t.shape[0] * np.log(2 * np.pi)


@functools.cache
def _forms(dtype):
    """Per kernel: h^T A(tau) P h and k(tau) at 41 lags in [0, 4], every kernel in one program
    (per dtype)."""

    @jax.jit
    def forms(tau):
        out = {}
        for name, kernel in _kernels().items():
            ss = state_space(kernel, dtype)
            k = jnp.einsum("i,nij,jk,k->n", ss.h, ss.transition(tau), ss.pinf, ss.h)
            out[name] = k, kernel.evaluate(tau)
        return out

    return forms(np.linspace(0, 4, 41, dtype=dtype))


@pytest.mark.parametrize("name", KERNELS)
def test_state_space_reproduces_kernel(name, dtype):
    k, expected = _forms(dtype)[name]
    assert k.dtype == dtype
    np.testing.assert_allclose(k, expected, atol=tolerance(dtype, float32=2e-6, float64=1e-14))


@jax.jit
def _logp_solve_and_matrix(kernel, t, diag, r):
    """Log-probability, solve and the kernel matrix for :func:`_dense`, in one program."""
    K = kernel.evaluate(jnp.abs(t[:, None] - t[None, :]))
    return Quasisep().log_probability(kernel, t, diag, r), Quasisep().solve(kernel, t, diag, r), K


@pytest.mark.parametrize("name", KERNELS)
def test_matches_dense_float64(name, x64):
    kernel = _kernels()[name]
    t, diag, r = _data(40)
    logp, alpha, K = _logp_solve_and_matrix(kernel, t, diag, r)
    value, expected = _dense(K, t, diag, r)
    np.testing.assert_allclose(logp, value, rtol=1e-12)
    np.testing.assert_allclose(alpha, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["matern32+sho", "scaled-product"])
def test_gradients_match_dense_autodiff(name, x64):
    kernel = _kernels()[name]
    t, diag, r = (jnp.asarray(a) for a in _data(30, seed=1))
    args = (kernel, t, diag, r)
    grads = [jax.grad(f, argnums=(0, 1, 2, 3)) for f in (_logp, _dense_jax)]
    got, want = jax.jit(lambda *args: [g(*args) for g in grads])(*args)  # one program
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10 * np.max(np.abs(w)))


def test_forward_mode_equals_reverse(x64):
    t, diag, r = (jnp.asarray(a) for a in _data(30, seed=2))

    def f(p):
        return _logp(Matern32(p[0]) + Exp(p[1]), t, diag * p[2], r)

    p = jnp.array([1.0, 1.5, 1.0])
    v = jnp.array([0.3, -0.2, 0.5])
    tangent, grad = jax.jit(lambda p, v: (jax.jvp(f, (p,), (v,))[1], jax.grad(f)(p)))(p, v)
    np.testing.assert_allclose(tangent, grad @ v, rtol=1e-12)


def test_check_grads_order_two(x64):
    t, diag, r = (jnp.asarray(a) for a in _data(6, seed=3))

    def f(scale, omega, r):
        return _logp(Exp(scale) + SHO(omega, 0.9, 0.5), t, diag, r)

    # First order in both modes; second order in reverse over reverse mode, which JAX computes
    # by differentiating the first-order reverse pass (the hand-written gradient's scans) in
    # forward mode and transposing that.
    args = (jnp.array(0.8), jnp.array(1.3), r)
    check_grads(f, args, order=1, modes=("fwd",))
    check_grads(f, args, order=2, modes=("rev",))


def test_solve_gradients(x64):
    t, diag, r = (jnp.asarray(a) for a in _data(8, seed=4))

    @jax.jit
    def f(scale, t, diag, r):
        return _solve(Matern32(scale), t, diag, r)

    check_grads(f, (jnp.array(0.8), t, diag, r), order=1)


def test_mask_points_contribute_nothing(x64):
    kernel = Matern32(0.9) + Cosine(2.5)
    t, diag, r = _data(30, seed=5)
    keep = np.random.default_rng(6).uniform(size=30) > 0.3
    keep[0] = False
    t_padded = np.where(keep, t, np.nan)  # masked times may be anything

    @jax.jit  # one program
    def masked_and_kept(t_padded, diag, r, keep, kept):
        masked = (
            _logp(kernel, t_padded, diag, r, mask=keep),
            _solve(kernel, t_padded, diag, r, mask=keep),
            jax.grad(_logp, argnums=(1, 2, 3))(kernel, t_padded, diag, r, keep),
        )
        return masked, (_logp(kernel, *kept), _solve(kernel, *kept))

    (value, alpha, grads), (expected, expected_alpha) = masked_and_kept(
        t_padded, diag, r, keep, (t[keep], diag[keep], r[keep])
    )
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(alpha[keep], expected_alpha, rtol=1e-10)
    assert np.all(np.asarray(alpha)[~keep] == 0)
    for g in grads:
        assert np.all(np.isfinite(g)) and np.all(np.asarray(g)[~keep] == 0)


def test_unsorted_times_raise(x64):
    t, diag, r = _data(10)
    with pytest.raises(Exception, match="sorted"):
        jax.block_until_ready(_logp(Exp(1.0), t[::-1], diag, r))
    with pytest.raises(Exception, match="sorted"):
        jax.jit(_solve)(Exp(1.0), t[::-1], diag, r).block_until_ready()


def test_non_positive_pivot_raises(x64):
    t = np.array([0.0, 1.0, 1.0, 2.0])  # a repeated time with no noise: singular
    with pytest.raises(Exception, match="not positive definite"):
        jax.block_until_ready(_logp(Exp(1.0), t, 0.0, np.ones(4)))


def test_bad_arguments():
    assert (Matern32(1.0) * Cosine(2.0) + 3.0 * SHO(1.0, 1.0, 1.0)).has_state_space()
    assert not (Matern32(1.0) + ExpSquared(1.0)).has_state_space()
    with pytest.raises(TypeError, match="ExpSquared"):
        _logp(ExpSquared(1.0), np.arange(3.0), 0.1, np.ones(3))
    with pytest.raises((TypeError, ValueError)):  # jaxtyping or the function itself
        _logp(Exp(1.0), np.arange(3.0), 0.1, np.ones(4))
    with pytest.raises((TypeError, ValueError)):
        _logp(Exp(1.0), np.arange(3.0), np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="mask"):
        _logp(Exp(1.0), np.arange(3.0), 0.1, np.ones(3), mask=np.ones(3))


def test_float32_well_conditioned():
    kernel = Matern32(jnp.float32(1.0)) + SHO(jnp.float32(2.0), jnp.float32(0.5), jnp.float32(0.5))
    t, diag, r = (a.astype(np.float32) for a in _data(200, seed=7))
    value, grad = jax.jit(jax.value_and_grad(Quasisep().log_probability))(kernel, t, diag, r)
    assert value.dtype == jnp.float32
    expected, _ = _dense(kernel, *(a.astype(np.float64) for a in (t, diag, r)))
    np.testing.assert_allclose(value, expected, rtol=2e-5)
    assert all(np.all(np.isfinite(g)) for g in jax.tree.leaves(grad))


def test_new_data_does_not_recompile(dtype):
    f = jax.jit(jax.value_and_grad(_logp))
    batches = [_data(50, seed=s) for s in range(3)]
    kernels = [Matern32(jnp.asarray(s, dtype)) for s in (0.5, 1.0, 2.0)]
    data = [tuple(jnp.asarray(a, dtype) for a in b) for b in batches]
    jax.block_until_ready(f(kernels[0], *data[0]))
    with count_compiles() as counts:
        for k, d in zip(kernels[1:], data[1:]):
            jax.block_until_ready(f(k, *d))
    assert counts.compiles == 0


@settings(max_examples=15, deadline=None)
@given(
    omega=st.floats(0.1, 10.0),
    quality=st.floats(0.05, 20.0),
    n=st.sampled_from([2, 17, 40]),
)
def test_sho_any_quality_matches_dense(omega, quality, n):
    with jax.enable_x64(True):
        kernel = SHO(omega, quality, 1.0)
        t, diag, r = _data(n, seed=n)
        logp, _, K = _logp_solve_and_matrix(kernel, t, diag, r)  # N = 40: the program above
        value, _ = _dense(K, t, diag, r)
        np.testing.assert_allclose(logp, value, rtol=1e-11)


def test_matches_tinygp(x64):
    tinygp = pytest.importorskip("tinygp")
    from tinygp.kernels import quasisep as qs

    t, diag, r = (jnp.asarray(a) for a in _data(60, seed=8))

    def ours(p):
        k = p[0] ** 2 * Matern32(p[1]) + SHO(p[2], p[3], p[4])
        return _logp(k, t, diag, r)

    def theirs(p):
        k = qs.Matern32(scale=p[1], sigma=p[0]) + qs.SHO(omega=p[2], quality=p[3], sigma=p[4])
        return tinygp.GaussianProcess(k, t, diag=diag).log_probability(r)

    p = jnp.array([0.8, 1.2, 2.0, 3.0, 0.6])
    (v1, g1), (v2, g2) = jax.jit(lambda p: [jax.value_and_grad(f)(p) for f in (ours, theirs)])(p)
    np.testing.assert_allclose(v1, v2, rtol=1e-10)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)


@pytest.mark.parametrize("quality", [0.2, 3.0])
def test_matches_celerite2(quality, x64):
    celerite2 = pytest.importorskip("celerite2")
    t, diag, r = _data(60, seed=9)
    term = celerite2.terms.SHOTerm(w0=2.0, Q=quality, sigma=0.7) + celerite2.terms.SHOTerm(
        w0=0.5, Q=1.5, sigma=1.1
    )
    gp = celerite2.GaussianProcess(term, t=t, diag=diag)
    kernel = SHO(2.0, quality, 0.7) + SHO(0.5, 1.5, 1.1)
    np.testing.assert_allclose(_logp(kernel, t, diag, r), gp.log_likelihood(r), rtol=1e-10)
