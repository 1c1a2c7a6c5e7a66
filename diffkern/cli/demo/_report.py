"""The demo's parameter table, planet mass and JSON of results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

__all__ = ["at_bound", "planet_mass", "summary_rows", "table", "write_json"]

_G = 6.67430e-11  # m^3 kg^-1 s^-2
_M_SUN = 1.98841e30  # kg
_M_EARTH = 5.97217e24  # kg
STELLAR_MASS = (0.84, 0.03)  # K2-131, solar masses (Dai et al. 2017)


def planet_mass(
    k: float | np.ndarray, period_days: float | np.ndarray, ecc: float = 0.0
) -> float | np.ndarray:
    """Minimum mass in Earth masses, M sin i = K sqrt(1 - e^2) (P / 2 pi G)^(1/3) M*^(2/3)."""
    period = period_days * 86400.0
    m_star = STELLAR_MASS[0] * _M_SUN
    factor = (period / (2 * math.pi * _G)) ** (1 / 3) * m_star ** (2 / 3) * math.sqrt(1 - ecc**2)
    return k * factor / _M_EARTH


def at_bound(value: float, sd: float, draws: np.ndarray) -> bool:
    """A non-negative quantity (every draw >= 0) whose MAP lies within one Laplace sd of 0: the
    Gaussian approximation is wrong there (its interval crosses the bound)."""
    return bool(np.all(draws >= 0)) and value < sd


def summary_rows(
    best: dict[str, float], draws: dict[str, np.ndarray], nuts: dict[str, np.ndarray] | None
) -> list[dict]:
    """One row per quantity: MAP value, Laplace sd, and NUTS mean and sd when available.

    A quantity at its bound (:func:`at_bound`) gets ``at_bound`` and ``upper_95``, the 95th
    percentile of the NUTS samples (else of the Laplace draws), named in ``upper_from``.
    """
    draws = dict(draws, **{"M sin i [M_earth]": planet_mass(draws["K [m/s]"], draws["P [d]"])})
    best = dict(best, **{"M sin i [M_earth]": float(planet_mass(best["K [m/s]"], best["P [d]"]))})
    if nuts is not None:
        nuts = dict(nuts, **{"M sin i [M_earth]": planet_mass(nuts["K [m/s]"], nuts["P [d]"])})
    rows = []
    for name, value in best.items():
        row = {"name": name, "map": float(value), "laplace_sd": float(np.std(draws[name]))}
        if nuts is not None:
            row["nuts_mean"] = float(np.mean(nuts[name]))
            row["nuts_sd"] = float(np.std(nuts[name]))
        row["at_bound"] = at_bound(row["map"], row["laplace_sd"], draws[name])
        if row["at_bound"]:
            samples, source = (draws[name], "Laplace") if nuts is None else (nuts[name], "NUTS")
            row["upper_95"] = float(np.percentile(samples, 95))
            row["upper_from"] = source
        rows.append(row)
    return rows


def _fmt(x: float, sd: float) -> str:
    digits = max(0, 2 - int(math.floor(math.log10(sd)))) if sd > 0 and math.isfinite(sd) else 4
    return f"{x:.{digits}f} +/- {sd:.{digits}f}"


def _fmt_map(row: dict) -> str:
    if row["at_bound"]:
        return f"{row['map']:.2f}, at bound (< {row['upper_95']:.3g}, 95% {row['upper_from']})"
    return _fmt(row["map"], row["laplace_sd"])


def table(rows: list[dict]) -> str:
    """A plain-text table of the rows of :func:`summary_rows`; a quantity at its bound shows
    its 95% upper limit instead of the Laplace sd, which does not describe it."""
    has_nuts = "nuts_mean" in rows[0]
    width = max(32, *(len(_fmt_map(row)) for row in rows))
    header = f"{'parameter':<24} {'MAP +/- Laplace':>{width}}" + (
        f" {'NUTS':>32}" if has_nuts else ""
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        line = f"{row['name']:<24} {_fmt_map(row):>{width}}"
        if has_nuts:
            line += f" {_fmt(row['nuts_mean'], row['nuts_sd']):>32}"
        lines.append(line)
    return "\n".join(lines)


def write_json(path: Path, results: dict) -> None:
    """Write ``results`` (plain Python values) as indented JSON."""
    path.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
