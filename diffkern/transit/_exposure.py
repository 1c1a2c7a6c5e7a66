"""Exposure-time integration: the nodes and weights of the average of a light curve over each
exposure, ``F_exp(t) = (1 / T) int_{t - T/2}^{t + T/2} F(s) ds ~ sum_k w_k F(t + T x_k)``."""

from __future__ import annotations

import numpy as np
from jaxtyping import Array, Float

#: The quadrature rules: midpoints of equal sub-intervals (batman's ``supersample_factor``) or
#: Gauss-Legendre nodes.
RULES = ("uniform", "gauss")


def check_supersample(supersample: int, rule: str) -> None:
    """``TypeError``/``ValueError`` naming the argument unless ``supersample`` is an int >= 1
    and ``rule`` one of :data:`RULES` (both static: each value compiles its own program)."""
    if not isinstance(supersample, int) or isinstance(supersample, bool):
        raise TypeError(f"supersample must be an int, got {type(supersample).__name__}")
    if supersample < 1:
        raise ValueError(f"supersample must be >= 1, got {supersample}")
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")


def nodes(supersample: int, rule: str, dtype) -> tuple[np.ndarray, np.ndarray]:
    """Offsets ``x_k`` in units of the exposure time, in ``(-1/2, 1/2)``, and weights ``w_k``
    summing to 1: ``x_k = (k + 1/2) / n - 1/2``, ``w_k = 1 / n`` (uniform: exact for linear
    ``F``, error ``O(T^2 / n^2)`` for smooth ``F``) or the Gauss-Legendre nodes and weights
    mapped to the exposure (exact for polynomials of degree ``2 n - 1``). One node (either
    rule) is the instantaneous flux at mid-exposure."""
    if rule == "uniform":
        offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
        weights = np.full(supersample, 1 / supersample)
    else:
        offsets, weights = np.polynomial.legendre.leggauss(supersample)
        offsets, weights = offsets / 2, weights / 2
    return offsets.astype(dtype), weights.astype(dtype)


def exposure_times(
    t: Float[Array, "*t"], exposure_time: Float[Array, "*t"], offsets: np.ndarray
) -> Float[Array, "*t nodes"]:
    """The times ``t + T x_k`` at which each exposure is sampled (last axis: the nodes)."""
    offsets = offsets.reshape((1,) * t.ndim + offsets.shape)
    return t[..., None] + exposure_time[..., None] * offsets
