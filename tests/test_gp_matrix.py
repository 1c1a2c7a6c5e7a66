"""kernel_matrix: the value of kernel(X), derivatives by row blocks equal to plain autodiff."""

import math

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.gp import SHO, ExpSquared, GaussianProcess, Kernel, Matern32, QuasiPeriodic, _matrix
from diffkern.gp._dense import _cho_inverse
from diffkern.gp._matrix import kernel_matrix
from diffkern.testing import check_grads, tolerance


class _Rational(Kernel):
    """A user kernel: k = (1 + tau^2 / (2 a l^2))^(-a)."""

    alpha: jax.Array
    scale: jax.Array

    def evaluate(self, tau):
        return (1 + tau * tau / (2 * self.alpha * self.scale**2)) ** (-self.alpha)


_KERNELS = {
    "scaled": lambda: 1.5 * Matern32(0.7),
    "sum-product": lambda: 0.5 * ExpSquared(1.1) * Matern32(2.0) + SHO(2.0, 3.0, 0.8),
    "quasiperiodic": lambda: QuasiPeriodic(1.2, 3.0, 1.7, 0.9),
    "user": lambda: _Rational(jnp.asarray(1.3), jnp.asarray(0.6)),
}


@pytest.fixture
def small_blocks(monkeypatch):
    """Blocks of 16 rows from any N, so that small N runs several blocks and a padded last one."""
    monkeypatch.setattr(_matrix, "_ROWS", 16)
    monkeypatch.setattr(_matrix, "_UNBLOCKED", 0)


def _inputs(n, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return jnp.asarray(np.sort(rng.uniform(0, 10, n)), dtype)


def _weights(n, dtype=np.float64):
    W = np.random.default_rng(1).normal(size=(n, n))
    return jnp.asarray(W + W.T, dtype)


@jax.jit
def _values(kernel, X):
    """The value, the one under derivatives, and kernel(X), in one program."""
    return kernel_matrix(kernel, X), _matrix._blocked(kernel, X), kernel(X)


@pytest.mark.parametrize("n", [10, 50, 64])  # one block; blocks and a padded one; whole blocks
def test_value_is_kernel_of_x(small_blocks, dtype, n):
    kernel, X = _KERNELS["sum-product"](), _inputs(n, dtype)
    rtol = tolerance(dtype, float32=1e-6, float64=1e-15)
    *outs, expected = _values(kernel, X)
    for out in outs:
        assert out.shape == (n, n) and out.dtype == X.dtype
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", sorted(_KERNELS))
def test_reverse_matches_autodiff_of_kernel(x64, small_blocks, name):
    n = 50  # four blocks, the last one padded
    kernel, X, W = _KERNELS[name](), _inputs(n), _weights(n)

    def loss(matrix):
        return jax.jit(jax.grad(lambda k, x: jnp.sum(W * matrix(k, x)), argnums=(0, 1)))

    got = loss(kernel_matrix)(kernel, X)
    want = loss(lambda k, x: k(x))(kernel, X)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-11, atol=1e-11 * np.max(np.abs(w)))


@pytest.mark.parametrize("name", sorted(_KERNELS))
def test_check_grads_second_order(x64, small_blocks, name):
    """Every kernel: first and second order in forward mode, first order in reverse mode.
    Second order in reverse over reverse mode (through the same blocks for any kernel, and
    the costliest to compile) for the user kernel."""
    kernel, X, W = _KERNELS[name](), _inputs(40), _weights(40)
    params, rebuild = jax.flatten_util.ravel_pytree(kernel)

    @jax.jit
    def f(p, x):
        return jnp.sum(W * kernel_matrix(rebuild(jnp.asarray(p)), jnp.asarray(x)))

    check_grads(f, (params, X), order=2, modes=("fwd",))
    check_grads(f, (params, X), order=2 if name == "user" else 1, modes=("rev",))


def test_forward_mode_and_vmap(small_blocks, dtype):
    kernel = _KERNELS["scaled"]()
    X = jnp.stack([_inputs(40, dtype, seed) for seed in range(3)])
    dX = jnp.ones_like(X)

    @jax.jit  # one program, not one per operation
    def tangents(X, dX):
        ours = jax.vmap(lambda x, t: jax.jvp(lambda x: kernel_matrix(kernel, x), (x,), (t,)))
        plain = jax.vmap(lambda x, t: jax.jvp(kernel, (x,), (t,)))
        return ours(X, dX)[1], plain(X, dX)[1]

    got, want = tangents(X, dX)
    rtol = tolerance(dtype, float32=1e-5, float64=1e-13)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * float(jnp.max(jnp.abs(want))))


def test_one_fused_pass_off_cpu(x64, monkeypatch):
    """Blocks are a CPU cache choice: on other platforms the derivative is that of kernel(X)."""
    monkeypatch.setattr(_matrix, "_UNBLOCKED", 0)
    kernel, X = _KERNELS["scaled"](), _inputs(300)

    def loops(name):
        monkeypatch.setattr(_matrix, "platform", lambda *_: name)
        jaxpr = str(jax.make_jaxpr(jax.grad(lambda k: jnp.sum(kernel_matrix(k, X))))(kernel))
        return "scan[" in jaxpr or "while[" in jaxpr

    assert loops("cpu") and not loops("gpu")


@pytest.mark.parametrize(("n", "block"), [(7, 8), (37, 8), (64, 16), (300, 256)])
def test_cho_inverse(x64, n, block):
    """C^{-1} by 2 x 2 blocks (recursing down to ``block``) equals numpy's inverse."""
    A = np.random.default_rng(2).normal(size=(n, n))
    C = A @ A.T + n * np.eye(n)
    got = jax.jit(_cho_inverse, static_argnums=1)(jnp.linalg.cholesky(jnp.asarray(C)), block)
    np.testing.assert_allclose(got, np.linalg.inv(C), rtol=1e-12, atol=1e-14)


def _naive_log_probability(amp, scale, noise, shift, x, y):
    """log N(y | shift, amp^2 Matern32(scale) + noise I) from textbook float64 formulas."""
    tau = jnp.abs(x[:, None] - x[None, :])
    r = math.sqrt(3) * tau / scale
    C = amp**2 * (1 + r) * jnp.exp(-r) + noise * jnp.eye(x.size)
    L = jnp.linalg.cholesky(C)
    z = jax.scipy.linalg.solve_triangular(L, y - shift, lower=True)
    return -0.5 * z @ z - jnp.sum(jnp.log(jnp.diagonal(L))) - 0.5 * x.size * math.log(2 * math.pi)


def test_log_probability_gradients_match_naive(x64, small_blocks):
    """Through GaussianProcess (N = 300, in blocks): kernel parameters, noise, mean and X."""
    x = _inputs(300)
    y = jnp.sin(x) + 0.2 * jnp.cos(3 * x)

    def ours(amp, scale, noise, shift, x):
        gp = GaussianProcess(amp**2 * Matern32(scale), x, diag=noise, mean=lambda t: shift + 0 * t)
        return gp.log_probability(y)

    args = (jnp.asarray(0.9), jnp.asarray(1.3), jnp.asarray(0.05), jnp.asarray(0.2), x)
    argnums = tuple(range(5))

    @jax.jit
    def derivatives(*args):
        """Value and reverse-mode gradient, and the forward-mode derivative in the scale."""
        value, grads = jax.value_and_grad(ours, argnums)(*args)
        one = jnp.ones_like(args[1])
        forward = jax.jvp(lambda s: ours(args[0], s, *args[2:]), (args[1],), (one,))[1]
        return value, grads, forward

    value, grads, forward = derivatives(*args)
    value_ref, grads_ref = jax.jit(jax.value_and_grad(_naive_log_probability, argnums))(*args, y)
    np.testing.assert_allclose(value, value_ref, rtol=1e-10)
    for g, w in zip(grads, grads_ref, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-7 * float(jnp.max(jnp.abs(w))))
    np.testing.assert_allclose(forward, grads_ref[1], rtol=1e-7)
