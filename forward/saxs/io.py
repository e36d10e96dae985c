"""Files of scattering curves: NXcanSAS (HDF5) and plain columns.

NXcanSAS
--------
The NeXus application definition for reduced SAS data (canSAS working group;
``applications/NXcanSAS.nxdl.xml`` of nexusformat/definitions, also described
at https://manual.nexusformat.org/classes/applications/NXcanSAS.html). The
layout written here::

    /                   NX_class=NXroot, default="sasentry01", creator="xtwin ..."
    /sasentry01         NX_class=NXentry, canSAS_class=SASentry, version="1.0", default="sasdata01"
        definition      "NXcanSAS"
        title, run      strings
        sasdata01       NX_class=NXdata, canSAS_class=SASdata, signal="I",
                        I_axes=".,.,Q" (one name per axis of I), Q_indices=<index of the q axis>
            I           (..., nq) units="1/cm", uncertainties="Idev"
            Q           (nq,)     units="1/angstrom"
            Idev        (..., nq) units="1/cm"  (only when the curves carry sigma)
        sassample       NX_class=NXsample, canSAS_class=SASsample
            transmission (...)    (only when the curves carry a transmission)
        xtwin           NX_class=NXcollection: metadata_json, positions_um (xtwin-only)

A map of curves stores ``I`` with its leading axes; NXcanSAS names every axis
of ``I`` in ``I_axes`` ("for 1-D data with time as a second dimension:
I_axes="Time,Q"") and these leading axes have no coordinate dataset, so they
are named ``"."``, the NeXus NXdata mark for an axis without coordinates.
Per-curve positions (not a separable grid in general) go into the xtwin
collection, so a file written here reads back exactly.

The reader takes the first SASentry (or the one named) and its first SASdata
(or the one named), follows ``signal`` and ``I_axes``, converts Q from
1/angstrom, 1/nm or 1/m and I from 1/cm or 1/m, and reads files written by
other programs, such as the Irena/SasView example
``../shared/data/saxs/Lew_Sa3_DSM_QinA.h5``.

Columns
-------
Plain text, one q point a line: ``q I sigma`` (or ``q I``), with ``#``
comment lines; the writer puts the units in a header. The reader accepts
comma or whitespace separation and files without a header (SasView's ASCII
convention: q in 1/angstrom), e.g. ``../shared/data/saxs/Alumina_usaxs.csv``.

Writers are atomic (:func:`xtwin.files.atomic_path`) and refuse to overwrite
unless asked (DESIGN.md, "Errors and data").
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import h5py
import numpy as np

import xtwin
from forward.saxs.curves import Curves
from xtwin import files
from xtwin.files import atomic_path

__all__ = ["SaxsFileError", "load_columns", "load_nxcansas", "save_columns", "save_nxcansas"]

#: q units seen in NXcanSAS files and column headers, as factors to 1/Angstrom.
Q_UNITS = {"1/angstrom": 1.0, "1/a": 1.0, "a^-1": 1.0, "angstrom^-1": 1.0, "1/å": 1.0, "å^-1": 1.0,
           "1/nm": 0.1, "nm^-1": 0.1, "1/m": 1e-10, "m^-1": 1e-10}
#: Intensity units converted to 1/cm (absolute differential cross-section per unit volume).
I_UNITS = {"1/cm": 1.0, "cm^-1": 1.0, "1/m": 0.01, "m^-1": 0.01}
_SCHEMA = "xtwin.saxs.nxcansas"


class SaxsFileError(ValueError):
    """A file that cannot be read as scattering curves (wrong layout, missing fields, unknown units)."""


def _unit_key(unit: str) -> str:
    return unit.strip().lower().replace(" ", "")


# ---------------------------------------------------------------------- NXcanSAS
def save_nxcansas(curves: Curves, path: str | os.PathLike, *, overwrite: bool = False, title: str = "") -> Path:
    """Write curves to an NXcanSAS HDF5 file, atomically.

    Parameters
    ----------
    curves : Curves
        One curve or a map of curves (leading axes are kept in ``I``).
    path : path-like
        Destination, conventionally ``*.h5`` or ``*.nxs``.
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError``.
    title : str
        Entry title (default: ``metadata["title"]`` or "xtwin curves").

    Returns
    -------
    pathlib.Path
        The path written.
    """
    if not isinstance(curves, Curves):
        raise TypeError(f"curves={type(curves).__name__}: expected a forward.saxs.curves.Curves")
    n_lead = len(curves.shape)
    title = title or str(curves.metadata.get("title", "xtwin curves"))
    with atomic_path(path, overwrite=overwrite) as tmp, h5py.File(tmp, "w") as f:
        f.attrs.update({"NX_class": "NXroot", "default": "sasentry01", "creator": f"xtwin {xtwin.__version__}"})
        entry = f.create_group("sasentry01")
        entry.attrs.update({"NX_class": "NXentry", "canSAS_class": "SASentry", "version": "1.0",
                            "default": "sasdata01"})
        entry["definition"] = "NXcanSAS"
        entry["title"] = title
        entry["run"] = str(curves.metadata.get("run", ""))
        data = entry.create_group("sasdata01")
        data.attrs.update({"NX_class": "NXdata", "canSAS_class": "SASdata", "signal": "I",
                           "I_axes": ",".join(["."] * n_lead + ["Q"]), "Q_indices": np.int64(n_lead)})
        i_ds = data.create_dataset("I", data=curves.intensity_per_cm)
        i_ds.attrs["units"] = "1/cm"
        q_ds = data.create_dataset("Q", data=curves.q_inv_A)
        q_ds.attrs["units"] = "1/angstrom"
        if curves.sigma_per_cm is not None:
            i_ds.attrs["uncertainties"] = "Idev"
            data.create_dataset("Idev", data=curves.sigma_per_cm).attrs["units"] = "1/cm"
        if curves.transmission is not None:
            sample = entry.create_group("sassample")
            sample.attrs.update({"NX_class": "NXsample", "canSAS_class": "SASsample"})
            sample.create_dataset("transmission", data=curves.transmission).attrs["units"] = ""
        extra = entry.create_group("xtwin")
        extra.attrs.update({"NX_class": "NXcollection", "schema": _SCHEMA, "schema_version": 1,
                            "metadata_json": json.dumps(dict(curves.metadata), sort_keys=True)})
        if curves.positions_um is not None:
            extra.create_dataset("positions_um", data=curves.positions_um).attrs["units"] = "um"
    return Path(path)


def _sas_groups(f: h5py.File, entry: str | None, data: str | None, path: Any) -> tuple[h5py.Group, h5py.Group]:
    def cls(g: h5py.Group) -> str:
        return files.hdf5_text(g.attrs.get("canSAS_class", ""))

    groups = [g for g in f.values() if isinstance(g, h5py.Group)]
    entries = [g for g in groups if cls(g) == "SASentry"
               or ("definition" in g and files.hdf5_text(g["definition"][()]) == "NXcanSAS")]
    if entry is not None:
        entries = [g for g in entries if g.name.strip("/") == entry]
    if not entries:
        raise SaxsFileError(f"{path}: no SASentry{'' if entry is None else f' named {entry!r}'} (groups with "
                            f"canSAS_class='SASentry'); found groups {[g.name for g in groups]}")
    sas_entry = entries[0]
    datas = [g for g in sas_entry.values() if isinstance(g, h5py.Group) and cls(g) == "SASdata"]
    if data is not None:
        datas = [g for g in datas if g.name.split("/")[-1] == data]
    if not datas:
        raise SaxsFileError(f"{path}: {sas_entry.name} holds no SASdata group"
                            f"{'' if data is None else f' named {data!r}'}")
    return sas_entry, datas[0]


def _factor(ds: h5py.Dataset, table: dict[str, float], path: Any) -> float | None:
    """Factor of the ``units`` attribute in ``table``; None when the unit is not in it."""
    if "units" not in ds.attrs:
        return None
    return table.get(_unit_key(files.hdf5_text(ds.attrs["units"])))


def load_nxcansas(path: str | os.PathLike, *, entry: str | None = None, data: str | None = None) -> Curves:
    """Read curves from an NXcanSAS file.

    Parameters
    ----------
    path : path-like
        NXcanSAS HDF5 file.
    entry, data : str, optional
        Names of the SASentry and SASdata groups; default the first of each.

    Returns
    -------
    Curves
        q in 1/Angstrom; I in 1/cm when the file gives an absolute unit
        (1/cm or 1/m); otherwise the values as stored, with
        ``metadata["intensity_unit"]`` the file's unit and
        ``metadata["absolute"] = False``. A file written by
        :func:`save_nxcansas` reads back equal to what was written.

    Raises
    ------
    SaxsFileError
        Not HDF5, no SASentry/SASdata, no I or Q, unknown q unit, or I and Q
        of inconsistent shapes.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    try:
        f = h5py.File(p, "r")
    except OSError as err:
        raise SaxsFileError(f"{p}: not a readable HDF5 file ({err})") from None
    with f:
        sas_entry, sas_data = _sas_groups(f, entry, data, p)
        signal = files.hdf5_text(sas_data.attrs.get("signal", "I"))
        axes = [a.strip() for a in files.hdf5_text(sas_data.attrs.get("I_axes", "Q")).split(",")]
        q_name = "Q" if "Q" in axes or "Q" in sas_data else axes[-1]
        for name in (signal, q_name):
            if name not in sas_data:
                raise SaxsFileError(f"{p}: {sas_data.name} has no dataset {name!r}")
        i_ds, q_ds = sas_data[signal], sas_data[q_name]
        q = np.asarray(q_ds[()])
        if q.ndim != 1:
            raise SaxsFileError(f"{p}: {q_ds.name} has shape {q.shape}; only 1D (azimuthally integrated) Q is "
                                "read here, not 2D detector images")
        q_factor = _factor(q_ds, Q_UNITS, p)
        if q_factor is None and "units" in q_ds.attrs:
            raise SaxsFileError(f"{p}: {q_ds.name} has units {files.hdf5_text(q_ds.attrs['units'])!r}; expected one of "
                                f"{sorted(Q_UNITS)}")
        intensity = np.asarray(i_ds[()])
        if intensity.ndim == 0 or intensity.shape[-1] != q.size:
            raise SaxsFileError(f"{p}: {i_ds.name} has shape {intensity.shape}; expected its last axis along "
                                f"Q ({q.size} points)")
        sigma = None
        dev_name = files.hdf5_text(i_ds.attrs.get("uncertainties", sas_data.attrs.get("I_uncertainties", "Idev")))
        if dev_name in sas_data:
            sigma = np.asarray(sas_data[dev_name][()])
        metadata: dict[str, Any] = {}
        extra = sas_entry.get("xtwin")
        ours = extra is not None and files.hdf5_text(extra.attrs.get("schema", "")) == _SCHEMA
        if ours:
            metadata = json.loads(files.hdf5_text(extra.attrs["metadata_json"]))
        else:
            metadata = {"source_file": p.name, "entry": sas_entry.name, "layout": "NXcanSAS"}
            if "title" in sas_entry:
                metadata["title"] = files.hdf5_text(sas_entry["title"][()])
            for name in ("instrument/incident_wavelength", "instrument/source/incident_wavelength"):
                if name in sas_entry:
                    metadata["wavelength_A"] = float(np.asarray(sas_entry[name][()], dtype=float).ravel()[0])
                    break
        i_factor = _factor(i_ds, I_UNITS, p)
        if i_factor is None:
            metadata.setdefault("intensity_unit", files.hdf5_text(i_ds.attrs.get("units", "")))
            metadata.setdefault("absolute", False)
            i_factor = 1.0
        transmission = None
        if "sassample/transmission" in sas_entry:
            t = np.asarray(sas_entry["sassample/transmission"][()])
            if t.shape == intensity.shape[:-1]:
                transmission = t
            else:
                metadata.setdefault("transmission", t.ravel().tolist())
        positions = np.asarray(extra["positions_um"][()]) if ours and "positions_um" in extra else None
    if q_factor not in (None, 1.0):
        q = q * q_factor
    if i_factor != 1.0:
        intensity = intensity * i_factor
        sigma = None if sigma is None else sigma * i_factor
    return Curves(q, intensity, sigma, transmission=transmission, positions_um=positions, metadata=metadata)


# ---------------------------------------------------------------------- columns
def save_columns(curves: Curves, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write one curve as text columns ``q I sigma`` with a ``#`` header of units, atomically.

    Numbers are written with 17 significant digits (``%.17g``), so float64
    values read back exactly.

    Parameters
    ----------
    curves : Curves
        A single curve (``curves.shape == ()``); take ``curves[i]`` of a map.
    path : path-like
        Destination (``*.dat``, ``*.txt``, ``*.csv``).
    overwrite : bool
        Replace an existing file; otherwise ``FileExistsError``.
    """
    if not isinstance(curves, Curves):
        raise TypeError(f"curves={type(curves).__name__}: expected a forward.saxs.curves.Curves")
    if curves.shape != ():
        raise ValueError(f"curves: expected a single curve for a column file, got a map of shape {curves.shape}; "
                         "write curves[i] one by one or use save_nxcansas")
    columns = [curves.q_inv_A, curves.intensity_per_cm]
    names = "q_inv_A I_per_cm"
    if curves.sigma_per_cm is not None:
        columns.append(curves.sigma_per_cm)
        names += " sigma_per_cm"
    header = [f"# xtwin {xtwin.__version__} scattering curve",
              "# units: q in 1/angstrom; I and sigma in 1/cm (absolute differential cross-section per unit volume)",
              f"# metadata: {json.dumps(dict(curves.metadata), sort_keys=True)}",
              f"# {names}"]
    body = "\n".join(" ".join(f"{v:.17g}" for v in row) for row in zip(*(np.asarray(c, float) for c in columns)))
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text("\n".join(header) + "\n" + body + "\n", encoding="utf-8")
    return Path(path)


def load_columns(path: str | os.PathLike, *, q_unit: str = "1/angstrom") -> Curves:
    """Read a curve from text columns ``q I [sigma]``.

    Parameters
    ----------
    path : path-like
        Text file; comma- or whitespace-separated; ``#`` lines are comments.
        A third column is taken as sigma; further columns (e.g. a q
        resolution) are ignored.
    q_unit : str
        Unit of the q column when the file does not say (SasView's ASCII
        convention is 1/angstrom); ``"1/nm"`` converts. A header written by
        :func:`save_columns` states 1/angstrom and is honoured.

    Returns
    -------
    Curves
        A single curve; ``metadata["source_file"]`` names the file.
        Metadata written by :func:`save_columns` are restored.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    key = _unit_key(q_unit)
    if key not in Q_UNITS:
        raise ValueError(f"q_unit={q_unit!r}: expected one of {sorted(Q_UNITS)}")
    rows, metadata = [], None
    for number, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            if text.startswith("# metadata: "):
                metadata = json.loads(text[len("# metadata: "):])
            continue
        fields_ = [s for s in re.split(r"[,\s;]+", text) if s]
        try:
            rows.append([float(s) for s in fields_])
        except ValueError:
            if not rows:  # a header line without '#': skip it
                continue
            raise SaxsFileError(f"{p}:{number}: expected numbers, got {text!r}") from None
    if not rows:
        raise SaxsFileError(f"{p}: no numeric rows")
    widths = {len(r) for r in rows}
    if len(widths) != 1 or min(widths) < 2:
        raise SaxsFileError(f"{p}: expected the same number (>= 2) of columns on every row, got {sorted(widths)}")
    a = np.array(rows, dtype=float)
    q = a[:, 0] * Q_UNITS[key]
    sigma = a[:, 2] if a.shape[1] >= 3 else None
    if metadata is None:
        # A foreign file does not say whether I is absolute (Alumina_usaxs.csv is not).
        metadata = {"source_file": p.name, "layout": "columns", "intensity_unit": "unknown"}
    return Curves(q, a[:, 1], sigma, metadata=metadata)
