"""Record the reference traces of the built-in workloads and their text summaries.

    python profiles/record.py [WORKLOAD ...]     (default: demo gp-batch kepler)

A workload is a built-in name or a script (``profiles/fit_planets_gp.py``, ``rv_ragged.py``,
``gp_ragged.py``: the workflows users write). Writes ``profiles/NAME.pftrace`` (open in
https://ui.perfetto.dev; not kept in git) and ``profiles/NAME.txt`` (the summary, kept), NAME
being the workload's name or the script's stem. Each workload runs in its own process from the
repository root, as ``diffkern profile`` would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def record(workload: str) -> None:
    name = Path(workload).stem
    out = HERE / f"{name}.pftrace"
    # Relative to the repository root (where it runs), so the summary names no local folder.
    out = out.relative_to(HERE.parent)
    cmd = [sys.executable, "-m", "diffkern.cli", "profile", workload, "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=HERE.parent)
    (HERE / f"{name}.txt").write_text(done.stdout + done.stderr)
    print(done.stdout)


if __name__ == "__main__":
    for name in sys.argv[1:] or ["demo", "gp-batch", "kepler"]:
        record(name)
