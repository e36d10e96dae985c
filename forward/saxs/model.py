"""Absolute small- and wide-angle scattering of a hard-carbon electrode: eq. 1-4 of seeds/000.

The scattering of a hard-carbon anode is split by seeds/000 (Olsson et al., section 2) into

* eq. 1: ``I_total = I_particles + I_micropores + I_WAXS + I_bkg``;
* eq. 2: ``I_particles = A_scale q^-alpha`` (particle surfaces, q < 0.1 1/A; alpha = 4 for a smooth
  surface, Porod's law);
* eq. 3: ``I_micropores = K (Delta rho)^2 P(q) S(q)`` (closed micropores, q ~ 0.1-0.5 1/A);
* eq. 4: ``I_WAXS = G_002 + G_Na,metal + G_Na,pseudo + C_bkg`` (Gaussian peaks: the 002 stacking peak
  of the graphene layers, the 110 reflection of plated bcc Na at 2.07 1/A, the broad Na-Na correlation
  of pseudo-metallic Na near 2.1 1/A);

plus the binder peaks the source reports: crystalline PVDF at 1.45 1/A (SI, Fig. S3) and a SAXS bump
near 0.075 1/A (section 2 and 3, Fig. 3, 5a). Everything here is in absolute units: intensities are
differential scattering cross-sections per unit volume dSigma/dOmega in 1/cm (per steradian, written
"1/cm"), q in 1/Angstrom, scattering length densities (SLD) in 1/A^2 (Thomson, ``r_e n_e``).

Unit bookkeeping: ``phi <V^2>/<V> (Delta SLD)^2`` has units A^3 A^-4 = 1/A; times 1e8 A/cm gives
1/cm. The Porod limit of a sharp interface is ``I q^4 -> 2 pi (Delta SLD)^2 S_V`` with the interface
area per volume S_V in 1/A, again times 1e8 for 1/cm.

The sphere form factors and the Percus-Yevick structure factor are evaluated by numba kernels in
float64 (closed forms, with Taylor series near q = 0 where the closed forms cancel), parallel over
elements; :class:`HardCarbonTerms` evaluates eq. 1-4 for many voxels at many q in one kernel without
temporaries of the output's size. :func:`voxel_terms` turns the capillary twin of
:mod:`twin.generators.capillary` into these terms, with every assumption listed in its docstring.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import xraylib
from numba import njit, prange

from twin import materials
from twin.container import Twin
from xtwin import arguments

#: Classical electron radius r_e, Angstrom (CODATA 2018: 2.8179403262e-15 m).
R_E_A = 2.8179403262e-5
#: Angstrom per cm: an intensity in 1/A times this is in 1/cm.
A_PER_CM = 1e8
#: Position of the 110 reflection of plated bcc Na metal, 1/A (seeds/000, section 2, ref. 20; 2.08 in section 3).
Q_NA_METAL_INV_A = 2.07
#: Centre of the broad Na-Na correlation of pseudo-metallic Na clusters, 1/A (seeds/000, section 2, eq. 4).
Q_NA_PSEUDO_INV_A = 2.1
#: Crystalline PVDF binder peak, 1/A (seeds/000, SI "WAXS analysis", Fig. S3; fixed in their fits).
Q_PVDF_INV_A = 1.45
#: SAXS contribution of the binder and inactive materials, 1/A (seeds/000, section 2, Fig. 3b, 5a).
Q_BINDER_SAXS_INV_A = 0.075
#: Largest hard-sphere volume fraction accepted (random close packing is 0.64; PY is unphysical beyond ~0.74).
MAX_HARD_SPHERE_FRACTION = 0.74
#: FWHM = this x sigma for a Gaussian.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: Boltzmann constant, J/K (SI 2019, exact).
BOLTZMANN_J_K = 1.380649e-23

# ---------------------------------------------------------------------------------------------------
# Assumptions of voxel_terms (each also stated in its docstring).
#: Relative standard deviation of the Schulz distribution of micropore radii (assumed; hard-carbon
#: micropore size distributions are broad, e.g. seeds/000 ref. 15).
MICROPORE_POLYDISPERSITY = 0.3
#: Mean diameter of the hard-carbon particles, um (assumed: D50 of Kureha Carbotron-type hard carbon
#: is about 9 um); the Porod interface area per particle volume is 6 / d.
PARTICLE_DIAMETER_UM = 9.0
#: Intercalated Na per C in the carbon matrix (between graphene layers, not in micropores) when d002
#: has reached the end of the generator's d002 path (assumed: 0.01, i.e. ~7 % of the Na at full
#: capacity, so that the micropore contrast keeps the ~35 % fall of seeds/000 section 3).
INTERCALATED_NA_PER_C_FULL = 0.01
#: Pore filling above which confined Na forms pseudo-metallic clusters (assumed 0.3: along the
#: generator's default path only op 5 (mean pore filling 0.39) exceeds it, as in seeds/000 Fig. 6).
PSEUDO_METAL_THRESHOLD = 0.3
#: Fractional drop of the 002 peak amplitude at full intercalation (assumed; seeds/000 Fig. 6b shows
#: a decrease "from destructive interference of sodium scattering", without a calibrated size).
G002_DROP_AT_FULL_INTERCALATION = 0.15
#: Stacking height L_c of the turbostratic graphene stacks, A (assumed: ~3 layers, the 002 FWHM of
#: 0.5-0.6 1/A typical of hard carbons).
STACK_HEIGHT_A = 10.0
#: Peak excess S(q*) - 1 of the atomic structure factor at the maximum of a broad peak (assumed
#: values: turbostratic carbon 002 1.5, amorphous silica 0.6, molecular liquid 1.0, crystalline
#: fraction of PVDF 2.0, confined Na clusters 1.5 as in liquid Na).
PEAK_EXCESS = {"002": 1.5, "silica": 0.6, "liquid": 1.0, "pvdf": 2.0, "na_pseudo": 1.5}
#: Widths (sigma, 1/A) of the broad peaks (assumed): amorphous silica (FWHM ~0.6), carbonate liquid
#: (FWHM ~0.7), confined Na (FWHM 0.3, the 2.0-2.3 1/A band of seeds/000 section 3), PVDF (crystallite
#: ~100 A by Scherrer).
PEAK_SIGMA_INV_A = {"silica": 0.25, "liquid": 0.3, "na_pseudo": 0.13}
#: Centres of the amorphous peaks, 1/A: silica's first diffraction peak at 1.5 (brief of issue 7);
#: EC:PC main liquid peak at 1.5 (assumed; carbonate liquids peak at 1.4-1.6 1/A).
Q_SILICA_INV_A = 1.5
Q_LIQUID_INV_A = 1.5
#: PVDF crystallite size (Scherrer), A, and plated-Na crystallite size, A (both assumed).
PVDF_CRYSTALLITE_A = 100.0
NA_CRYSTALLITE_A = 500.0
#: Isothermal compressibility of the EC:PC electrolyte, 1/Pa (assumed; PC: ~6.5e-10) and temperature, K.
ELECTROLYTE_COMPRESSIBILITY_PER_PA = 6.5e-10
TEMPERATURE_K = 298.15
#: Flat SAXS of fused silica from frozen-in density fluctuations, 1/cm (assumed, order of magnitude of
#: published values for silica glass, a few 1e-3 1/cm).
SILICA_FLAT_PER_CM = 5e-3
#: SEI: composition and density (assumed: sodium ethylene dicarbonate, the main organic SEI product
#: of carbonate electrolytes, at 1.6 g/cm3), and the thickness over which it turns one interface into two.
SEI_FORMULA = "C4H4Na2O6"
SEI_DENSITY_G_CM3 = 1.6
SEI_RESOLVED_NM = 5.0
#: Binder SAXS bump: amplitude per unit volume fraction of PVDF in a voxel, 1/cm, and width, 1/A
#: (assumed: with the default electrode it is about 0.9 of the pristine hard-carbon signal at
#: 0.075 1/A, a distinct shoulder as in seeds/000 Fig. 5a).
BINDER_SAXS_PER_PVDF_FRACTION_PER_CM = 5.0
BINDER_SAXS_SIGMA_INV_A = 0.02


# ---------------------------------------------------------------------------------------------------
# Argument checks

def _q_array(q_inv_A, name: str = "q_inv_A") -> np.ndarray:
    try:
        q = np.asarray(q_inv_A, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={_short(q_inv_A)}: expected a number or array of numbers in 1/A") from None
    if not np.all(np.isfinite(q)):
        raise ValueError(f"{name}: expected finite scattering vectors in 1/A, found NaN or infinity")
    if np.any(q < 0):
        raise ValueError(f"{name}: expected q >= 0 in 1/A (a modulus), got {float(q.min()):g}")
    return q


def _positive_array(name: str, value, unit: str = "", allow_zero: bool = False) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={_short(value)}: expected a number or array of numbers{_in(unit)}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values{_in(unit)}, found NaN or infinity")
    bad = a < 0 if allow_zero else a <= 0
    if np.any(bad):
        raise ValueError(f"{name}: expected values {'>= 0' if allow_zero else '> 0'}{_in(unit)}, "
                         f"got {float(a[bad].flat[0]):g}")
    return a


def _range_array(name: str, value, low: float, high: float, *, high_open: bool = False) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={_short(value)}: expected a number or array of numbers") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values, found NaN or infinity")
    bad = (a < low) | ((a >= high) if high_open else (a > high))
    if np.any(bad):
        interval = f"[{low}, {high})" if high_open else f"[{low}, {high}]"
        raise ValueError(f"{name}: expected values in {interval}, got {float(a[bad].flat[0]):g}")
    return a


def _finite_array(name: str, value, unit: str = "") -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={_short(value)}: expected a number or array of numbers{_in(unit)}") from None
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values{_in(unit)}, found NaN or infinity")
    return a


def _in(unit: str) -> str:
    return f" (in {unit})" if unit else ""


def _short(value) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def _result(a: np.ndarray) -> np.ndarray | float:
    return float(a) if a.ndim == 0 else a


# ---------------------------------------------------------------------------------------------------
# Scalar kernels (numba)

# 9 (sin x - x cos x)^2 / x^6 = sum c_j x^(2j)
_P_SERIES = (1.0, -1.0 / 5, 3.0 / 175, -4.0 / 4725, 2.0 / 72765, -1.0 / 1576575, 1.0 / 91216125)
# Below these arguments the closed forms lose digits to cancellation and the series take over.
_SPHERE_SERIES_X = 0.05
_PY_SERIES_X = 0.2


@njit(cache=True, inline="always")
def _sphere_p(x: float) -> float:
    """Normalised sphere form factor [3 (sin x - x cos x) / x^3]^2 at x = q R."""
    return _sphere_p_sc(x, math.sin(x), math.cos(x))


@njit(cache=True, inline="always")
def _schulz_p(q: float, radius: float, k: float) -> float:
    """<R^6 P(qR)> / <R^6> over a Schulz (gamma) number distribution of mean ``radius``, shape ``k``.

    ``k = 1 / pd^2``. With theta = radius / k and t = 2 q, the moments
    M_n = <R^n exp(i t R)> = theta^n Gamma(k+n)/Gamma(k) (1 - i t theta)^-(k+n) give
    9 <(sin qR - qR cos qR)^2> / q^6 = 9 [1/2 + q^2 <R^2>/2 - Re M_0 / 2 - q Im M_1 + q^2 Re M_2 / 2] / q^6
    (Kotlarchyk and Chen, J. Chem. Phys. 79 (1983) 2461, same average in another form).
    """
    theta = radius / k
    # <R^6> / theta^6 = k (k+1) ... (k+5)
    g6 = k * (k + 1.0) * (k + 2.0) * (k + 3.0) * (k + 4.0) * (k + 5.0)
    reach = q * theta * (k + 7.0)
    if reach < _SPHERE_SERIES_X:
        # series sum_j c_j q^(2j) <R^(6+2j)> / <R^6>
        qt2 = (q * theta) * (q * theta)
        total = 1.0
        ratio = 1.0
        for j in range(1, 7):
            ratio *= qt2 * (k + 4.0 + 2.0 * j) * (k + 5.0 + 2.0 * j)
            total += _P_SERIES[j] * ratio
        return total
    u = 2.0 * q * theta
    # (1 - i u)^-(k) = exp(-k/2 log(1+u^2)) * exp(i k atan(u))
    mag = math.exp(-0.5 * k * math.log1p(u * u))
    ph = k * math.atan(u)
    c0r = mag * math.cos(ph)
    c0i = mag * math.sin(ph)
    # multiply by 1/(1 - i u) = (1 + i u)/(1 + u^2)
    inv = 1.0 / (1.0 + u * u)
    c1r = (c0r - u * c0i) * inv
    c1i = (c0i + u * c0r) * inv
    c2r = (c1r - u * c1i) * inv
    # moments in units of theta
    qt = q * theta
    n = 0.5 + 0.5 * qt * qt * k * (k + 1.0) - 0.5 * c0r - qt * k * c1i + 0.5 * qt * qt * k * (k + 1.0) * c2r
    q6 = qt * qt * qt
    q6 = q6 * q6
    return 9.0 * n / (q6 * g6)


@njit(cache=True, inline="always")
def _py_s(q: float, radius: float, eta: float) -> float:
    """Percus-Yevick hard-sphere structure factor (Kinning and Thomas, Macromolecules 17 (1984) 1712)."""
    if eta <= 0.0:
        return 1.0
    x = 2.0 * q * radius
    alpha, beta, gamma = _py_coefficients(eta)
    return _py_s_sc(x, math.sin(x), math.cos(x), eta, alpha, beta, gamma)


@njit(cache=True, inline="always")
def _py_coefficients(eta: float) -> tuple[float, float, float]:
    """alpha, beta, gamma of the Percus-Yevick direct correlation function at volume fraction ``eta``."""
    one_m = 1.0 - eta
    d4 = one_m * one_m * one_m * one_m
    alpha = (1.0 + 2.0 * eta) * (1.0 + 2.0 * eta) / d4
    beta = -6.0 * eta * (1.0 + 0.5 * eta) * (1.0 + 0.5 * eta) / d4
    return alpha, beta, 0.5 * eta * alpha


@njit(cache=True, parallel=True)
def _sphere_p_kernel(q, r, pd, out):
    for i in prange(q.shape[0]):
        if pd[i] <= 0.0:
            out[i] = _sphere_p(q[i] * r[i])
        else:
            out[i] = _schulz_p(q[i], r[i], 1.0 / (pd[i] * pd[i]))


@njit(cache=True, parallel=True)
def _py_kernel(q, r, eta, out):
    for i in prange(q.shape[0]):
        out[i] = _py_s(q[i], r[i], eta[i])


@njit(cache=True, inline="always")
def _sphere_prefactor(r: float, pd: float, phi: float, dsld: float) -> float:
    """``phi <V^2>/<V> dsld^2 1e8`` (1/cm per unit P S) for Schulz spheres of mean radius r (A), see
    :func:`schulz_volume_ratio_A3`."""
    ratio = (1.0 + 3.0 * pd * pd) * (1.0 + 4.0 * pd * pd) * (1.0 + 5.0 * pd * pd)
    return phi * (4.0 * math.pi / 3.0) * r * r * r * ratio * dsld * dsld * 1e8


@njit(cache=True, parallel=True)
def _sphere_intensity_scalar_kernel(q, r, phi, dsld, pd, structure, out):
    """phi <V^2>/<V> dsld^2 P(q) [S(q)] 1e8 for scalar sphere parameters at every q (one pass)."""
    k = 1.0 / (pd * pd) if pd > 0.0 else 0.0
    pref = _sphere_prefactor(r, pd, phi, dsld)
    eta = phi if structure else 0.0
    alpha, beta, gamma = _py_coefficients(eta)
    for j in prange(q.shape[0]):
        x = q[j] * r
        sx = math.sin(x)
        cx = math.cos(x)
        p = _schulz_p(q[j], r, k) if pd > 0.0 else _sphere_p_sc(x, sx, cx)
        if eta > 0.0:
            p *= _py_s_sc(2.0 * x, 2.0 * sx * cx, cx * cx - sx * sx, eta, alpha, beta, gamma)
        out[j] = pref * p


def _broadcast_flat(*arrays: np.ndarray) -> tuple[tuple[int, ...], list[np.ndarray]]:
    try:
        b = np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValueError("the array arguments do not broadcast: shapes "
                         + ", ".join(str(np.shape(a)) for a in arrays)) from None
    return b[0].shape, [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in b]


# ---------------------------------------------------------------------------------------------------
# Public closed forms

def sld_from_electron_density(electron_density_per_A3: float | np.ndarray) -> float | np.ndarray:
    """Thomson X-ray scattering length density ``r_e n_e``, 1/A^2 (forward scattering, away from edges).

    Parameters
    ----------
    electron_density_per_A3 : float or array
        Electron density n_e >= 0, electrons per A^3 (``Material.electron_density_per_A3()``).
    """
    n = _positive_array("electron_density_per_A3", electron_density_per_A3, "electrons/A^3", allow_zero=True)
    return _result(R_E_A * n)


def sphere_form_factor(q_inv_A, radius_A) -> np.ndarray | float:
    """Normalised form factor of a homogeneous sphere, ``P(q) = [3 (sin x - x cos x) / x^3]^2``, x = q R.

    P(0) = 1; first zero at x = 4.4934 (tan x = x). Inputs broadcast. Below x = 0.05 a Taylor series
    (``1 - x^2/5 + 3 x^4/175 - 4 x^6/4725``) replaces the closed form, which cancels there.

    Parameters
    ----------
    q_inv_A : float or array
        Scattering vector modulus q >= 0, 1/A.
    radius_A : float or array
        Sphere radius > 0, A.
    """
    q = _q_array(q_inv_A)
    r = _positive_array("radius_A", radius_A, "A")
    shape, (qf, rf) = _broadcast_flat(q, r)
    out = np.empty(qf.size)
    _sphere_p_kernel(qf, rf, np.zeros_like(qf), out)
    return _result(out.reshape(shape))


def schulz_sphere_form_factor(q_inv_A, radius_A, polydispersity) -> np.ndarray | float:
    """Sphere form factor averaged over a Schulz distribution of radii, ``<V^2 P(q)> / <V^2>``.

    The number distribution of radii is the Schulz (gamma) distribution ``f(R) ~ R^(k-1) exp(-k R /
    R_mean)`` with mean ``radius_A`` and relative standard deviation ``polydispersity = 1/sqrt(k)``
    (SasView's "pd" for a Schulz distribution). The average is evaluated in closed form through the
    characteristic function of the gamma distribution (see ``_schulz_p``; equivalent to Kotlarchyk and
    Chen, J. Chem. Phys. 79 (1983) 2461) and, where q theta (k + 7) < 0.05 (theta = R_mean / k), by
    its Taylor series in q with the exact moments ``<R^(6+2j)>`` (7 terms). The result agrees with a
    direct numerical quadrature over the distribution to about 1e-10 relative (tests compare at 1e-4);
    it is exact to rounding, not interpolated. polydispersity 0 is the monodisperse
    :func:`sphere_form_factor`. P(0) = 1. Inputs broadcast.

    Parameters
    ----------
    q_inv_A : float or array
        q >= 0, 1/A.
    radius_A : float or array
        Number-mean radius > 0, A.
    polydispersity : float or array
        sigma_R / R_mean in [0, 1) (at 1 the distribution is exponential; larger values are refused).
    """
    q = _q_array(q_inv_A)
    r = _positive_array("radius_A", radius_A, "A")
    pd = _range_array("polydispersity", polydispersity, 0.0, 1.0, high_open=True)
    shape, (qf, rf, pf) = _broadcast_flat(q, r, pd)
    out = np.empty(qf.size)
    _sphere_p_kernel(qf, rf, pf, out)
    return _result(out.reshape(shape))


def schulz_volume_ratio_A3(radius_A, polydispersity=0.0) -> np.ndarray | float:
    """``<V^2> / <V>`` of a Schulz distribution of spheres, A^3: (4 pi / 3) <R^6> / <R^3>.

    With k = 1/pd^2 and theta = R_mean / k: <R^6>/<R^3> = theta^3 (k+3)(k+4)(k+5); at pd = 0, R^3.
    """
    r = _positive_array("radius_A", radius_A, "A")
    pd = _range_array("polydispersity", polydispersity, 0.0, 1.0, high_open=True)
    r, pd = np.broadcast_arrays(r, pd)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = 1.0 / (pd * pd)
        ratio = np.where(pd > 0, (1 + 3 / k) * (1 + 4 / k) * (1 + 5 / k), 1.0)
    return _result(4.0 * np.pi / 3.0 * r ** 3 * ratio)


def hard_sphere_structure_factor(q_inv_A, radius_A, volume_fraction) -> np.ndarray | float:
    """Percus-Yevick structure factor of hard spheres of radius ``radius_A`` at ``volume_fraction``.

    Closed form of Ashcroft and Lepore (Phys. Rev. 156 (1967) 83) as written by Kinning and Thomas
    (Macromolecules 17 (1984) 1712): ``S = 1 / (1 + 24 phi G(x) / x)``, x = 2 q R; Taylor series for
    x < 0.2. S(0) = (1 - phi)^4 / (1 + 2 phi)^2; S -> 1 as phi -> 0 and as q -> infinity. Inputs
    broadcast.

    Parameters
    ----------
    q_inv_A : float or array
        q >= 0, 1/A.
    radius_A : float or array
        Hard-sphere radius > 0, A.
    volume_fraction : float or array
        In [0, 0.74).
    """
    q = _q_array(q_inv_A)
    r = _positive_array("radius_A", radius_A, "A")
    phi = _range_array("volume_fraction", volume_fraction, 0.0, MAX_HARD_SPHERE_FRACTION, high_open=True)
    shape, (qf, rf, ef) = _broadcast_flat(q, r, phi)
    out = np.empty(qf.size)
    _py_kernel(qf, rf, ef, out)
    return _result(out.reshape(shape))


def sphere_intensity_per_cm(q_inv_A, radius_A, volume_fraction, delta_sld_per_A2, polydispersity=0.0,
                            structure_factor: bool = False) -> np.ndarray | float:
    """Absolute intensity of spheres in a matrix, 1/cm: ``phi <V^2>/<V> (Delta SLD)^2 P(q) [S(q)] 1e8``.

    This is eq. 3 of seeds/000 with K (Delta rho)^2 written in absolute units: the number density
    phi / <V> times the squared excess scattering length <V^2> (Delta SLD)^2. For a polydisperse
    (Schulz) population P is :func:`schulz_sphere_form_factor`; with ``structure_factor`` the
    Percus-Yevick S(q) at the mean radius multiplies it (the decoupling approximation, adequate for
    polydispersity up to ~0.3). Babinet: pores in a matrix scatter like particles of the opposite
    contrast, so the sign of ``delta_sld_per_A2`` does not matter.

    Parameters
    ----------
    q_inv_A : float or array
        q >= 0, 1/A.
    radius_A : float or array
        (Mean) radius > 0, A.
    volume_fraction : float or array
        Volume fraction of spheres in [0, 0.74).
    delta_sld_per_A2 : float or array
        SLD difference sphere - matrix, 1/A^2 (e.g. ``r_e (n_e1 - n_e2)``; 1e-6/A^2 is typical).
    polydispersity : float or array
        Schulz relative standard deviation in [0, 1).
    structure_factor : bool
        Multiply by the Percus-Yevick S(q) at ``volume_fraction``.
    """
    q = _q_array(q_inv_A)
    r = _positive_array("radius_A", radius_A, "A")
    phi = _range_array("volume_fraction", volume_fraction, 0.0, MAX_HARD_SPHERE_FRACTION, high_open=True)
    dsld = _finite_array("delta_sld_per_A2", delta_sld_per_A2, "1/A^2")
    pd = _range_array("polydispersity", polydispersity, 0.0, 1.0, high_open=True)
    if not isinstance(structure_factor, (bool, np.bool_)):
        raise TypeError(f"structure_factor={structure_factor!r}: expected True or False")
    if r.size == phi.size == dsld.size == pd.size == 1 and max(r.ndim, phi.ndim, dsld.ndim, pd.ndim) <= q.ndim:
        # scalar parameters (the common case): one fused pass over q
        out = np.empty(q.size)
        _sphere_intensity_scalar_kernel(np.ascontiguousarray(q).ravel(), float(r.flat[0]), float(phi.flat[0]),
                                        float(dsld.flat[0]), float(pd.flat[0]), bool(structure_factor), out)
        return _result(out.reshape(q.shape))
    shape, (qf, rf, phif, df, pf) = _broadcast_flat(q, r, phi, dsld, pd)
    p = np.empty(qf.size)
    _sphere_p_kernel(qf, rf, pf, p)
    if structure_factor:
        s = np.empty(qf.size)
        _py_kernel(qf, rf, phif, s)
        p *= s
    ratio = np.asarray(schulz_volume_ratio_A3(rf, pf), dtype=float)
    return _result((phif * ratio * df * df * p * A_PER_CM).reshape(shape))


def power_law(q_inv_A, scale_per_cm, exponent) -> np.ndarray | float:
    """Eq. 2 of seeds/000: ``scale q^-exponent``, 1/cm (scale in 1/cm at q = 1 1/A).

    For a sharp interface (exponent 4, Porod) ``scale = 2 pi (Delta SLD)^2 S_V 1e8`` with the
    interface area per volume S_V in 1/A (:func:`porod_scale_per_cm`).

    Parameters
    ----------
    q_inv_A : float or array
        q > 0, 1/A (the law diverges at 0).
    scale_per_cm : float or array
        >= 0, 1/cm (1/A)^exponent.
    exponent : float or array
        Finite; 4 for a smooth surface, 3-4 for rough surfaces.
    """
    q = _positive_array("q_inv_A", q_inv_A, "1/A")
    a = _positive_array("scale_per_cm", scale_per_cm, "1/cm", allow_zero=True)
    e = _finite_array("exponent", exponent)
    return _result(a * q ** (-e))


def porod_scale_per_cm(delta_sld_per_A2, surface_per_volume_per_A) -> np.ndarray | float:
    """Porod constant of sharp interfaces in absolute units: ``2 pi (Delta SLD)^2 S_V 1e8``, 1/cm/A^4.

    ``I(q) q^4 -> 2 pi (Delta SLD)^2 S_V`` at high q (Porod 1951), S_V the interface area per unit
    volume in A^2/A^3 = 1/A (spheres of radius R at volume fraction phi: S_V = 3 phi / R).
    """
    d = _finite_array("delta_sld_per_A2", delta_sld_per_A2, "1/A^2")
    s = _positive_array("surface_per_volume_per_A", surface_per_volume_per_A, "1/A", allow_zero=True)
    return _result(2.0 * np.pi * d * d * s * A_PER_CM)


def gaussian_peak(q_inv_A, amplitude_per_cm, centre_inv_A, sigma_inv_A) -> np.ndarray | float:
    """Gaussian peak ``A exp(-(q - q0)^2 / (2 sigma^2))``, 1/cm (the peak shape of eq. 4).

    FWHM = 2 sqrt(2 ln 2) sigma (:data:`FWHM_PER_SIGMA`).

    Parameters
    ----------
    q_inv_A : float or array
        q >= 0, 1/A.
    amplitude_per_cm : float or array
        Peak height >= 0, 1/cm.
    centre_inv_A : float or array
        Peak position > 0, 1/A.
    sigma_inv_A : float or array
        Standard deviation > 0, 1/A.
    """
    q = _q_array(q_inv_A)
    a = _positive_array("amplitude_per_cm", amplitude_per_cm, "1/cm", allow_zero=True)
    c = _positive_array("centre_inv_A", centre_inv_A, "1/A")
    s = _positive_array("sigma_inv_A", sigma_inv_A, "1/A")
    return _result(a * np.exp(-0.5 * ((q - c) / s) ** 2))


def peak_sigma_for_size(size_A, shape_factor: float = 0.9) -> np.ndarray | float:
    """Gaussian sigma in q of a peak broadened by a coherent domain of size L (Scherrer).

    Scherrer's FWHM in 2 theta, K lambda / (L cos theta), is ``FWHM_q = 2 pi K / L`` in q; sigma =
    FWHM_q / (2 sqrt(2 ln 2)). K = 0.9 is the customary shape factor (Patterson, Phys. Rev. 56 (1939)
    978). Instrumental and strain broadening are not included.

    Parameters
    ----------
    size_A : float or array
        Domain size > 0, A.
    shape_factor : float
        Scherrer constant K > 0.
    """
    L = _positive_array("size_A", size_A, "A")
    k = arguments.positive("shape_factor", shape_factor)
    return _result(2.0 * np.pi * k / L / FWHM_PER_SIGMA)


def bragg_d_A(q_inv_A) -> np.ndarray | float:
    """Bragg spacing ``d = 2 pi / q``, A (seeds/000, SI Table S2: q* = 1.55 1/A -> d = 4.06 A)."""
    q = _positive_array("q_inv_A", q_inv_A, "1/A")
    return _result(2.0 * np.pi / q)


def bragg_q_inv_A(d_A) -> np.ndarray | float:
    """Scattering vector of a Bragg spacing, ``q = 2 pi / d``, 1/A."""
    d = _positive_array("d_A", d_A, "A")
    return _result(2.0 * np.pi / d)


# ---------------------------------------------------------------------------------------------------
# Per-voxel terms of eq. 1-4

_GAUSS_CUT = 7.0  # a Gaussian is skipped beyond this many sigma (exp(-24.5) = 2e-11 of its height)


@njit(cache=True, inline="always")
def _gauss(q: float, a: float, c: float, s: float) -> float:
    if a == 0.0:
        return 0.0
    z = (q - c) / s
    if z > _GAUSS_CUT or z < -_GAUSS_CUT:
        return 0.0
    return a * math.exp(-0.5 * z * z)


@njit(cache=True, inline="always")
def _sphere_p_sc(x: float, s: float, c: float) -> float:
    """:func:`_sphere_p` given s = sin x, c = cos x."""
    if x < _SPHERE_SERIES_X:
        x2 = x * x
        return 1.0 + x2 * (-1.0 / 5 + x2 * (3.0 / 175 + x2 * (-4.0 / 4725)))
    a = 3.0 * (s - x * c) / (x * x * x)
    return a * a


@njit(cache=True, inline="always")
def _py_s_sc(x: float, s: float, c: float, eta: float, alpha: float, beta: float, gamma: float) -> float:
    """:func:`_py_s` at x = 2 q R given s = sin x, c = cos x and the PY coefficients."""
    if x < _PY_SERIES_X:
        x2 = x * x
        t1 = 1.0 / 3 + x2 * (-1.0 / 30 + x2 * (1.0 / 840 + x2 * (-1.0 / 45360 + x2 / 3991680)))
        t2 = 1.0 / 4 + x2 * (-1.0 / 36 + x2 * (1.0 / 960 + x2 * (-1.0 / 50400 + x2 / 4354560)))
        t3 = 1.0 / 6 + x2 * (-1.0 / 48 + x2 * (1.0 / 1200 + x2 * (-1.0 / 60480 + x2 / 5080320)))
        g_over_x = alpha * t1 + beta * t2 + gamma * t3
    else:
        x2 = x * x
        g = (alpha * (s - x * c) / x2 + beta * (2.0 * x * s + (2.0 - x2) * c - 2.0) / (x2 * x)
             + gamma * (-x2 * x2 * c + 4.0 * ((3.0 * x2 - 6.0) * c + (x2 * x - 6.0 * x) * s + 6.0)) / (x2 * x2 * x))
        g_over_x = g / x
    return 1.0 / (1.0 + 24.0 * eta * g_over_x)


#: Schulz form factors are tabulated in x = q R_mean on [0, _TABLE_X_MAX] with step _TABLE_STEP and
#: interpolated with 4-point (cubic) Lagrange polynomials; beyond, the closed form is used.
_TABLE_STEP = 0.005
_TABLE_X_MAX = 80.0
#: Polydispersities below this use the closed form (sharp minima of nearly monodisperse spheres).
_TABLE_MIN_PD = 0.02
#: At most this many distinct polydispersities get a table; the rest use the closed form.
_MAX_TABLES = 8


@njit(cache=True, inline="always")
def _table_lookup(table, x: float) -> float:
    u = x / _TABLE_STEP
    j = int(u)
    if j < 1:
        j = 1
    t = u - j
    # nodes j-1, j, j+1, j+2 at t = -1, 0, 1, 2
    f0 = table[j - 1]
    f1 = table[j]
    f2 = table[j + 1]
    f3 = table[j + 2]
    return (-t * (t - 1.0) * (t - 2.0) / 6.0 * f0 + (t + 1.0) * (t - 1.0) * (t - 2.0) / 2.0 * f1
            - (t + 1.0) * t * (t - 2.0) / 2.0 * f2 + (t + 1.0) * t * (t - 1.0) / 6.0 * f3)


def _schulz_tables(pd: np.ndarray, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tables of the Schulz form factor in x = q R_mean for the distinct polydispersities of active rows."""
    table_of = np.full(pd.shape, -1, dtype=np.int64)
    values = np.unique(pd[active & (pd >= _TABLE_MIN_PD)])
    if values.size == 0 or values.size > _MAX_TABLES:
        return np.zeros((1, 4)), table_of
    x = np.arange(int(round(_TABLE_X_MAX / _TABLE_STEP)) + 4) * _TABLE_STEP
    tables = np.empty((values.size, x.size))
    for m, v in enumerate(values):
        _sphere_p_kernel(x, np.ones_like(x), np.full_like(x, v), tables[m])
        table_of[active & (pd == v)] = m
    return tables, table_of


@njit(cache=True, parallel=True)
def _terms_kernel(q, logq, qm4, tables, table_of, porod_a, porod_e, mp_phi, mp_r, mp_pd, mp_dsld, mp_eta,
                  g002_a, g002_c, g002_s, na_a, na_s, pseudo_a, pseudo_s, pvdf_a, pvdf_s,
                  binder_a, binder_s, am_a, am_c, am_s, bkg, q_na, q_pseudo, q_pvdf, q_binder, out):
    n = out.shape[0]
    nq = q.shape[0]
    for i in prange(n):
        pa = porod_a[i]
        pe = porod_e[i]
        r = mp_r[i]
        pd = mp_pd[i]
        eta = mp_eta[i]
        k = 1.0 / (pd * pd) if pd > 0.0 else 0.0
        mp = _sphere_prefactor(r, pd, mp_phi[i], mp_dsld[i])
        alpha, beta, gamma = _py_coefficients(eta)
        for j in range(nq):
            qq = q[j]
            v = bkg[i]
            if pa != 0.0:
                v += pa * (qm4[j] if pe == 4.0 else math.exp(-pe * logq[j]))
            if mp != 0.0:
                x = qq * r
                sx = math.sin(x)
                cx = math.cos(x)
                if pd <= 0.0:
                    p = _sphere_p_sc(x, sx, cx)
                elif table_of[i] >= 0 and x < _TABLE_X_MAX:
                    p = _table_lookup(tables[table_of[i]], x)
                else:
                    p = _schulz_p(qq, r, k)
                if eta > 0.0:
                    # sin 2x, cos 2x from sin x, cos x
                    p *= _py_s_sc(2.0 * x, 2.0 * sx * cx, cx * cx - sx * sx, eta, alpha, beta, gamma)
                v += mp * p
            v += _gauss(qq, g002_a[i], g002_c[i], g002_s[i])
            v += _gauss(qq, na_a[i], q_na, na_s[i])
            v += _gauss(qq, pseudo_a[i], q_pseudo, pseudo_s[i])
            v += _gauss(qq, pvdf_a[i], q_pvdf, pvdf_s[i])
            v += _gauss(qq, binder_a[i], q_binder, binder_s[i])
            v += _gauss(qq, am_a[i], am_c[i], am_s[i])
            out[i, j] = v


_SPEC_FIELDS = ("porod_scale_per_cm", "porod_exponent", "micropore_volume_fraction", "micropore_radius_A",
                "micropore_polydispersity", "micropore_delta_sld_per_A2", "g002_amplitude_per_cm", "q002_inv_A",
                "g002_sigma_inv_A", "na_metal_amplitude_per_cm", "na_pseudo_amplitude_per_cm",
                "pvdf_amplitude_per_cm", "binder_saxs_amplitude_per_cm", "background_per_cm")
#: Optional fields and their default value (arrays of that value when omitted).
_OPTIONAL_DEFAULTS = {"micropore_packing_fraction": 0.0, "na_metal_sigma_inv_A": None,
                      "na_pseudo_sigma_inv_A": PEAK_SIGMA_INV_A["na_pseudo"], "pvdf_sigma_inv_A": None,
                      "binder_saxs_sigma_inv_A": BINDER_SAXS_SIGMA_INV_A, "amorphous_amplitude_per_cm": 0.0,
                      "amorphous_centre_inv_A": Q_LIQUID_INV_A, "amorphous_sigma_inv_A": PEAK_SIGMA_INV_A["liquid"]}
# (name, lower bound, allow equality, upper bound exclusive or None)
_BOUNDS = {"porod_scale_per_cm": (0, True), "micropore_volume_fraction": (0, True),
           "micropore_radius_A": (0, False), "g002_amplitude_per_cm": (0, True), "q002_inv_A": (0, False),
           "g002_sigma_inv_A": (0, False), "na_metal_amplitude_per_cm": (0, True),
           "na_pseudo_amplitude_per_cm": (0, True), "pvdf_amplitude_per_cm": (0, True),
           "binder_saxs_amplitude_per_cm": (0, True), "background_per_cm": (0, True),
           "na_metal_sigma_inv_A": (0, False), "na_pseudo_sigma_inv_A": (0, False), "pvdf_sigma_inv_A": (0, False),
           "binder_saxs_sigma_inv_A": (0, False), "amorphous_amplitude_per_cm": (0, True),
           "amorphous_centre_inv_A": (0, False), "amorphous_sigma_inv_A": (0, False)}


@dataclass
class HardCarbonTerms:
    """Parameters of eq. 1-4 of seeds/000 for n voxels (or curves), each an array of shape (n,).

    ``I(q) = porod_scale q^-porod_exponent``                                        (eq. 2)
    ``+ phi <V^2>/<V> dsld^2 P_Schulz(q; R, pd) S_PY(q; R, eta) 1e8``               (eq. 3)
    ``+ G(g002_amplitude, q002, g002_sigma) + G(na_metal_amplitude, 2.07, na_metal_sigma)``
    ``+ G(na_pseudo_amplitude, 2.1, na_pseudo_sigma) + G(pvdf_amplitude, 1.45, pvdf_sigma)``  (eq. 4)
    ``+ G(binder_saxs_amplitude, 0.075, binder_saxs_sigma)``                        (binder, section 3)
    ``+ G(amorphous_amplitude, amorphous_centre, amorphous_sigma) + background``    (I_bkg, C_bkg)

    with G(A, q0, s) = A exp(-(q - q0)^2 / (2 s^2)). All intensities in 1/cm; porod_scale in
    1/cm (1/A)^exponent; radii in A; q and sigmas in 1/A; dsld in 1/A^2; phi the micropore volume
    fraction of the voxel. Required fields are those of the shared spec; the optional fields
    (``micropore_packing_fraction`` eta for S(q), 0 = no structure factor; peak widths; the amorphous
    peak of a liquid or glass) default to the module's assumed values. Scalars are broadcast to n.
    Every array is validated (finite; amplitudes >= 0; radii, positions and widths > 0;
    polydispersity in [0, 1); packing fraction in [0, 0.74)).
    """

    porod_scale_per_cm: np.ndarray
    porod_exponent: np.ndarray
    micropore_volume_fraction: np.ndarray
    micropore_radius_A: np.ndarray
    micropore_polydispersity: np.ndarray
    micropore_delta_sld_per_A2: np.ndarray
    g002_amplitude_per_cm: np.ndarray
    q002_inv_A: np.ndarray
    g002_sigma_inv_A: np.ndarray
    na_metal_amplitude_per_cm: np.ndarray
    na_pseudo_amplitude_per_cm: np.ndarray
    pvdf_amplitude_per_cm: np.ndarray
    binder_saxs_amplitude_per_cm: np.ndarray
    background_per_cm: np.ndarray
    micropore_packing_fraction: np.ndarray | None = None
    na_metal_sigma_inv_A: np.ndarray | None = None
    na_pseudo_sigma_inv_A: np.ndarray | None = None
    pvdf_sigma_inv_A: np.ndarray | None = None
    binder_saxs_sigma_inv_A: np.ndarray | None = None
    amorphous_amplitude_per_cm: np.ndarray | None = None
    amorphous_centre_inv_A: np.ndarray | None = None
    amorphous_sigma_inv_A: np.ndarray | None = None

    def __post_init__(self) -> None:
        sizes = {np.size(getattr(self, f.name)) for f in dataclasses.fields(self)
                 if getattr(self, f.name) is not None and np.ndim(getattr(self, f.name)) > 0}
        if len(sizes) > 1:
            raise ValueError(f"HardCarbonTerms: expected every array of the same length n, got lengths {sorted(sizes)}")
        n = sizes.pop() if sizes else 1
        defaults = dict(_OPTIONAL_DEFAULTS)
        defaults["na_metal_sigma_inv_A"] = float(peak_sigma_for_size(NA_CRYSTALLITE_A))
        defaults["pvdf_sigma_inv_A"] = float(peak_sigma_for_size(PVDF_CRYSTALLITE_A))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                value = defaults[f.name]
            try:
                a = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"{f.name}={_short(value)}: expected a number or an array of numbers") from None
            if a.ndim > 1:
                raise ValueError(f"{f.name}: expected a 1D array of shape (n,), got shape {a.shape}")
            a = np.ascontiguousarray(np.broadcast_to(a, (n,)))
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{f.name}: expected finite values, found NaN or infinity")
            if f.name in _BOUNDS:
                low, equal = _BOUNDS[f.name]
                bad = a < low if equal else a <= low
                if np.any(bad):
                    raise ValueError(f"{f.name}: expected values {'>=' if equal else '>'} {low}, "
                                     f"got {float(a[bad][0]):g}")
            if f.name == "micropore_polydispersity":
                _range_array(f.name, a, 0.0, 1.0, high_open=True)
            if f.name == "micropore_packing_fraction":
                _range_array(f.name, a, 0.0, MAX_HARD_SPHERE_FRACTION, high_open=True)
            if f.name == "micropore_volume_fraction":
                _range_array(f.name, a, 0.0, 1.0)
            a.setflags(write=False)
            object.__setattr__(self, f.name, a)

    def __len__(self) -> int:
        return int(self.porod_scale_per_cm.shape[0])

    def subset(self, index) -> "HardCarbonTerms":
        """The terms of the voxels selected by ``index`` (a boolean mask or integer indices)."""
        return HardCarbonTerms(**{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)})

    def intensity_per_cm(self, q_inv_A, *, dtype=np.float64, chunk_size: int = 65536,
                         out: np.ndarray | None = None) -> np.ndarray:
        """Eq. 1 (= eq. 2 + eq. 3 + eq. 4 + backgrounds) of every voxel at every q, 1/cm.

        One numba kernel, parallel over voxels, evaluates each element once (no temporaries of the
        output's size); voxels are processed in chunks of ``chunk_size`` so that a float32 output does
        not need a float64 copy of itself. Cost O(n nq): 0.5-1.0 s for the 131 940 electrode voxels of
        the default capillary x 200 q on 2 cores (about 20-55 ns per element, benchmarks/bench_saxs_model.py).
        Rows with only flat + amorphous-peak scattering that are identical (electrolyte, glass voxels)
        are evaluated once and copied. Schulz form factors with pd >= 0.02 are interpolated from a
        table in q R_mean (< 3e-6 relative error; 7e-8 at pd 0.3); smaller pd use the closed form.

        Parameters
        ----------
        q_inv_A : array, shape (nq,)
            q > 0, 1/A (the power law diverges at 0).
        dtype : numpy float dtype
            float64 (default) or float32 for the output (halves memory for 1e6 x 200).
        chunk_size : int
            Voxels per kernel call.
        out : ndarray, shape (n, nq), optional
            Written in place and returned.

        Returns
        -------
        ndarray, shape (n, nq)
        """
        q = _positive_array("q_inv_A", q_inv_A, "1/A")
        if q.ndim != 1:
            raise ValueError(f"q_inv_A: expected a 1D array of q values, got shape {q.shape}")
        q = np.ascontiguousarray(q, dtype=np.float64)
        dtype = np.dtype(dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"dtype={dtype!r}: expected float32 or float64")
        chunk = arguments.integer("chunk_size", chunk_size, minimum=1)
        n = len(self)
        if out is None:
            out = np.empty((n, q.size), dtype=dtype)
        elif not isinstance(out, np.ndarray) or out.shape != (n, q.size) or out.dtype not in (np.float32, np.float64):
            raise ValueError(f"out: expected a float32/float64 array of shape {(n, q.size)}, got "
                             f"{getattr(out, 'shape', type(out))} {getattr(out, 'dtype', '')}")
        logq = np.log(q)
        # Rows with only flat + amorphous-peak scattering (electrolyte, glass) are often identical:
        # evaluate each distinct row once (a float key from the four columns, verified exactly).
        plain_cols = ("background_per_cm", "amorphous_amplitude_per_cm", "amorphous_centre_inv_A",
                      "amorphous_sigma_inv_A")
        featureless = np.ones(n, dtype=bool)
        for fl in dataclasses.fields(self):
            if fl.name in ("porod_scale_per_cm", "micropore_volume_fraction") or (
                    "amplitude" in fl.name and fl.name not in plain_cols):
                featureless &= getattr(self, fl.name) == 0
        rows = np.flatnonzero(featureless)
        if rows.size > 1024:
            cols = np.stack([getattr(self, name)[rows] for name in plain_cols], axis=1)
            key = cols @ np.array([1.0, math.pi, math.e, math.sqrt(2.0)])
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            exact = np.all(cols == cols[first][inverse], axis=1)
            rows, inverse = rows[exact], inverse[exact]
            featureless[:] = False
            featureless[rows] = True
            distinct = self.subset(rows[first]).intensity_per_cm(q)
            for start in range(0, rows.size, chunk):
                out[rows[start:start + chunk]] = distinct[inverse[start:start + chunk]]
            todo = np.flatnonzero(~featureless)
            if todo.size == 0:
                return out
            if todo.size < n:
                sub = self.subset(todo)
                for start in range(0, todo.size, chunk):
                    idx = todo[start:start + chunk]
                    out[idx] = sub.subset(slice(start, start + chunk)).intensity_per_cm(q, chunk_size=chunk)
                return out
        tables, table_of = _schulz_tables(self.micropore_polydispersity, self.micropore_volume_fraction > 0)
        f = {fl.name: getattr(self, fl.name) for fl in dataclasses.fields(self)}
        names = ("porod_scale_per_cm", "porod_exponent", "micropore_volume_fraction", "micropore_radius_A",
                 "micropore_polydispersity", "micropore_delta_sld_per_A2", "micropore_packing_fraction",
                 "g002_amplitude_per_cm", "q002_inv_A", "g002_sigma_inv_A", "na_metal_amplitude_per_cm",
                 "na_metal_sigma_inv_A", "na_pseudo_amplitude_per_cm", "na_pseudo_sigma_inv_A",
                 "pvdf_amplitude_per_cm", "pvdf_sigma_inv_A", "binder_saxs_amplitude_per_cm",
                 "binder_saxs_sigma_inv_A", "amorphous_amplitude_per_cm", "amorphous_centre_inv_A",
                 "amorphous_sigma_inv_A", "background_per_cm")
        direct = out.dtype == np.float64 and out.flags.c_contiguous
        for start in range(0, n, chunk):
            stop = min(n, start + chunk)
            target = out[start:stop] if direct else np.empty((stop - start, q.size))
            _terms_kernel(q, logq, q ** -4.0, tables, table_of[start:stop], *(f[name][start:stop] for name in names),
                          Q_NA_METAL_INV_A, Q_NA_PSEUDO_INV_A, Q_PVDF_INV_A, Q_BINDER_SAXS_INV_A, target)
            if not direct:
                out[start:stop] = target
        return out

    def term_intensity_per_cm(self, q_inv_A, term: str) -> np.ndarray:
        """One term of eq. 1 alone, shape (n, nq), 1/cm: ``"particles"`` (eq. 2), ``"micropores"``
        (eq. 3), ``"waxs"`` (eq. 4 peaks incl. PVDF), ``"binder_saxs"``, ``"background"`` (flat +
        amorphous peak). Slower than :meth:`intensity_per_cm` (numpy); for analysis and tests."""
        arguments.one_of("term", term, ("particles", "micropores", "waxs", "binder_saxs", "background"))
        q = _positive_array("q_inv_A", q_inv_A, "1/A")
        zero = {name: np.zeros(len(self)) for name in _SPEC_FIELDS + ("amorphous_amplitude_per_cm",)
                if "amplitude" in name or name in ("porod_scale_per_cm", "micropore_volume_fraction",
                                                    "background_per_cm")}
        keep = {"particles": ("porod_scale_per_cm",), "micropores": ("micropore_volume_fraction",),
                "waxs": ("g002_amplitude_per_cm", "na_metal_amplitude_per_cm", "na_pseudo_amplitude_per_cm",
                         "pvdf_amplitude_per_cm"),
                "binder_saxs": ("binder_saxs_amplitude_per_cm",),
                "background": ("background_per_cm", "amorphous_amplitude_per_cm")}[term]
        changes = {name: v for name, v in zero.items() if name not in keep}
        return dataclasses.replace(self, **changes).intensity_per_cm(q)


# ---------------------------------------------------------------------------------------------------
# From the capillary twin to per-voxel terms

def _number_densities_per_A3(material: materials.Material) -> tuple[np.ndarray, np.ndarray]:
    """Atomic numbers and atoms per A^3 of each element of ``material``."""
    return material.elements, material.density_g_cm3 * materials.AVOGADRO_PER_MOL * 1e-24 * material.moles_per_gram()


def _self_scattering_per_cm(material: materials.Material, q_inv_A: float) -> float:
    """Independent-atom coherent scattering ``r_e^2 sum_i N_i f_i(q)^2`` of a material, 1/cm.

    f_i from xraylib's Rayleigh form factors (Hubbell et al.), argument sin(theta)/lambda = q / (4 pi).
    """
    z, n = _number_densities_per_A3(material)
    f2 = np.array([xraylib.FF_Rayl(int(zi), q_inv_A / (4 * np.pi)) ** 2 for zi in z])
    return float(R_E_A ** 2 * (n @ f2) * A_PER_CM)


def _na_110_integral_per_cm_inv_A() -> float:
    """Integrated intensity of the bcc Na 110 powder ring per unit volume of Na metal, (1/cm)(1/A).

    For a powder, dSigma/dOmega(q) = r_e^2 m |F|^2 2 pi^2 / (v_c^2 G^2) delta(q - G) (orientational
    average of the reciprocal lattice sum). bcc Na: a = 4.29 A (room temperature), 2 atoms per cell,
    F_110 = 2 f_Na(G), multiplicity 12, G = 2 pi sqrt(2) / a = 2.07 1/A; Debye-Waller factor neglected
    (assumed 1), preferred orientation and extinction neglected.
    """
    a = 4.29
    g = 2 * np.pi * math.sqrt(2) / a
    f = 2 * xraylib.FF_Rayl(11, g / (4 * np.pi))
    vc = a ** 3
    return float(R_E_A ** 2 * 12 * f * f * 2 * np.pi ** 2 / (vc * vc * g * g) * A_PER_CM)


def _compressibility_flat_per_cm(material: materials.Material) -> float:
    """q -> 0 scattering of a simple liquid from density fluctuations: n_e^2 r_e^2 k_B T kappa_T, 1/cm.

    (Water with kappa_T = 4.6e-10 1/Pa gives 0.0165 1/cm, the known value.)
    """
    kt_A3 = BOLTZMANN_J_K * TEMPERATURE_K * ELECTROLYTE_COMPRESSIBILITY_PER_PA * 1e30
    n_e = material.electron_density_per_A3()
    return float((R_E_A * n_e) ** 2 * kt_A3 * A_PER_CM)


def _capillary_truth(twin: Twin, key: str) -> np.ndarray:
    if key not in twin.truth:
        raise ValueError(f"twin: expected a capillary twin of twin.generators.capillary.capillary_cell with truth "
                         f"{key!r}; this twin ({twin.provenance.generator or 'unknown generator'}) lacks it")
    return np.asarray(twin.truth[key])


def micropore_slds_per_A2(micropore_fraction, intercalated_na_per_c=0.0) -> tuple[np.ndarray, float]:
    """SLDs of the hard-carbon matrix and of a Na-filled micropore, 1/A^2: the contrast of eq. 3 in :func:`voxel_terms`.

    Matrix: the carbon skeleton of closed micropores at volume fraction f inside particles of the registry's
    hard-carbon density, ``r_e n_HC / (1 - f)``, raised by intercalated Na (x Na per C adds ``x Z_Na / Z_C``
    electrons per carbon electron); a filled pore holds Na metal, ``r_e n_Na`` (mean field).
    """
    f = np.asarray(micropore_fraction, dtype=float)
    x = np.asarray(intercalated_na_per_c, dtype=float)
    n_skeleton = materials.get("hard carbon").electron_density_per_A3() / (1 - f)
    return R_E_A * n_skeleton * (1 + x * 11.0 / 6.0), R_E_A * materials.get("Na metal").electron_density_per_A3()


def voxel_terms(twin: Twin) -> tuple[np.ndarray, HardCarbonTerms]:
    """Per-voxel eq. 1-4 terms of every scattering voxel of a capillary twin.

    Parameters
    ----------
    twin : Twin
        From :func:`twin.generators.capillary.capillary_cell` (or ``sodiation_state``): labels 0 air,
        1 quartz glass, 2 electrolyte, 3 steel pin, 4 electrode, 5 Na metal, 6 pin; electrode fields
        ``micropore_fraction``, ``micropore_radius_A``, ``sodiation``, ``pore_filling``, ``d002_A``,
        ``plated_na_fraction``, ``sei_thickness_nm``.

    Returns
    -------
    mask : ndarray of bool, the grid's shape
        True for the voxels that scatter (quartz, electrolyte, electrode, Na metal); steel pins and
        air do not (the steel only absorbs: its attenuation is in ``twin.linear_attenuation_per_cm``;
        the source's flight tube is evacuated, air in the cell is neglected).
    terms : HardCarbonTerms
        One entry per True voxel of ``mask`` in C order (``np.flatnonzero(mask)``), intensities as
        differential cross-section per unit volume of that voxel, 1/cm.

    Notes
    -----
    Composition of an electrode voxel (the generator's Notes): solid 1 - p (p =
    ``electrode/porosity``) split into hard carbon, PVDF and carbon black by the volume fractions
    of the 85/10/5 wt% slurry (densities of ``twin.materials``); pore space p holding electrolyte
    except ``plated_na_fraction``, which is Na metal. The hard carbon (particle density 1.5 g/cm3,
    ``materials.get("hard carbon")``) holds closed micropores of volume fraction f =
    ``micropore_fraction``; its carbon skeleton therefore has electron density
    n_s = n_HC / (1 - f) (0.564 e/A^3 for f = 0.2).

    Eq. 3, micropores (contrast from electron densities, seeds/000 section 2, Fig. 2):

    * pore: a fraction ``pore_filling`` of the pore volume holds Na at the metal's density (mean
      field): n_pore = pf n_Na (n_Na = 0.279 e/A^3); the rest is empty (closed pores).
    * matrix: skeleton plus intercalated Na, x_int Na per C, n_m = n_s (1 + x_int Z_Na / Z_C) with
      x_int = :data:`INTERCALATED_NA_PER_C_FULL` clip((d002 - d_0) / (d_1 - d_0), 0, 1), d_0 and
      d_1 the generator's d002 at soc 0 and 1 (truth ``path/d002_A_knots``). Intercalation thus
      raises the contrast (seeds/000 section 3: "increased electron density of the carbon matrix
      due to sodium intercalation"), pore filling lowers it. The kinematic path of the generator is
      not a charge balance; x_int is far below the total Na per C (0.135 at full capacity): the
      value is assumed so that the micropore intensity falls by ~33 % at op 5 (generator: 35 % with
      pore filling alone; seeds/000: "~35 %").
    * dsld = r_e (n_m - n_pore); radius ``micropore_radius_A``; Schulz polydispersity
      :data:`MICROPORE_POLYDISPERSITY` (assumed); S(q) Percus-Yevick with the micropores' packing
      fraction f in the carbon (eq. 3's S(q), decoupling approximation); voxel volume fraction
      phi = v_HC f (v_HC the hard carbon's volume fraction of the voxel).

    Eq. 2, particle surfaces: Porod (alpha = 4) with S_V = v_HC 6 / d, d =
    :data:`PARTICLE_DIAMETER_UM` (assumed); contrast between the particle's mean electron density
    ((1 - f) n_m + f n_pore) and the electrolyte. An SEI of thickness t (``sei_thickness_nm``, formula
    :data:`SEI_FORMULA` at :data:`SEI_DENSITY_G_CM3`, assumed) splits the interface in two: the Porod
    contrast is (1 - w) D_pe^2 + w (D_ps^2 + D_se^2), w = 1 - exp(-t / 5 nm) (assumed; two
    uncorrelated interfaces when q t >> 1). Carbon black and PVDF surfaces are not modelled except
    through the binder bump.

    Eq. 4: G_002 at q002 = 2 pi / ``d002_A``, sigma from Scherrer with L_c =
    :data:`STACK_HEIGHT_A` (assumed), amplitude r_e^2 N_C f_C(q002)^2 (S* - 1) v_HC (1 - f) with
    S* - 1 = 1.5 (assumed), lowered by :data:`G002_DROP_AT_FULL_INTERCALATION` x (x_int / x_max)
    (assumed size of the drop). Na metal (plated and counter electrode): bcc 110 powder ring at
    2.07 1/A with the integrated intensity of :func:`_na_110_integral_per_cm_inv_A` (computed from
    the bcc structure and xraylib's f_Na), crystallites of :data:`NA_CRYSTALLITE_A` (assumed).
    Pseudo-metallic Na: the pore Na beyond a filling of :data:`PSEUDO_METAL_THRESHOLD` (assumed),
    volume fraction v_HC f (pf - 0.3)_+, with the liquid-Na-like peak excess 1.5 at 2.1 1/A, sigma
    0.13 (FWHM 0.3, the 2.0-2.3 1/A band of seeds/000). PVDF: its crystalline peak at 1.45 1/A
    with excess 2.0 (assumed) over its independent-atom scattering, crystallites 100 A (assumed).
    Binder SAXS bump at 0.075 1/A: :data:`BINDER_SAXS_PER_PVDF_FRACTION_PER_CM` x v_PVDF, sigma
    0.02 1/A (assumed, scaled to be a visible shoulder as in seeds/000 Fig. 5a).

    Backgrounds: electrolyte (in the electrode's pores and label 2): flat density-fluctuation
    scattering n_e^2 r_e^2 k_B T kappa_T (kappa_T = 6.5e-10 1/Pa assumed) plus a broad liquid peak
    at 1.5 1/A (excess 1.0, sigma 0.3, assumed). Quartz glass: flat 5e-3 1/cm (assumed) plus the
    amorphous-silica peak at 1.5 1/A (excess 0.6, sigma 0.25, assumed). Compton and fluorescence
    backgrounds are not modelled (they are flat and small in SAXS; at WAXS they would add to C_bkg).
    Na metal (label 5): the 110 ring at full volume fraction. All intensities scale with the
    voxel's volume fractions (no interference between phases beyond the Porod term).

    Cost: O(n) numpy over the scattering voxels; the default 3D capillary builds in well under a second.
    """
    if not isinstance(twin, Twin):
        raise TypeError(f"twin={type(twin).__name__}: expected a Twin from twin.generators.capillary")
    required = ("micropore_fraction", "micropore_radius_A", "pore_filling", "d002_A", "plated_na_fraction",
                "sei_thickness_nm")
    missing = [name for name in required if name not in twin.fields]
    if missing:
        raise ValueError(f"twin: expected the fields of a capillary twin (twin.generators.capillary), missing "
                         f"{', '.join(missing)}")
    porosity = float(_capillary_truth(twin, "electrode/porosity"))
    d_knots = _capillary_truth(twin, "path/d002_A_knots")
    labels = twin.labels
    electrode_label = int(_capillary_truth(twin, "electrode/label"))
    capillary_label = int(_capillary_truth(twin, "capillary/label"))
    electrolyte_label = int(_capillary_truth(twin, "electrolyte/label"))
    na_label = int(twin.truth["counter_electrode/label"]) if "counter_electrode/label" in twin.truth else -1
    mask = np.isin(labels, [electrode_label, capillary_label, electrolyte_label, na_label])
    flat = labels[mask]
    n = flat.size
    is_el = flat == electrode_label

    def field(name: str) -> np.ndarray:
        return np.asarray(twin.fields[name][mask][is_el], dtype=np.float64)

    # materials and constants
    hc, pvdf, cb = materials.get("hard carbon"), materials.get("PVDF"), materials.get("carbon black")
    electrolyte, quartz, na = materials.get("NaPF6 EC:PC"), materials.get("quartz glass"), materials.get("Na metal")
    sei = materials.Material.from_formula("SEI (assumed)", SEI_FORMULA, SEI_DENSITY_G_CM3)
    from twin.generators.capillary import MASS_FRACTIONS
    vols = {"hard carbon": MASS_FRACTIONS["hard carbon"] / hc.density_g_cm3,
            "PVDF": MASS_FRACTIONS["PVDF"] / pvdf.density_g_cm3,
            "carbon black": MASS_FRACTIONS["carbon black"] / cb.density_g_cm3}
    total = sum(vols.values())
    v_hc = (1 - porosity) * vols["hard carbon"] / total
    v_pvdf = (1 - porosity) * vols["PVDF"] / total
    sld_el, sld_sei = R_E_A * electrolyte.electron_density_per_A3(), R_E_A * sei.electron_density_per_A3()

    # electrode fields
    f_mp = field("micropore_fraction")
    r_mp = field("micropore_radius_A")
    pf = np.clip(field("pore_filling"), 0.0, 1.0)
    d002 = field("d002_A")
    plated = field("plated_na_fraction")
    sei_nm = np.maximum(field("sei_thickness_nm"), 0.0)
    d0, d1 = float(d_knots[0]), float(d_knots[-1])
    intercalation = np.clip((d002 - d0) / (d1 - d0), 0.0, 1.0)
    sld_matrix, sld_na = micropore_slds_per_A2(f_mp, INTERCALATED_NA_PER_C_FULL * intercalation)
    sld_pore = pf * sld_na
    dsld_mp = sld_matrix - sld_pore
    sld_particle = (1 - f_mp) * sld_matrix + f_mp * sld_pore
    w = 1 - np.exp(-sei_nm / SEI_RESOLVED_NM)
    contrast2 = (1 - w) * (sld_particle - sld_el) ** 2 + w * ((sld_particle - sld_sei) ** 2 + (sld_sei - sld_el) ** 2)
    s_v = v_hc * 6.0 / (PARTICLE_DIAMETER_UM * 1e4)  # 1/A
    electrolyte_fraction = np.clip(porosity - plated, 0.0, None)

    # WAXS amplitudes per unit volume fraction
    carbon_skeleton = materials.Material.from_formula("carbon skeleton", "C", hc.density_g_cm3)
    q002 = 2 * np.pi / d002
    # f_C(q)^2 varies by < 2 % over the d002 range: evaluated at the voxel's q002 by interpolation
    q_grid = np.linspace(q002.min(), q002.max(), 8) if q002.size else np.array([1.5])
    carbon_ss = np.interp(q002, q_grid, [_self_scattering_per_cm(carbon_skeleton, qq) for qq in q_grid])
    g002 = (carbon_ss * PEAK_EXCESS["002"] * v_hc * (1 - G002_DROP_AT_FULL_INTERCALATION * intercalation))
    na_integral = _na_110_integral_per_cm_inv_A()
    na_sigma = float(peak_sigma_for_size(NA_CRYSTALLITE_A))
    na_peak_per_fraction = na_integral / (na_sigma * math.sqrt(2 * math.pi))
    pseudo_per_fraction = _self_scattering_per_cm(na, Q_NA_PSEUDO_INV_A) * PEAK_EXCESS["na_pseudo"]
    pvdf_per_fraction = _self_scattering_per_cm(pvdf, Q_PVDF_INV_A) * PEAK_EXCESS["pvdf"]
    liquid_peak = _self_scattering_per_cm(electrolyte, Q_LIQUID_INV_A) * PEAK_EXCESS["liquid"]
    silica_peak = _self_scattering_per_cm(quartz, Q_SILICA_INV_A) * PEAK_EXCESS["silica"]
    liquid_flat = _compressibility_flat_per_cm(electrolyte)

    def full(value: float = 0.0) -> np.ndarray:
        return np.full(n, value, dtype=np.float64)

    t = {name: full() for name in _SPEC_FIELDS}
    t["porod_exponent"] = full(4.0)
    t["micropore_radius_A"] = full(float(twin.truth.get("state/mean_micropore_radius_A", 6.5)))
    t["micropore_polydispersity"] = full(MICROPORE_POLYDISPERSITY)
    t["q002_inv_A"] = full(1.55)  # unused where the 002 amplitude is 0 (non-electrode voxels)
    t["g002_sigma_inv_A"] = full(float(peak_sigma_for_size(STACK_HEIGHT_A)))
    extra = {"micropore_packing_fraction": full(), "amorphous_amplitude_per_cm": full(),
             "amorphous_centre_inv_A": full(Q_LIQUID_INV_A), "amorphous_sigma_inv_A": full(PEAK_SIGMA_INV_A["liquid"])}
    # electrode
    t["porod_scale_per_cm"][is_el] = 2 * np.pi * contrast2 * s_v * A_PER_CM
    t["micropore_volume_fraction"][is_el] = v_hc * f_mp
    t["micropore_radius_A"][is_el] = r_mp
    t["micropore_delta_sld_per_A2"][is_el] = dsld_mp
    extra["micropore_packing_fraction"][is_el] = f_mp
    t["g002_amplitude_per_cm"][is_el] = g002
    t["q002_inv_A"][is_el] = q002
    t["na_metal_amplitude_per_cm"][is_el] = na_peak_per_fraction * plated
    t["na_pseudo_amplitude_per_cm"][is_el] = pseudo_per_fraction * v_hc * f_mp * np.clip(pf - PSEUDO_METAL_THRESHOLD,
                                                                                          0.0, None)
    t["pvdf_amplitude_per_cm"][is_el] = pvdf_per_fraction * v_pvdf
    t["binder_saxs_amplitude_per_cm"][is_el] = BINDER_SAXS_PER_PVDF_FRACTION_PER_CM * v_pvdf
    t["background_per_cm"][is_el] = liquid_flat * electrolyte_fraction
    extra["amorphous_amplitude_per_cm"][is_el] = liquid_peak * electrolyte_fraction
    # electrolyte
    is_liq = flat == electrolyte_label
    t["background_per_cm"][is_liq] = liquid_flat
    extra["amorphous_amplitude_per_cm"][is_liq] = liquid_peak
    # quartz glass
    is_q = flat == capillary_label
    t["background_per_cm"][is_q] = SILICA_FLAT_PER_CM
    extra["amorphous_amplitude_per_cm"][is_q] = silica_peak
    extra["amorphous_centre_inv_A"][is_q] = Q_SILICA_INV_A
    extra["amorphous_sigma_inv_A"][is_q] = PEAK_SIGMA_INV_A["silica"]
    # Na metal counter electrode
    t["na_metal_amplitude_per_cm"][flat == na_label] = na_peak_per_fraction
    return mask, HardCarbonTerms(**t, **extra)


__all__ = [
    "R_E_A", "Q_NA_METAL_INV_A", "Q_NA_PSEUDO_INV_A", "Q_PVDF_INV_A", "Q_BINDER_SAXS_INV_A",
    "sld_from_electron_density", "sphere_form_factor", "schulz_sphere_form_factor", "schulz_volume_ratio_A3",
    "hard_sphere_structure_factor", "sphere_intensity_per_cm", "power_law", "porod_scale_per_cm",
    "gaussian_peak", "peak_sigma_for_size", "bragg_d_A", "bragg_q_inv_A", "HardCarbonTerms", "voxel_terms",
]
