"""Absorption tomography: projectors, simulated scans of twins, the Projections measurement and planning.

- :mod:`forward.tomography.projector`: parallel- and cone-beam X-ray transforms (direct and exact adjoint);
- :mod:`forward.tomography.simulate`: what a detector records from a twin (Beer-Lambert, spectra, noise);
- :mod:`forward.tomography.measurement`: :class:`Projections`, NXtomo / Data Exchange / TIFF input and output;
- :mod:`forward.tomography.plan`: transmission, energy, number of projections, photons, exposure, scan time.
"""

from forward.tomography.measurement import Projections
from forward.tomography.plan import plan_scan
from forward.tomography.projector import ConeProjector, ParallelProjector
from forward.tomography.simulate import simulate

__all__ = ["ConeProjector", "ParallelProjector", "Projections", "plan_scan", "simulate"]
