"""XCS simulation (forward/compton/simulate.py): eq. (1) of seeds/001 by hand, pixel mapping, Compton peak."""

import math

import numpy as np
import pytest
import xraylib

from forward.compton import physics
from forward.compton.camera import PinholeCamera
from forward.compton.simulate import coin_cell_cathode, sheet_scatter, simulate
from twin import materials
from twin.container import Twin
from twin.generators.coin_cell import coin_cell

VOXEL = 100.0
R_E_CM = 2.8179403262e-13  # classical electron radius, CODATA 2018
ELECTRON_KEV = 510.99895
E1 = 114.64
FLUX, EXPOSURE = 1e12, 10.0


def slab_twin():
    """Li metal filling slices 0-3 of a 6 x 20 x 20 grid (100 um voxels), vacuum above."""
    labels = np.zeros((6, 20, 20), np.uint8)
    labels[:4] = 1
    return Twin(labels, VOXEL, {0: materials.get("vacuum"), 1: materials.get("Li metal")})


def test_uniform_slab_matches_hand_computed_eq1():
    twin = slab_twin()
    li = materials.get("Li metal")
    cam = PinholeCamera(channel="knife_edge")
    sc = sheet_scatter(twin, sheet_z_um=250.0, sheet_thickness_um=100.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE,
                       camera=cam, polarisation=1.0)
    assert sc.points_um.shape == (400, 3)  # one slice of 20 x 20 voxels
    # Independent hand computation, grid frame (z, y, x) in um.
    z, y, x = sc.points_um.T + np.array([[250.0], [1000.0], [1000.0]])
    pinhole = np.array([250.0 + 160000.0, 1000.0, 1000.0])
    d = pinhole[:, None] - np.array([z, y, x])
    r = np.linalg.norm(d, axis=0)
    cos_theta, ky, kz = d[2] / r, d[1] / r, d[0] / r
    mu1 = float(li.linear_attenuation_per_cm(E1)) * 1e-4  # 1/um
    e_axis = E1 / (1 + E1 / ELECTRON_KEV)  # Compton energy at 90 deg
    mu2 = float(li.linear_attenuation_per_cm(e_axis)) * 1e-4
    t1 = np.exp(-mu1 * x)  # beam enters at x = 0
    t2 = np.exp(-mu2 * (400.0 - z) / kz)  # slab top at 400 um, vacuum above
    ratio = 1 / (1 + E1 / ELECTRON_KEV * (1 - cos_theta))
    # Polarised Klein-Nishina, polarisation along y: (r_e^2/2) r^2 (r + 1/r - 2 (k2 . y)^2).
    kn = 0.5 * R_E_CM**2 * ratio**2 * (ratio + 1 / ratio - 2 * ky**2)
    n_e = li.density_g_cm3 * 6.02214076e23 * 3 / xraylib.AtomicWeight(3)  # electrons / cm3
    omega = math.pi * 100.0**2 * kz / r**2
    phi0 = FLUX * EXPOSURE / (25000.0 * 100.0 * 1e-8)
    dv = VOXEL**3 * 1e-12
    expected = phi0 * t1 * t2 * n_e * dv * kn * omega
    np.testing.assert_allclose(sc.compton_counts, expected, rtol=1e-6)
    np.testing.assert_allclose(sc.t1, t1, rtol=1e-9)
    np.testing.assert_allclose(sc.t2_compton, t2, rtol=1e-6)
    assert sc.phi0_per_cm2 == pytest.approx(phi0)


def test_sheet_partly_inside_voxels_and_beam_width():
    twin = slab_twin()
    sc = sheet_scatter(twin, sheet_z_um=250.0, sheet_thickness_um=150.0, sheet_width_mm=1.0, flux_ph_per_s=FLUX,
                       exposure_s=EXPOSURE)
    # 150 um sheet centred at 250 um: slice 1 (100-200) holds 25 %, slice 2 all, slice 3 25 %; 10 of 20 rows lit.
    assert sc.volume_cm3.sum() == pytest.approx(1.5 * 10 * 20 * VOXEL**3 * 1e-12)


def test_point_source_maps_through_pinhole_inverted():
    labels = np.zeros((3, 64, 64), np.uint8)
    labels[1, 48, 20] = 1  # centre offset from the look-at point (3200, 3200): y = +1650 um, x = -1150 um
    twin = Twin(labels, 100.0, {0: materials.get("vacuum"), 1: materials.get("Li metal")})
    # Binning sub-pixels into pixels moves the centroid a little; the line area varies 1e-5 across the blur.
    for oversample, tol in ((1, 1e-4), (4, 0.03)):
        m = simulate(twin, sheet_z_um=150.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE, detector=None,
                     oversample=oversample)
        image = m.counts.sum(axis=2)
        rows, cols = np.indices(image.shape)
        centroid = ((image * rows).sum() / image.sum(), (image * cols).sum() / image.sum())
        # Inverted, magnification 1: row = 39.5 - 1650/250, col = 39.5 + 1150/250.
        np.testing.assert_allclose(centroid, (39.5 - 6.6, 39.5 + 4.6), atol=tol)
        assert np.unravel_index(np.argmax(image), image.shape) == (33, 44)
    # Every photon reaching the pinhole lands on the detector (no response): Compton x line area + Rayleigh.
    sim = m.metadata["simulation"]
    assert image.sum() == pytest.approx(sim["compton_counts_at_pinhole"] * _line_area(twin) +
                                        sim["rayleigh_counts_at_pinhole"], rel=2e-3)


def _line_area(twin):
    grid = np.arange(0.05, 114.64, 0.01)
    return float(physics.line_shape_per_kev(twin.phases[1], E1, 90.0, grid).sum() * 0.01)


def test_compton_peak_at_93_6_kev():
    twin = slab_twin()
    m = simulate(twin, sheet_z_um=250.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE, detector=None)
    centre = m.counts[38:42, 38:42].sum(axis=(0, 1))  # pixels near the axis: 90 deg
    assert m.energy_kev[np.argmax(centre)] == pytest.approx(93.6, abs=0.11)  # 93.65 keV closed form
    # The Rayleigh line sits at the incident energy, split between the nodes 114.5 and 114.7 keV (0.3 : 0.7);
    # above E1 there is no Compton scattering.
    lines = m.counts.sum(axis=(0, 1))
    k = int(np.searchsorted(m.energy_kev, 114.64))
    assert m.energy_kev[k] == pytest.approx(114.7)
    rayleigh = m.metadata["simulation"]["rayleigh_counts_at_pinhole"]
    assert lines[k] == pytest.approx(0.7 * rayleigh, rel=1e-9)
    assert lines[k + 1:].sum() == 0.0


def test_detector_noise_is_seeded_and_counts_are_integers():
    twin = slab_twin()
    kw = dict(sheet_z_um=250.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE)
    a, b = simulate(twin, seed=3, **kw), simulate(twin, seed=3, **kw)
    assert a == b and a.counts.dtype == np.int64 and a.counts.shape == (80, 80, 1000)
    expected = simulate(twin, noise=False, **kw)
    assert expected.counts.dtype == np.float64
    assert abs(a.counts.sum() - expected.counts.sum()) < 5 * math.sqrt(expected.counts.sum())


def test_coin_cell_cathode_recipe_matches_generator():
    twin = coin_cell(variant="lib", ndim=3, voxel_size_um=100.0, separator_thickness_um=100.0)
    at = coin_cell_cathode(twin)
    rebuilt = at(float(twin.truth["cathode/x_li_mean"]))
    original = twin.phases[int(twin.truth["cathode/label"])]
    assert rebuilt.density_g_cm3 == pytest.approx(original.density_g_cm3, rel=1e-12)
    for z, w in original.mass_fractions.items():
        assert rebuilt.mass_fractions[z] == pytest.approx(w, rel=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sheet_z_um": -5.0}, ValueError, "sheet_z_um"),
    ({"flux_ph_per_s": 0.0}, ValueError, "flux_ph_per_s"),
    ({"exposure_s": -1.0}, ValueError, "exposure_s"),
    ({"polarisation": 2.0}, ValueError, "polarisation"),
    ({"field_materials": "guess"}, ValueError, "field_materials"),
    ({"detector": "medipix"}, ValueError, "detector"),
    ({"camera": "pinhole"}, TypeError, "camera"),
])
def test_refusals(kwargs, error, match):
    args = dict(sheet_z_um=250.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        simulate(slab_twin(), **args)


def test_refuses_2d_twin_and_angle_zero():
    flat = Twin(np.ones((4, 10), np.uint8), VOXEL, {1: materials.get("Li metal")})
    with pytest.raises(ValueError, match="3D twin"):
        simulate(flat, sheet_z_um=100.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE)
    with pytest.raises(ValueError, match="angle_deg"):
        simulate(slab_twin(), sheet_z_um=250.0, flux_ph_per_s=FLUX, exposure_s=EXPOSURE,
                 camera=PinholeCamera(angle_deg=0.0))
