"""Transit light curves: sky-projected orbit geometry, limb-darkened flux and exposure-time
integration, built on :mod:`diffkern.orbits` and :mod:`diffkern.kepler`."""
