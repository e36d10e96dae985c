"""Batch least-squares fits of the seeds/000 scattering model to thousands of SAXS or WAXS curves at once.

Scanning SWAXS gives one curve per pixel and SAXS tomography one per voxel
(seeds/000, Results and Methods); this module fits the intensity model of
seeds/000, eq. 1-4, to all of them in one vectorised Levenberg-Marquardt
run and returns every parameter with its 1-sigma uncertainty. Following
seeds/000 (section 2: "the scattering intensity in each region can
efficiently be analysed separately"), SAXS and WAXS curves are fitted with
separate models.

Models
------
``model="saxs"`` (seeds/000, eq. 1-3), parameters :data:`SAXS_PARAMETERS`::

    I(q) = A q^-alpha + K P_Schulz(q; R, pd) S_PY(q; R, eta) + b [+ a_b exp(-(q - c_b)^2 / (2 s_b^2))]

* ``porod_scale_per_cm`` ``A`` and ``porod_exponent`` ``alpha``: the
  particle-surface power law of eq. 2 (``A`` is the power law's value at
  q = 1 1/A, in 1/cm; q in 1/A).
* ``micropore_scale_per_cm`` ``K``, ``micropore_radius_A`` ``R`` and
  ``micropore_packing_fraction`` ``eta``: the micropore term of seeds/000
  eq. 3, ``K (Delta rho)^2 P(q) S(q)``, with P the Schulz-polydisperse
  sphere form factor :func:`forward.saxs.model.schulz_sphere_form_factor`
  of mean radius R and *fixed* relative standard deviation
  ``polydispersity``, and S the Percus-Yevick hard-sphere structure factor
  :func:`forward.saxs.model.hard_sphere_structure_factor` of hard spheres
  of radius R (the same *mean* radius as P) at volume fraction ``eta``
  (dimensionless, in [0, :data:`MAX_PACKING_FRACTION`] = [0, 0.6]; 0 gives
  S = 1, dilute pores). This is the decoupling approximation exactly as
  :class:`forward.saxs.model.HardCarbonTerms` evaluates eq. 3 (``P`` of the
  Schulz distribution times ``S`` at the mean radius), so noiseless forward
  curves are recovered exactly. ``K`` here is the whole prefactor, i.e.
  the micropore intensity at q -> 0 *without* S, in 1/cm
  (``phi <V^2>/<V> Delta sld^2`` in the forward model; the measured
  q -> 0 value is ``K S(0)``, ``S(0) = (1 - eta)^4 / (1 + 2 eta)^2``).
  ``eta`` is held fixed at :data:`DEFAULTS` (0: S = 1, the behaviour of
  earlier versions, and no hidden assumption about the pores' packing) unless
  given in ``start`` or made free (bounded to [0, 0.6]; a fit ending on 0 is
  flagged unconverged like any bound).
* ``background_per_cm`` ``b``: flat background (I_bkg of eq. 1).
* ``binder_saxs_amplitude_per_cm`` ``a_b`` (1/cm), ``binder_saxs_centre_inv_A``
  ``c_b`` (1/A) and ``binder_saxs_sigma_inv_A`` ``s_b`` (1/A): the SAXS bump
  of the binder near 0.075 1/A (seeds/000 section 2, Fig. 3b, 5a); absent
  (``a_b = 0``) unless given or made free.

``model="waxs"`` (seeds/000, eq. 4 and SI section "WAXS analysis of the
hard carbon electrodes"), parameters :data:`WAXS_PARAMETERS`: a sum of
Gaussians ``a exp(-(q - c)^2 / (2 s^2))`` (``a`` the peak height in 1/cm,
``s`` the standard deviation in 1/A; seeds/000 quotes FWHM
``w = 2 sqrt(2 ln 2) s``) plus a linear background ``b0 + b1 q``:

* the hard-carbon 002 peak (``g002_amplitude_per_cm``, ``q002_inv_A``,
  ``g002_sigma_inv_A``), whose position gives the interlayer spacing
  ``d002 = 2 pi / q002`` (Bragg, seeds/000 SI and Table S2);
* the PVDF binder peak at the fixed position 1.45 1/A (``pvdf_*``);
* optionally metallic Na at 2.07 1/A and pseudo-metallic Na near 2.1 1/A
  (``na_metal_*``, ``na_pseudo_*``): absent (amplitude 0) unless their
  amplitude is made free;
* ``background_per_cm`` + ``background_slope_per_cm_A`` q.

Which parameters are fitted is chosen by ``free`` (defaults
:data:`SAXS_FREE` and :data:`WAXS_FREE`: the SI's model of the first
operando scans); every other parameter is held at its value in ``start``
or at :data:`DEFAULTS`. Add ``"na_metal_amplitude_per_cm"`` and/or
``"na_pseudo_amplitude_per_cm"`` (and widths) to ``free`` for sodiated
curves, as the SI does for its last operando scan.

Recommended settings for scanning SAXS
--------------------------------------
For the curves of :func:`forward.saxs.scan.raster` / ``operando`` of the
capillary twin (:mod:`twin.generators.capillary`), whose forward model
(:func:`forward.saxs.model.voxel_terms`) has S(q) at packing 0.2 and the
binder bump: ``free=SCANNING_SAXS_FREE`` (the default free set plus the
binder height), ``start=SCANNING_SAXS_START`` (packing fixed at 0.2) and
``q_range_inv_A=SCANNING_SAXS_Q_RANGE_INV_A`` (0.003-0.56 1/A). Measured on
the electrode pixels of the default cell (``capillary_cell(voxel_size_um=20,
seed=0)``, ``ScanningSWAXS()``, 598 pixels, Poisson noise): pristine / op 5
(65 min) converge 99.5 % / 100 %, median reduced chi^2 1.00 / 1.00, median
R 6.51 A (twin 6.5 A); the median micropore-scale ratio op5/pristine is 0.677
(the twin's true sum ratio 0.673), pore filling 0.358 by
:func:`inverse.saxs.maps.pore_filling_from_micropore_change`; the twin's mean
pore filling is 0.393, the difference being the forward model's
intercalation, which raises the matrix SLD (with the op-5 matrix SLD the same
ratio gives 0.389). Packing free as well
(``SCANNING_SAXS_FREE + ("micropore_packing_fraction",)``) gives median
eta = 0.201 / 0.200 and R 6.50 A, but converges on only 93 % / 98.5 % of the
pixels, and K, correlated with eta, has outliers (median ratio 0.668, pore
filling 0.370); with the range extended to 0.7 1/A it converges on 99.8 %
(reduced chi^2 1.07, WAXS tails). Hence the recommendation to hold it.
Without S(q) (packing 0) the reduced chi^2 is ~17-25 and R ~3.5-3.9 A; without the binder bump the fit also fails, and
above ~0.6 1/A the tails of the WAXS peaks the SAXS model lacks raise chi^2
(reduced chi^2 ~6 up to 0.9 1/A). The same q-range without the points below
0.01 1/A leaves the power law unpinned under the binder bump (57 % of the
pristine pixels converge).

Method
------
* Internal parameters: positive scales and lengths (``porod_scale_per_cm``,
  ``micropore_scale_per_cm``, ``micropore_radius_A``,
  ``g002_amplitude_per_cm`` and every ``*_sigma_inv_A``) are fitted as their
  natural logarithm, which keeps them positive; exponents, positions,
  backgrounds and the binder and Na amplitudes (which may be zero) are
  fitted linearly, the positions bounded to the data's q-range, the
  exponent to [0, 8] and the micropore packing fraction to [0, 0.6]. Steps
  are clipped to the bounds.
* Levenberg-Marquardt on the weighted residuals ``(I - model) / sigma`` of
  all curves at once: arrays (n_curves, n_params) and (n_curves, n_q).
  One numba kernel per model, parallel over curves, evaluates the model,
  its analytic Jacobian in the internal parameters and accumulates
  ``chi^2``, ``J^T W J`` and ``J^T W r`` without temporaries of size
  (n, p, n_q); the damped systems ``(J^T W J + lambda diag(J^T W J)) dx =
  J^T W r`` of all active curves are solved by a batched Cholesky kernel
  (numba; a system that is not positive definite gets a zero step, i.e. a
  rejection), with Marquardt's damping per curve (x10 on a rejected step,
  /10 on an accepted one). Converged curves leave the active set, so later
  iterations cost only the stragglers (below 256 curves the kernels run
  serially). On a uniform q grid a Gaussian is evaluated by a
  two-multiplication recurrence (three exponentials per curve). Curves are
  processed in chunks of ``chunk_curves`` to bound memory.
* The Schulz form factor inside the fit is a cubic Hermite interpolant in
  ``u = ln(q R)`` (step 2e-3, x = q R from 1e-5 to 1e6) of
  :func:`forward.saxs.model.schulz_sphere_form_factor` and its u-derivative
  (central differences), replaced below x = 0.2 by the Guinier series (the
  closed form loses up to ~2e-7 to cancellation just above its own series
  switch, x ~ 0.03 at pd 0.3); P depends on q and R only through x, so
  ``dP/d ln R = dP/du``. The interpolant agrees with a direct quadrature
  over the Schulz distribution to 1e-10 absolute and with the closed form
  to its own accuracy (tested), is smooth, so the fit converges cleanly,
  and costs a few ns per point instead of ~60 ns.
  :func:`model_intensity_per_cm` uses the closed form.
* The Percus-Yevick S(x), x = 2 q R, is the closed form of
  :func:`forward.saxs.model.hard_sphere_structure_factor` (Kinning and
  Thomas 1984, with its Taylor series below x = 0.2; agrees to rounding),
  evaluated in the kernel with its exact derivatives ``x dS/dx`` (= dS/d ln
  R) and ``dS/d eta`` (:func:`_py_structure`); it is skipped (S = 1) when
  every packing fraction is 0 and the packing is not free. The ln R column
  of the Jacobian is ``K (dP/du S + P x dS/dx)``.
* Convergence: the Newton decrement ``g^T (J^T W J)^-1 g`` (``g = J^T W r``)
  is below ``xtol^2``, i.e. the full Gauss-Newton step from the current
  point is shorter than ``xtol`` standard deviations (in the metric of the
  covariance) and would lower chi^2 by less than ``xtol^2``. Curves that
  reach ``max_iterations``, whose damping exceeds 1e12 (no descent
  possible), or that end with a parameter on a bound are flagged
  ``converged = False``.
* Starting values, computed vectorised from the data unless given in
  ``start``: SAXS, the exponent from the log-log slope of the lowest 10 %
  of q (at least 4 points), then for each of 16 radii between 1/q_max and
  1/q_min the three linear amplitudes (A, K, b) (and the binder height when
  it is free) by weighted linear least squares (numba), with the micropore
  basis ``P S`` at the fixed packing fraction and a fourth basis function
  ``-ln q q^-alpha`` (the first-order correction of the exponent, applied to
  the start when the exponent is free), keeping the radius of least chi^2;
  with a free packing fraction the search runs over 32 radii times the
  packing fractions :data:`PACKING_GRID` and the chosen packing is moved
  0.02 inside the bounds. A and K are floored at 1e-6 of the larger
  term's peak (positive for the log parametrisation). The search uses about
  50 of the q points. WAXS, a straight line through the 5 % of points at
  each end of the curve, the binder and Na-metal peak regions (+-3 sigma)
  bridged linearly, the 002 position by the centroid of the part of the
  smoothed line-subtracted curve above half its maximum, its width from the
  area over the height; then all free amplitudes and the background by
  weighted linear least squares at those positions and widths.
* Uncertainties: the covariance of the internal parameters is
  ``C_x = (J^T W J)^-1`` at the optimum with ``W = diag(1/sigma^2)``, **not
  rescaled by the reduced chi^2** when ``sigma`` is given
  (``absolute_sigma=True``, the default: the sigmas are taken as the true
  standard deviations, and ``chi2_reduced`` ~ 1 tests the model and the
  noise). With ``absolute_sigma=False``, or when the curves carry no sigma
  (unit weights), ``C_x`` is multiplied by the reduced chi^2, as
  :func:`scipy.optimize.curve_fit` does. Linear-space uncertainties follow by
  the delta method, ``sigma_p = p sigma_x`` for log-parametrised
  parameters. Directions the data do not fix (eigenvalue of the
  correlation-scaled normal matrix below 1e-12 of the largest) give an
  infinite uncertainty to every parameter with a component above 1e-6 in
  them. Fixed parameters have uncertainty 0. Tested: the pulls
  ``(fit - truth) / sigma`` of 1200 seeded noisy fits per model have
  standard deviations within 0.1 of 1 (measured 0.95-1.03).

Approximations: no instrumental smearing, S(q) in the decoupling
approximation at the mean radius (as the forward model), the
polydispersity of the micropores is not fitted, linearised (Gaussian)
uncertainties, which are honest when they are small compared to the values.

Cost: about p^2 n_q / 2 + 30 n_q floating-point operations per curve and
iteration, typically 3-5 iterations, plus the starting values: measured
27-29 us per curve on 2 cores for 150-200 q points and 5-7 parameters
(10^5 curves in under 3 s), 53-89 times less than a per-curve
scipy.optimize.curve_fit loop (benchmarks/bench_saxs_fit.py). Memory: a
few (n_q) float64 arrays per curve of a chunk. The first call compiles the
numba kernels (about 10-20 s, cached on disk afterwards).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
from numba import njit, prange

from forward.saxs.model import (BINDER_SAXS_SIGMA_INV_A, MICROPORE_POLYDISPERSITY, NA_CRYSTALLITE_A,
                                PEAK_SIGMA_INV_A, PVDF_CRYSTALLITE_A, Q_BINDER_SAXS_INV_A, Q_NA_METAL_INV_A,
                                Q_NA_PSEUDO_INV_A, Q_PVDF_INV_A, bragg_d_A, peak_sigma_for_size,
                                schulz_sphere_form_factor)
from xtwin import arguments

__all__ = ["CurveFit", "DEFAULT_POLYDISPERSITY", "DEFAULTS", "MAX_PACKING_FRACTION", "MODELS", "SAXS_FREE",
           "SAXS_PARAMETERS", "SCANNING_SAXS_FREE", "SCANNING_SAXS_Q_RANGE_INV_A", "SCANNING_SAXS_START", "WAXS_FREE",
           "WAXS_PARAMETERS", "fit_curves", "model_intensity_per_cm", "starting_values"]

#: Parameters of the SAXS model (seeds/000, eq. 1-3), in order.
SAXS_PARAMETERS = ("porod_scale_per_cm", "porod_exponent", "micropore_scale_per_cm", "micropore_radius_A",
                   "background_per_cm", "binder_saxs_amplitude_per_cm", "binder_saxs_centre_inv_A",
                   "binder_saxs_sigma_inv_A", "micropore_packing_fraction")
#: Parameters of the WAXS model (seeds/000, eq. 4 and SI "WAXS analysis"), in order.
WAXS_PARAMETERS = ("g002_amplitude_per_cm", "q002_inv_A", "g002_sigma_inv_A",
                   "pvdf_amplitude_per_cm", "pvdf_centre_inv_A", "pvdf_sigma_inv_A",
                   "na_metal_amplitude_per_cm", "na_metal_centre_inv_A", "na_metal_sigma_inv_A",
                   "na_pseudo_amplitude_per_cm", "na_pseudo_centre_inv_A", "na_pseudo_sigma_inv_A",
                   "background_per_cm", "background_slope_per_cm_A")
#: Parameters of each model.
MODELS = {"saxs": SAXS_PARAMETERS, "waxs": WAXS_PARAMETERS}
#: Parameters fitted by default for SAXS: power law, micropores (packing held at DEFAULTS, 0) and flat background
#: (the binder term is absent).
SAXS_FREE = SAXS_PARAMETERS[:5]
#: Parameters fitted by default for WAXS: the SI's model of the first operando scans (002, binder at 1.45 1/A
#: with free height and width, linear background); the Na peaks are absent.
WAXS_FREE = ("g002_amplitude_per_cm", "q002_inv_A", "g002_sigma_inv_A", "pvdf_amplitude_per_cm",
             "pvdf_sigma_inv_A", "background_per_cm", "background_slope_per_cm_A")
#: Values of parameters that are neither free nor given in ``start``; also the start of free widths.
#: Positions from seeds/000 (PVDF 1.45, Na metal 2.07, pseudo-metallic Na ~2.1, SAXS binder 0.075 1/A);
#: the widths are those of the forward model (forward.saxs.model: Scherrer widths of 100-A PVDF and
#: 500-A Na crystallites, a broad pseudo-metallic hump, the SAXS binder bump), assumptions rather than
#: seeds/000 values.
DEFAULTS = {"pvdf_amplitude_per_cm": 0.0, "pvdf_centre_inv_A": Q_PVDF_INV_A,
            "pvdf_sigma_inv_A": float(peak_sigma_for_size(PVDF_CRYSTALLITE_A)),
            "na_metal_amplitude_per_cm": 0.0, "na_metal_centre_inv_A": Q_NA_METAL_INV_A,
            "na_metal_sigma_inv_A": float(peak_sigma_for_size(NA_CRYSTALLITE_A)),
            "na_pseudo_amplitude_per_cm": 0.0, "na_pseudo_centre_inv_A": Q_NA_PSEUDO_INV_A,
            "na_pseudo_sigma_inv_A": float(PEAK_SIGMA_INV_A["na_pseudo"]),
            "background_per_cm": 0.0, "background_slope_per_cm_A": 0.0,
            "binder_saxs_amplitude_per_cm": 0.0, "binder_saxs_centre_inv_A": Q_BINDER_SAXS_INV_A,
            "binder_saxs_sigma_inv_A": BINDER_SAXS_SIGMA_INV_A, "micropore_packing_fraction": 0.0}
#: Recommended SAXS fit of scanning-SAXS curves of the capillary twin (forward.saxs.scan of
#: twin.generators.capillary; see the module docstring, "Recommended settings for scanning SAXS"): the default
#: free set plus the binder bump's height, with the micropore packing fraction held at
#: :data:`SCANNING_SAXS_START` and the points in :data:`SCANNING_SAXS_Q_RANGE_INV_A`.
SCANNING_SAXS_FREE = SAXS_FREE + ("binder_saxs_amplitude_per_cm",)
#: Fixed values of the recommended scanning-SAXS fit: packing fraction 0.2, the forward model's S(q) assumption
#: (forward.saxs.model.voxel_terms sets it to the hard carbon's micropore volume fraction, 0.2 in the
#: capillary generator); an assumption about the sample, not a seeds/000 value.
SCANNING_SAXS_START = {"micropore_packing_fraction": 0.2}
#: q-range of the recommended scanning-SAXS fit, 1/A: down to the lowest q of the SAXS detector (the power law
#: must be pinned below the binder bump at 0.075 1/A) and up to 0.56 1/A, beyond which the tails of the WAXS
#: peaks (002, electrolyte and silica halos near 1.5 1/A) that the SAXS model lacks raise chi^2.
SCANNING_SAXS_Q_RANGE_INV_A = (0.003, 0.56)
#: Default relative standard deviation of the micropore radii (Schulz distribution), the forward model's
#: value; an assumption, not a seeds/000 value.
DEFAULT_POLYDISPERSITY = MICROPORE_POLYDISPERSITY

_LOG = {"porod_scale_per_cm", "micropore_scale_per_cm", "micropore_radius_A", "g002_amplitude_per_cm",
        "g002_sigma_inv_A", "pvdf_sigma_inv_A", "na_metal_sigma_inv_A", "na_pseudo_sigma_inv_A",
        "binder_saxs_sigma_inv_A"}
_PEAKS = (("g002_amplitude_per_cm", "q002_inv_A", "g002_sigma_inv_A"),
          ("pvdf_amplitude_per_cm", "pvdf_centre_inv_A", "pvdf_sigma_inv_A"),
          ("na_metal_amplitude_per_cm", "na_metal_centre_inv_A", "na_metal_sigma_inv_A"),
          ("na_pseudo_amplitude_per_cm", "na_pseudo_centre_inv_A", "na_pseudo_sigma_inv_A"))
_LN_R_STEP = 1e-5          # central-difference step of the form factor in u = ln(qR) for its table
_U_TABLE = (np.log(1e-5), np.log(1e6), 2e-3)   # range and step of the form-factor table in u = ln(qR)
_MAX_LAMBDA = 1e12
#: Upper bound of the fitted micropore packing fraction (Percus-Yevick; random close packing is 0.64).
MAX_PACKING_FRACTION = 0.6
#: Packing fractions tried (with every candidate radius) for the start of a free packing fraction.
PACKING_GRID = tuple(np.round(np.arange(0.0, 0.56, 0.05), 2))
_LOG_BOUND = 230.0         # |ln p| bound of log-parametrised scales (1e+-100)


@dataclass(frozen=True)
class CurveFit:
    """Result of :func:`fit_curves`: one row per curve.

    Attributes
    ----------
    model : str
        ``"saxs"`` or ``"waxs"``.
    names : tuple of str
        All parameters of the model, the columns of ``values``.
    free : tuple of str
        The fitted parameters (the others were held fixed).
    values : ndarray, shape (n, p)
        Parameter values per curve, units as in the names (1/cm, 1/A, A).
    uncertainties : ndarray, shape (n, p)
        1-sigma uncertainties (0 for fixed parameters, inf where the data do
        not fix the parameter); see the module docstring for the scaling.
    covariance : ndarray, shape (n, k, k)
        Covariance of the free parameters (order of ``free``), linear space.
    chi2 : ndarray, shape (n,)
        Weighted sum of squared residuals at the optimum.
    dof : int
        Degrees of freedom, ``n_q - k``.
    converged : ndarray of bool, shape (n,)
        Whether the curve met the convergence test (module docstring).
    iterations : ndarray of int, shape (n,)
        Levenberg-Marquardt iterations used per curve.
    batch_shape : tuple of int
        Leading shape of the input curves (e.g. (ny, nx) of a scan); ``n`` is its product.
    settings : dict
        ``polydispersity``, ``absolute_sigma``, ``q_range_inv_A``, ``xtol``, ``max_iterations``.
    """

    model: str
    names: tuple[str, ...]
    free: tuple[str, ...]
    values: np.ndarray
    uncertainties: np.ndarray
    covariance: np.ndarray
    chi2: np.ndarray
    dof: int
    converged: np.ndarray
    iterations: np.ndarray
    batch_shape: tuple[int, ...]
    settings: dict = field(default_factory=dict)

    @property
    def chi2_reduced(self) -> np.ndarray:
        """chi^2 / dof per curve, shape (n,)."""
        return self.chi2 / self.dof

    def _column(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"name={name!r}: expected one of the {self.model} parameters {', '.join(self.names)}")
        return self.names.index(name)

    def __getitem__(self, name: str) -> np.ndarray:
        """Values of parameter ``name`` for every curve, shape (n,)."""
        return self.values[:, self._column(name)]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return self.values.shape[0]

    def keys(self) -> tuple[str, ...]:
        """Parameter names, as a mapping's keys."""
        return self.names

    def uncertainty(self, name: str) -> np.ndarray:
        """1-sigma uncertainty of parameter ``name`` for every curve, shape (n,)."""
        return self.uncertainties[:, self._column(name)]

    def map(self, name: str) -> np.ndarray:
        """Values of ``name`` reshaped to the input's batch shape (e.g. a (ny, nx) scan map)."""
        return self[name].reshape(self.batch_shape)

    def as_dict(self) -> dict[str, np.ndarray]:
        """``{name: values (n,)}`` for every parameter (the input of :func:`model_intensity_per_cm`)."""
        return {name: self.values[:, j] for j, name in enumerate(self.names)}

    @property
    def d002_A(self) -> np.ndarray:
        """Interlayer spacing ``d002 = 2 pi / q002`` per curve, A (WAXS only; seeds/000 SI, Table S2)."""
        self._need_waxs("d002_A")
        return np.asarray(bragg_d_A(self["q002_inv_A"]), dtype=float)

    @property
    def d002_uncertainty_A(self) -> np.ndarray:
        """1-sigma uncertainty of ``d002_A``, propagated as ``2 pi sigma_q002 / q002^2``, A."""
        self._need_waxs("d002_uncertainty_A")
        q = self["q002_inv_A"]
        return 2.0 * np.pi * self.uncertainty("q002_inv_A") / q**2

    def _need_waxs(self, what: str) -> None:
        if self.model != "waxs":
            raise AttributeError(f"{what}: only defined for model='waxs', this fit is model={self.model!r}")

    def model_intensity_per_cm(self, q_inv_A: Any) -> np.ndarray:
        """The fitted model evaluated at ``q_inv_A`` for every curve, shape (n, n_q), 1/cm."""
        return model_intensity_per_cm(q_inv_A, self.as_dict(), model=self.model,
                                      polydispersity=self.settings.get("polydispersity", DEFAULT_POLYDISPERSITY))


# --------------------------------------------------------------------------------------------------- models
def _saxs(q: np.ndarray, p: np.ndarray, pd: float, free_cols: Sequence[int] | None):
    """SAXS model and its Jacobian in internal parameters, columns ``free_cols`` (None: no Jacobian)."""
    lq = np.log(q)
    A, alpha, K, R, b, ba, bc, bs, eta = (p[:, j:j + 1] for j in range(9))
    pl = A * np.exp(-alpha * lq)
    F = schulz_sphere_form_factor(q, R, pd)
    S = np.ones((p.shape[0], q.size))
    S_lnR, S_eta = np.zeros_like(S), np.zeros_like(S)
    if bool(np.any(eta)) or (free_cols is not None and 8 in free_cols):
        _structure_factor_kernel(q, np.ascontiguousarray(R[:, 0]), np.ascontiguousarray(eta[:, 0]), S, S_lnR, S_eta)
    model = pl + K * F * S + b
    binder = bool(np.any(ba)) or (free_cols is not None and bool({5, 6, 7} & set(free_cols)))
    if binder:
        u = (q - bc) / bs
        e = np.exp(-0.5 * u * u)
        model = model + ba * e
    if free_cols is None:
        return model, None
    jac = np.empty((p.shape[0], len(free_cols), q.size))
    for i, j in enumerate(free_cols):
        if j == 0:
            jac[:, i] = pl                     # d/d ln A
        elif j == 1:
            jac[:, i] = -lq * pl               # d/d alpha
        elif j == 2:
            jac[:, i] = K * F * S              # d/d ln K
        elif j == 3:                           # d/d ln R = K (dF/du S + F dS/d ln R), u = ln(qR), from the table
            table_u, table_du = _dlog_form_factor_table(pd)
            jac[:, i] = K * (np.interp(lq + np.log(R), table_u, table_du) * S + F * S_lnR)
        elif j == 4:
            jac[:, i] = 1.0                    # d/d b
        elif j == 5:
            jac[:, i] = e                      # d/d binder amplitude
        elif j == 6:
            jac[:, i] = ba * e * u / bs        # d/d binder centre
        elif j == 7:
            jac[:, i] = ba * e * u * u         # d/d ln binder sigma
        else:
            jac[:, i] = K * F * S_eta          # d/d packing fraction
    return model, jac


_P_SERIES = (1.0, -1.0 / 5, 3.0 / 175, -4.0 / 4725, 2.0 / 72765, -1.0 / 1576575, 1.0 / 91216125)


@functools.lru_cache(maxsize=8)
def _dlog_form_factor_table(pd: float) -> tuple[np.ndarray, np.ndarray]:
    """Table of dP/du, u = ln(q R), of the Schulz sphere form factor at polydispersity ``pd``.

    P depends on q and R only through x = q R, so d P / d ln R = dP/du at u = ln x. Above the series
    limit (x = 0.2, or 0.1 when pd > 0.5): central differences (step 1e-4 in u) of
    :func:`forward.saxs.model.schulz_sphere_form_factor`; below, the derivative of the Guinier series
    (:func:`_guinier_series`), because the closed form loses up to ~2e-7 to cancellation just above its
    own series switch (x ~ 0.03 at pd 0.3), far too much for differencing. Grid: step 2e-3 in u over
    x in [1e-5, 1e6] (12,700 nodes, small enough to stay in cache). These are the node derivatives of
    the Hermite interpolant used by the kernels (:func:`_form_factor_table`) and, linearly
    interpolated, the ln R column of the numpy Jacobian of :func:`_saxs` (used only in tests).
    """
    u = np.arange(_U_TABLE[0], _U_TABLE[1] + _U_TABLE[2], _U_TABLE[2])
    step = 1e-4
    up = schulz_sphere_form_factor(np.exp(u + step), 1.0, pd)
    down = schulz_sphere_form_factor(np.exp(u - step), 1.0, pd)
    du = (up - down) / (2 * step)
    x = np.exp(u)
    low = x < _series_limit(pd)
    du[low] = _guinier_series(x[low], pd, derivative=True)
    u.setflags(write=False)
    du.setflags(write=False)
    return u, du


def _waxs(q: np.ndarray, p: np.ndarray, free_cols: Sequence[int] | None):
    """WAXS model and its Jacobian in internal parameters, columns ``free_cols`` (None: no Jacobian)."""
    n = p.shape[0]
    model = p[:, 12:13] + p[:, 13:14] * q
    want = set(free_cols) if free_cols is not None else set()
    jac = None if free_cols is None else np.empty((n, len(free_cols), q.size))
    position = {j: i for i, j in enumerate(free_cols or ())}
    for k in range(4):
        ja, jc, js = 3 * k, 3 * k + 1, 3 * k + 2
        if not (want & {ja, jc, js}) and not np.any(p[:, ja]):
            continue                           # absent peak, not fitted
        a, c, s = p[:, ja:ja + 1], p[:, jc:jc + 1], p[:, js:js + 1]
        u = (q - c) / s
        e = np.exp(-0.5 * u * u)
        g = a * e
        model = model + g
        if jac is None:
            continue
        if ja in position:
            jac[:, position[ja]] = g if ja == 0 else e          # d/d ln a (002) or d/d a
        if jc in position:
            jac[:, position[jc]] = g * u / s                    # d/d c
        if js in position:
            jac[:, position[js]] = g * u * u                    # d/d ln s
    if jac is not None:
        if 12 in position:
            jac[:, position[12]] = 1.0
        if 13 in position:
            jac[:, position[13]] = q
    return model, jac


def _evaluate(model: str, q: np.ndarray, p: np.ndarray, pd: float, free_cols: Sequence[int] | None):
    if model == "saxs":
        return _saxs(q, p, pd, free_cols)
    return _waxs(q, p, free_cols)


def model_intensity_per_cm(q_inv_A: Any, parameters: Mapping[str, Any], *, model: str = "saxs",
                           polydispersity: float = DEFAULT_POLYDISPERSITY) -> np.ndarray:
    """Evaluate the SAXS or WAXS model of seeds/000, eq. 1-4, for a batch of parameter sets.

    Parameters
    ----------
    q_inv_A : array_like, shape (n_q,)
        Scattering vector magnitudes, 1/A (> 0).
    parameters : mapping
        ``{name: scalar or (n,) array}`` for the model's parameters
        (:data:`SAXS_PARAMETERS` or :data:`WAXS_PARAMETERS`); missing
        parameters with a :data:`DEFAULTS` entry take it (the Na and binder
        peaks absent, SAXS micropore packing fraction 0, i.e. S = 1; a given
        packing fraction must lie in [0, 0.6]).
    model : {"saxs", "waxs"}
        Which model (module docstring).
    polydispersity : float
        Relative standard deviation of the Schulz micropore radii (SAXS).

    Returns
    -------
    ndarray, shape (n, n_q)
        Intensity in 1/cm (n = 1 for scalar parameters).
    """
    names = MODELS[arguments.one_of("model", model, MODELS)]
    q = _q_array(q_inv_A)
    pd = arguments.in_range("polydispersity", polydispersity, 0.0, 0.99)
    unknown = sorted(set(parameters) - set(names))
    if unknown:
        raise ValueError(f"parameters: unknown {model} parameter(s) {unknown}; expected names from {names}")
    cols = []
    for name in names:
        if name in parameters:
            cols.append(np.atleast_1d(np.asarray(parameters[name], dtype=float)))
        elif name in DEFAULTS:
            cols.append(np.atleast_1d(float(DEFAULTS[name])))
        else:
            raise ValueError(f"parameters: missing {model} parameter {name!r}")
    n = max(c.size for c in cols)
    p = np.stack([np.broadcast_to(c.ravel(), (n,)) if c.size in (1, n) else _bad_size(names[i], c, n)
                  for i, c in enumerate(cols)], axis=1)
    if model == "saxs":
        _check_packing("parameters['micropore_packing_fraction']", p[:, 8])
    return _evaluate(model, q, p, pd, None)[0]


def _check_packing(what: str, v: np.ndarray) -> None:
    """Refuse hard-sphere packing fractions outside [0, MAX_PACKING_FRACTION]."""
    bad = ~((v >= 0) & (v <= MAX_PACKING_FRACTION))       # NaN included
    if np.any(bad):
        raise ValueError(f"{what}: expected a micropore packing fraction in [0, {MAX_PACKING_FRACTION}] "
                         f"(Percus-Yevick hard spheres), got {float(v[bad].flat[0]):g}")


def _bad_size(name: str, c: np.ndarray, n: int):
    raise ValueError(f"parameters[{name!r}]: expected a scalar or {n} values, got shape {c.shape}")


# ------------------------------------------------------------------------------------------ numba kernels
@functools.lru_cache(maxsize=8)
def _form_factor_table(pd: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(u0, 1/h, P, dP/du) on the grid of :func:`_dlog_form_factor_table` for cubic Hermite interpolation.

    The node values are :func:`forward.saxs.model.schulz_sphere_form_factor` above the series limit
    (x = 0.2) and the Guinier series below it (the closed form loses up to 2e-7 to cancellation
    just above its own series switch, x ~ 0.03 at pd 0.3); with a step of 2e-3 in u the interpolant
    agrees with a direct quadrature over the Schulz distribution to ~1e-9 (tests), and costs a few ns
    per point instead of the closed form's ~60 ns.
    """
    u, du = _dlog_form_factor_table(pd)
    x = np.exp(u)
    values = np.array(schulz_sphere_form_factor(x, 1.0, pd), dtype=np.float64)
    low = x < _series_limit(pd)
    values[low] = _guinier_series(x[low], pd, derivative=False)
    return float(u[0]), 1.0 / _U_TABLE[2], values, np.ascontiguousarray(du)


def _series_limit(pd: float) -> float:
    """x = q R below which the 7-term Guinier series of the Schulz form factor is exact to rounding."""
    return 0.2 if pd <= 0.5 else 0.1


def _guinier_series(x: np.ndarray, pd: float, *, derivative: bool) -> np.ndarray:
    """``P = sum_j P_j c_j x^(2j)`` (or ``dP/d ln x``) of the Schulz sphere form factor, small x.

    ``P_j`` are the sphere's Taylor coefficients and ``c_j = prod_{i<=j} (1 + (4 + 2i) pd^2)(1 + (5 + 2i)
    pd^2)`` the Schulz moment ratios ``<R^(6+2j)> / (<R^6> R_mean^(2j))``.
    """
    out = np.zeros_like(x) if derivative else np.ones_like(x)
    c = 1.0
    for j in range(1, len(_P_SERIES)):
        c *= (1 + (4 + 2 * j) * pd * pd) * (1 + (5 + 2 * j) * pd * pd)
        out += (2 * j if derivative else 1) * _P_SERIES[j] * c * x ** (2 * j)
    return out


@njit(cache=True, inline="always")
def _hermite(u, u0, inv_h, values, derivs):
    """P and dP/du at u by cubic Hermite interpolation of the table (clamped at its ends)."""
    t = (u - u0) * inv_h
    last = values.shape[0] - 1
    if t <= 0.0:
        return values[0], 0.0
    if t >= last:
        return values[last], 0.0
    i = int(t)
    s = t - i
    h = 1.0 / inv_h
    f0, f1, d0, d1 = values[i], values[i + 1], derivs[i] * h, derivs[i + 1] * h
    s2 = s * s
    f = (1.0 + 2.0 * s) * (1.0 - s) * (1.0 - s) * f0 + s * (1.0 - s) * (1.0 - s) * d0 \
        + s2 * (3.0 - 2.0 * s) * f1 + s2 * (s - 1.0) * d1
    df = ((6.0 * s2 - 6.0 * s) * (f0 - f1) + (3.0 * s2 - 4.0 * s + 1.0) * d0 + (3.0 * s2 - 2.0 * s) * d1) * inv_h
    return f, df


# Percus-Yevick G(x)/x = alpha t1(x) + beta t2(x) + gamma t3(x): Taylor coefficients of t1, t2, t3 in x^2
# (those of forward.saxs.model._py_s, which switches to them below x = 0.2).
_PY_T1 = (1.0 / 3, -1.0 / 30, 1.0 / 840, -1.0 / 45360, 1.0 / 3991680)
_PY_T2 = (1.0 / 4, -1.0 / 36, 1.0 / 960, -1.0 / 50400, 1.0 / 4354560)
_PY_T3 = (1.0 / 6, -1.0 / 48, 1.0 / 1200, -1.0 / 60480, 1.0 / 5080320)
_PY_SERIES_X = 0.2


@njit(cache=True, inline="always")
def _py_coefficients(eta):
    """PY coefficients (alpha, beta, gamma) at packing fraction ``eta`` and their eta-derivatives."""
    one_m = 1.0 - eta
    d4 = one_m * one_m * one_m * one_m
    h = 1.0 + 0.5 * eta
    alpha = (1.0 + 2.0 * eta) * (1.0 + 2.0 * eta) / d4
    beta = -6.0 * eta * h * h / d4
    gamma = 0.5 * eta * alpha
    d_alpha = 4.0 * (1.0 + 2.0 * eta) / d4 + 4.0 * alpha / one_m
    d_beta = -6.0 * (h * h + eta * h) / d4 + 4.0 * beta / one_m
    d_gamma = 0.5 * alpha + 0.5 * eta * d_alpha
    return alpha, beta, gamma, d_alpha, d_beta, d_gamma


@njit(cache=True, inline="always")
def _py_structure(x, eta, co):
    """Percus-Yevick S, x dS/dx and dS/d eta at x = 2 q R (``co`` from :func:`_py_coefficients`).

    Same closed form and series switch (x < 0.2) as :func:`forward.saxs.model.hard_sphere_structure_factor`
    (Kinning and Thomas, Macromolecules 17 (1984) 1712): ``S = 1 / (1 + 24 eta G(x) / x)`` with
    ``G / x = alpha t1 + beta t2 + gamma t3``, ``t1 = (sin x - x cos x) / x^3``,
    ``t2 = (2 x sin x + (2 - x^2) cos x - 2) / x^4``,
    ``t3 = (-x^4 cos x + 4 [(3 x^2 - 6) cos x + (x^3 - 6 x) sin x + 6]) / x^6``. The derivatives are
    exact: ``x t_m' = sin x / x - n_m t_m`` with n = 3, 4, 6 (the numerators' derivatives are x^2 sin x,
    x^2 sin x and x^4 sin x), and ``dS = -S^2 dD`` for the denominator D.
    """
    alpha, beta, gamma, d_alpha, d_beta, d_gamma = co
    if eta == 0.0:      # S = 1; only dS/d eta = -24 t1 survives (alpha = 1, beta = gamma = 0)
        if x < _PY_SERIES_X:
            x2 = x * x
            t1 = _PY_T1[0] + x2 * (_PY_T1[1] + x2 * (_PY_T1[2] + x2 * (_PY_T1[3] + x2 * _PY_T1[4])))
        else:
            t1 = (np.sin(x) - x * np.cos(x)) / (x * x * x)
        return 1.0, 0.0, -24.0 * t1
    if x < _PY_SERIES_X:
        x2 = x * x
        t1 = _PY_T1[0] + x2 * (_PY_T1[1] + x2 * (_PY_T1[2] + x2 * (_PY_T1[3] + x2 * _PY_T1[4])))
        t2 = _PY_T2[0] + x2 * (_PY_T2[1] + x2 * (_PY_T2[2] + x2 * (_PY_T2[3] + x2 * _PY_T2[4])))
        t3 = _PY_T3[0] + x2 * (_PY_T3[1] + x2 * (_PY_T3[2] + x2 * (_PY_T3[3] + x2 * _PY_T3[4])))
        # x dt/dx = sum 2 m c_m x^(2m)
        u1 = x2 * (2.0 * _PY_T1[1] + x2 * (4.0 * _PY_T1[2] + x2 * (6.0 * _PY_T1[3] + x2 * 8.0 * _PY_T1[4])))
        u2 = x2 * (2.0 * _PY_T2[1] + x2 * (4.0 * _PY_T2[2] + x2 * (6.0 * _PY_T2[3] + x2 * 8.0 * _PY_T2[4])))
        u3 = x2 * (2.0 * _PY_T3[1] + x2 * (4.0 * _PY_T3[2] + x2 * (6.0 * _PY_T3[3] + x2 * 8.0 * _PY_T3[4])))
    else:
        s = np.sin(x)
        c = np.cos(x)
        x2 = x * x
        t1 = (s - x * c) / (x2 * x)
        t2 = (2.0 * x * s + (2.0 - x2) * c - 2.0) / (x2 * x2)
        t3 = (-x2 * x2 * c + 4.0 * ((3.0 * x2 - 6.0) * c + (x2 * x - 6.0 * x) * s + 6.0)) / (x2 * x2 * x2)
        sx = s / x
        u1 = sx - 3.0 * t1
        u2 = sx - 4.0 * t2
        u3 = sx - 6.0 * t3
    gx = alpha * t1 + beta * t2 + gamma * t3
    sq = 1.0 / (1.0 + 24.0 * eta * gx)
    s2 = sq * sq
    return (sq, -s2 * 24.0 * eta * (alpha * u1 + beta * u2 + gamma * u3),
            -s2 * 24.0 * (gx + eta * (d_alpha * t1 + d_beta * t2 + d_gamma * t3)))


@njit(cache=True, parallel=True)
def _structure_factor_kernel(q, radius, eta, s_out, s_ln_r, s_eta):
    """PY S(2 q R), dS/d ln R and dS/d eta for every curve i (R_i, eta_i) and q_j; outputs (n, n_q)."""
    for i in prange(s_out.shape[0]):
        co = _py_coefficients(eta[i])
        for j in range(q.shape[0]):
            s_out[i, j], s_ln_r[i, j], s_eta[i, j] = _py_structure(2.0 * q[j] * radius[i], eta[i], co)


@njit(cache=True, parallel=True)
def _table_form_factor(lq, log_r, u0, inv_h, values, derivs, out):
    """out[i, j] = P(q_j R_i) from the table; lq = ln q (nq,), log_r = ln R (n,)."""
    for i in prange(out.shape[0]):
        for j in range(lq.shape[0]):
            out[i, j] = _hermite(lq[j] + log_r[i], u0, inv_h, values, derivs)[0]


@njit(cache=True, inline="always")
def _small_lstsq(ata, atb, m):
    """Solve the m x m (m <= 4) normal system in place by Gaussian elimination after diagonal scaling."""
    scale = np.empty(m)
    for r in range(m):
        scale[r] = np.sqrt(ata[r, r]) if ata[r, r] > 0 else 1.0
    for r in range(m):
        for c in range(m):
            ata[r, c] /= scale[r] * scale[c]
        ata[r, r] += 1e-10
        atb[r] /= scale[r]
    for c in range(m):
        for r in range(c + 1, m):
            f = ata[r, c] / ata[c, c]
            for cc in range(c, m):
                ata[r, cc] -= f * ata[c, cc]
            atb[r] -= f * atb[c]
    x = np.empty(m)
    for r in range(m - 1, -1, -1):
        v = atb[r]
        for cc in range(r + 1, m):
            v -= ata[r, cc] * x[cc]
        x[r] = v / ata[r, r]
    for r in range(m):
        x[r] /= scale[r]
    return x


@njit(cache=True, inline="always")
def _start_candidate(lq, y, wi, lr, eta, basis, m, fit_bump, fit_slope, u0, inv_h, values, derivs, x_out):
    """Weighted linear least squares of one curve on the start basis at log radius ``lr`` and packing ``eta``;
    fills ``x_out`` (m,) and returns chi^2 (see :func:`_saxs_start_kernel`)."""
    nq = lq.shape[0]
    co = _py_coefficients(eta)
    b0 = 0.0
    b1 = 0.0
    for j in range(nq):
        v = _hermite(lq[j] + lr, u0, inv_h, values, derivs)[0]
        if eta > 0.0:
            v *= _py_structure(2.0 * np.exp(lq[j] + lr), eta, co)[0]
        basis[1, j] = v
        b0 = max(b0, basis[0, j])
        b1 = max(b1, v)
    ata = np.zeros((m, m))
    atb = np.zeros(m)
    for j in range(nq):
        for a_ in range(m):
            atb[a_] += wi[j] * basis[a_, j] * y[j]
            for b_ in range(a_ + 1):
                ata[a_, b_] += wi[j] * basis[a_, j] * basis[b_, j]
    for a_ in range(m):
        for b_ in range(a_):
            ata[b_, a_] = ata[a_, b_]
    x = _small_lstsq(ata, atb, m)
    # keep A and K positive (log-parametrised): floor each at 1e-6 of the larger term's peak, in terms of
    # the term's own largest value over q (A is the power law at q = 1 1/A, far below its peak)
    top = max(abs(x[0]) * b0, abs(x[1]) * b1)
    x[0] = max(x[0], 1e-6 * top / b0 + 1e-300)
    x[1] = max(x[1], 1e-6 * top / b1 + 1e-300)
    c2 = 0.0
    for j in range(nq):
        v = y[j]
        for a_ in range(m):
            v -= x[a_] * basis[a_, j]
        c2 += wi[j] * v * v
    for a_ in range(m):
        x_out[a_] = x[a_]
    return c2


@njit(cache=True, parallel=True)
def _saxs_start_kernel(lq, intensity, w, alpha, log_radii, etas, bump, fit_bump, fit_slope, u0, inv_h, values,
                       derivs, out):
    """Per curve and candidate (radius, packing fraction), the weighted linear least-squares amplitudes
    (A, K, b[, binder]) at the estimated exponent (micropore basis P S, S = 1 at packing 0); keep the
    candidate of least chi^2. With ``fit_slope`` the basis also holds ``-ln q q^-alpha``, the first-order
    change of the exponent, so that a slightly wrong exponent estimate does not bias the choice of
    radius (its coefficient / A is the exponent's correction). ``log_radii`` (n, n_r), ``etas`` (n, n_e).
    With several packing fractions, the best radius of each is refined on 16 sub-steps between its grid
    neighbours (chi^2 has a narrow valley along which R and the packing trade off).
    out columns: A, K, R, b, binder, chi2, packing, exponent correction."""
    n, nq = intensity.shape
    m = 3 + (1 if fit_bump else 0) + (1 if fit_slope else 0)
    nr = log_radii.shape[1]
    ne = etas.shape[1]
    for i in prange(n):
        basis = np.empty((m, nq))
        xc = np.empty(m)
        best = np.inf
        for j in range(nq):
            basis[0, j] = np.exp(-alpha[i] * lq[j])
            basis[2, j] = 1.0
            if fit_bump:
                basis[3, j] = bump[i, j]
            if fit_slope:
                basis[m - 1, j] = -lq[j] * basis[0, j]
        for e in range(ne):
            eta = etas[i, e]
            best_e = np.inf
            best_r = 0
            for rr in range(nr):
                c2 = _start_candidate(lq, intensity[i], w[i], log_radii[i, rr], eta, basis, m, fit_bump, fit_slope,
                                      u0, inv_h, values, derivs, xc)
                if c2 < best_e:
                    best_e = c2
                    best_r = rr
            n_fine = 16 if (ne > 1 and nr > 1) else 0
            lr_lo = log_radii[i, max(best_r - 1, 0)]
            lr_hi = log_radii[i, min(best_r + 1, nr - 1)]
            for ff in range(n_fine + 1):
                lr = log_radii[i, best_r] if ff == n_fine else lr_lo + (lr_hi - lr_lo) * ff / (n_fine - 1)
                c2 = _start_candidate(lq, intensity[i], w[i], lr, eta, basis, m, fit_bump, fit_slope,
                                      u0, inv_h, values, derivs, xc)
                if c2 < best:
                    best = c2
                    out[i, 0] = xc[0]
                    out[i, 1] = xc[1]
                    out[i, 2] = np.exp(lr)
                    out[i, 3] = xc[2]
                    out[i, 4] = xc[3] if fit_bump else 0.0
                    out[i, 5] = c2
                    out[i, 6] = eta
                    out[i, 7] = min(0.5, max(-0.5, xc[m - 1] / xc[0])) if fit_slope else 0.0


def _saxs_normal_py(q, lq, intensity, sw, p, cols, binder, structure, u0, inv_h, values, derivs, chi2, a, g):
    """chi^2, J^T W J and J^T W r of the SAXS model per curve, Jacobian in internal parameters (see _saxs).

    With ``structure`` the micropore term carries the Percus-Yevick S(2 q R; eta) of :func:`_py_structure`
    (analytic derivatives in ln R and eta); without, S = 1 and the packing column is not computed.
    """
    n, nq = intensity.shape
    k = cols.shape[0]
    for i in prange(n):
        jbuf = np.empty((k, nq))
        rbuf = np.empty(nq)
        c2 = 0.0
        full = np.zeros(9)
        A_, alpha, K, R, b, ba, bc, bs = p[i, 0], p[i, 1], p[i, 2], p[i, 3], p[i, 4], p[i, 5], p[i, 6], p[i, 7]
        log_r = np.log(R)
        co = _py_coefficients(p[i, 8])
        for j in range(nq):
            pl = A_ * np.exp(-alpha * lq[j])
            f, fu = _hermite(lq[j] + log_r, u0, inv_h, values, derivs)
            sq, sq_r, sq_e = 1.0, 0.0, 0.0
            if structure:
                sq, sq_r, sq_e = _py_structure(2.0 * q[j] * R, p[i, 8], co)
            model = pl + K * f * sq + b
            e = 0.0
            z = 0.0
            if binder:
                z = (q[j] - bc) / bs
                e = np.exp(-0.5 * z * z)
                model += ba * e
            w = sw[i, j]
            r = (intensity[i, j] - model) * w
            c2 += r * r
            full[0] = pl                    # d/d ln A
            full[1] = -lq[j] * pl           # d/d alpha
            full[2] = K * f * sq            # d/d ln K
            full[3] = K * (fu * sq + f * sq_r)    # d/d ln R (form factor and S both scale with q R)
            full[4] = 1.0                   # d/d b
            full[5] = e                     # d/d binder amplitude
            full[6] = ba * e * z / bs       # d/d binder centre
            full[7] = ba * e * z * z        # d/d ln binder sigma
            full[8] = K * f * sq_e          # d/d packing fraction
            rbuf[j] = r
            for m in range(k):
                jbuf[m, j] = full[cols[m]] * w
        chi2[i] = c2
        _normal_rows(jbuf, rbuf, k, a[i], g[i])


def _waxs_normal_py(q, intensity, sw, p, cols, active, dq_uniform, chi2, a, g):
    """chi^2, J^T W J and J^T W r of the WAXS model per curve, Jacobian in internal parameters (see _waxs).

    On a uniform q grid (``dq_uniform`` > 0) a Gaussian whose ends lie within 30 sigma of its centre is
    evaluated by the recurrence ``e_(j+1) = e_j rho_j``, ``rho_(j+1) = rho_j exp(-dz^2)`` (dz = dq / s):
    three exponentials per curve instead of one per point, relative error ~ 2 n_q 1e-16.
    """
    n, nq = intensity.shape
    k = cols.shape[0]
    for i in prange(n):
        jbuf = np.empty((k, nq))
        rbuf = np.empty(nq)
        full = np.zeros(14)
        full[12] = 1.0
        amp = np.empty(4)
        cen = np.empty(4)
        inv_s = np.empty(4)
        rec = np.zeros(4, dtype=np.bool_)
        e_cur = np.zeros(4)
        rho = np.zeros(4)
        ratio2 = np.zeros(4)
        for pk in range(4):
            amp[pk] = p[i, 3 * pk]
            cen[pk] = p[i, 3 * pk + 1]
            inv_s[pk] = 1.0 / p[i, 3 * pk + 2]
            if active[pk] and dq_uniform > 0.0:
                z0 = (q[0] - cen[pk]) * inv_s[pk]
                z1 = (q[nq - 1] - cen[pk]) * inv_s[pk]
                if abs(z0) < 30.0 and abs(z1) < 30.0:
                    dz = dq_uniform * inv_s[pk]
                    rec[pk] = True
                    e_cur[pk] = np.exp(-0.5 * z0 * z0)
                    rho[pk] = np.exp(-(z0 * dz + 0.5 * dz * dz))
                    ratio2[pk] = np.exp(-dz * dz)
        c2 = 0.0
        for j in range(nq):
            qj = q[j]
            model = p[i, 12] + p[i, 13] * qj
            full[13] = qj
            for pk in range(4):
                if active[pk]:
                    z = (qj - cen[pk]) * inv_s[pk]
                    if rec[pk]:
                        e = e_cur[pk]
                        e_cur[pk] = e * rho[pk]
                        rho[pk] *= ratio2[pk]
                    else:
                        # beyond 9 sigma exp(-40.5) = 2.6e-18 of the height: 0 (the forward model cuts at 7)
                        e = np.exp(-0.5 * z * z) if abs(z) < 9.0 else 0.0
                    ga = amp[pk] * e
                    model += ga
                    full[3 * pk] = ga if pk == 0 else e       # d/d ln a (002) or d/d a
                    full[3 * pk + 1] = ga * z * inv_s[pk]     # d/d c
                    full[3 * pk + 2] = ga * z * z             # d/d ln s
            w = sw[i, j]
            r = (intensity[i, j] - model) * w
            c2 += r * r
            rbuf[j] = r
            for m in range(k):
                jbuf[m, j] = full[cols[m]] * w
        chi2[i] = c2
        _normal_rows(jbuf, rbuf, k, a[i], g[i])


@njit(cache=True, inline="always")
def _normal_rows(jbuf, rbuf, k, a_i, g_i):
    """``J^T W J`` into ``a_i`` and ``J^T W r`` into ``g_i`` from the weighted Jacobian rows ``jbuf[:k]`` and
    residuals ``rbuf`` of one curve, as contiguous dot products over q (SIMD-friendly)."""
    nq = rbuf.shape[0]
    for m in range(k):
        row_m = jbuf[m]
        t = 0.0
        for j in range(nq):
            t += row_m[j] * rbuf[j]
        g_i[m] = t
        for l in range(m + 1):
            row_l = jbuf[l]
            t = 0.0
            for j in range(nq):
                t += row_m[j] * row_l[j]
            a_i[m, l] = t
            a_i[l, m] = t


@njit(cache=True, parallel=True)
def _damped_steps(a, g, lam, out):
    """Levenberg-Marquardt steps ``(A + lam diag(A)) dx = g`` per curve by Cholesky (A is (n, k, k)).

    Diagonal entries below 1e-12 of the largest are floored there; a system that is still not
    positive definite gets a zero step (rejected, so its damping grows).
    """
    n, k = g.shape
    for i in prange(n):
        m = np.empty((k, k))
        dmax = 0.0
        for r in range(k):
            dmax = max(dmax, a[i, r, r])
        for r in range(k):
            for c in range(k):
                m[r, c] = a[i, r, c]
            m[r, r] += lam[i] * max(a[i, r, r], 1e-12 * dmax + 1e-300)
        ok = True
        for c in range(k):                      # in-place Cholesky, lower triangle
            v = m[c, c]
            for t in range(c):
                v -= m[c, t] * m[c, t]
            if not v > 0.0:
                ok = False
                break
            v = np.sqrt(v)
            m[c, c] = v
            for r in range(c + 1, k):
                u = m[r, c]
                for t in range(c):
                    u -= m[r, t] * m[c, t]
                m[r, c] = u / v
        if not ok:
            for r in range(k):
                out[i, r] = 0.0
            continue
        y = np.empty(k)
        for r in range(k):
            v = g[i, r]
            for t in range(r):
                v -= m[r, t] * y[t]
            y[r] = v / m[r, r]
        for r in range(k - 1, -1, -1):
            v = y[r]
            for t in range(r + 1, k):
                v -= m[t, r] * out[i, t]
            out[i, r] = v / m[r, r]


# Parallel kernels for many curves; serial ones for the few stragglers of the last iterations, where the
# launch of a parallel region (several ms on a busy machine) would cost more than the work.
_saxs_normal = njit(cache=True, parallel=True, fastmath=True)(_saxs_normal_py)
_saxs_normal_serial = njit(cache=True, fastmath=True)(_saxs_normal_py)
_waxs_normal = njit(cache=True, parallel=True, fastmath=True)(_waxs_normal_py)
_waxs_normal_serial = njit(cache=True, fastmath=True)(_waxs_normal_py)
_PARALLEL_MIN_CURVES = 256


def _normal_equations(model: str, q: np.ndarray, intensity: np.ndarray, sw: np.ndarray, p: np.ndarray,
                      free_cols: Sequence[int], pd: float):
    """chi^2 (n,), J^T W J (n, k, k), J^T W r (n, k) at parameters p (n, P): the numba kernels."""
    n, k = p.shape[0], len(free_cols)
    chi2, a, g = np.empty(n), np.empty((n, k, k)), np.empty((n, k))
    cols = np.asarray(free_cols, dtype=np.int64)
    intensity, sw, p = (np.ascontiguousarray(v, dtype=np.float64) for v in (intensity, sw, p))
    if model == "saxs":
        binder = bool(np.any(p[:, 5])) or bool({5, 6, 7} & set(free_cols))
        structure = bool(np.any(p[:, 8])) or 8 in free_cols
        u0, inv_h, values, derivs = _form_factor_table(pd)
        kernel = _saxs_normal if n >= _PARALLEL_MIN_CURVES else _saxs_normal_serial
        kernel(q, np.log(q), intensity, sw, p, cols, binder, structure, u0, inv_h, values, derivs, chi2, a, g)
    else:
        active = np.array([bool(np.any(p[:, 3 * j])) or bool({3 * j, 3 * j + 1, 3 * j + 2} & set(free_cols))
                           for j in range(4)])
        steps = np.diff(q)
        mean = steps.mean()
        dq_uniform = float(mean) if np.max(np.abs(steps - mean)) <= 1e-9 * mean else 0.0
        kernel = _waxs_normal if n >= _PARALLEL_MIN_CURVES else _waxs_normal_serial
        kernel(q, intensity, sw, p, cols, active, dq_uniform, chi2, a, g)
    return chi2, a, g


# -------------------------------------------------------------------------------------------------- inputs
def _q_array(value: Any) -> np.ndarray:
    q = arguments.array("q_inv_A", value, ndim=(1,), dtype_kind="iuf").astype(float)
    if q.size < 2:
        raise ValueError(f"q_inv_A: expected at least 2 q values, got {q.size}")
    if not np.all(np.isfinite(q)):
        raise ValueError("q_inv_A: expected finite values, found NaN or infinity")
    if np.any(q <= 0):
        raise ValueError(f"q_inv_A: expected q > 0 in 1/A, got minimum {q.min():g} (negative or zero q)")
    if q.max() > 10.0:
        raise ValueError(f"q_inv_A: maximum {q.max():g} > 10 1/A is outside the SAXS/WAXS range of this model; "
                         "is q in 1/nm? (divide by 10 for 1/A)")
    return q


def _curves_arrays(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(q, I, sigma) from a Curves object or a (q, I[, sigma]) tuple, validated."""
    if hasattr(data, "q_inv_A") and hasattr(data, "intensity_per_cm"):
        q, intensity, sigma = data.q_inv_A, data.intensity_per_cm, getattr(data, "sigma_per_cm", None)
    elif isinstance(data, (tuple, list)) and len(data) in (2, 3):
        q, intensity = data[0], data[1]
        sigma = data[2] if len(data) == 3 else None
    else:
        raise TypeError(f"curves: expected a forward.saxs.curves.Curves or a tuple (q_inv_A, intensity_per_cm, "
                        f"sigma_per_cm), got {type(data).__name__}")
    q = _q_array(q)
    intensity = arguments.array("intensity_per_cm", intensity, dtype_kind="iuf").astype(float)
    if intensity.ndim == 0 or intensity.shape[-1] != q.size:
        raise ValueError(f"intensity_per_cm: expected shape (..., {q.size}) to match q_inv_A, got {intensity.shape}")
    if not np.all(np.isfinite(intensity)):
        raise ValueError("intensity_per_cm: expected finite values, found NaN or infinity")
    if sigma is not None:
        sigma = arguments.array("sigma_per_cm", sigma, dtype_kind="iuf").astype(float)
        if sigma.shape != intensity.shape:
            raise ValueError(f"sigma_per_cm: expected the shape of intensity_per_cm {intensity.shape}, "
                             f"got {sigma.shape}")
        if not np.all(np.isfinite(sigma)):
            raise ValueError("sigma_per_cm: expected finite values, found NaN or infinity")
        if np.any(sigma <= 0):
            raise ValueError(f"sigma_per_cm: expected standard deviations > 0, got minimum {sigma.min():g}")
    return q, intensity, sigma


def _names(model: str, free: Any, start: Any) -> tuple[tuple[str, ...], tuple[str, ...], dict]:
    names = MODELS[arguments.one_of("model", model, MODELS)]
    if free is None:
        free = SAXS_FREE if model == "saxs" else WAXS_FREE
    if isinstance(free, str):
        free = (free,)
    free = tuple(free)
    unknown = [f for f in free if f not in names]
    if unknown:
        raise ValueError(f"free: unknown {model} parameter(s) {unknown}; expected names from {', '.join(names)}")
    if not free or len(set(free)) != len(free):
        raise ValueError(f"free={free!r}: expected at least one parameter name, each once")
    free = tuple(n for n in names if n in free)       # model order
    start = dict(start or {})
    unknown = sorted(set(start) - set(names))
    if unknown:
        raise ValueError(f"start: unknown {model} parameter(s) {unknown}; expected names from {', '.join(names)}")
    missing = [n for n in names if n not in free and n not in start and n not in DEFAULTS]
    if missing:
        raise ValueError(f"start: the fixed {model} parameter(s) {missing} need a value in start")
    return names, free, start


# ---------------------------------------------------------------------------------------- starting values
def _start_saxs(q, I, w, pd, given, free):
    n, nq = I.shape
    lq = np.log(q)
    m = max(4, nq // 10)
    y = np.log(np.maximum(I[:, :m], 1e-30 + 1e-6 * np.abs(I).max(axis=1, keepdims=True)))
    x = lq[:m] - lq[:m].mean()
    alpha = np.clip(-(y - y.mean(axis=1, keepdims=True)) @ x / (x @ x), 0.5, 6.0)
    if "porod_exponent" in given:
        alpha = given["porod_exponent"]
    radii = list(np.geomspace(1.0 / q[-1], 1.0 / q[0], 16))
    if "micropore_packing_fraction" in free and "micropore_packing_fraction" not in given:
        radii = list(np.geomspace(1.0 / q[-1], 1.0 / q[0], 32))   # S(q) makes chi^2(R) more structured
    if "micropore_radius_A" in given:
        radii = [None]
    out = np.empty((n, len(SAXS_PARAMETERS)))
    for j in (5, 6, 7, 8):
        out[:, j] = given.get(SAXS_PARAMETERS[j], DEFAULTS[SAXS_PARAMETERS[j]])
    free_packing = "micropore_packing_fraction" in free and "micropore_packing_fraction" not in given
    # the binder bump: fitted linearly with the other amplitudes when its amplitude is free, else subtracted
    bump = np.exp(-0.5 * ((q - out[:, 6:7]) / out[:, 7:8]) ** 2)
    fit_bump = "binder_saxs_amplitude_per_cm" in free and "binder_saxs_amplitude_per_cm" not in given
    target = I if fit_bump else I - out[:, 5:6] * bump
    sub = slice(None, None, max(1, nq // 50))      # the radius search uses about 50 of the q points
    if radii[0] is None:
        log_radii = np.log(given["micropore_radius_A"])[:, None]
    else:
        log_radii = np.broadcast_to(np.log(radii), (n, len(radii)))
    # a free packing fraction is searched on PACKING_GRID together with the radius; else it is fixed
    etas = np.broadcast_to(PACKING_GRID, (n, len(PACKING_GRID))) if free_packing else out[:, 8:9]
    res = np.empty((n, 8))
    _saxs_start_kernel(lq[sub], np.ascontiguousarray(target[:, sub]), np.ascontiguousarray(w[:, sub]),
                       np.ascontiguousarray(np.broadcast_to(alpha, (n,)), dtype=np.float64),
                       np.ascontiguousarray(log_radii), np.ascontiguousarray(etas),
                       np.ascontiguousarray(bump[:, sub]), fit_bump, "porod_exponent" not in given,
                       *_form_factor_table(pd), res)
    out[:, 0], out[:, 1], out[:, 2] = res[:, 0], alpha + res[:, 7], res[:, 1]
    out[:, 3], out[:, 4] = res[:, 2], res[:, 3]
    if fit_bump:
        out[:, 5] = res[:, 4]
    out[:, 8] = res[:, 6]
    if free_packing:            # strictly inside the bounds
        out[:, 8] = np.clip(out[:, 8], 0.02, MAX_PACKING_FRACTION - 0.02)
    return out


def _start_waxs(q, I, w, fixed_or_given, free):
    n, nq = I.shape
    m = max(2, nq // 20)
    y0, y1 = I[:, :m].mean(axis=1), I[:, -m:].mean(axis=1)
    q0, q1 = q[:m].mean(), q[-m:].mean()
    slope = (y1 - y0) / (q1 - q0)
    line = y0[:, None] + slope[:, None] * (q - q0)
    r = I - line
    # bridge the sharp binder peak (and the Na metal peak) linearly, so that they do not bias the 002 estimate
    for name in ("pvdf", "na_metal"):
        c = float(np.median(fixed_or_given.get(f"{name}_centre_inv_A", DEFAULTS[f"{name}_centre_inv_A"])))
        s = float(np.median(fixed_or_given.get(f"{name}_sigma_inv_A", DEFAULTS[f"{name}_sigma_inv_A"])))
        inside = np.abs(q - c) < 3 * s
        if inside.any() and (~inside).sum() >= 2:
            r[:, inside] = _bridge(q, r, inside)
    k = max(1, nq // 40)                     # moving average over ~2.5 % of the points
    rs = _smooth(r, k)
    height = np.maximum(rs.max(axis=1), 1e-30)
    top = rs > 0.5 * height[:, None]
    wt = np.where(top, rs, 0.0)
    centre = (wt @ q) / np.maximum(wt.sum(axis=1), 1e-300)
    dq = np.gradient(q)
    area = np.maximum(rs, 0.0) @ dq
    sigma = np.clip(area / (height * np.sqrt(2 * np.pi)), 2 * dq.min(), 0.5 * (q[-1] - q[0]))
    p = np.empty((n, len(WAXS_PARAMETERS)))
    for j, name in enumerate(WAXS_PARAMETERS):
        p[:, j] = fixed_or_given.get(name, DEFAULTS.get(name, 0.0))
    for name, value in (("q002_inv_A", centre), ("g002_sigma_inv_A", sigma), ("g002_amplitude_per_cm", height)):
        if name not in fixed_or_given:
            p[:, WAXS_PARAMETERS.index(name)] = value
    # linear refinement of the free amplitudes and background at these positions and widths
    lin = [j for j in (0, 3, 6, 9, 12, 13) if WAXS_PARAMETERS[j] in free and WAXS_PARAMETERS[j] not in fixed_or_given]
    if lin:
        # the model is linear in these: one Gauss-Newton step from any point is their exact weighted LS
        # solution (the kernel's 002 column is d/d ln a = a e, hence the relative update of a)
        p_lin = p.copy()
        if 0 in lin:
            p_lin[:, 0] = np.maximum(p_lin[:, 0], 1e-30)
        _, a, g = _normal_equations("waxs", q, I, np.sqrt(w), p_lin, lin, 0.0)
        d = np.sqrt(np.maximum(np.einsum("nkk->nk", a), 1e-300))
        a = a / d[:, :, None] / d[:, None, :] + 1e-10 * np.eye(len(lin))
        step = np.linalg.solve(a, (g / d)[..., None])[..., 0] / d
        for i, j in enumerate(lin):
            p[:, j] = p_lin[:, j] * (1 + step[:, i]) if j == 0 else p_lin[:, j] + step[:, i]
        if 0 in lin:
            p[:, 0] = np.where(p[:, 0] > 0, p[:, 0], height)
    return p


def _bridge(q: np.ndarray, r: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Values of every row of ``r`` on ``q[inside]`` linearly interpolated between the nearest outside points."""
    idx = np.flatnonzero(inside)
    left, right = idx[0] - 1, idx[-1] + 1
    if left < 0:
        return np.repeat(r[:, right:right + 1], idx.size, axis=1)
    if right >= q.size:
        return np.repeat(r[:, left:left + 1], idx.size, axis=1)
    t = (q[idx] - q[left]) / (q[right] - q[left])
    return r[:, left:left + 1] * (1 - t) + r[:, right:right + 1] * t


def _smooth(r: np.ndarray, k: int) -> np.ndarray:
    c = np.cumsum(np.pad(r, ((0, 0), (k + 1, k)), mode="edge"), axis=1)
    return (c[:, 2 * k + 1:] - c[:, :-2 * k - 1]) / (2 * k + 1)


def starting_values(curves: Any, *, model: str = "saxs", free: Sequence[str] | None = None,
                    start: Mapping[str, Any] | None = None, polydispersity: float = DEFAULT_POLYDISPERSITY
                    ) -> dict[str, np.ndarray]:
    """The data-derived starting values :func:`fit_curves` uses, ``{name: (n,) array}`` (module docstring).

    Parameters are as for :func:`fit_curves`; entries of ``start`` are
    returned unchanged (broadcast to (n,)).
    """
    q, intensity, sigma = _curves_arrays(curves)
    names, free, start = _names(model, free, start)
    pd = arguments.in_range("polydispersity", polydispersity, 0.0, 0.99)
    intensity = intensity.reshape(-1, q.size)
    n = intensity.shape[0]
    w = np.ones_like(intensity) if sigma is None else 1.0 / sigma.reshape(-1, q.size) ** 2
    given = _broadcast_start(start, n)
    p = _start(model, q, intensity, w, pd, given, free)
    return {name: p[:, j] for j, name in enumerate(names)}


def _start(model, q, I, w, pd, given, free):
    if model == "saxs":
        p = _start_saxs(q, I, w, pd, given, free)
        for j, name in enumerate(SAXS_PARAMETERS):
            if name in given:
                p[:, j] = given[name]
        return p
    return _start_waxs(q, I, w, given, free)


def _broadcast_start(start: Mapping[str, Any], n: int) -> dict[str, np.ndarray]:
    out = {}
    for name, value in start.items():
        v = np.asarray(value, dtype=float)
        if v.size not in (1, n):
            raise ValueError(f"start[{name!r}]: expected a scalar or one value per curve ({n}), got shape {v.shape}")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"start[{name!r}]: expected finite values, found NaN or infinity")
        if name in _LOG and np.any(v <= 0):
            raise ValueError(f"start[{name!r}]: expected values > 0, got minimum {v.min():g}")
        if name == "micropore_packing_fraction":
            _check_packing(f"start[{name!r}]", v)
        out[name] = np.broadcast_to(v.ravel(), (n,)).copy()
    return out


# ----------------------------------------------------------------------------------------------------- fit
def fit_curves(curves: Any, *, model: str = "saxs", free: Sequence[str] | None = None,
               start: Mapping[str, Any] | None = None, polydispersity: float = DEFAULT_POLYDISPERSITY,
               q_range_inv_A: tuple[float, float] | None = None, absolute_sigma: bool = True,
               max_iterations: int = 100, xtol: float = 1e-3, chunk_curves: int = 2048) -> CurveFit:
    """Fit the seeds/000 eq. 1-4 SAXS or WAXS model to every curve of a batch at once.

    Parameters
    ----------
    curves : forward.saxs.curves.Curves or tuple
        A :class:`~forward.saxs.curves.Curves` (``q_inv_A`` (n_q,),
        ``intensity_per_cm`` (..., n_q), ``sigma_per_cm`` (..., n_q) or None)
        or a tuple ``(q_inv_A, intensity_per_cm[, sigma_per_cm])`` of arrays
        with the same meaning: q in 1/A (> 0), intensities and their 1-sigma
        errors in 1/cm (sigma > 0). Without sigma all points weigh the same
        and the covariance is scaled by the reduced chi^2.
    model : {"saxs", "waxs"}
        Model of seeds/000 eq. 1-3 (SAXS) or eq. 4 (WAXS); module docstring.
    free : sequence of str, optional
        Parameters to fit (default :data:`SAXS_FREE` or :data:`WAXS_FREE`;
        for scanning-SAXS curves of the capillary twin see
        :data:`SCANNING_SAXS_FREE`, :data:`SCANNING_SAXS_START` and
        :data:`SCANNING_SAXS_Q_RANGE_INV_A`). ``"micropore_packing_fraction"``
        frees the Percus-Yevick packing fraction of eq. 3's S(q).
    start : mapping, optional
        ``{name: scalar or (n,) array}``: starting values of free parameters
        (overriding the data-derived ones) and values of fixed ones (else
        :data:`DEFAULTS`; a fixed parameter without a default must be given).
        ``micropore_packing_fraction`` (dimensionless) must lie in [0, 0.6].
    polydispersity : float
        Fixed relative standard deviation of the Schulz-distributed micropore
        radii (SAXS), in [0, 0.99].
    q_range_inv_A : (float, float), optional
        Fit only the points with q in this closed interval, 1/A.
    absolute_sigma : bool
        True (default): covariance ``(J^T W J)^-1`` unscaled; False: scaled
        by the reduced chi^2 (ignored without sigma: always scaled).
    max_iterations : int
        Iteration limit per curve (>= 1).
    xtol : float
        Convergence when a step is shorter than ``xtol`` standard deviations.
    chunk_curves : int
        Curves fitted together per chunk (memory ~ 8 (p + 6) n_q bytes per curve).

    Returns
    -------
    CurveFit
        Values, uncertainties, covariance, chi^2, convergence per curve.

    Raises
    ------
    ValueError, TypeError
        For negative or non-finite q, q that looks like 1/nm, shape
        mismatches, sigma <= 0, NaN, unknown parameter names or settings,
        a micropore packing fraction outside [0, 0.6], and fewer q points
        than free parameters + 1.
    """
    q, intensity, sigma = _curves_arrays(curves)
    names, free, start = _names(model, free, start)
    pd = arguments.in_range("polydispersity", polydispersity, 0.0, 0.99)
    max_iterations = arguments.integer("max_iterations", max_iterations, minimum=1)
    chunk_curves = arguments.integer("chunk_curves", chunk_curves, minimum=1)
    xtol = arguments.positive("xtol", xtol)
    if not isinstance(absolute_sigma, (bool, np.bool_)):
        raise TypeError(f"absolute_sigma={absolute_sigma!r}: expected True or False")
    batch_shape = intensity.shape[:-1]
    if q_range_inv_A is not None:
        if not isinstance(q_range_inv_A, (tuple, list)) or len(q_range_inv_A) != 2:
            raise ValueError(f"q_range_inv_A={q_range_inv_A!r}: expected (q_min, q_max) in 1/A")
        lo, hi = (arguments.finite("q_range_inv_A", v, unit="1/A") for v in q_range_inv_A)
        keep = (q >= lo) & (q <= hi)
        q, intensity = q[keep], intensity[..., keep]
        sigma = None if sigma is None else sigma[..., keep]
    k = len(free)
    dof = q.size - k
    if dof < 1:
        raise ValueError(f"q_inv_A: {q.size} q points (within q_range_inv_A) for {k} free parameters; "
                         f"expected at least {k + 1}")
    scale_by_chi2 = sigma is None or not absolute_sigma
    intensity = intensity.reshape(-1, q.size)
    n = intensity.shape[0]
    weights = np.ones_like(intensity) if sigma is None else 1.0 / sigma.reshape(-1, q.size) ** 2
    given = _broadcast_start(start, n)
    free_cols = [names.index(f) for f in free]
    p = len(names)
    values = np.empty((n, p))
    unc = np.zeros((n, p))
    cov = np.empty((n, k, k))
    chi2 = np.empty(n)
    conv = np.empty(n, bool)
    its = np.empty(n, np.int64)
    for lo_ in range(0, n, chunk_curves):
        sl = slice(lo_, min(n, lo_ + chunk_curves))
        sub_given = {key: v[sl] for key, v in given.items()}
        p0 = _start(model, q, intensity[sl], weights[sl], pd, sub_given, free)
        out = _levenberg_marquardt(model, q, intensity[sl], weights[sl], p0, free_cols, pd, max_iterations, xtol)
        values[sl], chi2[sl], conv[sl], its[sl], a = out
        c = _covariance(a)
        if scale_by_chi2:
            c = c * (chi2[sl] / dof)[:, None, None]
        jac = np.where([names[j] in _LOG for j in free_cols], values[sl][:, free_cols], 1.0)
        with np.errstate(invalid="ignore"):
            cov[sl] = np.where(np.isinf(c), np.inf, c * jac[:, :, None] * jac[:, None, :])
        unc[sl, free_cols] = np.sqrt(np.einsum("nkk->nk", cov[sl]))
    settings = {"polydispersity": pd, "absolute_sigma": bool(absolute_sigma), "scaled_by_chi2": scale_by_chi2,
                "q_range_inv_A": None if q_range_inv_A is None else (float(q[0]), float(q[-1])),
                "xtol": xtol, "max_iterations": max_iterations}
    return CurveFit(model, names, free, values, unc, cov, chi2, dof, conv, its, batch_shape, settings)


def _bounds(model: str, names: tuple[str, ...], free_cols: Sequence[int], q: np.ndarray):
    lo, hi = np.full(len(free_cols), -np.inf), np.full(len(free_cols), np.inf)
    for i, j in enumerate(free_cols):
        name = names[j]
        if name == "micropore_radius_A":
            lo[i], hi[i] = np.log(0.1), np.log(1e4)
        elif name == "porod_exponent":
            lo[i], hi[i] = 0.0, 8.0
        elif name == "micropore_packing_fraction":
            lo[i], hi[i] = 0.0, MAX_PACKING_FRACTION
        elif name.endswith("_sigma_inv_A"):      # no narrower than half the finest q step
            lo[i], hi[i] = np.log(0.5 * np.min(np.diff(q))), np.log(q[-1] - q[0])
        elif name in _LOG:
            lo[i], hi[i] = -_LOG_BOUND, _LOG_BOUND
        elif name == "binder_saxs_centre_inv_A":
            lo[i], hi[i] = q[0], q[-1]
        elif name in ("q002_inv_A",) or name.endswith("_centre_inv_A"):
            lo[i], hi[i] = q[0], q[-1]
    return lo, hi


def _levenberg_marquardt(model, q, I, w, p0, free_cols, pd, max_iterations, xtol):
    """Damped Gauss-Newton on all curves of a chunk; returns values, chi2, converged, iterations, J^T W J."""
    names = MODELS[model]
    n = I.shape[0]
    logs = np.array([names[j] in _LOG for j in free_cols])
    lo, hi = _bounds(model, names, free_cols, q)
    p = p0.copy()
    x = p[:, free_cols].copy()
    # clip start into the bounds (log parameters must be positive)
    x[:, logs] = np.log(np.maximum(x[:, logs], 1e-300))
    x = np.clip(x, lo, hi)
    sw = np.sqrt(w)

    def params(xs, rows):
        out = p[rows].copy()
        out[:, free_cols] = np.where(logs, np.exp(xs), xs)
        return out

    def normal(rows, xs):
        return _normal_equations(model, q, I[rows], sw[rows], params(xs, rows), free_cols, pd)

    rows = np.arange(n)
    chi2, A, g = normal(rows, x)
    bad = ~np.isfinite(chi2)
    chi2[bad], A[bad], g[bad] = np.inf, 0.0, 0.0
    lam = np.full(n, 1e-3)
    converged = np.zeros(n, bool)
    done = bad.copy()
    its = np.zeros(n, np.int64)
    for _ in range(max_iterations + 1):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        a, ga, la = A[act], g[act], lam[act]
        # Newton decrement g^T A^-1 g: the squared length, in standard deviations, of the Gauss-Newton step
        # from here; below xtol^2 the curve has converged. With lambda <= 1e-3 the damped step is the
        # Gauss-Newton step to 0.1 %, so g . dx stands for the decrement (no second solve).
        dx = np.empty_like(ga)
        _damped_steps(a, ga, la, dx)
        # parameters on a bound whose step points out of the box are held there for this step and the step
        # of the others re-solved without them (projected Levenberg-Marquardt); clipping alone would waste
        # the step along a direction that cannot be followed
        xa = x[act]
        pinned = ((xa <= lo) & (dx < 0)) | ((xa >= hi) & (dx > 0))
        rows = np.flatnonzero(pinned.any(axis=1))
        if rows.size:
            pr = pinned[rows]
            a2 = np.where(pr[:, :, None] | pr[:, None, :], 0.0, a[rows])
            r_, c_ = np.nonzero(pr)
            a2[r_, c_, c_] = 1.0
            g2 = np.where(pr, 0.0, ga[rows])
            d2 = np.empty_like(g2)
            _damped_steps(a2, g2, la[rows], d2)
            dx[rows] = d2
            ga = ga.copy()
            ga[rows] = g2
        small = (la <= 1e-3) & (np.einsum("ni,ni->n", dx, ga) < xtol * xtol)
        converged[act[small]] = True
        done[act[small]] = True
        if _ == max_iterations:
            break
        keep = ~small
        act, dx, la = act[keep], dx[keep], la[keep]
        if act.size == 0:
            break
        its[act] += 1
        x_new = np.clip(x[act] + dx, lo, hi)
        chi2_new, A_new, g_new = normal(act, x_new)
        ok = np.isfinite(chi2_new) & (chi2_new <= chi2[act])
        acc = act[ok]
        x[acc], chi2[acc], A[acc], g[acc] = x_new[ok], chi2_new[ok], A_new[ok], g_new[ok]
        lam[act] = np.where(ok, np.maximum(la / 10, 1e-7), la * 10)
        stuck = act[lam[act] > _MAX_LAMBDA]
        done[stuck] = True
    at_bound = np.any(np.isfinite(lo) & ((x <= lo + 1e-9) | (x >= hi - 1e-9)), axis=1)
    converged &= ~at_bound & np.isfinite(chi2)
    return params(x, np.arange(n)), chi2, converged, its, A


def _covariance(a: np.ndarray) -> np.ndarray:
    """Batched inverse of normal matrices (n, k, k); infinite variance along undetermined directions."""
    d = np.sqrt(np.maximum(np.einsum("nkk->nk", a), 0.0))
    dd = np.where(d > 0, d, 1.0)
    corr = a / dd[:, :, None] / dd[:, None, :]
    try:        # well-conditioned (the usual case): Cholesky, else eigen-decomposition below
        chol = np.linalg.cholesky(corr)
        if np.all(np.einsum("nkk->nk", chol) ** 2 > 1e-10):
            eye = np.broadcast_to(np.eye(a.shape[-1]), a.shape)
            inv_l = np.linalg.solve(chol, eye)
            return (inv_l.transpose(0, 2, 1) @ inv_l) / dd[:, :, None] / dd[:, None, :]
    except np.linalg.LinAlgError:
        pass
    vals, vecs = np.linalg.eigh(corr)
    tiny = vals <= 1e-12 * np.maximum(vals[:, -1:], 1e-300)
    inv_vals = np.where(tiny, 0.0, 1.0 / np.where(tiny, 1.0, vals))
    c = (vecs * inv_vals[:, None, :]) @ vecs.transpose(0, 2, 1)
    c = c / dd[:, :, None] / dd[:, None, :]
    undetermined = np.einsum("nik,nk->ni", (np.abs(vecs) > 1e-6).astype(float), tiny.astype(float)) > 0
    undetermined |= d <= 0
    if np.any(undetermined):
        rows, cols = np.nonzero(undetermined)
        c[rows, cols, :] = np.inf
        c[rows, :, cols] = np.inf
    return c
