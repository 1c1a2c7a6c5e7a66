"""Fitting: minimise a loss with any optax optimizer, then a Laplace approximation.

* :func:`minimize` runs ``steps`` updates of an optax optimizer (``optax.adam``, ``optax.sgd``,
  ``optax.lbfgs``, chains, ...) on the inexact-array leaves of any pytree (an Equinox module
  included), with a progress bar. The loop is compiled once per (loss, optimizer, shapes): new
  data passed through ``args`` and more calls with the same ``loss`` and ``optimizer`` objects
  never recompile.
* :func:`laplace` approximates the posterior ``p(theta) ~ exp(-loss(theta))`` near its mode by
  ``N(theta_hat, H^-1)``, with ``H`` the exact Hessian of ``loss`` (forward over reverse mode).

``loss(params, *args)`` returns a scalar, or ``(scalar, aux)`` with ``has_aux=True`` (the
convention of ``jax.value_and_grad(has_aux=True)``): ``aux`` carries diagnostics (residuals,
predictions) evaluated at the final parameters without a second pass through user code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import Array, Float, PRNGKeyArray, PyTree

from diffkern._arrays import error_if

__all__ = ["FitResult", "Laplace", "minimize", "laplace"]


class FitResult(eqx.Module):
    """The outcome of :func:`minimize`.

    Attributes:
        params: the parameters after the last step (same structure as the input).
        value: the loss at ``params``.
        aux: the auxiliary output of the loss at ``params`` (``None`` without ``has_aux``).
        grad_norm: the Euclidean norm of the gradient at ``params``.
        losses: the loss at the end of each progress chunk (a coarse history).
        steps: the number of optimizer steps taken.
    """

    params: PyTree
    value: Float[Array, ""]
    aux: Any
    grad_norm: Float[Array, ""]
    losses: Float[Array, " chunks"]
    steps: int = eqx.field(static=True)


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


def _value_and_aux(loss, static, has_aux, diff, args):
    out = loss(eqx.combine(diff, static), *args)
    return out if has_aux else (out, None)


def _value(loss, static, has_aux, diff, args):
    return _value_and_aux(loss, static, has_aux, diff, args)[0]


def _optax_promotion():
    # optax mixes Python floats with integer step counts (``decay**count``), which JAX's
    # strict promotion mode rejects; the optimizer's own arithmetic runs with standard rules.
    return jax.numpy_dtype_promotion("standard")


def _strong(x):
    return jax.lax.convert_element_type(x, x.dtype) if isinstance(x, jax.Array) else x


def _tree_norm(tree) -> Array:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)))


@eqx.filter_jit
def _run_chunk(loss, static, has_aux, optimizer, diff, opt_state, args, num_steps, gtol):
    """Up to ``num_steps`` optimizer steps (a traced count, so every chunk shares one program).

    The loss and gradient at the new point are computed once per step and carried, so the
    compiled program holds two copies of the loss (start and loop body) besides the optimizer's.
    """
    value_fn = lambda d: _value(loss, static, has_aux, d, args)
    evaluate = jax.value_and_grad(
        lambda d: _value_and_aux(loss, static, has_aux, d, args), has_aux=True
    )

    def cond(carry):
        i, _, _, _, _, grad = carry
        return (i < num_steps) & (_tree_norm(grad) > gtol)

    def body(carry):
        i, diff, opt_state, value, _, grad = carry
        with _optax_promotion():
            updates, opt_state = optimizer.update(
                grad, opt_state, diff, value=value, grad=grad, value_fn=value_fn
            )
        diff = optax.apply_updates(diff, updates)
        (value, aux), grad = evaluate(diff)
        return i + 1, diff, opt_state, value, aux, grad

    (value, aux), grad = evaluate(diff)
    init = (jnp.zeros((), jnp.int32), diff, opt_state, value, aux, grad)
    steps, diff, opt_state, value, aux, grad = jax.lax.while_loop(cond, body, init)
    return steps, diff, opt_state, value, aux, _tree_norm(grad)


def _progress_bar(label: str, done: int, total: int, value: float, final: bool) -> None:
    width = 30
    filled = width if final else width * done // total
    bar = "#" * filled + "." * (width - filled)
    end = (" (converged)\n" if done < total else "\n") if final else ""
    sys.stderr.write(f"\r{label} [{bar}] {done}/{total} loss={value:.6g}{end}")
    sys.stderr.flush()


def minimize(
    loss: Callable[..., Any],
    params: PyTree,
    optimizer: optax.GradientTransformation,
    *,
    steps: int,
    args: tuple = (),
    has_aux: bool = False,
    gtol: float = 0.0,
    progress: bool = True,
    label: str = "fit",
    chunks: int = 20,
    callback: Callable[[int, Array], None] | None = None,
) -> FitResult:
    """Minimise ``loss(params, *args)`` with ``optimizer`` for at most ``steps`` steps.

    Args:
        loss: scalar loss, or ``(loss, aux)`` when ``has_aux`` is True.
        params: pytree of initial parameters; its inexact-array leaves are optimised and the
            rest (integers, static module fields) is held fixed.
        optimizer: any optax transformation. Transformations that need the loss itself
            (``optax.lbfgs`` and its line search) receive ``value``, ``grad`` and ``value_fn``.
        steps: maximum number of steps (>= 1).
        args: extra arguments of ``loss``, traced (new data of the same shape: no recompile).
        has_aux: whether ``loss`` returns ``(value, aux)``.
        gtol: stop early once the gradient norm is at most ``gtol`` (0: run all steps).
        progress: print a progress bar with the current loss to stderr.
        label: text in front of the progress bar.
        chunks: number of progress updates (the compiled loop runs between them).
        callback: called as ``callback(steps_done, loss)`` after each chunk (logging,
            counting compiles of the steady-state loop).
    """
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if int(chunks) < 1:
        raise ValueError(f"chunks must be >= 1, got {chunks}")
    diff, static = eqx.partition(params, eqx.is_inexact_array)
    if not jax.tree_util.tree_leaves(diff):
        raise TypeError("params has no inexact-array leaves to optimise")
    optimizer = optax.with_extra_args_support(optimizer)
    with _optax_promotion():
        opt_state = optimizer.init(diff)
    # Some optimizers (optax.lbfgs) start with weakly typed scalars that come back strongly
    # typed from the first step; strong types from the start keep one compiled program.
    opt_state = jax.tree_util.tree_map(_strong, opt_state)
    per_chunk = -(-int(steps) // int(chunks))
    done, losses = 0, []
    while done < steps:
        taken, diff, opt_state, value, aux, gnorm = _run_chunk(
            loss, static, has_aux, optimizer, diff, opt_state, tuple(args),
            np.int32(min(per_chunk, steps - done)), gtol,
        )  # fmt: skip
        taken = int(taken)
        done += taken
        if not np.isfinite(float(value)):
            raise FloatingPointError(
                f"{label}: the loss is {float(value)} after {done} steps (a value check in the "
                "loss failed, or it overflowed); EQX_ON_ERROR=raise names the failed check"
            )
        losses.append(value)
        converged = taken == 0 or float(gnorm) <= gtol
        if progress:
            _progress_bar(label, done, steps, float(value), converged or done >= steps)
        if callback is not None:
            callback(done, value)
        if converged:
            break
    return FitResult(
        params=eqx.combine(diff, static),
        value=value,
        aux=aux if has_aux else None,
        grad_norm=gnorm,
        losses=jax.device_put(np.array([float(v) for v in losses], dtype=value.dtype)),
        steps=done,
    )


def laplace(loss: Callable[..., Any], params: PyTree, *args: Any, has_aux: bool = False) -> Laplace:
    """Laplace approximation of ``p(theta | data) ~ exp(-loss(theta, *args))`` at its mode.

    ``params`` should minimise ``loss`` (e.g. ``minimize(...).params``). The covariance is the
    inverse of the exact Hessian ``H = d^2 loss / d theta^2`` of the flattened inexact-array
    leaves. If ``H`` is not finite and positive definite (``params`` is not a minimum) this
    raises ``ValueError``: on the host after the compiled program ran, or through
    ``equinox.error_if`` when ``laplace`` is itself traced (inside ``jax.jit``).
    """
    diff, static = eqx.partition(params, eqx.is_inexact_array)
    hessian, cov, std, ok = _laplace(loss, static, has_aux, diff, args)
    if isinstance(ok, jax.core.Tracer):
        cov = error_if(cov, ~ok, _NOT_A_MINIMUM)
    elif not bool(ok):
        raise ValueError(_NOT_A_MINIMUM)
    return Laplace(mean=params, std=eqx.combine(std, static), cov=cov, hessian=hessian)


_NOT_A_MINIMUM = "laplace: the Hessian of loss is not positive definite at params (not a minimum)"


@eqx.filter_jit
def _laplace(loss, static, has_aux, diff, args):
    flat, unravel = ravel_pytree(diff)
    flat_loss = lambda x: _value(loss, static, has_aux, unravel(x), args)
    hessian = jax.hessian(flat_loss)(flat)
    hessian = 0.5 * (hessian + hessian.T)
    chol = jnp.linalg.cholesky(hessian)
    eye = jnp.eye(flat.shape[0], dtype=flat.dtype)
    cov = jax.scipy.linalg.cho_solve((chol, True), eye)
    # checked by the caller, on the host: no callback here, so the program can be cached
    return hessian, cov, unravel(jnp.sqrt(jnp.diag(cov))), jnp.all(jnp.isfinite(chol))
