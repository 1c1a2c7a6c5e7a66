"""diffkern: GPU-ready, differentiable numerical kernels for astronomy, on JAX and Equinox.

Subpackages: :mod:`diffkern.kepler`, :mod:`diffkern.orbits`, :mod:`diffkern.transit`,
:mod:`diffkern.scan`, :mod:`diffkern.gp`, :mod:`diffkern.regression`, :mod:`diffkern.jit`,
:mod:`diffkern.fit`, :mod:`diffkern.implicit`, :mod:`diffkern.precision`,
:mod:`diffkern.testing` and, with the ``profile`` extra, :mod:`diffkern.profile`. The most
used names are re-exported here.
"""

from diffkern import fit as fit
from diffkern import gp as gp
from diffkern import implicit as implicit
from diffkern import jit as jit
from diffkern import kepler as kepler
from diffkern import orbits as orbits
from diffkern import precision as precision
from diffkern import regression as regression
from diffkern import scan as scan
from diffkern import testing as testing
from diffkern import transit as transit
from diffkern._checks import CheckError as CheckError
from diffkern._lapack import lapack_threads as lapack_threads
from diffkern._version import __version__ as __version__
from diffkern.gp import GaussianProcess as GaussianProcess
from diffkern.jit import assert_no_recompile as assert_no_recompile
from diffkern.jit import count_compiles as count_compiles
from diffkern.jit import enable_persistent_cache as enable_persistent_cache
from diffkern.kepler import KeplerResult as KeplerResult
from diffkern.kepler import KeplerSolver as KeplerSolver
from diffkern.kepler import eccentric_anomaly as eccentric_anomaly
from diffkern.kepler import true_anomaly as true_anomaly
from diffkern.orbits import Keplerian as Keplerian
from diffkern.orbits import radial_velocity as radial_velocity
from diffkern.orbits import time_of_periastron as time_of_periastron
from diffkern.precision import float64 as float64
from diffkern.scan import checkpointed_scan as checkpointed_scan
from diffkern.scan import linear_recurrence as linear_recurrence
