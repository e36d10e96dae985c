"""Tests of inverse.xanes.maps: valence/SOC calibration, masks, valence-gradient directions, row-block chunking."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from forward.xanes.edge import NI_K_MODEL, mu_normalised
from inverse.xanes import (ValenceCalibration, edge_jump_mask, fit_whiteline, map_row_blocks, normalise,
                           radial_alignment, soc_from_valence, spectra_from_stack, valence_gradient, valence_map)

E = np.concatenate([np.arange(8280.0, 8330.0, 5.0), np.arange(8330.0, 8370.0, 1.0), np.arange(8370.0, 8480.0, 11.0)])


def test_linear_calibration_and_uncertainty():
    # NiO (Ni2+) white line 8350.0 eV, LiNiO2 (Ni3+) 8352.4 eV (SOURCES.md "xanes/", computed there)
    cal = ValenceCalibration((8350.0, 8352.4), (2.0, 3.0), source="SOURCES.md")
    v, s = valence_map(np.array([8350.0, 8352.4, 8354.8, np.nan]), cal, 0.24)
    np.testing.assert_allclose(v[:3], [2.0, 3.0, 4.0])
    assert np.isnan(v[3])
    np.testing.assert_allclose(s[:3], 0.1)
    mask = np.array([True, False, True, True])
    vm, _ = valence_map(np.full(4, 8351.2), cal, mask=mask)
    assert np.isnan(vm[1]) and vm[0] == pytest.approx(2.5)
    # NMC811 charge balance: v = (3.3 - x) / 0.8 -> SOC 0 at 2.875, 1 at 4.125
    soc, soc_s = soc_from_valence(np.array([2.875, 3.5, 4.125]), valence_sigma=0.125)
    np.testing.assert_allclose(soc, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(soc_s, 0.1)


def test_edge_jump_mask():
    jump = np.array([[0.0, 0.01, 0.5], [0.6, np.nan, 0.55]])
    np.testing.assert_array_equal(edge_jump_mask(jump), [[False, False, True], [True, False, True]])
    np.testing.assert_array_equal(edge_jump_mask(jump, threshold=0.52), [[False, False, False], [True, False, True]])


def _disc(n=81, ndim=2):
    grid = np.indices((n,) * ndim).astype(float) - (n - 1) / 2
    r = np.sqrt(np.sum(grid ** 2, axis=0))
    return grid, r, r < 0.45 * n


def test_radial_gradient_is_aligned_and_random_is_not():
    grid, r, inside = _disc()
    # shrinking-core like valence: rises towards the surface, gradient along the radius
    radial = np.where(inside, 3.0 + 0.02 * r ** 2, np.nan)
    field = valence_gradient(radial, smooth_px=1.0, pixel_um=0.05)
    stat = radial_alignment(field, (40.0, 40.0), min_radius_px=3)
    assert stat.mean_abs_cos > 0.99 and stat.n_vectors > 3000
    assert stat.random_expectation == pytest.approx(2 / np.pi)
    # per-um units: d/dx (0.02 r^2) = 0.04 r per px = 0.8 r per um
    i = (40, 60)
    assert field.magnitude[i] == pytest.approx(0.8 * 20, rel=0.02)
    # smoothed white noise has no preferred direction: mean |cos| -> 2/pi
    rng = np.random.default_rng(0)
    noise = np.where(inside, rng.normal(3.0, 0.1, r.shape), np.nan)
    rnd = radial_alignment(valence_gradient(noise, smooth_px=2.0), (40.0, 40.0), min_radius_px=3)
    assert abs(rnd.mean_abs_cos - 2 / np.pi) < 4 * rnd.standard_error + 0.01


def test_gradient_3d_alignment():
    grid, r, inside = _disc(41, 3)
    radial = np.where(inside, 3.0 + 0.02 * r ** 2, np.nan)
    stat = radial_alignment(valence_gradient(radial), (20.0, 20.0, 20.0), min_radius_px=2)
    assert stat.mean_abs_cos > 0.98 and stat.random_expectation == 0.5
    rng = np.random.default_rng(1)
    noise = np.where(inside, rng.normal(3.0, 0.1, r.shape), np.nan)
    rnd = radial_alignment(valence_gradient(noise, smooth_px=1.5), (20.0, 20.0, 20.0), min_radius_px=2)
    assert abs(rnd.mean_abs_cos - 0.5) < 4 * rnd.standard_error + 0.01


def test_significance_threshold_matches_rayleigh_tail():
    # pure white noise of known sigma: each gradient component is Normal(0, s) with s computed by valence_gradient,
    # so |g| > 3 s has probability exp(-9/2) = 1.1 % in 2D (Rayleigh tail)
    rng = np.random.default_rng(5)
    v = rng.normal(3.0, 0.05, (400, 400))
    field = valence_gradient(v, smooth_px=1.5, valence_sigma=0.05, threshold_sigma=3.0)
    interior = field.significant[10:-10, 10:-10]
    assert interior.mean() == pytest.approx(np.exp(-4.5), rel=0.15)
    assert np.std(field.gradient[0][10:-10, 10:-10]) == pytest.approx(field.noise_per_um[0], rel=0.03)


def test_map_row_blocks_over_hdf5_equals_in_memory(tmp_path):
    rng = np.random.default_rng(2)
    v = rng.uniform(2.0, 4.0, (37, 23))
    stack = np.moveaxis(0.5 * mu_normalised(NI_K_MODEL, E, v) + 0.1, -1, 0).astype(np.float32)
    path = tmp_path / "stack.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=stack, chunks=(E.size, 8, 23))

    def analyse(block, rows):
        res = normalise(E, spectra_from_stack(block), nominal_e0_ev=8345.0)
        return {"whiteline_ev": fit_whiteline(E, res.mu_norm).energy_ev, "e0_ev": res.e0_ev}

    with h5py.File(path, "r") as f:
        chunked = map_row_blocks(f["data"], analyse, rows_per_block=8)
    whole = analyse(stack, slice(0, 37))
    np.testing.assert_array_equal(chunked["whiteline_ev"], whole["whiteline_ev"])
    np.testing.assert_array_equal(chunked["e0_ev"], whole["e0_ev"])
    with pytest.raises(ValueError, match="leading shape"):
        map_row_blocks(stack, lambda b, rows: {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="n_E, ny, nx"):
        map_row_blocks(np.zeros((3, 4)), analyse)


def test_refusals():
    with pytest.raises(ValueError, match="different"):
        ValenceCalibration((8350.0, 8350.0), (2.0, 3.0))
    with pytest.raises(ValueError, match="two values"):
        ValenceCalibration((8350.0,), (2.0,))
    with pytest.raises(TypeError, match="ValenceCalibration"):
        valence_map(np.ones(3), None)
    with pytest.raises(ValueError, match="ndim"):
        valence_gradient(np.ones(5))
    with pytest.raises(ValueError, match="centre_px"):
        radial_alignment(valence_gradient(np.ones((8, 8))), (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="valence_at_soc1"):
        soc_from_valence(3.0, 3.0, 3.0)
