"""minimize_many on 8 forced host devices (the series axis split over a 1-D mesh) equals the
one-device fit, for 11 series (padded to 16 rows) (run in a subprocess: the
device count is fixed when JAX starts)."""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
from _proc import run

ROOT = Path(__file__).resolve().parents[1]  # the scripts import tests/test_fit_many.py
_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import jax, numpy as np, optax
    jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, "tests")
    from test_fit_many import _lines, _start, line_loss, LBFGS
    from diffkern.fit import minimize_many

    data = _lines([5, 9, 14, 7, 2, 12, 3, 11, 16, 6, 13])  # one length bucket
    start = _start(11, np.float64)
    fit = lambda devices: minimize_many(line_loss, start, data, LBFGS, steps=50, gtol=1e-9,
                                        devices=devices)
    split, one = fit(None), fit(jax.local_devices()[:1])
    leaves = lambda r: [r.params["a"], r.params["b"], r.value, r.std["b"], r.cov]
    print(json.dumps({
        "devices": jax.local_device_count(),
        "max_diff": max(float(np.max(np.abs(a - b))) for a, b in zip(leaves(split), leaves(one))),
        "steps_equal": bool(np.all(split.steps == one.steps)),
        "converged": bool(np.all(split.converged)),
    }))
    """
)


@pytest.mark.slow
def test_eight_devices_equal_one(x64):  # x64: the script sets float64, one pass is enough
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu"
    )
    proc = run([sys.executable, "-c", _SCRIPT], env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 8
    assert out["max_diff"] < 1e-12, out
    assert out["steps_equal"] and out["converged"], out
