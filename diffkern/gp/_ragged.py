"""Log-likelihoods of many series of different lengths, padded to a few shape buckets."""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Shaped

from diffkern._arrays import result_dtype
from diffkern._checks import checked
from diffkern._ragged import block_layout, series_arrays
from diffkern.gp._cholesky import Dense
from diffkern.gp._finite import check_finite
from diffkern.gp._kernel import Kernel
from diffkern.gp._resolve import resolve_solver
from diffkern.gp._solver import Solver

# Padded series per compiled call are capped so one call holds about this many matrix entries.
_MAX_ENTRIES = 2**24
# Lengths are padded to buckets growing by this factor: finely where a padded point costs
# O(N^2) (dense), coarsely where it costs O(1) (fewer programs to compile, each seconds).
_DENSE_GROWTH, _LINEAR_GROWTH = 1.5, 4.0
# The largest factor a caller may choose: more would pad a series to absurd lengths.
_MAX_GROWTH = 16


def log_probability_padded(
    kernel: Kernel,
    X: Float[ArrayLike, "S L"],
    Y: Float[ArrayLike, "S L"],
    diag: Float[ArrayLike, "S L"],
    mask: Shaped[ArrayLike, "S L"],  # boolean, checked below with a readable message
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
    if mask.dtype != jnp.bool_:
        raise TypeError(
            f"mask must be a boolean array (True at the points of each series), got {mask.dtype}"
        )
    if X.ndim != 2 or Y.shape != X.shape or diag.shape != X.shape or mask.shape != X.shape:
        raise ValueError(
            "X, Y, diag and mask must share one shape (n_series, length); got "
            f"{X.shape}, {Y.shape}, {diag.shape}, {mask.shape}"
        )
    solver = resolve_solver(solver, kernel, {"X": X}, mask=mask, min_n=0, on_failure=on_failure)
    Y = check_finite(Y, "Y", mask)  # X and diag: by the solver, at the kept points
    one = lambda x, y, d, m: solver.log_probability(kernel, x, d, y, m)
    return jax.vmap(one)(X, Y, diag, mask)


# One compiled program whose checks (also those inside the vmap over series) are outputs: called
# outside jit it holds no host callback (the persistent cache keeps it), inside the caller's jit
# one callback for all its checks.
log_probability_padded = checked(log_probability_padded)


def _series_diag(i: int, diag: ArrayLike, x: np.ndarray, dtype) -> np.ndarray:
    """``diags[i]`` broadcast to the length of ``xs[i]``: a scalar or of that length."""
    diag = np.asarray(diag, dtype)
    if diag.shape not in ((), x.shape):
        raise ValueError(
            f"diags[{i}] must be a scalar or of length {x.size} like xs[{i}], got shape "
            f"{diag.shape}"
        )
    return np.broadcast_to(diag, x.shape)


def log_probability_ragged(
    kernel: Kernel,
    xs: Sequence[ArrayLike],
    ys: Sequence[ArrayLike],
    diags: Sequence[ArrayLike] | None = None,
    *,
    solver: str | Solver = "auto",
    on_failure: str | None = None,
    bucket_growth: float | int | None = None,
) -> Float[Array, " n_series"]:
    """log N(ys[i] | 0, K(xs[i]) + diag(diags[i])) for series of different lengths, in one call.

    Series are grouped by length bucket and padded with a mask (``diffkern._ragged``'s block
    layout), and the number of series per call is padded to a bucket too, so any mix of lengths
    runs a handful of compiled programs (one per length bucket, and one more each for a
    gradient, also under eager ``jax.grad``). Length buckets grow by 1.5 for the dense solver
    and by 4 for the O(N) ones (a padded point costs them next to nothing, a program seconds
    to compile); ``bucket_growth`` (in (1, 16]) sets another factor: smaller pads less and compiles
    (and dispatches) more programs; 2.5 suits many warm calls of one batch (a sampler).
    ``"auto"`` uses the O(N) quasiseparable solver whenever the kernel admits it and every
    ``xs[i]`` is sorted, else the dense one. Differentiable with respect to the
    kernel; ``xs``, ``ys`` and ``diags`` must be concrete (known lengths). ``diags[i]`` is a
    scalar or of shape like ``xs[i]`` (default 0).
    """
    if bucket_growth is not None:
        if not isinstance(bucket_growth, (int, float)) or isinstance(bucket_growth, bool):
            raise TypeError(f"bucket_growth must be a number, got {type(bucket_growth).__name__}")
        if not 1 < bucket_growth <= _MAX_GROWTH:  # also False for NaN
            raise ValueError(
                f"bucket_growth must be in (1, {_MAX_GROWTH}] (padding up to that factor), "
                f"got {bucket_growth!r}"
            )
    n_series = len(xs)
    if len(ys) != n_series or (diags is not None and len(diags) != n_series):
        raise ValueError("xs, ys and diags must hold the same number of series")
    dtype = result_dtype(*xs, *ys)
    xs, ys = series_arrays("xs", xs, dtype), series_arrays("ys", ys, dtype)
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if y.shape != x.shape:
            raise ValueError(
                f"xs[{i}] and ys[{i}] must be 1-D of one non-zero length, got {x.shape}, {y.shape}"
            )
    diags = [np.zeros((), dtype)] * n_series if diags is None else diags
    diags = [_series_diag(i, d, x, dtype) for i, (d, x) in enumerate(zip(diags, xs, strict=True))]
    for i, series in enumerate(zip(xs, ys, diags, strict=True)):
        for name, values in zip(("xs", "ys", "diags"), series, strict=True):
            check_finite(values, f"{name}[{i}]")
    inputs = {f"xs[{i}]": x for i, x in enumerate(xs)}
    solver = resolve_solver(solver, kernel, inputs, min_n=0, on_failure=on_failure)
    layout = block_layout(
        [x.size for x in xs],
        min_rows=solver.min_series_bucket,
        max_rows=lambda length: _MAX_ENTRIES // length**2,
        growth=bucket_growth or (_DENSE_GROWTH if isinstance(solver, Dense) else _LINEAR_GROWTH),
    )
    parts = [
        log_probability_padded(
            kernel, b.pad(xs, "edge"), b.pad(ys, 0.0), b.pad(diags, 1.0), b.mask, solver=solver
        )
        for b in layout.blocks
    ]
    return layout.assemble(parts)
