"""Laplace approximation: a Gaussian ``N(theta_hat, H^-1)`` around the mode of a posterior."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from diffkern._arrays import error_if
from diffkern._checks import checks_as_nan
from diffkern._compile import jit
from diffkern._lapack import fit_threads
from diffkern.fit._loop import diagnose, value_and_aux
from diffkern.fit._same import by_structure, unwrap


class Laplace(eqx.Module):
    """Gaussian approximation ``N(mean, cov)`` of a posterior around its mode.

    ``cov`` and ``hessian`` act on the flattened inexact-array leaves of ``mean``
    (``jax.flatten_util.ravel_pytree`` order); ``std`` has the structure of ``mean``.
    """

    mean: PyTree
    std: PyTree
    cov: Float[Array, "n n"]
    hessian: Float[Array, "n n"]

    def sample(self, key: PRNGKeyArray, num: int) -> PyTree:
        """``num`` draws from ``N(mean, cov)``, stacked along a new leading axis of every leaf."""
        diff, static = eqx.partition(self.mean, eqx.is_inexact_array)
        flat, unravel = ravel_pytree(diff)
        chol = jnp.linalg.cholesky(self.cov)
        z = jax.random.normal(key, (num, flat.shape[0]), flat.dtype)
        draws = flat[None, :] + z @ chol.T
        return jax.vmap(lambda d: eqx.combine(unravel(d), static))(draws)


_NOT_A_MINIMUM = "laplace: the Hessian of loss is not positive definite at params (not a minimum)"
_NOT_FINITE = "laplace: the loss is not finite at params"


def laplace(loss: Callable[..., Any], params: PyTree, *args: Any, has_aux: bool = False) -> Laplace:
    """Laplace approximation of ``p(theta | data) ~ exp(-loss(theta, *args))`` at its mode.

    ``params`` should minimise ``loss`` (e.g. ``minimize(...).params``). The covariance is the
    inverse of the exact Hessian ``H = d^2 loss / d theta^2`` of the flattened inexact-array
    leaves (forward over reverse mode). A loss that is not finite at ``params`` raises
    ``FloatingPointError`` (chained to the failed value check, if one failed); a Hessian that
    is not finite and positive definite (``params`` is not a minimum) raises ``ValueError``: on
    the host after the compiled program ran, or through a run-time value check when
    ``laplace`` is itself traced.
    """
    diff, static = eqx.partition(params, eqx.is_inexact_array)
    with checks_as_nan(), fit_threads():  # checked below: no callback, cacheable
        value, hessian, cov, std, ok = _laplace(by_structure(loss), static, has_aux, diff, args)
    if isinstance(ok, jax.core.Tracer):
        cov = error_if(cov, ~jnp.isfinite(value), _NOT_FINITE)
        cov = error_if(cov, ~ok, _NOT_A_MINIMUM)
    elif not np.isfinite(float(value)):
        diagnose(loss, params, args, "laplace: the loss at params")
    elif not bool(ok):
        if not bool(jnp.all(jnp.isfinite(hessian))):
            diagnose(loss, params, args, "laplace: the Hessian of the loss")
        raise ValueError(_NOT_A_MINIMUM)
    return Laplace(mean=params, std=eqx.combine(std, static), cov=cov, hessian=hessian)


@jit
def _laplace(loss, static, has_aux, diff, args):
    loss = unwrap(loss)
    flat, unravel = ravel_pytree(diff)
    flat_loss = lambda x: value_and_aux(loss(eqx.combine(unravel(x), static), *args), has_aux)[0]
    # H by forward over reverse mode, one tangent per column; the value comes out unbatched,
    # so the loss is traced once for both.
    column = lambda v: jax.jvp(jax.value_and_grad(flat_loss), (flat,), (v,))
    eye = jnp.eye(flat.shape[0], dtype=flat.dtype)
    (value, _), (_, hessian) = jax.vmap(column, out_axes=((None, None), 0))(eye)
    hessian = 0.5 * (hessian + hessian.T)
    chol = jnp.linalg.cholesky(hessian)
    cov = jax.scipy.linalg.cho_solve((chol, True), eye)
    # checked by the caller, on the host: no callback here, so the program can be cached
    return value, hessian, cov, unravel(jnp.sqrt(jnp.diag(cov))), jnp.all(jnp.isfinite(chol))
