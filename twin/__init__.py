"""Virtual samples: materials, the :class:`Twin` container and generators.

>>> from twin import Twin, materials
>>> nmc = materials.get("NMC811")
"""

from twin import materials
from twin.container import Provenance, Twin
from twin.io import TwinFileError, load, save, save_vtk
from twin.materials import Material

__all__ = ["Material", "Provenance", "Twin", "TwinFileError", "load", "materials", "save", "save_vtk"]
