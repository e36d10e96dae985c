"""Plan an XCS (Compton scattering imaging) experiment before beamtime (seeds/001).

Answers, for a sheet beam at an energy and flux, a pinhole camera and a HEXITEC detector looking at a material:
how many counts a pixel needs for a target EMF precision, how long that takes at the flux (per sheet position,
for several n x n binnings and for a scan of several sheet positions), and how much the detector resolution
biases the EMF.

Counts for a precision
----------------------
From the inverse (:func:`inverse.compton.profile.counts_for_precision`): with N counts in the profile window
-5 < p_z < 5 a.u. split Poisson into N_L = N EMF / (1 + EMF) and N_H = N / (1 + EMF),
``var EMF = EMF (1 + EMF)^2 / N``, so ``N = EMF (1 + EMF)^2 / sigma^2`` (no background: a lower bound).
The whole Compton line of a pixel holds ``N / f5`` counts, f5 the fraction of the (resolution-broadened) profile
inside |p_z| < 5 a.u.

Count rate (seeds/001, eq. 1)
-----------------------------
Per pixel, counts per second in the whole Compton line::

    R = (flux / (w h)) t1 t2 n_e (p^2 h) dsigma_KN/dOmega Omega eps,   Omega = pi (d / 2)^2 / a^2,

with the sheet w x h (25 mm x 0.25 mm), the pixel p at the sample (250 um / magnification 1), so a pixel sees
the volume p^2 h; n_e the electron density of the material (times ``solid_fraction`` for a porous electrode);
the Klein-Nishina cross section for the horizontally polarised synchrotron beam scattered at 90 deg in the
vertical plane (camera above the sample: :func:`forward.compton.physics.klein_nishina_dsigma_domega_cm2`,
``polarised=True, azimuth_deg=90``, about twice the unpolarised value); Omega the solid angle of the pinhole
(diameter d at distance a, on axis); eps the detector efficiency at the Compton energy
(:func:`forward.compton.detector.efficiency`, 2 mm CdZnTe) times the fraction kept by the charge-sharing
rejection; t1 = exp(-mu(E1) L1) and t2 = exp(-mu(E_C) L2) through ``incident_path_mm`` and ``exit_path_mm`` of the
material (plus ``window_transmission`` for the can). The time for N counts at binning n x n is
``N / (f5 R n^2)``. The detector occupancy ``R / frame_rate`` (9 kHz) should stay well below 1 for
the frame-based event processing.

Resolution bias
---------------
The measured profile is J convolved with the detector response. Near the Compton peak a Gaussian of FWHM
F(E_C) (:meth:`forward.compton.detector.Hexitec.fwhm_kev`, 0.93 keV at 59.54 keV) is, in p_z, a Gaussian of
``sigma_p = F / 2.3548 * dp_z/dE2(E_C)`` (about 1.13 a.u./keV at 114.64 keV and 90 deg: sigma_p ~ 0.47 a.u.,
comparable to the valence window |p_z| < 1). Then::

    E_L(sigma_p) = int J(p) [Phi((1 - p)/sigma_p) - Phi((-1 - p)/sigma_p)] dp,   likewise E_H,

computed on a fine p_z grid from the material's Hartree-Fock profile (:meth:`twin.materials.Material.compton_profile`,
free atoms, no binding cut-off, the Jacobian taken constant across the line). The resolution moves counts from the
valence peak to the core windows, lowering the EMF by several per cent for 1 keV: the EMF is instrument-dependent
and must be calibrated with references measured on the same instrument (:mod:`inverse.compton.calibration`).

Defaults are those of seeds/001, section 2.1: 114.64 keV, sheet 25 mm x 0.25 mm, 200 um pinhole at 160 mm,
magnification 1, 250 um pixels, 9 kHz frames, three sheet positions (Fig. 2b). The flux is not given in the
source; 1e12 photons/s is assumed (order of a bent-Laue monochromatised wiggler beam at I12).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.special import ndtr

from forward.compton import detector as det
from forward.compton import physics
from inverse.compton.profile import EMF_HIGH_AU, EMF_LOW_AU, counts_for_precision
from twin import materials
from twin.materials import Material
from xtwin import arguments

__all__ = ["ComptonPlan", "FLUX_PH_PER_S", "emf_with_resolution", "plan_compton", "pz_sigma_au"]

#: Photons per second in the sheet (not given in seeds/001; assumed).
FLUX_PH_PER_S = 1e12
#: Sheet beam width and height, mm (seeds/001, section 2.1).
SHEET_MM = (25.0, 0.25)
#: FWHM / sigma of a Gaussian.
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: Fine p_z grid of the resolution study: step and half-range, a.u.
_PZ_STEP_AU, _PZ_RANGE_AU = 0.005, 40.0


def _material(value: Material | str, x_li: float | None) -> Material:
    if isinstance(value, Material):
        if x_li is not None:
            raise ValueError("x_li: give a host name (e.g. 'Li_x NMC811') with x_li, not a Material")
        return value
    if x_li is not None:
        return materials.get(value, x=arguments.in_range("x_li", x_li, 0.0, 1.0))
    return materials.named("material", value)


def pz_sigma_au(fwhm_kev, energy_kev: float = physics.INCIDENT_KEV, angle_deg: float = 90.0) -> np.ndarray:
    """Detector resolution (FWHM in keV at the Compton peak) as a Gaussian standard deviation in p_z, a.u."""
    f = np.asarray(fwhm_kev, dtype=float)
    if np.any(~np.isfinite(f) | (f < 0)):
        raise ValueError(f"fwhm_kev={fwhm_kev!r}: expected resolutions >= 0 keV")
    peak = physics.compton_energy_kev(energy_kev, angle_deg)
    return f / _FWHM_PER_SIGMA * physics.dpz_dE_per_kev(energy_kev, peak, angle_deg)


def emf_with_resolution(profile, sigma_pz_au, *, low_au: float = EMF_LOW_AU, high_au: float = EMF_HIGH_AU,
                        pz_step_au: float = _PZ_STEP_AU, pz_range_au: float = _PZ_RANGE_AU
                        ) -> tuple[np.ndarray, np.ndarray]:
    """EMF (eq. 3-5) of a profile convolved with Gaussians of standard deviation ``sigma_pz_au``.

    Parameters
    ----------
    profile : callable or Material
        J(p_z) (vectorised, per a.u.), or a material whose :meth:`compton_profile` is used.
    sigma_pz_au : float or array
        Resolution as a standard deviation in p_z, a.u., >= 0 (0: the true EMF).
    low_au, high_au : float
        Windows of eq. (4)-(5).

    Returns
    -------
    emf, f5 : ndarray (shape of sigma_pz_au)
        The EMF and the fraction of the (normalised) broadened profile inside |p_z| < high_au.
    """
    j_of = profile.compton_profile if isinstance(profile, Material) else profile
    s = np.asarray(sigma_pz_au, dtype=float)
    if np.any(~np.isfinite(s) | (s < 0)):
        raise ValueError(f"sigma_pz_au={sigma_pz_au!r}: expected standard deviations >= 0 a.u.")
    p = np.arange(-pz_range_au, pz_range_au + 0.5 * pz_step_au, pz_step_au)
    w = np.full(p.size, pz_step_au)
    w[0] = w[-1] = 0.5 * pz_step_au  # trapezoid
    jw = np.asarray(j_of(p), dtype=float) * w
    total = jw.sum()
    flat = np.atleast_1d(s).ravel()[:, None]
    safe = np.where(flat > 0, flat, 1.0)

    def mass(a: float, b: float) -> np.ndarray:
        smooth = ndtr((b - p) / safe) - ndtr((a - p) / safe)
        sharp = ((p >= a) & (p <= b)).astype(float)
        sharp[(p == a) | (p == b)] = 0.5
        return np.where(flat > 0, smooth, sharp) @ jw

    e_low = mass(-low_au, low_au)
    e_high = mass(-high_au, -low_au) + mass(low_au, high_au)
    return (e_low / e_high).reshape(s.shape), ((e_low + e_high) / total).reshape(s.shape)


@dataclass(frozen=True)
class ComptonPlan:
    """Answers of :func:`plan_compton`; every field carries its unit in its name (arrays as tuples)."""

    energy_kev: float
    angle_deg: float
    compton_peak_kev: float
    material: str
    electron_density_per_cm3: float
    solid_fraction: float
    flux_ph_per_s: float
    sheet_mm: tuple[float, float]
    pixel_um: float
    pinhole_diameter_um: float
    pinhole_to_sheet_mm: float
    solid_angle_sr: float
    dsigma_domega_cm2: float
    transmission: float
    efficiency: float
    voxel_volume_cm3: float
    rate_per_pixel_cps: float
    occupancy_per_frame: float
    frame_rate_hz: float
    fwhm_kev: float
    sigma_pz_au: float
    emf_true: float
    emf_measured: float
    emf_bias_rel: float
    fraction_in_window: float
    target_sigma: float
    counts_in_window: float
    counts_per_pixel: float
    binning: int
    time_per_position_s: float
    n_positions: int
    overhead_s_per_position: float
    scan_time_s: float
    binnings: tuple[int, ...]
    time_per_position_s_by_binning: tuple[float, ...]
    resolution_fwhm_kev: tuple[float, ...]
    resolution_sigma_pz_au: tuple[float, ...]
    resolution_emf: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (tuples become lists)."""
        return dataclasses.asdict(self)

    def table(self) -> str:
        """Plain-text summary for the command line."""
        rows = [
            ("energy / angle / Compton peak", f"{self.energy_kev:g} keV / {self.angle_deg:g} deg / "
             f"{self.compton_peak_kev:.2f} keV", ""),
            ("material", f"{self.material} (n_e {self.electron_density_per_cm3:.4g} 1/cm3, solid fraction "
             f"{self.solid_fraction:g})", ""),
            ("flux / sheet", f"{self.flux_ph_per_s:.3g} ph/s / {self.sheet_mm[0]:g} x {self.sheet_mm[1]:g} mm", ""),
            ("pinhole", f"{self.pinhole_diameter_um:g} um at {self.pinhole_to_sheet_mm:g} mm, "
             f"Omega {self.solid_angle_sr:.3g} sr", ""),
            ("KN dsigma/dOmega (polarised, 90 deg vertical)", f"{self.dsigma_domega_cm2:.4g}", "cm2/sr"),
            ("t1 t2 / detector efficiency", f"{self.transmission:.3f} / {self.efficiency:.3f}", ""),
            ("Compton rate per pixel", f"{self.rate_per_pixel_cps:.4g}", "counts/s"),
            ("occupancy per frame", f"{self.occupancy_per_frame:.2e} at {self.frame_rate_hz:g} Hz", ""),
            ("resolution at the peak", f"{self.fwhm_kev:.3f} keV FWHM = sigma {self.sigma_pz_au:.3f} a.u.", ""),
            ("EMF true / measured (bias)", f"{self.emf_true:.4f} / {self.emf_measured:.4f} "
             f"({100 * self.emf_bias_rel:+.1f} %)", ""),
            ("fraction of the line in |p_z| < 5 a.u.", f"{self.fraction_in_window:.3f}", ""),
            ("target EMF sigma", f"{self.target_sigma:g}", ""),
            ("counts needed in |p_z| < 5 / whole line", f"{self.counts_in_window:.4g} / {self.counts_per_pixel:.4g}",
             "per (binned) pixel"),
            (f"time per sheet position ({self.binning} x {self.binning} binning)",
             f"{self.time_per_position_s:.4g} s = {self.time_per_position_s / 60:.3g} min", ""),
            (f"scan of {self.n_positions} positions (+{self.overhead_s_per_position:g} s each)",
             f"{self.scan_time_s:.4g} s = {self.scan_time_s / 3600:.3g} h", ""),
        ]
        rows += [(f"  time per position, {n} x {n} binning", f"{t:.4g} s", "")
                 for n, t in zip(self.binnings, self.time_per_position_s_by_binning)]
        rows += [(f"  EMF at FWHM {f:.2f} keV (sigma {s:.2f} a.u.)", f"{r:.4f}", "")
                 for f, s, r in zip(self.resolution_fwhm_kev, self.resolution_sigma_pz_au, self.resolution_emf)]
        width = max(len(name) for name, _, _ in rows)
        return "\n".join(f"{name:<{width}}  {value} {unit}".rstrip() for name, value, unit in rows)


def plan_compton(material: Material | str = "NMC811", *, x_li: float | None = None, target_sigma: float = 0.01,
                 flux_ph_per_s: float = FLUX_PH_PER_S, energy_kev: float = physics.INCIDENT_KEV,
                 angle_deg: float = 90.0, sheet_mm: tuple[float, float] = SHEET_MM, solid_fraction: float = 1.0,
                 incident_path_mm: float = 7.0, exit_path_mm: float = 0.5, window_transmission: float = 1.0,
                 pinhole_diameter_um: float = 200.0, pinhole_to_sheet_mm: float = 160.0,
                 magnification: float = 1.0, detector: det.Hexitec | None = None, kept_fraction: float = 1.0,
                 fwhm_kev: float | None = None, binning: int = 1, n_positions: int = 3,
                 overhead_s_per_position: float = 30.0, binnings: Sequence[int] = (1, 2, 4, 8),
                 resolution_fwhm_kev: Sequence[float] = (0.0, 0.5, 0.93, 1.5, 2.0)) -> ComptonPlan:
    """Plan an XCS acquisition: counts and time per pixel for a target EMF precision, resolution bias, scan time.

    Parameters
    ----------
    material : Material or str
        Material imaged (registry name, or an intercalation host with ``x_li``), default NMC811.
    x_li : float, optional
        Lithium content of a host (e.g. ``material="Li_x NMC811", x_li=0.5``).
    target_sigma : float
        Absolute EMF standard deviation wanted per (binned) pixel, > 0.
    flux_ph_per_s : float
        Photons per second in the sheet beam.
    energy_kev : float
        Incident energy, keV (114.64).
    angle_deg : float
        Scattering angle, deg (90).
    sheet_mm : (float, float)
        Sheet width and height (thickness), mm (25, 0.25).
    solid_fraction : float
        Volume fraction of the material in the imaged volume (porous electrode), in (0, 1].
    incident_path_mm, exit_path_mm : float
        Path lengths through the material before the voxel (at E1) and after it towards the pinhole (at E_C),
        mm, >= 0 (defaults: half a 14 mm cathode, 0.5 mm above the sheet).
    window_transmission : float
        Further transmission (can, cap), in (0, 1].
    pinhole_diameter_um, pinhole_to_sheet_mm : float
        Pinhole (200 um at 160 mm).
    magnification : float
        Detector-pinhole : pinhole-sheet distance ratio (1): a pixel covers pixel_um / magnification.
    detector : Hexitec, optional
        Detector (default :class:`forward.compton.detector.Hexitec`): pixel, frame rate, resolution, efficiency.
    kept_fraction : float
        Fraction of events kept by the charge-sharing rejection, in (0, 1].
    fwhm_kev : float, optional
        Resolution at the Compton peak, keV FWHM (default: the detector's law at the peak).
    binning : int
        n x n binning of the headline numbers.
    n_positions : int
        Sheet positions (heights) scanned (3, seeds/001 Fig. 2b).
    overhead_s_per_position : float
        Stage move and settling per position, s.
    binnings : sequence of int
        Binnings of the time table.
    resolution_fwhm_kev : sequence of float
        Resolutions (keV FWHM at the peak) of the bias table; 0 is the true EMF.

    Returns
    -------
    ComptonPlan
    """
    e1 = float(arguments.energies_kev("energy_kev", energy_kev))
    theta = arguments.in_range("angle_deg", angle_deg, 0.0, 180.0, unit="deg")
    if theta == 0:
        raise ValueError("angle_deg=0: expected a scattering angle > 0 deg (no Compton shift at 0 deg)")
    mat = _material(material, x_li)
    if mat.density_g_cm3 <= 0:
        raise ValueError(f"material={mat.name!r}: expected a material with electrons (density > 0)")
    sigma_target = arguments.positive("target_sigma", target_sigma)
    flux = arguments.positive("flux_ph_per_s", flux_ph_per_s, unit="photons/s")
    if not isinstance(sheet_mm, (tuple, list)) or len(sheet_mm) != 2:
        raise ValueError(f"sheet_mm={sheet_mm!r}: expected (width, height) in mm")
    w_mm, h_mm = (arguments.positive(f"sheet_mm[{k}]", v, unit="mm") for k, v in enumerate(sheet_mm))
    solid = arguments.in_range("solid_fraction", solid_fraction, 0.0, 1.0)
    if solid == 0:
        raise ValueError("solid_fraction=0: expected a fraction in (0, 1]")
    l1 = arguments.positive("incident_path_mm", incident_path_mm, allow_zero=True, unit="mm")
    l2 = arguments.positive("exit_path_mm", exit_path_mm, allow_zero=True, unit="mm")
    t_win = arguments.in_range("window_transmission", window_transmission, 0.0, 1.0)
    kept = arguments.in_range("kept_fraction", kept_fraction, 0.0, 1.0)
    if t_win == 0 or kept == 0:
        raise ValueError("window_transmission, kept_fraction: expected fractions in (0, 1]")
    d_um = arguments.positive("pinhole_diameter_um", pinhole_diameter_um, unit="um")
    a_mm = arguments.positive("pinhole_to_sheet_mm", pinhole_to_sheet_mm, unit="mm")
    mag = arguments.positive("magnification", magnification)
    hexitec = det.Hexitec() if detector is None else detector
    if not isinstance(hexitec, det.Hexitec):
        raise TypeError(f"detector={detector!r}: expected a forward.compton.detector.Hexitec")
    n_bin = arguments.integer("binning", binning, minimum=1)
    n_pos = arguments.integer("n_positions", n_positions, minimum=1)
    overhead = arguments.positive("overhead_s_per_position", overhead_s_per_position, allow_zero=True, unit="s")
    bins = tuple(arguments.integer(f"binnings[{k}]", b, minimum=1) for k, b in enumerate(binnings))
    res = np.array([arguments.positive(f"resolution_fwhm_kev[{k}]", f, allow_zero=True, unit="keV")
                    for k, f in enumerate(resolution_fwhm_kev)], dtype=float)

    peak = float(physics.compton_energy_kev(e1, theta))
    fwhm = float(hexitec.fwhm_kev(peak)) if fwhm_kev is None else arguments.positive("fwhm_kev", fwhm_kev,
                                                                                     allow_zero=True, unit="keV")
    sig = float(pz_sigma_au(fwhm, e1, theta))
    emf_true, _ = emf_with_resolution(mat, 0.0)
    emf_meas, f5 = emf_with_resolution(mat, sig)
    emf_true, emf_meas, f5 = float(emf_true), float(emf_meas), float(f5)
    table_emf, _ = emf_with_resolution(mat, pz_sigma_au(res, e1, theta))

    n_e = float(physics.electron_density_per_cm3(mat)) * solid
    pixel_cm = hexitec.pixel_um * 1e-4 / mag
    volume = pixel_cm**2 * h_mm * 0.1
    phi0 = flux / (w_mm * 0.1 * h_mm * 0.1)
    omega = math.pi * (0.5 * d_um * 1e-4) ** 2 / (a_mm * 0.1) ** 2
    kn = float(physics.klein_nishina_dsigma_domega_cm2(e1, theta, polarised=True, azimuth_deg=90.0))
    t1 = math.exp(-float(mat.linear_attenuation_per_cm(e1)) * solid * l1 * 0.1)
    t2 = math.exp(-float(mat.linear_attenuation_per_cm(peak)) * solid * l2 * 0.1)
    transmission = t1 * t2 * t_win
    eff = float(det.efficiency(hexitec, peak)) * kept
    rate = phi0 * transmission * n_e * volume * kn * omega * eff

    n_window = counts_for_precision(emf_meas, sigma_target)
    n_line = n_window / f5

    def time_at(n: int) -> float:
        return n_window / (f5 * rate * n * n)

    t_pos = time_at(n_bin)
    return ComptonPlan(
        energy_kev=e1, angle_deg=theta, compton_peak_kev=peak, material=mat.name, electron_density_per_cm3=n_e,
        solid_fraction=solid, flux_ph_per_s=flux, sheet_mm=(w_mm, h_mm), pixel_um=float(hexitec.pixel_um),
        pinhole_diameter_um=d_um, pinhole_to_sheet_mm=a_mm, solid_angle_sr=omega, dsigma_domega_cm2=kn,
        transmission=transmission, efficiency=eff, voxel_volume_cm3=volume, rate_per_pixel_cps=rate,
        occupancy_per_frame=rate / float(hexitec.frame_rate_hz), frame_rate_hz=float(hexitec.frame_rate_hz),
        fwhm_kev=fwhm, sigma_pz_au=sig, emf_true=emf_true, emf_measured=emf_meas,
        emf_bias_rel=emf_meas / emf_true - 1.0, fraction_in_window=f5, target_sigma=sigma_target,
        counts_in_window=n_window, counts_per_pixel=n_line, binning=n_bin, time_per_position_s=t_pos,
        n_positions=n_pos, overhead_s_per_position=overhead, scan_time_s=n_pos * (t_pos + overhead),
        binnings=bins, time_per_position_s_by_binning=tuple(time_at(n) for n in bins),
        resolution_fwhm_kev=tuple(res.tolist()), resolution_sigma_pz_au=tuple(pz_sigma_au(res, e1, theta).tolist()),
        resolution_emf=tuple(np.asarray(table_emf).tolist()))
