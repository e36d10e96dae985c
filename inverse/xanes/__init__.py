"""Inverse XANES imaging (seeds/004, section 4 "Data analysis"): registration, normalisation and E0,
white-line fits, linear combination fitting / PCA / k-means, and oxidation-state, SOC and gradient maps.

Spectra run along the last axis, ``(..., n_E)``; image stacks are ``(n_E, ny, nx)``
(:func:`spectra_from_stack` converts). Energies in eV.
"""

from .align import register, shift_images
from .fit import WhitelineFit, fit_whiteline
from .lcf import KMeansResult, LcfResult, PcaResult, kmeans, lcf, pca
from .maps import (GradientField, RadialAlignment, ValenceCalibration, calibration_from_model, edge_jump_mask,
                   map_row_blocks, radial_alignment, soc_from_valence, valence_gradient, valence_map)
from .normalise import Normalised, absorbance, check_energies, edge_energy, normalise, spectra_from_stack

__all__ = ["register", "shift_images", "WhitelineFit", "fit_whiteline", "KMeansResult", "LcfResult", "PcaResult",
           "kmeans", "lcf", "pca", "GradientField", "RadialAlignment", "ValenceCalibration",
           "calibration_from_model", "edge_jump_mask", "map_row_blocks", "radial_alignment", "soc_from_valence",
           "valence_gradient", "valence_map", "Normalised", "absorbance", "check_energies", "edge_energy",
           "normalise", "spectra_from_stack"]
