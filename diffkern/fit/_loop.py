"""The one optimisation loop: optax updates inside a compiled ``lax.while_loop``.

Every optimiser in diffkern (:func:`diffkern.fit.minimize`, :func:`diffkern.implicit.argmin`,
:func:`diffkern.regression.fit_ukr`) runs here, so they share one dtype-promotion policy: optax
mixes Python floats with integer step counts (``decay**count``), which JAX's strict promotion
mode rejects, so the optimiser's own arithmetic (``init``, ``update``, ``apply_updates``) runs
with standard promotion while the loss keeps the caller's mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PyTree

from diffkern._checks import CheckError

__all__ = ["Descent", "descend"]


class Descent(NamedTuple):
    """The outcome of :func:`descend`.

    Attributes:
        params: the parameters after the last step.
        state: the optimiser state after the last step (pass it back to continue).
        value: the loss at ``params``; ``aux`` its auxiliary output (``None`` without).
        grad_norm: the Euclidean norm of the gradient at ``params``.
        steps: the number of steps taken.
        losses: the loss before each step, ``losses[i]`` before step ``i`` (length ``history``).
    """

    params: PyTree
    state: PyTree
    value: Float[Array, ""]
    aux: Any
    grad_norm: Float[Array, ""]
    steps: Int[Array, ""]
    losses: Float[Array, " history"]


def _optax_promotion():
    return jax.numpy_dtype_promotion("standard")


def _strong(x):
    return jax.lax.convert_element_type(x, x.dtype) if isinstance(x, jax.Array) else x


def init_state(optimizer: optax.GradientTransformation, params: PyTree) -> PyTree:
    """``optimizer.init(params)`` with strongly typed leaves: some optimisers (``optax.lbfgs``)
    start with weakly typed scalars that come back strongly typed from the first step, which
    would compile a second program when the state is carried from call to call."""
    with _optax_promotion():
        state = optimizer.init(params)
    return jax.tree_util.tree_map(_strong, state)


def value_and_aux(out, has_aux: bool) -> tuple[Array, Any]:
    """``(value, aux)`` of a loss output: ``(value, aux)`` with ``has_aux``, else ``value``."""
    return out if has_aux else (out, None)


def tree_norm(tree: PyTree) -> Array:
    """The Euclidean norm of all leaves of ``tree`` together."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)))


def _line_search_result(state: PyTree) -> tuple[Array, PyTree] | None:
    """The loss and gradient at the parameters the last update moved to, where the optimizer
    ends with optax's zoom line search (``optax.lbfgs``): its state holds them (infinite value
    before the first step). None for any other optimizer."""
    last = state[-1] if isinstance(state, tuple) and state else state
    if isinstance(last, optax.ScaleByZoomLinesearchState):
        return last.value, last.grad
    return None


def descend(
    loss: Callable[[PyTree], Any],
    optimizer: optax.GradientTransformation,
    params: PyTree,
    state: PyTree | None = None,
    *,
    max_steps: int | Int[Array, ""],
    gtol: float | None = None,
    has_aux: bool = False,
    history: int = 0,
) -> Descent:
    """Minimise ``loss(params)`` with ``optimizer``: at most ``max_steps`` steps, stopping once
    the gradient norm is at most ``gtol`` (``None``: run exactly ``max_steps``).

    Traceable, and meant to be called inside the caller's ``jit`` (one ``lax.while_loop``);
    ``max_steps`` and ``gtol`` may be traced. Transformations that need the loss itself
    (``optax.lbfgs`` and its line search) receive ``value``, ``grad`` and ``value_fn``. The loss
    and gradient at each new point are computed once, at the start of the loop body, which
    then stops or steps: the program holds one copy of them, not two (one before the loop),
    which halves the compile time of a loss-dominated loop. An optimizer that ends with optax's
    zoom line search (``optax.lbfgs``) already evaluated both at the point it moved to: they
    are taken from its state (without ``has_aux``), one evaluation per step fewer. ``state``
    continues an earlier run at the ``params`` it ended with, on the same loss (default: a
    fresh ``optimizer.init``); ``history`` > 0 records the loss before each of the first
    ``history`` steps.
    """
    optimizer = optax.with_extra_args_support(optimizer)
    state = init_state(optimizer, params) if state is None else state
    evaluate = jax.value_and_grad(lambda p: value_and_aux(loss(p), has_aux), has_aux=True)
    value_fn = lambda p: value_and_aux(loss(p), has_aux)[0]

    def step(params, state, value, grad):
        with _optax_promotion():
            updates, state = optimizer.update(
                grad, state, params, value=value, grad=grad, value_fn=value_fn
            )
            return optax.apply_updates(params, updates), state

    def body(carry):
        i, params, state, *_, losses, _ = carry
        stored = None if has_aux else _line_search_result(state)
        if stored is None:
            (value, aux), grad = evaluate(params)
        else:  # the last step's line search evaluated the loss and gradient at params already
            (value, aux), grad = jax.lax.cond(
                jnp.isinf(stored[0]),
                lambda: evaluate(params),
                lambda: ((stored[0], None), stored[1]),
            )
        done = i >= max_steps
        if gtol is not None:
            done = done | (tree_norm(grad) <= gtol)
        if history:
            losses = jnp.where(done, losses, losses.at[i].set(value, mode="drop"))
        params, state = jax.lax.cond(
            done, lambda: (params, state), lambda: step(params, state, value, grad)
        )
        return i + jnp.where(done, 0, 1), params, state, value, aux, grad, losses, done

    (value, aux), grad = jax.tree_util.tree_map(
        lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(evaluate, params)
    )
    losses = jnp.zeros(history, value.dtype)
    init = (jnp.zeros((), jnp.int32), params, state, value, aux, grad, losses, jnp.asarray(False))
    carry = jax.lax.while_loop(lambda carry: ~carry[-1], body, init)
    steps, params, state, value, aux, grad, losses, _ = carry
    return Descent(params, state, value, aux, tree_norm(grad), steps, losses)


def diagnose(loss: Callable[..., Any], params: PyTree, args: tuple, what: str, steps: int = 0):
    """Raise ``FloatingPointError`` for a non-finite result of a compiled loop over ``loss``.

    The loss is evaluated once at ``params`` outside the loop, where a failed value check of a
    diffkern kernel raises its own error: that error becomes the cause.
    """
    after = f" after {steps} steps" if steps else ""
    message = f"{what} is not finite{after}"
    try:
        loss(params, *args)
    except CheckError as err:
        raise FloatingPointError(f"{message}: {err}") from err
    raise FloatingPointError(f"{message} (it overflowed, or a value check failed on the way)")
