"""State-space (quasiseparable) form of the kernels that admit one.

A kernel k(tau) with a state-space form has an observation vector h (J,), a stationary state
covariance P (J, J) and a transition matrix A(tau) = expm(F tau) such that, for tau >= 0,

    k(tau) = h^T A(tau) P h,   A(tau1 + tau2) = A(tau1) A(tau2).

Sums stack states (block-diagonal A and P, concatenated h); products take Kronecker products of
h, P and A. States are scaled to be dimensionless (derivatives in units of the kernel's rate),
so P is O(1) and A depends on the rate only through x = rate * tau: the representation stays
well conditioned in float32 for any scale.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float

from diffkern._arrays import cast
from diffkern.gp._kernel import Constant, Kernel, Product, Sum
from diffkern.gp._sho import _COS, _SERIES, _SINC, SHO, _series
from diffkern.gp._stationary import Cosine, Exp, Matern32, Matern52

Transition = Callable[[Float[Array, " N"]], Float[Array, "N J J"]]


class StateSpace(NamedTuple):
    """h (J,), P (J, J) and tau -> A(tau) (N,) -> (N, J, J) of a kernel, in one dtype."""

    h: Float[Array, " J"]
    pinf: Float[Array, "J J"]
    transition: Transition


def quasisep_supported(kernel: Kernel) -> bool:
    """Whether ``kernel`` has a state-space form (decided from its structure alone)."""
    if isinstance(kernel, (Sum, Product)):
        return quasisep_supported(kernel.left) and quasisep_supported(kernel.right)
    return isinstance(kernel, (Exp, Matern32, Matern52, SHO, Cosine, Constant))


@functools.singledispatch
def state_space(kernel: Kernel, dtype) -> StateSpace:
    """The state-space form of ``kernel`` in ``dtype``; ``TypeError`` if it has none."""
    raise TypeError(
        f"kernel {type(kernel).__name__} has no quasiseparable form; supported: Exp, Matern32, "
        "Matern52, SHO, Cosine, Constant and their sums and products (use solver='cholesky')"
    )


def _nilpotent_transition(n: np.ndarray, dtype, rate: Array) -> Transition:
    """A(tau) = e^{-x} sum_k (x N)^k / k!, x = rate tau, for F = rate (N - I) with N nilpotent."""
    powers = [np.linalg.matrix_power(n, k) / math.factorial(k) for k in range(n.shape[0])]
    stacked = jnp.asarray(np.stack(powers), dtype=dtype)  # (J, J, J): N^k / k!

    def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
        x = rate * tau
        coefficients = jnp.cumprod(jnp.stack([jnp.ones_like(x)] + [x] * (n.shape[0] - 1), -1), -1)
        return jnp.exp(-x)[:, None, None] * jnp.einsum("nk,kij->nij", coefficients, stacked)

    return transition


def _matern(n: np.ndarray, pinf: np.ndarray, kernel: Exp | Matern32 | Matern52, dtype):
    rate = math.sqrt(2 * n.shape[0] - 1) / cast(kernel.scale, dtype)
    h = jnp.zeros(n.shape[0], dtype).at[0].set(1)
    return StateSpace(h, jnp.asarray(pinf, dtype), _nilpotent_transition(n, dtype, rate))


@state_space.register
def _(kernel: Exp, dtype) -> StateSpace:
    return _matern(np.zeros((1, 1)), np.eye(1), kernel, dtype)


@state_space.register
def _(kernel: Matern32, dtype) -> StateSpace:
    # x'' = rate^2 (-x - 2 x'); state (x, x' / rate).
    return _matern(np.array([[1.0, 1.0], [-1.0, -1.0]]), np.eye(2), kernel, dtype)


@state_space.register
def _(kernel: Matern52, dtype) -> StateSpace:
    # x''' = rate^3 (-x - 3 x' - 3 x''); state (x, x' / rate, x'' / rate^2).
    n = np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [-1.0, -3.0, -2.0]])
    pinf = np.array([[1.0, 0.0, -1 / 3], [0.0, 1 / 3, 0.0], [-1 / 3, 0.0, 1.0]])
    return _matern(n, pinf, kernel, dtype)


@state_space.register
def _(kernel: Constant, dtype) -> StateSpace:
    one = jnp.ones((1, 1), dtype)
    value = cast(kernel.value, dtype)

    def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
        return jnp.ones((tau.shape[0], 1, 1), dtype)

    return StateSpace(jnp.ones(1, dtype), value * one, transition)


@state_space.register
def _(kernel: Cosine, dtype) -> StateSpace:
    omega = 2 * math.pi / cast(kernel.period, dtype)

    def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
        c, s = jnp.cos(omega * tau), jnp.sin(omega * tau)
        return jnp.stack([jnp.stack([c, -s], -1), jnp.stack([s, c], -1)], -2)

    return StateSpace(jnp.array([1, 0], dtype), jnp.eye(2, dtype=dtype), transition)


@state_space.register
def _(kernel: SHO, dtype) -> StateSpace:
    # x'' = omega^2 (-x - 2 a x'), a = 1 / (2 quality); state (x, x' / omega). With
    # N = [[a, 1], [-1, -a]] (N^2 = (a^2 - 1) I), A = e^{-a x} (c(x) I + s(x) N) where
    # c = cos(eta x), s = sin(eta x) / eta, eta^2 = 1 - a^2 (cosh/sinh when eta^2 < 0).
    omega = cast(kernel.omega, dtype)
    a = 0.5 / cast(kernel.quality, dtype)
    sigma = cast(kernel.sigma, dtype)
    f = 1 - a * a

    def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
        x = omega * tau
        z = f * x * x
        near = jnp.abs(z) < _SERIES
        decay = jnp.exp(-a * x)
        # Every branch sees inputs valid for it: no NaN from unused branches, values or grads.
        eta = jnp.sqrt(jnp.where(f > 0, f, 1))
        c_under, s_under = decay * jnp.cos(eta * x), decay * jnp.sin(eta * x) / eta
        b = jnp.sqrt(jnp.where(f < 0, -f, 1))
        slow = jnp.exp(-x / (a + b))  # e^{(b - a) x} without cancellation (a^2 - b^2 = 1)
        fast = jnp.exp(-(a + b) * x)
        c_over, s_over = 0.5 * (slow + fast), 0.5 * (slow - fast) / b
        zs = jnp.where(near, z, 0)
        c_near, s_near = decay * _series(_COS, zs), decay * x * _series(_SINC, zs)
        c = jnp.where(near, c_near, jnp.where(z > 0, c_under, c_over))
        s = jnp.where(near, s_near, jnp.where(z > 0, s_under, s_over))
        row0 = jnp.stack([c + a * s, s], -1)
        row1 = jnp.stack([-s, c - a * s], -1)
        return jnp.stack([row0, row1], -2)

    pinf = sigma * sigma * jnp.eye(2, dtype=dtype)
    return StateSpace(jnp.array([1, 0], dtype), pinf, transition)


@state_space.register
def _(kernel: Sum, dtype) -> StateSpace:
    left, right = state_space(kernel.left, dtype), state_space(kernel.right, dtype)

    def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
        return _block_diag(left.transition(tau), right.transition(tau))

    h = jnp.concatenate([left.h, right.h])
    return StateSpace(h, _block_diag(left.pinf, right.pinf), transition)


@state_space.register
def _(kernel: Product, dtype) -> StateSpace:
    left, right = state_space(kernel.left, dtype), state_space(kernel.right, dtype)

    def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
        return _kron(left.transition(tau), right.transition(tau))

    return StateSpace(_kron(left.h, right.h), _kron(left.pinf, right.pinf), transition)


def _block_diag(a: Float[Array, ...], b: Float[Array, ...]) -> Float[Array, ...]:
    upper = jnp.zeros(a.shape[:-1] + b.shape[-1:], a.dtype)
    lower = jnp.zeros(b.shape[:-1] + a.shape[-1:], a.dtype)
    return jnp.concatenate([jnp.concatenate([a, upper], -1), jnp.concatenate([lower, b], -1)], -2)


def _kron(a: Float[Array, ...], b: Float[Array, ...]) -> Float[Array, ...]:
    """Kronecker product over the trailing one (vectors) or two (matrices) axes."""
    if a.ndim == 1:
        return (a[:, None] * b[None, :]).reshape(-1)
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.reshape(a.shape[:-2] + (a.shape[-2] * b.shape[-2], a.shape[-1] * b.shape[-1]))
