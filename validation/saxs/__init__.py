"""Validation of scanning SWAXS and SAXS tomography (seeds/000) on the capillary twin.

``run`` gathers two groups of checks, each in its own module:

- :mod:`validation.saxs.operando`: the operando raster series (pristine, op
  1-5): (a) the 002 position and interlayer spacing against the truth and
  Table S2, (b) the micropore-intensity change and the pore filling it
  implies, (c) where and when plating starts;
- :mod:`validation.saxs.tomography`: (d) the per-voxel pore filling from a
  pristine and a sodiated SAXS tomogram against the truth.
"""

from __future__ import annotations

import time
from pathlib import Path

from validation.report import Report
from xtwin import arguments


def run(*, seed: int = 0, out_dir: str | Path | None = None) -> Report:
    """All SAXS/WAXS checks as one report. Cost: about 15-20 s on two cores."""
    from validation.saxs import operando, tomography

    seed = arguments.integer("seed", seed, minimum=0)
    checks, timings, artefacts = [], {}, []
    twin = operando.scenario(seed)
    start = time.perf_counter()
    series = operando.compute(twin, seed)
    checks += operando.checks(series)
    timings["operando"] = time.perf_counter() - start
    start = time.perf_counter()
    tomo = tomography.compute(twin, seed)
    checks += tomography.checks(tomo)
    timings["tomography"] = time.perf_counter() - start
    if out_dir is not None:
        artefacts = operando.artefacts(series, Path(out_dir)) + tomography.artefacts(tomo, Path(out_dir))
    return Report("saxs", checks, seed=seed, timings_s=timings, artefacts=artefacts)
