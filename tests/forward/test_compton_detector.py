"""HEXITEC detector of seeds/001 (section 2.1): resolution, efficiency, escape, sharing and counting vs hand values."""

import math

import numpy as np
import pytest
import xraylib
from scipy.integrate import quad
from scipy.optimize import curve_fit
from scipy.stats import norm

from forward.compton.detector import (AM241_KEV, Hexitec, apply_response, background_counts, counts, efficiency,
                                      escape_lines, escape_probabilities, expected_counts, fluorescence_lines,
                                      frames, measure, photoabsorption_efficiency, response_matrices,
                                      response_matrix, slab_escape_probability)

CZT = "Cd0.9Zn0.1Te"
RHO = 5.78  # g/cm3, Schlesinger et al. 2001
CLEAN = dict(threshold_kev=0.0, charge_cloud_um=0.0, sensor_compton=False)  # nothing removes or adds events


def _mu(energy_kev, kind=xraylib.CS_Total_CP):
    return kind(CZT, energy_kev) * RHO


def test_defaults_are_the_seed_detector_and_resolution_law():
    d = Hexitec()
    assert d.shape_px == (80, 80) and d.pixel_um == 250.0 and d.thickness_mm == 2.0
    assert d.frame_rate_hz == 9000.0 and d.n_channels == 1000
    assert d.edges_kev[0] == 0.0 and d.edges_kev[-1] == pytest.approx(200.0) and d.centres_kev[1] == pytest.approx(0.3)
    # FWHM^2 = a^2 + b^2 E with b^2 = 8 ln2 F w = 5.5452 x 0.1 x 4.64e-3 keV = 2.5730e-3 keV.
    b2 = 8 * math.log(2) * 0.1 * 4.64e-3
    assert d.fano_term_kev == pytest.approx(b2, rel=1e-12)
    assert d.noise_fwhm_kev == pytest.approx(math.sqrt(0.93 ** 2 - b2 * 59.54), rel=1e-12)
    assert d.fwhm_kev(59.54) == pytest.approx(0.93, rel=1e-12)
    assert d.fwhm_kev(93.6) == pytest.approx(math.sqrt(0.93 ** 2 + b2 * (93.6 - 59.54)), rel=1e-12)  # 0.976 keV
    assert d.fwhm_kev(59.54, summed=True) == pytest.approx(math.sqrt(0.93 ** 2 + d.noise_fwhm_kev ** 2), rel=1e-12)
    # 50 um cloud on 250 um pixels: x = 0.2.
    assert d.sharing_fractions == pytest.approx((0.64, 0.32, 0.04))
    assert d.pixel_area_cm2 == pytest.approx(6.25e-4)


def test_efficiency_of_2_mm_cdznte_at_100_kev_by_hand():
    d = Hexitec()
    mu = _mu(100.0)  # 1/cm, total with Rayleigh
    absorbed = 1 - math.exp(-mu * 0.2)
    photo = absorbed * _mu(100.0, xraylib.CS_Photo_CP) / mu
    detected = absorbed * (_mu(100.0, xraylib.CS_Photo_CP) + _mu(100.0, xraylib.CS_Compt_CP)) / mu
    assert photoabsorption_efficiency(d, 100.0) == pytest.approx(photo, rel=1e-9)
    assert efficiency(d, 100.0) == pytest.approx(detected, rel=1e-9)
    assert photo == pytest.approx(0.7436, abs=1e-4) and detected == pytest.approx(0.8008, abs=1e-4)
    assert efficiency(Hexitec(sensor_compton=False), 100.0) == pytest.approx(photo, rel=1e-9)
    assert efficiency(d, [59.54, 93.6]).shape == (2,)


def test_slab_escape_against_the_front_surface_closed_form_and_limits():
    for r in (0.3, 1.0, 4.0):
        closed = 0.5 * (1 - r * math.log(1 + 1 / r))  # semi-infinite slab, front face
        assert slab_escape_probability(10.0, 10.0 * r, 100.0) == pytest.approx(closed, rel=1e-6)
    # A very thin slab lets every fluorescence photon out; equal coefficients take the limit branch smoothly.
    assert slab_escape_probability(10.0, 10.0, 1e-7) == pytest.approx(1.0, abs=1e-5)
    a = slab_escape_probability(20.0, 20.0 * 0.5, 0.2)  # mu_f / c = mu at c = 0.5
    b = slab_escape_probability(20.0, 20.0 * 0.5 * (1 + 1e-6), 0.2)
    assert a == pytest.approx(b, rel=1e-5)


def test_escape_lines_and_probability_by_hand():
    lines = {(el, name): (en, yr) for el, name, en, yr in escape_lines(Hexitec())}
    # xraylib LineEnergy: Cd Ka1 23.17, Kb1 26.09; Te Ka1 27.47, Kb1 31.00 keV (the values of the spec).
    assert lines["Cd", "Ka1"][0] == pytest.approx(23.1737, abs=1e-4)
    assert lines["Cd", "Kb1"][0] == pytest.approx(26.0947, abs=1e-4)
    assert lines["Te", "Ka1"][0] == pytest.approx(27.4724, abs=1e-4)
    assert lines["Te", "Kb1"][0] == pytest.approx(30.9951, abs=1e-4)
    # Cd Ka1 escape at 100 keV: w_Cd sigma_K,Cd / sigma_pe(CZT) x omega_K x RadRate x P_geo.
    e = 100.0
    w_cd = xraylib.CompoundParser(CZT)["massFractions"][1]
    f_k = w_cd * xraylib.CS_Photo_Partial(48, xraylib.K_SHELL, e) / xraylib.CS_Photo_CP(CZT, e)
    omega_r = xraylib.FluorYield(48, xraylib.K_SHELL) * xraylib.RadRate(48, xraylib.KL3_LINE)
    geo = slab_escape_probability(_mu(e), _mu(xraylib.LineEnergy(48, xraylib.KL3_LINE)), 0.2)
    line_kev, p = escape_probabilities(Hexitec(), [e, 20.0])
    i = int(np.argmin(np.abs(line_kev - 23.1737)))
    assert p[i, 0] == pytest.approx(f_k * omega_r * geo, rel=1e-9)
    assert p[i, 1] == 0.0  # below the Cd K edge (26.71 keV)
    assert 0.01 < p[:, 0].sum() < 0.05  # a few % of photoabsorptions give an escape event


def test_gaussian_resolution_recovered_from_a_simulated_am241_line():
    d = Hexitec(charge_cloud_um=0.0)
    c = d.centres_kev
    spectrum = counts(response_matrix(d, [AM241_KEV])[:, 0] * 2e7, seed=8)
    win = (c > AM241_KEV - 2.5) & (c < AM241_KEV + 2.5)

    def binned_gauss(x, n, mu, fwhm):
        s = fwhm / (2 * math.sqrt(2 * math.log(2)))
        return n * 0.2 * np.exp(-0.5 * ((x - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi))

    (n, mu, fwhm), _ = curve_fit(binned_gauss, c[win], spectrum[win], p0=(spectrum[win].sum(), 59.5, 1.0),
                                 sigma=np.sqrt(np.maximum(spectrum[win], 1)))
    # The bin width adds 0.2^2/12 to the variance (0.5 % on the FWHM): remove it before comparing.
    s2 = (fwhm / 2.354820045) ** 2 - 0.2 ** 2 / 12
    assert 2.354820045 * math.sqrt(s2) == pytest.approx(0.93, rel=0.01)
    assert mu == pytest.approx(AM241_KEV, abs=0.01)


def test_summed_two_pixel_events_widen_the_line_as_stated():
    # "add" mode, no threshold: single events f1 with sigma_1 and summed f2 with sigma_2 (two pixels' noise).
    d = Hexitec(threshold_kev=0.0, sensor_compton=False, escape=False)
    col = response_matrix(d, [AM241_KEV])[:, 0]
    c = d.centres_kev
    var = np.sum(col * (c - AM241_KEV) ** 2) / col.sum() - 0.2 ** 2 / 12
    f1, f2, _ = d.sharing_fractions
    s1 = d.fwhm_kev(AM241_KEV) / 2.354820045
    s2 = d.fwhm_kev(AM241_KEV, summed=True) / 2.354820045
    assert var == pytest.approx((f1 * s1 ** 2 + f2 * s2 ** 2) / (f1 + f2), rel=1e-3)


def test_escape_peaks_at_the_line_minus_cd_and_te_k_energies():
    d = Hexitec(charge_cloud_um=0.0)
    col = response_matrix(d, [AM241_KEV])[:, 0]
    c = d.centres_kev
    # The Ka1 escape peaks: 59.54 - 23.17 = 36.37 keV (Cd), 59.54 - 27.47 = 32.07 keV (Te, blended with Ka2).
    for lo, hi, line, label in ((35.0, 38.0, 23.1737, "Cd Ka"), (31.0, 32.8, 27.4724, "Te Ka")):
        win = (c > lo) & (c < hi)
        assert abs(c[win][np.argmax(col[win])] - (AM241_KEV - line)) < 0.2, label
    # Between 28 and 40 keV the response is the sum of the escape lines, each a Gaussian of FWHM(E - E_line)
    # holding photoabsorption efficiency x escape probability.
    line_kev, p = escape_probabilities(d, [AM241_KEV])
    edges = d.edges_kev
    by_hand = np.zeros(d.n_channels)
    for el, pl in zip(line_kev, p[:, 0]):
        dep = AM241_KEV - el
        s = d.fwhm_kev(dep) / 2.354820045
        by_hand += pl * np.diff(norm.cdf(np.maximum(edges, 3.0), dep, s))
    by_hand *= photoabsorption_efficiency(d, AM241_KEV)
    win = (c > 28.0) & (c < 40.0)
    assert col[win] == pytest.approx(by_hand[win], rel=1e-6, abs=1e-12)
    # 5.1 % of the photoabsorptions (4.8 % of the incident photons) at 59.54 keV give a K escape event.
    assert p[:, 0].sum() == pytest.approx(0.0513, abs=0.0005)
    assert col[win].sum() == pytest.approx(0.0476, abs=0.0005)


def test_monochromatic_line_conserves_counts():
    e = np.array([40.0, 59.54, 93.6, 114.64])
    d = Hexitec(**CLEAN)
    assert response_matrix(d, e).sum(axis=0) == pytest.approx(photoabsorption_efficiency(d, e), rel=1e-9)
    # Flux density x pixel area x time x efficiency: 1e6 ph/s/cm2 at 93.6 keV for 10 s on one pixel.
    photons = 1e6 * d.pixel_area_cm2 * 10.0
    n = expected_counts(d, np.array([0.0, 0.0, 1e6 * d.pixel_area_cm2, 0.0]), e, exposure_s=10.0).sum()
    lam = photons * photoabsorption_efficiency(d, 93.6) / frames(d, 10.0)
    assert n == pytest.approx(photons * photoabsorption_efficiency(d, 93.6) * -math.expm1(-lam) / lam, rel=1e-9)
    # With the sensor-Compton continuum the sum is the total efficiency, less the part smeared below 0 keV.
    d = Hexitec(threshold_kev=0.0, charge_cloud_um=0.0)
    assert response_matrix(d, e).sum(axis=0) == pytest.approx(efficiency(d, e), rel=1e-3)
    # Charge sharing: raw mode adds one hit per shared event, "add" loses the corner events (x^2 = 0.04).
    # Raw neighbour hits E q reach down to 0 keV, where the Gaussian pushes ~ half of the lowest 0.3 keV
    # below zero: a loss of order (f2 + f4) x 0.15 keV / (E / 2), < 0.3 % here.
    for mode, factor, rel in (("raw", 1.36, 3e-3), ("reject_multi", 1.28, 3e-3), ("add", 0.96, 1e-9),
                              ("discard", 0.64, 1e-9)):
        d = Hexitec(threshold_kev=0.0, sensor_compton=False, charge_sharing=mode)
        assert response_matrix(d, e).sum(axis=0) == pytest.approx(factor * photoabsorption_efficiency(d, e),
                                                                 rel=rel), mode


def test_threshold_and_hidden_neighbour_tail():
    d = Hexitec(sensor_compton=False, escape=False)  # "add", 3 keV
    col = response_matrix(d, [93.6])[:, 0]
    assert np.all(col[d.centres_kev < 3.0] == 0.0)
    f1, f2, _ = d.sharing_fractions
    eff = photoabsorption_efficiency(d, 93.6)
    assert col.sum() == pytest.approx(eff * (f1 + f2), rel=1e-9)
    # Shared events whose neighbour hit is below the threshold T (q < T / E) stay single with E (1 - q): a flat
    # tail from E - T to E of weight f2 x 2 T / E; the summed events keep f2 (1 - 2 T / E). With T = 10 keV:
    d = Hexitec(sensor_compton=False, escape=False, threshold_kev=10.0)
    col = response_matrix(d, [93.6])[:, 0]
    tail = col[(d.centres_kev > 85.0) & (d.centres_kev < 90.5)]  # > 3 sigma from both ends of the tail
    assert tail == pytest.approx(np.full(tail.size, eff * f2 * 20 / 93.6 / 10.0 * 0.2), rel=1e-3)
    assert response_matrix(Hexitec(charge_sharing="discard", sensor_compton=False, escape=False),
                           [93.6]).sum() == pytest.approx(eff * (f1 + f2 * 6 / 93.6), rel=1e-9)


def test_sensor_compton_continuum_follows_klein_nishina_up_to_the_compton_edge():
    d = Hexitec(escape=False, charge_cloud_um=0.0, threshold_kev=0.0)
    e, mc2 = 93.6, 510.99895
    k = e / mc2
    edge = e * 2 * k / (1 + 2 * k)
    assert edge == pytest.approx(25.10, abs=0.01)
    col = response_matrix(d, [e])[:, 0]
    c = d.centres_kev
    assert np.all(col[(c > edge + 4) & (c < e - 6)] < 1e-9)
    assert np.all(col[(c > 1) & (c < edge - 2)] > 0)
    inc = (1 - math.exp(-_mu(e) * 0.2)) * _mu(e, xraylib.CS_Compt_CP) / _mu(e)
    # Less what the resolution smears below 0 keV (0.8 %: the recoil density is largest at T -> 0).
    assert col[c < edge + 4].sum() == pytest.approx(inc, rel=1.5e-2)
    assert col[c < edge + 4].sum() < inc
    # Share of recoils above 10 keV: Klein-Nishina integrated over the scattering angles that give T > 10 keV.

    def kn(cos):
        r = 1 / (1 + k * (1 - cos))
        return r * r * (r + 1 / r - (1 - cos * cos))

    def recoil(cos):
        return e - e / (1 + k * (1 - cos))

    cos0 = 1 - (1 / (e - 10.0) - 1 / e) * mc2  # recoil of 10 keV
    assert recoil(cos0) == pytest.approx(10.0)
    share = quad(kn, -1, cos0)[0] / quad(kn, -1, 1)[0]
    assert col[(c > 10.0) & (c < edge + 4)].sum() / inc == pytest.approx(share, rel=2e-3)


def test_apply_response_to_a_cube_and_neighbour_hits():
    d = Hexitec()
    e = d.centres_kev[::10]
    own, nb = response_matrices(d, e)
    assert not np.any(nb)  # "add" mode: nothing goes to the neighbours
    cube = np.random.default_rng(3).random((80, 80, e.size))
    assert np.allclose(apply_response(d, cube, e), cube @ (own + nb).T, rtol=1e-12, atol=0)
    assert np.allclose(apply_response(d, cube, matrices=(own, nb)), cube @ own.T, rtol=1e-12, atol=0)
    # Raw mode, one lit pixel: its neighbours get a quarter of the neighbour hits each; nothing lost inside.
    d = Hexitec(charge_sharing="raw")
    own, nb = response_matrices(d, e)
    cube = np.zeros((5, 6, e.size))
    cube[2, 3, 40] = 1000.0
    out = apply_response(d, cube, matrices=(own, nb))
    assert np.allclose(out[2, 3], 1000.0 * own[:, 40])
    for i, j in ((1, 3), (3, 3), (2, 2), (2, 4)):
        assert np.allclose(out[i, j], 250.0 * nb[:, 40])
    assert out.sum() == pytest.approx(1000.0 * (own[:, 40] + nb[:, 40]).sum(), rel=1e-12)
    assert np.allclose(apply_response(d, cube[2, 3], matrices=(own, nb)), 1000.0 * (own + nb)[:, 40])


def test_tungsten_and_lead_fluorescence_lines():
    energy, intensity = fluorescence_lines("W")
    assert energy[0] == pytest.approx(xraylib.LineEnergy(74, xraylib.KL3_LINE)) == pytest.approx(59.318, abs=1e-3)
    assert intensity.sum() == pytest.approx(1.0)
    assert intensity[0] == pytest.approx(xraylib.RadRate(74, xraylib.KL3_LINE) / sum(
        xraylib.RadRate(74, line) for line in (xraylib.KL3_LINE, xraylib.KL2_LINE, xraylib.KM3_LINE,
                                               xraylib.KM2_LINE, xraylib.KN3_LINE, xraylib.KN2_LINE)))
    energy_pb, intensity_pb = fluorescence_lines(82)
    assert energy_pb[0] == pytest.approx(74.969, abs=1e-3) and energy_pb[2] == pytest.approx(84.938, abs=1e-3)
    d = Hexitec(lead_k_ph_per_s=100.0, tungsten_k_ph_per_s=50.0, **CLEAN)
    bg = background_counts(d, 10.0)
    expected = 1000 * intensity_pb @ photoabsorption_efficiency(d, energy_pb) \
        + 500 * intensity @ photoabsorption_efficiency(d, energy)
    assert bg.sum() == pytest.approx(expected, rel=1e-9)
    assert d.centres_kev[np.argmax(bg)] == pytest.approx(74.97, abs=0.15)  # Pb Ka1, the strongest line
    assert not np.any(background_counts(Hexitec(), 10.0))


def test_poisson_counts_and_frame_limit():
    d = Hexitec()
    assert frames(d, 1.0) == 9000 and frames(d, 12 * 60) == 6_480_000  # 12 min scans of seeds/001
    draw = counts(np.full(20000, 4.0), seed=1)
    assert draw.dtype == np.int64
    assert draw.mean() == pytest.approx(4.0, abs=0.05) and draw.var() == pytest.approx(4.0, rel=0.05)
    assert np.array_equal(counts(np.full(50, 4.0), seed=2), counts(np.full(50, 4.0), seed=2))
    assert np.array_equal(counts(np.full(50, 4.0), seed=np.random.default_rng(2)), counts(np.full(50, 4.0), 2))
    # One recorded event per pixel and frame: lambda = 1 event per frame keeps 1 - 1/e of them.
    clean = Hexitec(**CLEAN)
    eff = float(photoabsorption_efficiency(clean, 93.6))
    n = expected_counts(clean, [9000.0 / eff], [93.6], exposure_s=1.0).sum()
    assert n == pytest.approx(9000 * (1 - math.exp(-1)), rel=1e-9)
    m = measure(clean, np.full((2, 3, 1), 100.0), [93.6], exposure_s=2.0, seed=4)
    assert m.shape == (2, 3, clean.n_channels) and m.dtype == np.int64


@pytest.mark.parametrize("kwargs, match", [
    (dict(shape_px=(80,)), r"shape_px=\(80,\)"),
    (dict(shape_px=(80, 0)), r"shape_px=0"),
    (dict(pixel_um=-1.0), r"pixel_um=-1.0"),
    (dict(thickness_mm=0.0), r"thickness_mm=0.0"),
    (dict(energy_max_kev=float("nan")), r"energy_max_kev=nan"),
    (dict(bin_kev=0.3), r"bin_kev=0.3.*whole number"),
    (dict(fwhm_kev_at_59=0.3), r"fwhm_kev_at_59=0.3.*Fano limit"),
    (dict(fano_factor=-0.1), r"fano_factor=-0.1"),
    (dict(pair_energy_ev=0.0), r"pair_energy_ev=0.0"),
    (dict(threshold_kev=-1.0), r"threshold_kev=-1.0"),
    (dict(threshold_kev=250.0), r"threshold_kev=250.0.*below energy_max_kev"),
    (dict(frame_rate_hz=0.0), r"frame_rate_hz=0.0"),
    (dict(charge_cloud_um=-5.0), r"charge_cloud_um=-5.0"),
    (dict(charge_cloud_um=300.0), r"charge_cloud_um=300.0.*pixel_um=250.0"),
    (dict(charge_sharing="sum"), r"charge_sharing='sum'"),
    (dict(tungsten_k_ph_per_s=-1.0), r"tungsten_k_ph_per_s=-1.0"),
    (dict(lead_k_ph_per_s=float("inf")), r"lead_k_ph_per_s=inf"),
    (dict(sensor_formula="Xx9"), r"sensor_formula='Xx9'"),
    (dict(sensor_density_g_cm3=0.0), r"sensor_density_g_cm3=0.0"),
])
def test_hexitec_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Hexitec(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(escape="yes"), r"escape='yes'"),
    (dict(sensor_compton=1), r"sensor_compton=1"),
    (dict(pixel_um="wide"), r"pixel_um='wide'"),
    (dict(shape_px=(80, 80.5)), r"shape_px=80.5"),
    (dict(sensor_formula=5), r"sensor_formula=5"),
])
def test_hexitec_type_refusals(kwargs, match):
    with pytest.raises(TypeError, match=match):
        Hexitec(**kwargs)


def test_function_refusals():
    d = Hexitec()
    with pytest.raises(ValueError, match=r"energies_kev=0.01.*keV"):
        response_matrix(d, 0.01)
    with pytest.raises(ValueError, match=r"did you pass eV\? 59540 eV is 59.54 keV"):
        response_matrix(d, [59540.0])
    with pytest.raises(ValueError, match=r"energies_kev: expected a non-empty 1D array"):
        response_matrix(d, [[50.0, 60.0]])
    with pytest.raises(TypeError, match=r"detector=.*expected a Hexitec"):
        response_matrix("hexitec", [60.0])
    own_nb = response_matrices(d, [60.0, 90.0])
    with pytest.raises(ValueError, match=r"photons: expected shape \(\.\.\., 2\)"):
        apply_response(d, np.ones((4, 4, 3)), matrices=own_nb)
    with pytest.raises(ValueError, match=r"photons: expected photon numbers >= 0"):
        apply_response(d, -np.ones(2), matrices=own_nb)
    with pytest.raises(ValueError, match=r"energies_kev=None"):
        apply_response(d, np.ones(2))
    with pytest.raises(ValueError, match=r"expected: expected counts >= 0"):
        counts([1.0, -1.0], seed=0)
    with pytest.raises(ValueError, match=r"exposure_s=0"):
        expected_counts(d, np.ones(2), exposure_s=0, matrices=own_nb)
    with pytest.raises(ValueError, match=r"photon_rate_ph_per_s: expected rates >= 0"):
        expected_counts(d, -np.ones(2), exposure_s=1.0, matrices=own_nb)
    with pytest.raises(ValueError, match=r"exposure_s=-1"):
        frames(d, -1)
    with pytest.raises(ValueError, match=r"element='H': xraylib has no K lines"):
        fluorescence_lines("H")
    with pytest.raises(ValueError, match=r"thickness_cm=0"):
        slab_escape_probability(1.0, 1.0, 0)
