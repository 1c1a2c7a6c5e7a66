"""minimize_many over 2 processes started with jax.distributed on 127.0.0.1: each fits its
share and every process gets all results, equal to the one-process fit; then process 1 dies
while process 0 waits for it, and process 0 stops with the runtime's error within the heartbeat
bound, never hangs (one launch for both: starting the processes is most of the time)."""

import json
import socket
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from _proc import run
from test_fit_many import FOUR, LBFGS, _lines, _start, line_loss

from diffkern.fit import minimize_many

HEARTBEAT_S = 5  # jax.distributed's heartbeat_timeout_seconds in the processes

ROOT = Path(__file__).resolve().parents[1]  # the scripts import tests/test_fit_many.py
_SCRIPT = textwrap.dedent(
    f"""
    import json, os, sys
    import jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    from jax.experimental import multihost_utils
    port, pid = sys.argv[1], int(sys.argv[2])
    jax.distributed.initialize(f"127.0.0.1:{{port}}", 2, pid, initialization_timeout=60,
                               heartbeat_timeout_seconds={HEARTBEAT_S})
    sys.path.insert(0, "tests")
    from test_fit_many import _lines, _start, line_loss, LBFGS
    from diffkern.fit import minimize_many
    result = minimize_many(line_loss, _start(4, np.float64), _lines({FOUR}), LBFGS,
                           steps=50, gtol=1e-9)
    print(json.dumps({{k: np.asarray(v).tolist() for k, v in
                      dict(a=result.params["a"], b=result.params["b"], std=result.std["b"],
                           series=result.series, converged=result.converged).items()}}),
          flush=True)
    if pid == 1:
        os._exit(3)
    multihost_utils.sync_global_devices("process 1 never arrives")
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_processes():
    """Run the script as processes 0 and 1 at once: ``(returncode, stdout, stderr, seconds)``."""
    port = _free_port()

    def one(pid):
        start = time.perf_counter()
        proc = run([sys.executable, "-c", _SCRIPT, str(port), str(pid)], timeout=240, cwd=ROOT)
        return proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - start

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, [0, 1]))


def test_two_processes_equal_one_and_a_dead_one_stops_the_other(x64):
    reference = minimize_many(line_loss, _start(4, np.float64), _lines(FOUR), LBFGS, steps=50,
                              gtol=1e-9)  # fmt: skip
    (rc0, out0, err0, seconds0), (rc1, out1, err1, seconds1) = _two_processes()
    assert rc1 == 3, err1[-3000:]
    for out, err in [(out0, err0), (out1, err1)]:
        got = json.loads(out.strip().splitlines()[-1])
        assert got["series"] == list(range(4)) and all(got["converged"]), err[-3000:]
        np.testing.assert_allclose(got["a"], reference.params["a"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(got["b"], reference.params["b"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(got["std"], reference.std["b"], rtol=1e-12)
    assert rc0 != 0, "process 0 passed the barrier although process 1 died"
    assert "another task died" in err0, err0[-3000:]
    assert seconds0 - seconds1 < HEARTBEAT_S + 30, (seconds0, seconds1)
