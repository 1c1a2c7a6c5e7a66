"""Radial-velocity tables: ``time mnvel errvel tel`` (BJD, m/s, m/s, instrument name)."""

from __future__ import annotations

import importlib.resources
import math
from pathlib import Path

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from diffkern.orbits import RVObservations

__all__ = ["RVData", "load_rv", "K2_131"]

K2_131 = "k2-131.txt"
_COLUMNS = ("time", "mnvel", "errvel", "tel")
_STARS = {K2_131: "K2-131"}


class RVData(eqx.Module):
    """Radial velocities sorted by time, times relative to ``epoch``.

    Attributes:
        t: observation times minus ``epoch`` (days).
        rv: radial velocities (m/s).
        err: their 1-sigma uncertainties (m/s).
        inst: index of each point's instrument into ``instruments``.
        instruments: instrument names, in order of first appearance.
        epoch: the reference time (BJD) subtracted from ``t``.
        source: where the table came from (for messages).
    """

    t: Float[Array, " n"]
    rv: Float[Array, " n"]
    err: Float[Array, " n"]
    inst: Int[Array, " n"]
    instruments: tuple[str, ...] = eqx.field(static=True)
    epoch: float = eqx.field(static=True)
    source: str = eqx.field(static=True)

    @property
    def observations(self) -> RVObservations:
        """The velocities for :class:`diffkern.orbits.MultiInstrumentRV` (``inst`` as index)."""
        return RVObservations(self.t, self.rv, self.err, self.inst)

    @property
    def name(self) -> str:
        """The star's name: K2-131 for the shipped table, else the file name without suffix."""
        return _STARS.get(Path(self.source).name, Path(self.source).stem)


def _read_text(path: str | Path | None) -> tuple[str, str]:
    if path is None:
        resource = importlib.resources.files("diffkern") / "data" / K2_131
        return resource.read_text(), f"diffkern/data/{K2_131}"
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as err:
        raise ValueError(f"data file {path}: cannot be read ({err.strerror or err})") from err
    except UnicodeDecodeError as err:
        raise ValueError(
            f"data file {path}: not a text table (byte {err.start} is not UTF-8)"
        ) from err


def _parse(text: str, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    lines = [(i, line.split()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise ValueError(f"data file {source}: is empty")
    header = tuple(lines[0][1])
    if header != _COLUMNS:
        raise ValueError(
            f"data file {source}: line {lines[0][0]}: expected the header "
            f"'{' '.join(_COLUMNS)}', got '{' '.join(header)}'"
        )
    columns: list[list] = [[], [], [], []]
    for number, fields in lines[1:]:
        if len(fields) != len(_COLUMNS):
            raise ValueError(
                f"data file {source}: line {number}: expected {len(_COLUMNS)} columns "
                f"({' '.join(_COLUMNS)}), got {len(fields)}"
            )
        try:
            values = [float(v) for v in fields[:3]]
        except ValueError:
            raise ValueError(
                f"data file {source}: line {number}: time, mnvel and errvel must be numbers, "
                f"got {' '.join(fields[:3])}"
            ) from None
        bad = [name for name, v in zip(_COLUMNS[:3], values, strict=True) if not math.isfinite(v)]
        if bad:
            raise ValueError(
                f"data file {source}: line {number}: non-finite value in {', '.join(bad)} "
                f"(got {' '.join(fields[:3])})"
            )
        if values[2] <= 0:
            raise ValueError(
                f"data file {source}: line {number}: errvel must be > 0, got {values[2]}"
            )
        for column, value in zip(columns, [*values, fields[3]], strict=True):
            column.append(value)
    return np.array(columns[0]), np.array(columns[1]), np.array(columns[2]), columns[3]


def load_rv(path: str | Path | None = None, *, min_points: int = 12) -> RVData:
    """Read a radial-velocity table (default: the K2-131 data shipped with diffkern).

    The file is whitespace-separated with the header ``time mnvel errvel tel``. Raises
    ``ValueError`` naming the file (and line) for an unreadable file, a wrong header, a
    malformed row, a non-positive uncertainty, fewer than ``min_points`` rows, or repeated times.
    """
    text, source = _read_text(path)
    t, rv, err, tel = _parse(text, source)
    if t.size < min_points:
        raise ValueError(f"data file {source}: needs at least {min_points} rows, got {t.size}")
    order = np.argsort(t, kind="stable")
    if np.any(np.diff(t[order]) <= 0):
        raise ValueError(f"data file {source}: repeated observation times")
    instruments = tuple(dict.fromkeys(tel))
    inst = np.array([instruments.index(name) for name in tel], dtype=np.int32)
    epoch = float(np.floor(np.median(t)))
    return RVData(
        t=jnp.asarray(t[order] - epoch),
        rv=jnp.asarray(rv[order]),
        err=jnp.asarray(err[order]),
        inst=jnp.asarray(inst[order]),
        instruments=instruments,
        epoch=epoch,
        source=source,
    )
