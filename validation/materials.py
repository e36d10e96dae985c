"""Validation of ``twin.materials`` against independent reference data.

Every modality draws its X-ray physics from :class:`twin.materials.Material`,
so its numbers are checked here against tables nobody on the team computed
(``shared/data/SOURCES.md``): NIST mass attenuation (Hubbell & Seltzer,
SRD 126), NIST XCOM v2.1 partial cross sections (via elam.dat), the Biggs,
Mendelsohn & Mann (1975) Compton profiles, hand calculations, and values
published in the seed papers and by the NIST SLD calculator.

Nothing here is random: ``seed`` is accepted for the common ``run``
signature and recorded in the report.
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np
from scipy.integrate import trapezoid

from twin import materials
from twin.materials import Material
from validation import reference_data
from validation.report import Check, Report
from xtwin import arguments, files

#: Energies of the NIST comparison, keV: tabulated points of every table used, away from the
#: K edges of C, O, Al and Ni (0.28, 0.53, 1.56 and 8.33 keV), within 5-120 keV.
NIST_ENERGIES_KEV = (8.0, 20.0, 60.0)
#: Standard atomic weights, g/mol (IUPAC/CIAAW 2013 conventional values), for the Al2O3 mixture rule.
ATOMIC_WEIGHT_AL, ATOMIC_WEIGHT_O = 26.9815385, 15.999
#: Published NIST mu/rho, cm2/g (the NIST table itself, quoted in SOURCES.md): (table, energy keV, value).
PUBLISHED_MU_RHO = (("Ni", 10.0, 209.0), ("Ni", 20.0, 32.20), ("Ni", 100.0, 0.4440), ("C", 20.0, 0.4420),
                    ("water", 60.0, 0.2059))

_PLOT_TABLES = (("C", "graphite"), ("Ni", "Ni"), ("water", "water"))


def _nickel() -> Material:
    # Ni metal is not in the registry (NiO is); mu/rho does not depend on the density given here.
    return Material.from_formula("Ni", "Ni", 8.908, density_source="CRC Handbook, elements (8.908 g/cm3)")


def _xtwin_materials() -> dict[str, Material]:
    """The materials compared with the NIST tables, keyed by table name."""
    return {"C": materials.get("graphite"), "Ni": _nickel(), "water": materials.get("water"),
            "Al2O3": materials.get("Al2O3")}


def _nist_mu_rho(table: str, energy_kev: float | np.ndarray) -> np.ndarray:
    """NIST mu/rho, cm2/g; Al2O3 by the mixture rule of the Al and O tables (no Al2O3 table exists)."""
    if table == "Al2O3":
        w_al = 2 * ATOMIC_WEIGHT_AL / (2 * ATOMIC_WEIGHT_AL + 3 * ATOMIC_WEIGHT_O)  # 0.5293
        return (w_al * reference_data.nist_interpolate("Al", energy_kev)
                + (1 - w_al) * reference_data.nist_interpolate("O", energy_kev))
    return reference_data.nist_interpolate(table, energy_kev)


def _attenuation_checks() -> list[Check]:
    checks = []
    tables = _xtwin_materials()
    for table, material in tables.items():
        mu_xtwin = material.mass_attenuation_cm2_g(np.array(NIST_ENERGIES_KEV))
        mu_nist = _nist_mu_rho(table, np.array(NIST_ENERGIES_KEV))
        for e, value, truth in zip(NIST_ENERGIES_KEV, mu_xtwin, mu_nist):
            checks.append(Check(
                f"nist_mu_rho_{table}_{e:g}keV", value, 0.03, truth=truth, unit="cm2/g",
                why=f"mu/rho of {table} vs the NIST Hubbell-Seltzer table (SRD 126)"
                    + (", Al2O3 by the mixture rule of Al and O with w_Al = 0.5293" if table == "Al2O3" else "")
                    + "; 3 % covers XCOM versions (xraylib holds XCOM via elam.dat) and interpolation"))
    for table, e, truth in PUBLISHED_MU_RHO:
        material = tables[table]
        checks.append(Check(
            f"published_mu_rho_{table}_{e:g}keV", float(material.mass_attenuation_cm2_g(e)), 0.03, truth=truth,
            unit="cm2/g",
            why=f"published NIST SRD 126 value {truth} cm2/g (SOURCES.md); 3 % as for the table comparison"))
    return checks


def _partial_cross_section_checks() -> list[Check]:
    photo = reference_data.xcom_elam("photoabsorption")
    scatter = reference_data.xcom_elam("scattering")
    columns = (("photo", photo, "photo_cm2_g"), ("compton", scatter, "incoherent_cm2_g"),
               ("rayleigh", scatter, "coherent_cm2_g"))
    checks = []
    for symbol, material in (("Ni", _nickel()), ("C", materials.get("graphite"))):
        for process, data, column in columns:
            table = data[symbol]
            truth = reference_data.loglog_interpolate(table["energy_kev"], table[column], 20.0)
            checks.append(Check(
                f"xcom_{process}_{symbol}_20keV", float(material.mass_attenuation_cm2_g(20.0, process)), 0.02,
                truth=float(truth), unit="cm2/g",
                why=f"{process} cross section of {symbol} at 20 keV vs NIST XCOM v2.1 from elam.dat (Elam, "
                    f"Ravel & Sieber 2002); 2 % allows xraylib's spline vs the 6-digit tabulated point"))
    return checks


def _compton_checks() -> list[Check]:
    checks = []
    for symbol in ("C", "O", "Ni"):
        z = materials.element_z(symbol)
        _, j_biggs = reference_data.biggs_compton_profile(symbol)
        # xtwin's profile is per electron; the atomic table is per atom, so J_atom(0) = Z J_xtwin(0).
        j0 = z * float(Material.from_formula(symbol, symbol, 1.0).compton_profile(0.0))
        checks.append(Check(
            f"biggs_J0_{symbol}", j0, 0.01, truth=float(j_biggs[0]), unit="1/a.u.",
            why=f"J(0) of {symbol} (Z={z} times xtwin's per-electron profile) vs Biggs, Mendelsohn & Mann "
                f"(1975), DABAX table; 1 % is the rounding of the 3-4 digit table and xraylib's spline"))
    # One-sided grid, dense near p_z = 0 where the valence profile peaks; J is even in p_z.
    pz = np.concatenate([[0.0], np.geomspace(1e-4, materials.PZ_MAX_AU, 20001)])
    norm = 2 * trapezoid(materials.get("NMC811").compton_profile(pz), pz)
    checks.append(Check(
        "compton_norm_NMC811", norm, 0.01, truth=1.0,
        why="integral of the per-electron profile of NMC811 over -100 < p_z < 100 a.u. must be 1 (xtwin's "
            "normalisation); 1 % allows the Biggs tables, which integrate to Z within 1.3 % on their own grid"))
    return checks


def _scattering_and_transmission_checks() -> list[Check]:
    water, nmc = materials.get("water"), materials.get("NMC811")
    # 10 electrons per 18.015 g/mol, 1 g/cm3, N_A = 6.02214e23 /mol, 1 cm3 = 1e24 A3.
    n_e_hand = 10 / 18.015 * 6.02214076e23 * 1.0 * 1e-24
    return [
        Check("electron_density_water", water.electron_density_per_A3(), 1e-3, truth=round(n_e_hand, 4),
              unit="1/A3",
              why="hand value 10 e / 18.015 g/mol x N_A x 1 g/cm3 = 0.3343 e/A3; 0.1 % covers the 4-digit "
                  "rounding and xraylib's atomic weights rounded to 0.01 u (M = 18.02)"),
        Check("sld_water_8p04keV", float(water.sld_per_A2(8.04)), 5e-3, truth=9.469e-6, unit="1/A2",
              why="NIST SLD calculator, H2O at 1 g/cm3 and Cu K-alpha (8.04 keV): 9.469e-6 1/A2; 0.5 % allows "
                  "different anomalous factors f' (xraylib Kissel vs Henke/Chantler)"),
        Check("transmission_NMC811_42um_5p4keV", float(nmc.transmission(42.0, 5.4)), 0.015, truth=0.14,
              comparison="abs",
              why="seeds/002 Methods 'Preparation': 5.4 keV gives ~14 % transmission through ~42 um of "
                  "NMC811; abs 0.015 because the source rounds ('approximately 14 %', 'approximately 42 um')"),
        Check("edge_Ni_K", _nickel().edges_kev(("K",))["Ni K"], 1e-3, truth=8.333, unit="keV", comparison="abs",
              why="Ni K edge of Bearden & Burr (1967), 8333.0 eV as in elam.dat; 1 eV is the spread between "
                  "edge tabulations (8332.8 eV in xraylib)"),
    ]


def _write_plot(path: Path) -> None:
    """Log-log mu/rho vs energy: xtwin curves and NIST points for C, Ni and water."""
    # Figure + Agg canvas, not pyplot: no global backend switch and no figure registry in a library call.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    tables = _xtwin_materials()
    for (table, label), color in zip(_PLOT_TABLES, ("C0", "C1", "C2")):
        material = tables[table]
        # Sample both sides of each edge so that the jump is drawn vertical.
        edges = np.array([e for e in material.edges_kev().values() if 1.0 < e < 150.0])
        energy_kev = np.sort(np.concatenate([np.geomspace(1.0, 150.0, 400), edges * (1 - 1e-6),
                                             edges * (1 + 1e-6)]))
        ax.loglog(energy_kev, material.mass_attenuation_cm2_g(energy_kev), color=color,
                  label=f"{label} (xtwin)")
        e_nist, mu_nist = reference_data.nist_mass_attenuation(table)
        keep = e_nist <= 150.0
        ax.loglog(e_nist[keep], mu_nist[keep], "o", color=color, mfc="none", label=f"{label} (NIST SRD 126)")
    ax.set_xlabel("photon energy (keV)")
    ax.set_ylabel(r"$\mu/\rho$ (cm$^2$/g)")
    ax.set_title("Mass attenuation: xtwin vs NIST Hubbell & Seltzer")
    ax.legend(fontsize="small")
    fig.savefig(path, format="png", dpi=120)


def _write_csv(path: Path, checks: list[Check]) -> None:
    columns = ("name", "value", "truth", "unit", "comparison", "error", "tolerance", "passed", "why")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(c.to_dict() for c in checks)


def run(*, seed: int = 0, out_dir: str | os.PathLike | None = None) -> Report:
    """Validate the X-ray properties of :mod:`twin.materials` against reference data.

    Parameters
    ----------
    seed : int
        Recorded in the report; nothing here is random.
    out_dir : path-like, optional
        Folder for the artefacts ``materials_attenuation.png`` (mu/rho of C,
        Ni and water, xtwin vs NIST) and ``materials_checks.csv``; created
        if needed, files in it replaced.

    Returns
    -------
    Report
        Modality ``"materials"``, about 30 checks; ``timings_s["compute"]``
        in seconds. Runs in about a second.
    """
    seed = arguments.integer("seed", seed)
    start = time.perf_counter()
    checks = (_attenuation_checks() + _partial_cross_section_checks() + _compton_checks()
              + _scattering_and_transmission_checks())
    timings = {"compute": time.perf_counter() - start}
    artefacts: list[str] = []
    if out_dir is not None:
        out = Path(out_dir)
        # The caller chose this folder for this run's artefacts, so a rerun replaces them.
        with files.atomic_path(out / "materials_attenuation.png", overwrite=True) as tmp:
            _write_plot(tmp)
        with files.atomic_path(out / "materials_checks.csv", overwrite=True) as tmp:
            _write_csv(tmp, checks)
        artefacts = ["materials_attenuation.png", "materials_checks.csv"]
    return Report("materials", checks, seed=seed, timings_s=timings, artefacts=artefacts)
