"""Tests of forward.compton.physics against closed forms, xraylib and the Biggs (1975) table."""

from __future__ import annotations

import numpy as np
import pytest
import xraylib

from forward.compton import physics as P
from twin import materials as M
from validation import reference_data as R

E1 = P.INCIDENT_KEV
MC2 = P.ELECTRON_REST_KEV


def element(symbol: str) -> M.Material:
    return M.Material.from_formula(symbol, symbol, 1.0)


# ---------------------------------------------------------------------- kinematics
@pytest.mark.parametrize("energy, angle", [(114.64, 90.0), (20.0, 30.0), (59.54, 135.0), (300.0, 180.0),
                                           (8.0, 0.0), (114.64, 5.7)])
def test_compton_energy_closed_form_and_xraylib(energy, angle):
    t = np.radians(angle)
    expected = energy / (1 + energy / MC2 * (1 - np.cos(t)))
    got = P.compton_energy_kev(energy, angle)
    assert got == pytest.approx(expected, rel=1e-14)
    assert got == pytest.approx(xraylib.ComptonEnergy(energy, t), rel=1e-6)


def test_compton_energy_of_the_source_is_93_6_kev():
    # seeds/001, section 2.1 and results: 93.6 keV for 114.64 keV at 90 deg.
    assert P.compton_energy_kev(E1, 90.0) == pytest.approx(93.634, abs=1e-3)
    # Back-scattering: E / (1 + 2E/mc^2).
    assert P.compton_energy_kev(E1, 180.0) == pytest.approx(E1 / (1 + 2 * E1 / MC2), rel=1e-14)


def test_compton_energy_broadcasts():
    e = P.compton_energy_kev(np.array([[50.0], [100.0]]), np.array([0.0, 90.0, 180.0]))
    assert e.shape == (2, 3)
    np.testing.assert_allclose(e[:, 0], [50.0, 100.0], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- Klein-Nishina
@pytest.mark.parametrize("energy", [1.0, 30.0, 114.64, 511.0])
@pytest.mark.parametrize("angle", [0.0, 45.0, 90.0, 170.0])
def test_klein_nishina_vs_xraylib(energy, angle):
    got = P.klein_nishina_dsigma_domega_cm2(energy, angle)
    assert got == pytest.approx(xraylib.DCS_KN(energy, np.radians(angle)) * 1e-24, rel=1e-6)


@pytest.mark.parametrize("angle, phi", [(30.0, 0.0), (90.0, 45.0), (90.0, 90.0), (150.0, 20.0)])
def test_polarised_klein_nishina_vs_xraylib(angle, phi):
    got = P.klein_nishina_dsigma_domega_cm2(E1, angle, polarised=True, azimuth_deg=phi)
    assert got == pytest.approx(xraylib.DCSP_KN(E1, np.radians(angle), np.radians(phi)) * 1e-24, rel=1e-6)


def test_polarised_klein_nishina_geometry():
    # At 90 deg the horizontally polarised beam scatters least in the horizontal plane (phi = 0) and most in
    # the vertical plane (phi = 90); P = 0.5 is the mean of polarised and unpolarised; the azimuthal mean of
    # the polarised cross section is the unpolarised one.
    h = P.klein_nishina_dsigma_domega_cm2(E1, 90.0, polarised=True, azimuth_deg=0.0)
    v = P.klein_nishina_dsigma_domega_cm2(E1, 90.0, polarised=True, azimuth_deg=90.0)
    u = P.klein_nishina_dsigma_domega_cm2(E1, 90.0)
    half = P.klein_nishina_dsigma_domega_cm2(E1, 90.0, polarised=0.5, azimuth_deg=90.0)
    assert h < u < v
    assert half == pytest.approx(0.5 * (u + v), rel=1e-14)
    phi = np.linspace(0, 360, 721)[:-1]
    assert np.mean(P.klein_nishina_dsigma_domega_cm2(E1, 90.0, polarised=True, azimuth_deg=phi)) == \
        pytest.approx(u, rel=1e-12)


@pytest.mark.parametrize("energy", [0.5, 10.0, 114.64, 1000.0])
def test_klein_nishina_integrated_over_sphere_is_the_total(energy):
    theta = np.linspace(0, np.pi, 20001)
    d = P.klein_nishina_dsigma_domega_cm2(energy, np.degrees(theta))
    integral = np.trapezoid(2 * np.pi * np.sin(theta) * d, theta)
    assert integral == pytest.approx(P.klein_nishina_total_cm2(energy), rel=1e-7)
    if energy <= 800:
        assert P.klein_nishina_total_cm2(energy) == pytest.approx(xraylib.CS_KN(energy) * 1e-24, rel=1e-6)


def test_thomson_limit():
    r2 = P.ELECTRON_RADIUS_CM ** 2
    angles = np.array([0.0, 60.0, 90.0, 180.0])
    np.testing.assert_allclose(P.klein_nishina_dsigma_domega_cm2(1e-6, angles),
                               r2 * (1 + np.cos(np.radians(angles)) ** 2) / 2, rtol=1e-8)
    assert P.klein_nishina_dsigma_domega_cm2(E1, 0.0) == pytest.approx(r2, rel=1e-14)
    assert P.klein_nishina_total_cm2(1e-6) == pytest.approx(P.THOMSON_CM2, rel=1e-8)
    assert P.THOMSON_CM2 == pytest.approx(0.665245873e-24, rel=1e-8)  # CODATA 2018


def test_klein_nishina_total_continuous_across_the_series_switch():
    k = 1e-2 * MC2
    below, above = P.klein_nishina_total_cm2(k * (1 - 1e-9)), P.klein_nishina_total_cm2(k * (1 + 1e-9))
    assert below == pytest.approx(above, rel=1e-9)


# ---------------------------------------------------------------------- eq. (2)
def test_pz_is_zero_at_the_compton_energy_and_positive_above():
    for angle in (10.0, 90.0, 180.0):
        ec = P.compton_energy_kev(E1, angle)
        assert abs(P.pz_au(E1, ec, angle)) < 1e-10
        assert P.pz_au(E1, ec + 0.1, angle) > 0 > P.pz_au(E1, ec - 0.1, angle)


def test_pz_closed_form_of_eq2():
    e2, angle = np.linspace(80, 110, 7), 90.0
    c = np.cos(np.radians(angle))
    expected = P.MC_AU * (e2 - E1 + e2 * E1 / MC2 * (1 - c)) / np.sqrt(E1 ** 2 + e2 ** 2 - 2 * E1 * e2 * c)
    np.testing.assert_allclose(P.pz_au(E1, e2, angle), expected, rtol=1e-14)


@pytest.mark.parametrize("energy, angle, rtol", [(114.64, 90.0, 1e-12), (114.64, 5.7, 1e-12), (20.0, 150.0, 1e-12),
                                                 (500.0, 180.0, 1e-12), (60.0, 0.5, 2e-11)])
def test_pz_energy_round_trip(energy, angle, rtol):
    pz = np.linspace(-100, 100, 2001)
    e2 = P.scattered_energy_kev(energy, pz, angle)
    np.testing.assert_allclose(P.pz_au(energy, e2, angle), pz, rtol=0, atol=1e-12 * P.MC_AU)
    # E2 -> p_z -> E2: at 0.5 deg p_z hardly depends on E2 (dE2/dp_z ~ 1 keV/a.u.), which costs a digit.
    grid = np.linspace(0.3, 0.999, 500) * energy
    back = P.scattered_energy_kev(energy, P.pz_au(energy, grid, angle), angle)
    np.testing.assert_allclose(back, grid, rtol=rtol)


def test_pz_round_trip_to_1e_12_near_the_peak():
    pz = np.linspace(-10, 10, 401)
    back = P.pz_au(E1, P.scattered_energy_kev(E1, pz, 90.0), 90.0)
    assert np.max(np.abs(back - pz)) < 1e-12 * 10


@pytest.mark.parametrize("angle", [5.7, 90.0, 175.0])
def test_jacobian_vs_finite_difference(angle):
    e2 = np.linspace(50.0, 113.0, 40)
    h = 1e-5
    fd = (P.pz_au(E1, e2 + h, angle) - P.pz_au(E1, e2 - h, angle)) / (2 * h)
    np.testing.assert_allclose(P.dpz_dE_per_kev(E1, e2, angle), fd, rtol=1e-7)
    assert np.all(P.dpz_dE_per_kev(E1, e2, angle) > 0)


def test_jacobian_scale_at_the_compton_peak():
    # Near p_z = 0: dp_z/dE2 = mc / (E_C sqrt(E1^2 + E_C^2 - 2 E1 E_C cos theta)) * E1 (first-order eq. (2)).
    ec = P.compton_energy_kev(E1, 90.0)
    q = np.sqrt(E1 ** 2 + ec ** 2)
    assert P.dpz_dE_per_kev(E1, ec, 90.0) == pytest.approx(P.MC_AU * E1 / (ec * q), rel=1e-12)


# ---------------------------------------------------------------------- profiles vs Biggs and xraylib
BIGGS_J0 = {"H": 0.849, "Li": 2.590, "C": 2.890, "O": 2.780, "Ni": 6.900}  # SOURCES.md, compton/


def _biggs_blocks() -> dict[str, dict]:
    """UOCCUP, UBIND and columns of the Biggs extract, parsed here (reference_data gives only the total)."""
    path = R.data_dir() / "compton" / "biggs1975_compton_profiles_selected.dat"
    blocks, cur = {}, None
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.split()
        if not s:
            continue
        if s[0] == "#S":
            cur = blocks.setdefault(s[2], {"rows": []})
        elif cur is not None and s[0] == "#UOCCUP":
            cur["uoccup"] = np.array(s[1:], dtype=float)
        elif cur is not None and s[0] == "#UBIND":
            cur["ubind_ev"] = np.array(s[1:], dtype=float)
        elif cur is not None and not s[0].startswith("#"):
            cur["rows"].append(np.array(s, dtype=float))
    return {k: {**v, "table": np.array(v["rows"])} for k, v in blocks.items()}


@pytest.mark.parametrize("symbol", sorted(BIGGS_J0))
def test_j0_against_biggs_table_and_xraylib(symbol):
    z = M.element_z(symbol)
    prof = P.shell_profiles(element(symbol))
    j0 = z * float(prof.profile(0.0))
    assert j0 == pytest.approx(BIGGS_J0[symbol], rel=5e-3)
    pz, total = R.biggs_compton_profile(symbol)
    assert total[0] == pytest.approx(BIGGS_J0[symbol], rel=1e-12)
    # Whole profile: shell sum vs the tabulated total and vs xraylib's total (within 0.6 % of J(0)).
    ours = z * prof.profile(pz)
    assert np.max(np.abs(ours - total)) < 6e-3 * total[0]
    assert np.max(np.abs(ours - xraylib_total(z, pz))) < 6e-3 * total[0]


def xraylib_total(z, pz):
    return np.array([xraylib.ComptonProfile(int(z), float(p)) for p in pz])


@pytest.mark.parametrize("symbol", ["H", "Li", "C", "O", "Al", "Mn", "Co", "Ni"])
def test_shell_occupations_and_profiles_match_biggs(symbol):
    block = _biggs_blocks()[symbol]
    prof = P.shell_profiles(element(symbol))
    z = M.element_z(symbol)
    electrons = prof.electron_fraction * z
    assert electrons.sum() == pytest.approx(z, abs=1e-5)
    # Biggs shells are sub-shells n l; xraylib splits p, d over two macros (L2/L3, ...). Group ours by n l.
    nl = [P._SHELL_NL[s] for s in prof.shell]
    ours_by_nl = {k: electrons[[i for i, v in enumerate(nl) if v == k]].sum() for k in dict.fromkeys(nl)}
    np.testing.assert_allclose(list(ours_by_nl.values()), block["uoccup"], atol=1e-5)
    # Per-electron shell profiles equal the tabulated columns at the table's p_z.
    table = block["table"]
    first = [nl.index(k) for k in ours_by_nl]
    shells = prof.shell_profiles(table[:, 0])[first]
    np.testing.assert_allclose(shells.T, table[:, 2:], rtol=2e-3, atol=1e-9)
    # Binding energies: xraylib's edges vs UBIND (eV) for the core shells (>= 50 eV), within 5 %.
    ubind = block["ubind_ev"] / 1000
    deep = ubind >= 0.05
    np.testing.assert_allclose(prof.binding_kev[first][deep], ubind[deep], rtol=0.05)


@pytest.mark.parametrize("symbol", ["H", "Li", "C", "O", "Ni", "Cu", "W"])
def test_normalisation_2_int_j_is_z(symbol):
    z = M.element_z(symbol)
    prof = P.shell_profiles(element(symbol))
    pz = np.concatenate([np.linspace(0, 10, 20001), np.linspace(10, 100, 9001)[1:]])
    j = z * prof.profile(pz)
    assert 2 * np.trapezoid(j, pz) == pytest.approx(z, rel=1e-2)
    # Same with xraylib's total profile.
    assert 2 * np.trapezoid(xraylib_total(z, pz[::10]), pz[::10]) == pytest.approx(z, rel=1.5e-2)


def test_material_profile_equals_twin_material_profile():
    m = M.get("Li_x NMC811", x=0.7)
    pz = np.linspace(-8, 8, 81)
    # The shell sum reproduces the tabulated total to 0.6 % of J(0) (Biggs' rounding to 3 digits).
    ours, total = P.shell_profiles(m).profile(pz), m.compton_profile(pz)
    assert np.max(np.abs(ours - total)) < 6e-3 * total[40]


def test_core_plus_valence_is_total_and_valence_counts():
    li = P.shell_profiles(M.get("Li metal"))
    assert li.valence_fraction == pytest.approx(1 / 3, rel=1e-12)
    assert li.labels == ("Li K", "Li L1")
    m = M.get("Li_x NMC811", x=0.5)
    prof = P.shell_profiles(m)
    pz = np.linspace(-5, 5, 41)
    np.testing.assert_allclose(prof.profile(pz, "core") + prof.profile(pz, "valence"), prof.profile(pz),
                               rtol=1e-13)
    # Valence of Ni: 3d + 4s = 10 electrons of 28.
    ni = P.shell_profiles(element("Ni"))
    assert ni.valence_fraction * 28 == pytest.approx(10.0, abs=1e-4)
    assert set(ni.labels[i] for i in np.flatnonzero(~ni.is_core)) == {"Ni M4", "Ni M5", "Ni N1"}


def test_lithiation_sharpens_the_profile():
    # More Li (x up): more slow valence electrons, so more of J inside |p_z| < 1 (the EMF rises, seeds/001).
    def low_fraction(x):
        prof = P.shell_profiles(M.get("Li_x NMC811", x=x))
        pz = np.linspace(-5, 5, 2001)
        j = prof.profile(pz)
        inside = np.abs(pz) <= 1
        return np.trapezoid(j * inside, pz) / np.trapezoid(j * ~inside, pz)

    assert low_fraction(1.0) > low_fraction(0.6) > low_fraction(0.2)


# ---------------------------------------------------------------------- line shapes
def test_line_shape_area_and_peak():
    e2 = np.linspace(0.0, 200.0, 200001)
    li = M.get("Li metal")
    s = P.line_shape_per_kev(li, E1, 90.0, e2)
    assert np.trapezoid(s, e2) == pytest.approx(1.0, abs=2e-3)
    assert e2[np.argmax(s)] == pytest.approx(P.compton_energy_kev(E1, 90.0), abs=0.05)
    assert np.all(s[e2 >= E1] == 0) and s[0] == 0
    # Without the cut-off the area is the integral of J over the p_z range covered by 0 < E2 < E1
    # (change of variable E2 -> p_z), here -137 to 21.7 a.u.
    ni = element("Ni")
    free = P.line_shape_per_kev(ni, E1, 90.0, e2, binding_cutoff=False)
    top = float(P.pz_au(E1, E1, 90.0))
    pz = np.linspace(-P.PZ_MAX_AU, top, 400001)
    assert np.trapezoid(free, e2) == pytest.approx(np.trapezoid(P.shell_profiles(ni).profile(pz), pz), rel=1e-4)
    assert 0.99 < np.trapezoid(free, e2) < 1.0


def test_line_shape_is_j_times_jacobian():
    m = M.get("NMC811")
    e2 = np.array([88.0, 92.0, 93.6, 95.0, 99.0])
    pz = P.pz_au(E1, e2, 90.0)
    expected = m.compton_profile(pz) * P.dpz_dE_per_kev(E1, e2, 90.0)
    # All bindings (Ni K 8.3 keV) are below E1 - E2 here, so the cut-off removes nothing.
    np.testing.assert_allclose(P.line_shape_per_kev(m, E1, 90.0, e2), expected, rtol=2e-3)


def test_binding_cutoff_removes_exactly_the_tight_shells():
    ni = element("Ni")
    prof = P.shell_profiles(ni)
    e1, angle = 20.0, 90.0
    e2 = np.array([19.5, 19.0, 15.0, 11.0])  # energy transfers 0.5, 1.0, 5.0, 9.0 keV
    pz = P.pz_au(e1, e2, angle)
    j = prof.shell_profiles(pz)
    allowed = (e1 - e2)[None, :] > prof.binding_kev[:, None]
    expected = (prof.electron_fraction[:, None] * j * allowed).sum(0) * P.dpz_dE_per_kev(e1, e2, angle)
    got = P.line_shape_per_kev(ni, e1, angle, e2)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # At 0.5 keV transfer the K and L shells (8.3, 1.0, 0.87, 0.85 keV) are out; at 9 keV everything is in.
    assert not allowed[:4, 0].any() and allowed[:, 3].all()
    assert got[0] < P.line_shape_per_kev(ni, e1, angle, e2[:1], binding_cutoff=False)[0]


def test_doubly_differential_units_and_scalings():
    m = M.get("NMC811")
    e2 = np.linspace(85, 100, 16)
    per_e = P.doubly_differential_cm2_per_sr_kev(m, E1, 90.0, e2)
    shape = P.line_shape_per_kev(m, E1, 90.0, e2)
    np.testing.assert_allclose(per_e, shape * P.klein_nishina_dsigma_domega_cm2(E1, 90.0), rtol=1e-14)
    np.testing.assert_allclose(P.line_shape_per_sr_kev(m, E1, 90.0, e2), per_e, rtol=0)
    n_e = m.electron_density_per_A3() * 1e24
    assert P.electron_density_per_cm3(m) == pytest.approx(n_e, rel=1e-12)
    np.testing.assert_allclose(P.doubly_differential_cm2_per_sr_kev(m, E1, 90.0, e2, per="volume"), per_e * n_e,
                               rtol=1e-12)
    np.testing.assert_allclose(P.doubly_differential_cm2_per_sr_kev(m, E1, 90.0, e2, per="gram"),
                               per_e * n_e / m.density_g_cm3, rtol=1e-12)
    pol = P.doubly_differential_cm2_per_sr_kev(m, E1, 90.0, e2, polarised=True, azimuth_deg=90.0)
    np.testing.assert_allclose(pol / per_e, P.klein_nishina_dsigma_domega_cm2(E1, 90.0, polarised=True)
                               / P.klein_nishina_dsigma_domega_cm2(E1, 90.0), rtol=1e-12)


def test_integrated_compton_scattering_vs_xraylib_incoherent():
    # Integral over E2 of the per-gram DDCS ~ xraylib's incoherent DCS_Compt (KN x S(x, Z), Hubbell) within 3 %:
    # two independent treatments of binding (impulse approximation with cut-off vs scattering function).
    m = element("C")
    e2 = np.linspace(0.0, E1, 100001)
    ours = np.trapezoid(P.doubly_differential_cm2_per_sr_kev(m, E1, 90.0, e2, per="gram"), e2)
    ref = xraylib.DCS_Compt(6, E1, np.pi / 2)
    assert ours == pytest.approx(ref, rel=0.03)


# ---------------------------------------------------------------------- Rayleigh
@pytest.mark.parametrize("name", ["NMC811", "Li metal", "water"])
@pytest.mark.parametrize("angle", [5.0, 90.0, 150.0])
def test_rayleigh_vs_xraylib(name, angle):
    m = M.get(name)
    expected = sum(w * xraylib.DCS_Rayl(int(z), E1, np.radians(angle)) for z, w in m.mass_fractions.items())
    assert P.rayleigh_dsigma_domega_cm2_per_g(m, E1, angle) == pytest.approx(expected, rel=1e-6)
    pol = sum(w * xraylib.DCSP_Rayl(int(z), E1, np.radians(angle), np.radians(30.0))
              for z, w in m.mass_fractions.items())
    assert P.rayleigh_dsigma_domega_cm2_per_g(m, E1, angle, polarised=True, azimuth_deg=30.0) == \
        pytest.approx(pol, rel=1e-6)
    assert P.rayleigh_dsigma_domega_per_cm(m, E1, angle) == pytest.approx(expected * m.density_g_cm3, rel=1e-6)


def test_rayleigh_forward_is_thomson_z_squared():
    m = element("Ni")
    n_atoms = P.AVOGADRO_PER_MOL / xraylib.AtomicWeight(28)
    assert P.rayleigh_dsigma_domega_cm2_per_g(m, E1, 0.0) == pytest.approx(
        P.ELECTRON_RADIUS_CM ** 2 * 28 ** 2 * n_atoms, rel=1e-3)


# ---------------------------------------------------------------------- tables and mixing
def test_tables_and_spectrum_per_voxel():
    mats = [M.get("vacuum"), M.get("NMC811"), "Li metal"]
    e2 = np.linspace(80, 110, 31)
    table = P.compton_tables(mats, E1, 90.0, e2)
    assert table.shape == (3, 31) and np.all(table[0] == 0)
    np.testing.assert_allclose(table[2], P.doubly_differential_cm2_per_sr_kev("Li metal", E1, 90.0, e2,
                                                                              per="volume"), rtol=1e-14)
    labels = np.array([[0, 1], [2, 1]])
    np.testing.assert_array_equal(P.spectrum_per_voxel(labels, table), table[labels])
    fractions = np.array([[0.0, 0.25, 0.75], [1.0, 0.0, 0.0]])
    mixed = P.spectrum_per_voxel(fractions, table)
    np.testing.assert_allclose(mixed[0], 0.25 * table[1] + 0.75 * table[2], rtol=1e-14)
    assert np.all(mixed[1] == 0)
    ray = P.rayleigh_tables(mats, E1, 90.0)
    assert ray[0] == 0 and ray[1] == pytest.approx(P.rayleigh_dsigma_domega_per_cm("NMC811", E1, 90.0), rel=1e-14)
    np.testing.assert_allclose(P.spectrum_per_voxel(fractions, ray), fractions @ ray, rtol=1e-14)
    per_e = P.rayleigh_tables(mats, E1, 90.0, per="electron")
    assert per_e[1] * P.electron_density_per_cm3("NMC811") == pytest.approx(ray[1], rel=1e-12)


def test_line_shape_broadcasts_over_angles():
    angles = np.array([87.15, 90.0, 92.85])[:, None]
    e2 = np.linspace(85, 100, 11)[None, :]
    s = P.line_shape_per_kev("NMC811", E1, angles, e2)
    assert s.shape == (3, 11)
    np.testing.assert_allclose(s[1], P.line_shape_per_kev("NMC811", E1, 90.0, e2[0]), rtol=1e-14)


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("call", [
    lambda: P.pz_au(E1, 93.0, 0.0),
    lambda: P.scattered_energy_kev(E1, 0.5, 0.0),
    lambda: P.dpz_dE_per_kev(E1, 93.0, 0.0),
    lambda: P.line_shape_per_kev("NMC811", E1, 0.0, [93.0]),
    lambda: P.compton_tables(["NMC811"], E1, 0.0, [93.0]),
])
def test_angle_zero_refused_where_pz_is_needed(call):
    with pytest.raises(ValueError, match="angle_deg.*p_z"):
        call()


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_bad_energies_refused(bad):
    with pytest.raises(ValueError, match="energy_kev"):
        P.compton_energy_kev(bad, 90.0)
    with pytest.raises(ValueError, match="energy_kev"):
        P.klein_nishina_dsigma_domega_cm2(bad, 90.0)
    with pytest.raises(ValueError, match="energy_kev"):
        P.klein_nishina_total_cm2([10.0, bad])
    with pytest.raises(ValueError, match="energy_kev"):
        P.pz_au(bad, 93.0, 90.0)
    with pytest.raises(ValueError, match="scattered_kev"):
        P.pz_au(E1, bad, 90.0)
    with pytest.raises(ValueError, match="energy_kev"):
        P.rayleigh_dsigma_domega_cm2_per_g("NMC811", bad, 90.0)


@pytest.mark.parametrize("bad", [np.nan, -1.0, 180.5])
def test_bad_angles_refused(bad):
    with pytest.raises(ValueError, match="angle_deg"):
        P.compton_energy_kev(E1, bad)
    with pytest.raises(ValueError, match="angle_deg"):
        P.klein_nishina_dsigma_domega_cm2(E1, [90.0, bad])


def test_other_refusals():
    with pytest.raises(ValueError, match="pz_au"):
        P.scattered_energy_kev(E1, 137.1, 90.0)
    with pytest.raises(ValueError, match="pz_au"):
        P.scattered_energy_kev(E1, np.nan, 90.0)
    with pytest.raises(ValueError, match="scattered_kev"):
        P.line_shape_per_kev("NMC811", E1, 90.0, [-1.0, 93.0])
    with pytest.raises(ValueError, match="scattered_kev"):
        P.line_shape_per_kev("NMC811", E1, 90.0, [np.nan])
    with pytest.raises(ValueError, match="polarised"):
        P.klein_nishina_dsigma_domega_cm2(E1, 90.0, polarised=1.5)
    with pytest.raises(ValueError, match="per"):
        P.doubly_differential_cm2_per_sr_kev("NMC811", E1, 90.0, [93.0], per="atom")
    with pytest.raises(ValueError, match="which"):
        P.line_shape_per_kev("NMC811", E1, 90.0, [93.0], which="inner")
    with pytest.raises(ValueError, match="vacuum"):
        P.shell_profiles(M.get("vacuum"))
    with pytest.raises(TypeError, match="material"):
        P.shell_profiles(3.0)
    with pytest.raises(ValueError, match="weights"):
        P.spectrum_per_voxel(np.ones((2, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="weights"):
        P.spectrum_per_voxel(np.array([0, 3]), np.ones((3, 5)))
    with pytest.raises(ValueError, match="weights"):
        P.spectrum_per_voxel(np.array([[-0.1, 0.5, 0.6]]), np.ones((3, 5)))
    with pytest.raises(ValueError, match="weights"):
        P.spectrum_per_voxel(np.array([[np.nan, 0.5, 0.5]]), np.ones((3, 5)))
    with pytest.raises(ValueError, match="pz_au"):
        P.shell_profiles("NMC811").profile(np.nan)
