"""``diffkern bench``: run the benchmark suite against the peers and print one table.

The suite (pytest-benchmark tests) is not part of the installed package: it is the
``benchmarks/`` directory of a source checkout, found through ``--benchmarks DIR``, else
``$DIFFKERN_BENCHMARKS``, else next to the package in a source checkout (editable install).
This command runs it in a child ``pytest`` process on the default JAX device, shows progress,
and summarises the pytest-benchmark JSON as one row per case (benchmark group): diffkern's
median time, the fastest peer's median time, the spread (IQR / median) of each, and
``speedup = peer / diffkern``, given only when both times are stable: at least
``MIN_QUOTED_ROUNDS`` rounds with a spread of at most ``STABLE_SPREAD``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_STATUS = "PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS"
_PROGRESS = re.compile(rf"^(\S+::\S+) ({_STATUS})\b(.*?)(\[ *\d+%\])?$")
_COLLECTED = re.compile(r"collected (\d+) items?")
_REPORT_START = re.compile(r"^=+ (FAILURES|ERRORS|short test summary info) =+$")

#: A time is quoted (given a speedup) when its rounds' IQR / median is at most this ...
STABLE_SPREAD = 0.10
#: ... over at least this many rounds.
MIN_QUOTED_ROUNDS = 5
#: Environment variable naming the benchmark directory when ``--benchmarks`` is not given.
ENV = "DIFFKERN_BENCHMARKS"
_CHECKOUT = Path(__file__).resolve().parents[2] / "benchmarks"


class BenchError(ValueError):
    """The suite cannot run (no ``benchmarks/`` directory, unknown ``--only`` name, ...)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``diffkern bench``."""
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smallest size of each case, a smaller round budget, and on a CPU no "
        "parallel-in-time GP (times measured by profiles/timings.py)",
    )
    parser.add_argument(
        "--only",
        metavar="NAMES",
        help="comma-separated benchmark files to run, e.g. kepler,gp (gp also selects gp_*)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the pytest-benchmark JSON here")
    parser.add_argument(
        "--benchmarks",
        metavar="DIR",
        help=f"benchmark directory (default: ${ENV}, else benchmarks/ of the source checkout)",
    )


def find_benchmarks(directory: str | None = None) -> Path:
    """The benchmark directory: ``directory`` if given, else ``$DIFFKERN_BENCHMARKS`` if set,
    else ``benchmarks/`` of the source checkout holding this package.

    Raises :class:`BenchError` when the chosen directory holds no suite (``conftest.py``),
    naming the three ways to point at one.
    """
    if directory is not None:
        path, source = Path(directory), "--benchmarks"
    elif os.environ.get(ENV):
        path, source = Path(os.environ[ENV]), f"${ENV}"
    else:
        path, source = _CHECKOUT, "default: next to the package"
    path = path.resolve()
    if not (path / "conftest.py").is_file():
        raise BenchError(
            f"no benchmark suite at {path} (from {source}). The suite ships with diffkern's "
            "source, not with the installed package: pass --benchmarks DIR, set "
            f'${ENV}=DIR, or run from a source checkout (`pip install -e ".[bench]"`); '
            "DIR is the benchmarks/ folder of a diffkern checkout"
        )
    return path


def select(directory: Path, only: str | None) -> list[Path]:
    """Benchmark files in ``directory``; ``only="a,b"`` keeps ``test_a.py``, ``test_a_*.py``, ..."""
    files = sorted(directory.glob("test_*.py"))
    available = [f.stem.removeprefix("test_") for f in files]
    if not only:
        return files
    names = [name.strip() for name in only.split(",") if name.strip()]
    chosen = []
    for name in names:
        matches = [
            f
            for f, stem in zip(files, available, strict=True)
            if stem == name or stem.startswith(name + "_")
        ]
        if not matches:
            raise BenchError(
                f"--only: no benchmark file for {name!r}; available: {', '.join(available)}"
            )
        chosen += [f for f in matches if f not in chosen]
    return chosen


@dataclasses.dataclass(frozen=True)
class Time:
    """A median over rounds in seconds, with its spread (IQR / median) and round count."""

    median: float
    spread: float
    rounds: int

    @classmethod
    def of(cls, entry: dict) -> Time:
        """From one benchmark of a pytest-benchmark JSON document."""
        stats = entry["stats"]
        median = stats["median"]
        spread = stats.get("iqr", 0.0) / median if median > 0 else math.inf
        return cls(median, spread, stats["rounds"])

    @property
    def stable(self) -> bool:
        """Enough rounds, with a spread small enough to quote."""
        return self.rounds >= MIN_QUOTED_ROUNDS and self.spread <= STABLE_SPREAD


@dataclasses.dataclass(frozen=True)
class Row:
    """One case of the table; ``None`` where a side is absent."""

    case: str
    diffkern: Time | None
    peer: str | None
    peer_time: Time | None
    device: str

    @property
    def speedup(self) -> float | None:
        """Best peer median over diffkern median (above 1: diffkern is faster), only when both
        times are stable."""
        if self.diffkern is None or self.peer_time is None:
            return None
        if not (self.diffkern.stable and self.peer_time.stable):
            return None
        return self.peer_time.median / self.diffkern.median

    @property
    def unstable(self) -> bool:
        """A time of the row is too spread (or has too few rounds) to quote."""
        return any(t is not None and not t.stable for t in (self.diffkern, self.peer_time))


def rows(data: dict) -> list[Row]:
    """Rows from a pytest-benchmark JSON document, in run order.

    Each group is one case; libraries named ``diffkern`` or ``diffkern:VARIANT`` are diffkern's
    (one row per variant), every other library is a peer, and the fastest peer (by median,
    stable or not) is shown.
    """
    groups: dict[str, list[dict]] = {}
    for b in data.get("benchmarks", []):
        groups.setdefault(b["group"] or b["name"], []).append(b)
    table = []
    for group, entries in groups.items():
        ours, peers = [], []
        for b in entries:
            library = b["extra_info"].get("library", "diffkern")
            (ours if library.split(":")[0] == "diffkern" else peers).append((library, b))
        best = min(peers, key=lambda p: p[1]["stats"]["median"], default=None)
        peer, peer_time = (best[0], Time.of(best[1])) if best else (None, None)
        for library, b in ours or [("", None)]:
            variant = library.partition(":")[2]
            source = b if b is not None else best[1]
            table.append(
                Row(
                    case=f"{group} [{variant}]" if variant else group,
                    diffkern=Time.of(b) if b is not None else None,
                    peer=peer,
                    peer_time=peer_time,
                    device=str(source["extra_info"].get("device", "?")),
                )
            )
    return table


def format_seconds(seconds: float | None) -> str:
    """``0.0123`` -> ``12.3 ms``; ``None`` -> ``-``."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_spread(t: Time | None) -> str:
    """The spread as a percentage (``3.4%``, ``50%``); fewer than ``MIN_QUOTED_ROUNDS`` rounds
    say so instead (``1 round``)."""
    if t is None:
        return "-"
    if t.rounds < MIN_QUOTED_ROUNDS:
        return f"{t.rounds} round" + "s" * (t.rounds != 1)
    percent = 100 * t.spread
    return f"{percent:.0f}%" if percent >= 10 else f"{percent:.1f}%"


def format_table(table: list[Row], *, markdown: bool = False) -> str:
    """The rows as an aligned text table, or as a Markdown table.

    A row whose diffkern or peer time is not stable shows ``unstable`` instead of a speedup.
    """
    header = ["case", "diffkern", "spread", "best peer", "peer time", "spread", "speedup"]
    header.append("device")
    cells = [
        [
            r.case,
            format_seconds(r.diffkern and r.diffkern.median),
            format_spread(r.diffkern),
            r.peer or "-",
            format_seconds(r.peer_time and r.peer_time.median),
            format_spread(r.peer_time),
            "unstable" if r.unstable else "-" if r.speedup is None else f"{r.speedup:.2f}x",
            r.device,
        ]
        for r in table
    ]
    if markdown:
        rule = ["---", "---:", "---:", "---", "---:", "---:", "---:", "---"]
        return "\n".join("| " + " | ".join(line) + " |" for line in [header, rule, *cells])
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    align = [str.ljust, str.rjust, str.rjust, str.ljust, str.rjust, str.rjust, str.rjust]
    align.append(str.ljust)
    return "\n".join(
        "  ".join(a(c, w) for a, c, w in zip(align, line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    )


def legend() -> str:
    """What the table's columns mean, printed under it."""
    return (
        f"median times; spread = IQR / median of the rounds; speedup = best peer / diffkern "
        f"(above 1: diffkern is faster), given only when both times are stable (spread <= "
        f"{STABLE_SPREAD:.0%} over >= {MIN_QUOTED_ROUNDS} rounds), else 'unstable'"
    )


def _pytest_command(files: list[Path], json_path: str) -> list[str]:
    return [
        sys.executable, "-m", "pytest", *map(str, files),
        "--benchmark-only", "--benchmark-quiet", f"--benchmark-json={json_path}",
        # The test suite's addopts turn on run-time type checking, which must not be timed.
        "-o", "addopts=", "-p", "no:cacheprovider", "-v", "-rfE",
    ]  # fmt: skip


def _run_pytest(command: list[str], env: dict, cwd: Path) -> int:
    """Run pytest, printing one progress line per test and the failure report, if any."""
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    total, done, report, lines = "?", 0, False, []
    start = time.perf_counter()
    for line in process.stdout:
        line = line.rstrip("\n")
        lines.append(line)
        if m := _COLLECTED.search(line):
            total = m.group(1)
        elif m := _PROGRESS.match(line):
            done += 1
            elapsed = time.perf_counter() - start
            status, detail = m.group(2), m.group(3).strip()
            print(f"[{done}/{total} {elapsed:6.1f}s] {status:<7} {m.group(1)} {detail}".rstrip())
            sys.stdout.flush()
        report = report or bool(_REPORT_START.match(line))
        if report:
            print(line)
    rc = process.wait()
    if rc not in (0, 1):  # 1: some tests failed (reported above); others: pytest itself failed
        print("\n".join(lines[-40:]))
    return rc


def run(args: argparse.Namespace) -> int:
    """Run the selected benchmarks, print the table, return pytest's exit status."""
    directory = find_benchmarks(args.benchmarks)
    files = select(directory, args.only)
    if not files:
        raise BenchError(f"no test_*.py files in {directory}")
    import jax

    # The suite is its own pytest session: a parent's pytest-xdist worker variables would make
    # pytest-benchmark switch timing off.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    if args.quick:
        env["DIFFKERN_BENCH_QUICK"] = "1"
    mode = "smoke" if env.get("DIFFKERN_BENCH_SMOKE") == "1" else "quick" if args.quick else "full"
    print(
        f"diffkern bench ({mode}): {len(files)} file(s) from {directory} "
        f"on {jax.default_backend()} ({jax.devices()[0].device_kind})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        json_path = os.path.abspath(args.json or os.path.join(tmp, "bench.json"))
        rc = _run_pytest(_pytest_command(files, json_path), env, directory.parent)
        if not os.path.exists(json_path):
            print("diffkern bench: pytest wrote no results", file=sys.stderr)
            return rc or 1
        with open(json_path) as f:
            table = rows(json.load(f))
    print()
    print(format_table(table) if table else "no benchmark results")
    print(f"\n{legend()}")
    if args.json:
        print(f"pytest-benchmark JSON: {args.json}")
    return rc
