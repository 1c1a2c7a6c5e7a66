"""Persistent compilation cache: a fresh process loads diffkern's programs instead of compiling
them (in the default mode and in NaN mode); bad directories only warn."""

import json
import os
import sys
import textwrap

import jax
import pytest
from _proc import run

from diffkern.jit import CacheWarning, default_cache_dir, enable_persistent_cache

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp
    from diffkern.jit import count_compiles, enable_persistent_cache, set_value_checks

    set_value_checks(sys.argv[2])
    where = enable_persistent_cache(sys.argv[1])
    from diffkern.kepler import eccentric_anomaly  # checks 0 <= ecc < 1 with eqx.error_if

    m = jnp.linspace(0.0, 3.0, 64)
    e = jnp.asarray(0.3, m.dtype)
    with count_compiles(watch_entry_points=False) as c:
        E = eccentric_anomaly(m, e)
    r = E - e * jnp.sin(E) - m
    try:  # the same program on a bad eccentricity: raises, or NaN in "nan" mode
        bad = bool(jnp.all(jnp.isnan(eccentric_anomaly(m, jnp.asarray(1.5, m.dtype)))))
    except Exception:
        bad = "raised"
    print(json.dumps({"where": str(where), "compiles": c.compiles, "hits": c.cache_hits,
                      "max": float(jnp.max(jnp.abs(r))), "bad": bad}))
    """
)


def _run(cache_dir, checks="nan", *warning_flags) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    cmd = [sys.executable, *warning_flags, "-c", _SCRIPT, str(cache_dir), checks]
    out = run(cmd, env=env, timeout=300, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1]) | {"stderr": out.stderr}


def test_second_process_loads_kernel_from_cache(tmp_path):
    first = _run(tmp_path)
    assert first["compiles"] >= 1 and first["hits"] == 0
    assert first["where"] == str(tmp_path) and any(tmp_path.iterdir())
    second = _run(tmp_path)
    assert (second["compiles"], second["hits"]) == (0, first["compiles"])
    assert second["max"] == first["max"] < 1e-4
    assert first["bad"] is True and second["bad"] is True  # NaN mode: NaN, loaded or not


def test_raising_checks_still_raise_whether_or_not_cached(tmp_path):
    """JAX up to 0.10 never writes a program holding a host callback (eqx.error_if raising) to
    the cache, later versions do; either way the check still raises in a fresh process."""
    first = _run(tmp_path, "raise")
    again = _run(tmp_path, "raise")
    assert again["hits"] == first["compiles"] - again["compiles"]
    assert first["bad"] == again["bad"] == "raised"
    assert again["max"] == first["max"] < 1e-4


_WORKLOAD = textwrap.dedent(
    """
    import json, sys
    import jax.numpy as jnp
    import diffkern
    from diffkern.cli.profile import prepare
    from diffkern.jit import count_compiles, enable_persistent_cache

    enable_persistent_cache(sys.argv[1])
    run = prepare("gp-kepler")  # eager value and gradient of a Keplerian + GP likelihood
    with count_compiles(watch_entry_points=False) as c:
        run()
    try:
        diffkern.eccentric_anomaly(jnp.linspace(0.0, 3.0, 64), 1.5)
        bad = "no error"
    except diffkern.CheckError as err:
        bad = str(err)
    print(json.dumps({"compiles": c.compiles, "hits": c.cache_hits, "bad": bad,
                      "by_function": dict(c.by_function)}))
    """
)


def test_default_mode_second_process_compiles_nothing(tmp_path):
    """Value checks come back as outputs of diffkern's programs (no host callback), so in the
    default mode every program of the workload is cached, and bad input still raises."""
    runs = []
    for _ in range(2):
        env = dict(os.environ, JAX_PLATFORMS="cpu")
        cmd = [sys.executable, "-c", _WORKLOAD, str(tmp_path)]
        out = run(cmd, env=env, timeout=600, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["compiles"] >= 5 and first["hits"] == 0
    assert second["compiles"] == 0, second["by_function"]
    assert second["hits"] == first["compiles"]
    assert first["bad"] == second["bad"]
    assert first["bad"].startswith("Kepler solver needs 0 <= ecc < 1")


def test_corrupted_cache_warns_and_recompiles(tmp_path):
    _run(tmp_path)
    for entry in tmp_path.rglob("*"):
        if entry.is_file():
            entry.write_bytes(b"not a compiled program")
    again = _run(tmp_path, "nan", "-W", "always")
    assert again["compiles"] >= 1 and again["hits"] == 0 and again["max"] < 1e-4
    assert "Error reading persistent compilation cache entry" in again["stderr"]


def test_unwritable_cache_dir_warns_and_continues(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.warns(CacheWarning, match="not writable"):
        assert enable_persistent_cache(blocker / "cache") is None


def test_default_dir_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("DIFFKERN_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("DIFFKERN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert default_cache_dir() == tmp_path / "diffkern" / "jax"
    with pytest.raises(ValueError, match="min_compile_time_secs"):
        enable_persistent_cache(tmp_path, min_compile_time_secs=-1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"path": ""}, ValueError, "path must be a non-empty directory name"),
        ({"path": "  "}, ValueError, "path must be a non-empty directory name"),
        ({"path": 3}, TypeError, "path"),  # the message of diffkern, or of the type checker
        ({"min_compile_time_secs": float("nan")}, ValueError, "finite and >= 0, got nan"),
        ({"min_compile_time_secs": float("inf")}, ValueError, "finite and >= 0, got inf"),
        ({"min_compile_time_secs": -0.5}, ValueError, "finite and >= 0, got -0.5"),
        ({"min_compile_time_secs": "1"}, TypeError, "min_compile_time_secs"),
        ({"min_entry_size_bytes": -2}, ValueError, "min_entry_size_bytes must be >= -1"),
        ({"min_entry_size_bytes": 1.5}, TypeError, "min_entry_size_bytes"),
    ],
)
def test_bad_options_raise_before_touching_the_config(kwargs, error, match, tmp_path):
    before = jax.config.jax_compilation_cache_dir
    kwargs = {"path": tmp_path, **kwargs}
    with pytest.raises(error, match=match):
        enable_persistent_cache(**kwargs)
    assert jax.config.jax_compilation_cache_dir == before
    assert list(tmp_path.iterdir()) == []
