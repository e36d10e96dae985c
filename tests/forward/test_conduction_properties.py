"""Tests of forward.conduction.properties: layered-crystal tensors, thin-film and Eq. 4-1 models, per-voxel fields.

References: the uniaxial tensor R diag(s_ip, s_ip, s_op) R^T (Rodrigues'
formula); the Schur complement Sigma_pp - Sigma_pz Sigma_zp / Sigma_zz of a
film with J_z = 0; seeds/003 section 4.2.2 Equation 4-1 written out from the
thesis; seeds/003's ratios (sigma_ip/sigma_op = 1e3, sigma_ip/sigma_GB = 20,
1 nm boundaries, sigma_ip/sigma_backbone = 250).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from forward.conduction import (
    Conductivity,
    ConductivityField,
    conductivity_field,
    field_from_labels,
    layered_tensor,
    section_tensors,
    thesis_conductivities,
)
from twin import materials
from twin.container import Twin
from twin.generators import KINDS
from twin.generators.polycrystal import NEGATIVE_ELECTRODE, POSITIVE_ELECTRODE, VOID, ZRO2
from twin.orientations import c_axes, random_quaternions

S_IP, S_OP = 100.0, 0.1


def _random_axes(n=200, seed=0):
    c = np.random.default_rng(seed).standard_normal((n, 3))
    return c / np.linalg.norm(c, axis=1, keepdims=True)


def _rz(phi):
    """Rotation about the sample z axis (the section normal), 3 x 3, sample (x, y, z) order."""
    c, s = np.cos(phi), np.sin(phi)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _sample_order(t):
    """2D section tensors from array order [y, x] to sample order (x, y)."""
    return t[:, ::-1, ::-1]


def _thesis_axis(theta_deg, alpha_deg):
    """c-axis of a plane with its trace at theta from x, tilted by alpha out of the section."""
    t, a = np.deg2rad(theta_deg), np.deg2rad(alpha_deg)
    return np.array([-np.sin(t) * np.sin(a), np.cos(t) * np.sin(a), np.cos(a)])


# ---------------------------------------------------------------------------------------- bulk tensor
def test_layered_tensor_is_symmetric_with_eigenvalues_ip_ip_op_and_c_its_op_axis():
    c = _random_axes()
    t = layered_tensor(c, S_IP, S_OP)
    assert t.shape == (len(c), 3, 3)
    np.testing.assert_array_equal(t, np.swapaxes(t, 1, 2))
    values = np.linalg.eigvalsh(t)
    np.testing.assert_allclose(values, np.broadcast_to([S_OP, S_IP, S_IP], values.shape), rtol=1e-12)
    np.testing.assert_allclose(np.einsum("nij,nj->ni", t, c), S_OP * c, rtol=1e-12, atol=1e-12)


def test_layered_tensor_equals_the_rotated_principal_tensor():
    # R diag(s_ip, s_ip, s_op) R^T with R from Rodrigues' formula; the c-axis is R e_z.
    u, angle = np.array([2.0, -1.0, 0.5]) / np.linalg.norm([2.0, -1.0, 0.5]), 1.1
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    r = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    expected = r @ np.diag([S_IP, S_IP, S_OP]) @ r.T
    np.testing.assert_allclose(layered_tensor(r[:, 2][None], S_IP, S_OP)[0], expected, rtol=0, atol=1e-12)


def test_section_tensors_3d_is_the_bulk_tensor_in_array_order():
    c = _random_axes(20)
    bulk = layered_tensor(c, S_IP, S_OP)
    arr = section_tensors(c, S_IP, S_OP, 3, "tensor")
    for i, j in np.ndindex(3, 3):                     # array axis a is sample axis 2 - a
        np.testing.assert_array_equal(arr[:, i, j], bulk[:, 2 - i, 2 - j])


def test_tensor_model_2d_is_the_in_plane_block():
    c = _random_axes(20)
    bulk = layered_tensor(c, S_IP, S_OP)
    np.testing.assert_array_equal(_sample_order(section_tensors(c, S_IP, S_OP, 2, "tensor")), bulk[:, :2, :2])


# ---------------------------------------------------------------------------------------- thin film
def test_thin_film_is_the_schur_complement_of_the_bulk_tensor():
    c = _random_axes()
    s = layered_tensor(c, S_IP, S_OP)
    schur = s[:, :2, :2] - s[:, :2, 2:] * s[:, 2:, :2] / s[:, 2:, 2:]
    np.testing.assert_allclose(_sample_order(section_tensors(c, S_IP, S_OP, 2, "thin_film")), schur,
                               rtol=1e-9, atol=1e-9 * S_IP)


def test_thin_film_is_symmetric_positive_definite_and_below_the_tensor_model():
    c = _random_axes()
    film = section_tensors(c, S_IP, S_OP, 2, "thin_film")
    block = section_tensors(c, S_IP, S_OP, 2, "tensor")
    np.testing.assert_allclose(film, np.swapaxes(film, 1, 2), rtol=1e-12, atol=1e-12)
    film_values = np.linalg.eigvalsh(film)
    assert film_values.min() > 0 and film_values.max() <= S_IP * (1 + 1e-12)
    # Letting E_z adjust (J_z = 0) can only lower the in-plane conductance: block - film is PSD.
    assert np.linalg.eigvalsh(block - film).min() > -1e-9 * S_IP


def test_thin_film_along_and_across_the_trace_of_a_tilted_plane():
    for alpha in (0.0, 10.0, 35.0, 60.0, 90.0):
        film = _sample_order(section_tensors(_thesis_axis(0.0, alpha)[None], S_IP, S_OP, 2, "thin_film"))[0]
        a = np.deg2rad(alpha)
        assert film[0, 0] == pytest.approx(S_IP, rel=1e-12)
        assert film[1, 1] == pytest.approx(1 / (np.cos(a) ** 2 / S_IP + np.sin(a) ** 2 / S_OP), rel=1e-9)
        assert film[0, 1] == pytest.approx(0.0, abs=1e-12 * S_IP)


@pytest.mark.parametrize("model", ["tensor", "thin_film"])
def test_tensor_models_are_invariant_under_a_rotation_of_the_section(model):
    # Turning the sample by phi about the section normal turns the 2D tensor: T(R c) = R2 T(c) R2^T.
    c = _random_axes(50)
    for phi in (0.3, np.pi / 4, 2.0):
        r = _rz(phi)
        turned = _sample_order(section_tensors(c @ r.T, S_IP, S_OP, 2, model))
        expected = r[:2, :2] @ _sample_order(section_tensors(c, S_IP, S_OP, 2, model)) @ r[:2, :2].T
        np.testing.assert_allclose(turned, expected, rtol=1e-9, atol=1e-9 * S_IP)


# ---------------------------------------------------------------------------------------- Eq. 4-1
def test_thesis_equation_written_out():
    # seeds/003 Eq. 4-1: sigma_x = s_op |sin a||sin t| + s_ip (|cos t| + |cos a||sin t|),
    #                    sigma_y = s_ip (|sin t| + |cos a||cos t|) + s_op |sin a||cos t|.
    for theta in (0.0, 20.0, 45.0, 100.0, 170.0):
        for alpha in (5.0, 30.0, 90.0, 135.0):
            got = thesis_conductivities(_thesis_axis(theta, alpha)[None], S_IP, S_OP)[0]
            t, a = np.deg2rad(theta), np.deg2rad(alpha)
            sx = S_OP * abs(np.sin(a)) * abs(np.sin(t)) + S_IP * (abs(np.cos(t)) + abs(np.cos(a)) * abs(np.sin(t)))
            sy = S_IP * (abs(np.sin(t)) + abs(np.cos(a)) * abs(np.cos(t))) + S_OP * abs(np.sin(a)) * abs(np.cos(t))
            np.testing.assert_allclose(got, [sx, sy], rtol=1e-12)


def test_thesis_special_cases():
    np.testing.assert_allclose(thesis_conductivities(_thesis_axis(0, 90)[None], S_IP, S_OP)[0], [S_IP, S_OP],
                               rtol=1e-12)
    np.testing.assert_allclose(thesis_conductivities(_thesis_axis(90, 90)[None], S_IP, S_OP)[0], [S_OP, S_IP],
                               rtol=1e-12)
    # A plane lying in the film has no trace: theta = 0 is taken, sigma_ip both ways.
    np.testing.assert_allclose(thesis_conductivities(np.array([[0.0, 0.0, -1.0]]), S_IP, S_OP)[0], [S_IP, S_IP])
    # Along the trace it agrees with the thin film; across it interpolates linearly in cos(alpha).
    a = np.deg2rad(40.0)
    got = thesis_conductivities(_thesis_axis(0, 40)[None], S_IP, S_OP)[0]
    assert got[0] == pytest.approx(S_IP, rel=1e-12)
    assert got[1] == pytest.approx(S_IP * np.cos(a) + S_OP * np.sin(a), rel=1e-12)


def test_thesis_model_is_not_a_tensor_and_exceeds_sigma_ip_by_up_to_sqrt2():
    # Trace at 45 deg, plane almost in the film: sigma_x = sigma_y -> sqrt(2) sigma_ip.
    near_flat = thesis_conductivities(_thesis_axis(45.0, 1e-4)[None], S_IP, S_OP)[0]
    np.testing.assert_allclose(near_flat, np.sqrt(2) * S_IP, rtol=1e-6)
    c = _random_axes(5000, seed=1)
    thesis = thesis_conductivities(c, S_IP, S_OP)
    # Bound: s_op sin a sin t + s_ip (cos t + cos a sin t) <= sqrt(2 s_ip^2 + s_op^2).
    assert thesis.max() <= np.sqrt(2 * S_IP ** 2 + S_OP ** 2) * (1 + 1e-12)
    assert thesis.max() > 1.35 * S_IP
    # The trace sigma_x + sigma_y of a true 2D tensor is invariant under a turn of the section; Eq. 4-1's is not.
    r = _rz(np.pi / 8)
    for model in ("tensor", "thin_film"):
        before = np.trace(section_tensors(c, S_IP, S_OP, 2, model), axis1=1, axis2=2)
        after = np.trace(section_tensors(c @ r.T, S_IP, S_OP, 2, model), axis1=1, axis2=2)
        np.testing.assert_allclose(after, before, rtol=1e-9)
    before = np.trace(section_tensors(c, S_IP, S_OP, 2, "thesis"), axis1=1, axis2=2)
    after = np.trace(section_tensors(c @ r.T, S_IP, S_OP, 2, "thesis"), axis1=1, axis2=2)
    assert np.abs(after / before - 1).max() > 0.05
    # In array order: [0, 0] is sigma_y, [1, 1] sigma_x, no off-diagonal.
    t = section_tensors(c[:3], S_IP, S_OP, 2, "thesis")
    np.testing.assert_array_equal(t[:, 0, 0], thesis[:3, 1])
    np.testing.assert_array_equal(t[:, 1, 1], thesis[:3, 0])
    np.testing.assert_array_equal(t[:, 0, 1], 0.0)


def test_section_tensors_refusals():
    c = _random_axes(3)
    with pytest.raises(ValueError, match="only 'tensor' is defined for a 3D grid"):
        section_tensors(c, S_IP, S_OP, 3, "thin_film")
    with pytest.raises(ValueError, match="only 'tensor' is defined for a 3D grid"):
        section_tensors(c, S_IP, S_OP, 3, "thesis")
    with pytest.raises(ValueError, match="model='bulk'"):
        section_tensors(c, S_IP, S_OP, 2, "bulk")


# ---------------------------------------------------------------------------------------- Conductivity
def test_conductivity_defaults_are_the_thesis_ratios():
    p = Conductivity()
    assert p.sigma_op_S_per_m == pytest.approx(p.sigma_ip_S_per_m / 1e3)
    # 1 nm / (sigma_ip / 20) = 1e-9 * 20 / 100 ohm m^2.
    assert p.gb_resistance_ohm_m2 == pytest.approx(2e-10, rel=1e-12)
    assert p.backbone_ratio == 250.0
    assert p.model_for(2) == "thin_film" and p.model_for(3) == "tensor"
    assert Conductivity(model="thesis").model_for(2) == "thesis"
    q = p.replace(anisotropy=10.0)
    assert q.anisotropy == 10.0 and q.sigma_op_S_per_m == pytest.approx(10.0) and p.anisotropy == 1e3


def test_conductivity_refuses_3d_section_models():
    for model in ("thin_film", "thesis"):
        with pytest.raises(ValueError, match="describes a 2D section"):
            Conductivity(model=model).model_for(3)


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma_ip_S_per_m": -1.0}, "sigma_ip_S_per_m=-1.0"),
    ({"sigma_ip_S_per_m": 0.0}, "sigma_ip_S_per_m=0.0"),
    ({"sigma_ip_S_per_m": float("nan")}, "sigma_ip_S_per_m=nan"),
    ({"sigma_ip_S_per_m": float("inf")}, "sigma_ip_S_per_m=inf"),
    ({"anisotropy": 0.5}, "anisotropy=0.5: expected sigma_ip / sigma_op >= 1"),
    ({"anisotropy": float("nan")}, "anisotropy=nan"),
    ({"anisotropy": -3.0}, "anisotropy=-3.0"),
    ({"gb_ratio": -20.0}, "gb_ratio=-20.0"),
    ({"gb_ratio": float("nan")}, "gb_ratio=nan"),
    ({"gb_thickness_nm": -1.0}, "gb_thickness_nm=-1.0"),
    ({"backbone_ratio": 0.5}, "backbone_ratio=0.5"),
    ({"model": "bulk"}, "model='bulk'"),
    ({"phase_S_per_m": {2: -1.0}}, r"phase_S_per_m\[2\]=-1.0"),
    ({"phase_S_per_m": {2: float("nan")}}, r"phase_S_per_m\[2\]=nan"),
    ({"phase_S_per_m": {-2: 1.0}}, "phase_S_per_m key=-2"),
    ({"backbone_phases": (-1,)}, "backbone_phases=-1"),
])
def test_conductivity_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Conductivity(**kwargs)


def test_conductivity_refuses_non_numbers():
    with pytest.raises(TypeError, match="sigma_ip_S_per_m='fast'"):
        Conductivity(sigma_ip_S_per_m="fast")
    with pytest.raises(TypeError, match="phase_S_per_m key=1.5"):
        Conductivity(phase_S_per_m={1.5: 1.0})


def test_infinite_gb_ratio_removes_the_boundaries():
    twin = KINDS["polycrystal"](ndim=2, seed=1)
    assert conductivity_field(twin, Conductivity(gb_ratio=np.inf)).gb_resistance_ohm_m2 == 0.0
    assert conductivity_field(twin, Conductivity(gb_thickness_nm=0.0)).gb_resistance_ohm_m2 == 0.0


# ---------------------------------------------------------------------------------------- fields of twins
@pytest.fixture(scope="module")
def lamella():
    return KINDS["polycrystal"](ndim=2, lamella=True, seed=2)


def test_grains_get_their_tensor_and_zro2_voids_and_electrodes_block(lamella):
    p = Conductivity(sigma_ip_S_per_m=S_IP, anisotropy=S_IP / S_OP)
    field = conductivity_field(lamella, p)
    grains = lamella.grain_ids
    inside = grains >= 0
    # Reference from the twin's truth table of c-axes, through the Schur complement of the bulk tensor.
    s = layered_tensor(lamella.truth["grains/c_axis"], S_IP, S_OP)
    schur = s[:, :2, :2] - s[:, :2, 2:] * s[:, 2:, :2] / s[:, 2:, 2:]
    expected = _sample_order(schur)[grains[inside]]
    np.testing.assert_allclose(field.tensors_S_per_m[field.index[inside]], expected, rtol=1e-9, atol=1e-9 * S_IP)
    blocking = np.isin(lamella.labels, [VOID, ZRO2, NEGATIVE_ELECTRODE, POSITIVE_ELECTRODE])
    assert blocking.any() and (field.index[blocking] == -1).all()
    np.testing.assert_array_equal(field.conducting(), inside)
    np.testing.assert_array_equal(field.grain_ids, grains)
    assert field.gb_resistance_ohm_m2 == pytest.approx(p.gb_resistance_ohm_m2)
    assert field.voxel_size_um == lamella.voxel_size_um and field.shape == lamella.shape and field.ndim == 2
    # axial(k) is the diagonal of each voxel's tensor, 0 where blocking.
    np.testing.assert_allclose(field.axial(1)[inside], expected[:, 1, 1], rtol=1e-9)
    assert (field.axial(0)[blocking] == 0).all()


def test_thesis_and_tensor_models_on_a_twin(lamella):
    inside = lamella.grain_ids >= 0
    c = lamella.truth["grains/c_axis"][lamella.grain_ids[inside]]
    field = conductivity_field(lamella, Conductivity(model="thesis"))
    sx_sy = thesis_conductivities(c, Conductivity().sigma_ip_S_per_m, Conductivity().sigma_op_S_per_m)
    np.testing.assert_allclose(field.axial(1)[inside], sx_sy[:, 0], rtol=1e-12)
    np.testing.assert_allclose(field.axial(0)[inside], sx_sy[:, 1], rtol=1e-12)
    field = conductivity_field(lamella, Conductivity(model="tensor"))
    bulk = layered_tensor(c, Conductivity().sigma_ip_S_per_m, Conductivity().sigma_op_S_per_m)
    np.testing.assert_allclose(field.axial(1)[inside], bulk[:, 0, 0], rtol=1e-12)


def test_backbone_and_listed_phases_are_isotropic(lamella):
    p = Conductivity(sigma_ip_S_per_m=S_IP, backbone_phases=(NEGATIVE_ELECTRODE,),
                     phase_S_per_m={ZRO2: 7.5, VOID: 0.0})
    field = conductivity_field(lamella, p)
    for label, sigma in ((NEGATIVE_ELECTRODE, S_IP / 250), (ZRO2, 7.5)):
        where = lamella.labels == label
        np.testing.assert_array_equal(field.tensors_S_per_m[field.index[where]],
                                      np.broadcast_to(sigma * np.eye(2), (where.sum(), 2, 2)))
    # A phase listed with 0 S/m blocks, an unlisted phase blocks.
    assert (field.index[lamella.labels == VOID] == -1).all()
    assert (field.index[lamella.labels == POSITIVE_ELECTRODE] == -1).all()


def test_backbone_phases_on_a_3d_twin():
    shape = (3, 4, 5)
    labels = np.ones(shape, np.uint8)
    labels[0] = 5
    grains = np.where(labels == 1, 0, -1).astype(np.int32)
    frame = dataclasses.replace(materials.get("Na-beta''-alumina"), name="frame")
    twin = Twin(labels, 0.1, {1: materials.get("Na-beta''-alumina"), 5: frame}, grain_ids=grains,
                orientations=random_quaternions(1, 0))
    field = conductivity_field(twin, Conductivity(sigma_ip_S_per_m=S_IP, backbone_phases=(5,), backbone_ratio=4.0))
    np.testing.assert_array_equal(field.tensors_S_per_m[field.index[0]],
                                  np.broadcast_to(25.0 * np.eye(3), (4, 5, 3, 3)))
    expected = layered_tensor(c_axes(twin.orientations), S_IP, S_IP / 1e3)[0, ::-1, ::-1]
    np.testing.assert_allclose(field.tensors_S_per_m[field.index[1:]], np.broadcast_to(expected, (2, 4, 5, 3, 3)))
    assert field.face_area_m2 == pytest.approx((0.1e-6) ** 2)


def test_thickness_sets_the_face_area_of_a_2d_field(lamella):
    h = lamella.voxel_size_um * 1e-6
    assert conductivity_field(lamella).face_area_m2 == pytest.approx(h * h)
    assert conductivity_field(lamella, thickness_um=0.17).face_area_m2 == pytest.approx(h * 0.17e-6)
    with pytest.raises(ValueError, match="thickness_um=-1"):
        conductivity_field(lamella, thickness_um=-1)


def test_conductivity_field_refusals(lamella):
    with pytest.raises(ValueError, match=r"phase label 9 in conductivity: expected one of the twin's labels"):
        conductivity_field(lamella, Conductivity(phase_S_per_m={9: 1.0}))
    with pytest.raises(ValueError, match=r"phase label 7"):
        conductivity_field(lamella, Conductivity(backbone_phases=(7,)))
    with pytest.raises(TypeError, match="expected a twin.Twin"):
        conductivity_field(lamella.labels)
    with pytest.raises(TypeError, match="expected a forward.conduction.Conductivity"):
        conductivity_field(lamella, {"sigma_ip_S_per_m": 1.0})


@pytest.mark.parametrize("model", ["thin_film", "thesis"])
def test_3d_twin_refuses_section_models(model):
    twin = KINDS["polycrystal"](ndim=3, field_of_view_um=(0.6, 0.6, 0.6), voxel_size_um=0.1,
                                grain_size_um=0.3, void_diameter_um=0.1, zro2_diameter_um=0.1, seed=0)
    with pytest.raises(ValueError, match=f"model='{model}'.*a 3D twin uses 'tensor'"):
        conductivity_field(twin, Conductivity(model=model))


# ---------------------------------------------------------------------------------------- labelled images
def test_field_from_labels_is_isotropic_and_unlisted_or_zero_labels_block():
    labels = np.array([[0, 1, 2], [3, 1, 0]])
    field = field_from_labels(labels, {1: 2.0, 2: 0.0, 3: 5.0}, voxel_size_um=0.5)
    np.testing.assert_array_equal(field.axial(0), [[0, 2, 0], [5, 2, 0]])
    np.testing.assert_array_equal(field.axial(1), field.axial(0))
    off = field.tensors_S_per_m[:, 0, 1]
    np.testing.assert_array_equal(off, 0.0)
    assert field.gb_resistance_ohm_m2 == 0 and (field.grain_ids == -1).all()
    assert field.thickness_um == 0.5 and field.face_area_m2 == pytest.approx(0.25e-12)
    assert field_from_labels(labels, {1: 1.0}, voxel_size_um=0.5, thickness_um=2.0).face_area_m2 == \
        pytest.approx(1e-12)


@pytest.mark.parametrize("sigma, error, match", [
    (-1.0, ValueError, r"phase_S_per_m\[1\]=-1.0"),
    (float("nan"), ValueError, r"phase_S_per_m\[1\]=nan"),
    (float("inf"), ValueError, r"phase_S_per_m\[1\]=inf"),
    ("a lot", TypeError, r"phase_S_per_m\[1\]='a lot'"),
])
def test_field_from_labels_refuses_bad_conductivities(sigma, error, match):
    with pytest.raises(error, match=match):
        field_from_labels(np.ones((3, 3), int), {1: sigma}, voxel_size_um=1.0)


def test_field_from_labels_refuses_bad_images_and_sizes():
    with pytest.raises(ValueError, match="labels: expected an array with ndim in"):
        field_from_labels(np.ones(4, int), {1: 1.0}, voxel_size_um=1.0)
    with pytest.raises(TypeError, match="labels: expected dtype kind"):
        field_from_labels(np.ones((3, 3)), {1: 1.0}, voxel_size_um=1.0)
    with pytest.raises(ValueError, match="voxel_size_um=0"):
        field_from_labels(np.ones((3, 3), int), {1: 1.0}, voxel_size_um=0)
    with pytest.raises(ValueError, match="thickness_um=nan"):
        field_from_labels(np.ones((3, 3), int), {1: 1.0}, voxel_size_um=1.0, thickness_um=float("nan"))


def test_hand_built_field_with_negative_or_nan_conductivity_is_refused():
    # ConductivityField is public; a negative or NaN tensor would otherwise make a face conductance
    # negative or NaN, which the network silently treats as blocking.
    index = np.zeros((3, 4), np.int32)
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="tensors_S_per_m"):
            ConductivityField(index=index, tensors_S_per_m=bad * np.eye(2)[None], grain_ids=np.full((3, 4), -1),
                              gb_resistance_ohm_m2=0.0, voxel_size_um=1.0, thickness_um=1.0)
    with pytest.raises(ValueError, match="index"):
        ConductivityField(index=np.full((3, 4), 5, np.int32), tensors_S_per_m=np.eye(2)[None],
                          grain_ids=np.full((3, 4), -1), gb_resistance_ohm_m2=0.0, voxel_size_um=1.0,
                          thickness_um=1.0)


@pytest.mark.parametrize("change, match", [
    ({"tensors_S_per_m": np.array([[[1.0, 0.5], [0.0, 1.0]]])}, "expected symmetric tensors"),
    ({"tensors_S_per_m": np.eye(3)[None]}, r"expected shape \(m, 2, 2\)"),
    ({"tensors_S_per_m": np.zeros((1, 2, 2))}, "positive-definite"),
    ({"index": np.full((3, 4), -2, np.int32)}, r"index: expected values in \[-1, 0\]"),
    ({"index": np.zeros((3, 4))}, "index: expected dtype kind"),
    ({"grain_ids": np.full((4, 3), -1)}, r"grain_ids: expected shape \(3, 4\)"),
    ({"gb_resistance_ohm_m2": -1e-9}, "gb_resistance_ohm_m2=-1e-09"),
    ({"voxel_size_um": 0.0}, "voxel_size_um=0.0"),
    ({"thickness_um": float("nan")}, "thickness_um=nan"),
])
def test_hand_built_field_refusals_name_the_argument(change, match):
    values = dict(index=np.zeros((3, 4), np.int32), tensors_S_per_m=np.eye(2)[None], grain_ids=np.full((3, 4), -1),
                  gb_resistance_ohm_m2=0.0, voxel_size_um=1.0, thickness_um=1.0)
    values.update(change)
    with pytest.raises((ValueError, TypeError), match=match):
        ConductivityField(**values)
