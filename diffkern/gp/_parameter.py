"""Kernel parameters: scalar fields with a bound (> 0 or >= 0), and their run-time checks."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool

from diffkern._arrays import as_float


def parameter(*, positive: bool = True, label: str | None = None):
    """A kernel parameter field: a floating scalar (converted by ``as_float``), finite and
    ``> 0`` (``positive``) or ``>= 0``; ``label`` names it in messages (default: the field's
    name). See :class:`Kernel` for when it is checked."""
    return eqx.field(converter=as_float, metadata={"kernel_parameter": (label, positive)})


def parameters(module: eqx.Module) -> Iterator[tuple[str, tuple[str, bool]]]:
    """``(field, (label, positive))`` for each :func:`parameter` field of ``module``."""
    for field in dataclasses.fields(module):
        if "kernel_parameter" in field.metadata:
            label, positive = field.metadata["kernel_parameter"]
            yield field.name, (label or field.name, positive)


def bound_checks(module: eqx.Module, *, finite: bool = False) -> list[tuple[Bool[Array, ""], str]]:
    """``(failed, message)`` for the bound of every parameter of ``module`` (a kernel) and of
    the modules it holds (the parts of a sum or product); with ``finite``, each parameter's
    finiteness first. Without it NaN passes here (the solvers check finiteness themselves)."""
    checks = []
    for field in dataclasses.fields(module):
        value = getattr(module, field.name)
        if isinstance(value, eqx.Module):
            checks += bound_checks(value, finite=finite)
    for field, (label, positive) in parameters(module):
        x = getattr(module, field)
        if finite:
            checks.append((~jnp.isfinite(x), f"{label} must be finite (it holds NaN or inf)"))
        bad, bound = (x <= 0, "> 0") if positive else (x < 0, ">= 0")
        checks.append((bad, f"{label} must be {bound}"))
    return checks
