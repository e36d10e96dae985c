"""Plan a TXM-XANES experiment (2D and 3D) before beamtime: energies, counts, time, dose (seeds/004).

Counts for a white-line precision
---------------------------------
The white line is located by a least-squares quadratic ``a + b x + c x^2`` (``x = E - E_wl``) through the
grid points within ``fit_half_width_ev`` of the white line of the normalised spectrum (seeds/004, section 4
"Data analysis": white-line fitting). Its vertex ``x0 = -b / (2c)``; propagating the covariance
``sigma_n^2 (X^T X)^-1`` of the coefficients (first order, gradient ``(0, -1/(2c), b/(2c^2))`` at the noiseless
fit of the model) gives ``sigma_wl = k sigma_n`` with ``k`` in eV per unit normalised noise
(:func:`whiteline_sigma_per_noise_ev`). The normalised noise per energy is the absorbance noise over the edge
jump in absorbance ``J = Delta mu t``::

    sigma_n = sigma_A / J,     sigma_A^2 = (1/T + 1/n_flats) / N0

(Poisson counts ``N0 T`` behind the sample and the mean of ``n_flats`` open-beam frames of ``N0``; the same
propagation as :func:`forward.tomography.plan.photons_for_snr`), T the transmission at the white line. Hence::

    N0 = (1/T + 1/n_flats) (k / (J sigma_wl))^2,    open-beam SNR = sqrt(N0)

(:func:`photons_for_whiteline_precision`). The noise of the pre/post-edge normalisation is neglected (it fits
tens of points) and so is the spread of T across the fit window. A Monte-Carlo of the vectorised fit checks
the formula in the tests.

Time (seeds/004, Table 1: FXI, 2D XANES 5-10 min, 3D XANES ~60 min per scan)
-----------------------------------------------------------------------------
* 2D: per energy ``(1 + n_flats) t_exp + overhead_per_energy_s`` (monochromator move, zone-plate refocus,
  sample out and in for the flat); ``t_exp = N0 / (rate per pixel)`` with the rate
  ``flux efficiency pixel^2 / field_of_view^2`` (flux spread evenly over the field of view, ``efficiency``
  of zone plate and detector).
* 3D: per energy a tomogram of ``n_angles`` projections of ``exposure_3d_s`` plus ``overhead_per_energy_s`` and
  ``overhead_per_tomogram_s`` (rotation back, flats), over ``n_energies_3d`` energies (default all of the grid).

The flux (1e12 photons/s on a 40 um field), efficiency (0.1), overheads (5 s per energy, 5 s per tomogram)
and the 3D fly scan (900 projections of 0.05 s) are assumptions, not values from seeds/004; with them the
defaults (5 um NMC811, Ni3.5+, 0.25 eV white-line sigma: open-beam SNR 110, inside the 100-300 of
seeds/004 section 4) give about 6 min for 2D and 64 min for 3D, as in the FXI chart.

Dose
----
Incident photons per pixel are ``N0 / efficiency`` per image; the mean absorbed dose of the sample thickness
per energy is :func:`forward.saxs.plan.absorbed_dose_Gy` (photo-absorbed fraction x energy / mass),
summed over energies (2D) or energies and angles (3D).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from forward.saxs.plan import absorbed_dose_Gy
from forward.xanes import edge
from forward.xanes.edge import EdgeModel
from forward.xanes.stack import energy_grid
from twin import materials
from twin.materials import Material
from xtwin import arguments

__all__ = ["XanesPlan", "photons_for_whiteline_precision", "plan_xanes", "whiteline_sigma_per_noise_ev"]


def _model(model: EdgeModel | None) -> EdgeModel:
    if model is None:
        return edge.NI_K_MODEL
    if not isinstance(model, EdgeModel):
        raise TypeError(f"model={model!r}: expected an EdgeModel (e.g. forward.xanes.edge.NI_K_MODEL)")
    return model


def _fit_points(model: EdgeModel, energies_ev: np.ndarray, valence: float, half_width_ev: float) -> np.ndarray:
    wl = float(edge.whiteline_of_model(model, valence))
    x = energies_ev[np.abs(energies_ev - wl) <= half_width_ev] - wl
    if x.size < 3:
        raise ValueError(f"fit_half_width_ev={half_width_ev!r}: expected at least 3 energies within it of the white "
                         f"line at {wl:.2f} eV, got {x.size} (refine the grid or widen the window)")
    return x


def whiteline_sigma_per_noise_ev(model: EdgeModel | None, energies_ev, valence: float = 3.0,
                                 fit_half_width_ev: float = 3.0) -> float:
    """White-line standard deviation, eV, per unit noise of the normalised spectrum (module docstring, ``k``).

    Parameters
    ----------
    model : EdgeModel or None
        Edge shape (default Ni K).
    energies_ev : array (n_E,)
        Energy grid, eV.
    valence : float
        Valence whose white line is fitted.
    fit_half_width_ev : float
        Half width of the quadratic fit window about the white line, eV.
    """
    m = _model(model)
    e = arguments.array("energies_ev", energies_ev, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    half = arguments.positive("fit_half_width_ev", fit_half_width_ev, unit="eV")
    v = arguments.in_range("valence", valence, 0.0, 8.0)
    x = _fit_points(m, e, v, half)
    wl = float(edge.whiteline_of_model(m, v))
    y = edge.mu_normalised(m, x + wl, v)
    design = np.stack([np.ones_like(x), x, x * x], axis=1)
    cov = np.linalg.inv(design.T @ design)
    _, b, c = cov @ design.T @ y
    if c >= 0:
        raise ValueError(f"fit_half_width_ev={fit_half_width_ev!r}: the quadratic through the window is not "
                         f"concave; expected a window about the white-line peak")
    grad = np.array([0.0, -1.0 / (2 * c), b / (2 * c * c)])
    return float(math.sqrt(grad @ cov @ grad))


def photons_for_whiteline_precision(target_whiteline_sigma_ev: float, *, sigma_per_noise_ev: float,
                                    edge_jump: float, transmission: float, n_flats: int | None = 1) -> float:
    """Open-beam photons per pixel and image, ``N0 = (1/T + 1/n_flats) (k / (J sigma_wl))^2``.

    Parameters
    ----------
    target_whiteline_sigma_ev : float
        Wanted standard deviation of the white-line energy per pixel, eV.
    sigma_per_noise_ev : float
        ``k`` of :func:`whiteline_sigma_per_noise_ev`.
    edge_jump : float
        Edge jump in absorbance ``Delta mu t`` (dimensionless), > 0.
    transmission : float
        Transmission at the white line, in (0, 1].
    n_flats : int or None
        Flat frames per energy (None: noiseless flat).
    """
    s = arguments.positive("target_whiteline_sigma_ev", target_whiteline_sigma_ev, unit="eV")
    k = arguments.positive("sigma_per_noise_ev", sigma_per_noise_ev, unit="eV")
    j = arguments.positive("edge_jump", edge_jump)
    t = arguments.in_range("transmission", transmission, 0.0, 1.0)
    if t == 0:
        raise ValueError(f"transmission={transmission!r}: expected T > 0 (no photon passes otherwise)")
    flat_term = 0.0 if n_flats is None else 1.0 / arguments.integer("n_flats", n_flats, minimum=1)
    return (1.0 / t + flat_term) * (k / (j * s)) ** 2


@dataclass(frozen=True)
class XanesPlan:
    """A TXM-XANES plan (all energies in eV, times in s, doses in Gy)."""

    material: str
    element: str
    thickness_um: float
    valence: float
    edge_ev: float
    whiteline_ev: float
    energies_ev: tuple[float, ...]
    n_energies: int
    transmission_whiteline: float
    edge_jump: float
    fit_half_width_ev: float
    n_fit_points: int
    sigma_per_noise_ev: float
    target_whiteline_sigma_ev: float
    target_valence_sigma: float
    photons_per_pixel: float
    snr: float
    n_flats: int
    pixel_um: float
    field_of_view_um: float
    flux_ph_per_s: float
    efficiency: float
    rate_per_pixel_cps: float
    exposure_2d_s: float
    overhead_per_energy_s: float
    time_2d_s: float
    dose_2d_Gy: float
    n_angles: int
    exposure_3d_s: float
    n_energies_3d: int
    overhead_per_tomogram_s: float
    photons_per_projection_3d: float
    time_3d_s: float
    dose_3d_Gy: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["energies_ev"] = list(d["energies_ev"])
        return d

    def table(self) -> str:
        """Plain-text summary for the command line."""
        rows = [
            ("sample", f"{self.material}, {self.thickness_um:g} um, {self.element} valence {self.valence:g}", ""),
            ("edge / white line", f"{self.edge_ev:g} / {self.whiteline_ev:.2f}", "eV"),
            ("energies", f"{self.n_energies} from {self.energies_ev[0]:g} to {self.energies_ev[-1]:g}", "eV"),
            ("transmission at the white line / edge jump", f"{self.transmission_whiteline:.3f} / "
             f"{self.edge_jump:.3f}", "(absorbance)"),
            ("white-line fit", f"quadratic, +-{self.fit_half_width_ev:g} eV, {self.n_fit_points} points, "
             f"{self.sigma_per_noise_ev:.3g} eV per unit noise", ""),
            ("target white-line sigma / valence sigma", f"{self.target_whiteline_sigma_ev:g} eV / "
             f"{self.target_valence_sigma:.3g}", ""),
            ("photons per pixel / open-beam SNR", f"{self.photons_per_pixel:.4g} / {self.snr:.0f}", ""),
            ("rate per pixel", f"{self.rate_per_pixel_cps:.4g}", "counts/s"),
            ("2D: exposure per image", f"{self.exposure_2d_s:.3g} s (+{self.n_flats} flat, "
             f"+{self.overhead_per_energy_s:g} s per energy)", ""),
            ("2D: scan time / dose", f"{self.time_2d_s:.4g} s = {self.time_2d_s / 60:.3g} min / "
             f"{self.dose_2d_Gy:.3g} Gy", ""),
            ("3D: tomogram per energy", f"{self.n_angles} x {self.exposure_3d_s:g} s, {self.n_energies_3d} energies, "
             f"{self.photons_per_projection_3d:.3g} photons per projection pixel", ""),
            ("3D: scan time / dose", f"{self.time_3d_s:.4g} s = {self.time_3d_s / 60:.3g} min / "
             f"{self.dose_3d_Gy:.3g} Gy", ""),
        ]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{name:<{width}}  {value} {unit}".rstrip() for name, value, unit in rows)


def plan_xanes(material: Material | str = "NMC811", *, thickness_um: float = 5.0, valence: float = 3.5,
               model: EdgeModel | None = None, target_whiteline_sigma_ev: float = 0.25,
               fit_half_width_ev: float = 3.0, pre: tuple[float, float, float] = (-60.0, -15.0, 5.0),
               edge_region: tuple[float, float, float] = (-15.0, 30.0, 1.0),
               post: tuple[float, float, float] = (30.0, 150.0, 10.0), n_flats: int = 1, pixel_um: float = 0.03,
               field_of_view_um: float = 40.0, flux_ph_per_s: float = 1e12, efficiency: float = 0.1,
               overhead_per_energy_s: float = 5.0, n_angles: int = 900, exposure_3d_s: float = 0.05,
               n_energies_3d: int | None = None, overhead_per_tomogram_s: float = 5.0) -> XanesPlan:
    """Energy grid, counts for a white-line precision, 2D/3D scan time and dose (module docstring).

    Parameters
    ----------
    material : Material or str
        Sample material containing the model's element (default NMC811).
    thickness_um : float
        Sample thickness along the beam, um (default 5: a typical path through a 10 um secondary particle).
    valence : float
        Valence of the edge element (sets the white line and the transmission there).
    model : EdgeModel, optional
        Edge shape (default Ni K).
    target_whiteline_sigma_ev : float
        Wanted white-line standard deviation per pixel, eV (0.25 eV = 0.1 valence at 2.5 eV per valence).
    fit_half_width_ev : float
        Quadratic fit window about the white line, eV.
    pre, edge_region, post : tuple
        Energy-grid regions (:func:`forward.xanes.stack.energy_grid`).
    n_flats : int
        Flat frames per energy (same exposure).
    pixel_um, field_of_view_um : float
        Pixel and square field of view at the sample, um.
    flux_ph_per_s : float
        Photons/s on the field of view (assumed 1e12).
    efficiency : float
        Fraction of transmitted photons detected (zone plate x detector), in (0, 1].
    overhead_per_energy_s : float
        Energy change, refocus and flat motion per energy, s.
    n_angles, exposure_3d_s, n_energies_3d, overhead_per_tomogram_s
        3D: projections per tomogram, their exposure (s), energies (default all), overhead per tomogram (s).
    """
    m = _model(model)
    mat = materials.named("material", material) if isinstance(material, str) else material
    if not isinstance(mat, Material):
        raise TypeError(f"material={material!r}: expected a registry name or a Material")
    z = materials.element_z(m.element)
    if z not in mat.mass_fractions:
        raise ValueError(f"material={mat.name!r}: expected a material containing {m.element} (the model's element)")
    thickness = arguments.positive("thickness_um", thickness_um, unit="um")
    v = arguments.in_range("valence", valence, 0.0, 8.0)
    n_fl = arguments.integer("n_flats", n_flats, minimum=1)
    pixel = arguments.positive("pixel_um", pixel_um, unit="um")
    fov = arguments.positive("field_of_view_um", field_of_view_um, unit="um")
    flux = arguments.positive("flux_ph_per_s", flux_ph_per_s, unit="photons/s")
    eff = arguments.in_range("efficiency", efficiency, 0.0, 1.0)
    if eff == 0:
        raise ValueError(f"efficiency={efficiency!r}: expected a number in (0, 1]")
    over_e = arguments.positive("overhead_per_energy_s", overhead_per_energy_s, allow_zero=True, unit="s")
    na = arguments.integer("n_angles", n_angles, minimum=1)
    t3 = arguments.positive("exposure_3d_s", exposure_3d_s, unit="s")
    over_t = arguments.positive("overhead_per_tomogram_s", overhead_per_tomogram_s, allow_zero=True, unit="s")

    edge_ev = edge.EDGES[m.element]
    energies = energy_grid(edge_ev, pre=pre, edge_region=edge_region, post=post)
    n3 = len(energies) if n_energies_3d is None else arguments.integer("n_energies_3d", n_energies_3d, minimum=1)
    wl = float(edge.whiteline_of_model(m, v))
    mu_wl = float(edge.mu_per_cm(mat, None, m.element, v, wl, m))
    background, jump = edge.edge_background_cm2_per_g(m.element, wl)
    jump_abs = float(jump) * mat.mass_fractions[z] * mat.density_g_cm3 * thickness * 1e-4
    t_wl = math.exp(-mu_wl * thickness * 1e-4)
    k = whiteline_sigma_per_noise_ev(m, energies, v, fit_half_width_ev)
    n_points = _fit_points(m, energies, v, fit_half_width_ev).size
    n0 = photons_for_whiteline_precision(target_whiteline_sigma_ev, sigma_per_noise_ev=k, edge_jump=jump_abs,
                                         transmission=t_wl, n_flats=n_fl)
    rate = flux * eff * (pixel / fov) ** 2
    t2 = n0 / rate
    time_2d = len(energies) * ((1 + n_fl) * t2 + over_e)
    time_3d = n3 * (na * t3 + over_e + over_t)
    incident_2d = n0 / eff
    n3_photons = rate * t3
    area = pixel * pixel
    dose_e = np.array([absorbed_dose_Gy(mat, thickness, e / 1000.0, 1.0, area) for e in energies])
    dose_2d = float(incident_2d * dose_e.sum())
    dose_3d = float(n3_photons / eff * na * dose_e[np.linspace(0, len(energies) - 1, n3).round().astype(int)].sum())
    return XanesPlan(
        material=mat.name, element=m.element, thickness_um=thickness, valence=v, edge_ev=edge_ev, whiteline_ev=wl,
        energies_ev=tuple(float(e) for e in energies), n_energies=len(energies), transmission_whiteline=t_wl,
        edge_jump=jump_abs, fit_half_width_ev=float(fit_half_width_ev), n_fit_points=int(n_points),
        sigma_per_noise_ev=k, target_whiteline_sigma_ev=float(target_whiteline_sigma_ev),
        target_valence_sigma=float(target_whiteline_sigma_ev) / m.shift_ev_per_valence, photons_per_pixel=n0,
        snr=math.sqrt(n0), n_flats=n_fl, pixel_um=pixel, field_of_view_um=fov, flux_ph_per_s=flux, efficiency=eff,
        rate_per_pixel_cps=rate, exposure_2d_s=t2, overhead_per_energy_s=over_e, time_2d_s=time_2d,
        dose_2d_Gy=dose_2d, n_angles=na, exposure_3d_s=t3, n_energies_3d=n3, overhead_per_tomogram_s=over_t,
        photons_per_projection_3d=n3_photons, time_3d_s=time_3d, dose_3d_Gy=dose_3d)
