"""Tests of forward.tomography.measurement: Projections, NXtomo, Data Exchange and TIFF files.

References: the NXtomo application definition (nexusformat/definitions,
applications/NXtomo.nxdl.xml) for the file layout, and the real tomopy
"Tooth" projections with the check values of ../shared/data/SOURCES.md.
"""

import json
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from forward.tomography.measurement import IMAGE_KEY, TIFF_SIDECAR, Projections, ProjectionsFileError

TOOTH = Path("/work/shared/data/tomography/tomopy_tooth_sinogram_row0.h5")


def _projections(**kw):
    rng = np.random.default_rng(0)
    base = {"counts": rng.uniform(0, 1000, (4, 2, 5)).astype(np.float32), "angles_deg": [0.0, 45.0, 90.0, 135.0],
            "pixel_size_um": 0.5, "flats": rng.uniform(900, 1100, (3, 2, 5)), "darks": np.full((2, 2, 5), 10.0),
            "energy_kev": 5.4, "exposure_s": 1.0, "centre_offset_px": 0.25, "metadata": {"sample": "test", "seed": 3}}
    base.update(kw)
    return Projections(**base)


def _refusals(*cases):
    """Parametrize (keyword changes, error, match) cases, each named after the message it expects."""
    return [pytest.param(*case, id=case[-1]) for case in cases]


# --- the container --------------------------------------------------------------------------


def test_fields_are_float32_read_only_and_json_normalised():
    p = _projections(metadata={"axes": (1, 2)})
    assert p.counts.dtype == np.float32 and p.flats.dtype == np.float32 and p.darks.dtype == np.float32
    assert (p.n_angles, p.rows, p.columns) == (4, 2, 5)
    for a in (p.counts, p.angles_deg, p.flats, p.darks):
        with pytest.raises(ValueError, match="read-only"):
            a[0] = 1
    # Tuples become lists, as they come back from a JSON file.
    assert p.metadata["axes"] == [1, 2]
    assert "n_angles=4" in repr(p)


def test_integer_counts_are_converted_exactly():
    counts = np.arange(2 * 1 * 3, dtype=np.uint16).reshape(2, 1, 3) * 1000
    p = Projections(counts, [0.0, 90.0], 1.0)
    np.testing.assert_array_equal(p.counts, counts.astype(np.float32))


def test_equality_compares_contents():
    assert _projections() == _projections()
    assert _projections() != _projections(centre_offset_px=None)
    assert _projections() != _projections(counts=np.zeros((4, 2, 5)))
    assert _projections() != "projections"


def test_a_few_angles_in_a_small_range_are_not_taken_for_radians():
    # Eight or fewer angles may span a few degrees (a limited-angle test), more may not.
    p = Projections(np.ones((8, 1, 2)), np.linspace(0, 3, 8), 1.0)
    assert p.angles_deg[-1] == 3.0


@pytest.mark.parametrize("kw, error, match", _refusals(
    ({"counts": np.ones((4, 5))}, ValueError, "single slice is rows == 1"),
    ({"counts": np.ones((0, 2, 5)), "angles_deg": []}, ValueError, "at least one frame"),
    ({"counts": np.full((4, 2, 5), np.nan)}, ValueError, "expected finite counts"),
    ({"counts": np.full((4, 2, 5), np.inf)}, ValueError, "finite counts, found inf"),
    ({"counts": -np.ones((4, 2, 5))}, ValueError, "counts >= 0"),
    ({"counts": np.ones((4, 2, 5), dtype=bool)}, TypeError, "dtype kind"),
    ({"counts": None}, ValueError, "counts=None"),
    ({"angles_deg": [0.0, 1.0]}, ValueError, "one angle per projection"),
    ({"angles_deg": [0.0, np.nan, 1.0, 2.0]}, ValueError, "finite values"),
    ({"counts": np.ones((10, 2, 5)), "angles_deg": np.linspace(0, np.pi, 10)}, ValueError, "looks like radians"),
    ({"pixel_size_um": 0.0}, ValueError, "pixel_size_um=0.0"),
    ({"flats": np.ones((3, 2, 4))}, ValueError, "flats: expected frames of"),
    ({"darks": np.ones((2, 5))}, ValueError, "darks: expected an"),
    ({"flats": np.full((3, 2, 5), np.nan)}, ValueError, "flats: expected finite"),
    ({"geometry": "fan"}, ValueError, "geometry='fan'"),
    ({"geometry": "cone", "source_origin_um": 1e4}, ValueError, "cone geometry needs both"),
    ({"geometry": "cone", "source_origin_um": 1e4, "source_detector_um": 5e3}, ValueError,
     "expected more than source_origin_um"),
    ({"source_origin_um": 1e4, "source_detector_um": 5e4}, ValueError, "expected None for parallel"),
    ({"energy_kev": 8333.0}, ValueError, "did you pass eV"),
    ({"exposure_s": -1.0}, ValueError, "exposure_s=-1.0"),
    ({"centre_offset_px": np.nan}, ValueError, "centre_offset_px=nan"),
    ({"metadata": {"a": object()}}, TypeError, "JSON-serialisable"),
    ({"metadata": [1, 2]}, TypeError, "expected a mapping"),
))
def test_refusals(kw, error, match):
    with pytest.raises(error, match=match):
        _projections(**kw)


# --- NXtomo ---------------------------------------------------------------------------------


def test_nxtomo_layout_follows_the_definition(tmp_path):
    p = _projections(geometry="cone", source_origin_um=2e4, source_detector_um=1e5)
    path = p.to_nxtomo(tmp_path / "scan.nx")
    with h5py.File(path, "r") as f:
        entry = f["entry"]
        assert entry.attrs["NX_class"] == "NXentry"
        assert entry["definition"][()] == b"NXtomo"
        detector = entry["instrument/detector"]
        assert detector.attrs["NX_class"] == "NXdetector"
        assert entry["sample"].attrs["NX_class"] == "NXsample"
        # darks, then flats, then projections, each marked by its image_key
        np.testing.assert_array_equal(detector["image_key"][()],
                                      [IMAGE_KEY["dark"]] * 2 + [IMAGE_KEY["flat"]] * 3 + [IMAGE_KEY["projection"]] * 4)
        assert (IMAGE_KEY["projection"], IMAGE_KEY["flat"], IMAGE_KEY["dark"]) == (0, 1, 2)
        assert detector["data"].shape == (9, 2, 5)
        np.testing.assert_array_equal(detector["data"][5:], p.counts)
        np.testing.assert_array_equal(entry["sample/rotation_angle"][5:], p.angles_deg)
        assert entry["sample/rotation_angle"].attrs["units"] == "degree"
        assert detector["x_pixel_size"][()] == 0.5 and detector["x_pixel_size"].attrs["units"] == "um"
        assert detector["y_pixel_size"].attrs["units"] == "um"
        assert detector["x_rotation_axis_pixel_position"][()] == pytest.approx(2.25)
        assert entry["instrument/source/distance"][()] == -2e4
        assert detector["distance"][()] == pytest.approx(8e4)
        # /entry/data holds hard links to the very same datasets
        data = entry["data"]
        assert data.attrs["NX_class"] == "NXdata" and data.attrs["signal"] == "data"
        assert data["data"] == detector["data"]
        assert data["rotation_angle"] == entry["sample/rotation_angle"]
        assert data["image_key"] == detector["image_key"]


def test_nxtomo_round_trip_and_overwrite(tmp_path):
    p = _projections()
    path = tmp_path / "scan.nx"
    p.to_nxtomo(path)
    assert Projections.from_nxtomo(path) == p
    with pytest.raises(FileExistsError, match="overwrite=True"):
        _projections(centre_offset_px=1.0).to_nxtomo(path)
    assert Projections.from_nxtomo(path) == p  # the refused write left the file alone
    q = _projections(flats=None, darks=None, energy_kev=None, exposure_s=None, centre_offset_px=None, metadata={})
    q.to_nxtomo(path, overwrite=True)
    assert Projections.from_nxtomo(path) == q
    assert sorted(x.name for x in tmp_path.iterdir()) == ["scan.nx"]  # no temporary file left


_finite32 = st.floats(0, 1e7, width=32, allow_subnormal=False)


@st.composite
def projections(draw):
    n, rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    counts = draw(hnp.arrays(np.float32, (n, rows, cols), elements=_finite32))
    angles = draw(st.lists(st.floats(-360, 360), min_size=n, max_size=n))

    def frames():
        return st.none() | st.integers(1, 3).flatmap(
            lambda k: hnp.arrays(np.float32, (k, rows, cols), elements=_finite32))

    cone = draw(st.booleans())
    so = draw(st.floats(1.0, 1e6))
    return Projections(counts, angles, draw(st.floats(1e-3, 1e3)), flats=draw(frames()), darks=draw(frames()),
                       geometry="cone" if cone else "parallel", source_origin_um=so if cone else None,
                       source_detector_um=so * draw(st.floats(1.01, 100)) if cone else None,
                       energy_kev=draw(st.none() | st.floats(0.1, 800)),
                       exposure_s=draw(st.none() | st.floats(1e-3, 1e3)),
                       centre_offset_px=draw(st.none() | st.floats(-50, 50)),
                       metadata=draw(st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5),
                                                     max_size=3)))


@settings(max_examples=25, deadline=None)
@given(projections())
def test_nxtomo_round_trip_is_lossless(p):
    with tempfile.TemporaryDirectory() as d:
        path = p.to_nxtomo(Path(d) / "p.nx")
        assert Projections.from_nxtomo(path) == p


def _write_foreign_nxtomo(path, *, units=True):
    """An NXtomo file as another program writes it: ESRF-style entry name, uint16 data, SI units."""
    rng = np.random.default_rng(1)
    keys = np.array([2, 1, 0, 0, 3, 0, 0])  # dark, flat, projections with an invalid frame
    control = np.array([2, 1, 0, 0, 3, 0, -1])  # the last projection is an alignment frame
    data = rng.integers(0, 60000, (7, 3, 4)).astype(np.uint16)
    angles_rad = np.radians([0, 0, 0, 60, 90, 120, 0])
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry0000")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXtomo"
        entry["title"] = "foreign"
        det = entry.create_group("instrument/detector")
        det.attrs["NX_class"] = "NXdetector"
        det["data"] = data
        det["image_key"] = keys
        det["image_key_control"] = control
        det["x_pixel_size"] = 6.5e-7
        det["count_time"] = 50.0
        det["x_rotation_axis_pixel_position"] = 2.0
        entry["instrument/beam/incident_energy"] = 17500.0
        entry["sample/rotation_angle"] = angles_rad
        if units:
            det["x_pixel_size"].attrs["units"] = "m"
            det["count_time"].attrs["units"] = "ms"
            entry["instrument/beam/incident_energy"].attrs["units"] = "eV"
            entry["sample/rotation_angle"].attrs["units"] = "rad"
        else:
            entry["sample/rotation_angle"].attrs["units"] = "furlong"
    return data


def test_reads_nxtomo_written_by_others(tmp_path):
    data = _write_foreign_nxtomo(tmp_path / "foreign.nx")
    p = Projections.from_nxtomo(tmp_path / "foreign.nx")
    # Projections are the key-0 frames that image_key_control does not mark as alignment (-1).
    np.testing.assert_array_equal(p.counts, data[[2, 3, 5]].astype(np.float32))
    np.testing.assert_allclose(p.angles_deg, [0.0, 60.0, 120.0], atol=1e-12)
    np.testing.assert_array_equal(p.flats, data[[1]])
    np.testing.assert_array_equal(p.darks, data[[0]])
    assert p.pixel_size_um == pytest.approx(0.65)
    assert p.exposure_s == pytest.approx(0.05)
    assert p.energy_kev == pytest.approx(17.5)
    assert p.centre_offset_px == pytest.approx(0.5)  # axis at pixel 2 of 4 columns (centre 1.5)
    assert p.geometry == "parallel"
    assert p.metadata["title"] == "foreign"
    assert Projections.from_nxtomo(tmp_path / "foreign.nx", pixel_size_um=2.0).pixel_size_um == 2.0


def test_nxtomo_refuses_unknown_units(tmp_path):
    _write_foreign_nxtomo(tmp_path / "f.nx", units=False)
    with pytest.raises(ProjectionsFileError, match="units 'furlong'"):
        Projections.from_nxtomo(tmp_path / "f.nx")


def test_nxtomo_refuses_a_file_without_an_nxtomo_entry(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f.create_group("entry").attrs["NX_class"] = "NXentry"
    with pytest.raises(ProjectionsFileError, match="no NXentry with definition 'NXtomo'"):
        Projections.from_nxtomo(tmp_path / "x.h5")


def test_nxtomo_refuses_missing_image_key(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXtomo"
        entry["instrument/detector/data"] = np.ones((2, 1, 3))
    with pytest.raises(ProjectionsFileError, match="image_key"):
        Projections.from_nxtomo(tmp_path / "x.h5")


def test_nxtomo_without_pixel_size_asks_for_one(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXtomo"
        entry["instrument/detector/data"] = np.ones((2, 1, 3))
        entry["instrument/detector/image_key"] = [0, 0]
        entry["sample/rotation_angle"] = [0.0, 90.0]
    with pytest.raises(ProjectionsFileError, match="pass pixel_size_um"):
        Projections.from_nxtomo(tmp_path / "x.h5")
    assert Projections.from_nxtomo(tmp_path / "x.h5", pixel_size_um=3.0).pixel_size_um == 3.0


# --- Data Exchange: the real tomopy tooth -----------------------------------------------------


def test_tooth_data_exchange_matches_sources_md():
    with pytest.warns(UserWarning, match="no pixel size"):
        p = Projections.from_data_exchange(TOOTH)
    assert p.metadata["pixel_size_assumed"] is True
    # SOURCES.md: 181 angles 0..179 deg, 640 columns, 10 flats, 10 darks, one row.
    assert p.counts.shape == (181, 1, 640)
    assert p.angles_deg[0] == 0.0 and p.angles_deg[-1] == pytest.approx(179.0, abs=0.01)
    assert p.flats.shape == (10, 1, 640) and p.darks.shape == (10, 1, 640)
    # Minimal flat/dark normalisation written out here, independent of the inverse package.
    dark = p.darks.astype(float).mean(axis=0)
    transmission = (p.counts - dark) / (p.flats.astype(float).mean(axis=0) - dark)
    # SOURCES.md quotes 3 digits: 0.142 .. 1.098.
    assert transmission.min() == pytest.approx(0.142, abs=5e-4)
    assert transmission.max() == pytest.approx(1.098, abs=5e-4)
    # Sum over x of -ln T: 289.4 with a 0.32 % relative spread across angles (parallel-beam
    # mass conservation); rounding of the quoted values sets the tolerances.
    mass = -np.log(transmission).sum(axis=(1, 2))
    assert mass.mean() == pytest.approx(289.4, abs=0.05)
    assert mass.std() / mass.mean() == pytest.approx(0.0032, abs=5e-5)


def test_data_exchange_pixel_size_given_and_round_trip_through_nxtomo(tmp_path):
    p = Projections.from_data_exchange(TOOTH, pixel_size_um=2.5)
    assert p.pixel_size_um == 2.5 and "pixel_size_assumed" not in p.metadata
    p.to_nxtomo(tmp_path / "tooth.nx")
    assert Projections.from_nxtomo(tmp_path / "tooth.nx") == p


def test_data_exchange_reads_pixel_size_and_energy_with_units(tmp_path):
    with h5py.File(tmp_path / "dx.h5", "w") as f:
        f["exchange/data"] = np.ones((2, 1, 3))
        f["exchange/theta"] = np.radians([0.0, 90.0])
        f["exchange/theta"].attrs["units"] = "rad"
        f["measurement/instrument/detector/actual_pixel_size_x"] = 1.3e-3
        f["measurement/instrument/detector/actual_pixel_size_x"].attrs["units"] = "mm"
        f["measurement/instrument/monochromator/energy"] = 25.0
    p = Projections.from_data_exchange(tmp_path / "dx.h5")
    np.testing.assert_allclose(p.angles_deg, [0.0, 90.0], atol=1e-12)
    assert p.pixel_size_um == pytest.approx(1.3)
    assert p.energy_kev == 25.0 and p.flats is None and p.darks is None


def test_data_exchange_refuses_another_layout(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["data"] = np.ones(3)
    with pytest.raises(ProjectionsFileError, match="Data Exchange layout"):
        Projections.from_data_exchange(tmp_path / "x.h5")


def test_data_exchange_refuses_missing_theta(tmp_path):
    with h5py.File(tmp_path / "x.h5", "w") as f:
        f["exchange/data"] = np.ones((2, 1, 3))
    with pytest.raises(ProjectionsFileError, match="theta"):
        Projections.from_data_exchange(tmp_path / "x.h5")


# --- TIFF stacks ------------------------------------------------------------------------------


def test_tiff_folder_layout(tmp_path):
    p = _projections()
    folder = p.to_tiff(tmp_path / "stack")
    assert sorted(x.name for x in folder.iterdir()) == sorted(["darks.tif", "flats.tif", "projections.tif", TIFF_SIDECAR])
    with tifffile.TiffFile(folder / "projections.tif") as tif:
        assert len(tif.pages) == 4  # one page per projection
        assert all(page.dtype == np.float32 and page.shape == (2, 5) for page in tif.pages)
        np.testing.assert_array_equal(tif.pages[3].asarray(), p.counts[3])
    sidecar = json.loads((folder / TIFF_SIDECAR).read_text())
    assert sidecar["angles_deg"] == [0.0, 45.0, 90.0, 135.0] and sidecar["pixel_size_um"] == 0.5
    assert sorted(x.name for x in tmp_path.iterdir()) == ["stack"]  # no hidden temporary folder left


@settings(max_examples=25, deadline=None)
@given(projections())
def test_tiff_round_trip_is_lossless(p):
    with tempfile.TemporaryDirectory() as d:
        folder = p.to_tiff(Path(d) / "stack")
        assert Projections.from_tiff(folder) == p


def test_tiff_overwrite_only_when_asked_and_only_a_stack(tmp_path):
    p, q = _projections(), _projections(flats=None, metadata={"second": True})
    p.to_tiff(tmp_path / "stack")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        q.to_tiff(tmp_path / "stack")
    q.to_tiff(tmp_path / "stack", overwrite=True)
    assert Projections.from_tiff(tmp_path / "stack") == q
    assert not (tmp_path / "stack" / "flats.tif").exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["stack"]
    # A folder of something else is never deleted, even with overwrite=True.
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(FileExistsError, match="not an xtwin TIFF stack"):
        p.to_tiff(tmp_path / "photos", overwrite=True)
    assert (tmp_path / "photos" / "holiday.jpg").exists()


def test_tiff_refuses_a_file_as_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        _projections().to_tiff(tmp_path / "f")


def test_tiff_reader_refuses_a_folder_without_sidecar(tmp_path):
    tifffile.imwrite(tmp_path / "projections.tif", np.ones((2, 3, 4), np.float32), photometric="minisblack")
    with pytest.raises(ProjectionsFileError, match="sidecar"):
        Projections.from_tiff(tmp_path)


def test_tiff_reader_refuses_a_missing_stack(tmp_path):
    folder = _projections().to_tiff(tmp_path / "stack")
    (folder / "flats.tif").unlink()
    with pytest.raises(ProjectionsFileError, match="missing"):
        Projections.from_tiff(folder)
