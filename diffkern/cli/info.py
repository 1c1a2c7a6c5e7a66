"""``diffkern info``: versions, devices and precision settings."""

from __future__ import annotations

import argparse
import importlib.metadata
import platform


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``diffkern info`` takes no arguments."""


def version(dist: str) -> str:
    """The installed version of distribution ``dist``, or ``not installed``."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def run(args: argparse.Namespace) -> int:
    """Print the environment diffkern runs in."""
    import jax

    from diffkern.precision import x64_enabled

    print(f"python   {platform.python_version()} ({platform.machine()})")
    for dist in ("diffkern", "jax", "jaxlib", "equinox", "optax", "numpyro", "perfetto"):
        print(f"{dist:<8} {version(dist)}")
    print(f"backend  {jax.default_backend()}")
    print(f"devices  {', '.join(str(d) for d in jax.devices())}")
    print(f"float64  {'enabled' if x64_enabled() else 'disabled (set JAX_ENABLE_X64=1)'}")
    return 0
