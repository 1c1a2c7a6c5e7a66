"""diffkern.fit: optax optimizers on any pytree, has_aux, no recompiles, Laplace covariance."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from diffkern import CheckError, eccentric_anomaly
from diffkern._checks import checks_as_nan
from diffkern.fit import FitResult, descend, laplace, minimize
from diffkern.fit._minimize import _run_chunk
from diffkern.fit._same import Same
from diffkern.jit import count_compiles
from diffkern.testing import tolerance


def booth(p):
    """Booth's function: minimum 0 at (1, 3)."""
    return (p[0] + 2 * p[1] - 7) ** 2 + (2 * p[0] + p[1] - 5) ** 2


@pytest.mark.parametrize(
    "optimizer, steps",
    [(optax.adam(0.1), 1000), (optax.sgd(0.01), 1000)],
    ids=["adam", "sgd"],
)
def test_booth_from_7p5_minus_7p5(dtype, optimizer, steps):
    result = minimize(booth, jnp.array([7.5, -7.5], dtype), optimizer, steps=steps, progress=False)
    assert isinstance(result, FitResult)
    assert result.params.dtype == dtype
    atol = tolerance(dtype, float32=1e-4, float64=1e-7)
    np.testing.assert_allclose(result.params, [1.0, 3.0], atol=atol)
    assert float(result.value) < atol


class _Line(eqx.Module):
    slope: jax.Array
    intercept: jax.Array
    name: str = eqx.field(static=True, default="line")
    degree: int = 1  # a non-array leaf: held fixed

    def __call__(self, x):
        return self.slope * x + self.intercept


def _squared_error(model, x, y):
    residual = model(x) - y
    return jnp.sum(residual**2), residual


def test_module_params_has_aux_and_new_data_do_not_recompile(x64):
    x = jnp.linspace(0.0, 1.0, 20)
    y = 2.0 * x - 1.0
    model = _Line(jnp.array(0.0), jnp.array(0.0))
    optimizer = optax.lbfgs()
    result = minimize(
        _squared_error, model, optimizer, steps=20, args=(x, y), has_aux=True, progress=False
    )
    np.testing.assert_allclose(
        [result.params.slope, result.params.intercept], [2.0, -1.0], atol=1e-8
    )
    assert result.params.degree == 1 and result.params.name == "line"
    np.testing.assert_allclose(result.aux, result.params(x) - y, atol=1e-12)

    y2 = 3.0 * x + 0.5
    with count_compiles() as counts:
        again = minimize(
            _squared_error, model, optimizer, steps=20, args=(x, y2), has_aux=True, progress=False
        )
    assert counts.compiles == 0, counts.by_function
    np.testing.assert_allclose([again.params.slope, again.params.intercept], [3.0, 0.5], atol=1e-8)


def test_an_equal_optimizer_and_loss_built_anew_do_not_recompile():
    """``optax.adam(0.01)`` called again, and an equal closure, reuse the compiled loop."""
    scaled = lambda a: lambda p, x: a * booth(p) + jnp.sum(x)
    start, x = jnp.asarray([7.5, -7.5]), jnp.zeros(3)
    first = minimize(scaled(2.0), start, optax.adam(0.01), steps=5, args=(x,), progress=False)
    with count_compiles() as counts:
        again = minimize(scaled(2.0), start, optax.adam(0.01), steps=5, args=(x,), progress=False)
        laplace(scaled(2.0), start, x)
        laplace(scaled(2.0), start, x)
    assert counts.by_function["_run_chunk"] == 0 and counts.by_function["_laplace"] <= 1
    np.testing.assert_array_equal(first.params, again.params)


@pytest.mark.parametrize(
    "make",
    [
        lambda: optax.adam(0.01),
        optax.lbfgs,
        lambda: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(0.1)),
        lambda: optax.adam(optax.exponential_decay(0.1, 10, 0.5)),
        lambda: optax.inject_hyperparams(optax.adam)(learning_rate=0.01),
    ],
    ids=["adam", "lbfgs", "chain", "schedule", "inject_hyperparams"],
)
def test_optimizers_built_anew_key_equal(make):
    assert Same(make()) == Same(make())
    assert hash(Same(make())) == hash(Same(make()))


def test_structure_keys_tell_different_settings_and_data_apart():
    assert Same(optax.adam(0.01)) != Same(optax.adam(0.02))
    assert Same(optax.adam(0.01)) != Same(optax.sgd(0.01))
    assert Same(0.0) != Same(-0.0) and Same(1) != Same(True) and Same(1.0) != Same(1)
    closure = lambda a: lambda p: a * p
    x, y = jnp.ones(2), jnp.ones(2)
    assert Same(closure(x)) == Same(closure(x))
    assert Same(closure(x)) != Same(closure(y))  # arrays by identity: never a stale constant
    assert Same(closure([1.0])) == Same(closure([1.0])) != Same(closure([2.0]))


def test_gtol_stops_early_and_progress_is_reported(capsys):
    start = jnp.array([7.5, -7.5])
    result = minimize(booth, start, optax.sgd(0.01), steps=2000, gtol=1e-3, label="booth")
    assert result.steps < 2000
    assert float(result.grad_norm) <= 1e-3
    err = capsys.readouterr().err
    assert "booth [" in err and "(converged)" in err and "loss=" in err


def _booth_grad(p):
    a, b = p[0] + 2 * p[1] - 7, 2 * p[0] + p[1] - 5
    return np.array([2 * a + 4 * b, 4 * a + 2 * b])


def test_descend_records_each_step_and_matches_plain_gradient_descent(x64):
    start = jnp.array([7.5, -7.5])
    run = jax.jit(lambda p: descend(booth, optax.sgd(0.01), p, max_steps=30, history=30))(start)
    expected, losses = np.array([7.5, -7.5]), []
    for _ in range(30):
        losses.append(float(booth(expected)))
        expected = expected - 0.01 * _booth_grad(expected)
    assert int(run.steps) == 30 and run.state is not None
    np.testing.assert_allclose(run.params, expected, rtol=1e-12)
    np.testing.assert_allclose(run.losses, losses, rtol=1e-12)
    np.testing.assert_allclose(run.grad_norm, np.linalg.norm(_booth_grad(expected)), rtol=1e-12)
    stopped = descend(booth, optax.sgd(0.01), start, max_steps=10**4, gtol=1e-3)
    assert int(stopped.steps) < 10**4 and float(stopped.grad_norm) <= 1e-3


def test_lbfgs_takes_the_loss_and_gradient_from_its_line_search(x64):
    """optax.lbfgs ends with a zoom line search that evaluated the loss and gradient at the
    point it moved to: descend reuses them (one evaluation per step fewer) and reaches the
    same point as when it evaluates them itself (with ``has_aux``, where it must)."""
    calls = []

    def rosenbrock(p):
        jax.debug.callback(lambda: calls.append(1))
        return jnp.sum(100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2)

    start = jnp.array([-1.2, 1.0, -0.5, 0.8])
    run = lambda loss, has_aux: jax.jit(
        lambda p: descend(loss, optax.lbfgs(), p, max_steps=12, has_aux=has_aux)
    )(start)
    reused = run(rosenbrock, False)
    reused_calls, calls[:] = len(calls), []
    evaluated = run(lambda p: (rosenbrock(p), None), True)
    # at least one line-search evaluation per step; the descend's own one per step is saved
    assert reused_calls <= len(calls) - 11, (reused_calls, len(calls))
    np.testing.assert_allclose(reused.params, evaluated.params, rtol=1e-10)
    np.testing.assert_allclose(reused.value, evaluated.value, rtol=1e-10)
    np.testing.assert_allclose(reused.grad_norm, evaluated.grad_norm, rtol=1e-8, atol=1e-12)


def test_laplace_of_a_gaussian_is_exact(x64):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    precision = a @ a.T + 3 * np.eye(3)
    mean = np.array([0.5, -1.0, 2.0])
    loss = lambda p: 0.5 * (p["x"] - mean) @ jnp.asarray(precision) @ (p["x"] - mean)
    approx = laplace(loss, {"x": jnp.asarray(mean)})
    np.testing.assert_allclose(approx.cov, np.linalg.inv(precision), rtol=1e-10)
    np.testing.assert_allclose(
        approx.std["x"], np.sqrt(np.diag(np.linalg.inv(precision))), rtol=1e-10
    )
    draws = approx.sample(jax.random.key(0), 20000)
    np.testing.assert_allclose(
        np.cov(np.asarray(draws["x"]).T), np.linalg.inv(precision), atol=0.01
    )


def test_laplace_of_linear_regression_matches_least_squares(x64):
    """Posterior covariance of a flat-prior linear fit: sigma^2 (A^T A)^-1."""
    x = jnp.linspace(-1.0, 1.0, 30)
    sigma = 0.3
    y = 0.7 * x + 0.2
    loss = lambda m, x, y: _squared_error(m, x, y)[0] / (2 * sigma**2)
    design = np.stack([np.asarray(x), np.ones(30)], axis=1)
    slope, intercept = np.linalg.lstsq(design, np.asarray(y), rcond=None)[0]
    approx = laplace(loss, _Line(jnp.asarray(slope), jnp.asarray(intercept)), x, y)
    expected = sigma**2 * np.linalg.inv(design.T @ design)
    np.testing.assert_allclose(approx.cov, expected, rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(approx.std.slope, np.sqrt(expected[0, 0]), rtol=1e-8)


def test_laplace_rejects_a_maximum(x64):
    with pytest.raises(Exception, match="not positive definite"):
        laplace(lambda p: -jnp.sum(p**2), jnp.zeros(2))


@pytest.mark.parametrize("loss", [lambda p: jnp.sum(p**2) + jnp.nan, lambda p: jnp.nan * p[0]])
def test_laplace_names_a_loss_that_is_not_finite(loss):
    with pytest.raises(FloatingPointError, match="laplace: the loss at params is not finite"):
        laplace(loss, jnp.zeros(2))


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        minimize(booth, jnp.zeros(2), optax.adam(0.1), steps=0)
    with pytest.raises(TypeError, match="no inexact-array leaves"):
        minimize(lambda p: 0.0, {"n": 3}, optax.adam(0.1), steps=1)


def _kepler_loss(p):
    """A loss whose Kepler call fails its value check once ecc leaves [0, 1)."""
    return jnp.sum(eccentric_anomaly(jnp.linspace(0.0, 3.0, 8), p["ecc"]) ** 2)


def test_fit_programs_hold_no_callback_and_failed_checks_name_themselves():
    params = {"ecc": jnp.asarray(0.5)}
    with pytest.raises(FloatingPointError, match="0 <= ecc < 1") as err:  # sgd drives ecc up
        minimize(lambda p: -_kepler_loss(p), params, optax.sgd(1.0), steps=20, progress=False)
    assert isinstance(err.value.__cause__, CheckError)
    with checks_as_nan():  # as minimize traces it: the loss's checks give NaN, no callback
        sgd = optax.sgd(0.01)
        args = (_kepler_loss, {"ecc": None}, False, sgd, params, sgd.init(params), ())
        text = _run_chunk.lower(*args, np.int32(1), 0.0).as_text()
    assert "callback" not in text
    with pytest.raises(FloatingPointError, match="0 <= ecc < 1"):
        laplace(_kepler_loss, {"ecc": jnp.asarray(1.5)})
