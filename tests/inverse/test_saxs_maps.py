"""Tests of inverse/saxs/maps.py: q-region means, eq. 5, masks, pore filling, histograms, plating onset.

References: hand-made arrays with hand-computed results; the contrast model I ~ (Delta rho)^2
(seeds/000 eq. 3) evaluated by the forward model's own micropore term; the mean, sample standard
deviation and median of 1..100 (50.5, sqrt(100 x 101 / 12) = 29.011, 50.5).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from forward.saxs.model import R_E_A, HardCarbonTerms
from inverse.saxs import maps

Q = np.array([0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35])


def test_region_mean_of_hand_made_curves():
    i = np.arange(2 * 3 * Q.size, dtype=float).reshape(2, 3, Q.size)
    got = maps.region_mean((Q, i), 0.12, 0.3)                 # q = 0.15, 0.2, 0.25, 0.3: columns 2..5
    np.testing.assert_allclose(got, i[..., 2:6].mean(axis=-1))
    from forward.saxs.curves import Curves
    np.testing.assert_allclose(maps.region_mean(Curves(Q, i), 0.12, 0.3), got)


def test_difference_map_is_equation_5():
    pristine = np.array([[2.0, 4.0], [0.0, 1.0]])
    op = np.array([[1.0, 5.0], [3.0, 1.5]])
    mask = np.array([[True, True], [True, False]])
    d = maps.difference_map(op, pristine, mask=mask)
    # (1 - 2)/2, (5 - 4)/4; pristine 0 -> NaN; outside the mask -> NaN.
    np.testing.assert_allclose(d[0], [-0.5, 0.25])
    assert np.isnan(d[1, 0]) and np.isnan(d[1, 1])
    stack = maps.difference_map(np.stack([op, pristine]), pristine)
    np.testing.assert_allclose(stack[1][pristine > 0], 0.0)
    np.testing.assert_allclose(stack[0, 1, 1], 0.5)


def test_masks_on_a_synthetic_map():
    t = np.full((10, 12), 0.8)
    t[:3] = 0.01                                               # steel pin at the bottom rows
    i = np.full((10, 12), 0.05)                                # electrolyte background
    i[3:6, 3:9] = 1.0                                          # electrode above the pin
    i[8, 0] = 0.2                                              # an isolated noisy pixel above 2 x 0.05
    i[:3] = 7.0                                                # whatever the steel rows read
    m = maps.masks(t, i)
    assert m.steel.sum() == 36 and m.steel[:3].all()
    assert m.background_per_cm == pytest.approx(0.05)
    assert m.threshold_per_cm == pytest.approx(0.1)
    expected = np.zeros((10, 12), bool)
    expected[3:6, 3:9] = True
    np.testing.assert_array_equal(m.electrode, expected)
    loose = maps.masks(t, i, largest_component=False)
    assert loose.electrode[8, 0] and loose.electrode.sum() == 19
    given = maps.masks(t, i, background_per_cm=0.5, ratio=1.5)      # threshold 0.75
    np.testing.assert_array_equal(given.electrode, expected)
    assert (m.surroundings == ~m.steel & ~expected).all()


def test_pore_filling_inversion_is_exact_for_the_forward_contrast():
    # Forward: the micropore term of eq. 3 (HardCarbonTerms, seeds/000) with dsld = r_e (n_m - f n_Na).
    n_m, n_na = 0.56, 0.279                                     # e/A^3, carbon skeleton and Na metal
    m, na = R_E_A * n_m, R_E_A * n_na
    f = np.array([0.0, 0.1, 0.25, 0.5, 0.8])
    f0 = 0.05
    n = f.size + 1
    dsld = np.concatenate([[m - f0 * na], m - f * na])
    base = dict(porod_scale_per_cm=np.zeros(n), porod_exponent=np.full(n, 4.0),
                micropore_volume_fraction=np.full(n, 0.1), micropore_radius_A=np.full(n, 6.5),
                micropore_polydispersity=np.full(n, 0.3), micropore_delta_sld_per_A2=dsld,
                g002_amplitude_per_cm=np.zeros(n), q002_inv_A=np.full(n, 1.55), g002_sigma_inv_A=np.full(n, 0.1),
                na_metal_amplitude_per_cm=np.zeros(n), na_pseudo_amplitude_per_cm=np.zeros(n),
                pvdf_amplitude_per_cm=np.zeros(n), binder_saxs_amplitude_per_cm=np.zeros(n),
                background_per_cm=np.zeros(n))
    intensity = HardCarbonTerms(**base).term_intensity_per_cm(Q, "micropores")
    region = intensity[:, 1:6].mean(axis=1)
    ratio = region[1:] / region[0]
    got = maps.pore_filling_from_micropore_change(ratio, pristine_filling=f0, matrix_sld_per_A2=m,
                                                  filled_pore_sld_per_A2=na)
    np.testing.assert_allclose(got, f, atol=1e-12)
    # The same through eq. 5's relative change and through the module's own forward ratio.
    change = maps.difference_map(region[1:], np.full(f.size, region[0]))
    np.testing.assert_allclose(maps.pore_filling_from_micropore_change(
        change, relative_change=True, pristine_filling=f0, matrix_sld_per_A2=m, filled_pore_sld_per_A2=na), f,
        atol=1e-12)
    # Closed form at f0 = 0: a 35 % drop (seeds/000 section 3) means f = (1 - sqrt(0.65)) rho_m / rho_Na.
    assert maps.pore_filling_from_micropore_change(0.65, matrix_sld_per_A2=m, filled_pore_sld_per_A2=na) == \
        pytest.approx((1 - math.sqrt(0.65)) * n_m / n_na, rel=1e-12)
    ratio2 = maps.micropore_intensity_ratio(f)
    np.testing.assert_allclose(maps.pore_filling_from_micropore_change(ratio2), f, atol=1e-12)


def test_default_contrast_is_that_of_the_hard_carbon_skeleton():
    m, na = maps.default_micropore_contrast()
    # Skeleton 0.564 e/A^3 and Na 0.279 e/A^3 (twin.generators.capillary docstring).
    assert m / R_E_A == pytest.approx(0.564, abs=0.005)
    assert na / R_E_A == pytest.approx(0.279, abs=0.003)


def test_histogram_statistics_of_1_to_100():
    v = np.arange(1.0, 101.0).reshape(10, 10)
    mask = np.ones((10, 10), bool)
    s = maps.histogram_statistics(v, mask, bins=10)
    assert s.n == 100 and s.mean == pytest.approx(50.5)
    assert s.sd == pytest.approx(math.sqrt(100 * 101 / 12), rel=1e-12)
    assert s.percentiles[50.0] == pytest.approx(50.5)
    assert s.iqr == pytest.approx(75.25 - 25.75)
    assert s.cv == pytest.approx(s.sd / 50.5)
    np.testing.assert_array_equal(s.counts, np.full(10, 10))
    half = maps.histogram_statistics(np.where(mask, v, np.nan), v <= 50)
    assert half.n == 50 and half.mean == pytest.approx(25.5)


def test_peak_height_removes_a_linear_background():
    q = np.linspace(1.9, 2.25, 351)                             # 0.001 1/A steps
    background = 0.3 + 0.5 * (q - 2.0)
    sigma = 0.003                                               # flanks start 6.7 sigma out: exp(-22)
    peak = 2.0 * np.exp(-0.5 * ((q - 2.07) / sigma) ** 2)
    i = np.stack([background, background + peak])
    h = maps.peak_height_map((q, i), 2.07, half_width_inv_A=0.02, flank_inv_A=0.03)
    window = np.abs(q - 2.07) <= 0.02 + 1e-12
    assert h[0] == pytest.approx(0.0, abs=1e-12)
    assert h[1] == pytest.approx(peak[window].mean(), rel=1e-6)


def test_plating_onset_finds_the_first_scan_and_its_height():
    z = np.arange(10) * 15.0 + 7.5                              # rows every 15 um
    rng = np.random.default_rng(0)
    maps_stack = rng.normal(0.0, 0.01, (4, 10, 6))
    maps_stack[2, 3:5, 2:4] += 1.0                             # plating appears in scan 2 at rows 3-4
    maps_stack[3, 3:8, :] += 1.0
    steel = np.zeros((10, 6), bool)
    steel[:3] = True
    zc = maps.collector_height_um(steel, z)
    assert zc == pytest.approx(45.0)                             # between rows at 37.5 and 52.5 um
    onset = maps.plating_onset(maps_stack, z, collector_z_um=zc, mask=~steel)
    assert onset.scan_index == 2
    assert onset.lowest_height_um == pytest.approx(52.5 - 45.0)
    assert onset.height_um == pytest.approx(np.median([7.5, 7.5, 22.5, 22.5]))
    np.testing.assert_allclose(onset.fraction, [0, 0, 4 / 42, 30 / 42])
    none = maps.plating_onset(maps_stack[:2], z, collector_z_um=zc, mask=~steel)
    assert none.scan_index is None and math.isnan(none.height_um)


# ---------------------------------------------------------------------- refusals
def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="no q point"):
        maps.region_mean((Q, np.ones(Q.size)), 1.0, 2.0)
    with pytest.raises(ValueError, match="q_max_inv_A"):
        maps.region_mean((Q, np.ones(Q.size)), 0.3, 0.1)
    with pytest.raises(ValueError, match="intensity_per_cm"):
        maps.region_mean((Q, np.ones(3)), 0.1, 0.3)
    with pytest.raises(TypeError, match="data"):
        maps.region_mean("curves", 0.1, 0.3)
    with pytest.raises(ValueError, match="pristine"):
        maps.difference_map(np.ones((2, 2)), np.ones(3))
    with pytest.raises(ValueError, match="mask"):
        maps.difference_map(np.ones((2, 2)), np.ones((2, 2)), mask=np.ones(3, bool))
    with pytest.raises(ValueError, match="electrode_intensity"):
        maps.masks(np.ones((2, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="ratio"):
        maps.masks(np.ones((2, 2)), np.ones((2, 2)), ratio=0.5)
    with pytest.raises(ValueError, match="background_per_cm"):
        maps.masks(np.full((2, 2), 0.01), np.ones((2, 2)))
    with pytest.raises(ValueError, match="ratio_or_change"):
        maps.pore_filling_from_micropore_change(-0.2)
    with pytest.raises(ValueError, match="pristine_filling"):
        maps.pore_filling_from_micropore_change(0.8, pristine_filling=1.5)
    with pytest.raises(ValueError, match="matrix_sld_per_A2"):
        maps.pore_filling_from_micropore_change(0.8, matrix_sld_per_A2=-1.0, filled_pore_sld_per_A2=1e-5)
    with pytest.raises(ValueError, match="two finite values"):
        maps.histogram_statistics(np.ones(3), np.array([True, False, False]))
    with pytest.raises(ValueError, match="value_range"):
        maps.histogram_statistics(np.arange(5.0), value_range=(3.0, 1.0))
    with pytest.raises(ValueError, match="flank"):
        maps.peak_height_map((Q, np.ones(Q.size)), 0.2, half_width_inv_A=0.01, flank_inv_A=0.01)
    with pytest.raises(ValueError, match="steel_mask"):
        maps.collector_height_um(np.zeros((3, 2), bool), np.arange(3.0))
    with pytest.raises(ValueError, match="peak_maps"):
        maps.plating_onset(np.ones((2, 4, 3)), np.arange(5.0), collector_z_um=0.0)
