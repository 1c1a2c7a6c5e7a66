"""Implicit differentiation of a minimiser: :func:`argmin` (defined in :mod:`diffkern.fit`)."""

from diffkern.fit import argmin as argmin
