"""Validation of DC conduction (seeds/003, chapter 4): analytic cases, finite elements, the lamella, fits.

``run`` gathers four groups of checks, each in its own module:

- :mod:`validation.conduction.analytic`: closed forms (slab, series and
  parallel layers, Dykhne's checkerboard, a tilted layered crystal,
  Hashin-Shtrikman bounds, Equation 4-1 and the thin-film limit);
- :mod:`validation.conduction.crosscheck`: the network against Q1 finite
  elements on a random polycrystal, converging under refinement;
- :mod:`validation.conduction.lamella`: the in situ biasing lamella in its
  isotropic, reduced and full systems (Figure 4.15);
- :mod:`validation.conduction.fit`: simulate -> fit -> compare of the
  transport parameters (inverse.conduction).
"""

from __future__ import annotations

import time
from pathlib import Path

from validation.report import Report
from xtwin import arguments


def run(*, seed: int = 0, out_dir: str | Path | None = None) -> Report:
    """All conduction checks as one report. Cost: about 3-5 s on two cores once numba has cached its compiled
    kernels (the first run in a fresh environment compiles them, some tens of seconds)."""
    from validation.conduction import analytic, crosscheck, fit, lamella

    seed = arguments.integer("seed", seed, minimum=0)
    checks, timings = [], {}
    start = time.perf_counter()
    checks += analytic.checks()
    timings["analytic"] = time.perf_counter() - start
    start = time.perf_counter()
    checks += crosscheck.checks(seed)
    timings["network_vs_fem"] = time.perf_counter() - start
    start = time.perf_counter()
    lamella_checks, artefacts = lamella.checks(seed, out_dir)
    checks += lamella_checks
    timings["lamella"] = time.perf_counter() - start
    start = time.perf_counter()
    checks += fit.checks(seed)
    timings["fit"] = time.perf_counter() - start
    return Report("conduction", checks, seed=seed, timings_s=timings, artefacts=artefacts)
