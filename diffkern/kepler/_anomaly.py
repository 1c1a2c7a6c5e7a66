"""The Kepler functions with the default :class:`KeplerSolver` (checks on, ``method="auto"``)."""

from __future__ import annotations

from jaxtyping import Array, ArrayLike, Float, Real

from diffkern.kepler._solver import KeplerSolver

_DEFAULT = KeplerSolver()


def eccentric_anomaly(
    mean_anomaly: Real[ArrayLike, "*m"], ecc: Real[ArrayLike, "*e"]
) -> Float[Array, "*batch"]:
    """Eccentric anomaly ``E`` in [0, 2 pi) solving ``M = E - e sin E``.

    ``mean_anomaly`` is real with ``|M| <= 8192 pi`` in float32 or ``2^34 pi`` in float64
    (reduced mod 2 pi exactly; larger values raise :class:`diffkern.CheckError`) and
    ``0 <= ecc < 1``, broadcast against each other; integers are promoted, complex inputs raise
    ``TypeError``, and the result follows the inputs' floating dtype. Derivatives
    are exact: ``dE/dM = 1 / (1 - e cos E)``, ``dE/de = sin E / (1 - e cos E)``.
    """
    return _DEFAULT(mean_anomaly, ecc)


def true_anomaly(
    mean_anomaly: Real[ArrayLike, "*m"], ecc: Real[ArrayLike, "*e"]
) -> Float[Array, "*batch"]:
    """True anomaly ``f`` in [0, 2 pi), ``tan(f/2) = sqrt((1+e)/(1-e)) tan(E/2)``."""
    return _DEFAULT.solve(mean_anomaly, ecc).true_anomaly


def kepler(
    mean_anomaly: Real[ArrayLike, "*m"], ecc: Real[ArrayLike, "*e"]
) -> tuple[Float[Array, "*batch"], Float[Array, "*batch"]]:
    """``(sin f, cos f)`` of the true anomaly, the form orbit models need (no arctan)."""
    result = _DEFAULT.solve(mean_anomaly, ecc)
    return result.sin_f, result.cos_f
