"""Tests of forward/saxs/scan.py: path sums, transmission, beam footprint, counts, operando, projections.

References are closed forms: a uniform slab of thickness L with dSigma/dOmega = I and attenuation mu
sends ``I L exp(-mu L)`` per sr per incident photon to the detector and ``exp(-mu L)`` to the
diode (the standard transmission geometry of SAXS; seeds/000 Methods corrects "by the diode
data"); a Gaussian beam of standard deviation sigma puts ``erf(s / (2 sqrt(2) sigma))`` of its
photons on a voxel of edge s centred on it; a top-hat of width w straddling two regions weights
them by their overlap lengths; Poisson counts have variance equal to their mean.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pytest
from scipy.special import erf

from forward.saxs import scan
from forward.saxs.detector import AreaDetector
from forward.saxs.scan import ScanningSWAXS, beam_weights, raster, tomography_projections
from twin import materials
from twin.container import Twin
from twin.generators.capillary import capillary_cell

ENERGY = 13.2
Q = np.array([0.02, 0.05, 0.1, 0.2, 0.3])   # all on the Eiger 9M at 2 m (0.0033-0.56 1/A)
#: A coarse stand-in SAXS detector (401 x 401 pixels of 1 mm at 2 m, q up to 0.66 1/A) and WAXS strip, so
#: that the tests do not histogram the Eiger's 10 M pixels each time; the physics is the same.
SMALL = ScanningSWAXS(saxs=AreaDetector("small SAXS", (401, 401), 1000.0, 2.0, beamstop_radius_mm=1.5),
                      waxs=AreaDetector("small WAXS", (300, 40), 1000.0, 0.6, beam_centre_px=(-30.5, 19.5)),
                      n_saxs_bins=40, n_waxs_bins=60)


@dataclass
class FlatTerms:
    """Per-voxel scatterer with I(q) = value (1 + q) 1/cm: an independent stand-in for HardCarbonTerms."""

    value: np.ndarray

    def intensity_per_cm(self, q_inv_A):
        return np.outer(self.value, 1.0 + np.asarray(q_inv_A))


def slab_twin(shape=(30, 10, 40), material="quartz glass", voxel_um=10.0) -> Twin:
    labels = np.ones(shape, dtype=np.uint8)
    return Twin(labels, voxel_um, {1: materials.get(material)})


def flat(twin: Twin, value=2.0, where=None):
    mask = np.ones(twin.shape, bool) if where is None else where
    return mask, FlatTerms(np.full(int(mask.sum()), float(value)))


def centre_points(twin: Twin):
    nz, _, nx = twin.shape
    s = twin.voxel_size_um
    return np.array([nz * s / 2 - 15, nz * s / 2, nz * s / 2 + 15]), np.array([-25.0, 0.0, 25.0])


# ---------------------------------------------------------------------- slab closed forms
def test_uniform_slab_scattered_intensity_is_I_L_exp_minus_mu_L():
    tw = slab_twin()
    mu = float(materials.get("quartz glass").linear_attenuation_per_cm(ENERGY))   # 18.55 1/cm
    length_cm = tw.shape[1] * tw.voxel_size_um * 1e-4                                 # 100 um
    z, x = centre_points(tw)
    result = raster(tw, replace(SMALL, thickness_um=100.0), q_inv_A=Q, noise=False, z_um=z, x_um=x,
                    scattering=flat(tw, 2.0))
    expected = 2.0 * (1 + Q) * length_cm * math.exp(-mu * length_cm)
    np.testing.assert_allclose(result.scattering_per_sr, np.broadcast_to(expected, (3, 3, Q.size)), rtol=1e-9)
    np.testing.assert_allclose(result.transmission, math.exp(-mu * length_cm), rtol=1e-12)
    # Transmission-corrected and normalised to the slab's own thickness: dSigma/dOmega itself.
    np.testing.assert_allclose(result.curves.intensity_per_cm, np.broadcast_to(2.0 * (1 + Q), (3, 3, Q.size)),
                               rtol=1e-9)
    assert result.curves.shape == (3, 3)
    np.testing.assert_array_equal(result.curves.positions_um[1, 2], [z[1], x[2]])


def test_thickness_normalisation_scales_inversely():
    tw = slab_twin()
    z, x = centre_points(tw)
    a = raster(tw, replace(SMALL, thickness_um=100.0), q_inv_A=Q, noise=False, z_um=z, x_um=x, scattering=flat(tw))
    b = raster(tw, replace(SMALL, thickness_um=1500.0), q_inv_A=Q, noise=False, z_um=z, x_um=x,
               scattering=flat(tw))
    np.testing.assert_allclose(b.curves.intensity_per_cm * 15.0, a.curves.intensity_per_cm, rtol=1e-12)


def test_diode_is_exp_of_path_sum_over_two_materials():
    # Along the beam (y): 4 voxels of quartz then 6 of electrolyte: T = exp(-(mu_q 40 um + mu_e 60 um)).
    labels = np.full((30, 10, 40), 2, dtype=np.uint8)
    labels[:, :4] = 1
    tw = Twin(labels, 10.0, {1: materials.get("quartz glass"), 2: materials.get("NaPF6 EC:PC")})
    mu_q = float(materials.get("quartz glass").linear_attenuation_per_cm(ENERGY))
    mu_e = float(materials.get("NaPF6 EC:PC").linear_attenuation_per_cm(ENERGY))
    z, x = centre_points(tw)
    r = raster(tw, SMALL, q_inv_A=Q, noise=False, z_um=z, x_um=x, scattering=flat(tw))
    np.testing.assert_allclose(r.transmission, math.exp(-(mu_q * 40e-4 + mu_e * 60e-4)), rtol=1e-12)


def test_tophat_beam_straddling_two_columns_weights_by_overlap():
    # Steel (T ~ e^-6.3 over 100 um) for x < 0, vacuum (T = 1) for x >= 0; a 25 um top-hat centred at
    # x = -5 um spans [-17.5, 7.5] um: 17.5 um on steel, 7.5 um on vacuum: T = 0.7 exp(-mu L) + 0.3.
    labels = np.ones((30, 10, 40), dtype=np.uint8)
    labels[:, :, 20:] = 2
    tw = Twin(labels, 10.0, {1: materials.get("stainless steel"), 2: materials.get("vacuum")})
    mu = float(materials.get("stainless steel").linear_attenuation_per_cm(ENERGY))
    settings = replace(SMALL, beam_profile="tophat")
    r = raster(tw, settings, q_inv_A=Q, noise=False, z_um=[150.0], x_um=[-5.0],
               scattering=flat(tw, 1.0, labels == 2))
    np.testing.assert_allclose(r.transmission[0, 0], 0.7 * math.exp(-mu * 100e-4) + 0.3, rtol=1e-12)
    # Only the vacuum part scatters (a stand-in value): <T S> = 0.3 x 1 x (1 + q) x 100 um.
    np.testing.assert_allclose(r.scattering_per_sr[0, 0], 0.3 * (1 + Q) * 100e-4, rtol=1e-12)


def test_beam_outside_the_grid_sees_air():
    tw = slab_twin()
    r = raster(tw, SMALL, q_inv_A=Q, noise=False, z_um=[150.0], x_um=[1000.0], scattering=flat(tw))
    assert r.transmission[0, 0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(r.scattering_per_sr == 0)


# ---------------------------------------------------------------------- beam footprint
def test_gaussian_weight_of_a_centred_voxel_is_erf():
    sigma = 15.0 / (2 * math.sqrt(2 * math.log(2)))
    w = beam_weights([5.0], 1, 10.0, 15.0, "gaussian", origin_um=0.0)
    assert w[0, 0] == pytest.approx(erf(10.0 / (2 * math.sqrt(2) * sigma)), rel=1e-12)


@pytest.mark.parametrize("profile", ["gaussian", "tophat"])
def test_footprint_preserves_the_total(profile):
    # Each beam inside the grid puts all of its photons on the grid...
    w = beam_weights(np.linspace(200, 800, 7), 100, 10.0, 25.0, profile)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)
    # ...and a raster with step = voxel integrates any map exactly: sum_r (W M)_r = sum_j M_j.
    m = np.random.default_rng(1).random(100)
    m[:10] = m[-10:] = 0.0
    centres = (np.arange(-20, 120) + 0.5) * 10.0
    wr = beam_weights(centres, 100, 10.0, 25.0, profile)
    assert (wr @ m).sum() == pytest.approx(m.sum(), rel=1e-12)


def test_map_of_a_point_scatterer_has_the_beam_shape():
    # One scattering voxel (10 um) in vacuum, scanned in x through a 25 um FWHM Gaussian:
    # the map is the Gaussian's integral over the voxel, erf differences at each position.
    labels = np.ones((30, 10, 40), dtype=np.uint8)
    tw = Twin(labels, 10.0, {1: materials.get("vacuum")})
    where = np.zeros(tw.shape, bool)
    where[15, 5, 20] = True
    x = np.arange(-40.0, 41.0, 5.0)
    r = raster(tw, SMALL, q_inv_A=Q[:1], noise=False, z_um=[155.0], x_um=x, scattering=flat(tw, 1.0, where))
    sx, sz = ScanningSWAXS().sigma_um
    fx = 0.5 * (erf((10.0 - x) / (math.sqrt(2) * sx)) - erf((0.0 - x) / (math.sqrt(2) * sx)))
    fz = erf(5.0 / (math.sqrt(2) * sz))
    np.testing.assert_allclose(r.scattering_per_sr[0, :, 0], 1.02 * 10e-4 * fx * fz, rtol=1e-9)


# ---------------------------------------------------------------------- counts
def test_poisson_counts_have_the_expected_mean_and_spread():
    tw = slab_twin()
    z = np.full(40, 150.0)
    x = np.linspace(-50, 50, 50)
    settings = replace(SMALL, thickness_um=100.0, flux_ph_per_s=1e9)   # 100-7000 counts: visible noise
    r = raster(tw, settings, q_inv_A=Q, noise=True, seed=3, z_um=z, x_um=x, scattering=flat(tw, 2.0))
    n = r.expected_counts[0, 0]
    assert np.all(n > 20)
    i = r.curves.intensity_per_cm.reshape(-1, Q.size)
    truth = 2.0 * (1 + Q)
    # Mean of 2000 draws within 4 standard errors; relative spread 1/sqrt(N) within 10 %.
    np.testing.assert_allclose(i.mean(axis=0), truth, atol=4 * float(np.max(truth / np.sqrt(n * 2000))))
    np.testing.assert_allclose(i.std(axis=0) / truth, 1 / np.sqrt(n), rtol=0.1)
    np.testing.assert_allclose(np.median(r.curves.sigma_per_cm.reshape(-1, Q.size), axis=0) / truth,
                               1 / np.sqrt(n), rtol=0.1)
    again = raster(tw, settings, q_inv_A=Q, noise=True, seed=3, z_um=z, x_um=x, scattering=flat(tw, 2.0))
    np.testing.assert_array_equal(again.curves.intensity_per_cm, r.curves.intensity_per_cm)


def test_expected_counts_follow_flux_exposure_solid_angle_and_efficiency():
    tw = slab_twin()
    settings = SMALL
    r = raster(tw, settings, q_inv_A=Q, noise=False, z_um=[150.0], x_um=[0.0], scattering=flat(tw))
    omega = scan._solid_angles_for(Q, settings)
    eff = settings.saxs.efficiency_at(ENERGY)
    expected = 1e11 * 0.1 * eff * omega * r.scattering_per_sr[0, 0]
    np.testing.assert_allclose(r.expected_counts[0, 0], expected, rtol=1e-12)


# ---------------------------------------------------------------------- the capillary cell
def test_capillary_line_scan_2d_sees_pin_and_electrode():
    tw = capillary_cell(ndim=2)
    r = raster(tw, SMALL, noise=False)
    assert r.curves.shape == (tw.shape[0] * 10 // 15, 1)
    t = r.transmission[:, 0]
    z = r.z_um
    pin_top = float(tw.truth["pin/top_z_um"])
    apex = pin_top + float(tw.truth["electrode/cap_height_um"])
    # Through 1 mm of steel (mu = 630 1/cm) the diode reads ~e^-63: below the 0.1 of seeds/000.
    assert np.all(t[(z > 40) & (z < pin_top - 10)] < 0.1)
    assert t.min() < 1e-20
    assert np.all(t[z > pin_top + 20] > 0.1)
    micro = r.curves.region_mean(0.12, 0.3)[:, 0]
    electrode = (z > pin_top + 20) & (z < apex - 60)
    electrolyte = z > apex + 40
    assert micro[electrode].min() > 5 * micro[electrolyte].max()


def test_default_3d_capillary_raster_shape_and_units():
    tw = capillary_cell()
    r = raster(tw, noise=True)
    n_rows, n_cols = 900 // 15, int(1840 // 25)
    assert r.curves.shape == (n_rows, n_cols)
    assert r.q_inv_A[0] < 0.005 and r.q_inv_A[-1] > 2.5
    assert np.all(np.diff(r.q_inv_A) > 0)
    assert r.metadata["soc"] == 0.0


def test_operando_series_follows_the_sodiation_path():
    tw = capillary_cell(ndim=2)
    scans = scan.operando(tw, times_min=[0.0, 65.0], settings=SMALL, noise=False)
    assert [s.metadata["time_min"] for s in scans] == [0.0, 65.0]
    assert scans[1].metadata["soc"] == pytest.approx(65 * 0.8 / 60)
    z = scans[0].z_um
    pin_top = float(tw.truth["pin/top_z_um"])
    rows = (z > pin_top + 20) & (z < pin_top + 200)
    before = scans[0].curves.region_mean(0.12, 0.4)[rows, 0]
    after = scans[1].curves.region_mean(0.12, 0.4)[rows, 0]
    assert np.all(after < before)             # pore filling lowers the micropore intensity (seeds/000 Fig. 5)
    by_soc = scan.operando(tw, [0.0, 65 * 0.8 / 60], settings=SMALL, noise=False)
    np.testing.assert_allclose(by_soc[1].curves.intensity_per_cm, scans[1].curves.intensity_per_cm, rtol=1e-6)


# ---------------------------------------------------------------------- tomography projections
def test_projections_of_a_ball_are_chords_after_transmission_correction():
    n, s, radius = 40, 10.0, 120.0
    c = (np.arange(n) - (n - 1) / 2) * s
    yy, xx = np.meshgrid(c, c, indexing="ij")
    ball2d = np.hypot(yy, xx) <= radius
    labels = np.where(np.broadcast_to(ball2d, (3, n, n)), 1, 2).astype(np.uint8)
    tw = Twin(labels, s, {1: materials.get("quartz glass"), 2: materials.get("vacuum")})
    p = tomography_projections(tw, Q[:2], [0.0, 45.0, 90.0], settings=SMALL, beam=False,
                               scattering=flat(tw, 3.0, labels == 1))
    assert p.scattering.shape == (2, 3, 3, p.transmission.shape[-1])
    corrected = p.corrected()
    centre = p.transmission.shape[-1] // 2
    u = p.metadata["columns_um"]
    j = int(np.argmin(np.abs(u)))
    chord_cm = 2 * radius * 1e-4
    # Voxelised disc: chord within one voxel of 2R (Kak & Slaney sec. 3.2).
    assert corrected[0, 0, 1, j] == pytest.approx(3.0 * 1.02 * chord_cm, abs=3.0 * 1.02 * s * 1e-4)
    mu = float(materials.get("quartz glass").linear_attenuation_per_cm(ENERGY))
    assert -math.log(p.transmission[0, 1, j]) == pytest.approx(mu * chord_cm, abs=mu * s * 1e-4)
    # Area of the section: sum over columns x pixel equals I x voxel count x s^2 (Joseph conserves mass).
    # Exact along the grid axes (0 and 90 deg); Joseph's linear interpolation at 45 deg conserves it to
    # about half a percent here.
    total = corrected[0, :, 1].sum(axis=-1) * s * 1e-4
    area = 3.0 * 1.02 * ball2d.sum() * (s * 1e-4) ** 2
    np.testing.assert_allclose(total[[0, 2]], area, rtol=1e-5)
    assert total[1] == pytest.approx(area, rel=1e-2)
    assert centre > 0


def test_default_projection_angles_are_72_over_180_degrees():
    assert scan.TOMOGRAPHY_ANGLES_DEG.size == 72
    assert scan.TOMOGRAPHY_ANGLES_DEG[-1] == 177.5


# ---------------------------------------------------------------------- refusals
def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="beam_fwhm_um"):
        ScanningSWAXS(beam_fwhm_um=(25.0, -15.0))
    with pytest.raises(ValueError, match="beam_fwhm_um"):
        ScanningSWAXS(beam_fwhm_um=25.0)
    with pytest.raises(ValueError, match="eV"):
        ScanningSWAXS(energy_kev=13200.0)
    with pytest.raises(ValueError, match="beam_profile"):
        ScanningSWAXS(beam_profile="lorentzian")
    with pytest.raises(ValueError, match="exposure_s"):
        ScanningSWAXS(exposure_s=0.0)
    with pytest.raises(ValueError, match="flux_ph_per_s"):
        ScanningSWAXS(flux_ph_per_s=-1.0)
    with pytest.raises(TypeError, match="saxs"):
        ScanningSWAXS(saxs="eiger")
    with pytest.raises(ValueError, match="thickness_um"):
        ScanningSWAXS(thickness_um=0.0)


def test_bad_raster_input_is_refused():
    tw = slab_twin()
    with pytest.raises(TypeError, match="twin"):
        raster(np.zeros((3, 3, 3)))
    with pytest.raises(TypeError, match="settings"):
        raster(tw, {"energy_kev": 13.2}, scattering=flat(tw))
    with pytest.raises(ValueError, match="q_inv_A"):
        raster(tw, SMALL, q_inv_A=[0.2, 0.1], scattering=flat(tw))
    with pytest.raises(ValueError, match="q_inv_A"):
        raster(tw, SMALL, q_inv_A=[-0.1, 0.1], scattering=flat(tw))
    with pytest.raises(ValueError, match="no detector pixel"):
        raster(tw, SMALL, q_inv_A=[3.5, 4.0], scattering=flat(tw))
    with pytest.raises(TypeError, match="noise"):
        raster(tw, SMALL, q_inv_A=Q, noise=1, scattering=flat(tw))
    with pytest.raises(ValueError, match="seed"):
        raster(tw, SMALL, q_inv_A=Q, seed=-1, scattering=flat(tw))
    with pytest.raises(ValueError, match="mask"):
        raster(tw, SMALL, q_inv_A=Q, scattering=(np.ones((2, 2, 2), bool), FlatTerms(np.ones(8))))
    with pytest.raises(TypeError, match="scattering"):
        raster(tw, SMALL, q_inv_A=Q, scattering=np.ones(tw.shape))
    with pytest.raises(ValueError, match="x_um"):
        raster(tw, SMALL, q_inv_A=Q, x_um=[], scattering=flat(tw))


def test_bad_operando_and_tomography_input_is_refused():
    tw = capillary_cell(ndim=2)
    with pytest.raises(ValueError, match="give one of them"):
        scan.operando(tw, [0.1], times_min=[10.0])
    with pytest.raises(TypeError, match="capillary"):
        scan.operando(slab_twin(), [0.1])
    with pytest.raises(ValueError, match="socs"):
        scan.operando(tw, [])
    with pytest.raises(ValueError, match="radians"):
        tomography_projections(tw, Q, np.linspace(0, np.pi, 20), settings=SMALL)
    with pytest.raises(TypeError, match="beam"):
        tomography_projections(tw, Q, beam="yes")
