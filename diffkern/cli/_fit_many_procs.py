"""Several processes for ``diffkern fit-many --distributed`` (``srun``, ``mpirun``, ...).

``--distributed`` calls ``jax.distributed.initialize`` before any other use of JAX: with no
more options JAX detects the launcher from its environment (Slurm's ``srun``, Open MPI's
``mpirun``); ``--coordinator HOST:PORT --num-processes N --process-id I`` name them for any
other launcher. ``--init-timeout`` bounds the wait for every process to connect and
``--heartbeat-timeout`` how long the others run on after one process died (they stop with the
runtime's error then, never hang).

Every process reads the whole input, and :func:`agree` checks that they all read the same stars
and hands them process 0's list of stars still to fit (process 0 alone reads ``--out``, so the
table need not be on a shared file system). A process that fails before fitting (an unreadable
input, a foreign ``--out``) makes every process stop with an error, so none waits for it.
"""

from __future__ import annotations

import argparse
import zlib
from collections.abc import Collection, Sequence

import numpy as np

from diffkern.cli._fit_many_data import BadStar, Star

_EXPLICIT = ("coordinator", "num_processes", "process_id")
_FLAGS = "--coordinator, --num-processes and --process-id"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``diffkern fit-many`` for several processes."""
    group = parser.add_argument_group(
        "several processes",
        "Start the same command as N processes (srun, mpirun, ...) with --distributed: each "
        "fits its share of every chunk; process 0 alone writes --out, shows the progress and "
        "reports skipped stars.",
    )
    group.add_argument(
        "--distributed", action="store_true", help="call jax.distributed.initialize() first: "
        "the coordinator, process count and process id are detected from Slurm (srun) or Open "
        "MPI (mpirun), or given by the three options below"
    )  # fmt: skip
    group.add_argument(
        "--coordinator", metavar="HOST:PORT", help="process 0's address, reachable by all "
        "processes (process 0 listens on PORT)"
    )  # fmt: skip
    group.add_argument("--num-processes", type=int, metavar="N", help="how many processes")
    group.add_argument("--process-id", type=int, metavar="I", help="this process, 0 to N-1")
    group.add_argument(
        "--init-timeout", type=int, default=300, metavar="SECONDS", help="how long to wait for "
        "every process to connect (default 300)"
    )  # fmt: skip
    group.add_argument(
        "--heartbeat-timeout", type=int, default=100, metavar="SECONDS", help="a process that "
        "has not been heard from for this long counts as dead and the others stop with an "
        "error (default 100)"
    )  # fmt: skip


def check(args: argparse.Namespace) -> None:
    """``ValueError`` for inconsistent options (before anything starts)."""
    given = [name for name in _EXPLICIT if getattr(args, name) is not None]
    if given and not args.distributed:
        raise ValueError(f"{_FLAGS} need --distributed")
    if given and len(given) != len(_EXPLICIT):
        missing = ", ".join("--" + n.replace("_", "-") for n in _EXPLICIT if n not in given)
        raise ValueError(f"give {_FLAGS} together, or none of them (missing: {missing})")
    if given:
        host, _, port = args.coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"--coordinator must be HOST:PORT, got {args.coordinator!r}")
        if args.num_processes < 1:
            raise ValueError(f"--num-processes must be >= 1, got {args.num_processes}")
        if not 0 <= args.process_id < args.num_processes:
            raise ValueError(
                f"--process-id must be in 0..{args.num_processes - 1} (--num-processes "
                f"{args.num_processes}), got {args.process_id}"
            )
    for name in ("init_timeout", "heartbeat_timeout"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")


def initialize(args: argparse.Namespace) -> None:
    """``jax.distributed.initialize`` with the options of ``args``; ``ValueError`` saying what
    to do when no launcher is detected or JAX already runs."""
    import jax

    try:
        jax.distributed.initialize(
            args.coordinator, args.num_processes, args.process_id,
            initialization_timeout=args.init_timeout,
            heartbeat_timeout_seconds=args.heartbeat_timeout,
        )  # fmt: skip
    except ValueError as err:
        if args.coordinator is not None:
            raise ValueError(f"--distributed: {err}") from err
        raise ValueError(
            f"--distributed: no Slurm or Open MPI environment found ({err}); start under srun "
            f"or mpirun, or give {_FLAGS}"
        ) from err
    except RuntimeError as err:  # JAX already running, or the processes never all connected
        raise ValueError(f"--distributed: jax.distributed.initialize failed: {err}") from err


def _fingerprint(stars: Sequence[Star], bad: Sequence[BadStar]) -> int:
    """A checksum of the stars' names and values and the skipped stars' names."""
    crc = 0
    for s in stars:
        crc = zlib.crc32(s.name.encode(), crc)
        for x in (s.t, s.rv, s.err):
            crc = zlib.crc32(np.ascontiguousarray(x, np.float64).tobytes(), crc)
    for b in bad:
        crc = zlib.crc32(f"bad {b.name}".encode(), crc)
    return crc & 0x7FFFFFFF


def agree(
    stars: Sequence[Star],
    bad: Sequence[BadStar],
    finished: Collection[str],
    failure: BaseException | None,
) -> list[Star]:
    """The stars of ``stars`` not in process 0's ``finished``, the same on every process.

    Collective: every process calls it, ``failure`` the error it met while reading (then its
    ``stars`` are empty). It raises that error on the process that met it and ``ValueError`` on
    the others, or on every process when they read different input."""
    from jax.experimental import multihost_utils

    status = np.asarray([failure is not None, len(stars), _fingerprint(stars, bad)], np.int32)
    every = np.asarray(multihost_utils.process_allgather(status))
    if failure is not None:
        raise failure
    failed = [int(i) for i in np.flatnonzero(every[:, 0])]
    if failed:
        names = ", ".join(map(str, failed))
        raise ValueError(f"process(es) {names} stopped before fitting (see their error)")
    if not (every[:, 1:] == every[0, 1:]).all():
        counts = ", ".join(f"process {i}: {n}" for i, n in enumerate(every[:, 1]))
        raise ValueError(
            "the processes read different input (usable stars " + counts + "): every "
            "process must see the same INPUT"
        )
    if not stars:
        return []
    todo = np.asarray([s.name not in finished for s in stars], np.int32)
    todo = np.asarray(multihost_utils.broadcast_one_to_all(todo))  # process 0's
    return [s for s, keep in zip(stars, todo, strict=True) if keep]
