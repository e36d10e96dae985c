"""Area detectors: pixel q, solid angle, azimuthal integration and counts against closed forms."""

import math

import numpy as np
import pytest

from forward.saxs.detector import (EIGER_9M, PILATUS_2M, PILATUS_300K_W, AreaDetector, expected_counts,
                                   poisson_curves, q_from_two_theta, sensor_efficiency, wavelength_A)

HC = 12.398419843320026  # keV A (CODATA 2018)


def _rectangle_solid_angle(x1, x2, y1, y2, L):
    """Solid angle of the rectangle [x1, x2] x [y1, y2] in a plane at distance L, seen from the origin on its normal.

    Sum of corner terms F(x, y) = atan(x y / (L sqrt(L^2 + x^2 + y^2))); for a centred 2a x 2b rectangle this is
    4 atan(a b / (L sqrt(L^2 + a^2 + b^2))).
    """
    def f(x, y):
        return math.atan(x * y / (L * math.sqrt(L * L + x * x + y * y)))
    return f(x2, y2) - f(x1, y2) - f(x2, y1) + f(x1, y1)


def test_presets_are_the_datasheet_detectors():
    # Dectris datasheets: EIGER2 X 9M 3108 x 3262 px of 75 um; PILATUS 2M 1475 x 1679 px and PILATUS 300K-W
    # 1475 x 195 px of 172 um (W x H); the 300K-W stands as a vertical strip (seeds/000 Methods).
    assert EIGER_9M.shape == (3262, 3108) and EIGER_9M.pixel_um == 75.0
    assert PILATUS_2M.shape == (1679, 1475) and PILATUS_2M.pixel_um == 172.0
    assert PILATUS_300K_W.shape == (1475, 195) and PILATUS_300K_W.pixel_um == 172.0
    # seeds/000 Methods: about 2 m (SAXS) and 0.6 m (WAXS).
    assert EIGER_9M.distance_m == PILATUS_2M.distance_m == 2.0 and PILATUS_300K_W.distance_m == 0.6
    assert EIGER_9M.beam_centre_px == (1630.5, 1553.5)


def test_wavelength_and_q_of_a_pixel_by_hand():
    assert wavelength_A(13.2) == pytest.approx(0.939274, rel=1e-6)
    # Pixel (0, 0) of the Eiger 9M at 2 m, 13.2 keV: x = -1553.5 px, y = -1630.5 px of 75 um from the beam.
    x, y, L = 1553.5 * 75e-6, 1630.5 * 75e-6, 2.0
    two_theta = math.atan(math.hypot(x, y) / L)
    q = 4 * math.pi * math.sin(two_theta / 2) / (HC / 13.2)
    assert EIGER_9M.q_inv_A(13.2)[0, 0] == pytest.approx(q, rel=1e-12)
    assert q == pytest.approx(0.5634, abs=1e-4)
    # A pixel 100 columns right of the beam on a small detector: r = 100 x 172 um at 1 m, 10 keV.
    d = AreaDetector("test", (11, 201), 172.0, 1.0, beam_centre_px=(5, 100))
    two_theta = math.atan(100 * 172e-6 / 1.0)
    assert d.q_inv_A(10.0)[5, 200] == pytest.approx(4 * math.pi * math.sin(two_theta / 2) / (HC / 10.0), rel=1e-12)
    assert d.q_inv_A(10.0)[5, 100] == 0.0
    assert q_from_two_theta(math.pi, 12.398419843320026) == pytest.approx(4 * math.pi)


def test_q_range_of_the_saxs_and_waxs_detectors_at_13_2_kev():
    lam = HC / 13.2
    q_min, q_max = EIGER_9M.q_range(13.2)
    # Largest q at the far corner (see above); smallest just outside the 1 mm beamstop.
    assert q_max == pytest.approx(EIGER_9M.q_inv_A(13.2)[0, 0], rel=1e-12)
    q_stop = 4 * math.pi * math.sin(math.atan(1e-3 / 2.0) / 2) / lam  # 0.00334 1/A
    q_next = 4 * math.pi * math.sin(math.atan(1.075e-3 / 2.0) / 2) / lam
    assert q_stop <= q_min <= q_next
    # seeds/000 uses q = 0.0045-0.007 (particle surfaces) and 0.12-0.5 1/A (micropores) from the SAXS detector.
    assert q_min < 0.0045 and q_max > 0.5
    # WAXS strip: top edge 30 mm below the beam, 253.7 mm long, at 0.6 m.
    q_min_w, q_max_w = PILATUS_300K_W.q_range(13.2)
    r_top = 30e-3 + 86e-6
    assert q_min_w == pytest.approx(4 * math.pi * math.sin(math.atan(r_top / 0.6) / 2) / lam, rel=1e-9)
    assert q_min_w == pytest.approx(0.3351, abs=1e-4) and q_max_w == pytest.approx(2.934, abs=1e-3)
    # It covers PVDF (1.45), the 002 peak (1.6-1.7), Na metal (2.07) and pseudo-metallic Na (2.1), beyond 2.2.
    assert q_min_w < 1.45 and q_max_w > 2.2


def test_solid_angle_of_the_whole_detector_against_the_rectangle_formula():
    # Centred 2a x 2b rectangle: Omega = 4 atan(ab / (L sqrt(L^2 + a^2 + b^2))).
    for d in (EIGER_9M, PILATUS_2M):
        a = d.shape[1] * d.pixel_um * 1e-6 / 2
        b = d.shape[0] * d.pixel_um * 1e-6 / 2
        L = d.distance_m
        closed = 4 * math.atan(a * b / (L * math.sqrt(L * L + a * a + b * b)))
        assert d.solid_angle_sr().sum() == pytest.approx(closed, rel=1e-4)
    # The off-axis WAXS strip against the corner sum of the same formula.
    d = PILATUS_300K_W
    p = d.pixel_um * 1e-6
    r0, c0 = d.beam_centre_px
    y1, y2 = (-0.5 - r0) * p, (d.shape[0] - 0.5 - r0) * p
    x1, x2 = (-0.5 - c0) * p, (d.shape[1] - 0.5 - c0) * p
    assert d.solid_angle_sr().sum() == pytest.approx(_rectangle_solid_angle(x1, x2, y1, y2, d.distance_m), rel=1e-4)


def _guinier(q, rg=15.0):
    return 5.0 * np.exp(-(q * rg) ** 2 / 3) + 0.01


def _porod(q):
    # eq. 2 of seeds/000 with alpha = 4 (smooth surfaces) plus a flat background, 1/cm.
    return 1e-6 * q ** -4.0 + 0.05


def test_integrator_recovers_an_isotropic_curve():
    d = AreaDetector("test", (400, 500), 172.0, 2.0, beam_centre_px=(180.3, 240.7), beamstop_radius_mm=2.0)
    q_curve = np.geomspace(1e-3, 0.2, 4000)
    for curve_function in (_porod, _guinier):
        image = d.image(q_curve, curve_function(q_curve), 13.2)
        assert image[d.mask()].sum() == 0
        curve = d.azimuthal_integrate(image, 13.2, 200)
        assert curve.n_q == 200 and curve.metadata["energy_kev"] == 13.2
        # The bin value is the solid-angle-weighted mean of I over the bin's pixels; with 200 log bins
        # (1.6 % wide) its second-order difference from I(mean q), I'' var(q) / 2, stays below 1e-3.
        assert np.allclose(curve.intensity_per_cm, curve_function(curve.q_inv_A), rtol=1e-3, atol=0)
        # A mask removes pixels without biasing the average.
        mask = np.zeros(d.shape, bool)
        mask[:, :100] = True
        masked = d.azimuthal_integrate(image, 13.2, 200, mask)
        assert np.allclose(masked.intensity_per_cm, curve_function(masked.q_inv_A), rtol=1e-3, atol=0)
    # Integrating a flat image of I x Omega returns I exactly, whatever the bins.
    flat = d.azimuthal_integrate(2.5 * d.solid_angle_sr(), 13.2, 37)
    assert np.allclose(flat.intensity_per_cm, 2.5, rtol=1e-12)


def test_integrated_poisson_counts_have_consistent_uncertainties():
    d = AreaDetector("test", (300, 300), 172.0, 2.0, beamstop_radius_mm=1.0)
    q_curve = np.geomspace(1e-3, 0.2, 2000)
    norm = 1e11 * 0.1 * 0.8 * 0.05 * 0.9  # flux t T d efficiency
    expected = d.image(q_curve, _guinier(q_curve), 13.2, scale=norm)
    counts = np.random.default_rng(11).poisson(expected)
    curve = d.azimuthal_integrate(counts, 13.2, 30, normalisation=norm, poisson=True)
    z = (curve.intensity_per_cm - _guinier(curve.q_inv_A)) / curve.sigma_per_cm
    assert abs(z.mean()) < 0.5 and 0.6 < z.std() < 1.4


def test_expected_counts_by_hand():
    # N = flux t T d I dOmega eff = 1e11 x 0.1 x 0.5 x 0.05 x 2 x 1e-6 x 0.8 = 400.
    n = expected_counts([2.0], [1e-6], flux_ph_per_s=1e11, exposure_s=0.1, transmission=0.5, thickness_cm=0.05,
                        efficiency=0.8)
    assert n[0] == pytest.approx(400.0, rel=1e-12)
    # A map: per-curve transmission and thickness broadcast over q.
    n = expected_counts(np.ones((2, 3)), [1e-6, 2e-6, 3e-6], flux_ph_per_s=1e10, exposure_s=1.0,
                        transmission=[1.0, 0.5], thickness_cm=[0.1, 0.1])
    assert np.allclose(n, [[1e3, 2e3, 3e3], [500, 1e3, 1500]], rtol=1e-12)


def test_poisson_curves_are_seeded_and_unbiased():
    q = np.array([0.01, 0.1])
    intensity = np.broadcast_to([2.0, 0.5], (2000, 2))
    a = poisson_curves(q, intensity, [1e-6, 1e-6], flux_ph_per_s=1e11, exposure_s=0.1, thickness_cm=0.05, seed=4)
    b = poisson_curves(q, intensity, [1e-6, 1e-6], flux_ph_per_s=1e11, exposure_s=0.1, thickness_cm=0.05, seed=4)
    assert np.array_equal(a.counts, b.counts)
    assert np.allclose(a.expected[0], [1000.0, 250.0])
    assert np.allclose(a.relative_error[0], [1 / math.sqrt(1000), 1 / math.sqrt(250)])
    curves = a.curves()
    # Mean of 2000 draws within 4 standard errors of the truth.
    assert np.allclose(curves.intensity_per_cm.mean(0), [2.0, 0.5], rtol=4 / math.sqrt(2000 * 250))
    assert curves.sigma_per_cm[0, 0] == pytest.approx(math.sqrt(a.counts[0, 0]) / (1e11 * 0.1 * 0.05 * 1e-6))


def test_detector_counts_on_the_saxs_detector():
    q_curve = np.geomspace(1e-3, 1.0, 3000)
    c = PILATUS_2M.counts(q_curve, _guinier(q_curve), 13.2, flux_ph_per_s=1e11, exposure_s=0.1, thickness_cm=0.05,
                          transmission=0.9, n_bins=50, seed=1)
    eff = sensor_efficiency(13.2)
    assert np.allclose(c.expected, 1e11 * 0.1 * 0.9 * 0.05 * _guinier(c.q_inv_A) * c.solid_angle_sr * eff, rtol=1e-3)
    # The bins hold the whole unmasked detector.
    assert c.solid_angle_sr.sum() == pytest.approx(PILATUS_2M.solid_angle_sr()[~PILATUS_2M.mask()].sum(), rel=1e-12)


def test_sensor_efficiency_against_nist():
    # NIST XCOM / Hubbell & Seltzer: Si mu/rho(15 keV) = 10.34 cm2/g; 450 um of 2.329 g/cm3.
    assert sensor_efficiency(15.0, 450.0) == pytest.approx(1 - math.exp(-10.34 * 2.329 * 0.045), rel=0.01)
    assert AreaDetector("x", (2, 2), 75, 1, efficiency=0.5).efficiency_at(13.2) == 0.5


def test_detector_refusals():
    with pytest.raises(ValueError, match=r"distance_m=2000: expected a sample-detector distance in metres \(did you "
                                         r"pass mm\? 2000 mm is 2 m\)"):
        AreaDetector("x", (10, 10), 75.0, 2000)
    with pytest.raises(ValueError, match=r"shape=\(10,\): expected \(rows, columns\)"):
        AreaDetector("x", (10,), 75.0, 2.0)
    with pytest.raises(ValueError, match=r"shape\[1\]=0: expected an integer >= 1"):
        AreaDetector("x", (10, 0), 75.0, 2.0)
    with pytest.raises(ValueError, match=r"pixel_um=-75: expected a finite number > 0 \(in um\)"):
        AreaDetector("x", (10, 10), -75, 2.0)
    with pytest.raises(ValueError, match=r"beam_centre_px\[0\]=nan: expected a finite number"):
        AreaDetector("x", (10, 10), 75.0, 2.0, beam_centre_px=(float("nan"), 1))
    with pytest.raises(ValueError, match=r"efficiency=0: expected a number in \(0, 1\] or None"):
        AreaDetector("x", (10, 10), 75.0, 2.0, efficiency=0)
    d = AreaDetector("x", (10, 10), 75.0, 2.0)
    with pytest.raises(ValueError, match="energy_kev=13200.*did you pass eV"):
        d.q_inv_A(13200)
    with pytest.raises(ValueError, match=r"image: expected shape \(10, 10\), got \(5, 5\)"):
        d.azimuthal_integrate(np.ones((5, 5)), 13.2)
    with pytest.raises(ValueError, match="mask: every pixel is masked"):
        d.azimuthal_integrate(np.ones((10, 10)), 13.2, 5, np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="q_bins: expected an int, QBins or increasing edges"):
        d.azimuthal_integrate(np.ones((10, 10)), 13.2, [0.2, 0.1])
    with pytest.raises(ValueError, match="q_bins: no pixel falls in the bins"):
        d.azimuthal_integrate(np.ones((10, 10)), 13.2, [1.0, 2.0])
    with pytest.raises(ValueError, match="spacing='cubic': expected one of 'log', 'linear'"):
        d.q_bins(13.2, 10, spacing="cubic")
    with pytest.raises(ValueError, match="intensity_per_cm: expected intensities >= 0"):
        expected_counts([-1.0], [1e-6], flux_ph_per_s=1, exposure_s=1)
    with pytest.raises(ValueError, match=r"transmission=1.5: expected values in \(0, 1\]"):
        expected_counts([1.0], [1e-6], flux_ph_per_s=1, exposure_s=1, transmission=1.5)
    with pytest.raises(ValueError, match=r"thickness_cm=0: expected thicknesses > 0"):
        expected_counts([1.0], [1e-6], flux_ph_per_s=1, exposure_s=1, thickness_cm=0)
    with pytest.raises(ValueError, match=r"solid_angle_sr: expected 1 solid angles >= 0"):
        expected_counts([1.0], [1e-6, 1e-6], flux_ph_per_s=1, exposure_s=1)
    with pytest.raises(ValueError, match=r"exposure_s=0: expected a finite number > 0 \(in s\)"):
        expected_counts([1.0], [1e-6], flux_ph_per_s=1, exposure_s=0)


def test_log_bins_leave_out_a_pixel_on_the_direct_beam():
    # 3 x 3 pixels without a beamstop: the centre pixel sits on the beam at q = 0, which no log bin can hold.
    det = AreaDetector("tiny", (3, 3), 1000.0, 1.0, beam_centre_px=(1.0, 1.0))
    bins = det.q_bins(13.2, 2)
    q = det.q_inv_A(13.2)
    assert bins.n_pixels.sum() == 8
    assert bins.edges_inv_A[0] == pytest.approx(q[q > 0].min(), rel=1e-8)
