"""Scanning SWAXS of a twin: raster maps, operando series and SAXS-tomography projections (seeds/000).

What the source did (seeds/000, Methods, "SWAXS and SWAXS imaging measurement" and
"Reconstruction of tomograms and data analysis"): at cSAXS (SLS) a 13.2 keV beam "focused to a
spot size of approximately 25 x 15 um^2" is raster-scanned over the capillary cell "with a step
size of 25 and 15 um in the horizontal and vertical directions, respectively, using an exposure
time of 0.1 s"; SAXS on an Eiger 9M (operando) or Pilatus 2M (tomography) at about 2 m, WAXS on a
Pilatus 300K-W at 0.6 m; "each measurement was transmission corrected by the diode data"; "for
the tomograms 72 projections were measured"; the tomogram was reconstructed from "39 linearly
spaced q-bins" of projections "transmission corrected with the diode data".

Geometry of this module
-----------------------
A 3D twin is ``[z, y, x]`` with z vertical (the capillary axis, twin.generators.capillary).
The beam runs along **y** (array axis 1), the same direction as the rays of
:class:`forward.tomography.projector.ParallelProjector` at angle 0, so a raster map is the
projection at angle 0. The raster moves the sample in z (vertical, ``step_vertical_um``) and x
(horizontal, ``step_horizontal_um``): maps are ``[row, column] = [z, x]``, z counted from the
bottom face of the grid and x from the grid's lateral centre (the capillary axis). A 2D twin
``[z, y]`` is the axial section extruded along x: the beam runs along y, the raster is a vertical
line scan (one column at x = 0) and the horizontal beam profile integrates to one.

Physics (kinematic, single scattering)
--------------------------------------
A ray through the sample at lateral position (z, x) scatters ``S(q) = sum_y dSigma/dOmega(q) dl``
(1/cm x cm = 1/sr per unit incident photon, the voxel intensity of
:func:`forward.saxs.model.voxel_terms` times the voxel edge) and transmits ``T = exp(-sum_y mu
dl)`` with ``mu = twin.linear_attenuation_per_cm(13.2 keV)``. Scattered photons at these small
angles cross the same material as the direct beam, so the detector sees ``T S(q)`` wherever the
scattering happens (the standard SAXS transmission correction, exact for a uniform slab:
``I L exp(-mu L)``). The beam has a lateral profile ``B`` (normalised to integral one); at a raster
point r the detector records ``<T S>_r = integral B(r - p) T(p) S(p) dp`` and the diode
``<T>_r = integral B(r - p) T(p) dp`` (beam outside the grid passes through air, T = 1). Both are
evaluated exactly for the voxelised maps: per axis a matrix ``W[r, j] = integral of the 1D profile
over voxel j`` (erf differences for the Gaussian, overlap lengths for the top-hat), so the map
``W_z M W_x^T`` is the convolution with the footprint sampled at the raster points; the rows of
``W`` sum to one (the footprint preserves the total) when the beam lies inside the grid.

Counting: expected counts per point and q bin ``N = flux x exposure x efficiency x dOmega_bin x
<T S>_r`` (the solid angle of the bin from the detector, :mod:`forward.saxs.detector`); Poisson
draws; the curve reported is transmission-corrected and normalised to a stated sample thickness
``thickness_um`` (as a beamline pipeline does): ``I = counts / (flux t eff dOmega <T>_r d)`` in
1/cm, ``sigma = sqrt(max(counts, 1)) / (...)``. For a uniform slab of thickness ``d`` this is its
dSigma/dOmega. The diode is noise-free (1e9 or more photons per point). Points whose diode reads
below :data:`MIN_TRANSMISSION` (the steel pin, ``T ~ e^-45``) are corrected with that floor so
that the curves stay finite; they are masked by :func:`inverse.saxs.maps.masks` anyway.

Approximations: single scattering, no refraction, no multiple scattering; the beam is parallel
inside the sample (depth of focus >> 2 mm); a voxel scatters isotropically (no orientation); the
per-voxel intensity is evaluated at the bin centres (not averaged over a bin); the detector's
q-resolution is ignored; electrolyte background is not subtracted (the curves are what the
detector sees).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse
from scipy.special import ndtr

from forward.saxs import detector as _detector
from forward.saxs.curves import Curves
from forward.tomography.projector import ParallelProjector
from twin.container import Twin
from xtwin import arguments

__all__ = ["ScanningSWAXS", "ScanResult", "SaxsProjections", "raster", "operando", "tomography_projections",
           "beam_weights", "BEAM_AXIS", "DEFAULT_FLUX_PH_PER_S", "MIN_TRANSMISSION", "TOMOGRAPHY_ANGLES_DEG"]

#: Array axis of the twin along which the beam runs (y of ``[z, y, x]`` and of ``[z, y]``).
BEAM_AXIS = 1
#: Default photon flux of the focused 25 x 15 um^2 beam, photons/s. Assumed: cSAXS (X12SA) quotes
#: about 1e12 ph/s at 11.2 keV in a 0.5 x 0.5 mm^2 beam (beamline figures compiled at
#: lookingatnothing.com/index.php/archives/2425); focusing optics and slits to a micro-spot keep
#: of order a tenth of it, so 1e11 ph/s. seeds/000 gives no flux.
DEFAULT_FLUX_PH_PER_S = 1.0e11
#: Diode transmissions below this floor are corrected as if equal to it (dimensionless).
MIN_TRANSMISSION = 1e-12
#: Default SAXS-tomography angles: 72 projections (seeds/000, Methods) over 180 deg in 2.5 deg
#: steps. For isotropic scattering and a parallel beam the projection at theta + 180 deg mirrors
#: the one at theta, so 72 angles over 180 deg sample twice as densely as the same 72 over 360 deg.
TOMOGRAPHY_ANGLES_DEG = np.arange(72) * 2.5
#: Linearly spaced q bins of the source's tomograms (seeds/000, Methods).
TOMOGRAPHY_N_Q_BINS = 39
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_CM_PER_UM = 1e-4
#: Elements (voxels x q) of one chunk of per-voxel intensity.
_CHUNK_ELEMENTS = 4_000_000


# ---------------------------------------------------------------------- settings
@dataclass(frozen=True)
class ScanningSWAXS:
    """Settings of a scanning SWAXS measurement (seeds/000, Methods).

    Parameters
    ----------
    beam_fwhm_um : (horizontal, vertical)
        Beam size, um: 25 x 15 (seeds/000: "focused to a spot size of approximately 25 x 15 um^2").
        The full width at half maximum of a Gaussian profile, or the full width of a top-hat.
    beam_profile : {"gaussian", "tophat"}
        Lateral profile; "gaussian" (a focused undulator beam) by default.
    energy_kev : float
        Photon energy, keV: 13.2 (seeds/000).
    exposure_s : float
        Exposure per raster point, s: 0.1 (seeds/000).
    step_um : (horizontal, vertical)
        Raster steps, um: 25 and 15 (seeds/000).
    flux_ph_per_s : float
        Photons per second in the beam: :data:`DEFAULT_FLUX_PH_PER_S` (assumed, see there).
    saxs, waxs : AreaDetector
        Detectors: the Eiger 9M at ~2 m and the Pilatus 300K-W at 0.6 m (seeds/000, operando set-up);
        use ``forward.saxs.detector.PILATUS_2M`` for the tomography set-up.
    n_saxs_bins, n_waxs_bins : int
        Default q bins of each detector (:meth:`forward.saxs.detector.AreaDetector.q_bins`):
        100 logarithmic SAXS bins, 260 linear WAXS bins (0.01 1/A wide, about the FWHM of the metallic
        Na peak, so that it is not lost between bin centres).
    thickness_um : float
        Sample thickness the curves are normalised to, um: the capillary bore, 1500 um
        (seeds/000, Methods), as a pipeline normalising a capillary cell would assume.
    """

    beam_fwhm_um: tuple[float, float] = (25.0, 15.0)
    beam_profile: str = "gaussian"
    energy_kev: float = 13.2
    exposure_s: float = 0.1
    step_um: tuple[float, float] = (25.0, 15.0)
    flux_ph_per_s: float = DEFAULT_FLUX_PH_PER_S
    saxs: Any = None
    waxs: Any = None
    n_saxs_bins: int = 100
    n_waxs_bins: int = 260
    thickness_um: float = 1500.0

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "beam_fwhm_um", _pair("beam_fwhm_um", self.beam_fwhm_um))
        arguments.one_of("beam_profile", self.beam_profile, ("gaussian", "tophat"))
        _set(self, "energy_kev", float(arguments.energies_kev("energy_kev", self.energy_kev)))
        _set(self, "exposure_s", arguments.positive("exposure_s", self.exposure_s, unit="s"))
        _set(self, "step_um", _pair("step_um", self.step_um))
        _set(self, "flux_ph_per_s", arguments.positive("flux_ph_per_s", self.flux_ph_per_s, unit="photons/s"))
        if self.saxs is None:
            _set(self, "saxs", _detector.EIGER_9M)
        if self.waxs is None:
            _set(self, "waxs", _detector.PILATUS_300K_W)
        for name in ("saxs", "waxs"):
            if not isinstance(getattr(self, name), _detector.AreaDetector):
                raise TypeError(f"{name}={getattr(self, name)!r}: expected a forward.saxs.detector.AreaDetector")
        arguments.integer("n_saxs_bins", self.n_saxs_bins, minimum=2)
        arguments.integer("n_waxs_bins", self.n_waxs_bins, minimum=2)
        _set(self, "thickness_um", arguments.positive("thickness_um", self.thickness_um, unit="um"))

    @property
    def sigma_um(self) -> tuple[float, float]:
        """Gaussian standard deviations (horizontal, vertical), um: FWHM / 2 sqrt(2 ln 2)."""
        return (self.beam_fwhm_um[0] / _FWHM_PER_SIGMA, self.beam_fwhm_um[1] / _FWHM_PER_SIGMA)

    def q_bins(self) -> tuple[np.ndarray, np.ndarray]:
        """Default q bin centres (1/A) and solid angles (sr) of SAXS then WAXS, increasing in q.

        WAXS bins at or below the last SAXS bin are dropped, so q increases strictly.
        """
        q_s, om_s = _detector_bins(self.saxs, self.energy_kev, self.n_saxs_bins, "log")
        q_w, om_w = _detector_bins(self.waxs, self.energy_kev, self.n_waxs_bins, "linear")
        keep = q_w > q_s[-1]
        return np.concatenate([q_s, q_w[keep]]), np.concatenate([om_s, om_w[keep]])


def _checked(twin: Any, settings: Any) -> "ScanningSWAXS":
    """``settings`` (default :class:`ScanningSWAXS`) after checking the types of both arguments."""
    if not isinstance(twin, Twin):
        raise TypeError(f"twin={twin!r}: expected a twin.container.Twin")
    settings = ScanningSWAXS() if settings is None else settings
    if not isinstance(settings, ScanningSWAXS):
        raise TypeError(f"settings={settings!r}: expected a ScanningSWAXS")
    return settings


def _pair(name: str, value: Any) -> tuple[float, float]:
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ValueError(f"{name}={value!r}: expected (horizontal, vertical) in um")
    return tuple(arguments.positive(name, v, unit="um") for v in value)


def _detector_bins(det: Any, energy_kev: float, n_bins: int, spacing: str) -> tuple[np.ndarray, np.ndarray]:
    """Centres (1/A) and solid angles (sr) of the populated q bins of one detector."""
    bins = det.q_bins(energy_kev, n_bins, spacing=spacing)
    keep = np.asarray(bins.populated)
    return np.asarray(bins.q_inv_A, dtype=float)[keep], np.asarray(bins.solid_angle_sr, dtype=float)[keep]


def _solid_angles_for(q: np.ndarray, settings: ScanningSWAXS) -> np.ndarray:
    """Solid angle (sr) of a bin around each given q, from the detector that covers it (SAXS first).

    Bin edges are the midpoints between the given q (the end bins mirrored); the solid angle is the
    sum over the unmasked pixels whose q falls in the bin. A q seen by neither detector is refused.
    """
    if q.size > 1:
        mid = 0.5 * (q[1:] + q[:-1])
        edges = np.concatenate([[max(q[0] - (mid[0] - q[0]), 0.5 * q[0])], mid, [q[-1] + (q[-1] - mid[-1])]])
    else:
        edges = np.array([0.99 * q[0], 1.01 * q[0]])
    out = np.zeros(q.size)
    for det in (settings.saxs, settings.waxs):
        valid = ~np.asarray(det.mask())
        om, _ = np.histogram(np.asarray(det.q_inv_A(settings.energy_kev))[valid], bins=edges,
                             weights=np.asarray(det.solid_angle_sr())[valid])
        out = np.where(out > 0, out, om)
    if np.any(out <= 0):
        bad = q[out <= 0]
        ranges = ", ".join(f"{d.name} {d.q_range(settings.energy_kev)[0]:.4g}-{d.q_range(settings.energy_kev)[1]:.4g}"
                           for d in (settings.saxs, settings.waxs))
        raise ValueError(f"q_inv_A: {bad.size} q value(s) (first {bad[0]:g} 1/A) fall on no detector pixel; the "
                         f"detectors cover {ranges} 1/A at {settings.energy_kev:g} keV (or the q spacing is finer "
                         f"than the pixels)")
    return out


# ---------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class ScanResult:
    """One scanning SWAXS map.

    Parameters
    ----------
    curves : Curves
        Transmission-corrected curves normalised to ``thickness_um``, ``(n_rows, n_columns, nq)``,
        1/cm, with sigma and the diode transmission ``(n_rows, n_columns)``.
    z_um : ndarray (n_rows,)
        Height of each raster row above the grid's bottom face, um.
    x_um : ndarray (n_columns,)
        Horizontal position of each raster column from the lateral centre, um.
    settings : ScanningSWAXS
    expected_counts : ndarray (n_rows, n_columns, nq)
        Noise-free expected counts per q bin.
    scattering_per_sr : ndarray (n_rows, n_columns, nq)
        Noise-free beam-averaged ``<T S>``, the transmitted scattering per incident photon and
        steradian (dimensionless per sr).
    metadata : dict
        ``soc``, ``time_min`` of the twin when known, the beam axis, the seed.
    """

    curves: Curves
    z_um: np.ndarray
    x_um: np.ndarray
    settings: ScanningSWAXS
    expected_counts: np.ndarray
    scattering_per_sr: np.ndarray
    metadata: dict = field(default_factory=dict)

    @property
    def transmission(self) -> np.ndarray:
        """Diode transmission per raster point, ``(n_rows, n_columns)``."""
        return self.curves.transmission

    @property
    def q_inv_A(self) -> np.ndarray:
        """q of the bins, 1/A."""
        return self.curves.q_inv_A

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_columns)``."""
        return (self.z_um.size, self.x_um.size)


@dataclass(frozen=True, eq=False)
class SaxsProjections:
    """SAXS-tomography projections per q bin, ready for :mod:`inverse.saxs.tomography`.

    Parameters
    ----------
    q_inv_A : ndarray (nq,)
    angles_deg : ndarray (n_angles,)
    scattering : ndarray (nq, n_angles, rows, columns) (or (nq, n_angles, columns) for a 2D twin)
        Measured transmitted scattering ``<T S>`` (1/sr per incident photon), not yet corrected.
    transmission : ndarray (n_angles, rows, columns)
        Diode transmission (dimensionless).
    pixel_um : (horizontal, vertical)
        Column and row spacing, um (the raster steps; the voxel when ``beam=False``).
    sigma : ndarray or None
        Standard deviation of ``scattering`` when noise was drawn.
    metadata : dict
    """

    q_inv_A: np.ndarray
    angles_deg: np.ndarray
    scattering: np.ndarray
    transmission: np.ndarray
    pixel_um: tuple[float, float]
    sigma: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    def corrected(self) -> np.ndarray:
        """Transmission-corrected line integrals ``<T S> / <T>`` of dSigma/dOmega (1/cm x cm)."""
        return self.scattering / np.maximum(self.transmission, MIN_TRANSMISSION)[None]


# ---------------------------------------------------------------------- beam
def beam_weights(centres_um: np.ndarray, n_voxels: int, voxel_um: float, fwhm_um: float,
                 profile: str = "gaussian", origin_um: float = 0.0) -> np.ndarray:
    """Fraction of a 1D beam profile centred at each position that falls on each voxel.

    Parameters
    ----------
    centres_um : array (n,)
        Beam centres, um.
    n_voxels : int
        Voxels along the axis; voxel j spans ``[origin + j s, origin + (j + 1) s]``.
    voxel_um : float
        Voxel edge s, um.
    fwhm_um : float
        Gaussian FWHM or top-hat full width, um.
    profile : {"gaussian", "tophat"}
    origin_um : float
        Position of the first voxel's lower edge, um.

    Returns
    -------
    ndarray (n, n_voxels)
        ``W[r, j] = Phi((e_{j+1} - c_r)/sigma) - Phi((e_j - c_r)/sigma)`` (Gaussian) or
        ``|[c_r - w/2, c_r + w/2] cap [e_j, e_{j+1}]| / w`` (top-hat). Rows sum to one when the
        beam lies inside the grid (the footprint integral preserves the total). Cost O(n n_voxels).
    """
    c = np.asarray(centres_um, dtype=float).reshape(-1, 1)
    edges = origin_um + np.arange(n_voxels + 1) * voxel_um
    if profile == "gaussian":
        sigma = fwhm_um / _FWHM_PER_SIGMA
        cdf = ndtr((edges[None, :] - c) / sigma)
        return np.diff(cdf, axis=1)
    if profile == "tophat":
        lo = np.maximum(edges[None, :-1], c - fwhm_um / 2)
        hi = np.minimum(edges[None, 1:], c + fwhm_um / 2)
        return np.clip(hi - lo, 0.0, None) / fwhm_um
    raise ValueError(f"profile={profile!r}: expected 'gaussian' or 'tophat'")


def _raster_positions(n: int, s: float, step: float, centred: bool) -> np.ndarray:
    """``floor(extent / step)`` positions ``step`` apart centred on the extent (um)."""
    extent = n * s
    m = max(1, int(math.floor(extent / step + 1e-9)))
    centre = 0.0 if centred else extent / 2
    return centre + (np.arange(m) - (m - 1) / 2) * step


# ---------------------------------------------------------------------- per-ray scattering
def _subset(terms: Any, index: np.ndarray) -> Any:
    """The same terms object restricted to ``index`` (every per-voxel array field indexed)."""
    n = _n_terms(terms)
    values = {}
    for f in dataclasses.fields(terms):
        v = getattr(terms, f.name)
        if isinstance(v, np.ndarray) and v.ndim >= 1 and v.shape[0] == n:
            v = v[index]
        values[f.name] = v
    return type(terms)(**values)


def _n_terms(terms: Any) -> int:
    for f in dataclasses.fields(terms):
        v = getattr(terms, f.name)
        if isinstance(v, np.ndarray) and v.ndim >= 1:
            return v.shape[0]
    raise TypeError(f"terms={type(terms).__name__}: expected a dataclass of per-voxel arrays")


def _term_fields(terms: Any, n: int) -> list[np.ndarray]:
    """The per-voxel numeric array fields of ``terms`` (length n)."""
    out = []
    for f in dataclasses.fields(terms):
        v = getattr(terms, f.name)
        if isinstance(v, np.ndarray) and v.shape[:1] == (n,):
            out.append(v.reshape(n, -1))
    return out


def _scattering_source(twin: Twin, scattering: Any) -> tuple[np.ndarray, Any]:
    if scattering is None:
        from forward.saxs.model import voxel_terms
        scattering = voxel_terms(twin)
    if not isinstance(scattering, (tuple, list)) or len(scattering) != 2:
        raise TypeError(f"scattering={scattering!r}: expected (mask, terms) as forward.saxs.model.voxel_terms "
                        f"returns")
    mask, terms = scattering
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != twin.shape:
        raise ValueError(f"scattering: expected a boolean mask of the twin's shape {twin.shape}, got "
                         f"{mask.dtype} {mask.shape}")
    if not hasattr(terms, "intensity_per_cm"):
        raise TypeError(f"scattering: terms {type(terms).__name__} has no intensity_per_cm(q_inv_A)")
    n = int(mask.sum())
    if _n_terms(terms) != n:
        raise ValueError(f"scattering: {_n_terms(terms)} terms for {n} masked voxels")
    return mask, terms


class _Scatterers:
    """Per-voxel scatterers grouped for projection.

    Voxels of one label whose terms are all equal form one group evaluated once; the others are
    evaluated one by one. ``project(q, weights)`` returns ``sum_voxels weight x I(q)`` per ray for a
    sparse ray x voxel weight matrix, chunked over q.
    """

    def __init__(self, twin: Twin, mask: np.ndarray, terms: Any) -> None:
        n = int(mask.sum())
        labels = np.asarray(twin.labels)[mask]
        order = np.argsort(labels, kind="stable")
        sorted_labels = labels[order]
        starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]]) if n else np.zeros(0, int)
        constant = np.ones(starts.size, dtype=bool)
        for v in _term_fields(terms, n):          # a few dozen fields, each O(n)
            vs = v[order]
            constant &= np.all(np.minimum.reduceat(vs, starts, axis=0) == np.maximum.reduceat(vs, starts, axis=0),
                               axis=1) if n else constant
        group = np.full(n, -1, dtype=np.int64)   # -1: evaluated per voxel
        ends = np.r_[starts[1:], n]
        reps = []
        for k in np.flatnonzero(constant):       # one pass per label
            members = order[starts[k]:ends[k]]
            group[members] = len(reps)
            reps.append(members[0])
        var = np.flatnonzero(group < 0)
        # Columns: the groups, then the varying voxels.
        self.n_groups = len(reps)
        self.column = np.where(group >= 0, group, 0)
        self.column[var] = self.n_groups + np.arange(var.size)
        pick = np.concatenate([np.asarray(reps, dtype=np.int64), var])
        self.terms = terms.subset(pick) if hasattr(terms, "subset") else _subset(terms, pick)
        self.n_columns = self.n_groups + var.size
        self.flat_index = np.flatnonzero(mask.ravel())

    def matrix(self, ray_of_voxel: np.ndarray, weight: np.ndarray, n_rays: int) -> scipy.sparse.csr_matrix:
        """Sparse (n_rays, n_columns) matrix summing ``weight`` of each masked voxel into its ray."""
        return scipy.sparse.csr_matrix((weight, (ray_of_voxel, self.column)), shape=(n_rays, self.n_columns))

    def values(self, q: np.ndarray) -> np.ndarray:
        """Intensity of every column (group or varying voxel), (n_columns, nq), 1/cm."""
        return np.asarray(self.terms.intensity_per_cm(q), dtype=float).reshape(self.n_columns, q.size)

    def project(self, a: scipy.sparse.csr_matrix, q: np.ndarray) -> np.ndarray:
        """``A I(q)``, (n_rays, nq) float64, over chunks of q."""
        out = np.empty((a.shape[0], q.size))
        step = max(1, _CHUNK_ELEMENTS // max(1, self.n_columns))
        for k in range(0, q.size, step):
            out[:, k:k + step] = a @ self.values(q[k:k + step])
        return out


# ---------------------------------------------------------------------- raster
def raster(twin: Twin, settings: ScanningSWAXS | None = None, *, q_inv_A: Any = None, noise: bool = True,
           seed: int = 0, z_um: Any = None, x_um: Any = None, scattering: Any = None) -> ScanResult:
    """Raster a twin through the beam: one transmission-corrected SWAXS curve per point.

    Parameters
    ----------
    twin : Twin
        3D ``[z, y, x]`` or 2D ``[z, y]`` (a vertical line scan); voxel edge ``s``.
    settings : ScanningSWAXS, optional
        Beam, energy, exposure, steps, flux, detectors (defaults of seeds/000).
    q_inv_A : array, optional
        q of the curves, 1/A, increasing; default the SAXS then WAXS bins of the detectors
        (:meth:`ScanningSWAXS.q_bins`). The solid angle of a given q's bin comes from the detector
        pixels whose q lies between the neighbouring midpoints.
    noise : bool
        Draw Poisson counts (True) or report the expected counts (False).
    seed : int
        Seed of the ``numpy.random.Generator`` of the counts.
    z_um, x_um : array, optional
        Raster rows (height above the grid's bottom face) and columns (from the lateral centre),
        um; default every ``step`` over the grid, centred. Ignored x for a 2D twin (one column at 0).
    scattering : (mask, terms), optional
        Per-voxel scatterers as :func:`forward.saxs.model.voxel_terms` returns them (default: that
        function applied to the twin); ``terms.intensity_per_cm(q)`` gives (n_masked, nq) in 1/cm.

    Returns
    -------
    ScanResult
        Curves ``(n_rows, n_columns, nq)`` in 1/cm normalised to ``settings.thickness_um``, with
        sigma and the diode transmission.

    Notes
    -----
    See the module docstring for the physics. Cost: one :func:`voxel_terms`; one evaluation of
    the model per distinct scatterer (voxels of a label with identical terms count once, so the
    capillary's electrolyte, quartz and steel add three) x nq; a sparse sum along the beam,
    O(N_scatterers x nq); two small dense products for the beam footprint, O(rows nz nx nq +
    rows nx cols nq). The default 3D capillary (3 M voxels, 132 k electrode voxels, 339 default q)
    rasters in 5-10 s (measured on two shared cores), dominated by the electrode's model evaluation
    (forward.saxs.model) and the detectors' default q bins (~1 s).
    """
    settings = _checked(twin, settings)
    noise = _flag("noise", noise)
    seed = arguments.integer("seed", seed, minimum=0)
    q, omega = _q_and_solid_angle(q_inv_A, settings)
    s = float(twin.voxel_size_um)
    shape = twin.shape
    nz = shape[0]
    nx = shape[2] if twin.ndim == 3 else 1
    z = _raster_positions(nz, s, settings.step_um[1], centred=False) if z_um is None else \
        _positions("z_um", z_um)
    x = (_raster_positions(nx, s, settings.step_um[0], centred=True) if x_um is None else
         _positions("x_um", x_um)) if twin.ndim == 3 else np.zeros(1)

    # Path sums along the beam: optical depth and scattering per ray (z, x).
    s_cm = s * _CM_PER_UM
    mu = np.asarray(twin.linear_attenuation_per_cm(settings.energy_kev), dtype=float)
    tau = mu.sum(axis=BEAM_AXIS) * s_cm
    tau = tau.reshape(nz, nx)
    transmission_rays = np.exp(-tau)
    mask, terms = _scattering_source(twin, scattering)
    scat = _Scatterers(twin, mask, terms)
    # Ray of each masked voxel: (iz, ix) with iy summed.
    idx = np.unravel_index(scat.flat_index, shape)
    ray = idx[0] * nx + (idx[2] if twin.ndim == 3 else 0)
    a = scat.matrix(ray, np.full(ray.size, s_cm), nz * nx)
    path = scat.project(a, q).reshape(nz, nx, q.size)            # S(z, x, q), 1/sr

    # Beam footprint: W_z (rows, nz), W_x (cols, nx).
    wz = beam_weights(z, nz, s, settings.beam_fwhm_um[1], settings.beam_profile, origin_um=0.0)
    wx = (beam_weights(x, nx, s, settings.beam_fwhm_um[0], settings.beam_profile, origin_um=-nx * s / 2)
          if twin.ndim == 3 else np.ones((1, 1)))
    transmitted = np.einsum("rz,zxq,cx->rcq", wz, transmission_rays[:, :, None] * path, wx, optimize=True)
    outside = 1.0 - np.outer(wz.sum(axis=1), wx.sum(axis=1))      # beam outside the grid: air, T = 1
    diode = wz @ transmission_rays @ wx.T + np.clip(outside, 0.0, None)
    return _measure(transmitted, diode, q, omega, settings, noise, seed, z, x, twin)


def _measure(transmitted: np.ndarray, diode: np.ndarray, q: np.ndarray, omega: np.ndarray,
             settings: ScanningSWAXS, noise: bool, seed: int, z: np.ndarray, x: np.ndarray,
             twin: Twin | None) -> ScanResult:
    """Counts, Poisson noise and transmission correction of beam-averaged ``<T S>`` and ``<T>``."""
    photons = settings.flux_ph_per_s * settings.exposure_s
    eff = _efficiencies(q, settings)
    scale = photons * eff * omega                                  # counts per unit <T S>, per q
    expected = transmitted * scale
    counts = np.random.default_rng(seed).poisson(expected).astype(float) if noise else expected
    t_floor = np.maximum(diode, MIN_TRANSMISSION)[..., None]
    denom = scale * t_floor * (settings.thickness_um * _CM_PER_UM)
    intensity = counts / denom if noise else transmitted / (t_floor * (settings.thickness_um * _CM_PER_UM))
    sigma = np.sqrt(np.maximum(counts, 1.0)) / denom
    meta = {"beam_axis": "y", "noise": noise, "seed": seed, "thickness_um": settings.thickness_um,
            "energy_kev": settings.energy_kev, "units": "1/cm, transmission-corrected, per thickness_um"}
    if twin is not None:
        for key in ("state/soc", "state/time_min"):
            if key in twin.truth:
                meta[key.split("/")[1]] = float(np.asarray(twin.truth[key]))
    positions = np.stack(np.broadcast_arrays(z[:, None], x[None, :]), axis=-1)
    curves = Curves(q, intensity, sigma, np.clip(diode, np.finfo(float).tiny, 1.0), positions,
                    {**meta, "q_unit": "1/A", "positions": "(z_um, x_um)"})
    return ScanResult(curves, z, x, settings, expected, transmitted, meta)


def _efficiencies(q: np.ndarray, settings: ScanningSWAXS) -> np.ndarray:
    """Detective efficiency per q: the SAXS detector's up to its largest q, the WAXS one beyond."""
    q_max = settings.saxs.q_range(settings.energy_kev)[1]
    e_s = settings.saxs.efficiency_at(settings.energy_kev)
    e_w = settings.waxs.efficiency_at(settings.energy_kev)
    return np.where(q <= q_max * (1 + 1e-9), e_s, e_w)


def _q_and_solid_angle(q_inv_A: Any, settings: ScanningSWAXS) -> tuple[np.ndarray, np.ndarray]:
    if q_inv_A is None:
        return settings.q_bins()
    q = arguments.array("q_inv_A", q_inv_A, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if q.size == 0 or np.any(q <= 0) or np.any(np.diff(q) <= 0):
        raise ValueError(f"q_inv_A: expected increasing q > 0 in 1/A, got {arguments._short(q_inv_A)}")
    return q, _solid_angles_for(q, settings)


def _positions(name: str, value: Any) -> np.ndarray:
    p = arguments.array(name, value, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if p.size == 0:
        raise ValueError(f"{name}: expected at least one raster position in um")
    return p


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r}: expected True or False")
    return bool(value)


# ---------------------------------------------------------------------- operando
def operando(twin: Twin, socs: Sequence[float] | None = None, *, times_min: Sequence[float] | None = None,
             settings: ScanningSWAXS | None = None, q_inv_A: Any = None, noise: bool = True,
             seed: int = 0) -> list[ScanResult]:
    """Scanning SWAXS maps along the twin's sodiation path (seeds/000, section 3).

    Parameters
    ----------
    twin : Twin
        A capillary cell from :func:`twin.generators.capillary.capillary_cell` (any soc).
    socs : sequence of float, optional
        States of charge in [0, 1]; or
    times_min : sequence of float, optional
        Times at the twin's C-rate, min. Default (neither given): the pristine scan and op 1-5 at
        25, 35, 45, 55, 65 min (seeds/000, section 3: "recorded every 10 min", op 5 after 65 min).
    settings, q_inv_A, noise
        As in :func:`raster`; the same q for every scan.
    seed : int
        Scan k draws its counts with seed ``seed + k``.

    Returns
    -------
    list of ScanResult
        One per state, in the given order; ``metadata`` holds ``soc`` and ``time_min``.

    Notes
    -----
    Cost: per state one :func:`twin.generators.capillary.sodiation_state` rebuild (< 0.5 s for the
    default 3D cell) and one :func:`raster`.
    """
    from twin.generators.capillary import OP_TIMES_MIN, sodiation_state

    if socs is not None and times_min is not None:
        raise ValueError(f"socs={socs!r}, times_min={times_min!r}: give one of them, not both")
    if socs is None and times_min is None:
        times_min = (0.0,) + tuple(OP_TIMES_MIN)
    values = socs if socs is not None else times_min
    name = "socs" if socs is not None else "times_min"
    arr = arguments.array(name, values, ndim=(1,), dtype_kind="iuf", finite=True)
    if arr.size == 0:
        raise ValueError(f"{name}: expected at least one state")
    seed = arguments.integer("seed", seed, minimum=0)
    settings = ScanningSWAXS() if settings is None else settings
    if q_inv_A is None:
        q_inv_A = settings.q_bins()[0]
    out = []
    for k, v in enumerate(arr.tolist()):
        state = sodiation_state(twin, v) if name == "socs" else sodiation_state(twin, time_min=v)
        out.append(raster(state, settings, q_inv_A=q_inv_A, noise=noise, seed=seed + k))
    return out


# ---------------------------------------------------------------------- SAXS tomography
def tomography_projections(twin: Twin, q_inv_A: Any = None, angles_deg: Any = None, *,
                           settings: ScanningSWAXS | None = None, beam: bool = True, noise: bool = False,
                           seed: int = 0, scattering: Any = None) -> SaxsProjections:
    """Projections of the isotropic per-voxel scattering per q bin, and the diode transmission.

    Parameters
    ----------
    twin : Twin
        3D ``[z, y, x]`` (rotation about z) or a 2D slice ``[y, x]`` (one row).
    q_inv_A : array, optional
        Bin centres, 1/A; default 39 linearly spaced bins over the SAXS detector's range
        (seeds/000, Methods).
    angles_deg : array, optional
        Rotation angles, degrees; default :data:`TOMOGRAPHY_ANGLES_DEG` (72 over 180 deg).
    settings : ScanningSWAXS, optional
        Beam, steps, flux, exposure, detectors.
    beam : bool
        True: sample the projections at the raster steps (columns every ``step_um[0]``, rows every
        ``step_um[1]``) through the beam footprint; False: one ray per voxel (pixel = voxel).
    noise : bool
        Poisson counts as in :func:`raster` (the scattering then carries ``sigma``).
    seed : int
    scattering : (mask, terms), optional
        As in :func:`raster`.

    Returns
    -------
    SaxsProjections
        ``scattering[iq, angle, row, column] = <T S>`` and ``transmission[angle, row, column]``.

    Notes
    -----
    Geometry of :class:`forward.tomography.projector.ParallelProjector`: rotation axis z through
    the lateral centre, ray at angle theta along ``(-sin, cos)`` in (x, y), so angle 0 is the
    raster's beam along y. The per-voxel intensity of each q bin is stacked along z and the stack
    projected in one call (parallel rays never mix slices). Cost: the model per distinct scatterer
    x nq, then O(n_angles x n_columns x max(ny, nx) x nz x nq) for the projections, chunked over
    q so that a stack holds at most ~3e7 voxels; the default 3D capillary with 39 bins and 72
    angles takes of order ten seconds.
    """
    settings = _checked(twin, settings)
    beam = _flag("beam", beam)
    noise = _flag("noise", noise)
    seed = arguments.integer("seed", seed, minimum=0)
    if q_inv_A is None:
        q, omega = _detector_bins(settings.saxs, settings.energy_kev, TOMOGRAPHY_N_Q_BINS, "linear")
    else:
        q, omega = _q_and_solid_angle(q_inv_A, settings)
    angles = arguments.angles_deg(TOMOGRAPHY_ANGLES_DEG if angles_deg is None else angles_deg)
    s = float(twin.voxel_size_um)
    s_cm = s * _CM_PER_UM
    vol_shape = twin.shape if twin.ndim == 3 else (1,) + twin.shape
    nz, ny, nx = vol_shape
    mu = np.asarray(twin.linear_attenuation_per_cm(settings.energy_kev), dtype=np.float32).reshape(vol_shape)
    proj_mu = ParallelProjector(vol_shape, s, angles)
    n_cols = proj_mu.n_columns
    tau = proj_mu.direct(mu).astype(float) * s_cm / s               # (angles, nz, cols), dimensionless
    transmission_rays = np.exp(-tau)

    # Columns at u_j = (j - (n_cols - 1)/2) s, rows at the z slice centres.
    if beam:
        cols = _raster_positions(n_cols, s, settings.step_um[0], centred=True)
        wu = beam_weights(cols, n_cols, s, settings.beam_fwhm_um[0], settings.beam_profile, -n_cols * s / 2)
        if twin.ndim == 3:
            rows = _raster_positions(nz, s, settings.step_um[1], centred=False)
            wz = beam_weights(rows, nz, s, settings.beam_fwhm_um[1], settings.beam_profile, 0.0)
        else:
            rows, wz = np.array([s / 2]), np.ones((1, 1))
        pixel = settings.step_um
    else:
        cols = (np.arange(n_cols) - (n_cols - 1) / 2) * s
        rows = (np.arange(nz) + 0.5) * s
        wu, wz = np.eye(n_cols), np.eye(nz)
        pixel = (s, s)
    outside = 1.0 - np.outer(wz.sum(axis=1), wu.sum(axis=1))
    diode = np.einsum("rz,azc,uc->aru", wz, transmission_rays, wu, optimize=True) + np.clip(outside, 0, None)

    mask, terms = _scattering_source(twin, scattering)
    scat = _Scatterers(twin, mask, terms)
    flat = scat.flat_index
    n_vox = nz * ny * nx
    per_q_chunk = max(1, min(q.size, 30_000_000 // n_vox))
    transmitted = np.empty((q.size, len(angles), rows.size, cols.size))
    for k in range(0, q.size, per_q_chunk):
        qc = q[k:k + per_q_chunk]
        values = scat.values(qc).astype(np.float32)[scat.column]     # (n_masked, nqc), 1/cm
        stack = np.zeros((qc.size, n_vox), dtype=np.float32)
        stack[:, flat] = values.T
        del values
        stacked = ParallelProjector((qc.size * nz, ny, nx), s, angles, n_columns=n_cols)
        p = stacked.direct(stack.reshape(qc.size * nz, ny, nx))      # (angles, nqc nz, cols), 1/cm x um
        del stack
        p = p.reshape(len(angles), qc.size, nz, n_cols).transpose(1, 0, 2, 3) * np.float32(s_cm / s)
        transmitted[k:k + qc.size] = np.einsum("rz,qazc,uc->qaru", wz, p * transmission_rays[None], wu,
                                               optimize=True)
    photons = settings.flux_ph_per_s * settings.exposure_s
    scale = (photons * _efficiencies(q, settings) * omega).reshape(-1, 1, 1, 1)
    sigma = None
    if noise:
        counts = np.random.default_rng(seed).poisson(transmitted * scale).astype(float)
        transmitted = counts / scale
        sigma = np.sqrt(np.maximum(counts, 1.0)) / scale
    if twin.ndim == 2:
        transmitted, diode = transmitted[:, :, 0], diode[:, 0]
        sigma = None if sigma is None else sigma[:, :, 0]
    meta = {"rows_um": rows, "columns_um": cols, "voxel_size_um": s, "noise": noise, "seed": seed,
            "energy_kev": settings.energy_kev, "beam": beam}
    return SaxsProjections(q, angles, transmitted, np.clip(diode, 0.0, 1.0), tuple(pixel), sigma, meta)
