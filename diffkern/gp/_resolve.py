"""The one place a solver name becomes a solver object."""

from __future__ import annotations

from collections.abc import Mapping

from jaxtyping import ArrayLike, Bool, Float

from diffkern.gp._cholesky import Dense
from diffkern.gp._kernel import Kernel
from diffkern.gp._quasisep import Quasisep
from diffkern.gp._solver import Solver

SOLVERS = ("auto", "cholesky", "quasisep")
# "auto" switches to the O(N) solver from this many points on (the dense one is faster below).
AUTO_QUASISEP_MIN_N = 512


def resolve_solver(
    solver: str | Solver,
    kernel: Kernel,
    inputs: Mapping[str, Float[ArrayLike, "*batch N"]],
    *,
    mask: Bool[ArrayLike, "*batch N"] | None = None,
    min_n: int = AUTO_QUASISEP_MIN_N,
    on_failure: str | None = None,
    jitter: float | None = None,
) -> Solver:
    """The solver object for ``solver``, a name in ``SOLVERS`` or a :class:`Solver` instance.

    ``inputs`` maps names (for error messages) to the inputs X of every series, each of shape
    (..., N), with ``mask`` (if given) the points of each that count. ``"cholesky"`` is
    :class:`Dense` with ``on_failure`` and ``jitter`` (its defaults where None),
    ``"quasisep"`` is :class:`Quasisep`, and ``"auto"`` picks Quasisep when it accepts the
    kernel and every X (sorted, or traced and then checked at run time) and every
    N >= ``min_n``, else Dense. A named or given solver must take the kernel and
    inputs: otherwise ``ValueError`` says why.
    """
    options = {k: v for k, v in (("on_failure", on_failure), ("jitter", jitter)) if v is not None}
    if isinstance(solver, Solver):
        if options:
            raise ValueError(
                f"{', '.join(options)} configure the solver chosen by name; with a solver "
                "object, set them on it (e.g. Dense(on_failure=..., jitter=...))"
            )
        chosen = solver
    else:
        if not isinstance(solver, str) or solver not in SOLVERS:
            error = ValueError if isinstance(solver, str) else TypeError
            raise error(
                f"solver must be one of {SOLVERS} or a diffkern.gp.Solver instance such as "
                f"Dense() or Quasisep(), got {solver!r}"
            )
        dense = Dense(**options)  # checks on_failure and jitter whichever solver is chosen
        if solver == "auto":
            quasisep = Quasisep()
            fits = all(x.shape[-1] >= min_n for x in inputs.values()) and _passes(
                quasisep, kernel, inputs, mask
            )
            return quasisep if fits else dense
        chosen = dense if solver == "cholesky" else Quasisep()
    _check(chosen, kernel, inputs, mask)
    return chosen


def _check(solver: Solver, kernel: Kernel, inputs, mask) -> None:
    """The solver's checks of the kernel (once) and of every input (ValueError on failure).

    A solver that overrides :meth:`Solver.check` itself (rather than its two parts) gets that
    called for every input."""
    if type(solver).check is not Solver.check:
        for name, x in inputs.items():
            solver.check(kernel, x, name, mask)
        return
    solver.check_kernel(kernel)
    check_inputs = solver.check_inputs  # one bound method for all the series
    for name, x in inputs.items():
        check_inputs(x, name, mask)


def _passes(solver: Solver, kernel: Kernel, inputs, mask) -> bool:
    try:
        _check(solver, kernel, inputs, mask)
    except ValueError:
        return False
    return True
