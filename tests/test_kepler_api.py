"""Kepler API: transformations, recompilation, dtypes, shapes, configuration and bad input."""

import dataclasses

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.jit import count_compiles
from diffkern.kepler import KeplerResult, KeplerSolver, eccentric_anomaly, kepler, true_anomaly
from diffkern.kepler._solve import solve
from diffkern.precision import default_float

# A check that fails inside the caller's jit (or equinox.filter_jit): XLA wraps the CheckError
# its host callback raised (a ValueError once the program has run before: JAX's fast path).
CALLBACK_ERRORS = (jax.errors.JaxRuntimeError, ValueError)


def test_jit_vmap_grad_compose(dtype):
    M = jnp.linspace(-1.0, 7.0, 12, dtype=dtype)
    e = jnp.linspace(0.0, 0.95, 12, dtype=dtype)
    grad = jax.jit(jax.vmap(jax.grad(eccentric_anomaly, argnums=(0, 1))))(M, e)
    E = eccentric_anomaly(M, e)
    slope = 1 - e * jnp.cos(E)
    rtol = 1e-5 if dtype == jnp.float32 else 1e-13
    np.testing.assert_allclose(grad[0], 1 / slope, rtol=rtol)
    np.testing.assert_allclose(grad[1], jnp.sin(E) / slope, rtol=rtol, atol=rtol)
    # vmap over a batch of eccentricities of a 2-D mean-anomaly grid (a different program, whose
    # fused multiply-adds may round differently: equal to an ulp or two)
    grid = jax.vmap(eccentric_anomaly, in_axes=(None, 0))(M, e)
    row = eccentric_anomaly(M, jnp.full_like(M, e[3]))
    np.testing.assert_allclose(grid[3], row, rtol=4 * jnp.finfo(dtype).eps)


def test_broadcasting_and_output_dtype(dtype):
    M = jnp.linspace(0, 6, 5, dtype=dtype)
    e = jnp.asarray([[0.1], [0.5]], dtype)
    E = eccentric_anomaly(M, e)
    assert E.shape == (2, 5) and E.dtype == dtype
    sin_f, cos_f = kepler(M, e)
    assert sin_f.shape == cos_f.shape == (2, 5) and sin_f.dtype == dtype
    assert true_anomaly(M[0], e[0, 0]).shape == ()


def test_integer_inputs_are_promoted():
    E = eccentric_anomaly(1, 0)
    assert E.dtype == default_float()
    np.testing.assert_allclose(E, 1.0, rtol=1e-6)
    E = eccentric_anomaly(jnp.arange(4), jnp.asarray(0.5, jnp.float32))
    assert E.dtype == jnp.float32


def test_mismatched_shapes_raise_value_error():
    with pytest.raises(ValueError, match="mean_anomaly.*ecc"):
        eccentric_anomaly(jnp.zeros(3), jnp.zeros(4))


def test_new_data_never_recompiles(dtype):
    solve = jax.jit(eccentric_anomaly)
    first = jnp.linspace(0, 6, 100, dtype=dtype), jnp.full(100, 0.3, dtype)
    second = jnp.linspace(1, 5, 100, dtype=dtype), jnp.full(100, 0.7, dtype)
    solve(*first).block_until_ready()
    with count_compiles() as counts:
        solve(*second).block_until_ready()
    assert counts.compiles == 0 and counts.traces == 0


def test_changed_static_field_recompiles_and_is_seen(x64):
    @eqx.filter_jit
    def run(solver, M, e):
        return solver(M, e)

    M, e = jnp.asarray([0.3, 1e-3]), jnp.asarray([0.999, 1 - 1e-9])
    precise = KeplerSolver()
    rough = dataclasses.replace(precise, method="newton")
    run(precise, M, e).block_until_ready()
    with count_compiles() as counts:
        E_rough = run(rough, M, e)
    assert counts.compiles == 1
    # One Newton step from the starter is visibly less accurate at e -> 1: the new field is used.
    assert float(jnp.max(jnp.abs(E_rough - run(precise, M, e)))) > 1e-12
    with count_compiles() as counts:
        run(KeplerSolver(), M, e)  # an equal configuration reuses the program
    assert counts.compiles == 0


@pytest.mark.parametrize(
    "M,e",
    [(1.0, 1.0), (1.0, -0.1), (1.0, 1.5), (np.nan, 0.5), (np.inf, 0.5), (1.0, np.nan)],
)
def test_bad_values_raise_when_checked(M, e):
    with pytest.raises(CALLBACK_ERRORS, match="CheckError: .*0 <= ecc < 1"):
        jax.block_until_ready(eqx.filter_jit(eccentric_anomaly)(jnp.asarray([0.5, M]), e))


def test_bad_values_are_nan_when_unchecked(dtype):
    solver = KeplerSolver(check=False)
    M = jnp.asarray([0.5, 1.0, np.inf, 1.0, 2.0], dtype)
    e = jnp.asarray([0.5, 1.0, 0.2, -0.1, 0.3], dtype)
    result = jax.jit(solver.solve)(M, e)
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        assert bool(jnp.all(jnp.isnan(value[1:4]))), field.name
        assert bool(jnp.all(jnp.isfinite(value[jnp.asarray([0, 4])]))), field.name
    grad = jax.grad(lambda M: solver(M, e).sum())(M)
    assert bool(jnp.all(jnp.isnan(grad[1:4])))


@pytest.mark.parametrize(
    "kwargs,error",
    [
        ({"method": "bisection"}, ValueError),
        ({"num_iter": 0}, ValueError),
        ({"num_iter": 1.0}, TypeError),
        ({"check": 1}, TypeError),
    ],
)
def test_invalid_configuration(kwargs, error):
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        KeplerSolver(**kwargs)


def test_result_is_a_module():
    result = KeplerSolver().solve(1.0, 0.5)
    assert isinstance(result, KeplerResult)
    np.testing.assert_allclose(result.sin_E**2 + result.cos_E**2, 1, rtol=1e-6)
    np.testing.assert_allclose(result.sin_f**2 + result.cos_f**2, 1, rtol=1e-6)


def test_large_batches_match_small(dtype):
    # More than 4096 elements: on CPU the solver runs in blocks with a padded tail.
    rng = np.random.default_rng(1)
    M = jnp.asarray(rng.uniform(-10, 10, (3, 2001)), dtype)
    e = jnp.asarray(rng.uniform(0, 0.999, (3, 2001)), dtype)
    solve = jax.jit(KeplerSolver().solve)
    big = solve(M, e)
    rows = [solve(M[i], e[i]) for i in range(3)]
    tol = 1e-6 if dtype == jnp.float32 else 1e-15
    for name in ("eccentric_anomaly", "sin_f", "cos_f"):
        np.testing.assert_allclose(
            getattr(big, name), jnp.stack([getattr(r, name) for r in rows]), rtol=0, atol=tol
        )
    grad = jax.jit(jax.grad(lambda M: eccentric_anomaly(M, e).sum()))(M)
    E = big.eccentric_anomaly
    np.testing.assert_allclose(grad, 1 / (1 - e * jnp.cos(E)), rtol=100 * tol)


@pytest.mark.parametrize("platform,loops", [("cpu", True), ("gpu", False)])
def test_program_structure_follows_platform(platform, loops):
    # On CPU, large batches run in a loop over cache-sized blocks; elsewhere the solver is one
    # flat elementwise program. The choice is static, from where the inputs live.
    M, e = jnp.zeros(10_000), jnp.full(10_000, 0.5)
    offset = jnp.zeros(())
    lowered = jax.jit(solve, static_argnums=(3, 4, 5)).lower(M, e, offset, "newton", 1, platform)
    assert ("stablehlo.while" in lowered.as_text()) == loops
