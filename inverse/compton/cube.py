"""Corrections, sums, masks and binning of an XCS data cube (seeds/001, section 2.2).

The source's processing (seeds/001, section 2.2): "the data cube underwent dark field, offset, gain and
charge-sharing corrections. The pixel energy spectra can be summed together to produce a single global
spectrum. To obtain XCS imaging of a specific component/area, we applied an XCT mask of the battery component
onto the XCS image." This module does each of those steps on plain arrays, vectorised over pixels:

* :func:`correct_cube` -- dark subtraction, per-pixel energy calibration ``E = gain * E_channel + offset_kev``
  (the cube is resampled onto the common channel edges, conserving counts), division by the fraction of events
  kept after the charge-sharing rejection, and a pixel flag (``rejected``: pixels excluded from sums and maps,
  e.g. dead, noisy, or flagged by the charge-sharing discriminator). A variance cube is carried along so that
  the EMF uncertainty stays correct after the corrections.
* :func:`sum_spectra` -- a global spectrum, or the sum over a (boolean or area-fraction) mask.
* :func:`register_map` / :func:`register_mask` -- an XCT map or mask (fine pixels, e.g. 3.24 um) averaged onto
  the coarse XCS grid (250 um) by the area of overlap of every fine pixel with every coarse pixel (separable
  overlap matrices, so a 6000 x 6000 mask registers in a fraction of a second).
* :func:`bin_pixels` -- n x n binning (partial blocks at the far edges are kept).
* :func:`attenuation_factors` / :func:`correct_attenuation` -- t1 and t2 of seeds/001 eq. (1) from an
  XCT-derived attenuation volume, and the ratio of corrected to uncorrected intensities ``1 / (t1 t2)``.

Array layout: cubes are ``(nx, ny, n_channels)`` as :class:`forward.compton.measurement.Measurement` holds
them; energy channel edges ``(n_channels + 1,)`` in keV, increasing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forward.compton.measurement import energy_edges_kev
from xtwin import arguments

__all__ = ["CorrectedCube", "correct_cube", "energy_edges_kev", "sum_spectra", "register_map", "register_mask",
           "bin_pixels", "attenuation_factors", "sheet_transmission", "correct_attenuation", "cube_of",
           "counts_array"]


def counts_array(name: str, value, *, ndim=(1, 2, 3)) -> np.ndarray:
    """Counts as a float array, refusing negative, NaN or infinite values."""
    c = arguments.array(name, value, ndim=ndim, dtype_kind="iuf", finite=True)
    if c.size and c.min() < 0:
        raise ValueError(f"{name}: expected counts >= 0, found {c.min():g} (a negative count; subtract a "
                         f"background through the `background` option instead)")
    return c.astype(float, copy=False)


def cube_of(measurement_or_counts, energy_edges=None) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, energy_edges_kev)`` from a Measurement (``.counts`` and its energies) or from two arrays."""
    m = measurement_or_counts
    if hasattr(m, "counts"):
        if energy_edges is None:
            for attr in ("energy_edges_kev", "edges_kev", "energy_kev", "energies_kev", "energy_centres_kev"):
                if getattr(m, attr, None) is not None:
                    energy_edges = getattr(m, attr)
                    break
        m = m.counts
    c = counts_array("counts", m)
    if energy_edges is None:
        raise ValueError("energy_edges_kev: expected the energy channel edges (or centres) in keV")
    return c, energy_edges_kev(energy_edges, c.shape[-1])


@dataclass(frozen=True)
class CorrectedCube:
    """A corrected cube: counts and their variance per channel, the common edges and the valid pixels.

    Attributes
    ----------
    counts : ndarray, (nx, ny, n_channels)
        Corrected counts (float; rejected pixels are 0).
    variance : ndarray, (nx, ny, n_channels)
        Poisson variance of ``counts`` propagated through the corrections.
    energy_edges_kev : ndarray, (n_channels + 1,)
        Common channel edges, keV.
    valid : ndarray of bool, (nx, ny)
        Pixels not rejected.
    """

    counts: np.ndarray
    variance: np.ndarray
    energy_edges_kev: np.ndarray
    valid: np.ndarray


def correct_cube(counts, energy_edges, *, dark=None, gain=None, offset_kev=None, kept_fraction=None,
                 rejected=None) -> CorrectedCube:
    """Dark, offset/gain and charge-sharing corrections of a cube, vectorised over pixels.

    Parameters
    ----------
    counts : array (nx, ny, n_channels) or Measurement
        Raw counts per pixel and channel, >= 0.
    energy_edges : array
        Nominal channel edges (n_channels + 1) or centres (n_channels), keV.
    dark : array, optional
        Dark-field counts (same shape as ``counts``, or (n_channels,) for all pixels), scaled to the same
        acquisition time; subtracted, its Poisson variance added.
    gain, offset_kev : array (nx, ny) or float, optional
        Per-pixel energy calibration: the true edges of pixel (i, j) are ``gain[i, j] * edges + offset_kev[i, j]``
        (defaults 1 and 0). The counts are redistributed onto the nominal edges by linear interpolation of each
        pixel's cumulative spectrum (counts are conserved inside the common range).
    kept_fraction : array (nx, ny) or float, optional
        Fraction of events kept by the charge-sharing rejection (events spanning more than two pixels excluded,
        seeds/001, section 2.1), in (0, 1]; counts are divided by it and variances by its square.
    rejected : array of bool (nx, ny), optional
        Pixels to exclude (flagged); their counts and variances are set to 0 and ``valid`` is False.

    Returns
    -------
    CorrectedCube
    """
    c, edges = cube_of(counts, energy_edges)
    if c.ndim != 3:
        raise ValueError(f"counts: expected a cube (nx, ny, n_channels), got shape {c.shape}")
    nx, ny, nc = c.shape
    c = c.copy()
    var = c.copy()
    if dark is not None:
        d = counts_array("dark", dark)
        if d.shape not in (c.shape, (nc,)):
            raise ValueError(f"dark: expected shape {c.shape} or ({nc},), got {d.shape}")
        c = c - d
        var = var + d
    if gain is not None or offset_kev is not None:
        g = _pixel_map("gain", 1.0 if gain is None else gain, (nx, ny), positive=True)
        o = _pixel_map("offset_kev", 0.0 if offset_kev is None else offset_kev, (nx, ny))
        c = _recalibrate(c, edges, g, o)
        var = _recalibrate(var, edges, g, o)
    if kept_fraction is not None:
        f = _pixel_map("kept_fraction", kept_fraction, (nx, ny), positive=True)
        if np.any(f > 1):
            raise ValueError(f"kept_fraction: expected fractions in (0, 1], got up to {f.max():g}")
        c = c / f[..., None]
        var = var / (f * f)[..., None]
    valid = np.ones((nx, ny), dtype=bool)
    if rejected is not None:
        r = arguments.array("rejected", rejected, shape=(nx, ny), dtype_kind="b")
        valid &= ~r
        c[r] = 0.0
        var[r] = 0.0
    return CorrectedCube(counts=c, variance=var, energy_edges_kev=edges, valid=valid)


def _pixel_map(name: str, value, shape: tuple[int, int], *, positive: bool = False) -> np.ndarray:
    a = arguments.array(name, value, dtype_kind="iuf", finite=True).astype(float)
    if a.ndim == 0:
        a = np.full(shape, float(a))
    if a.shape != shape:
        raise ValueError(f"{name}: expected a number or an array of shape {shape} (one value per pixel), "
                         f"got shape {a.shape}")
    if positive and np.any(a <= 0):
        raise ValueError(f"{name}: expected values > 0, got {a.min():g}")
    return a


def _recalibrate(c: np.ndarray, edges: np.ndarray, gain: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Counts of pixels with true edges ``gain * edges + offset`` redistributed onto ``edges``."""
    nx, ny, nc = c.shape
    flat = c.reshape(-1, nc)
    cum = np.concatenate([np.zeros((flat.shape[0], 1)), np.cumsum(flat, axis=1)], axis=1)
    # Nominal edge x of the common grid sits at x_orig = (x - offset) / gain in the pixel's own channel scale.
    u = (edges[None, :] - offset.reshape(-1, 1)) / gain.reshape(-1, 1)
    k = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, nc - 1)
    width = edges[k + 1] - edges[k]
    frac = np.clip((u - edges[k]) / width, 0.0, 1.0)
    rows = np.arange(flat.shape[0])[:, None]
    f = cum[rows, k] + frac * flat[rows, k]
    f = np.where(u <= edges[0], 0.0, np.where(u >= edges[-1], cum[:, -1:], f))
    return np.diff(f, axis=1).reshape(nx, ny, nc)


def _mask_weights(mask, shape: tuple[int, ...]) -> np.ndarray:
    m = arguments.array("mask", mask, dtype_kind="biuf", finite=True)
    if m.shape != tuple(shape):
        raise ValueError(f"mask: expected shape {tuple(shape)} (the pixels of the cube), got {m.shape}; register "
                         f"a finer XCT mask onto the XCS grid with register_mask()")
    m = m.astype(float)
    if m.size and (m.min() < 0 or m.max() > 1):
        raise ValueError(f"mask: expected booleans or area fractions in [0, 1], got [{m.min():g}, {m.max():g}]")
    return m


def sum_spectra(counts, mask=None, *, variance=None, return_variance: bool = False):
    """Sum of the pixel spectra of a cube, over all pixels or weighted by a mask.

    Parameters
    ----------
    counts : array (nx, ny, n_channels)
        Counts, >= 0.
    mask : array (nx, ny), optional
        Boolean mask or area fractions in [0, 1] (e.g. from :func:`register_mask`); its shape must be that of
        the pixels.
    variance : array like ``counts``, optional
        Variances of the counts (default: the counts, Poisson).
    return_variance : bool
        Also return the variance of the sum, ``sum m^2 var``.

    Returns
    -------
    ndarray (n_channels,) or (spectrum, variance)
    """
    c = counts_array("counts", counts, ndim=(3,))
    m = np.ones(c.shape[:2]) if mask is None else _mask_weights(mask, c.shape[:2])
    total = np.tensordot(m, c, axes=([0, 1], [0, 1]))
    if not return_variance:
        return total
    v = c if variance is None else arguments.array("variance", variance, shape=c.shape, dtype_kind="iuf")
    return total, np.tensordot(m * m, v, axes=([0, 1], [0, 1]))


def _overlap_matrix(n_in: int, pixel_in: float, n_out: int, pixel_out: float, origin: float) -> np.ndarray:
    """(n_out, n_in) length of overlap of fine pixel k with coarse pixel j, divided by the coarse pixel size."""
    lo_in = origin + pixel_in * np.arange(n_in)
    hi_in = lo_in + pixel_in
    lo_out = pixel_out * np.arange(n_out)
    hi_out = lo_out + pixel_out
    ov = np.minimum(hi_out[:, None], hi_in[None, :]) - np.maximum(lo_out[:, None], lo_in[None, :])
    return np.clip(ov, 0.0, None) / pixel_out


def register_map(values, pixel_um: float, shape: tuple[int, int], target_pixel_um: float, *,
                 origin_um: tuple[float, float] = (0.0, 0.0), flip: tuple[bool, bool] = (False, False)) -> np.ndarray:
    """Average a fine 2D map onto a coarse grid by area of overlap.

    Coarse pixel (i, j) covers ``[i p, (i + 1) p) x [j p, (j + 1) p)`` with p = ``target_pixel_um``; the fine map
    starts at ``origin_um`` (position of the corner of its pixel (0, 0) on the coarse grid) with pixels of
    ``pixel_um``. Parts of a coarse pixel not covered by the fine map count as 0 (so a mask's area fraction is
    the covered fraction).

    Parameters
    ----------
    values : array (mx, my)
        Fine map (e.g. an XCT slice in the sheet plane, or an attenuation map).
    pixel_um : float
        Fine pixel, um (3.24 um for the XCT of seeds/001).
    shape : (int, int)
        Coarse grid (80, 80 for HEXITEC).
    target_pixel_um : float
        Coarse pixel at the sample, um (250 um at magnification 1).
    origin_um : (float, float)
        Offset of the fine map on the coarse grid, um (registration).
    flip : (bool, bool)
        Reverse the fine map along x / y first (the pinhole camera inverts the image).

    Returns
    -------
    ndarray (shape)
    """
    v = arguments.array("values", values, ndim=(2,), dtype_kind="biuf", finite=True).astype(float)
    p_in = arguments.positive("pixel_um", pixel_um, unit="um")
    p_out = arguments.positive("target_pixel_um", target_pixel_um, unit="um")
    if len(shape) != 2:
        raise ValueError(f"shape={shape!r}: expected (nx, ny) of the coarse grid")
    nx, ny = (arguments.integer(f"shape[{k}]", s, minimum=1) for k, s in enumerate(shape))
    if flip[0]:
        v = v[::-1]
    if flip[1]:
        v = v[:, ::-1]
    ox, oy = (arguments.finite(f"origin_um[{k}]", o, unit="um") for k, o in enumerate(origin_um))
    rx = _overlap_matrix(v.shape[0], p_in, nx, p_out, ox)
    ry = _overlap_matrix(v.shape[1], p_in, ny, p_out, oy)
    return rx @ v @ ry.T


def register_mask(mask, pixel_um: float, shape: tuple[int, int], target_pixel_um: float, *,
                  origin_um: tuple[float, float] = (0.0, 0.0), flip: tuple[bool, bool] = (False, False),
                  threshold: float | None = None) -> np.ndarray:
    """Register a fine (XCT) mask onto the XCS grid: the area fraction of each coarse pixel inside the mask.

    Parameters as :func:`register_map`; ``mask`` is boolean or 0/1. With ``threshold`` the result is the boolean
    ``fraction >= threshold`` instead of the fractions (e.g. 0.5, or 1 - 1e-9 to keep only pixels wholly inside).
    """
    m = arguments.array("mask", mask, ndim=(2,), dtype_kind="biuf", finite=True)
    if m.size and (m.min() < 0 or m.max() > 1):
        raise ValueError(f"mask: expected booleans or values in [0, 1], got [{m.min():g}, {m.max():g}]")
    frac = np.clip(register_map(m, pixel_um, shape, target_pixel_um, origin_um=origin_um, flip=flip), 0.0, 1.0)
    if threshold is None:
        return frac
    return frac >= arguments.in_range("threshold", threshold, 0.0, 1.0)


def bin_pixels(array, n: int) -> np.ndarray:
    """Sum n x n blocks of pixels of a cube (nx, ny, ...) or a map (nx, ny); partial edge blocks are kept.

    A (80, 80, n_ch) cube binned by 3 becomes (27, 27, n_ch), the last row and column of blocks holding 2 of
    the original pixels along that axis. Sum, not mean, so counts stay Poisson counts (use it on variances too).
    """
    a = arguments.array("array", array, ndim=(2, 3), dtype_kind="biuf")
    n = arguments.integer("n", n, minimum=1)
    if n == 1:
        return a.astype(float)
    a = np.add.reduceat(a.astype(float), np.arange(0, a.shape[0], n), axis=0)
    return np.add.reduceat(a, np.arange(0, a.shape[1], n), axis=1)


def attenuation_factors(mu_incident_per_cm, mu_scattered_per_cm, voxel_size_um: float, *, beam_axis: int = 1,
                        beam_direction: int = +1, exit_axis: int = 0,
                        exit_direction: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Transmittances t1 (entrance -> voxel, at E1) and t2 (voxel -> exit towards the pinhole, at E2), eq. (1).

    For a 90 deg geometry with the beam along an array axis and the scattered rays leaving along another
    (seeds/001, section 2.1: the pinhole camera sits above the sheet), the optical depth to each voxel centre is
    a cumulative sum along the axis (half a voxel for the voxel itself). The pinhole acceptance (5.7 deg) is
    small, so the rays to the pinhole are taken parallel.

    Parameters
    ----------
    mu_incident_per_cm, mu_scattered_per_cm : array (nz, ny, nx) or (ny, nx)
        Linear attenuation coefficients at the incident (114.64 keV) and scattered (~93.6 keV) energies, 1/cm,
        from the XCT reconstruction scaled to those energies (or from a twin).
    voxel_size_um : float
        Voxel edge, um.
    beam_axis, exit_axis : int
        Array axes of the incident beam and of the scattered rays (defaults: beam along y, exit along z).
    beam_direction, exit_direction : {+1, -1}
        +1: the rays travel towards increasing index (the beam enters at index 0). The default exit direction
        -1 sends the scattered rays towards index 0 (the top of a (z, y, x) volume stored top first).

    Returns
    -------
    t1, t2 : ndarray, shape of the input
        Per voxel; average their product over the sheet with :func:`sheet_transmission`.
    """
    mu1 = arguments.array("mu_incident_per_cm", mu_incident_per_cm, ndim=(2, 3), dtype_kind="iuf", finite=True)
    mu2 = arguments.array("mu_scattered_per_cm", mu_scattered_per_cm, shape=mu1.shape, dtype_kind="iuf",
                          finite=True)
    if mu1.min() < 0 or mu2.min() < 0:
        raise ValueError("mu_incident_per_cm, mu_scattered_per_cm: expected attenuation coefficients >= 0 1/cm")
    dx_cm = arguments.positive("voxel_size_um", voxel_size_um, unit="um") * 1e-4
    for name, d in (("beam_direction", beam_direction), ("exit_direction", exit_direction)):
        arguments.one_of(name, d, (1, -1))
    if beam_axis % mu1.ndim == exit_axis % mu1.ndim:
        raise ValueError(f"beam_axis={beam_axis}, exit_axis={exit_axis}: expected two different axes (90 deg)")
    t1 = np.exp(-_depth(mu1.astype(float), beam_axis, beam_direction) * dx_cm)
    # The scattered ray travels from the voxel to the face it leaves through: the depth from that face.
    t2 = np.exp(-_depth(mu2.astype(float), exit_axis, -exit_direction) * dx_cm)
    return t1, t2


def sheet_transmission(t1, t2, sheet_slices: slice, *, exit_axis: int = 0) -> np.ndarray:
    """Mean of ``t1 t2`` over the voxels of the sheet (``sheet_slices`` along ``exit_axis``): one value per
    column, the factor by which attenuation lowers the counts of the pixel that images the column."""
    t = np.asarray(t1, dtype=float) * np.asarray(t2, dtype=float)
    idx = [slice(None)] * t.ndim
    idx[exit_axis] = sheet_slices
    sheet = t[tuple(idx)]
    if sheet.shape[exit_axis] == 0:
        raise ValueError(f"sheet_slices={sheet_slices!r}: expected at least one slice along axis {exit_axis} "
                         f"of {t.shape[exit_axis]}")
    return sheet.mean(axis=exit_axis)


def _depth(mu: np.ndarray, axis: int, direction: int) -> np.ndarray:
    """Optical depth in voxel units from the entrance face to each voxel centre along ``axis``."""
    m = mu if direction > 0 else np.flip(mu, axis=axis)
    depth = np.cumsum(m, axis=axis) - 0.5 * m
    return depth if direction > 0 else np.flip(depth, axis=axis)


def correct_attenuation(counts, transmission, *, variance=None, minimum_transmission: float = 1e-6):
    """Divide counts (cube or spectra) by the transmission ``t1 t2`` per pixel; returns (corrected, variance, ratio).

    ``ratio = 1 / (t1 t2)`` is the ratio of corrected to uncorrected intensities. A single factor per pixel
    does not change the EMF (a ratio of two integrals of the same spectrum); it matters for intensity (electron
    density) maps and for sums over pixels of different depth. Register a transmission map computed on the XCT
    grid onto the XCS pixels with :func:`register_map` first.
    """
    c = counts_array("counts", counts, ndim=(2, 3))
    t = arguments.array("transmission", transmission, dtype_kind="iuf", finite=True).astype(float)
    if t.shape != c.shape[:-1]:
        raise ValueError(f"transmission: expected shape {c.shape[:-1]} (one value per pixel), got {t.shape}")
    floor = arguments.positive("minimum_transmission", minimum_transmission)
    if np.any(t < floor) or np.any(t > 1):
        raise ValueError(f"transmission: expected values in [{floor:g}, 1], got [{t.min():.3g}, {t.max():.3g}]; "
                         f"pixels that see no signal should be masked instead")
    ratio = 1.0 / t
    v = c if variance is None else arguments.array("variance", variance, shape=c.shape, dtype_kind="iuf")
    return c * ratio[..., None], v * (ratio * ratio)[..., None], ratio
