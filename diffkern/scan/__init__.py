"""Recurrences: linear (sequential or parallel prefix), a parallel prefix scan of fixed program
size, checkpointed nonlinear scans, and bounds-checked indexing for use inside them."""

from diffkern.scan._checkpointed import checkpointed_scan as checkpointed_scan
from diffkern.scan._linear import linear_recurrence as linear_recurrence
from diffkern.scan._prefix import prefix_scan as prefix_scan
from diffkern.scan._take import take as take
from diffkern.scan._window import window as window
