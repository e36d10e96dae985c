"""Scanning-SWAXS maps and SAXS-tomogram statistics: the image analysis of seeds/000.

What the source does (seeds/000, Methods, "Reconstruction of tomograms and data analysis";
section 3, eq. 5; section 4):

* "the scattering intensity in the selected q-regions were averaged in each pixel"
  (:func:`region_mean`);
* "The current collector was masked out of the image based on having a transmission signal lower
  than 0.1, as the steel pin is highly absorbing. The area surrounding the electrode in the cell
  was masked based on the scattering intensity in the range q = 0.12 - 0.3 1/A, where the hard
  carbon anode scatters strongly while there is no scattering from electrolyte" (:func:`masks`);
* eq. 5, ``(I_op - I_pristine) / I_pristine`` per pixel of a q-region (:func:`difference_map`);
* the micropore intensity falls as Na fills the pores, "proportional to the electron density
  difference between the pores and the carbon matrix" (:func:`pore_filling_from_micropore_change`);
* "The homogeneity of the electrodes was compared by creating a histogram over the greyscale
  values of the chosen scattering intensities in the masked region of the electrode volume"
  (:func:`histogram_statistics`);
* "The plating starts close to the current collector and progressively grows from the bottom of
  the electrode", seen in maps of the metallic Na peak at 2.07-2.08 1/A (:func:`peak_height_map`,
  :func:`plating_onset`).

Every function takes plain arrays (or :class:`forward.saxs.curves.Curves`), so it works on
measured data as on simulated.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from xtwin import arguments

__all__ = ["region_mean", "difference_map", "ScanMasks", "masks", "pore_filling_from_micropore_change",
           "micropore_intensity_ratio", "default_micropore_contrast",
           "HistogramStats", "histogram_statistics", "peak_height_map",
           "PlatingOnset", "plating_onset", "collector_height_um", "STEEL_TRANSMISSION",
           "ELECTRODE_Q_RANGE_INV_A", "MICROPORE_Q_RANGE_INV_A", "NA_METAL_Q_INV_A"]

#: Transmission below which a pixel is the steel pin (seeds/000, Methods).
STEEL_TRANSMISSION = 0.1
#: q-region of the electrode mask, 1/A (seeds/000, Methods).
ELECTRODE_Q_RANGE_INV_A = (0.12, 0.3)
#: Microporous q-region of the operando maps, 1/A (seeds/000, section 3, Fig. 5d).
MICROPORE_Q_RANGE_INV_A = (0.12, 0.4)
#: Metallic Na diffraction peak, 1/A (seeds/000, section 2: 2.07; section 3: 2.08).
NA_METAL_Q_INV_A = 2.07
#: Default electrode threshold: region intensity above this multiple of the electrolyte background.
ELECTRODE_BACKGROUND_RATIO = 2.0


# ---------------------------------------------------------------------- q-region maps
def region_mean(data: Any, q_min_inv_A: float, q_max_inv_A: float) -> np.ndarray:
    """Mean intensity over the q points in ``[q_min, q_max]`` of every pixel or voxel, 1/cm.

    Parameters
    ----------
    data : Curves, ScanResult, SaxsTomogram or (q_inv_A, intensity_per_cm)
        Curves ``(..., nq)`` (a ScanResult's ``curves``), a tomogram ``(nq, ...)`` with its
        ``q_inv_A``, or a pair: q ``(nq,)`` and intensities ``(..., nq)``.
    q_min_inv_A, q_max_inv_A : float
        The region, 1/A; it must contain a q point.

    Returns
    -------
    ndarray
        The unweighted mean over the region's points (seeds/000, Methods), shape ``(...)``.
        Cost O(n_pixels x nq).
    """
    from forward.saxs.curves import Curves

    curves = getattr(data, "curves", data)
    if isinstance(curves, Curves):
        return curves.region_mean(q_min_inv_A, q_max_inv_A)
    if hasattr(data, "q_inv_A") and hasattr(data, "intensity_per_cm"):      # SaxsTomogram: q first
        q, values, axis = np.asarray(data.q_inv_A, dtype=float), np.asarray(data.intensity_per_cm), 0
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        q = arguments.array("q_inv_A", data[0], ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
        values, axis = np.asarray(data[1]), -1
        if values.ndim == 0 or values.shape[-1] != q.size:
            raise ValueError(f"intensity_per_cm: expected shape (..., {q.size}) (last axis along q), "
                             f"got {values.shape}")
    else:
        raise TypeError(f"data={type(data).__name__}: expected Curves, a ScanResult, a SaxsTomogram or "
                        f"(q_inv_A, intensity_per_cm)")
    lo = arguments.positive("q_min_inv_A", q_min_inv_A, unit="1/A")
    hi = arguments.positive("q_max_inv_A", q_max_inv_A, unit="1/A")
    if hi <= lo:
        raise ValueError(f"q_max_inv_A={q_max_inv_A!r}: expected more than q_min_inv_A={q_min_inv_A!r}")
    inside = (q >= lo) & (q <= hi)
    if not inside.any():
        raise ValueError(f"q_min_inv_A={q_min_inv_A!r}, q_max_inv_A={q_max_inv_A!r}: no q point in this region; "
                         f"the data cover [{q.min():g}, {q.max():g}] 1/A")
    return np.take(values, np.flatnonzero(inside), axis=axis).mean(axis=axis, dtype=np.float64)


def difference_map(intensity: Any, pristine: Any, *, mask: Any = None) -> np.ndarray:
    """Equation 5 of seeds/000: ``(I_op - I_pristine) / I_pristine`` per pixel.

    Parameters
    ----------
    intensity : array
        q-region mean of the operando scan, 1/cm (:func:`region_mean`); any shape, or a stack
        ``(n_scans, ...)`` of scans.
    pristine : array
        q-region mean of the pristine scan, the trailing shape of ``intensity``.
    mask : bool array, optional
        Pixels to keep (the electrode); others are NaN.

    Returns
    -------
    ndarray, float64
        Relative change, dimensionless; NaN outside ``mask`` and where ``I_pristine <= 0``
        (no scattering to normalise by). Dividing by the pristine intensity of the same pixel
        cancels the projected thickness (seeds/000, section 3).
    """
    i = arguments.array("intensity", intensity, dtype_kind="iuf").astype(float)
    p = arguments.array("pristine", pristine, dtype_kind="iuf").astype(float)
    if p.ndim == 0 or i.shape[i.ndim - p.ndim:] != p.shape:
        raise ValueError(f"pristine: expected the shape of one scan of intensity {i.shape}, got {p.shape}")
    keep = p > 0
    if mask is not None:
        keep &= _mask("mask", mask, p.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(keep, (i - p) / p, np.nan)


# ---------------------------------------------------------------------- masks
@dataclass(frozen=True, eq=False)
class ScanMasks:
    """Masks of a scanning-SWAXS map (seeds/000, Methods).

    Parameters
    ----------
    steel : bool ndarray
        Transmission below ``steel_transmission``: the current-collector pin.
    electrode : bool ndarray
        Not steel and region intensity above ``threshold_per_cm``.
    background_per_cm : float
        Electrolyte background of the electrode q-region, 1/cm.
    threshold_per_cm : float
        The electrode threshold, 1/cm.
    """

    steel: np.ndarray
    electrode: np.ndarray
    background_per_cm: float
    threshold_per_cm: float

    @property
    def surroundings(self) -> np.ndarray:
        """Neither steel nor electrode (electrolyte, quartz, air)."""
        return ~self.steel & ~self.electrode


def masks(transmission: Any, electrode_intensity: Any, *, steel_transmission: float = STEEL_TRANSMISSION,
          background_per_cm: float | None = None, ratio: float = ELECTRODE_BACKGROUND_RATIO,
          largest_component: bool = True) -> ScanMasks:
    """Steel and electrode masks of a map, by the rules of seeds/000 (Methods).

    Parameters
    ----------
    transmission : array
        Diode transmission per pixel (dimensionless).
    electrode_intensity : array
        Mean intensity over q = 0.12-0.3 1/A per pixel, 1/cm (:func:`region_mean` with
        :data:`ELECTRODE_Q_RANGE_INV_A`), same shape.
    steel_transmission : float
        Steel where the transmission is below this; 0.1 (seeds/000).
    background_per_cm : float, optional
        Electrolyte background in that q-region, 1/cm (e.g. the mean over an area above the
        electrode, as seeds/000 uses for its background). Default: the median over the pixels that
        are not steel; it is the electrolyte when, as in the capillary cell, most of the map is
        electrolyte.
    ratio : float
        Rule: **electrode = not steel and intensity > ratio x background**; 2 by default (hard carbon
        "scatters strongly while there is no scattering from electrolyte" there: the electrode's
        intensity is many times the electrolyte's, so the rule is insensitive to ratio in 1.5-5).
    largest_component : bool
        Keep only the largest connected (face-connected) electrode region, dropping isolated noisy
        pixels.

    Returns
    -------
    ScanMasks
        Cost O(n_pixels).
    """
    t = arguments.array("transmission", transmission, dtype_kind="iuf", finite=True).astype(float)
    i = arguments.array("electrode_intensity", electrode_intensity, dtype_kind="iuf", finite=True).astype(float)
    if i.shape != t.shape:
        raise ValueError(f"electrode_intensity: expected the shape of transmission {t.shape}, got {i.shape}")
    if t.size == 0:
        raise ValueError("transmission: expected at least one pixel")
    cut = arguments.in_range("steel_transmission", steel_transmission, 0.0, 1.0)
    r = arguments.positive("ratio", ratio)
    if r <= 1:
        raise ValueError(f"ratio={ratio!r}: expected more than 1 (the electrode scatters more than the background)")
    if not isinstance(largest_component, (bool, np.bool_)):
        raise TypeError(f"largest_component={largest_component!r}: expected True or False")
    steel = t < cut
    if background_per_cm is None:
        if steel.all():
            raise ValueError("transmission: every pixel is below steel_transmission; no background to estimate, "
                             "give background_per_cm")
        b = float(np.median(i[~steel]))
    else:
        b = arguments.positive("background_per_cm", background_per_cm, allow_zero=True, unit="1/cm")
    threshold = r * b
    electrode = ~steel & (i > threshold)
    if largest_component and electrode.any():
        lab, n = ndimage.label(electrode)
        if n > 1:
            sizes = np.bincount(lab.ravel())[1:]
            electrode = lab == (1 + int(np.argmax(sizes)))
    return ScanMasks(steel, electrode, b, threshold)


# ---------------------------------------------------------------------- pore filling
def default_micropore_contrast(micropore_fraction: float = 0.2) -> tuple[float, float]:
    """SLDs of the carbon matrix and of a Na-filled pore, 1/A^2, as the forward model sets them
    (:func:`forward.saxs.model.micropore_slds_per_A2`) at closed-micropore fraction ``micropore_fraction`` (0.2 is
    the capillary generator's default), without intercalation (which raises the matrix density in the forward
    model)."""
    from forward.saxs.model import micropore_slds_per_A2
    f = arguments.in_range("micropore_fraction", micropore_fraction, 0.0, 0.9)
    matrix, filled = micropore_slds_per_A2(f)
    return float(matrix), float(filled)


def _contrast(matrix_sld_per_A2: Any, filled_pore_sld_per_A2: Any) -> tuple[float, float]:
    """The two SLDs of the micropore contrast model, defaults :func:`default_micropore_contrast`."""
    if matrix_sld_per_A2 is None or filled_pore_sld_per_A2 is None:
        m_default, f_default = default_micropore_contrast()
        matrix_sld_per_A2 = m_default if matrix_sld_per_A2 is None else matrix_sld_per_A2
        filled_pore_sld_per_A2 = f_default if filled_pore_sld_per_A2 is None else filled_pore_sld_per_A2
    m = arguments.positive("matrix_sld_per_A2", matrix_sld_per_A2, unit="1/A^2")
    f = arguments.positive("filled_pore_sld_per_A2", filled_pore_sld_per_A2, unit="1/A^2")
    return m, f


def micropore_intensity_ratio(pore_filling: Any, *, pristine_filling: float = 0.0,
                              matrix_sld_per_A2: float | None = None,
                              filled_pore_sld_per_A2: float | None = None) -> np.ndarray:
    """Forward contrast: micropore intensity relative to the reference state, ``I(f) / I(f0)``.

    ``I ~ (Delta rho)^2`` (seeds/000, eq. 3: the micropore term scales with the squared electron
    density difference between pores and matrix) with the pore's SLD the volume average of its Na
    filling: ``Delta rho(f) = rho_m - f rho_Na``, so ``ratio = ((rho_m - f rho_Na) / (rho_m - f0
    rho_Na))^2`` at fixed pore volume, pore size and matrix density.
    """
    m, na = _contrast(matrix_sld_per_A2, filled_pore_sld_per_A2)
    f = np.asarray(pore_filling, dtype=float)
    f0 = arguments.in_range("pristine_filling", pristine_filling, 0.0, 1.0)
    return ((m - f * na) / (m - f0 * na)) ** 2


def pore_filling_from_micropore_change(ratio_or_change: Any, *, relative_change: bool = False,
                                       pristine_filling: float = 0.0, matrix_sld_per_A2: float | None = None,
                                       filled_pore_sld_per_A2: float | None = None) -> np.ndarray:
    """Pore filling from the change in micropore intensity, inverting ``I ~ (Delta rho)^2``.

    Parameters
    ----------
    ratio_or_change : array
        ``R = I / I_pristine`` of the micropore region (q = 0.12-0.4 1/A), or, with
        ``relative_change``, the eq.-5 difference ``D = R - 1`` (:func:`difference_map`). NaN
        stays NaN.
    relative_change : bool
        Interpret the input as ``D`` (True) or ``R`` (False).
    pristine_filling : float
        Filling ``f0`` of the reference state (0 for a pristine electrode).
    matrix_sld_per_A2, filled_pore_sld_per_A2 : float, optional
        SLD of the carbon matrix ``rho_m`` and of a pore full of Na ``rho_Na``, 1/A^2; default those
        of the forward model (:func:`default_micropore_contrast`).

    Returns
    -------
    ndarray
        ``f = (rho_m - sqrt(R) (rho_m - f0 rho_Na)) / rho_Na``, the exact inverse of
        :func:`micropore_intensity_ratio` on the branch ``f < rho_m / rho_Na`` (the pores still
        less dense than the matrix, always the case for Na in carbon). Not clipped: a value below 0
        or above 1 says the data are not explained by pore filling alone (intercalation changes
        ``rho_m`` too, seeds/000 section 3; noise).

    Notes
    -----
    Assumes the micropore volume fraction, size distribution and matrix SLD are those of the
    reference; the intensity ratio is invariant to the projected thickness, which cancels.
    """
    m, na = _contrast(matrix_sld_per_A2, filled_pore_sld_per_A2)
    f0 = arguments.in_range("pristine_filling", pristine_filling, 0.0, 1.0)
    if not isinstance(relative_change, (bool, np.bool_)):
        raise TypeError(f"relative_change={relative_change!r}: expected True or False")
    r = arguments.array("ratio_or_change", ratio_or_change, dtype_kind="iuf").astype(float)
    if relative_change:
        r = r + 1.0
    bad = np.isfinite(r) & (r < 0)
    if bad.any():
        raise ValueError(f"ratio_or_change: expected an intensity ratio >= 0 (a relative change >= -1), found "
                         f"{(r[bad] - (1.0 if relative_change else 0.0)).flat[0]!r}")
    return (m - np.sqrt(r) * (m - f0 * na)) / na


# ---------------------------------------------------------------------- histograms
@dataclass(frozen=True, eq=False)
class HistogramStats:
    """Grey-value statistics of the masked voxels of a map or tomogram (seeds/000, section 4, Fig. 9g).

    Parameters
    ----------
    n : int
        Voxels counted.
    mean, sd : float
        Mean and sample standard deviation (ddof = 1), the values' unit.
    cv : float
        ``sd / |mean|``, the relative width (NaN for a zero mean).
    percentiles : dict
        Percentile -> value (linear interpolation).
    counts : ndarray (bins,)
    edges : ndarray (bins + 1,)
    """

    n: int
    mean: float
    sd: float
    cv: float
    percentiles: dict = field(default_factory=dict)
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    edges: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def iqr(self) -> float:
        """Interquartile range (needs the 25th and 75th percentiles)."""
        return self.percentiles[75.0] - self.percentiles[25.0]


def histogram_statistics(values: Any, mask: Any = None, *, bins: int = 64,
                         percentiles: Sequence[float] = (5.0, 25.0, 50.0, 75.0, 95.0),
                         value_range: tuple[float, float] | None = None) -> HistogramStats:
    """Histogram, mean, sd and percentiles of the values in ``mask`` (the homogeneity measure).

    Parameters
    ----------
    values : array
        A map or tomogram (e.g. the micropore-region mean per voxel, 1/cm).
    mask : bool array, optional
        Voxels to count (the electrode); default every finite voxel. NaN inside the mask is
        skipped.
    bins : int
        Histogram bins.
    percentiles : sequence of float
        In [0, 100].
    value_range : (low, high), optional
        Histogram range (default min..max), to compare several volumes on the same bins.

    Returns
    -------
    HistogramStats
        Cost O(n) plus a partial sort for the percentiles.
    """
    v = arguments.array("values", values, dtype_kind="iuf").astype(float)
    keep = np.isfinite(v)
    if mask is not None:
        keep &= _mask("mask", mask, v.shape)
    x = v[keep]
    if x.size < 2:
        raise ValueError(f"mask: expected at least two finite values to describe, got {x.size}")
    n_bins = arguments.integer("bins", bins, minimum=1)
    pcts = [arguments.in_range("percentiles", p, 0.0, 100.0) for p in percentiles]
    if value_range is not None:
        if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
            raise ValueError(f"value_range={value_range!r}: expected (low, high)")
        lo, hi = (arguments.finite("value_range", b) for b in value_range)
        if hi <= lo:
            raise ValueError(f"value_range={value_range!r}: expected low < high")
        value_range = (lo, hi)
    counts, edges = np.histogram(x, bins=n_bins, range=value_range)
    mean, sd = float(x.mean()), float(x.std(ddof=1))
    return HistogramStats(int(x.size), mean, sd, sd / abs(mean) if mean != 0 else math.nan,
                          {p: float(q) for p, q in zip(pcts, np.percentile(x, pcts))}, counts, edges)


# ---------------------------------------------------------------------- plating
def peak_height_map(data: Any, centre_inv_A: float = NA_METAL_Q_INV_A, *, half_width_inv_A: float = 0.02,
                    flank_inv_A: float = 0.03) -> np.ndarray:
    """Height of a sharp peak above a local linear background, per pixel, 1/cm.

    ``h = mean(I over |q - c| <= w) - B``, B the straight line through the flank means (over
    ``[c - w - f, c - w)`` and ``(c + w, c + w + f]``, at their mean q) evaluated at the peak window's
    mean q: the flanks remove the smooth background (the 002 tail, the broad pseudo-metallic Na at ~2.1
    1/A, electrolyte), leaving the sharp metallic Na diffraction peak at 2.07 1/A (seeds/000,
    section 3, Fig. 8b). Exact for a background linear in q over the windows, whatever the sampling.

    Parameters
    ----------
    data : Curves, ScanResult or (q_inv_A, intensity_per_cm)
        See :func:`region_mean`.
    centre_inv_A, half_width_inv_A, flank_inv_A : float
        Peak centre, half width of the peak window and width of each flank, 1/A; each window must
        hold a q point.
    """
    c = arguments.positive("centre_inv_A", centre_inv_A, unit="1/A")
    w = arguments.positive("half_width_inv_A", half_width_inv_A, unit="1/A")
    f = arguments.positive("flank_inv_A", flank_inv_A, unit="1/A")
    if c - w - f <= 0:
        raise ValueError(f"flank_inv_A={flank_inv_A!r}: the lower flank reaches q <= 0; expected "
                         f"centre - half_width - flank > 0")
    peak = region_mean(data, c - w, c + w)                     # also checks data and the peak window
    q, values = _q_values(data)
    windows = [(q >= c - w - f) & (q < c - w), (q > c + w) & (q <= c + w + f), (q >= c - w) & (q <= c + w)]
    if not windows[0].any() or not windows[1].any():
        raise ValueError(f"flank_inv_A={flank_inv_A!r}: a flank window holds no q point; widen it")
    (ql, qr, qp) = (float(q[m].mean()) for m in windows)
    left, right = (values[..., m].mean(axis=-1, dtype=np.float64) for m in windows[:2])
    # The linear background through the two flank means, at the mean q of the peak window.
    return peak - (left + (right - left) * (qp - ql) / (qr - ql))


def _q_values(data: Any) -> tuple[np.ndarray, np.ndarray]:
    curves = getattr(data, "curves", data)
    if hasattr(curves, "q_inv_A") and hasattr(curves, "intensity_per_cm"):
        return np.asarray(curves.q_inv_A, dtype=float), np.asarray(curves.intensity_per_cm)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return np.asarray(data[0], dtype=float), np.asarray(data[1])
    raise TypeError(f"data={type(data).__name__}: expected Curves, a ScanResult or (q_inv_A, intensity_per_cm)")


def collector_height_um(steel_mask: Any, z_um: Any) -> float:
    """Height of the current collector's top face, um: midway between the highest steel row and the next.

    Parameters
    ----------
    steel_mask : bool array (rows, ...)
        Steel pixels (:func:`masks`), rows ordered by increasing ``z_um``.
    z_um : array (rows,)
        Row heights, um.
    """
    z = arguments.array("z_um", z_um, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    m = arguments.array("steel_mask", steel_mask, dtype_kind="b")
    if m.ndim == 0 or m.shape[0] != z.size:
        raise ValueError(f"steel_mask: expected {z.size} rows (one per z_um), got shape {m.shape}")
    rows = np.flatnonzero(m.reshape(z.size, -1).any(axis=1))
    if rows.size == 0:
        raise ValueError("steel_mask: no steel pixel; the collector height cannot be found")
    top = rows.max()
    step = (z[top + 1] - z[top]) if top + 1 < z.size else (z[top] - z[top - 1] if top > 0 else 0.0)
    return float(z[top] + step / 2)


@dataclass(frozen=True, eq=False)
class PlatingOnset:
    """Where and when the metallic Na peak first rises.

    Parameters
    ----------
    scan_index : int or None
        First scan with at least ``min_pixels`` pixels above the threshold (None: no plating seen).
    height_um : float
        Median height above the current collector of those pixels, um (NaN if none).
    lowest_height_um : float
        The lowest such pixel's height above the collector, um (NaN if none).
    threshold_per_cm : float
        Peak-height threshold, 1/cm.
    detected : ndarray (n_scans, ...) of bool
        Pixels above the threshold in every scan.
    fraction : ndarray (n_scans,)
        Fraction of the masked pixels above the threshold per scan.
    """

    scan_index: int | None
    height_um: float
    lowest_height_um: float
    threshold_per_cm: float
    detected: np.ndarray
    fraction: np.ndarray


def plating_onset(peak_maps: Any, z_um: Any, *, collector_z_um: float, mask: Any = None,
                  threshold_per_cm: float | None = None, n_sigma: float = 5.0,
                  min_pixels: int = 3) -> PlatingOnset:
    """First scan and height above the current collector at which the Na 2.07 1/A peak appears.

    Parameters
    ----------
    peak_maps : array (n_scans, rows, ...)
        Peak heights per scan (:func:`peak_height_map`), 1/cm; scan 0 is the reference (pristine).
    z_um : array (rows,)
        Row heights, um.
    collector_z_um : float
        Height of the collector's top face, um (:func:`collector_height_um`).
    mask : bool array (rows, ...), optional
        Pixels to search (the electrode, seeds/000 masks the collector).
    threshold_per_cm : float, optional
        Rule by default: ``median + n_sigma x 1.4826 MAD`` of the reference scan's peak heights in
        the mask (a robust noise level of a scan without plating).
    n_sigma : float
    min_pixels : int
        Pixels above the threshold needed to call a scan plated.

    Returns
    -------
    PlatingOnset
        Cost O(n_scans x n_pixels).
    """
    h = arguments.array("peak_maps", peak_maps, dtype_kind="iuf").astype(float)
    z = arguments.array("z_um", z_um, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if h.ndim < 2 or h.shape[1] != z.size:
        raise ValueError(f"peak_maps: expected (n_scans, {z.size} rows, ...), got shape {h.shape}")
    z0 = arguments.finite("collector_z_um", collector_z_um, unit="um")
    keep = np.ones(h.shape[1:], bool) if mask is None else _mask("mask", mask, h.shape[1:])
    keep = keep & np.isfinite(h).all(axis=0)
    if not keep.any():
        raise ValueError("mask: no pixel to search for plating")
    min_px = arguments.integer("min_pixels", min_pixels, minimum=1)
    if threshold_per_cm is None:
        ref = h[0][keep]
        med = float(np.median(ref))
        mad = float(np.median(np.abs(ref - med))) * 1.4826
        thr = med + arguments.positive("n_sigma", n_sigma) * mad
    else:
        thr = arguments.finite("threshold_per_cm", threshold_per_cm, unit="1/cm")
    detected = (h > thr) & keep[None]
    counts = detected.reshape(h.shape[0], -1).sum(axis=1)
    fraction = counts / keep.sum()
    hits = np.flatnonzero(counts >= min_px)
    heights = np.broadcast_to(z.reshape((-1,) + (1,) * (h.ndim - 2)), h.shape[1:]) - z0
    if hits.size == 0:
        return PlatingOnset(None, math.nan, math.nan, thr, detected, fraction)
    k = int(hits[0])
    hk = heights[detected[k]]
    return PlatingOnset(k, float(np.median(hk)), float(hk.min()), thr, detected, fraction)


def _mask(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    m = arguments.array(name, value, dtype_kind="b")
    if m.shape != tuple(shape):
        raise ValueError(f"{name}: expected a boolean mask of shape {tuple(shape)}, got {m.shape}")
    return m
