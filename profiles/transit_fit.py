"""The worked joint transit + RV fit (``diffkern demo --transit``) at full size.

    python profiles/transit_fit.py [--out DIR]

300 long-cadence flux points (29.4-minute exposures, 7 nodes each), 30 radial velocities, one
eccentric planet: L-BFGS with diffkern.fit.minimize, uncertainties from diffkern.fit.laplace.
Writes ``transit_fit.txt`` (the summary table: fit, sd, truth, pull) and ``transit_fit.png``
next to this script unless ``--out`` is given; the exit status is 0 when every parameter is
within 3 standard deviations of the injected value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from diffkern.cli.demo._transit import run_transit

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent))
    sys.exit(run_transit(out=parser.parse_args().out, n_flux=300, n_rv=30))
