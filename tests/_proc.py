"""Run a command in a fresh process group, so a timeout ends it and everything it started.

``subprocess.run(..., timeout=...)`` kills only the direct child and then waits for its pipes to
close; a grandchild that inherited them (``diffkern bench`` starts a pytest session) would keep
the test waiting forever. Here the whole group is killed and the test fails with what the
command printed so far.
"""

import os
import signal
import subprocess


def run(
    cmd: list[str], *, timeout: float, check: bool = False, **kwargs
) -> subprocess.CompletedProcess:
    """``subprocess.run(cmd, capture_output=True, text=True, **kwargs)`` bounded by ``timeout``."""
    with subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **kwargs,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise subprocess.TimeoutExpired(cmd, timeout, stdout, stderr) from None
    result = subprocess.CompletedProcess(cmd, process.returncode, stdout, stderr)
    if check:
        result.check_returncode()
    return result
