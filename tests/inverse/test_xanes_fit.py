"""Tests of inverse.xanes.fit (white line) and the valence maps built on it, including a simulated round trip."""

from __future__ import annotations

import numpy as np
import pytest

from forward.xanes.edge import NI_K_MODEL, mu_normalised, whiteline_height_of_model, whiteline_of_model
from inverse.xanes import (calibration_from_model, edge_jump_mask, fit_whiteline, normalise, register,
                           shift_images, spectra_from_stack, valence_map)


def _grid(step):
    return np.concatenate([np.arange(8280.0, 8330.0, 5.0), np.arange(8330.0, 8370.0, step),
                           np.arange(8370.0, 8480.0, 11.0)])


def test_parabola_is_fitted_exactly_with_closed_form_uncertainty():
    # y = h - c (E - E_wl)^2 near its top: the 5-point quadratic is exact, whatever the window position
    e = _grid(1.0)
    centre = np.array([8348.3, 8351.0, 8355.77])
    y = 1.4 - 0.01 * (e - centre[:, None]) ** 2
    fit = fit_whiteline(e, y, search_ev=(8335, 8365), noise=0.01)
    np.testing.assert_allclose(fit.energy_ev, centre, atol=1e-9)
    np.testing.assert_allclose(fit.height, 1.4, atol=1e-12)
    # closed form: vertex at a grid point x = 0 of 5 equally spaced points -2..2 (eV) of a fit c0 + c1 x + c2 x^2:
    # var(c1) = sigma^2 / sum x^2 = sigma^2 / 10, so sigma_E = sigma / (10^0.5 * 2 |c2|)
    assert fit.energy_sigma_ev[1] == pytest.approx(0.01 / (np.sqrt(10) * 2 * 0.01), rel=1e-9)
    # var(c0) at x = 0: (sum x^4) / (n sum x^4 - (sum x^2)^2) sigma^2 = 34 / (5 * 34 - 100) sigma^2
    assert fit.height_sigma[1] == pytest.approx(0.01 * np.sqrt(34 / 70), rel=1e-9)


@pytest.mark.parametrize("step, bound", [(0.5, 0.012), (1.0, 0.06)])
def test_whiteline_of_noiseless_model_within_stated_bias(step, bound):
    # whiteline_of_model is the exact maximum of the model; the stated bias of the 5-point quadratic
    e = _grid(step)
    v = np.linspace(2.0, 4.0, 81)
    fit = fit_whiteline(e, mu_normalised(NI_K_MODEL, e, v))
    assert np.all(fit.ok)
    assert np.max(np.abs(fit.energy_ev - whiteline_of_model(NI_K_MODEL, v))) <= bound
    assert np.max(np.abs(fit.height - whiteline_height_of_model(NI_K_MODEL))) < 5e-3


def test_noise_propagation_matches_scatter():
    # SNR 200 on the normalised jump (seeds/004: per-pixel SNR 100-300); 0.5-eV steps so the bias is negligible
    rng = np.random.default_rng(3)
    e = _grid(0.5)
    n = 20000
    v = rng.uniform(2.0, 4.0, n)
    y = mu_normalised(NI_K_MODEL, e, v) + rng.normal(0.0, 1 / 200, (n, e.size))
    fit = fit_whiteline(e, y.astype(np.float32), noise=1 / 200, n_points=7)
    err = fit.energy_ev - whiteline_of_model(NI_K_MODEL, v)
    pull = err / fit.energy_sigma_ev
    assert abs(np.mean(err)) < 0.03  # bias of 7 points at 0.5 eV: 0.02 eV
    assert 0.9 < np.std(pull) < 1.15
    # without the noise level, the residual estimate gives the same spread of pulls on average
    own = fit_whiteline(e, y, n_points=7)
    assert np.median(own.energy_sigma_ev) == pytest.approx(np.median(fit.energy_sigma_ev), rel=0.1)


def test_float32_matches_float64():
    e = _grid(1.0)
    y = mu_normalised(NI_K_MODEL, e, np.linspace(2, 4, 11))
    a, b = fit_whiteline(e, y), fit_whiteline(e, y.astype(np.float32))
    np.testing.assert_allclose(a.energy_ev, b.energy_ev, atol=2e-3)


def test_nan_and_mask_give_not_ok():
    e = _grid(1.0)
    y = mu_normalised(NI_K_MODEL, e, np.full((2, 3), 3.0))
    y[0, 1, 4] = np.nan
    mask = np.ones((2, 3), bool)
    mask[1, 2] = False
    fit = fit_whiteline(e, y, mask=mask)
    assert fit.ok.sum() == 4 and not fit.ok[0, 1] and not fit.ok[1, 2]
    assert np.isnan(fit.energy_ev[0, 1]) and np.isnan(fit.energy_sigma_ev[1, 2])
    # a spectrum whose highest point is at an end of the search range (no white line) is flagged
    rising = (e - 8300.0) / 50.0
    assert not fit_whiteline(e, rising[None], search_ev=(8335, 8365)).ok[0]
    assert not fit_whiteline(e, -rising[None], search_ev=(8335, 8365)).ok[0]


def test_valence_from_model_calibration_exact_within_bias():
    e = _grid(0.5)
    v = np.linspace(2.0, 4.0, 21)
    fit = fit_whiteline(e, mu_normalised(NI_K_MODEL, e, v))
    cal = calibration_from_model(NI_K_MODEL, (2.0, 3.0))
    assert cal.valence_per_ev == pytest.approx(1 / 2.5)  # NI_SHIFT_EV_PER_VALENCE = 2.5 eV per valence
    val, sig = valence_map(fit.energy_ev, cal, np.full(v.shape, 0.25))
    assert np.max(np.abs(val - v)) < 0.012 / 2.5 + 1e-9
    np.testing.assert_allclose(sig, 0.1)


def test_simulated_stack_round_trip():
    # twin -> forward.xanes.stack.simulate_2d (Poisson, SNR 200, drift, flats, 30-nm PSF) -> register ->
    # normalise -> white line -> valence, against the path-weighted mean valence of each pixel
    from forward.xanes.stack import energy_grid, simulate_2d
    from twin.generators.nmc_particle import nmc_secondary_particle

    twin = nmc_secondary_particle(morphology="rod", mean_soc=0.5, radius_um=2.0, voxel_size_um=0.05, seed=0)
    e = energy_grid(8333.0)
    stack = simulate_2d(twin, e, seed=1, drift_px=0.7)
    a = stack.absorbance()
    shifts = register(a, reference="mean")
    truth = stack.truth["shifts_px"]
    assert np.max(np.abs((shifts - shifts.mean(0)) - (truth - truth.mean(0)))) < 0.1
    res = normalise(e, spectra_from_stack(shift_images(a, -shifts)))
    mask = edge_jump_mask(res.edge_jump)
    fit = fit_whiteline(e, res.mu_norm, noise=res.noise, mask=mask, search_ev=(8340, 8370))
    val, sig = valence_map(fit.energy_ev, calibration_from_model(NI_K_MODEL), fit.energy_sigma_ev)
    sel = fit.ok & (stack.truth["edge_path_um"] > 1.0)
    assert sel.sum() > 3000
    err = val[sel] - stack.truth["mean_valence"][sel]
    assert abs(np.median(err)) < 0.03
    assert np.sqrt(np.mean(err ** 2)) < 0.2
    assert 0.8 < np.std(err / sig[sel]) < 1.6  # PSF, projection mixing and interpolation add to the noise


def test_refusals():
    e = _grid(1.0)
    y = mu_normalised(NI_K_MODEL, e, np.array([2.0, 3.0]))
    with pytest.raises(ValueError, match="n_points"):
        fit_whiteline(e, y, n_points=4)
    with pytest.raises(ValueError, match="n_points.*noise"):
        fit_whiteline(e, y, n_points=3)
    with pytest.raises(ValueError, match="strictly increasing"):
        fit_whiteline(e[::-1], y)
    with pytest.raises(ValueError, match="last axis"):
        fit_whiteline(e[1:], y)
    with pytest.raises(ValueError, match="noise"):
        fit_whiteline(e, y, noise=np.ones(3))
    with pytest.raises(ValueError, match="mask"):
        fit_whiteline(e, y, mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="search_ev"):
        fit_whiteline(e, y, search_ev=(9000, 9100))
