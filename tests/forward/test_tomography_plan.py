"""Tests of forward.tomography.plan against the numbers of seeds/002 and a Monte Carlo.

seeds/002 (Heenan et al. 2020, Methods, "Preparation" and "X-Ray Imaging"):
about 14 % transmission through 42 um of NMC811 at 5.4 keV; 1571
projections for binning 1 and 196 for binning 8; 141 projections of 1 s
in "under 5 min (including reference images and motor movements)".
"""

import math

import numpy as np
import pytest

from forward.instrument import Scan
from forward.tomography.plan import (
    N_REFERENCES_TXM,
    OVERHEAD_S_PER_PROJECTION_TXM,
    ScanPlan,
    energy_for_transmission,
    exposure_for_snr,
    n_projections,
    photons_for_snr,
    plan_scan,
    scan_time_s,
    transmission,
)
from twin.materials import get


def test_transmission_of_the_source_sample():
    # Beer-Lambert with xraylib: 0.148; the source says "approximately 14 %".
    t = transmission("NMC811", 42.0, 5.4)
    assert t == pytest.approx(0.14, abs=0.01)
    assert t == pytest.approx(math.exp(-float(get("NMC811").linear_attenuation_per_cm(5.4)) * 42e-4), rel=1e-12)
    assert transmission(get("NMC811"), 0.0, 5.4) == 1.0


def test_energy_for_transmission_returns_every_solution():
    energies = energy_for_transmission("NMC811", 42.0, 0.14)
    # Below the Mn K edge (6.54 keV) at 5.35 keV, which the source rounds to 5.4 keV, and again
    # above the Ni K edge (8.33 keV).
    assert energies.size == 2
    assert energies[0] == pytest.approx(5.4, abs=0.06) and energies[1] > 8.333
    for e in energies:
        assert transmission("NMC811", 42.0, e) == pytest.approx(0.14, rel=1e-6)
    assert energy_for_transmission("NMC811", 42.0, 0.14, bracket_kev=(1.0, 5.0)).size == 0


def test_number_of_projections_of_the_source():
    assert n_projections(1000) == 1571  # pi/2 x 1000 = 1570.8
    assert n_projections(1000, binning=8) == 196  # pi/2 x 125 = 196.3; rounding up would give 197
    assert n_projections(1024) == 1608 and n_projections(1024, 8) == 201  # the camera's full width
    assert n_projections(1) == 2  # pi/2 = 1.57 rounds to 2
    assert n_projections(1001, binning=8) == 196  # incomplete blocks are dropped: 125 binned columns


def test_photons_for_snr_closed_forms():
    t, snr = 0.14, 10.0
    a = -math.log(t)
    assert photons_for_snr(snr, t, n_flats=None) == pytest.approx(snr**2 / (a**2 * t))  # 1 / sqrt(N0 T)
    assert photons_for_snr(snr, t) == pytest.approx((1 + 1 / t) * snr**2 / a**2)  # one flat
    assert photons_for_snr(snr, t, n_flats=10) == pytest.approx((1 / t + 0.1) * snr**2 / a**2)
    # Without flat noise the photon cost at fixed SNR is least at T = e^-2 = 13.5 %.
    grid = np.linspace(0.02, 0.6, 2000)
    cost = [photons_for_snr(snr, t, n_flats=None) for t in grid]
    assert grid[int(np.argmin(cost))] == pytest.approx(math.exp(-2), abs=1e-3)


@pytest.mark.parametrize("n_flats", [None, 1, 5])
def test_photons_for_snr_against_monte_carlo(n_flats):
    t, snr = 0.14, 20.0
    n0 = photons_for_snr(snr, t, n_flats=n_flats)
    rng = np.random.default_rng(0)
    n = 200_000
    sample = rng.poisson(n0 * t, n)
    flat = n0 if n_flats is None else rng.poisson(n0, (n_flats, n)).mean(axis=0)
    attenuation = -np.log(sample / flat)
    measured = attenuation.mean() / attenuation.std()
    # First-order error propagation; at N0 T ~ 100 counts the second-order terms are ~1 %, and the
    # standard error of a standard deviation from 2e5 samples is 0.16 %.
    assert measured == pytest.approx(snr, rel=0.02)


def test_exposure_for_snr_inverts_the_photon_budget():
    # 1e8 photons/s over a 65.5 x 65.5 um field, 64 nm pixels binned 8, efficiency 0.3.
    fov = 1024 * 0.064
    t = exposure_for_snr(10.0, 0.14, flux_ph_per_s=1e8, beam_area_um2=fov**2, pixel_size_um=0.064, binning=8,
                         efficiency=0.3)
    n0 = 1e8 / fov**2 * t * (8 * 0.064) ** 2 * 0.3
    assert n0 == pytest.approx(photons_for_snr(10.0, 0.14), rel=1e-12)


def test_scan_time_of_the_source():
    # The model of Scan.total_time_s: projections with overhead, references without.
    assert scan_time_s(141, 1.0) == 141.0  # exposure alone: 2.35 min
    total = scan_time_s(141, 1.0, overhead_s_per_projection=OVERHEAD_S_PER_PROJECTION_TXM, n_flats=N_REFERENCES_TXM)
    # "a total acquisition time of under 5 min (including reference images and motor movements)"
    assert 4.5 * 60 < total < 5 * 60
    scan = Scan.tomography(141, 1.0, n_flats=10, n_darks=3, overhead_s=0.7)
    assert scan_time_s(141, 1.0, overhead_s_per_projection=0.7, n_flats=10, n_darks=3) == pytest.approx(
        scan.total_time_s, rel=1e-15)


def test_plan_scan_collects_every_answer():
    plan = plan_scan("NMC811", 42.0, 5.4, 1000, 8, 10.0, 1e8, pixel_size_um=0.064, n_projections=141,
                     overhead_s_per_projection=OVERHEAD_S_PER_PROJECTION_TXM, n_flats=N_REFERENCES_TXM)
    assert isinstance(plan, ScanPlan)
    assert plan.transmission == pytest.approx(transmission("NMC811", 42.0, 5.4))
    assert plan.n_projections_nyquist == 196 and plan.n_projections == 141
    assert plan.photons_per_pixel == pytest.approx(photons_for_snr(10.0, plan.transmission, n_flats=10))
    assert plan.exposure_s == pytest.approx(exposure_for_snr(10.0, plan.transmission, flux_ph_per_s=1e8,
                                                             beam_area_um2=64.0**2, pixel_size_um=0.064,
                                                             binning=8, n_flats=10))
    assert plan.scan_time_s == pytest.approx(scan_time_s(141, plan.exposure_s, overhead_s_per_projection=1.0,
                                                         n_flats=10))
    assert len(plan.energies_for_transmission_kev) == 2
    table = plan.table()
    assert "0.1478" in table and "196" in table and "141" in table and "0.512 um" in table
    with pytest.raises(AttributeError):
        plan.exposure_s = 1.0  # frozen
    assert plan_scan("NMC811", 42.0, 5.4, 1000, 1, 10.0, 1e8, pixel_size_um=0.064).n_projections == 1571


def _refusals(*cases):
    return [pytest.param(*case, id=case[-1]) for case in cases]


@pytest.mark.parametrize("call, error, match", _refusals(
    (lambda: transmission("unobtainium", 1.0, 5.4), ValueError, "registered material"),
    (lambda: transmission("NMC811", -1.0, 5.4), ValueError, "thickness_um=-1.0"),
    (lambda: transmission("NMC811", 42.0, 5400.0), ValueError, "did you pass eV"),
    (lambda: energy_for_transmission("NMC811", 42.0, 1.5), ValueError, "transmission=1.5"),
    (lambda: n_projections(0), ValueError, "detector_columns=0"),
    (lambda: n_projections(1000.0), TypeError, "expected an integer"),
    (lambda: n_projections(100, binning=200), ValueError, "binning=200"),
    (lambda: photons_for_snr(0.0, 0.5), ValueError, "target_snr=0.0"),
    (lambda: photons_for_snr(10.0, 1.0), ValueError, "T = 1 has no contrast"),
    (lambda: photons_for_snr(10.0, 0.5, n_flats=0), ValueError, "n_flats=0"),
    (lambda: exposure_for_snr(10.0, 0.5, flux_ph_per_s=-1.0, beam_area_um2=1.0, pixel_size_um=1.0), ValueError,
     "flux_ph_per_s=-1.0"),
    (lambda: exposure_for_snr(10.0, 0.5, flux_ph_per_s=1.0, beam_area_um2=1.0, pixel_size_um=1.0, efficiency=0.0),
     ValueError, "efficiency=0.0"),
    (lambda: scan_time_s(0, 1.0), ValueError, "n_projections=0"),
    (lambda: scan_time_s(10, 1.0, overhead_s_per_projection=-1.0), ValueError, "overhead_s_per_projection=-1.0"),
    (lambda: plan_scan("NMC811", 0.0, 5.4, 1000, 8, 10.0, 1e8, pixel_size_um=0.064), ValueError, "thickness_um=0.0"),
))
def test_refusals(call, error, match):
    with pytest.raises(error, match=match):
        call()
