"""Tests of twin.container: building, validating, comparing and deriving twins."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from twin import materials
from twin.container import Provenance, Twin
from twin.materials import Material

AIR = materials.get("air")
NMC = materials.get("NMC811")
GRAPHITE = materials.get("graphite")
PROV = Provenance("tests", {"a": 1}, seed=7, created_utc="2024-01-01T00:00:00+00:00")


def _labels() -> np.ndarray:
    # 2 x 3 x 4 grid, counted by hand: 13 voxels of 0, 7 of 1, 4 of 2.
    labels = np.zeros((2, 3, 4), dtype=np.uint8)
    labels[0, 0, :] = 1          # 4 voxels
    labels[1, 2, 1:] = 1         # 3 voxels
    labels[1, 0, :] = 2          # 4 voxels
    return labels


def _twin(**changes) -> Twin:
    kwargs = dict(labels=_labels(), voxel_size_um=0.5, phases={0: AIR, 1: NMC, 2: GRAPHITE}, provenance=PROV)
    kwargs.update(changes)
    return Twin(**kwargs)


def _grains(shape=(2, 3, 4)):
    ids = np.full(shape, -1, dtype=np.int32)
    ids[0] = 0
    ids[1, :, :2] = 1
    q = np.array([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5]])
    return ids, q


# ---------------------------------------------------------------------- construction
def test_valid_twin_attributes():
    ids, q = _grains()
    soc = np.linspace(0, 1, 24).reshape(2, 3, 4)
    t = _twin(fields={"soc": soc}, grain_ids=ids, orientations=q,
              truth={"particles/radius_um": np.array([1.0, 2.0])})
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.n_grains == 2
    assert t.voxel_size_um == 0.5 and isinstance(t.voxel_size_um, float)
    assert list(t.phases) == [0, 1, 2]
    assert t.phase_names() == {0: "air", 1: "NMC811", 2: "graphite"}
    assert t.label_of("graphite") == 2
    np.testing.assert_array_equal(t.fields["soc"], soc)
    np.testing.assert_array_equal(t.truth["particles/radius_um"], [1.0, 2.0])


def test_two_dimensional_twin():
    t = Twin(np.array([[0, 1], [1, 1]], dtype=np.int32), 2.0, {0: AIR, 1: NMC}, provenance=PROV)
    assert t.ndim == 2
    assert t.extent_um == (4.0, 4.0)


def test_phases_sorted_and_extra_phases_allowed():
    t = Twin(np.zeros((2, 2), np.uint8), 1.0, {5: NMC, 0: AIR}, provenance=PROV)
    assert list(t.phases) == [0, 5]


def test_label_of_unknown_name():
    with pytest.raises(ValueError, match="name='nope'"):
        _twin().label_of("nope")


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("labels", [np.zeros(5, np.uint8), np.zeros((2, 2, 2, 2), np.uint8)], ids=["1d", "4d"])
def test_labels_wrong_ndim(labels):
    with pytest.raises(ValueError, match=r"^labels: expected an array with ndim in \(2, 3\)"):
        Twin(labels, 1.0, {0: AIR})


@pytest.mark.parametrize("dtype", [np.float64, bool], ids=["float", "bool"])
def test_labels_wrong_dtype(dtype):
    with pytest.raises(TypeError, match="^labels: expected dtype kind"):
        Twin(np.zeros((2, 2), dtype=dtype), 1.0, {0: AIR})


def test_labels_negative():
    labels = np.zeros((2, 2), np.int32)
    labels[1, 1] = -3
    with pytest.raises(ValueError, match="^labels: expected labels >= 0, found -3"):
        Twin(labels, 1.0, {0: AIR})


def test_labels_empty():
    with pytest.raises(ValueError, match=r"^labels: expected a non-empty grid, got shape \(0, 3\)"):
        Twin(np.zeros((0, 3), np.uint8), 1.0, {0: AIR})


@pytest.mark.parametrize("size", [0.0, -1.0, math.nan, math.inf])
def test_voxel_size_not_positive(size):
    with pytest.raises(ValueError, match="^voxel_size_um="):
        _twin(voxel_size_um=size)


def test_voxel_size_not_a_number():
    with pytest.raises(TypeError, match="^voxel_size_um='big'"):
        _twin(voxel_size_um="big")


def test_label_without_material():
    with pytest.raises(ValueError, match=r"^phases: labels \[2\] occur in labels but have no material"):
        _twin(phases={0: AIR, 1: NMC})


def test_phase_not_a_material():
    with pytest.raises(TypeError, match=r"^phases\[1\]='NMC811': expected a twin.materials.Material"):
        _twin(phases={0: AIR, 1: "NMC811", 2: GRAPHITE})


def test_phase_key_not_an_integer():
    with pytest.raises(TypeError, match="^phases key='1'"):
        _twin(phases={0: AIR, "1": NMC, 2: GRAPHITE})


def test_duplicate_material_names():
    other_nmc = Material.from_formula("NMC811", "LiNiO2", 4.7)
    with pytest.raises(ValueError, match="^phases: material names must be unique"):
        _twin(phases={0: AIR, 1: NMC, 2: other_nmc})


def test_field_of_mismatched_shape():
    with pytest.raises(ValueError, match=r"^fields\['soc'\]: expected the grid's shape \(2, 3, 4\), got \(3, 4\)"):
        _twin(fields={"soc": np.zeros((3, 4))})


@pytest.mark.parametrize("name", ["1soc", "soc level", "", "a/b", 3])
def test_bad_field_name(name):
    with pytest.raises(ValueError, match="^fields key"):
        _twin(fields={name: np.zeros((2, 3, 4))})


def test_string_dtype_field():
    with pytest.raises(TypeError, match=r"^fields\['phase_name'\]: expected dtype kind"):
        _twin(fields={"phase_name": np.full((2, 3, 4), "air")})


def test_grain_ids_without_orientations():
    ids, _ = _grains()
    with pytest.raises(ValueError, match="^grain_ids and orientations: expected both or neither"):
        _twin(grain_ids=ids)


def test_orientations_without_grain_ids():
    _, q = _grains()
    with pytest.raises(ValueError, match="^grain_ids and orientations"):
        _twin(orientations=q)


def test_non_unit_quaternion():
    ids, q = _grains()
    q = q.copy()
    q[1] *= 1.001
    with pytest.raises(ValueError, match="^orientations: expected unit quaternions, grain 1 has norm 1.001"):
        _twin(grain_ids=ids, orientations=q)


def test_quaternion_wrong_width():
    ids, _ = _grains()
    with pytest.raises(ValueError, match=r"^orientations: expected shape \(n_grains, 4\)"):
        _twin(grain_ids=ids, orientations=np.eye(3)[:2])


def test_grain_id_out_of_range():
    ids, q = _grains()
    ids = ids.copy()
    ids[0, 0, 0] = 2  # only grains 0 and 1 exist
    with pytest.raises(ValueError, match=r"^grain_ids: expected values in \[-1, 1\]"):
        _twin(grain_ids=ids, orientations=q)


def test_grain_id_below_minus_one():
    ids, q = _grains()
    ids = ids.copy()
    ids[0, 0, 0] = -2
    with pytest.raises(ValueError, match=r"^grain_ids: expected values in \[-1, 1\]"):
        _twin(grain_ids=ids, orientations=q)


def test_grain_ids_of_wrong_shape():
    ids, q = _grains()
    with pytest.raises(ValueError, match=r"^grain_ids: expected the grid's shape"):
        _twin(grain_ids=ids[0], orientations=q)


@pytest.mark.parametrize("key", ["a//b", "/a", "a/", "1a", "a b", ""])
def test_bad_truth_key(key):
    with pytest.raises(ValueError, match="^truth key"):
        _twin(truth={key: np.zeros(2)})


@pytest.mark.parametrize("keys, clash", [(("spheres", "spheres/radius_um"), "spheres"), (("a/b/c", "a/b"), "a/b")])
def test_truth_key_that_is_also_a_group(keys, clash):
    # HDF5 (twin.io) cannot hold an array and a group under one name
    with pytest.raises(ValueError, match=f"^truth key '{clash}': is both an array and a group"):
        _twin(truth={k: np.ones(2) for k in keys})


def test_truth_keys_sharing_a_group_are_fine():
    t = _twin(truth={"a/b": np.ones(2), "a/c": np.zeros(2), "ab": np.ones(1)})
    assert set(t.truth) == {"a/b", "a/c", "ab"}


def test_truth_of_strings():
    with pytest.raises(TypeError, match=r"^truth\['names'\]: expected dtype kind"):
        _twin(truth={"names": np.array(["a", "b"])})


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("3", TypeError)])
def test_bad_provenance_seed(seed, error):
    with pytest.raises(error, match="^seed="):
        Provenance("g", {}, seed)


def test_non_json_provenance_parameter():
    with pytest.raises(TypeError, match="^parameters: expected JSON-serialisable"):
        Provenance("g", {"array": np.zeros(3)})


def test_provenance_not_a_provenance():
    with pytest.raises(TypeError, match="^provenance="):
        _twin(provenance={"generator": "g"})


def test_provenance_parameters_json_normalised():
    p = Provenance("g", {"shape": (2, 3), "n": 4})
    assert dict(p.parameters) == {"shape": [2, 3], "n": 4}
    assert p.seed is None


# ---------------------------------------------------------------------- immutability
def test_arrays_are_read_only():
    ids, q = _grains()
    t = _twin(fields={"soc": np.zeros((2, 3, 4))}, grain_ids=ids, orientations=q,
              truth={"r": np.ones(3)})
    for array in (t.labels, t.fields["soc"], t.grain_ids, t.orientations, t.truth["r"]):
        with pytest.raises(ValueError, match="read-only"):
            array[(0,) * array.ndim] = 1


def test_mappings_and_attributes_are_frozen():
    t = _twin(fields={"soc": np.zeros((2, 3, 4))})
    with pytest.raises(TypeError):
        t.fields["new"] = np.zeros((2, 3, 4))
    with pytest.raises(TypeError):
        t.phases[3] = NMC
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.voxel_size_um = 2.0


def test_replace_returns_new_validated_twin():
    t = _twin()
    before = _labels()
    t2 = t.replace(voxel_size_um=2.0)
    assert t2.voxel_size_um == 2.0 and t.voxel_size_um == 0.5
    assert t2.extent_um == (4.0, 6.0, 8.0)
    np.testing.assert_array_equal(t2.labels, before)
    with pytest.raises(ValueError, match="^voxel_size_um=-1"):
        t.replace(voxel_size_um=-1)
    with pytest.raises(ValueError, match=r"^phases: labels \[1, 2\]"):
        t.replace(phases={0: AIR})
    assert t == _twin()


def test_with_field_adds_and_replaces_without_touching_original():
    t = _twin(fields={"soc": np.zeros((2, 3, 4))})
    pore = np.arange(24.0).reshape(2, 3, 4)
    t2 = t.with_field("pore_fill", pore)
    assert set(t.fields) == {"soc"}
    assert set(t2.fields) == {"soc", "pore_fill"}
    np.testing.assert_array_equal(t2.fields["pore_fill"], pore)
    assert not t2.fields["pore_fill"].flags.writeable
    t3 = t2.with_field("soc", np.ones((2, 3, 4)))
    np.testing.assert_array_equal(t3.fields["soc"], 1.0)
    np.testing.assert_array_equal(t2.fields["soc"], 0.0)
    np.testing.assert_array_equal(t.fields["soc"], 0.0)
    with pytest.raises(ValueError, match=r"^fields\['bad'\]: expected the grid's shape"):
        t.with_field("bad", np.zeros(3))
    with pytest.raises(ValueError, match="^fields key '2x'"):
        t.with_field("2x", np.zeros((2, 3, 4)))
    assert set(t.fields) == {"soc"}


# ---------------------------------------------------------------------- derived quantities
def test_volume_fractions_hand_count():
    # _labels(): 24 voxels, 4 + 3 = 7 of label 1, 4 of label 2, the other 13 of label 0.
    vf = _twin().volume_fractions()
    assert vf == {"air": 13 / 24, "NMC811": 7 / 24, "graphite": 4 / 24}
    assert math.isclose(sum(vf.values()), 1.0)


def test_volume_fractions_with_absent_phase_and_gap_in_labels():
    labels = np.array([[0, 0, 0], [4, 4, 0]], dtype=np.uint16)
    t = Twin(labels, 1.0, {0: AIR, 2: GRAPHITE, 4: NMC}, provenance=PROV)
    assert t.volume_fractions() == {"air": 4 / 6, "graphite": 0.0, "NMC811": 2 / 6}


def test_property_map_from_mapping_and_array():
    t = _twin()
    labels = _labels()
    expected = np.choose(labels, [10.0, -2.5, 7.0])
    np.testing.assert_array_equal(t.property_map({0: 10.0, 1: -2.5, 2: 7.0}), expected)
    np.testing.assert_array_equal(t.property_map(np.array([10.0, -2.5, 7.0])), expected)
    assert t.property_map({0: 1, 1: 2, 2: 3}).dtype == np.float64


def test_property_map_from_longer_table():
    table = np.arange(10.0) * 1.5  # a global table: value of every label 0..9
    np.testing.assert_array_equal(_twin().property_map(table), _labels() * 1.5)


def test_property_map_refuses_short_table():
    with pytest.raises(ValueError, match=r"values: expected a 1D table of at least 3 values"):
        _twin().property_map(np.array([1.0, 2.0]))


@pytest.mark.parametrize("values", [{0: 10.0, 1: -2.5, 2: 7.0, 5: 99.0}, {0: 10.0, 1: -2.5}])
def test_property_map_refuses_mapping_not_matching_phases(values):
    with pytest.raises(ValueError, match=r"values: expected one value per phase label \[0, 1, 2\]"):
        _twin().property_map(values)


@pytest.mark.parametrize("energy_kev", [8.0, 25.0])
def test_linear_attenuation_per_phase(energy_kev):
    t = _twin()
    mu = t.linear_attenuation_per_cm(energy_kev)
    assert mu.shape == t.shape
    for label, material in {0: AIR, 1: NMC, 2: GRAPHITE}.items():
        expected = float(material.linear_attenuation_per_cm(energy_kev))
        assert expected > 0
        np.testing.assert_array_equal(mu[_labels() == label], expected)
    # physics sanity: NMC811 (4.75 g/cm3, transition metals) absorbs far more than graphite, graphite than air
    assert mu[0, 0, 0] > mu[1, 0, 0] > mu[0, 1, 0]


def test_linear_attenuation_refuses_energy_in_ev():
    with pytest.raises(ValueError, match="^energy_kev=8333.*did you pass eV"):
        _twin().linear_attenuation_per_cm(8333)


def test_extent_um():
    t = _twin(voxel_size_um=0.25)
    assert t.extent_um == (0.5, 0.75, 1.0)  # (2, 3, 4) voxels of 0.25 um


# ---------------------------------------------------------------------- equality
def test_equal_twins_built_separately():
    ids, q = _grains()
    a = _twin(fields={"soc": np.arange(24.0).reshape(2, 3, 4)}, grain_ids=ids, orientations=q,
              truth={"t/x": np.ones(2)})
    b = _twin(fields={"soc": np.arange(24.0).reshape(2, 3, 4)}, grain_ids=ids.copy(), orientations=q.copy(),
              truth={"t/x": np.ones(2)})
    assert a == b
    assert not (a != b)


def test_nan_fields_compare_equal():
    f = np.full((2, 3, 4), np.nan)
    f[0, 0, 0] = 0.3
    assert _twin(fields={"soc": f}) == _twin(fields={"soc": f.copy()})
    g = f.copy()
    g[0, 0, 0] = np.nan
    assert _twin(fields={"soc": f}) != _twin(fields={"soc": g})


def test_dtype_differences_are_unequal():
    assert _twin() != _twin(labels=_labels().astype(np.int32))
    f = np.zeros((2, 3, 4))
    assert _twin(fields={"soc": f}) != _twin(fields={"soc": f.astype(np.float32)})
    assert _twin(truth={"r": np.ones(2)}) != _twin(truth={"r": np.ones(2, dtype=np.int64)})


def test_other_differences_are_unequal():
    ids, q = _grains()
    base = _twin()
    assert base != _twin(voxel_size_um=0.6)
    assert base != _twin(phases={0: AIR, 1: NMC, 2: materials.get("hard carbon")})
    assert base != _twin(provenance=dataclasses.replace(PROV, seed=8))
    assert base != _twin(grain_ids=ids, orientations=q)
    assert base != _twin(fields={"soc": np.zeros((2, 3, 4))})
    assert base != _twin(truth={"r": np.ones(2)})
    changed = _labels()
    changed[0, 0, 0] = 2
    assert base != _twin(labels=changed)


def test_comparison_with_other_types_and_hash():
    t = _twin()
    assert (t == "twin") is False
    with pytest.raises(TypeError):
        hash(t)


def test_repr_names_shape_and_phases():
    text = repr(_twin())
    assert "shape=(2, 3, 4)" in text and "1:NMC811" in text and "seed=7" in text


def test_label_counts_in_chunks_equal_bincount(monkeypatch):
    import twin.container as container

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, (13, 17, 19)).astype(np.uint8)
    monkeypatch.setattr(container, "_COUNT_CHUNK", 100)  # many chunks, the last one partial
    np.testing.assert_array_equal(container.label_counts(labels, minlength=9),
                                  np.bincount(labels.ravel(), minlength=9))
