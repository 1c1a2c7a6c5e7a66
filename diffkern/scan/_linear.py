"""Linear recurrences h_t = a_t h_{t-1} + b_t, sequential or by parallel prefix, solved as a
bidiagonal linear system so that derivatives run the same recurrence (no tape)."""

from typing import Literal

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Float

from diffkern._arrays import platform, result_dtype
from diffkern._compile import jit
from diffkern.scan._prefix import prefix_scan

Method = Literal["auto", "sequential", "associative"]
_METHODS = ("auto", "sequential", "associative")


def _apply(a: Array, h: Array, dense: bool) -> Array:
    """a h for one step (or a stack of steps): elementwise, or a matrix times a vector."""
    return jnp.einsum("...ij,...j->...i", a, h) if dense else a * h


def _compose(a2: Array, a1: Array, dense: bool) -> Array:
    """a2 a1: the coefficient of two steps applied one after the other."""
    return jnp.einsum("...ij,...jk->...ik", a2, a1) if dense else a2 * a1


def _sequential(a: Array, b: Array, dense: bool) -> Array:
    def step(h, ab):
        h = _apply(ab[0], h, dense) + ab[1]
        return h, h

    return lax.scan(step, jnp.zeros_like(b[0]), (a, b))[1]


def _associative(a: Array, b: Array, dense: bool) -> Array:
    # Compose the affine maps (a, b) by parallel prefix: (a2, b2) o (a1, b1) = (a2 a1, a2 b1 + b2),
    # whose second component is h_t (h_{-1} = 0); the identity is (1 or I, 0).
    def combine(first, second):
        return _compose(second[0], first[0], dense), _apply(second[0], first[1], dense) + second[1]

    one = jnp.eye(a.shape[-1], dtype=a.dtype) if dense else jnp.ones((), a.dtype)
    return prefix_scan(combine, (a, b), (one, jnp.zeros((), b.dtype)))[1]


def _solve(a: Array, b: Array, method: str, dense: bool) -> Array:
    """h with h_t = a_t h_{t-1} + b_t from h_{-1} = 0."""
    return (_sequential if method == "sequential" else _associative)(a, b, dense)


def _solve_transposed(a: Array, g: Array, method: str, dense: bool) -> Array:
    """The adjoint recurrence y_t = a_{t+1}^T y_{t+1} + g_t from y_T = 0, run backwards."""
    after = jnp.concatenate([a[1:], jnp.zeros_like(a[:1])])
    after = jnp.swapaxes(after, -1, -2) if dense else after
    return jnp.flip(_solve(jnp.flip(after, 0), jnp.flip(g, 0), method, dense), 0)


def _recurrence(a: Array, b: Array, h0: Array, method: str, dense: bool) -> Array:
    # h solves (I - S_a) h = b + e_0 a_0 h0, with (S_a h)_t = a_t h_{t-1}: a bidiagonal linear
    # system. custom_linear_solve differentiates it implicitly (dh solves the same system with
    # right side da h_{t-1} + db) and transposes it with the adjoint recurrence
    # g_t = a_{t+1}^T g_{t+1} + dL/dh_t: reverse mode keeps a and h, never the solver's steps.
    b = jnp.concatenate([b[:1] + _apply(a[:1], h0[None], dense), b[1:]])

    def matvec(h):
        before = jnp.concatenate([jnp.zeros_like(h[:1]), h[:-1]])
        return h - _apply(a, before, dense)

    return lax.custom_linear_solve(
        matvec,
        b,
        solve=lambda _, rhs: _solve(a, rhs, method, dense),
        transpose_solve=lambda _, rhs: _solve_transposed(a, rhs, method, dense),
    )


def _batch_shape(a_batch: tuple[int, ...], b_batch: tuple[int, ...]) -> tuple[int, ...]:
    """The broadcast of the batch shapes of a and b (after time, before dense a's matrix)."""
    try:
        return jnp.broadcast_shapes(a_batch, b_batch)
    except ValueError:
        raise ValueError(
            f"a and b must have broadcastable batch shapes, got {a_batch} and {b_batch}"
        ) from None


def _resolve_method(method: str, *arrays: ArrayLike | None) -> str:
    """The method to run: ``"auto"`` becomes sequential on CPU and associative on GPU/TPU."""
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if method == "auto":
        # lax.scan pays a fixed cost per step; on accelerators the O(log N)-depth prefix wins.
        # Decided by where the inputs live, never by their values: no recompiles.
        return "sequential" if platform(*arrays) == "cpu" else "associative"
    return method


def linear_recurrence(
    a: Float[ArrayLike, "T ..."],
    b: Float[ArrayLike, "T ..."],
    h0: Float[ArrayLike, "..."] | None = None,
    *,
    method: Method = "auto",
    reverse: bool = False,
) -> Float[Array, "T ..."]:
    r"""All states of the linear recurrence :math:`h_t = a_t h_{t-1} + b_t`, t = 0 .. T-1.

    The leading axis of ``a`` and ``b`` is time; ``h_{-1} = h0`` (zeros when ``None``). The kind
    of :math:`a_t` follows from the shapes:

    * elementwise (scalar or diagonal): ``a.ndim <= b.ndim``; ``a.shape[1:]`` broadcasts against
      ``b.shape[1:]`` (numpy rules), e.g. ``a`` of shape ``(T,)`` with ``b`` of shape ``(T, n)``.
    * dense matrix: ``a.ndim == b.ndim + 1``, ``a`` of shape ``(T, *batch, n, n)`` and ``b`` of
      shape ``(T, *batch, n)``; :math:`h_t = a_t @ h_{t-1} + b_t`.

    Args:
        a: coefficients, time first.
        b: inputs, time first; the result has the shape of ``b`` broadcast with ``a``.
        h0: initial state, broadcastable to one time slice of the result.
        method: ``"sequential"`` (``lax.scan``, O(N) depth), ``"associative"``
            (:func:`prefix_scan`, O(log N) depth, about 3x the work; n^3 per combine for dense
            ``a``; one program size for every N), or ``"auto"`` (sequential when the inputs
            live on the CPU, associative on a GPU or TPU; inside ``jit``, by JAX's default
            backend).
        reverse: run backwards in time, :math:`h_t = a_t h_{t+1} + b_t` with ``h_T = h0``.

    Derivatives (forward and reverse, any order) come from the recurrence itself: the tangent
    is a linear recurrence with the same ``a``, whose transpose is the adjoint recurrence
    :math:`g_t = a_{t+1}^T g_{t+1} + \partial L/\partial h_t`, run by the same method. Reverse
    mode keeps ``a`` and the states ``h``, no per-step tape, and costs about twice the forward
    pass.

    Values are not checked (shapes and ``method`` are): a NaN in ``a_t`` or ``b_t`` makes
    :math:`h_t` and every later state NaN (every earlier one with ``reverse``), as the
    recurrence itself does, by either method; the other states are unchanged.
    """
    method = _resolve_method(method, a, b, h0)
    dtype = result_dtype(a, b) if h0 is None else result_dtype(a, b, h0)
    a = jnp.asarray(a, dtype)
    b = jnp.asarray(b, dtype)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"a and b need a leading time axis, got shapes a={a.shape}, b={b.shape}")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must share the time axis, got {a.shape[0]} and {b.shape[0]}")
    dense = a.ndim == b.ndim + 1
    if dense:
        n = b.shape[-1]
        if a.shape[-2:] != (n, n):
            raise ValueError(
                f"dense a must have shape (T, *batch, {n}, {n}) to match b of shape {b.shape}, "
                f"got {a.shape}"
            )
        state = (*_batch_shape(a.shape[1:-2], b.shape[1:-1]), n)
        a = jnp.broadcast_to(a, (a.shape[0], *state[:-1], n, n))
    elif a.ndim <= b.ndim:
        state = _batch_shape(a.shape[1:], b.shape[1:])
        # Only align the axes: a scalar a_t stays one number per step, in memory and residuals.
        a = a.reshape(a.shape[:1] + (1,) * (b.ndim - a.ndim) + a.shape[1:])
    else:
        raise ValueError(
            f"a must have a.ndim <= b.ndim (elementwise) or b.ndim + 1 (dense), got shapes "
            f"a={a.shape}, b={b.shape}"
        )
    b = jnp.broadcast_to(b, (b.shape[0], *state))
    h0 = jnp.zeros((), dtype) if h0 is None else jnp.asarray(h0, dtype)
    try:
        h0 = jnp.broadcast_to(h0, state)
    except ValueError:
        raise ValueError(f"h0 of shape {h0.shape} must broadcast to the state {state}") from None
    if b.shape[0] == 0:
        return b
    return _run(a, b, h0, method, dense, reverse)


@jit(transform=jax.jit, static_argnums=(3, 4, 5))
def _run(a: Array, b: Array, h0: Array, method: str, dense: bool, reverse: bool) -> Array:
    # One compiled program per shape and configuration, also when called eagerly.
    if reverse:
        a, b = jnp.flip(a, 0), jnp.flip(b, 0)
    h = _recurrence(a, b, h0, method, dense)
    return jnp.flip(h, 0) if reverse else h
