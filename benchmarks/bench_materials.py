"""Benchmark xtwin's material physics against established per-call and vectorised tools.

Cases
-----
(a) Mass attenuation mu/rho of NMC811 (LiNi0.8Mn0.1Co0.1O2) at 10^4 and
    10^5 energies from 5 to 120 keV: :meth:`twin.materials.Material.mass_attenuation_cm2_g`
    (xraylib_np, one call for all energies) against a loop of
    ``xraylib.CS_Total_CP(formula, E)`` and against
    ``xraydb.material_mu(formula, E_eV, density) / density``.
(b) Compton profile J(p_z) of NMC811 on 10^5 momenta:
    :meth:`~twin.materials.Material.compton_profile` against a loop of
    ``xraylib.ComptonProfile(Z, p_z)`` over elements and points, combined
    with the same electron weights.
(c) Per-voxel linear attenuation of a four-phase 256^3 twin at 30 keV:
    :meth:`twin.Twin.linear_attenuation_per_cm` (table lookup) against
    ``np.select`` and a chain of ``np.where`` over the phases.

Every time is the best of up to 5 calls (``time.perf_counter``), after an
untimed warm-up on a small input. ``ratio`` is reference s / xtwin s (> 1:
xtwin is faster). ``max rel diff`` compares xtwin's values with the
reference's; xraydb interpolates its own copy of the Elam, Ravel & Sieber
tables, so small differences are expected.

Run from the repository root: ``python benchmarks/bench_materials.py``.
"""

from __future__ import annotations

import numpy as np
import xraydb
import xraylib

from _common import best_of, cathode_twin, header, max_rel_diff, print_table
from twin import materials

FORMULA = "LiNi0.8Mn0.1Co0.1O2"
ENERGY_RANGE_KEV = (5.0, 120.0)
TWIN_ENERGY_KEV = 30.0


def xraylib_loop_mu(energy_kev: np.ndarray) -> np.ndarray:
    """mu/rho, cm2/g, one ``xraylib.CS_Total_CP`` call per energy."""
    return np.array([xraylib.CS_Total_CP(FORMULA, e) for e in energy_kev.tolist()])


def xraydb_mu(energy_kev: np.ndarray, density_g_cm3: float) -> np.ndarray:
    """mu/rho, cm2/g, from xraydb (energies in eV, result in 1/cm)."""
    return xraydb.material_mu(FORMULA, energy_kev * 1e3, density=density_g_cm3) / density_g_cm3


def xraylib_loop_compton(material: materials.Material, pz_au: np.ndarray) -> np.ndarray:
    """Electron-weighted J(p_z) with one ``xraylib.ComptonProfile`` call per element and point."""
    moles = material.moles_per_gram()
    pz = np.abs(pz_au).tolist()
    per_element = np.array([[xraylib.ComptonProfile(int(z), p) for p in pz] for z in material.elements])
    return moles @ per_element / (moles @ material.elements)


def select_map(twin, mu: dict[int, float]) -> np.ndarray:
    """Per-voxel mu with ``np.select`` over one boolean mask per phase."""
    return np.select([twin.labels == label for label in mu], list(mu.values()))


def where_map(twin, mu: dict[int, float]) -> np.ndarray:
    """Per-voxel mu with a chain of ``np.where``, one pass per phase."""
    out = np.zeros(twin.shape)
    for label, value in mu.items():
        out = np.where(twin.labels == label, value, out)
    return out


def main() -> None:
    """Run cases (a)-(c) and print one table."""
    header("bench_materials", ["numpy", "xraylib", "xraydb"])
    nmc = materials.get("NMC811")
    rows = []

    warm = np.linspace(*ENERGY_RANGE_KEV, 10)
    nmc.mass_attenuation_cm2_g(warm)
    xraylib_loop_mu(warm)
    xraydb_mu(warm, nmc.density_g_cm3)
    for n in (10**4, 10**5):
        energy = np.linspace(*ENERGY_RANGE_KEV, n)
        t_x, mu_x = best_of(lambda: nmc.mass_attenuation_cm2_g(energy))
        t_loop, mu_loop = best_of(lambda: xraylib_loop_mu(energy))
        t_db, mu_db = best_of(lambda: xraydb_mu(energy, nmc.density_g_cm3))
        case = f"mu/rho NMC811, 10^{round(np.log10(n))} E vs"
        rows.append((f"{case} xraylib.CS_Total_CP loop", t_x, t_loop, t_loop / t_x, max_rel_diff(mu_x, mu_loop)))
        rows.append((f"{case} xraydb.material_mu", t_x, t_db, t_db / t_x, max_rel_diff(mu_x, mu_db)))

    worst_xraydb_kev = energy[np.argmax(np.abs(mu_x / mu_db - 1))]  # on the 10^5 grid

    pz = np.linspace(-20.0, 20.0, 10**5)
    nmc.compton_profile(pz[:10])
    xraylib_loop_compton(nmc, pz[:10])
    t_x, j_x = best_of(lambda: nmc.compton_profile(pz))
    t_loop, j_loop = best_of(lambda: xraylib_loop_compton(nmc, pz))
    rows.append(("J(pz) NMC811, 10^5 pz vs xraylib.ComptonProfile loop", t_x, t_loop, t_loop / t_x,
                 max_rel_diff(j_x, j_loop)))

    twin = cathode_twin(256)
    mu = {label: float(m.linear_attenuation_per_cm(TWIN_ENERGY_KEV)) for label, m in twin.phases.items()}
    t_x, map_x = best_of(lambda: twin.linear_attenuation_per_cm(TWIN_ENERGY_KEV))
    for name, fn in (("np.select", select_map), ("np.where chain", where_map)):
        t_ref, map_ref = best_of(lambda: fn(twin, mu))
        rows.append((f"mu map 256^3, 4 phases vs {name}", t_x, t_ref, t_ref / t_x, max_rel_diff(map_x, map_ref)))

    print_table(("case", "xtwin s", "reference s", "ratio", "max rel diff"), rows)
    print(f"Largest xtwin/xraydb difference over {ENERGY_RANGE_KEV[0]:g}-{ENERGY_RANGE_KEV[1]:g} keV "
          f"at {worst_xraydb_kev:.4f} keV.")


if __name__ == "__main__":
    main()
