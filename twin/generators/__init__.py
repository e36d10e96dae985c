"""Generators of twins, one module per kind of sample.

Each generator takes keyword-only parameters with simple defaults and a
``seed``, validates its parameters before any heavy work, and records its
truth next to the voxels (``twin.truth``). :data:`KINDS` maps the names
that ``xtwin twin build KIND`` takes to the functions.
"""

from twin.generators.spheres import random_spheres

#: Kind name -> generator function.
KINDS = {"spheres": random_spheres}

__all__ = ["KINDS", "random_spheres"]
