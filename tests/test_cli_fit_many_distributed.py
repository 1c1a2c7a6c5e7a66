"""``diffkern fit-many --distributed``: two processes on 127.0.0.1 write the table one process
writes (process 0 alone writes, shows the progress and reports the skipped stars; process 1
writes nothing), a rerun fits only the missing star, and inconsistent options are one clear
error line (one launch of two processes serves every check: starting them is most of the time).
"""

import csv
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jax
import numpy as np
import pytest
from _proc import run
from test_cli_fit_many import _write
from test_fit_many_distributed import _free_port

from diffkern.cli import main

ROOT = Path(__file__).resolve().parents[1]
STARS = {f"s{i}": (3.1 + 2.3 * i, 5.0 + i, 18 + i) for i in range(6)}  # period, K, points
OPTIONS = ["--circular", "--steps", "60", "--chunk", "2", "--cpu-devices", "2"]
FLOAT = ("loss", "grad_norm", "period", "tp", "K", "ecc", "omega", "gamma", "jitter")


def _folder(root):
    folder = root / "stars"
    folder.mkdir()
    for seed, (name, (period, k, n)) in enumerate(STARS.items()):
        rng = np.random.default_rng(seed)
        t = np.sort(rng.uniform(0.0, 100.0, n)) + 2459000.0
        rv = k * np.cos(2 * np.pi * t / period + seed) + 2.0 + rng.normal(0.0, 1.0, n)
        _write(folder / f"{name}.csv", ("time", "rv", "err"), zip(t, rv, np.ones(n)))
    _write(folder / "no_err.csv", ("time", "rv"), [(1.0, 2.0)] * 20)
    _write(folder / "nan.csv", ("time", "rv", "err"), [(float(i), "nan", 1.0) for i in range(20)])
    return folder


def _two_processes(folder, out0, out1):
    """``diffkern fit-many --distributed`` as processes 0 (``--out out0``) and 1 (``--out
    out1``) at once: ``[(returncode, stdout, stderr)]`` of each."""
    port = _free_port()

    def one(pid, out):
        cmd = [sys.executable, "-m", "diffkern.cli", "fit-many", str(folder), *OPTIONS,
               "--out", str(out), "--distributed", "--coordinator", f"127.0.0.1:{port}",
               "--num-processes", "2", "--process-id", str(pid), "--init-timeout", "60",
               "--heartbeat-timeout", "10"]  # fmt: skip
        proc = run(cmd, timeout=240, cwd=ROOT)
        return proc.returncode, proc.stdout, proc.stderr

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, [0, 1], [out0, out1]))


def _table(path):
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames), list(reader)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One process (in this one), then two, then two again after the last row was removed."""
    root = tmp_path_factory.mktemp("fit_many_distributed")
    folder = _folder(root)
    one = root / "one.csv"
    assert main(["fit-many", str(folder), *OPTIONS, "--out", str(one), "--no-progress"]) == 0
    (root / "p1").mkdir()
    first = _two_processes(folder, root / "two.csv", root / "p1" / "two.csv")
    header, rows = _table(root / "two.csv")
    _write(root / "rerun.csv", header, [[r[c] for c in header] for r in rows[:-1]])
    rerun = _two_processes(folder, root / "rerun.csv", root / "p1" / "rerun.csv")
    return dict(root=root, folder=folder, one=one, first=first, rerun=rerun)


# The words of the Gloo collectives' own messages ("[Gloo] Rank 1 is connected to 1 peer ranks.
# Expected number of connected peer ranks is : 1"), printed by its C++ code from several
# threads: two messages can interleave anywhere, splitting each other's lines.
_GLOO = re.compile(
    r"\[Gloo\]|Rank|is connected to|peer ranks\.|Expected number of connected peer ranks is :|\d+"
)


def _own_lines(output):
    """The lines of ``output`` that hold more than pieces of Gloo's messages."""
    return [line for line in output.splitlines() if _GLOO.sub("", line).strip()]


def _assert_same_table(path, reference):
    header, rows = _table(path)
    ref_header, ref_rows = _table(reference)
    assert header == ref_header
    assert [r["star"] for r in rows] == [r["star"] for r in ref_rows] == list(STARS)
    for row, ref in zip(rows, ref_rows, strict=True):
        for column in header:
            if column in FLOAT or column.endswith("_err"):
                # The gradient norm at convergence (~1e-7) is rounding: equal to 1e-12 absolute.
                atol = 1e-12 if column == "grad_norm" else 0.0
                np.testing.assert_allclose(
                    float(row[column]), float(ref[column]), rtol=1e-8, atol=atol,
                    err_msg=f"{row['star']} {column}",
                )  # fmt: skip
            else:
                assert row[column] == ref[column], (row["star"], column)


def test_two_processes_write_the_one_process_table(runs):
    (rc0, out0, err0), (rc1, out1, err1) = runs["first"]
    assert rc0 == 0 and rc1 == 0, (err0[-3000:], err1[-3000:])
    _assert_same_table(runs["root"] / "two.csv", runs["one"])
    assert "fit-many: 6 stars fitted now, 6 in" in out0
    assert "in each of 2 processes" in out0
    assert "6/6 stars (2 skipped)" in err0
    for name, reason in [("no_err", "missing column(s) err"), ("nan", "line 2: rv is nan")]:
        assert f"skipped star {name} ({runs['folder'] / name}.csv): {reason}" in err0
    # process 1 prints nothing (but Gloo's connection lines) and writes nothing, not even at
    # its own --out
    assert _own_lines(out1) == _own_lines(err1) == [], (out1, err1)
    assert list((runs["root"] / "p1").iterdir()) == []
    assert not list(runs["root"].glob(".*.tmp"))


def test_a_rerun_fits_only_the_missing_star(runs):
    (rc0, out0, err0), (rc1, out1, err1) = runs["rerun"]
    assert rc0 == 0 and rc1 == 0, (err0[-3000:], err1[-3000:])
    assert "fit-many: 1 stars fitted now, 6 in" in out0  # one star on two processes
    assert "1/1 stars (2 skipped)" in err0
    _assert_same_table(runs["root"] / "rerun.csv", runs["one"])
    assert _own_lines(out1) == _own_lines(err1) == [], (out1, err1)
    assert list((runs["root"] / "p1").iterdir()) == []


# fmt: off
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--coordinator", "h:1"], "--coordinator, --num-processes and --process-id need"),
        (["--distributed", "--coordinator", "h:1"], "give --coordinator, --num-processes and "
         "--process-id together, or none of them (missing: --num-processes, --process-id)"),
        (["--distributed", "--num-processes", "2", "--process-id", "0"], "(missing: "
         "--coordinator)"),
        (["--distributed", "--coordinator", "h", "--num-processes", "2", "--process-id", "0"],
         "--coordinator must be HOST:PORT, got 'h'"),
        (["--distributed", "--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"],
         "--process-id must be in 0..1 (--num-processes 2), got 2"),
        (["--distributed", "--heartbeat-timeout", "0"], "--heartbeat-timeout must be >= 1"),
        (["--distributed"], "--distributed: jax.distributed.initialize failed: "),  # JAX runs
    ],
)
# fmt: on
def test_inconsistent_options_are_one_line(tmp_path, capsys, flags, message):
    jax.devices()  # JAX already runs in this process: too late for jax.distributed
    assert main(["fit-many", str(tmp_path), "--out", str(tmp_path / "r.csv"), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diffkern: error: ") and message in err[0], err
    assert list(tmp_path.iterdir()) == []


def test_no_launcher_found_says_what_to_do(tmp_path, capsys, monkeypatch):
    def undetected(*args, **kwargs):  # what JAX raises outside Slurm / Open MPI
        raise ValueError("coordinator_address should be defined.")

    monkeypatch.setattr(jax.distributed, "initialize", undetected)
    assert main(["fit-many", str(tmp_path), "--distributed"]) == 2
    err = capsys.readouterr().err
    assert "--distributed: no Slurm or Open MPI environment found" in err
    assert "start under srun or mpirun, or give --coordinator" in err
