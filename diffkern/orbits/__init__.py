"""Orbit models built on the Kepler solver."""

from diffkern.orbits._epoch import TimePrecisionWarning as TimePrecisionWarning
from diffkern.orbits._instrument_data import RVObservations as RVObservations
from diffkern.orbits._instruments import InstrumentFit as InstrumentFit
from diffkern.orbits._instruments import MultiInstrumentRV as MultiInstrumentRV
from diffkern.orbits._keplerian import Keplerian as Keplerian
from diffkern.orbits._light_time import SPEED_OF_LIGHT as SPEED_OF_LIGHT
from diffkern.orbits._light_time import retarded_time as retarded_time
from diffkern.orbits._periastron import time_of_periastron as time_of_periastron
from diffkern.orbits._radial_velocity import max_cycles as max_cycles
from diffkern.orbits._radial_velocity import radial_velocity as radial_velocity
from diffkern.orbits._ragged import chi_square_ragged as chi_square_ragged
from diffkern.orbits._ragged import eccentric_anomaly_ragged as eccentric_anomaly_ragged
from diffkern.orbits._ragged import radial_velocity_ragged as radial_velocity_ragged
