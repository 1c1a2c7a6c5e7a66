"""Strict settings for the whole suite: no silent dtype or rank promotion, warnings are errors.

The suite runs twice in CI, with ``JAX_ENABLE_X64=0`` and ``=1``. Tests parametrised with the
``dtype`` fixture run in both float32 and float64 either way: float64 cases enable x64 for their
duration with :func:`diffkern.precision.float64`.
"""

import jax
import jax.numpy as jnp
import pytest

from diffkern.precision import float64

jax.config.update("jax_numpy_dtype_promotion", "strict")
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Run a test once per dtype; float64 cases run with x64 enabled."""
    if request.param == "float64":
        with float64():
            yield jnp.float64
    else:
        yield jnp.float32


@pytest.fixture
def x64():
    """Run a test with x64 enabled (gradient checks by finite differences need float64)."""
    with float64():
        yield
