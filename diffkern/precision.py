"""Precision policy: float64 on demand, float32 by default.

Kernels follow the dtype of their inputs. Integer and Python-scalar inputs are promoted to the
default floating dtype (float64 when ``jax_enable_x64`` is on, float32 otherwise).

Enable float64 for a whole program with ``JAX_ENABLE_X64=1`` (or
``jax.config.update("jax_enable_x64", True)`` before any array is created), or for one block::

    with diffkern.precision.float64():
        E = diffkern.eccentric_anomaly(M, e)   # float64 inside the block

float32 is enough where the documented float32 accuracy of a kernel meets the need (the Kepler
solver is accurate to ~1e-6 rad in float32); GP log-likelihoods of large or ill-conditioned
covariances, and long time baselines, want float64.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import jax

from diffkern._arrays import as_float, default_float, eps, result_dtype, x64_enabled

__all__ = ["float64", "x64_enabled", "default_float", "as_float", "result_dtype", "eps"]


@contextlib.contextmanager
def float64(enabled: bool = True) -> Iterator[None]:
    """Context manager that runs its block with 64-bit types enabled (or disabled).

    Arrays created inside the block default to float64; arrays created outside keep their dtype.
    """
    if hasattr(jax, "enable_x64"):
        ctx = jax.enable_x64(enabled)
    else:  # JAX < 0.8
        from jax.experimental import disable_x64, enable_x64

        ctx = enable_x64() if enabled else disable_x64()
    with ctx:
        yield
