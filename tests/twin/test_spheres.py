"""Tests of twin.generators.random_spheres: reproducibility, geometry and truth, refusals."""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest

from twin import materials
from twin.generators import random_spheres

# Tolerance on the voxel count of one sphere against its exact volume.
#
# The count is the number of voxel centres (a unit lattice, offset by 1/2) inside a ball of radius R
# voxels: a lattice-point problem (Gauss circle problem in 2D). Its worst case over every centre
# position and radius was computed exhaustively, at the jumps of the count (each distinct lattice
# distance d, counting points with distance <= d and < d against pi d^2 or 4/3 pi d^3), for centre
# offsets on a 0.01 (2D) / 0.05 (3D) grid, the worst being the voxel corner (1/2, 1/2[, 1/2]):
#     3D, 8 <= R <= 10 voxels:  4.1 %    2D, 8 <= R <= 12:  5.2 %    2D, 10 <= R <= 14:  4.4 %
# so 5 % holds for every placement of spheres of 8-10 voxels and discs of 10-14 voxels (discs of 8
# voxels can exceed it; hence the larger discs below). Over random placements the error is much
# smaller: its standard deviation is 0.4 % (3D, R = 8) and 0.6 % (2D, R = 10) (500-3000 random
# centres), and its mean is zero (averaged over translations the lattice count equals the volume), so
# the summed counts of n spheres agree with the summed volumes to about 0.4 %/sqrt(n): the totals
# are held to 1 %, several standard deviations.
PER_SPHERE_REL_TOL = 0.05
TOTAL_REL_TOL = 0.01


def _ball_union(shape, voxel_um, centers, radii) -> np.ndarray:
    """Voxels whose centre ((index + 1/2) voxel_um along each axis) lies in at least one ball."""
    grid = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * voxel_um for n in shape], indexing="ij"), axis=-1)
    inside = np.zeros(shape, bool)
    for c, r in zip(centers, radii):
        inside |= np.sum((grid - c) ** 2, axis=-1) <= r * r
    return inside


# ---------------------------------------------------------------------- reproducibility
def test_same_seed_same_twin():
    a = random_spheres(shape=(24, 32, 32), voxel_size_um=0.5, n_spheres=5, radius_um=(1.5, 3.0), seed=42)
    b = random_spheres(shape=(24, 32, 32), voxel_size_um=0.5, n_spheres=5, radius_um=(1.5, 3.0), seed=42)
    # Creation time is part of the provenance (and of ==), so compare everything but it.
    assert b.replace(provenance=dataclasses.replace(b.provenance, created_utc=a.provenance.created_utc)) == a
    np.testing.assert_array_equal(a.labels, b.labels)
    for key in a.truth:
        np.testing.assert_array_equal(a.truth[key], b.truth[key])


def test_different_seeds_differ():
    a = random_spheres(shape=(24, 32, 32), n_spheres=5, radius_um=(1.5, 3.0), seed=1)
    b = random_spheres(shape=(24, 32, 32), n_spheres=5, radius_um=(1.5, 3.0), seed=2)
    assert not np.array_equal(a.labels, b.labels)
    assert not np.allclose(a.truth["spheres/center_um"], b.truth["spheres/center_um"])
    assert a.provenance.seed == 1 and b.provenance.seed == 2


def test_provenance_and_phases():
    t = random_spheres(shape=(10, 40, 40), voxel_size_um=0.25, n_spheres=3, radius_um=(0.5, 1.0),
                       particle="graphite", medium="vacuum", seed=5)
    assert t.provenance.generator == "twin.generators.random_spheres"
    assert dict(t.provenance.parameters) == {"shape": [10, 40, 40], "voxel_size_um": 0.25, "n_spheres": 3,
                                             "radius_um": [0.5, 1.0], "particle": "graphite",
                                             "medium": "vacuum"}
    assert t.phases[0] == materials.get("vacuum") and t.phases[1] == materials.get("graphite")
    assert t.labels.dtype == np.uint8 and t.shape == (10, 40, 40) and t.voxel_size_um == 0.25
    nmc = materials.get("NMC622")
    assert random_spheres(shape=(16, 16), n_spheres=1, radius_um=(1.0, 2.0), particle=nmc).phases[1] is nmc


# ---------------------------------------------------------------------- geometry
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("shape", [(30, 40, 40), (60, 70)], ids=["3d", "2d"])
def test_spheres_disjoint_inside_box_and_rasterised(seed, shape):
    voxel = 0.5
    t = random_spheres(shape=shape, voxel_size_um=voxel, n_spheres=12, radius_um=(2.0, 5.0), seed=seed)
    centers, radii = t.truth["spheres/center_um"], t.truth["spheres/radius_um"]
    assert centers.shape == (12, len(shape)) and radii.shape == (12,)
    assert np.all((radii >= 2.0) & (radii <= 5.0))
    box = np.array(shape) * voxel
    assert np.all(centers - radii[:, None] >= 0) and np.all(centers + radii[:, None] <= box)
    for i, j in itertools.combinations(range(len(radii)), 2):
        assert math.dist(centers[i], centers[j]) >= radii[i] + radii[j], (i, j)
    # closed-form volumes (area of a disc in 2D)
    expected = 4 / 3 * np.pi * radii**3 if len(shape) == 3 else np.pi * radii**2
    np.testing.assert_allclose(t.truth["spheres/volume_um3"], expected, rtol=1e-15)
    # labels are exactly the union of the balls at the voxel centres
    np.testing.assert_array_equal(t.labels == 1, _ball_union(shape, voxel, centers, radii))
    assert set(np.unique(t.labels)) <= {0, 1}
    # disjoint balls share no voxel: their counts add up to the particle voxels
    assert t.truth["spheres/voxel_count"].sum() == np.count_nonzero(t.labels)


@pytest.mark.parametrize("seed", range(3))
def test_sphere_voxel_counts_match_volumes(seed):
    voxel = 0.5  # um; radii of 4-5 um are 8-10 voxels
    t = random_spheres(shape=(48, 56, 56), voxel_size_um=voxel, n_spheres=6, radius_um=(4.0, 5.0), seed=seed)
    counted_um3 = t.truth["spheres/voxel_count"] * voxel**3
    exact_um3 = 4 / 3 * np.pi * t.truth["spheres/radius_um"] ** 3
    rel = counted_um3 / exact_um3 - 1
    assert np.all(np.abs(rel) < PER_SPHERE_REL_TOL), rel
    assert abs(counted_um3.sum() / exact_um3.sum() - 1) < TOTAL_REL_TOL
    # particle volume fraction from the twin agrees with the summed exact volumes
    box_um3 = np.prod(t.extent_um)
    assert t.volume_fractions()["NMC811"] == pytest.approx(exact_um3.sum() / box_um3, rel=TOTAL_REL_TOL)


@pytest.mark.parametrize("seed", range(3))
def test_disc_pixel_counts_match_areas(seed):
    t = random_spheres(shape=(120, 130), voxel_size_um=1.0, n_spheres=10, radius_um=(10.0, 14.0), seed=seed)
    counted = t.truth["spheres/voxel_count"].astype(float)
    exact = np.pi * t.truth["spheres/radius_um"] ** 2
    rel = counted / exact - 1
    assert np.all(np.abs(rel) < PER_SPHERE_REL_TOL), rel
    assert abs(counted.sum() / exact.sum() - 1) < TOTAL_REL_TOL


def test_small_sphere_voxel_count_by_hand():
    # One radius, box so tight that the centre is forced to the middle of a 5x5x5 grid of 1 um voxels:
    # centre (2.5, 2.5, 2.5) is the centre of voxel (2, 2, 2). Radius 2.5 um contains the voxel centres at
    # integer offsets (a, b, c) with a^2 + b^2 + c^2 <= 6.25: 1 + 6 (|.|=1) + 12 (sqrt 2) + 8 (sqrt 3)
    # + 6 (2) + 24 (sqrt 5) + 24 (sqrt 6) = 81.
    t = random_spheres(shape=(5, 5, 5), voxel_size_um=1.0, n_spheres=1, radius_um=(2.5, 2.5), seed=3)
    np.testing.assert_allclose(t.truth["spheres/center_um"], [[2.5, 2.5, 2.5]])
    assert t.truth["spheres/voxel_count"].tolist() == [81]
    assert np.count_nonzero(t.labels) == 81


def test_no_spheres():
    t = random_spheres(shape=(8, 8, 8), n_spheres=0, radius_um=(0.5, 1.0))
    assert np.count_nonzero(t.labels) == 0
    assert t.truth["spheres/radius_um"].shape == (0,)
    assert t.truth["spheres/center_um"].shape == (0, 3)


# ---------------------------------------------------------------------- refusals
def test_radius_too_large_for_box():
    with pytest.raises(ValueError, match=r"^radius_um=\(1.0, 6.0\): the largest sphere does not fit in the 10 um"):
        random_spheres(shape=(10, 20, 20), voxel_size_um=1.0, radius_um=(1.0, 6.0))


def test_impossible_packing():
    # 40 spheres of radius >= 4 um need >= 40 * 268 um3 = 10700 um3 > the 16^3 = 4096 um3 box.
    with pytest.raises(ValueError, match="^n_spheres=40: only .* fit without overlap after 500 tries"):
        random_spheres(shape=(16, 16, 16), voxel_size_um=1.0, n_spheres=40, radius_um=(4.0, 5.0), max_tries=500)


@pytest.mark.parametrize("shape, error, pattern", [
    ((0, 8, 8), ValueError, "^shape=0: expected an integer >= 1"),
    ((8,), ValueError, r"^shape=\(8,\): expected a tuple of 2 or 3 grid sizes"),
    (8, ValueError, r"^shape=8: expected a tuple of 2 or 3 grid sizes"),
    ((8, 8, 8, 8), ValueError, "^shape=.*expected a tuple of 2 or 3 grid sizes"),
    ((8.0, 8, 8), TypeError, "^shape=8.0: expected an integer"),
    ((-4, 8), ValueError, "^shape=-4"),
])
def test_bad_shape(shape, error, pattern):
    with pytest.raises(error, match=pattern):
        random_spheres(shape=shape, radius_um=(0.5, 1.0))


def test_min_radius_above_max():
    with pytest.raises(ValueError, match=r"^radius_um=\(3.0, 2.0\): expected \(smallest, largest\)"):
        random_spheres(shape=(16, 16, 16), voxel_size_um=1.0, radius_um=(3.0, 2.0))


@pytest.mark.parametrize("radius", [(0.0, 2.0), (-1.0, 2.0), (1.0, math.nan)])
def test_radius_not_positive(radius):
    with pytest.raises(ValueError, match="^radius_um="):
        random_spheres(shape=(16, 16, 16), voxel_size_um=1.0, radius_um=radius)


def test_bad_voxel_size_count_and_seed():
    with pytest.raises(ValueError, match="^voxel_size_um=0"):
        random_spheres(shape=(8, 8), voxel_size_um=0)
    with pytest.raises(ValueError, match="^n_spheres=-1"):
        random_spheres(shape=(8, 8), n_spheres=-1, radius_um=(0.5, 1.0))
    with pytest.raises(ValueError, match="^seed=-5"):
        random_spheres(shape=(8, 8), radius_um=(0.5, 1.0), seed=-5)


def test_unknown_material():
    with pytest.raises(LookupError, match="unobtainium"):
        random_spheres(shape=(8, 8), radius_um=(0.5, 1.0), particle="unobtainium")


def test_bad_radius_pair():
    with pytest.raises(ValueError, match=r"^radius_um=\(1, 2, 3\): expected \(smallest, largest\)"):
        random_spheres(shape=(16, 16, 16), voxel_size_um=1.0, radius_um=(1, 2, 3))
