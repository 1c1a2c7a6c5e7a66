"""Kepler's equation ``M = E - e sin E``: batched, branch-free, exact implicit derivatives.

The package is itself callable: ``diffkern.kepler(M, e)`` is :func:`kepler`, returning
``(sin f, cos f)``, so the top-level name serves both as the function and as this package.
"""

import sys
import types

from diffkern.kepler._anomaly import eccentric_anomaly as eccentric_anomaly
from diffkern.kepler._anomaly import kepler as kepler
from diffkern.kepler._anomaly import true_anomaly as true_anomaly
from diffkern.kepler._solver import KeplerResult as KeplerResult
from diffkern.kepler._solver import KeplerSolver as KeplerSolver


class _CallablePackage(types.ModuleType):
    def __call__(self, mean_anomaly, ecc):
        return kepler(mean_anomaly, ecc)


sys.modules[__name__].__class__ = _CallablePackage
