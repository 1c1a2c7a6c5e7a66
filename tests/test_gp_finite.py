"""Non-finite inputs get their own messages; covariances too close to singular to trust fail
(float32 near-singular cases against their float64 values)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern import CheckError
from diffkern.gp import (
    Dense,
    Exp,
    GaussianProcess,
    Matern32,
    Quasisep,
    log_probability_padded,
    log_probability_ragged,
)
from diffkern.gp._dense import DEFAULT_JITTER
from diffkern.gp._finite import pivot_bound
from diffkern.precision import float64

SOLVERS = ["cholesky", "quasisep"]
T = np.linspace(0.0, 10.0, 20)

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def _near_singular_cases():
    """(kernel, X, diag, y) in float32: repeated inputs with diag 1e-12, and Exp(1e6) on a grid
    with no noise (relative pivots about 2 dt / scale = 1e-7, below 200 eps)."""
    repeated = np.repeat(np.linspace(0.0, 10.0, 50), 2)
    grid = np.linspace(0.0, 10.0, 200)
    return [
        (lambda s: Matern32(s), repeated, 1e-12, np.sin(repeated), 1.0),
        (lambda s: Exp(s), grid, 0.0, np.sin(grid), 1e6),
    ]


@pytest.mark.parametrize("case", [0, 1])
@pytest.mark.parametrize("solver", SOLVERS)
def test_float32_near_singular_raises_where_float64_is_fine(solver, case):
    """float32 gave wrong finite values here (e.g. dense -963232.7 against -1255066.5); now the
    pivot bound reports it. float64 of the same problem passes the bound and matches numpy."""
    make, X, diag, y, scale = _near_singular_cases()[case]
    gp = GaussianProcess(make(np.float32(scale)), X.astype(np.float32), diag=np.float32(diag),
                         solver=solver)  # fmt: skip
    with pytest.raises(CheckError, match="too close to singular"):
        gp.log_probability(y.astype(np.float32))
    with pytest.raises(CheckError, match="too close to singular"):
        gp.condition(y.astype(np.float32), np.asarray([0.5], np.float32))
    with float64():
        value = GaussianProcess(make(scale), X, diag=diag, solver=solver).log_probability(y)
        C = np.array(make(scale)(X))
    jitter = DEFAULT_JITTER * np.finfo(np.float64).eps if solver == "cholesky" else 0.0
    C += (diag + jitter * np.mean(np.diag(C) + diag)) * np.eye(X.size)
    expected = -0.5 * (y @ np.linalg.solve(C, y) + np.linalg.slogdet(C)[1])
    rtol = (2e-5, 1e-8)[case]  # float64 condition numbers about 10^12 and 10^7
    np.testing.assert_allclose(value, expected - 0.5 * X.size * np.log(2 * np.pi), rtol=rtol)


def test_on_failure_inf_still_reports_near_singular():
    make, X, diag, y, scale = _near_singular_cases()[0]
    gp = GaussianProcess(make(np.float32(scale)), X.astype(np.float32), diag=np.float32(diag),
                         solver="cholesky", on_failure="-inf")  # fmt: skip
    assert gp.log_probability(y.astype(np.float32)) == -np.inf


def test_pivot_bound():
    eps = float(np.finfo(np.float32).eps)
    assert float(pivot_bound(5, jnp.float32)) == pytest.approx(100 * eps)
    assert float(pivot_bound(1000, jnp.float32)) == pytest.approx(1000 * eps)


@pytest.mark.parametrize("solver", SOLVERS)
def test_non_finite_data_has_its_own_message_whatever_on_failure(solver):
    """NaN data raises about the data (never -inf with a zero gradient, never the
    factorisation's message), eagerly, under jit and under grad."""
    options = {"on_failure": "-inf"} if solver == "cholesky" else {}
    y = np.sin(T)
    bad_y = y.copy()
    bad_y[3] = np.nan

    def logp(amp, y, diag):
        gp = GaussianProcess(amp * Matern32(1.0), T, diag=diag, solver=solver, **options)
        return gp.log_probability(y)

    with pytest.raises(CheckError, match=r"y - mean\(X\) must be finite") as error:
        logp(1.0, bad_y, 0.1)
    assert "positive definite" not in str(error.value)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*(must be finite|must be >= 0)"):
        jax.block_until_ready(eqx.filter_jit(logp)(jnp.asarray(np.nan), y, 0.1))
    kernel = eqx.tree_at(lambda k: k.scale, Matern32(1.0), jnp.asarray(np.nan))  # unchecked
    with pytest.raises(CheckError, match="every kernel parameter must be finite"):
        GaussianProcess(kernel, T, diag=0.1, solver=solver, **options).log_probability(y)
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*diag must be finite"):
        jax.block_until_ready(eqx.filter_jit(logp)(1.0, y, jnp.asarray(np.inf)))
    with pytest.raises(CheckError, match="must be finite"):  # eager grad: raised on the host
        jax.grad(logp)(jnp.asarray(1.0), jnp.asarray(bad_y), 0.1)


@pytest.mark.parametrize("solver", [Dense(), Quasisep()], ids=["dense", "quasisep"])
def test_solver_solve_checks_its_right_hand_side(solver):
    """``Solver.solve`` with a non-finite ``B`` raises about ``B`` (at kept points only)."""
    B = np.ones((T.size, 2))
    B[3, 1] = np.nan
    with pytest.raises(ValueError, match="B must be finite"):
        solver.solve(Matern32(1.0), T, np.full(T.size, 0.1), B)
    keep = np.arange(T.size) != 3
    out = solver.solve(Matern32(1.0), T, np.full(T.size, 0.1), np.where(keep[:, None], B, 0))
    assert np.all(np.isfinite(out))
    with pytest.raises(Exception, match="B must be finite"):  # the caller's jit: a callback
        jax.block_until_ready(
            jax.jit(
                lambda b: solver.solve(Matern32(1.0), T, np.full(T.size, 0.1), b, jnp.asarray(keep))
            )(jnp.asarray(np.where(keep[:, None], np.nan, B)))
        )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: GaussianProcess(Matern32(np.inf), T), "scale must be finite"),
        (lambda: GaussianProcess(np.nan * Matern32(1.0), T), "Constant value must be finite"),
        (lambda: GaussianProcess(Matern32(1.0), T, diag=np.nan), "diag must be finite"),
        (lambda: GaussianProcess(Matern32(1.0), np.where(T == T[4], np.nan, T)), "X must be"),
    ],
)
def test_non_finite_construction(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("solver", ["auto", *SOLVERS])
def test_nan_in_X_is_reported_as_non_finite_not_unsorted(solver):
    X = T.copy()
    X[4] = np.nan
    with pytest.raises(ValueError, match="X must be finite"):
        GaussianProcess(Matern32(1.0), X, diag=0.1, solver=solver)

    @eqx.filter_jit
    def logp(X):
        return GaussianProcess(Matern32(1.0), X, diag=0.1, solver=solver).log_probability(T)

    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*X must be finite") as error:
        jax.block_until_ready(logp(X))
    (message,) = [line for line in str(error.value).splitlines() if "CheckError:" in line]
    assert "sorted" not in message  # (the stack above it may name check_sorted's line)


def test_padded_mask_must_be_boolean():
    X, Y = np.linspace(0.0, 1.0, 4)[None], np.ones((1, 4))
    D = np.full((1, 4), 0.1)
    for mask in (np.array([[2, 2, 0, 0]]), np.array([[1.0, 1.0, 0.0, 0.0]])):
        with pytest.raises(TypeError, match="mask must be a boolean array.*got (int|float)"):
            log_probability_padded(Matern32(1.0), X, Y, D, mask)


def test_ragged_series_are_named():
    xs = [np.linspace(0.0, 1.0, 4), np.linspace(0.0, 1.0, 3)]
    ys = [np.ones(4), np.ones(3)]
    with pytest.raises(ValueError, match=r"diags\[0\] must be a scalar or of length 4"):
        log_probability_ragged(Matern32(1.0), xs, ys, [np.ones(3), np.ones(3)])
    with pytest.raises(ValueError, match=r"ys\[1\] must be finite"):
        log_probability_ragged(Matern32(1.0), xs, [ys[0], np.full(3, np.nan)], solver="cholesky")
    with pytest.raises(ValueError, match=r"diags\[1\] must be finite"):
        log_probability_ragged(Matern32(1.0), xs, ys, [0.1, np.inf])
