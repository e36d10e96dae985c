"""Absorption tomography, inverse side: from projections back to attenuation, phases and particles.

- :mod:`inverse.tomography.preprocess`: flat/dark correction and -ln, ring suppression, rotation centre,
  jitter alignment;
- :mod:`inverse.tomography.reconstruct`: filtered back-projection, SIRT, CGLS, total variation;
- :mod:`inverse.tomography.segment`: Otsu thresholds, watershed particles, the tri-phase flood fill of seeds/002;
- :mod:`inverse.tomography.metrics`: Table-1 particle metrics, radii at 8 azimuths, roughness proxy.
"""

from inverse.tomography.metrics import particle_metrics, summarise, void_metrics
from inverse.tomography.preprocess import align_jitter, find_centre, normalise, remove_rings
from inverse.tomography.reconstruct import Reconstruction, cgls, fbp, reconstruct_projections, sirt, tv
from inverse.tomography.segment import multi_otsu, otsu, segment_particles, tri_phase

__all__ = ["Reconstruction", "align_jitter", "cgls", "fbp", "find_centre", "multi_otsu", "normalise", "otsu",
           "particle_metrics", "reconstruct_projections", "remove_rings", "segment_particles", "sirt", "summarise",
           "tri_phase", "tv", "void_metrics"]
