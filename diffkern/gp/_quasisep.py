"""The quasiseparable solver: O(N J^2) for 1-D sorted inputs and kernels with a state-space form.

The solver builds explicit state-space arrays (A (N, J, J), P (J, J), h (J,), noise d, residual
r and mask keep, see :func:`_problem`) and hands them to the scan implementation in
``_quasisep_scan``, which knows nothing of kernels.

The log-probability has a hand-written derivative: a ``jax.custom_jvp`` whose tangent is the
dot product of the tangents with the gradient from reverse scans (celerite's reverse pass).
Being linear in the tangents, it serves forward mode as is and reverse mode after JAX
transposes it, so value + gradient costs the filter (two scans, keeping per-point states) and
two reverse scans; higher orders differentiate the scans themselves. The solve is
differentiated by JAX through its scans.

Checks (:func:`diffkern._arrays.error_if`): X sorted at the kept points, and every pivot of the
factorisation positive (a non-positive pivot means C is not positive definite at the working
precision, e.g. float32 with tiny noise).
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from diffkern._arrays import error_if, result_dtype
from diffkern.gp import _quasisep_scan as scan
from diffkern.gp._cholesky import Dense
from diffkern.gp._kernel import Kernel
from diffkern.gp._solver import Mask, Noise, Points, Rows, Series, SeriesMask, Solver
from diffkern.gp._sorted import check_sorted

_PIVOT_MESSAGE = (
    "K + diag is not positive definite at this precision (a pivot of the quasiseparable "
    "factorisation is <= 0): add noise to diag or use float64"
)


def _problem(
    kernel: Kernel,
    X: ArrayLike,
    noise: ArrayLike,
    r: ArrayLike,
    mask: ArrayLike | None,
) -> tuple[scan.Arrays, Float[Array, "J J"], Float[Array, " J"]]:
    """Validated per-point arrays (A, d, r, keep) and P, h of the state-space form of ``kernel``."""
    X, noise, r = jnp.asarray(X), jnp.asarray(noise), jnp.asarray(r)
    if X.ndim != 1:
        raise ValueError(f"X must be 1-D of shape (N,), got shape {X.shape}")
    n = X.shape[0]
    if r.shape != (n,):
        raise ValueError(f"r must have the shape of X, {(n,)}, got {r.shape}")
    if noise.shape not in ((), (n,)):
        raise ValueError(f"noise must be a scalar or of shape {(n,)}, got {noise.shape}")
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != (n,) or mask.dtype != jnp.bool_:
            raise TypeError(
                f"mask must be a boolean array of shape {(n,)}, got {mask.dtype}{mask.shape}"
            )
    X = check_sorted(X, "X", mask)
    dtype = result_dtype(X, noise, r, *jax.tree_util.tree_leaves(kernel))
    X, r = X.astype(dtype), r.astype(dtype)
    noise = jnp.broadcast_to(noise.astype(dtype), (n,))
    # Step from the previous kept point; 0 (A = I) at masked points and at the first kept one.
    if mask is None:
        keep = jnp.ones(n, bool)
        dt = jnp.diff(X, prepend=X[:1])
    else:
        keep = mask
        index = jnp.arange(n)
        last = lax.cummax(jnp.where(keep, index, -1))
        previous = jnp.concatenate([jnp.full(1, -1, index.dtype), last[:-1]])
        dt = jnp.where(keep & (previous >= 0), X - X[jnp.maximum(previous, 0)], 0)
    ss = kernel.state_space(dtype)
    return scan.Arrays(ss.transition(dt), noise, r, keep), ss.pinf, ss.h


@jax.custom_jvp
def _log_probability(
    A: Float[Array, "N J J"],
    g0: Float[Array, " J"],
    h: Float[Array, " J"],
    d: Float[Array, " N"],
    r: Points,
    keep: Bool[Array, " N"],
) -> Float[Array, ""]:
    value, smin = scan.log_probability(scan.Arrays(A, d, r, keep), g0, h)
    return error_if(value, ~(smin > 0), _PIVOT_MESSAGE)


@_log_probability.defjvp
def _log_probability_jvp(primals, tangents):
    A, g0, h, d, r, keep = primals
    arrays = scan.Arrays(A, d, r, keep)
    filtered = scan.filtered(arrays, g0, h)
    value = filtered.log_probability(keep)
    value = error_if(value, ~(filtered.min_pivot() > 0), _PIVOT_MESSAGE)
    grads = scan.log_probability_grad(arrays, g0, h, filtered)
    tangent = sum(jnp.sum(g * dx) for g, dx in zip(grads, tangents[:5], strict=True))
    return value, tangent


def _solve(
    arrays: scan.Arrays, pinf: Float[Array, "J J"], h: Float[Array, " J"]
) -> Float[Array, " N"]:
    """(K + D)^{-1} r by the filter and a reverse scan (zeros at masked points)."""
    filtered = scan.filtered(arrays, pinf @ h, h)
    alpha = scan.solve(arrays, h, filtered)
    return error_if(alpha, ~(filtered.min_pivot() > 0), _PIVOT_MESSAGE)


class Quasisep(Solver):
    """O(N J^2) for sorted X and kernels with a state-space form (``Kernel.state_space``).

    Points left out by ``mask`` contribute exactly nothing (their X may be anything).
    Differentiable in forward and reverse mode, to any order. ``condition`` solves once per
    test point and ``sample`` draws through the dense factorisation (O(N^3)).
    """

    # A padded series costs next to nothing: pad the series count coarsely (fewer programs).
    min_series_bucket: ClassVar[int] = 16

    def check(self, kernel: Kernel, X: Series, name: str = "X", mask: SeriesMask = None) -> None:
        if not kernel.has_state_space():
            raise ValueError(
                f"solver Quasisep does not support kernel {type(kernel).__name__}: some part "
                "of it has no state-space form (Kernel.state_space); use solver='cholesky'"
            )
        # Raises now when X is concrete; traced X is checked at run time by _problem.
        check_sorted(X, name, mask)

    def log_probability(
        self, kernel: Kernel, X: Points, noise: Noise, r: Points, mask: Mask = None
    ) -> Float[Array, ""]:
        arrays, pinf, h = _problem(kernel, X, noise, r, mask)
        return _log_probability(arrays.A, pinf @ h, h, arrays.d, arrays.r, arrays.keep)

    def solve(
        self, kernel: Kernel, X: Points, noise: Noise, B: Rows, mask: Mask = None
    ) -> Float[Array, " N *M"]:
        """C^{-1} B, one O(N J^2) solve per column of ``B`` (zeros at masked points)."""
        B = jnp.asarray(B)
        if B.ndim == 2:
            return jax.vmap(lambda b: self.solve(kernel, X, noise, b, mask), 1, 1)(B)
        return _solve(*_problem(kernel, X, noise, B, mask))

    def sample(
        self,
        kernel: Kernel,
        X: Points,
        noise: Noise,
        key: PRNGKeyArray,
        shape: tuple[int, ...] = (),
    ) -> Float[Array, "*shape N"]:
        return Dense().sample(kernel, X, noise, key, shape)
