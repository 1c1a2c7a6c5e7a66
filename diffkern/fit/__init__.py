"""Fitting: one optax loop, minimisation with progress, Laplace approximation, implicit argmin.

* :func:`descend` is the loop itself: optax updates in one compiled ``lax.while_loop`` with
  one dtype-promotion policy (optax's arithmetic under standard promotion), until a step count
  or a gradient tolerance; every optimiser in diffkern runs on it.
* :func:`minimize` runs ``steps`` updates of an optax optimizer (``optax.adam``, ``optax.sgd``,
  ``optax.lbfgs``, chains, ...) on the inexact-array leaves of any pytree (an Equinox module
  included), with a progress bar. The loop is compiled once per (loss, optimizer, shapes): new
  data passed through ``args`` never recompiles, and neither does an equal optimizer built
  anew (``optax.adam(0.01)`` called again) or an equal closure as the loss (they are keyed on
  their structure: code and closed-over values, see ``_same.py``).
* :func:`minimize_many` fits one model per series over thousands of series of different
  lengths (padded to length buckets with a mask): one compiled program per length bucket runs
  every series' optax loop and its Laplace Hessian, vmapped, split over the local devices
  (``jax.shard_map`` on a 1-D mesh) and over the processes of ``jax.distributed``.
* :func:`laplace` approximates the posterior ``p(theta) ~ exp(-loss(theta))`` near its mode by
  ``N(theta_hat, H^-1)``, with ``H`` the exact Hessian of ``loss`` (forward over reverse mode).
* :func:`argmin` solves ``x*(theta) = argmin_x f(x, theta)`` by L-BFGS, differentiable in
  ``theta`` by the implicit function theorem (also :mod:`diffkern.implicit`).

``loss(params, *args)`` returns a scalar, or ``(scalar, aux)`` with ``has_aux=True`` (the
convention of ``jax.value_and_grad(has_aux=True)``): ``aux`` carries diagnostics (residuals,
predictions) evaluated at the final parameters without a second pass through user code.
"""

from diffkern.fit._implicit import argmin as argmin
from diffkern.fit._laplace import Laplace as Laplace
from diffkern.fit._laplace import laplace as laplace
from diffkern.fit._loop import Descent as Descent
from diffkern.fit._loop import descend as descend
from diffkern.fit._many import ManyResult as ManyResult
from diffkern.fit._many import minimize_many as minimize_many
from diffkern.fit._minimize import FitResult as FitResult
from diffkern.fit._minimize import minimize as minimize
