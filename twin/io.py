"""Reading and writing twins: lossless HDF5 and VTK image data.

HDF5 layout (schema ``xtwin.twin``, version :data:`SCHEMA_VERSION`)::

    /                 attrs: xtwin_schema, schema_version, xtwin_version,
                             voxel_size_um, axes ("zyx" or "yx")
    /labels           phase label per voxel (gzip, shuffle)
    /phases/<label>   attrs: name, formula, density_g_cm3, density_source,
                             description; datasets: elements (Z), mass_fractions
    /fields/<name>    per-voxel fields
    /grains/ids, /grains/orientations   (optional)
    /truth/...        generator truth, '/' in keys become groups
    /provenance       attrs: generator, parameters_json, seed, xtwin_version,
                             created_utc

Datasets keep their dtype, and floats are stored bit for bit, so
``load(save(twin)) == twin``. Any HDF5 reader (h5py, HDFView, silx) can
browse the file; ParaView reads the ``.vti`` written by :func:`save_vtk`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from twin.container import Provenance, Twin
from twin.materials import Material
from xtwin import files

SCHEMA = "xtwin.twin"
SCHEMA_VERSION = 1
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}


class TwinFileError(ValueError):
    """A file that is not a readable xtwin twin (corrupt, truncated, or another schema)."""


def save(twin: Twin, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``twin`` to an HDF5 file, atomically.

    Parameters
    ----------
    twin : Twin
    path : path-like
        Destination, conventionally ``*.h5``.
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError``.

    Notes
    -----
    Cost: one pass over every array plus gzip (about 50-100 MB/s per core).
    """
    with files.atomic_path(path, overwrite=overwrite) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update({"xtwin_schema": SCHEMA, "schema_version": SCHEMA_VERSION,
                            "xtwin_version": twin.provenance.xtwin_version,
                            "voxel_size_um": twin.voxel_size_um, "axes": "zyx"[3 - twin.ndim:]})
            _dataset(f, "labels", twin.labels)
            phases = f.create_group("phases")
            for label, material in twin.phases.items():
                g = phases.create_group(str(label))
                g.attrs.update({"name": material.name, "formula": material.formula or "",
                                "density_g_cm3": material.density_g_cm3,
                                "density_source": material.density_source,
                                "description": material.description})
                g.create_dataset("elements", data=material.elements)
                g.create_dataset("mass_fractions", data=material.weights)
            fields = f.create_group("fields", track_order=True)
            for name, values in twin.fields.items():
                _dataset(fields, name, values)
            if twin.grain_ids is not None:
                grains = f.create_group("grains")
                _dataset(grains, "ids", twin.grain_ids)
                grains.create_dataset("orientations", data=twin.orientations)
            truth = f.create_group("truth")
            for key, values in twin.truth.items():
                truth.create_dataset(key, data=values)
            p = twin.provenance
            prov = f.create_group("provenance")
            prov.attrs.update({"generator": p.generator, "parameters_json": json.dumps(dict(p.parameters)),
                               # A decimal string: numpy seeds may exceed 64 bits (SeedSequence entropy).
                               "seed": "" if p.seed is None else str(p.seed),
                               "xtwin_version": p.xtwin_version, "created_utc": p.created_utc})
    return Path(path)


def load(path: str | os.PathLike) -> Twin:
    """Read a twin written by :func:`save`.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    TwinFileError
        The file is not HDF5, is truncated, lacks a part of the schema, or
        was written by a newer schema version. The file is only read, never
        modified.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such twin file")
    try:
        f = h5py.File(p, "r")
    except OSError as err:
        raise TwinFileError(f"{p}: not a readable HDF5 file (corrupt or truncated?): {err}") from None
    try:
        with f:
            return _read(f, p)
    except TwinFileError:
        raise
    except (KeyError, OSError, ValueError, TypeError) as err:
        raise TwinFileError(f"{p}: damaged or incomplete xtwin twin file: {err}") from None


def _read(f: h5py.File, p: Path) -> Twin:
    if f.attrs.get("xtwin_schema") != SCHEMA:
        raise TwinFileError(f"{p}: not an xtwin twin file (attribute xtwin_schema="
                            f"{f.attrs.get('xtwin_schema')!r}, expected {SCHEMA!r})")
    version = int(f.attrs["schema_version"])
    if version > SCHEMA_VERSION:
        raise TwinFileError(f"{p}: schema_version {version} is newer than this xtwin reads "
                            f"({SCHEMA_VERSION}); upgrade xtwin")
    phases = {}
    for key, g in f["phases"].items():
        fractions = dict(zip(g["elements"][()].tolist(), g["mass_fractions"][()].tolist()))
        phases[int(key)] = Material(str(g.attrs["name"]), fractions, float(g.attrs["density_g_cm3"]),
                                    formula=str(g.attrs["formula"]) or None,
                                    density_source=str(g.attrs["density_source"]),
                                    description=str(g.attrs["description"]))
    truth: dict[str, np.ndarray] = {}
    f["truth"].visititems(lambda name, obj: truth.__setitem__(name, obj[()])
                          if isinstance(obj, h5py.Dataset) else None)
    a = f["provenance"].attrs
    seed = str(a["seed"])
    provenance = Provenance(generator=str(a["generator"]), parameters=json.loads(a["parameters_json"]),
                            seed=int(seed) if seed else None, xtwin_version=str(a["xtwin_version"]),
                            created_utc=str(a["created_utc"]))
    grains = f.get("grains")
    return Twin(labels=f["labels"][()], voxel_size_um=float(f.attrs["voxel_size_um"]), phases=phases,
                fields={name: d[()] for name, d in f["fields"].items()},
                grain_ids=None if grains is None else grains["ids"][()],
                orientations=None if grains is None else grains["orientations"][()],
                truth=truth, provenance=provenance)


def _dataset(group: h5py.Group, name: str, data: np.ndarray) -> None:
    # Small arrays gain nothing from chunked compression and HDF5 refuses chunks on scalars.
    options = _COMPRESSION if data.size >= 4096 else {}
    group.create_dataset(name, data=data, **options)


def to_vtk(twin: Twin):
    """The twin as ``pyvista.ImageData`` with one cell per voxel.

    Cell arrays: ``phase`` (labels), every field, and ``grain_id`` when the
    twin has grains; spacing is ``voxel_size_um`` (lengths in um). A 2D twin
    becomes a single layer of cells. The phase names are stored in the field
    data ``phase_names`` as ``"label:name"`` strings.
    """
    import pyvista as pv

    shape3 = twin.shape if twin.ndim == 3 else (1, *twin.shape)
    nz, ny, nx = shape3
    grid = pv.ImageData(dimensions=(nx + 1, ny + 1, nz + 1), spacing=(twin.voxel_size_um,) * 3)
    # C-order ravel of [z, y, x] puts x fastest, which is VTK's cell order.
    grid.cell_data["phase"] = np.ascontiguousarray(twin.labels).ravel()
    for name, values in twin.fields.items():
        grid.cell_data[name] = np.ascontiguousarray(values).ravel()
    if twin.grain_ids is not None:
        grid.cell_data["grain_id"] = np.ascontiguousarray(twin.grain_ids).ravel()
    grid.field_data["phase_names"] = [f"{k}:{m.name}" for k, m in twin.phases.items()]
    return grid


def save_vtk(twin: Twin, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write the twin as VTK XML image data (``.vti``) for ParaView and pyvista, atomically."""
    p = Path(path)
    if p.suffix != ".vti":
        raise ValueError(f"path={str(path)!r}: expected a '.vti' file name (VTK XML image data)")
    with files.atomic_path(p, overwrite=overwrite) as tmp:
        to_vtk(twin).save(tmp)
    return p
