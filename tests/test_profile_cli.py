"""``diffkern profile``: a workload runs under a trace and its summary is printed."""

import textwrap

import jax

import diffkern.cli.profile as profile_command
from diffkern.cli import main
from diffkern.profile import summarize

_SCRIPT = textwrap.dedent(
    """
    import jax
    import jax.numpy as jnp

    from diffkern.jit import pad_to_bucket

    @jax.jit
    def masked_mean(y, mask):
        return jnp.sum(jnp.where(mask, y, 0)) / jnp.sum(mask.astype(y.dtype))

    for n in (100, 110, 120, 130):
        y, mask = pad_to_bucket(jnp.ones(n))
        masked_mean(y, mask).block_until_ready()
    """
)


def test_profile_a_script(tmp_path, capsys):
    script = tmp_path / "workload.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "profiles" / "script.pftrace"
    args = ["--out", str(out), "--device-trace", "--checks", "raise"]
    assert main(["profile", str(script), *args]) == 0
    printed = capsys.readouterr().out
    assert f"trace written to {out}" in printed and "masked_mean" in printed
    assert "jax.profiler device trace in" in printed
    assert any((tmp_path / "profiles" / "script_jax").rglob("*.json.gz"))
    summary = summarize(out)
    assert summary.compiles["masked_mean"] == 2  # buckets 122 (n = 100, 110, 120) and 183
    assert list(summary.causes) == [
        "masked_mean: recompiled because y shape (122,) -> (183,); mask shape (122,) -> (183,)"
    ]


def test_default_out_is_the_workload_name_in_the_current_folder(tmp_path, capsys, monkeypatch):
    script = tmp_path / "tiny.py"
    script.write_text("import jax.numpy as jnp\n\njnp.ones(3).block_until_ready()\n")
    monkeypatch.chdir(tmp_path)
    assert main(["profile", "tiny.py"]) == 0
    assert "trace written to tiny.pftrace" in capsys.readouterr().out
    assert (tmp_path / "tiny.pftrace").stat().st_size > 0
    assert not (tmp_path / "profiles").exists()


def test_profile_kepler_workload(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(profile_command, "KEPLER_LENGTHS", (40, 50))
    out = tmp_path / "kepler.pftrace"
    assert main(["profile", "kepler", "--out", str(out)]) == 0
    assert "eccentric_anomaly" in capsys.readouterr().out
    calls, seconds = summarize(out).kernels["eccentric_anomaly"]
    assert calls == 4 and seconds > 0  # two lengths, two passes


def test_profile_gp_batch_workload(tmp_path, capsys, monkeypatch):
    from diffkern.jit import bucket_length

    jax.clear_caches()  # another test of this worker may have compiled the same block shapes
    monkeypatch.setattr(profile_command, "GP_SERIES", 4)
    monkeypatch.setattr(profile_command, "GP_LENGTHS", (20, 60))
    out = tmp_path / "gp.pftrace"
    assert main(["profile", "gp-batch", "--out", str(out)]) == 0
    assert "log_probability_ragged" in capsys.readouterr().out
    summary = summarize(out)
    assert summary.kernels["log_probability_ragged"][0] == 2
    buckets = {bucket_length(n) for n in range(20, 60)}
    assert 1 <= summary.compiles["log_probability_padded"] <= len(buckets)
