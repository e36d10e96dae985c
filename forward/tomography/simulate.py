"""Simulated absorption tomography: a twin imaged by a beam, a detector and a scan.

Physics
-------
Beer-Lambert attenuation along straight rays (no refraction, no scatter
reaching the detector): a detector pixel behind the sample records on
average

    N = N0 sum_E w_E exp(-sum_p mu_p(E) L_p)

photons, with ``L_p`` the path length of the ray through phase ``p``
(from the projectors of :mod:`forward.tomography.projector`), ``mu_p(E)``
the linear attenuation coefficient of the phase's material from xraylib
(:meth:`twin.materials.Material.linear_attenuation_per_cm`), ``w_E`` the
normalised photon spectrum and ``N0`` the detected photons per pixel in
the open beam, ``N0 = fluence x pixel area at the sample x efficiency``
(:meth:`forward.instrument.Beam.fluence_ph_per_um2`). A polychromatic
spectrum therefore hardens through thick material by itself: low energies
are absorbed first and the apparent attenuation ``-ln(N/N0)/L`` falls with
``L`` (beam hardening). The detector counts photons (each detected photon
one count); an energy-integrating scintillator would weight them by energy,
which is not modelled. Per-voxel fields that change composition (``soc``)
are ignored here, as in :meth:`twin.Twin.linear_attenuation_per_cm`. A
monochromatic beam is one energy: its bandwidth (1e-4 for Si(111)) is
ignored.

Detector chain, in the order a photon meets it: the sample moves by the
per-projection jitter (the transmission image is shifted by linear
interpolation, air entering from the edges), the incident beam profile
multiplies it (flat or Gaussian, :class:`forward.instrument.Beam`), the
point-spread function blurs it (Gaussian of ``psf_fwhm_px`` physical
pixels), dead pixels record nothing, ``binning x binning`` blocks are summed
on chip (a CCD: one read-out, so read noise is added once per binned pixel),
and the read-out adds Poisson photon and dark-current noise
(``dark_counts`` per physical pixel) and Gaussian read noise
(``read_noise_e`` counts rms); negative read-outs are clipped at 0 as an ADC
does. A hot pixel reads :data:`HOT_PIXEL_COUNTS` in every frame, a wholly
dead binned pixel reads 0: both leave rings in a reconstruction. Flats are
the same chain without the sample, darks without the beam.

Sampling
--------
Parallel beam: the detector pixel ``Detector.pixel_size_um`` is referred to
the sample (microscope or synchrotron optics included), and must not be
coarser than the twin's voxel (a coarser detector is made by binning, or by
a coarser twin): each physical pixel is one ray through its centre, and a
voxel spans ``voxel / pixel`` physical pixels (8 for the source-002 TXM
preset: 0.512 um voxels, 0.064 um pixels, binning 8). Rows see the twin's
z slices (nearest slice, exact for a voxelised twin); rows beyond the twin
see air. The projection of the rotation axis sits at the centre of the
binned detector plus ``centre_offset_px``. A 2D twin is a slice imaged by a
single binned row (``rows == 1``, the detector's first ``binning``
physical rows), extruded over that row's height.

Cone beam (3D twins): ``Detector.pixel_size_um`` is the pixel on the flat
panel, the magnification is ``M = source_detector_um / source_origin_um``
and the pixel at the sample is ``pixel_size_um / M`` (that is what
:class:`Projections` records).

Source for the default scenario: Heenan et al. (2020), Adv. Sci., Methods
("Preparation", "X-Ray Imaging"), ../shared/seeds/002_8e90cf42ff078ba1.txt.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import ndimage

import xtwin
from forward.instrument import Beam, Detector, Scan, Spectrum
from forward.tomography.measurement import Projections
from forward.tomography.projector import ConeProjector, ParallelProjector
from twin.container import Twin
from xtwin import arguments

__all__ = ["HOT_PIXEL_COUNTS", "simulate"]

#: Reading of a hot pixel, counts: the top of a 16-bit ADC.
HOT_PIXEL_COUNTS = 65535.0
#: Elements of one working array (float64): bounds memory to a few hundred MB whatever the scan.
_CHUNK_ELEMENTS = 1 << 22
#: FWHM of a Gaussian in units of its standard deviation, 2 sqrt(2 ln 2).
_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_GEOMETRIES = ("parallel", "cone")


def simulate(twin: Twin, beam: Beam, detector: Detector, scan: Scan, *, geometry: str = "parallel",
             source_origin_um: float | None = None, source_detector_um: float | None = None,
             centre_offset_px: float = 0.0, jitter_px: float = 0.0, noise: bool = True, seed: int = 0,
             progress: bool = False) -> Projections:
    """Projections, flats and darks of ``twin`` as the detector would record them.

    Parameters
    ----------
    twin : Twin
        The sample, 2D ``(ny, nx)`` or 3D ``(nz, ny, nx)``; the rotation
        axis is z through the centre of each slice.
    beam : Beam
        Energy or spectrum, flux (photons/s), profile and size.
    detector : Detector
        Integrating detector: shape, pixel, binning, efficiency, read noise,
        dark counts, PSF, dead and hot pixels.
    scan : Scan
        ``angles_deg`` (required), ``exposure_s`` per frame, ``n_flats``,
        ``n_darks``.
    geometry : {"parallel", "cone"}
    source_origin_um, source_detector_um : float, optional
        Cone beam only (then required): source to axis and source to
        detector distances, um.
    centre_offset_px : float
        Offset of the rotation axis from the detector centre, output
        (binned) pixels, positive towards larger columns.
    jitter_px : float
        Standard deviation of a random horizontal shift of each projection,
        output pixels, >= 0. The shifts drawn are recorded in
        ``metadata["simulation"]["jitter_px"]``.
    noise : bool
        Draw Poisson and read noise; False gives the expected counts
        (dark mean included, dead and hot pixels applied), for tests and
        for noise-free references.
    seed : int
        Seed of the ``numpy.random.Generator`` of every draw (jitter first,
        then projections, flats, darks), >= 0.
    progress : bool
        Show a tqdm progress bar over chunks of angles.

    Returns
    -------
    Projections
        float32 counts ``(n_angles, rows, columns)`` on the binned
        detector, flats and darks, ``pixel_size_um`` the binned pixel at
        the sample, and metadata with the instrument, the twin's provenance,
        the energy and the true jitter.

    Notes
    -----
    Cost, with ``C`` and ``R`` the physical columns and rows used, ``G``
    the distinct attenuating materials (1 for a monochromatic beam, whose
    attenuation map is projected at once) and ``E`` the spectrum's energies:
    parallel projection O(n_angles x C x max(ny, nx) x nz x G), cone
    projection O(n_angles x R x C x max(ny, nx) x G), Beer-Lambert sum
    O(n_angles x nz x C x G x E) (a slice's rows share it), shift, blur and
    binning O(n_angles x R x C), noise O(n_angles x R x C / binning^2).
    Angles are processed in chunks of about 4 M pixels, so memory stays
    at a few hundred MB plus the output. Thin a polychromatic spectrum
    (``Spectrum.tungsten_tube(n=50)``) for large scans. Measured on 2
    cores: the seeds/002 scenario (73 x 125 x 125 powder twin, 1024^2
    physical pixels binned 8, 141 angles, 5.4 keV) takes about 5 s; with a
    20-energy spectrum and a 4-pixel PSF on the physical pixels, about 17 s.
    """
    if not isinstance(twin, Twin):
        raise TypeError(f"twin={twin!r}: expected a twin.Twin")
    for name, value, kind in (("beam", beam, Beam), ("detector", detector, Detector), ("scan", scan, Scan)):
        if not isinstance(value, kind):
            raise TypeError(f"{name}={value!r}: expected a forward.instrument.{kind.__name__}")
    if detector.is_energy_resolving:
        raise ValueError(f"detector: energy-resolving (energy_resolution_fwhm_kev="
                         f"{detector.energy_resolution_fwhm_kev}); expected an integrating detector for "
                         "absorption tomography")
    if scan.angles_deg is None:
        raise ValueError("scan.angles_deg=None: expected the rotation angles of a tomography scan, degrees "
                         "(e.g. Scan.tomography(n_angles, exposure_s))")
    if scan.raster_shape is not None:
        raise ValueError(f"scan.raster_shape={scan.raster_shape!r}: expected None; raster (mosaic) scans are "
                         "not simulated by tomography")
    angles = arguments.angles_deg(scan.angles_deg)
    arguments.one_of("geometry", geometry, _GEOMETRIES)
    offset = arguments.finite("centre_offset_px", centre_offset_px)
    jitter_std = arguments.positive("jitter_px", jitter_px, allow_zero=True, unit="output pixels")
    seed = arguments.integer("seed", seed, minimum=0)
    b = detector.binning
    rows_b, cols_b = detector.binned_shape
    if geometry == "cone":
        if twin.ndim != 3:
            raise ValueError(f"twin: cone-beam geometry needs a 3D twin, got shape {twin.shape}")
        if source_origin_um is None or source_detector_um is None:
            raise ValueError(f"source_origin_um={source_origin_um!r}, source_detector_um={source_detector_um!r}: "
                             "cone geometry needs both distances (um)")
        so = arguments.positive("source_origin_um", source_origin_um, unit="um")
        sd = arguments.positive("source_detector_um", source_detector_um, unit="um")
        magnification = sd / so
    else:
        if source_origin_um is not None or source_detector_um is not None:
            raise ValueError(f"source_origin_um={source_origin_um!r}, source_detector_um={source_detector_um!r}: "
                             "expected None for parallel geometry (or geometry='cone')")
        so = sd = None
        magnification = 1.0
        if detector.pixel_size_um > twin.voxel_size_um * (1 + 1e-9):
            raise ValueError(f"detector.pixel_size_um={detector.pixel_size_um!r}: expected at most the twin's "
                             f"voxel {twin.voxel_size_um!r} um (each physical pixel samples one ray); use binning "
                             "for coarser pixels, or build the twin with a coarser voxel")
        if twin.ndim == 2:
            rows_b = 1  # a slice is imaged by one binned row
    pixel_um = detector.pixel_size_um / magnification  # physical pixel at the sample plane
    n_rows, n_cols = rows_b * b, cols_b * b  # physical pixels used (incomplete edge blocks dropped)

    rng = np.random.default_rng(seed)
    # Drawn whatever jitter_px, so that the noise of a scan does not depend on whether it jitters.
    shifts_px = jitter_std * rng.standard_normal(angles.size)

    spectrum = beam.spectrum if beam.spectrum is not None else Spectrum.monochromatic(beam.energy_kev)
    maps, mu_per_um = _attenuation_maps(twin, spectrum)
    open_beam = _open_beam(beam, detector, scan.exposure_s, pixel_um, n_rows, n_cols)  # photons per physical pixel
    open_beam = open_beam.astype(np.float32)
    alive, dead_b, hot_b = _bad_pixels(detector, n_rows, n_cols)
    sigma_psf = detector.psf_fwhm_px / _FWHM_PER_SIGMA

    def detect(image: np.ndarray) -> np.ndarray:
        """Blur, dead pixels and on-chip binning of (n, n_rows, n_cols) expected photons (float32 until the sum)."""
        if sigma_psf > 0:
            image = ndimage.gaussian_filter(image, sigma_psf, mode="nearest", axes=(1, 2))
        image = image * alive
        return image.reshape(image.shape[0], rows_b, b, cols_b, b).sum(axis=(2, 4), dtype=np.float64)

    expected = np.empty((angles.size, rows_b, cols_b))
    row_of_slice = _row_map(twin, pixel_um, n_rows) if geometry == "parallel" and twin.ndim == 3 else None
    n_chunks = -(-angles.size // max(1, _CHUNK_ELEMENTS // (n_rows * n_cols)))
    starts = range(n_chunks)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="simulate tomo", unit="chunk")
    for start in starts:
        # Every n_chunks-th angle: each chunk spans the whole arc, as the scan does.
        sel = slice(start, None, n_chunks)
        if geometry == "parallel":
            projector = ParallelProjector(twin.shape, twin.voxel_size_um, angles[sel], n_columns=n_cols,
                                          pixel_size=pixel_um, centre_offset_px=offset * b)
        else:
            projector = ConeProjector(twin.shape, twin.voxel_size_um, angles[sel], source_origin=so,
                                      source_detector=sd, detector_shape=(n_rows, n_cols),
                                      pixel_size=detector.pixel_size_um, centre_offset_px=offset * b)
        paths = [projector.direct(m) for m in maps]  # um, (n, [slices or rows,] n_cols) each
        trans = _transmission(paths, mu_per_um, spectrum.weights)
        if trans.ndim == 2:
            trans = trans[:, None, :]
        # Shift before rows are expanded: rows of one slice move together, so this is nz, not n_rows, rows.
        trans = _shift_columns(trans, shifts_px[sel] * b)
        if twin.ndim == 2:  # every physical row of the single binned row sees the slice
            trans = np.broadcast_to(trans, (trans.shape[0], n_rows, n_cols))
        elif row_of_slice is not None:  # parallel 3D: physical rows take their z slice, air beyond the twin
            trans = np.concatenate([trans, np.ones_like(trans[:, :1])], axis=1)[:, row_of_slice]
        expected[sel] = detect(trans * open_beam)

    flat_expected = detect(open_beam[None])[0]
    dark_expected = detect(np.full((1, n_rows, n_cols), detector.dark_counts, dtype=np.float32))[0]
    read = detector.read_noise_e if noise else 0.0

    def read_out(signal: np.ndarray) -> np.ndarray:
        mean = signal + dark_expected
        frames = rng.poisson(mean).astype(float) if noise else mean
        if read > 0:
            frames = np.maximum(frames + rng.normal(0.0, read, frames.shape), 0.0)
        frames[..., dead_b] = 0.0
        frames[..., hot_b] = HOT_PIXEL_COUNTS
        return frames.astype(np.float32)

    counts = read_out(expected)
    flats = read_out(np.broadcast_to(flat_expected, (scan.n_flats, rows_b, cols_b))) if scan.n_flats else None
    darks = read_out(np.zeros((scan.n_darks, rows_b, cols_b))) if scan.n_darks else None
    metadata = _metadata(twin, beam, detector, scan, spectrum, geometry=geometry, seed=seed, noise=noise,
                         shifts_px=shifts_px, jitter_std=jitter_std, offset=offset, magnification=magnification,
                         photons_per_pixel=float(flat_expected.max()))
    return Projections(counts, angles, pixel_um * b, flats=flats, darks=darks, geometry=geometry,
                       source_origin_um=so, source_detector_um=sd, energy_kev=beam.energy_kev,
                       exposure_s=scan.exposure_s, centre_offset_px=offset, metadata=metadata)


# ---------------------------------------------------------------------- physics
def _attenuation_maps(twin: Twin, spectrum: Spectrum) -> tuple[list[np.ndarray], np.ndarray]:
    """Maps to project and their attenuation, 1/um, shape (n_energies, n_maps).

    Monochromatic: one map, the attenuation coefficient itself (one
    projection instead of one per phase). Polychromatic: one indicator per
    distinct attenuating material (phases of identical composition, such as
    air and air-filled voids, share one; vacuum is skipped).
    """
    labels = sorted(twin.phases)
    # 1/cm -> 1/um at the boundary (1 um = 1e-4 cm).
    mu = np.array([twin.phases[p].linear_attenuation_per_cm(spectrum.energies_kev) for p in labels]) * 1e-4
    table = np.zeros(max(labels) + 1)
    if spectrum.energies_kev.size == 1:
        table[labels] = mu[:, 0]
        return [table[twin.labels].astype(np.float32)], np.ones((1, 1))
    maps, columns = [], []
    distinct, group = np.unique(mu, axis=0, return_inverse=True)
    for g, row in enumerate(distinct):
        if not np.any(row > 0):
            continue
        table[:] = 0.0
        table[[p for p, k in zip(labels, group.ravel()) if k == g]] = 1.0
        maps.append(table[twin.labels].astype(np.float32))
        columns.append(row)
    if not maps:  # a twin of vacuum: one empty map keeps the shapes
        maps, columns = [np.zeros(twin.shape, dtype=np.float32)], [np.zeros(spectrum.energies_kev.size)]
    return maps, np.array(columns).T.reshape(spectrum.energies_kev.size, len(maps))


def _transmission(paths: list[np.ndarray], mu_per_um: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sum_E w_E exp(-sum_g mu_gE L_g), float32, in pixel blocks so that (energies x block) stays bounded.

    float32 (7 digits, as the counts are stored) halves the memory traffic of
    the exponentials, which dominate for a polychromatic spectrum.
    """
    shape = paths[0].shape
    lengths = np.stack([p.reshape(-1) for p in paths]).astype(np.float32, copy=False)  # (G, pixels), um
    mu, w = mu_per_um.astype(np.float32), weights.astype(np.float32)
    out = np.empty(lengths.shape[1], dtype=np.float32)
    block = max(1, _CHUNK_ELEMENTS // mu.shape[0])
    for start in range(0, out.size, block):
        exponent = mu @ lengths[:, start:start + block]  # (E, block): the sum over materials
        np.negative(exponent, out=exponent)
        np.exp(exponent, out=exponent)
        out[start:start + block] = w @ exponent
    return out.reshape(shape)


def _row_map(twin: Twin, pixel_um: float, n_rows: int) -> np.ndarray:
    """z slice seen by each physical detector row (nz for rows above or below the twin: air)."""
    nz, voxel = twin.shape[0], twin.voxel_size_um
    z = (np.arange(n_rows) - 0.5 * (n_rows - 1)) * pixel_um  # detector and twin share their centre
    k = np.floor(z / voxel + 0.5 * nz + 1e-9).astype(np.intp)  # 1e-9: rows on a voxel boundary go up
    return np.where((k >= 0) & (k < nz), k, nz)


def _shift_columns(trans: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Move each projection (n, rows, columns) by ``shifts`` columns; linear interpolation, air (T = 1) enters."""
    if not np.any(shifts):
        return trans
    n_cols = trans.shape[-1]
    out = np.empty(trans.shape, dtype=trans.dtype)
    for a, shift in enumerate(shifts):  # one gather per angle; the rows of a projection move together
        x = np.arange(n_cols) - shift  # where each output column samples the input
        j0 = np.floor(x).astype(np.intp)
        t = x - j0
        padded = np.pad(trans[a], ((0, 0), (1, 1)), constant_values=1.0)  # index -1 and n_cols: air
        lo, hi = np.clip(j0, -1, n_cols) + 1, np.clip(j0 + 1, -1, n_cols) + 1
        out[a] = (1.0 - t) * padded[:, lo] + t * padded[:, hi]
    return out


def _open_beam(beam: Beam, detector: Detector, exposure_s: float, pixel_um: float, n_rows: int,
               n_cols: int) -> np.ndarray:
    """Detected photons per physical pixel without sample, (n_rows, n_cols).

    ``N0 = fluence x pixel area at the sample x efficiency`` at the beam's
    peak, times the transverse profile centred on the detector.
    """
    n0 = beam.fluence_ph_per_um2(exposure_s) * pixel_um**2 * detector.efficiency
    x = (np.arange(n_cols) - 0.5 * (n_cols - 1)) * pixel_um
    y = (np.arange(n_rows) - 0.5 * (n_rows - 1)) * pixel_um
    h, v = beam.size_um
    if beam.profile == "gaussian":
        # FWHM h: exp(-4 ln 2 x^2 / h^2) is 1/2 at x = h/2.
        profile = np.exp(-4 * math.log(2) * ((y[:, None] / v) ** 2 + (x[None, :] / h) ** 2))
    else:
        profile = ((np.abs(y) <= v / 2)[:, None] & (np.abs(x) <= h / 2)[None, :]).astype(float)
    return n0 * profile


def _bad_pixels(detector: Detector, n_rows: int, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alive mask of the physical pixels used, and the binned pixels wholly dead or holding a hot pixel."""
    b = detector.binning
    alive = np.ones((n_rows, n_cols), dtype=np.float32)
    dead = detector.dead_pixels
    dead = dead[(dead[:, 0] < n_rows) & (dead[:, 1] < n_cols)]
    alive[dead[:, 0], dead[:, 1]] = 0.0
    dead_b = alive.reshape(n_rows // b, b, n_cols // b, b).sum(axis=(1, 3)) == 0
    hot = detector.hot_pixels
    hot = hot[(hot[:, 0] < n_rows) & (hot[:, 1] < n_cols)]
    hot_b = np.zeros((n_rows // b, n_cols // b), dtype=bool)
    hot_b[hot[:, 0] // b, hot[:, 1] // b] = True
    return alive, dead_b, hot_b


# ---------------------------------------------------------------------- bookkeeping


def _metadata(twin: Twin, beam: Beam, detector: Detector, scan: Scan, spectrum: Spectrum, **sim: Any) -> dict:
    """JSON description of how the projections were made (instrument, twin provenance, truth of the simulation)."""
    prov = twin.provenance
    polychromatic = spectrum.energies_kev.size > 1
    return {
        "simulation": {
            "function": "forward.tomography.simulate.simulate", "xtwin_version": xtwin.__version__,
            "seed": sim["seed"], "noise": sim["noise"], "geometry": sim["geometry"],
            "energy_kev": beam.energy_kev, "polychromatic": polychromatic,
            "spectrum_energies_kev": spectrum.energies_kev.tolist() if polychromatic else None,
            "spectrum_weights": spectrum.weights.tolist() if polychromatic else None,
            "centre_offset_px": sim["offset"], "jitter_std_px": sim["jitter_std"],
            "jitter_px": sim["shifts_px"].tolist(), "magnification": sim["magnification"],
            "photons_per_pixel": sim["photons_per_pixel"], "hot_pixel_counts": HOT_PIXEL_COUNTS,
        },
        "twin": {
            "generator": prov.generator, "parameters": dict(prov.parameters), "seed": prov.seed,
            "xtwin_version": prov.xtwin_version, "created_utc": prov.created_utc, "shape": list(twin.shape),
            "voxel_size_um": twin.voxel_size_um, "phases": {str(k): v for k, v in twin.phase_names().items()},
        },
        "instrument": {
            "beam": {"energy_kev": beam.energy_kev, "bandwidth_rel": beam.bandwidth_rel,
                     "flux_ph_per_s": beam.flux_ph_per_s, "profile": beam.profile, "size_um": list(beam.size_um)},
            "detector": {"shape": list(detector.shape), "pixel_size_um": detector.pixel_size_um,
                         "binning": detector.binning, "efficiency": detector.efficiency,
                         "read_noise_e": detector.read_noise_e, "dark_counts": detector.dark_counts,
                         "psf_fwhm_px": detector.psf_fwhm_px, "dead_pixels": detector.dead_pixels.tolist(),
                         "hot_pixels": detector.hot_pixels.tolist()},
            "scan": {"exposure_s": scan.exposure_s, "n_angles": int(scan.angles_deg.size),
                     "n_flats": scan.n_flats, "n_darks": scan.n_darks, "overhead_s": scan.overhead_s},
        },
    }
