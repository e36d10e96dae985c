"""Benchmark XCS (Compton scattering imaging): the forward cube and its EMF map, acceptance of issue 8.

Issue 8: "simulate an 80 x 80 x 1000-channel cube from a 256^3 cell twin, and invert it to an EMF map;
report time and memory (target under 30 s for the forward cube and under 2 s for the inversion on two
cores)".

Cases (each in a fresh Python process pinned to 2 CPUs, :func:`_common.run_child`)
----------------------------------------------------------------------------------
* ``256^3``: the LIB coin cell of seeds/001 (``twin.generators.coin_cell(variant="lib", ndim=3)``) at
  12.5 um voxels over a 3.2 mm field of view: 260 x 256 x 256 = 17.0 M voxels (the cell is 3.2 mm high,
  so a cube of 256^3 voxels holding the whole height has a 3.2 mm lateral field). The 250 um sheet then
  covers 20 slices (1.3 M illuminated voxels), each ray to the pinhole crosses up to ~130 slices.
* ``whole cell``: the same cell at 78.125 um voxels (the 20 mm diameter on 256 voxels plus the generator's
  two voxels of air each side; separator widened to one voxel): 45 x 260 x 260 = 3.0 M voxels, 4
  illuminated slices of 67 600 voxels, filling the HEXITEC's 20 mm field.

The sheet sits at mid-height of the cathode; flux 1e12 photons/s through the sheet, 720 s (the source's
12 min per plane), the source's camera and ``Hexitec()`` (80 x 80 pixels, 0-200 keV in 0.2 keV), Poisson
counts. Timed: ``forward.compton.simulate.simulate(...)`` (everything from the twin to the int64 cube),
then ``inverse.compton.emf_map(measurement)`` per pixel and with 4 x 4 binning (when inverse/compton is
present). The twin is generated in the same process before timing; the raw peak RSS of the process
(interpreter, imports, twin, cube) is reported. PASS: forward < 30 s, inversion < 2 s.

Run from the repository root: ``python benchmarks/bench_compton.py`` (about 1 minute on 2 cores).
"""

from __future__ import annotations

import json
import sys
from importlib import util

from _common import header, print_table, run_child

FORWARD_LIMIT_S = 30.0
INVERSE_LIMIT_S = 2.0
HAVE_INVERSE = util.find_spec("inverse.compton") is not None
CASES = [  # name, coin_cell keyword arguments
    ("256^3 (12.5 um, 3.2 mm field)", dict(voxel_size_um=12.5, field_of_view_mm=3.2)),
    ("whole cell (78.125 um)", dict(voxel_size_um=78.125, separator_thickness_um=78.125)),
]

_CHILD = """
import json, resource, time
import numpy as np
from twin.generators.coin_cell import coin_cell
from forward.compton.simulate import simulate
twin = coin_cell(variant="lib", ndim=3, **{kwargs!r})
sheet_z = float(np.mean(twin.truth["cathode/z_range_um"]))
start = time.perf_counter()
m = simulate(twin, sheet_z_um=sheet_z, flux_ph_per_s=1e12, exposure_s=720.0, seed=0)
forward_s = time.perf_counter() - start
out = {{"shape": list(twin.shape), "voxels": int(twin.labels.size), "cube": list(m.shape),
        "illuminated": m.metadata["simulation"]["illuminated_voxels"], "forward_s": forward_s,
        "counts": int(m.counts.sum()), "peak_kev": float(m.energy_kev[np.argmax(m.spectrum())])}}
if {inverse!r}:
    from inverse.compton import emf_map
    start = time.perf_counter()
    r1 = emf_map(m)
    out["inverse_s"] = time.perf_counter() - start
    start = time.perf_counter()
    r4 = emf_map(m, binning=4)
    out["inverse_binned_s"] = time.perf_counter() - start
    out["emf_median"] = float(np.nanmedian(r1.emf))
    out["emf_sigma_median"] = float(np.nanmedian(r1.sigma))
    out["emf_sigma_median_4x4"] = float(np.nanmedian(r4.sigma))
print(json.dumps(out))
"""


def main() -> None:
    header("XCS forward cube and EMF map (issue 8)", ["numpy", "scipy", "xraylib", "h5py"])
    rows, detail = [], []
    for name, kwargs in CASES:
        run = run_child(_CHILD.format(kwargs=kwargs, inverse=HAVE_INVERSE))
        if run.returncode:
            sys.exit(f"child process failed with exit status {run.returncode}")
        r = json.loads(run.stdout.strip().splitlines()[-1])
        inv = r.get("inverse_s", float("nan"))
        ok = r["forward_s"] < FORWARD_LIMIT_S and (not HAVE_INVERSE or inv < INVERSE_LIMIT_S)
        rows.append([name, " x ".join(map(str, r["shape"])), r["illuminated"], " x ".join(map(str, r["cube"])),
                     r["forward_s"], inv, r.get("inverse_binned_s", float("nan")), run.wall_s,
                     run.peak_rss_bytes / 1e6, "PASS" if ok else "FAIL"])
        detail.append([name, r["counts"], r["peak_kev"], r.get("emf_median", float("nan")),
                       r.get("emf_sigma_median", float("nan")), r.get("emf_sigma_median_4x4", float("nan"))])
    print_table(["case", "twin voxels", "illuminated voxels", "cube", "simulate s", "emf_map s", "emf_map 4x4 s",
                 "process wall s", "peak RSS MB", "target"], rows)
    print()
    print_table(["case", "total counts", "global peak keV", "median EMF", "median sigma(EMF) per pixel",
                 "median sigma(EMF) 4x4"], detail)


if __name__ == "__main__":
    main()
