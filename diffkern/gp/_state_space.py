"""The state-space (quasiseparable) form of a kernel, and how sums and products combine it.

A kernel k(tau) with a state-space form has an observation vector h (J,), a stationary state
covariance P (J, J) and a transition matrix A(tau) = expm(F tau) such that, for tau >= 0,

    k(tau) = h^T A(tau) P h,   A(tau1 + tau2) = A(tau1) A(tau2).

Each kernel class builds its own form in ``Kernel.state_space`` next to its covariance; sums
stack states (block-diagonal A and P, concatenated h), products take Kronecker products of h,
P and A. States are scaled to be dimensionless (derivatives in units of the kernel's rate), so
P is O(1) and A depends on the rate only through x = rate * tau: the representation stays well
conditioned in float32 for any scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

import jax.numpy as jnp
from jaxtyping import Array, Float

if TYPE_CHECKING:
    from diffkern.gp._kernel import Kernel

Transition = Callable[[Float[Array, " N"]], Float[Array, "N J J"]]


class StateSpace(NamedTuple):
    """h (J,), P (J, J) and tau -> A(tau) (N,) -> (N, J, J) of a kernel, in one dtype."""

    h: Float[Array, " J"]
    pinf: Float[Array, "J J"]
    transition: Transition


def state_space(kernel: Kernel, dtype) -> StateSpace:
    """The state-space form of ``kernel`` in ``dtype``; ``TypeError`` naming it if it has none."""
    return kernel.state_space(dtype)


def direct_sum(a: Float[Array, ...], b: Float[Array, ...]) -> Float[Array, ...]:
    """States side by side: vectors concatenate, matrices (trailing two axes) go block-diagonal."""
    if a.ndim == 1:
        return jnp.concatenate([a, b])
    upper = jnp.zeros(a.shape[:-1] + b.shape[-1:], a.dtype)
    lower = jnp.zeros(b.shape[:-1] + a.shape[-1:], a.dtype)
    return jnp.concatenate([jnp.concatenate([a, upper], -1), jnp.concatenate([lower, b], -1)], -2)


def kron(a: Float[Array, ...], b: Float[Array, ...]) -> Float[Array, ...]:
    """Kronecker product over the trailing one (vectors) or two (matrices) axes (a product)."""
    if a.ndim == 1:
        return (a[:, None] * b[None, :]).reshape(-1)
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.reshape(a.shape[:-2] + (a.shape[-2] * b.shape[-2], a.shape[-1] * b.shape[-1]))
