"""Record the reference traces of the built-in workloads and their text summaries.

    python profiles/record.py [WORKLOAD ...]     (default: demo gp-batch kepler)

Writes ``profiles/WORKLOAD.pftrace`` (open in https://ui.perfetto.dev; not kept in git) and
``profiles/WORKLOAD.txt`` (the summary, kept). Each workload runs in its own process from the
repository root, as ``diffkern profile`` would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def record(workload: str) -> None:
    out = HERE / f"{workload}.pftrace"
    cmd = [sys.executable, "-m", "diffkern.cli", "profile", workload, "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=HERE.parent)
    (HERE / f"{workload}.txt").write_text(done.stdout)
    print(done.stdout)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["demo", "gp-batch", "kepler"]:
        record(name)
