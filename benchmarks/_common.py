"""Helpers shared by the benchmark scripts: timing, tables, a test twin and measured child processes.

Not a benchmark itself (``run.py`` only runs ``bench_*.py``). The scripts
import it as a sibling module, which works because Python puts the
script's folder first on ``sys.path``.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ChildRun:
    """Wall time, peak memory and output of one Python child process (:func:`run_child`)."""

    wall_s: float
    peak_rss_bytes: int
    returncode: int
    stdout: str


# Linux keeps a process's peak RSS across execve, and a child forked from this
# (large) benchmark process starts with this process's pages mapped, so the
# child's ru_maxrss would be at least ours. The child is therefore started by
# a small launcher (a bare interpreter, no site) that forks and execs it, and
# reports its wall time, ru_maxrss (KiB on Linux) and exit status after a marker.
_MARKER = "@@run_child@@"
_LAUNCHER = f"""
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
sys.stdout.write("\\n{_MARKER} %r %d %d\\n" % (wall, usage.ru_maxrss, os.waitstatus_to_exitcode(status)))
"""


def run_child(code: str, *, cpus: int | None = 2) -> ChildRun:
    """Run ``python -c code`` in a fresh interpreter; return its wall time and peak resident memory.

    The peak is the child's own ``ru_maxrss`` as the kernel reports it when
    the child is reaped (``os.wait4``, the per-child form of
    ``getrusage(RUSAGE_CHILDREN)``, what ``/usr/bin/time -v`` prints as
    "Maximum resident set size"), raw: the interpreter and its imports are
    included. The child is forked from a small launcher rather than from
    this process, whose own peak it would otherwise inherit. The wall time
    runs from the fork to the child's exit. With ``cpus``, the child is
    pinned to the first ``cpus`` CPUs this process may use (no change when
    there are no more than that). stderr is passed through; stdout is
    returned.
    """
    allowed = sorted(os.sched_getaffinity(0))
    pin = None
    if cpus is not None and len(allowed) > cpus:
        def pin() -> None:
            os.sched_setaffinity(0, allowed[:cpus])
    launcher = subprocess.run([sys.executable, "-S", "-c", _LAUNCHER, sys.executable, "-c", code],
                              stdout=subprocess.PIPE, text=True, preexec_fn=pin, check=False)
    out, _, tail = launcher.stdout.rpartition(_MARKER)
    if launcher.returncode or not tail:
        raise RuntimeError(f"run_child: the launcher failed with exit status {launcher.returncode}")
    wall, maxrss_kib, status = tail.split()
    return ChildRun(float(wall), int(maxrss_kib) * 1024, int(status), out.rstrip("\n"))
