"""Generators of twins. Each takes a ``seed``, validates its parameters and
records its truth next to the voxels (``twin.truth``)."""

from twin.generators.spheres import random_spheres

__all__ = ["random_spheres"]
