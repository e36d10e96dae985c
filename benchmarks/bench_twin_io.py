"""Benchmark saving and loading twins against plain h5py and numpy files.

Cases
-----
* Save, load and save + load of a 256^3 twin (:func:`_common.cathode_twin`:
  uint8 labels, one float32 field ``soc``, 4 phases) with
  :func:`twin.io.save` / :func:`twin.io.load` (HDF5, gzip level 4 +
  shuffle, atomic rename, validation of the loaded twin) against
  - h5py writing and reading the same two arrays uncompressed, and
  - ``np.savez_compressed`` / ``np.load`` of the same two arrays (zip
    deflate, no shuffle).
  The size of each file on disk is printed too.
* :func:`twin.io.to_vtk` and :func:`twin.io.save_vtk` of a 128^3 twin
  (no reference: both are thin layers over pyvista/VTK).

Every time is the best of up to 3 calls (``time.perf_counter``). Files go to
a temporary folder that is removed at the end; writes are not fsynced and
reads right after a write come from the page cache, so the times measure
encoding and decoding rather than the disk. ``ratio`` is reference s /
xtwin s (> 1: xtwin is faster).

Run from the repository root: ``python benchmarks/bench_twin_io.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import h5py
import numpy as np

from _common import best_of, cathode_twin, header, print_table
from twin import io

REPEATS = 3


def h5py_save(path: Path, labels: np.ndarray, soc: np.ndarray) -> None:
    """Write the two arrays as uncompressed, contiguous HDF5 datasets."""
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=labels)
        f.create_dataset("soc", data=soc)


def h5py_load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the two arrays written by :func:`h5py_save`."""
    with h5py.File(path, "r") as f:
        return f["labels"][()], f["soc"][()]


def npz_load(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Read the two arrays of a ``.npz`` archive (decompressing them)."""
    with np.load(path) as f:
        return f["labels"], f["soc"]


def megabytes(path: Path) -> float:
    """Size of ``path`` on disk, MB (10^6 bytes)."""
    return path.stat().st_size / 1e6


def main() -> None:
    """Time the HDF5 and VTK paths and print two tables."""
    header("bench_twin_io", ["numpy", "h5py", "pyvista", "vtk"])
    twin = cathode_twin(256)
    labels, soc = np.asarray(twin.labels), np.asarray(twin.fields["soc"])
    print(f"twin 256^3: labels {labels.dtype} {labels.nbytes / 1e6:.1f} MB, "
          f"soc {soc.dtype} {soc.nbytes / 1e6:.1f} MB in memory")
    with tempfile.TemporaryDirectory(prefix="xtwin-bench-") as folder:
        folder = Path(folder)
        paths = {"xtwin": folder / "twin.h5", "h5py": folder / "raw.h5", "npz": folder / "arrays.npz"}
        t_save, _ = best_of(lambda: io.save(twin, paths["xtwin"], overwrite=True), repeats=REPEATS)
        t_load, loaded = best_of(lambda: io.load(paths["xtwin"]), repeats=REPEATS)
        if loaded != twin:
            raise RuntimeError("twin.io.load(save(twin)) differs from twin")
        references = {
            "h5py uncompressed": (lambda: h5py_save(paths["h5py"], labels, soc), lambda: h5py_load(paths["h5py"]),
                                  paths["h5py"]),
            "np.savez_compressed": (lambda: np.savez_compressed(paths["npz"], labels=labels, soc=soc),
                                    lambda: npz_load(paths["npz"]), paths["npz"]),
        }
        rows, sizes = [], [("xtwin HDF5 gzip 4 + shuffle", megabytes(paths["xtwin"]))]
        for name, (save, load, path) in references.items():
            t_ref_save, _ = best_of(save, repeats=REPEATS)
            t_ref_load, _ = best_of(load, repeats=REPEATS)
            rows += [(f"save 256^3 vs {name}", t_save, t_ref_save, t_ref_save / t_save),
                     (f"load 256^3 vs {name}", t_load, t_ref_load, t_ref_load / t_load),
                     (f"save+load 256^3 vs {name}", t_save + t_load, t_ref_save + t_ref_load,
                      (t_ref_save + t_ref_load) / (t_save + t_load))]
            sizes.append((name, megabytes(path)))
        print_table(("case", "xtwin s", "reference s", "ratio"), rows)
        print()
        raw_mb = (labels.nbytes + soc.nbytes) / 1e6
        print_table(("file", "MB on disk", "in-memory MB / file MB"),
                    [(name, mb, raw_mb / mb) for name, mb in sizes])
        print()

        small = cathode_twin(128)
        vti = folder / "twin.vti"
        t_vtk, _ = best_of(lambda: io.to_vtk(small), repeats=REPEATS)
        t_vti, _ = best_of(lambda: io.save_vtk(small, vti, overwrite=True), repeats=REPEATS)
        print_table(("case", "xtwin s", "MB on disk"),
                    [("to_vtk 128^3", t_vtk, "-"), ("save_vtk 128^3 (.vti)", t_vti, megabytes(vti))])


if __name__ == "__main__":
    main()
