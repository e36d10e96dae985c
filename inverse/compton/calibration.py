"""Calibration EMF -> lithium content from reference states, with propagated uncertainty.

seeds/001, section 2.2: "the lithium-ion concentration is directly proportional to the EMF, and the EMF can be
used to calibrate the lithium-ion concentration in the cathode materials (Huang et al., 2022)". The EMF is also
instrument-dependent (detector resolution, background convention; :mod:`forward.compton.plan`), so the line must
be measured (or simulated) with the same instrument and analysis.

Model: ``EMF = a + b x`` fitted by weighted least squares to reference states (x_k, EMF_k +- s_k)::

    W = diag(1 / s_k^2),  A = [1, x_k],  theta = (A^T W A)^-1 A^T W EMF,  cov(theta) = (A^T W A)^-1

(``scale_covariance=True`` multiplies cov by chi^2 / dof, for references whose quoted errors are not trusted).
Inverse prediction for a measured EMF +- s: ``x = (EMF - a) / b`` with, to first order,

    var x = (s^2 + var a + 2 x cov(a, b) + x^2 var b) / b^2,

vectorised over maps. With reference EMFs of shape (k, ...) (a map per reference state) every pixel gets its
own line: a per-pixel calibration, which absorbs what varies across the detector (the scattering angle of each
pixel, its efficiency and resolution) as a flat field does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xtwin import arguments

__all__ = ["Calibration", "fit_calibration"]


@dataclass(frozen=True)
class Calibration:
    """A straight line EMF = intercept + slope x with the covariance of (intercept, slope).

    Attributes
    ----------
    intercept, slope : float or ndarray (...)
        a and b (arrays for a per-pixel calibration).
    covariance : ndarray (..., 2, 2)
        Covariance of (a, b).
    chi2 : float or ndarray (...)
        Weighted sum of squared residuals.
    dof : int
        Degrees of freedom (references - 2).
    x_reference, emf_reference, sigma_reference : ndarray
        The reference states.
    """

    intercept: float | np.ndarray
    slope: float | np.ndarray
    covariance: np.ndarray
    chi2: float | np.ndarray
    dof: int
    x_reference: np.ndarray
    emf_reference: np.ndarray
    sigma_reference: np.ndarray

    @property
    def slope_sigma(self) -> float | np.ndarray:
        return np.sqrt(self.covariance[..., 1, 1])[()]

    @property
    def intercept_sigma(self) -> float | np.ndarray:
        return np.sqrt(self.covariance[..., 0, 0])[()]

    def emf(self, x) -> np.ndarray:
        """Predicted EMF at lithium content ``x``."""
        return self.intercept + self.slope * np.asarray(x, dtype=float)

    def predict_x(self, emf_value, emf_sigma=0.0) -> tuple[np.ndarray, np.ndarray]:
        """Lithium content and its standard deviation from measured EMF (+- sigma), arrays of any shape.

        NaN EMFs (masked pixels) give NaN.
        """
        r = np.asarray(emf_value, dtype=float)
        s = np.asarray(emf_sigma, dtype=float)
        if np.any(s[np.isfinite(s)] < 0):
            raise ValueError("emf_sigma: expected standard deviations >= 0")
        x = (r - self.intercept) / self.slope
        c = self.covariance
        var = (s**2 + c[..., 0, 0] + 2 * x * c[..., 0, 1] + x**2 * c[..., 1, 1]) / self.slope**2
        return x, np.sqrt(np.clip(var, 0.0, None))


def fit_calibration(x, emf_value, emf_sigma=None, *, scale_covariance: bool = False) -> Calibration:
    """Weighted least-squares line EMF = a + b x through reference states.

    Parameters
    ----------
    x : array (k,)
        Lithium content of the references (e.g. x of Li_x NMC811), k >= 2 distinct values.
    emf_value : array (k,) or (k, ...)
        Their EMF, or an EMF map per reference state (a per-pixel calibration).
    emf_sigma : array like emf_value, optional
        EMF standard deviations, > 0 (default: 1 each, i.e. unweighted; then set ``scale_covariance``).
    scale_covariance : bool
        Scale the covariance by chi^2 / dof (needs k >= 3).

    Returns
    -------
    Calibration
    """
    xs = arguments.array("x", x, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    r = arguments.array("emf_value", emf_value, dtype_kind="iuf", finite=True).astype(float)
    if r.ndim == 0 or r.shape[0] != xs.size:
        raise ValueError(f"emf_value: expected shape ({xs.size}, ...) (one value or map per reference state), got "
                         f"{r.shape}")
    if xs.size < 2 or np.ptp(xs) == 0:
        raise ValueError(f"x={xs.tolist()}: expected at least two reference states with different x")
    s = np.ones_like(r) if emf_sigma is None else arguments.array(
        "emf_sigma", emf_sigma, shape=r.shape, dtype_kind="iuf", finite=True).astype(float)
    if np.any(s <= 0):
        raise ValueError(f"emf_sigma: expected standard deviations > 0, got {s.min():g}")
    # Normal equations of every pixel at once: sums over the reference axis (first), pixels broadcast.
    xk = xs.reshape((-1,) + (1,) * (r.ndim - 1))
    wt = 1.0 / s**2
    s0, s1, s2 = wt.sum(axis=0), (wt * xk).sum(axis=0), (wt * xk**2).sum(axis=0)
    t0, t1 = (wt * r).sum(axis=0), (wt * xk * r).sum(axis=0)
    det = s0 * s2 - s1**2
    cov = np.stack([np.stack([s2, -s1], axis=-1), np.stack([-s1, s0], axis=-1)], axis=-2) / det[..., None, None]
    intercept, slope = (s2 * t0 - s1 * t1) / det, (s0 * t1 - s1 * t0) / det
    chi2 = np.sum(wt * (r - intercept - slope * xk) ** 2, axis=0)
    dof = xs.size - 2
    if scale_covariance:
        if dof < 1:
            raise ValueError("scale_covariance=True: expected at least 3 reference states (chi2 / dof needs dof >= 1)")
        cov = cov * (chi2 / dof)[..., None, None]
    if np.any(slope == 0):
        raise ValueError("fit_calibration: the fitted slope is 0; the EMF does not depend on x in these references")
    scalar = r.ndim == 1
    return Calibration(intercept=float(intercept) if scalar else intercept,
                       slope=float(slope) if scalar else slope, covariance=cov,
                       chi2=float(chi2) if scalar else chi2, dof=dof, x_reference=xs, emf_reference=r,
                       sigma_reference=s)
