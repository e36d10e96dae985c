"""Compton profiles J(p_z) and the electron momentum factor (EMF) from energy spectra, vectorised over pixels.

seeds/001, section 2.2: each pixel spectrum around the Compton peak (~94 keV for 114.64 keV at 90 deg) is turned
into a Compton profile with eq. (2) (p_z from E1, E2 and theta; :func:`forward.compton.physics.pz_au`, exact),
and the EMF is eq. (3)-(5)::

    EMF = E_L / E_H,   E_L = int_{-1}^{1} J dp_z,   E_H = int_{-5}^{-1} J dp_z + int_{1}^{5} J dp_z   (p_z in a.u.)

Everything here is *linear in the counts*, which is what makes it fast and its uncertainty exact:

* Channel -> p_z. Channel i covers [E_i, E_{i+1}] keV, i.e. [p_i, p_{i+1}] a.u. through eq. (2) (p_z increases
  with E2; a channel of 0.2 keV spans ~0.23 a.u. near the Compton peak at 90 deg), so the Jacobian dp_z/dE2 is
  built into the channel widths in p_z and counts are conserved. Within a channel the density per a.u. is taken
  linear, its slope from the two neighbouring channels (:func:`_interval_matrix`); a window limit that cuts a
  channel takes the part of its counts this linear density puts inside, so ``E_L = sum_i w_i c_i`` with weights
  ``w`` that are 1 inside, 0 outside and fractional (plus small neighbour terms) at the limits. Resampling onto
  a uniform p_z grid (:func:`compton_profile`) uses the same construction.
* Background. Counts per a.u., ``c_i / (p_{i+1} - p_i)``, in windows outside the profile (default p_z in
  [-17, -12] and [8, 14] a.u., i.e. 78.4-82.9 keV, between the Pb K-alpha1 (75.0 keV) and K-beta3 (84.5 keV)
  lines of the shielding, and 100.6-106.3 keV, below the Rayleigh peak at 114.64 keV) are fitted by a polynomial
  in p_z (degree 1 by default; ordinary least squares, one pseudo-inverse shared by all pixels), and the fitted
  background integrated over each channel (midpoint rule: exact for degree <= 1) is subtracted. This also
  removes the flat part of the core-electron profile beyond |p_z| ~ 8 a.u. (e.g. Ni 1s), so the EMF depends on
  this choice, as it depends on the detector resolution: calibrate it (:mod:`inverse.compton.calibration`).
* The whole chain (selection, background, windows, optional channel efficiency) collapses into two weight
  vectors ``w_L``, ``w_H`` over the channels, so an (80, 80, 1000) cube becomes an EMF map by one matrix
  product. Counting uncertainty: with Poisson variances ``v_i`` (the counts, or a propagated variance cube),
  ``var E_L = sum w_L^2 v``, ``var E_H = sum w_H^2 v``, ``cov = sum w_L w_H v`` (channels straddling p_z = +-1
  feed both), and ``var EMF = EMF^2 (var E_L / E_L^2 + var E_H / E_H^2 - 2 cov / (E_L E_H))`` (first order).
* Symmetrisation ``J(p) = (J(p) + J(-p)) / 2`` does not change the EMF: the windows are symmetric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from inverse.compton import cube as _cube
from xtwin import arguments

__all__ = ["EMF_LOW_AU", "EMF_HIGH_AU", "BACKGROUND_WINDOWS_AU", "INCIDENT_KEV", "ANGLE_DEG", "EmfWeights",
           "emf_weights", "EmfResult", "emf", "emf_map", "binning_for_precision", "ComptonProfile",
           "compton_profile", "channel_pz_au", "spectrum_to_profile", "emf_of_profile", "emf_variance_per_count",
           "counts_for_precision"]

#: Half-width of the valence window of eq. (4), a.u.
EMF_LOW_AU = 1.0
#: Outer limit of the core windows of eq. (5), a.u.
EMF_HIGH_AU = 5.0
#: Default background windows in p_z, a.u. (module docstring).
BACKGROUND_WINDOWS_AU = ((-17.0, -12.0), (8.0, 14.0))
#: Incident energy, keV (seeds/001, section 2.1).
INCIDENT_KEV = 114.64
#: Scattering angle, deg (seeds/001, section 2.1).
ANGLE_DEG = 90.0


def _physics():
    from forward.compton import physics

    return physics


def channel_pz_au(energy_edges_kev, *, incident_kev: float = INCIDENT_KEV, angle_deg: float = ANGLE_DEG
                  ) -> np.ndarray:
    """p_z (a.u.) of energies through eq. (2), exact (:func:`forward.compton.physics.pz_au`)."""
    e = np.asarray(energy_edges_kev, dtype=float)
    return np.asarray(_physics().pz_au(incident_kev, e, angle_deg), dtype=float)


def _windows(name: str, value) -> tuple[tuple[float, float], ...]:
    try:
        w = tuple((float(a), float(b)) for a, b in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}={value!r}: expected a sequence of (low, high) p_z windows in a.u.") from None
    for a, b in w:
        if not (math.isfinite(a) and math.isfinite(b) and a < b):
            raise ValueError(f"{name}={value!r}: expected windows (low, high) with low < high, a.u.")
    return w


def _degree(background) -> int | None:
    if background is None or background is False or background == "none":
        return None
    if background == "linear":
        return 1
    if background == "constant":
        return 0
    if isinstance(background, (int, np.integer)) and not isinstance(background, bool) and 0 <= background <= 4:
        return int(background)
    raise ValueError(f"background={background!r}: expected None/'none', 'constant', 'linear' or a polynomial "
                     f"degree 0-4")


@dataclass(frozen=True)
class EmfWeights:
    """Linear weights of E_L and E_H over a slice of channels (module docstring).

    Attributes
    ----------
    channels : slice
        Channels used (those overlapping the p_z range of the windows and the background).
    pz_edges_au : ndarray (n + 1,)
        p_z of the edges of those channels, a.u.
    w_low, w_high : ndarray (n,)
        ``E_L = counts[..., channels] @ w_low``; likewise E_H.
    operator : ndarray (n, n)
        Background-subtraction operator ``I - B`` acting on counts (identity without background).
    """

    channels: slice
    pz_edges_au: np.ndarray
    w_low: np.ndarray
    w_high: np.ndarray
    operator: np.ndarray


def _overlap(lo: np.ndarray, hi: np.ndarray, a: float, b: float) -> np.ndarray:
    return np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None) / (hi - lo)


def _interval_matrix(lo: np.ndarray, hi: np.ndarray, a, b) -> np.ndarray:
    """(n_intervals, n_channels) linear map from channel counts to the counts inside intervals [a_j, b_j].

    Within channel i (p_z in [lo_i, hi_i]) the density is modelled as linear, ``d_i + s_i (p - m_i)`` with
    ``d_i = c_i / (hi_i - lo_i)``, m_i the centre and the slope ``s_i = (d_{i+1} - d_{i-1}) / (m_{i+1} -
    m_{i-1})`` from the neighbours (0 for the outermost channels): it conserves the channel's counts, and a
    part of a channel gets ``d_i |part| + s_i ((u - m_i)^2 - (l - m_i)^2) / 2``. Second-order accurate where a
    window limit cuts a channel, which the uniform split (first order) is not.
    """
    a = np.atleast_1d(np.asarray(a, dtype=float))[:, None]
    b = np.atleast_1d(np.asarray(b, dtype=float))[:, None]
    width = hi - lo
    mid = 0.5 * (lo + hi)
    low = np.maximum(lo[None, :], a)
    up = np.minimum(hi[None, :], b)
    inside = up > low
    uniform = np.where(inside, (up - low) / width[None, :], 0.0)
    g = np.where(inside, 0.5 * ((up - mid) ** 2 - (low - mid) ** 2), 0.0)  # coefficient of s_i
    n = lo.size
    slope = np.zeros((n, n))  # s = slope @ c
    if n >= 3:
        k = np.arange(1, n - 1)
        span = mid[k + 1] - mid[k - 1]
        slope[k, k + 1] = 1.0 / (width[k + 1] * span)
        slope[k, k - 1] = -1.0 / (width[k - 1] * span)
    return uniform + g @ slope


def emf_weights(energy_edges_kev, *, incident_kev: float = INCIDENT_KEV, angle_deg: float = ANGLE_DEG,
                low_au: float = EMF_LOW_AU, high_au: float = EMF_HIGH_AU, background="linear",
                background_windows_au=BACKGROUND_WINDOWS_AU, channel_efficiency=None,
                extra_range_au: tuple[float, float] | None = None) -> EmfWeights:
    """Weights of E_L and E_H (eq. 4-5) over the channels, with background subtraction folded in.

    Parameters
    ----------
    energy_edges_kev : array (n_channels + 1,)
        Channel edges, keV, increasing.
    incident_kev : float
        Incident energy E1, keV (114.64).
    angle_deg : float
        Scattering angle, deg (90), in (0, 180].
    low_au, high_au : float
        Window limits of eq. (4)-(5), a.u. (1 and 5), 0 < low < high.
    background : None, 'constant', 'linear' or int
        Background under the Compton peak: none, or a polynomial of this degree in p_z fitted to the counts per
        a.u. in ``background_windows_au``.
    background_windows_au : sequence of (low, high)
        p_z windows of the background fit, a.u.; must lie inside the data and outside [-high_au, high_au].
    channel_efficiency : array (n_channels,), optional
        Relative efficiency of each channel (e.g. detector efficiency times t2 at E2); counts are divided by it.
    extra_range_au : (float, float), optional
        Further p_z range the selected channels must cover (used by :func:`compton_profile`).

    Returns
    -------
    EmfWeights
    """
    edges = _cube.energy_edges_kev(energy_edges_kev)
    e1 = float(arguments.energies_kev("incident_kev", incident_kev))
    theta = arguments.in_range("angle_deg", angle_deg, 0.0, 180.0, unit="deg")
    if theta == 0:
        raise ValueError("angle_deg=0: expected a scattering angle > 0 deg (at 0 deg there is no Compton shift "
                         "and p_z is undefined)")
    lo_au = arguments.positive("low_au", low_au, unit="a.u.")
    hi_au = arguments.positive("high_au", high_au, unit="a.u.")
    if lo_au >= hi_au:
        raise ValueError(f"low_au={low_au!r}, high_au={high_au!r}: expected low_au < high_au")
    degree = _degree(background)
    bg_windows = _windows("background_windows_au", background_windows_au) if degree is not None else ()
    for a, b in bg_windows:
        if b > -hi_au and a < hi_au:
            raise ValueError(f"background_windows_au: window ({a:g}, {b:g}) a.u. overlaps the profile window "
                             f"[-{hi_au:g}, {hi_au:g}] a.u.; expected background windows outside it")
    bounds = [-hi_au, hi_au] + [v for w in bg_windows for v in w] + list(extra_range_au or ())
    pz_min, pz_max = min(bounds), max(bounds)
    phys = _physics()
    e_min, e_max = (float(phys.scattered_energy_kev(e1, p, theta)) for p in (pz_min, pz_max))
    if not (edges[0] <= e_min and e_max <= edges[-1]):
        raise ValueError(f"p_z window [{pz_min:g}, {pz_max:g}] a.u. (E2 = {e_min:.4g} - {e_max:.4g} keV at "
                         f"{e1:g} keV, {theta:g} deg) lies outside the data ({edges[0]:g} - {edges[-1]:g} keV); "
                         f"expected the windows of the profile and background within the recorded energies")
    # Two channels of margin on each side, so that the channels cut by the outer limits have neighbours for the
    # slope of their linear in-channel density (:func:`_interval_matrix`).
    first = max(int(np.searchsorted(edges, e_min, side="right")) - 3, 0)
    last = min(int(np.searchsorted(edges, e_max, side="left")) + 2, edges.size - 1)
    sel = slice(first, last)
    pz = channel_pz_au(edges[first:last + 1], incident_kev=e1, angle_deg=theta)
    if np.any(np.diff(pz) <= 0):
        raise ValueError("energy_edges_kev: p_z of the channel edges is not increasing; expected channels narrower "
                         "than the Compton profile around the peak")
    lo, hi = pz[:-1], pz[1:]
    width = hi - lo
    n = lo.size
    windows = _interval_matrix(lo, hi, [-lo_au, -hi_au, lo_au], [lo_au, -lo_au, hi_au])
    w_low = windows[0]
    w_high = windows[1] + windows[2]
    operator = np.eye(n)
    if degree is not None:
        mid = 0.5 * (lo + hi)
        inside = np.zeros(n, dtype=bool)
        for a, b in bg_windows:
            inside |= (mid >= a) & (mid <= b)
        if inside.sum() < degree + 2:
            raise ValueError(f"background_windows_au={bg_windows!r}: {int(inside.sum())} channels inside, expected "
                             f"at least {degree + 2} for a background of degree {degree}")
        scale = max(abs(pz_min), abs(pz_max))
        design = np.vander(mid / scale, degree + 1, increasing=True)  # density model, per a.u.
        pinv = np.linalg.pinv(design[inside])  # (degree+1, n_inside)
        # background counts b = diag(width) design pinv diag(1/width)[inside] c
        fit = np.zeros((degree + 1, n))
        fit[:, inside] = pinv / width[inside]
        operator = operator - (width[:, None] * design) @ fit
    w_low = operator.T @ w_low
    w_high = operator.T @ w_high
    if channel_efficiency is not None:
        eff = arguments.array("channel_efficiency", channel_efficiency, shape=(edges.size - 1,), dtype_kind="iuf",
                              finite=True).astype(float)[sel]
        if np.any(eff <= 0):
            raise ValueError("channel_efficiency: expected values > 0 over the channels of the profile")
        w_low, w_high = w_low / eff, w_high / eff
        operator = operator / eff[None, :]
    return EmfWeights(channels=sel, pz_edges_au=pz, w_low=w_low, w_high=w_high, operator=operator)


@dataclass(frozen=True)
class EmfResult:
    """EMF (eq. 3) with its counting uncertainty; arrays of the pixels' shape (or scalars for one spectrum).

    Attributes
    ----------
    emf, sigma : ndarray
        EMF = E_L / E_H and its standard deviation (NaN where E_H <= 0 or the pixel is invalid).
    e_low, e_high : ndarray
        Integrals of eq. (4) and (5), counts (background subtracted).
    var_low, var_high, cov : ndarray
        Their variances and covariance, counts^2.
    binning : int
        Pixels binned n x n before the EMF.
    valid : ndarray of bool
        Pixels with a defined EMF.
    """

    emf: np.ndarray
    sigma: np.ndarray
    e_low: np.ndarray
    e_high: np.ndarray
    var_low: np.ndarray
    var_high: np.ndarray
    cov: np.ndarray
    binning: int = 1
    valid: np.ndarray | None = None

    @property
    def relative_sigma(self) -> np.ndarray:
        """sigma / EMF."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sigma / self.emf


def _ratio(e_low, e_high, var_low, var_high, cov):
    with np.errstate(divide="ignore", invalid="ignore"):
        r = e_low / e_high
        rel2 = var_low / e_low**2 + var_high / e_high**2 - 2 * cov / (e_low * e_high)
        sigma = np.abs(r) * np.sqrt(np.clip(rel2, 0.0, None))
    bad = ~(e_high > 0)
    return np.where(bad, np.nan, r), np.where(bad, np.nan, sigma)


def emf(counts, energy_edges=None, *, variance=None, incident_kev: float = INCIDENT_KEV,
        angle_deg: float = ANGLE_DEG, low_au: float = EMF_LOW_AU, high_au: float = EMF_HIGH_AU,
        background="linear", background_windows_au=BACKGROUND_WINDOWS_AU, channel_efficiency=None) -> EmfResult:
    """EMF of one spectrum or of every pixel of a cube, with its counting uncertainty (eq. 3-5).

    Parameters
    ----------
    counts : array (..., n_channels) or Measurement
        Counts per channel, >= 0 (one spectrum, or a cube (nx, ny, n_channels)).
    energy_edges : array, optional
        Channel edges (n_channels + 1) or centres (n_channels), keV; taken from a Measurement if omitted.
    variance : array like counts, optional
        Variance of each count (default: the counts themselves, Poisson).
    incident_kev, angle_deg, low_au, high_au, background, background_windows_au, channel_efficiency
        As :func:`emf_weights`.

    Returns
    -------
    EmfResult
    """
    c, edges = _cube.cube_of(counts, energy_edges)
    w = emf_weights(edges, incident_kev=incident_kev, angle_deg=angle_deg, low_au=low_au, high_au=high_au,
                    background=background, background_windows_au=background_windows_au,
                    channel_efficiency=channel_efficiency)
    v = None if variance is None else arguments.array("variance", variance, shape=c.shape, dtype_kind="iuf",
                                                      finite=True)
    return _apply(c, v, w)


def _apply(c: np.ndarray, v: np.ndarray | None, w: EmfWeights, binning: int = 1, valid=None) -> EmfResult:
    shape = c.shape[:-1]
    x = np.ascontiguousarray(c[..., w.channels], dtype=float).reshape(-1, w.w_low.size)
    var = x if v is None else np.ascontiguousarray(v[..., w.channels], dtype=float).reshape(-1, w.w_low.size)
    W = np.stack([w.w_low, w.w_high], axis=1)
    e = x @ W
    vv = var @ np.stack([w.w_low**2, w.w_high**2, w.w_low * w.w_high], axis=1)
    e_low, e_high = e[:, 0].reshape(shape), e[:, 1].reshape(shape)
    var_low, var_high, cov = (vv[:, k].reshape(shape) for k in range(3))
    r, s = _ratio(e_low, e_high, var_low, var_high, cov)
    ok = np.isfinite(r) if valid is None else (np.isfinite(r) & valid)
    r, s = np.where(ok, r, np.nan), np.where(ok, s, np.nan)
    if not shape:
        r, s, e_low, e_high, var_low, var_high, cov, ok = (np.asarray(a)[()] for a in
                                                           (r, s, e_low, e_high, var_low, var_high, cov, ok))
    return EmfResult(emf=r, sigma=s, e_low=e_low, e_high=e_high, var_low=var_low, var_high=var_high, cov=cov,
                     binning=binning, valid=ok)


def emf_map(cube, energy_edges=None, *, binning: int = 1, mask=None, variance=None, **options) -> EmfResult:
    """Per-pixel EMF map of a cube (nx, ny, n_channels), optionally binned n x n and masked.

    Parameters
    ----------
    cube : array, Measurement or :class:`inverse.compton.cube.CorrectedCube`
        The counts (a CorrectedCube brings its variance and valid pixels).
    energy_edges : array, optional
        Channel edges or centres, keV (taken from the Measurement / CorrectedCube if omitted).
    binning : int
        Sum n x n pixels first (:func:`inverse.compton.cube.bin_pixels`).
    mask : array of bool (nx, ny), optional
        Pixels to keep (e.g. a cathode mask registered from XCT, thresholded); a binned pixel is valid if any
        of its pixels is.
    variance : array, optional
        Variance cube (default: the counts).
    **options
        Passed to :func:`emf_weights` (incident_kev, angle_deg, low_au, high_au, background, ...).

    Returns
    -------
    EmfResult with maps of shape (ceil(nx / n), ceil(ny / n)).
    """
    valid = None
    if isinstance(cube, _cube.CorrectedCube):  # dark-subtracted counts may be negative: no counts check
        variance = cube.variance if variance is None else variance
        valid = cube.valid
        c = cube.counts
        edges = _cube.energy_edges_kev(cube.energy_edges_kev if energy_edges is None else energy_edges,
                                       c.shape[-1])
    else:
        c, edges = _cube.cube_of(cube, energy_edges)
    if c.ndim != 3:
        raise ValueError(f"cube: expected counts of shape (nx, ny, n_channels), got {c.shape}")
    if mask is not None:
        m = _cube._mask_weights(mask, c.shape[:2]) > 0
        valid = m if valid is None else (valid & m)
    if variance is not None:
        variance = arguments.array("variance", variance, shape=c.shape, dtype_kind="iuf", finite=True)
    w = emf_weights(edges, **options)
    n = arguments.integer("binning", binning, minimum=1)
    if valid is not None:  # masked-out pixels contribute nothing to a binned pixel
        c = c * valid[..., None]
        variance = None if variance is None else variance * valid[..., None]
    if n > 1:
        # Only the channels that matter are binned.
        sub = slice(w.channels.start, w.channels.stop)
        cb = np.zeros(_binned_shape(c.shape, n))
        cb[..., sub] = _cube.bin_pixels(c[..., sub], n)
        vb = None
        if variance is not None:
            vb = np.zeros_like(cb)
            vb[..., sub] = _cube.bin_pixels(variance[..., sub], n)
        c, variance = cb, vb
        valid = None if valid is None else _cube.bin_pixels(valid, n) > 0
    return _apply(c, variance, w, binning=n, valid=valid)


def _binned_shape(shape, n):
    return (-(-shape[0] // n), -(-shape[1] // n), shape[2])


def binning_for_precision(cube, energy_edges=None, target_sigma: float = 0.01, *, statistic: str = "median",
                          mask=None, max_binning: int | None = None, **options) -> EmfResult:
    """The smallest n x n binning whose EMF map reaches ``target_sigma`` (absolute EMF standard deviation).

    sigma scales as 1 / sqrt(counts), i.e. as 1 / n for n x n binning, so the first guess is
    ``n = ceil(sigma_1 / target)`` from the unbinned map; n is then raised until the ``statistic`` ('median' or
    'max') of sigma over the valid binned pixels is <= target.

    Returns
    -------
    EmfResult (its ``binning`` is the n found). Raises ValueError if even ``max_binning`` (default: the whole
    detector) does not reach the target.
    """
    target = arguments.positive("target_sigma", target_sigma)
    arguments.one_of("statistic", statistic, ("median", "max"))
    stat = np.nanmedian if statistic == "median" else np.nanmax
    first = emf_map(cube, energy_edges, binning=1, mask=mask, **options)
    shape = first.emf.shape
    n_max = max(shape) if max_binning is None else arguments.integer("max_binning", max_binning, minimum=1)
    s1 = stat(first.sigma) if np.any(np.isfinite(first.sigma)) else np.inf
    if s1 <= target:
        return first
    n = int(min(max(2, math.ceil(s1 / target)), n_max)) if np.isfinite(s1) else 2
    while True:
        result = emf_map(cube, energy_edges, binning=n, mask=mask, **options)
        s = stat(result.sigma) if np.any(np.isfinite(result.sigma)) else np.inf
        if s <= target:
            return result
        if n >= n_max:
            raise ValueError(f"target_sigma={target:g}: the {statistic} EMF uncertainty is still {s:.3g} with "
                             f"{n} x {n} binning (max_binning={n_max}); expected a reachable target: acquire "
                             f"longer or relax it")
        n += 1


# --------------------------------------------------------------------------- profiles
@dataclass(frozen=True)
class ComptonProfile:
    """A Compton profile on a uniform p_z grid: bin-averaged J per a.u., its standard deviation, leading pixel axes.

    Attributes
    ----------
    pz_edges_au : ndarray (n + 1,)
        Bin edges, a.u.
    j_per_au : ndarray (..., n)
        Mean of J over each bin (counts per a.u., or normalised).
    sigma_per_au : ndarray (..., n)
        Counting standard deviation of each bin (neighbouring bins share split channels: their small
        covariance is not carried; the EMF from :func:`emf` is exact).
    """

    pz_edges_au: np.ndarray
    j_per_au: np.ndarray
    sigma_per_au: np.ndarray

    @property
    def pz_au(self) -> np.ndarray:
        """Bin centres, a.u."""
        return 0.5 * (self.pz_edges_au[1:] + self.pz_edges_au[:-1])

    def area(self, window_au: tuple[float, float] | None = None) -> np.ndarray:
        """Integral of J over ``window_au`` (default: the whole grid)."""
        lo, hi = self.pz_edges_au[:-1], self.pz_edges_au[1:]
        a, b = window_au if window_au is not None else (lo[0], hi[-1])
        return self.j_per_au @ (_overlap(lo, hi, a, b) * (hi - lo))

    def normalised(self, area: float = 1.0, window_au: tuple[float, float] | None = None) -> "ComptonProfile":
        """J scaled so that its integral over ``window_au`` (default: the grid) is ``area`` (e.g. 1, or Z)."""
        target = arguments.positive("area", area)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = target / self.area(window_au)
        k = np.asarray(k)[..., None]
        return replace(self, j_per_au=self.j_per_au * k, sigma_per_au=self.sigma_per_au * np.abs(k))

    def symmetrised(self) -> "ComptonProfile":
        """``(J(p) + J(-p)) / 2`` on a grid symmetric about 0 (refused otherwise); sigma / sqrt(2) off centre."""
        e = self.pz_edges_au
        if not np.allclose(e, -e[::-1], atol=1e-9 * max(1.0, abs(e).max())):
            raise ValueError(f"pz_edges_au: expected a grid symmetric about p_z = 0 to symmetrise, got "
                             f"[{e[0]:g}, {e[-1]:g}]")
        j = 0.5 * (self.j_per_au + self.j_per_au[..., ::-1])
        s = 0.5 * np.sqrt(self.sigma_per_au**2 + self.sigma_per_au[..., ::-1] ** 2)
        mid = self.j_per_au.shape[-1] // 2
        if self.j_per_au.shape[-1] % 2:  # the centre bin is its own mirror
            s[..., mid] = self.sigma_per_au[..., mid]
        return replace(self, j_per_au=j, sigma_per_au=s)

    def emf(self, low_au: float = EMF_LOW_AU, high_au: float = EMF_HIGH_AU) -> EmfResult:
        """EMF of this profile (bins independent); see :func:`emf_of_profile`."""
        return emf_of_profile(self.j_per_au, self.pz_edges_au, low_au=low_au, high_au=high_au,
                              sigma_per_au=self.sigma_per_au)


def emf_of_profile(j_per_au, pz_edges_au, *, low_au: float = EMF_LOW_AU, high_au: float = EMF_HIGH_AU,
                   sigma_per_au=None) -> EmfResult:
    """EMF (eq. 3-5) of a profile given as bin averages of J over ``pz_edges_au`` (leading axes: pixels).

    Bins that straddle a window limit contribute in proportion to their overlap. With the limits on bin edges
    the integrals are exact for any profile whose bin averages are exact.
    """
    e = arguments.array("pz_edges_au", pz_edges_au, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if np.any(np.diff(e) <= 0):
        raise ValueError("pz_edges_au: expected strictly increasing p_z edges")
    j = arguments.array("j_per_au", j_per_au, dtype_kind="iuf", finite=True).astype(float)
    if j.shape[-1] != e.size - 1:
        raise ValueError(f"j_per_au: expected {e.size - 1} values along the last axis, got {j.shape[-1]}")
    lo_au, hi_au = arguments.positive("low_au", low_au), arguments.positive("high_au", high_au)
    if lo_au >= hi_au:
        raise ValueError(f"low_au={low_au!r}, high_au={high_au!r}: expected low_au < high_au")
    if e[0] > -hi_au or e[-1] < hi_au:
        raise ValueError(f"pz_edges_au: the profile covers [{e[0]:g}, {e[-1]:g}] a.u.; expected it to contain the "
                         f"window [-{hi_au:g}, {hi_au:g}] a.u. of eq. (5)")
    lo, hi = e[:-1], e[1:]
    wl = _overlap(lo, hi, -lo_au, lo_au) * (hi - lo)
    wh = (_overlap(lo, hi, -hi_au, -lo_au) + _overlap(lo, hi, lo_au, hi_au)) * (hi - lo)
    s2 = np.zeros_like(j) if sigma_per_au is None else np.asarray(sigma_per_au, dtype=float) ** 2
    e_low, e_high = j @ wl, j @ wh
    var_low, var_high, cov = s2 @ wl**2, s2 @ wh**2, s2 @ (wl * wh)
    r, s = _ratio(e_low, e_high, var_low, var_high, cov)
    return EmfResult(emf=r, sigma=s, e_low=e_low, e_high=e_high, var_low=var_low, var_high=var_high, cov=cov,
                     valid=np.isfinite(r))


def compton_profile(counts, energy_edges=None, *, pz_step_au: float = 0.1, pz_max_au: float = 10.0,
                    variance=None, incident_kev: float = INCIDENT_KEV, angle_deg: float = ANGLE_DEG,
                    background="linear", background_windows_au=BACKGROUND_WINDOWS_AU, channel_efficiency=None,
                    normalise_to: float | None = None, symmetrise: bool = False) -> ComptonProfile:
    """Compton profile J(p_z) of a spectrum or of every pixel, on a uniform p_z grid (counts conserved).

    Parameters
    ----------
    counts : array (..., n_channels) or Measurement
        Counts, >= 0.
    energy_edges : array, optional
        Channel edges or centres, keV.
    pz_step_au, pz_max_au : float
        Grid ``-pz_max, -pz_max + step, ..., pz_max`` (edges), a.u.; the default has edges at +-1 and +-5.
    variance : array, optional
        Variance of the counts (default: the counts).
    incident_kev, angle_deg, background, background_windows_au, channel_efficiency
        As :func:`emf_weights`.
    normalise_to : float, optional
        Scale J so that its area over the grid is this (e.g. 1, or the number of electrons); default: counts per a.u.
    symmetrise : bool
        Return ``(J(p) + J(-p)) / 2``.

    Returns
    -------
    ComptonProfile
    """
    c, edges = _cube.cube_of(counts, energy_edges)
    step = arguments.positive("pz_step_au", pz_step_au, unit="a.u.")
    top = arguments.positive("pz_max_au", pz_max_au, unit="a.u.")
    n_half = int(round(top / step))
    if n_half < 1 or abs(n_half * step - top) > 1e-9 * top:
        raise ValueError(f"pz_max_au={pz_max_au!r}, pz_step_au={pz_step_au!r}: expected pz_max a multiple of the "
                         f"step")
    grid = step * np.arange(-n_half, n_half + 1)
    w = emf_weights(edges, incident_kev=incident_kev, angle_deg=angle_deg, background=background,
                    background_windows_au=background_windows_au, channel_efficiency=channel_efficiency,
                    high_au=min(EMF_HIGH_AU, top), low_au=min(EMF_LOW_AU, 0.5 * min(EMF_HIGH_AU, top)),
                    extra_range_au=(-top, top))
    lo, hi = w.pz_edges_au[:-1], w.pz_edges_au[1:]
    resample = _interval_matrix(lo, hi, grid[:-1], grid[1:])  # (n_pz, n_channels): counts of bin j
    m = (resample @ w.operator).T / step  # counts -> J per a.u.
    x = np.ascontiguousarray(c[..., w.channels], dtype=float)
    var = x if variance is None else np.asarray(variance, dtype=float)[..., w.channels]
    prof = ComptonProfile(pz_edges_au=grid, j_per_au=x @ m, sigma_per_au=np.sqrt(var @ (m * m)))
    if symmetrise:
        prof = prof.symmetrised()
    if normalise_to is not None:
        prof = prof.normalised(normalise_to)
    return prof


def spectrum_to_profile(scattered_kev, intensity_per_kev, *, incident_kev: float = INCIDENT_KEV,
                        angle_deg: float = ANGLE_DEG) -> tuple[np.ndarray, np.ndarray]:
    """Point-wise conversion of a spectral density to a profile: ``J(p_z) = I(E2) / (dp_z/dE2)``.

    Parameters
    ----------
    scattered_kev : array
        Energies E2, keV.
    intensity_per_kev : array (..., n)
        Spectral density at those energies, per keV.

    Returns
    -------
    pz_au, j_per_au : ndarray
        p_z of each energy (eq. 2, exact) and the density per a.u.
    """
    e2 = arguments.array("scattered_kev", scattered_kev, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    s = arguments.array("intensity_per_kev", intensity_per_kev, dtype_kind="iuf", finite=True).astype(float)
    if s.shape[-1] != e2.size:
        raise ValueError(f"intensity_per_kev: expected {e2.size} values along the last axis, got {s.shape[-1]}")
    phys = _physics()
    return (np.asarray(phys.pz_au(incident_kev, e2, angle_deg), dtype=float),
            s / np.asarray(phys.dpz_dE_per_kev(incident_kev, e2, angle_deg), dtype=float))


# --------------------------------------------------------------------------- counting statistics (closed form)
def emf_variance_per_count(emf_value: float) -> float:
    """``N var(EMF)`` for N counts in [-high, high] without background: ``EMF (1 + EMF)^2``.

    With N_L = N EMF / (1 + EMF) and N_H = N / (1 + EMF) Poisson and independent (disjoint windows),
    ``var EMF / EMF^2 = 1 / N_L + 1 / N_H = (1 + EMF)^2 / (N EMF)``.
    """
    r = arguments.positive("emf_value", emf_value)
    return r * (1 + r) ** 2


def counts_for_precision(emf_value: float, target_sigma: float) -> float:
    """Counts needed in [-5, 5] a.u. for an absolute EMF standard deviation ``target_sigma``.

    ``N = EMF (1 + EMF)^2 / sigma^2`` (Poisson, no background; see :func:`emf_variance_per_count`).
    """
    s = arguments.positive("target_sigma", target_sigma)
    return emf_variance_per_count(emf_value) / s**2
