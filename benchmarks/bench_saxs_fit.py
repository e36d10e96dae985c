"""Benchmark the batch SAXS/WAXS curve fitter against a per-curve scipy.optimize.curve_fit loop.

Cases
-----
Issue 7: "fit 1e5 noisy curves [...] compare [...] the batch fit with a
per-curve scipy curve_fit loop, printing the ratios. Target: batch fit at
least 50x faster than the loop".

(a) SAXS, seeds/000 eq. 1-3: 10^5 curves of 150 q points log-spaced over
    0.005-0.5 1/A, power law (scale 2e-6 x lognormal(0.3), exponent
    U(3.5, 4.2)) + Schulz micropores (pd 0.3, scale U(0.5, 2) 1/cm,
    radius U(4, 8) A) + flat background U(0.01, 0.05) 1/cm, Gaussian noise of
    2 % of the intensity, seed 0; 5 free parameters.
(b) WAXS, seeds/000 eq. 4 and SI "WAXS analysis": 10^5 curves of 200 q
    points over 0.8-2.8 1/A, 002 peak (height U(0.5, 1) 1/cm, position
    U(1.47, 1.56) 1/A, sigma U(0.15, 0.25) 1/A), PVDF peak at 1.45 1/A
    (height U(0.05, 0.15), sigma U(0.02, 0.04)), linear background, noise
    1 % of the intensity + 0.002 1/cm, seed 1; 7 free parameters.

xtwin: :func:`inverse.saxs.fit.fit_curves` on all 10^5 curves in one call
(after an untimed warm-up on 100 curves that loads numba's cached kernels).
Reference: a loop of ``scipy.optimize.curve_fit`` (default
Levenberg-Marquardt, MINPACK ``lmdif`` with forward-difference Jacobians,
``absolute_sigma=True``) over a random sample of 500 of the curves, with
the same model built from :mod:`forward.saxs.model` functions and the same
starting values (``inverse.saxs.fit.starting_values``, not timed for the
loop, so the loop is favoured) and numba limited to one thread during the
loop (the forward model's parallel form-factor kernel otherwise spends more
on waking threads than on 150 points, badly so under load); its time per
curve is **extrapolated to 10^5 curves** (x 200). ``ratio`` = reference s / xtwin s (extrapolated).
Agreement on the sample: the largest |xtwin - curve_fit| over xtwin's
1-sigma uncertainty, per parameter, over the curves both report converged
(curve_fit: ``ier`` in 1-4), and the ratio of the uncertainties.

Run from the repository root: ``python benchmarks/bench_saxs_fit.py``
(about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import os
import time
import warnings

import numba
import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from _common import header, print_table
from forward.saxs.model import gaussian_peak, power_law, schulz_sphere_form_factor
from inverse.saxs.fit import (DEFAULT_POLYDISPERSITY, DEFAULTS, SAXS_FREE, WAXS_FREE, fit_curves,
                              model_intensity_per_cm, starting_values)

N_CURVES = int(os.environ.get("BENCH_SAXS_FIT_CURVES", 100_000))
N_SAMPLE = 500


def saxs_case():
    rng = np.random.default_rng(0)
    q = np.geomspace(0.005, 0.5, 150)
    n = N_CURVES
    truth = {"porod_scale_per_cm": 2e-6 * np.exp(rng.normal(0, 0.3, n)), "porod_exponent": rng.uniform(3.5, 4.2, n),
             "micropore_scale_per_cm": rng.uniform(0.5, 2.0, n), "micropore_radius_A": rng.uniform(4.0, 8.0, n),
             "background_per_cm": rng.uniform(0.01, 0.05, n)}
    exact = model_intensity_per_cm(q, truth)
    sigma = 0.02 * exact
    return q, exact + sigma * rng.standard_normal(exact.shape), sigma, "saxs", SAXS_FREE


def waxs_case():
    rng = np.random.default_rng(1)
    q = np.linspace(0.8, 2.8, 200)
    n = N_CURVES
    truth = {"g002_amplitude_per_cm": rng.uniform(0.5, 1.0, n), "q002_inv_A": rng.uniform(1.47, 1.56, n),
             "g002_sigma_inv_A": rng.uniform(0.15, 0.25, n), "pvdf_amplitude_per_cm": rng.uniform(0.05, 0.15, n),
             "pvdf_sigma_inv_A": rng.uniform(0.02, 0.04, n), "background_per_cm": rng.uniform(0.1, 0.2, n),
             "background_slope_per_cm_A": rng.uniform(-0.02, 0.0, n)}
    exact = model_intensity_per_cm(q, truth, model="waxs")
    sigma = 0.01 * exact + 0.002
    return q, exact + sigma * rng.standard_normal(exact.shape), sigma, "waxs", WAXS_FREE


def saxs_function(q, scale, exponent, micro, radius, background):
    return (power_law(q, scale, exponent) + micro * schulz_sphere_form_factor(q, radius, DEFAULT_POLYDISPERSITY)
            + background)


def waxs_function(q, a002, q002, s002, a_pvdf, s_pvdf, background, slope):
    # the binder height may go negative in a fit (gaussian_peak refuses that), hence the inline Gaussian
    pvdf = a_pvdf * np.exp(-0.5 * ((q - DEFAULTS["pvdf_centre_inv_A"]) / s_pvdf) ** 2)
    return gaussian_peak(q, a002, q002, s002) + pvdf + background + slope * q


def run(case) -> tuple[list, list]:
    q, intensity, sigma, model, free = case()
    fit_curves((q, intensity[:100], sigma[:100]), model=model)          # warm-up, untimed
    start = time.perf_counter()
    fit = fit_curves((q, intensity, sigma), model=model)
    t_batch = time.perf_counter() - start
    rng = np.random.default_rng(42)
    sample = np.sort(rng.choice(N_CURVES, N_SAMPLE, replace=False))
    p0 = starting_values((q, intensity[sample], sigma[sample]), model=model)
    function = saxs_function if model == "saxs" else waxs_function
    values, errors, ok = np.empty((N_SAMPLE, len(free))), np.empty((N_SAMPLE, len(free))), np.zeros(N_SAMPLE, bool)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)     # the form factor's parallel kernel only costs thread wake-ups on 150 points
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        for i, j in enumerate(sample):
            try:
                popt, pcov, _, _, ier = curve_fit(function, q, intensity[j], p0=[p0[name][i] for name in free],
                                                  sigma=sigma[j], absolute_sigma=True, full_output=True)
            except (RuntimeError, ValueError):
                continue
            values[i], errors[i], ok[i] = popt, np.sqrt(np.diag(pcov)), ier in (1, 2, 3, 4)
    t_loop = time.perf_counter() - start
    numba.set_num_threads(threads)
    both = ok & fit.converged[sample]
    mine = fit.values[sample][:, [fit.names.index(n) for n in free]]
    mine_err = fit.uncertainties[sample][:, [fit.names.index(n) for n in free]]
    dev = np.abs(mine[both] - values[both]) / mine_err[both]
    err_ratio = errors[both] / mine_err[both]
    extrapolated = t_loop / N_SAMPLE * N_CURVES
    timing = [model.upper(), f"{N_CURVES} x {q.size}", len(free), t_batch, 1e6 * t_batch / N_CURVES,
              f"{fit.converged.mean():.4f}", f"{fit.iterations.mean():.1f}", 1e6 * t_loop / N_SAMPLE, extrapolated,
              extrapolated / t_batch]
    agreement = [[model.upper(), name, f"{np.max(dev[:, k]):.2g}", f"{np.median(dev[:, k]):.2g}",
                  f"{np.min(err_ratio[:, k]):.4f}-{np.max(err_ratio[:, k]):.4f}", f"{both.sum()} / {N_SAMPLE}"]
                 for k, name in enumerate(free)]
    return timing, agreement


def main() -> None:
    header("bench_saxs_fit", ["numpy", "scipy", "numba"])
    timings, agreements = [], []
    for case in (saxs_case, waxs_case):
        timing, agreement = run(case)
        timings.append(timing)
        agreements.extend(agreement)
        print(f"({timing[0]} done)", flush=True)
    print(f"\n## Batch fit of {N_CURVES} curves vs a scipy curve_fit loop on {N_SAMPLE} of them (extrapolated)\n")
    print_table(["model", "curves x q", "free params", "xtwin s", "xtwin us/curve", "converged", "mean iterations",
                 "curve_fit us/curve", "curve_fit s (extrapolated to 1e5)", "ratio"], timings)
    print()
    print_table(["model", "parameter", "max |xtwin - curve_fit| / sigma", "median", "sigma ratio curve_fit/xtwin",
                 "both converged"], agreements)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
