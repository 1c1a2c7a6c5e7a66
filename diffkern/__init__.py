"""diffkern: GPU-ready, differentiable numerical kernels for astronomy, on JAX and Equinox."""

from diffkern import precision as precision

__version__ = "0.1.0"
