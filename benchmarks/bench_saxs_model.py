"""Benchmark the SAXS/WAXS intensity model (forward/saxs/model.py) and compare its spheres with sasmodels.

Cases
-----
(a) The full eq. 1-4 model (:class:`forward.saxs.model.HardCarbonTerms`) of 10^6 electrode voxels
    at 200 q points (0.004-2.5 1/A, log-spaced), float32 output (800 MB): the terms of the default
    3D capillary twin at op 5 (``capillary_cell(time_min=65)``; Schulz micropores pd 0.3 with the
    Percus-Yevick S(q), Porod, five Gaussians, flat background), its 131 940 electrode voxels
    repeated to 10^6. Run in a fresh process pinned to 2 CPUs (:func:`_common.run_child`), which
    reports the time of the ``intensity_per_cm`` call (after a warm-up call on 1000 voxels that
    loads the numba kernels) and the raw peak RSS of the process. Also: the default capillary's
    131 940 electrode voxels x 200 q in this process (target of the spec: < 1 s).
(b) Spheres against sasmodels (``load_model("sphere", dtype="double")``, its compiled C kernel,
    ``call_kernel``): absolute intensity of spheres R = 50 A, volume fraction 0.01, Delta SLD 1e-6/A^2
    (a) monodisperse and (b) Schulz pd 0.3. Two shapes of work: one curve of 10^6 q points, and
    2000 curves (radii 40-60 A) of 200 q points each, sasmodels called once per curve (its kernel
    takes one parameter set per call). sasmodels integrates the Schulz distribution by quadrature
    (``radius_pd_n`` points over ``radius_pd_nsigma`` standard deviations; set to SasView's defaults
    35 and 3, which must be passed explicitly to ``call_kernel``, whose default is no dispersion);
    xtwin's is the closed form (tabulated in q R for HardCarbonTerms, exact in
    ``sphere_intensity_per_cm``). Reported: best-of times, ratio = sasmodels s / xtwin s, and the
    largest relative difference (monodisperse: rounding; Schulz: sasmodels' quadrature error, shown
    for its defaults and for 200 points over 8 sigma).

Run from the repository root: ``python benchmarks/bench_saxs_model.py`` (about 1-2 minutes on 2 cores;
case (b) is skipped without sasmodels).
"""

from __future__ import annotations

import json
from importlib import util

import numpy as np

from _common import best_of, header, max_rel_diff, print_table, run_child
from forward.saxs import model
from twin.generators.capillary import capillary_cell

HAVE_SASMODELS = util.find_spec("sasmodels") is not None
Q = np.geomspace(0.004, 2.5, 200)
N_VOXELS = 1_000_000

CHILD = """
import json, time
import numpy as np
from forward.saxs import model
from twin.generators.capillary import capillary_cell
twin = capillary_cell(time_min=65.0)
mask, terms = model.voxel_terms(twin)
electrode = np.flatnonzero(twin.labels[mask] == 4)
big = terms.subset(np.resize(electrode, {n}))
q = np.geomspace(0.004, 2.5, 200)
big.subset(slice(0, 1000)).intensity_per_cm(q, dtype=np.float32)
start = time.perf_counter()
out = big.intensity_per_cm(q, dtype=np.float32)
elapsed = time.perf_counter() - start
print(json.dumps({{"s": elapsed, "n": len(big), "mean": float(out.mean(dtype=np.float64)),
                  "nbytes": out.nbytes}}))
"""


def case_full_model() -> None:
    twin = capillary_cell(time_min=65.0)
    mask, terms = model.voxel_terms(twin)
    electrode = terms.subset(np.flatnonzero(twin.labels[mask] == 4))
    electrode.intensity_per_cm(Q)
    out = np.empty((len(electrode), Q.size))
    seconds, _ = best_of(lambda: electrode.intensity_per_cm(Q, out=out), repeats=5)
    run = run_child(CHILD.format(n=N_VOXELS))
    result = json.loads(run.stdout.splitlines()[-1])
    print("\n## Eq. 1-4 model, electrode voxels of the capillary at op 5, 200 q (0.004-2.5 1/A)\n")
    print_table(["case", "voxels", "elements", "xtwin s", "ns per element", "output MB", "peak RSS MB"], [
        ("default capillary, float64, this process", len(electrode), len(electrode) * Q.size, seconds,
         seconds / (len(electrode) * Q.size) * 1e9, out.nbytes / 1e6, "-"),
        ("10^6 voxels, float32, own process on 2 CPUs", result["n"], result["n"] * Q.size, result["s"],
         result["s"] / (result["n"] * Q.size) * 1e9, result["nbytes"] / 1e6, run.peak_rss_bytes / 1e6),
    ])


def case_sasmodels() -> None:
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    sphere = load_model("sphere", dtype="double")
    radius, phi, dsld = 50.0, 0.01, 1e-6
    rows = []
    # one long curve
    q_long = np.geomspace(1e-3, 1.0, 1_000_000)
    kernel_long = sphere.make_kernel([q_long])
    # many short curves
    radii = np.linspace(40.0, 60.0, 2000)
    q_short = np.geomspace(1e-3, 0.5, 200)
    kernel_short = sphere.make_kernel([q_short])
    for label, pd in (("monodisperse", 0.0), ("Schulz pd 0.3", 0.3)):
        pars = dict(scale=phi, background=0.0, sld=dsld * 1e6, sld_solvent=0.0, radius=radius,
                    radius_pd=pd, radius_pd_type="schulz", radius_pd_n=35, radius_pd_nsigma=3)
        mine_s, mine = best_of(lambda pd=pd: model.sphere_intensity_per_cm(q_long, radius, phi, dsld, pd))
        theirs_s, theirs = best_of(lambda pars=pars: call_kernel(kernel_long, pars))
        fine = call_kernel(kernel_long, {**pars, "radius_pd_n": 200, "radius_pd_nsigma": 8}) if pd else theirs
        rows.append((f"{label}, 1 curve x 10^6 q", mine_s, theirs_s, theirs_s / mine_s,
                     max_rel_diff(theirs, mine), max_rel_diff(fine, mine)))

        grid_r = np.repeat(radii[:, None], q_short.size, axis=1)
        terms = model.HardCarbonTerms(
            porod_scale_per_cm=0.0, porod_exponent=4.0, micropore_volume_fraction=np.full(radii.size, phi),
            micropore_radius_A=radii, micropore_polydispersity=pd, micropore_delta_sld_per_A2=dsld,
            g002_amplitude_per_cm=0.0, q002_inv_A=1.55, g002_sigma_inv_A=0.2, na_metal_amplitude_per_cm=0.0,
            na_pseudo_amplitude_per_cm=0.0, pvdf_amplitude_per_cm=0.0, binder_saxs_amplitude_per_cm=0.0,
            background_per_cm=0.0)
        terms.intensity_per_cm(q_short)
        mine_s, mine = best_of(lambda terms=terms: terms.intensity_per_cm(q_short))
        exact = model.sphere_intensity_per_cm(q_short[None, :], grid_r, phi, dsld, pd)

        def loop(extra=None, pars=pars):
            return np.array([call_kernel(kernel_short, {**pars, "radius": r, **(extra or {})}) for r in radii])
        theirs_s, theirs = best_of(loop)
        fine = loop({"radius_pd_n": 200, "radius_pd_nsigma": 8}) if pd else theirs
        rows.append((f"{label}, 2000 curves x 200 q (HardCarbonTerms)", mine_s, theirs_s, theirs_s / mine_s,
                     max_rel_diff(theirs, mine), max_rel_diff(fine, mine)))
        rows.append(("  (HardCarbonTerms vs exact closed form)", "-", "-", "-", max_rel_diff(mine, exact), "-"))
    print("\n## Spheres vs sasmodels (absolute intensity, R = 50 A, phi 0.01, dSLD 1e-6/A^2)\n")
    print_table(["case", "xtwin s", "sasmodels s", "ratio", "max rel diff (sasmodels default)",
                 "max rel diff (sasmodels 200 pts, 8 sigma)"], rows)


def main() -> None:
    header("bench_saxs_model", ["numpy", "numba"] + (["sasmodels"] if HAVE_SASMODELS else []))
    case_full_model()
    if HAVE_SASMODELS:
        case_sasmodels()
    else:
        print("\n(sasmodels not installed: sphere comparison skipped)")


if __name__ == "__main__":
    main()
