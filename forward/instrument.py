"""Instrument descriptions shared by every modality: source spectrum, beam, detector and scan.

Each class is a frozen dataclass validated when it is built (DESIGN.md,
"Errors and data"): a negative exposure, a detector pixel outside the
detector or an energy of 8333 keV meant as eV is refused with a message that
names the argument, the value and what was expected. Inputs are converted
once, at construction: sequences become tuples, arrays become read-only
numpy arrays, so an instrument cannot change after a measurement has been
simulated with it.

Conventions
-----------
- Transverse beam quantities are given as ``(horizontal, vertical)``
  (``Beam.size_um``, ``Scan.raster_step_um``); array shapes are given as
  numpy gives them, ``(rows, cols)`` or ``(n_vertical, n_horizontal)``.
- Photon energies are in keV and must lie in xraylib's tabulated range
  (:data:`xtwin.arguments.XRAYLIB_ENERGY_RANGE_KEV`).
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import xraylib_np
from numpy.typing import ArrayLike

from xtwin.arguments import XRAYLIB_ENERGY_RANGE_KEV, array, energies_kev, in_range, integer, one_of, positive
from xtwin.files import write_text

__all__ = ["Spectrum", "Beam", "Detector", "Scan", "HC_KEV_A"]

#: Planck constant times speed of light, keV Angstrom (CODATA 2018, exact SI
#: values of h, c and e): wavelength_A = HC_KEV_A / energy_kev.
HC_KEV_A = 12.398419843320026

#: Lowest energy of the bremsstrahlung grid of :meth:`Spectrum.tungsten_tube`,
#: keV. Below ~1 keV a tube window absorbs everything, and xraylib's tables
#: stop at 0.1 keV anyway.
_TUBE_MIN_KEV = 1.0

#: Aluminium filter: atomic number and density (g/cm3, bulk metal).
_AL_Z = 13
_AL_DENSITY_G_PER_CM3 = 2.699

#: Weights whose sum is this close to 1 are kept as given, so that
#: normalising is idempotent and a spectrum read back from its own column
#: file is bit-identical (re-dividing by a sum of 1 +- 1 ulp would change
#: the last bits).
_NORMALISED_ATOL = 1e-12


class _ValueEquality:
    """Equality and hashing by field values, numpy arrays included.

    The dataclass-generated ``__eq__`` compares fields as tuples, which
    raises "truth value of an array is ambiguous" for array fields; here
    arrays compare element-wise and hash by their bytes.
    """

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(np.array_equal(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    def __hash__(self) -> int:
        return hash(tuple(_hashable(getattr(self, f.name)) for f in fields(self)))


def _hashable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return (value.shape, value.dtype.str, value.tobytes())
    return value


def _read_only(a: np.ndarray) -> np.ndarray:
    # Copy first: the caller may still hold (and later modify) the input array.
    a = np.array(a, copy=True)
    a.flags.writeable = False
    return a


def _set(obj: object, name: str, value: Any) -> None:
    # Frozen dataclasses may only be written through object.__setattr__.
    object.__setattr__(obj, name, value)


def _positive_pair(name: str, value: Any, unit: str) -> tuple[float, float]:
    """Return a pair of positive floats; a scalar is repeated (a square)."""
    if np.ndim(value) == 0:
        v = positive(name, value, unit=unit)
        return (v, v)
    # tolist() gives Python numbers, which print plainly in error messages.
    h, v = array(name, value, shape=(2,), dtype_kind="iuf").tolist()
    return (positive(f"{name}[0]", h, unit=unit), positive(f"{name}[1]", v, unit=unit))


def _scalar_energy_kev(name: str, value: Any) -> float:
    e = energies_kev(name, value)
    if e.ndim != 0:
        raise ValueError(f"{name}={value!r}: expected a single photon energy in keV, got shape {e.shape}")
    return float(e)


def _pixels(name: str, value: Any, shape: tuple[int, int]) -> np.ndarray:
    """Return (n, 2) integer (row, col) pixel indices, all inside ``shape``."""
    a = np.asarray(value)
    if a.size == 0:
        return _read_only(np.empty((0, 2), dtype=np.intp))
    a = array(name, a, ndim=(2,), dtype_kind="iu")
    if a.shape[1] != 2:
        raise ValueError(f"{name}: expected an (n, 2) array of (row, col) indices, got shape {a.shape}")
    outside = (a < 0).any(axis=1) | (a[:, 0] >= shape[0]) | (a[:, 1] >= shape[1])
    if outside.any():
        row, col = a[outside][0]
        raise ValueError(
            f"{name}: pixel (row={row}, col={col}) lies outside the detector of shape {shape}; "
            f"expected 0 <= row < {shape[0]} and 0 <= col < {shape[1]}"
        )
    return _read_only(a.astype(np.intp))


@dataclass(frozen=True, eq=False)
class Spectrum(_ValueEquality):
    """Polychromatic source spectrum: photon energies and their relative weights.

    Parameters
    ----------
    energies_kev : array_like, shape (n,)
        Photon energies, keV, strictly increasing, within xraylib's range.
    weights : array_like, shape (n,)
        Relative number of photons at each energy (>= 0, not all zero),
        dimensionless. Normalised to sum 1 on construction; for a continuum
        sampled on a uniform grid the weight is the photon density per keV
        times the grid step.

    Attributes
    ----------
    energies_kev, weights : numpy.ndarray, shape (n,), read-only
        As above; ``weights.sum() == 1`` to rounding.
    """

    energies_kev: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        e = energies_kev("energies_kev", self.energies_kev)
        if e.ndim != 1 or e.size == 0:
            raise ValueError(f"energies_kev: expected a non-empty 1D array of energies in keV, got shape {e.shape}")
        if np.any(np.diff(e) <= 0):
            i = int(np.argmax(np.diff(e) <= 0))
            raise ValueError(
                f"energies_kev: expected strictly increasing energies, got {e[i]:g} keV "
                f"followed by {e[i + 1]:g} keV at index {i + 1}"
            )
        w = array("weights", self.weights, shape=e.shape, dtype_kind="iuf", finite=True).astype(float)
        if np.any(w < 0):
            raise ValueError(f"weights: expected weights >= 0, got {w[w < 0][0]:g} at index {int(np.argmax(w < 0))}")
        total = w.sum()
        if total <= 0:
            raise ValueError("weights: expected at least one weight > 0, got all zero")
        if abs(total - 1.0) > _NORMALISED_ATOL:
            w = w / total
        _set(self, "energies_kev", _read_only(e))
        _set(self, "weights", _read_only(w))

    @property
    def mean_energy_kev(self) -> float:
        """Photon-number-weighted mean energy, keV."""
        return float(np.dot(self.energies_kev, self.weights))

    @classmethod
    def monochromatic(cls, energy_kev: float) -> Spectrum:
        """A spectrum of one line at ``energy_kev`` (keV) with weight 1."""
        return cls(np.array([_scalar_energy_kev("energy_kev", energy_kev)]), np.array([1.0]))

    @classmethod
    def tungsten_tube(cls, kvp: float, n: int = 500, filtration_mm_al: float = 0.0) -> Spectrum:
        """Bremsstrahlung continuum of an X-ray tube, after Kramers' law.

        The photon number per unit energy is taken as ``(kvp - E) / E``
        (Kramers 1923, thick-target continuum; the intensity ``E dN/dE`` is
        then linear in E), sampled at the centres of ``n`` equal bins from
        1 keV to ``kvp``. An aluminium filter of thickness ``t`` multiplies
        it by ``exp(-(mu/rho)(E) rho t)``, with the total mass attenuation
        coefficient of Al from xraylib (``CS_Total``, coherent scattering
        included) and rho = 2.699 g/cm3.

        Approximations: the characteristic W L and K lines (8-12 keV and,
        above 69.5 kV, 58-69 keV) are not included, nor is the self-absorption
        of the anode or the tube window; the result is a teaching-grade
        continuum, not a measured tube spectrum.

        Parameters
        ----------
        kvp : float
            Tube voltage, kV; the spectrum ends at ``kvp`` keV. In (1, 800].
        n : int
            Number of energy samples (bins), >= 1.
        filtration_mm_al : float
            Aluminium filter thickness, mm, >= 0.

        Returns
        -------
        Spectrum
            Energies at the bin centres, keV, and normalised weights.
        """
        k = in_range("kvp", kvp, _TUBE_MIN_KEV, XRAYLIB_ENERGY_RANGE_KEV[1], unit="kV")
        if k == _TUBE_MIN_KEV:
            raise ValueError(f"kvp={kvp!r}: expected a tube voltage in ({_TUBE_MIN_KEV}, {XRAYLIB_ENERGY_RANGE_KEV[1]}] kV")
        n = integer("n", n, minimum=1)
        t_mm = positive("filtration_mm_al", filtration_mm_al, allow_zero=True, unit="mm")
        edges = np.linspace(_TUBE_MIN_KEV, k, n + 1)
        e = 0.5 * (edges[:-1] + edges[1:])
        w = (k - e) / e
        if t_mm > 0:
            mu_rho_cm2_per_g = xraylib_np.CS_Total(np.array([_AL_Z]), e)[0]
            w = w * np.exp(-mu_rho_cm2_per_g * _AL_DENSITY_G_PER_CM3 * (t_mm / 10.0))
            if not np.any(w > 0):
                raise ValueError(
                    f"filtration_mm_al={filtration_mm_al!r}: the filter absorbs the whole "
                    f"{k:g} kVp spectrum (transmission underflows to 0); expected a thinner filter"
                )
        return cls(e, w)

    @classmethod
    def from_columns(cls, path: str | os.PathLike) -> Spectrum:
        """Read a spectrum from two-column text: energy (keV), weight.

        Lines starting with ``#`` are comments; columns are separated by
        white space. Weights need not be normalised.
        """
        try:
            table = np.loadtxt(path, comments="#", ndmin=2, dtype=float)
        except ValueError as err:
            raise ValueError(f"{path}: expected two numeric columns (energy keV, weight): {err}") from None
        if table.shape[1] != 2:
            raise ValueError(f"{path}: expected two columns (energy keV, weight), got {table.shape[1]}")
        return cls(table[:, 0], table[:, 1])

    def to_columns(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write the spectrum as two-column text, atomically.

        Values are printed with 17 significant digits, enough to read back
        the same doubles, so ``Spectrum.from_columns`` returns an equal
        spectrum. An existing file is refused (``FileExistsError``) unless
        ``overwrite`` is true.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        rows = "".join(f"{e:.17g} {w:.17g}\n" for e, w in zip(self.energies_kev, self.weights))
        return write_text(path, "# energy_kev weight\n" + rows, overwrite=overwrite)



@dataclass(frozen=True)
class Beam:
    """Incident X-ray beam at the sample.

    Give either a photon energy (monochromatic beam) or a ``spectrum``
    (polychromatic beam); with a spectrum, ``energy_kev`` may be omitted and
    is then its mean energy.

    Parameters
    ----------
    energy_kev : float or None
        Photon energy, keV (the mean energy for a polychromatic beam).
    bandwidth_rel : float
        Relative bandwidth of a monochromatic beam, Delta E / E FWHM,
        dimensionless, in [0, 1). 1e-4 is a Si(111) double-crystal
        monochromator. Not used when ``spectrum`` is given, which then
        defines the energy distribution.
    flux_ph_per_s : float
        Photons per second in the whole beam, > 0.
    profile : {"flat", "gaussian"}
        Transverse intensity profile.
    size_um : float or (float, float)
        (horizontal, vertical) beam size, um: the full width of a flat beam,
        the FWHM of a Gaussian one. A scalar means a square beam.
    spectrum : Spectrum or None
        Source spectrum of a polychromatic beam.
    """

    energy_kev: float | None = None
    bandwidth_rel: float = 1e-4
    flux_ph_per_s: float = 1e12
    profile: str = "flat"
    size_um: tuple[float, float] = (1000.0, 1000.0)
    spectrum: Spectrum | None = None

    def __post_init__(self) -> None:
        if self.spectrum is not None and not isinstance(self.spectrum, Spectrum):
            raise TypeError(f"spectrum={self.spectrum!r}: expected a Spectrum or None")
        if self.energy_kev is None:
            if self.spectrum is None:
                raise ValueError("energy_kev=None: expected a photon energy in keV, or a spectrum to take it from")
            _set(self, "energy_kev", self.spectrum.mean_energy_kev)
        else:
            e = _scalar_energy_kev("energy_kev", self.energy_kev)
            if self.spectrum is not None:
                mean = self.spectrum.mean_energy_kev
                if abs(e - mean) > 1e-9 * mean:
                    raise ValueError(
                        f"energy_kev={self.energy_kev!r}: expected the spectrum's mean energy "
                        f"{mean!r} keV (or energy_kev=None to take it from the spectrum)"
                    )
            _set(self, "energy_kev", e)
        bw = in_range("bandwidth_rel", self.bandwidth_rel, 0.0, 1.0)
        if bw == 1.0:
            raise ValueError(f"bandwidth_rel={self.bandwidth_rel!r}: expected a number in [0, 1)")
        _set(self, "bandwidth_rel", bw)
        _set(self, "flux_ph_per_s", positive("flux_ph_per_s", self.flux_ph_per_s, unit="photons/s"))
        one_of("profile", self.profile, ("flat", "gaussian"))
        _set(self, "size_um", _positive_pair("size_um", self.size_um, "um"))

    @property
    def wavelength_A(self) -> float:
        """Wavelength at ``energy_kev``, Angstrom (hc = 12.398419843320026 keV A, CODATA 2018)."""
        return HC_KEV_A / self.energy_kev

    @property
    def is_polychromatic(self) -> bool:
        """True when the beam has a spectrum of more than one energy."""
        return self.spectrum is not None and self.spectrum.energies_kev.size > 1

    @property
    def effective_area_um2(self) -> float:
        """Area that spreads the whole flux at the peak fluence, um^2.

        Flat: ``h * v``. Gaussian: ``2 pi sigma_h sigma_v = pi / (4 ln 2)
        FWHM_h FWHM_v``, since a 2D Gaussian of N photons has peak density
        ``N / (2 pi sigma_h sigma_v)`` and ``FWHM = 2 sqrt(2 ln 2) sigma``.
        """
        h, v = self.size_um
        if self.profile == "gaussian":
            return np.pi / (4.0 * np.log(2.0)) * h * v
        return h * v

    def fluence_ph_per_um2(self, exposure_s: float) -> float:
        """Peak photon fluence at the sample during one exposure, photons/um^2.

        Parameters
        ----------
        exposure_s : float
            Exposure time, s, > 0.

        Returns
        -------
        float
            ``flux_ph_per_s * exposure_s / effective_area_um2``: uniform over a
            flat beam, at the centre of a Gaussian one.
        """
        t = positive("exposure_s", exposure_s, unit="s")
        return self.flux_ph_per_s * t / self.effective_area_um2


@dataclass(frozen=True, eq=False)
class Detector(_ValueEquality):
    """Area detector, integrating or energy-resolving.

    Parameters
    ----------
    shape : (int, int)
        (rows, cols) of physical pixels, each >= 1.
    pixel_size_um : float
        Physical pixel pitch, um, > 0 (square pixels). For a microscope, the
        pixel size referred to the sample.
    binning : int
        Pixels summed along each axis on read-out, 1 <= binning <= min(shape).
    efficiency : float
        Detective quantum efficiency, dimensionless, in (0, 1].
    read_noise_e : float
        Read noise, rms electrons (or counts) per pixel per frame, >= 0.
    dark_counts : float
        Mean dark signal, counts per pixel per frame, >= 0.
    energy_resolution_fwhm_kev : float or None
        Energy resolution (FWHM), keV, at ``resolution_reference_kev``, >= 0
        (0: ideal). None for an integrating detector.
    resolution_reference_kev : float
        Energy at which the FWHM is quoted, keV; default the 59.54 keV
        gamma line of Am-241 used to characterise CdTe/CdZnTe detectors.
    energy_bin_kev : float or None
        Width of the recorded energy channels, keV, > 0; only for an
        energy-resolving detector.
    dead_pixels, hot_pixels : array_like of int, shape (n, 2)
        (row, col) of unusable pixels, inside ``shape``; default none.
    psf_fwhm_px : float
        FWHM of the point-spread function, physical pixels, >= 0.
    """

    shape: tuple[int, int]
    pixel_size_um: float
    binning: int = 1
    efficiency: float = 1.0
    read_noise_e: float = 0.0
    dark_counts: float = 0.0
    energy_resolution_fwhm_kev: float | None = None
    resolution_reference_kev: float = 59.54
    energy_bin_kev: float | None = None
    dead_pixels: ArrayLike = ()
    hot_pixels: ArrayLike = ()
    psf_fwhm_px: float = 0.0

    def __post_init__(self) -> None:
        if np.ndim(self.shape) != 1 or len(self.shape) != 2:
            raise ValueError(f"shape={self.shape!r}: expected (rows, cols)")
        shape = (integer("shape[0]", self.shape[0], minimum=1), integer("shape[1]", self.shape[1], minimum=1))
        _set(self, "shape", shape)
        _set(self, "pixel_size_um", positive("pixel_size_um", self.pixel_size_um, unit="um"))
        b = integer("binning", self.binning, minimum=1)
        if b > min(shape):
            raise ValueError(f"binning={self.binning!r}: expected at most min(shape) = {min(shape)}")
        _set(self, "binning", b)
        eff = in_range("efficiency", self.efficiency, 0.0, 1.0)
        if eff == 0.0:
            raise ValueError(f"efficiency={self.efficiency!r}: expected a number in (0, 1]")
        _set(self, "efficiency", eff)
        _set(self, "read_noise_e", positive("read_noise_e", self.read_noise_e, allow_zero=True, unit="electrons rms"))
        _set(self, "dark_counts", positive("dark_counts", self.dark_counts, allow_zero=True, unit="counts/pixel/frame"))
        if self.energy_resolution_fwhm_kev is not None:
            _set(self, "energy_resolution_fwhm_kev",
                 positive("energy_resolution_fwhm_kev", self.energy_resolution_fwhm_kev, allow_zero=True, unit="keV"))
        _set(self, "resolution_reference_kev", _scalar_energy_kev("resolution_reference_kev", self.resolution_reference_kev))
        if self.energy_bin_kev is not None:
            if self.energy_resolution_fwhm_kev is None:
                raise ValueError(
                    f"energy_bin_kev={self.energy_bin_kev!r}: an integrating detector "
                    "(energy_resolution_fwhm_kev=None) has no energy channels; expected None"
                )
            _set(self, "energy_bin_kev", positive("energy_bin_kev", self.energy_bin_kev, unit="keV"))
        _set(self, "dead_pixels", _pixels("dead_pixels", self.dead_pixels, shape))
        _set(self, "hot_pixels", _pixels("hot_pixels", self.hot_pixels, shape))
        _set(self, "psf_fwhm_px", positive("psf_fwhm_px", self.psf_fwhm_px, allow_zero=True, unit="pixels"))

    @property
    def is_energy_resolving(self) -> bool:
        """True when the detector records photon energies."""
        return self.energy_resolution_fwhm_kev is not None

    @property
    def binned_shape(self) -> tuple[int, int]:
        """(rows, cols) after binning; incomplete edge blocks are dropped."""
        return (self.shape[0] // self.binning, self.shape[1] // self.binning)

    @property
    def binned_pixel_size_um(self) -> float:
        """Pixel pitch after binning, um."""
        return self.pixel_size_um * self.binning

    @property
    def field_of_view_um(self) -> tuple[float, float]:
        """(height, width) covered by all physical pixels, um."""
        return (self.shape[0] * self.pixel_size_um, self.shape[1] * self.pixel_size_um)

    def fwhm_kev(self, energy_kev: ArrayLike) -> float | np.ndarray:
        """Energy resolution (FWHM) at ``energy_kev``, keV.

        Scales as ``FWHM(E) = FWHM_ref sqrt(E / E_ref)``: the Fano-limited
        charge statistics of a semiconductor sensor, FWHM = 2.355 sqrt(F w E).
        Approximation: the energy-independent electronic noise and
        charge-trapping tails are ignored, so the resolution is too good well
        below ``resolution_reference_kev``.

        Parameters
        ----------
        energy_kev : float or array_like
            Photon energies, keV.

        Returns
        -------
        float or numpy.ndarray
            FWHM, keV, of the shape of ``energy_kev``.
        """
        if self.energy_resolution_fwhm_kev is None:
            raise ValueError(
                "energy_resolution_fwhm_kev=None: this is an integrating detector; "
                "expected an energy-resolving one to ask for its resolution"
            )
        e = energies_kev("energy_kev", energy_kev)
        fwhm = self.energy_resolution_fwhm_kev * np.sqrt(e / self.resolution_reference_kev)
        return float(fwhm) if fwhm.ndim == 0 else fwhm

    def pixel_mask(self) -> np.ndarray:
        """Usable pixels.

        Returns
        -------
        numpy.ndarray of bool, shape ``shape``
            True where the pixel is neither dead nor hot.
        """
        mask = np.ones(self.shape, dtype=bool)
        for bad in (self.dead_pixels, self.hot_pixels):
            mask[bad[:, 0], bad[:, 1]] = False
        return mask

    @classmethod
    def hexitec(cls) -> Detector:
        """HEXITEC energy-resolving pixel detector as used for X-ray Compton scattering imaging.

        80 x 80 pixels of 250 um, a 2 mm thick CdZnTe sensor, data cube
        0-200 keV in 0.2 keV channels, energy resolution 0.93 +- 0.19 keV FWHM
        measured on the 59.54 keV line of Am-241. Source: Leung, Wilson,
        Connolley & Huang (2024), "Mapping of lithium ion concentrations in 3D
        structures through development of in situ correlative imaging of
        X-ray Compton scattering-computed tomography", Section 2.1 (In situ
        correlative XCS-CT setup); ../shared/seeds/001_1c612c8980073854.txt.

        The sensor's absorption efficiency is left at 1: it depends on energy
        and belongs to the forward model. Use ``dataclasses.replace`` to
        change any field.
        """
        return cls(shape=(80, 80), pixel_size_um=250.0, energy_resolution_fwhm_kev=0.93,
                   resolution_reference_kev=59.54, energy_bin_kev=0.2)

    @classmethod
    def txm_nanoct(cls) -> Detector:
        """Lab nano-CT (Zeiss Xradia 810 Ultra, 5.4 keV) camera referred to the sample.

        A square 1024 x 1024 pixel detector read with binning 8, giving
        128 x 128 pixels of 0.512 um. Source: Heenan et al. (2020), "Resolving
        Li-Ion Battery Electrode Particles Using Rapid Lab-Based X-Ray
        Nano-Computed Tomography for High-Throughput Quantification",
        Adv. Sci., Section 4 (Experimental Section, "Preparation" and "X-Ray
        Imaging"); ../shared/seeds/002_8e90cf42ff078ba1.txt.

        The paper states both a "64 x 64 um" field of view and a 512 nm binned
        pixel, which disagree by 2.4 % (64 um / 1024 x 8 = 0.5 um). The pixel
        size is stated three times to three digits (512 nm pixel and voxel), the
        field of view is a round figure, so the physical pixel is taken as
        0.512 / 8 = 0.064 um and the field of view is 1024 x 0.064 = 65.536 um.
        """
        return cls(shape=(1024, 1024), pixel_size_um=0.512 / 8, binning=8)


@dataclass(frozen=True, eq=False)
class Scan(_ValueEquality):
    """Acquisition sequence: exposure, rotation angles, raster and references.

    A scan may rotate (tomography), raster (scanning SAXS/WAXS, Compton
    mapping), do both, or neither (a single exposure).

    Parameters
    ----------
    exposure_s : float
        Exposure per point (and per flat or dark frame), s, > 0.
    angles_deg : array_like, shape (n,), or None
        Rotation angles, degrees, finite; at least one.
    raster_step_um : float or (float, float) or None
        (horizontal, vertical) raster step, um, > 0; a scalar is square.
        Given together with ``raster_shape``.
    raster_shape : (int, int) or None
        (n_vertical, n_horizontal) raster points, each >= 1.
    n_flats, n_darks : int
        Flat-field (beam, no sample) and dark (no beam) frames, >= 0.
    overhead_s : float
        Dead time per point (motor moves, read-out), s, >= 0.
    """

    exposure_s: float
    angles_deg: ArrayLike | None = None
    raster_step_um: tuple[float, float] | None = None
    raster_shape: tuple[int, int] | None = None
    n_flats: int = 0
    n_darks: int = 0
    overhead_s: float = 0.0

    def __post_init__(self) -> None:
        _set(self, "exposure_s", positive("exposure_s", self.exposure_s, unit="s"))
        if self.angles_deg is not None:
            a = array("angles_deg", self.angles_deg, ndim=(1,), dtype_kind="iuf", finite=True)
            if a.size == 0:
                raise ValueError("angles_deg: expected at least one angle, got an empty array (or None for no rotation)")
            _set(self, "angles_deg", _read_only(a.astype(float)))
        if (self.raster_step_um is None) != (self.raster_shape is None):
            raise ValueError(
                f"raster_step_um={self.raster_step_um!r}, raster_shape={self.raster_shape!r}: "
                "expected both (a raster) or neither"
            )
        if self.raster_shape is not None:
            _set(self, "raster_step_um", _positive_pair("raster_step_um", self.raster_step_um, "um"))
            if np.ndim(self.raster_shape) != 1 or len(self.raster_shape) != 2:
                raise ValueError(f"raster_shape={self.raster_shape!r}: expected (n_vertical, n_horizontal)")
            _set(self, "raster_shape", (integer("raster_shape[0]", self.raster_shape[0], minimum=1),
                                        integer("raster_shape[1]", self.raster_shape[1], minimum=1)))
        _set(self, "n_flats", integer("n_flats", self.n_flats, minimum=0))
        _set(self, "n_darks", integer("n_darks", self.n_darks, minimum=0))
        _set(self, "overhead_s", positive("overhead_s", self.overhead_s, allow_zero=True, unit="s"))

    @property
    def n_points(self) -> int:
        """Exposures of the sample: number of angles times raster points (1 for an absent axis)."""
        n_angles = 1 if self.angles_deg is None else self.angles_deg.size
        n_raster = 1 if self.raster_shape is None else self.raster_shape[0] * self.raster_shape[1]
        return n_angles * n_raster

    @property
    def total_time_s(self) -> float:
        """Duration of the scan, s.

        ``n_points (exposure_s + overhead_s) + (n_flats + n_darks) exposure_s``:
        reference frames are counted without motor overhead.
        """
        return self.n_points * (self.exposure_s + self.overhead_s) + (self.n_flats + self.n_darks) * self.exposure_s

    @classmethod
    def tomography(cls, n_angles: int, exposure_s: float, *, arc_deg: float = 180.0,
                   endpoint: bool = False, **kw: Any) -> Scan:
        """Tomography scan of evenly spaced angles from 0 over ``arc_deg``.

        Parameters
        ----------
        n_angles : int
            Number of projections, >= 1.
        exposure_s : float
            Exposure per projection, s.
        arc_deg : float
            Rotation range, degrees, > 0 (180 for parallel beam).
        endpoint : bool
            Include ``arc_deg`` itself as the last angle (as for a 360 degree
            scan whose last projection checks for drift).
        **kw
            Other :class:`Scan` fields (``n_flats``, ``n_darks``, ``overhead_s``, ...).
        """
        n = integer("n_angles", n_angles, minimum=1)
        arc = positive("arc_deg", arc_deg, unit="degrees")
        return cls(exposure_s=exposure_s, angles_deg=np.linspace(0.0, arc, n, endpoint=endpoint), **kw)
