"""Tests of twin.io: lossless HDF5 round trips, refusals of bad files, atomic writes, VTK export."""

from __future__ import annotations

import json
import os
import string
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from twin import io, materials
from twin.container import Provenance, Twin
from twin.materials import Material
from twin.io import SCHEMA_VERSION, TwinFileError, load, save, save_vtk, to_vtk

PROV = Provenance("tests", {"n": 3, "shape": [3, 4, 5]}, seed=11, created_utc="2024-05-01T12:00:00+00:00")
AIR, NMC, GRAPHITE = materials.get("air"), materials.get("NMC811"), materials.get("graphite")


def _twin(ndim: int = 3) -> Twin:
    shape = (3, 4, 5) if ndim == 3 else (4, 5)
    labels = (np.arange(np.prod(shape)).reshape(shape) % 3).astype(np.uint8)
    soc = np.linspace(0.0, 1.0, labels.size).reshape(shape)
    soc[labels == 0] = np.nan
    ids = np.where(labels == 0, -1, labels.astype(np.int32) - 1).astype(np.int32)
    q = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.6, 0.8, 0.0]])
    return Twin(labels, 0.75, {0: AIR, 1: NMC, 2: GRAPHITE}, fields={"soc": soc, "cracked": labels == 2},
                grain_ids=ids, orientations=q, truth={"particles/radius_um": np.array([1.5, 2.5]),
                                                      "particles/id": np.array([1, 2])},
                provenance=PROV)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------- strategies
_MATERIALS = [materials.get(n) for n in materials.names()] + [materials.get("Li_x NMC811", 0.37)]
_IDENT = st.text(string.ascii_letters + "_", min_size=1, max_size=1).flatmap(
    lambda head: st.text(string.ascii_letters + string.digits + "_", max_size=6).map(lambda tail: head + tail))
_FIELD_DTYPES = [np.float32, np.float64, np.int16, np.int64, np.uint8, np.bool_]
_TRUTH_DTYPES = [np.float64, np.float32, np.int64, np.int32, np.bool_]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)


def _values(dtype) -> st.SearchStrategy:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        # NaN (also with a payload), infinities, -0.0 and subnormals: the file must keep them bit for bit.
        payload_nan = np.array(0x7FF80000DEADBEEF if dtype.itemsize == 8 else 0x7FC0BEEF,
                               dtype=f"u{dtype.itemsize}").view(dtype)[()]
        special = [np.nan, payload_nan, np.inf, -np.inf, -0.0, np.finfo(dtype).smallest_subnormal]
        return st.sampled_from([dtype.type(v) for v in special]) | st.floats(width=8 * dtype.itemsize)
    return hnp.from_dtype(dtype)


def _array(dtype, shape) -> st.SearchStrategy:
    return hnp.arrays(dtype, shape, elements=_values(dtype))


def _unit_quaternions(n: int) -> st.SearchStrategy:
    vec = st.lists(st.floats(-1, 1, allow_subnormal=False), min_size=4, max_size=4).filter(
        lambda v: np.linalg.norm(v) > 0.1)
    return st.lists(vec, min_size=n, max_size=n).map(
        lambda rows: np.array([np.array(r) / np.linalg.norm(r) for r in rows]).reshape(n, 4))


def _truth_keys() -> st.SearchStrategy:
    # Keys with up to three '/'-joined levels; a key that is also a group of another key is dropped,
    # since a twin refuses that (HDF5 cannot hold a dataset and a group under one name).
    def drop_prefixes(paths):
        keys = sorted({"/".join(p) for p in paths})
        return [k for k in keys if not any(other.startswith(k + "/") for other in keys)]
    return st.lists(st.lists(st.sampled_from(["a", "b", "spheres", "radius_um", "x_1"]), min_size=1, max_size=3),
                    max_size=5).map(drop_prefixes)


@st.composite
def twins(draw) -> Twin:
    ndim = draw(st.sampled_from([2, 3]))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=ndim, max_size=ndim)))
    label_dtype = draw(st.sampled_from([np.uint8, np.int32, np.uint16]))
    top = {np.uint8: 255, np.uint16: 65535, np.int32: 70000}[label_dtype]  # >= 2**16 takes np.unique's path
    keys = sorted(draw(st.sets(st.integers(0, top), min_size=1, max_size=4)))
    index = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, len(keys) - 1)))
    labels = np.asarray(keys)[index].astype(label_dtype)
    chosen = draw(st.permutations(_MATERIALS))[: len(keys)]
    phases = dict(zip(keys, chosen))
    voxel = draw(st.floats(1e-6, 1e6, allow_subnormal=False))

    fields = {}
    for name in draw(st.sets(_IDENT, max_size=3)):
        fields[name] = draw(_array(draw(st.sampled_from(_FIELD_DTYPES)), shape))

    grain_ids = orientations = None
    if draw(st.booleans()):
        n = draw(st.integers(0, 4))
        orientations = draw(_unit_quaternions(n))
        id_dtype = draw(st.sampled_from([np.int32, np.int64, np.int16]))
        grain_ids = draw(hnp.arrays(id_dtype, shape, elements=st.integers(-1, n - 1)))

    truth = {}
    for key in draw(_truth_keys()):
        dtype = draw(st.sampled_from(_TRUTH_DTYPES))
        truth[key] = draw(_array(dtype, hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4)))

    provenance = Provenance(
        # Lone surrogates cannot be encoded as UTF-8 at all; NUL: see test_generator_name_with_nul.
        generator=draw(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
                               max_size=12)),
        parameters=draw(st.dictionaries(st.text(max_size=6), _JSON, max_size=4)),
        seed=draw(st.none() | st.integers(0, 2**64 - 1) | st.integers(0, 2**130)),
        created_utc=draw(st.text(string.printable, max_size=25)))
    return Twin(labels, voxel, phases, fields=fields, grain_ids=grain_ids, orientations=orientations,
                truth=truth, provenance=provenance)


def _assert_identical(a: Twin, b: Twin) -> None:
    assert b == a
    assert _same_bits(a.labels, b.labels)
    assert b.voxel_size_um == a.voxel_size_um
    assert dict(b.phases) == dict(a.phases)
    for label, material in a.phases.items():
        loaded = b.phases[label]
        assert loaded.name == material.name and loaded.formula == material.formula
        assert loaded.density_g_cm3 == material.density_g_cm3
        assert dict(loaded.mass_fractions) == dict(material.mass_fractions)
    assert set(b.fields) == set(a.fields)  # HDF5 lists a group's members by name, not by insertion
    for name in a.fields:
        assert _same_bits(a.fields[name], b.fields[name]), name
    assert set(b.truth) == set(a.truth)
    for key in a.truth:
        assert _same_bits(np.asarray(a.truth[key]), np.asarray(b.truth[key])), key
    assert (b.grain_ids is None) == (a.grain_ids is None)
    if a.grain_ids is not None:
        assert _same_bits(a.grain_ids, b.grain_ids)
        assert _same_bits(a.orientations, b.orientations)
    assert b.provenance == a.provenance


# ---------------------------------------------------------------------- round trips
@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(twin=twins())
def test_hdf5_round_trip_is_lossless(twin):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "twin.h5"
        assert save(twin, path) == path
        _assert_identical(twin, load(path))
        assert os.listdir(folder) == ["twin.h5"]


def test_round_trip_fixed_twin_and_methods(tmp_path):
    for ndim in (2, 3):
        twin = _twin(ndim)
        path = twin.save(tmp_path / f"t{ndim}.h5")
        loaded = Twin.load(path)
        _assert_identical(twin, loaded)
        assert np.isnan(loaded.fields["soc"][twin.labels == 0]).all()


def test_special_floats_kept_bit_for_bit(tmp_path):
    bits = np.array([0x7FF80000DEADBEEF, 0x8000000000000000, 0x7FF0000000000000, 0x0000000000000001,
                     0x3FF0000000000000, 0xFFF8000000000000], dtype=np.uint64)
    field = np.zeros((2, 3), np.float64)
    field.ravel()[:] = bits.view(np.float64)  # payload NaN, -0.0, inf, smallest subnormal, 1.0, negative NaN
    twin = Twin(np.zeros((2, 3), np.uint8), 1.0, {0: AIR}, fields={"f": field}, provenance=PROV)
    save(twin, tmp_path / "t.h5")
    assert load(tmp_path / "t.h5").fields["f"].view(np.uint64).ravel().tolist() == bits.tolist()


def test_large_compressed_arrays_round_trip(tmp_path):
    # >= 4096 voxels take the gzip/shuffle path of io._dataset
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, (16, 20, 24), dtype=np.uint8)
    field = rng.normal(size=labels.shape).astype(np.float32)
    field[::3] = np.nan
    twin = Twin(labels, 0.3, {0: AIR, 1: NMC}, fields={"soc": field}, provenance=PROV)
    save(twin, tmp_path / "big.h5")
    with h5py.File(tmp_path / "big.h5", "r") as f:
        assert f["labels"].compression == "gzip"
        assert f.attrs["xtwin_schema"] == "xtwin.twin" and f.attrs["schema_version"] == SCHEMA_VERSION
        assert f.attrs["axes"] == "zyx"
    _assert_identical(twin, load(tmp_path / "big.h5"))


@pytest.mark.parametrize("seed", [0, 2**63 - 1, 2**64, 2**127 + 12345])
def test_large_seed_round_trips(tmp_path, seed):
    # numpy.random.SeedSequence().entropy is a 128-bit integer, a seed users do pass on.
    twin = _twin().replace(provenance=Provenance("g", {}, seed))
    save(twin, tmp_path / "t.h5")
    loaded = load(tmp_path / "t.h5")
    assert loaded.provenance.seed == seed and type(loaded.provenance.seed) is int
    _assert_identical(twin, loaded)


def test_nul_in_text_refused_before_saving():
    # HDF5 strings cannot hold NUL: refuse it when the object is built, not when a save fails.
    with pytest.raises(ValueError, match="generator="):
        Provenance("gen\x00erator", {}, 1)
    with pytest.raises(ValueError, match="density_source="):
        Material("m", {"C": 1.0}, 1.0, density_source="a\x00b")


# ---------------------------------------------------------------------- refusals when reading
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such twin file"):
        load(tmp_path / "absent.h5")


def test_directory_is_not_a_twin(tmp_path):
    with pytest.raises(FileNotFoundError):
        load(tmp_path)


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    content = b"labels,phase\n0,air\n1,NMC811\n" * 20
    path.write_bytes(content)
    with pytest.raises(TwinFileError, match="not a readable HDF5 file") as info:
        load(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)
    assert path.read_bytes() == content


@pytest.mark.parametrize("fraction", [0.5, 0.1, 0.9])
def test_truncated_file(tmp_path, fraction):
    whole = save(_twin(), tmp_path / "whole.h5")
    content = whole.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(content[: int(len(content) * fraction)])
    cut_content = cut.read_bytes()
    with pytest.raises(TwinFileError, match="truncated") as info:
        load(cut)
    assert str(cut) in str(info.value)
    assert cut.read_bytes() == cut_content
    assert whole.read_bytes() == content
    _assert_identical(_twin(), load(whole))


def test_hdf5_without_schema_attribute(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("labels", data=np.zeros((2, 2), np.uint8))
    content = path.read_bytes()
    with pytest.raises(TwinFileError, match="not an xtwin twin file.*xtwin_schema=None"):
        load(path)
    assert path.read_bytes() == content


def test_newer_schema_version(tmp_path):
    path = save(_twin(), tmp_path / "future.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    content = path.read_bytes()
    with pytest.raises(TwinFileError, match=f"schema_version {SCHEMA_VERSION + 1} is newer.*upgrade xtwin"):
        load(path)
    assert path.read_bytes() == content


def test_file_missing_a_part_of_the_schema(tmp_path):
    path = save(_twin(), tmp_path / "partial.h5")
    with h5py.File(path, "r+") as f:
        del f["provenance"]
    with pytest.raises(TwinFileError, match="damaged or incomplete xtwin twin file"):
        load(path)


def test_file_with_invalid_content(tmp_path):
    path = save(_twin(), tmp_path / "invalid.h5")
    with h5py.File(path, "r+") as f:
        f.attrs["voxel_size_um"] = -1.0
    with pytest.raises(TwinFileError, match="voxel_size_um"):
        load(path)


# ---------------------------------------------------------------------- writing safely
def test_overwrite_refused(tmp_path):
    path = save(_twin(3), tmp_path / "t.h5")
    content = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(_twin(2), path)
    assert path.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["t.h5"]


def test_overwrite_allowed_when_asked(tmp_path):
    path = save(_twin(3), tmp_path / "t.h5")
    save(_twin(2), path, overwrite=True)
    _assert_identical(_twin(2), load(path))
    assert sorted(os.listdir(tmp_path)) == ["t.h5"]


class _Abort(BaseException):
    """Stands for a crash or Ctrl-C in the middle of a write."""


@pytest.mark.parametrize("error", [RuntimeError, _Abort])
@pytest.mark.parametrize("existing", [True, False])
def test_interrupted_write_leaves_old_file(tmp_path, monkeypatch, error, existing):
    path = tmp_path / "t.h5"
    if existing:
        save(_twin(2), path)
    content = path.read_bytes() if existing else None
    real = io._dataset
    calls = []

    def failing(group, name, data):
        calls.append(name)
        if name == "soc":  # labels are written already, then the writer dies
            raise error("disk full")
        real(group, name, data)

    monkeypatch.setattr(io, "_dataset", failing)
    with pytest.raises(error, match="disk full"):
        save(_twin(3), path, overwrite=True)
    assert calls[0] == "labels" and "soc" in calls
    assert sorted(os.listdir(tmp_path)) == (["t.h5"] if existing else [])
    if existing:
        assert path.read_bytes() == content
        monkeypatch.undo()
        _assert_identical(_twin(2), load(path))


def test_save_creates_missing_folders(tmp_path):
    path = save(_twin(), tmp_path / "a" / "b" / "t.h5")
    _assert_identical(_twin(), load(path))


# ---------------------------------------------------------------------- VTK
@pytest.mark.parametrize("ndim", [3, 2])
def test_to_vtk_geometry_and_arrays(ndim):
    twin = _twin(ndim)
    grid = to_vtk(twin)
    shape3 = twin.shape if ndim == 3 else (1, *twin.shape)
    nz, ny, nx = shape3
    s = twin.voxel_size_um
    assert grid.n_cells == twin.labels.size
    assert tuple(grid.dimensions) == (nx + 1, ny + 1, nz + 1)
    assert tuple(grid.spacing) == (s, s, s)
    assert tuple(grid.origin) == (0.0, 0.0, 0.0)
    np.testing.assert_allclose(grid.bounds, (0, nx * s, 0, ny * s, 0, nz * s), rtol=0, atol=1e-12)
    # bounds equal the twin's extent (x, y[, z] = extent_um reversed); a 2D twin is one layer of cells
    extent_xyz = twin.extent_um[::-1] + ((s,) if ndim == 2 else ())
    np.testing.assert_allclose(np.array(grid.bounds)[1::2], extent_xyz, rtol=1e-12)
    np.testing.assert_array_equal(grid.cell_data["phase"].reshape(twin.shape), twin.labels)
    np.testing.assert_array_equal(grid.cell_data["soc"].reshape(twin.shape), twin.fields["soc"])
    np.testing.assert_array_equal(grid.cell_data["grain_id"].reshape(twin.shape), twin.grain_ids)
    assert list(grid.field_data["phase_names"]) == ["0:air", "1:NMC811", "2:graphite"]


def test_to_vtk_cell_order_by_vtk_geometry():
    # Independent of the reshape: ask VTK which cell holds the centre of voxel [k, j, i].
    twin = _twin(3)
    grid = twin.to_vtk()
    s = twin.voxel_size_um
    k, j, i = np.meshgrid(*[np.arange(n) for n in twin.shape], indexing="ij")
    centres = np.column_stack([(i.ravel() + 0.5) * s, (j.ravel() + 0.5) * s, (k.ravel() + 0.5) * s])
    cells = grid.find_containing_cell(centres)
    np.testing.assert_array_equal(grid.cell_data["phase"][cells], twin.labels.ravel())


def test_save_vtk_round_trip(tmp_path):
    import pyvista as pv

    twin = _twin(3)
    path = save_vtk(twin, tmp_path / "t.vti")
    assert path == tmp_path / "t.vti"
    assert sorted(os.listdir(tmp_path)) == ["t.vti"]
    read = pv.read(path)
    written = to_vtk(twin)
    assert tuple(read.dimensions) == tuple(written.dimensions)
    assert tuple(read.spacing) == tuple(written.spacing)
    assert set(read.cell_data.keys()) == {"phase", "soc", "cracked", "grain_id"}
    for name in read.cell_data.keys():
        assert _same_bits(np.asarray(read.cell_data[name]), np.asarray(written.cell_data[name])), name
    np.testing.assert_array_equal(read.cell_data["phase"].reshape(twin.shape), twin.labels)
    assert list(read.field_data["phase_names"]) == ["0:air", "1:NMC811", "2:graphite"]


def test_save_vtk_refuses_other_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"^path='.*t\.vtk': expected a '\.vti' file name"):
        save_vtk(_twin(), tmp_path / "t.vtk")
    assert os.listdir(tmp_path) == []


def test_save_vtk_refuses_overwrite(tmp_path):
    path = tmp_path / "t.vti"
    path.write_bytes(b"keep me")
    with pytest.raises(FileExistsError):
        save_vtk(_twin(), path)
    assert path.read_bytes() == b"keep me"
    save_vtk(_twin(), path, overwrite=True)
    assert path.read_bytes() != b"keep me"


def test_parameters_stored_as_json(tmp_path):
    path = save(_twin(), tmp_path / "t.h5")
    with h5py.File(path, "r") as f:
        assert json.loads(f["provenance"].attrs["parameters_json"]) == {"n": 3, "shape": [3, 4, 5]}
        assert f["provenance"].attrs["generator"] == "tests"
