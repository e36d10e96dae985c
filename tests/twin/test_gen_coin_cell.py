"""Tests of twin.generators.coin_cell: layer stack, volumes against closed forms, Li profile, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin import materials
from twin.generators.coin_cell import CASING, TOP_TO_MIDDLE_RATIO, _casing_rings, coin_cell

COMPONENTS = ("can", "cap", "gasket", "spacer", "spring", "anode", "separator", "cathode", "gas")


@pytest.fixture(scope="module")
def lib():
    return coin_cell(variant="lib")


@pytest.fixture(scope="module")
def ssb():
    return coin_cell(variant="ssb")


def _z_extent(twin, label):
    """(lowest face, highest face) in um of the voxel layers holding ``label``."""
    rows = np.nonzero((twin.labels == label).reshape(twin.shape[0], -1).any(axis=1))[0]
    return rows[0] * twin.voxel_size_um, (rows[-1] + 1) * twin.voxel_size_um


def _radius_um(twin):
    """Distance of every voxel centre from the cell axis, um (the grid's shape)."""
    s = twin.voxel_size_um
    lateral = [(np.arange(n) + 0.5) * s - n * s / 2 for n in twin.shape[1:]]
    r = np.abs(lateral[0]) if twin.ndim == 2 else np.hypot(*np.meshgrid(*lateral, indexing="ij"))
    return np.broadcast_to(r, twin.shape)


# ---------------------------------------------------------------------- stack and truth
def test_layer_stack_follows_the_source(lib, ssb):
    # seeds/001 Results: LIB ~1 mm NMC811 cathode, ~250 um Li, ~20 um PP separator, 0.5 mm spacer;
    # SSB 65 um cathode, 30 um PEO/LiTFSI membrane, 250 um Li, two 500 um spacers; anode 16 mm,
    # cathode 14 mm.
    for twin, cathode, separator, spacers in ((lib, 1000, 20, 500), (ssb, 65, 30, 1000)):
        t = twin.truth
        for name, thickness in (("cathode", cathode), ("separator", separator), ("anode", 250),
                                ("spacer", spacers)):
            lo, hi = t[f"{name}/z_range_um"]
            assert hi - lo == pytest.approx(thickness)
        assert t["anode/outer_diameter_mm"] == 16.0 and t["cathode/outer_diameter_mm"] == 14.0
        assert t["cell/diameter_mm"] == 20.0 and t["cell/height_mm"] == 3.2
    assert "NMC811" in lib.phases[8].name and "NMC622" in ssb.phases[8].name
    assert ssb.phases[7] is materials.get("PEO+LiTFSI")
    assert lib.phases[6] is materials.get("Li metal")


def test_layers_touch_in_stack_order(lib, ssb):
    # Anode, separator and cathode are contiguous; the LIB lies cap down (its cathode "top region"
    # is "furthest from the separator", above it), the SSB can down.
    for twin, cathode_above in ((lib, True), (ssb, False)):
        t = twin.truth
        cat, sep, ano = (t[f"{n}/z_range_um"] for n in ("cathode", "separator", "anode"))
        if cathode_above:
            assert ano[1] == sep[0] and sep[1] == cat[0]
        else:
            assert cat[1] == sep[0] and sep[1] == ano[0]


def test_truth_counts_are_label_counts_and_ranges_are_label_extents(lib, ssb):
    for twin in (lib, ssb, coin_cell(variant="ssb", ndim=3, voxel_size_um=60.0, separator_thickness_um=60.0,
                                     cathode_thickness_um=120.0, field_of_view_mm=12.0)):
        counts = np.bincount(twin.labels.ravel(), minlength=10)
        for name in COMPONENTS:
            label = twin.truth[f"{name}/label"]
            assert twin.truth[f"{name}/voxel_count"] == counts[label], name
        assert counts.sum() == twin.labels.size
    # At the default 10 um every boundary of the LIB is a multiple of the voxel: extents are exact.
    for name in ("cathode", "separator", "anode", "spacer"):
        np.testing.assert_allclose(_z_extent(lib, lib.truth[f"{name}/label"]), lib.truth[f"{name}/z_range_um"])


def test_section_areas_exact_on_aligned_grid(lib):
    # Every radius and height of the default LIB is a multiple of 10 um and the axis lies on a
    # pixel edge, so each part is a union of whole pixels: count x s^2 equals the closed form.
    for name in COMPONENTS:
        assert lib.truth[f"{name}/voxel_count"] * 1e-4 == pytest.approx(lib.truth[f"{name}/section_area_mm2"],
                                                                         rel=1e-9, abs=1e-9), name
    # Closed forms by hand: the cathode's section is 2 r h, the separator's too.
    assert lib.truth["cathode/section_area_mm2"] == pytest.approx(14.0 * 1.0)
    assert lib.truth["separator/section_area_mm2"] == pytest.approx(17.0 * 0.02)


def _ring_bound_mm3(r_in, r_out, height, area_mm2, s):
    """Largest |count s^3 - V| for an annulus sampled at voxel centres, mm3.

    Per slice the pixels counted inside a circle of radius r lie in the disc of radius r + s/sqrt 2
    and cover the disc of radius r - s/sqrt 2: within pi s (sqrt 2 r + s/2) of pi r^2 (cropping by
    a square on pixel edges keeps this). The number of slices is within one of height / s.
    """
    lateral = sum(math.pi * s * (math.sqrt(2) * r + s / 2) for r in (r_in, r_out) if r > 0) * 1e-6
    return s * 1e-3 * (area_mm2 + lateral) + height * 1e-3 * lateral


def test_volumes_3d_within_discretisation_bound():
    # Coarse 3D cell, cropped to 19 mm so the square crop cuts the can wall and gasket.
    s = 60.0
    twin = coin_cell(variant="ssb", ndim=3, voxel_size_um=s, separator_thickness_um=60.0,
                     cathode_thickness_um=120.0, field_of_view_mm=19.0)
    half = twin.shape[1] * s / 2
    t = twin.truth
    for name in ("cathode", "separator", "anode", "spacer"):
        lo, hi = t[f"{name}/z_range_um"]
        r = 500 * t[f"{name}/outer_diameter_mm"]
        assert t[f"{name}/volume_mm3"] == pytest.approx(math.pi * r * r * (hi - lo) * 1e-9)
        bound = _ring_bound_mm3(0.0, r, hi - lo, t[f"{name}/volume_mm3"] / ((hi - lo) * 1e-3), s)
        assert abs(t[f"{name}/voxel_count"] * (s * 1e-3) ** 3 - t[f"{name}/volume_mm3"]) <= bound, name
    # Casing: sum the bound over the rings of each part (their closed forms include the crop).
    for name, rings in _casing_rings(250.0).items():
        bound = 0.0
        for ring in rings:
            area = _disc_square_mm2(ring.r_out, half) - _disc_square_mm2(ring.r_in, half)
            bound += _ring_bound_mm3(ring.r_in, ring.r_out, ring.z_hi - ring.z_lo, area, s)
        assert abs(t[f"{name}/voxel_count"] * (s * 1e-3) ** 3 - t[f"{name}/volume_mm3"]) <= bound, name
    # The crop removes the corners of the can: its volume is below the uncropped closed form.
    full_can = sum(math.pi * (r.r_out**2 - r.r_in**2) * (r.z_hi - r.z_lo) for r in _casing_rings(250.0)["can"])
    assert t["can/volume_mm3"] < full_can * 1e-9


def _disc_square_mm2(r, a):
    """Disc of radius r in the centred square of half-edge a, by numerical quadrature (independent)."""
    x = np.linspace(0, a, 200001)
    y = np.clip(np.sqrt(np.clip(r * r - x * x, 0, None)), 0, a)
    return 4 * np.trapezoid(y, x) * 1e-6


def test_spring_fills_the_gap_and_keeps_its_volume():
    # The wave spring spans from the spacer to the cap's inner face; as a strip of vertical
    # thickness t over the annulus its section is 2 (r_out - r_in) t on both sides, exactly
    # on the aligned 10 um grid.
    twin = coin_cell(variant="ssb")
    t = twin.truth
    assert t["spring/z_range_um"][0] == pytest.approx(t["spacer/z_range_um"][1])
    assert t["spring/z_range_um"][1] == pytest.approx(t["cap/z_range_um"][1] - 250.0)
    width = (CASING["spring_outer_diameter"] - CASING["spring_inner_diameter"]) / 2
    assert t["spring/section_area_mm2"] == pytest.approx(2 * width * CASING["spring_strip"] * 1e-6)
    assert t["spring/voxel_count"] * 1e-4 == pytest.approx(t["spring/section_area_mm2"])
    assert "spring/label" not in coin_cell(variant="ssb", spring=False).truth


# ---------------------------------------------------------------------- materials
def test_cathode_is_the_homogenised_mixture(lib):
    t = lib.truth
    phi, cbd = t["cathode/porosity"], t["cathode/cbd_volume_fraction"]
    host = materials.get("Li_x NMC811", float(t["cathode/x_li_mean"]))
    cbd_m = materials.mix_by_mass("c", [(materials.get("carbon black"), 0.5), (materials.get("PVDF"), 0.5)])
    expected = (1 - phi - cbd) * host.density_g_cm3 + phi * materials.get("LiPF6 EC:DMC").density_g_cm3 \
        + cbd * cbd_m.density_g_cm3
    assert lib.phases[8].density_g_cm3 == pytest.approx(expected)
    assert t["cathode/x_li_mean"] == pytest.approx(np.nanmean(lib.fields["x_li"]), rel=1e-6)


# ---------------------------------------------------------------------- Li profile
def test_x_li_defined_exactly_on_the_cathode(lib):
    x = lib.fields["x_li"]
    inside = lib.labels == lib.truth["cathode/label"]
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x[inside])) and np.all(np.isnan(x[~inside]))
    assert np.all((x[inside] >= 0) & (x[inside] <= 1))


@pytest.mark.parametrize("variant", ["lib", "ssb"])
def test_x_li_higher_in_the_middle_than_at_the_top(variant):
    # "a higher lithium-ion concentration in the middle depth region than the top depth region
    # (furthest from the separator)", EMF 0.72 vs 0.65 (seeds/001, Fig. 3).
    twin = coin_cell(variant=variant, voxel_size_um=5.0)
    depth = twin.truth["cathode/depth_um"] / (twin.truth["cathode/z_range_um"][1]
                                              - twin.truth["cathode/z_range_um"][0])
    profile = twin.truth["cathode/x_li_profile"]
    middle = profile[np.argmin(np.abs(depth - 0.5))]
    top = profile[np.argmax(depth)]
    assert middle > top
    # Next to the axis the lateral factor is 1 to 1e-6 and x follows the parabola through x_mid at
    # depth 1/2 and x_mid 0.65/0.72 at the far face, sampled at the voxel centres' depths (the
    # outermost centre is half a voxel inside the face). Float32 storage: 1e-6.
    x = twin.fields["x_li"]
    axis = x[..., x.shape[-1] // 2 - 1]
    rows = np.nonzero(np.isfinite(axis))[0]
    far_above = twin.truth["cathode/z_range_um"][0] > twin.truth["separator/z_range_um"][0]
    assert far_above == (variant == "lib")
    z = (rows + 0.5) * twin.voxel_size_um
    face = twin.truth["separator/z_range_um"][1] if far_above else twin.truth["separator/z_range_um"][0]
    zeta = np.abs(z - face) / (1000.0 if variant == "lib" else 65.0)
    x_mid = 0.30 if variant == "lib" else 0.60
    expected = x_mid * (1 - (1 - TOP_TO_MIDDLE_RATIO) * ((zeta - 0.5) / 0.5) ** 2)
    np.testing.assert_allclose(axis[rows], expected, rtol=2e-6)
    assert zeta[np.argmin(axis[rows])] > 0.9 or zeta[np.argmin(axis[rows])] < 0.1


def test_x_li_higher_where_the_anode_overlaps_the_cathode():
    # "the middle region [...] overlapped with the cathode was more active and contained higher
    # lithium-ion concentrations" (seeds/001, Fig. 4d-e). A 10 mm anode on the 14 mm cathode
    # leaves a non-overlapping rim; compare the cathode inside the overlap (r < 4 mm, one edge width
    # inside its 5 mm rim) with the rim beyond it (r > 6 mm).
    twin = coin_cell(variant="lib", anode_diameter_mm=10.0)
    x, r = twin.fields["x_li"], _radius_um(twin)
    inside = np.isfinite(x)
    overlap, rim = x[inside & (r < 4000)].mean(), x[inside & (r > 6000)].mean()
    assert overlap > rim
    # Along one row, x is proportional to 1 - c (1 - S(r) / S(0)) with the
    # logistic S(r) = 1 / (1 + exp((r - 5 mm) / 1 mm)) and c = 0.1: half the drop at the rim of
    # the overlap, the full 10 % far beyond it. Float32 storage: 1e-6.
    assert twin.truth["x_li/overlap_diameter_mm"] == 10.0
    row = np.nonzero(np.isfinite(x[:, x.shape[1] // 2]))[0][0]
    cols = np.isfinite(x[row])
    rr = r[row, cols]

    def fall(radius):
        return 1 / (1 + np.exp((radius - 5000.0) / 1000.0))

    def lateral(radius):
        return 1 - 0.1 * (1 - fall(radius) / fall(0.0))

    # The pixel next to the axis has its centre at r = s/2 = 5 um.
    relative = x[row, cols] / x[row, x.shape[1] // 2]
    np.testing.assert_allclose(relative, lateral(rr) / lateral(5.0), rtol=2e-6)


def test_default_lateral_profile_falls_towards_the_cathode_edge(lib):
    # With the anode (16 mm) larger than the cathode (14 mm), the whole cathode is overlapped and
    # x falls only towards its circular edge, as the EMF maps fall towards the edge.
    x, r = lib.fields["x_li"], _radius_um(lib)
    inside = np.isfinite(x)
    assert x[inside & (r < 2000)].mean() > x[inside & (r > 6000)].mean()


# ---------------------------------------------------------------------- determinism
def test_same_seed_same_twin():
    a, b = coin_cell(variant="ssb", seed=3), coin_cell(variant="ssb", seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.fields["x_li"], b.fields["x_li"])
    for key in a.truth:
        np.testing.assert_array_equal(a.truth[key], b.truth[key])
    c = coin_cell(variant="ssb", seed=4)
    assert a.truth["spring/phase_rad"] != c.truth["spring/phase_rad"]


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kwargs, match", [
    (dict(variant="nmc"), "variant"),
    (dict(ndim=1), "ndim"),
    (dict(voxel_size_um=0.0), "voxel_size_um"),
    (dict(voxel_size_um=40.0), "separator_thickness_um"),
    (dict(anode_thickness_um=-250.0), "anode_thickness_um"),
    (dict(cathode_diameter_mm=18.0), "cathode_diameter_mm"),
    (dict(cathode_thickness_um=2500.0), "cathode_thickness_um"),
    (dict(porosity=1.5), "porosity"),
    (dict(porosity=0.7, cbd_volume_fraction=0.3), "porosity"),
    (dict(top_to_middle_ratio=1.2), "top_to_middle_ratio"),
    (dict(peak_depth=0.9), "peak_depth"),
    (dict(x_li_middle=1.1), "x_li_middle"),
    (dict(field_of_view_mm=0.01), "field_of_view_mm"),
    (dict(gasket="rubber"), "gasket"),
    (dict(spring="yes"), "spring"),
    (dict(n_spacers=-1), "n_spacers"),
])
def test_refusals(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        coin_cell(**kwargs)
