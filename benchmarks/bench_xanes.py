"""Benchmark the XANES inverse path: white-line fit and normalisation + E0 of 10^6 spectra (issue 9).

Cases
-----
(a) Acceptance of issue 9: white-line fit of 1,000,000 spectra x 60 energies in under 2 s on two cores, at
    least 100 times faster than a per-spectrum ``scipy.optimize.curve_fit`` loop; normalisation + E0 of the same
    spectra in under 5 s. The spectra are the Ni K model of :mod:`forward.xanes.edge` (``NI_K_MODEL``) at
    uniformly random valences 2-4 on a 60-energy TXM grid (8280-8325 eV in 5-eV steps, 8330-8369 eV in 1-eV
    steps, 8370-8469 in 11-eV steps), on a raw background ``0.3 + 1e-4 (E - 8300 eV)`` with edge jump 0.8 and
    Gaussian noise of 0.8/200 (SNR 200 on the edge jump, seeds/004 section 4: per-pixel SNR 100-300), float32
    (as the stack). Timed: :func:`inverse.xanes.normalise` (pre-edge line, post-edge quadratic, E0 from the
    derivative, jump, normalised float32 spectra) and :func:`inverse.xanes.fit_whiteline` on its output (5-point
    quadratic, uncertainties from ``Normalised.noise``), best of 3 after an untimed warm-up on 1000 spectra
    (numba compilation or cache load). Accuracy: RMS error of E0 and white line against the exact
    ``e0_of_model`` / ``whiteline_of_model``, and the standard deviation of the white-line pulls.
(b) Reference for the white line: ``curve_fit`` of a Gaussian plus a constant, ``a exp(-(E - c)^2 / (2 s^2)) + b``,
    to the normalised points within +-5 eV of each spectrum's highest point (a per-spectrum loop as
    TXM-Wizard-style scripts do), on the first 1000 spectra; the time per spectrum is extrapolated to 10^6.
    ``ratio`` = reference s / xtwin s.
(c) Reference for normalisation + E0: xraylarch's ``pre_edge`` (``larch.xafs.pre_edge`` on a Group, its
    defaults except ``nnorm=2`` and ``pre1=-55, pre2=-15, norm1=40`` eV to fit the TXM grid) on the first 200
    spectra, extrapolated, if xraylarch is installed (in the ``bench`` extra); skipped otherwise.

Run from the repository root: ``python benchmarks/bench_xanes.py`` (about 30 s on 2 cores, +~20 s with larch).
"""

from __future__ import annotations

import time
import warnings
from importlib import util

import numpy as np
from scipy.optimize import curve_fit

from _common import best_of, header, print_table
from forward.xanes.edge import NI_K_MODEL, e0_of_model, mu_normalised, whiteline_of_model
from inverse.xanes import fit_whiteline, normalise

N_SPECTRA = 1_000_000
ENERGY_EV = np.concatenate([np.arange(8280.0, 8330.0, 5.0), np.arange(8330.0, 8370.0, 1.0),
                            np.arange(8370.0, 8480.0, 11.0)])
SNR = 200.0
JUMP = 0.8
LIMIT_FIT_S, LIMIT_NORM_S, MIN_RATIO = 2.0, 5.0, 100.0
N_CURVE_FIT, N_LARCH = 1000, 200
HAVE_LARCH = util.find_spec("larch") is not None


def spectra(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` raw float32 model spectra (n, 60) and their valences (block-wise to bound the float64 temporaries)."""
    rng = np.random.default_rng(seed)
    valence = rng.uniform(2.0, 4.0, n)
    out = np.empty((n, ENERGY_EV.size), dtype=np.float32)
    background = 0.3 + 1e-4 * (ENERGY_EV - 8300.0)
    for s in range(0, n, 100_000):
        v = valence[s:s + 100_000]
        out[s:s + v.size] = (background + JUMP * mu_normalised(NI_K_MODEL, ENERGY_EV, v)
                             + rng.normal(0.0, JUMP / SNR, (v.size, ENERGY_EV.size)))
    return out, valence


def gaussian(e, a, c, s, b):
    return a * np.exp(-0.5 * ((e - c) / s) ** 2) + b


def curve_fit_loop(mu_norm: np.ndarray) -> np.ndarray:
    """Reference: one curve_fit of a Gaussian + constant per spectrum within +-5 eV of its highest point."""
    out = np.empty(mu_norm.shape[0])
    e = ENERGY_EV
    for i, y in enumerate(mu_norm.astype(float)):
        k = int(np.argmax(y))
        sel = np.abs(e - e[k]) <= 5.0
        p, _ = curve_fit(gaussian, e[sel], y[sel], p0=(0.5, e[k], 3.0, 1.0), maxfev=2000)
        out[i] = p[1]
    return out


def larch_loop(raw: np.ndarray) -> np.ndarray:
    """Reference: larch pre_edge per spectrum (E0, edge step, normalised mu)."""
    from larch import Group
    from larch.xafs import pre_edge

    out = np.empty(raw.shape[0])
    for i, y in enumerate(raw.astype(float)):
        g = Group(energy=ENERGY_EV, mu=y)
        pre_edge(g, pre1=-55.0, pre2=-15.0, norm1=40.0, nnorm=2)
        out[i] = g.e0
    return out


def main() -> None:
    packages = ["numpy", "scipy", "numba"] + (["xraylarch"] if HAVE_LARCH else [])
    header("XANES inverse: white line and normalisation of 10^6 spectra (issue 9)", packages)
    start = time.perf_counter()
    raw, valence = spectra(N_SPECTRA)
    print(f"(spectra built in {time.perf_counter() - start:.1f} s, not timed: {raw.shape} float32, "
          f"{raw.nbytes / 1e6:.0f} MB)")
    warm = normalise(ENERGY_EV, raw[:1000])
    fit_whiteline(ENERGY_EV, warm.mu_norm, noise=warm.noise)

    t_norm, res = best_of(lambda: normalise(ENERGY_EV, raw), repeats=3, budget_s=10.0)
    t_fit, fit = best_of(lambda: fit_whiteline(ENERGY_EV, res.mu_norm, noise=res.noise, mask=res.mask),
                         repeats=3, budget_s=10.0)
    e0_err = res.e0_ev - e0_of_model(NI_K_MODEL, valence)
    wl_err = fit.energy_ev - whiteline_of_model(NI_K_MODEL, valence)
    pull = wl_err / fit.energy_sigma_ev

    sample = res.mu_norm[:N_CURVE_FIT]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_wl = curve_fit_loop(sample)
    t_ref = (time.perf_counter() - t0) / N_CURVE_FIT * N_SPECTRA
    ref_err = ref_wl - whiteline_of_model(NI_K_MODEL, valence[:N_CURVE_FIT])

    ok_fit = t_fit < LIMIT_FIT_S and t_ref / t_fit >= MIN_RATIO
    ok_norm = t_norm < LIMIT_NORM_S
    print(f"\n## {N_SPECTRA} spectra x {ENERGY_EV.size} energies, float32, SNR {SNR:g} on the edge jump\n")
    print_table(["case", "xtwin s", "limit s", "reference", "reference s (extrapolated)", "ratio", "verdict"], [
        ["white line (fit_whiteline)", t_fit, LIMIT_FIT_S, f"curve_fit loop on {N_CURVE_FIT}", t_ref,
         t_ref / t_fit, "PASS" if ok_fit else "FAIL"],
        ["normalisation + E0 (normalise)", t_norm, LIMIT_NORM_S, "-", "-", "-", "PASS" if ok_norm else "FAIL"],
    ])
    print()
    print_table(["quantity", "RMS error eV", "mean error eV", "std of pulls", "fraction ok"], [
        ["white line, xtwin", float(np.sqrt(np.nanmean(wl_err ** 2))), float(np.nanmean(wl_err)),
         float(np.nanstd(pull)), float(np.mean(fit.ok))],
        [f"white line, curve_fit ({N_CURVE_FIT})", float(np.sqrt(np.mean(ref_err ** 2))), float(np.mean(ref_err)),
         "-", "-"],
        ["E0 (derivative maximum), xtwin", float(np.sqrt(np.nanmean(e0_err ** 2))), float(np.nanmean(e0_err)), "-",
         float(np.mean(res.mask))],
    ])
    if HAVE_LARCH:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            larch_e0 = larch_loop(raw[:N_LARCH])
        t_larch = (time.perf_counter() - t0) / N_LARCH * N_SPECTRA
        larch_err = larch_e0 - e0_of_model(NI_K_MODEL, valence[:N_LARCH])
        print()
        print_table(["reference: larch pre_edge", "per spectrum ms", "extrapolated s", "ratio", "E0 RMS error eV",
                     "xtwin E0 RMS error eV (same spectra)"],
                    [[f"{N_LARCH} spectra", t_larch / N_SPECTRA * 1e3, t_larch, t_larch / t_norm,
                      float(np.sqrt(np.mean(larch_err ** 2))),
                      float(np.sqrt(np.mean(e0_err[:N_LARCH] ** 2)))]])
    else:
        print("\nxraylarch not installed: the pre_edge comparison is skipped (pip install xraylarch).")
    print(f"\nacceptance {'PASS' if ok_fit and ok_norm else 'FAIL'}")


if __name__ == "__main__":
    main()
