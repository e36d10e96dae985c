"""Quaternion orientations: uniformity, textures and misorientation against closed forms."""

import numpy as np
import pytest
from scipy import stats

from twin import orientations as o

N = 200_000


def test_random_quaternions_are_unit_and_canonical():
    q = o.random_quaternions(1000, 0)
    assert np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-12)
    assert np.all(q[:, 0] >= 0)


def test_random_c_axes_uniform_on_sphere():
    # For a uniform direction, each component is uniform on [-1, 1] (Archimedes' hat-box theorem).
    c = o.c_axes(o.random_quaternions(20_000, 1))
    for k in range(3):
        assert stats.kstest(c[:, k], stats.uniform(-1, 2).cdf).pvalue > 1e-3
    # Azimuth uniform on [-pi, pi).
    assert stats.kstest(np.arctan2(c[:, 1], c[:, 0]), stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_random_rotation_angles_follow_haar_measure():
    # Haar measure on SO(3): the rotation angle w has density (1 - cos w) / pi on [0, pi].
    w = 2 * np.arccos(o.random_quaternions(20_000, 2)[:, 0])
    cdf = lambda x: (x - np.sin(x)) / np.pi  # noqa: E731
    assert stats.kstest(w, cdf).pvalue > 1e-3


def test_matrix_is_a_rotation_and_matches_axis_angle():
    r = o.to_matrix(o.random_quaternions(50, 3))
    assert np.allclose(r @ np.swapaxes(r, 1, 2), np.eye(3), atol=1e-12)
    assert np.allclose(np.linalg.det(r), 1)
    # 90 deg about z takes x to y (right-handed, active rotation).
    q = o.from_axis_angle(np.array([[0, 0, 1.0]]), np.array([np.pi / 2]))
    assert np.allclose(o.to_matrix(q)[0] @ [1, 0, 0], [0, 1, 0])


def test_multiply_composes_rotations():
    p, q = o.random_quaternions(20, 4), o.random_quaternions(20, 5)
    assert np.allclose(o.to_matrix(o.multiply(p, q)), o.to_matrix(p) @ o.to_matrix(q))


@pytest.mark.parametrize("a, b", [([0, 0, 1.0], [1, 0, 0]), ([1, 2, 3.0], [-1, 0.5, 2]), ([0, 0, 1.0], [0, 0, -1])])
def test_rotation_taking(a, b):
    q = o.rotation_taking(np.array(a), np.array(b))
    a, b = np.array(a) / np.linalg.norm(a), np.array(b) / np.linalg.norm(b)
    assert np.allclose(o.to_matrix(q) @ a, b, atol=1e-12)


@pytest.mark.parametrize("kappa", [0.0, 1.0, 10.0, 50.0])
def test_fisher_mean_cosine_matches_closed_form(kappa):
    v = o.sample_fisher(N, [0, 1, 0], kappa, 6)
    expected = 0.0 if kappa == 0 else 1 / np.tanh(kappa) - 1 / kappa  # E[cos theta] of von Mises-Fisher on S2
    # Standard error of the mean is below 0.6/sqrt(N) = 0.0013; 0.005 is ~4 sigma.
    assert v[:, 1].mean() == pytest.approx(expected, abs=0.005)
    assert np.allclose(np.linalg.norm(v, axis=1), 1)


def test_fibre_texture_concentrates_c_axes_and_randomises_spin():
    q = o.fibre_texture(N, (1.0, 0.0, 0.0), 5.0, 7)
    c = o.c_axes(q)
    assert c[:, 0].mean() == pytest.approx(1 / np.tanh(5) - 1 / 5, abs=0.005)
    # Spin about the c-axis is uniform: the crystal a-axis has no preferred direction perpendicular to x.
    a = o.to_matrix(q)[:, :, 0]
    assert abs(a[:, 1].mean()) < 0.01 and abs(a[:, 2].mean()) < 0.01


def test_misorientation():
    q = o.random_quaternions(1000, 8)
    # Identity and symmetry-equivalent orientations are 0 apart.
    assert np.allclose(o.misorientation_deg(q, q), 0, atol=1e-5)
    equivalent = o.multiply(q, o.HEXAGONAL_SYMMETRY[np.arange(1000) % 12])
    assert np.allclose(o.misorientation_deg(q, equivalent, "hexagonal"), 0, atol=1e-5)
    # A 30 deg turn about the c-axis is 30 deg without symmetry and 30 deg with 6-fold symmetry (< 60 / 2).
    turn = o.from_axis_angle(np.array([[0, 0, 1.0]]), np.radians([30.0]))
    assert o.misorientation_deg(q[:1], o.multiply(q[:1], turn), "none") == pytest.approx(30)
    # A 50 deg turn about c is 50 without symmetry but 10 with 6-fold symmetry.
    turn = o.from_axis_angle(np.array([[0, 0, 1.0]]), np.radians([50.0]))
    assert o.misorientation_deg(q[:1], o.multiply(q[:1], turn), "hexagonal") == pytest.approx(10)
    assert o.misorientation_deg(q[:1], o.multiply(q[:1], turn), "trigonal") == pytest.approx(50)
    # Largest misorientations (disorientation angles) are 93.84 deg for 622 and 104.48 deg for 32
    # (Grimmer, Acta Cryst. A 45 (1989) 505; Morawiec, Orientations and Rotations (2004), table 4.1).
    q1, q2 = o.random_quaternions(50_000, 9), o.random_quaternions(50_000, 10)
    assert 90 < o.misorientation_deg(q1, q2, "hexagonal").max() <= 93.85
    assert 100 < o.misorientation_deg(q1, q2, "trigonal").max() <= 104.49
    # 32 is a subgroup of 622: the 622 angle is never larger.
    assert np.all(o.misorientation_deg(q1, q2, "hexagonal") <= o.misorientation_deg(q1, q2, "trigonal") + 1e-9)
    # A 60 deg turn about c is a symmetry of 622 but not of 32, where it is 60 deg.
    turn = o.from_axis_angle(np.array([[0, 0, 1.0]]), np.radians([60.0]))
    assert o.misorientation_deg(q[:1], o.multiply(q[:1], turn), "trigonal") == pytest.approx(60)
    assert o.misorientation_deg(q[:1], o.multiply(q[:1], turn), "hexagonal") == pytest.approx(0, abs=1e-5)
    equivalent = o.multiply(q, o.TRIGONAL_SYMMETRY[np.arange(1000) % 6])
    assert np.allclose(o.misorientation_deg(q, equivalent, "trigonal"), 0, atol=1e-5)
    with pytest.raises(ValueError, match="symmetry='cubic'"):
        o.misorientation_deg(q, q, "cubic")


def test_plane_angle():
    z = o.from_axis_angle(np.array([[1, 0, 0.0]]), np.array([0.0]))
    tilted = o.from_axis_angle(np.array([[1, 0, 0.0]]), np.radians([120.0]))
    # c-axes 120 deg apart are planes 60 deg apart (the sign of c is irrelevant).
    assert o.plane_angle_deg(z, tilted)[0] == pytest.approx(60)


def test_refusals():
    with pytest.raises(ValueError, match="n=-1"):
        o.random_quaternions(-1)
    with pytest.raises(ValueError, match="kappa=-1"):
        o.sample_fisher(10, [0, 0, 1], -1)
