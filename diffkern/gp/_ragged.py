"""Log-likelihoods of many series of different lengths, padded to a few shape buckets."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Bool, Float, Int

from diffkern._arrays import check_values, result_dtype
from diffkern._buckets import bucket_length
from diffkern.gp._kernel import Kernel
from diffkern.gp._resolve import resolve_solver
from diffkern.gp._solver import Solver

# Padded series per compiled call are capped so one call holds about this many matrix entries.
_MAX_ENTRIES = 2**24


def log_probability_padded(
    kernel: Kernel,
    X: Float[ArrayLike, "S L"],
    Y: Float[ArrayLike, "S L"],
    diag: Float[ArrayLike, "S L"],
    mask: Bool[ArrayLike, "S L"],
    *,
    solver: str | Solver = "auto",
    on_failure: str | None = None,
) -> Float[Array, " S"]:
    """log N(Y[s] | 0, K(X[s]) + diag[s]) of each padded series over its points with ``mask``.

    Masked points contribute exactly nothing. The series axis may be sharded over devices (the
    result is sharded the same way). ``solver`` and ``on_failure`` are those of
    :class:`GaussianProcess`, except that ``"auto"`` picks the quasiseparable solver for any
    length when the kernel admits it and ``X`` is sorted (or traced, then checked at run time
    at the kept points); pad ``X`` with the last value to keep it sorted.
    """
    dtype = result_dtype(X, Y)
    X, Y, diag = (jnp.asarray(a).astype(dtype) for a in (X, Y, diag))
    mask = jnp.asarray(mask)
    if X.ndim != 2 or Y.shape != X.shape or diag.shape != X.shape or mask.shape != X.shape:
        raise ValueError(
            "X, Y, diag and mask must share one shape (n_series, length); got "
            f"{X.shape}, {Y.shape}, {diag.shape}, {mask.shape}"
        )
    solver = resolve_solver(solver, kernel, {"X": X}, mask=mask, min_n=0, on_failure=on_failure)
    diag = check_values(diag, "diag", positive=False)
    one = lambda x, y, d, m: solver.log_probability(kernel, x, d, y, m)
    return jax.vmap(one)(X, Y, diag, mask)


_padded = eqx.filter_jit(log_probability_padded)


@eqx.filter_jit
def _assemble(parts: tuple[Float[Array, " _"], ...], order: Int[Array, " n"]) -> Float[Array, " n"]:
    return jnp.concatenate(parts)[order]


def log_probability_ragged(
    kernel: Kernel,
    xs: Sequence[ArrayLike],
    ys: Sequence[ArrayLike],
    diags: Sequence[ArrayLike] | None = None,
    *,
    solver: str | Solver = "auto",
    on_failure: str | None = None,
) -> Float[Array, " n_series"]:
    """log N(ys[i] | 0, K(xs[i]) + diag(diags[i])) for series of different lengths, in one call.

    Series are grouped by length bucket (:func:`diffkern.jit.bucket_length`), padded with a
    mask, and the number of series per call is padded to a bucket too, so any mix of lengths
    runs a handful of compiled programs (one per length bucket, plus one that gathers the
    results). ``"auto"`` uses the O(N) quasiseparable solver whenever the kernel admits it and
    every ``xs[i]`` is sorted, else the dense one. Differentiable with respect to the kernel;
    ``xs``, ``ys`` and ``diags`` must be concrete (known lengths). ``diags[i]`` is a scalar or
    of shape like ``xs[i]`` (default 0).
    """
    n_series = len(xs)
    if len(ys) != n_series or (diags is not None and len(diags) != n_series):
        raise ValueError("xs, ys and diags must hold the same number of series")
    if n_series == 0:
        raise ValueError("xs must hold at least one series")
    dtype = result_dtype(*xs, *ys)
    xs = [np.asarray(x, dtype) for x in xs]
    ys = [np.asarray(y, dtype) for y in ys]
    diags = [np.zeros((), dtype)] * n_series if diags is None else diags
    diags = [np.broadcast_to(np.asarray(d, dtype), x.shape) for d, x in zip(diags, xs, strict=True)]
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if x.ndim != 1 or y.shape != x.shape or x.size == 0:
            raise ValueError(
                f"xs[{i}] and ys[{i}] must be 1-D of one non-zero length, got {x.shape}, {y.shape}"
            )
    inputs = {f"xs[{i}]": x for i, x in enumerate(xs)}
    solver = resolve_solver(solver, kernel, inputs, min_n=0, on_failure=on_failure)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, x in enumerate(xs):
        groups[bucket_length(x.size)].append(i)
    parts, order = [], []
    for length, members in sorted(groups.items()):
        count = min(len(members), max(1, _MAX_ENTRIES // length**2))
        per_call = bucket_length(count, minimum=solver.min_series_bucket)
        for start in range(0, len(members), per_call):
            chunk = members[start : start + per_call]
            batch = _pad_batch(
                [xs[i] for i in chunk],
                [ys[i] for i in chunk],
                [diags[i] for i in chunk],
                length,
                per_call,
                dtype,
            )
            parts.append(_padded(kernel, *batch, solver=solver))
            order.extend(chunk + [-1] * (per_call - len(chunk)))
    position = np.empty(n_series, np.int32)
    order = np.asarray(order)
    valid = order >= 0
    position[order[valid]] = np.nonzero(valid)[0]
    return _assemble(tuple(parts), position)


def _pad_batch(xs, ys, diags, length: int, n_rows: int, dtype):
    """(X, Y, diag, mask) of shape (n_rows, length); X repeats its last value (stays sorted)."""
    X = np.zeros((n_rows, length), dtype)
    Y = np.zeros((n_rows, length), dtype)
    D = np.ones((n_rows, length), dtype)
    M = np.zeros((n_rows, length), bool)
    for row, (x, y, d) in enumerate(zip(xs, ys, diags, strict=True)):
        n = x.size
        X[row, :n], X[row, n:] = x, x[-1]
        Y[row, :n], D[row, :n], M[row, :n] = y, d, True
    return X, Y, D, M
