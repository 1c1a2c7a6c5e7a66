"""Kernel regression: blockwise Nadaraya-Watson and unsupervised kernel regression (UKR)."""

from diffkern.regression._nadaraya_watson import nadaraya_watson as nadaraya_watson
from diffkern.regression._ukr import UKR as UKR
from diffkern.regression._ukr import fit_ukr as fit_ukr
from diffkern.regression._ukr import ukr_loss as ukr_loss
