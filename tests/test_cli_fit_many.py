"""``diffkern fit-many``: periods and amplitudes recovered from a folder or a table, a run
killed midway resumed without losing or refitting a star, bad files reported per star and
skipped, fatal errors as one ``diffkern: error:`` line."""

import csv

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffkern.cli import _fit_many_model as model
from diffkern.cli import fit_many, main

TRUE = {"a": (7.3, 12.0), "b": (19.0, 6.0), "c": (3.1, 9.0)}  # period, K


def _star(name, n, seed):
    period, k = TRUE[name]
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 120.0, n)) + 2459000.0
    rv = k * np.cos(2 * np.pi * (t - 2459003.0) / period) - 4.0 + rng.normal(0.0, 1.0, n)
    return t, rv, np.full(n, 1.0)


def _write(path, columns, rows):
    lines = [",".join(columns)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def _folder(tmp_path):
    folder = tmp_path / "stars"
    folder.mkdir()
    for seed, (name, n) in enumerate([("a", 22), ("b", 20), ("c", 24)]):
        _write(folder / f"{name}.csv", ("time", "rv", "err"), zip(*_star(name, n, seed)))
    t, rv, err = _star("a", 22, 9)
    _write(folder / "no_err.csv", ("time", "rv"), zip(t, rv))
    _write(folder / "nan.csv", ("time", "rv", "err"), zip(t, np.where(t == t[5], np.nan, rv), err))
    _write(folder / "short.csv", ("time", "rv", "err"), zip(t[:4], rv[:4], err[:4]))
    return folder


def _results(path):
    with path.open() as f:
        return {row["star"]: row for row in csv.DictReader(f)}


def test_folder_killed_midway_resumes_and_skips_bad_files(tmp_path, monkeypatch, capsys, x64):
    folder, out = _folder(tmp_path), tmp_path / "results.csv"
    (folder / "binary.csv").write_bytes(b"\x00\x01\xff")  # not a text table: one bad star
    argv = ["fit-many", str(folder), "--circular", "--out", str(out), "--chunk", "1"]
    fit_chunk, calls = fit_many._fit_chunk, []

    def killed_after_one(stars, args):
        calls.append(len(stars))
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill between chunks
        return fit_chunk(stars, args)

    monkeypatch.setattr(fit_many, "_fit_chunk", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        main(argv)
    assert list(_results(out)) == ["a"]  # the first chunk is on disk, whole
    monkeypatch.setattr(fit_many, "_fit_chunk", fit_chunk)
    capsys.readouterr()
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "2 stars fitted now, 3 in" in captured.out
    assert "2/2 stars (4 skipped)" in captured.err
    for name, reason in [
        ("binary", f"{folder / 'binary'}.csv: not a text table (byte 2 is not UTF-8)"),
        ("no_err", "missing column(s) err"),
        ("nan", "line 7: rv is nan, not a finite number"),
        ("short", "4 points, fewer than the model's 6"),
    ]:
        assert f"skipped star {name} ({folder / name}.csv): {reason}" in captured.err
    rows = _results(out)
    assert sorted(rows) == ["a", "b", "c"]
    for name, (period, k) in TRUE.items():
        row = rows[name]
        assert row["converged"] == "True" and row["model"] == "keplerian"
        assert abs(float(row["period"]) - period) < 3 * float(row["period_err"]) + 1e-3 * period
        assert abs(float(row["K"]) - k) < 4 * float(row["K_err"])
        assert abs(float(row["gamma"]) + 4.0) < 4 * float(row["gamma_err"])
    assert main(argv) == 0  # everything done: nothing refitted
    assert "0 stars fitted now, 3 in" in capsys.readouterr().out
    assert not list(tmp_path.glob(".*.tmp"))


def test_table_input(tmp_path, capsys, x64):
    table = tmp_path / "all.csv"
    rows = [(name, *point) for s, name in enumerate("ab") for point in zip(*_star(name, 22, s))]
    rows.append(("bad", 2459000.0, "abc", 1.0))
    _write(table, ("star", "time", "rv", "err"), rows)
    out = tmp_path / "table.csv"
    argv = ["fit-many", str(table), "--circular", "--out", str(out), "--chunk", "1"]
    assert main([*argv, "--no-progress"]) == 0  # chunks of one: the program of the test above
    err = capsys.readouterr().err
    assert err == f"diffkern: skipped star bad ({table}): line 46: rv 'abc' is not a number\n"
    results = _results(out)
    for name in "ab":
        period, _ = TRUE[name]
        assert results[name]["converged"] == "True"
        assert abs(float(results[name]["period"]) - period) < 0.01 * period


def test_gp_loss_is_the_keplerian_residuals_gp_likelihood(x64):
    """The keplerian+gp loss against a dense float64 numpy likelihood of the residuals."""
    t = np.sort(np.random.default_rng(3).uniform(-0.5, 0.5, 12))
    rv, err = np.sin(9 * t), np.full(12, 0.3)
    mask = np.arange(12) < 10  # two padded points
    p = {"nu": 4.0, "phase": 0.3, "log_k": -0.2, "offset": 0.1, "log_jitter": -1.0,
         "log_amp": -0.5, "log_scale": -1.5}  # fmt: skip
    got = jax.jit(model.loss)({k: jnp.asarray(v) for k, v in p.items()}, (t, rv, err), mask)
    t, rv, err = t[:10], rv[:10], err[:10]
    r = rv - p["offset"] - np.exp(p["log_k"]) * np.cos(2 * np.pi * p["nu"] * t + p["phase"])
    tau = np.sqrt(3) * np.abs(t[:, None] - t[None, :]) / np.exp(p["log_scale"])
    cov = np.exp(2 * p["log_amp"]) * (1 + tau) * np.exp(-tau)
    cov += np.diag(err**2 + np.exp(2 * p["log_jitter"]))
    nll = 0.5 * (r @ np.linalg.solve(cov, r) + np.linalg.slogdet(cov)[1] + 10 * np.log(2 * np.pi))
    prior = 0.5 * (p["log_jitter"] ** 2 + p["log_amp"] ** 2 + p["log_scale"] ** 2) / 9
    np.testing.assert_allclose(got, nll + prior, rtol=1e-10)


def _numpy_velocity(t, period, tp, ecc, omega, k):
    """float64 numpy: Newton on Kepler's equation, then ``K (cos(f + omega) + e cos omega)``."""
    mean_anomaly = 2 * np.pi * (t - tp) / period
    big_e = mean_anomaly.copy()
    for _ in range(50):
        big_e -= (big_e - ecc * np.sin(big_e) - mean_anomaly) / (1 - ecc * np.cos(big_e))
    f = 2 * np.arctan2(np.sqrt(1 + ecc) * np.sin(big_e / 2), np.sqrt(1 - ecc) * np.cos(big_e / 2))
    return k * (np.cos(f + omega) + ecc * np.cos(omega))


def test_eccentric_and_circular_parameters_give_the_keplerian_velocity(x64):
    p = {"nu": 3.7, "phase": 1.1, "log_k": 0.4, "h": 0.5, "k": -0.3}
    t = np.linspace(-0.5, 0.5, 9)
    circular = {k: p[k] for k in ("nu", "phase", "log_k")}
    both = jax.jit(lambda p, c, t: (model._velocity(p, t), model._velocity(c, t)))
    got, got_circular = both(p, circular, t)
    s = 0.5**2 + 0.3**2
    ecc, omega, period = s / (1 + s), np.arctan2(-0.3, 0.5), 1 / 3.7
    tp = (omega - 1.1) / (2 * np.pi) * period  # mean longitude 1.1 at t' = 0
    expected = _numpy_velocity(t, period, tp, ecc, omega, np.exp(0.4))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    expected = np.exp(0.4) * np.cos(2 * np.pi * 3.7 * t + 1.1)
    np.testing.assert_allclose(got_circular, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "no such file or folder"),
        ("empty folder", "no *.csv files"),
        ("no star column", "missing column(s) star"),
        ("out is a folder", "is a folder, not a file"),
        ("other model", "holds other columns"),
        ("steps", "--steps must be >= 1, got 0"),
        ("cpu devices", "--cpu-devices must be >= 1, got 0"),
    ],
)
def test_fatal_errors_are_one_line(tmp_path, capsys, case, message):
    table = tmp_path / "t.csv"
    _write(table, ("time", "rv", "err"), [(1, 2, 3)])
    other = tmp_path / "other.csv"
    other.write_text("star,model\n")
    (tmp_path / "empty").mkdir()
    argv = {
        "missing": [str(tmp_path / "nothing")],
        "empty folder": [str(tmp_path / "empty")],
        "no star column": [str(table)],
        "out is a folder": [str(table), "--out", str(tmp_path)],
        "other model": [str(table), "--out", str(other)],
        "steps": [str(table), "--steps", "0"],
        "cpu devices": [str(table), "--cpu-devices", "0"],
    }[case]
    assert main(["fit-many", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diffkern: error: ") and message in err[0], err
