"""forward.compton.plan: counts and time for an EMF precision, resolution bias of the EMF, scan time."""

import json
import math

import numpy as np
import pytest
from scipy.special import erf

from forward.compton import detector as det
from forward.compton import physics
from forward.compton.plan import emf_with_resolution, plan_compton, pz_sigma_au
from twin import materials


def gaussian_emf(s):
    a, b = erf(1 / (s * np.sqrt(2))), erf(5 / (s * np.sqrt(2)))
    return a / (b - a)


def test_resolution_broadens_a_gaussian_profile_as_the_closed_form():
    s_j = 0.8

    def j(p):
        return np.exp(-p**2 / (2 * s_j**2)) / (s_j * np.sqrt(2 * np.pi))

    sig = np.array([0.0, 0.3, 0.47, 1.0])
    emf, f5 = emf_with_resolution(j, sig)
    # Trapezoid on a 0.005 a.u. grid: 1e-6 when smoothed, 1e-5 for the sharp (sigma = 0) windows.
    np.testing.assert_allclose(emf, gaussian_emf(np.sqrt(s_j**2 + sig**2)), rtol=2e-5)
    np.testing.assert_allclose(emf[1:], gaussian_emf(np.sqrt(s_j**2 + sig[1:]**2)), rtol=1e-6)
    np.testing.assert_allclose(f5, erf(5 / (np.sqrt(2 * (s_j**2 + sig**2)))), rtol=1e-6)


def test_resolution_in_pz_and_the_bias_for_nmc811():
    # 0.93 keV FWHM at the 93.6 keV peak: sigma_p = 0.93 / 2.3548 * dp_z/dE2.
    peak = physics.compton_energy_kev(114.64, 90.0)
    assert float(peak) == pytest.approx(93.63, abs=0.01)
    expect = 0.93 / (2 * math.sqrt(2 * math.log(2))) * physics.dpz_dE_per_kev(114.64, peak, 90.0)
    assert pz_sigma_au(0.93) == pytest.approx(expect, rel=1e-12)
    assert 0.4 < pz_sigma_au(0.93) < 0.5  # comparable to the valence window |p_z| < 1 a.u.
    plan = plan_compton("NMC811")
    r = np.array(plan.resolution_emf)
    assert plan.resolution_fwhm_kev[0] == 0 and r[0] == pytest.approx(plan.emf_true, rel=1e-12)
    assert np.all(np.diff(r) < 0)  # the EMF falls as the resolution worsens: instrument-dependent
    assert -0.2 < plan.emf_bias_rel < -0.03
    assert plan.fwhm_kev == pytest.approx(float(det.Hexitec().fwhm_kev(peak)), rel=1e-12)


def test_counts_time_and_scan_follow_the_formulas():
    plan = plan_compton("NMC811", target_sigma=0.02, binning=2, n_positions=4, overhead_s_per_position=10.0)
    e = plan.emf_measured
    assert plan.counts_in_window == pytest.approx(e * (1 + e) ** 2 / 0.02**2, rel=1e-12)
    assert plan.counts_per_pixel == pytest.approx(plan.counts_in_window / plan.fraction_in_window, rel=1e-12)
    t1 = plan.counts_per_pixel / plan.rate_per_pixel_cps
    assert plan.time_per_position_s == pytest.approx(t1 / 4, rel=1e-12)
    assert plan.time_per_position_s_by_binning == pytest.approx((t1, t1 / 4, t1 / 16, t1 / 64), rel=1e-12)
    assert plan.scan_time_s == pytest.approx(4 * (t1 / 4 + 10.0), rel=1e-12)
    assert plan_compton("NMC811", target_sigma=0.01).time_per_position_s == pytest.approx(4 * t1, rel=1e-9)


def test_count_rate_is_equation_1_by_hand():
    m = materials.get("NMC811")
    plan = plan_compton(m, flux_ph_per_s=1e12, incident_path_mm=7.0, exit_path_mm=0.5)
    e1, peak = 114.64, 114.64 / (1 + 114.64 / 510.99895)
    r = peak / e1
    kn = 0.5 * (2.8179403262e-13) ** 2 * r**2 * (r + 1 / r)  # polarised beam, 90 deg in the vertical plane
    n_e = m.electron_density_per_A3() * 1e24
    omega = math.pi * 0.01**2 / 16.0**2
    t = math.exp(-m.linear_attenuation_per_cm(e1) * 0.7) * math.exp(-m.linear_attenuation_per_cm(peak) * 0.05)
    eff = float(det.efficiency(det.Hexitec(), peak))
    rate = 1e12 / (2.5 * 0.025) * t * n_e * (0.025**2 * 0.025) * kn * omega * eff
    assert plan.dsigma_domega_cm2 == pytest.approx(kn, rel=1e-9)
    assert plan.solid_angle_sr == pytest.approx(omega, rel=1e-12)
    assert plan.rate_per_pixel_cps == pytest.approx(rate, rel=1e-3)
    assert plan.occupancy_per_frame == pytest.approx(plan.rate_per_pixel_cps / 9000, rel=1e-12)
    # A porous electrode: fewer electrons, less attenuation.
    porous = plan_compton(m, solid_fraction=0.5)
    assert porous.electron_density_per_cm3 == pytest.approx(0.5 * plan.electron_density_per_cm3, rel=1e-12)
    assert porous.transmission > plan.transmission


def test_lithium_content_and_json():
    low, high = plan_compton("Li_x NMC811", x_li=0.2), plan_compton("Li_x NMC811", x_li=1.0)
    assert high.emf_true > low.emf_true  # more valence (Li 2s) electrons at low p_z
    assert plan_compton("Li metal").emf_true > 2 * high.emf_true
    d = json.loads(json.dumps(high.to_dict()))
    assert d["material"].startswith("Li_x NMC811") and len(d["resolution_emf"]) == 5
    assert "EMF true / measured" in high.table()


def test_refusals():
    with pytest.raises(ValueError, match="target_sigma"):
        plan_compton(target_sigma=0)
    with pytest.raises(ValueError, match="eV"):
        plan_compton(energy_kev=114640)
    with pytest.raises(ValueError, match="angle_deg=0"):
        plan_compton(angle_deg=0)
    with pytest.raises(ValueError, match="x_li"):
        plan_compton(materials.get("NMC811"), x_li=0.5)
    with pytest.raises(ValueError, match="solid_fraction"):
        plan_compton(solid_fraction=0)
    with pytest.raises(ValueError, match="sheet_mm"):
        plan_compton(sheet_mm=(25.0,))
    with pytest.raises(ValueError, match="binning"):
        plan_compton(binning=0)
    with pytest.raises(ValueError, match="fwhm_kev"):
        pz_sigma_au(-1.0)
    with pytest.raises(TypeError, match="Hexitec"):
        plan_compton(detector="hexitec")
