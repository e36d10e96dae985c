"""Tests of twin.generators.capillary: geometry against closed forms, the sodiation path, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin import materials
from twin.container import Twin
from twin.generators.capillary import (
    D002_TABLE_A,
    OP_TIMES_MIN,
    SodiationPath,
    capillary_cell,
    sodiation_state,
)

FIELDS = ("micropore_fraction", "micropore_radius_A", "sodiation", "pore_filling", "d002_A",
          "plated_na_fraction", "sei_thickness_nm")
SOCS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.66, 0.7, 0.8, 0.9, 1.0)


@pytest.fixture(scope="module")
def path_2d():
    """The default 2D section at the SOCS, one build each (about 5 ms per build)."""
    return [capillary_cell(ndim=2, soc=soc) for soc in SOCS]


def _electrode(twin):
    return twin.labels == twin.truth["electrode/label"]


def _height(twin):
    """Normalised height xi above the collector of every electrode voxel (the path's coordinate)."""
    z = (np.arange(twin.shape[0]) + 0.5) * twin.voxel_size_um
    xi = (z - twin.truth["pin/top_z_um"]) / twin.truth["electrode/cap_height_um"]
    return np.broadcast_to(xi.reshape((-1,) + (1,) * (twin.ndim - 1)), twin.shape)[_electrode(twin)]


# ---------------------------------------------------------------------- geometry
# The electrode's flat base at z = pin_length_um generally falls between voxel centres: the voxels
# whose centre lies above it begin at the face k0 s (k0 = ceil(base / s - 1/2)), which moves the
# base by (base - k0 s) and adds a slab of the base area (pi a^2 in 3D, 2a in the section). That
# shift is part of the expected value. What is left is the rounding of the curved top surface:
# 3D: one rounding of at most s/2 per column of pi a^2 / s^2 ~ 7850 columns, spread uniformly as
#     the surface crosses voxel centres at unrelated heights, so its standard deviation is
#     s^3 sqrt(7850 / 12) = 2.6e4 um^3 = 0.02 % of the 1.32e8 um^3 cap; 0.2 % is 10 sigma (the
#     worst over 24 offsets and heights at 10 um was 0.09 %).
# 2D: each row holds 2 ceil(w / s - 1/2) pixels for a half-width w (the axis lies on a pixel
#     edge), within one pixel of 2 w / s; so the count is within one pixel per row: a bound.
@pytest.mark.parametrize("offset", [0.0, 0.37, 0.5, 0.93])
def test_cap_volume_matches_closed_form(offset):
    s, base, h, a = 10.0, 300.0 + offset * 10.0, 300.0, 500.0
    twin = capillary_cell(voxel_size_um=s, pin_length_um=base, cap_height_um=h)
    big_r = (a * a + h * h) / (2 * h)
    closed = math.pi * h * h * (3 * big_r - h) / 3
    assert twin.truth["electrode/volume_um3"] == pytest.approx(closed, rel=1e-12)
    assert twin.truth["electrode/sphere_radius_um"] == pytest.approx(big_r)
    shift = base - math.ceil(base / s - 0.5) * s
    expected = closed + math.pi * a * a * shift
    assert abs(twin.truth["electrode/voxel_count"] * s**3 - expected) <= 2e-3 * expected


@pytest.mark.parametrize("offset", [0.0, 0.37, 0.5, 0.93])
@pytest.mark.parametrize("h", [300.0, 237.0, 150.0])
def test_cap_section_matches_circular_segment(offset, h):
    s, base, a = 10.0, 300.0 + offset * 10.0, 500.0
    twin = capillary_cell(ndim=2, voxel_size_um=s, pin_length_um=base, cap_height_um=h)
    big_r = (a * a + h * h) / (2 * h)
    segment = big_r**2 * math.acos((big_r - h) / big_r) - (big_r - h) * math.sqrt(2 * big_r * h - h * h)
    assert twin.truth["electrode/section_area_um2"] == pytest.approx(segment, rel=1e-12)
    shift = base - math.ceil(base / s - 0.5) * s
    rows = math.ceil(h / s) + 1
    assert abs(twin.truth["electrode/voxel_count"] * s**2 - (segment + 2 * a * shift)) <= rows * s**2


def test_section_of_capillary_and_pin_is_exact():
    # Radii 750, 900 and 500 um and every height are multiples of the 10 um voxel with the axis on
    # a pixel edge: each part is a union of whole pixels and the count is exact.
    twin = capillary_cell(ndim=2)
    height = twin.shape[0] * 10.0
    assert twin.truth["capillary/section_area_um2"] == pytest.approx(2 * 150.0 * height)
    assert twin.truth["pin/section_area_um2"] == pytest.approx(2 * 500.0 * 300.0)
    for part in ("capillary", "pin"):
        assert twin.truth[f"{part}/voxel_count"] * 100.0 == pytest.approx(twin.truth[f"{part}/section_area_um2"])


def test_annulus_and_cylinder_volumes_3d():
    # A disc of radius r sampled at pixel centres: every counted pixel lies in the disc of radius
    # r + s/sqrt(2) and the counted pixels cover the disc of radius r - s/sqrt(2), so the count
    # times s^2 is within pi s (sqrt(2) r + s/2) of pi r^2: a bound, per slice, for each circle.
    twin = capillary_cell(counter_electrode=True)
    s = twin.voxel_size_um
    height = twin.shape[0] * s

    def bound(r, length):
        return math.pi * s * (math.sqrt(2) * r + s / 2) * length

    r_in, r_out, a = 750.0, 900.0, 500.0
    checks = {"capillary": (math.pi * (r_out**2 - r_in**2) * height, bound(r_out, height) + bound(r_in, height)),
              "pin": (math.pi * a * a * 300.0, bound(a, 300.0))}
    for part, (closed, tol) in checks.items():
        assert twin.truth[f"{part}/volume_um3"] == pytest.approx(closed)
        assert abs(twin.truth[f"{part}/voxel_count"] * s**3 - closed) <= tol
    total = sum(twin.truth[f"{p}/volume_um3"] for p in ("electrolyte", "pin", "electrode", "counter_electrode",
                                                       "counter_pin"))
    assert total == pytest.approx(math.pi * r_in**2 * height)


def test_truth_counts_are_label_counts():
    for twin in (capillary_cell(ndim=2, counter_electrode=True), capillary_cell(voxel_size_um=20.0)):
        counts = np.bincount(twin.labels.ravel())
        labelled = [k[:-len("/label")] for k in twin.truth if k.endswith("/label")]
        assert set(labelled) >= {"capillary", "electrolyte", "pin", "electrode"}
        for part in labelled:
            assert twin.truth[f"{part}/voxel_count"] == counts[twin.truth[f"{part}/label"]]
        assert set(np.unique(twin.labels)) <= set(twin.phases)


def test_source_values():
    twin = capillary_cell(ndim=2)
    assert twin.truth["capillary/inner_radius_um"] == 750.0  # seeds/000 Methods: 1.5 mm inner diameter
    assert twin.truth["capillary/outer_radius_um"] == 900.0  # and 150 um wall
    assert twin.phases[1] is materials.get("quartz glass")
    assert twin.phases[2] is materials.get("NaPF6 EC:PC")
    np.testing.assert_allclose(twin.truth["electrode/mass_fractions"], [0.85, 0.10, 0.05])
    # Eq. S1 applied to the default cap gives the 0.17 mg of Table S1 ("low degree of sodiation").
    assert twin.truth["electrode/mass_eq_s1_mg"] == pytest.approx(0.17, abs=0.005)
    # The porous twin holds (1 - porosity) of that solid: hard-carbon mass from the pristine solid.
    solid = materials.mix_by_mass("s", [(materials.get("hard carbon"), 0.85), (materials.get("PVDF"), 0.10),
                                        (materials.get("carbon black"), 0.05)])
    expected = twin.truth["electrode/cap_volume_um3"] * 1e-12 * 0.5 * solid.density_g_cm3 * 0.85 * 1e3
    assert twin.truth["electrode/hard_carbon_mass_mg"] == pytest.approx(expected)


def test_fields_defined_exactly_on_the_electrode(path_2d):
    for twin in (path_2d[0], path_2d[-2]):
        inside = _electrode(twin)
        assert set(twin.fields) == set(FIELDS)
        for name in FIELDS:
            f = twin.fields[name]
            assert f.dtype == np.float32
            assert np.all(np.isfinite(f[inside])) and np.all(np.isnan(f[~inside]))


# ---------------------------------------------------------------------- the sodiation path
def test_fields_monotone_along_the_path(path_2d):
    # Every voxel's sodiation, pore filling, d002, plated Na and SEI never decrease with soc
    # (guaranteed by gradient + 3 heterogeneity <= 0.5); the structure does not change.
    for name in ("sodiation", "pore_filling", "d002_A", "plated_na_fraction", "sei_thickness_nm"):
        stack = np.stack([t.fields[name][_electrode(t)] for t in path_2d])
        assert np.all(np.diff(stack, axis=0) >= -1e-6), name
        assert stack[-1].mean() > stack[0].mean(), name
    for name in ("micropore_fraction", "micropore_radius_A"):
        for twin in path_2d[1:]:
            np.testing.assert_array_equal(twin.fields[name], path_2d[0].fields[name])


def test_mean_sodiation_follows_soc(path_2d):
    # The gradient and noise terms average to zero over the electrode; only the clip to [0, 1]
    # near full sodiation pulls the mean below soc.
    for soc, twin in zip(SOCS, path_2d):
        if soc <= 0.8:
            assert twin.truth["state/mean_sodiation"] == pytest.approx(soc, abs=1e-3)


def test_pore_filling_dominates_in_the_plateau(path_2d):
    # "micropore filling is the more dominating mechanism in the later stages of sodiation, i.e. in
    # the plateau region" (Abstract): the filling rate per soc is higher after soc_plateau = 0.5.
    mean = {soc: t.truth["state/mean_pore_filling"] for soc, t in zip(SOCS, path_2d)}
    slope_rate = (mean[0.4] - mean[0.0]) / 0.4
    plateau_rate = (mean[0.8] - mean[0.6]) / 0.2
    assert plateau_rate > 3 * slope_rate


def test_intercalation_throughout_matches_table_s2():
    # Mean d002 at the times of op 1-5 against Table S2. The mean of D(s) over the spread of local
    # sodiation differs from D(soc) by ~D'' var(s) / 2: near op 4-5 the slope of D changes by
    # ~0.7 A per soc over 0.13, D'' ~ 5 A, var(s) ~ 0.004, i.e. ~0.01 A; the table itself is
    # rounded to 0.01 A. Tolerance 0.02 A.
    means = []
    for t, d in zip(OP_TIMES_MIN, D002_TABLE_A):
        twin = capillary_cell(ndim=2, time_min=t)
        means.append(twin.truth["state/mean_d002_A"])
        assert means[-1] == pytest.approx(d, abs=0.02)
    assert np.all(np.diff(means) > 0)


def test_micropore_contrast_drop_matches_source():
    # "an intensity decrease of ~35%" in the micropore region by op 5 (Section 3). Mean-field
    # contrast: skeleton 1.5/0.8 g/cm3 of carbon = 0.564 e/A^3, pores filled with Na at 0.279 e/A^3,
    # I ~ (0.564 - 0.279 f)^2. Within 5 % absolute of 35 %.
    twin = capillary_cell(ndim=2, time_min=65.0)
    f = twin.truth["state/mean_pore_filling"]
    rho_c = 1.5 / 0.8 * 6 / 12.011 * 0.6022
    rho_na = 0.968 * 11 / 22.990 * 0.6022
    drop = 1 - ((rho_c - rho_na * f) / rho_c) ** 2
    assert drop == pytest.approx(0.35, abs=0.05)


def test_plating_after_the_plateau_and_from_the_collector(path_2d):
    # "plating starts at the interface between the electrode and the current collector" (Abstract)
    # after "about 50 min" at 0.8C, soc 2/3 (Section 3).
    for soc, twin in zip(SOCS, path_2d):
        plated = twin.fields["plated_na_fraction"][_electrode(twin)]
        if soc <= 2 / 3:
            assert np.all(plated == 0), soc
        else:
            assert plated.max() > 0, soc
    first = path_2d[SOCS.index(0.7)]
    xi, plated = _height(first), first.fields["plated_na_fraction"][_electrode(first)]
    # Right after the onset only voxels next to the collector carry Na metal ...
    assert xi[plated > 0].max() < 0.2
    # ... and at every state the plated fraction never increases with height.
    for twin in path_2d:
        xi, plated = _height(twin), twin.fields["plated_na_fraction"][_electrode(twin)]
        order = np.argsort(xi, kind="stable")
        assert np.all(np.diff(plated[order]) <= 1e-7)


def test_higher_sodiation_near_the_collector(path_2d):
    # "The radial gradient with higher degree of sodiation closer to the current collector"
    # (Section 3): mean pore filling in the lower third of the cap exceeds that in the upper third.
    for soc, twin in zip(SOCS, path_2d):
        if soc < 0.4:
            continue
        xi, filling = _height(twin), twin.fields["pore_filling"][_electrode(twin)]
        assert filling[xi < 1 / 3].mean() > filling[xi > 2 / 3].mean(), soc


def test_heterogeneity_grows_with_sodiation(path_2d):
    # Pristine electrode homogeneous; "an increased level of inhomogeneity at higher degree of
    # sodiation" (Abstract).
    spread = [t.fields["sodiation"][_electrode(t)].std() for t in path_2d]
    assert spread[0] == 0
    i = {soc: k for k, soc in enumerate(SOCS)}
    assert spread[i[0.2]] < spread[i[0.5]] < spread[i[0.8]]


def test_sei_forms_early(path_2d):
    # SEI "formed at higher voltages in the initial stages of sodiation" (Section 3).
    mean = {soc: t.truth["state/mean_sei_thickness_nm"] for soc, t in zip(SOCS, path_2d)}
    assert mean[0.0] == 0
    assert mean[0.4] > 0.9 * mean[1.0]
    assert mean[1.0] == pytest.approx(15.0, rel=0.02)


def test_time_and_sodiation_state_give_the_same_twin():
    twin = capillary_cell(ndim=2, time_min=45.0)
    assert twin.truth["state/soc"] == pytest.approx(0.6)
    by_soc = capillary_cell(ndim=2, soc=0.6)
    for name in FIELDS:
        np.testing.assert_allclose(twin.fields[name], by_soc.fields[name], equal_nan=True)
    later = sodiation_state(twin, soc=0.9)
    direct = capillary_cell(ndim=2, soc=0.9)
    for name in FIELDS:
        np.testing.assert_array_equal(later.fields[name], direct.fields[name])
    again = sodiation_state(later, time_min=45.0)
    np.testing.assert_allclose(again.fields["pore_filling"], twin.fields["pore_filling"], equal_nan=True)


def test_phase_material_follows_the_state():
    pristine, plated = capillary_cell(ndim=2), capillary_cell(ndim=2, soc=0.9)
    na = materials.element_z("Na")
    # NaPF6 puts some Na in the pores already; sodiation adds Na to the hard carbon and the pores.
    assert plated.phases[4].mass_fractions[na] > pristine.phases[4].mass_fractions[na]
    assert plated.truth["state/na_x_hard_carbon"] == pytest.approx(0.9 * 300 * 12.011 / 26801, rel=0.01)


# ---------------------------------------------------------------------- determinism
def test_same_seed_same_twin_other_seed_other_fields():
    a = capillary_cell(ndim=2, soc=0.7, seed=5)
    b = capillary_cell(ndim=2, soc=0.7, seed=5)
    c = capillary_cell(ndim=2, soc=0.7, seed=6)
    np.testing.assert_array_equal(a.labels, b.labels)
    for name in FIELDS:
        np.testing.assert_array_equal(a.fields[name], b.fields[name])
    for key in a.truth:
        np.testing.assert_array_equal(a.truth[key], b.truth[key])
    np.testing.assert_array_equal(a.labels, c.labels)
    assert not np.allclose(a.fields["sodiation"], c.fields["sodiation"], equal_nan=True)


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kwargs, match", [
    (dict(pin_diameter_um=1500.0), "pin_diameter_um"),
    (dict(cap_height_um=600.0), "cap_height_um"),
    (dict(cap_height_um=15.0), "cap_height_um"),
    (dict(voxel_size_um=-1.0), "voxel_size_um"),
    (dict(porosity=1.2), "porosity"),
    (dict(soc=1.5), "soc"),
    (dict(soc=0.3, time_min=10.0), "time_min"),
    (dict(time_min=100.0), "time_min"),
    (dict(plated_fraction_max=0.6), "plated_fraction_max"),
    (dict(gradient=0.4, heterogeneity=0.05), "gradient"),
    (dict(soc_plateau=0.7, soc_plating=0.6), "soc_plating"),
    (dict(pore_filling_at_plateau=0.8), "pore_filling_at_plateau"),
    (dict(micropore_fraction=0.95), "micropore_fraction"),
    (dict(ndim=4), "ndim"),
])
def test_refusals(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        capillary_cell(ndim=2, **kwargs) if "ndim" not in kwargs else capillary_cell(**kwargs)


def test_counter_electrode_flag_must_be_bool():
    with pytest.raises(TypeError, match="counter_electrode"):
        capillary_cell(ndim=2, counter_electrode="yes")


def test_sodiation_state_refuses_other_twins_and_ambiguous_states():
    other = Twin(np.zeros((4, 4), dtype=np.uint8), 1.0, {0: materials.get("air")})
    with pytest.raises(TypeError, match="twin"):
        sodiation_state(other, soc=0.5)
    twin = capillary_cell(ndim=2)
    with pytest.raises(ValueError, match="soc"):
        sodiation_state(twin)
    with pytest.raises(ValueError, match="time_min"):
        sodiation_state(twin, soc=0.5, time_min=10.0)


def test_path_refuses_negative_parameters():
    with pytest.raises(ValueError, match="sei_thickness_full_nm"):
        SodiationPath(sei_thickness_full_nm=-1.0)
