"""Non-overlapping spheres of one material in a medium: the simplest twin with a known truth."""

from __future__ import annotations

import numpy as np

from twin import materials
from twin.container import Provenance, Twin
from twin.generators.geometry import paint_balls
from twin.materials import Material
from xtwin import arguments


def random_spheres(*, shape: tuple[int, ...] = (48, 64, 64), voxel_size_um: float = 0.512,
                   n_spheres: int = 8, radius_um: tuple[float, float] = (2.5, 7.0),
                   particle: Material | str = "NMC811", medium: Material | str = "air",
                   seed: int = 0, max_tries: int = 20000) -> Twin:
    """Place ``n_spheres`` non-overlapping spheres (discs in 2D) at random in a box.

    Radii are uniform in ``radius_um``; centres are uniform in the box with
    each sphere inside it; a candidate that overlaps an earlier sphere is
    redrawn (random sequential addition).

    Parameters
    ----------
    shape : tuple of int
        Grid ``(nz, ny, nx)`` or ``(ny, nx)``.
    voxel_size_um : float
        Voxel edge, um.
    n_spheres : int
        Number of spheres.
    radius_um : (float, float)
        Smallest and largest radius, um.
    particle, medium : Material or registry name
        Label 1 and label 0.
    seed : int
        Seed of the random generator.
    max_tries : int
        Candidate draws before giving up on a too-dense packing.

    Returns
    -------
    Twin
        Truth: ``spheres/center_um`` (n, ndim; in array axis order),
        ``spheres/radius_um`` and ``spheres/volume_um3`` (exact sphere or
        disc area), plus ``spheres/voxel_count`` of each sphere's voxels.

    Notes
    -----
    Cost: O(n_spheres^2) placement tests and O(sphere volume) to rasterise each sphere.
    """
    if not isinstance(shape, (tuple, list)) or len(shape) not in (2, 3):
        raise ValueError(f"shape={shape!r}: expected a tuple of 2 or 3 grid sizes, (nz, ny, nx) or (ny, nx)")
    shape = tuple(arguments.integer("shape", n, minimum=1) for n in shape)
    if not isinstance(radius_um, (tuple, list)) or len(radius_um) != 2:
        raise ValueError(f"radius_um={radius_um!r}: expected (smallest, largest) in um")
    size = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    n = arguments.integer("n_spheres", n_spheres, minimum=0)
    r_lo, r_hi = (arguments.positive("radius_um", r, unit="um") for r in radius_um)
    if r_lo > r_hi:
        raise ValueError(f"radius_um={radius_um!r}: expected (smallest, largest)")
    box = np.array(shape) * size
    if 2 * r_hi > box.min():
        raise ValueError(f"radius_um={radius_um!r}: the largest sphere does not fit in the "
                         f"{box.min():g} um box edge")
    particle = materials.get(particle) if isinstance(particle, str) else particle
    medium = materials.get(medium) if isinstance(medium, str) else medium
    rng = np.random.default_rng(arguments.integer("seed", seed, minimum=0))

    centers, radii = np.empty((0, len(shape))), np.empty(0)
    tries = 0
    while len(radii) < n:
        tries += 1
        if tries > max_tries:
            raise ValueError(f"n_spheres={n_spheres}: only {len(radii)} spheres of radius_um={radius_um} "
                             f"fit without overlap after {max_tries} tries; use fewer or smaller spheres")
        r = rng.uniform(r_lo, r_hi)
        c = rng.uniform(r, box - r)
        if np.all(np.linalg.norm(centers - c, axis=1) >= radii + r):
            centers, radii = np.vstack([centers, c]), np.append(radii, r)

    labels = np.zeros(shape, dtype=np.uint8)
    counts = paint_balls(labels, size, centers, radii, 1)
    volume = 4 / 3 * np.pi * radii**3 if len(shape) == 3 else np.pi * radii**2
    params = {"shape": list(shape), "voxel_size_um": size, "n_spheres": n, "radius_um": [r_lo, r_hi],
              "particle": particle.name, "medium": medium.name}
    return Twin(labels, size, {0: medium, 1: particle},
                truth={"spheres/center_um": centers, "spheres/radius_um": radii,
                       "spheres/volume_um3": volume, "spheres/voxel_count": counts},
                provenance=Provenance("twin.generators.random_spheres", params, seed))
