"""Write a solved network for the users' tools: HDF5 with units, or VTK image data for ParaView/pyvista."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from forward.conduction.network import NetworkSolution
from xtwin import files


def save_solution(solution: NetworkSolution, path: str | os.PathLike, *, voxel_size_um: float,
                  overwrite: bool = False) -> Path:
    """Write potential, current density and electric field, atomically.

    ``.h5``/``.hdf5``: datasets ``potential_V``, ``current_density_A_per_m2``
    and ``electric_field_V_per_m`` (components first, array-axis order),
    each with ``units`` and ``axes`` attributes, and the electrode table.
    ``.vti``: cell data of one cell per voxel (vectors in VTK's x, y, z
    order) for ParaView and pyvista. Read back with h5py or pyvista.
    """
    p = Path(path)
    if p.suffix not in (".h5", ".hdf5", ".vti"):
        raise ValueError(f"path={str(path)!r}: expected a .h5/.hdf5 (HDF5) or .vti (VTK image data) file name")
    ndim = solution.potential_V.ndim
    axes = "zyx"[3 - ndim:]
    with files.atomic_path(p, overwrite=overwrite) as tmp:
        if p.suffix == ".vti":
            _to_vtk(solution, voxel_size_um).save(tmp)
            return p
        import h5py

        with h5py.File(tmp, "w") as f:
            f.attrs.update({"voxel_size_um": voxel_size_um, "axes": axes,
                            "total_current_A": solution.total_current_A,
                            "conservation_rel": solution.conservation_rel})
            for name, data, unit in (("potential_V", solution.potential_V, "V"),
                                     ("current_density_A_per_m2", solution.current_density_A_per_m2, "A/m^2"),
                                     ("electric_field_V_per_m", solution.electric_field_V_per_m, "V/m")):
                d = f.create_dataset(name, data=data, compression="gzip", shuffle=True)
                d.attrs.update({"units": unit, "axes": axes if data.ndim == ndim else "k" + axes})
            g = f.create_group("electrodes")
            g.create_dataset("name", data=np.array(solution.electrode_names, dtype=h5py.string_dtype()))
            g.create_dataset("potential_V", data=solution.electrode_potential_V)
            g.create_dataset("current_A", data=solution.electrode_current_A)
    return p


def _to_vtk(solution: NetworkSolution, voxel_size_um: float):
    import pyvista as pv

    phi = solution.potential_V
    shape3 = phi.shape if phi.ndim == 3 else (1, *phi.shape)
    nz, ny, nx = shape3
    grid = pv.ImageData(dimensions=(nx + 1, ny + 1, nz + 1), spacing=(voxel_size_um,) * 3)
    grid.cell_data["potential_V"] = np.ascontiguousarray(phi).ravel()
    for name, vectors in (("current_density_A_per_m2", solution.current_density_A_per_m2),
                          ("electric_field_V_per_m", solution.electric_field_V_per_m)):
        # Components in array order [z,] y, x -> VTK's x, y, z.
        xyz = [vectors[k].ravel() for k in range(vectors.shape[0])][::-1]
        if len(xyz) == 2:
            xyz.append(np.zeros_like(xyz[0]))
        grid.cell_data[name] = np.stack(xyz, axis=1)
    return grid
