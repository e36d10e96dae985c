"""Tests of forward.conduction.network: Kirchhoff's laws, series resistances, electrodes, outputs, refusals.

References: Ohm's law for resistors in series and in parallel (R = L / (sigma
A), area-specific resistances r / A), closed forms for bicrystals and slabs,
Kirchhoff's current law recomputed from the returned face currents, the
analytic cases of validation.conduction.analytic.
"""

from __future__ import annotations

import numpy as np
import pytest

from forward.conduction import (
    Conductivity,
    Electrode,
    conductivity_field,
    effective_conductivity,
    field_from_labels,
    simulate,
    solve,
    twin_electrodes,
)
from twin import materials
from twin.container import Twin
from twin.generators import KINDS

S_IP = 100.0
#: Quaternions: identity (c-axis along z, the plane in a 2D section) and a quarter turn about y (c along x).
C_ALONG_Z = np.array([1.0, 0.0, 0.0, 0.0])
C_ALONG_X = np.array([np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0])


def _faces(axis, v_low=1.0, v_high=0.0, **kw):
    return [Electrode("low", v_low, face=(axis, "low"), **kw), Electrode("high", v_high, face=(axis, "high"), **kw)]


def _slab(shape=(6, 9), sigma=2.0, voxel_size_um=1.0, **kw):
    return field_from_labels(np.ones(shape, np.int32), {1: sigma}, voxel_size_um=voxel_size_um, **kw)


def _crystal(grain_ids, quaternions, voxel_size_um=0.05):
    grain_ids = np.asarray(grain_ids, np.int32)
    return Twin(np.ones(grain_ids.shape, np.uint8), voxel_size_um, {1: materials.get("Na-beta''-alumina")},
                grain_ids=grain_ids, orientations=np.asarray(quaternions, float))


def _divergence(solution, field):
    """Net current out of every voxel, from the returned face currents (and face-electrode inflows)."""
    net = np.zeros(field.shape)
    for k, current in enumerate(solution.face_current_A):
        lo = [slice(None)] * field.ndim
        hi = [slice(None)] * field.ndim
        lo[k], hi[k] = slice(None, -1), slice(1, None)
        net[tuple(lo)] += current
        net[tuple(hi)] -= current
    return net


@pytest.fixture(scope="module")
def lamella_2d():
    return KINDS["polycrystal"](ndim=2, lamella=True, seed=0)


@pytest.fixture(scope="module")
def lamella_3d():
    return KINDS["polycrystal"](ndim=3, lamella=True, seed=0, field_of_view_um=(0.6, 1.2, 1.5), voxel_size_um=0.05,
                                grain_size_um=0.3, void_diameter_um=0.1, zro2_diameter_um=0.1,
                                electrode_thickness_um=0.1, electrode_gap_um=0.2)


# ---------------------------------------------------------------------------------------- Kirchhoff
@pytest.mark.parametrize("which", ["lamella_2d", "lamella_3d"])
def test_kirchhoff_current_law_on_a_random_polycrystal_lamella(which, request):
    twin = request.getfixturevalue(which)
    field = conductivity_field(twin)
    solution = simulate(twin, voltage_V=2.0)
    assert solution.conservation_rel < 1e-8 and solution.imbalance_rel < 1e-8
    assert solution.total_current_A > 0
    # Independently: the net current out of every free conducting voxel, summed from the face currents, is ~0.
    electrodes = (twin.labels == 3) | (twin.labels == 4)
    free = field.conducting() & ~electrodes
    net = _divergence(solution, field)
    assert np.abs(net[free]).max() < 1e-8 * solution.total_current_A
    # What leaves the positive electrode enters the negative one.
    assert solution.current("positive") == pytest.approx(-solution.current("negative"), rel=1e-8)
    assert solution.current("positive") == pytest.approx(net[twin.labels == 4].sum(), rel=1e-8)
    # Potentials lie between the electrodes' (maximum principle); blocking voxels have none.
    inside = solution.potential_V[free]
    assert inside.min() >= -1e-12 and inside.max() <= 2.0 + 1e-12
    assert np.isnan(solution.potential_V[~field.conducting() & ~electrodes]).all()
    np.testing.assert_array_equal(solution.potential_V[twin.labels == 4], 2.0)


def test_direct_and_amg_solvers_agree(lamella_2d):
    field = conductivity_field(lamella_2d)
    electrodes = twin_electrodes(lamella_2d)
    direct = solve(field, electrodes, method="direct")
    amg = solve(field, electrodes, method="amg", rtol=1e-12)
    assert direct.solve.method == "direct" and amg.solve.method == "amg"
    assert amg.total_current_A == pytest.approx(direct.total_current_A, rel=1e-8)
    free = np.isfinite(direct.potential_V)
    np.testing.assert_allclose(amg.potential_V[free], direct.potential_V[free], rtol=0, atol=1e-8)


def test_auto_solver_switches_to_amg_for_3d_grids_beyond_a_few_thousand_unknowns():
    # SuperLU's fill-in on a 3D 7-point Laplacian grows like n^2: measured on random two-phase cubes, 16^3 takes
    # 0.16 s direct and 0.17 s AMG-CG, 20^3 0.7 s against 0.1 s, 28^3 5.5 s against 0.8 s, 48^3 (1.1e5
    # unknowns) 225 s against 3 s, so "auto" goes direct only up to 5e3 unknowns on 3D grids (7-point rows)
    # and up to 2e4 on 2D grids.
    field = _slab((20, 20, 20), 3.0)
    solution = solve(field, _faces(0))
    assert solution.solve.method == "amg"
    assert solution.total_current_A == pytest.approx(3.0 * 400e-12 / 20e-6, rel=1e-8)
    assert solve(_slab((120, 120)), _faces(0)).solve.method == "direct"


# ---------------------------------------------------------------------------------------- series resistances
@pytest.mark.parametrize("ndim", [2, 3])
def test_grain_boundary_adds_its_resistance_in_series(ndim):
    # Bicrystal, boundary normal to the current (along the last array axis = x): every row is the same
    # chain, so R = L0 / (s0 A) + L1 / (s1 A) + r_GB / A exactly, A the whole cross-section.
    shape = (5, 10) if ndim == 2 else (3, 4, 10)
    grains = np.zeros(shape, np.int32)
    grains[..., 4:] = 1
    twin = _crystal(grains, [C_ALONG_Z, C_ALONG_X])
    p = Conductivity(sigma_ip_S_per_m=S_IP, anisotropy=10.0, gb_ratio=100.0, gb_thickness_nm=50.0)
    h = twin.voxel_size_um * 1e-6
    area = h * h * np.prod(shape[:-1])
    # Along x: grain 0 (c along z) conducts sigma_ip; grain 1 (c along x) sigma_op, in 2D and 3D.
    r_bulk = 4 * h / (S_IP * area) + 6 * h / (S_IP / 10 * area)
    r_gb = 50e-9 * 100 / S_IP / area
    solution = solve(conductivity_field(twin, p), _faces(ndim - 1, 1.0, 0.0))
    assert 1.0 / solution.conductance_S == pytest.approx(r_bulk + r_gb, rel=1e-10)
    # Without boundary resistance only the bulk remains.
    solution = solve(conductivity_field(twin, p.replace(gb_ratio=np.inf)), _faces(ndim - 1))
    assert 1.0 / solution.conductance_S == pytest.approx(r_bulk, rel=1e-10)


def test_grain_boundary_along_the_current_adds_nothing():
    grains = np.zeros((6, 8), np.int32)
    grains[:, 4:] = 1                                          # the boundary runs along y, the current too
    twin = _crystal(grains, [C_ALONG_X, C_ALONG_X])
    p = Conductivity(sigma_ip_S_per_m=S_IP, gb_ratio=1e6, gb_thickness_nm=100.0)
    sigma = effective_conductivity(conductivity_field(twin, p), 0).sigma_eff_S_per_m
    assert sigma == pytest.approx(S_IP, rel=1e-10)             # along y both grains conduct sigma_ip


@pytest.mark.parametrize("kind", ["face", "mask"])
def test_contact_resistance_adds_in_series(kind):
    sigma, h, shape, r_in, r_out = 2.0, 1e-6, (6, 12), 3e-7, 5e-7
    field = _slab(shape, sigma)
    area = shape[0] * h * h
    if kind == "face":
        electrodes = [Electrode("a", 1.0, face=(1, "low"), contact_resistance_ohm_m2=r_in),
                      Electrode("b", 0.0, face=(1, "high"), contact_resistance_ohm_m2=r_out)]
        length = shape[1] * h
    else:
        left, right = np.zeros(shape, bool), np.zeros(shape, bool)
        left[:, 0], right[:, -1] = True, True
        electrodes = [Electrode("a", 1.0, mask=left, contact_resistance_ohm_m2=r_in),
                      Electrode("b", 0.0, mask=right, contact_resistance_ohm_m2=r_out)]
        length = (shape[1] - 2) * h
    solution = solve(field, electrodes)
    assert 1.0 / solution.conductance_S == pytest.approx(length / (sigma * area) + (r_in + r_out) / area,
                                                         rel=1e-10)


def test_twin_electrodes_carry_the_contact_resistance(lamella_2d):
    electrodes = twin_electrodes(lamella_2d, 3.0, contact_resistance_ohm_m2=1e-6)
    assert [e.name for e in electrodes] == ["positive", "negative"]
    assert [e.potential_V for e in electrodes] == [3.0, 0.0]
    assert all(e.contact_resistance_ohm_m2 == 1e-6 for e in electrodes)
    np.testing.assert_array_equal(electrodes[0].mask, lamella_2d.labels == 4)
    field = conductivity_field(lamella_2d)
    assert solve(field, electrodes).total_current_A < solve(field, twin_electrodes(lamella_2d, 3.0)).total_current_A


# ---------------------------------------------------------------------------------------- slabs and electrodes
def test_uniform_slab_ohm_potential_and_fields():
    sigma, voxel, thickness, shape, volts = 2.0, 0.5, 3.0, (4, 10), 5.0
    field = _slab(shape, sigma, voxel, thickness_um=thickness)
    solution = solve(field, _faces(1, volts, 0.0))
    h = voxel * 1e-6
    area, length = shape[0] * h * thickness * 1e-6, shape[1] * h
    assert solution.total_current_A == pytest.approx(sigma * area * volts / length, rel=1e-12)
    # Linear potential, the voxel centres at (i + 1/2) h from the low face.
    x = (np.arange(shape[1]) + 0.5) * h
    np.testing.assert_allclose(solution.potential_V, np.broadcast_to(volts * (1 - x / length), shape), rtol=1e-12)
    # Uniform J = sigma V / L and E = V / L along x, nothing along y.
    np.testing.assert_allclose(solution.current_density_A_per_m2[1], sigma * volts / length, rtol=1e-12)
    np.testing.assert_allclose(solution.electric_field_V_per_m[1], volts / length, rtol=1e-12)
    np.testing.assert_allclose(solution.current_density_A_per_m2[0], 0.0, atol=1e-12 * sigma * volts / length)
    assert solution.conductance_S == pytest.approx(solution.total_current_A / volts)
    np.testing.assert_allclose(solution.electrode_current_A, [solution.total_current_A, -solution.total_current_A])


def test_face_and_mask_electrodes_are_equivalent():
    # A face electrode holds the potential on the outer face of the box; a column of metal voxels does the same
    # on the face of the next voxel, so a slab with extra electrode columns gives the same conductance.
    rng = np.random.default_rng(3)
    labels = (rng.random((7, 9)) < 0.7).astype(np.int32)
    field = field_from_labels(labels, {0: 0.5, 1: 4.0}, voxel_size_um=1.0)
    padded = field_from_labels(np.pad(labels, ((0, 0), (1, 1)), constant_values=1), {0: 0.5, 1: 4.0},
                               voxel_size_um=1.0)
    left, right = np.zeros(padded.shape, bool), np.zeros(padded.shape, bool)
    left[:, 0], right[:, -1] = True, True
    by_face = solve(field, _faces(1, 1.0, 0.0))
    by_mask = solve(padded, [Electrode("low", 1.0, mask=left), Electrode("high", 0.0, mask=right)])
    assert by_mask.total_current_A == pytest.approx(by_face.total_current_A, rel=1e-12)
    np.testing.assert_allclose(by_mask.potential_V[:, 1:-1], by_face.potential_V, rtol=1e-12)
    np.testing.assert_allclose(by_mask.current_density_A_per_m2[:, :, 1:-1], by_face.current_density_A_per_m2,
                               rtol=1e-10, atol=1e-12 * np.abs(by_face.current_density_A_per_m2).max())


def test_fixed_total_current_scales_the_potentials(lamella_2d):
    field = conductivity_field(lamella_2d)
    by_voltage = solve(field, twin_electrodes(lamella_2d, 1.0))
    for current in (3e-6, -2e-7):
        by_current = solve(field, twin_electrodes(lamella_2d, 1.0), current_A=current)
        scale = current / by_voltage.total_current_A
        assert by_current.total_current_A == pytest.approx(abs(current), rel=1e-12)
        assert by_current.current("positive") == pytest.approx(current, rel=1e-10)
        np.testing.assert_allclose(by_current.electrode_potential_V, scale * by_voltage.electrode_potential_V)
        free = np.isfinite(by_voltage.potential_V)
        np.testing.assert_allclose(by_current.potential_V[free], scale * by_voltage.potential_V[free], rtol=1e-10)
        density = by_voltage.current_density_A_per_m2
        np.testing.assert_allclose(by_current.current_density_A_per_m2, scale * density, rtol=1e-10,
                                   atol=1e-12 * abs(scale) * np.abs(density).max())
        assert by_current.conductance_S == pytest.approx(by_voltage.conductance_S, rel=1e-10)


def test_linearity_in_the_potentials(lamella_2d):
    field = conductivity_field(lamella_2d)
    base = solve(field, twin_electrodes(lamella_2d, 1.0))
    tripled = solve(field, twin_electrodes(lamella_2d, 3.0))
    assert tripled.total_current_A == pytest.approx(3 * base.total_current_A, rel=1e-10)
    for a, b in zip(tripled.face_current_A, base.face_current_A):
        np.testing.assert_allclose(a, 3 * b, rtol=1e-9, atol=1e-12 * base.total_current_A)
    # A common offset changes no current.
    shifted = solve(field, [e.at(e.potential_V + 5.0) for e in twin_electrodes(lamella_2d, 1.0)])
    for a, b in zip(shifted.face_current_A, base.face_current_A):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * base.total_current_A)
    free = np.isfinite(base.potential_V)
    np.testing.assert_allclose(shifted.potential_V[free], base.potential_V[free] + 5.0, rtol=1e-10)


def test_three_electrodes_not_facing_each_other():
    field = _slab((10, 10), 1.0)
    a, b, c = (np.zeros((10, 10), bool) for _ in range(3))
    a[0, :4], b[-1, 6:], c[4:7, -1] = True, True, True
    solution = solve(field, [Electrode("a", 1.0, mask=a), Electrode("b", 0.0, mask=b), Electrode("c", 0.25, mask=c)])
    assert solution.imbalance_rel < 1e-10 and solution.conservation_rel < 1e-10
    assert solution.current("a") > 0 and solution.current("b") < 0
    assert sum(solution.current(n) for n in "abc") == pytest.approx(0.0, abs=1e-10 * solution.total_current_A)
    with pytest.raises(KeyError, match="electrode 'd'"):
        solution.current("d")


def test_floating_clusters_are_reported_and_carry_nothing():
    labels = np.ones((8, 12), np.int32)
    labels[2:6, 4:8] = 0                   # a blocking ring ...
    labels[3:5, 5:7] = 1                   # ... around a 2 x 2 island
    field = field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0)
    solution = solve(field, _faces(1))
    assert solution.floating_voxels == 4
    assert np.isnan(solution.potential_V[3:5, 5:7]).all()
    np.testing.assert_array_equal(solution.current_density_A_per_m2[:, 3:5, 5:7], 0.0)
    assert solution.conservation_rel < 1e-10


@pytest.mark.parametrize("axis", [0, 1])
def test_current_density_integrates_to_the_total_current_across_every_section(axis):
    twin = KINDS["polycrystal"](ndim=2, seed=4)
    field = conductivity_field(twin, thickness_um=0.2)
    solution = solve(field, _faces(axis))
    flux = solution.current_density_A_per_m2[axis].sum(axis=1 - axis) * field.face_area_m2
    np.testing.assert_allclose(flux, solution.total_current_A, rtol=1e-9)


def test_current_density_integrates_in_3d(lamella_3d):
    field = conductivity_field(lamella_3d)
    solution = solve(field, _faces(0))
    flux = solution.current_density_A_per_m2[0].sum(axis=(1, 2)) * field.face_area_m2
    np.testing.assert_allclose(flux, solution.total_current_A, rtol=1e-9)


def test_electric_field_is_current_density_over_axial_conductivity(lamella_2d):
    field = conductivity_field(lamella_2d)
    solution = simulate(lamella_2d)
    electrodes = (lamella_2d.labels == 3) | (lamella_2d.labels == 4)
    inside = field.conducting() & ~electrodes
    for k in range(2):
        np.testing.assert_allclose(solution.electric_field_V_per_m[k][inside],
                                   solution.current_density_A_per_m2[k][inside] / field.axial(k)[inside], rtol=1e-12)
        assert np.isnan(solution.electric_field_V_per_m[k][~inside]).all()
        np.testing.assert_array_equal(solution.current_density_A_per_m2[k][~inside], 0.0)
    # Inside a grain E_x is minus the potential gradient (voxel-centred means of face differences agree with
    # the face-resolved field where both neighbours share the grain and no boundary lies between).
    h = lamella_2d.voxel_size_um * 1e-6
    phi = solution.potential_V
    grains = lamella_2d.grain_ids
    same = (grains[:, :-2] == grains[:, 1:-1]) & (grains[:, 1:-1] == grains[:, 2:]) & (grains[:, 1:-1] >= 0)
    gradient = -(phi[:, 2:] - phi[:, :-2]) / (2 * h)
    np.testing.assert_allclose(solution.electric_field_V_per_m[1][:, 1:-1][same], gradient[same], rtol=1e-9,
                               atol=1e-9 * np.nanmax(np.abs(gradient)))


def test_effective_conductivity_and_tortuosity_of_straight_channels():
    # Straight pores along the axis: sigma_eff = epsilon sigma_0 and tau = 1 exactly.
    labels = np.zeros((10, 8, 6), np.int32)
    labels[:, ::3, :] = 1
    field = field_from_labels(labels, {1: 5.0}, voxel_size_um=0.3)
    result = effective_conductivity(field, 0)
    epsilon = labels.mean()
    assert result.conducting_fraction == pytest.approx(epsilon)
    assert result.sigma_eff_S_per_m == pytest.approx(epsilon * 5.0, rel=1e-10)
    assert result.sigma_0_S_per_m == 5.0 and result.tortuosity_factor == pytest.approx(1.0, rel=1e-10)
    assert result.axis == 0 and result.solution.total_current_A > 0
    # An anisotropic field has no single sigma_0.
    twin = KINDS["polycrystal"](ndim=2, seed=1)
    result = effective_conductivity(conductivity_field(twin), 1)
    assert np.isnan(result.sigma_0_S_per_m) and np.isnan(result.tortuosity_factor)
    assert 0 < result.sigma_eff_S_per_m < Conductivity().sigma_ip_S_per_m


# ---------------------------------------------------------------------------------------- refusals
def _two_masks(shape, first, second):
    a, b = np.zeros(shape, bool), np.zeros(shape, bool)
    a[first], b[second] = True, True
    return a, b


def test_refuses_touching_electrodes():
    field = _slab((6, 6))
    a, b = _two_masks((6, 6), (slice(None), 2), (slice(None), 3))
    with pytest.raises(ValueError, match="electrodes 'a' and 'b' touch"):
        solve(field, [Electrode("a", 1.0, mask=a), Electrode("b", 0.0, mask=b)])


def test_refuses_a_mask_electrode_touching_a_face_electrode():
    field = _slab((6, 6))
    a, _ = _two_masks((6, 6), (slice(None), 0), (0, 0))
    with pytest.raises(ValueError, match="electrodes 'a' and 'f' touch"):
        solve(field, [Electrode("a", 1.0, mask=a), Electrode("f", 0.0, face=(1, "low"))])


def test_refuses_overlapping_masks():
    field = _slab((6, 6))
    a, b = _two_masks((6, 6), (slice(None), 1), (2, slice(None)))
    with pytest.raises(ValueError, match="electrodes 'a' and 'b' overlap"):
        solve(field, [Electrode("a", 1.0, mask=a), Electrode("b", 0.0, mask=b)])


def test_refuses_electrodes_without_a_conducting_path():
    labels = np.ones((6, 9), np.int32)
    labels[:, 4] = 2                     # a blocking wall
    field = field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0)
    with pytest.raises(ValueError, match="no conducting path joins electrodes"):
        solve(field, _faces(1))
    with pytest.raises(ValueError, match="no conducting path joins electrodes"):
        effective_conductivity(field, 1)


def test_refuses_an_all_blocking_sample():
    field = field_from_labels(np.zeros((5, 5), np.int32), {1: 1.0}, voxel_size_um=1.0)
    with pytest.raises(ValueError, match="every voxel blocks"):
        effective_conductivity(field, 0)
    with pytest.raises(ValueError, match="no conducting path"):
        solve(field, _faces(0))


def test_refuses_a_mask_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"electrode 'a': mask shape \(5, 6\), expected the grid's \(6, 6\)"):
        solve(_slab((6, 6)), [Electrode("a", 1.0, mask=np.ones((5, 6), bool)), Electrode("b", 0.0, face=(0, "high"))])


def test_refuses_a_single_electrode():
    with pytest.raises(ValueError, match="expected at least two electrodes, got 1"):
        solve(_slab(), [Electrode("a", 1.0, face=(0, "low"))])


def test_refuses_electrodes_at_the_same_potential():
    with pytest.raises(ValueError, match="all at 1.0 V; expected at least two distinct potentials"):
        solve(_slab(), _faces(0, 1.0, 1.0))


@pytest.mark.parametrize("face", [(0, "top"), (True, "low"), (0.0, "low"), "x", (0, "low", 1)])
def test_refuses_a_bad_face_spec(face):
    with pytest.raises(ValueError, match="expected \\(axis, 'low'\\|'high'\\)"):
        Electrode("a", 1.0, face=face)


def test_refuses_a_face_axis_outside_the_grid():
    with pytest.raises(ValueError, match="face axis 2 outside the grid's 2 axes"):
        solve(_slab(), [Electrode("a", 1.0, face=(2, "low")), Electrode("b", 0.0, face=(0, "high"))])
    with pytest.raises(ValueError, match="face axis -1 outside"):
        solve(_slab(), [Electrode("a", 1.0, face=(-1, "low")), Electrode("b", 0.0, face=(0, "high"))])


def test_refuses_two_electrodes_on_one_face():
    with pytest.raises(ValueError, match="two electrodes cover the same face"):
        solve(_slab(), [Electrode("a", 1.0, face=(0, "low")), Electrode("b", 0.0, face=(0, "low"))])


def test_refuses_duplicate_names():
    with pytest.raises(ValueError, match="names must be unique"):
        solve(_slab(), [Electrode("a", 1.0, face=(0, "low")), Electrode("a", 0.0, face=(0, "high"))])


def test_electrode_refusals():
    mask = np.ones((3, 3), bool)
    with pytest.raises(ValueError, match="exactly one of mask= or face="):
        Electrode("a", 1.0)
    with pytest.raises(ValueError, match="exactly one of mask= or face="):
        Electrode("a", 1.0, mask=mask, face=(0, "low"))
    with pytest.raises(ValueError, match="its mask selects no voxel"):
        Electrode("a", 1.0, mask=np.zeros((3, 3), bool))
    with pytest.raises(TypeError, match="mask: expected dtype kind"):
        Electrode("a", 1.0, mask=np.ones((3, 3), int))
    with pytest.raises(ValueError, match="potential_V=nan"):
        Electrode("a", float("nan"), mask=mask)
    with pytest.raises(ValueError, match="contact_resistance_ohm_m2=-1"):
        Electrode("a", 1.0, mask=mask, contact_resistance_ohm_m2=-1)
    with pytest.raises(TypeError, match="name=''"):
        Electrode("", 1.0, mask=mask)


def test_solve_argument_refusals():
    field = _slab()
    with pytest.raises(ValueError, match="current_A=0"):
        solve(field, _faces(0), current_A=0.0)
    with pytest.raises(ValueError, match="current_A=nan"):
        solve(field, _faces(0), current_A=float("nan"))
    with pytest.raises(ValueError, match="method='lu'"):
        solve(field, _faces(0), method="lu")
    with pytest.raises(TypeError, match="expected a ConductivityField"):
        solve(np.ones((3, 3)), _faces(0))
    with pytest.raises(TypeError, match="expected a list of forward.conduction.Electrode"):
        solve(field, (("a", 1.0), ("b", 0.0)))
    with pytest.raises(ValueError, match="axis=2: expected an array axis below 2"):
        effective_conductivity(field, 2)
    with pytest.raises(TypeError, match="expected a ConductivityField"):
        effective_conductivity(np.ones((3, 3)), 0)


def test_twin_without_electrodes_needs_them_given():
    twin = KINDS["polycrystal"](ndim=2, seed=1)
    with pytest.raises(ValueError, match="has no 'electrodes/positive_label'"):
        simulate(twin)
    solution = simulate(twin, electrodes=_faces(1))
    assert solution.total_current_A > 0


@pytest.mark.parametrize("model", ["thin_film", "thesis"])
def test_simulate_refuses_section_models_in_3d(lamella_3d, model):
    with pytest.raises(ValueError, match=f"model='{model}'"):
        simulate(lamella_3d, Conductivity(model=model))


def test_simulate_refuses_an_unknown_phase_label(lamella_2d):
    with pytest.raises(ValueError, match="phase label 12 in conductivity"):
        simulate(lamella_2d, Conductivity(phase_S_per_m={12: 1.0}))


# ---------------------------------------------------------------------------------------- analytic cases
def test_analytic_validation_cases_all_pass():
    from validation.conduction.analytic import checks

    results = checks()
    failed = [(c.name, c.value, c.truth, c.error, c.tolerance) for c in results if not c.passed]
    assert not failed
    names = [c.name for c in results]
    assert len(names) == len(set(names)) and len(names) >= 30
    assert all(name == name.lower() and " " not in name for name in names)
