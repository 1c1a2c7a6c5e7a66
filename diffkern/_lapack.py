"""Threads of the BLAS behind JAX's CPU solvers, which otherwise compete with XLA's own.

On CPU, jaxlib runs Cholesky factorisations and triangular solves in SciPy's OpenBLAS. XLA
runs the rest of the program (and independent solver calls) on its own pool of one thread per
core, and OpenBLAS starts a second set of threads inside each call that keep spinning after
it. The two sets compete for the same cores: on 2 cores, one BLAS thread took the Adam steps
of a Keplerian + 150-point GP fit (``profiles/fit_planets_gp.py``) from 1.55-1.8 to 1.2-1.35 ms,
and a dense value and gradient at N = 500 and 2000 was no slower. diffkern's compiled fits
therefore run with one BLAS thread (see :func:`lapack_threads`); other backends are not
affected.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Iterator

import jax
import numpy as np

# A user's own choice of BLAS threads, made before start-up or by lapack_threads, is kept.
_USER_SETTINGS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
_chosen: contextvars.ContextVar[bool] = contextvars.ContextVar("diffkern_blas", default=False)


@functools.cache
def _blas():
    """threadpoolctl's handle on the loaded BLAS libraries, SciPy's (jaxlib's) among them."""
    import scipy.linalg.cython_lapack  # noqa: F401  (loads the library jaxlib's solvers call)
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController().select(user_api="blas")


@contextlib.contextmanager
def lapack_threads(threads: int | np.integer = 1) -> Iterator[None]:
    """Run the block with ``threads`` BLAS threads in JAX's CPU solvers; restored after.

    For code that runs small or medium dense solves on CPU under its own ``jit`` (a NumPyro
    sampler over a dense GP, say): ``with diffkern.lapack_threads(1): mcmc.run(...)``.
    :func:`diffkern.fit.minimize`, :func:`~diffkern.fit.laplace` and
    :func:`~diffkern.fit.minimize_many` run with one thread unless ``OPENBLAS_NUM_THREADS`` or
    ``OMP_NUM_THREADS`` was set, or they run inside this block: then with the threads chosen
    (``with diffkern.lapack_threads(8): minimize(...)`` for factorisations of thousands of
    points on many cores). Every BLAS library of the process (NumPy's too) is limited while
    the block runs; not thread-safe, as the setting is the process's. On other backends it
    changes nothing that JAX uses. ``threads`` is a Python or NumPy integer (not a bool: a
    ``TypeError``) of at least 1 (else ``ValueError``); OpenBLAS caps it at the number of
    threads it was built for.
    """
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer):
        raise TypeError(f"threads must be an int >= 1, got {threads!r}")
    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be an int >= 1, got {threads!r}")
    token = _chosen.set(True)
    try:
        with _blas().limit(limits=threads):
            yield
    finally:
        _chosen.reset(token)


def fit_threads() -> contextlib.AbstractContextManager:
    """The BLAS threads of diffkern's compiled fits: one on CPU, unless the user chose."""
    chosen = _chosen.get() or any(v in os.environ for v in _USER_SETTINGS)
    if chosen or jax.default_backend() != "cpu":
        return contextlib.nullcontext()
    return lapack_threads(1)
