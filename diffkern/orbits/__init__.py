"""Orbit models built on the Kepler solver."""

from diffkern.orbits._periastron import time_of_periastron as time_of_periastron
from diffkern.orbits._radial_velocity import radial_velocity as radial_velocity
