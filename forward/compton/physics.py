"""Physics of Compton (incoherent) and Rayleigh (coherent) scattering for XCS imaging.

Source: Huang et al., XCS-CT of coin cells (seeds/001): eq. (1) counts
dN = phi0 t1 t2 rho_e dV dsigma_KN/dOmega, eq. (2) the electron momentum
p_z from E1, E2 and theta, eqs. (3)-(5) the EMF (in ``inverse.compton``).

What this module computes, and the approximations behind it
------------------------------------------------------------
* **Kinematics.** Compton energy of a free electron at rest,
  E_C = E1 / (1 + (E1/mc^2)(1 - cos theta)) (93.6 keV for 114.64 keV at 90 deg).
* **Klein-Nishina** cross section per free electron, unpolarised or for a
  linearly polarised beam (geometry in :func:`klein_nishina_dsigma_domega_cm2`).
* **Electron momentum.** Eq. (2) of seeds/001 taken as exact (it is the
  usual relativistic-kinematics expression with the electron's initial
  kinetic energy neglected, Biggs et al. 1975; Cooper 1985):

      p_z / mc = (E2 - E1 + E1 E2 (1 - cos theta) / mc^2) / sqrt(E1^2 + E2^2 - 2 E1 E2 cos theta),

  with mc = 1/alpha = 137.035999 atomic units of momentum. p_z > 0 above
  the Compton energy. :func:`scattered_energy_kev` solves the quadratic
  exactly (no further approximation), :func:`dpz_dE_per_kev` is the
  analytic Jacobian.
* **Impulse approximation** (Eisenberger & Platzman, Phys. Rev. A 2 (1970)
  415; Ribberfors, Phys. Rev. B 12 (1975) 2067): the electron is taken as
  free during the collision, with the momentum distribution of its bound
  orbital, so that

      d2sigma/dOmega dE2 = (dsigma_KN/dOmega)(E1, theta) * sum_s n_s J_s(p_z) * dp_z/dE2 * H(E1 - E2 - B_s),

  where J_s is the Hartree-Fock Compton profile per electron of sub-shell
  s (Biggs, Mendelsohn & Mann, At. Data Nucl. Data Tables 16 (1975) 201,
  from xraylib's ``ComptonProfile_Partial``), n_s its occupation and B_s
  its binding energy (xraylib ``EdgeEnergy``; 0 for outer shells without
  a tabulated edge). The step H (the energy transfer must exceed the
  binding energy, Ribberfors & Berggren 1982; as in EGS4/LSCAT and
  PENELOPE) is the only binding correction: there is no Ribberfors
  p_z-dependent kinematic factor; the Klein-Nishina factor is evaluated at
  the free-electron Compton energy of (E1, theta) and taken constant across
  the line (a relative error of order p_z/mc ~ 1 % over |p_z| <= 2 a.u.,
  which skews the line but leaves its area and centre).
* **Free atoms.** The profiles are free-atom profiles: the valence band of
  the solid is represented by the atomic valence orbitals, which is what
  ``twin.materials.Material.compton_profile`` also assumes; the Li content
  of an intercalation host enters only through its composition.
* **Beyond the tables** (|p_z| > 100 a.u.) J = 0.
* **Rayleigh** scattering: form-factor approximation (xraylib ``FF_Rayl``,
  Hubbell et al.), no anomalous scattering factors, no solid-state
  (Bragg) interference: each atom scatters as if free. A monochromatic
  beam gives a line at E1 (delta function in E2); the detector broadens it.

Core and valence
----------------
:func:`shell_profiles` splits a material's electrons into core and valence:
valence shells are those outside the preceding noble-gas core ([He] for
Li-Ne, [Ar] for K-Kr, so Ni 3d and 4s, Li 2s, O 2s and 2p are valence).

Units and normalisation
-----------------------
Energies keV, angles deg (0 < theta <= 180 where p_z is needed), momenta
atomic units (a.u.), cross sections cm^2. Line shapes are *per electron of
the material* (averaged over all its electrons) so that eq. (1) applies
with the electron density: counts per keV = phi0 t1 t2 n_e dV Omega *
``doubly_differential_cm2_per_sr_kev``. ``per="volume"`` multiplies by n_e
(1/cm3) and gives the differential linear scattering coefficient,
1/(cm sr keV), which mixes linearly by volume fraction (:func:`spectrum_per_voxel`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from xtwin import arguments

if TYPE_CHECKING:  # pragma: no cover
    from twin.materials import Material

#: Electron rest energy m c^2, keV (CODATA 2018).
ELECTRON_REST_KEV = 510.99895
#: Incident energy of seeds/001 (section 2.1), keV.
INCIDENT_KEV = 114.64
#: m c in atomic units of momentum = 1 / fine-structure constant (CODATA 2018).
MC_AU = 137.035999084
#: Classical electron radius r_e, cm (CODATA 2018).
ELECTRON_RADIUS_CM = 2.8179403262e-13
#: Avogadro constant, 1/mol.
AVOGADRO_PER_MOL = 6.02214076e23
#: Thomson cross section 8 pi r_e^2 / 3, cm^2.
THOMSON_CM2 = 8.0 * np.pi / 3.0 * ELECTRON_RADIUS_CM ** 2
#: Largest |p_z| of the Biggs tables, a.u.; J = 0 beyond.
PZ_MAX_AU = 100.0
#: Where scaling the per-material quantities goes: per electron, per gram, per cm3.
PER = ("electron", "gram", "volume")

# xraylib shell macros K = 0 ... and the shells of the noble-gas cores (for the core/valence split).
_SHELL_NAMES = ("K", "L1", "L2", "L3", "M1", "M2", "M3", "M4", "M5", "N1", "N2", "N3", "N4", "N5", "N6", "N7",
                "O1", "O2", "O3", "O4", "O5", "O6", "O7", "P1", "P2", "P3", "P4", "P5", "Q1", "Q2", "Q3")
_NOBLE_CORES = ((2, 1), (10, 4), (18, 7), (36, 12), (54, 19), (86, 28))  # (Z of the gas, shells 0..n-1 filled)


# ---------------------------------------------------------------------- argument checks
def _energies(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    try:
        e = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: expected a number or array of numbers in keV") from None
    bad = ~np.isfinite(e) | (e < 0) | ((e == 0) & (not allow_zero))
    if np.any(bad):
        first = e[bad].flat[0] if e.ndim else float(e)
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected finite energies {bound} keV, got {first!r}")
    return e


def _angles(value, *, allow_zero: bool) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"angle_deg={value!r}: expected a scattering angle in degrees") from None
    low_ok = (a >= 0) if allow_zero else (a > 0)
    bad = ~np.isfinite(a) | ~low_ok | (a > 180)
    if np.any(bad):
        first = a[bad].flat[0] if a.ndim else float(a)
        interval = "[0, 180]" if allow_zero else "(0, 180]"
        why = "" if allow_zero else " (at 0 deg the momentum p_z of eq. (2) is undefined)"
        raise ValueError(f"angle_deg: expected scattering angles in {interval} degrees{why}, got {first!r}")
    return a


def _polarisation(polarised) -> float:
    if isinstance(polarised, (bool, np.bool_)):
        return 1.0 if polarised else 0.0
    return arguments.in_range("polarised", polarised, 0.0, 1.0)


def _material(material) -> "Material":
    from twin import materials  # import-light: only when a material is asked for

    if isinstance(material, str):
        return materials.get(material)
    if not isinstance(material, materials.Material):
        raise TypeError(f"material={material!r}: expected a twin.materials.Material or a registered name")
    if not material.mass_fractions:
        raise ValueError(f"material {material.name!r} has no electrons (vacuum): no Compton or Rayleigh scattering")
    return material


def _per(per: str) -> str:
    return arguments.one_of("per", per, PER)


# ---------------------------------------------------------------------- kinematics and Klein-Nishina
def compton_energy_kev(energy_kev, angle_deg) -> np.ndarray:
    """Energy of a photon scattered by a free electron at rest, keV.

    E_C = E / (1 + (E / mc^2)(1 - cos theta)); broadcasting.

    Parameters
    ----------
    energy_kev : float or array
        Incident energy, keV, > 0.
    angle_deg : float or array
        Scattering angle, degrees, in [0, 180].
    """
    e = _energies("energy_kev", energy_kev)
    t = np.radians(_angles(angle_deg, allow_zero=True))
    return e / (1.0 + e / ELECTRON_REST_KEV * (1.0 - np.cos(t)))


def klein_nishina_dsigma_domega_cm2(energy_kev, angle_deg, *, polarised: bool | float = False,
                                    azimuth_deg=90.0) -> np.ndarray:
    """Klein-Nishina differential cross section per free electron, cm^2/sr.

    dsigma/dOmega = (r_e^2 / 2) r^2 (r + 1/r - sin^2 theta (1 + P cos 2 phi)),  r = E_C / E,

    (Heitler 1954; Hubbell et al., J. Phys. Chem. Ref. Data 4 (1975) 471).
    Geometry: the beam travels along z and is linearly polarised along x
    (horizontal, as at a synchrotron); theta is the polar scattering angle
    from z and phi the azimuth of the scattered direction measured from the
    polarisation vector x. ``azimuth_deg=90`` (default) is scattering in the
    vertical plane, where the polarised cross section is largest (at 90 deg
    horizontal scattering, phi = 0, it is smallest, nearly zero).
    P = 0 gives the unpolarised formula r^2 (r + 1/r - sin^2 theta) r_e^2/2.

    Parameters
    ----------
    energy_kev : float or array
        Incident energy, keV, > 0.
    angle_deg : float or array
        Scattering angle theta, degrees, in [0, 180] (0 gives Thomson's r_e^2).
    polarised : bool or float
        False (unpolarised), True (fully linearly polarised) or the degree
        of linear polarisation P in [0, 1].
    azimuth_deg : float or array
        phi, degrees; used only when P > 0.
    """
    e = _energies("energy_kev", energy_kev)
    t = np.radians(_angles(angle_deg, allow_zero=True))
    p = _polarisation(polarised)
    phi = np.radians(np.asarray(arguments.array("azimuth_deg", azimuth_deg, dtype_kind="iuf", finite=True),
                                dtype=float))
    r = 1.0 / (1.0 + e / ELECTRON_REST_KEV * (1.0 - np.cos(t)))
    return 0.5 * ELECTRON_RADIUS_CM ** 2 * r ** 2 * (r + 1.0 / r - np.sin(t) ** 2 * (1.0 + p * np.cos(2.0 * phi)))


_KN_SERIES = (1.0, -2.0, 26.0 / 5, -133.0 / 10, 1144.0 / 35, -544.0 / 7, 3784.0 / 21, -6148.0 / 15)


def klein_nishina_total_cm2(energy_kev) -> np.ndarray:
    """Total Klein-Nishina cross section per free electron, cm^2 (closed form).

    sigma = 2 pi r_e^2 [ (1+k)/k^2 (2(1+k)/(1+2k) - ln(1+2k)/k) + ln(1+2k)/(2k) - (1+3k)/(1+2k)^2 ],
    k = E / mc^2. Below k = 0.01 the Taylor series sigma_T (1 - 2k + 26k^2/5 - ...) to k^7
    replaces the closed form, which loses digits by cancellation there.

    Parameters
    ----------
    energy_kev : float or array
        Incident energy, keV, > 0.
    """
    k = _energies("energy_kev", energy_kev) / ELECTRON_REST_KEV
    kk = np.where(k < 1e-2, 0.5, k)  # placeholder in the series branch (avoids 0-divisions)
    log = np.log1p(2 * kk)
    closed = 2 * np.pi * ELECTRON_RADIUS_CM ** 2 * ((1 + kk) / kk ** 2 * (2 * (1 + kk) / (1 + 2 * kk) - log / kk)
                                                    + log / (2 * kk) - (1 + 3 * kk) / (1 + 2 * kk) ** 2)
    series = THOMSON_CM2 * np.polynomial.polynomial.polyval(k, _KN_SERIES)
    return np.where(k < 1e-2, series, closed)


def pz_au(energy_kev, scattered_kev, angle_deg) -> np.ndarray:
    """Projected electron momentum p_z of eq. (2) (seeds/001), atomic units.

    p_z = mc (E2 - E1 + E1 E2 (1 - cos theta)/mc^2) / sqrt(E1^2 + E2^2 - 2 E1 E2 cos theta),
    mc = 137.036 a.u.; used as exact. p_z = 0 at the Compton energy, > 0 above it.

    Parameters
    ----------
    energy_kev : float or array
        Incident energy E1, keV, > 0.
    scattered_kev : float or array
        Scattered energy E2, keV, > 0.
    angle_deg : float or array
        Scattering angle, degrees, in (0, 180]; 0 is refused.
    """
    e1 = _energies("energy_kev", energy_kev)
    e2 = _energies("scattered_kev", scattered_kev)
    return _pz(e1, e2, _one_minus_cos(angle_deg))


def _one_minus_cos(angle_deg) -> np.ndarray:
    # 1 - cos theta = 2 sin^2(theta/2), accurate at small angles.
    return 2 * np.sin(np.radians(_angles(angle_deg, allow_zero=False)) / 2) ** 2


def _pz(e1, e2, omc):
    # Q^2 = E1^2 + E2^2 - 2 E1 E2 cos theta written without cancellation.
    q = np.sqrt((e1 - e2) ** 2 + 2 * e1 * e2 * omc)
    return MC_AU * (e2 * (1 + e1 * omc / ELECTRON_REST_KEV) - e1) / q


def scattered_energy_kev(energy_kev, pz_au, angle_deg) -> np.ndarray:
    """Scattered energy E2 for an electron momentum p_z: the exact inverse of :func:`pz_au`, keV.

    With a = p_z/mc, c = cos theta and g = 1 + E1 (1 - c)/mc^2, eq. (2)
    squared is the quadratic (g^2 - a^2) E2^2 - 2 E1 (g - a^2 c) E2 + E1^2 (1 - a^2) = 0,
    whose root with the sign of p_z is

        E2 = E1 (g - a^2 c + a sqrt(g^2 - 2 g c + 1 - a^2 sin^2 theta)) / (g^2 - a^2).

    Parameters
    ----------
    energy_kev : float or array
        Incident energy E1, keV, > 0.
    pz_au : float or array
        Electron momentum, a.u., |p_z| < mc = 137.036 a.u.
    angle_deg : float or array
        Scattering angle, degrees, in (0, 180].
    """
    e1 = _energies("energy_kev", energy_kev)
    p = np.asarray(pz_au, dtype=float)
    if np.any(~np.isfinite(p) | (np.abs(p) >= MC_AU)):
        bad = p[~np.isfinite(p) | (np.abs(p) >= MC_AU)].flat[0] if p.ndim else float(p)
        raise ValueError(f"pz_au: expected finite momenta with |p_z| < mc = {MC_AU:.3f} a.u., got {bad!r}")
    omc = _one_minus_cos(angle_deg)
    c, s2 = 1 - omc, omc * (2 - omc)  # cos theta, sin^2 theta
    a = p / MC_AU
    g = 1 + e1 * omc / ELECTRON_REST_KEV
    # g^2 - 2 g c + 1 - a^2 sin^2 = (g - c)^2 + (1 - a^2) sin^2, with g - c = (1 - c)(1 + E1/mc^2).
    root = np.sqrt((omc * (1 + e1 / ELECTRON_REST_KEV)) ** 2 + (1 - a ** 2) * s2)
    return e1 * (g - a ** 2 * c + a * root) / (g ** 2 - a ** 2)


def dpz_dE_per_kev(energy_kev, scattered_kev, angle_deg) -> np.ndarray:
    """Jacobian d p_z / d E2 of eq. (2) at fixed E1 and theta, a.u. per keV (analytic, > 0).

    With N = E2 g - E1 and Q = sqrt(E1^2 + E2^2 - 2 E1 E2 cos theta):
    dp_z/dE2 = mc (g / Q - N (E2 - E1 cos theta) / Q^3).
    """
    e1 = _energies("energy_kev", energy_kev)
    e2 = _energies("scattered_kev", scattered_kev)
    return _dpz(e1, e2, _one_minus_cos(angle_deg))


def _dpz(e1, e2, omc):
    g = 1 + e1 * omc / ELECTRON_REST_KEV
    q = np.sqrt((e1 - e2) ** 2 + 2 * e1 * e2 * omc)
    return MC_AU * (g / q - (e2 * g - e1) * (e2 - e1 + e1 * omc) / q ** 3)


# ---------------------------------------------------------------------- shell-resolved profiles
#: Sub-shell (n l) of each xraylib shell macro, K = 0 ... Q3 = 30.
_SHELL_NL = ("1s", "2s", "2p", "2p", "3s", "3p", "3p", "3d", "3d", "4s", "4p", "4p", "4d", "4d", "4f", "4f",
             "5s", "5p", "5p", "5d", "5d", "5f", "5f", "6s", "6p", "6p", "6d", "6d", "7s", "7p", "7p")
#: Largest mismatch, relative to J(0), between the shell sum and xraylib's total profile before falling back.
_SHELL_SUM_TOLERANCE = 0.01
#: Shell id of the pseudo-shell used when the shell split fails (the total profile, no binding cut-off).
ALL_SHELLS = -1


@functools.lru_cache(maxsize=None)
def _element_shells(z: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(xraylib shell ids, electrons per shell, binding energies keV) of element z for its Biggs profiles.

    xraylib exposes the Biggs sub-shell profiles per electron under its
    shell macros (the 2p profile under L2 and L3, ...) but not the Biggs
    occupations. They are taken from xraylib's ElectronConfig (Kissel)
    summed per sub-shell n l (2p = L2 + L3) and put on the shells for which
    a Biggs profile exists, split in proportion to ElectronConfig. The
    result is checked against the tabulated total: sum_s n_s J_s(p_z)
    reproduces xraylib's ComptonProfile to < 0.6 % of J(0) for every Z in
    1-98 except Tc, Ce, Ir, Bk (configurations differ); for those, and
    whenever the mismatch exceeds 1 %, the element gets a single pseudo-shell
    (:data:`ALL_SHELLS`) with the total profile and no binding cut-off.
    """
    import xraylib

    grid = np.array([0.0, 0.5, 1.0, 2.0, 5.0, 10.0])
    present = []
    for s in range(len(_SHELL_NL)):
        try:
            xraylib.ComptonProfile_Partial(z, s, 0.0)
        except ValueError:
            continue
        present.append(s)
    kissel = np.zeros(len(_SHELL_NL))
    for s in range(len(_SHELL_NL)):
        try:
            kissel[s] = max(float(xraylib.ElectronConfig(z, s)), 0.0)
        except ValueError:
            pass
    occ = {}
    for nl in dict.fromkeys(_SHELL_NL):
        members = [s for s in range(len(_SHELL_NL)) if _SHELL_NL[s] == nl]
        total = kissel[members].sum()
        here = [s for s in members if s in present]
        if not here or total == 0:
            continue
        k = kissel[here]
        share = k / k.sum() if k.sum() > 0 else np.full(len(here), 1.0 / len(here))
        for s, f in zip(here, share):
            occ[s] = total * f
    shells = np.array(sorted(occ), dtype=np.int64)
    n_shell = np.array([occ[s] for s in shells])
    summed = sum(n * np.array([xraylib.ComptonProfile_Partial(z, int(s), p) for p in grid])
                 for s, n in zip(shells, n_shell)) if shells.size else np.zeros_like(grid)
    table = np.array([xraylib.ComptonProfile(z, p) for p in grid])
    if abs(n_shell.sum() - z) > 1e-3 or np.max(np.abs(summed - table)) > _SHELL_SUM_TOLERANCE * table[0]:
        return np.array([ALL_SHELLS]), np.array([float(z)]), np.array([0.0])
    binding = np.zeros(shells.size)
    for i, s in enumerate(shells):
        try:
            binding[i] = float(xraylib.EdgeEnergy(z, int(s)))
        except ValueError:
            binding[i] = 0.0
    return shells, n_shell, binding


def _core_shell_count(z: int) -> int:
    """Number of xraylib shells (from K) of the noble-gas core preceding element z."""
    count = 0
    for gas_z, n in _NOBLE_CORES:
        if gas_z < z:
            count = n
    return count


@dataclass(frozen=True)
class ShellProfiles:
    """Shell-resolved Compton profile of a material (impulse approximation, free atoms).

    Attributes
    ----------
    material_name : str
    z : ndarray of int, shape (n_shells,)
        Atomic number of the element each shell belongs to.
    shell : ndarray of int, shape (n_shells,)
        xraylib shell macro (K = 0, L1 = 1, ...).
    labels : tuple of str
        ``"Ni K"``, ``"Ni M4"``, ...
    electron_fraction : ndarray, shape (n_shells,)
        Fraction of the material's electrons in each shell (sums to 1).
    binding_kev : ndarray, shape (n_shells,)
        Binding energies, keV (xraylib EdgeEnergy; 0 where none is tabulated).
    is_core : ndarray of bool, shape (n_shells,)
        True for shells of the preceding noble-gas core.
    electrons_per_g : float
        Electrons per gram of material.
    electron_density_per_cm3 : float
        Electrons per cm3 (n_e = rho * electrons_per_g).
    """

    material_name: str
    z: np.ndarray
    shell: np.ndarray
    labels: tuple
    electron_fraction: np.ndarray
    binding_kev: np.ndarray
    is_core: np.ndarray
    electrons_per_g: float
    electron_density_per_cm3: float

    @property
    def valence_fraction(self) -> float:
        """Fraction of the electrons in valence shells."""
        return float(self.electron_fraction[~self.is_core].sum())

    def shell_profiles(self, pz_au) -> np.ndarray:
        """Per-electron profiles J_s(p_z) of every shell, 1/a.u., shape (n_shells, *pz.shape).

        Each integrates to 1 over -inf < p_z < inf; J = 0 for |p_z| > 100 a.u.
        """
        import xraylib_np

        p = np.abs(np.asarray(pz_au, dtype=float))
        if np.any(np.isnan(p)):
            raise ValueError("pz_au: expected momenta in atomic units, found NaN")
        flat = np.minimum(p.ravel(), PZ_MAX_AU)
        out = np.empty((self.z.size, flat.size))
        for zz in np.unique(self.z):
            rows = np.flatnonzero((self.z == zz) & (self.shell != ALL_SHELLS))
            if rows.size:
                table = xraylib_np.ComptonProfile_Partial(np.array([zz]), self.shell[rows].astype(np.int64), flat)
                out[rows] = table[0]
            pseudo = np.flatnonzero((self.z == zz) & (self.shell == ALL_SHELLS))
            if pseudo.size:
                out[pseudo] = xraylib_np.ComptonProfile(np.array([zz]), flat)[0] / zz
        out[:, p.ravel() > PZ_MAX_AU] = 0.0
        return out.reshape((self.z.size,) + p.shape)

    def profile(self, pz_au, which: str = "total") -> np.ndarray:
        """Compton profile per electron of the material, 1/a.u.

        ``which="total"`` integrates to 1; ``"core"`` and ``"valence"``
        integrate to the fractions of core and valence electrons (their sum is
        the total).
        """
        arguments.one_of("which", which, ("total", "core", "valence"))
        w = self.electron_fraction * self._selector(which)
        return np.tensordot(w, self.shell_profiles(pz_au), axes=1)

    def _selector(self, which: str) -> np.ndarray:
        if which == "core":
            return self.is_core.astype(float)
        if which == "valence":
            return (~self.is_core).astype(float)
        return np.ones(self.z.size)


@functools.lru_cache(maxsize=256)
def _shell_profiles_cached(name, fractions, density) -> ShellProfiles:
    import xraylib

    zs, shells, labels, n_e, binding, core = [], [], [], [], [], []
    for z, w in fractions:
        ids, occ, b = _element_shells(z)
        mol_per_g = w / xraylib.AtomicWeight(z)
        ncore = _core_shell_count(z)
        for s, o, bb in zip(ids, occ, b):
            zs.append(z)
            shells.append(int(s))
            name = "all" if s == ALL_SHELLS else _SHELL_NAMES[s]
            labels.append(f"{xraylib.AtomicNumberToSymbol(z)} {name}")
            n_e.append(mol_per_g * o * AVOGADRO_PER_MOL)
            binding.append(bb)
            core.append(bool(0 <= s < ncore))
    n_e = np.array(n_e)
    per_g = float(n_e.sum())
    return ShellProfiles(material_name=name, z=np.array(zs, dtype=np.int64), shell=np.array(shells, dtype=np.int64),
                         labels=tuple(labels), electron_fraction=n_e / per_g, binding_kev=np.array(binding),
                         is_core=np.array(core, dtype=bool), electrons_per_g=per_g,
                         electron_density_per_cm3=per_g * density)


def shell_profiles(material) -> ShellProfiles:
    """Shell-resolved Compton profiles of a material (cached per composition).

    Parameters
    ----------
    material : twin.materials.Material or str
        A material or a registered name; vacuum is refused.
    """
    m = _material(material)
    return _shell_profiles_cached(m.name, tuple(sorted((int(z), float(w)) for z, w in m.mass_fractions.items())),
                                  float(m.density_g_cm3))


# ---------------------------------------------------------------------- Compton line shapes
def line_shape_per_kev(material, energy_kev, angle_deg, scattered_kev, *, binding_cutoff: bool = True,
                       which: str = "total") -> np.ndarray:
    """Compton line shape per electron without the Klein-Nishina factor, 1/keV.

    S(E2) = sum_s f_s J_s(p_z(E2)) dp_z/dE2 H(E1 - E2 - B_s) (impulse
    approximation, module docstring), f_s the fraction of the material's
    electrons in shell s. Integrates over E2 to the fraction of electrons
    that can be ionised (about 1 at 100 keV; <= 1). Zero for E2 >= E1 and E2 = 0.

    Parameters
    ----------
    material : Material or str
    energy_kev : float or array
        Incident energy E1, keV, > 0.
    angle_deg : float or array
        Scattering angle, degrees, in (0, 180].
    scattered_kev : float or array
        Scattered energies E2, keV, >= 0 (broadcast with E1 and theta).
    binding_cutoff : bool
        Apply the step H(E1 - E2 - B_s) (True) or not.
    which : {"total", "core", "valence"}
        Shells included.
    """
    prof = shell_profiles(material)
    arguments.one_of("which", which, ("total", "core", "valence"))
    e1 = _energies("energy_kev", energy_kev)
    e2 = _energies("scattered_kev", scattered_kev, allow_zero=True)
    omc = _one_minus_cos(angle_deg)
    e1, e2, omc = np.broadcast_arrays(e1, e2, omc)
    valid = (e2 > 0) & (e2 < e1)
    e2s = np.where(valid, e2, 0.5 * e1)  # placeholder where the line shape is 0
    pz = _pz(e1, e2s, omc)
    jac = _dpz(e1, e2s, omc)
    j = prof.shell_profiles(pz)  # (n_shells, *shape)
    w = prof.electron_fraction * prof._selector(which)
    if binding_cutoff:
        allowed = (e1 - e2s)[None] > prof.binding_kev.reshape((-1,) + (1,) * e1.ndim)
        s = np.einsum("s,s...->...", w, j * allowed)
    else:
        s = np.tensordot(w, j, axes=1)
    return np.where(valid, s * jac, 0.0)


def doubly_differential_cm2_per_sr_kev(material, energy_kev, angle_deg, scattered_kev, *, per: str = "electron",
                                       polarised: bool | float = False, azimuth_deg=90.0,
                                       binding_cutoff: bool = True, which: str = "total") -> np.ndarray:
    """Compton d2sigma/dOmega dE2 in the impulse approximation.

    (dsigma_KN/dOmega)(E1, theta) * :func:`line_shape_per_kev`.

    Parameters
    ----------
    per : {"electron", "gram", "volume"}
        ``"electron"``: per electron of the material (averaged over its
        electrons), cm^2/(sr keV) — multiply by n_e dV for eq. (1);
        ``"gram"``: cm^2/(g sr keV); ``"volume"``: times n_e, 1/(cm sr keV).
    polarised, azimuth_deg
        As in :func:`klein_nishina_dsigma_domega_cm2`.
    Other parameters as in :func:`line_shape_per_kev`.
    """
    _per(per)
    shape = line_shape_per_kev(material, energy_kev, angle_deg, scattered_kev, binding_cutoff=binding_cutoff,
                               which=which)
    kn = klein_nishina_dsigma_domega_cm2(energy_kev, angle_deg, polarised=polarised, azimuth_deg=azimuth_deg)
    return shape * kn * _scale(material, per)


def line_shape_per_sr_kev(material, energy_kev, angle_deg, scattered_kev, **kwargs) -> np.ndarray:
    """Per-electron Compton d2sigma/dOmega dE2, cm^2/(sr keV): :func:`doubly_differential_cm2_per_sr_kev`
    with ``per="electron"`` (Klein-Nishina included; multiply by n_e dV, not by dsigma_KN/dOmega again)."""
    kwargs.setdefault("per", "electron")
    return doubly_differential_cm2_per_sr_kev(material, energy_kev, angle_deg, scattered_kev, **kwargs)


def _scale(material, per: str) -> float:
    if per == "electron":
        return 1.0
    prof = shell_profiles(material)
    return prof.electrons_per_g if per == "gram" else prof.electron_density_per_cm3


def electron_density_per_cm3(material) -> float:
    """Electron density n_e of a material, electrons per cm3."""
    return shell_profiles(material).electron_density_per_cm3


# ---------------------------------------------------------------------- Rayleigh
def rayleigh_dsigma_domega_cm2_per_g(material, energy_kev, angle_deg, *, polarised: bool | float = False,
                                     azimuth_deg=90.0) -> np.ndarray:
    """Rayleigh (coherent) differential cross section of a material, cm^2/(g sr).

    dsigma/dOmega = r_e^2 T(theta, phi) sum_i (w_i N_A / A_i) F_i(q)^2, with
    the atomic form factors F_i of xraylib (FF_Rayl) at the momentum
    transfer q = sin(theta/2)/lambda (xraylib MomentTransf, 1/A) and the
    Thomson factor T = (1 + cos^2 theta)/2 - P sin^2 theta cos(2 phi)/2
    (P and phi as in :func:`klein_nishina_dsigma_domega_cm2`). Unpolarised,
    it equals sum_i w_i xraylib.DCS_Rayl. Free-atom form-factor approximation.

    Parameters
    ----------
    material : Material or str
    energy_kev : float or array
        Photon energy, keV, in xraylib's range 0.1-800 keV.
    angle_deg : float or array
        Scattering angle, degrees, in [0, 180].
    """
    import xraylib
    import xraylib_np

    m = _material(material)
    e = arguments.energies_kev("energy_kev", energy_kev)
    t = np.radians(_angles(angle_deg, allow_zero=True))
    p = _polarisation(polarised)
    phi = np.radians(np.asarray(arguments.array("azimuth_deg", azimuth_deg, dtype_kind="iuf", finite=True),
                                dtype=float))
    e, t, phi = np.broadcast_arrays(e, t, phi)
    # q = sin(theta/2) / lambda, 1/A; lambda = hc / E with hc = 12.39841984 keV A (xraylib's KEV2ANGST).
    q = np.sin(t / 2) * e / xraylib.KEV2ANGST
    zs = m.elements
    ff = xraylib_np.FF_Rayl(zs.astype(np.int64), q.ravel()).reshape((zs.size,) + q.shape)
    atoms_per_g = m.weights / np.array([xraylib.AtomicWeight(int(z)) for z in zs]) * AVOGADRO_PER_MOL
    thomson = 0.5 * (1 + np.cos(t) ** 2) - 0.5 * p * np.sin(t) ** 2 * np.cos(2 * phi)
    return ELECTRON_RADIUS_CM ** 2 * thomson * np.tensordot(atoms_per_g, ff ** 2, axes=1)


def rayleigh_dsigma_domega_per_cm(material, energy_kev, angle_deg, **kwargs) -> np.ndarray:
    """Rayleigh differential linear scattering coefficient, 1/(cm sr): the per-gram value times the density."""
    m = _material(material)
    return rayleigh_dsigma_domega_cm2_per_g(m, energy_kev, angle_deg, **kwargs) * m.density_g_cm3


# ---------------------------------------------------------------------- per-material tables, per-voxel mixing
def compton_tables(materials: Sequence, energy_kev: float, angle_deg: float, scattered_kev, *,
                   per: str = "volume", **kwargs) -> np.ndarray:
    """Compton d2sigma/dOmega dE2 of several materials on one E2 grid, shape (n_materials, n_E).

    Computed once per distinct material (one vectorised xraylib call per
    element); voxels then mix rows linearly with :func:`spectrum_per_voxel`.
    With the default ``per="volume"`` rows are 1/(cm sr keV): a voxel of
    volume dV (cm3) with volume fractions v_m gives, by eq. (1),
    counts per keV = phi0 t1 t2 dV Omega (v @ table). Vacuum rows (zero
    density) are zero.

    Parameters
    ----------
    materials : sequence of Material or str
    energy_kev, angle_deg : float
        Incident energy (keV) and scattering angle (deg, in (0, 180]).
    scattered_kev : 1D array
        E2 grid, keV, >= 0.
    per, kwargs
        As in :func:`doubly_differential_cm2_per_sr_kev`.
    """
    grid = _energies("scattered_kev", arguments.array("scattered_kev", scattered_kev, ndim=(1,)), allow_zero=True)
    out = np.zeros((len(materials), grid.size))
    for i, m in enumerate(materials):
        mm = _material_or_vacuum(m)
        if mm is None:
            continue
        out[i] = doubly_differential_cm2_per_sr_kev(mm, energy_kev, angle_deg, grid, per=per, **kwargs)
    return out


def rayleigh_tables(materials: Sequence, energy_kev: float, angle_deg: float, *, per: str = "volume",
                    **kwargs) -> np.ndarray:
    """Rayleigh dsigma/dOmega of several materials, shape (n_materials,).

    ``per="volume"``: 1/(cm sr); ``"gram"``: cm^2/(g sr); ``"electron"``:
    per electron of the material, cm^2/sr (to be multiplied by n_e like the
    Compton ``per="electron"`` values). Vacuum rows are zero.
    """
    _per(per)
    out = np.zeros(len(materials))
    for i, m in enumerate(materials):
        mm = _material_or_vacuum(m)
        if mm is None:
            continue
        per_g = float(rayleigh_dsigma_domega_cm2_per_g(mm, energy_kev, angle_deg, **kwargs))
        out[i] = (per_g * mm.density_g_cm3 if per == "volume"
                  else per_g if per == "gram" else per_g / shell_profiles(mm).electrons_per_g)
    return out


def _material_or_vacuum(m):
    from twin import materials

    mm = materials.get(m) if isinstance(m, str) else m
    if not isinstance(mm, materials.Material):
        raise TypeError(f"materials: expected Material objects or registered names, got {m!r}")
    return None if (mm.is_vacuum or not mm.mass_fractions) else mm


def spectrum_per_voxel(weights, tables) -> np.ndarray:
    """Mix per-material tables into per-voxel spectra (vectorised).

    Parameters
    ----------
    weights : array
        Either integer material indices of shape (...) (one material per
        voxel, rows of ``tables``), or float volume fractions of shape
        (..., n_materials) (partial-volume voxels).
    tables : array, shape (n_materials, ...)
        From :func:`compton_tables` / :func:`rayleigh_tables`.

    Returns
    -------
    ndarray, shape (..., *tables.shape[1:])
        ``tables[labels]`` or ``fractions @ tables`` (linear mixing by volume,
        exact for ``per="volume"`` tables).
    """
    t = np.asarray(tables, dtype=float)
    if t.ndim < 1:
        raise ValueError(f"tables: expected shape (n_materials, ...), got {t.shape}")
    w = np.asarray(weights)
    if w.dtype.kind in "iu":
        if w.size and (w.min() < 0 or w.max() >= t.shape[0]):
            raise ValueError(f"weights: material indices must lie in [0, {t.shape[0] - 1}], "
                             f"got [{w.min()}, {w.max()}]")
        return t[w]
    w = arguments.array("weights", w, dtype_kind="f", finite=True)
    if w.ndim < 1 or w.shape[-1] != t.shape[0]:
        raise ValueError(f"weights: expected volume fractions of shape (..., {t.shape[0]}) or integer labels, "
                         f"got shape {w.shape}")
    if np.any(w < 0):
        raise ValueError("weights: volume fractions must be >= 0")
    return np.tensordot(w, t, axes=([-1], [0]))
