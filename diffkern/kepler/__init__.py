"""Kepler's equation ``M = E - e sin E``: batched, branch-free, exact implicit derivatives."""

from diffkern.kepler._anomaly import eccentric_anomaly as eccentric_anomaly
from diffkern.kepler._anomaly import kepler as kepler
from diffkern.kepler._anomaly import true_anomaly as true_anomaly
from diffkern.kepler._solver import KeplerResult as KeplerResult
from diffkern.kepler._solver import KeplerSolver as KeplerSolver
