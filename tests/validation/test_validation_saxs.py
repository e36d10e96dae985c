"""`xtwin validate saxs`: every group of checks passes, and the operando analysis sees what the twin holds."""

import json

import numpy as np
import pytest

from validation.saxs import operando
from xtwin.cli import EXIT_OK, main


@pytest.fixture(scope="module")
def report_json(tmp_path_factory):
    out = tmp_path_factory.mktemp("saxs")
    status = main(["validate", "saxs", "--out", str(out), "--json", str(out / "report.json")])
    return status, json.loads((out / "report.json").read_text()), out


def test_validate_saxs_passes_with_every_group(report_json):
    status, report, out = report_json
    failed = [c for c in report["checks"] if not c["passed"]]
    assert status == EXIT_OK and report["passed"], failed
    assert set(report["timings_s"]) == {"operando", "tomography"}
    names = [c["name"] for c in report["checks"]]
    # (a) 002 of every scan and Table S2, (b) micropores, (c) plating, (d) tomogram.
    assert sum(n.startswith("waxs_d002_op") for n in names) == 5
    assert sum(n.startswith("pore_filling_op") for n in names) == 5
    assert {"plating_onset_scan", "tomo_pore_filling_correlation", "tomo_pore_filling_rmse"} <= set(names)
    for artefact in report["artefacts"]:
        assert (out / artefact).read_bytes()[:4] == b"\x89PNG"


def test_operando_truth_follows_the_sodiation_path():
    # The truth the checks compare with, computed independently of the scans: q002 falls (Table S2),
    # pore filling rises, plating appears only after soc 2/3 (55 and 65 min at 0.8C: soc 0.73, 0.87).
    run = operando.compute(operando.scenario(seed=1), seed=1)
    assert np.all(np.diff(run.truth_q002_inv_A) < 0)
    assert np.all(np.diff(run.truth_pore_filling) > 0)
    assert np.flatnonzero(run.truth_plated > 0).tolist() == [4, 5]
    # The masks find the pin below the electrode and the collector at the pin's top face.
    assert run.collector_z_um == pytest.approx(float(run.twin.truth["pin/top_z_um"]), abs=15.0)
    assert run.electrode.sum() > 100 and not (run.electrode & run.steel).any()
