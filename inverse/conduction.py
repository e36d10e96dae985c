"""Fit the transport parameters of a polycrystal's microstructure to DC measurements, with uncertainties.

The forward model is the resistor network of seeds/003 (PhD thesis,
section 4.2.2; :mod:`forward.conduction`): a grain's conductivity tensor
follows from its orientation (``sigma_ip``, ``sigma_op = sigma_ip /
anisotropy``), a grain boundary adds ``R_GB = d_GB gb_ratio / (sigma_ip A)``
and an electrode contact ``R_CT = r_CT / A``. The microstructure (labels,
grain ids, orientations: what an ACOM/EBSD map and a segmentation give)
is the *measured input*; the twin's truth is never read. What is fitted is
any subset, by name, of :data:`PARAMETERS`:

``"sigma_ip_S_per_m"``
    In-plane conductivity, S/m.
``"anisotropy"``
    ``sigma_ip / sigma_op`` (>= 1; 1e3 in seeds/003, section 4.2.2).
``"gb_ratio"``
    ``sigma_ip / sigma_GB`` (20 in seeds/003, section 4.2.2); the boundary
    thickness ``gb_thickness_nm`` stays fixed (only ``thickness /
    sigma_GB`` enters the network, so the two cannot be told apart).
``"contact_resistance_ohm_m2"``
    Area-specific charge-transfer resistance ``r_CT`` of every *mask*
    electrode (ohm m^2); face electrodes keep their own value.

Data
----
* :func:`fit_iv`: current-voltage curves of several experiments
  (:class:`IVData`: electrode pairs or geometries, e.g. the gaps of a
  transmission-line measurement) on the same microstructure. The network is
  linear, so each experiment is ``I = G(params) V``: one network solve per
  experiment and evaluation gives its conductance ``G``.
* :func:`fit_map`: a measured potential map and/or current-density map
  (NaN = not measured) for one electrode set-up.

Method
------
Every parameter is positive and is fitted as ``x = ln p`` with
:func:`scipy.optimize.least_squares` (trust-region reflective, bounds
``p_start x 10^(+-6)``, and ``anisotropy >= 1``) on the residuals
``(model - data) / sigma``. The Jacobian is taken by forward differences of
the network in ``x`` (step 1e-6) during the iterations and by central
differences (step 1e-3) at the start and at the optimum, the latter for
the covariance ``C_x = (J^T J)^-1`` of the weighted Jacobian ``J``. The
search stops when an iteration lowers chi^2 by less than 1e-6 of itself
(a small fraction of a standard deviation in every parameter).
Directions in ``x`` that the data cannot fix at all (below) are found at
the start and the search is kept off them: the combinations they span stay
at their start values instead of wandering to a bound.

* **Absolute or relative weights.** When the data come with their
  standard deviations (``current_sigma_A``, ``potential_sigma_V``,
  ``current_density_sigma_A_per_m2``) they are taken as absolute:
  ``C_x`` is not rescaled, and the reduced chi^2 tests the noise model
  (~1 when the model and sigmas are right). Without sigmas every point has
  unit weight and ``C_x`` is multiplied by the reduced chi^2 (the scatter
  of the residuals stands for the unknown noise; needs dof > 0), as
  :func:`scipy.optimize.curve_fit` does with ``absolute_sigma=False``.
* **Linear space.** By the delta method ``sigma_p = p sigma_x`` and
  ``C_p = diag(p) C_x diag(p)``; ``sigma_x`` itself is the relative
  uncertainty, and ``p exp(+-sigma_x)`` the (asymmetric) 68 % interval,
  more honest when ``sigma_x`` is not small. The correlation matrix is the
  same in both spaces.
* **Identifiability.** The singular values of ``J`` (and the condition
  number ``s_max / s_min``) say how many combinations of parameters the
  data fix. A singular value below ``1e-7 s_max`` is a degenerate
  direction: at the finite-difference steps used the numerical noise of a
  truly flat direction is ~1e-10, and a genuine direction that weak would
  anyway be known 1e7 times worse than the best one. Every parameter with a
  component above 1e-3 in a degenerate direction gets an infinite
  uncertainty (the data cannot fix it, whatever the noise) and
  ``identifiable=False``; so does a parameter whose relative uncertainty
  exceeds ``max_relative_uncertainty`` (default 1: known to no better than
  a factor ~e) or that ends on a bound. Examples: one I-V curve of one
  electrode pair fixes one conductance, so fitting two or more parameters
  to it leaves all but one combination degenerate; a potential map with
  electrodes at fixed potentials does not change when every conductance is
  multiplied by one factor, so without a contact resistance of known value
  (or a phase of known absolute conductivity) ``sigma_ip`` is not
  identifiable from it (its Jacobian column is zero), and with a free
  contact resistance only ``r_CT sigma_ip`` is.

Cost: each evaluation is one conductivity field (O(N) voxels) and one
network solve per experiment (direct for small grids: 7-15 ms for the
1557 unknowns of the 40 x 50 lamella, about half of it SuperLU); a fit of
``n`` parameters takes ``2 n`` evaluations at the start, ``n + 1`` per
iteration (typically 5-15) and ``2 n + 1`` at the end. Measured with two
busy cores (load average 3-4): 3 parameters from 4 I-V experiments on the
lamella, ~50 evaluations (200 solves), 2-3 s; 2 parameters from a potential
map, ~30 solves, 0.5-1 s; 2 parameters from 3 TLM gaps on 20 x 40 voxels,
~0.4 s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from scipy.optimize import least_squares

from forward.conduction.network import Electrode, electrode_list, solve
from forward.conduction.properties import Conductivity, ConductivityField, conductivity_field
from forward.conduction.solvers import METHODS
from twin.container import Twin
from xtwin import arguments

#: Parameters that can be fitted, in the order a fit reports them.
PARAMETERS = ("sigma_ip_S_per_m", "anisotropy", "gb_ratio", "contact_resistance_ohm_m2")
#: Unit of each parameter ("" if dimensionless).
UNITS = MappingProxyType({"sigma_ip_S_per_m": "S/m", "anisotropy": "", "gb_ratio": "",
                          "contact_resistance_ohm_m2": "ohm m^2"})
#: Default largest relative (1-sigma) uncertainty of an identifiable parameter.
MAX_RELATIVE_UNCERTAINTY = 1.0
#: Singular values of the weighted Jacobian below this fraction of the largest are degenerate directions.
DEGENERATE_RCOND = 1e-7
#: A parameter with a component above this in a degenerate direction is not identifiable.
NULL_COMPONENT = 1e-3
#: Each parameter may move this many decades from its start (search bounds, in log space).
BOUND_DECADES = 6.0
# Finite-difference steps in ln p: forward during the iterations, central at the optimum (module docstring).
_FORWARD_STEP = 1e-6
_CENTRAL_STEP = 1e-3
# Stop when an iteration lowers chi^2 by less than this fraction: far below the change of 1 that moves a
# parameter by one standard deviation, and it stops a parameter that the data push towards where it no
# longer matters (a vanishing boundary resistance) from creeping on for hundreds of iterations.
_FTOL = 1e-6
_MAX_ITERATIONS = 100
# Iterative network solves are run to this residual so that the finite differences stay clean.
_SOLVE_RTOL = 1e-12


# ---------------------------------------------------------------------------------------------- data
@dataclass(frozen=True, eq=False)
class IVData:
    """One current-voltage experiment: an electrode set-up and the currents measured at applied voltages.

    Parameters
    ----------
    electrodes : sequence of Electrode
        The set-up, with each electrode's ``potential_V`` its potential *per
        volt applied* (for a two-terminal measurement, 1 and 0): at applied
        voltage ``V`` every electrode sits at ``V x potential_V``. Mask
        electrodes get the fitted (or given) contact resistance; their own
        ``contact_resistance_ohm_m2`` is used only when the fit is given no
        value for it.
    voltages_V : array of float, shape (n,)
        Applied voltages, V (taken as exact).
    currents_A : array of float, shape (n,)
        Measured currents, A: the current flowing from ``current_electrode``
        into the sample. Subtract any offset (open-circuit voltage, zero
        drift) first: the model is ``I = G V``.
    current_sigma_A : float or array of shape (n,), optional
        Standard deviation of each current, A (absolute weights). ``None``:
        unknown (unit weights; the covariance is scaled by the reduced
        chi^2). Every experiment of one fit must give it or none.
    current_electrode : str, optional
        Electrode whose current was measured; default the electrodes at the
        highest potential (their currents summed): the total current of a
        two-terminal measurement.
    name : str
        Label of the experiment in results (unique within a fit).
    """

    electrodes: Sequence[Electrode]
    voltages_V: np.ndarray
    currents_A: np.ndarray
    current_sigma_A: Any = None
    current_electrode: str | None = None
    name: str = "iv"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name={self.name!r}: expected a non-empty string")
        electrodes = electrode_list(self.electrodes, f"experiment {self.name!r}: electrodes")
        names = [e.name for e in electrodes]
        voltages = _vector(f"experiment {self.name!r}: voltages_V", self.voltages_V)
        currents = _vector(f"experiment {self.name!r}: currents_A", self.currents_A)
        if currents.shape != voltages.shape:
            raise ValueError(f"experiment {self.name!r}: currents_A has {currents.size} values, voltages_V "
                             f"{voltages.size}; expected one current per voltage")
        if not np.any(voltages != 0):
            raise ValueError(f"experiment {self.name!r}: voltages_V are all 0; I = G V carries no information")
        sigma = None
        if self.current_sigma_A is not None:
            sigma = _sigma(f"experiment {self.name!r}: current_sigma_A", self.current_sigma_A, currents.shape)
        if self.current_electrode is not None and self.current_electrode not in names:
            raise ValueError(f"experiment {self.name!r}: current_electrode={self.current_electrode!r}; "
                             f"expected one of {names}")
        object.__setattr__(self, "electrodes", tuple(electrodes))
        object.__setattr__(self, "voltages_V", _frozen(voltages))
        object.__setattr__(self, "currents_A", _frozen(currents))
        object.__setattr__(self, "current_sigma_A", None if sigma is None else _frozen(sigma))

    @property
    def measured_electrodes(self) -> tuple[str, ...]:
        """Names of the electrodes whose summed current is ``currents_A``."""
        if self.current_electrode is not None:
            return (self.current_electrode,)
        top = max(e.potential_V for e in self.electrodes)
        return tuple(e.name for e in self.electrodes if e.potential_V == top)


# -------------------------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class ConductionFit:
    """Fitted transport parameters with their uncertainties and the quality of the fit.

    Attributes
    ----------
    names : tuple of str
        Free parameters, in :data:`PARAMETERS` order; rows and columns of
        the matrices below.
    values : mapping str -> float
        Best-fit value of each free parameter (units: :data:`UNITS`).
    uncertainties : mapping str -> float
        1-sigma uncertainty in linear space (delta method, ``p sigma_ln p``);
        ``inf`` for a parameter in a degenerate direction.
    relative_uncertainties : mapping str -> float
        ``sigma_p / p = sigma_ln p``.
    interval_68 : mapping str -> (float, float)
        ``p exp(-sigma_ln p), p exp(+sigma_ln p)``: the 68 % interval of the
        log-normal approximation (asymmetric; use it when the relative
        uncertainty is not small).
    covariance : ndarray, shape (n, n)
        Covariance in linear space; NaN off the diagonal and ``inf`` on it
        for parameters in a degenerate direction.
    covariance_log : ndarray, shape (n, n)
        Covariance of ``ln p`` (same conventions).
    correlation : ndarray, shape (n, n)
        Correlation matrix (NaN for degenerate parameters).
    identifiable : mapping str -> bool
        False when the parameter lies in a degenerate direction, its relative
        uncertainty exceeds ``max_relative_uncertainty`` or it ended on a
        bound.
    at_bound : mapping str -> bool
        The optimum sits on the search bound (``BOUND_DECADES`` from the
        start, or ``anisotropy = 1``).
    singular_values : ndarray, shape (n,)
        Of the weighted Jacobian in ``ln p``, descending (zeros when there are
        fewer data than parameters); without sigmas the residuals are
        weighted by one over the largest ``|datum|``.
    condition_number : float
        ``s_max / s_min`` (``inf`` if ``s_min = 0``).
    null_directions : ndarray, shape (k, n)
        Unit vectors (in ``ln p``) of the degenerate directions: moving the
        parameters along one leaves the model unchanged.
    chi2 : float
        Sum of squared weighted residuals (without sigmas: of the residuals,
        in the data's units squared).
    dof : int
        Data points minus free parameters.
    reduced_chi2 : float
        ``chi2 / dof`` (NaN when dof <= 0).
    covariance_scaled : bool
        True when no sigmas were given and the covariance was multiplied by
        the reduced chi^2.
    n_data : int
        Data points used.
    residuals : ndarray, shape (n_data,)
        ``(data - model) / sigma`` (``data - model`` when no sigma was given), in data
        order (experiments in turn; potential pixels then current-density
        components in C order).
    predictions : mapping str -> ndarray
        Model at the optimum: for :func:`fit_iv`, each experiment's model
        currents (A) and ``"<name>/conductance_S"``; for :func:`fit_map`,
        ``"potential_V"`` and ``"current_density_A_per_m2"`` maps.
    conductivity : Conductivity
        The start's parameters with the fitted ones put in.
    contact_resistance_ohm_m2 : float or None
        Fitted or given contact resistance (None: each electrode's own).
    n_evaluations : int
        Model evaluations (one conductivity field and one network solve per
        experiment each).
    n_solves : int
        Network solves.
    success : bool
        The optimiser converged (says nothing about identifiability).
    message : str
        Optimiser message and notes (non-identifiable parameters, bounds,
        ignored pixels).
    """

    names: tuple[str, ...]
    values: Mapping[str, float]
    uncertainties: Mapping[str, float]
    relative_uncertainties: Mapping[str, float]
    interval_68: Mapping[str, tuple[float, float]]
    covariance: np.ndarray
    covariance_log: np.ndarray
    correlation: np.ndarray
    identifiable: Mapping[str, bool]
    at_bound: Mapping[str, bool]
    singular_values: np.ndarray
    condition_number: float
    null_directions: np.ndarray
    chi2: float
    dof: int
    reduced_chi2: float
    covariance_scaled: bool
    n_data: int
    residuals: np.ndarray
    predictions: Mapping[str, np.ndarray]
    conductivity: Conductivity
    contact_resistance_ohm_m2: float | None
    n_evaluations: int
    n_solves: int
    success: bool
    message: str

    @property
    def all_identifiable(self) -> bool:
        """True when every free parameter is identifiable."""
        return all(self.identifiable.values())

    def table(self) -> str:
        """A plain-text table of the parameters and the fit statistics."""
        rows = [("parameter", "value", "sigma", "rel", "unit", "identifiable")]
        for name in self.names:
            rows.append((name, f"{self.values[name]:.6g}", f"{self.uncertainties[name]:.3g}",
                         f"{self.relative_uncertainties[name]:.3g}", UNITS[name],
                         "yes" if self.identifiable[name] else "NO"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.append(f"chi2 = {self.chi2:.4g}, dof = {self.dof}, reduced chi2 = {self.reduced_chi2:.4g}"
                     f"{' (covariance scaled by it)' if self.covariance_scaled else ''}; condition number "
                     f"{self.condition_number:.3g}; {self.n_evaluations} evaluations, {self.n_solves} solves")
        lines.append(self.message)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """The fit as JSON-ready plain data (infinities and NaN spelled as strings)."""
        return {"parameters": {name: {"value": _json(self.values[name]), "uncertainty": _json(self.uncertainties[name]),
                                      "relative_uncertainty": _json(self.relative_uncertainties[name]),
                                      "unit": UNITS[name], "identifiable": self.identifiable[name],
                                      "at_bound": self.at_bound[name]} for name in self.names},
                "correlation": [[_json(v) for v in row] for row in self.correlation],
                "singular_values": [_json(v) for v in self.singular_values],
                "condition_number": _json(self.condition_number), "chi2": _json(self.chi2), "dof": self.dof,
                "reduced_chi2": _json(self.reduced_chi2), "covariance_scaled": self.covariance_scaled,
                "n_data": self.n_data, "n_evaluations": self.n_evaluations, "n_solves": self.n_solves,
                "success": self.success, "message": self.message}


# ------------------------------------------------------------------------------------------ fitting
def fit_iv(twin: Twin, experiments: IVData | Sequence[IVData], *, free: Sequence[str] = ("sigma_ip_S_per_m",),
           start: Conductivity | None = None, contact_resistance_ohm_m2: float | None = None,
           thickness_um: float | None = None, max_relative_uncertainty: float = MAX_RELATIVE_UNCERTAINTY,
           method: str = "auto") -> ConductionFit:
    """Fit transport parameters to the current-voltage curves of one or more experiments.

    Parameters
    ----------
    twin : Twin
        The measured microstructure: labels, grain ids and orientations (the
        truth is not read).
    experiments : IVData or sequence of IVData
        Electrode set-ups with their I-V data, on this microstructure.
    free : sequence of str
        Parameters to fit, names from :data:`PARAMETERS`.
    start : Conductivity, optional
        Starting values of the free parameters and fixed values of all
        others (model, boundary thickness, backbone, phases); default
        :class:`~forward.conduction.Conductivity` ().
    contact_resistance_ohm_m2 : float, optional
        Start (if free) or fixed value of the contact resistance of every
        mask electrode, ohm m^2. ``None``: fixed at each electrode's own
        value; if free, started from the mean of the mask electrodes'
        non-zero values, else from a half voxel of in-plane bulk,
        ``h / (2 sigma_ip)``.
    thickness_um : float, optional
        Thickness of a 2D section, um (default one voxel). It scales every
        conductance of a 2D network: it must be known, it cannot be told
        apart from ``sigma_ip``.
    max_relative_uncertainty : float
        Largest relative 1-sigma uncertainty of an identifiable parameter.
    method : {"auto", "direct", "amg"}
        Network solver.

    Returns
    -------
    ConductionFit
        ``predictions``: each experiment's model currents under its name and
        its conductance (A/V per volt of pattern) under ``"<name>/conductance_S"``.

    Notes
    -----
    Cost: one network solve per experiment per evaluation; see the module
    docstring (0.5-3 s for a 40 x 50 lamella, 4 experiments, 2-4 parameters).
    """
    experiments = _experiments(experiments)
    with_sigma = [e.current_sigma_A is not None for e in experiments]
    if any(with_sigma) and not all(with_sigma):
        missing = [e.name for e in experiments if e.current_sigma_A is None]
        raise ValueError(f"experiments {missing}: have no current_sigma_A while others do; give every "
                         f"experiment its sigma or none (weights of different experiments must be comparable)")
    problem = _Problem(twin, free, start, contact_resistance_ohm_m2, thickness_um, method,
                       [e.electrodes for e in experiments])
    for experiment in experiments:
        _check_electrode_grid(twin, experiment.electrodes, f"experiment {experiment.name!r}")
    data = np.concatenate([e.currents_A for e in experiments])
    sigma = (np.concatenate([e.current_sigma_A for e in experiments]) if all(with_sigma) else None)

    def conductances(x: np.ndarray) -> np.ndarray:
        field, contact = problem.field(x)
        out = np.empty(len(experiments))
        for k, experiment in enumerate(experiments):
            solution = problem.solve(field, experiment.electrodes, contact, f"experiment {experiment.name!r}")
            out[k] = sum(solution.current(name) for name in experiment.measured_electrodes)
        return out

    def model(x: np.ndarray) -> np.ndarray:
        g = conductances(x)
        return np.concatenate([g[k] * e.voltages_V for k, e in enumerate(experiments)])

    def predictions(x: np.ndarray) -> dict[str, np.ndarray]:
        g = conductances(x)
        out = {}
        for k, e in enumerate(experiments):
            out[e.name] = g[k] * e.voltages_V
            out[f"{e.name}/conductance_S"] = np.array(g[k])
        return out

    return _fit(problem, model, predictions, data, sigma, max_relative_uncertainty, notes=[])


def fit_map(twin: Twin, electrodes: Sequence[Electrode], *, potential_V: np.ndarray | None = None,
            potential_sigma_V: Any = None, current_density_A_per_m2: np.ndarray | None = None,
            current_density_sigma_A_per_m2: Any = None, free: Sequence[str] = ("anisotropy", "gb_ratio"),
            start: Conductivity | None = None, contact_resistance_ohm_m2: float | None = None,
            thickness_um: float | None = None, max_relative_uncertainty: float = MAX_RELATIVE_UNCERTAINTY,
            method: str = "auto") -> ConductionFit:
    """Fit transport parameters to a measured potential map and/or current-density map.

    Parameters
    ----------
    twin : Twin
        The measured microstructure (labels, grains, orientations; the truth
        is not read).
    electrodes : sequence of Electrode
        The set-up during the measurement, at the potentials applied, V.
    potential_V : ndarray, grid shape, optional
        Measured potential, V; NaN where not measured.
    potential_sigma_V : float or ndarray of the grid shape, optional
        Its standard deviation, V (absolute weights); ``None``: unknown.
    current_density_A_per_m2 : ndarray, shape (ndim, *grid), optional
        Measured current density, array-axis components, A/m^2; NaN where
        not measured.
    current_density_sigma_A_per_m2 : float or ndarray of that shape, optional
        Its standard deviation, A/m^2; ``None``: unknown. When both maps are
        given both sigmas are required (volts cannot be weighed against A/m^2).
    free, start, contact_resistance_ohm_m2, thickness_um, max_relative_uncertainty, method
        As for :func:`fit_iv`.

    Returns
    -------
    ConductionFit
        ``predictions``: ``"potential_V"`` and ``"current_density_A_per_m2"``
        of the network at the optimum.

    Notes
    -----
    Pixels are used where a value was measured and the network defines one:
    conducting voxels connected to an electrode, outside the electrode
    metal (whose potential is imposed and carries no information). Measured
    pixels elsewhere (voids, ZrO2, floating clusters, electrodes) are
    ignored; ``message`` counts them.

    With the electrodes at fixed potentials the potential map depends only
    on *ratios* of conductances: multiplying ``sigma_ip`` (and with it
    ``sigma_op``, ``sigma_GB``, the backbone) and the contact conductance by
    one factor changes nothing. So a potential map alone fixes
    ``anisotropy``, ``gb_ratio`` and ``r_CT sigma_ip``, not ``sigma_ip``
    (reported as not identifiable) unless ``r_CT`` is known and non-zero or
    a phase of known absolute conductivity conducts; the current density
    scales with ``sigma_ip`` and fixes it.

    Cost: one network solve per evaluation (module docstring).
    """
    if potential_V is None and current_density_A_per_m2 is None:
        raise ValueError("fit_map: expected potential_V and/or current_density_A_per_m2, got neither")
    if (potential_V is not None and current_density_A_per_m2 is not None
            and (potential_sigma_V is None or current_density_sigma_A_per_m2 is None)):
        raise ValueError("fit_map: with both a potential and a current-density map, expected potential_sigma_V "
                         "and current_density_sigma_A_per_m2 (volts cannot be weighed against A/m^2 without them)")
    if not isinstance(electrodes, (list, tuple)) or not all(isinstance(e, Electrode) for e in electrodes):
        raise TypeError(f"electrodes={electrodes!r}: expected a list of forward.conduction.Electrode")
    problem = _Problem(twin, free, start, contact_resistance_ohm_m2, thickness_um, method, [electrodes])
    _check_electrode_grid(twin, electrodes, "electrodes")
    shape, ndim = twin.shape, twin.ndim
    maps = []          # (key, measured, sigma or None, expected shape)
    if potential_V is not None:
        maps.append(("potential_V", _map("potential_V", potential_V, shape),
                     potential_sigma_V, "potential_sigma_V", shape))
    if current_density_A_per_m2 is not None:
        maps.append(("current_density_A_per_m2",
                     _map("current_density_A_per_m2", current_density_A_per_m2, (ndim,) + shape),
                     current_density_sigma_A_per_m2, "current_density_sigma_A_per_m2", (ndim,) + shape))

    x0 = problem.x0
    field0, contact0 = problem.field(x0)
    first = problem.solve(field0, electrodes, contact0, "electrodes")
    metal = np.zeros(shape, bool)
    for e in electrodes:
        if e.mask is not None:
            metal |= e.mask
    defined = np.isfinite(first.potential_V) & ~metal       # live conducting voxels outside electrode metal
    selections, data, sigmas, notes = [], [], [], []
    for key, measured, sigma, sigma_name, expected in maps:
        usable = defined if key == "potential_V" else np.broadcast_to(defined, expected)
        measured_px = np.isfinite(measured)
        if not measured_px.any():
            raise ValueError(f"{key}: every value is NaN; expected at least one measured pixel")
        take = measured_px & usable
        ignored = int(np.count_nonzero(measured_px & ~usable))
        if ignored:
            notes.append(f"{key}: {ignored} measured pixels ignored (blocking, floating or electrode voxels)")
        if not take.any():
            raise ValueError(f"{key}: no measured pixel lies in a conducting voxel connected to an electrode "
                             f"(outside the electrodes); nothing to fit")
        selections.append((key, take))
        data.append(measured[take])
        if sigma is not None:
            s = _sigma(sigma_name, sigma, expected, where=measured_px)
            sigmas.append(s[take])
    data = np.concatenate(data)
    sigma_all = np.concatenate(sigmas) if len(sigmas) == len(maps) else None

    def solution_at(x: np.ndarray):
        field, contact = problem.field(x)
        return problem.solve(field, electrodes, contact, "electrodes")

    def model(x: np.ndarray) -> np.ndarray:
        solution = solution_at(x)
        return np.concatenate([getattr(solution, key)[take] for key, take in selections])

    def predictions(x: np.ndarray) -> dict[str, np.ndarray]:
        solution = solution_at(x)
        return {"potential_V": solution.potential_V, "current_density_A_per_m2": solution.current_density_A_per_m2}

    return _fit(problem, model, predictions, data, sigma_all, max_relative_uncertainty, notes=notes)


# ------------------------------------------------------------------------------------------ internals
class _Problem:
    """Free parameters, their start and bounds in ln p, and the forward model's fixed inputs."""

    def __init__(self, twin, free, start, contact, thickness_um, method, setups) -> None:
        if not isinstance(twin, Twin):
            raise TypeError(f"twin={twin!r}: expected a twin.Twin (the measured microstructure)")
        self.twin = twin
        self.names = _free(free)
        start = Conductivity() if start is None else start
        if not isinstance(start, Conductivity):
            raise TypeError(f"start={start!r}: expected a forward.conduction.Conductivity")
        self.start = start
        self.thickness_um = None if thickness_um is None else arguments.positive("thickness_um", thickness_um,
                                                                                unit="um")
        self.method = arguments.one_of("method", method, METHODS)
        if "gb_ratio" in self.names and not np.isfinite(start.gb_ratio):
            raise ValueError("start.gb_ratio=inf: a free gb_ratio needs a finite positive start value")
        masks = [e for setup in setups for e in setup if isinstance(e, Electrode) and e.mask is not None]
        if contact is not None:
            contact = arguments.positive("contact_resistance_ohm_m2", contact, unit="ohm m^2")
        if "contact_resistance_ohm_m2" in self.names:
            if not masks:
                raise ValueError("free contact_resistance_ohm_m2: no mask electrode in any set-up; the contact "
                                 "resistance of mask electrodes is what is fitted")
            if contact is None:
                own = [e.contact_resistance_ohm_m2 for e in masks if e.contact_resistance_ohm_m2 > 0]
                contact = (float(np.mean(own)) if own
                           else twin.voxel_size_um * 1e-6 / (2 * start.sigma_ip_S_per_m))
        self.contact = contact
        values = {"sigma_ip_S_per_m": start.sigma_ip_S_per_m, "anisotropy": start.anisotropy,
                  "gb_ratio": start.gb_ratio, "contact_resistance_ohm_m2": contact}
        self.x0 = np.log(np.array([values[n] for n in self.names], dtype=float))
        span = BOUND_DECADES * math.log(10.0)
        self.lower, self.upper = self.x0 - span, self.x0 + span
        if "anisotropy" in self.names:
            k = self.names.index("anisotropy")
            self.lower[k] = 0.0
        self.evaluations = 0
        self.solves = 0

    def values(self, x: np.ndarray) -> dict[str, float]:
        return dict(zip(self.names, np.exp(x).tolist()))

    def conductivity(self, x: np.ndarray) -> tuple[Conductivity, float | None]:
        values = self.values(x)
        changes = {n: v for n, v in values.items() if n != "contact_resistance_ohm_m2"}
        if "anisotropy" in changes:
            changes["anisotropy"] = max(changes["anisotropy"], 1.0)   # exp(0) may round below 1
        conductivity = self.start.replace(**changes) if changes else self.start
        return conductivity, values.get("contact_resistance_ohm_m2", self.contact)

    def field(self, x: np.ndarray) -> tuple[ConductivityField, float | None]:
        self.evaluations += 1
        conductivity, contact = self.conductivity(x)
        return conductivity_field(self.twin, conductivity, thickness_um=self.thickness_um), contact

    def solve(self, field, electrodes, contact, where):
        if contact is not None:
            electrodes = [Electrode(e.name, e.potential_V, e.mask, e.face, contact) if e.mask is not None else e
                          for e in electrodes]
        self.solves += 1
        try:
            return solve(field, list(electrodes), method=self.method, rtol=_SOLVE_RTOL)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{where}: {error}") from None


def _fit(problem: _Problem, model: Callable[[np.ndarray], np.ndarray],
         predictions: Callable[[np.ndarray], dict], data: np.ndarray, sigma: np.ndarray | None,
         max_relative_uncertainty: float, *, notes: list[str]) -> ConductionFit:
    """Least squares in ln p, then covariance, identifiability and the result."""
    max_rel = arguments.positive("max_relative_uncertainty", max_relative_uncertainty)
    # Without sigmas every point has the same weight; residuals are divided internally by the largest |datum|
    # so that the optimiser's absolute gradient test is not met at once by data in small SI units (amperes),
    # and reported back in the data's units. The scaled covariance does not depend on that factor.
    unit = 1.0 if sigma is not None else float(np.abs(data).max()) or 1.0
    weight = 1.0 / sigma if sigma is not None else np.full_like(data, 1.0 / unit)
    cache: dict[bytes, np.ndarray] = {}

    def residual(x: np.ndarray) -> np.ndarray:
        key = np.asarray(x, float).tobytes()
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = (model(np.asarray(x, float)) - data) * weight
        return cache[key]

    jacobians: dict[bytes, np.ndarray] = {}

    def jacobian(x: np.ndarray, central: bool = False) -> np.ndarray:
        key = np.asarray(x, float).tobytes()
        if key in jacobians:                 # the central one at the start serves the first iteration too
            return jacobians[key]
        f0 = residual(x)
        step = _CENTRAL_STEP if central else _FORWARD_STEP
        columns = []
        for j in range(len(x)):
            up, down = x.copy(), x.copy()
            up[j] += step
            down[j] -= step
            if central and up[j] <= problem.upper[j] and down[j] >= problem.lower[j]:
                columns.append((residual(up) - residual(down)) / (2 * step))
            elif up[j] <= problem.upper[j]:
                columns.append((residual(up) - f0) / step)
            else:
                columns.append((f0 - residual(down)) / step)
        return np.stack(columns, axis=1)

    x0 = np.clip(problem.x0, problem.lower, problem.upper)
    # Directions the data cannot fix (exact degeneracies: one conductance, scale invariance) are found at the
    # start and the search is kept off them, so that the combinations they span stay at their start values
    # instead of drifting on finite-difference noise to a bound.
    jacobians[x0.tobytes()] = jacobian(x0, central=True)
    _, _, null0, _ = _covariance(jacobians[x0.tobytes()], 1.0)
    if len(null0) == 0:
        result = least_squares(residual, x0, jac=jacobian, bounds=(problem.lower, problem.upper), method="trf",
                               x_scale=1.0, ftol=_FTOL, max_nfev=_MAX_ITERATIONS)
        x, success, status = result.x, bool(result.success), result.message
    else:
        basis = _complement(null0)                      # (n, r): the directions the data do fix

        def point(y: np.ndarray) -> np.ndarray:
            return np.clip(x0 + basis @ y, problem.lower, problem.upper)

        if basis.shape[1] == 0:
            x, success, status = x0, True, "the data do not depend on any free parameter; left at the start"
        else:
            result = least_squares(lambda y: residual(point(y)), np.zeros(basis.shape[1]),
                                   jac=lambda y: jacobian(point(y)) @ basis, method="trf", x_scale=1.0,
                                   ftol=_FTOL, max_nfev=_MAX_ITERATIONS)
            x, success = point(result.x), bool(result.success)
            status = (f"{result.message.rstrip('.')} (searched the {basis.shape[1]} of {len(x0)} directions the "
                      f"data fix at the start; the other combinations were kept at their start values)")
    r = residual(x)
    jacobians.clear()
    J = jacobian(x, central=True)
    n_data, n_free = len(data), len(x)
    dof = n_data - n_free
    chi2_internal = float(r @ r)
    scaled = sigma is None
    scale = ((chi2_internal / dof if dof > 0 else float("inf")) if scaled else 1.0)
    r = r * unit
    chi2 = chi2_internal * unit ** 2
    reduced = chi2 / dof if dof > 0 else float("nan")
    cov_log, singular, null, degenerate = _covariance(J, scale)

    values_arr = np.exp(x)
    sigma_log = np.sqrt(np.diag(cov_log))
    with np.errstate(invalid="ignore"):
        cov = cov_log * np.outer(values_arr, values_arr)
        correlation = cov_log / np.outer(sigma_log, sigma_log)
    correlation[degenerate, :] = np.nan
    correlation[:, degenerate] = np.nan
    finite = ~degenerate
    np.fill_diagonal(correlation, np.where(degenerate | ~np.isfinite(sigma_log), np.nan, 1.0))
    tol = 1e-9
    at_bound = (np.abs(x - problem.lower) <= tol) | (np.abs(problem.upper - x) <= tol)
    identifiable = finite & np.isfinite(sigma_log) & (sigma_log <= max_rel) & ~at_bound

    names = problem.names
    bad = [n for n, ok in zip(names, identifiable) if not ok]
    if bad:
        reasons = []
        for k, n in enumerate(names):
            if identifiable[k]:
                continue
            if degenerate[k]:
                partners = sorted({names[j] for v in null if abs(v[k]) > NULL_COMPONENT
                                   for j in range(len(names)) if j != k and abs(v[j]) > NULL_COMPONENT})
                reasons.append(f"{n} (degenerate with {', '.join(partners)}: the data fix only a combination)"
                               if partners else f"{n} (degenerate: the data do not depend on it)")
            elif at_bound[k]:
                reasons.append(f"{n} (on its search bound)")
            else:
                reasons.append(f"{n} (relative uncertainty {sigma_log[k]:.3g} > {max_rel:g})")
        notes = notes + ["not identifiable: " + "; ".join(reasons)]
    message = "; ".join([status.rstrip(".")] + notes)
    conductivity, contact = problem.conductivity(x)
    mp = MappingProxyType
    return ConductionFit(
        names=names,
        values=mp(dict(zip(names, values_arr.tolist()))),
        uncertainties=mp({n: float(values_arr[k] * sigma_log[k]) for k, n in enumerate(names)}),
        relative_uncertainties=mp({n: float(sigma_log[k]) for k, n in enumerate(names)}),
        interval_68=mp({n: (float(values_arr[k] * np.exp(-sigma_log[k])), float(values_arr[k] * np.exp(sigma_log[k])))
                        for k, n in enumerate(names)}),
        covariance=_frozen(cov), covariance_log=_frozen(cov_log), correlation=_frozen(correlation),
        identifiable=mp({n: bool(identifiable[k]) for k, n in enumerate(names)}),
        at_bound=mp({n: bool(at_bound[k]) for k, n in enumerate(names)}),
        singular_values=_frozen(singular), condition_number=float(singular[0] / singular[-1])
        if singular[-1] > 0 else float("inf"),
        null_directions=_frozen(null), chi2=chi2, dof=dof, reduced_chi2=float(reduced), covariance_scaled=scaled,
        n_data=n_data, residuals=_frozen(-r), predictions=mp({k: _frozen(np.asarray(v))
                                                              for k, v in predictions(x).items()}),
        conductivity=conductivity, contact_resistance_ohm_m2=contact,
        n_evaluations=problem.evaluations, n_solves=problem.solves, success=success, message=message)


def _covariance(J: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Covariance of ln p from the weighted Jacobian, with degenerate directions set apart.

    Returns the covariance (``inf`` on the diagonal and NaN off it for
    parameters in a degenerate direction), the singular values (length n,
    zero-padded), the degenerate directions (k, n) and the per-parameter
    degenerate flags.
    """
    n = J.shape[1]
    if not np.all(np.isfinite(J)):
        raise FloatingPointError("the Jacobian of the network is not finite at the fitted point; the parameters "
                                 "ran into a range where the network has no solution")
    _, s, vt = np.linalg.svd(J, full_matrices=True)
    singular = np.zeros(n)
    singular[:len(s)] = s
    s_max = singular.max(initial=0.0)
    flat = singular <= DEGENERATE_RCOND * s_max if s_max > 0 else np.ones(n, bool)
    good = ~flat
    cov = (vt[good].T / singular[good] ** 2) @ vt[good] * scale
    null = vt[flat]
    degenerate = np.any(np.abs(null) > NULL_COMPONENT, axis=0) if null.size else np.zeros(n, bool)
    cov[degenerate, :] = np.nan
    cov[:, degenerate] = np.nan
    cov[degenerate, degenerate] = np.inf
    if not np.isfinite(scale):
        cov = np.where(np.eye(n, dtype=bool), np.inf, np.nan)
    return cov, singular, null, degenerate


def _complement(null: np.ndarray) -> np.ndarray:
    """Orthonormal basis (n, n - k) of the complement of the k orthonormal rows of ``null``."""
    n = null.shape[1]
    _, _, vt = np.linalg.svd(null, full_matrices=True)
    return vt[null.shape[0]:].T.reshape(n, n - null.shape[0])


def _free(free) -> tuple[str, ...]:
    if isinstance(free, str):
        free = (free,)
    if not isinstance(free, (list, tuple)) or not free:
        raise ValueError(f"free={free!r}: expected a non-empty sequence of parameter names from {PARAMETERS}")
    for name in free:
        if name not in PARAMETERS:
            raise ValueError(f"free: unknown parameter {name!r}; expected names from {PARAMETERS}")
    if len(set(free)) != len(free):
        raise ValueError(f"free={tuple(free)!r}: a parameter is named twice")
    return tuple(n for n in PARAMETERS if n in free)


def _experiments(experiments) -> list[IVData]:
    if isinstance(experiments, IVData):
        experiments = [experiments]
    if not isinstance(experiments, (list, tuple)):
        raise TypeError(f"experiments={experiments!r}: expected an IVData or a list of them")
    if not experiments:
        raise ValueError("experiments: expected at least one IVData, got none")
    for e in experiments:
        if not isinstance(e, IVData):
            raise TypeError(f"experiments: expected IVData items, got {e!r}")
    names = [e.name for e in experiments]
    if len(set(names)) != len(names):
        raise ValueError(f"experiments: names must be unique, got {names}")
    return list(experiments)


def _check_electrode_grid(twin: Twin, electrodes, where: str) -> None:
    for e in electrodes:
        if e.mask is not None and e.mask.shape != twin.shape:
            raise ValueError(f"{where}: electrode {e.name!r} mask has shape {e.mask.shape}, expected the twin's "
                             f"{twin.shape}")
        if e.face is not None and not 0 <= e.face[0] < twin.ndim:
            raise ValueError(f"{where}: electrode {e.name!r} face axis {e.face[0]}, expected an axis below "
                             f"{twin.ndim}")


def _vector(name: str, value) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a 1D array of numbers, got {value!r}") from None
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1D array, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values, found NaN or infinity at index "
                         f"{int(np.flatnonzero(~np.isfinite(a))[0])}")
    return a


def _sigma(name: str, value, shape: tuple[int, ...], *, where: np.ndarray | None = None) -> np.ndarray:
    """Standard deviations broadcast to ``shape``: finite and > 0 wherever ``where`` (default everywhere)."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a positive number or an array of them, got {value!r}") from None
    if a.ndim and a.shape != tuple(shape):
        raise ValueError(f"{name}: expected a number or shape {tuple(shape)}, got shape {a.shape}")
    a = np.broadcast_to(a, shape)
    check = a if where is None else a[where]
    if not np.all(np.isfinite(check) & (check > 0)):
        raise ValueError(f"{name}: expected finite standard deviations > 0 (where data are measured), found "
                         f"{check[~(np.isfinite(check) & (check > 0))].flat[0]!r}")
    return np.array(a)


def _map(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an array of numbers, got {value!r}") from None
    if a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {a.shape}")
    if np.isinf(a).any():
        raise ValueError(f"{name}: expected finite values or NaN (not measured), found infinity")
    return a


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float) if not isinstance(a, np.ndarray) or a.dtype.kind != "f" else np.array(a)
    a.flags.writeable = False
    return a


def _json(x: float) -> float | str:
    x = float(x)
    return x if math.isfinite(x) else str(x)
