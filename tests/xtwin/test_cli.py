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


def test_simulate_conduction_matches_the_python_api(tmp_path, capsys):
    from forward.conduction import Conductivity, simulate
    from twin import io

    h5 = tmp_path / "lamella.h5"
    assert main(["twin", "build", "polycrystal", "-o", str(h5), "--lamella", "--frame-width-um", "1",
                 "--field-of-view-um", "[5, 6]"]) == EXIT_OK
    out = tmp_path / "out.json"
    assert main(["simulate", "conduction", str(h5), "--voltage-V", "15", "--backbone", "5", "--thickness-um", "0.17",
                 "-o", str(tmp_path / "j.vti"), "--png", str(tmp_path / "j.png"), "--json", str(out)]) == EXIT_OK
    summary = json.loads(out.read_text())
    expected = simulate(io.load(h5), Conductivity(backbone_phases=(5,)), voltage_V=15.0, thickness_um=0.17)
    assert summary["total_current_A"] == pytest.approx(expected.total_current_A, rel=1e-9)
    assert summary["electrodes"]["positive"]["potential_V"] == 15.0
    assert len(summary["top_boundaries"]) == 5 and summary["conservation_rel"] < 1e-8
    assert (tmp_path / "j.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "j.vti").exists()
    assert main(["simulate", "conduction", str(h5), "--phase", "1:0.5"]) == EXIT_USAGE
    assert "--phase '1:0.5'" in capsys.readouterr().err
    assert main(["simulate", "conduction", str(h5), "--anisotropy", "0.5"]) == EXIT_USAGE
    assert "anisotropy=0.5" in capsys.readouterr().err


def test_fit_conduction_open_box_and_tiff_stack(tmp_path, capsys):
    import tifffile

    # Open space: sigma_eff = sigma_0 and tau = 1 (PoreSpy/TauFactor's reference case).
    np.save(tmp_path / "open.npy", np.ones((6, 7, 8), np.uint8))
    out = tmp_path / "open.json"
    assert main(["fit", "conduction", str(tmp_path / "open.npy"), "--conducting", "1", "--axis", "2",
                 "--voxel-size-um", "0.5", "--sigma-S-per-m", "3", "--json", str(out)]) == EXIT_OK
    summary = json.loads(out.read_text())
    assert summary["sigma_eff_S_per_m"] == pytest.approx(3.0, rel=1e-9)
    assert summary["tortuosity"] == pytest.approx(1.0, rel=1e-9)
    # Straight channels along z filling 1/4 of the cross-section: epsilon = 1/4, tau = 1.
    labels = np.zeros((5, 8, 8), np.uint8)
    labels[:, ::2, ::2] = 1
    folder = tmp_path / "stack"
    folder.mkdir()
    for z, image in enumerate(labels):
        tifffile.imwrite(folder / f"slice_{z:03d}.tif", image)
    assert main(["fit", "conduction", str(folder), "--conducting", "1", "--axis", "0", "--voxel-size-um", "1",
                 "--json"]) == EXIT_OK
    summary = json.loads(capsys.readouterr().out)
    assert summary["volume_fraction"] == pytest.approx(0.25)
    assert summary["relative_conductivity"] == pytest.approx(0.25, rel=1e-9)
    assert summary["tortuosity"] == pytest.approx(1.0, rel=1e-9)
    assert main(["fit", "conduction", str(tmp_path / "open.npy"), "--conducting", "1"]) == EXIT_USAGE
    assert "--voxel-size-um" in capsys.readouterr().err
