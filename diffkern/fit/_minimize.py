"""Minimise a loss with any optax optimizer, in chunks of the compiled loop, with progress."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import numpy as np
import optax
from jaxtyping import Array, Float, PyTree

from diffkern._checks import checks_as_nan
from diffkern._compile import jit
from diffkern._lapack import fit_threads
from diffkern.fit._loop import descend, diagnose, init_state
from diffkern.fit._same import by_structure, unwrap


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


@jit
def _run_chunk(loss, static, has_aux, optimizer, diff, opt_state, args, num_steps, gtol):
    """Up to ``num_steps`` optimizer steps (a traced count, so every chunk shares one program).

    ``loss`` and ``optimizer`` come wrapped by :func:`by_structure`: an equal optimizer built
    anew (``optax.adam(0.01)`` called again) or an equal closure reuses the program."""
    loss, optimizer = unwrap(loss), unwrap(optimizer)
    run = descend(
        lambda d: loss(eqx.combine(d, static), *args),
        optimizer, diff, opt_state, max_steps=num_steps, gtol=gtol, has_aux=has_aux,
    )  # fmt: skip
    return run.steps, run.params, run.state, run.value, run.aux, run.grad_norm


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

    The loop is one compiled program per (loss, optimizer, shapes), where an optimizer or loss
    built anew with the same settings (``optax.adam(0.01)`` called again) counts as the same.
    It holds no host callback, so :func:`diffkern.enable_persistent_cache` keeps it: value
    checks of diffkern's kernels inside the loss give NaN there, and a non-finite loss stops the
    fit with ``FloatingPointError``, chained to the failed check (found by evaluating the loss
    once, at the parameters reached).

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
    opt_state = init_state(optimizer, diff)
    per_chunk = -(-int(steps) // int(chunks))
    done, losses = 0, []
    with fit_threads():  # on CPU: see diffkern._lapack
        while done < steps:
            with checks_as_nan():  # the loss is tested below: no callback, a cacheable program
                taken, diff, opt_state, value, aux, gnorm = _run_chunk(
                    by_structure(loss), static, has_aux, by_structure(optimizer), diff, opt_state,
                    tuple(args),
                    np.int32(min(per_chunk, steps - done)), gtol,
                )  # fmt: skip
            taken = int(taken)
            done += taken
            if not np.isfinite(float(value)):
                diagnose(loss, eqx.combine(diff, static), args, f"{label}: the loss", done)
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
