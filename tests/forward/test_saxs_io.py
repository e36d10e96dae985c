"""NXcanSAS and column files: the SasView examples of ../shared/data/saxs and exact round trips."""

import h5py
import numpy as np
import pytest

from forward.saxs.curves import Curves
from forward.saxs.io import SaxsFileError, load_columns, load_nxcansas, save_columns, save_nxcansas
from validation.reference_data import data_dir


@pytest.fixture(scope="module")
def saxs_dir():
    return data_dir() / "saxs"


def test_reads_the_sasview_nxcansas_example(saxs_dir):
    c = load_nxcansas(saxs_dir / "Lew_Sa3_DSM_QinA.h5")
    # shared/data/SOURCES.md: 490 points, Q 1.12e-4 .. 1.64 1/A, absolute 1/cm, wavelength 0.5904 A.
    assert c.shape == () and c.n_q == 490
    assert c.q_inv_A[0] == pytest.approx(1.12e-4, rel=1e-2) and c.q_inv_A[-1] == pytest.approx(1.64, rel=1e-2)
    assert c.sigma_per_cm is not None and c.sigma_per_cm.shape == (490,)
    assert c.metadata["wavelength_A"] == pytest.approx(0.5904, rel=1e-6)
    assert "absolute" not in c.metadata
    # SOURCES.md (log-log interpolation): I(0.01) = 0.792 1/cm and I(0.1) = 0.348 1/cm.
    i_01, i_1 = c.interpolate([0.01, 0.1])
    assert i_01 == pytest.approx(0.792, abs=5e-4)
    assert i_1 == pytest.approx(0.348, abs=5e-4)


def test_reads_the_alumina_columns(saxs_dir):
    c = load_columns(saxs_dir / "Alumina_usaxs.csv")
    # SOURCES.md: 112 rows; first row 2.46465e-4, 6.32676e7, 1.61065e6; q up to 0.676 1/A.
    assert c.n_q == 112
    assert (c.q_inv_A[0], c.intensity_per_cm[0], c.sigma_per_cm[0]) == (2.46465e-4, 6.32676e7, 1.61065e6)
    assert c.q_inv_A[-1] == pytest.approx(0.676, rel=1e-3)
    assert c.metadata["intensity_unit"] == "unknown"  # not on an absolute scale


def test_nxcansas_round_trip_of_a_map_is_exact(tmp_path):
    rng = np.random.default_rng(7)
    q = np.geomspace(0.003, 0.5, 40)
    m = Curves(q, rng.uniform(0.1, 10, (3, 4, 40)).astype(np.float32), rng.uniform(0.01, 0.1, (3, 4, 40)),
               transmission=rng.uniform(0.2, 0.9, (3, 4)), positions_um=rng.uniform(0, 300, (3, 4, 2)),
               metadata={"energy_kev": 13.2, "soc": [0.1, 0.2]})
    path = save_nxcansas(m, tmp_path / "map.h5")
    back = load_nxcansas(path)
    assert back == m and back.intensity_per_cm.dtype == np.float32
    # The NXcanSAS layout (canSAS NXcanSAS definition).
    with h5py.File(path) as f:
        entry = f["sasentry01"]
        assert entry.attrs["canSAS_class"] == "SASentry" and entry.attrs["NX_class"] == "NXentry"
        assert entry["definition"][()] == b"NXcanSAS"
        data = entry["sasdata01"]
        assert data.attrs["canSAS_class"] == "SASdata" and data.attrs["NX_class"] == "NXdata"
        assert data.attrs["signal"] == "I" and data.attrs["I_axes"] == ".,.,Q" and data.attrs["Q_indices"] == 2
        assert data["I"].attrs["units"] == "1/cm" and data["Q"].attrs["units"] == "1/angstrom"
        assert data["I"].attrs["uncertainties"] == "Idev" and data["Idev"].shape == (3, 4, 40)
        assert entry["sassample/transmission"].shape == (3, 4)
    assert [p.name for p in tmp_path.iterdir()] == ["map.h5"]  # no temporary left behind


def test_nxcansas_round_trip_of_the_reference_curve(saxs_dir, tmp_path):
    c = load_nxcansas(saxs_dir / "Lew_Sa3_DSM_QinA.h5")
    assert load_nxcansas(save_nxcansas(c, tmp_path / "lew.h5")) == c
    single = Curves(c.q_inv_A, c.intensity_per_cm)  # without sigma: no Idev written
    save_nxcansas(single, tmp_path / "plain.h5")
    with h5py.File(tmp_path / "plain.h5") as f:
        assert "Idev" not in f["sasentry01/sasdata01"] and f["sasentry01/sasdata01"].attrs["I_axes"] == "Q"
    assert load_nxcansas(tmp_path / "plain.h5") == single


def test_reads_foreign_units(tmp_path):
    # Q in 1/nm and I in 1/m are converted; a relative unit is kept and flagged.
    path = tmp_path / "nm.h5"
    with h5py.File(path, "w") as f:
        e = f.create_group("e")
        e.attrs["canSAS_class"] = "SASentry"
        d = e.create_group("d")
        d.attrs.update({"canSAS_class": "SASdata", "signal": "I", "I_axes": "Q"})
        d["Q"] = [0.1, 1.0, 10.0]
        d["Q"].attrs["units"] = "1/nm"
        d["I"] = [300.0, 200.0, 100.0]
        d["I"].attrs["units"] = "1/m"
    c = load_nxcansas(path)
    assert np.allclose(c.q_inv_A, [0.01, 0.1, 1.0]) and np.allclose(c.intensity_per_cm, [3.0, 2.0, 1.0])
    with h5py.File(path, "a") as f:
        f["e/d/I"].attrs["units"] = "arbitrary"
        f["e/d/Q"].attrs["units"] = "1/angstrom"
        f["e/d/Q"][...] = [0.01, 0.1, 1.0]
    c = load_nxcansas(path)
    assert c.metadata["absolute"] is False and c.metadata["intensity_unit"] == "arbitrary"


def test_nxcansas_refusals(tmp_path):
    c = Curves([0.01, 0.1], [2.0, 1.0])
    path = save_nxcansas(c, tmp_path / "c.h5")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_nxcansas(Curves([0.01, 0.1], [5.0, 1.0]), path)
    assert path.read_bytes() == before
    save_nxcansas(Curves([0.01, 0.1], [5.0, 1.0]), path, overwrite=True)
    assert load_nxcansas(path).intensity_per_cm[0] == 5.0
    with pytest.raises(TypeError, match="curves=ndarray: expected a forward.saxs.curves.Curves"):
        save_nxcansas(np.ones(3), tmp_path / "x.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"no hdf5")
    with pytest.raises(SaxsFileError, match="not a readable HDF5 file"):
        load_nxcansas(bad)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_nxcansas(tmp_path / "missing.h5")
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w") as f:
        f.create_group("entry")
    with pytest.raises(SaxsFileError, match=r"no SASentry .* found groups \['/entry'\]"):
        load_nxcansas(empty)
    with pytest.raises(SaxsFileError, match="no SASentry named 'other'"):
        load_nxcansas(path, entry="other")


def test_columns_round_trip_is_exact(tmp_path):
    rng = np.random.default_rng(3)
    q = np.sort(rng.uniform(0.003, 2.5, 60))
    c = Curves(q, rng.uniform(-0.1, 10, 60), rng.uniform(0.01, 1, 60), metadata={"energy_kev": 13.2})
    path = save_columns(c, tmp_path / "c.dat")
    text = path.read_text()
    assert "q in 1/angstrom; I and sigma in 1/cm" in text and "# q_inv_A I_per_cm sigma_per_cm" in text
    assert load_columns(path) == c
    no_sigma = Curves(q, c.intensity_per_cm)
    assert load_columns(save_columns(no_sigma, tmp_path / "n.dat")) == no_sigma


def test_columns_units_and_refusals(tmp_path):
    path = tmp_path / "nm.txt"
    path.write_text("q I\n1.0, 5.0\n2.0, 4.0\n")  # header without '#' skipped; q in 1/nm
    c = load_columns(path, q_unit="1/nm")
    assert np.allclose(c.q_inv_A, [0.1, 0.2]) and c.sigma_per_cm is None
    with pytest.raises(ValueError, match=r"q_unit='nm': expected one of"):
        load_columns(path, q_unit="nm")
    with pytest.raises(ValueError, match="curves: expected a single curve for a column file, got a map of shape"):
        save_columns(Curves([0.1, 0.2], np.ones((2, 2))), tmp_path / "m.dat")
    path.write_text("0.1 1 1\n0.2 1\n")
    with pytest.raises(SaxsFileError, match=r"same number \(>= 2\) of columns on every row, got \[2, 3\]"):
        load_columns(path)
    path.write_text("0.1 1\nx y\n")
    with pytest.raises(SaxsFileError, match=r"nm.txt:2: expected numbers"):
        load_columns(path)
    c = Curves([0.1, 0.2], [1.0, 2.0])
    save_columns(c, tmp_path / "c.dat")
    with pytest.raises(FileExistsError):
        save_columns(c, tmp_path / "c.dat")
