"""Grain-boundary table, current maps and solution files of the resistor network, on bicrystals with closed forms."""

import h5py
import numpy as np
import pytest

from forward.conduction import Conductivity, Electrode, conductivity_field, simulate, solve
from forward.conduction.boundaries import boundary_table
from forward.conduction.io import save_solution
from forward.conduction.render import current_map_png
from twin import materials
from twin.container import Twin
from twin.generators import KINDS
from twin.orientations import c_axes, rotation_taking

X, Y, Z = np.eye(3)
SIGMA_IP, VOXEL_UM, THICKNESS_UM = 10.0, 0.1, 0.2


def bicrystal(c_left, c_right, shape=(6, 10)):
    """Two grains side by side along x (the boundary normal to x, between columns 4 and 5)."""
    ids = np.zeros(shape, np.int32)
    ids[:, shape[1] // 2:] = 1
    q = rotation_taking(np.array([Z, Z]), np.array([c_left, c_right]))
    electrolyte = materials.get("Na-beta''-alumina")
    return Twin(np.ones(shape, np.uint8), VOXEL_UM, {1: electrolyte}, grain_ids=ids, orientations=q)


def solved(twin, **conductivity):
    field = conductivity_field(twin, Conductivity(sigma_ip_S_per_m=SIGMA_IP, **conductivity),
                               thickness_um=THICKNESS_UM)
    electrodes = [Electrode("in", 1.0, face=(1, "low")), Electrode("out", 0.0, face=(1, "high"))]
    return field, solve(field, electrodes)


def test_bicrystal_drops_and_currents_match_series_resistors():
    twin = bicrystal(Z, Z)                       # both conduct sigma_ip along x: one uniform medium plus one GB
    field, s = solved(twin)
    table = boundary_table(field, s, c_axes=c_axes(twin.orientations))
    ny, nx = twin.shape
    area = VOXEL_UM * 1e-6 * THICKNESS_UM * 1e-6
    r_half = (VOXEL_UM * 1e-6 / 2) / (SIGMA_IP * area)
    r_gb = 1e-9 * 20 / SIGMA_IP / area          # 1 nm at sigma_ip / 20 (seeds/003 section 4.2.2)
    row_resistance = 2 * nx * r_half + r_gb      # each row: nx voxels in series, one boundary
    i_row = 1.0 / row_resistance
    assert s.total_current_A == pytest.approx(ny * i_row, rel=1e-12)
    assert table.grains.tolist() == [[0, 1]]
    assert table.face_count.tolist() == [ny]
    assert table.current_A[0] == pytest.approx(ny * i_row, rel=1e-12)
    assert table.gb_drop_V[0] == pytest.approx(i_row * r_gb, rel=1e-12)
    assert table.node_drop_V[0] == pytest.approx(i_row * (2 * r_half + r_gb), rel=1e-12)
    assert table.contrast[0] == pytest.approx(0.0, abs=1e-12)
    assert table.field_angle_deg[0] == pytest.approx(0.0, abs=1e-9)
    assert table.type[0] == "I" and table.behaviour[0] == "across"


@pytest.mark.parametrize("left, right, kind, behaviour", [
    (Z, X, "II", "blocked"),      # upstream carries ions in, downstream planes stand across the field
    (X, Z, "II", "none"),         # upstream planes stand across the field: nothing reaches the boundary
    (Z, (X + Z) / np.sqrt(2), "III", "blocked"),
    (Y, Y, "I", "across"),        # both planes contain x: ions cross freely
])
def test_boundary_type_and_behaviour_relative_to_the_field(left, right, kind, behaviour):
    twin = bicrystal(left, right)
    field, s = solved(twin)
    table = boundary_table(field, s, c_axes=c_axes(twin.orientations))
    assert table.type[0] == kind
    assert table.behaviour[0] == behaviour
    expected_angle = np.degrees(np.arccos(abs(np.dot(left, right))))
    assert table.plane_angle_deg[0] == pytest.approx(expected_angle, abs=1e-5)   # arccos near 1: ~1e-6 deg


def test_boundary_table_on_polycrystal_conserves_current_per_grain():
    twin = KINDS["polycrystal"](lamella=True, seed=5)
    field = conductivity_field(twin)
    s = simulate(twin)
    table = boundary_table(field, s, c_axes=c_axes(twin.orientations))
    assert np.array_equal(table.grains, twin.truth["boundaries/grains"])
    assert np.array_equal(table.face_count, twin.truth["boundaries/face_count"])
    assert np.allclose(table.plane_angle_deg, twin.truth["boundaries/plane_angle_deg"])
    # Kirchhoff per grain: boundary currents plus electrode currents into a grain sum to zero.
    net = np.zeros(twin.n_grains)
    np.add.at(net, table.grains[:, 0], -table.current_A)
    np.add.at(net, table.grains[:, 1], table.current_A)
    ids = twin.grain_ids
    for name in ("positive", "negative"):
        metal = twin.labels == int(twin.truth[f"electrodes/{name}_label"])
        for k in range(2):
            lo = tuple(slice(None, -1) if a == k else slice(None) for a in range(2))
            hi = tuple(slice(1, None) if a == k else slice(None) for a in range(2))
            current = s.face_current_A[k]
            into_hi = metal[lo] & (ids[hi] >= 0)
            into_lo = metal[hi] & (ids[lo] >= 0)
            np.add.at(net, ids[hi][into_hi], current[into_hi])
            np.add.at(net, ids[lo][into_lo], -current[into_lo])
    assert np.abs(net).max() < 1e-8 * s.total_current_A
    top = table.top(3)
    assert np.all(np.diff(table.gb_drop_V[top]) <= 0)
    assert len(table.rows(top)) == 3


def test_boundary_table_without_c_axes_leaves_types_unknown():
    twin = bicrystal(Z, X)
    field, s = solved(twin)
    table = boundary_table(field, s)
    assert np.isnan(table.plane_angle_deg).all() and table.type.tolist() == [""]


def test_boundary_table_refusals():
    twin = bicrystal(Z, X)
    field, s = solved(twin)
    with pytest.raises(TypeError, match="ConductivityField"):
        boundary_table(s, field)
    with pytest.raises(ValueError, match="c_axes"):
        boundary_table(field, s, c_axes=np.zeros((3, 3)))
    with pytest.raises(ValueError, match="by='area'"):
        boundary_table(field, s).top(2, by="area")


def test_solution_files_read_back(tmp_path):
    twin = bicrystal(Z, X)
    _, s = solved(twin)
    h5 = save_solution(s, tmp_path / "s.h5", voxel_size_um=VOXEL_UM)
    with h5py.File(h5) as f:
        assert np.array_equal(f["potential_V"][()], s.potential_V, equal_nan=True)
        assert np.array_equal(f["current_density_A_per_m2"][()], s.current_density_A_per_m2)
        assert f["potential_V"].attrs["units"] == "V"
        assert f["electrodes/current_A"][()] == pytest.approx(s.electrode_current_A)
    import pyvista as pv

    grid = pv.read(save_solution(s, tmp_path / "s.vti", voxel_size_um=VOXEL_UM))
    jx = grid.cell_data["current_density_A_per_m2"][:, 0].reshape(twin.shape)
    assert np.allclose(jx, s.current_density_A_per_m2[1])
    with pytest.raises(FileExistsError):
        save_solution(s, h5, voxel_size_um=VOXEL_UM)
    with pytest.raises(ValueError, match="expected a .h5"):
        save_solution(s, tmp_path / "s.txt", voxel_size_um=VOXEL_UM)


def test_current_map_png(tmp_path):
    twin = KINDS["polycrystal"](lamella=True, seed=1)
    field = conductivity_field(twin)
    s = simulate(twin)
    path = current_map_png(s, twin.grain_ids, twin.voxel_size_um, tmp_path / "j.png",
                           boundaries=boundary_table(field, s))
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileExistsError):
        current_map_png(s, twin.grain_ids, twin.voxel_size_um, path)
