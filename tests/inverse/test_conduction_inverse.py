"""Tests of inverse.conduction: round trips, uncertainties, identifiability and refusals.

References: the closed-form weighted linear least-squares solution (a
network without contact resistance is linear in sigma_ip), the
Gauss-Newton covariance built independently from forward solves in linear
parameter space, the scatter of fits over seeded noise, and invariances of
the forward network itself (one conductance, or a potential map under a
common scaling of all conductances), checked with forward solves.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from forward.conduction import Conductivity, Electrode, conductivity_field, solve
from inverse.conduction import PARAMETERS, ConductionFit, IVData, fit_iv, fit_map
from twin.generators import KINDS
from validation.conduction.fit import (CONTACT_OHM_M2, START, START_CONTACT_OHM_M2, TRUTH, checks, lamella,
                                       lamella_setups, measure_iv, tlm_setups)

VOLTAGES = np.linspace(-1.0, 1.0, 11)


@pytest.fixture(scope="module")
def twin():
    return lamella(0)


@pytest.fixture(scope="module")
def setups(twin):
    return lamella_setups(twin)


def _contacted(electrodes, contact):
    return [Electrode(e.name, e.potential_V, e.mask, e.face, contact) for e in electrodes]


def _conductance(twin, conductivity, electrodes, contact=0.0):
    return solve(conductivity_field(twin, conductivity), _contacted(electrodes, contact)).current(electrodes[0].name)


# ---------------------------------------------------------------------------------------- linear case
def test_sigma_ip_alone_is_the_weighted_linear_least_squares_solution(twin, setups):
    # Without contact resistance every conductance of the network (bulk, boundaries) scales with sigma_ip,
    # so I = sigma_ip g1 V exactly: the fit must be the closed-form weighted linear least squares,
    # sigma = sum(I m / s^2) / sum(m^2 / s^2) with m = g1 V, and its variance 1 / sum(m^2 / s^2).
    rng = np.random.default_rng(11)
    experiments, m, data, s, conductances = [], [], [], [], {}
    for name, electrodes in list(setups.items())[:2]:
        g1 = conductances[name] = _conductance(twin, TRUTH.replace(sigma_ip_S_per_m=1.0), electrodes)
        sigma = 2e-3 * abs(g1) * 100
        currents = 100 * g1 * VOLTAGES + rng.normal(0, sigma, VOLTAGES.shape)
        experiments.append(IVData(electrodes, VOLTAGES, currents, sigma, name=name))
        m.append(g1 * VOLTAGES), data.append(currents), s.append(np.full(VOLTAGES.shape, sigma))
    m, data, s = np.concatenate(m), np.concatenate(data), np.concatenate(s)
    fisher = np.sum(m ** 2 / s ** 2)
    expected = np.sum(data * m / s ** 2) / fisher
    expected_sigma = fisher ** -0.5

    fit = fit_iv(twin, experiments, free=("sigma_ip_S_per_m",), start=TRUTH.replace(sigma_ip_S_per_m=30.0))
    assert fit.success and fit.all_identifiable and not fit.covariance_scaled
    # ftol stops within ~0.01 sigma of the minimum (chi2 within 1e-6 relative).
    assert abs(fit.values["sigma_ip_S_per_m"] - expected) < 0.01 * expected_sigma
    assert fit.uncertainties["sigma_ip_S_per_m"] == pytest.approx(expected_sigma, rel=1e-4)
    assert fit.relative_uncertainties["sigma_ip_S_per_m"] == pytest.approx(expected_sigma / expected, rel=1e-4)
    chi2 = np.sum(((data - expected * m) / s) ** 2)
    assert fit.chi2 == pytest.approx(chi2, rel=1e-5)
    assert fit.dof == len(data) - 1 and fit.reduced_chi2 == pytest.approx(chi2 / fit.dof, rel=1e-5)
    assert fit.residuals == pytest.approx((data - expected * m) / s, abs=0.01)
    for name, g1 in conductances.items():
        assert fit.predictions[f"{name}/conductance_S"] == pytest.approx(fit.values["sigma_ip_S_per_m"] * g1, rel=1e-9)
        assert fit.predictions[name] == pytest.approx(fit.values["sigma_ip_S_per_m"] * g1 * VOLTAGES, rel=1e-9)

    # Without sigmas: unit weights, covariance scaled by the reduced chi^2 (scipy's absolute_sigma=False).
    bare = [IVData(e.electrodes, e.voltages_V, e.currents_A, name=e.name) for e in experiments]
    fit = fit_iv(twin, bare, free=("sigma_ip_S_per_m",), start=TRUTH.replace(sigma_ip_S_per_m=30.0))
    plain = np.sum(data * m) / np.sum(m ** 2)
    residual = np.sum((data - plain * m) ** 2)
    assert fit.covariance_scaled
    assert fit.values["sigma_ip_S_per_m"] == pytest.approx(plain, rel=1e-5)
    assert fit.uncertainties["sigma_ip_S_per_m"] == pytest.approx(
        np.sqrt(residual / (len(data) - 1) / np.sum(m ** 2)), rel=1e-3)


def test_fit_never_reads_the_twins_truth(twin, setups):
    experiments = measure_iv(twin, {"lamella": setups["lamella"]}, contact_resistance_ohm_m2=0.0, seed=3)
    with_truth = fit_iv(twin, experiments, start=START)
    without = fit_iv(twin.replace(truth={}), experiments, start=START)
    assert without.values == with_truth.values
    assert without.uncertainties == with_truth.uncertainties


# ------------------------------------------------------------------------------------ I-V round trips
def test_three_parameters_from_four_experiments_and_the_gauss_newton_covariance(twin, setups):
    experiments = measure_iv(twin, setups, seed=0)
    free = ("sigma_ip_S_per_m", "anisotropy", "contact_resistance_ohm_m2")
    fit = fit_iv(twin, experiments, free=free, start=START.replace(gb_ratio=20.0),
                 contact_resistance_ohm_m2=START_CONTACT_OHM_M2)
    assert fit.success and fit.all_identifiable and fit.names == free
    truth = {"sigma_ip_S_per_m": 100.0, "anisotropy": 1e3, "contact_resistance_ohm_m2": CONTACT_OHM_M2}
    for name in free:
        assert abs(fit.values[name] - truth[name]) <= 3 * fit.uncertainties[name], name
    assert fit.relative_uncertainties["sigma_ip_S_per_m"] < 0.01
    assert fit.relative_uncertainties["anisotropy"] < 0.1
    assert fit.relative_uncertainties["contact_resistance_ohm_m2"] < 0.01
    # chi2/dof of Gaussian noise with the true sigmas: 1 +- sqrt(2/41) = 0.22.
    assert abs(fit.reduced_chi2 - 1) < 0.5 and fit.dof == 44 - 3

    # Independent Gauss-Newton covariance in linear parameter space: dI/dp by central relative steps of
    # the forward network at the fitted values, C = (J^T W J)^-1.
    values = dict(fit.values)

    def currents(v):
        conductivity = TRUTH.replace(sigma_ip_S_per_m=v["sigma_ip_S_per_m"], anisotropy=v["anisotropy"])
        return np.concatenate([_conductance(twin, conductivity, setups[e.name], v["contact_resistance_ohm_m2"])
                               * e.voltages_V for e in experiments])

    columns = []
    for name in free:
        up, down = dict(values), dict(values)
        up[name] *= 1 + 1e-4
        down[name] *= 1 - 1e-4
        columns.append((currents(up) - currents(down)) / (2e-4 * values[name]))
    weights = 1 / np.concatenate([e.current_sigma_A for e in experiments])
    jac = np.stack(columns, axis=1) * weights[:, None]
    covariance = np.linalg.inv(jac.T @ jac)
    assert np.sqrt(np.diag(fit.covariance)) == pytest.approx(np.sqrt(np.diag(covariance)), rel=0.01)
    sd = np.sqrt(np.diag(covariance))
    assert fit.correlation == pytest.approx(covariance / np.outer(sd, sd), abs=0.01)
    assert np.diag(fit.correlation) == pytest.approx(1.0)
    # The log-space covariance is the linear one divided by p p^T (delta method).
    p = np.array([values[n] for n in free])
    assert fit.covariance_log == pytest.approx(fit.covariance / np.outer(p, p), rel=1e-9)
    low, high = fit.interval_68["anisotropy"]
    assert low < fit.values["anisotropy"] < high
    assert np.log(high / low) / 2 == pytest.approx(fit.relative_uncertainties["anisotropy"])
    assert fit.conductivity.anisotropy == fit.values["anisotropy"] and fit.conductivity.gb_ratio == 20.0


def test_tlm_separates_contact_from_bulk_and_sigmas_match_the_scatter():
    # Transmission-line set: three gaps on a 1 x 2 um polycrystal; ten noise seeds. The spread of the
    # estimates must match the reported sigma: with 10 draws the sample standard deviation over the true one
    # is sqrt(chi2_9 / 9), inside [0.47, 1.54] with 99 % probability. Every estimate within 4 sigma of the
    # truth (20 draws: one beyond 3 sigma happens in 5 % of such sets, beyond 4 sigma in 0.1 %); their mean
    # within 3 sigma / sqrt(10).
    tlm = KINDS["polycrystal"](ndim=2, field_of_view_um=(1.0, 2.0), grain_size_um=0.4, seed=1)
    setups = tlm_setups(tlm, gaps=(4, 12, 28))
    free = ("sigma_ip_S_per_m", "contact_resistance_ohm_m2")
    truth = np.array([TRUTH.sigma_ip_S_per_m, CONTACT_OHM_M2])
    estimates, sigmas = [], []
    for seed in range(10):
        data = measure_iv(tlm, setups, voltages_V=np.linspace(0.2, 1.0, 5), noise=2e-3, seed=seed)
        fit = fit_iv(tlm, data, free=free, start=TRUTH.replace(sigma_ip_S_per_m=60.0), contact_resistance_ohm_m2=3e-8)
        assert fit.all_identifiable
        estimates.append([fit.values[n] for n in free])
        sigmas.append([fit.uncertainties[n] for n in free])
    estimates, sigmas = np.array(estimates), np.array(sigmas)
    assert np.all(np.abs(estimates - truth) <= 4 * sigmas)
    assert np.all(np.abs(estimates.mean(axis=0) - truth) <= 3 * sigmas.mean(axis=0) / np.sqrt(10))
    ratio = estimates.std(axis=0, ddof=1) / sigmas.mean(axis=0)
    assert np.all((ratio > 0.47) & (ratio < 1.54)), ratio
    # The reported sigma hardly depends on the noise draw (the model is nearly linear at 0.2 % noise).
    assert np.ptp(sigmas, axis=0) / sigmas.mean(axis=0) == pytest.approx([0, 0], abs=0.05)

    # One gap alone: one conductance, one combination; both parameters must be flagged.
    single = fit_iv(tlm, data[1:2], free=free, start=TRUTH.replace(sigma_ip_S_per_m=60.0),
                    contact_resistance_ohm_m2=3e-8)
    assert not any(single.identifiable.values())
    assert all(np.isinf(list(single.uncertainties.values())))


def test_one_experiment_cannot_fix_two_parameters(twin, setups):
    electrodes = setups["lamella"]
    experiments = measure_iv(twin, {"lamella": electrodes}, contact_resistance_ohm_m2=0.0, seed=4)
    fit = fit_iv(twin, experiments, free=("sigma_ip_S_per_m", "anisotropy"), start=START)
    assert fit.success and not fit.all_identifiable
    assert fit.identifiable == {"sigma_ip_S_per_m": False, "anisotropy": False}
    assert np.isinf(fit.uncertainties["sigma_ip_S_per_m"]) and np.isinf(fit.relative_uncertainties["anisotropy"])
    assert np.isnan(fit.correlation).all()
    assert fit.condition_number > 1e7 and fit.singular_values[1] < 1e-7 * fit.singular_values[0]
    assert fit.null_directions.shape == (1, 2) and np.linalg.norm(fit.null_directions[0]) == pytest.approx(1.0)
    assert "not identifiable" in fit.message and "degenerate" in fit.message
    # The data are still fitted (chi2/dof ~ 1), and moving along the reported null direction leaves the
    # network's conductance unchanged (forward solves): that is what "degenerate" means.
    assert abs(fit.reduced_chi2 - 1) < 0.6
    null = fit.null_directions[0]

    def g(factors):
        conductivity = START.replace(sigma_ip_S_per_m=fit.values["sigma_ip_S_per_m"] * factors[0],
                                     anisotropy=fit.values["anisotropy"] * factors[1])
        return _conductance(twin, conductivity, electrodes)

    # A step of 0.05 in ln p along it changes G by second order only (the level set curves), across it by 5 %.
    assert g(np.exp(0.05 * null)) == pytest.approx(g([1.0, 1.0]), rel=2e-4)
    assert abs(g(np.exp(0.05 * np.array([null[1], -null[0]]))) / g([1.0, 1.0]) - 1) > 0.01
    # The one parameter the curve does fix is fine on its own.
    assert fit_iv(twin, experiments, free=("sigma_ip_S_per_m",), start=START.replace(anisotropy=1e3)).all_identifiable


# ------------------------------------------------------------------------------------------ map fits
@pytest.fixture(scope="module")
def potential_map(twin, setups):
    electrodes = setups["lamella"]
    solution = solve(conductivity_field(twin, TRUTH), _contacted(electrodes, CONTACT_OHM_M2))
    rng = np.random.default_rng(5)
    return solution, solution.potential_V + rng.normal(0.0, 1e-3, twin.shape)


def test_potential_map_recovers_anisotropy_and_gb_ratio(twin, setups, potential_map):
    _, measured = potential_map
    # With a contact resistance the potentials depend on sigma_ip r_CT: both are given at their true values.
    fit = fit_map(twin, setups["lamella"], potential_V=measured, potential_sigma_V=1e-3,
                  start=START.replace(sigma_ip_S_per_m=100.0), contact_resistance_ohm_m2=CONTACT_OHM_M2)
    assert fit.names == ("anisotropy", "gb_ratio") and fit.all_identifiable
    for name in fit.names:
        assert abs(fit.values[name] - getattr(TRUTH, name)) <= 3 * fit.uncertainties[name]
        assert fit.relative_uncertainties[name] < 0.1
    # dof ~ 1550: chi2/dof = 1 +- 0.04.
    assert fit.reduced_chi2 == pytest.approx(1.0, abs=0.15)
    # Electrode metal, voids and ZrO2 carry no usable potential: they are left out and counted.
    assert fit.n_data == np.count_nonzero(twin.labels == 1) and "ignored" in fit.message
    assert fit.predictions["potential_V"].shape == twin.shape


def test_potential_map_fixes_sigma_ip_only_through_a_known_contact(twin, setups, potential_map):
    _, measured = potential_map
    electrodes = setups["lamella"]
    free = ("sigma_ip_S_per_m", "anisotropy", "gb_ratio")
    # No contact resistance in the model: scaling every conductance leaves the potentials unchanged, so the
    # sigma_ip column of the Jacobian is zero; it must be flagged and left at its start value.
    clean = solve(conductivity_field(twin, TRUTH), electrodes).potential_V
    noisy = clean + np.random.default_rng(6).normal(0.0, 1e-3, clean.shape)
    fit = fit_map(twin, electrodes, potential_V=noisy, potential_sigma_V=1e-3, free=free, start=START)
    assert fit.identifiable == {"sigma_ip_S_per_m": False, "anisotropy": True, "gb_ratio": True}
    assert fit.values["sigma_ip_S_per_m"] == pytest.approx(START.sigma_ip_S_per_m, rel=1e-6)
    assert np.abs(fit.null_directions[0]) == pytest.approx([1, 0, 0], abs=1e-6)
    # With the contact resistance known (1e-8 ohm m^2) the potential drop at the contacts fixes sigma_ip.
    fit = fit_map(twin, electrodes, potential_V=measured, potential_sigma_V=1e-3, free=free, start=START,
                  contact_resistance_ohm_m2=CONTACT_OHM_M2)
    assert fit.all_identifiable
    assert abs(fit.values["sigma_ip_S_per_m"] - 100.0) <= 3 * fit.uncertainties["sigma_ip_S_per_m"]
    # Both free: only their product is fixed, and it is recovered.
    both = fit_map(twin, electrodes, potential_V=measured, potential_sigma_V=1e-3,
                   free=free + ("contact_resistance_ohm_m2",), start=START, contact_resistance_ohm_m2=3e-8)
    assert not both.identifiable["sigma_ip_S_per_m"] and not both.identifiable["contact_resistance_ohm_m2"]
    assert both.identifiable["anisotropy"] and both.identifiable["gb_ratio"]
    assert np.abs(both.null_directions[0]) == pytest.approx(np.array([1, 0, 0, 1]) / np.sqrt(2), abs=1e-6)
    product = both.values["sigma_ip_S_per_m"] * both.values["contact_resistance_ohm_m2"]
    assert product == pytest.approx(100.0 * CONTACT_OHM_M2, rel=0.02)


def test_current_density_map_fixes_sigma_ip(twin, setups, potential_map):
    solution, _ = potential_map
    density = solution.current_density_A_per_m2
    sigma = 0.01 * np.abs(density).max()
    measured = density + np.random.default_rng(7).normal(0.0, sigma, density.shape)
    fit = fit_map(twin, setups["lamella"], current_density_A_per_m2=measured, current_density_sigma_A_per_m2=sigma,
                  free=("sigma_ip_S_per_m",), start=START.replace(anisotropy=1e3, gb_ratio=20.0),
                  contact_resistance_ohm_m2=CONTACT_OHM_M2)
    assert fit.all_identifiable and fit.relative_uncertainties["sigma_ip_S_per_m"] < 0.01
    assert abs(fit.values["sigma_ip_S_per_m"] - 100.0) <= 3 * fit.uncertainties["sigma_ip_S_per_m"]
    assert fit.predictions["current_density_A_per_m2"].shape == (2,) + twin.shape


# ---------------------------------------------------------------------------------------- the result
def test_result_is_frozen_and_serialisable(twin, setups):
    experiments = measure_iv(twin, {"lamella": setups["lamella"]}, contact_resistance_ohm_m2=0.0, seed=8)
    fit = fit_iv(twin, experiments, free=("sigma_ip_S_per_m", "anisotropy"), start=START)
    assert isinstance(fit, ConductionFit)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.chi2 = 0.0
    with pytest.raises(TypeError):
        fit.values["anisotropy"] = 1.0
    with pytest.raises(ValueError):
        fit.covariance[0, 0] = 1.0
    text = json.dumps(fit.to_dict())
    assert '"Infinity"' not in text and '"inf"' in text            # no bare infinities in the JSON
    assert "sigma_ip_S_per_m" in fit.table() and "NO" in fit.table()


# ------------------------------------------------------------------------------------------ refusals
def _iv(setups, **changes):
    kwargs = {"electrodes": setups["lamella"], "voltages_V": VOLTAGES, "currents_A": VOLTAGES * 1e-6,
              "current_sigma_A": 1e-9, "name": "x"}
    kwargs.update(changes)
    return IVData(**kwargs)


@pytest.mark.parametrize("changes, error, match", [
    ({"electrodes": "two electrodes"}, TypeError, "expected a list of forward.conduction.Electrode"),
    ({"electrodes": []}, ValueError, "at least two electrodes"),
    ({"voltages_V": []}, ValueError, "non-empty 1D array"),
    ({"voltages_V": np.zeros(11)}, ValueError, "all 0"),
    ({"currents_A": np.ones(10)}, ValueError, "one current per voltage"),
    ({"currents_A": np.full(11, np.nan)}, ValueError, "finite values, found NaN"),
    ({"voltages_V": np.r_[VOLTAGES[:-1], np.inf]}, ValueError, "finite values"),
    ({"current_sigma_A": 0.0}, ValueError, "standard deviations > 0"),
    ({"current_sigma_A": -1e-9}, ValueError, "standard deviations > 0"),
    ({"current_sigma_A": np.full(11, np.nan)}, ValueError, "standard deviations > 0"),
    ({"current_sigma_A": np.ones(3)}, ValueError, "expected a number or shape"),
    ({"current_electrode": "nowhere"}, ValueError, "current_electrode='nowhere'"),
    ({"name": ""}, TypeError, "non-empty string"),
])
def test_ivdata_refuses(setups, changes, error, match):
    with pytest.raises(error, match=match):
        _iv(setups, **changes)


def test_ivdata_refuses_electrodes_at_one_potential_and_repeated_names(setups):
    a, b = setups["lamella"]
    with pytest.raises(ValueError, match="two distinct potentials"):
        _iv(setups, electrodes=[a, b.at(1.0)])
    with pytest.raises(ValueError, match="names must be unique"):
        _iv(setups, electrodes=[a, Electrode(a.name, 0.0, mask=b.mask)])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"free": ("sigma_ip",)}, ValueError, "unknown parameter 'sigma_ip'"),
    ({"free": ()}, ValueError, "non-empty sequence"),
    ({"free": ("anisotropy", "anisotropy")}, ValueError, "named twice"),
    ({"start": {"sigma_ip_S_per_m": 1.0}}, TypeError, "expected a forward.conduction.Conductivity"),
    ({"start": Conductivity(gb_ratio=np.inf), "free": ("gb_ratio",)}, ValueError, "finite positive start"),
    ({"contact_resistance_ohm_m2": -1.0}, ValueError, "contact_resistance_ohm_m2=-1.0"),
    ({"thickness_um": 0.0}, ValueError, "thickness_um=0.0"),
    ({"method": "lu"}, ValueError, "method='lu'"),
    ({"max_relative_uncertainty": 0.0}, ValueError, "max_relative_uncertainty=0.0"),
])
def test_fit_iv_refuses_bad_options(twin, setups, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit_iv(twin, [_iv(setups)], **kwargs)


def test_fit_iv_refuses_bad_experiments(twin, setups):
    with pytest.raises(ValueError, match="at least one IVData"):
        fit_iv(twin, [])
    with pytest.raises(TypeError, match="expected IVData items"):
        fit_iv(twin, [(VOLTAGES, VOLTAGES)])
    with pytest.raises(TypeError, match="expected a twin.Twin"):
        fit_iv(twin.labels, [_iv(setups)])
    with pytest.raises(ValueError, match="names must be unique"):
        fit_iv(twin, [_iv(setups), _iv(setups)])
    with pytest.raises(ValueError, match="have no current_sigma_A while others do"):
        fit_iv(twin, [_iv(setups), _iv(setups, name="y", current_sigma_A=None)])
    small = np.zeros((4, 4), bool)
    small[0, 0] = True
    other = Electrode("small", 0.0, mask=small)
    with pytest.raises(ValueError, match=r"mask has shape \(4, 4\), expected the twin's \(40, 50\)"):
        fit_iv(twin, [_iv(setups, electrodes=[setups["lamella"][0], other])])
    faces = [Electrode("left", 1.0, face=(1, "low")), Electrode("right", 0.0, face=(1, "high"))]
    with pytest.raises(ValueError, match="no mask electrode"):
        fit_iv(twin, [_iv(setups, electrodes=faces)], free=("contact_resistance_ohm_m2",))
    with pytest.raises(ValueError, match="face axis 2"):
        fit_iv(twin, [_iv(setups, electrodes=[faces[0], Electrode("z", 0.0, face=(2, "high"))])])
    # A forward refusal is passed on with the experiment's name: electrodes that touch.
    a = setups["lamella"][0]
    touching = Electrode("touching", 0.0, mask=np.roll(a.mask, 1, axis=1) & ~a.mask)
    with pytest.raises(ValueError, match="experiment 'x': electrodes .* touch"):
        fit_iv(twin, [_iv(setups, electrodes=[a, touching])])


def test_fit_map_refuses_bad_maps(twin, setups):
    electrodes = setups["lamella"]
    good = np.zeros(twin.shape)
    with pytest.raises(ValueError, match="got neither"):
        fit_map(twin, electrodes)
    with pytest.raises(ValueError, match=r"potential_V: expected shape \(40, 50\), got \(50, 40\)"):
        fit_map(twin, electrodes, potential_V=good.T, potential_sigma_V=1e-3)
    with pytest.raises(ValueError, match="every value is NaN"):
        fit_map(twin, electrodes, potential_V=np.full(twin.shape, np.nan), potential_sigma_V=1e-3)
    with pytest.raises(ValueError, match="found infinity"):
        fit_map(twin, electrodes, potential_V=np.where(twin.labels == 1, np.inf, 0.0), potential_sigma_V=1e-3)
    with pytest.raises(ValueError, match="potential_sigma_V: expected finite standard deviations > 0"):
        fit_map(twin, electrodes, potential_V=good, potential_sigma_V=np.zeros(twin.shape))
    with pytest.raises(ValueError, match="potential_sigma_V: expected a number or shape"):
        fit_map(twin, electrodes, potential_V=good, potential_sigma_V=np.ones(3))
    with pytest.raises(ValueError, match=r"current_density_A_per_m2: expected shape \(2, 40, 50\)"):
        fit_map(twin, electrodes, current_density_A_per_m2=good, current_density_sigma_A_per_m2=1.0)
    with pytest.raises(ValueError, match="volts cannot be weighed"):
        fit_map(twin, electrodes, potential_V=good, current_density_A_per_m2=np.zeros((2,) + twin.shape),
                potential_sigma_V=1e-3)
    with pytest.raises(ValueError, match="no measured pixel lies in a conducting voxel"):
        fit_map(twin, electrodes, potential_V=np.where(twin.labels == 1, np.nan, 0.0), potential_sigma_V=1e-3)
    with pytest.raises(TypeError, match="expected a list of forward.conduction.Electrode"):
        fit_map(twin, "electrodes", potential_V=good)
    # NaN sigma is allowed only where nothing was measured.
    measured = np.where(twin.labels == 1, 0.5, np.nan)
    sigma = np.where(twin.labels == 1, 1e-3, np.nan)
    fit = fit_map(twin, electrodes, potential_V=measured, potential_sigma_V=sigma, free=("gb_ratio",), start=START)
    assert fit.n_data == np.count_nonzero(twin.labels == 1)
    with pytest.raises(ValueError, match="expected finite standard deviations"):
        fit_map(twin, electrodes, potential_V=measured, potential_sigma_V=np.where(twin.labels == 1, np.nan, 1e-3))


# -------------------------------------------------------------------------------------------- validation
def test_validation_checks_pass():
    result = checks(seed=0)
    failed = [(c.name, c.value, c.truth, c.tolerance) for c in result if not c.passed]
    assert not failed
    names = {c.name for c in result}
    assert {"tlm_contact_resistance_ohm_m2", "tlm_single_gap_identifiable_parameters", "map_gb_ratio",
            "map_sigma_ip_identifiable", "iv_anisotropy"} <= names
    assert set(PARAMETERS) == {"sigma_ip_S_per_m", "anisotropy", "gb_ratio", "contact_resistance_ohm_m2"}
