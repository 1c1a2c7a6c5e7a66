"""Choice of solver for a kernel and inputs: dense Cholesky or quasiseparable."""

from __future__ import annotations

import numpy as np
from jaxtyping import ArrayLike, Float

from diffkern._arrays import concrete
from diffkern.gp._kernel import Kernel
from diffkern.gp._state_space import quasisep_supported

SOLVERS = ("auto", "cholesky", "quasisep")
# "auto" switches to the O(N) solver from this many points on (the dense one is faster below).
AUTO_QUASISEP_MIN_N = 512


def resolve_solver(
    solver: str,
    kernel: Kernel,
    X: Float[ArrayLike, "*batch N"],
    *,
    min_n: int = AUTO_QUASISEP_MIN_N,
) -> str:
    """``"cholesky"`` or ``"quasisep"`` for ``solver`` in ``SOLVERS``.

    ``"auto"`` picks quasisep when the kernel admits it, N >= ``min_n`` and ``X`` is sorted
    along its last axis (when ``X`` is traced its order is unknown here; the quasiseparable
    solver then checks it at run time with ``eqx.error_if``).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "cholesky":
        return solver
    supported = quasisep_supported(kernel)
    if solver == "quasisep":
        if not supported:
            raise ValueError(
                f"solver='quasisep' does not support kernel {type(kernel).__name__} "
                "(Exp, Matern32, Matern52, SHO, Cosine, Constant and their sums and products)"
            )
        return solver
    if not supported or X.shape[-1] < min_n:
        return "cholesky"
    values = concrete(X)
    if values is not None and np.any(np.diff(values, axis=-1) < 0):
        return "cholesky"
    return "quasisep"
