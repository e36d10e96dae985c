"""Compton scattering imaging (XCS, seeds/001): cube corrections, Compton profiles, EMF maps, calibration.

* :mod:`inverse.compton.cube` -- dark/offset/gain/charge-sharing corrections, sums over pixels and masks,
  registration of XCT masks and maps onto the XCS grid, n x n binning, attenuation (t1, t2) correction.
* :mod:`inverse.compton.profile` -- energy -> p_z (eq. 2) with its Jacobian, background under the Compton peak,
  normalised and symmetrised profiles, EMF (eq. 3-5) with counting uncertainty, per-pixel maps, binning for a
  requested precision.
* :mod:`inverse.compton.calibration` -- EMF -> lithium content from reference states (weighted least squares),
  inverse prediction with propagated uncertainty.

Every function takes plain arrays or a :class:`forward.compton.measurement.Measurement`, never a twin.
"""

from inverse.compton.calibration import Calibration, fit_calibration
from inverse.compton.cube import (CorrectedCube, attenuation_factors, bin_pixels, correct_attenuation, correct_cube,
                                  register_map, register_mask, sheet_transmission, sum_spectra)
from inverse.compton.profile import (BACKGROUND_WINDOWS_AU, EMF_HIGH_AU, EMF_LOW_AU, ComptonProfile, EmfResult,
                                 EmfWeights, binning_for_precision, channel_pz_au, compton_profile,
                                 counts_for_precision, emf, emf_map, emf_of_profile, emf_variance_per_count,
                                 emf_weights, spectrum_to_profile)

__all__ = ["BACKGROUND_WINDOWS_AU", "Calibration", "ComptonProfile", "CorrectedCube", "EMF_HIGH_AU", "EMF_LOW_AU",
           "EmfResult", "EmfWeights", "attenuation_factors", "bin_pixels", "binning_for_precision", "channel_pz_au",
           "compton_profile", "correct_attenuation", "correct_cube", "counts_for_precision", "emf", "emf_map",
           "emf_of_profile", "emf_variance_per_count", "emf_weights", "fit_calibration", "register_map",
           "register_mask", "sheet_transmission", "spectrum_to_profile", "sum_spectra"]
