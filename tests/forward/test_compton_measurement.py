"""XCS measurements (forward/compton/measurement.py): HDF5 and column round trips, refusals."""

import h5py
import numpy as np
import pytest

from forward.compton.measurement import ComptonFileError, Measurement, load_hdf5, load_spectrum

EDGES = np.linspace(0.0, 200.0, 1001)  # HEXITEC: 0-200 keV in 0.2 keV bins (seeds/001, 2.1)


def cube(dtype=np.int64, shape=(4, 5)):
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, shape + (EDGES.size - 1,)).astype(dtype)
    return Measurement(counts, EDGES, pixel_um=250.0, exposure_s=720.0, metadata={"title": "test", "x": [1, 2]})


def test_views():
    m = cube()
    assert m.shape == (4, 5, 1000) and m.n_channels == 1000
    np.testing.assert_allclose(m.energy_kev[:2], [0.1, 0.3])
    np.testing.assert_allclose(m.channel_width_kev, 0.2)
    np.testing.assert_array_equal(m.spectrum(), m.counts.sum(axis=(0, 1)))
    mask = np.zeros((4, 5), bool)
    mask[1, 2] = True
    np.testing.assert_array_equal(m.spectrum(mask), m.counts[1, 2])


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_hdf5_round_trip_exact(tmp_path, dtype):
    m = cube(dtype)
    path = m.save_hdf5(tmp_path / "cube.h5")
    back = load_hdf5(path)
    assert back == m
    assert back.counts.dtype == m.counts.dtype
    with h5py.File(path) as f:  # NeXus: NXdata with an energy axis in keV
        data = f["entry/data"]
        assert data.attrs["NX_class"] == "NXdata" and data.attrs["signal"] == "counts"
        assert list(data.attrs["axes"]) == ["row", "column", "energy"]
        assert data["energy"].attrs["units"] == "keV"


def test_hdf5_no_silent_overwrite(tmp_path):
    m = cube()
    path = m.save_hdf5(tmp_path / "cube.h5")
    with pytest.raises(FileExistsError):
        m.save_hdf5(path)
    m.save_hdf5(path, overwrite=True)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left


def test_hdf5_foreign_file_with_centres_in_ev(tmp_path):
    path = tmp_path / "foreign.nxs"
    counts = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    with h5py.File(path, "w") as f:
        g = f.create_group("scan/cube")
        g.attrs.update({"NX_class": "NXdata", "signal": "data", "axes": [".", ".", "E"]})
        g["data"] = counts
        g["E"] = np.array([1000.0, 2000.0, 3000.0, 4000.0])
        g["E"].attrs["units"] = "eV"
    m = load_hdf5(path)
    np.testing.assert_array_equal(m.counts, counts)
    np.testing.assert_allclose(m.energy_edges_kev, [0.5, 1.5, 2.5, 3.5, 4.5])


def test_hdf5_without_nxdata_refused(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(ComptonFileError, match="NXdata"):
        load_hdf5(path)


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_spectrum_columns_round_trip(tmp_path, dtype):
    m = cube(dtype)
    path = m.save_spectrum(tmp_path / "pixel.txt", pixel=(2, 3))
    back = load_spectrum(path)
    assert back.shape == (1, 1, 1000)
    np.testing.assert_array_equal(back.counts[0, 0], m.counts[2, 3])
    assert back.counts.dtype == m.counts.dtype
    np.testing.assert_array_equal(back.energy_kev, m.energy_kev)  # centres written with repr: exact
    np.testing.assert_allclose(back.energy_edges_kev, EDGES, atol=1e-12)
    assert back.pixel_um == 250.0 and back.exposure_s == 720.0 and back.metadata == m.metadata
    total = load_spectrum(m.save_spectrum(tmp_path / "sum.txt"))
    np.testing.assert_array_equal(total.counts[0, 0], m.spectrum())
    with pytest.raises(FileExistsError):
        m.save_spectrum(tmp_path / "sum.txt")


def test_spectrum_columns_of_other_programs(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("# energy, counts\n10.0, 5\n10.2, 7\n10.4, 0\n")
    m = load_spectrum(path)
    np.testing.assert_array_equal(m.counts.ravel(), [5, 7, 0])
    np.testing.assert_allclose(m.energy_kev, [10.0, 10.2, 10.4])


def test_refuses_energies_not_increasing():
    edges = EDGES.copy()
    edges[10] = edges[9]
    with pytest.raises(ValueError, match="strictly increasing"):
        Measurement(np.zeros((1, 1, 1000)), edges)
    with pytest.raises(ValueError, match="strictly increasing"):
        Measurement.from_centres(np.zeros((1, 1, 3)), [1.0, 3.0, 2.0])


def test_refuses_negative_counts():
    counts = np.zeros((2, 2, 1000))
    counts[1, 0, 7] = -1.0
    with pytest.raises(ValueError, match=r"counts >= 0.*\(1, 0, 7\)"):
        Measurement(counts, EDGES)


@pytest.mark.parametrize("counts, edges, match", [
    (np.zeros((2, 1000)), EDGES, "rows, columns, n_channels"),
    (np.zeros((2, 2, 999)), EDGES, "n_channels \\+ 1"),
    (np.full((1, 1, 1000), np.nan), EDGES, "finite"),
    (np.zeros((1, 1, 1000)), EDGES - 1.0, ">= 0 keV"),
])
def test_refuses_bad_shapes_and_values(counts, edges, match):
    with pytest.raises(ValueError, match=match):
        Measurement(counts, edges)


def test_refuses_bad_pixel_and_mask():
    m = cube()
    with pytest.raises(ValueError, match="pixel"):
        m.save_spectrum("/tmp/never.txt", pixel=(9, 0))
    with pytest.raises(ValueError, match="mask"):
        m.spectrum(np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="pixel_um"):
        Measurement(m.counts, EDGES, pixel_um=0.0)
