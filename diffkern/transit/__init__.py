"""Transit light curves: sky-projected orbit geometry, limb-darkened flux and exposure-time
integration, built on :mod:`diffkern.orbits` and :mod:`diffkern.kepler`.

* :class:`TransitOrbit` and :func:`sky_position`: where each planet is relative to the star
  (sky separation and side, in stellar radii), with the light-travel time as an option;
* :func:`limb_darkened_flux`: the flux of a star with polynomial (quadratic, or any order)
  limb darkening behind a disc;
* :func:`light_curve` and :class:`LightCurve`: the light curve of a star's planets, averaged
  over each exposure;
* :func:`scaled_semi_major_axis` (from the stellar density) and :func:`impact_parameter`
  (from the inclination): the other parameterisations.
"""

from diffkern.transit._geometry import SkyPosition as SkyPosition
from diffkern.transit._geometry import sky_position as sky_position
from diffkern.transit._light_curve import LightCurve as LightCurve
from diffkern.transit._light_curve import light_curve as light_curve
from diffkern.transit._orbit import TransitOrbit as TransitOrbit
from diffkern.transit._parameters import impact_parameter as impact_parameter
from diffkern.transit._parameters import scaled_semi_major_axis as scaled_semi_major_axis
from diffkern.transit._quadratic import limb_darkened_flux as limb_darkened_flux
