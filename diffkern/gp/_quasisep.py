"""The quasiseparable solver: O(N J^2) for 1-D sorted inputs and kernels with a state-space form.

The solver builds explicit state-space arrays (A (N, J, J), P (J, J), h (J,), noise d, residual
r and mask keep, see :func:`_problem`) and hands them to scans that know nothing of kernels:
sequential ones (``_quasisep_scan``, O(N) depth) or the parallel-in-time Kalman filter and
smoother (``_quasisep_parallel``, O(log N) depth, about J times the work), as ``method`` says.

Sequentially, the log-probability has a hand-written derivative: a ``jax.custom_jvp`` whose
tangent is the dot product of the tangents with the gradient from reverse scans (celerite's
reverse pass). Being linear in the tangents, it serves forward mode as is and reverse mode after
JAX transposes it, so value + gradient costs the filter (two scans, keeping per-point states)
and two reverse scans; higher orders differentiate the scans themselves. In parallel, and for
solves, JAX differentiates through the scans.

Checks (:func:`diffkern._arrays.error_if`, all on returned values, never inside a scan or a
``custom_jvp``): inputs and kernel parameters finite, X sorted at the kept points, and every
relative pivot s_i / C_ii of the factorisation above ``diffkern.gp._finite.pivot_bound`` (else
C is not positive definite at the working precision, or too close to singular to trust, e.g.
float32 with repeated inputs and tiny noise). The pivots are checked only where the inputs are
finite, so bad data reports its own message.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax
from jaxtyping import Array, ArrayLike, Bool, Float, PRNGKeyArray

from diffkern._arrays import error_if, platform, result_dtype
from diffkern.gp import _quasisep_parallel as par
from diffkern.gp import _quasisep_scan as scan
from diffkern.gp._finite import check_finite, finite_inputs, pivot_bound, pivot_message
from diffkern.gp._kernel import Kernel
from diffkern.gp._quasisep_predict import condition
from diffkern.gp._quasisep_sample import sample
from diffkern.gp._solver import Mask, Noise, Points, Rows, Series, SeriesMask, Solver
from diffkern.gp._sorted import check_sorted
from diffkern.gp._state_space import StateSpace

METHODS = ("auto", "sequential", "parallel")


class _Inputs(NamedTuple):
    X: Float[Array, " N"]
    noise: Float[Array, " N"]
    r: Float[Array, " N"]
    ss: StateSpace
    ok: Bool[Array, ""]  # inputs finite (the pivots are checked only then)


def _inputs(
    kernel: Kernel, X: ArrayLike, noise: ArrayLike, r: ArrayLike, mask: ArrayLike | None
) -> _Inputs:
    """X (checked finite and sorted at the kept points), noise (N,) checked finite and r in one
    dtype, and the state-space form of ``kernel`` (parameters checked finite) in it."""
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
    arrays, ok = finite_inputs(kernel, {"diag": noise}, mask)
    X = check_sorted(X, "X", mask)
    dtype = result_dtype(X, noise, r, *jax.tree_util.tree_leaves(kernel))
    noise = jnp.broadcast_to(arrays["diag"].astype(dtype), (n,))
    r = r.astype(dtype)
    return _Inputs(X.astype(dtype), noise, r, kernel.state_space(dtype), ok)


def _problem(
    kernel: Kernel,
    X: ArrayLike,
    noise: ArrayLike,
    r: ArrayLike,
    mask: ArrayLike | None,
) -> tuple[scan.Arrays, Float[Array, "J J"], Float[Array, " J"], Bool[Array, ""]]:
    """Validated per-point arrays (A, d, r, keep), P, h of the state-space form of ``kernel``
    and whether the inputs are finite."""
    X, noise, r, ss, ok = _inputs(kernel, X, noise, r, mask)
    n = X.shape[0]
    # Step from the previous kept point; 0 (A = I) at masked points and at the first kept one.
    if mask is None:
        keep = jnp.ones(n, bool)
        dt = jnp.diff(X, prepend=X[:1])
    else:
        keep = jnp.asarray(mask)
        index = jnp.arange(n)
        last = lax.cummax(jnp.where(keep, index, -1))
        previous = jnp.concatenate([jnp.full(1, -1, index.dtype), last[:-1]])
        dt = jnp.where(keep & (previous >= 0), X - X[jnp.maximum(previous, 0)], 0)
    return scan.Arrays(ss.transition(dt), noise, r, keep), ss.pinf, ss.h, ok


@jax.custom_jvp
def _log_probability(
    A: Float[Array, "N J J"],
    g0: Float[Array, " J"],
    h: Float[Array, " J"],
    d: Float[Array, " N"],
    r: Points,
    keep: Bool[Array, " N"],
) -> tuple[Float[Array, ""], Float[Array, ""]]:
    """The sequential log-probability and the smallest relative pivot (for the caller's check;
    its derivative is taken as zero)."""
    return scan.log_probability(scan.Arrays(A, d, r, keep), g0, h)


@_log_probability.defjvp
def _log_probability_jvp(primals, tangents):
    A, g0, h, d, r, keep = primals
    arrays = scan.Arrays(A, d, r, keep)
    filtered = scan.filtered(arrays, g0, h)
    smin = scan.relative_pivot(filtered.s, d, keep, jnp.sum(g0 * h))
    value = filtered.log_probability(keep)
    grads = scan.log_probability_grad(arrays, g0, h, filtered)
    tangent = sum(jnp.sum(g * dx) for g, dx in zip(grads, tangents[:5], strict=True))
    return (value, smin), (tangent, jnp.zeros_like(smin))


def _checked_pivot(x, smin: Float[Array, ""], keep: Bool[Array, " N"], ok: Bool[Array, ""]):
    """``x`` after checking the smallest relative pivot (where the inputs are finite)."""
    dtype = smin.dtype
    trusted = smin > pivot_bound(jnp.sum(keep), dtype)
    return error_if(x, ok & ~trusted, pivot_message(dtype, "The quasiseparable factorisation"))


def _without_state_space(kernel: Kernel) -> list[str]:
    """Class names of the innermost parts of ``kernel`` that have no state-space form."""
    if kernel.has_state_space():
        return []
    parts = [getattr(kernel, f.name) for f in dataclasses.fields(kernel)]
    inner = [name for p in parts if isinstance(p, Kernel) for name in _without_state_space(p)]
    return inner or [type(kernel).__name__]


class Quasisep(Solver):
    """O(N J^2) for sorted X and kernels with a state-space form (``Kernel.state_space``).

    Args:
        method: how the scans run: ``"sequential"`` (``lax.scan``: O(N) depth, the least work,
            a hand-written gradient of the log-probability), ``"parallel"`` (parallel-in-time
            Kalman filter and smoother: O(log N) depth, about J times the work, gradients by
            JAX through the scans) or ``"auto"`` (default: sequential on CPU, parallel on GPU
            and TPU, decided from where the inputs are placed, never from their values).
            Static: another method compiles another program.

    Points left out by ``mask`` contribute exactly nothing (their X may be anything).
    Differentiable in forward and reverse mode, to any order. ``condition`` (mean and variance)
    and ``sample`` run the Kalman filter and smoother in O((N + M) J^3); ``condition`` with
    ``return_cov=True`` uses the dense formula K** - K*^T C^{-1} K* (one O(N) solve per test
    point, an M x M matrix).
    """

    method: str = eqx.field(static=True, default="auto")

    # A padded series costs next to nothing: pad the series count coarsely (fewer programs).
    min_series_bucket: ClassVar[int] = 16

    def __check_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")

    def parallel(self, *arrays: ArrayLike) -> bool:
        """Whether the scans run in parallel for inputs ``arrays`` (static: placement only)."""
        if self.method == "auto":
            return platform(*arrays) != "cpu"
        return self.method == "parallel"

    def check_kernel(self, kernel: Kernel) -> None:
        if not kernel.has_state_space():
            lacking = ", ".join(sorted(set(_without_state_space(kernel))))
            where = "" if lacking == type(kernel).__name__ else f" (in {type(kernel).__name__})"
            raise ValueError(
                f"solver Quasisep does not support kernel {lacking}{where}: it has no "
                "state-space form (Kernel.state_space); use solver='cholesky' (the dense "
                "solver, any kernel) or solver='auto' (which picks it for this kernel)"
            )

    def check_inputs(self, X: Series, name: str = "X", mask: SeriesMask = None) -> None:
        # Raises now when X is concrete; traced X is checked at run time by _problem.
        check_sorted(X, name, mask, traced=False)

    def log_probability(
        self, kernel: Kernel, X: Points, noise: Noise, r: Points, mask: Mask = None
    ) -> Float[Array, ""]:
        parallel = self.parallel(X, noise, r)
        (A, d, r, keep), pinf, h, ok = _problem(kernel, X, noise, r, mask)
        if parallel:
            value, smin = par.log_probability(A, pinf, h, d, r, keep, parallel=True)
        else:
            value, smin = _log_probability(A, pinf @ h, h, d, r, keep)
        return _checked_pivot(value, smin, keep, ok)

    def solve(
        self, kernel: Kernel, X: Points, noise: Noise, B: Rows, mask: Mask = None
    ) -> Float[Array, " N *M"]:
        """C^{-1} B, one O(N J^2) solve per column of ``B`` (zeros at masked points)."""
        B = check_finite(jnp.asarray(B), "B", mask)
        if B.ndim == 2:
            return jax.vmap(lambda b: self.solve(kernel, X, noise, b, mask), 1, 1)(B)
        parallel = self.parallel(X, noise, B)
        arrays, pinf, h, ok = _problem(kernel, X, noise, B, mask)
        if parallel:
            f = par.filtered(arrays.A, pinf, h, *arrays[1:], parallel=True)
            alpha = par.solve(arrays.A, h, f, arrays.keep, parallel=True)
        else:
            f = scan.filtered(arrays, pinf @ h, h)
            alpha = scan.solve(arrays, h, f)
        smin = scan.relative_pivot(f.s, arrays.d, arrays.keep, h @ pinf @ h)
        return _checked_pivot(alpha, smin, arrays.keep, ok)

    def condition(
        self,
        kernel: Kernel,
        X: Points,
        noise: Noise,
        r: Points,
        X_test: Float[ArrayLike, " M"],
        *,
        return_cov: bool = False,
    ) -> tuple[Float[Array, " M"], Float[Array, " M"] | Float[Array, "M M"]]:
        """Mean and variance of f(X_test) by the filter and smoother over X and X_test
        together, O((N + M) J^3) (``X_test`` in any order); the covariance (``return_cov``) by
        the dense formula of :meth:`Solver.condition`."""
        if return_cov:
            return super().condition(kernel, X, noise, r, X_test, return_cov=True)
        parallel = self.parallel(X, noise, r, X_test)
        X, noise, r, ss, ok = _inputs(kernel, X, noise, r, None)
        X_test = jnp.asarray(X_test).astype(X.dtype)
        keep = jnp.ones(X.shape, bool)
        mean, var, smin = condition(ss, X, noise, r, keep, X_test, parallel=parallel)
        return _checked_pivot((mean, jnp.maximum(var, 0)), smin, keep, ok)

    def sample(
        self,
        kernel: Kernel,
        X: Points,
        noise: Noise,
        key: PRNGKeyArray,
        shape: tuple[int, ...] = (),
    ) -> Float[Array, "*shape N"]:
        """Draws by the state-space recursion, O(N J^3) each (``_quasisep_sample``)."""
        parallel = self.parallel(X, noise)
        X = jnp.asarray(X)
        (A, d, _, _), pinf, h, _ = _problem(kernel, X, noise, jnp.zeros(X.shape, X.dtype), None)
        keys = jax.random.split(key, math.prod(shape))
        draw = lambda k: sample(k, A, pinf, h, d, parallel=parallel)
        return jnp.reshape(jax.vmap(draw)(keys), (*shape, X.shape[0]))
