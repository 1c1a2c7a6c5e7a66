"""``diffkern fit-many INPUT``: a Keplerian (+ GP) fit of every star of a folder or table.

Stars are fitted in chunks by :func:`diffkern.fit.minimize_many` (L-BFGS, float64; one compiled
program per length bucket and chunk shape, reused by later chunks and reruns) and each chunk's
rows are added to ``--out`` atomically, so a killed run loses nothing already written and a
rerun fits only the stars not yet in the table. Input format: :mod:`._fit_many_data`; models
and their parameters: :mod:`._fit_many_model`.

With ``--distributed`` the command runs as one of several processes (``srun``, ``mpirun``, see
:mod:`._fit_many_procs`): each fits its share of every chunk and gets every share back; process
0 alone writes ``--out``, shows the progress bar, reports the skipped stars (every process
reads the same input, so they would all report the same) and prints the summary. The table is
the one a single process writes: the stars, their order and the chunks are the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from diffkern.cli import _fit_many_procs as procs

_STATS = ("n_points", "converged", "loss", "grad_norm", "steps")
_QUANTITIES = ("period", "tp", "K", "ecc", "omega", "gamma", "jitter")
_GP = ("gp_amp", "gp_scale")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``diffkern fit-many``."""
    parser.add_argument(
        "input",
        metavar="INPUT",
        help="a folder of per-star CSV files (columns time, rv, err), or one CSV table with a "
        "star column as well",
    )
    parser.add_argument("--model", choices=("keplerian", "keplerian+gp"), default="keplerian")
    parser.add_argument("--out", default="fit_many_results.csv", help="the results table (CSV)")
    parser.add_argument("--circular", action="store_true", help="fix e = 0 (default: eccentric)")
    parser.add_argument("--period", type=float, help="start every fit at this period")
    parser.add_argument(
        "--min-period", type=float, default=1.0, help="shortest periodogram period (default 1)"
    )
    parser.add_argument(
        "--max-period", type=float, help="longest periodogram period (default: twice each "
        "star's baseline)"
    )  # fmt: skip
    parser.add_argument("--steps", type=int, default=300, help="L-BFGS steps at most per star")
    parser.add_argument("--gtol", type=float, default=1e-6, help="gradient-norm tolerance")
    parser.add_argument("--chunk", type=int, default=256, help="stars per written chunk")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--cpu-devices", type=int, default=8, help="on a CPU, split it into this many JAX "
        "devices, each running its own fits (faster than one; default 8; per process with "
        "--distributed)"
    )  # fmt: skip
    procs.add_arguments(parser)


def _columns(model: str) -> list[str]:
    quantities = _QUANTITIES + (_GP if model == "keplerian+gp" else ())
    return ["star", "model", *_STATS] + [f"{q}{s}" for q in quantities for s in ("", "_err")]


def _check(args: argparse.Namespace) -> None:
    for name in ("steps", "chunk", "cpu_devices"):
        if getattr(args, name) < 1:
            flag = name.replace("_", "-")
            raise ValueError(f"--{flag} must be >= 1, got {getattr(args, name)}")
    for name in ("period", "min_period", "max_period"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    if not args.gtol >= 0:
        raise ValueError(f"--gtol must be >= 0, got {args.gtol}")
    procs.check(args)


def _split_cpu(count: int) -> None:
    """Ask JAX for ``count`` CPU devices (``jax_num_cpu_devices``), unless the device count is
    already set (``XLA_FLAGS``) or JAX already runs (``main`` called inside a program): then
    the devices stay as they are. GPUs are unaffected."""
    import jax

    if jax.config.jax_num_cpu_devices != -1 or "device_count" in os.environ.get("XLA_FLAGS", ""):
        return
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # backends already initialised: keep them
        pass


def _progress(done: int, total: int, skipped: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    sys.stderr.write(
        f"\rfit-many [{'#' * filled}{'.' * (width - filled)}] {done}/{total} stars"
        f" ({skipped} skipped){end}"
    )
    sys.stderr.flush()


def _fit_chunk(stars, args) -> list[dict]:
    """Fit ``stars`` and return their result rows."""
    import numpy as np
    import optax

    from diffkern.cli import _fit_many_model as model
    from diffkern.fit import minimize_many

    eccentric = not args.circular
    sc = model.scales(stars)
    fields = model.standardised(stars, sc)
    p0 = model.start(args.model, eccentric, fields, sc, period=args.period,
                     min_period=args.min_period, max_period=args.max_period)  # fmt: skip
    fit = minimize_many(model.loss, p0, fields, optax.lbfgs(), steps=args.steps, gtol=args.gtol)
    values, stds = model.physical(fit.params, fit.cov, sc)
    stats = dict(n_points=[s.t.size for s in stars], converged=fit.converged, loss=fit.value,
                 grad_norm=fit.grad_norm, steps=fit.steps)  # fmt: skip
    rows = []
    for i, star in enumerate(stars):
        row = {"star": star.name, "model": args.model}
        row |= {k: np.asarray(v)[i].item() for k, v in stats.items()}
        for q, v in values.items():
            row[q], row[f"{q}_err"] = float(v[i]), float(stds[q][i])
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    """Fit every star of ``args.input`` not yet in ``args.out``; report skipped stars."""
    _check(args)
    if args.distributed:
        procs.initialize(args)  # before anything else touches JAX
    _split_cpu(args.cpu_devices)
    import jax

    from diffkern.cli import _fit_many_data as data
    from diffkern.cli import _fit_many_model as model
    from diffkern.cli import _fit_many_results as results
    from diffkern.precision import float64

    count, lead = jax.process_count(), jax.process_index() == 0
    out = Path(args.out)
    columns = _columns(args.model)
    stars, bad, rows, failure = [], [], [], None
    try:
        rows = results.done(out, columns) if lead else []
        stars, bad = data.load(args.input, model.min_points(args.model, not args.circular))
    except (ValueError, OSError) as err:
        if count == 1:
            raise
        failure = err  # raised in procs.agree, after telling the other processes
    finished = {r["star"] for r in rows}
    if count > 1:
        todo = procs.agree(stars, bad, finished, failure)
    else:
        todo = [s for s in stars if s.name not in finished]
    show = lead and not args.no_progress
    if lead:
        for b in bad:
            print(f"diffkern: skipped star {b.name} ({b.source}): {b.reason}", file=sys.stderr)
    total, done = len(todo), 0
    if show:
        _progress(done, total, len(bad))
    with float64():
        for start in range(0, total, args.chunk):
            chunk = todo[start : start + args.chunk]
            # minimize_many wants a star per process: a short last chunk repeats its last star
            fitted = _fit_chunk(chunk + chunk[-1:] * (count - len(chunk)), args)[: len(chunk)]
            if lead:
                rows += fitted
                results.write(out, columns, rows)
            done = min(start + args.chunk, total)
            if show:
                _progress(done, total, len(bad))
    if lead:
        devices = f"{jax.local_device_count()} {jax.default_backend()} device(s)"
        if count > 1:
            devices += f" in each of {count} processes"
        print(f"fit-many: {total} stars fitted now, {len(rows)} in {out}, {len(bad)} skipped, "
              f"on {devices}")  # fmt: skip
    return 0
