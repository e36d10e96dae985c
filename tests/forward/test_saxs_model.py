"""Tests of forward.saxs.model against closed forms, hand-computed absolute intensities and seeds/000."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from forward.saxs import model as m
from twin.generators.capillary import capillary_cell, sodiation_state

R_E = 2.8179403262e-5  # A
N_A = 6.02214076e23


# ------------------------------------------------------------------ sphere form factor
def test_sphere_form_factor_at_zero_and_first_zero():
    assert m.sphere_form_factor(0.0, 50.0) == 1.0
    # first zero: tan x = x, x = 4.493409457909064
    x0 = optimize.brentq(lambda x: math.tan(x) - x, 4.0, 4.6)
    assert x0 == pytest.approx(4.4934, abs=1e-4)
    assert m.sphere_form_factor(x0 / 50.0, 50.0) < 1e-20
    # closed form at a generic point and the series/closed-form junction are continuous
    x = 2.0
    assert m.sphere_form_factor(x / 10.0, 10.0) == pytest.approx((3 * (math.sin(x) - x * math.cos(x)) / x**3) ** 2,
                                                               rel=1e-14)
    a, b = m.sphere_form_factor(np.array([0.0499999, 0.0500001]), 1.0)
    assert a == pytest.approx(b, rel=1e-6)


def test_sphere_form_factor_broadcasts():
    p = m.sphere_form_factor(np.array([[0.01], [0.1]]), np.array([10.0, 20.0, 30.0]))
    assert p.shape == (2, 3)
    assert p[1, 2] == pytest.approx(float(m.sphere_form_factor(0.1, 30.0)), rel=1e-15)


def test_guinier_radius_from_a_simulated_sphere():
    radius = 50.0
    rg_true = math.sqrt(3 / 5) * radius
    q = np.linspace(0.0005, 0.2 / rg_true, 60)
    intensity = m.sphere_intensity_per_cm(q, radius, 0.01, 1e-6)
    slope, _ = np.polyfit(q**2, np.log(intensity), 1)  # Guinier: ln I = ln I0 - Rg^2 q^2 / 3
    rg = math.sqrt(-3 * slope)
    assert rg == pytest.approx(rg_true, rel=2e-3)  # 38.73 A; the q^4 term biases by < 0.2 % at q Rg < 0.2
    # with the next order of ln P (-x^4/350 for a sphere) fitted too, up to q Rg = 1
    q = np.linspace(0.0005, 1.0 / rg_true, 200)
    coef = np.polyfit(q**2, np.log(m.sphere_intensity_per_cm(q, radius, 0.01, 1e-6)), 3)
    assert math.sqrt(-3 * coef[-2]) == pytest.approx(rg_true, rel=1e-5)


def test_porod_constant_in_absolute_units():
    # Schulz spheres R = 100 A, pd 0.3, phi 0.05, dsld 2e-6/A^2: S_V = 3 phi <R^2>/<R^3> = 3 phi / (theta (k+2)).
    radius, pd, phi, dsld = 100.0, 0.3, 0.05, 2e-6
    k = 1 / pd**2
    s_v = 3 * phi / (radius / k * (k + 2))  # 1/A
    expected = 2 * math.pi * dsld**2 * s_v * 1e8  # 1/cm/A^4
    assert float(m.porod_scale_per_cm(dsld, s_v)) == pytest.approx(expected, rel=1e-14)
    q = np.linspace(2.0, 3.0, 400)  # q R_mean = 200-300
    iq4 = m.sphere_intensity_per_cm(q, radius, phi, dsld, pd) * q**4
    assert np.mean(iq4) == pytest.approx(expected, rel=1e-2)
    assert expected == pytest.approx(2 * math.pi * 4e-12 * 3 * 0.05 / (100 / k * (k + 2)) * 1e8)
    # power law with that scale and exponent 4 is the same asymptote
    assert float(m.power_law(2.5, expected, 4.0)) == pytest.approx(expected / 2.5**4)


def test_absolute_intensity_of_dilute_silica_spheres_in_water():
    # By hand: fused silica 2.20 g/cm3, SiO2 30 electrons / 60.08 g/mol; water 1.00 g/cm3, 10 e / 18.015 g/mol.
    n_silica = 2.20 * N_A * 30 / 60.0843 * 1e-24  # 0.6616 e/A^3
    n_water = 1.00 * N_A * 10 / 18.0153 * 1e-24   # 0.3343 e/A^3
    dsld = R_E * (n_silica - n_water)             # 9.22e-6 1/A^2
    assert dsld == pytest.approx(9.22e-6, rel=2e-3)
    radius, phi = 50.0, 0.01
    volume = 4 / 3 * math.pi * radius**3
    i0 = phi * volume * dsld**2 * 1e8
    assert i0 == pytest.approx(44.5, rel=5e-3)  # 1/cm
    assert float(m.sphere_intensity_per_cm(0.0, radius, phi, dsld)) == pytest.approx(i0, rel=1e-12)
    x = 0.05 * radius
    p = (3 * (math.sin(x) - x * math.cos(x)) / x**3) ** 2
    assert float(m.sphere_intensity_per_cm(0.05, radius, phi, dsld)) == pytest.approx(i0 * p, rel=1e-12)
    # SLD from the materials' electron densities
    from twin import materials
    quartz_glass = materials.get("quartz glass")
    assert float(m.sld_from_electron_density(quartz_glass.electron_density_per_A3())) == pytest.approx(
        R_E * n_silica, rel=2e-3)


# ------------------------------------------------------------------ Schulz average
def _schulz_quadrature(q: float, radius: float, pd: float) -> float:
    k = 1 / pd**2
    theta = radius / k

    def weight(r):
        return np.exp((k - 1) * np.log(r) - r / theta - special.gammaln(k) - k * np.log(theta))

    def p(r):
        x = q * r
        return (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2 if x > 1e-3 else 1 - x * x / 5

    upper = radius * (1 + 20 * pd)
    num = integrate.quad(lambda r: weight(r) * r**6 * p(r), 0, upper, limit=500, epsabs=0, epsrel=1e-11)[0]
    den = integrate.quad(lambda r: weight(r) * r**6, 0, upper, limit=500, epsabs=0, epsrel=1e-11)[0]
    return num / den


@pytest.mark.parametrize("pd", [0.1, 0.3])
def test_schulz_average_matches_quadrature(pd):
    radius = 30.0
    q = np.array([0.001, 0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0])
    got = m.schulz_sphere_form_factor(q, radius, pd)
    ref = np.array([_schulz_quadrature(qq, radius, pd) for qq in q])
    np.testing.assert_allclose(got, ref, rtol=1e-4)
    # the closed form is much better than that
    np.testing.assert_allclose(got, ref, rtol=1e-8)


def test_schulz_average_tends_to_monodisperse():
    q = np.linspace(0.0, 0.5, 101)
    mono = m.sphere_form_factor(q, 20.0)
    assert np.max(np.abs(m.schulz_sphere_form_factor(q, 20.0, 1e-4) - mono)) < 1e-6
    assert np.max(np.abs(m.schulz_sphere_form_factor(q, 20.0, 1e-3) - mono)) < 1e-4
    assert np.array_equal(m.schulz_sphere_form_factor(q, 20.0, 0.0), mono)
    assert float(m.schulz_sphere_form_factor(0.0, 20.0, 0.5)) == 1.0
    # <V^2>/<V> = (4 pi/3) <R^6>/<R^3>; at pd 0.3 (k = 11.11): R^3 (1+3/k)(1+4/k)(1+5/k)
    k = 1 / 0.09
    assert float(m.schulz_volume_ratio_A3(20.0, 0.3)) == pytest.approx(
        4 / 3 * math.pi * 8000 * (1 + 3 / k) * (1 + 4 / k) * (1 + 5 / k), rel=1e-14)


# ------------------------------------------------------------------ Percus-Yevick
def test_percus_yevick_limits():
    q = np.array([0.0, 1e-4, 0.01, 0.05, 0.2])
    np.testing.assert_allclose(m.hard_sphere_structure_factor(q, 25.0, 1e-9), 1.0, atol=1e-7)
    for phi in (0.1, 0.3, 0.5):
        s0 = (1 - phi) ** 4 / (1 + 2 * phi) ** 2
        assert float(m.hard_sphere_structure_factor(0.0, 25.0, phi)) == pytest.approx(s0, rel=1e-13)
        # the Taylor branch joins the closed form (x = 2qR = 0.2)
        a, b = m.hard_sphere_structure_factor(np.array([0.2 - 1e-9, 0.2 + 1e-9]) / 50, 25.0, phi)
        assert a == pytest.approx(b, rel=1e-7)
    assert float(m.hard_sphere_structure_factor(0.0, 25.0, 0.3)) == pytest.approx(0.0938, abs=1e-4)
    assert float(m.hard_sphere_structure_factor(20.0, 25.0, 0.3)) == pytest.approx(1.0, abs=2e-3)
    # main peak of dense hard spheres near q d = 2 pi * 1.1 with S > 1
    q = np.linspace(0.05, 0.3, 2000)
    s = m.hard_sphere_structure_factor(q, 25.0, 0.4)
    assert s.max() > 1.5 and 0.12 < q[s.argmax()] < 0.15


# ------------------------------------------------------------------ peaks and Bragg
def test_bragg_conversion_reproduces_table_s2():
    # seeds/000, Table S2: q* (rounded to 0.01 1/A) -> d = 2 pi / q* (rounded to 0.01 A).
    table = [(1.55, 4.06), (1.53, 4.12), (1.52, 4.14), (1.51, 4.16), (1.47, 4.27)]
    for q, d in table:
        # the published q* were rounded: d must lie in 2 pi / [q - 0.005, q + 0.005] widened by d's rounding
        lo, hi = m.bragg_d_A(q + 0.005), m.bragg_d_A(q - 0.005)
        assert lo - 0.005 <= d <= hi + 0.005
        assert float(m.bragg_d_A(q)) == pytest.approx(d, abs=0.02)
    assert float(m.bragg_d_A(1.51)) == pytest.approx(4.16, abs=0.01)
    assert float(m.bragg_d_A(1.47)) == pytest.approx(4.27, abs=0.01)
    assert float(m.bragg_q_inv_A(m.bragg_d_A(1.55))) == pytest.approx(1.55, rel=1e-15)


def test_gaussian_and_scherrer():
    sigma = float(m.peak_sigma_for_size(10.0))
    fwhm = 2 * math.pi * 0.9 / 10.0
    assert sigma * 2 * math.sqrt(2 * math.log(2)) == pytest.approx(fwhm, rel=1e-14)
    half = m.gaussian_peak(np.array([1.55, 1.55 + fwhm / 2]), 2.0, 1.55, sigma)
    np.testing.assert_allclose(half, [2.0, 1.0], rtol=1e-12)
    # the bcc Na 110 reflection lies at the source's 2.07 1/A
    assert 2 * math.pi * math.sqrt(2) / 4.29 == pytest.approx(m.Q_NA_METAL_INV_A, abs=0.005)


# ------------------------------------------------------------------ HardCarbonTerms
def _terms(n: int, rng) -> m.HardCarbonTerms:
    return m.HardCarbonTerms(
        porod_scale_per_cm=rng.uniform(1e-9, 1e-8, n), porod_exponent=rng.choice([4.0, 3.6], n),
        micropore_volume_fraction=rng.uniform(0.05, 0.1, n), micropore_radius_A=rng.uniform(5, 8, n),
        micropore_polydispersity=rng.choice([0.0, 0.3, 0.01], n), micropore_delta_sld_per_A2=rng.uniform(1e-5, 2e-5, n),
        g002_amplitude_per_cm=rng.uniform(0.1, 0.2, n), q002_inv_A=rng.uniform(1.45, 1.6, n),
        g002_sigma_inv_A=np.full(n, 0.24), na_metal_amplitude_per_cm=rng.uniform(0, 5, n),
        na_pseudo_amplitude_per_cm=rng.uniform(0, 0.01, n), pvdf_amplitude_per_cm=rng.uniform(0, 0.05, n),
        binder_saxs_amplitude_per_cm=rng.uniform(0, 0.5, n), background_per_cm=rng.uniform(0, 0.03, n),
        micropore_packing_fraction=rng.uniform(0, 0.3, n), amorphous_amplitude_per_cm=rng.uniform(0, 0.1, n))


def test_terms_intensity_equals_sum_of_closed_forms():
    rng = np.random.default_rng(7)
    t = _terms(300, rng)
    q = np.geomspace(0.003, 2.6, 150)
    got = t.intensity_per_cm(q)
    qq = q[None, :]
    col = {f.name: getattr(t, f.name)[:, None] for f in dataclasses.fields(t)}
    ref = (m.power_law(qq, col["porod_scale_per_cm"], col["porod_exponent"])
           + m.sphere_intensity_per_cm(qq, col["micropore_radius_A"], col["micropore_volume_fraction"],
                                       col["micropore_delta_sld_per_A2"], col["micropore_polydispersity"])
           * m.hard_sphere_structure_factor(qq, col["micropore_radius_A"], col["micropore_packing_fraction"])
           + m.gaussian_peak(qq, col["g002_amplitude_per_cm"], col["q002_inv_A"], col["g002_sigma_inv_A"])
           + m.gaussian_peak(qq, col["na_metal_amplitude_per_cm"], m.Q_NA_METAL_INV_A, col["na_metal_sigma_inv_A"])
           + m.gaussian_peak(qq, col["na_pseudo_amplitude_per_cm"], m.Q_NA_PSEUDO_INV_A, col["na_pseudo_sigma_inv_A"])
           + m.gaussian_peak(qq, col["pvdf_amplitude_per_cm"], m.Q_PVDF_INV_A, col["pvdf_sigma_inv_A"])
           + m.gaussian_peak(qq, col["binder_saxs_amplitude_per_cm"], m.Q_BINDER_SAXS_INV_A,
                             col["binder_saxs_sigma_inv_A"])
           + m.gaussian_peak(qq, col["amorphous_amplitude_per_cm"], col["amorphous_centre_inv_A"],
                             col["amorphous_sigma_inv_A"])
           + col["background_per_cm"])
    # tabulated Schulz form factor (pd 0.3) and 7-sigma Gaussian cut-off: well below 1e-6 relative
    np.testing.assert_allclose(got, ref, rtol=1e-6)
    f32 = t.intensity_per_cm(q, dtype=np.float32, chunk_size=64)
    assert f32.dtype == np.float32
    np.testing.assert_allclose(f32, ref, rtol=1e-6)
    assert len(t) == 300 and len(t.subset(slice(0, 10))) == 10


def test_identical_plain_rows_are_evaluated_once_with_the_same_result():
    n = 3000
    zeros = np.zeros(n)
    t = m.HardCarbonTerms(zeros, 4.0, zeros, 6.5, 0.3, zeros, zeros, 1.55, 0.2, zeros, zeros, zeros, zeros,
                          np.where(np.arange(n) % 2, 0.03, 0.005), amorphous_amplitude_per_cm=0.02)
    q = np.linspace(0.01, 2.5, 50)
    got = t.intensity_per_cm(q)
    ref = (np.where(np.arange(n) % 2, 0.03, 0.005)[:, None]
           + m.gaussian_peak(q, 0.02, m.Q_LIQUID_INV_A, m.PEAK_SIGMA_INV_A["liquid"])[None, :])
    np.testing.assert_allclose(got, ref, rtol=1e-12)


# ------------------------------------------------------------------ the capillary twin
@pytest.fixture(scope="module")
def cells():
    pristine = capillary_cell(ndim=2, voxel_size_um=10.0, seed=3)
    return pristine, sodiation_state(pristine, time_min=65.0)


def _micropore_mean(twin, q):
    mask, terms = m.voxel_terms(twin)
    electrode = twin.labels[mask] == 4
    return terms.subset(electrode).term_intensity_per_cm(q, "micropores").mean()


def test_micropore_intensity_falls_about_35_percent_at_op5(cells):
    pristine, op5 = cells
    q = np.linspace(0.12, 0.4, 30)  # seeds/000 section 3 micropore region
    ratio = _micropore_mean(op5, q) / _micropore_mean(pristine, q)
    # The generator's closed-form statement: (Delta rho)^2 with carbon skeleton 1.5/0.8 g/cm3 and Na
    # 0.279 e/A^3 in the filled fraction of the pores falls by 35 % at op 5 (pore filling alone).
    n_s = 1.5 / 0.8 * N_A * 6 / 12.011 * 1e-24
    n_na = 0.968 * N_A * 11 / 22.98977 * 1e-24
    assert n_s == pytest.approx(0.564, abs=1e-3) and n_na == pytest.approx(0.279, abs=1e-3)
    pf = float(op5.truth["state/mean_pore_filling"])
    generator_ratio = (1 - pf * n_na / n_s) ** 2
    assert 1 - generator_ratio == pytest.approx(0.35, abs=0.02)
    # The model adds intercalated Na in the matrix, which raises the contrast a little.
    d = np.asarray(op5.truth["path/d002_A_knots"])
    mean_d = float(op5.truth["state/mean_d002_A"])
    x_int = m.INTERCALATED_NA_PER_C_FULL * (mean_d - d[0]) / (d[-1] - d[0])
    model_closed_form = (1 + x_int * 11 / 6 - pf * n_na / n_s) ** 2
    assert ratio == pytest.approx(model_closed_form, abs=0.01)
    assert 1 - ratio == pytest.approx(1 - generator_ratio, abs=0.04)
    assert 0.3 < 1 - ratio < 0.4


def test_voxel_terms_of_the_capillary(cells):
    pristine, op5 = cells
    mask, t = m.voxel_terms(op5)
    labels = op5.labels[mask]
    assert mask.shape == op5.labels.shape and len(t) == mask.sum()
    assert not np.any(mask[op5.labels == 3]) and not np.any(mask[op5.labels == 0])  # steel and air: none
    el = labels == 4
    d002 = op5.fields["d002_A"][mask][el].astype(float)
    np.testing.assert_allclose(t.q002_inv_A[el], 2 * np.pi / d002, rtol=1e-12)
    assert np.all(t.micropore_delta_sld_per_A2[el] > 0) and np.all(t.porod_exponent == 4.0)
    # pseudo-metallic Na only where pore filling exceeds the threshold, plated Na -> 2.07 peak
    pf = op5.fields["pore_filling"][mask][el]
    assert np.array_equal(t.na_pseudo_amplitude_per_cm[el] > 0, pf > m.PSEUDO_METAL_THRESHOLD)
    plated = op5.fields["plated_na_fraction"][mask][el]
    assert np.array_equal(t.na_metal_amplitude_per_cm[el] > 0, plated > 0) and plated.max() > 0
    _, t0 = m.voxel_terms(pristine)
    assert np.all(t0.na_pseudo_amplitude_per_cm == 0) and np.all(t0.na_metal_amplitude_per_cm == 0)
    # electrolyte voxels: flat n_e^2 r_e^2 kT kappa_T (hand) plus the liquid peak; quartz: silica peak near 1.5
    liq = labels == 2
    from twin import materials
    n_e = materials.get("NaPF6 EC:PC").electron_density_per_A3()
    flat = (R_E * n_e) ** 2 * 1.380649e-23 * 298.15 * 6.5e-10 * 1e30 * 1e8
    np.testing.assert_allclose(t.background_per_cm[liq], flat, rtol=1e-12)
    assert 0.02 < flat < 0.05  # water: 0.0165 1/cm
    q = np.array([0.05, 0.2, 1.5])
    i_liq = t.subset(np.flatnonzero(liq)[:3]).intensity_per_cm(q)
    assert np.all(i_liq[:, 0] == pytest.approx(flat, rel=1e-4)) and np.all(i_liq[:, 2] > 2 * flat)
    quartz = t.subset(np.flatnonzero(labels == 1)[:2]).intensity_per_cm(np.array([0.1, 1.0, 1.5, 2.5]))
    assert np.all(quartz[:, 2] > quartz[:, 1]) and np.all(quartz[:, 2] > quartz[:, 3])
    # the electrode: micropores dominate 0.12-0.3 1/A, far above the electrolyte (seeds/000 Methods mask)
    i_el = t.subset(np.flatnonzero(el)).intensity_per_cm(np.array([0.2]))
    assert np.all(i_el > 10 * flat)


def test_counter_electrode_na_scatters_at_2_07():
    twin = capillary_cell(ndim=2, voxel_size_um=20.0, counter_electrode=True, seed=1)
    mask, t = m.voxel_terms(twin)
    na = twin.labels[mask] == 5
    assert na.any() and not np.any(mask[twin.labels == 6])
    i = t.subset(np.flatnonzero(na)[:1]).intensity_per_cm(np.array([1.9, m.Q_NA_METAL_INV_A]))
    assert i[0, 1] > 100 * i[0, 0]


# ------------------------------------------------------------------ refusals
@pytest.mark.parametrize("call, name", [
    (lambda: m.sphere_form_factor(-0.1, 10.0), "q_inv_A"),
    (lambda: m.sphere_form_factor(np.nan, 10.0), "q_inv_A"),
    (lambda: m.sphere_form_factor(0.1, 0.0), "radius_A"),
    (lambda: m.sphere_form_factor(0.1, -5.0), "radius_A"),
    (lambda: m.sphere_form_factor(0.1, np.nan), "radius_A"),
    (lambda: m.sphere_form_factor("a", 1.0), "q_inv_A"),
    (lambda: m.sphere_form_factor(np.ones(3), np.ones(2)), "broadcast"),
    (lambda: m.schulz_sphere_form_factor(0.1, 10.0, 1.0), "polydispersity"),
    (lambda: m.schulz_sphere_form_factor(0.1, 10.0, -0.1), "polydispersity"),
    (lambda: m.hard_sphere_structure_factor(0.1, 10.0, 0.74), "volume_fraction"),
    (lambda: m.hard_sphere_structure_factor(0.1, 10.0, -0.01), "volume_fraction"),
    (lambda: m.sphere_intensity_per_cm(0.1, 10.0, 0.8, 1e-6), "volume_fraction"),
    (lambda: m.sphere_intensity_per_cm(0.1, 10.0, 0.1, np.inf), "delta_sld_per_A2"),
    (lambda: m.sphere_intensity_per_cm(0.1, 10.0, 0.1, 1e-6, structure_factor=1), "structure_factor"),
    (lambda: m.power_law(0.0, 1.0, 4.0), "q_inv_A"),
    (lambda: m.power_law(0.1, -1.0, 4.0), "scale_per_cm"),
    (lambda: m.power_law(0.1, 1.0, np.nan), "exponent"),
    (lambda: m.gaussian_peak(0.1, 1.0, 1.5, 0.0), "sigma_inv_A"),
    (lambda: m.gaussian_peak(0.1, -1.0, 1.5, 0.1), "amplitude_per_cm"),
    (lambda: m.peak_sigma_for_size(0.0), "size_A"),
    (lambda: m.peak_sigma_for_size(10.0, shape_factor=0), "shape_factor"),
    (lambda: m.bragg_d_A(0.0), "q_inv_A"),
    (lambda: m.bragg_q_inv_A(-4.0), "d_A"),
    (lambda: m.sld_from_electron_density(-0.1), "electron_density_per_A3"),
    (lambda: m.porod_scale_per_cm(1e-6, -1.0), "surface_per_volume_per_A"),
    (lambda: m.voxel_terms("twin"), "twin"),
])
def test_bad_input_is_refused_by_name(call, name):
    with pytest.raises((ValueError, TypeError), match=name):
        call()


def test_bad_terms_are_refused_by_name():
    rng = np.random.default_rng(0)
    good = _terms(4, rng)
    fields = {f.name: getattr(good, f.name) for f in dataclasses.fields(good)}
    for name, bad in [("micropore_radius_A", np.array([1.0, 0.0, 1.0, 1.0])),
                      ("micropore_polydispersity", np.full(4, 1.2)),
                      ("micropore_packing_fraction", np.full(4, 0.8)),
                      ("background_per_cm", np.array([0.0, np.nan, 0.0, 0.0])),
                      ("g002_amplitude_per_cm", np.full(4, -1.0)),
                      ("q002_inv_A", np.zeros((2, 2)))]:
        with pytest.raises(ValueError, match=name):
            m.HardCarbonTerms(**{**fields, name: bad})
    with pytest.raises(ValueError, match="same length"):
        m.HardCarbonTerms(**{**fields, "porod_exponent": np.full(3, 4.0)})
    with pytest.raises(ValueError, match="q_inv_A"):
        good.intensity_per_cm(np.array([0.0, 0.1]))
    with pytest.raises(ValueError, match="q_inv_A"):
        good.intensity_per_cm(np.ones((2, 2)))
    with pytest.raises(TypeError, match="dtype"):
        good.intensity_per_cm(np.array([0.1]), dtype=np.int32)
    with pytest.raises(ValueError, match="out"):
        good.intensity_per_cm(np.array([0.1]), out=np.empty((3, 1)))
    with pytest.raises(ValueError, match="term"):
        good.term_intensity_per_cm(np.array([0.1]), "everything")
    twin = capillary_cell(ndim=2, voxel_size_um=20.0)
    with pytest.raises(ValueError, match="twin"):
        m.voxel_terms(twin.replace(fields={}))
