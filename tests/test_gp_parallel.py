"""Parallel-in-time Kalman filter, smoother, conditioning and sampling of state-space GPs, against
the sequential scans and dense float64 references.

Compiles dominate the run time, so programs are shared: the array-level functions run on states
padded to J = 6 (zero P, A and h on the padding: exact, the padded states stay 0) with every
kernel stacked on a leading axis, so one program per N serves every kernel family (the arrays
are built inside it). At N = 10^5, where the run time counts too, kernels with up to 3 states
are padded to 3 only (the parallel filter's work grows as J^3): two programs.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from diffkern.gp import SHO, Constant, Cosine, Exp, Matern32, Matern52
from diffkern.gp import _quasisep_parallel as parallel
from diffkern.gp import _quasisep_scan as scan
from diffkern.gp._quasisep_predict import condition
from diffkern.gp._quasisep_sample import sample
from diffkern.gp._state_space import state_space
from diffkern.jit import count_compiles
from diffkern.precision import float64
from diffkern.testing import check_grads

J_MAX = 6

KERNELS = {
    "exp": Exp(0.7),
    "matern32": Matern32(1.3),
    "matern52": Matern52(0.4),
    "sho-under": SHO(2.0, 3.0, 1.5),
    "sho-critical": SHO(2.0, 0.5, 1.5),
    "sho-over": SHO(2.0, 0.2, 1.5),
    "cosine": Cosine(1.7),
    "constant": Constant(2.0),
    "sum": Cosine(1.7) + Exp(1.0),
    "product": 2.0 * Matern52(1.0) * Cosine(3.0),
}


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.sort(rng.uniform(0, 10, n)), rng.uniform(0.1, 0.3, n), rng.normal(size=n)


def _steps(t, keep):
    """Step from the previous kept point (0 at masked points: A = I there)."""
    index = np.arange(len(t))
    previous = np.concatenate([[-1], np.maximum.accumulate(np.where(keep, index, -1))[:-1]])
    return np.where(keep & (previous >= 0), t - t[np.maximum(previous, 0)], 0)


def _stacked_arrays(dt, names=tuple(KERNELS), states=J_MAX):
    """(A, P, h) of the kernels ``names`` padded to ``states``, stacked on a leading axis."""

    def padded(kernel):
        ss = state_space(kernel, dt.dtype)
        pad = states - ss.h.shape[0]
        A = jnp.pad(ss.transition(dt), ((0, 0), (0, pad), (0, pad)))
        return A, jnp.pad(ss.pinf, ((0, pad), (0, pad))), jnp.pad(ss.h, (0, pad))

    kernels = (KERNELS[name] for name in names)
    return [jnp.stack(x) for x in zip(*map(padded, kernels), strict=True)]


def _dt(t, keep, dtype):
    """The steps of ``_steps`` as an array of ``dtype``, for the programs below."""
    return jnp.asarray(_steps(t, keep), dtype)


def _states(name):
    """J, the state size of KERNELS[name] (from shapes only)."""
    return jax.eval_shape(lambda: state_space(KERNELS[name], jnp.float32).h).shape[0]


@jax.jit
def _kernel_matrices(t):
    """K(t, t) of every kernel in KERNELS."""
    tau = jnp.abs(t[:, None] - t[None, :])
    return jnp.stack([kernel.evaluate(tau) for kernel in KERNELS.values()])


@jax.jit
def _everything(dt, d, r, keep):
    """Every kernel's parallel log-probability, solve and posterior moments; the sequential
    scans' log-probability and solve (the solver's sequential path). The sequential versions of
    the parallel functions are checked by conditioning and sampling below."""
    return _each_kernel(*_stacked_arrays(dt), d, r, keep)


@functools.partial(jax.vmap, in_axes=(0, 0, 0, None, None, None))
def _each_kernel(A, P, h, d, r, keep):
    f = parallel.filtered(A, P, h, d, r, keep)
    alpha, mean, var = parallel.smooth(A, h, f, keep)
    arrays = scan.Arrays(A, d, r, keep)
    return {
        "parallel": (f.log_probability(keep), alpha, mean, var, f.min_pivot()),
        "scan": scan.log_probability(arrays, P @ h, h)[0],
        "solve": scan.solve(arrays, h, scan.filtered(arrays, P @ h, h)),
    }


def _dense(t, d, r, keep=None):
    """For every kernel: log N(r | 0, K + D), (K + D)^-1 r, posterior mean and variance of
    f(t), numpy float64, at the points ``keep`` (default all; the kernel matrices of all of t
    are computed, so masks share their program)."""
    with float64():
        padded = np.pad(t, (0, 1000 - len(t)))  # one program for every N <= 1000
        matrices = np.asarray(_kernel_matrices(jnp.asarray(padded, jnp.float64)))
    matrices = matrices[:, : len(t), : len(t)]
    if keep is not None:
        matrices, d, r = matrices[:, keep][:, :, keep], d[keep], r[keep]
    out = []
    for K in matrices:
        factor = scipy.linalg.cho_factor(K + np.diag(d), lower=True)
        alpha = scipy.linalg.cho_solve(factor, r)
        logdet = 2 * np.sum(np.log(np.diag(factor[0])))
        logp = -0.5 * (r @ alpha + logdet + len(r) * np.log(2 * np.pi))
        V = scipy.linalg.solve_triangular(factor[0], K, lower=True)  # K C^-1 K = V^T V
        out.append((logp, alpha, K @ alpha, np.diag(K) - np.sum(V * V, 0)))
    return out


def _close(actual, expected, rtol):
    """Agreement relative to the largest value (elementwise relative error is meaningless
    for entries near 0)."""
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


def _check_all(out, t, d, r, keep, rtol):
    """Every kernel's parallel and sequential results against the dense reference at the kept
    points (zeros of the solve elsewhere)."""
    for i, (logp, alpha, mean, var) in enumerate(_dense(t, d, r, keep)):
        lp, al, mu, v, smin = (x[i] for x in out["parallel"])
        np.testing.assert_allclose(lp, logp, rtol=rtol)
        _close(al[keep], alpha, rtol)
        np.testing.assert_array_equal(al[~keep], 0)
        _close(mu[keep], mean, rtol)
        _close(v[keep], var, rtol)
        assert smin > 0
        np.testing.assert_allclose(out["scan"][i], logp, rtol=rtol)
        _close(out["solve"][i][keep], alpha, rtol)


# N = 1, 2: the plain Hillis-Steele scan; 3: two blocks of 2, the last one padded; 1000: 100
# blocks of 10 whose totals take 7 levels (the masked test below runs it too).
@pytest.mark.parametrize("n", [1, 2, 3, 1000])
def test_parallel_equals_sequential_and_dense(n, x64):
    t, d, r = _data(n)
    keep = np.ones(n, bool)
    _check_all(_everything(_dt(t, keep, jnp.float64), d, r, keep), t, d, r, keep, 1e-10)


@functools.partial(jax.jit, static_argnums=(4, 5))
def _log_probabilities(dt, d, r, keep, names, states):
    """(parallel, sequential) log-probability of the kernels ``names`` padded to ``states``, one
    kernel at a time: ``lax.map`` holds the temporaries of a single N = 10^5 problem."""
    A, P, h = _stacked_arrays(dt, names, states)

    def one(kernel):
        A, P, h = kernel
        sequential = scan.log_probability(scan.Arrays(A, d, r, keep), P @ h, h)[0]
        return parallel.log_probability(A, P, h, d, r, keep)[0], sequential

    return jax.lax.map(one, (A, P, h))


@pytest.mark.slow
def test_parallel_equals_sequential_every_kernel_large_n(x64):
    """N = 10^5 (a dense reference is out of reach; the sequential scan equals it above),
    every kernel family, spacing 10^-3 of t: parallel == sequential to 1e-10."""
    n = 10**5
    _, d, r = _data(n)
    t, keep = np.arange(n) * 1e-3, np.ones(n, bool)
    dt = _dt(t, keep, jnp.float64)
    groups = {}
    for name in KERNELS:
        groups.setdefault(max(3, _states(name)), []).append(name)
    assert sorted(groups) == [3, J_MAX] and sum(map(len, groups.values())) == len(KERNELS)
    for states, names in groups.items():
        values, sequential = _log_probabilities(dt, d, r, keep, tuple(names), states)
        assert np.all(np.isfinite(values))
        np.testing.assert_allclose(values, sequential, rtol=1e-10)


def test_masked_points_contribute_nothing(x64):
    """Masked points (first, inner run, last) hold junk noise and NaN residuals: no effect."""
    t, d, r = _data(1000)
    keep = np.ones(1000, bool)
    keep[[0, 5, 6, 999]] = False
    d_bad, r_bad = np.where(keep, d, 0.0), np.where(keep, r, np.nan)
    out = _everything(_dt(t, keep, jnp.float64), d_bad, r_bad, keep)
    _check_all(out, t, d, r, keep, 1e-10)


def test_new_data_does_not_recompile(x64):
    t, d, r = _data(3)
    keep = np.ones(3, bool)
    args = [jnp.asarray(x) for x in (_dt(t, keep, jnp.float64), d)]
    _everything(*args, jnp.asarray(r), jnp.asarray(keep))
    r2, keep2 = jnp.asarray(r + 1), jnp.asarray(np.arange(3) % 2 > 0)
    with count_compiles() as counts:
        _everything(*args, r2, keep2)
    assert counts.compiles == 0


@jax.jit
def _log_probability(dt, d, r, keep):
    """Every kernel's parallel log-probability."""
    one = lambda A, P, h: parallel.log_probability(A, P, h, d, r, keep)[0]
    return jax.vmap(one)(*_stacked_arrays(dt))


def test_float32_bound():
    """float32 log-probability at N = 300 within a relative 1e-5 of float64, every kernel."""
    t, d, r = _data(300)
    keep = np.ones(300, bool)
    d32, r32 = (jnp.asarray(x, jnp.float32) for x in (d, r))
    values = _log_probability(_dt(t, keep, jnp.float32), d32, r32, keep)
    assert values.dtype == jnp.float32
    for value, (expected, *_) in zip(values, _dense(t, d, r), strict=True):
        np.testing.assert_allclose(value, expected, rtol=1e-5)


@jax.jit
def _long_correlation_results(t, d, r, keep, key):
    """(parallel, sequential) log-probability of Matern32(1) at ``t``, unpadded, and a parallel
    draw."""
    ss = state_space(Matern32(1.0), t.dtype)
    A, P, h = ss.transition(jnp.diff(t, prepend=t[:1])), ss.pinf, ss.h
    value = parallel.log_probability(A, P, h, d, r, keep)[0]
    sequential = scan.log_probability(scan.Arrays(A, d, r, keep), P @ h, h)[0]
    return value, sequential, sample(key, A, P, h, d)


@functools.cache
def _long_correlation(dtype):
    """Matern32 with scale = 10^3 x spacing, N = 10^5: (parallel, sequential) log-probability
    and whether a draw (noise 10^-4) is finite."""
    n = 10**5
    rng = np.random.default_rng(1)
    t = np.asarray(np.arange(n) * 1e-3, dtype)
    d, r = np.full(n, 0.1, dtype), np.asarray(rng.normal(size=n), dtype)
    keep, key = np.ones(n, bool), jax.random.key(1)
    value, sequential, draw = _long_correlation_results(t, d, r, keep, key)
    assert draw.dtype == dtype
    return float(value), float(sequential), bool(np.all(np.isfinite(draw)))


def test_long_correlation_large_n(dtype):
    """N = 10^5: finite in both precisions; float64 parallel == sequential to 1e-10, float32
    parallel within a relative 1e-4 of it (the sequential scan alike). Q_i = P - A P A^T
    cancels for steps 10^-3 of the scale: draws stay finite all the same."""
    value, sequential, finite_draw = _long_correlation(dtype)
    assert np.isfinite(value) and np.isfinite(sequential) and finite_draw
    with float64():
        expected = _long_correlation(jnp.float64)[1]
    rtol = 1e-10 if dtype == jnp.float64 else 1e-4
    np.testing.assert_allclose(value, expected, rtol=rtol)
    np.testing.assert_allclose(sequential, expected, rtol=rtol)


def test_gradients_order_two(x64):
    """Second order in forward mode (reverse mode: against the dense solver's gradient through
    GaussianProcess in test_gp_solvers). N = 2: the filter's elements and their combination
    (the prefix scan's own derivatives, blocked or not, are checked to second order in
    test_scan_prefix)."""
    t, d, r = (jnp.asarray(x) for x in _data(2))
    keep = jnp.ones(2, bool)

    def logp(params, d, r):
        ss = state_space(SHO(params[0], params[1], params[2]), params.dtype)
        A = ss.transition(jnp.diff(t, prepend=t[:1]))
        return parallel.log_probability(A, ss.pinf, ss.h, d, r, keep)[0]

    check_grads(jax.jit(logp), (jnp.array([1.3, 0.8, 1.1]), d, r), order=2, modes=("fwd",))


@jax.jit
def _kernel_values(kernel, a, b):
    """k(|a_i - b_j|)."""
    return kernel.evaluate(jnp.abs(a[:, None] - b[None, :]))


@jax.jit
def _condition(kernel, t, d, r, keep, t_test):
    """(mean, variance) parallel and sequential."""
    ss = state_space(kernel, t.dtype)
    return [condition(ss, t, d, r, keep, t_test, parallel=par)[:2] for par in (True, False)]


@pytest.mark.parametrize("name", ["sho-under", "sho-critical", "sho-over"])  # one program
def test_condition_matches_dense(name, x64):
    kernel = KERNELS[name]
    t, d, r = _data(17)
    keep = np.arange(17) % 7 != 3
    t_test = np.array([4.0, -2.0, t[5], 12.5, t[0], 0.1, t[-1] + 1e-3])
    m = keep.sum()
    K = np.asarray(_kernel_values(kernel, t[keep], np.concatenate([t[keep], t_test])))
    C, Ks = K[:, :m] + np.diag(d[keep]), K[:, m:]  # K[0, 0] = k(0)
    mean = Ks.T @ np.linalg.solve(C, r[keep])
    var = K[0, 0] - np.sum(Ks * np.linalg.solve(C, Ks), 0)
    for mu, v in _condition(kernel, t, d, np.where(keep, r, np.nan), keep, t_test):
        _close(mu, mean, 1e-10)
        _close(v, var, 1e-10)


@jax.jit
def _draws(keys, kernel, t, d):
    """Draws for each key, parallel and sequential."""
    ss = state_space(kernel, t.dtype)
    A = ss.transition(jnp.diff(t, prepend=t[:1]))
    one = lambda key, par: sample(key, A, ss.pinf, ss.h, d, parallel=par)
    return [jax.vmap(functools.partial(one, par=par))(keys) for par in (True, False)]


def test_sample_covariance(x64):
    """20000 draws at 4 points: every entry of the sample covariance within 5 of its standard
    errors sqrt((C_ii C_jj + C_ij^2) / n) of K + D; parallel and sequential draws agree."""
    kernel = Matern52(1.0) + SHO(2.0, 3.0, 0.7)
    t, d = jnp.array([0.0, 0.3, 0.5, 1.4]), jnp.array([0.05, 0.1, 0.05, 0.2])
    keys = jax.random.split(jax.random.key(0), 20000)
    y, y_sequential = _draws(keys, kernel, t, d)
    np.testing.assert_allclose(y_sequential, y, rtol=0, atol=1e-12)
    C = np.asarray(_kernel_values(kernel, t, t)) + np.diag(d)
    error = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / len(keys))
    assert np.all(np.abs(np.cov(np.asarray(y).T) - C) < 5 * error)
    assert np.all(np.abs(np.mean(np.asarray(y), 0)) < 5 * np.sqrt(np.diag(C) / len(keys)))
