"""Tests of twin.generators.polycrystal: grain size, inclusions, orientations, boundaries, lamella, refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import stats

from twin import orientations
from twin.container import Twin
from twin.generators.polycrystal import (
    BACKBONE,
    ELECTROLYTE,
    NEGATIVE_ELECTRODE,
    POSITIVE_ELECTRODE,
    VOID,
    ZRO2,
    grain_boundary_faces,
    polycrystal,
)


def _equivalent_diameters(grain_ids: np.ndarray, voxel: float) -> np.ndarray:
    """Equivalent circle/sphere diameter of every grain, from its voxel count (independent of the generator)."""
    counts = np.bincount(grain_ids[grain_ids >= 0])
    measure = counts[counts > 0] * voxel ** grain_ids.ndim
    return 2 * np.sqrt(measure / np.pi) if grain_ids.ndim == 2 else np.cbrt(6 * measure / np.pi)


# ---------------------------------------------------------------------- reproducibility
def test_same_seed_same_twin_and_different_seeds_differ():
    a = polycrystal(lamella=True, seed=3)
    b = polycrystal(lamella=True, seed=3)
    assert b.replace(provenance=dataclasses.replace(b.provenance, created_utc=a.provenance.created_utc)) == a
    c = polycrystal(lamella=True, seed=4)
    assert not np.array_equal(a.grain_ids, c.grain_ids)
    assert a.provenance.generator == "twin.generators.polycrystal.polycrystal" and a.provenance.seed == 3
    assert a.provenance.parameters["lamella"] is True


# ---------------------------------------------------------------------- grain size
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("ndim, fov, tessellation", [
    (2, (12.0, 12.0), "voronoi"), (2, (12.0, 12.0), "laguerre"),
    (3, (4.0, 4.0, 4.0), "voronoi"), (3, (4.0, 4.0, 4.0), "laguerre")])
def test_mean_grain_size_within_10_percent_of_target(seed, ndim, fov, tessellation):
    # Acceptance of issue 4: mean grain size within 10 %. The generator corrects its seed count until the
    # realised mean of the tessellation is within 1.5 % (or one seed more or less changes nothing), so the
    # remaining deviation is that of the inclusions painted afterwards (a few %); 10 % leaves a margin.
    grain, voxel = 1.0, 0.1
    t = polycrystal(ndim=ndim, field_of_view_um=fov, voxel_size_um=voxel, grain_size_um=grain,
                    tessellation=tessellation, seed=seed)
    d = _equivalent_diameters(t.grain_ids, voxel)
    assert abs(d.mean() / grain - 1) < 0.10
    assert t.truth["grain_size/mean_um"] == pytest.approx(d.mean(), rel=1e-12)
    assert t.truth["grain_size/std_um"] == pytest.approx(d.std(), rel=1e-12)
    assert float(t.truth["grain_size/target_um"]) == grain


def test_mean_grain_size_tracks_other_targets_and_lamella():
    for grain, kwargs in ((0.5, {}), (2.0, {"field_of_view_um": (16.0, 16.0)}),
                          (1.0, {"lamella": True, "field_of_view_um": (8.0, 10.0)})):
        t = polycrystal(grain_size_um=grain, **kwargs)
        assert abs(_equivalent_diameters(t.grain_ids, t.voxel_size_um).mean() / grain - 1) < 0.10, grain


def test_laguerre_dispersion_broadens_the_grain_sizes():
    cv = {}
    for tess in ("voronoi", "laguerre"):
        t = polycrystal(field_of_view_um=(15.0, 15.0), voxel_size_um=0.1, tessellation=tess, size_dispersion=0.6)
        d = _equivalent_diameters(t.grain_ids, 0.1)
        cv[tess] = d.std() / d.mean()
    # Coefficient of variation of the equivalent diameters, measured over seeds 0-4 of this box: 0.26-0.30 for
    # Voronoi cells, 0.62-0.73 for Laguerre cells with sigma = 0.6; 1.4 x is far inside that gap.
    assert cv["laguerre"] > 1.4 * cv["voronoi"]


# ---------------------------------------------------------------------- voids and ZrO2
@pytest.mark.parametrize("ndim, kwargs", [
    (2, {}), (2, {"lamella": True}), (3, {"field_of_view_um": (3.0, 3.0, 3.0), "voxel_size_um": 0.1}),
    (2, {"void_fraction": 0.15, "zro2_fraction": 0.1, "field_of_view_um": (6.0, 6.0)}),
    (2, {"void_fraction": 0.0, "zro2_fraction": 0.0})])
def test_void_and_zro2_fractions_hit_their_targets(ndim, kwargs):
    t = polycrystal(ndim=ndim, **kwargs)
    p = t.provenance.parameters
    region = t.labels <= ZRO2  # everything but the electrodes
    n = np.count_nonzero(region)
    f_void = np.count_nonzero(t.labels == VOID) / n
    f_zro2 = np.count_nonzero(t.labels == ZRO2) / n
    # Acceptance: within 1 % absolute. The generator paints exactly round(fraction x region voxels), so the
    # error is at most half a voxel of the region.
    assert abs(f_void - p["void_fraction"]) <= 0.5 / n + 1e-15
    assert abs(f_zro2 - p["zro2_fraction"]) <= 0.5 / n + 1e-15
    assert float(t.truth["volume_fraction/void"]) == f_void
    assert float(t.truth["volume_fraction/zro2"]) == f_zro2
    assert float(t.truth["volume_fraction/electrolyte"]) == pytest.approx(1 - f_void - f_zro2)


def test_inclusions_sit_on_grain_junctions():
    t = polycrystal(field_of_view_um=(10.0, 10.0), void_fraction=0.03, zro2_fraction=0.03, seed=1)
    ids = t.grain_ids
    for key, radius in (("voids/centre_um", 0.25), ("zro2/centre_um", 0.1)):
        centres = t.truth[key]
        assert len(centres) > 5
        touching = []
        for c in centres:
            lo = np.maximum(((c - radius) / t.voxel_size_um).astype(int) - 2, 0)
            hi = ((c + radius) / t.voxel_size_um).astype(int) + 3
            around = ids[lo[0]:hi[0], lo[1]:hi[1]]
            touching.append(len(np.unique(around[around >= 0])))
        # Balls are centred on triple-junction voxels while any remain, so nearly every ball borders three
        # grains (two in the rare case of a junction whose third grain the ball covers entirely).
        assert np.mean(np.array(touching) >= 3) > 0.8, key


# ---------------------------------------------------------------------- truth is exact
@pytest.mark.parametrize("kwargs", [{}, {"lamella": True}, {"ndim": 3, "tessellation": "laguerre"}])
def test_grain_table_matches_the_arrays(kwargs):
    t = polycrystal(**kwargs)
    ids, voxel = t.grain_ids, t.voxel_size_um
    assert ids.dtype == np.int32 and t.labels.dtype == np.uint8
    counts = np.bincount(ids[ids >= 0], minlength=t.n_grains)
    np.testing.assert_array_equal(t.truth["grains/voxel_count"], counts)
    assert counts.min() > 0
    key = "grains/area_um2" if t.ndim == 2 else "grains/volume_um3"
    np.testing.assert_allclose(t.truth[key], counts * voxel ** t.ndim)
    # Grains are exactly the electrolyte voxels; voids, ZrO2 and electrodes carry -1.
    np.testing.assert_array_equal(ids >= 0, t.labels == ELECTROLYTE)
    c = t.truth["grains/c_axis"]
    np.testing.assert_allclose(c, orientations.c_axes(t.orientations))
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 1.0)
    assert t.truth["grains/centroid_um"].shape == (t.n_grains, t.ndim)


def test_centroids_of_grains_inside_the_box():
    t = polycrystal(field_of_view_um=(8.0, 8.0), void_fraction=0.0, zro2_fraction=0.0)
    ids = t.grain_ids
    edge = np.unique(np.concatenate([ids[0], ids[-1], ids[:, 0], ids[:, -1]]))
    interior = np.setdiff1d(np.arange(t.n_grains), edge)
    assert len(interior) > 10
    y, x = (np.indices(ids.shape) + 0.5) * t.voxel_size_um
    for g in interior:
        m = ids == g
        np.testing.assert_allclose(t.truth["grains/centroid_um"][g], [y[m].mean(), x[m].mean()], atol=1e-9)


# ---------------------------------------------------------------------- grain boundaries
def test_boundary_network_matches_a_brute_force_count():
    t = polycrystal(field_of_view_um=(3.0, 3.0), voxel_size_um=0.1, seed=2)
    ids = t.grain_ids
    expected: dict[tuple[int, int], int] = {}
    for i in range(ids.shape[0]):
        for j in range(ids.shape[1]):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < ids.shape[0] and j + dj < ids.shape[1]:
                    a, b = ids[i, j], ids[i + di, j + dj]
                    if a >= 0 and b >= 0 and a != b:
                        key = (min(a, b), max(a, b))
                        expected[key] = expected.get(key, 0) + 1
    pairs, faces = t.truth["boundaries/grains"], t.truth["boundaries/face_count"]
    assert {tuple(p): f for p, f in zip(pairs.tolist(), faces.tolist())} == expected
    np.testing.assert_allclose(t.truth["boundaries/length_um"], faces * 0.1)


def test_boundary_angles():
    t = polycrystal(ndim=3, seed=5)
    pairs, q = t.truth["boundaries/grains"], t.orientations
    assert len(pairs) > 50 and np.all(pairs[:, 0] < pairs[:, 1])
    np.testing.assert_allclose(t.truth["boundaries/area_um2"], t.truth["boundaries/face_count"] * 0.05 ** 2)
    mis = t.truth["boundaries/misorientation_deg"]
    np.testing.assert_allclose(mis, orientations.misorientation_deg(q[pairs[:, 0]], q[pairs[:, 1]], "trigonal"))
    # 32 symmetry (R-3m): no misorientation above 104.48 deg (Grimmer, Acta Cryst. A 45 (1989) 505).
    assert mis.min() >= 0 and mis.max() <= 104.49
    c = t.truth["grains/c_axis"]
    plane = np.degrees(np.arccos(np.clip(np.abs(np.sum(c[pairs[:, 0]] * c[pairs[:, 1]], axis=1)), 0, 1)))
    np.testing.assert_allclose(t.truth["boundaries/plane_angle_deg"], plane, atol=1e-9)


def test_grain_boundary_faces_on_a_hand_made_map():
    ids = np.array([[0, 0, 1],
                    [0, 2, 1],
                    [-1, 2, 2]])
    pairs, faces = grain_boundary_faces(ids)
    # 0|1 at (0,1)-(0,2); 0|2 at (1,0)-(1,1) and (0,1)-(1,1); 1|2 at (1,1)-(1,2) and (1,2)-(2,2); -1 ignored.
    np.testing.assert_array_equal(pairs, [[0, 1], [0, 2], [1, 2]])
    np.testing.assert_array_equal(faces, [1, 2, 2])


# ---------------------------------------------------------------------- orientations
def test_random_orientations_have_uniform_c_axes():
    t = polycrystal(field_of_view_um=(30.0, 30.0), voxel_size_um=0.1, seed=7)
    c = t.truth["grains/c_axis"]
    assert len(c) > 500
    # c-axes uniform on the sphere: each Cartesian component is uniform on [-1, 1] (Archimedes) and the
    # azimuth about z is uniform on [0, 2 pi).
    for k in range(3):
        assert stats.kstest(c[:, k], stats.uniform(-1, 2).cdf).pvalue > 0.01
    assert stats.kstest(np.mod(np.arctan2(c[:, 1], c[:, 0]), 2 * np.pi), stats.uniform(0, 2 * np.pi).cdf).pvalue > 0.01


@pytest.mark.parametrize("kappa", [2.0, 10.0])
def test_fibre_texture_concentrates_as_specified(kappa):
    axis = np.array([1.0, 0.0, 0.0])
    t = polycrystal(field_of_view_um=(30.0, 30.0), voxel_size_um=0.1, texture="fibre", texture_kappa=kappa,
                    fibre_axis=tuple(axis), seed=8)
    w = t.truth["grains/c_axis"] @ axis
    # von Mises-Fisher on the sphere: E[w] = coth(k) - 1/k, Var[w] = 1/k^2 - 1/sinh(k)^2; 4 standard errors.
    mean = 1 / np.tanh(kappa) - 1 / kappa
    sd = np.sqrt(1 / kappa ** 2 - 1 / np.sinh(kappa) ** 2)
    assert abs(w.mean() - mean) < 4 * sd / np.sqrt(len(w))
    # And the whole law: the CDF of w is (exp(k w) - exp(-k)) / (2 sinh k).
    cdf = lambda v: (np.exp(kappa * v) - np.exp(-kappa)) / (2 * np.sinh(kappa))
    assert stats.kstest(w, cdf).pvalue > 0.01


# ---------------------------------------------------------------------- lamella
@pytest.mark.parametrize("ndim", [2, 3])
def test_lamella_electrodes_sit_on_perpendicular_edges_without_facing(ndim):
    fov = (4.0, 5.0) if ndim == 2 else (2.0, 4.0, 5.0)
    t = polycrystal(ndim=ndim, field_of_view_um=fov, lamella=True, electrode_thickness_um=0.25,
                    electrode_gap_um=0.5)
    voxel = t.voxel_size_um
    assert t.phase_names() == {VOID: "vacuum", ELECTROLYTE: "Na-beta''-alumina", ZRO2: "ZrO2",
                               NEGATIVE_ELECTRODE: "Au", POSITIVE_ELECTRODE: "Cu"}
    centres = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) * voxel for n in t.shape], indexing="ij"), axis=-1)
    for name, label in (("negative", NEGATIVE_ELECTRODE), ("positive", POSITIVE_ELECTRODE)):
        assert int(t.truth[f"electrodes/{name}_label"]) == label
        low, high = t.truth[f"electrodes/{name}_box_um"]
        in_box = np.all((centres >= low) & (centres < high), axis=-1)
        np.testing.assert_array_equal(t.labels == label, in_box)
    y, x = centres[..., -2], centres[..., -1]
    neg, pos = t.labels == NEGATIVE_ELECTRODE, t.labels == POSITIVE_ELECTRODE
    # Negative: a 0.25 um strip along the top edge (largest y), from x = 0.5 um on; positive: along the left edge.
    assert y[neg].min() > fov[-2] - 0.25 and x[neg].min() > 0.5 and np.isclose(x[neg].max(), fov[-1] - voxel / 2)
    assert x[pos].max() < 0.25 and np.isclose(y[pos].min(), voxel / 2)
    # They do not face each other: no column holds both (no straight path along y), nor any row (along x),
    # and they are at least the gap apart.
    assert not np.any(neg.any(axis=-2) & pos.any(axis=-2))
    assert not np.any(neg.any(axis=-1) & pos.any(axis=-1))
    a, b = np.argwhere(neg)[:, -2:] * voxel, np.argwhere(pos)[:, -2:] * voxel
    gap = np.min(np.linalg.norm(a[::7, None] - b[None, ::7], axis=-1))
    assert gap >= 0.5 - voxel
    # Every grain voxel is electrolyte; electrodes carry no grain.
    assert np.all(t.grain_ids[neg | pos] == -1)


@pytest.mark.parametrize("ndim", [2, 3])
def test_lamella_frame_lines_bottom_and_right_edges_and_leaves_the_electrodes(ndim):
    fov = (5.0, 6.0) if ndim == 2 else (1.0, 5.0, 6.0)
    options = {"ndim": ndim, "field_of_view_um": fov, "lamella": True, "seed": 2}
    if ndim == 3:
        options.update(voxel_size_um=0.1, grain_size_um=0.5)
    plain = polycrystal(**options)
    framed = polycrystal(**options, frame_width_um=1.0)
    voxel = framed.voxel_size_um
    y = (np.arange(framed.shape[-2]) + 0.5) * voxel
    x = (np.arange(framed.shape[-1]) + 0.5) * voxel
    in_frame = (y[:, None] < 1.0) | (x[None, :] > fov[-1] - 1.0)
    electrodes = np.isin(framed.labels, (NEGATIVE_ELECTRODE, POSITIVE_ELECTRODE))
    # Electrodes are where they are without a frame; every other frame voxel is backbone, and nothing else is.
    np.testing.assert_array_equal(electrodes, np.isin(plain.labels, (NEGATIVE_ELECTRODE, POSITIVE_ELECTRODE)))
    np.testing.assert_array_equal(framed.labels == BACKBONE, np.broadcast_to(in_frame, framed.shape) & ~electrodes)
    assert np.all(framed.grain_ids[framed.labels == BACKBONE] == -1)
    assert framed.phases[BACKBONE].density_g_cm3 == framed.phases[ELECTROLYTE].density_g_cm3
    assert float(framed.truth["frame/width_um"]) == 1.0 and int(framed.truth["frame/label"]) == BACKBONE


def test_lamella_twin_saves_and_loads(tmp_path):
    t = polycrystal(lamella=True)
    loaded = Twin.load(t.save(tmp_path / "lamella.h5"))
    assert loaded == t
    assert loaded.phases[NEGATIVE_ELECTRODE].name == "Au"


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kwargs, error, match", [
    ({"grain_size_um": 0.09, "voxel_size_um": 0.05}, ValueError, "grain_size_um=0.09.*two voxels"),
    ({"grain_size_um": -1.0}, ValueError, "grain_size_um=-1.0"),
    ({"field_of_view_um": (1.5, 5.0)}, ValueError, "field_of_view_um=.*two grains"),
    ({"field_of_view_um": (4.0, 5.0, 6.0)}, ValueError, "field_of_view_um=.*expected 2 box edges"),
    ({"void_fraction": 1.5}, ValueError, r"void_fraction=1.5.*\[0.0, 1.0\]"),
    ({"zro2_fraction": -0.1}, ValueError, "zro2_fraction=-0.1"),
    ({"void_fraction": 0.3, "zro2_fraction": 0.3}, ValueError, "void_fraction=0.3, zro2_fraction=0.3"),
    ({"ndim": 4}, ValueError, "ndim=4"),
    ({"tessellation": "delaunay"}, ValueError, "tessellation='delaunay'"),
    ({"texture": "sheet"}, ValueError, "texture='sheet'"),
    ({"texture_kappa": -1.0}, ValueError, "texture_kappa=-1.0"),
    ({"fibre_axis": (0.0, 0.0, 0.0)}, ValueError, "fibre_axis="),
    ({"void_diameter_um": 0.01}, ValueError, "void_diameter_um=0.01.*one voxel"),
    ({"lamella": True, "electrode_thickness_um": 1.0, "electrode_gap_um": 1.5}, ValueError,
     "electrode_thickness_um=1.0, electrode_gap_um=1.5"),
    ({"lamella": True, "electrode_thickness_um": 0.01}, ValueError, "electrode_thickness_um=0.01.*one voxel"),
    ({"lamella": True, "negative_electrode": "unobtainium"}, ValueError, "negative_electrode='unobtainium'"),
    ({"lamella": "yes"}, TypeError, "lamella='yes'"),
    ({"frame_width_um": 1.0}, ValueError, "frame_width_um=1.0: a frame belongs to a lamella"),
    ({"lamella": True, "frame_width_um": 1.5}, ValueError, "frame_width_um=1.5: expected frame"),
    ({"lamella": True, "frame_width_um": -1.0}, ValueError, "frame_width_um=-1.0"),
    ({"seed": -1}, ValueError, "seed=-1"),
])
def test_refusals(kwargs, error, match):
    with pytest.raises(error, match=match):
        polycrystal(**kwargs)
