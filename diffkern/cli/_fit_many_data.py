"""Input of ``diffkern fit-many``: stars' radial velocities from a folder or one table.

* a folder: every ``*.csv`` file in it is one star (named by the file's stem), with a header
  line holding the columns ``time``, ``rv`` and ``err`` (other columns are ignored);
* one CSV file: the same columns and a ``star`` column naming each row's star.

A star whose rows are unusable (a missing column, a value that is not a finite number, an
``err <= 0``, fewer than ``min_points`` points; in a folder, a file that is not a text table)
is reported with the reason and skipped; an input that cannot be read at all raises
``ValueError``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

COLUMNS = ("time", "rv", "err")


class Star(NamedTuple):
    """One star's radial velocities, sorted by time."""

    name: str
    t: np.ndarray
    rv: np.ndarray
    err: np.ndarray


class BadStar(NamedTuple):
    """A star that was skipped, and why."""

    name: str
    source: str
    reason: str


def _rows(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The header and the ``(line number, row)`` pairs of a CSV file."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            rows = [(reader.line_num, row) for row in reader]
            return list(reader.fieldnames or []), rows
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text table (byte {err.start} is not UTF-8)") from err


def _star(name: str, rows: list[tuple[int, dict[str, str]]], min_points: int) -> Star:
    """The star of ``rows``, or ``ValueError`` with the reason it is unusable."""
    values = {c: [] for c in COLUMNS}
    for line, row in rows:
        for c in COLUMNS:
            text = (row.get(c) or "").strip()
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"line {line}: {c} {text!r} is not a number") from None
            if not math.isfinite(value):
                raise ValueError(f"line {line}: {c} is {text}, not a finite number")
            if c == "err" and value <= 0:
                raise ValueError(f"line {line}: err must be > 0, got {text}")
            values[c].append(value)
    if len(rows) < min_points:
        raise ValueError(f"{len(rows)} points, fewer than the model's {min_points}")
    order = np.argsort(values["time"], kind="stable")
    t, rv, err = (np.asarray(values[c])[order] for c in COLUMNS)
    if t[-1] == t[0]:
        raise ValueError("all points have one time (no baseline)")
    return Star(name, t, rv, err)


def _missing(header: list[str], needed: tuple[str, ...]) -> str | None:
    missing = [c for c in needed if c not in header]
    if not missing:
        return None
    return f"missing column(s) {', '.join(missing)} (the header has: {', '.join(header)})"


def load(path: str | Path, min_points: int) -> tuple[list[Star], list[BadStar]]:
    """The usable stars of a folder or table (in name order) and the skipped ones."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise ValueError(f"{path}: no *.csv files (one per star) in this folder")
        groups = []
        for file in files:
            try:
                header, rows = _rows(file)
            except ValueError as err:  # one unreadable star's file: report it, fit the rest
                groups.append((file.stem, str(file), [], str(err)))
                continue
            groups.append((file.stem, str(file), rows, _missing(header, COLUMNS)))
    elif path.is_file():
        header, rows = _rows(path)
        problem = _missing(header, ("star", *COLUMNS))
        if problem:
            raise ValueError(f"{path}: {problem}")
        by_star: dict[str, list] = {}
        for line, row in rows:
            by_star.setdefault((row["star"] or "").strip(), []).append((line, row))
        groups = [(name, str(path), by_star[name], None) for name in sorted(by_star)]
    else:
        raise ValueError(f"{path}: no such file or folder")
    stars, bad = [], []
    for name, source, rows, problem in groups:
        try:
            if problem:
                raise ValueError(problem)
            stars.append(_star(name, rows, min_points))
        except ValueError as err:
            bad.append(BadStar(name, source, str(err)))
    return stars, bad
