"""Validation of parameters: static checks when concrete, ``eqx.error_if`` when traced."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from diffkern.precision import as_float


def concrete(x: ArrayLike) -> np.ndarray | None:
    """``x`` as numpy when its value is known now (outside tracing), else None."""
    try:
        return np.asarray(x)
    except jax.errors.TracerArrayConversionError:
        return None


def check_values(x: Array, name: str, *, positive: bool) -> Array:
    """``x`` after checking ``x > 0`` (``positive``) or ``x >= 0``.

    Concrete values raise ``ValueError`` at once; traced values are checked with
    ``eqx.error_if`` (``EQX_ON_ERROR=nan`` turns the check into NaN, ``=breakpoint`` debugs).
    """
    bound = "> 0" if positive else ">= 0"
    value = concrete(x)
    if value is not None:
        bad = ~(value > 0) if positive else ~(value >= 0)
        if np.any(bad):
            raise ValueError(f"{name} must be {bound}, got {value}")
        return x
    bad = ~(x > 0) if positive else ~(x >= 0)
    return eqx.error_if(x, bad, f"{name} must be {bound}")


def scalar_param(value: ArrayLike, name: str, *, positive: bool = True) -> Array:
    """A kernel parameter: a floating scalar array, checked to be positive (or non-negative)."""
    x = as_float(value)
    if x.ndim != 0:
        raise ValueError(f"{name} must be a scalar, got shape {x.shape}")
    return check_values(x, name, positive=positive)


def inputs(x: ArrayLike, name: str) -> Array:
    """1-D floating inputs (times, positions)."""
    x = as_float(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (N,), got shape {x.shape}")
    return x


def cast(x: Array, dtype) -> Array:
    """``x`` in ``dtype`` (parameters follow the dtype of the kernel's inputs)."""
    return jnp.asarray(x).astype(dtype)
