"""Kernel base class and the algebra of kernels: constants, sums and products.

A kernel owns its covariance (``evaluate``) and, when it has one, its state-space form
(``state_space``) in the same class; whether a kernel admits the quasiseparable solver is
derived from that (``has_state_space``), never listed.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Iterator

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import (
    cast,
    check_values,
    concrete,
    error_if_each,
    inputs,
    result_dtype,
)
from diffkern.gp._finite import check_finite, finite_message
from diffkern.gp._parameter import bound_checks, parameter, parameters
from diffkern.gp._state_space import StateSpace, direct_sum, kron


class Kernel(eqx.Module):
    """A stationary covariance function k(tau) of the distance tau = |x1 - x2| of 1-D inputs.

    Parameters are array fields (traced under ``jit``); the structure of a kernel (its class
    and the tree of sums and products) is static. Combine kernels with ``k1 + k2``,
    ``k1 * k2`` and ``c * k`` (``Product(Constant(c), k)``).

    Fields declared with :func:`parameter` are scalars, finite and positive (or >= 0): values
    known when the kernel is built are checked then (``ValueError``); traced ones where the
    kernel is used, by ``kernel(X1, X2)`` and by the solvers, in the run-time check of that
    call (so a GP call inside ``jit`` compiles one check for its kernel, data and pivots).
    :meth:`evaluate` does not check.

    A kernel with a state-space form (k(tau) = h^T A(tau) P h, see ``diffkern.gp._state_space``)
    overrides :meth:`state_space`; the quasiseparable solver then applies to it, and to sums
    and products of such kernels.
    """

    def __check_init__(self):
        for field, (label, positive) in parameters(self):
            x = getattr(self, field)
            if x.ndim != 0:
                raise ValueError(f"{label} must be a scalar, got shape {x.shape}")
            x = check_finite(x, label, traced=False)
            check_values(x, label, positive=positive, traced=False)

    @abc.abstractmethod
    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        """k(tau), elementwise, for distances ``tau >= 0`` in the dtype of the result."""

    def __call__(self, X1: ArrayLike, X2: ArrayLike | None = None) -> Float[Array, "N M"]:
        """The covariance matrix ``K[i, j] = k(|X1[i] - X2[j]|)`` (``X2`` defaults to ``X1``).

        ``X1`` has shape (N,), ``X2`` (M,); the result takes the floating dtype of the inputs.
        The inputs must be finite and the parameters finite and within their bounds (see
        :class:`Kernel`): ``ValueError`` at once for values known now, else a run-time check.
        """
        named = {"X1": inputs(X1, "X1")}
        if X2 is not None:
            named["X2"] = inputs(X2, "X2")
        X1, X2 = named["X1"], named.get("X2", named["X1"])
        dtype = result_dtype(X1, X2)
        K = self._grid(X1.astype(dtype), X2.astype(dtype))
        if _checked_by_caller.get():
            return K
        checks = bound_checks(self, finite=True)
        for name, x in named.items():
            check_finite(x, name, traced=False)  # ValueError now when the values are known
            if concrete(x) is None:
                checks.append((~jnp.isfinite(x), finite_message(name)))
        return error_if_each(K, checks)

    def _grid(self, x1: Float[Array, " n"], x2: Float[Array, " m"]) -> Float[Array, "n m"]:
        """k(|x1[i] - x2[j]|); kernels with a cheaper form on the whole grid override it."""
        return self.evaluate(jnp.abs(x1[:, None] - x2[None, :]))

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


_checked_by_caller: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "diffkern_kernel_checked", default=False
)


@contextlib.contextmanager
def checked_by_caller() -> Iterator[None]:
    """Within the block, ``kernel(X1, X2)`` skips its parameter checks: for solvers, whose
    input checks (``diffkern.gp._finite.finite_inputs``) hold them in the same call."""
    token = _checked_by_caller.set(True)
    try:
        yield
    finally:
        _checked_by_caller.reset(token)


def _as_kernel(x: Kernel | ArrayLike) -> Kernel:
    return x if isinstance(x, Kernel) else Constant(x)


class Constant(Kernel):
    """k(tau) = value (``value >= 0``)."""

    value: Float[Array, ""] = parameter(positive=False, label="Constant value")

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

    def _grid(self, x1: Float[Array, " n"], x2: Float[Array, " m"]) -> Float[Array, "n m"]:
        return self.left._grid(x1, x2) + self.right._grid(x1, x2)


class Product(_Pair):
    """k(tau) = left(tau) * right(tau); Kronecker products of h, P and A."""

    _join = staticmethod(kron)

    def evaluate(self, tau: Float[Array, "*shape"]) -> Float[Array, "*shape"]:
        return self.left.evaluate(tau) * self.right.evaluate(tau)

    def _grid(self, x1: Float[Array, " n"], x2: Float[Array, " m"]) -> Float[Array, "n m"]:
        return self.left._grid(x1, x2) * self.right._grid(x1, x2)
