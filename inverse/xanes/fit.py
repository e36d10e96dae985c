"""White-line position and height of many normalised XANES spectra at once, with uncertainties.

seeds/004 (section 4, "Data analysis"): the white-line energy is "positively correlated to [the] oxidation
states" of 3d metals, and a 2D/3D TXM-XANES data set holds "more than a million" spectra, so the white line is
found by a fit that is fast enough for all of them (whiteline fitting, as in TXM-Wizard, Liu et al.,
J. Synchrotron Rad. 19 (2012) 281).

Method (closed-form least squares, one numba-parallel pass over the spectra):

1. ``i`` = index of the largest point of the spectrum within ``search_ev``;
2. a quadratic ``c0 + c1 x + c2 x^2``, ``x = E - E_i``, is least-squares fitted to the ``n_points`` points
   centred on ``i`` (the window slides inwards at the ends of the grid). The pseudo-inverse of the
   ``n_points x 3`` design matrix depends only on ``i``, so it is tabulated once per grid point and the fit of
   a spectrum is a 3 x n_points matrix-vector product;
3. white line ``E_wl = E_i - c1 / (2 c2)`` (vertex, clipped to the window), height ``c0 - c1^2 / (4 c2)``;
4. uncertainties by linear propagation: ``cov(c) = sigma^2 (V^T V)^-1`` with ``sigma`` the per-point noise of
   the normalised spectrum (``noise``, e.g. :attr:`Normalised.noise`, or the fit's own RMS residual), and the
   gradients of the vertex and height with respect to ``c``.

Bias on noiseless spectra: a parabola is fitted exactly (1e-9 eV); on the Ni K model of
:mod:`forward.xanes.edge` (Gaussian white line on an arctangent step, FWHM 7.1 eV) the quadratic's vertex lies
0.00-0.06 eV from the true maximum with 1-eV steps and 5 points, and 0.00-0.012 eV with 0.5-eV steps (the
white line's asymmetry; the height is then 0.001-0.004 low; tests/inverse/test_xanes_fit.py), far below the noise at SNR 100-300. The bias is
nearly constant, so a calibration against model or reference spectra on the same grid removes most of it.
Cost O(N n_E); about 0.1-0.3 s for 10^6 spectra x 60 energies on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from xtwin import arguments

from .normalise import _spectra, _window_index, check_energies

__all__ = ["WhitelineFit", "fit_whiteline"]


@dataclass(frozen=True)
class WhitelineFit:
    """White-line fit per spectrum (arrays of the spectra's leading shape).

    Attributes
    ----------
    energy_ev : ndarray
        White-line energy, eV (NaN where ``ok`` is False).
    height : ndarray
        White-line height (normalised units).
    energy_sigma_ev : ndarray
        1-sigma uncertainty of ``energy_ev``, eV.
    height_sigma : ndarray
        1-sigma uncertainty of ``height``.
    ok : ndarray of bool
        Finite spectrum, highest point not at an end of the search range, concave fit (c2 < 0), vertex inside
        the fit window, and within ``mask`` if given.
    n_points : int
        Points per fit.
    """

    energy_ev: np.ndarray
    height: np.ndarray
    energy_sigma_ev: np.ndarray
    height_sigma: np.ndarray
    ok: np.ndarray
    n_points: int


@numba.njit(parallel=True, cache=True, fastmath=False)
def _whiteline_kernel(y, e, lo, hi, starts, pinv, cov, xloc, noise, use_noise, out):  # pragma: no cover (numba)
    n, n_e = y.shape
    k = pinv.shape[2]
    for r in numba.prange(n):
        bad = False
        for j in range(n_e):
            if not np.isfinite(y[r, j]):
                bad = True
                break
        if bad:
            for q in range(4):
                out[r, q] = np.nan
            out[r, 4] = 0.0
            continue
        best = lo
        vmax = y[r, lo]
        for j in range(lo + 1, hi + 1):
            if y[r, j] > vmax:
                vmax = y[r, j]
                best = j
        s0 = starts[best]
        c0 = 0.0
        c1 = 0.0
        c2 = 0.0
        for j in range(k):
            v = np.float64(y[r, s0 + j])
            c0 += pinv[best, 0, j] * v
            c1 += pinv[best, 1, j] * v
            c2 += pinv[best, 2, j] * v
        if use_noise:
            sigma = noise[r]
        else:
            rss = 0.0
            for j in range(k):
                x = xloc[best, j]
                d = np.float64(y[r, s0 + j]) - (c0 + x * (c1 + x * c2))
                rss += d * d
            sigma = np.sqrt(rss / (k - 3))
        xmin = xloc[best, 0]
        xmax = xloc[best, k - 1]
        if not c2 < 0.0:
            for q in range(4):
                out[r, q] = np.nan
            out[r, 4] = 0.0
            continue
        xv = -c1 / (2.0 * c2)
        inside = (xmin <= xv <= xmax) and lo < best < hi
        if xv < xmin:
            xv = xmin
        elif xv > xmax:
            xv = xmax
        h = c0 + xv * (c1 + xv * c2)
        # gradients of the vertex and of the height with respect to (c0, c1, c2)
        g1 = -1.0 / (2.0 * c2)
        g2 = c1 / (2.0 * c2 * c2)
        h1 = xv
        h2 = xv * xv + (c1 + 2.0 * c2 * xv) * g2
        h1 = h1 + (c1 + 2.0 * c2 * xv) * g1
        var_x = (g1 * g1 * cov[best, 1, 1] + 2.0 * g1 * g2 * cov[best, 1, 2] + g2 * g2 * cov[best, 2, 2])
        var_h = (cov[best, 0, 0] + h1 * h1 * cov[best, 1, 1] + h2 * h2 * cov[best, 2, 2]
                 + 2.0 * h1 * cov[best, 0, 1] + 2.0 * h2 * cov[best, 0, 2] + 2.0 * h1 * h2 * cov[best, 1, 2])
        out[r, 0] = e[best] + xv
        out[r, 1] = h
        out[r, 2] = sigma * np.sqrt(var_x)
        out[r, 3] = sigma * np.sqrt(max(var_h, 0.0))
        out[r, 4] = 1.0 if inside else 0.0


def _tables(e: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per centre index i: window start, pseudo-inverse (3, k), (V^T V)^-1 (3, 3), local abscissae (k,)."""
    n_e = e.size
    starts = np.clip(np.arange(n_e) - k // 2, 0, n_e - k).astype(np.int64)
    pinv = np.empty((n_e, 3, k))
    cov = np.empty((n_e, 3, 3))
    xloc = np.empty((n_e, k))
    for i in range(n_e):  # n_E (tens), not spectra
        x = e[starts[i]:starts[i] + k] - e[i]
        v = np.vander(x, 3, increasing=True)
        pinv[i] = np.linalg.pinv(v)
        cov[i] = np.linalg.inv(v.T @ v)
        xloc[i] = x
    return starts, pinv, cov, xloc


def fit_whiteline(energy_ev, mu_norm, *, search_ev: tuple[float, float] | None = None, n_points: int = 5,
                  noise=None, mask=None) -> WhitelineFit:
    """Fit the white line (maximum of the normalised spectrum) of every spectrum, with uncertainties.

    Parameters
    ----------
    energy_ev : array (n_E,)
        Strictly increasing energies, eV.
    mu_norm : array (..., n_E)
        Normalised spectra (:func:`inverse.xanes.normalise.normalise`), float32 or float64, energy last. Spectra
        with any NaN give NaN and ``ok = False``.
    search_ev : (low, high), optional
        Absolute energy range (eV) in which the white line's highest point is looked for; default the whole
        grid. Use it to skip post-edge maxima (e.g. ``(E0 - 5, E0 + 25)``).
    n_points : int
        Odd number of points of the local quadratic (>= 5 when ``noise`` is None, so that the residual gives
        the noise; >= 3 otherwise). More points average more noise but add bias (module docstring).
    noise : float or array, optional
        Noise (1 sigma) per point of the normalised spectra, scalar or of the leading shape (e.g.
        :attr:`Normalised.noise`). Default: the RMS residual of each spectrum's own fit (n_points - 3 degrees
        of freedom: a rough estimate).
    mask : array of bool, optional
        Leading shape; spectra outside it get NaN and ``ok = False``.

    Returns
    -------
    WhitelineFit

    Notes
    -----
    Numba kernel, parallel over spectra, one pass: O(N n_E) for the search + O(N n_points) for the fit.
    """
    e = check_energies(energy_ev)
    y = _spectra("mu_norm", mu_norm, e.size)
    k = arguments.integer("n_points", n_points, minimum=3)
    if k % 2 == 0 or k > e.size:
        raise ValueError(f"n_points={n_points!r}: expected an odd number of points <= {e.size} (the grid)")
    if noise is None and k < 5:
        raise ValueError(f"n_points={n_points!r}: expected >= 5 points when noise is not given (the residual "
                         f"estimates the noise)")
    idx = _window_index(e, (-np.inf, np.inf) if search_ev is None else search_ev, "search_ev", 1)
    shape = y.shape[:-1]
    flat = y.reshape(-1, e.size)
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float64)
    if noise is None:
        sig, use = np.zeros(1), False
    else:
        sig = np.asarray(noise, dtype=float)
        try:
            sig = np.ascontiguousarray(np.broadcast_to(sig, shape).reshape(-1))
        except ValueError:
            raise ValueError(f"noise: expected a scalar or shape {shape} (one per spectrum), got {sig.shape}") \
                from None
        if np.any(sig < 0):
            raise ValueError("noise: expected noise levels >= 0")
        use = True
    starts, pinv, cov, xloc = _tables(e, k)
    out = np.empty((flat.shape[0], 5))
    _whiteline_kernel(np.ascontiguousarray(flat), e, int(idx[0]), int(idx[-1]), starts, pinv, cov, xloc, sig, use,
                      out)
    ok = out[:, 4] > 0
    energy = out[:, 0]
    if mask is not None:
        m = arguments.array("mask", mask, dtype_kind="b")
        if m.shape != shape:
            raise ValueError(f"mask: expected shape {shape} (one per spectrum), got {m.shape}")
        ok &= m.reshape(-1)
    for col in (1, 2, 3):
        out[~ok, col] = np.nan
    energy[~ok] = np.nan
    return WhitelineFit(energy.reshape(shape), out[:, 1].reshape(shape), out[:, 2].reshape(shape),
                        out[:, 3].reshape(shape), ok.reshape(shape), k)
