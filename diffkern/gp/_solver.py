"""Choice of solver for a kernel and inputs: dense Cholesky or quasiseparable."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
from jaxtyping import Array

from diffkern.gp._kernel import Kernel
from diffkern.gp._params import _concrete

SOLVERS = ("auto", "cholesky", "quasisep")
# "auto" switches to the O(N) solver from this many points on (the dense one is faster below).
AUTO_QUASISEP_MIN_N = 512


def quasisep_module() -> SimpleNamespace | None:
    """The quasiseparable solver's functions, if available (imported on first use)."""
    try:
        solver = importlib.import_module("diffkern.gp._quasisep")
        state_space = importlib.import_module("diffkern.gp._state_space")
    except ImportError:
        return None
    supported = getattr(solver, "quasisep_supported", None) or getattr(
        state_space, "quasisep_supported", None
    )
    log_probability = getattr(solver, "quasisep_log_probability", None)
    solve = getattr(solver, "quasisep_solve", None)
    if supported is None or log_probability is None or solve is None:
        return None
    return SimpleNamespace(
        quasisep_supported=supported,
        quasisep_log_probability=log_probability,
        quasisep_solve=solve,
    )


def resolve_solver(solver: str, kernel: Kernel, X: Array) -> str:
    """``"cholesky"`` or ``"quasisep"`` for ``solver`` in ``SOLVERS``.

    ``"auto"`` picks quasisep when the kernel admits it, N >= ``AUTO_QUASISEP_MIN_N`` and ``X``
    is sorted (when ``X`` is traced its order is unknown here; the quasiseparable solver then
    checks it at run time with ``eqx.error_if``).
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    if solver == "cholesky":
        return solver
    module = quasisep_module()
    supported = module is not None and module.quasisep_supported(kernel)
    if solver == "quasisep":
        if module is None:
            raise ValueError("solver='quasisep' is not available in this installation")
        if not supported:
            raise ValueError(
                f"solver='quasisep' does not support kernel {type(kernel).__name__} "
                "(Exp, Matern32, Matern52, SHO, Cosine, Constant and their sums and products)"
            )
        return solver
    if not supported or X.shape[0] < AUTO_QUASISEP_MIN_N:
        return "cholesky"
    values = _concrete(X)
    if values is not None and np.any(np.diff(values) < 0):
        return "cholesky"
    return "quasisep"
