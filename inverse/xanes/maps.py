"""Maps from XANES fits: oxidation state and state of charge, masks, valence-gradient directions, chunking.

* :class:`ValenceCalibration` / :func:`valence_map`: "the whiteline energy [...] positively correlated to
  their oxidation states" (seeds/004, section 4, "Data analysis"): a straight line through the white-line
  energies of two references of known valence (e.g. NiO, Ni2+, and LiNiO2, Ni3+), applied per pixel, with the
  white-line uncertainty propagated, ``sigma_v = |dv/dE| sigma_E``.
* :func:`soc_from_valence`: for Ni-rich NMC the Ni valence is linear in the Li content by charge balance
  (twin.generators.nmc_particle.ni_oxidation_state: NMC811 2.875 at SOC 0, 4.125 at SOC 1), so SOC is linear in
  the valence.
* :func:`edge_jump_mask`: pixels with enough absorber (edge jump above a threshold), as TXM-Wizard masks by
  edge jump.
* :func:`valence_gradient` and :func:`radial_alignment`: local direction of the valence (SOC) gradient in a map
  or volume and how it lines up with the radial direction from a particle centre: seeds/004 (rod vs gravel
  NMC, section 5) contrasts radially aligned rod-shaped primary particles, along which Li diffuses towards the
  centre, with randomly oriented gravel-like ones. Mean |cos| of the angle between gradient and radius is 1 for
  perfectly radial gradients and 2/pi = 0.637 (2D) or 1/2 (3D) for isotropic random directions.
* :func:`map_row_blocks`: run a per-pixel analysis over an HDF5 stack (n_E, ny, nx) in blocks of rows, so
  stacks larger than memory can be processed (h5py reads one block at a time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
from scipy import ndimage

from xtwin import arguments

__all__ = ["ValenceCalibration", "calibration_from_model", "valence_map", "soc_from_valence", "edge_jump_mask",
           "GradientField", "valence_gradient", "RadialAlignment", "radial_alignment", "map_row_blocks"]


@dataclass(frozen=True)
class ValenceCalibration:
    """Straight line valence(E) through two references: white line ``energy_ev[i]`` at ``valence[i]``.

    Parameters
    ----------
    energy_ev : (float, float)
        White-line (or E0) energies of the two references, eV, different.
    valence : (float, float)
        Their valences (formal oxidation states), different.
    source : str
        Where the reference values come from.
    """

    energy_ev: tuple
    valence: tuple
    source: str = ""

    def __post_init__(self) -> None:
        e = tuple(arguments.finite("energy_ev", v, unit="eV") for v in _pair("energy_ev", self.energy_ev))
        v = tuple(arguments.in_range("valence", x, 0.0, 8.0) for x in _pair("valence", self.valence))
        if e[0] == e[1] or v[0] == v[1]:
            raise ValueError(f"energy_ev={self.energy_ev!r}, valence={self.valence!r}: expected two references with "
                             f"different energies and different valences")
        object.__setattr__(self, "energy_ev", e)
        object.__setattr__(self, "valence", v)

    @property
    def valence_per_ev(self) -> float:
        """Slope dv/dE, 1/eV."""
        return (self.valence[1] - self.valence[0]) / (self.energy_ev[1] - self.energy_ev[0])

    def valence_of(self, energy_ev) -> np.ndarray:
        """Valence at ``energy_ev`` (eV), any shape (NaN stays NaN)."""
        e = np.asarray(energy_ev, dtype=float)
        return self.valence[0] + (e - self.energy_ev[0]) * self.valence_per_ev


def _pair(name: str, value) -> tuple:
    if not isinstance(value, (tuple, list, np.ndarray)) or len(value) != 2:
        raise ValueError(f"{name}={value!r}: expected two values, one per reference")
    return tuple(value)


def calibration_from_model(model, valences: tuple[float, float] = (2.0, 3.0), *, feature: str = "whiteline"
                           ) -> ValenceCalibration:
    """Calibration line from a forward.xanes.edge.EdgeModel: its exact white line (or E0) at two valences."""
    from forward.xanes import edge

    arguments.one_of("feature", feature, ("whiteline", "e0"))
    v = _pair("valences", valences)
    f = edge.whiteline_of_model if feature == "whiteline" else edge.e0_of_model
    e = tuple(float(f(model, x)) for x in v)
    return ValenceCalibration(e, tuple(float(x) for x in v), source=f"{feature} of {model.source}")


def valence_map(energy_ev, calibration: ValenceCalibration, energy_sigma_ev=None, mask=None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Valence per pixel from a white-line (or E0) map, and its 1-sigma uncertainty.

    Parameters
    ----------
    energy_ev : array
        White-line energies, eV (e.g. :attr:`WhitelineFit.energy_ev`); NaN where not fitted.
    calibration : ValenceCalibration
    energy_sigma_ev : array, optional
        1-sigma uncertainties of ``energy_ev``, eV (same shape or scalar); default 0.
    mask : array of bool, optional
        Pixels outside are NaN.

    Returns
    -------
    (valence, valence_sigma) : ndarrays of the shape of ``energy_ev``
        ``valence_sigma = |dv/dE| energy_sigma_ev`` (the calibration references taken as exact).
    """
    if not isinstance(calibration, ValenceCalibration):
        raise TypeError(f"calibration={calibration!r}: expected a ValenceCalibration")
    e = arguments.array("energy_ev", energy_ev, dtype_kind="iuf").astype(float)
    v = calibration.valence_of(e)
    if energy_sigma_ev is None:
        s = np.zeros_like(v)
    else:
        s = np.asarray(energy_sigma_ev, dtype=float)
        try:
            s = np.broadcast_to(s, e.shape) * abs(calibration.valence_per_ev)
        except ValueError:
            raise ValueError(f"energy_sigma_ev: expected a scalar or shape {e.shape}, got {s.shape}") from None
    s = np.array(s, dtype=float)
    if mask is not None:
        m = arguments.array("mask", mask, dtype_kind="b")
        if m.shape != e.shape:
            raise ValueError(f"mask: expected shape {e.shape}, got {m.shape}")
        v = np.where(m, v, np.nan)
        s = np.where(m, s, np.nan)
    return v, s


def soc_from_valence(valence, valence_at_soc0: float = 2.875, valence_at_soc1: float = 4.125, valence_sigma=None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """State of charge linear in the Ni valence, and its uncertainty.

    Defaults: NMC811 by charge balance with Mn4+ and Co3+ (twin.generators.nmc_particle.ni_oxidation_state:
    ``v = (3.3 - x) / 0.8``, 2.875 at x = 1 (SOC 0) and 4.125 at x = 0 (SOC 1)). Not clipped to [0, 1], so
    noise stays unbiased.
    """
    v0 = arguments.finite("valence_at_soc0", valence_at_soc0)
    v1 = arguments.finite("valence_at_soc1", valence_at_soc1)
    if v0 == v1:
        raise ValueError(f"valence_at_soc1={valence_at_soc1!r}: expected a value different from valence_at_soc0")
    v = arguments.array("valence", valence, dtype_kind="iuf").astype(float)
    soc = (v - v0) / (v1 - v0)
    sig = np.zeros_like(soc) if valence_sigma is None else np.asarray(valence_sigma, dtype=float) / abs(v1 - v0)
    return soc, np.broadcast_to(sig, soc.shape).copy()


def edge_jump_mask(edge_jump, *, threshold: float | None = None, fraction: float = 0.2) -> np.ndarray:
    """Pixels with absorber: ``edge_jump > threshold``, default ``fraction`` x the 99th percentile of the
    finite jumps (robust to a few hot pixels). NaN jumps are outside."""
    j = arguments.array("edge_jump", edge_jump, dtype_kind="iuf").astype(float)
    finite = np.isfinite(j)
    if threshold is None:
        frac = arguments.in_range("fraction", fraction, 0.0, 1.0)
        if not np.any(finite):
            raise ValueError("edge_jump: expected some finite values to set a threshold")
        threshold = frac * float(np.percentile(j[finite], 99))
    else:
        threshold = arguments.finite("threshold", threshold)
    with np.errstate(invalid="ignore"):
        return finite & (j > threshold)


@dataclass(frozen=True)
class GradientField:
    """Gradient of a smoothed valence map/volume.

    Attributes
    ----------
    gradient : ndarray (ndim, ...)
        d valence / d x along each array axis, per um (per pixel if ``pixel_um = 1``).
    magnitude : ndarray (...)
    unit : ndarray (ndim, ...)
        Unit vectors (NaN where not significant).
    significant : ndarray of bool (...)
        Inside the mask and ``magnitude > threshold_sigma x noise``.
    noise_per_um : float or ndarray
        1-sigma noise of each gradient component from the input noise (0 if none given).
    """

    gradient: np.ndarray
    magnitude: np.ndarray
    unit: np.ndarray
    significant: np.ndarray
    noise_per_um: np.ndarray


def valence_gradient(valence, *, mask=None, smooth_px: float = 1.0, pixel_um: float = 1.0, valence_sigma=None,
                     threshold_sigma: float = 3.0, min_magnitude_per_um: float = 0.0) -> GradientField:
    """Local valence-gradient vectors: ``np.gradient`` of a Gaussian-smoothed map (2D) or volume (3D).

    Parameters
    ----------
    valence : array (ny, nx) or (nz, ny, nx)
        Valence (or SOC) map; NaN outside the sample.
    mask : array of bool, optional
        Where the map is valid (default: finite values). Smoothing is normalised by the smoothed mask, so
        the background does not leak in; the gradient is kept only where the whole 3x3(x3) neighbourhood is
        inside the mask.
    smooth_px : float
        Gaussian sigma of the smoothing, pixels (0: none).
    pixel_um : float
        Pixel size, um (the gradient is per um).
    valence_sigma : float or array, optional
        1-sigma noise of the input (white, uncorrelated between pixels). The noise of each gradient component
        is propagated exactly through the linear smoothing + central difference (sum of the squared weights of
        the combined filter, computed by filtering a unit impulse) and a vector is significant where its
        magnitude exceeds ``threshold_sigma`` times that noise. Without it only ``min_magnitude_per_um``
        applies.
    threshold_sigma : float
    min_magnitude_per_um : float

    Returns
    -------
    GradientField
        Cost O(N) (separable Gaussian filters and differences).
    """
    v = arguments.array("valence", valence, ndim=(2, 3), dtype_kind="iuf").astype(float)
    m = np.isfinite(v) if mask is None else arguments.array("mask", mask, shape=v.shape, dtype_kind="b")
    m = m & np.isfinite(v)
    sigma = arguments.positive("smooth_px", smooth_px, allow_zero=True, unit="px")
    px = arguments.positive("pixel_um", pixel_um, unit="um")
    k = arguments.positive("threshold_sigma", threshold_sigma, allow_zero=True)
    floor = arguments.positive("min_magnitude_per_um", min_magnitude_per_um, allow_zero=True, unit="1/um")
    filled = np.where(m, v, 0.0)
    if sigma > 0:
        num = ndimage.gaussian_filter(filled, sigma, mode="constant")
        den = ndimage.gaussian_filter(m.astype(float), sigma, mode="constant")
        with np.errstate(divide="ignore", invalid="ignore"):
            smooth = np.where(m, num / den, 0.0)
    else:
        smooth = filled
    grad = np.stack(np.gradient(smooth, px), axis=0)
    inner = ndimage.binary_erosion(m, structure=np.ones((3,) * v.ndim), border_value=0)
    grad[:, ~inner] = np.nan
    mag = np.sqrt(np.sum(grad ** 2, axis=0))
    noise = np.zeros(v.ndim)
    if valence_sigma is not None:
        vs = np.asarray(valence_sigma, dtype=float)
        level = float(np.nanmedian(vs[np.broadcast_to(m, vs.shape)] if vs.ndim else vs))
        impulse = np.zeros((int(8 * sigma) + 5,) * v.ndim)
        centre = tuple(s // 2 for s in impulse.shape)
        impulse[centre] = 1.0
        resp = ndimage.gaussian_filter(impulse, sigma, mode="constant") if sigma > 0 else impulse
        weights = np.gradient(resp, px)
        noise = level * np.sqrt(np.array([np.sum(w ** 2) for w in weights]))
    # magnitude noise for a near-isotropic filter: the component noise (same along every axis)
    threshold = max(k * float(np.max(noise)), floor)
    with np.errstate(invalid="ignore"):
        significant = inner & np.isfinite(mag) & (mag > threshold) & (mag > 0)
    unit = np.full_like(grad, np.nan)
    unit[:, significant] = grad[:, significant] / mag[significant]
    return GradientField(grad, mag, unit, significant, noise)


@dataclass(frozen=True)
class RadialAlignment:
    """Mean |cos| between gradients and radial directions, its standard error, the count of vectors used, and
    the value expected for isotropic random directions (2/pi in 2D, 1/2 in 3D)."""

    mean_abs_cos: float
    standard_error: float
    n_vectors: int
    random_expectation: float


def radial_alignment(field: GradientField, centre_px, *, min_radius_px: float = 1.0) -> RadialAlignment:
    """How radial the significant gradient vectors are around ``centre_px`` (array-index coordinates).

    ``|cos|`` of the angle between each significant unit vector and the direction from the centre to its
    pixel, averaged; pixels closer than ``min_radius_px`` to the centre are skipped (undefined direction).
    Mostly parallel gradients (rod-like, radially aligned primary particles) give values near 1; randomly
    oriented ones (gravel) approach :attr:`RadialAlignment.random_expectation`.
    """
    if not isinstance(field, GradientField):
        raise TypeError(f"field={field!r}: expected a GradientField from valence_gradient")
    ndim = field.unit.shape[0]
    c = arguments.array("centre_px", centre_px, shape=(ndim,), dtype_kind="iuf", finite=True).astype(float)
    rmin = arguments.positive("min_radius_px", min_radius_px, allow_zero=True, unit="px")
    idx = np.nonzero(field.significant)
    pos = np.stack(idx, axis=0).astype(float) - c[:, None]
    r = np.sqrt(np.sum(pos ** 2, axis=0))
    keep = r >= max(rmin, 1e-12)
    u = np.stack([field.unit[(a,) + idx] for a in range(ndim)], axis=0)[:, keep]
    cos = np.abs(np.sum(u * pos[:, keep] / r[keep], axis=0))
    expect = 2.0 / np.pi if ndim == 2 else 0.5
    n = int(cos.size)
    if n == 0:
        return RadialAlignment(float("nan"), float("nan"), 0, expect)
    se = float(np.std(cos) / np.sqrt(n)) if n > 1 else float("nan")
    return RadialAlignment(float(np.mean(cos)), se, n, expect)


def map_row_blocks(dataset, function: Callable[[np.ndarray, slice], Mapping[str, np.ndarray]], *,
                   rows_per_block: int = 64) -> dict[str, np.ndarray]:
    """Apply a per-pixel analysis to a stack ``(n_E, ny, nx)`` one block of rows at a time.

    Parameters
    ----------
    dataset : h5py.Dataset or array
        Anything with ``.shape == (n_E, ny, nx)`` and slicing ``dataset[:, r0:r1, :]`` (an h5py dataset reads only
        that block from disk, so the stack need not fit in memory).
    function : callable(block, rows) -> mapping of name to array
        Called with ``block`` (n_E, r1 - r0, nx) and ``rows = slice(r0, r1)``; returns per-pixel results of
        leading shape ``(r1 - r0, nx)`` (extra trailing axes allowed), e.g.
        ``lambda b, rows: {"whiteline_ev": fit_whiteline(E, normalise(E, spectra_from_stack(b)).mu_norm).energy_ev}``.
    rows_per_block : int
        Rows read per call; memory ~ n_E x rows x nx x itemsize plus the analysis's temporaries.

    Returns
    -------
    dict of name -> ndarray (ny, nx, ...)
        The blocks' results assembled. Peak memory: outputs + one block.
    """
    shape = getattr(dataset, "shape", None)
    if shape is None or len(shape) != 3:
        raise ValueError(f"dataset: expected a stack of shape (n_E, ny, nx) (h5py dataset or array), got "
                         f"{shape!r}")
    if not callable(function):
        raise TypeError(f"function={function!r}: expected a callable(block, rows)")
    step = arguments.integer("rows_per_block", rows_per_block, minimum=1)
    _, ny, nx = shape
    out: dict[str, np.ndarray] = {}
    for r0 in range(0, ny, step):
        rows = slice(r0, min(r0 + step, ny))
        block = np.asarray(dataset[:, rows, :])
        result = function(block, rows)
        if not isinstance(result, Mapping):
            raise TypeError(f"function: expected it to return a mapping of name -> array, got {type(result)}")
        for name, value in result.items():
            a = np.asarray(value)
            if a.shape[:2] != (rows.stop - rows.start, nx):
                raise ValueError(f"function: result {name!r} has shape {a.shape}; expected leading shape "
                                 f"{(rows.stop - rows.start, nx)} (one value per pixel of the block)")
            if name not in out:
                out[name] = np.empty((ny, nx) + a.shape[2:], dtype=a.dtype)
            out[name][rows] = a
    return out
