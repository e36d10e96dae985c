"""SAXS planning: raster time, tomogram time, dose, q-ranges and counts against hand calculations."""

import math

import numpy as np
import pytest

from forward.saxs import detector
from forward.saxs.model import sphere_intensity_per_cm
from forward.saxs.plan import (absorbed_dose_Gy, absorbed_fraction, plan_saxs, raster_points, scan_time_s,
                               tomogram_time_s)
from twin import materials
from validation.reference_data import data_dir

J_PER_KEV = 1.602176634e-16


def _nist_mu_en(name, energy_kev):
    """(mu/rho, mu_en/rho) in cm2/g at a tabulated energy of the NIST Hubbell & Seltzer tables (SRD 126)."""
    path = data_dir() / "attenuation" / "nist_hubbell_seltzer" / f"{name}.csv"
    rows = np.loadtxt(path, delimiter=",", comments="#")
    row = rows[np.isclose(rows[:, 0] * 1e3, energy_kev)][0]
    return row[1], row[2]


def test_raster_and_times_of_seeds_000():
    # seeds/000: the 1.5 x 0.3 mm electrode at 25 x 15 um steps is 60 x 20 points; 0.1 s each: 2 min
    # ("within a few minutes"); 72 projections: 2.4 h ("a few hours for a tomogram").
    assert raster_points((1500, 300), (25, 15)) == (60, 20)
    assert raster_points((1510, 300), (25, 15)) == (61, 20)
    assert scan_time_s(1200, 0.1) == pytest.approx(120.0)
    assert scan_time_s(1200, 0.1, overhead_s_per_point=0.05) == pytest.approx(180.0)
    assert tomogram_time_s(1200, 0.1) == pytest.approx(8640.0)
    assert tomogram_time_s(1200, 0.1, 10, overhead_s_per_projection=30.0) == pytest.approx(10 * 150.0)


def test_dose_of_a_thin_water_slab_against_nist_mu_en():
    # Thin limit: D = F E mu_en/rho, with mu_en/rho(water, 15 keV) = 1.374 cm2/g (NIST). The photoabsorption
    # used here stands in for mu_en (Compton recoil energy neglected): agreement within 1.5 %.
    mu, mu_en = _nist_mu_en("water", 15.0)
    photons, area_um2 = 1e10, 25 * 15
    fluence_per_cm2 = photons / (area_um2 * 1e-8)
    expected = fluence_per_cm2 * 15.0 * J_PER_KEV * mu_en * 1e3  # J/g -> J/kg
    assert absorbed_dose_Gy("water", 1.0, 15.0, photons, area_um2) == pytest.approx(expected, rel=0.015)
    # Thick slab: f = (mu_en / mu) (1 - exp(-mu rho d)), 1 mm of water.
    d_cm = 0.1
    f = mu_en / mu * (1 - math.exp(-mu * 1.0 * d_cm))
    assert absorbed_fraction("water", 1000.0, 15.0) == pytest.approx(f, rel=0.015)
    expected = photons * 15.0 * J_PER_KEV * f / (1.0 * area_um2 * 1e-8 * d_cm * 1e-3)
    assert absorbed_dose_Gy("water", 1000.0, 15.0, photons, area_um2) == pytest.approx(expected, rel=0.015)


def test_dose_of_hard_carbon_against_nist_carbon():
    # mu_en/rho(C, 15 keV) = 0.5627 cm2/g (NIST); hard carbon is C at 1.5 g/cm3.
    _, mu_en = _nist_mu_en("z06", 15.0)
    photons, area_um2 = 1e9, 100.0
    expected = photons / (area_um2 * 1e-8) * 15.0 * J_PER_KEV * mu_en * 1e3
    assert absorbed_dose_Gy("hard carbon", 0.5, 15.0, photons, area_um2) == pytest.approx(expected, rel=0.015)


def test_plan_saxs_defaults_by_hand():
    plan = plan_saxs()
    assert (plan.n_points_x, plan.n_points_y, plan.n_points) == (60, 20, 1200)
    assert plan.scan_time_s == pytest.approx(120.0) and plan.tomogram_time_s == pytest.approx(8640.0)
    assert plan.n_projections == 72
    hc = materials.get("hard carbon")
    mu = float(hc.linear_attenuation_per_cm(13.2))
    assert plan.transmission == pytest.approx(math.exp(-mu * 0.05), rel=1e-12)
    # Dose per raster: 1e11 ph/s x 0.1 s per 25 x 15 um cell, absorbed fraction f, in 500 um of 1.5 g/cm3.
    f = float(hc.linear_attenuation_per_cm(13.2, "photo")) / mu * (1 - math.exp(-mu * 0.05))
    assert plan.absorbed_fraction == pytest.approx(f, rel=1e-12)
    dose = 1e10 * 13.2 * J_PER_KEV * f / (1.5 * 375e-8 * 0.05 * 1e-3)
    assert plan.dose_per_scan_Gy == pytest.approx(dose, rel=1e-12)
    assert plan.dose_per_tomogram_Gy == pytest.approx(72 * dose, rel=1e-12)
    # Peak of one Gaussian exposure: effective area pi FWHM_x FWHM_y / (4 ln 2).
    assert plan.dose_single_exposure_peak_Gy == pytest.approx(dose * 375 / (math.pi * 375 / (4 * math.log(2))))
    # q-ranges: the detectors' own.
    saxs, waxs = plan.detectors
    assert (saxs.q_min_inv_A, saxs.q_max_inv_A) == detector.EIGER_9M.q_range(13.2)
    assert (waxs.q_min_inv_A, waxs.q_max_inv_A) == detector.PILATUS_300K_W.q_range(13.2)


def test_plan_saxs_counts_and_relative_error_by_hand():
    plan = plan_saxs(saxs_detector="pilatus_2m", waxs_distance_m=None, thickness_um=100.0, radius_A=10.0,
                     volume_fraction=0.1, delta_sld_per_A2=1e-5, background_per_cm=0.5, n_bins=30,
                     flux_ph_per_s=1e10, exposure_s=0.5)
    assert len(plan.detectors) == 1
    q = np.asarray(plan.q_inv_A)
    spheres = sphere_intensity_per_cm(q, 10.0, 0.1, 1e-5)
    # Monodisperse spheres at q -> 0: phi V dSLD^2 1e8 = 0.1 x 4/3 pi 1000 x 1e-10 x 1e8 = 4.19 1/cm.
    assert spheres[0] == pytest.approx(0.1 * 4 / 3 * math.pi * 1e3 * 1e-10 * 1e8, rel=1e-3)
    assert np.allclose(plan.intensity_per_cm, spheres + 0.5, rtol=1e-12)
    n = 1e10 * 0.5 * plan.transmission * 0.01 * (spheres + 0.5) * np.asarray(plan.solid_angle_sr) * plan.efficiency
    assert np.allclose(plan.expected_counts, n, rtol=1e-12)
    assert plan.efficiency == pytest.approx(detector.sensor_efficiency(13.2))
    # Background known exactly: sigma(N_spheres) = sqrt(N_total).
    assert np.allclose(plan.relative_error, np.sqrt(n) / (n * spheres / (spheres + 0.5)), rtol=1e-12)
    inside = (q >= 0.05) & (q <= 0.2)
    total, signal = n[inside].sum(), (n * spheres / (spheres + 0.5))[inside].sum()
    assert plan.relative_error_in(0.05, 0.2) == pytest.approx(math.sqrt(total) / signal, rel=1e-12)
    d = plan.to_dict()
    assert d["detectors"][0]["name"] == "Pilatus 2M" and len(d["q_inv_A"]) == len(q)
    assert "scan time" in plan.table()


def test_plan_refusals():
    with pytest.raises(ValueError, match=r"area_um=\(1500,\): expected \(horizontal, vertical\) in um"):
        raster_points((1500,), (25, 15))
    with pytest.raises(ValueError, match=r"step_um\[1\]=0: expected a finite number > 0 \(in um\)"):
        raster_points((1500, 300), (25, 0))
    with pytest.raises(ValueError, match=r"exposure_s=-0.1: expected a finite number > 0 \(in s\)"):
        scan_time_s(10, -0.1)
    with pytest.raises(ValueError, match="n_points=0: expected an integer >= 1"):
        scan_time_s(0, 0.1)
    with pytest.raises(ValueError, match=r"overhead_s_per_point=-1: expected a finite number >= 0"):
        scan_time_s(10, 0.1, overhead_s_per_point=-1)
    with pytest.raises(ValueError, match="n_projections=0: expected an integer >= 1"):
        tomogram_time_s(10, 0.1, 0)
    with pytest.raises(ValueError, match="material='vacuum': expected a material of density > 0"):
        absorbed_dose_Gy("vacuum", 10.0, 13.2, 1e9, 100.0)
    with pytest.raises(ValueError, match=r"area_um2=0: expected a finite number > 0"):
        absorbed_dose_Gy("water", 10.0, 13.2, 1e9, 0)
    with pytest.raises(ValueError, match="energy_kev=13200.*did you pass eV"):
        plan_saxs(energy_kev=13200)
    with pytest.raises(ValueError, match="saxs_detector='eiger': expected an AreaDetector or one of"):
        plan_saxs(saxs_detector="eiger")
    with pytest.raises(ValueError, match=r"flux_ph_per_s=0: expected a finite number > 0"):
        plan_saxs(flux_ph_per_s=0)
    with pytest.raises(ValueError, match=r"background_per_cm=-1: expected a finite number >= 0"):
        plan_saxs(background_per_cm=-1)
    with pytest.raises(ValueError, match="no q-bin in this region"):
        plan_saxs(waxs_distance_m=None, n_bins=10).relative_error_in(3.0, 4.0)
