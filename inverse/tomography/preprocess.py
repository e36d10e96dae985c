"""Tomography pre-processing: flat/dark correction, -log, ring removal, rotation centre, jitter.

Every function works on plain arrays ordered like NXtomo projections,
``[angle, row, column]`` (a single slice may drop the row axis:
``[angle, column]``), with the projection angles in degrees, so that the
same call serves simulated and measured data (DESIGN.md, "The flow of
data"). Column shifts and centre offsets are in detector pixels and follow
the convention of :mod:`forward.tomography.projector`: the rotation axis
projects onto column ``(n_columns - 1)/2 + centre_offset_px``.

Methods
-------
* Flat/dark correction and Beer-Lambert: ``-ln((I - D)/(F - D))`` with the
  mean flat ``F`` and the mean dark ``D``, as in any beamline pipeline
  (e.g. tomopy ``normalize`` + ``minus_log``). Source 002 (file
  /work/shared/seeds/002_8e90cf42ff078ba1.txt, Experimental Section)
  aims at the optimum transmission of about 14 % at 5.4 keV and reports
  8.5 % on average for its powder mounts, i.e. line integrals of 2 to 2.5.
* Ring (stripe) removal after N. T. Vo, R. C. Atwood and M. Drakopoulos,
  Opt. Express 26 (2018) 28396 (their sorting-based approach):
  sort every detector column of the sinogram along the angles; a stripe
  (a column whose gain is off, which -ln turns into a constant offset) is
  an outlier across columns at every rank of the sorted sinogram, while
  real features are smooth there. Detected stripes are corrected, other
  columns left alone (see :func:`remove_rings`). Written from the paper,
  not from any implementation.
* Rotation centre: registration of the projection at theta with the
  mirrored projection at theta + 180 deg (for parallel beam p(theta + pi, u) =
  p(theta, -u)), by least-squares sub-pixel registration with Fourier
  shifts; and, for scans without such pairs, the centre-of-mass sinusoid.
* Jitter: for parallel beam the first moment of every projection follows
  ``m(theta) = c + a cos(theta) + b sin(theta)`` (the projection of the
  object's centre of mass: the Helgason-Ludwig range conditions of order
  0 and 1, F. Natterer, *The Mathematics of Computerized Tomography*,
  Wiley 1986, sec. II.4). Residuals from the least-squares sinusoid are
  the per-projection horizontal shifts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import ndimage, optimize

from xtwin import arguments


# ---------------------------------------------------------------------- argument checks
def check_projections(name: str, value, *, finite: bool = True) -> np.ndarray:
    """Return ``value`` as a float array of projections ``(angles, [rows,] columns)``.

    Refuses other ranks, empty arrays, non-real dtypes and (by default)
    NaN or infinities, naming ``name`` in the message.
    """
    a = arguments.array(name, value, ndim=(2, 3), dtype_kind="iuf")
    if a.size == 0:
        raise ValueError(f"{name}: expected a non-empty array (angles, [rows,] columns), got shape {a.shape}")
    if finite and not np.all(np.isfinite(a)):
        n_bad = int(np.count_nonzero(~np.isfinite(a)))
        raise ValueError(f"{name}: expected finite values, found {n_bad} NaN or infinite entries")
    return a


def check_angles(angles_deg, n_angles: int) -> np.ndarray:
    """Return the projection angles in degrees as a float array of length ``n_angles``.

    See :func:`xtwin.arguments.angles_deg` for what is refused.
    """
    return arguments.angles_deg(angles_deg, n_angles)


# ---------------------------------------------------------------------- flat/dark and -log
def normalise(counts, flats, darks, *, min_transmission: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Flat/dark correction and Beer-Lambert: line integrals ``-ln((I - D)/(F - D))``.

    Parameters
    ----------
    counts : array, (n_angles, rows, columns) or (n_angles, columns)
        Raw detector counts ``I``.
    flats : array, (n_flats, rows, columns) or (rows, columns)
        Open-beam counts; their mean over the first axis is ``F`` (a single
        flat may drop that axis). For 2D ``counts`` use ``(n_flats, columns)``.
    darks : array or None
        Dark counts, same layout as ``flats``; their mean is ``D``. None
        means ``D = 0`` (a detector that already subtracts its offset).
    min_transmission : float
        Transmissions below this (including zero and negative ones, where
        noise or a dead flat pixel makes ``I - D`` or ``F - D`` non-positive)
        are clipped to it; a :class:`RuntimeWarning` reports how many.

    Returns
    -------
    line_integrals : ndarray, float32, the shape of ``counts``
        ``-ln T``, dimensionless (the integral of mu along the ray).
    transmission : ndarray, float32, the shape of ``counts``
        ``T = (I - D)/(F - D)`` after clipping.

    Notes
    -----
    Cost: O(counts.size) time and two float32 copies of ``counts`` in memory.
    """
    i = check_projections("counts", counts)
    frame = i.shape[1:]
    mean_flat = _mean_frame("flats", flats, frame)
    mean_dark = np.zeros(frame) if darks is None else _mean_frame("darks", darks, frame)
    floor = arguments.in_range("min_transmission", min_transmission, 1e-30, 1.0)
    open_beam = mean_flat - mean_dark
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (i.astype(np.float64) - mean_dark) / open_beam
    # A non-positive open beam (dead flat pixel) makes T meaningless: clip it like a non-positive T.
    bad = ~(t >= floor) | ~(open_beam > 0)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        warnings.warn(f"normalise: clipped {n_bad} of {t.size} transmissions ({100 * n_bad / t.size:.3g} %) "
                      f"below min_transmission={floor:g} (non-positive I - D or F - D)",
                      RuntimeWarning, stacklevel=2)
        t = np.where(bad, floor, t)
    return (-np.log(t)).astype(np.float32), t.astype(np.float32)


def _mean_frame(name: str, value, frame: tuple[int, ...]) -> np.ndarray:
    a = arguments.array(name, value, dtype_kind="iuf")
    if a.shape == frame:
        a = a[None]
    if a.ndim != len(frame) + 1 or a.shape[1:] != frame or a.shape[0] == 0:
        raise ValueError(f"{name}: expected shape (n, {', '.join(map(str, frame))}) to match the counts' "
                         f"frame {frame}, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values, found NaN or infinity")
    return a.mean(axis=0, dtype=np.float64)


# ---------------------------------------------------------------------- rings
def remove_rings(sinogram_or_stack, strength: int = 3, *, snr: float = 4.0) -> np.ndarray:
    """Find and correct stripes (detector columns that cause ring artefacts) by sorting, after Vo et al. (2018).

    Parameters
    ----------
    sinogram_or_stack : array, (n_angles, columns) or (n_angles, rows, columns)
        Line integrals (after :func:`normalise`); each row is its own sinogram.
    strength : int
        Width of the median window across detector columns (odd, >= 3).
        3 suits sinograms of a few hundred columns and isolated bad pixels
        (on 128-column phantoms it flagged nothing in clean data, 5 already
        did); wider windows find clusters of adjacent bad columns, on wide
        detectors, but mistake more fine structure for stripes.
    snr : float
        Detection threshold: a column is a stripe when its median offset
        from the median of its neighbours exceeds ``snr`` standard errors
        of that median, the noise being measured from the differences
        between successive projections.

    Returns
    -------
    ndarray, float32, same shape
        The sinogram(s) with the detected stripes corrected; other columns
        are returned unchanged.

    Notes
    -----
    After N. T. Vo, R. C. Atwood and M. Drakopoulos, Opt. Express 26 (2018)
    28396: sorting each column along the angles (their sorting-based
    approach) turns the object's features into smooth functions of the
    column at fixed rank, while a defective column stays an outlier at every
    rank. Applying their median filter to the whole sorted sinogram blurs
    the fine features of small sinograms (on a 128-column powder phantom it
    did more harm than the stripes), so here, as in their treatment of large
    and unresponsive stripes, stripes are first *detected* and only they are
    corrected. Detection: the median over ranks of (sorted
    column - median of its neighbours at the same rank). A detected column
    is then corrected by subtracting its offset from the neighbours linearly
    interpolated across the stripe (median over ranks, unbiased on a
    gradient, unlike the median filter), or, if it barely varies with the
    angle (a dead or saturated pixel), replaced by that interpolation.
    Limitations: a stripe weaker than the column-to-column slope of the
    sorted sinogram leaves the median unchanged and is not detected; a
    feature centred on the rotation axis looks exactly like a ring.
    Cost: O(n_angles log n_angles x rows x columns) for the sort plus
    O(n_angles x rows x columns x strength) for the median.
    """
    s = check_projections("sinogram_or_stack", sinogram_or_stack).astype(np.float32)
    size = arguments.integer("strength", strength, minimum=3)
    if size % 2 == 0:
        raise ValueError(f"strength={strength!r}: expected an odd window width >= 3")
    if size > s.shape[-1]:
        raise ValueError(f"strength={strength!r}: expected at most the number of columns {s.shape[-1]}")
    threshold = arguments.positive("snr", snr)
    stack = s if s.ndim == 3 else s[:, None, :]
    n_angles = stack.shape[0]
    ranked = np.sort(stack, axis=0)
    window = (1, 1, size)
    offset = np.median(ranked - ndimage.median_filter(ranked, size=window, mode="reflect"), axis=0)
    # Noise per pixel from successive projections (robust), then the standard error of a median over n
    # ranks, about 1.25 sigma / sqrt(n) for Gaussian noise, inflated for the noise of the neighbours' median.
    sigma = 1.4826 * np.median(np.abs(np.diff(stack, axis=0)), axis=(0, 2)) / math.sqrt(2)
    stripes = np.abs(offset) > threshold * 1.6 * sigma[:, None] / math.sqrt(n_angles)
    out = stack.copy()
    for row in np.nonzero(stripes.any(axis=1))[0]:
        bad = stripes[row]
        if bad.all():
            continue  # nothing to interpolate from
        good_columns = np.nonzero(~bad)[0]
        bad_columns = np.nonzero(bad)[0]
        # Linear interpolation across each stripe from the nearest good columns, in both domains.
        across_sorted = _interpolate_columns(ranked[:, row], good_columns, bad_columns)
        across = _interpolate_columns(stack[:, row], good_columns, bad_columns)
        delta = np.median(ranked[:, row, bad_columns] - across_sorted, axis=0)
        spread = np.ptp(ranked[:, row, bad_columns], axis=0)
        expected = np.ptp(across_sorted, axis=0)
        dead = spread < 0.25 * expected
        out[:, row, bad_columns] = np.where(dead, across, stack[:, row, bad_columns] - delta)
    return out if s.ndim == 3 else out[:, 0, :]


def _interpolate_columns(a: np.ndarray, good: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Values of a (n_angles, columns) at the columns `bad`, interpolated linearly from the columns `good`."""
    right = np.clip(np.searchsorted(good, bad), 1, len(good) - 1) if len(good) > 1 else np.zeros_like(bad)
    left = right - 1 if len(good) > 1 else right
    gl, gr = good[left], good[right]
    # Outside the range of good columns, hold the nearest one (extrapolating a stripe would amplify noise).
    t = np.where(gr > gl, (np.clip(bad, gl, gr) - gl) / np.maximum(gr - gl, 1), 0.0)
    return a[:, gl] * (1 - t) + a[:, gr] * t


# ---------------------------------------------------------------------- centre of rotation
def find_centre(line_integrals, angles_deg, *, method: str = "auto") -> float:
    """Rotation-centre offset in detector pixels (parallel beam).

    Parameters
    ----------
    line_integrals : array, (n_angles, [rows,] columns)
        Normalised projections (``-ln T``).
    angles_deg : array, (n_angles,)
        Projection angles, degrees.
    method : {"auto", "pairs", "centre_of_mass"}
        ``"pairs"``: register every projection that has a partner at
        theta + 180 deg (to 1e-3 deg) with the mirrored partner, by
        least-squares sub-pixel registration; the fitted shift is twice
        the offset. ``"centre_of_mass"``: fit ``c + a cos + b sin`` to the
        projections' first moments; ``c`` is the offset. ``"auto"`` uses
        the pairs when the scan has them, otherwise the centre of mass.

    Returns
    -------
    float
        ``centre_offset_px``: the rotation axis projects onto column
        ``(n_columns - 1)/2 + centre_offset_px`` (the convention of
        :class:`forward.tomography.projector.ParallelProjector`).

    Notes
    -----
    The pair registration uses only the two projections of each pair and
    is insensitive to a uniform background; the centre-of-mass fit needs
    the whole object inside the field of view at every angle, and subtracts
    a background measured on the columns that never see the object (a
    uniform background ``b`` would otherwise pull the estimate towards the
    detector centre by the factor ``M / (M + b n_columns)``, ``M`` the
    projection's mass). Cost: pairs, O(n_pairs x rows x columns x log
    columns x ~20) for the FFT shifts of the 1D search; centre of mass,
    O(n_angles x rows x columns).
    """
    p = check_projections("line_integrals", line_integrals)
    angles = check_angles(angles_deg, p.shape[0])
    arguments.one_of("method", method, ("auto", "pairs", "centre_of_mass"))
    pairs = _opposite_pairs(angles)
    if method == "pairs" and not pairs:
        raise ValueError("method='pairs': expected projections 180 deg apart (to 1e-3 deg), found none; "
                         "use method='centre_of_mass'")
    if method == "centre_of_mass" or (method == "auto" and not pairs):
        return _sinusoid_fit(_centres_of_mass(p), angles)[0][2]
    return _centre_from_pairs(p, pairs)


def _opposite_pairs(angles: np.ndarray) -> list[tuple[int, int]]:
    """Index pairs (i, k) with angle_k = angle_i + 180 deg to 1e-3 deg, each i used once."""
    pairs = []
    for i, a in enumerate(angles):
        k = int(np.argmin(np.abs(angles - (a + 180.0))))
        if abs(angles[k] - a - 180.0) < 1e-3:
            pairs.append((i, k))
    return pairs


def _centre_from_pairs(p: np.ndarray, pairs: list[tuple[int, int]]) -> float:
    """Offset from the joint least-squares registration of projections with their mirrored partners.

    For parallel beam, p(theta + 180, column j) = p(theta, 2 j_axis - j);
    mirroring the partner about the detector centre, q(j) = p_180(n - 1 - j),
    gives q(j) = p_0(j + 2 c): q is p_0 moved by -2c columns.
    """
    first = np.stack([p[i] for i, _ in pairs]).reshape(len(pairs), -1, p.shape[-1])
    mirrored = np.stack([p[k] for _, k in pairs]).reshape(len(pairs), -1, p.shape[-1])[..., ::-1]
    n = p.shape[-1]
    n_pad = padded_length(n)
    f_first = np.fft.rfft(_pad(first, n_pad), axis=-1)
    f_mirror = np.fft.rfft(_pad(mirrored, n_pad), axis=-1)
    # Integer start from the cross-correlation peak, then a bounded 1D search with exact Fourier shifts.
    xcorr = np.fft.irfft((f_first * np.conj(f_mirror)).sum(axis=(0, 1)), n_pad)
    lag = int(np.argmax(xcorr))
    lag = lag - n_pad if lag > n_pad // 2 else lag
    freq = np.fft.rfftfreq(n_pad)
    # Compare only the columns that stay inside the detector for every shift in the search range, so
    # that a projection that does not fall to zero at the edges is not matched against the padding.
    lo, hi = max(0, lag + 1), min(n, n + lag - 1)
    if hi - lo < 8:
        raise ValueError(f"line_integrals: the mirrored projections overlap by only {max(hi - lo, 0)} columns; "
                         f"the rotation axis seems to lie outside the detector")

    def misfit(shift: float) -> float:
        # Moving `mirrored` by `shift` columns: multiply by exp(-2 pi i f shift).
        moved = np.fft.irfft(f_mirror * np.exp(-2j * np.pi * freq * shift), n_pad, axis=-1)
        return float(np.sum((first[..., lo:hi] - moved[..., lo:hi]) ** 2))

    best = optimize.minimize_scalar(misfit, bounds=(lag - 1.0, lag + 1.0), method="bounded",
                                    options={"xatol": 1e-4})
    # first(j) = mirrored(j - shift) and mirrored(j) = first(j + 2c)  =>  shift = 2c.
    return 0.5 * float(best.x)


def _centres_of_mass(p: np.ndarray) -> np.ndarray:
    """First moment of each projection along the columns, relative to the detector centre, in pixels.

    A background left in the line integrals (flat-field drift, scatter)
    would pull every first moment towards the detector centre. Columns that
    never see the object (their largest value over all angles and rows is
    below 5 % of the sinogram's largest) measure it: each projection's
    median over those columns is subtracted first, when there are at least
    8 such columns (otherwise the object fills the detector and nothing is
    subtracted). On the tooth data this moves the centre by 0.4 px, onto
    the offset that minimises the reprojection residual.
    """
    profiles = p.reshape(p.shape[0], -1, p.shape[-1]).astype(np.float64)
    peak = np.abs(profiles).max(axis=(0, 1))
    empty = peak < 0.05 * peak.max()
    if np.count_nonzero(empty) >= 8:
        profiles = profiles - np.median(profiles[..., empty].reshape(p.shape[0], -1), axis=1)[:, None, None]
    profiles = profiles.sum(axis=1)
    mass = profiles.sum(axis=1)
    if np.any(mass <= 0):
        i = int(np.argmax(mass <= 0))
        raise ValueError(f"line_integrals: projection {i} has a non-positive sum {mass[i]:.4g}; the "
                         f"centre-of-mass method needs an attenuating object in every projection")
    columns = np.arange(p.shape[-1]) - 0.5 * (p.shape[-1] - 1)
    return profiles @ columns / mass


def _sinusoid_fit(m: np.ndarray, angles_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares ``m = a cos + b sin + c``; returns ((a, b, c), residuals)."""
    t = np.radians(angles_deg)
    design = np.column_stack([np.cos(t), np.sin(t), np.ones_like(t)])
    if len(t) < 4 or np.linalg.cond(design) > 1e3:
        raise ValueError(f"angles_deg: the centre-of-mass sinusoid needs at least 4 angles spread over a "
                         f"wide range (about 90 deg or more); got {len(t)} angles spanning {np.ptp(angles_deg):.3g} deg")
    coef, *_ = np.linalg.lstsq(design, m, rcond=None)
    return coef, m - design @ coef


# ---------------------------------------------------------------------- jitter
def align_jitter(line_integrals, angles_deg) -> tuple[np.ndarray, np.ndarray]:
    """Estimate and undo per-projection horizontal shifts from the centre-of-mass sinusoid.

    Parameters
    ----------
    line_integrals : array, (n_angles, [rows,] columns)
        Normalised projections; the object must stay inside the field of
        view at every angle (the first moment needs the whole projection).
    angles_deg : array, (n_angles,)
        Projection angles, degrees.

    Returns
    -------
    shifts_px : ndarray, (n_angles,)
        Estimated shift of each projection, in columns (positive: the
        projection sits at larger columns than the consistent sinusoid).
    corrected : ndarray, float32, same shape as ``line_integrals``
        Projections moved back by ``-shifts_px`` (Fourier shift on a
        zero-padded row, so no interpolation blur).

    Notes
    -----
    Only the part of the jitter orthogonal to ``{1, cos, sin}`` over the
    scan's angles is observable: a constant shift is a centre offset
    (see :func:`find_centre`) and a ``cos``/``sin`` component is a
    translation of the object, which leaves a consistent data set. The
    estimate therefore equals the true jitter minus its least-squares
    sinusoid. Cost: O(n_angles x rows x columns x log columns).
    """
    p = check_projections("line_integrals", line_integrals)
    angles = check_angles(angles_deg, p.shape[0])
    _, shifts = _sinusoid_fit(_centres_of_mass(p), angles)
    return shifts, shift_columns(p, -shifts)


def shift_columns(projections, shifts_px) -> np.ndarray:
    """Move each projection along the columns by a sub-pixel amount (Fourier shift).

    Parameters
    ----------
    projections : array, (n_angles, [rows,] columns)
    shifts_px : array, (n_angles,)
        Shift of each projection, columns (positive: towards larger columns).

    Returns
    -------
    ndarray, float32, same shape
        Each row padded with zeros to at least twice its length, multiplied
        by the phase ramp ``exp(-2 pi i f shift)`` and cropped, so that a
        shifted band-limited profile is exact and nothing wraps around.

    Notes
    -----
    Cost: O(n_angles x rows x columns x log columns).
    """
    p = check_projections("projections", projections)
    s = arguments.array("shifts_px", shifts_px, shape=(p.shape[0],), dtype_kind="iuf", finite=True).astype(float)
    n = p.shape[-1]
    n_pad = padded_length(n)
    spectrum = np.fft.rfft(_pad(p.astype(np.float32), n_pad), axis=-1)
    ramp = np.exp(-2j * np.pi * np.fft.rfftfreq(n_pad)[None, :] * s[:, None])
    if p.ndim == 3:
        ramp = ramp[:, None, :]
    return np.fft.irfft(spectrum * ramp, n_pad, axis=-1)[..., :n].astype(np.float32)


def padded_length(n: int) -> int:
    """Length to zero-pad a row of n columns to before an FFT: a power of two >= 2 n (and >= 64).

    Twice the length keeps circular shifts and convolutions from wrapping
    around (linear, not circular, convolution).
    """
    return max(64, 1 << math.ceil(math.log2(2 * n)))


def _pad(a: np.ndarray, n_pad: int) -> np.ndarray:
    width = [(0, 0)] * (a.ndim - 1) + [(0, n_pad - a.shape[-1])]
    return np.pad(a, width)
