"""Exact implicit derivatives of the Kepler solver, in every mode and to second order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_kepler_reference import reference

from diffkern.kepler import KeplerSolver, eccentric_anomaly, kepler, true_anomaly
from diffkern.testing import check_grads

# Points where the analytic derivatives are compared (float64); e up to 1 - 1e-9.
M_POINTS = np.array([1e-12, 1e-6, 0.3, 1.0, 2.0, 3.1, 4.0, 5.5, 2 * np.pi - 1e-9, -0.7, 0.5, 1e-3])
E_POINTS = np.array([0.5, 0.9, 0.0, 0.2, 0.99, 0.6, 0.999, 0.3, 0.7, 0.1, 1 - 1e-9, 1 - 1e-6])
DERIV_RTOL = 1e-10


def _first(M, e):
    return jax.vmap(jax.grad(eccentric_anomaly, argnums=(0, 1)))(M, e)


def _second(M, e):
    return jax.vmap(jax.hessian(eccentric_anomaly, argnums=(0, 1)))(M, e)


def test_first_and_second_derivatives_match_analytic(x64):
    M, e = jnp.asarray(M_POINTS), jnp.asarray(E_POINTS)
    ref = reference(M_POINTS, E_POINTS)
    E_M, E_e = jax.jit(_first)(M, e)
    np.testing.assert_allclose(E_M, ref["E_M"], rtol=DERIV_RTOL)
    np.testing.assert_allclose(E_e, ref["E_e"], rtol=DERIV_RTOL, atol=1e-300)
    (E_MM, E_Me), (E_eM, E_ee) = jax.jit(_second)(M, e)
    np.testing.assert_allclose(E_MM, ref["E_MM"], rtol=DERIV_RTOL)
    np.testing.assert_allclose(E_Me, ref["E_Me"], rtol=DERIV_RTOL)
    np.testing.assert_allclose(E_eM, ref["E_Me"], rtol=DERIV_RTOL)
    np.testing.assert_allclose(E_ee, ref["E_ee"], rtol=DERIV_RTOL)


@pytest.mark.parametrize("method,num_iter", [("newton", 1), ("order5", 3)])
def test_derivatives_do_not_depend_on_iterations(x64, method, num_iter):
    M, e = jnp.asarray(M_POINTS[:6]), jnp.asarray(E_POINTS[:6])
    solver = KeplerSolver(method=method, num_iter=num_iter)
    grads = jax.jit(jax.vmap(jax.grad(solver, argnums=(0, 1))))(M, e)
    E = solver(M, e)
    slope = 1 - e * jnp.cos(E)
    np.testing.assert_allclose(grads[0], 1 / slope, rtol=1e-12)
    np.testing.assert_allclose(grads[1], jnp.sin(E) / slope, rtol=1e-12)


def test_check_grads_order_two(x64):
    solver = KeplerSolver()

    @jax.jit
    def outputs(M, e):
        r = solver.solve(M, e)
        return r.eccentric_anomaly, r.sin_E, r.cos_E, r.sin_f, r.cos_f, r.true_anomaly

    M, e = jnp.asarray([0.4, 2.5, 5.0, 3.0]), jnp.asarray([0.3, 0.8, 0.05, 0.6])
    check_grads(outputs, (M, e), order=2, modes=("fwd", "rev"))


def test_forward_and_reverse_agree(x64):
    M, e = jnp.asarray(M_POINTS), jnp.asarray(E_POINTS)

    def f(M, e):
        sin_f, cos_f = kepler(M, e)
        return jnp.stack([sin_f, cos_f, eccentric_anomaly(M, e)])

    fwd = jax.jit(jax.jacfwd(f, argnums=(0, 1)))(M, e)
    rev = jax.jit(jax.jacrev(f, argnums=(0, 1)))(M, e)
    # Rounding differs between the two orders of summation; d cos f / de at e = 1 - 1e-9 cancels.
    np.testing.assert_allclose(fwd, rev, rtol=1e-12, atol=1e-12)


def test_derivatives_of_sines_follow_chain_rule(x64):
    M, e = jnp.asarray(1.3), jnp.asarray(0.4)
    dE = jax.jit(jax.grad(eccentric_anomaly, argnums=(0, 1)))(M, e)
    E = eccentric_anomaly(M, e)

    def sines(M, e):
        r = KeplerSolver().solve(M, e)
        return jnp.stack([r.sin_E, r.cos_E])

    outer = jnp.stack([jnp.cos(E), -jnp.sin(E)])
    d_M, d_e = jax.jit(jax.jacrev(sines, argnums=(0, 1)))(M, e)
    np.testing.assert_allclose(d_M, outer * dE[0], rtol=1e-13)
    np.testing.assert_allclose(d_e, outer * dE[1], rtol=1e-13)


def test_derivatives_finite_at_singular_points(dtype):
    M = jnp.asarray([0.0, 0.0, 1e-12, 0.0, np.pi, 1e-6], dtype)
    e = jnp.asarray([0.0, 0.5, 0.0, 0.999, 0.999, 0.9999], dtype)

    def outputs(M, e):
        sin_f, cos_f = kepler(M, e)
        return jnp.stack([eccentric_anomaly(M, e), true_anomaly(M, e), sin_f, cos_f])

    grads = jax.jit(jax.vmap(jax.jacfwd(outputs, argnums=(0, 1))))(M, e)
    hess = jax.jit(jax.vmap(jax.hessian(outputs, argnums=(0, 1))))(M, e)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves((grads, hess)))


def test_single_argument_tangents(x64):
    # Only one input perturbed: the other tangent is a symbolic zero.
    M, e = jnp.asarray(2.0), jnp.asarray(0.5)
    E, dE_M = jax.jvp(lambda M: eccentric_anomaly(M, e), (M,), (jnp.asarray(1.0),))
    _, dE_e = jax.jvp(lambda e: eccentric_anomaly(M, e), (e,), (jnp.asarray(1.0),))
    slope = 1 - e * jnp.cos(E)
    np.testing.assert_allclose(dE_M, 1 / slope, rtol=1e-14)
    np.testing.assert_allclose(dE_e, jnp.sin(E) / slope, rtol=1e-14)
    _, vjp = jax.vjp(eccentric_anomaly, M, e)
    np.testing.assert_allclose(vjp(jnp.asarray(1.0)), (1 / slope, jnp.sin(E) / slope), rtol=1e-14)
