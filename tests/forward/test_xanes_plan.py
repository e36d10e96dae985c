"""forward.xanes.plan: counts for a white-line precision, scan time and dose of TXM-XANES (seeds/004)."""

import json
import math

import numpy as np
import pytest

from forward.xanes import edge
from forward.xanes.plan import photons_for_whiteline_precision, plan_xanes, whiteline_sigma_per_noise_ev
from forward.xanes.stack import energy_grid
from twin import materials

MODEL = edge.NI_K_MODEL


def test_whiteline_sigma_formula_matches_monte_carlo():
    # Vectorised quadratic fit of 20000 noisy model spectra over the same window (closed-form least squares)
    energies = energy_grid(8333.0)
    valence, half, sigma_n = 3.5, 3.0, 0.02
    k = whiteline_sigma_per_noise_ev(MODEL, energies, valence, half)
    wl = float(edge.whiteline_of_model(MODEL, valence))
    sel = np.abs(energies - wl) <= half
    x = energies[sel] - wl
    rng = np.random.default_rng(0)
    y = edge.mu_normalised(MODEL, energies[sel], valence) + sigma_n * rng.standard_normal((20000, x.size))
    design = np.stack([np.ones_like(x), x, x * x], axis=1)
    coef = np.linalg.lstsq(design, y.T, rcond=None)[0]
    vertex = -coef[1] / (2 * coef[2])
    assert np.std(vertex) == pytest.approx(k * sigma_n, rel=0.05)
    # for the noiseless model the quadratic's vertex is close to (not exactly at) the white line
    assert abs(np.median(vertex)) < 0.2


def test_photons_closed_form():
    n0 = photons_for_whiteline_precision(0.25, sigma_per_noise_ev=5.0, edge_jump=0.3, transmission=0.5, n_flats=1)
    assert n0 == pytest.approx((1 / 0.5 + 1) * (5.0 / (0.3 * 0.25)) ** 2)
    # halving the target sigma needs four times the photons; a noiseless flat drops the 1/n_flats term
    assert photons_for_whiteline_precision(0.125, sigma_per_noise_ev=5.0, edge_jump=0.3, transmission=0.5,
                                           n_flats=1) == pytest.approx(4 * n0)
    assert photons_for_whiteline_precision(0.25, sigma_per_noise_ev=5.0, edge_jump=0.3, transmission=0.5,
                                           n_flats=None) == pytest.approx(n0 * 2 / 3)


def test_default_plan_lands_in_the_fxi_chart():
    p = plan_xanes()
    # seeds/004, section 4: per-pixel SNR ~100-300 (10 000-100 000 counts); Table 1: 2D 5-10 min, 3D ~60 min
    assert 100 <= p.snr <= 300 and p.photons_per_pixel == pytest.approx(p.snr ** 2)
    assert 5 * 60 <= p.time_2d_s <= 10 * 60
    assert 50 * 60 <= p.time_3d_s <= 70 * 60
    assert p.n_energies == 67 and p.energies_ev[0] == 8273.0
    assert p.target_valence_sigma == pytest.approx(0.1)
    assert p.exposure_2d_s == pytest.approx(p.photons_per_pixel / p.rate_per_pixel_cps)
    assert p.rate_per_pixel_cps == pytest.approx(1e12 * 0.1 * (0.03 / 40) ** 2)
    assert p.time_2d_s == pytest.approx(67 * (2 * p.exposure_2d_s + 5.0))
    assert p.time_3d_s == pytest.approx(67 * (900 * 0.05 + 5.0 + 5.0))
    # the edge jump and the transmission follow from mu_per_cm of NMC811 over 5 um
    mu = float(edge.mu_per_cm(materials.get("NMC811"), None, "Ni", 3.5, p.whiteline_ev))
    assert p.transmission_whiteline == pytest.approx(math.exp(-mu * 5e-4))
    # dose scales with photons: 3D / 2D = (n_angles x photons per projection) / photons per image
    assert p.dose_3d_Gy / p.dose_2d_Gy == pytest.approx(900 * p.photons_per_projection_3d / p.photons_per_pixel)
    json.dumps(p.to_dict())


def test_thicker_sample_needs_fewer_photons_until_opaque():
    thin, mid = plan_xanes(thickness_um=1.0), plan_xanes(thickness_um=5.0)
    assert thin.photons_per_pixel > mid.photons_per_pixel
    assert mid.edge_jump == pytest.approx(5 * thin.edge_jump)


def test_refusals():
    with pytest.raises(ValueError, match="containing Ni"):
        plan_xanes("graphite")
    with pytest.raises(ValueError, match="target_whiteline_sigma_ev"):
        plan_xanes(target_whiteline_sigma_ev=-0.1)
    with pytest.raises(ValueError, match="efficiency"):
        plan_xanes(efficiency=0.0)
    with pytest.raises(ValueError, match="at least 3 energies"):
        plan_xanes(fit_half_width_ev=0.4)
    with pytest.raises(ValueError, match="thickness_um"):
        plan_xanes(thickness_um=0.0)
    with pytest.raises(ValueError, match="material"):
        plan_xanes("unobtainium")
    with pytest.raises(ValueError, match="transmission"):
        photons_for_whiteline_precision(0.25, sigma_per_noise_ev=5.0, edge_jump=0.3, transmission=0.0)
