"""The ``diffkern`` command: ``info``, ``--version``, ``demo --quick --no-plot``, and bad input:
one line ``diffkern: error: ...`` naming the file (and line), exit status 2, the traceback only
with ``--debug``."""

import json

import pytest

import diffkern
from diffkern.cli import main

HEADER = "time mnvel errvel tel\n"
ROWS = "".join(f"{2450000 + i} {i % 3}.5 1.2 HARPS\n" for i in range(12))


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "jax" in out and "devices" in out and "float64" in out


@pytest.mark.slow
def test_demo_quick_no_plot(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--no-plot", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "K [m/s]" in printed and "Earth masses" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["K_within_published"]
    k = next(r for r in results["parameters"] if r["name"] == "K [m/s]")
    assert 4.9 < k["map"] < 8.1 and 0.5 < k["laplace_sd"] < 3.0
    assert results["steady_state_compiles"] == 0
    assert (out / "trace.pftrace").stat().st_size > 0
    assert "compiles" in (out / "trace_summary.txt").read_text()
    assert not (out / "k2-131.png").exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"diffkern {diffkern.__version__}"


def test_help_has_no_rest_markup(capsys):
    for command in ([], ["demo"], ["bench"], ["profile"], ["info"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        assert "``" not in capsys.readouterr().out


# (file contents or None for "no such file", the expected message after "data file rv.txt: ")
BAD_DATA = {
    "missing": (None, "cannot be read (No such file or directory)"),
    "empty": ("", "is empty"),
    "binary": (b"\x89PNG\r\n\x1a\n\xff\xfe", "not a text table (byte 0 is not UTF-8)"),
    "bad header": ("time rv err tel\n" + ROWS, "line 1: expected the header"),
    "short row": (HEADER + ROWS + "2450100 1.0 1.0\n", "line 14: expected 4 columns"),
    "not a number": (HEADER + ROWS + "2450100 abc 1.0 X\n", "line 14: time, mnvel and errvel"),
    "NaN": (HEADER + "2450100 nan 1.0 X\n" + ROWS, "line 2: non-finite value in mnvel (got"),
    "negative error": (HEADER + ROWS + "2450100 1.0 -1.0 X\n", "line 14: errvel must be > 0"),
    "too few rows": (HEADER + ROWS[:40], "needs at least 12 rows, got"),
    "repeated times": (HEADER + ROWS + ROWS.splitlines()[0] + "\n", "repeated observation times"),
}


def _bad_input(capsys, argv: list[str]) -> str:
    """Run ``argv``; assert one line on stderr, no traceback, exit 2; return that line."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    (line,) = captured.err.splitlines()
    assert line.startswith("diffkern: error: ")
    return line.removeprefix("diffkern: error: ")


@pytest.mark.parametrize("kind", list(BAD_DATA))
def test_bad_data_file_is_one_line_naming_file_and_line(tmp_path, capsys, kind):
    content, message = BAD_DATA[kind]
    path = tmp_path / "rv.txt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    out = tmp_path / "out"
    line = _bad_input(
        capsys, ["demo", "--quick", "--no-plot", "--out", str(out), "--data", str(path)]
    )
    assert line.startswith(f"data file {path}: {message}"), line
    assert not out.exists()  # checked before anything is written


def test_data_folder_and_out_file(tmp_path, capsys):
    line = _bad_input(capsys, ["demo", "--data", str(tmp_path)])
    assert line == f"data file {tmp_path}: cannot be read (Is a directory)"
    (tmp_path / "taken").write_text("")
    line = _bad_input(capsys, ["demo", "--out", str(tmp_path / "taken")])
    assert line.startswith(f"--out {tmp_path / 'taken'}: is a file")


def test_missing_profile_script(tmp_path, capsys):
    line = _bad_input(capsys, ["profile", str(tmp_path / "missing.py")])
    assert "WORKLOAD must be one of" in line and "missing.py" in line


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(tmp_path, capsys, where):
    argv = ["demo", "--data", str(tmp_path / "missing.txt")]
    argv = ["--debug", *argv] if where == "before" else [*argv, "--debug"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last)") and "load_rv" in err
    assert err.splitlines()[-1].startswith("diffkern: error: data file")
