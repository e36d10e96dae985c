"""The seeds/002 tomography scenario end to end, and the CLI commands of the modality."""

import json

import h5py
import numpy as np
import pytest

from validation import tomography
from xtwin.cli import EXIT_OK, EXIT_USAGE, main


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return tomography.run(seed=0, out_dir=tmp_path_factory.mktemp("tomo"))


def test_round_trip_recovers_the_twin(report):
    checks = {c.name: c for c in report.checks}
    assert report.passed, report.table()
    # Issue 5 acceptance: volumes within 5 % for particles larger than 10 voxels across.
    assert checks["particle_volume_rel_error_median"].value <= 0.05
    assert checks["particle_count"].value == checks["particle_count"].truth
    # The FBP attenuation of NMC622 matches xraylib's mu at 5.4 keV (independent of the inverse code).
    assert checks["attenuation_nmc622_interior_rel_error"].error <= 0.05
    assert set(report.timings_s) == {"simulate", "invert", "compare"}
    assert report.artefacts == ("tomo_slice.png", "tomo_table1.csv", "tomo_table1.txt")


def test_validate_tomo_cli_json(tmp_path):
    out = tmp_path / "tomo.json"
    assert main(["validate", "tomo", "--json", str(out), "--seed", "1"]) == EXIT_OK
    data = json.loads(out.read_text())
    assert data["modality"] == "tomo" and data["seed"] == 1 and data["passed"] is True
    assert len(data["checks"]) >= 8


def test_plan_tomo_reproduces_the_source(capsys):
    # seeds/002, Methods: 196 projections for 1000 columns binned by 8, ~14 % through 42 um NMC811 at 5.4 keV.
    assert main(["plan", "tomo", "--json"]) == EXIT_OK
    plan = json.loads(capsys.readouterr().out)
    assert plan["n_projections_nyquist"] == 196
    assert plan["transmission"] == pytest.approx(0.14, abs=0.01)
    assert main(["plan", "tomo", "--binning", "1", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["n_projections_nyquist"] == 1571


def test_simulate_then_fit_tomo(tmp_path, capsys):
    twin_file, nxs, rec = tmp_path / "s.h5", tmp_path / "p.nxs", tmp_path / "r.h5"
    assert main(["twin", "build", "spheres", "-o", str(twin_file), "--shape", "24", "40", "40", "--n-spheres", "2",
                 "--radius-um", "3", "5", "--voxel-size-um", "0.5"]) == EXIT_OK
    assert main(["simulate", "tomo", str(twin_file), "-o", str(nxs), "--n-angles", "90", "--energy-kev", "20",
                 "--centre-offset-px", "1.5"]) == EXIT_OK
    assert main(["fit", "tomo", str(nxs), "-o", str(rec), "--json", str(tmp_path / "fit.json")]) == EXIT_OK
    fit = json.loads((tmp_path / "fit.json").read_text())
    assert fit["centre_offset_px"] == pytest.approx(1.5, abs=0.25)
    with h5py.File(rec) as f:
        volume = f["volume_per_cm"][()]
        assert f["volume_per_cm"].attrs["units"] == "1/cm"
    # NMC811 at 20 keV: xraylib mu = 89.4 /cm; the brightest voxels reach it within noise and blur.
    from twin import materials

    mu = float(materials.get("NMC811").linear_attenuation_per_cm(20.0))
    assert np.percentile(volume, 99.5) == pytest.approx(mu, rel=0.15)
    # A second fit to the same output is refused without --force.
    assert main(["fit", "tomo", str(nxs), "-o", str(rec)]) == EXIT_USAGE
    assert "--force" in capsys.readouterr().err


def test_fit_tomo_refuses_fbp_of_cone_beam(tmp_path, capsys):
    from forward.tomography.measurement import Projections

    counts = np.full((10, 4, 6), 100.0, np.float32)
    p = Projections(counts, np.linspace(0, 360, 10, endpoint=False), 1.0, flats=counts[:2], darks=counts[:2] * 0,
                    geometry="cone", source_origin_um=100.0, source_detector_um=300.0)
    path = p.to_nxtomo(tmp_path / "cone.nxs")
    assert main(["fit", "tomo", str(path), "-o", str(tmp_path / "r.h5")]) == EXIT_USAGE
    assert "method='fbp'" in capsys.readouterr().err
