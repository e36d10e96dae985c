"""Tests of forward/xanes/edge.py: normalised K-edge model, xraylib absolute scale, reference spectra."""

import dataclasses
import gzip
import math
import time

import numpy as np
import pytest
import xraylib

from forward.xanes import edge as X
from twin.materials import Material
from validation.reference_data import data_dir

M = X.NI_K_MODEL
LNO = "LiNiO2_incell_pristine_ROCK_norm_op2_cell4_pos1_dq1_0001_av240_00001.txt"


def xanes(name):
    return data_dir() / "xanes" / name


def normalise_like_extranormal(spectrum):
    """Pre-edge line 8109.6-8299.6 eV, post-edge quadratic 8419.6-9500 eV (the LiNiO2 file's recipe)."""
    e, mu = spectrum.energy_ev, spectrum.mu
    pre = (e >= 8109.6) & (e <= 8299.6)
    post = (e >= 8419.6) & (e <= 9500.0)
    line = np.polyval(np.polyfit(e[pre], mu[pre], 1), e)
    quad = np.polyval(np.polyfit(e[post], mu[post], 2), e)
    return (mu - line) / (quad - line)


def maximum(e, y):
    fine = np.arange(8320.0, 8380.0, 0.01)
    return fine[np.argmax(np.interp(fine, e, y))]


# ---------------------------------------------------------------------- normalised model
def test_shape_and_limits():
    e = np.linspace(7400.0, 11300.0, 7)
    v = np.array([[2.0, 3.0], [3.5, 4.0]])
    mu = X.mu_normalised(M, e, v)
    assert mu.shape == (2, 2, 7)
    far_below = X.mu_normalised(M, 7400.0, v)
    far_above = X.mu_normalised(M, 11300.0, v)
    assert far_below.shape == (2, 2)
    # arctan tails: a / (pi |x|) with a = FWHM / 2
    a = M.edge_width_ev / 2
    np.testing.assert_allclose(far_below, a / (math.pi * (M.step_centre_ev(v) - 7400.0)), rtol=1e-3)
    np.testing.assert_allclose(1 - far_above, a / (math.pi * (11300.0 - M.step_centre_ev(v))), rtol=1e-3)
    assert np.all(far_below < 2e-3) and np.all(np.abs(far_above - 1) < 1e-3)


def test_value_at_step_centre_closed_form():
    sigma = M.whiteline_width_ev / (2 * math.sqrt(2 * math.log(2)))
    expected = 0.5 + M.whiteline_height * math.exp(-0.5 * (M.whiteline_offset_ev / sigma) ** 2)
    assert X.mu_normalised(M, M.e0_ev, M.valence_ref) == pytest.approx(expected, rel=1e-14)
    centre = M.e0_ev + M.whiteline_offset_ev
    expected = 0.5 + math.atan(M.whiteline_offset_ev / (M.edge_width_ev / 2)) / math.pi + M.whiteline_height
    assert X.mu_normalised(M, centre, M.valence_ref) == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize("step", X.STEP_SHAPES)
@pytest.mark.parametrize("peak", X.WHITELINE_SHAPES)
def test_rigid_shift_and_analytic_derivatives(step, peak):
    m = dataclasses.replace(M, step_shape=step, whiteline_shape=peak)
    e = np.arange(8300.0, 8420.0, 0.25)
    s = m.shift_ev_per_valence
    np.testing.assert_allclose(X.mu_normalised(m, e + 1.5 * s, 3.5), X.mu_normalised(m, e, 2.0), atol=1e-12)
    h = 1e-4
    for order in (1, 2, 3):
        lower = X.mu_normalised(m, e - h, 2.7) if order == 1 else X.dmu_normalised_de(m, e - h, 2.7, order - 1)
        upper = X.mu_normalised(m, e + h, 2.7) if order == 1 else X.dmu_normalised_de(m, e + h, 2.7, order - 1)
        np.testing.assert_allclose(X.dmu_normalised_de(m, e, 2.7, order), (upper - lower) / (2 * h),
                                   atol=1e-6 * 10 ** order)


@pytest.mark.parametrize("step", X.STEP_SHAPES)
@pytest.mark.parametrize("peak", X.WHITELINE_SHAPES)
def test_e0_and_whiteline_are_exact_maxima(step, peak):
    m = dataclasses.replace(M, step_shape=step, whiteline_shape=peak)
    v = np.array([0.0, 2.0, 2.37, 3.0, 4.0])
    e0 = X.e0_of_model(m, v)
    wl = X.whiteline_of_model(m, v)
    assert e0.shape == wl.shape == v.shape
    for k in range(v.size):
        # stationary points of the analytic derivatives, to far better than 1e-6 eV (slope * 1e-9 eV)
        assert abs(X.dmu_normalised_de(m, e0[k], v[k], 2)) < 1e-10
        assert abs(X.dmu_normalised_de(m, wl[k], v[k], 1)) < 1e-10
        # and global maxima over a dense grid
        grid = np.arange(8200.0, 8500.0, 0.001)
        assert abs(grid[np.argmax(X.dmu_normalised_de(m, grid, v[k]))] - e0[k]) <= 0.001
        assert abs(grid[np.argmax(X.mu_normalised(m, grid, v[k]))] - wl[k]) <= 0.001
        for d in (-1e-6, 1e-6):
            assert X.mu_normalised(m, wl[k] + d, v[k]) < X.mu_normalised(m, wl[k], v[k])
    np.testing.assert_allclose(np.diff(wl), np.diff(v) * m.shift_ev_per_valence, atol=1e-9)
    np.testing.assert_allclose(wl - e0, wl[0] - e0[0], atol=1e-9)


def test_ni_defaults_match_reference_data():
    assert M.element == "Ni" and M.valence_ref == 2.0 and M.shift_ev_per_valence == 2.5
    wl2, wl3 = X.whiteline_of_model(M, [2.0, 3.0])
    nio = X.read_reference(xanes("NiO_X23A2_merged.csv"))
    n = normalise_like_extranormal(nio)
    assert maximum(nio.energy_ev, n) == pytest.approx(8350.0, abs=0.05)   # SOURCES.md: white line 8350.0
    assert wl2 == pytest.approx(8350.0, abs=0.3)
    lno = X.read_reference(xanes(LNO))
    assert maximum(lno.energy_ev, lno.mu) == pytest.approx(8352.4, abs=0.05)  # SOURCES.md: 8352.4
    assert wl3 == pytest.approx(8352.4, abs=0.4)
    # half-step of LiNiO2 8344.76 eV (SOURCES.md); the model's half-step at valence 3
    grid = np.arange(8330.0, 8360.0, 0.001)
    assert grid[np.argmax(X.mu_normalised(M, grid, 3.0) >= 0.5)] == pytest.approx(8344.76, abs=0.5)
    # height of the normalised white line: NiO 1.51 (data, computed here), model 1.48
    assert X.whiteline_height_of_model(M) == pytest.approx(np.max(n[(nio.energy_ev > 8340)
                                                                     & (nio.energy_ev < 8360)]), abs=0.05)
    # rms misfit of the model to the NiO spectrum over the edge
    sel = (nio.energy_ev > 8320) & (nio.energy_ev < 8375)
    assert np.sqrt(np.mean((X.mu_normalised(M, nio.energy_ev[sel], 2.0) - n[sel]) ** 2)) < 0.06


def test_vectorised_speed():
    v = np.random.default_rng(0).uniform(2.0, 4.0, 100_000)
    e = np.linspace(8280.0, 8480.0, 60)
    t = time.perf_counter()
    mu = X.mu_normalised(M, e, v)
    assert time.perf_counter() - t < 2.0
    assert mu.shape == (100_000, 60) and np.all(np.isfinite(mu))


def test_model_dict_round_trip_and_calibration():
    assert X.EdgeModel.from_dict(M.to_dict()) == M
    assert M.valence_of_shift(5.0) == pytest.approx(4.0)
    assert X.EdgeModel().e0_ev == M.e0_ev


# ---------------------------------------------------------------------- absolute scale
def test_edge_jump_matches_xraylib_jump_factor():
    below, above = 8331.0, 8335.0
    jump = X.edge_jump_cm2_per_g("Ni", below, above)
    assert jump == pytest.approx(xraylib.CS_Photo(28, 8.335) - xraylib.CS_Photo(28, 8.331), rel=1e-12)
    assert jump == pytest.approx(284.84, rel=1e-3)
    ratio = (jump + xraylib.CS_Photo(28, 8.331)) / xraylib.CS_Photo(28, 8.331)
    assert ratio == pytest.approx(xraylib.JumpFactor(28, xraylib.K_SHELL), rel=0.01)  # 7.707
    assert X.edge_jump_cm2_per_g(28, below, above) == jump
    co = X.edge_jump_cm2_per_g("Co", 7700.0, 7720.0)
    assert co == pytest.approx(xraylib.CS_Photo(27, 7.72) - xraylib.CS_Photo(27, 7.70), rel=1e-12)


def test_background_and_jump_reproduce_xraylib_away_from_edge():
    below = np.array([7400.0, 8000.0, 8200.0, 8320.0])
    above = np.array([8345.0, 8400.0, 8480.0, 9000.0, 10000.0])
    b, j = X.edge_background_cm2_per_g("Ni", below)
    np.testing.assert_allclose(b, [xraylib.CS_Total(28, e / 1000) for e in below], rtol=5e-3)
    b, j = X.edge_background_cm2_per_g("Ni", above)
    np.testing.assert_allclose(b + j, [xraylib.CS_Total(28, e / 1000) for e in above], rtol=6e-3)
    assert np.all(j > 0)


def test_mu_per_cm_absolute():
    nio = Material.from_formula("NiO", "NiO", 6.67)
    e = np.array([8200.0, 8250.0, 9000.0, 9500.0])
    v = np.array([2.0, 3.0, 4.0])
    mu = X.mu_per_cm(nio, None, "Ni", v, e)
    assert mu.shape == (3, 4)
    # without the edge shape's tails (arctan: a / (pi |E - c|), 3-5 % of mu at 100-150 eV below the edge),
    # xraylib's total attenuation of NiO
    _, jump = X.edge_background_cm2_per_g("Ni", e)
    tail = 6.67 * nio.mass_fractions[28] * jump * X.mu_normalised(M, e, v)
    edge_free = mu - tail
    edge_free[:, 2:] += 6.67 * nio.mass_fractions[28] * jump[2:]
    np.testing.assert_allclose(edge_free, np.broadcast_to(nio.linear_attenuation_per_cm(e / 1000), (3, 4)),
                               rtol=6e-3)
    assert np.all(tail[:, :2] / mu[:, :2] > 0.02) and np.all(tail[:, :2] / mu[:, :2] < 0.06)
    # same from mass fractions; density scales linearly
    fractions = {"Ni": nio.mass_fractions[28], "O": nio.mass_fractions[8]}
    np.testing.assert_allclose(X.mu_per_cm(fractions, 3.335, "Ni", v, e), mu / 2, rtol=1e-12)
    # edge contribution = rho w_Ni jump mu_n exactly
    e = np.arange(8300.0, 8400.0, 0.5)
    mu = X.mu_per_cm(nio, None, "Ni", 2.0, e)
    bg = X.mu_per_cm(nio, None, "Ni", 2.0, np.array([8300.0]))
    _, jump = X.edge_background_cm2_per_g("Ni", e)
    mu_n = X.mu_normalised(M, e, 2.0)
    mu3 = X.mu_per_cm(nio, None, "Ni", 3.0, e)
    np.testing.assert_allclose(mu3 - mu, 6.67 * nio.mass_fractions[28] * jump * (X.mu_normalised(M, e, 3.0) - mu_n),
                               rtol=1e-10, atol=1e-9)
    assert np.argmax(mu) == np.argmax(mu_n) and mu.max() > 10 * bg[0] / 2
    # NMC: Co and Mn contribute xraylib totals
    nmc = Material.from_formula("NMC811", "LiNi0.8Mn0.1Co0.1O2", 4.75)
    _, jump = X.edge_background_cm2_per_g("Ni", 8200.0)
    tail = 4.75 * nmc.mass_fractions[28] * jump * X.mu_normalised(M, 8200.0, 3.0)
    assert X.mu_per_cm(nmc, None, "Ni", 3.0, 8200.0) - tail == pytest.approx(
        float(nmc.linear_attenuation_per_cm(8.2)), rel=5e-3)


# ---------------------------------------------------------------------- reference spectra
@pytest.mark.parametrize("name, n, first, last, columns, mu_column", [
    ("ni_metal_rt.xdi", 418, 8133.0, 9567.4, ["energy", "mutrans", "i0"], "mutrans"),
    ("NiO_X23A2_merged.csv", 520, 8134.3, 9557.5,
     ["energy_eV", "mu_NiO", "stddev_mu_NiO", "mu_Ni_foil_reference"], "mu_NiO"),
    ("NiO_111.xdi", 585, 8183.1, 9079.5, ["energy", "mutrans", "murefer"], "mutrans"),
    ("LiCoO2_80K_111.xdi", 611, 7559.7, 9553.8, ["energy", "mutrans", "murefer"], "mutrans"),
    ("Co_foil_111.xdi", 441, 7509.9, 8943.6, ["energy", "mutrans"], "mutrans"),
    (LNO, 1649, 8060.0, 9500.0, ["shifted energy", "normalized", "reference", "ref.derivative", "I0"], "normalized"),
])
def test_read_every_reference_file(name, n, first, last, columns, mu_column):
    s = X.read_reference(xanes(name))
    assert s.energy_ev.size == n and s.mu.size == n
    assert s.energy_ev[0] == pytest.approx(first, abs=0.05) and s.energy_ev[-1] == pytest.approx(last, abs=0.05)
    assert list(s.columns) == columns
    np.testing.assert_array_equal(s.mu, s.columns[mu_column])
    assert s.label == name


def test_reference_contents():
    ni = X.read_reference(xanes("ni_metal_rt.xdi"))
    assert ni.metadata["Scan.edge_energy"] == "8333.0" and ni.metadata["Element.symbol"] == "Ni"
    lno = X.read_reference(xanes(LNO))
    assert lno.metadata["E0_pivot"] == "8349.6"
    post = (lno.energy_ev >= 8419.6) & (lno.energy_ev <= 9500)
    assert lno.mu[post].mean() == pytest.approx(1.000, abs=0.005)  # SOURCES.md: post-edge mean 1.000
    ref = X.read_reference(xanes("NiO_111.xdi"), mu_column="murefer")
    np.testing.assert_array_equal(ref.mu, ref.columns["murefer"])
    assert not ref.mu.flags.writeable


def test_linear_combination():
    nio = X.read_reference(xanes("NiO_X23A2_merged.csv"))
    nio = X.Spectrum(nio.energy_ev, normalise_like_extranormal(nio), "NiO")
    lno = X.read_reference(xanes(LNO))
    e = np.arange(8300.0, 8400.0, 0.5)
    w = np.array([[1.0, 0.0], [0.3, 0.7], [0.0, 1.0]])
    mu = X.linear_combination(w, [nio, lno], e)
    assert mu.shape == (3, e.size)
    np.testing.assert_allclose(mu[0], np.interp(e, nio.energy_ev, nio.mu), rtol=1e-14)
    np.testing.assert_allclose(mu[1], 0.3 * mu[0] + 0.7 * mu[2], rtol=1e-12)
    assert maximum(e, mu[0]) < maximum(e, mu[1]) < maximum(e, mu[2])
    assert X.linear_combination([0.5, 0.5], [nio, lno], e).shape == (e.size,)


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("kwargs, match", [
    ({"element": "Cu"}, "element"),
    ({"e0_ev": 9000.0}, "e0_ev"),
    ({"edge_width_ev": -1.0}, "edge_width_ev"),
    ({"whiteline_height": 0.0}, "whiteline_height"),
    ({"whiteline_width_ev": float("nan")}, "whiteline_width_ev"),
    ({"shift_ev_per_valence": 0.0}, "shift_ev_per_valence"),
    ({"step_shape": "logistic"}, "step_shape"),
    ({"whiteline_shape": "voigt"}, "whiteline_shape"),
    ({"valence_ref": 12.0}, "valence_ref"),
])
def test_model_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        X.EdgeModel(**kwargs)


def test_model_without_whiteline_refused():
    flat = X.EdgeModel(whiteline_height=1e-3, whiteline_width_ev=20.0, edge_width_ev=10.0)
    with pytest.raises(ValueError, match="white line|whiteline_height"):
        X.whiteline_of_model(flat, 2.0)


def test_argument_refusals():
    with pytest.raises(ValueError, match="did you pass keV"):
        X.mu_normalised(M, np.array([8.3, 8.4]), 2.0)
    with pytest.raises(ValueError, match="energy_ev"):
        X.mu_normalised(M, [[8300.0]], 2.0)
    with pytest.raises(ValueError, match="valence"):
        X.mu_normalised(M, 8300.0, [2.0, np.nan])
    with pytest.raises(ValueError, match=r"valence.*\[0, 8\]"):
        X.mu_normalised(M, 8300.0, 9.0)
    with pytest.raises(TypeError, match="model"):
        X.mu_normalised("Ni", 8300.0, 2.0)
    with pytest.raises(ValueError, match="order"):
        X.dmu_normalised_de(M, 8300.0, 2.0, 4)
    with pytest.raises(ValueError, match="energy_below_ev"):
        X.edge_jump_cm2_per_g("Ni", 8340.0, 8350.0)
    with pytest.raises(ValueError, match="energy_above_ev"):
        X.edge_jump_cm2_per_g("Ni", 8300.0, 8320.0)
    with pytest.raises(ValueError, match="element"):
        X.edge_jump_cm2_per_g("Xx", 8300.0, 8350.0)
    nio = Material.from_formula("NiO", "NiO", 6.67)
    with pytest.raises(ValueError, match="element"):
        X.mu_per_cm(Material.from_formula("Li2O", "Li2O", 2.01), None, "Ni", 2.0, 8300.0)
    with pytest.raises(ValueError, match="model's element"):
        X.mu_per_cm(nio, None, "O", 2.0, 8300.0)
    with pytest.raises(ValueError, match="density_g_cm3"):
        X.mu_per_cm({"Ni": 1.0}, None, "Ni", 2.0, 8300.0)
    with pytest.raises(ValueError, match="density_g_cm3"):
        X.mu_per_cm({"Ni": 1.0}, -1.0, "Ni", 2.0, 8300.0)
    with pytest.raises(TypeError, match="material_or_mass_fractions"):
        X.mu_per_cm("NiO", 6.67, "Ni", 2.0, 8300.0)


def test_spectrum_and_file_refusals(tmp_path):
    with pytest.raises(ValueError, match="strictly increasing"):
        X.Spectrum(np.array([1.0, 3.0, 2.0]), np.zeros(3))
    with pytest.raises(ValueError, match="mu"):
        X.Spectrum(np.array([1.0, 2.0]), np.zeros(3))
    with pytest.raises(ValueError, match="finite"):
        X.Spectrum(np.array([1.0, 2.0]), np.array([0.0, np.nan]))
    with pytest.raises(FileNotFoundError, match="path"):
        X.read_reference(tmp_path / "missing.xdi")
    with pytest.raises(ValueError, match="gzip"):
        X.read_reference(xanes("NiO.prj"))
    gz = tmp_path / "x.dat"
    gz.write_bytes(gzip.compress(b"1 2\n"))
    with pytest.raises(ValueError, match="gzip"):
        X.read_reference(gz)
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("# e mu\n1 2\n3 4 5\n")
    with pytest.raises(ValueError, match="same count"):
        X.read_reference(ragged)
    text = tmp_path / "text.txt"
    text.write_text("# e mu\n1 2\nfoo bar\n")
    with pytest.raises(ValueError, match="line 3"):
        X.read_reference(text)
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a header\n")
    with pytest.raises(ValueError, match="no"):
        X.read_reference(empty)
    backwards = tmp_path / "back.csv"
    backwards.write_text("# energy,mu\n8300,1\n8299,2\n")
    with pytest.raises(ValueError, match="strictly increasing"):
        X.read_reference(backwards)
    with pytest.raises(ValueError, match="mu_column"):
        X.read_reference(xanes("NiO_111.xdi"), mu_column="mufluor")
    s = X.read_reference(xanes("NiO_111.xdi"))
    with pytest.raises(ValueError, match="no extrapolation"):
        s.interpolate([8100.0, 8300.0])
    with pytest.raises(ValueError, match="weights"):
        X.linear_combination([1.0, 0.0, 0.0], [s, s], [8300.0])
    with pytest.raises(TypeError, match="references"):
        X.linear_combination([1.0], [], [8300.0])
    with pytest.raises(ValueError, match="weights"):
        X.linear_combination([np.inf, 0.0], [s, s], [8300.0])
