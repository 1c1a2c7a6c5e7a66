"""``KeplerSolver``: the configuration of the Kepler kernel (method, iterations, input checks)."""

from __future__ import annotations

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float, Real

from diffkern._arrays import broadcast_floats, error_if, platform, to_device
from diffkern._checks import checked
from diffkern.kepler._solve import MAX_MEAN_ANOMALY, below_two_pi, solve, valid_inputs
from diffkern.kepler._steps import METHODS

#: What ``method="auto"`` picks: the cheapest step that meets the documented accuracy.
_AUTO = {"float32": "newton", "float64": "order5"}


class KeplerResult(eqx.Module):
    """Eccentric anomaly ``E`` in [0, 2 pi) with the sines and cosines of ``E`` and of the true
    anomaly ``f``; every field has exact derivatives with respect to ``M`` and ``e``."""

    eccentric_anomaly: Float[Array, "*batch"]
    sin_E: Float[Array, "*batch"]
    cos_E: Float[Array, "*batch"]
    sin_f: Float[Array, "*batch"]
    cos_f: Float[Array, "*batch"]

    @property
    def true_anomaly(self) -> Float[Array, "*batch"]:
        """``f`` in [0, 2 pi), on the same half-orbit as ``E``."""
        f = jnp.arctan2(self.sin_f, self.cos_f)
        return jnp.minimum(jnp.where(f < 0, f + 2 * math.pi, f), below_two_pi(f.dtype))


class KeplerSolver(eqx.Module):
    """Solver of Kepler's equation ``M = E - e sin E`` for batches of any broadcastable shape.

    Markley's starter followed by ``num_iter`` correction steps of ``method``:

    * ``"auto"`` (default): ``"order5"`` in float64, ``"newton"`` in float32. One step reaches
      ``|E - E*| <= 1e-14`` rad in float64 (measured 9e-16) and ``<= 2e-6`` rad in float32
      (measured 5e-7) for all ``M`` in range and ``0 <= e <= 1 - 1e-9``.
    * ``"newton"``, ``"halley"``, ``"order4"``, ``"order5"``: steps of order 2 to 5, each the
      truncated series reversion of Kepler's equation about the current estimate (one division).

    ``M`` is reduced mod 2 pi exactly (to the last bit) for ``|M| <= 8192 pi`` (about 2.6e4)
    in float32 and ``|M| <= 2^34 pi`` (about 5.4e10) in float64, and rejected past that (a
    float32 ``M`` near 1e4 is itself only known to 5e-4 rad). ``E`` and ``f`` are always in
    [0, 2 pi). Complex inputs raise ``TypeError``.

    ``check=True`` (default) validates values in the compiled program: ``e`` outside [0, 1) or
    ``M`` non-finite or out of range raises :class:`diffkern.CheckError` on the host after a
    call outside ``jit``, or through a host callback inside the caller's ``jit`` (in
    ``diffkern.jit.set_value_checks("nan")`` mode the whole result is NaN instead).
    ``check=False`` skips the check; invalid elements then come out as NaN, never as a silent
    number.

    All fields are static: a new configuration compiles a new program, new data never does.
    Modules are immutable; use ``dataclasses.replace`` or a new instance to change a field.
    """

    method: str = eqx.field(static=True, default="auto")
    num_iter: int = eqx.field(static=True, default=1)
    check: bool = eqx.field(static=True, default=True)

    def __check_init__(self):
        if self.method not in ("auto", *METHODS):
            raise ValueError(f"method must be one of {('auto', *METHODS)}, got {self.method!r}")
        if not isinstance(self.num_iter, int) or isinstance(self.num_iter, bool):
            raise TypeError(f"num_iter must be an int, got {type(self.num_iter).__name__}")
        if self.num_iter < 1:
            raise ValueError(f"num_iter must be >= 1, got {self.num_iter}")
        if not isinstance(self.check, bool):
            raise TypeError(f"check must be a bool, got {type(self.check).__name__}")

    def _solve(self, mean_anomaly: Real[ArrayLike, "*m"], ecc: Real[ArrayLike, "*e"]):
        for name, x in (("mean_anomaly", mean_anomaly), ("ecc", ecc)):
            if jnp.issubdtype(jnp.result_type(x), jnp.complexfloating):
                raise TypeError(f"{name} must be real, got {jnp.result_type(x)}")
        if _staged(mean_anomaly, ecc):
            # Inside the caller's jit the check is traced at its level around a scalar, and no
            # nested program is built (less to trace and compile).
            return _solution(self, mean_anomaly, ecc, platform(mean_anomaly, ecc))
        mean_anomaly, ecc = to_device(mean_anomaly, ecc)
        return _checked_solve(self, mean_anomaly, ecc, platform(mean_anomaly, ecc))

    def __call__(
        self, mean_anomaly: Real[ArrayLike, "*m"], ecc: Real[ArrayLike, "*e"]
    ) -> Float[Array, "*batch"]:
        """Eccentric anomaly ``E`` in [0, 2 pi) for real ``mean_anomaly``, ``0 <= ecc < 1``."""
        return self._solve(mean_anomaly, ecc)[0]

    def solve(
        self, mean_anomaly: Real[ArrayLike, "*m"], ecc: Real[ArrayLike, "*e"]
    ) -> KeplerResult:
        """``E``, ``sin E``, ``cos E``, ``sin f``, ``cos f`` from one solve.

        ``cos f = (cos E - e) / (1 - e cos E)``, ``sin f = sqrt(1 - e^2) sin E / (1 - e cos E)``,
        each written with ``1 - cos E`` so they keep their digits as ``e -> 1``.
        """
        E, sin_E, cos_E, sin_f, cos_f, _ = self._solve(mean_anomaly, ecc)
        return KeplerResult(E, sin_E, cos_E, sin_f, cos_f)


def _staged(*arrays) -> bool:
    """Whether the inputs are traced by the caller's ``jit`` (or ``scan``, ``cond``).

    Eager ``grad`` and ``vmap`` also pass tracers, but stage nothing: a constant made now is a
    tracer only while a program is being traced.
    """
    tracers = any(isinstance(x, jax.core.Tracer) for x in arrays)
    return tracers and isinstance(jnp.zeros((), jnp.int8), jax.core.Tracer)


def _solution(
    solver: KeplerSolver,
    mean_anomaly: Real[ArrayLike, "*m"],
    ecc: Real[ArrayLike, "*e"],
    device: str,
) -> tuple[Float[Array, "*b"], ...]:
    mean_anomaly, ecc = broadcast_floats(mean_anomaly=mean_anomaly, ecc=ecc)
    dtype = mean_anomaly.dtype.name
    offset = jnp.zeros((), mean_anomaly.dtype)
    if solver.check:
        # The check guards a scalar that the solver adds to the input (invalid elements are NaN
        # either way): passing the arrays themselves through the check's conditional would copy
        # them and break XLA's fusion.
        offset = error_if(
            offset,
            ~jnp.all(valid_inputs(mean_anomaly, ecc)),
            f"Kepler solver needs 0 <= ecc < 1 and a finite mean_anomaly with "
            f"|mean_anomaly| <= {MAX_MEAN_ANOMALY[dtype]:.6g} in {dtype}",
        )
    method = _AUTO[ecc.dtype.name] if solver.method == "auto" else solver.method
    return solve(mean_anomaly, ecc, offset, method, solver.num_iter, device)


# One compiled program per (configuration, shape, dtype), so that calls outside ``jit`` neither
# run op by op nor build a new loop program per call; the value check comes back as an output
# of that program (raised on the host: no callback, so the persistent cache keeps it).
_checked_solve = checked(_solution)
