"""XCS measurements: a cube of energy spectra per pixel (:class:`Measurement`) and its files.

What the HEXITEC of seeds/001 (section 2.1) records after its processing chain: "a data cube of 80 x 80
pixels and 0-200 keV with a step size of 0.2 keV". :func:`forward.compton.simulate.simulate` makes one from
a twin; the readers below build one from files, so that measured cubes enter the inverse code the same way.

Files
-----
* HDF5, NeXus-like (NXdata with an energy axis)::

      /                    NX_class=NXroot, default="entry", creator="xtwin ..."
      /entry               NX_class=NXentry, default="data"
          title            string
          data             NX_class=NXdata, signal="counts", axes=["row", "column", "energy"],
                           row_indices=0, column_indices=1, energy_indices=2
              counts       (rows, columns, n_channels), the cube's dtype, gzip
              energy       (n_channels + 1,) channel edges, units="keV" (NeXus histogram axis)
              row, column  pixel centres on the detector, units="um"
          instrument/detector  NX_class=NXdetector: x_pixel_size, y_pixel_size (units="um"),
                           count_time (units="s", when known)
          xtwin            NX_class=NXcollection, attrs schema, version, metadata_json

  The reader follows ``default`` and the NXdata ``signal``/``axes`` attributes, accepts an energy axis of
  edges (n + 1) or centres (n, turned into edges halfway between centres) in eV or keV, and reads the
  pixel pitch from the detector group when present.
* Plain columns, one channel a line: ``energy_kev counts`` (channel centre, counts), ``#`` comments; the
  writer puts the units, the pixel pitch and the exposure in the header. One spectrum per file (a pixel,
  or the sum over a mask or the whole detector); it reads back as a 1 x 1 cube.

Writers are atomic and refuse to overwrite unless asked (DESIGN.md, "Errors and data").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import xtwin
from xtwin import arguments, files
from xtwin.files import atomic_path, write_text

__all__ = ["Measurement", "ComptonFileError", "load_hdf5", "load_spectrum"]

_SCHEMA = "xtwin.compton.cube"
_SCHEMA_VERSION = 1
_COMPRESSION = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_ENERGY_KEV = {"kev": 1.0, "ev": 1e-3, "mev": 1e3}
_LENGTH_UM = {"m": 1e6, "mm": 1e3, "um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "nm": 1e-3}


class ComptonFileError(ValueError):
    """A file that cannot be read as an XCS spectrum or cube (wrong layout, missing fields)."""


def _edges_kev(value: Any, n_channels: int) -> np.ndarray:
    e = arguments.array("energy_edges_kev", value, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if e.size != n_channels + 1:
        raise ValueError(f"energy_edges_kev: expected n_channels + 1 = {n_channels + 1} channel edges for "
                         f"counts with {n_channels} channels, got {e.size}")
    steps = np.diff(e)
    if np.any(steps <= 0):
        i = int(np.argmax(steps <= 0))
        raise ValueError(f"energy_edges_kev: expected strictly increasing energies (keV), got {e[i]:g} followed "
                         f"by {e[i + 1]:g} at index {i + 1}")
    if e[0] < 0:
        raise ValueError(f"energy_edges_kev: expected energies >= 0 keV, got {e[0]:g}")
    e.flags.writeable = False
    return e


def energy_edges_kev(value, n_channels: int | None = None, *, name: str = "energy_edges_kev") -> np.ndarray:
    """Channel edges in keV, increasing; ``n_channels`` centres are turned into edges by midpoints.

    Parameters
    ----------
    value : array
        Either ``n_channels + 1`` edges or ``n_channels`` centres, keV, strictly increasing.
    n_channels : int, optional
        Channels of the spectra; decides whether ``value`` holds edges or centres.
    """
    e = arguments.array(name, value, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if e.size < 2:
        raise ValueError(f"{name}: expected at least 2 energies in keV, got {e.size}")
    if np.any(np.diff(e) <= 0):
        k = int(np.argmax(np.diff(e) <= 0))
        raise ValueError(f"{name}: expected strictly increasing energies in keV, got {e[k]:g} then {e[k + 1]:g} "
                         f"at index {k}")
    if e[0] < 0:
        raise ValueError(f"{name}: expected energies >= 0 keV, got {e[0]:g}")
    if n_channels is None or e.size == n_channels + 1:
        return e
    if e.size == n_channels:  # centres -> edges
        mid = 0.5 * (e[1:] + e[:-1])
        return np.concatenate([[max(e[0] - (mid[0] - e[0]), 0.0)], mid, [e[-1] + (e[-1] - mid[-1])]])
    raise ValueError(f"{name}: expected {n_channels + 1} channel edges (or {n_channels} centres) for spectra of "
                     f"{n_channels} channels, got {e.size} energies")


@dataclass(frozen=True, eq=False)
class Measurement:
    """An XCS data cube: counts per pixel and energy channel.

    Parameters
    ----------
    counts : array_like, shape (rows, columns, n_channels)
        Counts (integers for recorded or Poisson-drawn data, floats for expected values), finite, >= 0.
        Kept as a read-only array of its dtype (integers as int64, floats as float64).
    energy_edges_kev : array_like, shape (n_channels + 1,)
        Channel edges, keV, strictly increasing, >= 0.
    pixel_um : float
        Detector pixel pitch, um (on the detector; divide by the camera magnification for the sample).
    exposure_s : float or None
        Acquisition time, s.
    metadata : mapping
        JSON-serialisable description (instrument, camera, twin provenance, truth of a simulation).

    Notes
    -----
    Build from channel centres with :meth:`from_centres`. Two measurements compare equal when counts
    (with dtype), edges and the other fields are equal.
    """

    counts: np.ndarray
    energy_edges_kev: np.ndarray
    pixel_um: float = 250.0
    exposure_s: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a = arguments.array("counts", self.counts, dtype_kind="iuf")
        if a.ndim != 3:
            raise ValueError(f"counts: expected a (rows, columns, n_channels) cube (one spectrum is a 1 x 1 x n "
                             f"cube), got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"counts: expected at least one pixel and one channel, got shape {a.shape}")
        a = np.array(a, dtype=np.int64 if a.dtype.kind in "iu" else np.float64, copy=True)
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            bad = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"counts: expected finite counts, found {a[tuple(bad)]} at index {tuple(bad.tolist())}")
        if a.min() < 0:
            bad = np.argwhere(a < 0)[0]
            raise ValueError(f"counts: expected counts >= 0 (raw or expected counts, not background-subtracted), "
                             f"found {a[tuple(bad)]:g} at (row, column, channel) {tuple(bad.tolist())}")
        a.flags.writeable = False
        _set = object.__setattr__
        _set(self, "counts", a)
        _set(self, "energy_edges_kev", _edges_kev(self.energy_edges_kev, a.shape[2]))
        _set(self, "pixel_um", arguments.positive("pixel_um", self.pixel_um, unit="um"))
        if self.exposure_s is not None:
            _set(self, "exposure_s", arguments.positive("exposure_s", self.exposure_s, unit="s"))
        _set(self, "metadata", arguments.json_mapping("metadata", self.metadata))

    @classmethod
    def from_centres(cls, counts: Any, energy_kev: Any, **kwargs: Any) -> "Measurement":
        """A measurement from channel centres (edges halfway between them), keV."""
        c = arguments.array("energy_kev", energy_kev, ndim=(1,), dtype_kind="iuf", finite=True)
        return cls(counts, energy_edges_kev(c, c.size, name="energy_kev"), **kwargs)

    # ------------------------------------------------------------------ views
    @property
    def shape(self) -> tuple[int, int, int]:
        """(rows, columns, n_channels)."""
        return self.counts.shape

    @property
    def n_channels(self) -> int:
        """Number of energy channels."""
        return self.counts.shape[2]

    @property
    def energy_kev(self) -> np.ndarray:
        """Channel centres, keV."""
        return 0.5 * (self.energy_edges_kev[1:] + self.energy_edges_kev[:-1])

    @property
    def channel_width_kev(self) -> np.ndarray:
        """Channel widths, keV."""
        return np.diff(self.energy_edges_kev)

    def spectrum(self, mask: Any = None) -> np.ndarray:
        """Counts per channel summed over all pixels, or over the pixels where ``mask`` (rows, columns) is true."""
        if mask is None:
            return self.counts.sum(axis=(0, 1))
        m = arguments.array("mask", mask, shape=self.counts.shape[:2], dtype_kind="b")
        return self.counts[m].sum(axis=0)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Measurement):
            return NotImplemented
        return (self.counts.dtype == other.counts.dtype and np.array_equal(self.counts, other.counts)
                and np.array_equal(self.energy_edges_kev, other.energy_edges_kev)
                and self.pixel_um == other.pixel_um and self.exposure_s == other.exposure_s
                and dict(self.metadata) == dict(other.metadata))

    __hash__ = None  # array contents: not hashable

    def __repr__(self) -> str:
        e = self.energy_edges_kev
        return (f"Measurement(shape={self.shape}, energy {e[0]:g}..{e[-1]:g} keV, pixel_um={self.pixel_um:g}, "
                f"exposure_s={self.exposure_s}, total counts {float(self.counts.sum()):.6g})")

    # ------------------------------------------------------------------ HDF5
    def save_hdf5(self, path: str | os.PathLike, *, overwrite: bool = False, title: str = "") -> Path:
        """Write the cube as NeXus-like HDF5 (module docstring), atomically; O(cube) plus gzip.

        Raises ``FileExistsError`` for an existing ``path`` unless ``overwrite``.
        """
        rows, cols, _ = self.shape
        with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
            f.attrs.update({"NX_class": "NXroot", "default": "entry", "creator": f"xtwin {xtwin.__version__}"})
            entry = f.create_group("entry")
            entry.attrs.update({"NX_class": "NXentry", "default": "data"})
            entry["title"] = title or str(self.metadata.get("title", "xtwin XCS data cube"))
            data = entry.create_group("data")
            data.attrs.update({"NX_class": "NXdata", "signal": "counts", "axes": ["row", "column", "energy"],
                               "row_indices": 0, "column_indices": 1, "energy_indices": 2})
            counts = data.create_dataset("counts", data=self.counts, chunks=True, **_COMPRESSION)
            counts.attrs.update({"units": "counts", "long_name": "counts per pixel and energy channel"})
            energy = data.create_dataset("energy", data=self.energy_edges_kev)
            energy.attrs.update({"units": "keV", "long_name": "photon energy, channel edges (keV)"})
            for name, n in (("row", rows), ("column", cols)):
                ds = data.create_dataset(name, data=(np.arange(n) - 0.5 * (n - 1)) * self.pixel_um)
                ds.attrs.update({"units": "um", "long_name": f"detector {name} centre (um)"})
            instrument = entry.create_group("instrument")
            instrument.attrs["NX_class"] = "NXinstrument"
            detector = instrument.create_group("detector")
            detector.attrs["NX_class"] = "NXdetector"
            for name in ("x_pixel_size", "y_pixel_size"):
                detector.create_dataset(name, data=self.pixel_um).attrs["units"] = "um"
            if self.exposure_s is not None:
                detector.create_dataset("count_time", data=self.exposure_s).attrs["units"] = "s"
            extra = entry.create_group("xtwin")
            extra.attrs.update({"NX_class": "NXcollection", "schema": _SCHEMA, "schema_version": _SCHEMA_VERSION,
                                "metadata_json": json.dumps(dict(self.metadata), sort_keys=True)})
        return Path(path)

    # ------------------------------------------------------------------ columns
    def save_spectrum(self, path: str | os.PathLike, *, pixel: tuple[int, int] | None = None, mask: Any = None,
                      overwrite: bool = False) -> Path:
        """Write one spectrum as text columns ``energy_kev counts`` (channel centre, counts), atomically.

        Parameters
        ----------
        path : path-like
            Destination (``.txt``, ``.dat``).
        pixel : (row, column), optional
            The spectrum of one pixel.
        mask : bool array (rows, columns), optional
            The sum over these pixels. Without ``pixel`` and ``mask``: the sum over the detector.
        overwrite : bool
            Replace an existing file.

        Notes
        -----
        The channel edges are not written; the reader puts them halfway between centres, which restores
        uniform channels to rounding (1e-15 keV).
        """
        if pixel is not None and mask is not None:
            raise ValueError(f"pixel={pixel!r}, mask: expected one of them, not both")
        if pixel is not None:
            if not isinstance(pixel, (tuple, list)) or len(pixel) != 2:
                raise ValueError(f"pixel={pixel!r}: expected (row, column)")
            r = arguments.integer("pixel[0]", pixel[0], minimum=0)
            c = arguments.integer("pixel[1]", pixel[1], minimum=0)
            if r >= self.shape[0] or c >= self.shape[1]:
                raise ValueError(f"pixel={pixel!r}: outside the detector of {self.shape[0]} x {self.shape[1]} pixels")
            counts, what = self.counts[r, c], f"pixel (row {r}, column {c})"
        else:
            counts = self.spectrum(mask)
            what = "sum over the whole detector" if mask is None else f"sum over {int(np.sum(mask))} masked pixels"
        integer = counts.dtype.kind in "iu"
        header = [f"xtwin {xtwin.__version__} XCS spectrum: {what}",
                  f"pixel_um {self.pixel_um!r}", f"exposure_s {self.exposure_s!r}", f"dtype {counts.dtype.name}",
                  f"metadata_json {json.dumps(dict(self.metadata), sort_keys=True)}",
                  "energy_kev counts", "keV counts"]
        body = "\n".join(f"{e!r} {int(n) if integer else float(n)!r}" for e, n in zip(self.energy_kev.tolist(),
                                                                                     counts.tolist()))
        return write_text(path, "".join(f"# {line}\n" for line in header) + body + "\n", overwrite=overwrite)


# ---------------------------------------------------------------------- readers
def _unit_factor(ds: h5py.Dataset, table: Mapping[str, float], default: float, what: str, path: Any) -> float:
    unit = ds.attrs.get("units")
    if unit is None:
        return default
    unit = unit.decode() if isinstance(unit, bytes) else str(unit)
    key = unit.strip().lower()
    if key not in table:
        raise ComptonFileError(f"{path}: {what} has units {unit!r}; expected one of {', '.join(table)}")
    return table[key]


def _nxdata(f: h5py.File, path: Any) -> h5py.Group:
    """The default NXdata group (NeXus ``default`` attributes), else the first NXdata with a signal."""
    group: Any = f
    for _ in range(3):
        name = group.attrs.get("default")
        if name is None or files.hdf5_text(name) not in group:
            break
        group = group[files.hdf5_text(name)]
    if isinstance(group, h5py.Group) and files.hdf5_text(group.attrs.get("NX_class", "")) == "NXdata":
        return group
    found: list[h5py.Group] = []

    def visit(_: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group) and files.hdf5_text(obj.attrs.get("NX_class", "")) == "NXdata" and "signal" in obj.attrs:
            found.append(obj)

    f.visititems(visit)
    if not found:
        raise ComptonFileError(f"{path}: no NXdata group with a 'signal' attribute; expected an XCS cube written "
                               "as NeXus NXdata (counts with an energy axis)")
    return found[0]


def load_hdf5(path: str | os.PathLike) -> Measurement:
    """Read a cube written by :meth:`Measurement.save_hdf5`, or another NXdata cube with an energy axis.

    The signal must be 3D with the energy as its last axis (named in ``axes``, or called ``energy``);
    the energy axis may hold n + 1 edges or n centres, in keV or eV.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    with h5py.File(p, "r") as f:
        data = _nxdata(f, p)
        signal = files.hdf5_text(data.attrs["signal"])
        if signal not in data:
            raise ComptonFileError(f"{p}: NXdata {data.name} names signal {signal!r}, which is missing")
        counts = data[signal][()]
        if counts.ndim != 3:
            raise ComptonFileError(f"{p}: expected a (rows, columns, channels) signal, got shape {counts.shape}")
        axes = data.attrs.get("axes")
        axes = [files.hdf5_text(a) for a in np.atleast_1d(axes)] if axes is not None else []
        energy_name = axes[2] if len(axes) == 3 and axes[2] != "." else "energy"
        if energy_name not in data:
            raise ComptonFileError(f"{p}: no energy axis {energy_name!r} in {data.name}; expected the last axis of "
                                   f"{signal!r} to be the photon energy")
        ds = data[energy_name]
        energy = ds[()].astype(float) * _unit_factor(ds, _ENERGY_KEV, 1.0, "the energy axis", p)
        n = counts.shape[2]
        if energy.shape == (n + 1,):
            edges = energy
        elif energy.shape == (n,):
            edges = energy_edges_kev(energy, np.size(energy), name="energy_kev")
        else:
            raise ComptonFileError(f"{p}: energy axis of shape {energy.shape}; expected {n} centres or {n + 1} edges "
                                   f"for {n} channels")
        pixel_um, exposure = 250.0, None
        entry = data.parent
        det = entry.get("instrument/detector")
        if det is not None and "x_pixel_size" in det:
            pixel_um = float(det["x_pixel_size"][()]) * _unit_factor(det["x_pixel_size"], _LENGTH_UM, 1.0,
                                                                     "x_pixel_size", p)
        if det is not None and "count_time" in det:
            exposure = float(det["count_time"][()])
        metadata: dict[str, Any] = {"source_file": p.name}
        extra = entry.get("xtwin")
        if extra is not None and files.hdf5_text(extra.attrs.get("schema", "")) == _SCHEMA:
            metadata = json.loads(files.hdf5_text(extra.attrs["metadata_json"]))
    return Measurement(counts, edges, pixel_um=pixel_um, exposure_s=exposure, metadata=metadata)


def load_spectrum(path: str | os.PathLike) -> Measurement:
    """Read text columns ``energy_kev counts`` (comma or whitespace separated, ``#`` comments) as a 1 x 1 cube.

    Header lines written by :meth:`Measurement.save_spectrum` restore the pixel pitch, exposure and
    metadata. Counts that are all integral are read as integers.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    pixel_um, exposure, metadata = 250.0, None, {"source_file": p.name, "layout": "columns"}
    dtype = None
    rows = []
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if text.startswith("#"):
            key, _, value = text[1:].strip().partition(" ")
            if key == "pixel_um":
                pixel_um = float(value)
            elif key == "exposure_s" and value != "None":
                exposure = float(value)
            elif key == "dtype" and value in ("int64", "float64"):
                dtype = value
            elif key == "metadata_json":
                metadata = json.loads(value)
            continue
        if not text:
            continue
        parts = text.replace(",", " ").split()
        if len(parts) < 2:
            raise ComptonFileError(f"{p}:{number}: expected two columns 'energy_kev counts', got {text!r}")
        try:
            rows.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise ComptonFileError(f"{p}:{number}: expected numbers, got {text!r}") from None
    if len(rows) < 2:
        raise ComptonFileError(f"{p}: expected at least two channels, found {len(rows)}")
    energy, counts = np.array(rows).T
    integral = np.all(np.isfinite(counts)) and np.all(counts == np.round(counts)) and np.all(np.abs(counts) < 2**53)
    if dtype == "int64" or (dtype is None and integral):
        counts = counts.astype(np.int64)
    return Measurement(counts.reshape(1, 1, -1), energy_edges_kev(energy, np.size(energy), name="energy_kev"),
                       pixel_um=pixel_um,
                       exposure_s=exposure, metadata=metadata)
