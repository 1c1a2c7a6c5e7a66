"""State-space forms owned by kernels: "admits quasisep" derived from the class, never listed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.gp import (
    SHO,
    Constant,
    Cosine,
    Dense,
    Exp,
    ExpSineSquared,
    ExpSquared,
    GaussianProcess,
    Kernel,
    Matern32,
    Matern52,
    QuasiPeriodic,
    Quasisep,
    StateSpace,
)
from diffkern.gp._state_space import state_space
from diffkern.testing import tolerance


class _Triangle(Kernel):
    """A user kernel without a state-space form: k = max(0, 1 - tau)."""

    def evaluate(self, tau):
        return jnp.maximum(0, 1 - tau)


class _Damped(Kernel):
    """A user kernel with one: k = variance exp(-tau), one state, A = e^{-tau}, P = variance."""

    variance: float = 2.0

    def evaluate(self, tau):
        return self.variance * jnp.exp(-tau)

    def state_space(self, dtype):
        def transition(tau):
            return jnp.exp(-tau)[:, None, None]

        return StateSpace(jnp.ones(1, dtype), jnp.full((1, 1), self.variance, dtype), transition)


@pytest.mark.parametrize(
    "kernel, admits",
    [
        (Exp(1.0), True),
        (Matern32(1.0), True),
        (Matern52(1.0), True),
        (SHO(1.0, 2.0, 1.0), True),
        (Cosine(1.0), True),
        (Constant(1.0), True),
        (_Damped(), True),
        (ExpSquared(1.0), False),
        (ExpSineSquared(1.0, 1.0), False),
        (QuasiPeriodic(1.0, 1.0, 1.0, 1.0), False),
        (_Triangle(), False),
        (2.0 * Exp(1.0) * Cosine(3.0) + SHO(1.0, 0.3, 1.0), True),
        (_Damped() + Matern32(1.0), True),
        (Exp(1.0) + ExpSquared(1.0), False),
        (Exp(1.0) * _Triangle(), False),
        ((Exp(1.0) + Cosine(2.0)) * (Matern52(1.0) + ExpSineSquared(1.0, 1.0)), False),
    ],
    ids=repr,
)
def test_admits_quasisep_is_derived(kernel, admits):
    assert kernel.has_state_space() is admits
    x = np.linspace(0, 1, 600)
    chosen = GaussianProcess(kernel, x, diag=0.1).solver
    assert isinstance(chosen, Quasisep if admits else Dense)
    if not admits:
        with pytest.raises(TypeError, match="has no state-space form"):
            state_space(kernel, jnp.float32)
        with pytest.raises(ValueError, match="does not support kernel"):
            GaussianProcess(kernel, x, solver="quasisep")


def test_error_names_the_part_without_a_form():
    with pytest.raises(TypeError, match="kernel _Triangle has no state-space form"):
        (Exp(1.0) + 2.0 * _Triangle()).state_space(jnp.float32)
    with pytest.raises(TypeError, match="kernel ExpSquared has no state-space form"):
        state_space(Matern32(1.0) * ExpSquared(1.0), jnp.float32)


def test_accessor_is_the_method(dtype):
    kernel = Matern32(1.0) + SHO(2.0, 0.7, 1.1)
    tau = np.linspace(0, 3, 7, dtype=dtype)

    @jax.jit  # one program, not one per operation
    def forms(tau):
        a, b = state_space(kernel, dtype), kernel.state_space(dtype)
        return [(ss.h, ss.pinf, ss.transition(tau)) for ss in (a, b)]

    for x, y in zip(*forms(tau), strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "kernel",
    [_Damped(), _Damped() * Cosine(1.5) + Exp(0.5), 0.5 * Matern52(2.0) * SHO(1.0, 0.2, 1.0)],
    ids=repr,
)
def test_sums_and_products_of_forms_reproduce_the_kernel(kernel, dtype):
    """k(tau) = h^T A(tau) P h, with user and built-in forms joined by Sum and Product."""
    tau = np.linspace(0, 4, 33, dtype=dtype)

    @jax.jit  # one program, not one per operation
    def forms(tau):
        ss = kernel.state_space(dtype)
        return ss.h, ss.transition(tau), ss.pinf, kernel.evaluate(tau)

    h, A, P, value = forms(tau)
    k = np.einsum("i,nij,jk,k->n", h, A, P, h)
    expected = np.asarray(value, np.float64)
    np.testing.assert_allclose(k, expected, atol=tolerance(dtype, float32=2e-6, float64=1e-14))


def test_user_kernel_with_a_form_uses_quasisep(x64):
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 10, 40))
    y = np.sin(x) + 0.3 * rng.normal(size=40)
    kernel = _Damped() + Matern32(1.3)

    @jax.jit  # one program, not one per operation
    def log_probabilities(x, y):
        solvers = ("quasisep", "cholesky")
        return [GaussianProcess(kernel, x, diag=0.1, solver=s).log_probability(y) for s in solvers]

    quasi, dense = log_probabilities(x, y)
    np.testing.assert_allclose(quasi, dense, rtol=1e-12)
