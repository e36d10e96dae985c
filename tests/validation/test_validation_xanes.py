"""`xtwin validate xanes`: every check passes, and the 2D inversion recovers the twin's valence."""

import json

import numpy as np

from validation.xanes import particle, valence_2d
from xtwin.cli import EXIT_OK, main


def test_validate_xanes_passes(tmp_path):
    out = tmp_path / "xanes"
    status = main(["validate", "xanes", "--out", str(out), "--json", str(out / "report.json")])
    report = json.loads((out / "report.json").read_text())
    failed = [c for c in report["checks"] if not c["passed"]]
    assert status == EXIT_OK and report["passed"], failed
    names = {c["name"] for c in report["checks"]}
    assert {"valence_rmse_rod_snr100", "valence_rmse_gravel_snr300", "soc_spread_rod_snr300",
            "gradient_rod_more_radial_than_gravel"} <= names
    assert (out / "xanes_valence.png").read_bytes()[:4] == b"\x89PNG"


def test_higher_snr_gives_a_better_valence_map():
    # Counting noise dominates: tripling the SNR must cut the RMSE by about 3 (at least 2).
    twin = particle("gravel", seed=3, voxel_size_um=0.05)
    rmse = {}
    for snr in (100, 300):
        v, _, truth, used, _ = valence_2d(twin, snr, seed=7)
        rmse[snr] = float(np.sqrt(np.mean((v[used] - truth[used]) ** 2)))
    assert rmse[100] > 2.0 * rmse[300]
