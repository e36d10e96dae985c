"""Planning a tomography scan before beamtime: energy, projections, photons, exposure, time.

The questions of seeds/002 (Heenan et al. 2020, Adv. Sci., Methods,
"Preparation" and "X-Ray Imaging"; ../shared/seeds/002_8e90cf42ff078ba1.txt):
which energy gives a useful transmission through the sample (5.4 keV,
about 14 % through 42 um of NMC811), how many projections a detector width
needs (1571 for 1000 pixels, 196 after binning by 8), how many photons and
how long an exposure reach a target signal-to-noise ratio, and how long
the scan takes (141 projections of 1 s in about 5 min with reference images
and motor movements).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin import materials
from twin.materials import Material
from xtwin import arguments

__all__ = [
    "N_REFERENCES_TXM",
    "OVERHEAD_S_PER_PROJECTION_TXM",
    "ScanPlan",
    "energy_for_transmission",
    "exposure_for_snr",
    "n_projections",
    "photons_for_snr",
    "plan_scan",
    "scan_time_s",
    "transmission",
]

#: Dead time per projection (rotation step, settling, read-out) of the seeds/002 lab TXM, s. Not
#: published: inferred so that 141 projections of 1 s plus :data:`N_REFERENCES_TXM` reference
#: frames take "under 5 min (including reference images and motor movements)" (Methods,
#: "X-Ray Imaging"): 141 x (1 + 1) + 10 x 1 = 292 s = 4.9 min.
OVERHEAD_S_PER_PROJECTION_TXM = 1.0
#: Reference (flat-field) frames of a seeds/002 scan; the number is not published, 10 is a common choice.
N_REFERENCES_TXM = 10


def _material(value: Material | str) -> Material:
    return value if isinstance(value, Material) else materials.named("material", value)


def transmission(material: Material | str, thickness_um: float, energy_kev: float) -> float:
    """Beer-Lambert transmission ``exp(-mu t)`` through a slab of ``material``.

    Parameters
    ----------
    material : Material or str
        A material or a registry name (``"NMC811"``).
    thickness_um : float
        Thickness along the beam, um, >= 0.
    energy_kev : float
        Photon energy, keV.

    Returns
    -------
    float
        Fraction of photons transmitted, in (0, 1]. 42 um of NMC811 at
        5.4 keV: 0.148 (seeds/002, Methods, "Preparation": about 14 %).
    """
    t = arguments.positive("thickness_um", thickness_um, allow_zero=True, unit="um")
    e = float(arguments.energies_kev("energy_kev", energy_kev))
    return float(_material(material).transmission(t, e))


def energy_for_transmission(material: Material | str, thickness_um: float, transmission: float,
                            bracket_kev: tuple[float, float] = (1.0, 200.0)) -> np.ndarray:
    """Every photon energy at which ``thickness_um`` of ``material`` transmits ``transmission``.

    Absorption edges make the transmission non-monotonic in energy, so
    there can be several answers: 14 % through 42 um of NMC811 is reached
    at 5.35 keV (below the Mn K edge) and again at 10.9 keV (above the Ni K
    edge). See :meth:`twin.materials.Material.energies_for_transmission`.

    Returns
    -------
    numpy.ndarray
        Energies, keV, ascending; empty when none lies in ``bracket_kev``.
    """
    return _material(material).energies_for_transmission(transmission, thickness_um, bracket_kev=bracket_kev)


def n_projections(detector_columns: int, binning: int = 1) -> int:
    """Projections over 180 degrees that sample a parallel-beam scan at the Nyquist limit.

    A slice ``N`` pixels wide needs its outermost pixels, on the
    circumference ``pi N``, sampled once per pixel over the 180 degrees
    of a parallel-beam scan: ``pi/2 x N`` projections (the Crowther
    criterion, with ``N = detector_columns // binning`` binned columns).
    seeds/002 (Methods, "Preparation") quotes 1571 projections for binning 1
    and 196 for binning 8; ``pi/2 x 1000 = 1570.8`` and ``pi/2 x 125 =
    196.3``, so the source counted 1000 columns (not the 1024 of its camera,
    which give 1608 and 201) and **rounded to the nearest integer** (rounding
    up would give 197). The same rule is used here.

    Parameters
    ----------
    detector_columns : int
        Physical detector columns across the sample, >= 1.
    binning : int
        Binning factor, 1 <= binning <= detector_columns.

    Returns
    -------
    int
        ``round(pi / 2 x (detector_columns // binning))``, at least 1.
    """
    n = arguments.integer("detector_columns", detector_columns, minimum=1)
    b = arguments.integer("binning", binning, minimum=1)
    if b > n:
        raise ValueError(f"binning={binning!r}: expected at most detector_columns={n}")
    # pi/2 N is irrational for every N, so it is never a tie and floor(x + 1/2) is round-to-nearest.
    return max(1, math.floor(math.pi / 2 * (n // b) + 0.5))


#: :func:`n_projections` under a second name: :func:`plan_scan` has an argument of that name.
_nyquist = n_projections


def photons_for_snr(target_snr: float, transmission: float, *, n_flats: int | None = 1) -> float:
    """Detected photons per pixel in the open beam for a target SNR of the attenuation ``-ln T``.

    The attenuation is estimated from the sample counts ``I ~ Poisson(N0
    T)`` and the mean of ``n_flats`` flat frames ``I0 ~ Poisson(N0)``:
    ``A = -ln(I / I0)``. Propagating the Poisson variances (first order,
    ``var(ln X) = 1 / E[X]`` for Poisson ``X``)::

        sigma(A)^2 = 1 / (N0 T) + 1 / (n_flats N0) = (1/T + 1/n_flats) / N0

    and with ``SNR = A / sigma(A)`` (A = -ln T)::

        N0 = (1/T + 1/n_flats) (SNR / ln T)^2.

    ``n_flats=None`` takes the flat as exactly known (``sigma(A) = 1 /
    sqrt(N0 T)``); one flat of the same exposure gives the ``(1 + 1/T) /
    N0`` form. The minimum of ``N0`` over T at fixed SNR without flat noise
    is at ``T = e^-2 = 13.5 %`` (minimise ``1 / (T ln^2 T)``), the reason
    transmissions of 10-15 % are sought (seeds/002 aims at about 14 %).

    Parameters
    ----------
    target_snr : float
        ``-ln T / sigma(-ln T)``, > 0.
    transmission : float
        Transmission T of the sample, 0 < T < 1.
    n_flats : int or None
        Flat frames averaged (each as long as a projection), >= 1; None for
        a noiseless flat.

    Returns
    -------
    float
        N0: detected photons per (binned) pixel per projection in the open beam.
    """
    snr = arguments.positive("target_snr", target_snr)
    t = arguments.in_range("transmission", transmission, 0.0, 1.0)
    if t in (0.0, 1.0):
        raise ValueError(f"transmission={transmission!r}: expected 0 < T < 1 (T = 1 has no contrast, "
                         "T = 0 no signal)")
    flat_term = 0.0 if n_flats is None else 1.0 / arguments.integer("n_flats", n_flats, minimum=1)
    return (1.0 / t + flat_term) * (snr / math.log(t)) ** 2


def exposure_for_snr(target_snr: float, transmission: float, *, flux_ph_per_s: float, beam_area_um2: float,
                     pixel_size_um: float, binning: int = 1, efficiency: float = 1.0,
                     n_flats: int | None = 1) -> float:
    """Exposure per projection, s, that gives :func:`photons_for_snr` photons per binned pixel.

    ``N0 = flux / beam_area x exposure x (binning x pixel_size)^2 x
    efficiency``: the flux spread uniformly over ``beam_area_um2`` (a flat
    beam; for a Gaussian one use ``Beam.effective_area_um2``, which gives
    the peak), collected over the binned pixel at the sample plane.

    Parameters
    ----------
    target_snr, transmission, n_flats
        As in :func:`photons_for_snr`.
    flux_ph_per_s : float
        Photons per second in the beam at the sample, > 0.
    beam_area_um2 : float
        Area over which the flux is spread, um^2, > 0.
    pixel_size_um : float
        Physical detector pixel at the sample plane, um, > 0.
    binning : int
        Binning factor, >= 1.
    efficiency : float
        Detective quantum efficiency, in (0, 1].

    Returns
    -------
    float
        Exposure, s.
    """
    flux = arguments.positive("flux_ph_per_s", flux_ph_per_s, unit="photons/s")
    area = arguments.positive("beam_area_um2", beam_area_um2, unit="um^2")
    pixel = arguments.positive("pixel_size_um", pixel_size_um, unit="um")
    b = arguments.integer("binning", binning, minimum=1)
    eff = arguments.in_range("efficiency", efficiency, 0.0, 1.0)
    if eff == 0.0:
        raise ValueError(f"efficiency={efficiency!r}: expected a number in (0, 1]")
    n0 = photons_for_snr(target_snr, transmission, n_flats=n_flats)
    return n0 / (flux / area * (b * pixel) ** 2 * eff)


def scan_time_s(n_projections: int, exposure_s: float, *, overhead_s_per_projection: float = 0.0,
                n_flats: int = 0, n_darks: int = 0) -> float:
    """Duration of a scan, s: ``n (exposure + overhead) + (n_flats + n_darks) exposure``.

    The same model as :attr:`forward.instrument.Scan.total_time_s`:
    reference frames cost their exposure and no motor overhead. For
    seeds/002, 141 projections of 1 s with :data:`OVERHEAD_S_PER_PROJECTION_TXM`
    and :data:`N_REFERENCES_TXM` flats take 292 s, "under 5 min" as the
    source says; with no overhead the exposures alone take 2.4 min.

    Parameters
    ----------
    n_projections : int
        >= 1.
    exposure_s : float
        Exposure of each frame, s, > 0.
    overhead_s_per_projection : float
        Rotation, settling and read-out per projection, s, >= 0.
    n_flats, n_darks : int
        Reference frames, >= 0.
    """
    n = arguments.integer("n_projections", n_projections, minimum=1)
    t = arguments.positive("exposure_s", exposure_s, unit="s")
    o = arguments.positive("overhead_s_per_projection", overhead_s_per_projection, allow_zero=True, unit="s")
    refs = arguments.integer("n_flats", n_flats, minimum=0) + arguments.integer("n_darks", n_darks, minimum=0)
    return n * (t + o) + refs * t


@dataclass(frozen=True)
class ScanPlan:
    """Answers of :func:`plan_scan`; every field carries its unit in its name."""

    material: str
    thickness_um: float
    energy_kev: float
    transmission: float
    energies_for_transmission_kev: tuple[float, ...]
    target_transmission: float
    detector_columns: int
    binning: int
    pixel_size_um: float
    n_projections_nyquist: int
    n_projections: int
    target_snr: float
    photons_per_pixel: float
    exposure_s: float
    overhead_s_per_projection: float
    n_flats: int
    n_darks: int
    scan_time_s: float

    def table(self) -> str:
        """Plain-text table, one quantity per line, for the command line."""
        e_kev = ", ".join(f"{e:.3f}" for e in self.energies_for_transmission_kev) or "none in range"
        rows = [
            ("material", self.material, ""),
            ("thickness", f"{self.thickness_um:g}", "um"),
            ("energy", f"{self.energy_kev:g}", "keV"),
            ("transmission", f"{self.transmission:.4f}", ""),
            (f"energies for T = {self.target_transmission:g}", e_kev, "keV"),
            ("detector columns / binning", f"{self.detector_columns} / {self.binning}", ""),
            ("binned pixel at the sample", f"{self.pixel_size_um * self.binning:g}", "um"),
            ("projections (Nyquist, pi/2 N)", f"{self.n_projections_nyquist}", ""),
            ("projections planned", f"{self.n_projections}", ""),
            ("target SNR of -ln T", f"{self.target_snr:g}", ""),
            ("photons per binned pixel (open beam)", f"{self.photons_per_pixel:.4g}", ""),
            ("exposure per projection", f"{self.exposure_s:.4g}", "s"),
            ("overhead per projection", f"{self.overhead_s_per_projection:g}", "s"),
            ("flats / darks", f"{self.n_flats} / {self.n_darks}", ""),
            ("scan time", f"{self.scan_time_s:.4g} s = {self.scan_time_s / 60:.3g} min", ""),
        ]
        width = max(len(name) for name, _, _ in rows)
        return "\n".join(f"{name:<{width}}  {value} {unit}".rstrip() for name, value, unit in rows)


def plan_scan(material: Material | str, thickness_um: float, energy_kev: float, detector_columns: int,
              binning: int, target_snr: float, flux_ph_per_s: float, *, pixel_size_um: float,
              beam_area_um2: float | None = None, efficiency: float = 1.0, n_projections: int | None = None,
              target_transmission: float = 0.14, overhead_s_per_projection: float = 0.0, n_flats: int = 10,
              n_darks: int = 0) -> ScanPlan:
    """Plan a parallel-beam tomography scan: every answer of this module at once.

    Parameters
    ----------
    material : Material or str
        Sample material (registry name or Material).
    thickness_um : float
        Thickness crossed by the beam, um, > 0.
    energy_kev : float
        Photon energy, keV.
    detector_columns, binning : int
        Physical columns across the sample and binning factor.
    target_snr : float
        Target SNR of the attenuation ``-ln T`` per projection pixel.
    flux_ph_per_s : float
        Photons per second in the beam at the sample.
    pixel_size_um : float
        Physical detector pixel at the sample plane, um.
    beam_area_um2 : float, optional
        Area the flux is spread over, um^2; default the square field of
        view, ``(detector_columns x pixel_size_um)^2`` (a TXM condenser
        fills the field of view).
    efficiency : float
        Detective quantum efficiency, in (0, 1].
    n_projections : int, optional
        Projections actually taken (seeds/002 took 141 instead of the
        Nyquist 196); default the Nyquist number.
    target_transmission : float
        Transmission for which the matching energies are listed (default
        14 %, seeds/002).
    overhead_s_per_projection : float
        Dead time per projection, s (:data:`OVERHEAD_S_PER_PROJECTION_TXM`
        for the seeds/002 TXM).
    n_flats, n_darks : int
        Reference frames; the flats also enter the SNR (their mean is the
        I0 estimate); with ``n_flats = 0`` the flat is taken as noiseless.

    Returns
    -------
    ScanPlan
    """
    mat = _material(material)
    thickness = arguments.positive("thickness_um", thickness_um, unit="um")
    t = transmission(mat, thickness, energy_kev)
    nyquist = _nyquist(detector_columns, binning)
    n_proj = nyquist if n_projections is None else arguments.integer("n_projections", n_projections, minimum=1)
    flats = arguments.integer("n_flats", n_flats, minimum=0)
    area = ((detector_columns * arguments.positive("pixel_size_um", pixel_size_um, unit="um")) ** 2
            if beam_area_um2 is None else beam_area_um2)
    n_flats_snr = flats if flats > 0 else None
    photons = photons_for_snr(target_snr, t, n_flats=n_flats_snr)
    exposure = exposure_for_snr(target_snr, t, flux_ph_per_s=flux_ph_per_s, beam_area_um2=area,
                                pixel_size_um=pixel_size_um, binning=binning, efficiency=efficiency,
                                n_flats=n_flats_snr)
    total = scan_time_s(n_proj, exposure, overhead_s_per_projection=overhead_s_per_projection, n_flats=flats,
                        n_darks=n_darks)
    return ScanPlan(
        material=mat.name, thickness_um=thickness, energy_kev=float(energy_kev), transmission=t,
        energies_for_transmission_kev=tuple(float(e) for e in energy_for_transmission(mat, thickness,
                                                                                      target_transmission)),
        target_transmission=float(target_transmission), detector_columns=int(detector_columns),
        binning=int(binning), pixel_size_um=float(pixel_size_um), n_projections_nyquist=nyquist,
        n_projections=n_proj, target_snr=float(target_snr), photons_per_pixel=photons, exposure_s=exposure,
        overhead_s_per_projection=float(overhead_s_per_projection), n_flats=flats, n_darks=int(n_darks),
        scan_time_s=total)
