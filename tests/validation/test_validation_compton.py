"""`xtwin validate compton`: every check passes, and the pixel truth the checks use is what the twin holds."""

import json

import numpy as np
import pytest

from forward.compton.camera import PinholeCamera
from validation.compton import lib_twin, pixel_truth
from xtwin.cli import EXIT_OK, main


def test_validate_compton_passes(tmp_path):
    out = tmp_path / "compton"
    status = main(["validate", "compton", "--out", str(out), "--json", str(out / "report.json")])
    report = json.loads((out / "report.json").read_text())
    failed = [c for c in report["checks"] if not c["passed"]]
    assert status == EXIT_OK and report["passed"], failed
    names = {c["name"] for c in report["checks"]}
    assert {"compton_peak_kev", "emf_middle_above_top", "emf_anode_above_interphase", "li_map_correlation",
            "li_map_rmse"} <= names
    assert (out / "compton_emf.png").read_bytes()[:4] == b"\x89PNG"


def test_pixel_truth_images_the_cathode_inverted_and_weights_x_by_counts():
    twin = lib_twin(seed=0)
    z0, z1 = twin.truth["cathode/z_range_um"]
    label = int(twin.truth["cathode/label"])
    part, total, x_sum = pixel_truth(twin, 0.5 * (z0 + z1), (label,), PinholeCamera())
    inside = part >= 0.9 * total
    # 14 mm cathode at magnification 1 on 250 um pixels: about pi 28^2 = 2463 pixels, centred on the detector.
    assert inside.sum() == pytest.approx(np.pi * 28**2, rel=0.05)
    rows, cols = np.nonzero(inside)
    assert rows.mean() == pytest.approx(39.5, abs=1.0) and cols.mean() == pytest.approx(39.5, abs=1.0)
    # The count-weighted x of the cathode pixels lies within the twin's range of x_li.
    x = x_sum[inside] / part[inside]
    field = twin.fields["x_li"][twin.labels == label]
    assert field.min() - 1e-6 <= x.min() and x.max() <= field.max() + 1e-6
