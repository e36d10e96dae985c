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


def test_plan_saxs_json_matches_the_python_api(tmp_path, capsys):
    from forward.saxs.plan import plan_saxs

    out = tmp_path / "plan.json"
    assert main(["plan", "saxs", "--saxs-detector", "pilatus_2m", "--n-bins", "20", "--exposure-s", "0.2",
                 "--overhead-s", "0.05", "--n-projections", "10", "--json", str(out)]) == EXIT_OK
    plan = json.loads(out.read_text())
    expected = plan_saxs(exposure_s=0.2, overhead_s_per_point=0.05, saxs_detector="pilatus_2m", n_bins=20,
                         n_projections=10)
    # 60 x 20 points of 0.2 + 0.05 s: 300 s per map, 10 maps per tomogram.
    assert plan["n_points"] == 1200 and plan["scan_time_s"] == pytest.approx(300.0)
    assert plan["tomogram_time_s"] == pytest.approx(3000.0)
    assert plan["dose_per_scan_Gy"] == pytest.approx(expected.dose_per_scan_Gy, rel=1e-12)
    assert [d["name"] for d in plan["detectors"]] == ["Pilatus 2M", "Pilatus 300K-W"]
    assert plan["expected_counts"] == pytest.approx(list(expected.expected_counts), rel=1e-12)
    assert main(["plan", "saxs", "--json", str(out)]) == EXIT_USAGE
    assert "--force" in capsys.readouterr().err


def test_plan_saxs_table_and_refusal(capsys):
    assert main(["plan", "saxs", "--no-waxs", "--n-bins", "20"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "tomogram (72 projections)" in out and "q-range Eiger 9M at 2 m" in out and "Pilatus 300K-W" not in out
    assert main(["plan", "saxs", "--energy-kev", "13200"]) == EXIT_USAGE
    assert "did you pass eV" in capsys.readouterr().err
    assert main(["plan", "saxs", "--step-um", "25", "-15"]) == EXIT_USAGE
    assert "step_um[1]=-15.0" in capsys.readouterr().err


@pytest.fixture(scope="module")
def capillary_file(tmp_path_factory):
    from twin.generators.capillary import capillary_cell

    path = tmp_path_factory.mktemp("saxs") / "capillary.h5"
    capillary_cell(voxel_size_um=40.0, seed=0).save(path)
    return path


def test_simulate_saxs_writes_a_map_and_the_fit_reads_it_back(capillary_file, tmp_path):
    from forward.saxs.io import load_columns, load_nxcansas
    from twin.generators.capillary import sodiation_state
    from twin.io import load

    scan, mean, summary = tmp_path / "scan.h5", tmp_path / "mean.dat", tmp_path / "scan.json"
    assert main(["simulate", "saxs", str(capillary_file), "--time-min", "65", "-o", str(scan), "--columns",
                 str(mean), "--json", str(summary)]) == EXIT_OK
    facts = json.loads(summary.read_text())
    curves = load_nxcansas(scan)
    assert curves.shape == (facts["raster_rows"], facts["raster_columns"])
    # The default raster of seeds/000: 15 um vertical steps over the grid's height, 0.1 s per point.
    height_um = load(capillary_file).shape[0] * 40.0
    assert abs(facts["raster_rows"] * 15.0 - height_um) <= 15.0
    assert facts["scan_time_s"] == pytest.approx(0.1 * curves.n_curves)
    assert facts["soc"] == pytest.approx(65 * 0.8 / 60)
    assert load_columns(mean).n_q == curves.n_q
    fitted = tmp_path / "fit.json"
    # The sodiated curve needs the Na peaks (seeds/000 SI: "an additional gaussian [...] in the last scan").
    assert main(["fit", "saxs", str(mean), "--model", "waxs", "--q-min", "1.0", "--q-max", "2.4", "--free",
                 "g002_amplitude_per_cm", "q002_inv_A", "g002_sigma_inv_A", "pvdf_amplitude_per_cm",
                 "na_metal_amplitude_per_cm", "na_pseudo_amplitude_per_cm", "background_per_cm",
                 "background_slope_per_cm_A", "--json", str(fitted)]) == EXIT_OK
    fit = json.loads(fitted.read_text())
    twin = sodiation_state(load(capillary_file), time_min=65)
    inside = twin.labels == twin.truth["electrode/label"]
    truth = float(np.mean(2 * np.pi / twin.fields["d002_A"][inside]))
    # The free 002 width trades off against the electrolyte's broad peak (validation.saxs.operando holds it):
    # 0.05 1/A here.
    assert fit["converged"] == 1 and fit["parameters"]["q002_inv_A"]["values"][0] == pytest.approx(truth, abs=0.05)
    assert fit["parameters"]["d002_A"]["values"][0] == pytest.approx(2 * np.pi / fit["parameters"]["q002_inv_A"][
        "values"][0], rel=1e-12)


def test_simulate_and_fit_saxs_refusals(capillary_file, tmp_path, capsys):
    assert main(["simulate", "saxs", str(capillary_file), "--soc", "0.5", "--time-min", "30"]) == EXIT_USAGE
    assert "soc" in capsys.readouterr().err
    bad = tmp_path / "bad.dat"
    bad.write_text("-0.01 1.0 0.1\n0.02 0.9 0.1\n0.03 0.8 0.1\n")
    assert main(["fit", "saxs", str(bad)]) == EXIT_USAGE
    assert "q" in capsys.readouterr().err


def test_plan_compton_json_matches_the_python_api(tmp_path, capsys):
    from forward.compton.plan import plan_compton

    out = tmp_path / "plan.json"
    assert main(["plan", "compton", "--target-sigma", "0.02", "--binning", "4", "--n-positions", "3",
                 "--overhead-s", "20", "--json", str(out)]) == EXIT_OK
    plan = json.loads(out.read_text())
    expected = plan_compton(target_sigma=0.02, binning=4, n_positions=3, overhead_s_per_position=20.0)
    assert plan["time_per_position_s"] == pytest.approx(expected.time_per_position_s, rel=1e-12)
    assert plan["scan_time_s"] == pytest.approx(3 * (expected.time_per_position_s + 20.0), rel=1e-12)
    assert plan["compton_peak_kev"] == pytest.approx(93.63, abs=0.01)
    assert plan["resolution_emf"] == pytest.approx(list(expected.resolution_emf), rel=1e-12)
    assert main(["plan", "compton", "--json", str(out)]) == EXIT_USAGE
    assert "--force" in capsys.readouterr().err


def test_plan_compton_table_and_refusals(capsys):
    assert main(["plan", "compton", "--material", "Li_x NMC811", "--x-li", "0.5"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "EMF true / measured" in out and "Li_x NMC811" in out and "scan of 3 positions" in out
    assert main(["plan", "compton", "--energy-kev", "114640"]) == EXIT_USAGE
    assert "did you pass eV" in capsys.readouterr().err
    assert main(["plan", "compton", "--target-sigma", "-0.01"]) == EXIT_USAGE
    assert "target_sigma=-0.01" in capsys.readouterr().err


def test_simulate_and_fit_compton_round_trip(tmp_path, capsys):
    from forward.compton.measurement import load_hdf5
    from inverse.compton import emf, sum_spectra
    from twin.generators.coin_cell import coin_cell

    twin_path, cube, spectrum = tmp_path / "cell.h5", tmp_path / "cube.h5", tmp_path / "spectrum.dat"
    coin_cell(variant="lib", ndim=3, voxel_size_um=100.0, separator_thickness_um=100.0).save(twin_path)
    assert main(["simulate", "compton", str(twin_path), "--sheet-z-um", "2600", "-o", str(cube), "--spectrum",
                 str(spectrum), "--json", str(tmp_path / "sim.json")]) == EXIT_OK
    sim = json.loads((tmp_path / "sim.json").read_text())
    # The Compton line of 114.64 keV at 90 deg: 93.63 keV, in the 0.2 keV channel centred at 93.7.
    assert sim["cube"] == [80, 80, 1000] and sim["compton_peak_kev"] == pytest.approx(93.634, abs=0.15)
    m = load_hdf5(cube)
    mask = np.zeros((80, 80), bool)
    mask[30:50, 30:50] = True
    np.save(tmp_path / "mask.npy", mask)
    assert main(["fit", "compton", str(cube), "--binning", "8", "--mask", str(tmp_path / "mask.npy"), "--json",
                 str(tmp_path / "fit.json")]) == EXIT_OK
    fit = json.loads((tmp_path / "fit.json").read_text())
    expected = emf(sum_spectra(m.counts, mask), m.energy_edges_kev)
    assert fit["emf"] == pytest.approx(float(expected.emf), rel=1e-12) and fit["map_shape"] == [10, 10]
    # The global spectrum written as columns gives the EMF of the summed cube.
    assert main(["fit", "compton", str(spectrum), "--json", str(tmp_path / "spec.json")]) == EXIT_OK
    whole = emf(sum_spectra(m.counts), m.energy_edges_kev)
    assert json.loads((tmp_path / "spec.json").read_text())["emf"] == pytest.approx(float(whole.emf), rel=1e-9)
    np.save(tmp_path / "bad.npy", np.ones((10, 10), bool))
    assert main(["fit", "compton", str(cube), "--mask", str(tmp_path / "bad.npy")]) == EXIT_USAGE
    assert "mask" in capsys.readouterr().err


def test_plan_xanes_json_matches_the_python_api(tmp_path, capsys):
    from forward.xanes.plan import plan_xanes

    out = tmp_path / "plan.json"
    assert main(["plan", "xanes", "--thickness-um", "3", "--target-whiteline-sigma-ev", "0.5", "--n-angles", "600",
                 "--json", str(out)]) == EXIT_OK
    plan = json.loads(out.read_text())
    expected = plan_xanes(thickness_um=3.0, target_whiteline_sigma_ev=0.5, n_angles=600)
    assert plan["photons_per_pixel"] == pytest.approx(expected.photons_per_pixel, rel=1e-12)
    assert plan["time_3d_s"] == pytest.approx(67 * (600 * 0.05 + 5 + 5), rel=1e-12)
    assert plan["energies_ev"] == pytest.approx(list(expected.energies_ev))
    assert main(["plan", "xanes", "--json", str(out)]) == EXIT_USAGE
    assert "--force" in capsys.readouterr().err


def test_plan_xanes_table_and_refusals(capsys):
    assert main(["plan", "xanes", "--edge-region", "-15", "30", "0.5"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "2D: scan time" in out and "3D: scan time" in out and "8354.02" in out
    assert main(["plan", "xanes", "--material", "graphite"]) == EXIT_USAGE
    assert "containing Ni" in capsys.readouterr().err
    assert main(["plan", "xanes", "--valence", "9"]) == EXIT_USAGE
    assert "valence=9" in capsys.readouterr().err


def test_simulate_and_fit_xanes(tmp_path, capsys):
    from forward.xanes.edge import NI_K_MODEL, whiteline_of_model
    from twin.generators.nmc_particle import nmc_secondary_particle

    twin_path, stack = tmp_path / "particle.h5", tmp_path / "stack.h5"
    nmc_secondary_particle(radius_um=1.5, voxel_size_um=0.05, mean_soc=0.5, seed=0).save(twin_path)
    assert main(["simulate", "xanes", str(twin_path), "-o", str(stack), "--snr", "300"]) == EXIT_OK
    assert main(["fit", "xanes", str(stack), "--align", "--e0-ev", "8343", "-o", str(tmp_path / "maps.h5"),
                 "--json", str(tmp_path / "fit.json")]) == EXIT_OK
    fit = json.loads((tmp_path / "fit.json").read_text())
    # Half charge: Ni between 2.875+ (soc 0) and 4.125+ (soc 1); the median white line must lie between the
    # model's white lines at those valences.
    low, high = (float(whiteline_of_model(NI_K_MODEL, v)) for v in (2.875, 4.125))
    assert low < fit["whiteline_ev"] < high and fit["fitted"] > 1000
    # A measured reference spectrum: NiO's white line at 8350.0 eV (SOURCES.md, computed from the file).
    from validation.reference_data import data_dir

    assert main(["fit", "xanes", str(data_dir() / "xanes" / "NiO_111.xdi"), "--json",
                 str(tmp_path / "nio.json")]) == EXIT_OK
    assert json.loads((tmp_path / "nio.json").read_text())["whiteline_ev"] == pytest.approx(8350.0, abs=0.5)
    assert main(["simulate", "xanes", str(twin_path), "-o", str(stack)]) == EXIT_USAGE
    assert str(stack) in capsys.readouterr().err
