"""Pinhole camera of XCS (forward/compton/camera.py): projection, angles, solid angle, blur, refusals."""

import math

import numpy as np
import pytest

from forward.compton.camera import PinholeCamera

PITCH, SHAPE = 250.0, (80, 80)


def test_point_maps_inverted_with_magnification_one():
    cam = PinholeCamera()
    assert cam.magnification == 1.0
    # A point 1 mm along +y and 2 mm along +x of the look-at point: inverted, 4 and 8 pixels from the centre 39.5.
    rc = cam.project(np.array([0.0, 1000.0, 2000.0]), PITCH, SHAPE)
    np.testing.assert_allclose(rc, [39.5 - 4.0, 39.5 - 8.0], atol=1e-12)
    np.testing.assert_allclose(cam.project(np.zeros(3), PITCH, SHAPE), [39.5, 39.5], atol=1e-12)


def test_magnification_two():
    cam = PinholeCamera(detector_to_pinhole_mm=320.0)
    assert cam.magnification == 2.0
    rc = cam.project(np.array([[0.0, -500.0, 250.0]]), PITCH, SHAPE)
    np.testing.assert_allclose(rc, [[39.5 + 4.0, 39.5 - 2.0]], atol=1e-12)
    assert cam.pixel_at_sheet_um(PITCH) == 125.0


def test_scattering_angle_from_geometry():
    cam = PinholeCamera()
    # On the axis 90 deg; at x = +-10 mm: theta = 90 +- atan(10/160) (closed form).
    theta = cam.scattering_angle_deg(np.array([[0, 0, 0], [0, 0, 10000.0], [0, 0, -10000.0]]))
    half = math.degrees(math.atan(10 / 160))
    np.testing.assert_allclose(theta, [90.0, 90.0 + half, 90.0 - half], atol=1e-10)
    assert abs(half - 3.576) < 1e-3
    # The pixel a point is imaged on records the same angle (to the pinhole's angular size).
    rc = cam.project(np.array([0.0, 0.0, 10000.0 - 125.0]), PITCH, SHAPE)
    assert rc[1] == pytest.approx(0.0)
    pix = cam.pixel_scattering_angle_deg(PITCH, SHAPE)
    assert pix[40, 0] == pytest.approx(cam.scattering_angle_deg(np.array([0.0, -125.0, 10000.0 - 125.0])), abs=1e-9)


def test_solid_angle_closed_form():
    cam = PinholeCamera(channel="knife_edge")
    a = 160000.0
    omega0 = math.pi * 100.0**2 / a**2  # A / a^2 on the axis = 1.227e-6 sr
    assert cam.solid_angle_sr(np.zeros(3)) == pytest.approx(omega0, rel=1e-12)
    assert omega0 == pytest.approx(1.2272e-6, rel=1e-4)
    p = np.array([0.0, 3000.0, 4000.0])
    cos_alpha = a / math.sqrt(a**2 + 5000.0**2)
    assert cam.solid_angle_sr(p) == pytest.approx(omega0 * cos_alpha**3, rel=1e-12)


def test_cylindrical_channel_vignetting():
    cam = PinholeCamera()
    # Cut-off at tan(alpha) = d / L = 0.1, i.e. 5.71 deg: the source's acceptance angle.
    assert cam.open_fraction(0.0) == 1.0
    assert cam.open_fraction(math.degrees(math.atan(0.1))) == pytest.approx(0.0, abs=1e-12)
    # c = L tan(alpha) / d = 1/2: overlap of two unit circles at half a diameter (2/pi)(pi/3 - sqrt(3)/4).
    alpha = math.degrees(math.atan(0.05))
    assert cam.open_fraction(alpha) == pytest.approx(2 / math.pi * (math.pi / 3 - math.sqrt(3) / 4), rel=1e-12)
    assert cam.open_fraction(6.0) == 0.0


def test_blur_kernel():
    cam = PinholeCamera()
    assert cam.blur_on_detector_um == pytest.approx(400.0)
    assert cam.blur_at_sheet_um == pytest.approx(400.0)
    k = cam.blur_kernel(PITCH, 4)
    assert k.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(k, k[::-1, ::-1])
    # Second moment of a uniform disc of radius R: R^2 / 4 per axis (in sub-pixels of 62.5 um).
    r = 200.0 / 62.5
    n = k.shape[0] // 2
    x = np.arange(-n, n + 1)
    assert (k.sum(axis=0) * x**2).sum() == pytest.approx(r**2 / 4 + 1 / 12, rel=0.03)
    assert cam.field_of_view_mm(PITCH, SHAPE) == (20.0, 20.0)


@pytest.mark.parametrize("kwargs, match", [
    ({"angle_deg": 0.0}, "angle_deg"),
    ({"angle_deg": 180.0}, "angle_deg"),
    ({"angle_deg": 3.0}, "angle_deg"),
    ({"acceptance_deg": 0.0}, "acceptance_deg"),
    ({"pinhole_diameter_um": -1.0}, "pinhole_diameter_um"),
    ({"pinhole_to_sheet_mm": 0.0}, "pinhole_to_sheet_mm"),
    ({"channel": "square"}, "channel"),
])
def test_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PinholeCamera(**kwargs)


def test_refuses_points_of_wrong_shape_and_behind_pinhole():
    cam = PinholeCamera()
    with pytest.raises(ValueError, match="points_um"):
        cam.project(np.zeros(2), PITCH, SHAPE)
    with pytest.raises(ValueError, match="in front of the pinhole"):
        cam.project(np.array([200000.0, 0, 0]), PITCH, SHAPE)
