"""Kernel base class and the algebra of kernels: constants, sums and products.

A kernel owns its covariance (``evaluate``) and, when it has one, its state-space form
(``state_space``) in the same class; whether a kernel admits the quasiseparable solver is
derived from that (``has_state_space``), never listed.
"""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import as_float, cast, inputs, result_dtype, scalar_param
from diffkern.gp._finite import check_finite
from diffkern.gp._state_space import StateSpace, direct_sum, kron


class Kernel(eqx.Module):
    """A stationary covariance function k(tau) of the distance tau = |x1 - x2| of 1-D inputs.

    Parameters are array fields (traced under ``jit``); the structure of a kernel (its class
    and the tree of sums and products) is static. Combine kernels with ``k1 + k2``,
    ``k1 * k2`` and ``c * k`` (``Product(Constant(c), k)``).

    A kernel with a state-space form (k(tau) = h^T A(tau) P h, see ``diffkern.gp._state_space``)
    overrides :meth:`state_space`; the quasiseparable solver then applies to it, and to sums
    and products of such kernels.
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

    def state_space(self, dtype) -> StateSpace:
        """The state-space form (h, P, A(tau)) of this kernel in ``dtype``.

        Kernels that have one override this; the base raises ``TypeError`` naming the kernel.
        """
        raise TypeError(
            f"kernel {type(self).__name__} has no state-space form (it does not override "
            "Kernel.state_space), so the quasiseparable solver does not apply; use "
            "solver='cholesky'"
        )

    def has_state_space(self) -> bool:
        """Whether :meth:`state_space` is implemented (decided from the class alone)."""
        return type(self).state_space is not Kernel.state_space

    def __add__(self, other: Kernel | ArrayLike) -> Kernel:
        return Sum(self, _as_kernel(other))

    def __radd__(self, other: Kernel | ArrayLike) -> Kernel:
        return Sum(_as_kernel(other), self)

    def __mul__(self, other: Kernel | ArrayLike) -> Kernel:
        return Product(self, _as_kernel(other))

    def __rmul__(self, other: Kernel | ArrayLike) -> Kernel:
        return Product(_as_kernel(other), self)


def param(value: ArrayLike, name: str, *, positive: bool = True) -> Float[Array, ""]:
    """A kernel parameter: a floating scalar, checked finite (``ValueError`` when known now;
    traced values by the solvers, see ``diffkern.gp._finite``), then positive (or >= 0)."""
    return scalar_param(check_finite(as_float(value), name, traced=False), name, positive=positive)


def _as_kernel(x: Kernel | ArrayLike) -> Kernel:
    return x if isinstance(x, Kernel) else Constant(x)


class Constant(Kernel):
    """k(tau) = value (``value >= 0``)."""

    value: Float[Array, ""]

    def __init__(self, value: ArrayLike):
        self.value = param(value, "Constant value", positive=False)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return jnp.broadcast_to(cast(self.value, tau.dtype), tau.shape)

    def state_space(self, dtype) -> StateSpace:
        def transition(tau: Float[Array, " N"]) -> Float[Array, "N 1 1"]:
            return jnp.ones((tau.shape[0], 1, 1), dtype)

        pinf = jnp.reshape(cast(self.value, dtype), (1, 1))
        return StateSpace(jnp.ones(1, dtype), pinf, transition)


class _Pair(Kernel):
    """A kernel of two kernels, whose state-space form joins theirs state by state."""

    left: Kernel
    right: Kernel

    @staticmethod
    @abc.abstractmethod
    def _join(a: Float[Array, ...], b: Float[Array, ...]) -> Float[Array, ...]:
        """How h, P and A of the two parts combine (over their trailing state axes)."""

    def has_state_space(self) -> bool:
        return self.left.has_state_space() and self.right.has_state_space()

    def state_space(self, dtype) -> StateSpace:
        left, right = self.left.state_space(dtype), self.right.state_space(dtype)

        def transition(tau: Float[Array, " N"]) -> Float[Array, "N J J"]:
            return self._join(left.transition(tau), right.transition(tau))

        return StateSpace(
            self._join(left.h, right.h), self._join(left.pinf, right.pinf), transition
        )


class Sum(_Pair):
    """k(tau) = left(tau) + right(tau); states side by side (block-diagonal A and P)."""

    _join = staticmethod(direct_sum)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self.left.evaluate(tau) + self.right.evaluate(tau)


class Product(_Pair):
    """k(tau) = left(tau) * right(tau); Kronecker products of h, P and A."""

    _join = staticmethod(kron)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self.left.evaluate(tau) * self.right.evaluate(tau)
