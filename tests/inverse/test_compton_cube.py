"""inverse.compton.cube: corrections, sums, mask registration, binning and attenuation of XCS cubes."""

import numpy as np
import pytest
from scipy.special import erf

from inverse.compton import cube as C
from inverse.compton import profile as P

EDGES = np.arange(0.0, 200.0001, 0.2)


def line(edges, centre, s, total):
    cdf = 0.5 * (1 + erf((edges - centre) / (s * np.sqrt(2))))
    return total * np.diff(cdf)


def test_offset_and_gain_are_corrected_per_pixel():
    gain = np.array([[1.0, 1.02], [0.97, 1.0]])
    offset = np.array([[0.0, -0.5], [1.3, 0.4]])
    # A pixel with true edges g E + o records, in its channel k, the photons of energies g E_k + o ... g E_k+1 + o.
    raw = np.stack([np.stack([line(gain[i, j] * EDGES + offset[i, j], 93.6, 1.5, 1e5) for j in range(2)])
                    for i in range(2)])
    fixed = C.correct_cube(raw, EDGES, gain=gain, offset_kev=offset)
    truth = line(EDGES, 93.6, 1.5, 1e5)
    centres = 0.5 * (EDGES[1:] + EDGES[:-1])
    for i in range(2):
        for j in range(2):
            c = fixed.counts[i, j]
            assert c.sum() == pytest.approx(1e5, rel=1e-9)
            assert (c * centres).sum() / c.sum() == pytest.approx(93.6, abs=1e-3)
            np.testing.assert_allclose(c, truth, atol=2e-3 * truth.max())
    assert C.correct_cube(raw, EDGES).counts == pytest.approx(raw)


def test_dark_charge_sharing_and_rejected_pixels():
    rng = np.random.default_rng(2)
    raw = rng.poisson(5.0, size=(3, 4, 10))
    dark = np.full(10, 1.0)
    kept = np.full((3, 4), 0.8)
    rejected = np.zeros((3, 4), bool)
    rejected[1, 2] = True
    out = C.correct_cube(raw, np.arange(11.0), dark=dark, kept_fraction=kept, rejected=rejected)
    ok = ~rejected
    np.testing.assert_allclose(out.counts[ok], (raw[ok] - 1.0) / 0.8)
    np.testing.assert_allclose(out.variance[ok], (raw[ok] + 1.0) / 0.64)
    assert not out.valid[1, 2] and out.counts[1, 2].sum() == 0 and out.valid.sum() == 11
    # Dark-subtracted counts may be negative; the EMF map still takes them, with the propagated variance.
    edges = np.arange(0.0, 200.0001, 0.2)
    dark_cube = C.correct_cube(np.ones((2, 2, 1000)), edges, dark=np.full(1000, 1.5))
    assert dark_cube.counts.min() < 0
    assert P.emf_map(dark_cube, background=None).emf.shape == (2, 2)
    with pytest.raises(ValueError, match="kept_fraction"):
        C.correct_cube(raw, np.arange(11.0), kept_fraction=1.5)
    with pytest.raises(ValueError, match="gain"):
        C.correct_cube(raw, np.arange(11.0), gain=np.ones((4, 3)))
    with pytest.raises(ValueError, match="rejected"):
        C.correct_cube(raw, np.arange(11.0), rejected=np.zeros((3, 3), bool))


def test_corrected_cube_feeds_the_emf_map():
    rng = np.random.default_rng(3)
    from forward.compton import physics

    pz = np.full(EDGES.shape, -physics.MC_AU)
    pz[EDGES > 0] = physics.pz_au(114.64, EDGES[EDGES > 0], 90.0)
    expected = 2000 * np.diff(0.5 * (1 + erf(pz / np.sqrt(2))))
    raw = rng.poisson(np.broadcast_to(expected * 0.8, (6, 6, expected.size)))
    rejected = np.zeros((6, 6), bool)
    rejected[0, 0] = True
    fixed = C.correct_cube(raw, EDGES, kept_fraction=0.8, rejected=rejected)
    r = P.emf_map(fixed)
    assert np.isnan(r.emf[0, 0]) and np.isfinite(r.emf[1:, 1:]).all()
    direct = P.emf(raw[1, 1], EDGES)
    # Dividing by the kept fraction changes neither the EMF nor its relative uncertainty.
    assert r.emf[1, 1] == pytest.approx(direct.emf, rel=1e-12)
    assert r.sigma[1, 1] == pytest.approx(direct.sigma, rel=1e-12)


def test_sums_over_pixels_and_masks():
    cube = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    np.testing.assert_allclose(C.sum_spectra(cube), cube.sum(axis=(0, 1)))
    mask = np.array([[1, 0, 1], [0, 0.5, 0]], dtype=float)
    total, var = C.sum_spectra(cube, mask, return_variance=True)
    np.testing.assert_allclose(total, cube[0, 0] + cube[0, 2] + 0.5 * cube[1, 1])
    np.testing.assert_allclose(var, cube[0, 0] + cube[0, 2] + 0.25 * cube[1, 1])
    with pytest.raises(ValueError, match=r"mask: expected shape \(2, 3\)"):
        C.sum_spectra(cube, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        C.sum_spectra(cube, np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="counts >= 0"):
        C.sum_spectra(-cube)


def test_xct_mask_registered_by_area_fraction():
    # An XCT mask of 3.24 um pixels (seeds/001) onto 250 um XCS pixels: a disc of radius 7 mm (the cathode).
    fine = 3.24
    n = 6000
    x = (np.arange(n) + 0.5) * fine
    disc = (x[:, None] - 10000) ** 2 + (x[None, :] - 10000) ** 2 < 7000**2
    frac = C.register_mask(disc, fine, (80, 80), 250.0)
    assert frac.shape == (80, 80) and frac.min() >= 0 and frac.max() <= 1
    # Area conserved: sum of fractions x coarse area = fine pixels x fine area.
    assert frac.sum() * 250.0**2 == pytest.approx(disc.sum() * fine**2, rel=1e-9)
    assert frac[40, 40] == pytest.approx(1.0, abs=1e-12) and frac[0, 0] == 0.0
    assert C.register_mask(disc, fine, (80, 80), 250.0, threshold=0.5).sum() == pytest.approx(
        np.pi * 7000**2 / 250.0**2, rel=0.01)
    # A half-plane edge cutting coarse pixel 3 at 40 %: fraction 0.4 there.
    half = np.zeros((100, 40), bool)
    half[:35] = True
    f = C.register_mask(half, 25.0, (10, 4), 250.0)
    np.testing.assert_allclose(f[:, 0], [1, 1, 1, 0.5] + [0] * 6)
    shifted = C.register_map(np.ones((10, 10)), 25.0, (2, 2), 250.0, origin_um=(125.0, 0.0))
    np.testing.assert_allclose(shifted, [[0.5, 0], [0.5, 0]])
    flipped = C.register_mask(half, 25.0, (10, 4), 250.0, flip=(True, False))
    np.testing.assert_allclose(flipped[:, 0], [0] * 6 + [0.5, 1, 1, 1])
    with pytest.raises(ValueError, match="mask"):
        C.register_mask(np.full((4, 4), 3.0), 1.0, (2, 2), 2.0)


def test_binning_keeps_partial_blocks():
    a = np.ones((5, 7, 3))
    b = C.bin_pixels(a, 2)
    assert b.shape == (3, 4, 3)
    assert b[0, 0, 0] == 4 and b[2, 3, 0] == 1 and b[2, 0, 0] == 2
    assert b.sum() == a.sum()
    with pytest.raises(ValueError, match="n=0"):
        C.bin_pixels(a, 0)


def test_attenuation_factors_and_correction():
    mu = np.full((4, 5, 6), 2.0)  # 1/cm
    t1, t2 = C.attenuation_factors(mu, 0.5 * mu, 100.0)
    dx = 100e-4
    k = np.arange(5)
    np.testing.assert_allclose(t1[0, :, 0], np.exp(-2.0 * dx * (k + 0.5)))
    z = np.arange(4)
    np.testing.assert_allclose(t2[:, 0, 0], np.exp(-1.0 * dx * (z + 0.5)))  # exit towards z = 0
    sheet = C.sheet_transmission(t1, t2, slice(1, 3))
    np.testing.assert_allclose(sheet, (t1 * t2)[1:3].mean(axis=0))
    counts = np.random.default_rng(0).poisson(50.0, size=(5, 6, 1000)).astype(float)
    fixed, var, ratio = C.correct_attenuation(counts, sheet)
    np.testing.assert_allclose(fixed, counts / sheet[..., None])
    np.testing.assert_allclose(ratio, 1 / sheet)
    np.testing.assert_allclose(var, counts / sheet[..., None] ** 2)
    # A per-pixel factor leaves the EMF unchanged.
    a = P.emf_map(counts, EDGES, background=None)
    b = P.emf_map(fixed, EDGES, variance=var, background=None)
    np.testing.assert_allclose(a.emf, b.emf, rtol=1e-12)
    np.testing.assert_allclose(a.sigma, b.sigma, rtol=1e-12)
    with pytest.raises(ValueError, match="two different axes"):
        C.attenuation_factors(mu, mu, 1.0, beam_axis=0, exit_axis=0)
    with pytest.raises(ValueError, match="transmission"):
        C.correct_attenuation(counts, np.zeros((5, 6)))
    with pytest.raises(ValueError, match="transmission: expected shape"):
        C.correct_attenuation(counts, np.ones((6, 5)))
