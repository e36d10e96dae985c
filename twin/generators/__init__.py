"""Generators of twins, one module per kind of sample.

Each generator takes keyword-only parameters with simple defaults and a
``seed``, validates its parameters before any heavy work, and records its
truth next to the voxels (``twin.truth``). :data:`KINDS` maps the names
that ``xtwin twin build KIND`` takes to the functions.

| kind | sample | source |
| --- | --- | --- |
| ``spheres`` | non-overlapping spheres in a medium | (test object) |
| ``powder`` | powder monolayer of NMC secondary particles with internal voids on Kapton | seeds/002 |
| ``electrode`` | porous composite electrode on a current collector, optional SOC field | (generic) |
| ``coin_cell`` | CR2032 coin cell, LIB or solid-state | seeds/001 |
| ``capillary`` | hard-carbon electrode in a capillary cell, with a sodiation path | seeds/000 |
| ``polycrystal`` | polycrystalline Na-beta''-alumina, optionally a biasing lamella | seeds/003 |
| ``nmc_particle`` | NMC secondary particle of rod or gravel primary grains | seeds/004 |
"""

from twin.generators.capillary import SodiationPath, capillary_cell, sodiation_state
from twin.generators.coin_cell import coin_cell
from twin.generators.electrode import porous_electrode
from twin.generators.nmc_particle import nmc_secondary_particle
from twin.generators.polycrystal import polycrystal
from twin.generators.powder import powder_monolayer
from twin.generators.spheres import random_spheres

#: Kind name -> generator function.
KINDS = {
    "spheres": random_spheres,
    "powder": powder_monolayer,
    "electrode": porous_electrode,
    "coin_cell": coin_cell,
    "capillary": capillary_cell,
    "polycrystal": polycrystal,
    "nmc_particle": nmc_secondary_particle,
}

__all__ = ["KINDS", "SodiationPath", "capillary_cell", "coin_cell", "nmc_secondary_particle", "polycrystal",
           "porous_electrode", "powder_monolayer", "random_spheres", "sodiation_state"]
