"""Tomography measurements: :class:`Projections` and their files (NXtomo, Data Exchange, TIFF).

A :class:`Projections` holds what a tomography detector records: raw counts
of every projection, the rotation angles, the flat (open beam) and dark (no
beam) frames, the pixel size referred to the sample, and the geometry. It
is the ``Measurement`` of the tomography modality (DESIGN.md, "The flow of
data"): :func:`forward.tomography.simulate.simulate` produces one from a
twin, the readers below build one from measured files, and the inverse
code consumes it without knowing which.

Files
-----
* NXtomo (NeXus application definition for tomography raw data,
  ``applications/NXtomo.nxdl.xml`` of nexusformat/definitions):
  ``/entry`` (NXentry, ``definition = "NXtomo"``),
  ``/entry/instrument/detector`` (NXdetector) with ``data[nFrames, rows,
  columns]`` and ``image_key[nFrames]`` (0 projection, 1 flat, 2 dark,
  3 invalid), ``x_pixel_size``/``y_pixel_size`` with a ``units``
  attribute, ``/entry/sample/rotation_angle[nFrames]`` in degrees and
  ``/entry/data`` (NXdata) holding links to those three. Frames are
  written darks first, then flats, then projections (the order of most
  beamlines). The definition types ``data`` as NX_INT; counts are written
  as float32 because simulated counts carry Gaussian read noise (HDF5
  readers convert on reading; NeXus viewers show float data). xtwin-only fields (the exact
  centre offset, cone distances, metadata as JSON) go into the NXcollection
  ``/entry/xtwin`` so that a file written here reads back bit for bit.
* Data Exchange (APS; De Carlo et al., J. Synchrotron Rad. 21 (2014)
  1224): ``/exchange/data``, ``data_white``, ``data_dark`` and ``theta``
  (degrees), as in ``../shared/data/tomography/tomopy_tooth_sinogram_row0.h5``.
* TIFF stack: a folder with ``projections.tif`` (one 32-bit float page per
  projection), ``flats.tif`` and ``darks.tif`` (the same, when present) and
  a JSON sidecar ``projections.json`` with the angles, the pixel size and
  the other scalars. Written by writing a hidden sibling folder and renaming
  it, so a reader never sees half a stack.

Writers are atomic and refuse to overwrite unless asked (DESIGN.md,
"Errors and data").
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

import h5py
import numpy as np
import tifffile

import xtwin
from xtwin import arguments, files
from xtwin.files import atomic_path

__all__ = ["IMAGE_KEY", "TIFF_SIDECAR", "Projections", "ProjectionsFileError"]

#: NXtomo ``image_key`` values (NXtomo.nxdl.xml, detector/image_key).
IMAGE_KEY = MappingProxyType({"projection": 0, "flat": 1, "dark": 2, "invalid": 3})
#: ESRF's ``image_key_control`` marks alignment projections with -1; they are not part of the scan.
_ALIGNMENT_KEY = -1
#: Name of the JSON sidecar of a TIFF stack folder.
TIFF_SIDECAR = "projections.json"
_TIFF_SCHEMA = "xtwin.tomo.tiff"
_NX_SCHEMA = "xtwin.tomo.nxtomo"
_SCHEMA_VERSION = 1
_GEOMETRIES = ("parallel", "cone")
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
#: Length units seen in NeXus and Data Exchange files, in micrometres.
_LENGTH_UM = {"m": 1e6, "metre": 1e6, "meter": 1e6, "cm": 1e4, "mm": 1e3, "um": 1.0, "µm": 1.0, "μm": 1.0,
              "micron": 1.0, "microns": 1.0, "micrometre": 1.0, "micrometer": 1.0, "nm": 1e-3}
_ANGLE_DEG = {"deg": 1.0, "degree": 1.0, "degrees": 1.0, "rad": 180.0 / math.pi, "radian": 180.0 / math.pi,
              "radians": 180.0 / math.pi}
_ENERGY_KEV = {"kev": 1.0, "ev": 1e-3, "mev": 1e3}
_TIME_S = {"s": 1.0, "second": 1.0, "seconds": 1.0, "sec": 1.0, "ms": 1e-3, "us": 1e-6}


class ProjectionsFileError(ValueError):
    """A file that cannot be read as tomography projections (wrong layout, missing fields)."""


# ---------------------------------------------------------------------- validation helpers
def _counts(name: str, value: Any, *, required: bool = True) -> np.ndarray | None:
    """Return a read-only float32 (n, rows, columns) stack of finite counts >= 0."""
    if value is None:
        if required:
            raise ValueError(f"{name}=None: expected an (n, rows, columns) array of detector counts")
        return None
    a = arguments.array(name, value, dtype_kind="iuf")
    if a.ndim != 3:
        raise ValueError(f"{name}: expected an (n, rows, columns) array of counts (a single slice is "
                         f"rows == 1, e.g. sinogram[:, None, :]), got shape {a.shape}")
    if a.size == 0:
        raise ValueError(f"{name}: expected at least one frame of at least one pixel, got shape {a.shape}")
    a = np.asarray(a, dtype=np.float32)
    # min/max propagate NaN and show infinities without a temporary as large as the stack.
    low, high = float(a.min()), float(a.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"{name}: expected finite counts, found {a[tuple(bad)]} at index {tuple(bad.tolist())}")
    if low < 0:
        bad = np.argwhere(a < 0)[0]
        raise ValueError(f"{name}: expected counts >= 0 (raw detector counts, not normalised or log data), "
                         f"found {a[tuple(bad)]:g} at index {tuple(bad.tolist())}")
    view = a.view()
    view.flags.writeable = False
    return view


def _angles_deg(value: Any, n: int) -> np.ndarray:
    a = arguments.angles_deg(value, n).copy()
    a.flags.writeable = False
    return a


def _optional(name: str, value: Any, check) -> Any:
    return None if value is None else check(name, value)




def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and np.array_equal(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return dict(a) == dict(b)
    return a == b


# ---------------------------------------------------------------------- the measurement
@dataclass(frozen=True, eq=False)
class Projections:
    """Raw tomography data: projections, flats, darks, angles and geometry.

    Parameters
    ----------
    counts : array_like, shape (n_angles, rows, columns)
        Detector counts of every projection, raw (not flat-field corrected
        or logged), finite and >= 0; stored as float32. A single slice
        (sinogram) is ``rows == 1``.
    angles_deg : array_like, shape (n_angles,)
        Rotation angle of each projection, degrees, finite. More than 8
        angles spanning at most 2 pi are refused as radians.
    pixel_size_um : float
        Detector pixel referred to the sample plane (at the rotation axis),
        after binning, um, > 0. For cone geometry the pixel on the detector
        is ``pixel_size_um * source_detector_um / source_origin_um``.
    flats, darks : array_like, shape (n, rows, columns), or None
        Open-beam (flat-field) and dark frames, counts, same rules as
        ``counts`` and the same ``(rows, columns)``.
    geometry : {"parallel", "cone"}
        Beam geometry; the rotation axis is vertical (along rows), at the
        detector centre plus ``centre_offset_px``.
    source_origin_um, source_detector_um : float or None
        Cone only (and then required): source-to-axis and source-to-detector
        distances, um, with ``source_detector_um > source_origin_um``.
    energy_kev : float or None
        (Mean) photon energy, keV.
    exposure_s : float or None
        Exposure of each frame, s.
    centre_offset_px : float or None
        Known column offset of the rotation axis from the detector centre,
        output pixels (positive towards larger columns); None when unknown
        (measured data).
    metadata : mapping
        JSON-serialisable description: instrument, twin provenance
        (generator, parameters, seed), true jitter of a simulation, ...

    Notes
    -----
    Arrays are kept as read-only float32 views (copied only when the input
    is not float32), so a large stack is not duplicated; do not modify an
    input array after handing it over. Two Projections compare equal when
    every array is equal element by element (same dtype) and every other
    field is equal.
    """

    counts: np.ndarray
    angles_deg: np.ndarray
    pixel_size_um: float
    flats: np.ndarray | None = None
    darks: np.ndarray | None = None
    geometry: str = "parallel"
    source_origin_um: float | None = None
    source_detector_um: float | None = None
    energy_kev: float | None = None
    exposure_s: float | None = None
    centre_offset_px: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = _counts("counts", self.counts)
        _set = object.__setattr__  # frozen dataclass: fields are written once, here
        _set(self, "counts", counts)
        _set(self, "angles_deg", _angles_deg(self.angles_deg, counts.shape[0]))
        _set(self, "pixel_size_um", arguments.positive("pixel_size_um", self.pixel_size_um, unit="um"))
        for name in ("flats", "darks"):
            frames = _counts(name, getattr(self, name), required=False)
            if frames is not None and frames.shape[1:] != counts.shape[1:]:
                raise ValueError(f"{name}: expected frames of (rows, columns) = {counts.shape[1:]} like the "
                                 f"projections, got {frames.shape[1:]} (shape {frames.shape})")
            _set(self, name, frames)
        arguments.one_of("geometry", self.geometry, _GEOMETRIES)
        so, sd = self.source_origin_um, self.source_detector_um
        if self.geometry == "cone":
            if so is None or sd is None:
                raise ValueError(f"source_origin_um={so!r}, source_detector_um={sd!r}: cone geometry needs "
                                 "both distances (um)")
            so = arguments.positive("source_origin_um", so, unit="um")
            sd = arguments.positive("source_detector_um", sd, unit="um")
            if sd <= so:
                raise ValueError(f"source_detector_um={sd!r}: expected more than source_origin_um={so!r} "
                                 "(the detector lies beyond the rotation axis)")
        elif so is not None or sd is not None:
            raise ValueError(f"source_origin_um={so!r}, source_detector_um={sd!r}: expected None for parallel "
                             "geometry (or geometry='cone')")
        _set(self, "source_origin_um", so)
        _set(self, "source_detector_um", sd)
        if self.energy_kev is not None:
            _set(self, "energy_kev", float(arguments.energies_kev("energy_kev", float(self.energy_kev))))
        _set(self, "exposure_s", _optional("exposure_s", self.exposure_s,
                                           lambda n, v: arguments.positive(n, v, unit="s")))
        _set(self, "centre_offset_px", _optional("centre_offset_px", self.centre_offset_px, arguments.finite))
        _set(self, "metadata", arguments.json_mapping("metadata", self.metadata))

    # ------------------------------------------------------------------ shape
    @property
    def n_angles(self) -> int:
        """Number of projections."""
        return self.counts.shape[0]

    @property
    def rows(self) -> int:
        """Detector rows (1 for a single slice)."""
        return self.counts.shape[1]

    @property
    def columns(self) -> int:
        """Detector columns."""
        return self.counts.shape[2]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Projections):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None  # array contents: not hashable

    def __repr__(self) -> str:
        n_f = 0 if self.flats is None else self.flats.shape[0]
        n_d = 0 if self.darks is None else self.darks.shape[0]
        return (f"Projections(n_angles={self.n_angles}, rows={self.rows}, columns={self.columns}, "
                f"angles {self.angles_deg.min():g}..{self.angles_deg.max():g} deg, "
                f"pixel_size_um={self.pixel_size_um:g}, flats={n_f}, darks={n_d}, geometry={self.geometry!r}, "
                f"energy_kev={self.energy_kev}, centre_offset_px={self.centre_offset_px})")

    def _scalars(self) -> dict[str, Any]:
        """Every field but the arrays, JSON-able (the sidecar and the /entry/xtwin attributes)."""
        return {"pixel_size_um": self.pixel_size_um, "geometry": self.geometry,
                "source_origin_um": self.source_origin_um, "source_detector_um": self.source_detector_um,
                "energy_kev": self.energy_kev, "exposure_s": self.exposure_s,
                "centre_offset_px": self.centre_offset_px, "metadata": dict(self.metadata)}

    # ------------------------------------------------------------------ NXtomo
    def to_nxtomo(self, path: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write an NXtomo HDF5 file, atomically.

        Parameters
        ----------
        path : path-like
            Destination, conventionally ``*.nx`` or ``*.h5``.
        overwrite : bool
            Replace an existing file; otherwise ``FileExistsError``.

        Returns
        -------
        pathlib.Path
            The path written.

        Notes
        -----
        Cost: one pass over the frames plus gzip (about 50-100 MB/s per
        core). Dark and flat frames are given the first projection angle as
        ``rotation_angle`` (they are taken before the scan).
        """
        frames = [(self.darks, IMAGE_KEY["dark"]), (self.flats, IMAGE_KEY["flat"]),
                  (self.counts, IMAGE_KEY["projection"])]
        frames = [(a, key) for a, key in frames if a is not None]
        n_frames = sum(a.shape[0] for a, _ in frames)
        keys = np.concatenate([np.full(a.shape[0], key, dtype=np.int32) for a, key in frames])
        angles = np.concatenate([self.angles_deg if key == 0 else np.full(a.shape[0], self.angles_deg[0])
                                 for a, key in frames])
        with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
            f.attrs.update({"NX_class": "NXroot", "default": "entry", "creator": f"xtwin {xtwin.__version__}",
                            "HDF5_Version": h5py.version.hdf5_version})
            entry = _nx_group(f, "entry", "NXentry", default="data")
            entry["definition"] = "NXtomo"
            entry["title"] = str(self.metadata.get("title", "xtwin tomography projections"))
            instrument = _nx_group(entry, "instrument", "NXinstrument")
            source = _nx_group(instrument, "source", "NXsource")
            source["probe"] = "x-ray"
            detector = _nx_group(instrument, "detector", "NXdetector")
            data = detector.create_dataset("data", shape=(n_frames, self.rows, self.columns), dtype=np.float32,
                                           chunks=(1, self.rows, self.columns), **_COMPRESSION)
            data.attrs["units"] = "counts"
            start = 0
            for a, _ in frames:
                data[start:start + a.shape[0]] = a
                start += a.shape[0]
            detector["image_key"] = keys
            for axis in ("x", "y"):
                detector[f"{axis}_pixel_size"] = self.pixel_size_um
                detector[f"{axis}_pixel_size"].attrs["units"] = "um"
            if self.exposure_s is not None:
                detector["count_time"] = self.exposure_s
                detector["count_time"].attrs["units"] = "s"
            if self.centre_offset_px is not None:
                detector["x_rotation_axis_pixel_position"] = 0.5 * (self.columns - 1) + self.centre_offset_px
            if self.geometry == "cone":
                # NXsource/distance is negative upstream of the sample (NXsource base class).
                source["distance"] = -self.source_origin_um
                source["distance"].attrs["units"] = "um"
                detector["distance"] = self.source_detector_um - self.source_origin_um
                detector["distance"].attrs["units"] = "um"
            if self.energy_kev is not None:
                beam = _nx_group(instrument, "beam", "NXbeam")
                beam["incident_energy"] = self.energy_kev
                beam["incident_energy"].attrs["units"] = "keV"
            sample = _nx_group(entry, "sample", "NXsample")
            sample["name"] = str(self.metadata.get("sample", "xtwin twin"))
            sample["rotation_angle"] = angles
            sample["rotation_angle"].attrs["units"] = "degree"
            nxdata = _nx_group(entry, "data", "NXdata", signal="data")
            nxdata.attrs["axes"] = ["rotation_angle", ".", "."]
            nxdata.attrs["rotation_angle_indices"] = 0
            for name, target in (("data", detector["data"]), ("rotation_angle", sample["rotation_angle"]),
                                 ("image_key", detector["image_key"])):
                nxdata[name] = target  # an HDF5 hard link, as the definition's <link> asks
            extra = _nx_group(entry, "xtwin", "NXcollection")
            extra.attrs["schema"] = _NX_SCHEMA
            extra.attrs["schema_version"] = _SCHEMA_VERSION
            extra.attrs["xtwin_version"] = xtwin.__version__
            extra.attrs["scalars_json"] = json.dumps(self._scalars(), sort_keys=True)
        return Path(path)

    @classmethod
    def from_nxtomo(cls, path: str | os.PathLike, *, pixel_size_um: float | None = None) -> Projections:
        """Read an NXtomo file, written here or by any writer that follows the definition.

        The first NXentry whose ``definition`` is ``NXtomo`` is read (for
        instance ``/entry`` or ESRF's ``/entry0000``). Frames are sorted by
        ``image_key`` (or ESRF's ``image_key_control`` when present):
        projections, flats and darks keep their order in the file; invalid
        (3) and alignment (-1) frames are dropped. ``data`` is taken as
        ``[nFrames, rows, columns]`` (the definition's "xsize, ysize" order
        is written row-major by every writer we know) and converted to
        float32, which is exact for 16-bit and up to 24-bit integer counts.
        Units attributes of ``rotation_angle`` (degrees or radians) and
        ``x_pixel_size`` (m, mm, um, nm) are honoured; without units, degrees
        and um are assumed.

        Parameters
        ----------
        path : path-like
            The HDF5 file.
        pixel_size_um : float, optional
            Pixel size at the sample, um, when the file has no
            ``x_pixel_size`` (or to override it).

        Returns
        -------
        Projections

        Raises
        ------
        ProjectionsFileError
            When no NXtomo entry or no pixel size is found.
        """
        with h5py.File(path, "r") as f:
            entry = _nxtomo_entry(f, path)
            detector = entry.get("instrument/detector")
            if detector is None or "data" not in detector or "image_key" not in detector:
                raise ProjectionsFileError(f"{path}: {entry.name} has no instrument/detector/data and image_key "
                                           "(required by NXtomo)")
            own = entry.get("xtwin")
            scalars = None
            if own is not None and own.attrs.get("schema") == _NX_SCHEMA:
                scalars = json.loads(files.hdf5_text(own.attrs["scalars_json"]))
            key_name = "image_key_control" if "image_key_control" in detector else "image_key"
            keys = np.asarray(detector[key_name][()]).astype(int).ravel()
            data = detector["data"]
            if data.ndim != 3 or data.shape[0] != keys.size:
                raise ProjectionsFileError(f"{path}: detector/data of shape {data.shape} does not match "
                                           f"{key_name} of {keys.size} frames")
            stack = data[()]
            angles_path = "sample/rotation_angle"
            if angles_path not in entry:
                raise ProjectionsFileError(f"{path}: {entry.name}/{angles_path} is missing (required by NXtomo)")
            angle_ds = entry[angles_path]
            angles = np.asarray(angle_ds[()], dtype=float).ravel()
            if angles.size != keys.size:
                raise ProjectionsFileError(f"{path}: {angles.size} rotation angles for {keys.size} frames")
            angles = angles * _unit(angle_ds, _ANGLE_DEG, "degree", path)
            proj = keys == IMAGE_KEY["projection"]
            flats = stack[keys == IMAGE_KEY["flat"]]
            darks = stack[keys == IMAGE_KEY["dark"]]
            common = {"counts": stack[proj], "angles_deg": angles[proj],
                      "flats": flats if flats.shape[0] else None, "darks": darks if darks.shape[0] else None}
            if scalars is not None:
                if pixel_size_um is not None:
                    scalars["pixel_size_um"] = pixel_size_um
                return cls(**common, **scalars)
            return cls(**common, **_nxtomo_scalars(entry, detector, stack.shape[2], pixel_size_um, path))

    # ------------------------------------------------------------------ Data Exchange
    @classmethod
    def from_data_exchange(cls, path: str | os.PathLike, *, pixel_size_um: float | None = None) -> Projections:
        """Read projections in the APS Data Exchange layout.

        Reads ``/exchange/data`` (projections), ``/exchange/data_white``
        (flats), ``/exchange/data_dark`` (darks) and ``/exchange/theta``
        (degrees unless its ``units`` attribute says radians). The pixel
        size is taken from ``pixel_size_um`` or else from
        ``/measurement/instrument/detection_system/objective/resolution`` or
        ``/measurement/instrument/detector/actual_pixel_size_x`` (with their
        units, um by default); the energy from
        ``/measurement/instrument/monochromator/energy`` (keV by default).

        Parameters
        ----------
        path : path-like
        pixel_size_um : float, optional
            Pixel size at the sample, um. When the file does not give one
            either (the tomopy tooth file does not), 1 um is used, a
            ``UserWarning`` is raised and ``metadata["pixel_size_assumed"]``
            is true: attenuation coefficients reconstructed from such data
            are per assumed pixel, not per cm.

        Returns
        -------
        Projections
        """
        with h5py.File(path, "r") as f:
            if "exchange/data" not in f:
                raise ProjectionsFileError(f"{path}: no /exchange/data; expected the Data Exchange layout "
                                           "(exchange/data, data_white, data_dark, theta)")
            if "exchange/theta" not in f:
                raise ProjectionsFileError(f"{path}: no /exchange/theta; the rotation angles are needed")
            theta = f["exchange/theta"]
            angles = np.asarray(theta[()], dtype=float).ravel() * _unit(theta, _ANGLE_DEG, "degree", path)
            read = {name: (f[f"exchange/{name}"][()] if f"exchange/{name}" in f else None)
                    for name in ("data", "data_white", "data_dark")}
            metadata: dict[str, Any] = {"source_file": str(Path(path).name), "layout": "Data Exchange"}
            if pixel_size_um is None:
                pixel_size_um = _first_length(f, ("measurement/instrument/detection_system/objective/resolution",
                                                   "measurement/instrument/detector/actual_pixel_size_x"), path)
            if pixel_size_um is None:
                warnings.warn(f"{path}: the file gives no pixel size; 1 um is assumed (pass pixel_size_um)",
                              UserWarning, stacklevel=2)
                pixel_size_um = 1.0
                metadata["pixel_size_assumed"] = True
            energy = None
            if "measurement/instrument/monochromator/energy" in f:
                ds = f["measurement/instrument/monochromator/energy"]
                energy = float(np.asarray(ds[()]).ravel()[0]) * _unit(ds, _ENERGY_KEV, "keV", path)
            for key, name in (("title", "exchange/title"), ("sample", "measurement/sample/name")):
                if name in f:
                    metadata[key] = files.hdf5_text(f[name][()])
        return cls(read["data"], angles, pixel_size_um, flats=read["data_white"], darks=read["data_dark"],
                   energy_kev=energy, metadata=metadata)

    # ------------------------------------------------------------------ TIFF
    def to_tiff(self, folder: str | os.PathLike, overwrite: bool = False) -> Path:
        """Write a folder of 32-bit float TIFF stacks and a JSON sidecar, atomically.

        The folder holds ``projections.tif`` (one page per projection, in
        angle order), ``flats.tif`` and ``darks.tif`` when there are any,
        and ``projections.json`` (angles in degrees, pixel size in um, the
        other scalars and the metadata). It is written as a hidden sibling
        and renamed into place. An existing ``folder`` is refused unless
        ``overwrite``, and even then only when it is empty or a stack
        written here (it holds the sidecar), so that no unrelated folder is
        ever deleted.

        Notes
        -----
        Cost: one pass over the frames, uncompressed (disk speed).
        """
        target = Path(folder)
        if target.exists():
            if not target.is_dir():
                raise NotADirectoryError(f"{target}: exists and is not a folder; expected a folder path")
            ours = (target / TIFF_SIDECAR).is_file() or not any(target.iterdir())
            if not overwrite:
                raise FileExistsError(f"{target}: exists; pass overwrite=True (or --force on the command line) "
                                      "to replace it")
            if not ours:
                raise FileExistsError(f"{target}: exists and is not an xtwin TIFF stack (no {TIFF_SIDECAR}); "
                                      "refusing to replace it even with overwrite=True")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        try:
            files = {"projections": "projections.tif"}
            _write_tiff(tmp / files["projections"], self.counts)
            for name in ("flats", "darks"):
                frames = getattr(self, name)
                files[name] = None if frames is None else f"{name}.tif"
                if frames is not None:
                    _write_tiff(tmp / files[name], frames)
            sidecar = {"schema": _TIFF_SCHEMA, "schema_version": _SCHEMA_VERSION,
                       "xtwin_version": xtwin.__version__, "files": files,
                       "angles_deg": self.angles_deg.tolist(), **self._scalars()}
            (tmp / TIFF_SIDECAR).write_text(json.dumps(sidecar, indent=1, sort_keys=True), encoding="utf-8")
            os.chmod(tmp, 0o777 & ~_umask())
            if target.exists():
                # A directory cannot be renamed over a non-empty one: move the old one aside first.
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                os.rename(target, old / target.name)
                os.rename(tmp, target)
                shutil.rmtree(old)
            else:
                os.rename(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
        return target

    @classmethod
    def from_tiff(cls, folder: str | os.PathLike) -> Projections:
        """Read a TIFF stack folder written by :meth:`to_tiff` (or laid out the same way).

        Pages of any real dtype are converted to float32; the sidecar gives
        the angles and scalars. Exact for stacks written by :meth:`to_tiff`.
        """
        folder = Path(folder)
        sidecar_path = folder / TIFF_SIDECAR
        if not sidecar_path.is_file():
            raise ProjectionsFileError(f"{folder}: no {TIFF_SIDECAR}; a TIFF stack needs its sidecar with the "
                                       "angles (angles_deg) and pixel size (pixel_size_um)")
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ProjectionsFileError(f"{sidecar_path}: not valid JSON: {err}") from None
        missing = [k for k in ("files", "angles_deg", "pixel_size_um") if k not in sidecar]
        if missing:
            raise ProjectionsFileError(f"{sidecar_path}: missing {missing}")
        files = sidecar["files"]
        stacks = {name: (None if files.get(name) is None else _read_tiff(folder / files[name]))
                  for name in ("projections", "flats", "darks")}
        scalars = {k: sidecar[k] for k in ("pixel_size_um", "geometry", "source_origin_um", "source_detector_um",
                                           "energy_kev", "exposure_s", "centre_offset_px", "metadata")
                   if k in sidecar}
        return cls(stacks["projections"], sidecar["angles_deg"], flats=stacks["flats"], darks=stacks["darks"],
                   **scalars)


# ---------------------------------------------------------------------- file helpers
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _nx_group(parent: h5py.Group, name: str, nx_class: str, **attrs: str) -> h5py.Group:
    g = parent.create_group(name)
    g.attrs["NX_class"] = nx_class
    g.attrs.update(attrs)
    return g


def _unit(ds: h5py.Dataset, table: Mapping[str, float], default: str, path: Any) -> float:
    """Factor from the ``units`` attribute of ``ds`` to the unit of ``table``; 1 without the attribute (``default``)."""
    if "units" not in ds.attrs:
        return 1.0
    unit = files.hdf5_text(ds.attrs["units"]).strip()
    for key in (unit, unit.lower()):
        if key in table:
            return table[key]
    raise ProjectionsFileError(f"{path}: {ds.name} has units {unit!r}; expected one of {sorted(table)} "
                               f"(default {default} when the attribute is absent)")


def _first_length(f: h5py.File, candidates: tuple[str, ...], path: Any) -> float | None:
    for name in candidates:
        if name in f:
            ds = f[name]
            return float(np.asarray(ds[()], dtype=float).ravel()[0]) * _unit(ds, _LENGTH_UM, "um", path)
    return None


def _nxtomo_entry(f: h5py.File, path: Any) -> h5py.Group:
    entries = [g for g in f.values() if isinstance(g, h5py.Group) and files.hdf5_text(g.attrs.get("NX_class", "")) == "NXentry"]
    for g in entries:
        if "definition" in g and files.hdf5_text(g["definition"][()]) == "NXtomo":
            return g
    raise ProjectionsFileError(f"{path}: no NXentry with definition 'NXtomo' (found entries "
                               f"{[g.name for g in entries]})")


def _nxtomo_scalars(entry: h5py.Group, detector: h5py.Group, columns: int, pixel_size_um: float | None,
                    path: Any) -> dict[str, Any]:
    """Geometry and beam of an NXtomo entry written by another program."""
    if pixel_size_um is None:
        if "x_pixel_size" not in detector:
            raise ProjectionsFileError(f"{path}: {detector.name} has no x_pixel_size; pass pixel_size_um")
        ds = detector["x_pixel_size"]
        pixel_size_um = float(np.asarray(ds[()], dtype=float).ravel()[0]) * _unit(ds, _LENGTH_UM, "um", path)
    out: dict[str, Any] = {"pixel_size_um": pixel_size_um,
                           "metadata": {"layout": "NXtomo", "source_file": str(Path(path).name)}}
    if "x_rotation_axis_pixel_position" in detector:
        out["centre_offset_px"] = float(detector["x_rotation_axis_pixel_position"][()]) - 0.5 * (columns - 1)
    if "count_time" in detector:
        ds = detector["count_time"]
        out["exposure_s"] = float(np.asarray(ds[()], dtype=float).ravel()[0]) * _unit(ds, _TIME_S, "s", path)
    for name in ("instrument/beam/incident_energy", "beam/incident_energy", "instrument/source/energy"):
        if name in entry:
            ds = entry[name]
            out["energy_kev"] = float(np.asarray(ds[()], dtype=float).ravel()[0]) * _unit(ds, _ENERGY_KEV, "keV", path)
            break
    source_distance = entry.get("instrument/source/distance")
    if source_distance is not None and "distance" in detector:
        so = -float(source_distance[()]) * _unit(source_distance, _LENGTH_UM, "um", path)
        ds = detector["distance"]
        out.update(geometry="cone", source_origin_um=so,
                   source_detector_um=so + float(ds[()]) * _unit(ds, _LENGTH_UM, "um", path))
    if "title" in entry:
        out["metadata"]["title"] = files.hdf5_text(entry["title"][()])
    return out


def _write_tiff(path: Path, stack: np.ndarray) -> None:
    """One float32 page per frame; BigTIFF beyond 2 GB."""
    with tifffile.TiffWriter(path, bigtiff=stack.nbytes > 2**31) as tif:
        for frame in stack:
            tif.write(frame, photometric="minisblack", contiguous=False)


def _read_tiff(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ProjectionsFileError(f"{path}: listed in the sidecar but missing")
    with tifffile.TiffFile(path) as tif:
        pages = [page.asarray() for page in tif.pages]  # one page per frame
    shapes = {p.shape for p in pages}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ProjectionsFileError(f"{path}: expected 2D pages of one shape, got {sorted(shapes)}")
    return np.stack(pages).astype(np.float32, copy=False)
