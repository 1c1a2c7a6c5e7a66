"""Recurrences: linear (sequential or parallel prefix), checkpointed nonlinear scans, and
bounds-checked indexing for use inside them."""

from diffkern.scan._checkpointed import checkpointed_scan as checkpointed_scan
from diffkern.scan._linear import linear_recurrence as linear_recurrence
from diffkern.scan._take import take as take
from diffkern.scan._window import window as window
