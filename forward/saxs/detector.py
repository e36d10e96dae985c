"""Flat area detectors for SAXS and WAXS: pixel q, solid angle, azimuthal integration and counts.

The geometry of seeds/000 (Methods, "Scanning SWAXS and SAXS tomography"):
13.2 keV, an Eiger 9M (operando) or a Pilatus 2M (ex situ tomography) about
2 m downstream for SAXS, and a Pilatus 300K-W "oriented as a vertical strip"
below the sample at about 0.6 m for WAXS.

Geometry
--------
Every detector is flat and normal to the incident beam at ``distance_m``
from the sample. Pixel ``(i, j)`` (row, column; rows grow downwards) has its
centre at ``y = (i - row0) p``, ``x = (j - col0) p`` from the point where the
direct beam meets the detector plane, ``(row0, col0) = beam_centre_px``
(which may lie off the detector, as for the WAXS strip). Then, exactly::

    r = sqrt(x^2 + y^2),   2 theta = atan(r / L),   q = 4 pi sin(theta) / lambda,

with ``lambda[A] = 12.3984198 / E[keV]`` (CODATA hc). The solid angle of a
pixel of area ``A = p^2`` is ``Omega = A cos^3(2 theta) / L^2`` (distance
``L / cos 2theta`` to the pixel, squared, times the obliquity ``cos 2theta``);
the error of this small-pixel form is of order ``(p / L)^2`` relative,
< 1e-8 for these detectors.

Not modelled (stated approximations): polarisation (for the horizontally
polarised synchrotron beam the factor is 1 - sin^2(2theta) cos^2(phi), phi
the azimuth from the horizontal: 1 in the vertical plane of the WAXS strip and
at most 0.7 % off on the SAXS detectors, 2theta < 4.9 deg), parallax in the
sensor, inter-module gaps (pass a mask), detector tilt, air scattering (the flight tube is evacuated, seeds/000).

Counts
------
The expected number of photons scattered into a q-bin of solid angle
``dOmega_bin`` is::

    N = flux x exposure x T x thickness_cm x dSigma/dOmega(q) [1/cm] x dOmega_bin x efficiency,

the standard absolute-intensity relation (see e.g. Pauw, J. Phys.: Condens.
Matter 25 (2013) 383201, on absolute-intensity calibration), with T the sample transmission (the same
for the incident and the scattered beam at small angles) and the efficiency
the absorption of the silicon sensor (1 - exp(-mu t)). Poisson noise is drawn
with a :class:`numpy.random.Generator` seeded from ``seed``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from forward.saxs.curves import Curves
from xtwin import arguments

__all__ = ["AreaDetector", "DetectorCounts", "EIGER_9M", "HC_KEV_A", "PILATUS_2M", "PILATUS_300K_W", "QBins",
           "SAXS_DISTANCE_M", "WAXS_DISTANCE_M", "WAXS_GAP_MM", "expected_counts", "poisson_curves",
           "q_from_two_theta", "sensor_efficiency", "wavelength_A"]

#: hc in keV Angstrom (CODATA 2018: h c = 1.239841984e-6 eV m).
HC_KEV_A = 12.398419843320026
#: Sample-detector distances of seeds/000 (Methods): "approximately 2 m for SAXS and 0.6 m for WAXS".
SAXS_DISTANCE_M = 2.0
WAXS_DISTANCE_M = 0.6
#: Distance from the direct beam to the top edge of the WAXS strip, mm. Not published (seeds/000 says only
#: "below the sample"); 30 mm clears the SAXS cone up to q = 0.33 1/A at 0.6 m and makes the strip cover
#: q = 0.33 - 2.93 1/A at 13.2 keV: the 002 peak (1.6-1.7), PVDF (1.45) and Na (2.07, 2.1) of eq. 4.
WAXS_GAP_MM = 30.0
#: SAXS beamstop radius, mm (assumed; seeds/000 gives none). 1 mm at 2 m stops q < 0.0033 1/A at 13.2 keV and
#: keeps the particle-surface region q = 0.0045-0.007 1/A of seeds/000 (Figure 5) on the detector.
BEAMSTOP_RADIUS_MM = 1.0
#: Silicon sensor thickness of the presets, um: 450 um, one of the sensor options of the EIGER2 and PILATUS3
#: detectors (Dectris datasheets list 320/450/1000 um); the sensors of the cSAXS units are not stated in seeds/000.
SENSOR_UM = 450.0
_SI_DENSITY_G_CM3 = 2.329  # silicon, CRC Handbook


def wavelength_A(energy_kev: float) -> float:
    """Photon wavelength, Angstrom: ``hc / E`` (0.9393 A at 13.2 keV)."""
    return HC_KEV_A / float(arguments.energies_kev("energy_kev", energy_kev))


def q_from_two_theta(two_theta_rad: Any, energy_kev: float) -> np.ndarray:
    """``q = 4 pi sin(2theta / 2) / lambda``, 1/Angstrom, for scattering angles 2theta in radians."""
    return 4 * np.pi * np.sin(0.5 * np.asarray(two_theta_rad, dtype=float)) / wavelength_A(energy_kev)


@functools.lru_cache(maxsize=64)
def sensor_efficiency(energy_kev: float, sensor_um: float = SENSOR_UM) -> float:
    """Fraction of photons absorbed in a silicon sensor at normal incidence: ``1 - exp(-mu t)``.

    mu from xraylib (:mod:`twin.materials`, total attenuation of Si, 2.329
    g/cm3); 450 um at 13.2 keV absorb 0.79. Charge sharing, the dead layer
    and oblique incidence are neglected.
    """
    from twin.materials import Material

    e = float(arguments.energies_kev("energy_kev", energy_kev))
    t = arguments.positive("sensor_um", sensor_um, unit="um")
    si = Material.from_formula("Si", "Si", _SI_DENSITY_G_CM3, density_source="CRC Handbook")
    return float(1.0 - np.exp(-float(si.linear_attenuation_per_cm(e)) * t * 1e-4))


@dataclass(frozen=True)
class QBins:
    """q-bins of an azimuthal integration with their solid angle.

    Attributes
    ----------
    edges_inv_A : ndarray, shape (n + 1,)
        Bin edges, 1/Angstrom, increasing.
    q_inv_A : ndarray, shape (n,)
        Solid-angle-weighted mean pixel q of each bin (the geometric centre
        of the edges for an empty bin), 1/Angstrom.
    solid_angle_sr : ndarray, shape (n,)
        Summed solid angle of the unmasked pixels in each bin, sr.
    n_pixels : ndarray, shape (n,)
        Unmasked pixels in each bin.
    """

    edges_inv_A: np.ndarray
    q_inv_A: np.ndarray
    solid_angle_sr: np.ndarray
    n_pixels: np.ndarray

    @property
    def populated(self) -> np.ndarray:
        """Bins holding at least one pixel."""
        return self.n_pixels > 0


@dataclass(frozen=True, eq=False)
class DetectorCounts:
    """Counts per q-bin of :meth:`AreaDetector.counts` or :func:`poisson_curves`.

    Attributes
    ----------
    q_inv_A : ndarray, shape (nq,)
        Bin q, 1/Angstrom.
    expected : ndarray, shape (..., nq)
        Expected photons per bin N (see the module docstring).
    counts : ndarray, shape (..., nq), int64
        One Poisson draw of N.
    solid_angle_sr : ndarray, shape (nq,)
        Solid angle of each bin, sr.
    normalisation : ndarray, shape (...) or ()
        ``flux x exposure x T x thickness_cm x efficiency``: counts per
        (1/cm x sr) of intensity.
    """

    q_inv_A: np.ndarray
    expected: np.ndarray
    counts: np.ndarray
    solid_angle_sr: np.ndarray
    normalisation: np.ndarray

    @property
    def relative_error(self) -> np.ndarray:
        """Poisson relative error of each bin, ``1 / sqrt(N)`` (inf where N = 0)."""
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(self.expected)

    def curves(self, *, transmission: Any = None, metadata: dict | None = None) -> Curves:
        """The noisy counts back in absolute units: ``I = counts / (norm dOmega)``.

        sigma is ``sqrt(max(counts, 1)) / (norm dOmega)`` (Poisson; one count
        for empty bins, so that sigma > 0).
        """
        scale = np.asarray(self.normalisation)[..., None] * self.solid_angle_sr
        intensity = self.counts / scale
        sigma = np.sqrt(np.maximum(self.counts, 1)) / scale
        return Curves(self.q_inv_A, intensity, sigma, transmission=transmission, metadata=metadata or {})


def expected_counts(intensity_per_cm: Any, solid_angle_sr: Any, *, flux_ph_per_s: float, exposure_s: float,
                    transmission: Any = 1.0, thickness_cm: Any = 1.0, efficiency: float = 1.0) -> np.ndarray:
    """Expected photons per q-bin: ``flux t T d I(q) dOmega_bin efficiency``.

    Parameters
    ----------
    intensity_per_cm : array_like, shape (..., nq)
        dSigma/dOmega, 1/cm, >= 0. A path integral ``sum_i I_i l_i`` through
        a heterogeneous sample can be passed with ``thickness_cm = 1``.
    solid_angle_sr : array_like, shape (nq,)
        Solid angle of each bin, sr, >= 0.
    flux_ph_per_s : float
        Incident photons per second, > 0.
    exposure_s : float
        Exposure, s, > 0.
    transmission : float or array_like, shape (...)
        Sample transmission, in (0, 1].
    thickness_cm : float or array_like, shape (...)
        Sample thickness along the beam, cm, > 0.
    efficiency : float
        Detector efficiency, in (0, 1].

    Returns
    -------
    ndarray, shape (..., nq)
    """
    intensity = arguments.array("intensity_per_cm", intensity_per_cm, dtype_kind="iuf", finite=True)
    if intensity.ndim == 0:
        raise ValueError("intensity_per_cm: expected an array (..., nq), got a scalar")
    if (intensity < 0).any():
        raise ValueError(f"intensity_per_cm: expected intensities >= 0 (1/cm) to count photons, found "
                         f"{float(intensity[intensity < 0].ravel()[0])!r}")
    omega = arguments.array("solid_angle_sr", solid_angle_sr, ndim=(1,), dtype_kind="iuf", finite=True)
    if omega.shape[0] != intensity.shape[-1] or (omega < 0).any():
        raise ValueError(f"solid_angle_sr: expected {intensity.shape[-1]} solid angles >= 0 (sr), one per q-bin, "
                         f"got shape {omega.shape}")
    norm = _normalisation(intensity.shape[:-1], flux_ph_per_s, exposure_s, transmission, thickness_cm, efficiency)
    return intensity * omega * norm[..., None]


def _normalisation(lead: tuple[int, ...], flux_ph_per_s: float, exposure_s: float, transmission: Any,
                   thickness_cm: Any, efficiency: float) -> np.ndarray:
    flux = arguments.positive("flux_ph_per_s", flux_ph_per_s, unit="photons/s")
    t = arguments.positive("exposure_s", exposure_s, unit="s")
    eff = arguments.in_range("efficiency", efficiency, 0.0, 1.0)
    if eff == 0:
        raise ValueError(f"efficiency={efficiency!r}: expected a number in (0, 1]")
    tr = arguments.array("transmission", transmission, dtype_kind="iuf", finite=True).astype(float)
    if ((tr <= 0) | (tr > 1)).any():
        raise ValueError(f"transmission={_short(transmission)}: expected values in (0, 1]")
    d = arguments.array("thickness_cm", thickness_cm, dtype_kind="iuf", finite=True).astype(float)
    if (d <= 0).any():
        raise ValueError(f"thickness_cm={_short(thickness_cm)}: expected thicknesses > 0 (cm)")
    try:
        return np.broadcast_to(flux * t * eff * tr * d, lead).astype(float)
    except ValueError:
        raise ValueError(f"transmission {tr.shape} and thickness_cm {d.shape}: expected scalars or the leading "
                         f"shape {lead} of the intensity") from None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def poisson_curves(q_inv_A: Any, intensity_per_cm: Any, solid_angle_sr: Any, *, flux_ph_per_s: float,
                   exposure_s: float, transmission: Any = 1.0, thickness_cm: Any = 1.0, efficiency: float = 1.0,
                   seed: int | np.random.Generator | None = 0) -> DetectorCounts:
    """Expected and Poisson-drawn counts of many curves on shared q-bins (vectorised).

    See :func:`expected_counts` for the arguments; ``seed`` seeds
    :func:`numpy.random.default_rng`. Use :meth:`DetectorCounts.curves` for
    noisy Curves in 1/cm with Poisson sigma. O(n_curves x nq).
    """
    q = np.asarray(q_inv_A, dtype=float)
    intensity = np.asarray(intensity_per_cm)
    expected = expected_counts(intensity, solid_angle_sr, flux_ph_per_s=flux_ph_per_s, exposure_s=exposure_s,
                               transmission=transmission, thickness_cm=thickness_cm, efficiency=efficiency)
    norm = _normalisation(intensity.shape[:-1], flux_ph_per_s, exposure_s, transmission, thickness_cm, efficiency)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return DetectorCounts(q, expected, rng.poisson(expected), np.asarray(solid_angle_sr, dtype=float), norm)


@dataclass(frozen=True)
class AreaDetector:
    """A flat pixel detector normal to the beam.

    Parameters
    ----------
    name : str
        Label ("Eiger 9M").
    shape : (int, int)
        (rows, columns) of pixels, including inter-module gaps.
    pixel_um : float
        Pixel pitch, um, > 0.
    distance_m : float
        Sample-detector distance along the beam, m, > 0.
    beam_centre_px : (float, float) or None
        (row, column) where the direct beam meets the detector plane, in
        pixel-index units (pixel centres are integers); may lie off the
        detector. None: the detector centre ``((rows-1)/2, (cols-1)/2)``.
    beamstop_radius_mm : float
        Radius around the beam centre that is masked, mm, >= 0.
    sensor_um : float
        Silicon sensor thickness, um (efficiency from its absorption).
    efficiency : float or None
        Fixed detector efficiency in (0, 1]; None: :func:`sensor_efficiency`
        at the energy in use.

    Notes
    -----
    Per-pixel arrays (2 theta, solid angle, mask) are computed once and
    cached: 8 bytes x rows x columns each (80 MB for the Eiger 9M).
    """

    name: str
    shape: tuple[int, int]
    pixel_um: float
    distance_m: float
    beam_centre_px: tuple[float, float] | None = None
    beamstop_radius_mm: float = 0.0
    sensor_um: float = SENSOR_UM
    efficiency: float | None = None
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _set = object.__setattr__
        if not isinstance(self.name, str):
            raise TypeError(f"name={self.name!r}: expected a string")
        if not isinstance(self.shape, (tuple, list)) or len(self.shape) != 2:
            raise ValueError(f"shape={self.shape!r}: expected (rows, columns)")
        _set(self, "shape", tuple(arguments.integer(f"shape[{k}]", v, minimum=1) for k, v in enumerate(self.shape)))
        _set(self, "pixel_um", arguments.positive("pixel_um", self.pixel_um, unit="um"))
        d = arguments.positive("distance_m", self.distance_m, unit="m")
        if d > 100:
            raise ValueError(f"distance_m={self.distance_m!r}: expected a sample-detector distance in metres "
                             f"(did you pass mm? {d:g} mm is {d / 1000:g} m)")
        _set(self, "distance_m", d)
        rows, cols = self.shape
        centre = ((rows - 1) / 2, (cols - 1) / 2) if self.beam_centre_px is None else self.beam_centre_px
        if not isinstance(centre, (tuple, list)) or len(centre) != 2:
            raise ValueError(f"beam_centre_px={self.beam_centre_px!r}: expected (row, column) in pixels")
        _set(self, "beam_centre_px", tuple(arguments.finite(f"beam_centre_px[{k}]", v) for k, v in enumerate(centre)))
        _set(self, "beamstop_radius_mm", arguments.positive("beamstop_radius_mm", self.beamstop_radius_mm,
                                                            allow_zero=True, unit="mm"))
        _set(self, "sensor_um", arguments.positive("sensor_um", self.sensor_um, unit="um"))
        if self.efficiency is not None:
            eff = arguments.in_range("efficiency", self.efficiency, 0.0, 1.0)
            if eff == 0:
                raise ValueError(f"efficiency={self.efficiency!r}: expected a number in (0, 1] or None")
            _set(self, "efficiency", eff)

    def at(self, distance_m: float) -> "AreaDetector":
        """The same detector at another distance (beam centre in pixels kept); itself, with its cache, if unchanged."""
        if distance_m == self.distance_m:
            return self
        return replace(self, distance_m=distance_m)

    # ------------------------------------------------------------------ per-pixel geometry
    def _cached(self, key: str, make) -> np.ndarray:
        if key not in self._cache:
            a = make()
            a.flags.writeable = False
            self._cache[key] = a
        return self._cache[key]

    def radius_m(self) -> np.ndarray:
        """Distance of each pixel centre from the beam centre in the detector plane, m, (rows, columns)."""
        def make():
            p = self.pixel_um * 1e-6
            rows, cols = self.shape
            y = (np.arange(rows) - self.beam_centre_px[0]) * p
            x = (np.arange(cols) - self.beam_centre_px[1]) * p
            return np.hypot(y[:, None], x[None, :])
        return self._cached("r", make)

    def two_theta_rad(self) -> np.ndarray:
        """Scattering angle 2 theta of each pixel centre, rad: ``atan(r / L)`` (exact for a flat detector)."""
        return self._cached("tth", lambda: np.arctan(self.radius_m() / self.distance_m))

    def q_inv_A(self, energy_kev: float) -> np.ndarray:
        """q of each pixel centre, 1/Angstrom, (rows, columns): ``4 pi sin(theta) / lambda``."""
        return q_from_two_theta(self.two_theta_rad(), energy_kev)

    def solid_angle_sr(self) -> np.ndarray:
        """Solid angle of each pixel seen from the sample, sr: ``p^2 cos^3(2 theta) / L^2``."""
        def make():
            p = self.pixel_um * 1e-6
            return p * p * np.cos(self.two_theta_rad()) ** 3 / self.distance_m ** 2
        return self._cached("omega", make)

    def mask(self) -> np.ndarray:
        """Pixels that record nothing (True): those behind the beamstop."""
        return self._cached("mask", lambda: self.radius_m() < self.beamstop_radius_mm * 1e-3)

    def efficiency_at(self, energy_kev: float) -> float:
        """The fixed efficiency, or the absorption of the silicon sensor at ``energy_kev``."""
        return self.efficiency if self.efficiency is not None else sensor_efficiency(float(energy_kev),
                                                                                      self.sensor_um)

    def _valid(self, mask: Any) -> np.ndarray:
        valid = ~self.mask()
        if mask is not None:
            m = arguments.array("mask", mask, shape=self.shape)
            if m.dtype.kind not in "biu":
                raise TypeError(f"mask: expected a boolean or integer array (nonzero = masked), got {m.dtype}")
            valid = valid & (m == 0)
        if not valid.any():
            raise ValueError("mask: every pixel is masked")
        return valid

    def q_range(self, energy_kev: float, mask: Any = None) -> tuple[float, float]:
        """(q_min, q_max) over the pixel centres that are not masked, 1/Angstrom.

        Eiger 9M at 2 m, 13.2 keV, 1 mm beamstop: (0.0033, 0.56); its edge
        midpoints reach 0.39 (horizontal) and 0.41 (vertical).
        """
        tth = self.two_theta_rad()[self._valid(mask)]
        lo, hi = q_from_two_theta(np.array([tth.min(), tth.max()]), energy_kev)
        return float(lo), float(hi)

    def q_bins(self, energy_kev: float, n_bins: int = 100, *, spacing: str = "log", q_min_inv_A: float | None = None,
               q_max_inv_A: float | None = None, mask: Any = None) -> QBins:
        """Bins of q over the detector with the solid angle of each.

        Parameters
        ----------
        energy_kev : float
            Photon energy, keV.
        n_bins : int
            Number of bins, >= 1.
        spacing : {"log", "linear"}
            Logarithmic (SAXS) or linear (WAXS; seeds/000 used 39 linear
            q-bins for tomography) bin edges.
        q_min_inv_A, q_max_inv_A : float, optional
            Range; default :meth:`q_range` (edges widened by 1e-9 so the
            extreme pixels fall inside).
        mask : array_like of bool, shape ``self.shape``, optional
            Extra masked pixels (True / nonzero), on top of the beamstop.

        Returns
        -------
        QBins
        """
        n = arguments.integer("n_bins", n_bins, minimum=1)
        arguments.one_of("spacing", spacing, ("log", "linear"))
        valid = self._valid(mask)
        lo, hi = self.q_range(energy_kev, mask)
        if q_min_inv_A is None and spacing == "log" and lo <= 0:
            # A pixel centred on the direct beam (no beamstop) has q = 0, which no log bin holds: it is left out.
            q = self.q_inv_A(energy_kev)[valid]
            lo = float(q[q > 0].min())
        lo = lo * (1 - 1e-9) if q_min_inv_A is None else arguments.positive("q_min_inv_A", q_min_inv_A)
        hi = hi * (1 + 1e-9) if q_max_inv_A is None else arguments.positive("q_max_inv_A", q_max_inv_A)
        if hi <= lo:
            raise ValueError(f"q_max_inv_A={hi!r}: expected more than q_min_inv_A={lo!r}")
        edges = np.geomspace(lo, hi, n + 1) if spacing == "log" else np.linspace(lo, hi, n + 1)
        return self._bin(edges, energy_kev, valid)

    def _bin(self, edges: np.ndarray, energy_kev: float, valid: np.ndarray) -> QBins:
        q = self.q_inv_A(energy_kev)[valid]
        omega = self.solid_angle_sr()[valid]
        index, n = self._index(q, edges)
        n_px = np.bincount(index, minlength=n + 1)[:n]
        om = np.bincount(index, weights=omega, minlength=n + 1)[:n]
        qw = np.bincount(index, weights=omega * q, minlength=n + 1)[:n]
        centre = np.sqrt(edges[:-1] * edges[1:]) if edges[0] > 0 else 0.5 * (edges[:-1] + edges[1:])
        with np.errstate(invalid="ignore", divide="ignore"):
            q_mean = np.where(n_px > 0, qw / np.where(om > 0, om, 1.0), centre)
        return QBins(edges, q_mean, om, n_px)

    @staticmethod
    def _index(q: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int]:
        """Bin index of each q (n for outside), and n."""
        n = edges.size - 1
        index = np.searchsorted(edges, q, side="right") - 1
        index[(index < 0) | (index >= n)] = n
        return index, n

    def _edges(self, q_bins: Any, energy_kev: float, mask: Any) -> np.ndarray:
        if isinstance(q_bins, QBins):
            return q_bins.edges_inv_A
        if isinstance(q_bins, (int, np.integer)) and not isinstance(q_bins, bool):
            return self.q_bins(energy_kev, int(q_bins), mask=mask).edges_inv_A
        edges = arguments.array("q_bins", q_bins, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
        if edges.size < 2 or not (np.diff(edges) > 0).all() or edges[0] < 0:
            raise ValueError(f"q_bins: expected an int, QBins or increasing edges >= 0 (1/Angstrom), at least 2, "
                             f"got {_short(q_bins)}")
        return edges

    # ------------------------------------------------------------------ images and integration
    def image(self, curve_q_inv_A: Any, curve_intensity_per_cm: Any, energy_kev: float, *,
              scale: float = 1.0) -> np.ndarray:
        """Expected detector image of an isotropic curve: ``scale x I(q_pixel) x Omega_pixel``.

        Parameters
        ----------
        curve_q_inv_A, curve_intensity_per_cm : array_like, shape (nq,)
            The curve (interpolated log-log where it is > 0, else linearly).
        energy_kev : float
            Photon energy, keV.
        scale : float
            Counts per (1/cm x sr), e.g. ``flux t T d efficiency``; 1 gives
            ``I Omega`` in 1/cm x sr.

        Returns
        -------
        ndarray, (rows, columns)
            Zero behind the beamstop and where q lies outside the curve.
            O(rows x columns).
        """
        curve = Curves(curve_q_inv_A, curve_intensity_per_cm)
        if curve.shape != ():
            raise ValueError(f"curve_intensity_per_cm: expected one curve (nq,), got shape {curve.shape}")
        s = arguments.positive("scale", scale, allow_zero=True)
        q = self.q_inv_A(energy_kev)
        inside = ~self.mask() & (q >= curve.q_inv_A[0]) & (q <= curve.q_inv_A[-1])
        out = np.zeros(self.shape)
        out[inside] = curve.interpolate(q[inside]) * self.solid_angle_sr()[inside] * s
        return out

    def azimuthal_integrate(self, image: Any, energy_kev: float, q_bins: Any = 100, mask: Any = None, *,
                            normalisation: float = 1.0, poisson: bool = False, metadata: dict | None = None) -> Curves:
        """Azimuthal integration of an image into a curve in absolute units.

        ``I_bin = sum_pixels C / (normalisation x sum_pixels Omega)``: the
        solid-angle-weighted mean of ``C / (normalisation Omega)`` over the
        unmasked pixels of each bin, by two :func:`numpy.bincount` calls;
        O(rows x columns). The bin q is the solid-angle-weighted mean pixel
        q. Empty bins are dropped.

        Parameters
        ----------
        image : array_like, (rows, columns)
            Counts (or expected counts) per pixel, finite.
        energy_kev : float
            Photon energy, keV.
        q_bins : int, QBins or array_like of edges
            Number of log bins over :meth:`q_range`, or bins, or edges
            (1/Angstrom).
        mask : array_like of bool, optional
            Pixels to ignore (True / nonzero), on top of the beamstop.
        normalisation : float
            ``flux t T thickness_cm efficiency``, counts per (1/cm sr); 1
            for an image of ``I Omega``.
        poisson : bool
            Attach Poisson uncertainties ``sqrt(max(sum C, 1)) / (norm sum
            Omega)`` (the image must hold counts).
        metadata : dict, optional
            Metadata of the returned Curves (energy_kev is added).

        Returns
        -------
        Curves
            One curve.
        """
        img = arguments.array("image", image, shape=self.shape, dtype_kind="iuf", finite=True)
        norm = arguments.positive("normalisation", normalisation)
        valid = self._valid(mask)
        edges = self._edges(q_bins, energy_kev, mask)
        q = self.q_inv_A(energy_kev)[valid]
        omega = self.solid_angle_sr()[valid]
        index, n = self._index(q, edges)
        om = np.bincount(index, weights=omega, minlength=n + 1)[:n]
        total = np.bincount(index, weights=img[valid].astype(float), minlength=n + 1)[:n]
        qw = np.bincount(index, weights=omega * q, minlength=n + 1)[:n]
        keep = om > 0
        if not keep.any():
            raise ValueError(f"q_bins: no pixel falls in the bins [{edges[0]:g}, {edges[-1]:g}] 1/Angstrom")
        scale = norm * om[keep]
        sigma = np.sqrt(np.maximum(total[keep], 1.0)) / scale if poisson else None
        meta = {"energy_kev": float(energy_kev), "detector": self.name, "distance_m": self.distance_m}
        meta.update(metadata or {})
        return Curves(qw[keep] / om[keep], total[keep] / scale, sigma, metadata=meta)

    def counts(self, curve_q_inv_A: Any, curve_intensity_per_cm: Any, energy_kev: float, *, flux_ph_per_s: float,
               exposure_s: float, thickness_cm: float, transmission: float = 1.0, n_bins: int = 100,
               spacing: str = "log", mask: Any = None, seed: int | np.random.Generator | None = 0) -> DetectorCounts:
        """Expected and Poisson counts per q-bin of a sample with curve ``I(q)`` on this detector.

        ``N = flux x exposure x T x thickness_cm x I(q_bin) x dOmega_bin x
        efficiency`` on the bins of :meth:`q_bins` (populated ones only),
        with I interpolated at the bin q; the efficiency is
        :meth:`efficiency_at`. Bins outside the curve's q-range are refused.

        Returns
        -------
        DetectorCounts
        """
        bins = self.q_bins(energy_kev, n_bins, spacing=spacing, mask=mask)
        keep = bins.populated
        curve = Curves(curve_q_inv_A, curve_intensity_per_cm)
        intensity = curve.interpolate(bins.q_inv_A[keep])
        return poisson_curves(bins.q_inv_A[keep], intensity, bins.solid_angle_sr[keep], flux_ph_per_s=flux_ph_per_s,
                              exposure_s=exposure_s, transmission=transmission, thickness_cm=thickness_cm,
                              efficiency=self.efficiency_at(energy_kev), seed=seed)


def _waxs_centre(gap_mm: float, pixel_um: float, columns: int) -> tuple[float, float]:
    """Beam centre of a vertical strip whose top edge lies ``gap_mm`` below the beam, centred in x."""
    return (-0.5 - gap_mm * 1e3 / pixel_um, (columns - 1) / 2)


#: Dectris EIGER2 X 9M: 3108 x 3262 pixels (W x H) of 75 um, 233.1 x 244.7 mm (Dectris datasheet), as the SAXS
#: detector of the seeds/000 operando experiment at 2 m; beam at the centre, 1 mm beamstop (assumed).
EIGER_9M = AreaDetector("Eiger 9M", (3262, 3108), 75.0, SAXS_DISTANCE_M, beamstop_radius_mm=BEAMSTOP_RADIUS_MM)
#: Dectris PILATUS 2M: 1475 x 1679 pixels (W x H) of 172 um, 253.7 x 288.8 mm (Dectris datasheet), the SAXS
#: detector of the seeds/000 ex situ tomography, at 2 m; beam at the centre, 1 mm beamstop (assumed).
PILATUS_2M = AreaDetector("Pilatus 2M", (1679, 1475), 172.0, SAXS_DISTANCE_M, beamstop_radius_mm=BEAMSTOP_RADIUS_MM)
#: Dectris PILATUS 300K-W: 1475 x 195 pixels (W x H) of 172 um, 253.7 x 33.5 mm (Dectris datasheet), "oriented
#: as a vertical strip ... below the sample" at 0.6 m (seeds/000 Methods): 1475 rows x 195 columns, the top
#: edge :data:`WAXS_GAP_MM` below the beam, centred horizontally. q = 0.33 - 2.93 1/A at 13.2 keV.
PILATUS_300K_W = AreaDetector("Pilatus 300K-W", (1475, 195), 172.0, WAXS_DISTANCE_M,
                              beam_centre_px=_waxs_centre(WAXS_GAP_MM, 172.0, 195))

#: Preset detectors by lower-case name (command line).
PRESETS = {"eiger_9m": EIGER_9M, "pilatus_2m": PILATUS_2M, "pilatus_300k_w": PILATUS_300K_W}
