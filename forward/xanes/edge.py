"""K-edge absorption model for XANES imaging: normalised shape, absolute scale, reference spectra.

TXM-XANES maps the oxidation state of a transition metal pixel by pixel from
the position of its absorption edge and white line, "positively correlated
to their oxidation states" (seeds/004, section 4 "Data analysis", whiteline
fitting); for Ni in NMC cathodes the edge is the Ni K edge at 8.333 keV
(seeds/004, section 3 "Sample preparations").

Normalised model
----------------
A smooth, cheap analytic shape (0 far below the edge, 1 far above)::

    mu_n(E; v) = S(E - c(v)) + h P(E - c(v) - d),     c(v) = e0_ev + s (v - valence_ref)

* ``S`` a step: arctangent (Lorentzian core-hole broadening, the edge step
  of Athena/Larch peak fitting) or error function (Gaussian resolution),
  with full width at half maximum of its derivative ``edge_width_ev``;
* ``P`` the white line: a Gaussian or Lorentzian of unit height, FWHM
  ``whiteline_width_ev``, ``d = whiteline_offset_ev`` above the step
  centre, height ``h = whiteline_height``;
* the whole shape moves rigidly by ``s = shift_ev_per_valence`` per unit
  of valence, so E0 (maximum of d mu/dE) and the white line (maximum of mu)
  shift by exactly ``s (v - valence_ref)``: :func:`e0_of_model` and
  :func:`whiteline_of_model` find them once per model by Brent's method on
  the analytic derivatives (to ~1e-9 eV) and add the shift.

There are no pre-edge features, no post-edge EXAFS oscillations and no
pre/post-edge slopes in the normalised shape; the slopes come back in the
absolute model from the xraylib cross sections.

Ni K default (:data:`NI_K_MODEL`)
---------------------------------
Arctangent step + Gaussian white line, least-squares fitted (8320-8375 eV,
rms residual 0.048) to the normalised NiO spectrum ``NiO_X23A2_merged.csv``
(NIST X23A2; Athena E0 8344.00 eV, white line 8350.0 eV; SOURCES.md
"xanes/"), valence_ref = 2 (Ni2+ in NiO). The model's white line is at
8350.26 eV (height 1.48; data 8350.0, 1.51), its E0 (maximum of d mu/dE) at
8342.76 eV (data 8344.8 for the maximum of the derivative, 8344.0 Athena
bkg_e0, 8342.0 half-step): the analytic shape has no pre-edge shoulder, so
E0 definitions differ by ~2 eV between data and model.
The shift per valence comes from the in-cell LiNiO2 spectrum (Ni3+, ROCK/
SOLEIL; white line 8352.4 eV, half-step 8344.76 eV) against NiO: see
:data:`NI_SHIFT_EV_PER_VALENCE`.

Absolute scale
--------------
:func:`mu_per_cm` puts the edge element's K-shell jump from xraylib
(Schoonjans et al., Spectrochim. Acta B 66 (2011) 776; Elam, Ravel & Sieber
cross sections) on the normalised shape: the edge element contributes its
scattering (Rayleigh + Compton) plus a power law through its photo cross
section below the edge, plus ``jump(E) mu_n(E; v)`` where ``jump(E)`` is the
difference of power laws through the photo cross section above and below
the edge. Far from the edge this reproduces xraylib's total cross section
(to ~0.5 %) plus the tails of the edge shape; across it the
chemistry-dependent shape replaces xraylib's sharp atomic step. The
arctangent step's Lorentzian tail, ``a / (pi |E - c|)`` of the jump, is real
core-hole broadening but slow: for NiO it adds 3 % (5 %) to mu at 140 (90) eV
below the edge, which a pre-edge line fit absorbs; choose ``step_shape="erf"``
for a background that equals xraylib's below the edge.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Sequence

import numpy as np
import xraylib
import xraylib_np
from scipy.optimize import brentq
from scipy.special import erf

from twin.materials import Material, element_symbol, element_z
from xtwin import arguments

#: Metal K-edge energies, eV (Bearden & Burr, Rev. Mod. Phys. 39 (1967) 125, as tabulated in Elam's database
#: and in SOURCES.md; xraylib.EdgeEnergy gives Ni 8332.8, Co 7708.9, Mn 6539.0, Fe 7112.0 eV).
EDGES: Mapping[str, float] = MappingProxyType({"Ni": 8333.0, "Co": 7709.0, "Mn": 6539.0, "Fe": 7112.0})

STEP_SHAPES = ("arctan", "erf")
WHITELINE_SHAPES = ("gaussian", "lorentzian")

#: Ni K-edge shift per unit of Ni valence, eV, from the reference data (shared/data/xanes, SOURCES.md), with
#: spectra normalised as the LiNiO2 file's extranormal run (pre-edge line 8109.6-8299.6 eV, post-edge quadratic
#: 8419.6-9500 eV): white line NiO (Ni2+) 8350.0 eV (X23A2 merge and BM08 NiO_111) vs in-cell LiNiO2 (nominal
#: Ni3+) 8352.4 eV -> 2.4 eV; half-step NiO 8342.0 eV (X23A2; BM08 8341.8, computed here) vs LiNiO2 8344.76 eV
#: -> 2.7 eV. (The maximum of d mu/dE is no good measure here: for LiNiO2 it sits on the white line's rising
#: flank, 8349.6 eV.) A rigid shape needs one number: 2.5 eV per valence, the mean rounded. seeds/004 (section 4
#: "Data analysis") states only that white-line positions of 3d metals rise with the oxidation state and that
#: coordination can also move them; pristine LiNiO2 is slightly under-oxidised (Li1-zNi1+zO2), so the slope per
#: valence may be underestimated by a few per cent.
NI_SHIFT_EV_PER_VALENCE = 2.5

#: Energies outside [edge - 1000, edge + 3000] eV are refused by the model (it describes the near-edge region).
_BELOW_EV, _ABOVE_EV = 1000.0, 3000.0
#: Energies (eV relative to xraylib's K edge) of the two points of each power law of the absolute model.
_POWER_LAW_BELOW_EV = (-150.0, -5.0)
_POWER_LAW_ABOVE_EV = (5.0, 150.0)


@dataclass(frozen=True)
class EdgeModel:
    """Analytic normalised K-edge shape whose position depends on the valence of the absorber.

    All energies in eV. The defaults are the Ni K edge of NiO (see module docstring).

    Parameters
    ----------
    element : str
        Absorbing element, a key of :data:`EDGES`.
    e0_ev : float
        Step centre at ``valence_ref``, eV (the maximum of d mu/dE, :func:`e0_of_model`, lies within a
        fraction of an eV of it, pulled by the white line).
    valence_ref : float
        Valence (formal oxidation state) at which the step centre is ``e0_ev``.
    shift_ev_per_valence : float
        Rigid shift of the whole shape (E0 and white line) per unit of valence, eV, > 0.
    whiteline_offset_ev : float
        White-line centre above the step centre, eV, > 0.
    whiteline_height : float
        Height of the white-line peak added to the step, > 0 (the maximum of mu_n is a bit more, as the
        step adds its value there).
    whiteline_width_ev : float
        FWHM of the white-line peak, eV.
    edge_width_ev : float
        FWHM of the step's derivative, eV.
    step_shape : {"arctan", "erf"}
    whiteline_shape : {"gaussian", "lorentzian"}
    source : str
        Where the parameters come from.
    """

    element: str = "Ni"
    e0_ev: float = 8342.45
    valence_ref: float = 2.0
    shift_ev_per_valence: float = NI_SHIFT_EV_PER_VALENCE
    whiteline_offset_ev: float = 7.64
    whiteline_height: float = 0.572
    whiteline_width_ev: float = 7.13
    edge_width_ev: float = 4.58
    step_shape: str = "arctan"
    whiteline_shape: str = "gaussian"
    source: str = field(default="Ni K edge of NiO (Ni2+), fitted to NiO_X23A2_merged.csv; shift "
                                "2.5 eV/valence from LiNiO2 vs NiO (forward/xanes/edge.py)", compare=True)

    def __post_init__(self) -> None:
        arguments.one_of("element", self.element, EDGES)
        edge = EDGES[self.element]
        e0 = arguments.in_range("e0_ev", self.e0_ev, edge - 100.0, edge + 100.0, unit="eV")
        vref = arguments.in_range("valence_ref", self.valence_ref, 0.0, 8.0)
        shift = arguments.in_range("shift_ev_per_valence", self.shift_ev_per_valence, 1e-6, 20.0, unit="eV")
        offset = arguments.in_range("whiteline_offset_ev", self.whiteline_offset_ev, 1e-6, 50.0, unit="eV")
        height = arguments.in_range("whiteline_height", self.whiteline_height, 1e-6, 10.0)
        wl_width = arguments.in_range("whiteline_width_ev", self.whiteline_width_ev, 0.05, 50.0, unit="eV")
        width = arguments.in_range("edge_width_ev", self.edge_width_ev, 0.05, 50.0, unit="eV")
        arguments.one_of("step_shape", self.step_shape, STEP_SHAPES)
        arguments.one_of("whiteline_shape", self.whiteline_shape, WHITELINE_SHAPES)
        if not isinstance(self.source, str):
            raise TypeError(f"source={self.source!r}: expected a string")
        for name, value in (("e0_ev", e0), ("valence_ref", vref), ("shift_ev_per_valence", shift),
                            ("whiteline_offset_ev", offset), ("whiteline_height", height),
                            ("whiteline_width_ev", wl_width), ("edge_width_ev", width)):
            object.__setattr__(self, name, value)

    def step_centre_ev(self, valence: float | np.ndarray) -> np.ndarray:
        """Step centre c(v) = e0_ev + shift_ev_per_valence (v - valence_ref), eV, shape of ``valence``."""
        v = _valence(valence)
        return self.e0_ev + self.shift_ev_per_valence * (v - self.valence_ref)

    def valence_of_shift(self, shift_ev: float | np.ndarray) -> np.ndarray:
        """Valence whose E0/white line lies ``shift_ev`` above that of ``valence_ref`` (the calibration line)."""
        return self.valence_ref + np.asarray(shift_ev, dtype=float) / self.shift_ev_per_valence

    def to_dict(self) -> dict:
        """Plain-JSON description."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d: Mapping) -> "EdgeModel":
        """Inverse of :meth:`to_dict`."""
        return cls(**dict(d))


#: The Ni K-edge model used by default (NiO parameters, 2.5 eV per valence).
NI_K_MODEL = EdgeModel()


# ---------------------------------------------------------------------- argument checks
def _valence(valence) -> np.ndarray:
    v = arguments.array("valence", valence, dtype_kind="iuf", finite=True).astype(float)
    if np.any((v < 0) | (v > 8)):
        bad = v[(v < 0) | (v > 8)].flat[0]
        raise ValueError(f"valence: expected formal oxidation states in [0, 8], got {bad:g}")
    return v


def _energy_ev(name: str, value, element: str) -> np.ndarray:
    e = arguments.array(name, value, ndim=(0, 1), dtype_kind="iuf", finite=True).astype(float)
    edge = EDGES[element]
    low, high = edge - _BELOW_EV, edge + _ABOVE_EV
    bad = (e < low) | (e > high)
    if np.any(bad):
        first = float(e[bad].flat[0])
        hint = f" (did you pass keV? {first:g} keV is {first * 1000:g} eV)" if low <= first * 1000 <= high else ""
        raise ValueError(f"{name}: expected photon energies in eV within [{low:g}, {high:g}] eV around the "
                         f"{element} K edge ({edge:g} eV), got {first:g}{hint}")
    return e


# ---------------------------------------------------------------------- shapes and their derivatives
def _step(shape: str, x: np.ndarray, fwhm: float, order: int) -> np.ndarray:
    if shape == "arctan":
        a = fwhm / 2.0
        q = a * a + x * x
        if order == 0:
            return 0.5 + np.arctan(x / a) / math.pi
        if order == 1:
            return a / (math.pi * q)
        if order == 2:
            return -2.0 * a * x / (math.pi * q * q)
        return 2.0 * a * (3.0 * x * x - a * a) / (math.pi * q ** 3)
    s = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
    if order == 0:
        return 0.5 * (1.0 + erf(x / (s * math.sqrt(2.0))))
    g = np.exp(-0.5 * (x / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
    if order == 1:
        return g
    if order == 2:
        return -x / (s * s) * g
    return (x * x / s ** 4 - 1.0 / (s * s)) * g


def _peak(shape: str, x: np.ndarray, fwhm: float, order: int) -> np.ndarray:
    if shape == "gaussian":
        s = fwhm / (2.0 * math.sqrt(2.0 * math.log(2.0)))
        u = x / s
        g = np.exp(-0.5 * u * u)
        if order == 0:
            return g
        if order == 1:
            return -u / s * g
        if order == 2:
            return (u * u - 1.0) / (s * s) * g
        return (3.0 * u - u ** 3) / s ** 3 * g
    gam = fwhm / 2.0
    t = x / gam
    q = 1.0 + t * t
    if order == 0:
        return 1.0 / q
    if order == 1:
        return -2.0 * t / (gam * q * q)
    if order == 2:
        return (6.0 * t * t - 2.0) / (gam * gam * q ** 3)
    return 24.0 * t * (1.0 - t * t) / (gam ** 3 * q ** 4)


def _shape(model: EdgeModel, x: np.ndarray, order: int = 0) -> np.ndarray:
    """``order``-th derivative of mu_n with respect to energy at ``x`` eV from the step centre."""
    return (_step(model.step_shape, x, model.edge_width_ev, order)
            + model.whiteline_height * _peak(model.whiteline_shape, x - model.whiteline_offset_ev,
                                             model.whiteline_width_ev, order))


def mu_normalised(model: EdgeModel, energy_ev: float | np.ndarray, valence: float | np.ndarray) -> np.ndarray:
    """Normalised absorption mu_n(E; v): 0 far below the edge, 1 far above, with a white line.

    Parameters
    ----------
    model : EdgeModel
    energy_ev : float or array of shape (n_E,)
        Photon energies, eV, within [edge - 1000, edge + 3000] eV.
    valence : float or array
        Valence (formal oxidation state) of the absorber, any shape (e.g. (n_voxels,) or
        (n_valence_bins,)), in [0, 8].

    Returns
    -------
    ndarray
        Shape ``valence.shape + energy.shape``; vectorised (no Python loop), about 20 ns per value.
    """
    _model(model)
    e = _energy_ev("energy_ev", energy_ev, model.element)
    c = model.step_centre_ev(valence)
    x = e - c[..., None] if e.ndim else e - c
    return _shape(model, x)


def dmu_normalised_de(model: EdgeModel, energy_ev: float | np.ndarray, valence: float | np.ndarray,
                      order: int = 1) -> np.ndarray:
    """Analytic ``order``-th energy derivative (1-3) of :func:`mu_normalised`, 1/eV**order, same shape."""
    _model(model)
    order = arguments.integer("order", order, minimum=1)
    if order > 3:
        raise ValueError(f"order={order!r}: expected 1, 2 or 3")
    e = _energy_ev("energy_ev", energy_ev, model.element)
    c = model.step_centre_ev(valence)
    x = e - c[..., None] if e.ndim else e - c
    return _shape(model, x, order)


def _model(model) -> EdgeModel:
    if not isinstance(model, EdgeModel):
        raise TypeError(f"model={model!r}: expected an EdgeModel (e.g. forward.xanes.edge.NI_K_MODEL)")
    return model


# ---------------------------------------------------------------------- exact E0 and white line
@functools.lru_cache(maxsize=64)
def _offsets(model: EdgeModel) -> tuple[float, float]:
    """(E0 - c, white line - c), eV: maxima of d mu_n/dE and of mu_n relative to the step centre."""
    widest = max(model.edge_width_ev, model.whiteline_width_ev)
    low, high = -20.0 * widest, model.whiteline_offset_ev + 20.0 * widest
    step = max(min(model.edge_width_ev, model.whiteline_width_ev) / 200.0, (high - low) / 200_000)
    x = np.arange(low, high + step, step)

    def refine(order: int) -> float:
        i = int(np.argmax(_shape(model, x, order)))
        if i in (0, x.size - 1):
            raise ValueError(f"model={model!r}: the maximum of the {('', 'derivative of ')[order]}normalised "
                             f"absorption is not inside the edge region; expected a white line above the step "
                             f"(increase whiteline_height or decrease whiteline_width_ev)")
        lo, hi = x[i - 1], x[i + 1]
        f = functools.partial(lambda xx, o: float(_shape(model, np.float64(xx), o + 1)), o=order)
        if f(lo) <= 0 or f(hi) >= 0:  # flat top on the grid: the centre point is the maximum to grid precision
            return float(x[i])
        return float(brentq(f, lo, hi, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=200))

    wl = refine(0)
    e0 = refine(1)
    if _shape(model, np.float64(wl), 0) <= 1.0:
        raise ValueError(f"model={model!r}: the model has no white line above the post-edge level 1; "
                         f"expected a larger whiteline_height")
    return e0, wl


def e0_of_model(model: EdgeModel, valence: float | np.ndarray) -> np.ndarray:
    """Exact E0 of the noiseless model, eV: the energy of the maximum of d mu_n / dE.

    Found once per model with Brent's method on the analytic second derivative (about 1e-9 eV), then moved
    rigidly with the valence: E0(v) = E0(valence_ref) + shift_ev_per_valence (v - valence_ref).
    Shape of ``valence``.
    """
    _model(model)
    return model.step_centre_ev(valence) + _offsets(model)[0]


def whiteline_of_model(model: EdgeModel, valence: float | np.ndarray) -> np.ndarray:
    """Exact white-line energy of the noiseless model, eV: the energy of the maximum of mu_n.

    Same method as :func:`e0_of_model` (root of the analytic first derivative). Shape of ``valence``.
    """
    _model(model)
    return model.step_centre_ev(valence) + _offsets(model)[1]


def whiteline_height_of_model(model: EdgeModel) -> float:
    """Maximum of mu_n (the white-line height of the normalised spectrum), independent of the valence."""
    _model(model)
    return float(_shape(model, np.float64(_offsets(model)[1])))


# ---------------------------------------------------------------------- absolute scale (xraylib)
def _k_edge_ev(z: int) -> float:
    return float(xraylib.EdgeEnergy(z, xraylib.K_SHELL)) * 1000.0


def edge_jump_cm2_per_g(element: str, energy_below_ev: float, energy_above_ev: float) -> float:
    """K-edge jump of the photoelectric mass cross section from xraylib, cm2/g.

    ``CS_Photo(Z, above) - CS_Photo(Z, below)``: the energies must straddle xraylib's K edge and lie
    within 500 eV of it. Next to the edge (a few eV each side) the ratio (jump + below) / below is
    xraylib's JumpFactor (Ni: 7.707).
    """
    z = element_z(element)
    edge = _k_edge_ev(z)
    below = arguments.in_range("energy_below_ev", energy_below_ev, edge - 500.0, edge - 1.0, unit="eV")
    above = arguments.in_range("energy_above_ev", energy_above_ev, edge + 1.0, edge + 500.0, unit="eV")
    return float(xraylib.CS_Photo(z, above / 1000.0) - xraylib.CS_Photo(z, below / 1000.0))


@functools.lru_cache(maxsize=32)
def _power_laws(z: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """((A_below, p_below), (A_above, p_above)): photo cross section ~ A (E / E_K)**-p on each side, cm2/g."""
    edge = _k_edge_ev(z)
    out = []
    for points in (_POWER_LAW_BELOW_EV, _POWER_LAW_ABOVE_EV):
        e = edge + np.asarray(points)
        cs = np.array([xraylib.CS_Photo(z, float(x) / 1000.0) for x in e])
        p = -math.log(cs[1] / cs[0]) / math.log(e[1] / e[0])
        out.append((float(cs[0] * (e[0] / edge) ** p), float(p)))
    return out[0], out[1]


def edge_background_cm2_per_g(element: str, energy_ev: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Smooth (background, jump) of the edge element's mass attenuation, cm2/g, shape of ``energy_ev``.

    background = Rayleigh + Compton (xraylib) + the below-edge power law of the photo cross section;
    jump = above-edge power law - below-edge power law (each through two xraylib points, at -150/-5 eV and
    +5/+150 eV from xraylib's K edge). background + jump equals xraylib's CS_Total above the edge to ~0.5 %.
    """
    z = element_z(element)
    symbol = element_symbol(z)
    arguments.one_of("element", symbol, EDGES)
    e = _energy_ev("energy_ev", energy_ev, symbol)
    ek = np.atleast_1d(e).ravel() / 1000.0
    scatter = (xraylib_np.CS_Rayl(np.array([z]), ek) + xraylib_np.CS_Compt(np.array([z]), ek))[0]
    (a_b, p_b), (a_a, p_a) = _power_laws(z)
    r = e.ravel() / _k_edge_ev(z)
    below = a_b * r ** -p_b
    return (scatter + below).reshape(e.shape), (a_a * r ** -p_a - below).reshape(e.shape)


def mu_per_cm(material_or_mass_fractions: Material | Mapping[str | int, float], density_g_cm3: float | None,
              element: str, valence: float | np.ndarray, energy_ev: float | np.ndarray,
              model: EdgeModel | None = None) -> np.ndarray:
    """Absolute linear attenuation near the edge, 1/cm: xraylib background + valence-dependent edge.

    mu = rho [ sum_{i != edge} w_i CS_Total_i(E) + w_edge (background(E) + jump(E) mu_n(E; v)) ]
    (see :func:`edge_background_cm2_per_g`).

    Parameters
    ----------
    material_or_mass_fractions : Material or mapping
        A :class:`twin.materials.Material` or element (symbol or Z) -> mass fraction (renormalised to 1).
    density_g_cm3 : float or None
        Density, g/cm3; None takes the Material's density.
    element : str
        Edge element (must be in the composition and match ``model.element``).
    valence : float or array
        Valence of the edge element, any shape (voxels or valence bins).
    energy_ev : float or array (n_E,)
        Photon energies, eV.
    model : EdgeModel, optional
        Normalised shape; default :data:`NI_K_MODEL` (Ni only).

    Returns
    -------
    ndarray
        1/cm, shape ``valence.shape + energy.shape``.
    """
    if model is None:
        model = NI_K_MODEL
    _model(model)
    if isinstance(material_or_mass_fractions, Material):
        material = material_or_mass_fractions
        density = material.density_g_cm3 if density_g_cm3 is None else \
            arguments.positive("density_g_cm3", density_g_cm3, unit="g/cm3")
    elif isinstance(material_or_mass_fractions, Mapping):
        if density_g_cm3 is None:
            raise ValueError("density_g_cm3=None: expected a density in g/cm3 with mass fractions "
                             "(None only with a Material)")
        density = arguments.positive("density_g_cm3", density_g_cm3, unit="g/cm3")
        material = Material("xanes", dict(material_or_mass_fractions), density)
    else:
        raise TypeError(f"material_or_mass_fractions={material_or_mass_fractions!r}: expected a Material or a "
                        f"mapping of element -> mass fraction")
    z = element_z(element)
    if element_symbol(z) != model.element:
        raise ValueError(f"element={element!r}: expected the model's element {model.element!r}")
    if z not in material.mass_fractions:
        raise ValueError(f"element={element!r}: expected an element of the composition "
                         f"{[element_symbol(k) for k in material.mass_fractions]}")
    e = _energy_ev("energy_ev", energy_ev, model.element)
    v = _valence(valence)
    ek = np.atleast_1d(e).ravel() / 1000.0
    others = [(k, w) for k, w in material.mass_fractions.items() if k != z]
    rest = np.zeros(ek.size)
    if others:
        zs = np.array([k for k, _ in others])
        rest = np.array([w for _, w in others]) @ xraylib_np.CS_Total(zs, ek)
    background, jump = edge_background_cm2_per_g(model.element, e)
    w = material.mass_fractions[z]
    mu_n = mu_normalised(model, e, v)
    out = density * (rest.reshape(e.shape) + w * (background + jump * mu_n))
    return out


# ---------------------------------------------------------------------- reference spectra
@dataclass(frozen=True)
class Spectrum:
    """A measured (or modelled) absorption spectrum.

    Parameters
    ----------
    energy_ev : ndarray (n_E,)
        Strictly increasing photon energies, eV.
    mu : ndarray (n_E,)
        Absorption (raw ln(I0/I1) or normalised, as the file says).
    label : str
        Name (file name or sample).
    columns : mapping of str to ndarray
        Every column of the file by its label, including the energy and mu columns.
    metadata : mapping of str to str
        Header fields (XDI ``Family.member: value`` or ``key=value`` lines).
    """

    energy_ev: np.ndarray
    mu: np.ndarray
    label: str = ""
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        e = arguments.array("energy_ev", self.energy_ev, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
        mu = arguments.array("mu", self.mu, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
        if e.size < 2:
            raise ValueError(f"energy_ev: expected at least 2 points, got {e.size}")
        if mu.shape != e.shape:
            raise ValueError(f"mu: expected shape {e.shape} (one value per energy), got {mu.shape}")
        if np.any(np.diff(e) <= 0):
            i = int(np.flatnonzero(np.diff(e) <= 0)[0])
            raise ValueError(f"energy_ev: expected strictly increasing energies, got {e[i]:g} then {e[i + 1]:g} "
                             f"eV at index {i}")
        e.flags.writeable = False
        mu.flags.writeable = False
        object.__setattr__(self, "energy_ev", e)
        object.__setattr__(self, "mu", mu)
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))

    def interpolate(self, energy_ev: float | np.ndarray) -> np.ndarray:
        """mu linearly interpolated at ``energy_ev`` (eV), refusing energies outside the measured range."""
        e = arguments.array("energy_ev", energy_ev, dtype_kind="iuf", finite=True).astype(float)
        lo, hi = self.energy_ev[0], self.energy_ev[-1]
        if e.size and (e.min() < lo or e.max() > hi):
            raise ValueError(f"energy_ev: expected energies within the range of spectrum {self.label!r}, "
                             f"[{lo:g}, {hi:g}] eV (no extrapolation), got [{e.min():g}, {e.max():g}] eV")
        return np.interp(e, self.energy_ev, self.mu)


#: Default mu column per file kind, in order of preference.
_MU_COLUMNS = ("mutrans", "mu", "normalized", "mu_nio", "mufluor")


def read_reference(path: str | Path, mu_column: str | None = None) -> Spectrum:
    """Read a reference spectrum: XDI (``# Column.N: label``), CSV or whitespace column text.

    The energy is the first column (eV). The mu column is ``mu_column`` if given, else the first of
    ``mutrans``, ``mu``, ``normalized``, ``mu_NiO``, ``mufluor`` present, else the second column. Column labels:
    XDI ``Column.N``, or the last comment line before the data split on commas or tabs (CSV and the
    extranormal text of the LiNiO2 file). Rows must be strictly increasing in energy.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing file, gzip/binary file (e.g. an Athena ``.prj``: use the derived CSV), no numeric rows,
        ragged rows, unknown ``mu_column``.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"path={str(path)!r}: expected an existing spectrum file (XDI, CSV or text)")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raise ValueError(f"path={str(path)!r}: this is a gzip file (an Athena project?); expected an XDI, CSV or "
                         f"column text file (for NiO.prj read the derived NiO_X23A2_merged.csv)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    comments, rows = [], []
    xdi_labels: dict[int, str] = {}
    metadata: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            body = s.lstrip("#").strip()
            comments.append(body)
            m = re.match(r"([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\s*:\s*(.*)$", body)
            if m:
                metadata[f"{m.group(1)}.{m.group(2)}"] = m.group(3).strip()
                if m.group(1).lower() == "column":
                    xdi_labels[int(m.group(2))] = m.group(3).split()[0]
            elif "=" in body and not rows:
                key, _, value = body.partition("=")
                metadata[key.strip()] = value.strip()
            continue
        fields = [f for f in re.split(r"[,\s]+", s) if f]
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise ValueError(f"path={str(path)!r}, line {n}: expected numbers, got {s[:80]!r}") from None
    if not rows:
        raise ValueError(f"path={str(path)!r}: expected numeric data rows, found none")
    width = len(rows[0])
    if width < 2 or any(len(r) != width for r in rows):
        bad = next((i for i, r in enumerate(rows) if len(r) != width), 0)
        raise ValueError(f"path={str(path)!r}: expected at least 2 columns and the same count on every row, "
                         f"row {bad} has {len(rows[bad])} (first row {width})")
    data = np.array(rows, dtype=float)
    if xdi_labels:
        labels = [xdi_labels.get(i + 1, f"column{i + 1}") for i in range(width)]
    else:
        labels = _header_labels(comments, width)
    columns = {label: data[:, i].copy() for i, label in enumerate(labels)}
    lower = {label.lower(): label for label in labels}
    if mu_column is None:
        key = next((lower[c] for c in _MU_COLUMNS if c in lower), labels[1])
    elif mu_column in columns:
        key = mu_column
    else:
        raise ValueError(f"mu_column={mu_column!r}: expected one of the file's columns {labels}")
    return Spectrum(data[:, 0], columns[key], label=p.name, columns=columns, metadata=metadata)


def _header_labels(comments: Sequence[str], width: int) -> list[str]:
    for body in reversed(comments):
        for sep in (",", "\t"):
            parts = [q.strip() for q in body.split(sep) if q.strip()]
            if len(parts) == width:
                return parts
    return [f"column{i + 1}" for i in range(width)]


def linear_combination(weights: Sequence[float] | np.ndarray, references: Sequence[Spectrum],
                       energy_ev: float | np.ndarray) -> np.ndarray:
    """mu(E) = sum_k w_k mu_k(E), references linearly interpolated onto ``energy_ev``.

    Parameters
    ----------
    weights : array (..., n_ref)
        Weights, any leading shape (one set per pixel); finite.
    references : sequence of Spectrum
        n_ref reference spectra; ``energy_ev`` must lie within each one's range.
    energy_ev : array (n_E,)
        Photon energies, eV.

    Returns
    -------
    ndarray
        Shape ``weights.shape[:-1] + (n_E,)``.
    """
    refs = list(references)
    if not refs or not all(isinstance(r, Spectrum) for r in refs):
        raise TypeError("references: expected a non-empty sequence of Spectrum (see read_reference)")
    w = arguments.array("weights", weights, dtype_kind="iuf", finite=True).astype(float)
    if w.ndim == 0 or w.shape[-1] != len(refs):
        raise ValueError(f"weights: expected a last axis of {len(refs)} (one weight per reference), got shape "
                         f"{w.shape}")
    e = arguments.array("energy_ev", energy_ev, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    table = np.stack([r.interpolate(e) for r in refs])
    return w @ table
