"""`xtwin validate conduction`: every group of checks passes, and the lamella scenario reports what it claims."""

import json

import numpy as np
import pytest

from validation.conduction import lamella
from xtwin.cli import EXIT_OK, main


@pytest.fixture(scope="module")
def report_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("conduction")
    status = main(["validate", "conduction", "--out", str(out), "--json", str(out / "report.json")])
    return status, json.loads((out / "report.json").read_text()), out


def test_validate_conduction_passes_with_every_group(report_json):
    status, report, out = report_json
    failed = [c for c in report["checks"] if not c["passed"]]
    assert status == EXIT_OK and report["passed"], failed
    assert set(report["timings_s"]) == {"analytic", "network_vs_fem", "lamella", "fit"}
    names = [c["name"] for c in report["checks"]]
    assert sum(n.startswith("lamella_") for n in names) == 5
    for artefact in report["artefacts"]:
        assert (out / artefact).stat().st_size > 0


def test_lamella_scenario_is_the_thesis_geometry():
    twin = lamella.scenario(seed=0)
    # 4 um x 5 um window plus a 1 um frame at 50 nm voxels (seeds/003, section 4.2.1).
    assert twin.shape == (100, 120) and twin.voxel_size_um == lamella.VOXEL_UM
    assert 15 <= twin.n_grains <= 30


def test_boundary_csv_lists_the_largest_drops_first():
    run = lamella.compute(lamella.scenario(seed=1))
    lines = lamella.boundary_csv(run.boundaries["reduced"], 4).splitlines()
    assert len(lines) == 5 and lines[0].startswith("rank,grain_i,grain_j,gb_drop_V")
    drops = [float(line.split(",")[3]) for line in lines[1:]]
    assert drops == sorted(drops, reverse=True)
    assert drops[0] == pytest.approx(run.boundaries["reduced"].gb_drop_V.max(), rel=1e-3)
    assert np.isclose(sum(run.solutions["isotropic"].electrode_current_A), 0, atol=1e-9 *
                      run.solutions["isotropic"].total_current_A)
