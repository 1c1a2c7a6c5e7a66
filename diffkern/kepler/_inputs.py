"""Input normalisation shared by the Kepler and orbit kernels."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern.precision import as_float, result_dtype


def broadcast_floats(**arrays: Real[ArrayLike, "*_"]) -> list[Float[Array, "*batch"]]:
    """The keyword arguments as floating arrays of one dtype and one broadcast shape.

    Integers are promoted; the dtype is the widest floating input (else the default float).
    Shapes that do not broadcast raise a ``ValueError`` naming the arguments.
    """
    dtype = result_dtype(*arrays.values())
    floats = {name: as_float(x, dtype) for name, x in arrays.items()}
    try:
        shape = np.broadcast_shapes(*(x.shape for x in floats.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {x.shape}" for name, x in floats.items())
        raise ValueError(f"shapes must broadcast against each other, got {shapes}") from None
    return [jnp.broadcast_to(x, shape) for x in floats.values()]


def to_device(*arrays: Real[ArrayLike, "*_"]) -> list[Real[Array, "*_"]]:
    """Inputs as device arrays, so they cross a ``jit`` boundary as traced data (never as static
    Python values that would recompile per value). ``jax.device_put`` converts on the host and
    compiles nothing; Python scalars stay weakly typed."""
    return [
        x if isinstance(x, jax.Array) else jax.device_put(x if np.isscalar(x) else np.asarray(x))
        for x in arrays
    ]
