"""Solver objects: the resolver's choices, check_kernel/check_inputs/accepts, the one sortedness
check, compiles."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from diffkern.gp import (
    SHO,
    Dense,
    Exp,
    ExpSquared,
    GaussianProcess,
    Matern32,
    Quasisep,
    Solver,
    log_probability_padded,
    log_probability_ragged,
)
from diffkern.gp._resolve import AUTO_QUASISEP_MIN_N, resolve_solver
from diffkern.gp._sorted import is_sorted
from diffkern.jit import count_compiles
from diffkern.testing import tolerance

SORTED = "must be sorted \\(non-decreasing\\) for the quasiseparable solver"

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def _data(n, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0, 10, n))
    return x.astype(dtype), (np.sin(x) + 0.3 * rng.normal(size=n)).astype(dtype)


def _matern32(x1, x2, scale):
    r = np.sqrt(3) * np.abs(x1[:, None] - x2[None, :]) / scale
    return (1 + r) * np.exp(-r)


def test_resolver_choices():
    kernel = Matern32(1.0)
    x = jnp.linspace(0, 1, AUTO_QUASISEP_MIN_N)
    small = x[: AUTO_QUASISEP_MIN_N - 1]
    assert isinstance(resolve_solver("auto", kernel, {"X": x}), Quasisep)
    assert isinstance(resolve_solver("auto", kernel, {"X": small}), Dense)
    assert isinstance(resolve_solver("auto", kernel, {"X": x[::-1]}), Dense)
    assert isinstance(resolve_solver("auto", ExpSquared(1.0), {"X": x}), Dense)
    # Ragged batches: any length; every series must be accepted.
    assert isinstance(resolve_solver("auto", kernel, {"X": small[:3]}, min_n=0), Quasisep)
    both = {"xs[0]": small[:3], "xs[1]": small[:3][::-1]}
    assert isinstance(resolve_solver("auto", kernel, both, min_n=0), Dense)
    assert resolve_solver("cholesky", kernel, {"X": x}, jitter=3.0) == Dense(jitter=3.0)
    assert resolve_solver("quasisep", kernel, {"X": small}) == Quasisep()
    given = Dense(on_failure="-inf")
    assert resolve_solver(given, kernel, {"X": x}) is given


def test_auto_on_traced_inputs_picks_quasisep_and_checks_at_run_time():
    chosen = []

    @eqx.filter_jit
    def log_probability(x, y):
        gp = GaussianProcess(Matern32(1.0), x, diag=0.1)
        chosen.append(type(gp.solver))
        return gp.log_probability(y)

    x = jnp.linspace(0, 10, AUTO_QUASISEP_MIN_N)
    y, backwards = jnp.sin(x), x[::-1]
    assert np.isfinite(log_probability(x, y))
    assert chosen == [Quasisep]
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: X " + SORTED):
        jax.block_until_ready(log_probability(backwards, y))


def test_accepts():
    x = np.linspace(0, 1, 5)
    assert Dense().accepts(ExpSquared(1.0), x[::-1])
    assert Quasisep().accepts(Exp(1.0) + 2.0 * Matern32(1.0), x)
    assert not Quasisep().accepts(Exp(1.0) + ExpSquared(1.0), x)
    assert not Quasisep().accepts(Exp(1.0), x[::-1])
    # Points left out by a mask may hold anything, padding included.
    padded = np.array([[0.0, 2.0, 9.0, 3.0], [0.0, 3.0, 3.0, -5.0]])
    mask = np.array([[True, True, False, True], [True, True, True, False]])
    assert not Quasisep().accepts(Exp(1.0), padded)
    assert Quasisep().accepts(Exp(1.0), padded, mask)
    traced = jax.jit(lambda x: jnp.asarray(Quasisep().accepts(Exp(1.0), x)))
    assert traced(x[::-1])  # order unknown while tracing: checked at run time instead


def test_is_sorted():
    nan = np.nan
    assert is_sorted(np.array([0.0, 1.0, 1.0, 2.0])) is True
    assert is_sorted(np.array([0.0, 2.0, 1.0])) is False
    assert is_sorted(np.array([0.0, nan, 1.0])) is False
    assert is_sorted(np.array([0.0, nan, 1.0]), np.array([True, False, True])) is True
    assert is_sorted(np.array([2.0, 0.0, 1.0]), np.array([True, False, True])) is False
    x, keep = jnp.array([0.0, 5.0, 1.0]), jnp.array([True, False, True])
    assert jax.jit(is_sorted)(x, keep) and not jax.jit(is_sorted)(x)


@pytest.mark.parametrize("solver", ["lu", "Cholesky"])
def test_bad_solver_names_the_options(solver):
    options = r"solver must be one of \('auto', 'cholesky', 'quasisep'\) or a diffkern.gp.Solver"
    with pytest.raises(ValueError, match=options):
        GaussianProcess(Matern32(1.0), jnp.linspace(0, 1, 5), solver=solver)


@pytest.mark.parametrize("solver", [3, None, Dense])
def test_bad_solver_types_raise(solver):
    # The message names the valid options (or, under run-time type checking, the valid types).
    with pytest.raises(TypeError, match="solver"):
        GaussianProcess(Matern32(1.0), jnp.linspace(0, 1, 5), solver=solver)


def test_bad_solver_configuration():
    x = jnp.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="on_failure must be one of"):
        Dense(on_failure="nan")
    with pytest.raises(ValueError, match="jitter must be >= 0"):
        GaussianProcess(Matern32(1.0), x, jitter=-1.0)
    with pytest.raises(ValueError, match="set them on it"):
        GaussianProcess(Matern32(1.0), x, solver=Dense(), on_failure="-inf")
    with pytest.raises(ValueError, match="Quasisep does not support kernel ExpSquared"):
        GaussianProcess(ExpSquared(1.0), x, solver=Quasisep())


def test_unsorted_inputs_fail_in_the_one_check(x64):
    x, y = _data(12, 1)
    backwards = x[::-1].copy()
    with pytest.raises(ValueError, match="X " + SORTED):
        GaussianProcess(Exp(1.0), backwards, solver="quasisep")
    with pytest.raises(ValueError, match="X " + SORTED):
        Quasisep().log_probability(Exp(1.0), backwards, 0.1, y)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: X " + SORTED):
        jax.block_until_ready(eqx.filter_jit(Quasisep().solve)(Exp(1.0), backwards, 0.1, y))
    with pytest.raises(ValueError, match=r"xs\[1\] " + SORTED):
        log_probability_ragged(Exp(1.0), [x, backwards], [y, y], solver=Quasisep())
    mask = np.ones((1, 12), bool)
    with pytest.raises(ValueError, match="X " + SORTED):
        log_probability_padded(
            Exp(1.0), backwards[None], y[None], y[None] ** 2, mask, solver="quasisep"
        )
    # The dense solver takes any order.
    dense = GaussianProcess(Exp(1.0), backwards, diag=0.1, solver=Dense()).log_probability(y)
    ordered = GaussianProcess(Exp(1.0), x, diag=0.1, solver=Dense()).log_probability(y[::-1])
    np.testing.assert_allclose(dense, ordered, rtol=1e-12)


@pytest.mark.parametrize("solver", [Dense(), Dense(jitter=0.0), Quasisep()], ids=repr)
def test_solver_objects_agree_with_scipy(solver, x64):
    x, y = _data(25, 2)
    x_test = np.array([0.5, 4.0, 11.0])
    gp = GaussianProcess(1.5 * Matern32(1.3), x, diag=0.05, solver=solver)
    assert gp.solver is solver
    C = 1.5 * _matern32(x, x, 1.3) + 0.05 * np.eye(25)
    Ks = 1.5 * _matern32(x, x_test, 1.3)
    factor = scipy.linalg.cho_factor(C, lower=True)
    logdet = 2 * np.sum(np.log(np.diag(factor[0])))
    value = -0.5 * (y @ scipy.linalg.cho_solve(factor, y) + logdet + 25 * np.log(2 * np.pi))
    np.testing.assert_allclose(gp.log_probability(y), value, rtol=1e-12)
    mean, cov = gp.condition(y, x_test, return_cov=True)
    np.testing.assert_allclose(mean, Ks.T @ scipy.linalg.cho_solve(factor, y), rtol=1e-10)
    expected = 1.5 * _matern32(x_test, x_test, 1.3) - Ks.T @ scipy.linalg.cho_solve(factor, Ks)
    np.testing.assert_allclose(cov, expected, rtol=1e-9, atol=1e-12)
    B = np.stack([y, np.cos(x)], axis=1)
    solved = solver.solve(1.5 * Matern32(1.3), jnp.asarray(x), 0.05, B)
    np.testing.assert_allclose(solved, scipy.linalg.cho_solve(factor, B), rtol=1e-10, atol=1e-12)
    key = jax.random.key(1)
    draws = gp.sample(key, (2,))
    assert draws.shape == (2, 25)
    if isinstance(solver, Dense):  # Quasisep draws by the state-space recursion: statistics below
        z = np.asarray(jax.random.normal(key, (2, 25), jnp.float64))
        np.testing.assert_allclose(draws, z @ np.linalg.cholesky(C).T, rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("solver", [Dense(), Quasisep()], ids=repr)
def test_mask_leaves_points_out(solver, dtype):
    x, y = _data(20, 3, dtype)
    keep = np.random.default_rng(4).uniform(size=20) > 0.3
    kernel = Matern32(jnp.asarray(1.3, dtype))
    noise = jnp.asarray(np.full(20, 0.05), dtype)
    log_probability = jax.jit(solver.log_probability)
    masked = log_probability(kernel, x, noise, y, keep)
    kept = log_probability(kernel, x[keep], noise[keep], y[keep])
    np.testing.assert_allclose(masked, kept, rtol=tolerance(dtype, float32=1e-5, float64=1e-12))
    solved = jax.jit(solver.solve)(kernel, x, noise, y, keep)
    np.testing.assert_allclose(
        solved[keep],
        jax.jit(solver.solve)(kernel, x[keep], noise[keep], y[keep]),
        rtol=tolerance(dtype, float32=1e-4, float64=1e-10),
    )
    assert np.all(np.asarray(solved)[~keep] == 0)


@pytest.mark.counts_compiles
@pytest.mark.parametrize("solver", [Dense(), Quasisep()], ids=repr)
def test_new_data_never_recompiles(solver, dtype):
    @eqx.filter_jit
    def value_and_grad(solver, scale, x, y):
        def f(s):
            return GaussianProcess(Matern32(s), x, diag=0.1, solver=solver).log_probability(y)

        return jax.value_and_grad(f)(scale)

    data = [
        (jnp.asarray(s, dtype), *(jnp.asarray(a) for a in _data(40, s, dtype))) for s in (1, 2, 3)
    ]
    jax.block_until_ready(value_and_grad(solver, *data[0]))
    with count_compiles() as counts:
        for args in data[1:]:
            jax.block_until_ready(value_and_grad(solver, *args))
    assert counts.compiles == 0
    # The solver's configuration is static: a new one compiles a new program.
    if isinstance(solver, Dense):
        with count_compiles() as counts:
            jax.block_until_ready(value_and_grad(Dense(jitter=20.0), *data[0]))
        assert counts.compiles >= 1


def test_a_new_solver_plugs_in(x64):
    """A Solver subclass goes wherever a name does (here: dense, by LU, without masks)."""

    class LU(Solver):
        def log_probability(self, kernel, X, noise, r, mask=None):
            C = kernel(X) + jnp.diag(jnp.broadcast_to(noise, X.shape))
            _, logdet = jnp.linalg.slogdet(C)
            return -0.5 * (r @ jnp.linalg.solve(C, r) + logdet + X.shape[0] * np.log(2 * np.pi))

        def solve(self, kernel, X, noise, B, mask=None):
            return jnp.linalg.solve(kernel(X) + jnp.diag(jnp.broadcast_to(noise, X.shape)), B)

        def sample(self, kernel, X, noise, key, shape=()):
            return Dense().sample(kernel, X, noise, key, shape)

    x, y = _data(15, 5)
    ours = GaussianProcess(Matern32(1.3), x, diag=0.1, solver=LU())
    dense = GaussianProcess(Matern32(1.3), x, diag=0.1, solver="cholesky")
    np.testing.assert_allclose(ours.log_probability(y), dense.log_probability(y), rtol=1e-12)
    for a, b in zip(ours.condition(y), dense.condition(y), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_new_solver_says_what_it_cannot_take():
    """A solver's check_kernel runs once per call and check_inputs once per series: their
    ValueError reaches the caller, for a GaussianProcess and for every series of a ragged call."""
    seen = []

    class Picky(Dense):
        def check_kernel(self, kernel):
            seen.append("kernel")
            if isinstance(kernel, ExpSquared):
                raise ValueError("Picky takes no ExpSquared; use Matern32")

        def check_inputs(self, X, name="X", mask=None):
            seen.append(name)
            if np.shape(X)[-1] > 20:
                raise ValueError(f"{name} is too long for Picky")

    x, y = _data(15, 5)
    with pytest.raises(ValueError, match="Picky takes no ExpSquared"):
        GaussianProcess(ExpSquared(1.0), x, diag=0.1, solver=Picky())
    with pytest.raises(ValueError, match="xs\\[2\\] is too long"):
        log_probability_ragged(Matern32(1.0), [x, x[:5], _data(25)[0]], [y, y[:5], _data(25)[1]],
                               solver=Picky())  # fmt: skip
    seen.clear()
    log_probability_ragged(Matern32(1.0), [x, x[:5], x[:9]], [y, y[:5], y[:9]], solver=Picky())
    assert seen[:4] == ["kernel", "xs[0]", "xs[1]", "xs[2]"]
    assert not Picky().accepts(ExpSquared(1.0), x) and Picky().accepts(Matern32(1.0), x)


def test_a_solver_that_overrides_check_keeps_it():
    """A solver written against check(kernel, X, name, mask) alone still has it called."""

    class Short(Dense):
        def check(self, kernel, X, name="X", mask=None):
            if np.shape(X)[-1] > 10:
                raise ValueError(f"{name} holds more than 10 points")

    x, y = _data(15, 5)
    with pytest.raises(ValueError, match="X holds more than 10 points"):
        GaussianProcess(Matern32(1.0), x, diag=0.1, solver=Short())
    assert np.isfinite(GaussianProcess(Matern32(1.0), x[:8], diag=0.1, solver=Short())
                       .log_probability(y[:8]))  # fmt: skip
    assert not Short().accepts(Matern32(1.0), x)


@eqx.filter_jit
def _public_results(kernel, x, y, x_test, solver):
    """log-probability, its gradient and conditioning, through GaussianProcess (one program)."""

    def gp(k):
        return GaussianProcess(k, x, diag=0.05, solver=solver)

    value, grad = jax.value_and_grad(lambda k: gp(k).log_probability(y))(kernel)
    conditions = [
        gp(kernel).condition(y),
        gp(kernel).condition(y, x_test),
        gp(kernel).condition(y, x_test, include_noise=True),
        gp(kernel).condition(y, x_test, return_cov=True),
    ]
    return value, grad, conditions


@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_quasisep_methods_agree_with_cholesky(method, x64):
    """Through GaussianProcess: log-probability, gradient and conditioning (X_test unsorted,
    outside the data and on a data point; with and without noise) as solver="cholesky"."""
    x, y = (jnp.asarray(a) for a in _data(30, 6))
    x_test = jnp.asarray([11.0, 0.5, 4.0, float(x[3]), -1.0])
    kernel = 1.5 * Matern32(1.3) + SHO(2.0, 3.0, 0.7)
    dense = _public_results(kernel, x, y, x_test, "cholesky")
    quasi = _public_results(kernel, x, y, x_test, Quasisep(method=method))
    for a, b in zip(jax.tree.leaves(dense), jax.tree.leaves(quasi), strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_quasisep_sample_statistics(method, x64):
    """20000 O(N) draws at 5 points: sample mean and covariance within 5 standard errors of
    m and K + diag, the distribution solver="cholesky" draws from."""
    x = jnp.array([0.0, 0.3, 0.5, 1.4, 1.41])
    kernel = Matern32(1.0) + SHO(2.0, 3.0, 0.7)
    gp = GaussianProcess(kernel, x, diag=0.05, mean=1.0, solver=Quasisep(method=method))
    y = np.asarray(gp.sample(jax.random.key(2), (20000,)))
    dense = GaussianProcess(kernel, x, diag=0.05, mean=1.0, solver="cholesky")
    C = np.asarray(dense.kernel(x)) + 0.05 * np.eye(5)
    error = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / len(y))
    assert y.shape == (20000, 5)
    assert np.all(np.abs(np.cov(y.T) - C) < 5 * error)
    assert np.all(np.abs(np.mean(y, 0) - 1.0) < 5 * np.sqrt(np.diag(C) / len(y)))


def test_quasisep_method_choice():
    x = jnp.linspace(0, 1, 5)
    assert Quasisep().method == "auto" and not Quasisep().parallel(x)  # CPU: sequential
    assert Quasisep(method="parallel").parallel(x)
    assert not Quasisep(method="sequential").parallel(x)
    with pytest.raises(ValueError, match=r"method must be one of \('auto', 'sequential', "):
        Quasisep(method="fast")
    x, y = _data(20, 7)
    values = [
        GaussianProcess(Matern32(1.0), x, diag=0.1, solver=Quasisep(method=m)).log_probability(y)
        for m in ("auto", "sequential")
    ]
    assert values[0] == values[1]


@pytest.mark.counts_compiles
@pytest.mark.parametrize("method", ["sequential", "parallel"])
def test_quasisep_new_data_does_not_recompile(method, dtype):
    solver = Quasisep(method=method)
    data = [_data(24, seed, dtype) for seed in (1, 2)]
    x_test = jnp.asarray([0.5, 3.0], dtype)
    gps = [
        GaussianProcess(Matern32(jnp.asarray(s, dtype)), x, diag=0.1, solver=solver)
        for s, (x, _) in zip((1.0, 2.0), data, strict=True)
    ]
    ys = [jnp.asarray(y) for _, y in data]
    keys = [jax.random.key(s) for s in (1, 2)]

    def run(gp, y, key):
        return gp.log_probability(y), gp.condition(y, x_test), gp.sample(key, (2,))

    jax.block_until_ready(run(gps[0], ys[0], keys[0]))
    with count_compiles() as counts:
        jax.block_until_ready(run(gps[1], ys[1], keys[1]))
    assert counts.compiles == 0
