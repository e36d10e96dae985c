"""Helpers shared by the benchmark scripts: timing, tables and a test twin.

Not a benchmark itself (``run.py`` only runs ``bench_*.py``). The scripts
import it as a sibling module, which works because Python puts the
script's folder first on ``sys.path``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import time
from importlib import metadata
from typing import Any, Callable, Sequence

import numpy as np

from twin import materials
from twin.container import Provenance, Twin
from twin.generators.spheres import random_spheres

#: Voxel edge of the benchmark twins, um.
VOXEL_SIZE_UM = 0.5
#: Thickness of the steel current collector and of the Kapton window, voxels.
SLAB_VOXELS = 16


def header(title: str, packages: Sequence[str]) -> None:
    """Print the title, date, machine, load, thread setting and the versions of ``packages``.

    The 1-minute load average shows whether other work shared the CPUs;
    ``OMP_NUM_THREADS`` matters because xraylib_np runs OpenMP loops.
    """
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    print(f"# {title}")
    print(f"date {_dt.date.today().isoformat()}, {platform.machine()} with {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"Python {platform.python_version()}, {versions}")


def best_of(fn: Callable[[], Any], *, repeats: int = 5, budget_s: float = 3.0) -> tuple[float, Any]:
    """Best wall time of ``fn()`` over up to ``repeats`` calls, seconds, and its last result.

    Calls stop early once their summed time exceeds ``budget_s`` (at least one
    call is always made), so that slow references do not dominate the run.
    """
    best, spent, calls = np.inf, 0.0, 0
    while calls < repeats and (calls == 0 or spent < budget_s):
        start = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - start
        best, spent, calls = min(best, elapsed), spent + elapsed, calls + 1
    return best, result


def max_rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """Largest ``|a - b| / |b|`` over the entries where ``b`` is not zero."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nonzero = b != 0
    return float(np.max(np.abs(a[nonzero] - b[nonzero]) / np.abs(b[nonzero])))


def print_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print ``rows`` under ``columns`` as a Markdown table (floats in 4 significant digits)."""
    def cell(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        print("| " + " | ".join(cell(v) for v in row) + " |")


def cathode_twin(n: int, seed: int = 0) -> Twin:
    """A cubic ``n^3`` twin of a cathode in a cell, with four phases and a float32 field.

    NMC811 spheres (label 1) in LP30 electrolyte (label 0) from
    :func:`twin.generators.spheres.random_spheres`; the first and last
    :data:`SLAB_VOXELS` z-slices are overwritten by a stainless-steel current
    collector (label 2) and a Kapton window (label 3). Labels are uint8. The
    field ``soc`` (float32) is a shrinking-core profile ``0.2 + 0.7 (d/r)^2``
    inside the NMC811 voxels and NaN elsewhere.
    """
    box_um = n * VOXEL_SIZE_UM
    spheres = random_spheres(shape=(n, n, n), voxel_size_um=VOXEL_SIZE_UM, n_spheres=30,
                             radius_um=(0.08 * box_um, 0.16 * box_um), particle="NMC811",
                             medium="LiPF6 EC:DMC", seed=seed)
    labels = spheres.labels.copy()
    labels[:SLAB_VOXELS] = 2
    labels[-SLAB_VOXELS:] = 3
    soc = np.full(labels.shape, np.nan, dtype=np.float32)
    for center, radius in zip(spheres.truth["spheres/center_um"], spheres.truth["spheres/radius_um"]):
        lo = np.maximum(np.floor((center - radius) / VOXEL_SIZE_UM).astype(int), 0)
        hi = np.minimum(np.ceil((center + radius) / VOXEL_SIZE_UM).astype(int), n)
        offsets = np.meshgrid(*[(np.arange(a, b) + 0.5) * VOXEL_SIZE_UM - c for a, b, c in zip(lo, hi, center)],
                              indexing="ij", sparse=True)
        rho2 = sum(o**2 for o in offsets) / radius**2
        inside = rho2 <= 1.0
        soc[tuple(slice(a, b) for a, b in zip(lo, hi))][inside] = 0.2 + 0.7 * rho2[inside]
    soc[labels != 1] = np.nan
    phases = {0: materials.get("LiPF6 EC:DMC"), 1: materials.get("NMC811"),
              2: materials.get("stainless steel"), 3: materials.get("Kapton")}
    provenance = Provenance("benchmarks._common.cathode_twin", {"n": n, "slab_voxels": SLAB_VOXELS}, seed)
    return Twin(labels, VOXEL_SIZE_UM, phases, fields={"soc": soc}, truth=spheres.truth, provenance=provenance)
