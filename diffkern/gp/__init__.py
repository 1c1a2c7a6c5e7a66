"""Gaussian processes: kernels, solver objects (dense, quasiseparable), batches of series."""

from diffkern.gp._cholesky import Dense as Dense
from diffkern.gp._gp import GaussianProcess as GaussianProcess
from diffkern.gp._kernel import Constant as Constant
from diffkern.gp._kernel import Kernel as Kernel
from diffkern.gp._kernel import Product as Product
from diffkern.gp._kernel import Sum as Sum
from diffkern.gp._quasisep import Quasisep as Quasisep
from diffkern.gp._ragged import log_probability_padded as log_probability_padded
from diffkern.gp._ragged import log_probability_ragged as log_probability_ragged
from diffkern.gp._sho import SHO as SHO
from diffkern.gp._solver import Solver as Solver
from diffkern.gp._state_space import StateSpace as StateSpace
from diffkern.gp._stationary import Cosine as Cosine
from diffkern.gp._stationary import Exp as Exp
from diffkern.gp._stationary import ExpSineSquared as ExpSineSquared
from diffkern.gp._stationary import ExpSquared as ExpSquared
from diffkern.gp._stationary import Matern32 as Matern32
from diffkern.gp._stationary import Matern52 as Matern52
from diffkern.gp._stationary import QuasiPeriodic as QuasiPeriodic
