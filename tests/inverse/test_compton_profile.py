"""inverse.compton.profile: energy -> p_z, background, profiles and the EMF of seeds/001 eq. (2)-(5)."""

import time

import numpy as np
import pytest
from scipy.special import erf

from forward.compton import physics
from forward.compton.measurement import Measurement
from inverse.compton import profile as E

E1 = 114.64
EDGES = np.arange(0.0, 200.0001, 0.2)  # HEXITEC: 0-200 keV in 0.2 keV bins (seeds/001, section 2.1)


def gaussian_cdf(p, s):
    return 0.5 * (1 + erf(np.asarray(p) / (s * np.sqrt(2))))


def gaussian_emf(s):
    """Closed form of eq. (3)-(5) for J a Gaussian of standard deviation s (a.u.)."""
    a, b = erf(1 / (s * np.sqrt(2))), erf(5 / (s * np.sqrt(2)))
    return a / (b - a)


def channel_counts(edges, s, total=1.0, centre=0.0):
    """Exact counts per energy channel of a Gaussian J(p_z) through eq. (2)."""
    pz = np.full(edges.shape, -physics.MC_AU)
    pos = edges > 0
    pz[pos] = physics.pz_au(E1, edges[pos], 90.0)
    return total * np.diff(gaussian_cdf(pz - centre, s))


@pytest.mark.parametrize("s", [0.5, 1.0, 2.0])
def test_emf_of_a_gaussian_profile_is_the_closed_form(s):
    edges = np.linspace(-10, 10, 201)  # +-1 and +-5 are bin edges: bin integrals give the windows exactly
    j = np.diff(gaussian_cdf(edges, s)) / np.diff(edges)
    r = E.emf_of_profile(j, edges)
    assert r.emf == pytest.approx(gaussian_emf(s), rel=1e-12)


@pytest.mark.parametrize("s", [0.7, 1.0, 1.5, 2.5])
def test_emf_from_hexitec_channels_matches_the_closed_form(s):
    # 0.2 keV channels span ~0.23 a.u.: window limits cut channels; the linear in-channel density keeps the
    # error below 1e-3 (a uniform split would be off by up to 0.5 %).
    r = E.emf(channel_counts(EDGES, s, 1e6), EDGES, background=None)
    assert r.emf == pytest.approx(gaussian_emf(s), rel=1e-3)
    fine = np.arange(50.0, 150.0, 0.01)
    r = E.emf(channel_counts(fine, s, 1e6), fine, background=None)
    assert r.emf == pytest.approx(gaussian_emf(s), rel=2e-6)


def test_pz_conversion_is_the_exact_inverse_of_the_energy_mapping():
    pz = np.linspace(-30, 30, 601)
    e2 = physics.scattered_energy_kev(E1, pz, 90.0)
    assert np.allclose(E.channel_pz_au(e2), pz, rtol=0, atol=1e-11)
    # Channels whose edges are the energies of a p_z grid: the resampled profile is the exact bin content.
    grid = np.linspace(-20, 20, 401)
    edges = physics.scattered_energy_kev(E1, grid, 90.0)
    counts = np.diff(gaussian_cdf(grid, 1.3)) * 1e5
    prof = E.compton_profile(counts, edges, pz_step_au=0.1, pz_max_au=10.0, background=None)
    expect = np.diff(gaussian_cdf(np.linspace(-10, 10, 201), 1.3)) * 1e5 / 0.1
    np.testing.assert_allclose(prof.j_per_au, expect, rtol=1e-9, atol=1e-9)
    assert prof.pz_au[100] == pytest.approx(0.05)


def test_profile_conserves_counts_and_normalises():
    counts = channel_counts(EDGES, 1.2, 1e6)
    prof = E.compton_profile(counts, EDGES, background=None)
    inside = gaussian_cdf(10, 1.2) - gaussian_cdf(-10, 1.2)
    assert prof.area() == pytest.approx(1e6 * inside, rel=1e-9)
    norm = prof.normalised(2.0)
    assert norm.area() == pytest.approx(2.0, rel=1e-12)
    assert norm.emf().emf == pytest.approx(prof.emf().emf, rel=1e-12)
    # The peak of J sits at p_z = 0: the Compton energy 93.6 keV of 114.64 keV at 90 deg.
    assert abs(prof.pz_au[np.argmax(prof.j_per_au)]) < 0.1


def test_spectrum_density_to_profile_uses_the_jacobian():
    e2 = np.linspace(85.0, 100.0, 301)
    pz = physics.pz_au(E1, e2, 90.0)
    j = np.exp(-pz**2 / 2) / np.sqrt(2 * np.pi)
    per_kev = j * physics.dpz_dE_per_kev(E1, e2, 90.0)
    p, back = E.spectrum_to_profile(e2, per_kev)
    np.testing.assert_allclose(p, pz, rtol=0, atol=1e-12)
    np.testing.assert_allclose(back, j, rtol=1e-12)


def test_linear_background_is_removed_exactly():
    counts = channel_counts(EDGES, 1.0, 1e6)
    pz = np.full(EDGES.shape, -physics.MC_AU)
    pz[EDGES > 0] = physics.pz_au(E1, EDGES[EDGES > 0], 90.0)
    a, b = 3000.0, -10.0  # background density per a.u., linear in p_z; its exact integral over each channel
    background = a * np.diff(pz) + 0.5 * b * np.diff(pz**2)
    clean = E.emf(counts, EDGES, background=None)
    with_bg = E.emf(counts + background, EDGES, background="linear")
    assert with_bg.emf == pytest.approx(clean.emf, rel=1e-9)
    assert E.emf(counts + background, EDGES, background=None).emf < 0.95 * clean.emf
    # A constant background is exact for the 'constant' model too, and the profile loses it.
    flat = E.compton_profile(counts + a * np.diff(pz), EDGES, background="constant")
    assert flat.j_per_au[0] == pytest.approx(1e6 * np.exp(-9.95**2 / 2) / np.sqrt(2 * np.pi), abs=1e-6)


def test_symmetrisation():
    edges = np.linspace(-8, 8, 161)
    p = 0.5 * (edges[1:] + edges[:-1])
    j = np.exp(-(p - 0.3) ** 2 / 2) * (1 + 0.2 * np.tanh(p))
    prof = E.ComptonProfile(edges, j, np.sqrt(j))
    sym = prof.symmetrised()
    np.testing.assert_allclose(sym.j_per_au, 0.5 * (j + j[::-1]), rtol=1e-15)
    np.testing.assert_allclose(sym.j_per_au, sym.j_per_au[::-1], rtol=1e-15)
    np.testing.assert_allclose(sym.sigma_per_au, 0.5 * np.sqrt(j + j[::-1]), rtol=1e-15)
    # The windows of eq. (4)-(5) are symmetric: symmetrising does not change the EMF.
    assert sym.emf().emf == pytest.approx(prof.emf().emf, rel=1e-12)
    with pytest.raises(ValueError, match="symmetric"):
        E.ComptonProfile(edges + 0.5, j, j).symmetrised()


def test_counting_uncertainty_matches_poisson_monte_carlo():
    rng = np.random.default_rng(8)
    pz = np.full(EDGES.shape, -physics.MC_AU)
    pz[EDGES > 0] = physics.pz_au(E1, EDGES[EDGES > 0], 90.0)
    expected = channel_counts(EDGES, 1.1, 3e4) + 20.0 * np.diff(pz)  # a profile on a flat background
    draws = rng.poisson(expected, size=(2000, expected.size))
    r = E.emf(draws, EDGES, background="linear")
    spread = np.std(r.emf, ddof=1)
    assert np.mean(r.sigma) == pytest.approx(spread, rel=0.1)
    # Without background the closed form EMF (1 + EMF)^2 / N of the planner applies.
    draws = rng.poisson(channel_counts(EDGES, 1.1, 3e4), size=(2000, EDGES.size - 1))
    r = E.emf(draws, EDGES, background=None)
    n5 = 3e4 * (gaussian_cdf(5, 1.1) - gaussian_cdf(-5, 1.1))
    closed = np.sqrt(E.emf_variance_per_count(gaussian_emf(1.1)) / n5)
    assert np.std(r.emf, ddof=1) == pytest.approx(closed, rel=0.1)
    # Channels cut by a window limit are shared between E_L and E_H: slightly below the photon-counting bound.
    assert np.mean(r.sigma) == pytest.approx(closed, rel=0.05)


def test_emf_map_of_a_cube_is_fast_and_bins():
    rng = np.random.default_rng(1)
    line = channel_counts(EDGES, 1.0, 2000.0)
    cube = rng.poisson(np.broadcast_to(line, (80, 80, line.size)))
    m = Measurement(cube, EDGES)
    start = time.perf_counter()
    r = E.emf_map(m)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0  # issue 8: an 80 x 80 x 1000 cube to an EMF map well under 2 s
    assert r.emf.shape == (80, 80) and np.all(r.valid)
    assert np.nanmean(r.emf) == pytest.approx(gaussian_emf(1.0), rel=0.01)
    b = E.emf_map(m, binning=4)
    assert b.emf.shape == (20, 20) and b.binning == 4
    assert np.nanmedian(b.sigma) == pytest.approx(np.nanmedian(r.sigma) / 4, rel=0.05)
    # A mask: pixels outside get NaN; a binned pixel with any masked-in pixel is valid.
    mask = np.zeros((80, 80), bool)
    mask[:40] = True
    mm = E.emf_map(m, mask=mask)
    assert np.all(np.isnan(mm.emf[40:])) and np.all(np.isfinite(mm.emf[:40]))
    # The smallest binning for a target precision.
    target = np.nanmedian(r.sigma) / 3.5
    found = E.binning_for_precision(m, target_sigma=target)
    assert found.binning == 4 and np.nanmedian(found.sigma) <= target
    with pytest.raises(ValueError, match="target_sigma"):
        E.binning_for_precision(m, target_sigma=1e-6, max_binning=4)


def test_refusals():
    counts = channel_counts(EDGES, 1.0, 1e4)
    with pytest.raises(ValueError, match="outside the data"):
        E.emf(counts[:470], EDGES[:471])  # data end at 94 keV: the window p_z < 5 a.u. is not recorded
    with pytest.raises(ValueError, match="outside the data"):
        E.emf(counts, EDGES, background_windows_au=((-17, -12), (8, 80)))
    with pytest.raises(ValueError, match="overlaps the profile window"):
        E.emf(counts, EDGES, background_windows_au=((-4, -2),))
    with pytest.raises(ValueError, match="counts >= 0"):
        E.emf(counts - 1.0, EDGES)
    with pytest.raises(ValueError, match="angle_deg=0"):
        E.emf(counts, EDGES, angle_deg=0.0)
    with pytest.raises(ValueError, match="increasing"):
        E.emf(counts, EDGES[::-1])
    with pytest.raises(ValueError, match="1001 channel edges"):
        E.emf(counts, EDGES[:-5])
    with pytest.raises(ValueError, match="background="):
        E.emf(counts, EDGES, background="cubic spline")
    with pytest.raises(ValueError, match="low_au < high_au"):
        E.emf(counts, EDGES, low_au=5, high_au=1)
    with pytest.raises(ValueError, match="contain the window"):
        E.emf_of_profile(np.ones(10), np.linspace(-3, 3, 11))
    with pytest.raises(ValueError, match="mask: expected shape"):
        E.emf_map(np.ones((4, 4, EDGES.size - 1)), EDGES, mask=np.ones((5, 4), bool))
