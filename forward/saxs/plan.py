"""Plan a scanning SWAXS or SAXS-tomography experiment before beamtime.

Answers, for a raster of a sample (area, steps, exposure) at an energy and
detector distances: the scan time, the absorbed dose, the q-range of each
detector, the expected counts and Poisson relative error per q-bin for a
sample thickness and contrast (spheres of :func:`forward.saxs.model.sphere_intensity_per_cm`),
and the time of a SAXS tomogram. The defaults are those of seeds/000
(Methods): 13.2 keV, a 25 x 15 um beam, steps of 25 um (horizontal) and
15 um (vertical), 0.1 s per point, an Eiger 9M at 2 m and a Pilatus 300K-W at
0.6 m, 72 projections per tomogram, an electrode of 1.5 x 0.3 mm.

Time
----
``n_points = ceil(width / step_x) x ceil(height / step_y)`` raster points,
each costing ``exposure + overhead``; a tomogram repeats the raster at every
projection angle. seeds/000: 60 x 20 = 1200 points of 0.1 s = 2 min per map
("within a few minutes") and 72 maps = 2.4 h per tomogram ("a few hours")
without overhead.

Dose
----
The mean absorbed dose in the scanned sample from one raster, Gy::

    D = F E f / (rho d),  F = flux t / (step_x step_y),  f = (mu_photo / mu) (1 - exp(-mu d)),

with F the mean fluence of the raster (photons per area; a raster with steps
of the beam size spreads each exposure over one step cell), E the photon
energy in J, f the fraction of the incident energy absorbed (photoabsorbed;
Compton and Rayleigh photons are taken to escape and the Compton recoil
energy, < 1 % of E at 13 keV, is neglected, so ``mu_photo`` stands for the
energy-absorption coefficient), rho the density and d the thickness. In the
thin limit ``D = F E mu_photo / rho``. Attenuation coefficients are from
:mod:`twin.materials` (xraylib). The peak dose of a single exposure at the
centre of a Gaussian beam is ``N E f / (rho d A_eff)`` with ``A_eff = pi
FWHM_x FWHM_y / (4 ln 2)``. A tomogram multiplies the raster dose by the
number of projections.

Counts
------
Per q-bin of the SAXS detector, ``N = flux t T d I(q) dOmega efficiency``
(:mod:`forward.saxs.detector`), with ``I = sphere term + background`` and
``T = exp(-mu d)``; the relative error of the sphere term with the
background known exactly is ``sqrt(N_total) / N_spheres``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from forward.saxs import detector as det
from twin import materials
from twin.materials import Material
from xtwin import arguments

__all__ = ["BEAM_FWHM_UM", "DetectorRange", "FLUX_PH_PER_S", "N_PROJECTIONS", "SaxsPlan", "absorbed_dose_Gy",
           "absorbed_fraction", "plan_saxs", "raster_points", "scan_time_s", "tomogram_time_s"]

#: Beam size at the sample, FWHM (horizontal, vertical), um: "approximately 25 x 15 um^2" (seeds/000 Methods).
BEAM_FWHM_UM = (25.0, 15.0)
#: Raster steps (horizontal, vertical), um (seeds/000 Methods).
STEP_UM = (25.0, 15.0)
#: Exposure per raster point, s (seeds/000 Methods).
EXPOSURE_S = 0.1
#: Photon energy, keV (seeds/000 Methods).
ENERGY_KEV = 13.2
#: Projections of a SAXS tomogram (seeds/000 Methods: "For the tomograms 72 projections were measured").
N_PROJECTIONS = 72
#: Electrode area mapped (width, height), um: "the full electrode (1.5*0.3 mm^2)" (seeds/000, section 1).
AREA_UM = (1500.0, 300.0)
#: Flux on the sample, photons/s. Not given in seeds/000; 1e11 ph/s is the order of a focused undulator beam
#: at cSAXS (assumed).
FLUX_PH_PER_S = 1e11
#: J per keV.
J_PER_KEV = 1.602176634e-16


def _material(value: Material | str) -> Material:
    return value if isinstance(value, Material) else materials.named("material", value)


def _pair(name: str, value: Any, unit: str) -> tuple[float, float]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name}={value!r}: expected (horizontal, vertical) in {unit}")
    return tuple(arguments.positive(f"{name}[{k}]", v, unit=unit) for k, v in enumerate(value))


def raster_points(area_um: tuple[float, float], step_um: tuple[float, float]) -> tuple[int, int]:
    """Raster points (horizontal, vertical) covering ``area_um`` with ``step_um``: ``ceil(extent / step)``.

    The 1.5 x 0.3 mm electrode at 25 x 15 um steps: (60, 20) (seeds/000).
    """
    area = _pair("area_um", area_um, "um")
    step = _pair("step_um", step_um, "um")
    # A relative tolerance keeps 1500 / 25 at 60 despite rounding.
    return tuple(max(1, math.ceil(a / s * (1 - 1e-12))) for a, s in zip(area, step))


def scan_time_s(n_points: int, exposure_s: float, *, overhead_s_per_point: float = 0.0) -> float:
    """Duration of one raster, s: ``n_points (exposure + overhead)``.

    Parameters
    ----------
    n_points : int
        Raster points, >= 1.
    exposure_s : float
        Exposure per point, s, > 0.
    overhead_s_per_point : float
        Motor move and read-out per point, s, >= 0 (0 for a continuous fly
        scan with a fast detector).
    """
    n = arguments.integer("n_points", n_points, minimum=1)
    t = arguments.positive("exposure_s", exposure_s, unit="s")
    o = arguments.positive("overhead_s_per_point", overhead_s_per_point, allow_zero=True, unit="s")
    return n * (t + o)


def tomogram_time_s(n_points: int, exposure_s: float, n_projections: int = N_PROJECTIONS, *,
                    overhead_s_per_point: float = 0.0, overhead_s_per_projection: float = 0.0) -> float:
    """Duration of a SAXS tomogram, s: ``n_projections (scan_time + overhead_per_projection)``.

    72 projections of 1200 points of 0.1 s: 8640 s = 2.4 h (seeds/000: "a
    few hours for a tomogram").
    """
    n = arguments.integer("n_projections", n_projections, minimum=1)
    op = arguments.positive("overhead_s_per_projection", overhead_s_per_projection, allow_zero=True, unit="s")
    return n * (scan_time_s(n_points, exposure_s, overhead_s_per_point=overhead_s_per_point) + op)


def absorbed_fraction(material: Material | str, thickness_um: float, energy_kev: float) -> float:
    """Fraction of the incident photon energy absorbed in a slab: ``(mu_photo / mu) (1 - exp(-mu d))``."""
    mat = _material(material)
    d_cm = arguments.positive("thickness_um", thickness_um, unit="um") * 1e-4
    e = float(arguments.energies_kev("energy_kev", energy_kev))
    mu = float(mat.linear_attenuation_per_cm(e))
    mu_photo = float(mat.linear_attenuation_per_cm(e, "photo"))
    if mu == 0:
        return 0.0
    return mu_photo / mu * -math.expm1(-mu * d_cm)


def absorbed_dose_Gy(material: Material | str, thickness_um: float, energy_kev: float, photons: float,
                     area_um2: float) -> float:
    """Mean absorbed dose, Gy, of ``photons`` spread over ``area_um2`` of a slab (module docstring).

    Parameters
    ----------
    material : Material or str
        Sample material (registry name or Material), density > 0.
    thickness_um : float
        Thickness along the beam, um, > 0.
    energy_kev : float
        Photon energy, keV.
    photons : float
        Incident photons, >= 0.
    area_um2 : float
        Area they cross, um^2, > 0.

    Returns
    -------
    float
        ``photons E f / (rho d area)`` in J/kg.
    """
    mat = _material(material)
    if mat.density_g_cm3 <= 0:
        raise ValueError(f"material={mat.name!r}: expected a material of density > 0 to absorb a dose")
    n = arguments.positive("photons", photons, allow_zero=True)
    area_cm2 = arguments.positive("area_um2", area_um2, unit="um^2") * 1e-8
    d_cm = arguments.positive("thickness_um", thickness_um, unit="um") * 1e-4
    f = absorbed_fraction(mat, thickness_um, energy_kev)
    energy_j = n * float(energy_kev) * J_PER_KEV * f
    mass_kg = mat.density_g_cm3 * area_cm2 * d_cm * 1e-3
    return energy_j / mass_kg


@dataclass(frozen=True)
class DetectorRange:
    """q-range of a detector at its distance, 1/Angstrom."""

    name: str
    distance_m: float
    q_min_inv_A: float
    q_max_inv_A: float


@dataclass(frozen=True)
class SaxsPlan:
    """Answers of :func:`plan_saxs`; every field carries its unit in its name (arrays as tuples)."""

    energy_kev: float
    wavelength_A: float
    area_um: tuple[float, float]
    step_um: tuple[float, float]
    n_points_x: int
    n_points_y: int
    n_points: int
    exposure_s: float
    overhead_s_per_point: float
    scan_time_s: float
    n_projections: int
    tomogram_time_s: float
    flux_ph_per_s: float
    beam_fwhm_um: tuple[float, float]
    material: str
    thickness_um: float
    transmission: float
    absorbed_fraction: float
    dose_per_scan_Gy: float
    dose_per_tomogram_Gy: float
    dose_single_exposure_peak_Gy: float
    detectors: tuple[DetectorRange, ...]
    radius_A: float
    volume_fraction: float
    delta_sld_per_A2: float
    polydispersity: float
    background_per_cm: float
    efficiency: float
    q_inv_A: tuple[float, ...]
    intensity_per_cm: tuple[float, ...]
    solid_angle_sr: tuple[float, ...]
    expected_counts: tuple[float, ...]
    relative_error: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists; an infinite relative error becomes None)."""
        out = dataclasses.asdict(self)
        out["relative_error"] = [r if math.isfinite(r) else None for r in self.relative_error]
        return out

    def relative_error_in(self, q_min_inv_A: float, q_max_inv_A: float) -> float:
        """Relative error of the summed sphere counts over the bins with q in the region."""
        q = np.asarray(self.q_inv_A)
        inside = (q >= q_min_inv_A) & (q <= q_max_inv_A)
        if not inside.any():
            raise ValueError(f"q_min_inv_A={q_min_inv_A!r}, q_max_inv_A={q_max_inv_A!r}: no q-bin in this region")
        n = np.asarray(self.expected_counts)[inside]
        signal = float((n * (1 - self.background_fraction()[inside])).sum())
        return math.sqrt(float(n.sum())) / signal if signal > 0 else math.inf

    def background_fraction(self) -> np.ndarray:
        """Fraction of the counts of each bin that is background."""
        intensity = np.asarray(self.intensity_per_cm)
        return self.background_per_cm / intensity

    def table(self) -> str:
        """Plain-text summary for the command line."""
        q = np.asarray(self.q_inv_A)
        rel = np.asarray(self.relative_error)
        rows = [
            ("energy / wavelength", f"{self.energy_kev:g} keV / {self.wavelength_A:.4f}", "A"),
            ("area (h x v)", f"{self.area_um[0]:g} x {self.area_um[1]:g}", "um"),
            ("steps (h x v)", f"{self.step_um[0]:g} x {self.step_um[1]:g}", "um"),
            ("raster points", f"{self.n_points_x} x {self.n_points_y} = {self.n_points}", ""),
            ("exposure / overhead per point", f"{self.exposure_s:g} / {self.overhead_s_per_point:g}", "s"),
            ("scan time", f"{self.scan_time_s:.4g} s = {self.scan_time_s / 60:.3g} min", ""),
            (f"tomogram ({self.n_projections} projections)",
             f"{self.tomogram_time_s:.4g} s = {self.tomogram_time_s / 3600:.3g} h", ""),
            ("flux", f"{self.flux_ph_per_s:.3g}", "photons/s"),
            ("sample", f"{self.thickness_um:g} um of {self.material}", ""),
            ("transmission / absorbed fraction", f"{self.transmission:.4f} / {self.absorbed_fraction:.4f}", ""),
            ("dose per scan / per tomogram", f"{self.dose_per_scan_Gy:.3g} / {self.dose_per_tomogram_Gy:.3g}", "Gy"),
            ("peak dose of one exposure", f"{self.dose_single_exposure_peak_Gy:.3g}", "Gy"),
        ]
        rows += [(f"q-range {d.name} at {d.distance_m:g} m", f"{d.q_min_inv_A:.4g} - {d.q_max_inv_A:.4g}", "1/A")
                 for d in self.detectors]
        rows += [("spheres", f"R = {self.radius_A:g} A, phi = {self.volume_fraction:g}, "
                  f"dSLD = {self.delta_sld_per_A2:.4g} 1/A^2, pd = {self.polydispersity:g}", ""),
                 ("counts per bin (min - max)",
                  f"{min(self.expected_counts):.3g} - {max(self.expected_counts):.3g}", ""),
                 ("relative error per bin (min - max)", f"{rel.min():.3g} - {rel.max():.3g}", "")]
        for q_lo, q_hi in ((0.0045, 0.007), (0.12, 0.4)):
            if ((q >= q_lo) & (q <= q_hi)).any():
                rows.append((f"relative error, q {q_lo:g}-{q_hi:g} 1/A", f"{self.relative_error_in(q_lo, q_hi):.3g}",
                             ""))
        width = max(len(name) for name, _, _ in rows)
        return "\n".join(f"{name:<{width}}  {value} {unit}".rstrip() for name, value, unit in rows)


def plan_saxs(area_um: tuple[float, float] = AREA_UM, step_um: tuple[float, float] = STEP_UM,
              exposure_s: float = EXPOSURE_S, *, energy_kev: float = ENERGY_KEV,
              saxs_distance_m: float = det.SAXS_DISTANCE_M, waxs_distance_m: float | None = det.WAXS_DISTANCE_M,
              saxs_detector: det.AreaDetector | str = det.EIGER_9M,
              waxs_detector: det.AreaDetector | str = det.PILATUS_300K_W,
              flux_ph_per_s: float = FLUX_PH_PER_S, beam_fwhm_um: tuple[float, float] = BEAM_FWHM_UM,
              material: Material | str = "hard carbon", thickness_um: float = 500.0, radius_A: float = 6.5,
              volume_fraction: float = 0.2, delta_sld_per_A2: float | None = None, polydispersity: float = 0.0,
              background_per_cm: float = 0.0, n_bins: int = 100, n_projections: int = N_PROJECTIONS,
              overhead_s_per_point: float = 0.0) -> SaxsPlan:
    """Plan a scanning SWAXS map and a SAXS tomogram: every answer of this module at once.

    Parameters
    ----------
    area_um, step_um : (float, float)
        Scanned area and raster steps (horizontal, vertical), um.
    exposure_s : float
        Exposure per point, s.
    energy_kev : float
        Photon energy, keV.
    saxs_distance_m : float
        Sample-SAXS detector distance, m.
    waxs_distance_m : float or None
        Sample-WAXS detector distance, m; None: no WAXS detector.
    saxs_detector, waxs_detector : AreaDetector or str
        Detectors (or preset names ``"eiger_9m"``, ``"pilatus_2m"``,
        ``"pilatus_300k_w"``); moved to the distances above.
    flux_ph_per_s : float
        Photons per second on the sample.
    beam_fwhm_um : (float, float)
        Beam FWHM (horizontal, vertical), um, for the peak dose.
    material : Material or str
        Sample material for attenuation and dose (default hard carbon, 1.5 g/cm3).
    thickness_um : float
        Sample thickness along the beam, um (default 500: a 1 mm electrode of
        porosity 0.5, assumed).
    radius_A, volume_fraction, delta_sld_per_A2, polydispersity
        Scattering contrast: spheres of :func:`forward.saxs.model.sphere_intensity_per_cm`
        (defaults: the closed micropores of the capillary twin, R = 6.5 A,
        phi = 0.2, empty, so that dSLD is the Thomson SLD of ``material``).
    background_per_cm : float
        Flat background added to the intensity, 1/cm, >= 0.
    n_bins : int
        Log-spaced q-bins over the SAXS detector.
    n_projections : int
        Projections of the SAXS tomogram (72, seeds/000).
    overhead_s_per_point : float
        Dead time per point, s (default 0).

    Returns
    -------
    SaxsPlan
    """
    from forward.saxs.model import sphere_intensity_per_cm

    e = float(arguments.energies_kev("energy_kev", energy_kev))
    nx, ny = raster_points(area_um, step_um)
    step = _pair("step_um", step_um, "um")
    fwhm = _pair("beam_fwhm_um", beam_fwhm_um, "um")
    flux = arguments.positive("flux_ph_per_s", flux_ph_per_s, unit="photons/s")
    mat = _material(material)
    thickness = arguments.positive("thickness_um", thickness_um, unit="um")
    scan = scan_time_s(nx * ny, exposure_s, overhead_s_per_point=overhead_s_per_point)
    tomo = tomogram_time_s(nx * ny, exposure_s, n_projections, overhead_s_per_point=overhead_s_per_point)
    photons = flux * exposure_s
    dose_scan = absorbed_dose_Gy(mat, thickness, e, photons, step[0] * step[1])
    peak_area = math.pi * fwhm[0] * fwhm[1] / (4 * math.log(2))
    dose_peak = absorbed_dose_Gy(mat, thickness, e, photons, peak_area)
    transmission = float(mat.transmission(thickness, e))

    saxs = _detector("saxs_detector", saxs_detector).at(saxs_distance_m)
    ranges = [DetectorRange(saxs.name, saxs.distance_m, *saxs.q_range(e))]
    if waxs_distance_m is not None:
        waxs = _detector("waxs_detector", waxs_detector).at(waxs_distance_m)
        ranges.append(DetectorRange(waxs.name, waxs.distance_m, *waxs.q_range(e)))

    dsld = (mat.sld_per_A2() if delta_sld_per_A2 is None
            else arguments.finite("delta_sld_per_A2", delta_sld_per_A2, unit="1/A^2"))
    background = arguments.positive("background_per_cm", background_per_cm, allow_zero=True, unit="1/cm")
    bins = saxs.q_bins(e, n_bins)
    keep = bins.populated
    q = bins.q_inv_A[keep]
    spheres = np.asarray(sphere_intensity_per_cm(q, radius_A, volume_fraction, dsld, polydispersity), dtype=float)
    intensity = spheres + background
    efficiency = saxs.efficiency_at(e)
    expected = det.expected_counts(intensity, bins.solid_angle_sr[keep], flux_ph_per_s=flux, exposure_s=exposure_s,
                                   transmission=max(transmission, np.finfo(float).tiny),
                                   thickness_cm=thickness * 1e-4, efficiency=efficiency)
    signal = expected * np.divide(spheres, intensity, out=np.zeros_like(spheres), where=intensity > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(signal > 0, np.sqrt(expected) / signal, np.inf)
    return SaxsPlan(
        energy_kev=e, wavelength_A=det.wavelength_A(e), area_um=_pair("area_um", area_um, "um"), step_um=step,
        n_points_x=nx, n_points_y=ny, n_points=nx * ny, exposure_s=float(exposure_s),
        overhead_s_per_point=float(overhead_s_per_point), scan_time_s=scan, n_projections=int(n_projections),
        tomogram_time_s=tomo, flux_ph_per_s=flux, beam_fwhm_um=fwhm, material=mat.name, thickness_um=thickness,
        transmission=transmission, absorbed_fraction=absorbed_fraction(mat, thickness, e),
        dose_per_scan_Gy=dose_scan, dose_per_tomogram_Gy=dose_scan * int(n_projections),
        dose_single_exposure_peak_Gy=dose_peak, detectors=tuple(ranges), radius_A=float(radius_A),
        volume_fraction=float(volume_fraction), delta_sld_per_A2=float(dsld), polydispersity=float(polydispersity),
        background_per_cm=background, efficiency=efficiency, q_inv_A=tuple(q.tolist()),
        intensity_per_cm=tuple(intensity.tolist()), solid_angle_sr=tuple(bins.solid_angle_sr[keep].tolist()),
        expected_counts=tuple(expected.tolist()), relative_error=tuple(rel.tolist()))


def _detector(name: str, value: det.AreaDetector | str) -> det.AreaDetector:
    if isinstance(value, det.AreaDetector):
        return value
    if isinstance(value, str) and value.lower() in det.PRESETS:
        return det.PRESETS[value.lower()]
    raise ValueError(f"{name}={value!r}: expected an AreaDetector or one of {', '.join(map(repr, det.PRESETS))}")
