"""The xtwin command line: outputs, exit codes and refusals."""

import json
import subprocess
import sys

import numpy as np
import pytest

import xtwin
from twin.generators import random_spheres
from xtwin.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"xtwin {xtwin.__version__}"


def test_console_script_runs_as_module():
    # The installed entry point and `python -m xtwin` share main().
    out = subprocess.run([sys.executable, "-m", "xtwin", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("xtwin ")


def test_materials_json_values(capsys):
    assert main(["materials", "--energy-kev", "20", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in data["materials"]}
    assert data["energy_kev"] == 20
    # NIST XCOM (Hubbell & Seltzer, SRD 126): water mu/rho at 20 keV = 0.8096 cm2/g.
    assert rows["water"]["mu_rho_cm2_g"] == pytest.approx(0.8096, rel=0.01)
    # mu = mu/rho * rho for every row.
    for r in rows.values():
        assert r["mu_per_cm"] == pytest.approx(r["mu_rho_cm2_g"] * r["density_g_cm3"], rel=1e-12)
    assert rows["NMC811"]["density_g_cm3"] == 4.75
    assert all(r["density_source"] for r in rows.values())


def test_materials_table(capsys):
    assert main(["materials", "--energy-kev", "5.4"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "NMC811" in out and "at 5.4 keV" in out


def test_materials_refuses_energy_in_ev(capsys):
    assert main(["materials", "--energy-kev", "8333"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "energy_kev" in err and "eV" in err


def test_unknown_command_is_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["nonsense"])
    assert exit_info.value.code == EXIT_USAGE


@pytest.fixture
def twin_file(tmp_path):
    path = tmp_path / "t.h5"
    random_spheres(shape=(16, 24, 24), voxel_size_um=1.0, n_spheres=3, radius_um=(2, 4), seed=3).save(path)
    return path


def test_twin_info_json(twin_file, tmp_path, capsys):
    out = tmp_path / "info.json"
    assert main(["twin", "info", str(twin_file), "--json", str(out)]) == EXIT_OK
    info = json.loads(out.read_text())
    assert info["shape"] == [16, 24, 24]
    assert info["provenance"]["seed"] == 3
    assert sum(info["volume_fractions"].values()) == pytest.approx(1.0)
    # A second write to the same file is refused without --force, allowed with it.
    assert main(["twin", "info", str(twin_file), "--json", str(out)]) == EXIT_USAGE
    assert "--force" in capsys.readouterr().err
    assert main(["twin", "info", str(twin_file), "--json", str(out), "--force"]) == EXIT_OK


def test_twin_info_refuses_corrupt_file(tmp_path, capsys):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    assert main(["twin", "info", str(bad)]) == EXIT_USAGE
    assert "not a readable HDF5 file" in capsys.readouterr().err
    assert bad.read_bytes() == b"not an hdf5 file at all"


def test_twin_spheres_export_and_render(tmp_path):
    h5, vti, png = tmp_path / "s.h5", tmp_path / "s.vti", tmp_path / "s.png"
    assert main(["twin", "build", "spheres", "-o", str(h5), "--shape", "20", "30", "--n-spheres", "2",
                 "--radius-um", "1", "2", "--seed", "5"]) == EXIT_OK
    assert main(["twin", "export", str(h5), "-o", str(vti)]) == EXIT_OK
    assert main(["twin", "render", str(h5), "-o", str(png)]) == EXIT_OK
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import pyvista as pv

    from twin import io

    t = io.load(h5)
    grid = pv.read(vti)
    assert np.array_equal(np.asarray(grid.cell_data["phase"]).reshape(t.shape), t.labels)


def test_validate_materials_json(tmp_path):
    out = tmp_path / "out.json"
    status = main(["validate", "materials", "--json", str(out)])
    report = json.loads(out.read_text())
    assert status == (EXIT_OK if report["passed"] else EXIT_FAILED)
    assert status == EXIT_OK
    assert set(report) >= {"modality", "xtwin_version", "seed", "passed", "checks", "timings_s", "artefacts"}
    assert report["modality"] == "materials" and len(report["checks"]) >= 10
    for check in report["checks"]:
        assert set(check) >= {"name", "value", "tolerance", "unit", "truth", "passed", "why"}


def test_validate_exit_status_follows_report(monkeypatch, capsys):
    # A failing report must give exit status 1.
    import validation
    from validation.report import Check, Report

    failing = Report("materials", [Check("x", 2.0, 0.1, "forced failure", truth=1.0)])
    monkeypatch.setattr(validation, "run", lambda *a, **k: failing)
    assert main(["validate", "materials"]) == EXIT_FAILED
    assert "FAIL" in capsys.readouterr().out


def test_twin_build_every_kind_with_an_option_and_render_a_field(tmp_path):
    # Every registered generator is reachable from the command line; options are typed by their defaults.
    from twin import io
    from twin.generators import KINDS

    h5 = tmp_path / "poly.h5"
    assert main(["twin", "build", "polycrystal", "-o", str(h5), "--grain-size-um", "0.8", "--lamella",
                 "--seed", "4"]) == EXIT_OK
    t = io.load(h5)
    assert t.provenance.parameters["grain_size_um"] == 0.8 and t.provenance.parameters["lamella"] is True
    assert main(["twin", "render", str(h5), "-o", str(tmp_path / "g.png"), "--field", "grain_ids"]) == EXIT_OK
    assert main(["twin", "render", str(h5), "-o", str(tmp_path / "x.png"), "--field", "nope"]) == EXIT_USAGE
    for kind in KINDS:
        with pytest.raises(SystemExit) as exit_info:
            main(["twin", "build", kind, "--help"])
        assert exit_info.value.code == 0


def test_twin_build_refuses_bad_parameter(tmp_path, capsys):
    assert main(["twin", "build", "electrode", "-o", str(tmp_path / "e.h5"), "--porosity", "1.5"]) == EXIT_USAGE
    assert "porosity=1.5" in capsys.readouterr().err
    assert not (tmp_path / "e.h5").exists()
