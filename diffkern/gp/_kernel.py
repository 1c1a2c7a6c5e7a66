"""Kernel base class and the algebra of kernels: constants, sums and products."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import cast, inputs, result_dtype, scalar_param


class Kernel(eqx.Module):
    """A stationary covariance function k(tau) of the distance tau = |x1 - x2| of 1-D inputs.

    Parameters are array fields (traced under ``jit``); the structure of a kernel (its class
    and the tree of sums and products) is static. Combine kernels with ``k1 + k2``,
    ``k1 * k2`` and ``c * k`` (``Product(Constant(c), k)``).
    """

    @abc.abstractmethod
    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """k(tau), elementwise, for distances ``tau >= 0`` in the dtype of the result."""

    def __call__(self, X1: ArrayLike, X2: ArrayLike | None = None) -> Float[Array, "N M"]:
        """The covariance matrix ``K[i, j] = k(|X1[i] - X2[j]|)`` (``X2`` defaults to ``X1``).

        ``X1`` has shape (N,), ``X2`` (M,); the result takes the floating dtype of the inputs.
        """
        X1 = inputs(X1, "X1")
        X2 = X1 if X2 is None else inputs(X2, "X2")
        dtype = result_dtype(X1, X2)
        tau = jnp.abs(X1.astype(dtype)[:, None] - X2.astype(dtype)[None, :])
        return self.evaluate(tau)

    def __add__(self, other: Kernel | ArrayLike) -> Kernel:
        return Sum(self, _as_kernel(other))

    def __radd__(self, other: Kernel | ArrayLike) -> Kernel:
        return Sum(_as_kernel(other), self)

    def __mul__(self, other: Kernel | ArrayLike) -> Kernel:
        return Product(self, _as_kernel(other))

    def __rmul__(self, other: Kernel | ArrayLike) -> Kernel:
        return Product(_as_kernel(other), self)


def _as_kernel(x: Kernel | ArrayLike) -> Kernel:
    return x if isinstance(x, Kernel) else Constant(x)


class Constant(Kernel):
    """k(tau) = value (``value >= 0``)."""

    value: Float[Array, ""]

    def __init__(self, value: ArrayLike):
        self.value = scalar_param(value, "value", positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return jnp.broadcast_to(cast(self.value, tau.dtype), tau.shape)


class Sum(Kernel):
    """k(tau) = left(tau) + right(tau)."""

    left: Kernel
    right: Kernel

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self.left.evaluate(tau) + self.right.evaluate(tau)


class Product(Kernel):
    """k(tau) = left(tau) * right(tau)."""

    left: Kernel
    right: Kernel

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self.left.evaluate(tau) * self.right.evaluate(tau)
