"""The results table of ``diffkern fit-many``: one CSV row per fitted star, written atomically.

Each chunk of stars is added by writing the whole table to a temporary file next to it and
renaming it over the old one (``os.replace``, atomic on POSIX): a run killed at any moment
leaves the table as it was after its last complete chunk, never a half-written row. A rerun
reads the stars already in the table and fits only the others.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path


def done(path: Path, columns: Sequence[str]) -> list[dict[str, str]]:
    """The rows already in ``path`` (none if it does not exist); ``ValueError`` when its
    header is not ``columns`` (results of another model or a foreign file)."""
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder, not a file")
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        header = list(reader.fieldnames or [])
    if header != list(columns):
        raise ValueError(
            f"--out {path} holds other columns ({', '.join(header[:6])}, ...): results of "
            "another model, or not a fit-many table; choose another --out"
        )
    return rows


def write(path: Path, columns: Sequence[str], rows: Sequence[dict]) -> None:
    """Replace ``path`` by the table of ``rows``, atomically (temporary file, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
