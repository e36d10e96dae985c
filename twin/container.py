"""The :class:`Twin`: a virtual sample whose every voxel is known.

A twin is a regular voxel grid (2D or 3D) of integer phase labels, a table
label -> :class:`~twin.materials.Material`, named per-voxel fields (``soc``,
``pore_fill``, ``oxidation_state``, ...), optional grain ids with unit
quaternions for polycrystals, the generator's truth (particle and void
tables, ...) and its provenance. Forward models image it; validation
compares inverse results with it.

Axes: a 3D grid is indexed ``[z, y, x]`` and a 2D grid ``[y, x]``, C order,
so ``x`` varies fastest (the order of VTK image data). Voxels are cubes of
edge ``voxel_size_um``; voxel ``(k, j, i)`` spans ``[i, i+1) * voxel_size_um``
in x and so on, with the grid's origin at 0.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

import xtwin
from twin.materials import Material
from xtwin import arguments

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRUTH_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*$")
#: Largest deviation of a quaternion's norm from 1 that is accepted.
QUATERNION_NORM_TOL = 1e-6


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Provenance:
    """Where a twin comes from.

    Parameters
    ----------
    generator : str
        Function or procedure that built the twin (``"twin.generators.powder"``).
    parameters : mapping
        The generator's arguments, JSON-serialisable.
    seed : int or None
        Seed of the ``numpy.random.Generator`` used, if any.
    xtwin_version : str
        Version that built the twin.
    created_utc : str
        ISO 8601 time of creation.
    """

    generator: str = "manual"
    parameters: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    xtwin_version: str = xtwin.__version__
    created_utc: str = field(default_factory=_utc_now)

    def __post_init__(self) -> None:
        _refuse_nul("generator", self.generator)
        if self.seed is not None:
            arguments.integer("seed", self.seed, minimum=0)
        try:
            text = json.dumps(dict(self.parameters), sort_keys=True)
        except TypeError as err:
            raise TypeError(f"parameters: expected JSON-serialisable values (numbers, strings, lists, "
                            f"dicts): {err}") from None
        # Keep a JSON-normalised copy so that a saved and loaded twin compares equal.
        object.__setattr__(self, "parameters", MappingProxyType(json.loads(text)))


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True, eq=False)
class Twin:
    """A voxelised virtual sample with known phases, fields and grains.

    Parameters
    ----------
    labels : ndarray of int, shape (nz, ny, nx) or (ny, nx)
        Phase label of every voxel, >= 0.
    voxel_size_um : float
        Edge of a cubic voxel, um.
    phases : mapping of int to Material
        Material of every label that occurs in ``labels`` (more are allowed).
    fields : mapping of str to ndarray, optional
        Named per-voxel quantities, each of the grid's shape, real-valued
        (NaN allowed where a field is undefined). Names are identifiers;
        units go into the name (``temperature_K``) unless dimensionless.
    grain_ids : ndarray of int, optional
        Grain of every voxel, ``-1`` outside grains; needs ``orientations``.
    orientations : ndarray, shape (n_grains, 4), optional
        Unit quaternions ``(w, x, y, z)`` of the grains, crystal -> sample.
    truth : mapping of str to ndarray, optional
        The generator's ground truth as arrays; keys may contain ``/`` to
        group columns of a table (``"particles/radius_um"``).
    provenance : Provenance
        Generator, parameters, seed and version.

    Notes
    -----
    Arrays are stored as read-only views, not copies, so that a large volume
    is not duplicated: the twin cannot change them, but whoever still holds
    a writeable reference to an input array could, so do not modify arrays
    after handing them to a twin. :meth:`replace` and :meth:`with_field`
    return new twins.
    """

    labels: np.ndarray
    voxel_size_um: float
    phases: Mapping[int, Material]
    fields: Mapping[str, np.ndarray] = field(default_factory=dict)
    grain_ids: np.ndarray | None = None
    orientations: np.ndarray | None = None
    truth: Mapping[str, np.ndarray] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)

    def __post_init__(self) -> None:
        labels = arguments.array("labels", self.labels, ndim=(2, 3), dtype_kind="iu")
        if labels.size == 0:
            raise ValueError(f"labels: expected a non-empty grid, got shape {labels.shape}")
        if labels.dtype.kind == "i" and labels.min() < 0:
            raise ValueError(f"labels: expected labels >= 0, found {labels.min()}")
        object.__setattr__(self, "labels", _readonly(labels))
        object.__setattr__(self, "voxel_size_um",
                           arguments.positive("voxel_size_um", self.voxel_size_um, unit="um"))
        self._set_phases()
        self._set_fields()
        self._set_grains()
        truth = {}
        for key, value in dict(self.truth).items():
            if not isinstance(key, str) or not _TRUTH_NAME.match(key):
                raise ValueError(f"truth key {key!r}: expected identifiers joined by '/' "
                                 f"(e.g. 'particles/radius_um')")
            truth[key] = _readonly(arguments.array(f"truth[{key!r}]", value, dtype_kind="biuf"))
        clash = sorted(set(truth) & _all_prefixes(truth))
        if clash:
            raise ValueError(f"truth key {clash[0]!r}: is both an array and a group of other keys; rename one")
        object.__setattr__(self, "truth", MappingProxyType(truth))
        if not isinstance(self.provenance, Provenance):
            raise TypeError(f"provenance={self.provenance!r}: expected a twin.Provenance")

    def _set_phases(self) -> None:
        phases = {}
        for key, material in dict(self.phases).items():
            label = arguments.integer("phases key", key, minimum=0)
            if not isinstance(material, Material):
                raise TypeError(f"phases[{key!r}]={material!r}: expected a twin.materials.Material")
            phases[label] = material
        names = [m.name for m in phases.values()]
        if len(set(names)) != len(names):
            raise ValueError(f"phases: material names must be unique within a twin, got {names}")
        present = _labels_present(self.labels)
        missing = sorted(set(present.tolist()) - set(phases))
        if missing:
            raise ValueError(f"phases: labels {missing} occur in labels but have no material; "
                             f"phases has {sorted(phases)}")
        object.__setattr__(self, "phases", MappingProxyType(dict(sorted(phases.items()))))

    def _set_fields(self) -> None:
        fields = {}
        for name, values in dict(self.fields).items():
            if not isinstance(name, str) or not _NAME.match(name):
                raise ValueError(f"fields key {name!r}: expected an identifier such as 'soc'")
            a = arguments.array(f"fields[{name!r}]", values, dtype_kind="biuf")
            if a.shape != self.shape:
                raise ValueError(f"fields[{name!r}]: expected the grid's shape {self.shape}, got {a.shape}")
            fields[name] = _readonly(a)
        object.__setattr__(self, "fields", MappingProxyType(fields))

    def _set_grains(self) -> None:
        if (self.grain_ids is None) != (self.orientations is None):
            raise ValueError("grain_ids and orientations: expected both or neither")
        if self.grain_ids is None:
            return
        ids = arguments.array("grain_ids", self.grain_ids, dtype_kind="iu")
        if ids.shape != self.shape:
            raise ValueError(f"grain_ids: expected the grid's shape {self.shape}, got {ids.shape}")
        q = arguments.array("orientations", self.orientations, ndim=(2,), dtype_kind="f", finite=True)
        if q.shape[1] != 4:
            raise ValueError(f"orientations: expected shape (n_grains, 4) of quaternions, got {q.shape}")
        norm_error = np.abs(np.linalg.norm(q, axis=1) - 1.0)
        if q.shape[0] and norm_error.max() > QUATERNION_NORM_TOL:
            raise ValueError(f"orientations: expected unit quaternions, grain {int(norm_error.argmax())} "
                             f"has norm {np.linalg.norm(q[norm_error.argmax()]):.9g}")
        if ids.size and (ids.min() < -1 or ids.max() >= q.shape[0]):
            raise ValueError(f"grain_ids: expected values in [-1, {q.shape[0] - 1}] (n_grains = {q.shape[0]}), "
                             f"found [{ids.min()}, {ids.max()}]")
        object.__setattr__(self, "grain_ids", _readonly(ids))
        object.__setattr__(self, "orientations", _readonly(q))

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape, ``(nz, ny, nx)`` or ``(ny, nx)``."""
        return self.labels.shape

    @property
    def ndim(self) -> int:
        """2 or 3."""
        return self.labels.ndim

    @property
    def extent_um(self) -> tuple[float, ...]:
        """Physical size along each axis, um, in the order of :attr:`shape`."""
        return tuple(n * self.voxel_size_um for n in self.shape)

    @property
    def n_grains(self) -> int:
        """Number of grains (0 without grains)."""
        return 0 if self.orientations is None else self.orientations.shape[0]

    # ------------------------------------------------------------------ phases
    def phase_names(self) -> dict[int, str]:
        """Label -> material name."""
        return {label: m.name for label, m in self.phases.items()}

    def label_of(self, name: str) -> int:
        """Label of the phase whose material is called ``name``."""
        for label, material in self.phases.items():
            if material.name == name:
                return label
        raise ValueError(f"name={name!r}: no such phase; phases are {list(self.phase_names().values())}")

    def volume_fractions(self) -> dict[str, float]:
        """Volume fraction of each phase by material name (phases absent from the grid give 0)."""
        counts = label_counts(self.labels, minlength=max(self.phases) + 1)
        return {m.name: float(counts[label]) / self.labels.size for label, m in self.phases.items()}

    def property_map(self, values: Mapping[int, float] | np.ndarray) -> np.ndarray:
        """Per-voxel map of a per-phase quantity by table lookup, O(N voxels).

        Parameters
        ----------
        values : mapping label -> float, or 1D array indexed by label
            A mapping must give every phase of the twin and nothing else; an
            array must be at least ``max(labels) + 1`` long.

        Returns
        -------
        ndarray of float, the grid's shape
        """
        size = max(self.phases) + 1
        if isinstance(values, Mapping):
            missing, extra = set(self.phases) - set(values), set(values) - set(self.phases)
            if missing or extra:
                raise ValueError(f"values: expected one value per phase label {sorted(self.phases)}, "
                                 f"missing {sorted(missing)}, unknown {sorted(extra)}")
            table = np.zeros(size)
            for label, v in values.items():
                table[label] = v
        else:
            table = np.asarray(values, dtype=float)
            if table.ndim != 1 or table.size < size:
                raise ValueError(f"values: expected a 1D table of at least {size} values (one per label "
                                 f"0..{size - 1}), got shape {table.shape}")
        return table[self.labels]

    def linear_attenuation_per_cm(self, energy_kev: float) -> np.ndarray:
        """Linear attenuation coefficient of every voxel at one energy, 1/cm.

        Per phase only: fields that change composition (``soc``) are left to
        the modalities that model them.
        """
        energy = float(arguments.energies_kev("energy_kev", energy_kev))
        return self.property_map({label: float(m.linear_attenuation_per_cm(energy))
                                  for label, m in self.phases.items()})

    # ------------------------------------------------------------------ new twins
    def replace(self, **changes: Any) -> "Twin":
        """A new twin with some attributes replaced (validated again)."""
        return dataclasses.replace(self, **changes)

    def with_field(self, name: str, values: np.ndarray) -> "Twin":
        """A new twin with field ``name`` added or replaced."""
        return self.replace(fields={**self.fields, name: values})

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Twin):
            return NotImplemented
        return (self.voxel_size_um == other.voxel_size_um
                and dict(self.phases) == dict(other.phases)
                and self.provenance == other.provenance
                and _same_array(self.labels, other.labels)
                and _same_array(self.grain_ids, other.grain_ids)
                and _same_array(self.orientations, other.orientations)
                and _same_arrays(self.fields, other.fields)
                and _same_arrays(self.truth, other.truth))

    __hash__ = None  # mutable-looking arrays inside: not hashable

    def __repr__(self) -> str:
        phases = ", ".join(f"{k}:{m.name}" for k, m in self.phases.items())
        return (f"Twin(shape={self.shape}, voxel_size_um={self.voxel_size_um:g}, phases={{{phases}}}, "
                f"fields={list(self.fields)}, n_grains={self.n_grains}, "
                f"generator={self.provenance.generator!r}, seed={self.provenance.seed})")

    # ------------------------------------------------------------------ io
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the twin to HDF5 losslessly and atomically; see :mod:`twin.io`."""
        from twin import io

        return io.save(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Twin":
        """Read a twin written by :meth:`save`."""
        from twin import io

        return io.load(path)

    def to_vtk(self):
        """The twin as ``pyvista.ImageData`` (cell data, spacing in um); see :func:`twin.io.to_vtk`."""
        from twin import io

        return io.to_vtk(self)


def _refuse_nul(name: str, text: str) -> None:
    # HDF5 variable-length strings cannot hold NUL; refuse it before a save fails.
    if not isinstance(text, str) or "\x00" in text:
        raise ValueError(f"{name}={text!r}: expected a string without NUL characters")


def _all_prefixes(keys) -> set[str]:
    """Every group path implied by '/'-joined keys: 'a/b/c' gives 'a' and 'a/b'."""
    return {key.rsplit("/", i)[0] for key in keys for i in range(1, key.count("/") + 1)}


#: Voxels counted per bincount call: bounds the int64 temporary to 128 MB whatever the grid size.
_COUNT_CHUNK = 1 << 24


def label_counts(labels: np.ndarray, minlength: int = 0) -> np.ndarray:
    """Number of voxels of each label value, O(N) in chunks (no copy of the whole grid)."""
    flat = labels.reshape(-1)
    counts = np.zeros(max(minlength, int(labels.max()) + 1), dtype=np.int64)
    for start in range(0, flat.size, _COUNT_CHUNK):
        chunk = np.bincount(flat[start:start + _COUNT_CHUNK], minlength=counts.size)
        counts += chunk
    return counts


def _labels_present(labels: np.ndarray) -> np.ndarray:
    # bincount is O(N) and far faster than np.unique's sort for small label values.
    if labels.max() < 1 << 16:
        return np.flatnonzero(label_counts(labels))
    return np.unique(labels)


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))


def _same_arrays(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(_same_array(a[k], b[k]) for k in a)
