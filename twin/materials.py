"""Materials and their X-ray properties.

One material, one source of physics (DESIGN.md): every modality asks a
:class:`Material` for its attenuation, electron density, scattering length
density, absorption edges and Compton profile, and every number comes from
xraylib's tables (Schoonjans et al., Spectrochim. Acta B 66 (2011) 776):

* cross sections (photoelectric, Rayleigh, Compton) from xraylib's
  splines of the Elam, Ravel & Sieber database, which above 1 keV holds
  NIST XCOM (Berger & Hubbell);
* Compton profiles J(p_z) of Biggs, Mendelsohn & Mann, At. Data Nucl. Data
  Tables 16 (1975) 201;
* edge energies of Bearden & Burr / Elam.

A compound is a set of element mass fractions ``w_i`` and a density. Mass
attenuation follows the mixture rule ``mu/rho = sum_i w_i (mu/rho)_i``
(independent-atom approximation: chemical binding and solid-state effects
such as XAFS are neglected). Mixtures of materials are built by mass or by
volume fraction without excess volume.

Intercalation hosts (:class:`IntercalationHost`) give the composition of
``Li_x NMC811`` or ``Na_x C`` at any ``x``; their density follows from the
molar volume, interpolated linearly in ``x`` between two cited end members.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np
import xraylib
import xraylib_np

from xtwin import arguments

#: Avogadro constant, 1/mol (SI 2019, exact).
AVOGADRO_PER_MOL = 6.02214076e23
#: Classical electron radius r_e, Angstrom (CODATA 2018: 2.8179403262e-15 m).
ELECTRON_RADIUS_A = 2.8179403262e-5

PROCESSES = ("total", "photo", "compton", "rayleigh")
_CROSS_SECTION = {
    "total": xraylib_np.CS_Total,
    "photo": xraylib_np.CS_Photo,
    "compton": xraylib_np.CS_Compt,
    "rayleigh": xraylib_np.CS_Rayl,
}
_SHELLS = {"K": xraylib.K_SHELL, "L1": xraylib.L1_SHELL, "L2": xraylib.L2_SHELL, "L3": xraylib.L3_SHELL,
           "M1": xraylib.M1_SHELL, "M2": xraylib.M2_SHELL, "M3": xraylib.M3_SHELL,
           "M4": xraylib.M4_SHELL, "M5": xraylib.M5_SHELL}
#: Largest p_z in xraylib's Compton profile tables, atomic units.
PZ_MAX_AU = 100.0


def element_z(symbol: str | int) -> int:
    """Return the atomic number of an element given by symbol (``"Ni"``) or number."""
    if isinstance(symbol, (int, np.integer)) and not isinstance(symbol, bool):
        z = int(symbol)
        if 1 <= z <= 98:
            return z
        raise ValueError(f"element={symbol!r}: expected an atomic number in [1, 98]")
    try:
        return int(xraylib.SymbolToAtomicNumber(str(symbol)))
    except ValueError:
        raise ValueError(f"element={symbol!r}: expected a chemical symbol such as 'Ni' or 'Li'") from None


def element_symbol(z: int) -> str:
    """Return the chemical symbol of atomic number ``z``."""
    return xraylib.AtomicNumberToSymbol(int(z))


@dataclass(frozen=True)
class Material:
    """A homogeneous material: element mass fractions and a density.

    Build one with :meth:`from_formula` or :meth:`from_mass_fractions`, or
    take one from the registry with :func:`get`.

    Parameters
    ----------
    name : str
        Short name, unique in a registry or twin (``"NMC811"``).
    mass_fractions : mapping of int to float
        Atomic number -> mass fraction; normalised to sum 1. Empty only for
        vacuum (``density_g_cm3 == 0``).
    density_g_cm3 : float
        Density, g/cm3, >= 0.
    formula : str, optional
        Chemical formula when the material is a compound (``"LiNiO2"``).
    density_source : str
        Where the density comes from (reference or derivation).
    description : str
        One line for humans.
    """

    name: str
    mass_fractions: Mapping[int, float]
    density_g_cm3: float
    formula: str | None = None
    density_source: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name={self.name!r}: expected a non-empty string")
        for attr in ("name", "formula", "density_source", "description"):
            text = getattr(self, attr)
            # NUL cannot be stored in HDF5 strings, where twins keep their materials.
            if text is not None and (not isinstance(text, str) or "\x00" in text):
                raise ValueError(f"{attr}={text!r}: expected a string without NUL characters")
        if self.formula == "":
            object.__setattr__(self, "formula", None)
        density = arguments.positive("density_g_cm3", self.density_g_cm3, allow_zero=True, unit="g/cm3")
        fractions = {}
        for key, w in dict(self.mass_fractions).items():
            z = element_z(key)
            w = arguments.positive(f"mass_fractions[{key!r}]", w, allow_zero=True)
            if w > 0:
                fractions[z] = fractions.get(z, 0.0) + w
        total = sum(fractions.values())
        if not fractions and density > 0:
            raise ValueError(f"mass_fractions={dict(self.mass_fractions)!r}: expected at least one element "
                             f"with a positive fraction for a material of density {density} g/cm3")
        # Renormalise only when needed, so that stored fractions come back bit for bit.
        scale = 1.0 / total if fractions and abs(total - 1.0) > 1e-12 else 1.0
        fractions = {z: w * scale for z, w in sorted(fractions.items())}
        object.__setattr__(self, "mass_fractions", MappingProxyType(fractions))
        object.__setattr__(self, "density_g_cm3", density)

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_formula(cls, name: str, formula: str, density_g_cm3: float, *, density_source: str = "",
                     description: str = "") -> "Material":
        """Build a material from a chemical formula parsed by xraylib (``"LiNi0.8Mn0.1Co0.1O2"``)."""
        try:
            parsed = xraylib.CompoundParser(formula)
        except ValueError:
            raise ValueError(f"formula={formula!r}: expected a chemical formula such as 'LiNiO2' "
                             f"or 'C2H4O'") from None
        fractions = dict(zip(parsed["Elements"], parsed["massFractions"]))
        return cls(name, fractions, density_g_cm3, formula=formula, density_source=density_source,
                   description=description)

    @classmethod
    def from_mass_fractions(cls, name: str, fractions: Mapping[str | int, float], density_g_cm3: float, *,
                            density_source: str = "", description: str = "") -> "Material":
        """Build a material from element symbols (or atomic numbers) and mass fractions."""
        return cls(name, dict(fractions), density_g_cm3, density_source=density_source,
                   description=description)

    # ------------------------------------------------------------------ composition
    @property
    def elements(self) -> np.ndarray:
        """Atomic numbers present, ascending, shape (n_elements,)."""
        return np.fromiter(self.mass_fractions.keys(), dtype=np.int64)

    @property
    def weights(self) -> np.ndarray:
        """Mass fractions in the order of :attr:`elements`, summing to 1."""
        return np.fromiter(self.mass_fractions.values(), dtype=float)

    @property
    def is_vacuum(self) -> bool:
        """True for a material of zero density (vacuum)."""
        return self.density_g_cm3 == 0.0

    def moles_per_gram(self) -> np.ndarray:
        """Moles of each element per gram of material, mol/g, in the order of :attr:`elements`."""
        atomic_weight = np.array([xraylib.AtomicWeight(int(z)) for z in self.elements])
        return self.weights / atomic_weight

    def atom_fractions(self) -> dict[str, float]:
        """Number fractions of atoms by element symbol (sum 1)."""
        n = self.moles_per_gram()
        return {element_symbol(z): float(v) for z, v in zip(self.elements, n / n.sum())} if n.size else {}

    # ------------------------------------------------------------------ attenuation
    def mass_attenuation_cm2_g(self, energy_kev: float | np.ndarray, process: str = "total") -> np.ndarray:
        """Mass attenuation coefficient mu/rho, cm2/g.

        Mixture rule over the elements with xraylib cross sections;
        ``"total"`` is photoelectric + Rayleigh + Compton (pair production is
        zero below 1.022 MeV, above xraylib's range).

        Parameters
        ----------
        energy_kev : float or array
            Photon energies, keV, in xraylib's range (0.1-800 keV).
        process : {"total", "photo", "compton", "rayleigh"}
            Interaction.

        Returns
        -------
        ndarray
            Same shape as ``energy_kev``.
        """
        e = arguments.energies_kev("energy_kev", energy_kev)
        arguments.one_of("process", process, PROCESSES)
        if not self.mass_fractions:
            return np.zeros_like(e)
        table = _CROSS_SECTION[process](self.elements, np.atleast_1d(e).ravel())
        return (self.weights @ table).reshape(e.shape)

    def linear_attenuation_per_cm(self, energy_kev: float | np.ndarray, process: str = "total") -> np.ndarray:
        """Linear attenuation coefficient mu = (mu/rho) rho, 1/cm."""
        return self.mass_attenuation_cm2_g(energy_kev, process) * self.density_g_cm3

    def attenuation_length_um(self, energy_kev: float | np.ndarray) -> np.ndarray:
        """1/e attenuation length 1/mu, um (infinite for vacuum)."""
        mu = self.linear_attenuation_per_cm(energy_kev)
        with np.errstate(divide="ignore"):
            return 1e4 / mu

    def transmission(self, thickness_um: float | np.ndarray, energy_kev: float | np.ndarray) -> np.ndarray:
        """Beer-Lambert transmission exp(-mu t) through ``thickness_um`` of material.

        Broadcasts ``thickness_um`` against ``energy_kev``.
        """
        t = np.asarray(thickness_um, dtype=float)
        if np.any(~np.isfinite(t) | (t < 0)):
            raise ValueError(f"thickness_um={thickness_um!r}: expected finite thicknesses >= 0 (in um)")
        return np.exp(-self.linear_attenuation_per_cm(energy_kev) * t * 1e-4)

    def energies_for_transmission(self, transmission: float, thickness_um: float, *,
                                  bracket_kev: tuple[float, float] = (1.0, 200.0),
                                  n_grid: int = 4000) -> np.ndarray:
        """Photon energies, keV, at which ``thickness_um`` transmits the fraction ``transmission``.

        Transmission is sampled on a log grid of ``n_grid`` energies in
        ``bracket_kev``; each sign change of ln T - ln target is refined with
        Brent's method and kept only if ln T there matches the target to
        1e-7, which rejects the jumps at absorption edges (xraylib's tables
        put the jump slightly off ``EdgeEnergy``, so edges are not used as
        breakpoints). Below the Mn K edge of NMC811, 14 % through 42 um is
        reached at 5.35 keV (seeds/002, Methods, "Preparation": 5.4 keV for
        about 14 %).

        Returns
        -------
        ndarray
            Every solution in keV, ascending, possibly empty. Two solutions
            closer than the grid spacing (0.13 % of the energy for the
            defaults) can be missed.
        """
        from scipy.optimize import brentq

        target = arguments.in_range("transmission", transmission, 1e-300, 1.0 - 1e-12)
        thickness = arguments.positive("thickness_um", thickness_um, unit="um")
        low, high = (float(v) for v in arguments.energies_kev("bracket_kev", bracket_kev))
        if not low < high:
            raise ValueError(f"bracket_kev={bracket_kev!r}: expected (low, high) with low < high")
        n = arguments.integer("n_grid", n_grid, minimum=2)
        grid = np.geomspace(low, high, n)
        excess = np.log(self.transmission(thickness, grid)) - math.log(target)
        change = np.flatnonzero(np.signbit(excess[:-1]) != np.signbit(excess[1:]))

        def f(e: float) -> float:
            return math.log(float(self.transmission(thickness, e))) - math.log(target)

        roots = (brentq(f, grid[i], grid[i + 1], xtol=1e-12, rtol=1e-14) for i in change)
        return np.array([r for r in roots if abs(f(r)) < 1e-7])

    # ------------------------------------------------------------------ scattering
    def electron_density_per_A3(self) -> float:
        """Electron density n_e, electrons per cubic Angstrom.

        n_e = rho N_A sum_i w_i Z_i / A_i, with 1 cm3 = 1e24 A3.
        """
        if not self.mass_fractions:
            return 0.0
        return float(self.density_g_cm3 * AVOGADRO_PER_MOL * (self.moles_per_gram() @ self.elements) * 1e-24)

    def sld_per_A2(self, energy_kev: float | np.ndarray | None = None) -> np.ndarray | float:
        """Real part of the X-ray scattering length density, 1/A2.

        Without an energy, the Thomson value r_e n_e (forward scattering,
        f = Z), which is what SAXS contrast away from edges uses. With an
        energy, the atomic factors become Z + f'(E) with the anomalous
        scattering factors f' from xraylib (Cromer-Liberman/Kissel).
        Multiply by 1e6 for the customary units of 1e-6/A2.
        """
        if energy_kev is None:
            return ELECTRON_RADIUS_A * self.electron_density_per_A3()
        e = arguments.energies_kev("energy_kev", energy_kev)
        if not self.mass_fractions:
            return np.zeros_like(e)
        f_prime = np.array([[xraylib.Fi(int(z), float(x)) for x in np.atleast_1d(e).ravel()]
                            for z in self.elements])
        f1 = self.elements[:, None] + f_prime
        n_per_A3 = self.density_g_cm3 * AVOGADRO_PER_MOL * 1e-24 * self.moles_per_gram()
        return (ELECTRON_RADIUS_A * n_per_A3 @ f1).reshape(e.shape)

    # ------------------------------------------------------------------ edges
    def edges_kev(self, shells: Iterable[str] = ("K", "L1", "L2", "L3")) -> dict[str, float]:
        """Absorption-edge energies of the constituent elements, keV.

        Returns a dict keyed ``"Ni K"``, ``"Ni L3"``, ... with the edges that
        lie within xraylib's energy range, sorted by energy.
        """
        low, high = arguments.XRAYLIB_ENERGY_RANGE_KEV
        edges = {}
        for z in self.elements:
            for shell in shells:
                arguments.one_of("shells", shell, _SHELLS)
                try:
                    e = xraylib.EdgeEnergy(int(z), _SHELLS[shell])
                except ValueError:  # the element has no such shell
                    continue
                if low <= e <= high:
                    edges[f"{element_symbol(z)} {shell}"] = float(e)
        return dict(sorted(edges.items(), key=lambda item: item[1]))

    # ------------------------------------------------------------------ Compton
    def compton_profile(self, pz_au: float | np.ndarray) -> np.ndarray:
        """Composition-weighted Compton profile J(p_z) per electron, 1/(atomic unit of momentum).

        J(p_z) = sum_i n_i J_i(|p_z|) / sum_i n_i Z_i with n_i the moles of
        element i per gram and J_i the Hartree-Fock atomic profile of Biggs
        et al. (1975) from xraylib (impulse approximation; the solid's
        valence band is approximated by free-atom orbitals). Normalised so
        that the integral over -inf < p_z < inf is 1.

        Parameters
        ----------
        pz_au : float or array
            Electron momentum projection, atomic units, |p_z| <= 100.
        """
        pz = np.abs(np.asarray(pz_au, dtype=float))
        if np.any(~np.isfinite(pz) | (pz > PZ_MAX_AU)):
            worst = pz[~np.isfinite(pz) | (pz > PZ_MAX_AU)].flat[0]
            raise ValueError(f"pz_au: expected finite momenta with |p_z| <= {PZ_MAX_AU} a.u. "
                             f"(the range of the Biggs tables), got |p_z| = {worst:g}")
        if not self.mass_fractions:
            raise ValueError(f"material {self.name!r} has no electrons: its Compton profile is undefined")
        n = self.moles_per_gram()
        table = xraylib_np.ComptonProfile(self.elements, np.atleast_1d(pz).ravel())
        return ((n @ table) / (n @ self.elements)).reshape(pz.shape)

    # ------------------------------------------------------------------ io
    def to_dict(self) -> dict:
        """Plain-JSON description (lossless: mass fractions as floats)."""
        return {"name": self.name, "formula": self.formula, "density_g_cm3": self.density_g_cm3,
                "mass_fractions": {element_symbol(z): w for z, w in self.mass_fractions.items()},
                "density_source": self.density_source, "description": self.description}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Material":
        """Inverse of :meth:`to_dict`."""
        return cls(d["name"], {element_z(k): float(v) for k, v in d["mass_fractions"].items()},
                   float(d["density_g_cm3"]), formula=d.get("formula"),
                   density_source=d.get("density_source", ""), description=d.get("description", ""))


# ---------------------------------------------------------------------- mixtures
def mix_by_mass(name: str, parts: Iterable[tuple[Material, float]], *, density_source: str = "",
                description: str = "") -> Material:
    """Mixture of materials by mass fraction, ideal (no excess volume).

    Density: 1/rho = sum_j w_j / rho_j. Element fractions: sum_j w_j w_ij.
    """
    parts = list(parts)
    _check_parts("parts", parts)
    total = sum(w for _, w in parts)
    fractions: dict[int, float] = {}
    inv_density = 0.0
    for material, w in parts:
        w = w / total
        if material.density_g_cm3 == 0:
            raise ValueError(f"parts: {material.name!r} has zero density; mix vacuum by volume, not by mass")
        inv_density += w / material.density_g_cm3
        for z, wz in material.mass_fractions.items():
            fractions[z] = fractions.get(z, 0.0) + w * wz
    return Material(name, fractions, 1.0 / inv_density,
                    density_source=density_source or "ideal mixture by mass of " + _names(parts),
                    description=description)


def mix_by_volume(name: str, parts: Iterable[tuple[Material, float]], *, density_source: str = "",
                  description: str = "") -> Material:
    """Mixture of materials by volume fraction (porous media, composites).

    Density: rho = sum_j phi_j rho_j; mass fractions w_j = phi_j rho_j / rho.
    Vacuum parts (pores) dilute the density.
    """
    parts = list(parts)
    _check_parts("parts", parts)
    total = sum(phi for _, phi in parts)
    density = sum(phi / total * m.density_g_cm3 for m, phi in parts)
    fractions: dict[int, float] = {}
    for material, phi in parts:
        w = phi / total * material.density_g_cm3 / density if density > 0 else 0.0
        for z, wz in material.mass_fractions.items():
            fractions[z] = fractions.get(z, 0.0) + w * wz
    return Material(name, fractions, density,
                    density_source=density_source or "mixture by volume of " + _names(parts),
                    description=description)


def _check_parts(name: str, parts: list) -> None:
    if not parts:
        raise ValueError(f"{name}: expected at least one (Material, fraction) pair")
    for i, item in enumerate(parts):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], Material)):
            raise TypeError(f"{name}[{i}]={item!r}: expected a (Material, fraction) pair")
        arguments.positive(f"{name}[{i}] fraction", item[1], allow_zero=True)
    if sum(f for _, f in parts) <= 0:
        raise ValueError(f"{name}: expected fractions with a positive sum")


def _names(parts: list) -> str:
    return ", ".join(f"{m.name} {f:g}" for m, f in parts)


# ---------------------------------------------------------------------- intercalation
@dataclass(frozen=True)
class IntercalationHost:
    """A host whose composition depends on its Li or Na content ``x``.

    ``formula`` holds ``{x}`` where the guest count goes, for example
    ``"Li{x}Ni0.8Mn0.1Co0.1O2"``. The density at ``x`` follows from the
    formula mass M(x) and a molar volume interpolated linearly between the
    end members: V(x) = V(x_ref) (1 + volume_change_rel (x - x_ref) /
    (x_max - x_min)), rho(x) = M(x) / V(x). This is Vegard-like: real hosts
    pass through phase transitions whose volume steps it smooths over.

    Parameters
    ----------
    name : str
        Registry name, e.g. ``"Li_x NMC811"``.
    formula : str
        Formula with a ``{x}`` placeholder.
    density_g_cm3 : float
        Density at ``x_ref``, g/cm3.
    x_ref : float
        Guest content at which the density is known.
    x_range : tuple of float
        Allowed (x_min, x_max).
    volume_change_rel : float
        Relative molar volume change from x_min to x_max (positive: the host
        swells on intercalation).
    density_source, volume_source : str
        Citations.
    """

    name: str
    formula: str
    density_g_cm3: float
    x_ref: float
    x_range: tuple[float, float]
    volume_change_rel: float = 0.0
    density_source: str = ""
    volume_source: str = ""

    def __post_init__(self) -> None:
        if "{x}" not in self.formula:
            raise ValueError(f"formula={self.formula!r}: expected a '{{x}}' placeholder for the guest count")
        arguments.positive("density_g_cm3", self.density_g_cm3, unit="g/cm3")
        lo, hi = self.x_range
        if not lo < hi:
            raise ValueError(f"x_range={self.x_range!r}: expected (x_min, x_max) with x_min < x_max")
        arguments.in_range("x_ref", self.x_ref, lo, hi)

    def _formula_at(self, x: float) -> str:
        # xraylib's parser refuses a zero count, so the guest is dropped at x = 0.
        if x == 0:
            return re.sub(r"(Li|Na)\{x\}", "", self.formula)
        # Positional notation: xraylib's parser does not read "5e-05".
        return self.formula.format(x=np.format_float_positional(x, precision=12, trim="-"))

    def _molar_mass(self, x: float) -> float:
        return float(xraylib.CompoundParser(self._formula_at(x))["molarMass"])

    def at(self, x: float) -> Material:
        """The host at guest content ``x`` as a :class:`Material`."""
        lo, hi = self.x_range
        x = arguments.in_range("x", x, lo, hi)
        volume_ref = self._molar_mass(self.x_ref) / self.density_g_cm3
        volume = volume_ref * (1 + self.volume_change_rel * (x - self.x_ref) / (hi - lo))
        density = self._molar_mass(x) / volume
        return Material.from_formula(
            f"{self.name} (x={x:.4g})", self._formula_at(x), density,
            density_source=f"{self.density_source}; molar volume interpolated in x ({self.volume_source})")


# ---------------------------------------------------------------------- registry
def _compound(name, formula, density, source, description=""):
    return Material.from_formula(name, formula, density, density_source=source, description=description)


def _build_registry() -> dict[str, Material]:
    crc = "CRC Handbook of Chemistry and Physics, 97th ed. (2016), physical constants of inorganic compounds"
    xrd = "X-ray density from the R-3m cell (Z=3): "
    m = [
        _compound("NMC811", "LiNi0.8Mn0.1Co0.1O2", 4.75,
                  "4.75 g/cm3 as used for the 42 um / 5.4 keV transmission of seeds/002 (Methods, Preparation); "
                  "X-ray density of a=2.872 A, c=14.20 A is 4.78", "layered oxide cathode"),
        _compound("NMC622", "LiNi0.6Mn0.2Co0.2O2", 4.77, xrd + "a=2.868 A, c=14.21 A", "layered oxide cathode"),
        _compound("LiNiO2", "LiNiO2", 4.78, xrd + "a=2.878 A, c=14.19 A", "layered oxide cathode"),
        _compound("NiO", "NiO", 6.67, crc, "rock-salt nickel oxide"),
        _compound("LiCoO2", "LiCoO2", 5.05, xrd + "a=2.816 A, c=14.05 A", "layered oxide cathode"),
        _compound("graphite", "C", 2.26, crc + " (ideal crystal 2.266)", "anode"),
        _compound("hard carbon", "C", 1.5,
                  "1.5 g/cm3 as used for the C-rate estimate of seeds/000 (Supporting Information, eq. S1-S2)",
                  "non-graphitising carbon anode for Na-ion cells"),
        _compound("Na metal", "Na", 0.968, crc + ", elements", "sodium counter/anode"),
        _compound("Li metal", "Li", 0.534, crc + ", elements", "lithium anode"),
        _compound("Na-beta''-alumina", "Na1.67Mg0.67Al10.33O17", 3.26,
                  "theoretical density of Mg-stabilised Na-beta''-alumina, Lu et al., J. Power Sources 195 "
                  "(2010) 2431 (3.26 g/cm3)", "Na-ion conducting solid electrolyte (seeds/003, ch. 4)"),
        _compound("NZSP", "Na3Zr2Si2PO12", 3.27, "theoretical density of NASICON Na3Zr2Si2PO12, Jolley et al., "
                  "Ionics 21 (2015) 3031 (3.27 g/cm3)", "NASICON solid electrolyte"),
        _compound("ZrO2", "ZrO2", 5.68, crc + " (monoclinic)", "blocking second phase in beta''-alumina"),
        _compound("Al2O3", "Al2O3", 3.95, crc + " (corundum 3.95-4.05)", "alumina"),
        _compound("water", "H2O", 1.0, "liquid water at 4 C", "reference liquid"),
        _compound("PVDF", "C2H2F2", 1.78, "Kynar PVDF datasheet, 1.78 g/cm3", "binder"),
        _compound("carbon black", "C", 1.8, "skeletal density of Super P/acetylene black, 1.8-2.0 g/cm3 "
                  "(Imerys datasheet)", "conductive additive"),
        _compound("Kapton", "C22H10N2O5", 1.42, "DuPont Kapton HN datasheet, 1.42 g/cm3 (NIST material 179)",
                  "polyimide window and support"),
        _compound("quartz", "SiO2", 2.65, crc + " (alpha-quartz)", "crystalline SiO2"),
        _compound("quartz glass", "SiO2", 2.20, crc + " (fused silica)", "glass capillary (seeds/000 cell)"),
        _compound("PP", "C3H6", 0.90, "isotactic polypropylene 0.90-0.91 g/cm3, Polymer Handbook 4th ed.",
                  "separator and gasket polymer"),
        _compound("argon", "Ar", 1.661e-3, crc + ", argon gas at 20 C and 1 atm",
                  "glovebox gas trapped in cells"),
        _compound("PTFE", "C2F4", 2.2, "NIST material 227 (Teflon), 2.25 g/cm3; 2.2 typical for sintered PTFE",
                  "gasket"),
        _compound("tungsten", "W", 19.3, crc + ", elements", "pinhole and collimators"),
        _compound("Al", "Al", 2.699, crc + ", elements", "cathode current collector foil"),
        _compound("Cu", "Cu", 8.96, crc + ", elements", "anode current collector foil; TEM grid"),
        _compound("Au", "Au", 19.32, crc + ", elements", "sputtered electrode (seeds/003, section 4.2.1)"),
        _compound("Pt", "Pt", 21.45, crc + ", elements", "FIB-deposited electrode/protection layer"),
        Material.from_mass_fractions(
            "stainless steel", {"Fe": 0.655, "Cr": 0.17, "Ni": 0.12, "Mo": 0.025, "Mn": 0.02, "Si": 0.01}, 8.0,
            density_source="AISI 316 nominal composition and density 8.0 g/cm3 (ASTM A240)",
            description="coin-cell casing, spacer, spring; pin of the capillary cell"),
        Material.from_mass_fractions(
            "air", {"C": 0.000124, "N": 0.755268, "O": 0.231781, "Ar": 0.012827}, 1.205e-3,
            density_source="NIST material 104 (air, dry, near sea level), 1.205e-3 g/cm3",
            description="dry air"),
        Material("vacuum", {}, 0.0, density_source="by definition", description="no matter"),
    ]
    reg = {mat.name: mat for mat in m}
    peo = _compound("PEO", "C2H4O", 1.21, "amorphous/crystalline PEO average, Polymer Handbook 4th ed.")
    ec = _compound("EC", "C3H4O3", 1.32, crc)
    dmc = _compound("DMC", "C3H6O3", 1.07, crc)
    pc = _compound("PC", "C4H6O3", 1.20, crc)
    litfsi = _compound("LiTFSI", "LiC2F6NO4S2", 1.33, "Sigma-Aldrich LiTFSI, 1.33 g/cm3")
    # EO:Li = 20:1, the ratio of seeds/001 SSB membranes is not stated; 20 is the common optimum.
    w_salt = 287.09 / (287.09 + 20 * 44.053)
    reg["PEO+LiTFSI"] = mix_by_mass("PEO+LiTFSI", [(peo, 1 - w_salt), (litfsi, w_salt)],
                                    description="solid polymer electrolyte, EO:Li = 20:1 (seeds/001)")
    # 1 M salt: mass fraction = M_salt * 1 mol/L / (density * 1000 g/L).
    lp30_density = 1.29
    w_lipf6 = 151.905 / (lp30_density * 1000)
    solvent = mix_by_mass("EC:DMC", [(ec, 0.5), (dmc, 0.5)])
    lipf6 = _compound("LiPF6", "LiPF6", 2.84, crc)
    reg["LiPF6 EC:DMC"] = _with_density(
        mix_by_mass("LiPF6 EC:DMC", [(solvent, 1 - w_lipf6), (lipf6, w_lipf6)]), lp30_density,
        "1 M LiPF6 in EC:DMC 1:1 w/w (LP30), 1.29 g/cm3, Logan et al., J. Electrochem. Soc. 165 (2018) A21",
        "liquid electrolyte (seeds/001 LIB)")
    napf6_density = 1.34
    w_napf6 = 167.95 / (napf6_density * 1000)
    solvent = mix_by_mass("EC:PC", [(ec, 0.5), (pc, 0.5)])
    napf6 = _compound("NaPF6", "NaPF6", 2.37, "Sigma-Aldrich NaPF6")
    reg["NaPF6 EC:PC"] = _with_density(
        mix_by_mass("NaPF6 EC:PC", [(solvent, 1 - w_napf6), (napf6, w_napf6)]), napf6_density,
        "1 M NaPF6 in EC:PC 1:1 w/w, about 1.34 g/cm3 (Ponrouch et al., Energy Environ. Sci. 5 (2012) 8572)",
        "liquid electrolyte of the capillary cell (seeds/000, Methods)")
    return reg


def _with_density(material: Material, density: float, source: str, description: str) -> Material:
    return Material(material.name, material.mass_fractions, density, formula=material.formula,
                    density_source=source, description=description)


def _build_hosts() -> dict[str, IntercalationHost]:
    vol_nmc = ("de Biasi et al., J. Phys. Chem. C 121 (2017) 26163: unit-cell volume of Ni-rich NCM "
               "shrinks by about 5 % on delithiation")
    hosts = [
        IntercalationHost("Li_x NMC811", "Li{x}Ni0.8Mn0.1Co0.1O2", 4.75, 1.0, (0.0, 1.0), 0.05,
                          REGISTRY["NMC811"].density_source, vol_nmc),
        IntercalationHost("Li_x NMC622", "Li{x}Ni0.6Mn0.2Co0.2O2", 4.77, 1.0, (0.0, 1.0), 0.03,
                          REGISTRY["NMC622"].density_source, vol_nmc + " (less for NMC622, ~3 %)"),
        IntercalationHost("Li_x NiO2", "Li{x}NiO2", 4.78, 1.0, (0.0, 1.0), 0.07,
                          REGISTRY["LiNiO2"].density_source, "LiNiO2 -> NiO2 cell volume change ~7 %, "
                          "de Biasi et al. (2017)"),
        IntercalationHost("Li_x CoO2", "Li{x}CoO2", 5.05, 1.0, (0.0, 1.0), 0.0,
                          REGISTRY["LiCoO2"].density_source, "volume change < 2 %, neglected"),
        IntercalationHost("Li_x C6", "Li{x}C6", 2.26, 0.0, (0.0, 1.0), 0.10, REGISTRY["graphite"].density_source,
                          "graphite -> LiC6 expands ~10 % along c, Ohzuku et al., J. Electrochem. Soc. 140 "
                          "(1993) 2490"),
        IntercalationHost("Na_x C (hard carbon)", "Na{x}C", 1.5, 0.0, (0.0, 0.15), 0.0,
                          REGISTRY["hard carbon"].density_source,
                          "Na fills micropores and interlayers; the particle volume is taken constant "
                          "(x=0.15 is ~335 mAh/g)"),
    ]
    return {h.name: h for h in hosts}


REGISTRY: Mapping[str, Material] = MappingProxyType(_build_registry())
HOSTS: Mapping[str, IntercalationHost] = MappingProxyType(_build_hosts())


class UnknownMaterialError(LookupError):
    """A material name that is neither registered nor an intercalation host."""


def named(argument: str, value: object) -> Material:
    """The registered material ``value`` given as argument ``argument``, refused by that name otherwise."""
    if not isinstance(value, str) or value not in REGISTRY:
        raise ValueError(f"{argument}={value!r}: expected the name of a registered material "
                         f"({', '.join(REGISTRY)})")
    return REGISTRY[value]


def names() -> list[str]:
    """Names of the registered materials, in registry order."""
    return list(REGISTRY)


def get(name: str, x: float | None = None) -> Material:
    """Return a registered material, or an intercalation host at guest content ``x``.

    Parameters
    ----------
    name : str
        A name from :func:`names` (``"NMC811"``) or from :data:`HOSTS`
        (``"Li_x NMC811"``, which needs ``x``).
    x : float, optional
        Li or Na content of an intercalation host.
    """
    if name in HOSTS:
        if x is None:
            raise ValueError(f"name={name!r} is an intercalation host: pass x in {HOSTS[name].x_range}")
        return HOSTS[name].at(x)
    if name in REGISTRY:
        if x is not None:
            raise ValueError(f"x={x!r}: {name!r} is not an intercalation host; hosts are {', '.join(HOSTS)}")
        return REGISTRY[name]
    raise UnknownMaterialError(f"material {name!r} is not registered; known materials: {', '.join(REGISTRY)}; "
                   f"intercalation hosts: {', '.join(HOSTS)}")
