"""Tests of validation.materials, of the Check/Report container and of the reference-data readers."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.integrate import trapezoid

import validation
from validation import materials as materials_validation
from validation import reference_data
from validation.report import Check, Report

#: Top-level keys of a report (DESIGN.md, "Validation reports").
REPORT_KEYS = {"modality", "xtwin_version", "seed", "passed", "checks", "timings_s", "artefacts"}
#: Keys every check carries (DESIGN.md); more are allowed.
CHECK_KEYS = {"name", "value", "tolerance", "unit", "truth", "passed", "why"}


@pytest.fixture(scope="module")
def report() -> Report:
    return materials_validation.run(seed=3)


# ---------------------------------------------------------------------- validation.materials
def test_materials_validation_passes(report: Report) -> None:
    assert report.modality == "materials"
    assert len(report.checks) >= 14
    failed = [c.name for c in report.checks if not c.passed]
    assert report.passed, failed
    assert report.seed == 3
    assert report.timings_s["compute"] > 0
    assert report.artefacts == ()


def test_every_check_says_why(report: Report) -> None:
    assert all(len(c.why) > 30 for c in report.checks)


def test_run_through_the_modality_table() -> None:
    assert validation.run("materials").passed


def test_unknown_modality_is_refused() -> None:
    with pytest.raises(ValueError, match="modality='tomography': expected one of materials"):
        validation.run("tomography")


def test_bad_seed_is_refused() -> None:
    with pytest.raises(TypeError, match="seed=1.5: expected an integer"):
        materials_validation.run(seed=1.5)


def test_report_json_has_the_design_keys(report: Report, tmp_path: Path) -> None:
    path = report.to_json(tmp_path / "materials.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == REPORT_KEYS
    assert data["modality"] == "materials" and data["seed"] == 3 and data["passed"] is True
    assert all(CHECK_KEYS <= set(c) for c in data["checks"])
    assert set(data["timings_s"]) == {"compute"}
    assert data["artefacts"] == []


def test_artefacts_are_written_into_out_dir(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = materials_validation.run(out_dir=out)
    assert first.artefacts == ("materials_attenuation.png", "materials_checks.csv")
    assert (out / "materials_attenuation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(out / "materials_checks.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == [c.name for c in first.checks]
    assert all(r["passed"] == "True" for r in rows)
    # A rerun into the folder the caller chose replaces its own artefacts; no temporary files remain.
    materials_validation.run(out_dir=out)
    assert sorted(p.name for p in out.iterdir()) == ["materials_attenuation.png", "materials_checks.csv"]


# ---------------------------------------------------------------------- Check and Report
def test_relative_check() -> None:
    # |1.02 - 1.00| / 1.00 = 0.02 <= 0.05
    ok = Check("rel_ok", 1.02, 0.05, why="hand", truth=1.0)
    assert ok.error == pytest.approx(0.02) and ok.passed
    # |0.94 - 1.00| / 1.00 = 0.06 > 0.05
    assert not Check("rel_bad", 0.94, 0.05, why="hand", truth=1.0).passed


def test_absolute_check() -> None:
    # |0.1478 - 0.14| = 0.0078 <= 0.015
    ok = Check("abs_ok", 0.1478, 0.015, why="hand", truth=0.14, comparison="abs")
    assert ok.error == pytest.approx(0.0078) and ok.passed
    # |0.16 - 0.14| = 0.02 > 0.015
    assert not Check("abs_bad", 0.16, 0.015, why="hand", truth=0.14, comparison="abs").passed


def test_max_check() -> None:
    # The value is the error itself: 0.021 <= 0.05 passes, 0.06 does not.
    assert Check("max_ok", 0.021, 0.05, why="hand", comparison="max").passed
    assert not Check("max_bad", 0.06, 0.05, why="hand", comparison="max").passed


def test_nan_value_fails() -> None:
    assert not Check("nan", math.nan, 0.05, why="hand", truth=1.0).passed
    assert not Check("nan_max", math.nan, 0.05, why="hand", comparison="max").passed


def test_a_failing_check_fails_the_report() -> None:
    checks = [Check("good", 1.0, 0.01, why="hand", truth=1.0), Check("bad", 2.0, 0.01, why="hand", truth=1.0)]
    report = Report("demo", checks)
    assert not report.passed
    assert Report("demo", checks[:1]).passed


def test_duplicate_check_names_are_refused() -> None:
    check = Check("same", 1.0, 0.01, why="hand", truth=1.0)
    with pytest.raises(ValueError, match=r"repeated: \['same'\]"):
        Report("demo", [check, check])


def test_to_json_refuses_to_overwrite(tmp_path: Path) -> None:
    report = Report("demo", [Check("a", 1.0, 0.01, why="hand", truth=1.0)])
    path = report.to_json(tmp_path / "r.json")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        report.to_json(path)
    report.to_json(path, overwrite=True)


def test_table_marks_failures() -> None:
    report = Report("demo", [Check("good", 1.0, 0.01, why="hand", truth=1.0),
                             Check("bad", 2.0, 0.01, why="hand", truth=1.0)])
    table = report.table()
    bad_line = next(line for line in table.splitlines() if line.startswith("bad"))
    assert "FAIL" in bad_line
    assert table.splitlines()[-1] == "demo: FAILED (1/2 checks)"


# ---------------------------------------------------------------------- reference readers
def test_nist_table_is_in_kev_and_exact_at_tabulated_energies() -> None:
    energy_kev, mu = reference_data.nist_mass_attenuation("Ni")
    # z28.csv: first row 1.000e-03 MeV = 1 keV, last 2.000e+01 MeV = 20000 keV.
    assert energy_kev[0] == 1.0 and energy_kev[-1] == 20000.0
    # NIST SRD 126, Ni at 20 keV: 32.20 cm2/g (a tabulated point).
    assert reference_data.nist_interpolate("Ni", 20.0) == 32.20
    assert reference_data.nist_interpolate(28, [10.0, 100.0]).tolist() == [209.0, 0.4440]


def test_nist_interpolation_stays_on_its_side_of_the_edge() -> None:
    # z28.csv around the Ni K edge: 8.000 keV 49.52, 8.333 keV 44.28 (below), 8.333 keV 329.4 (above),
    # 10.00 keV 209.0. Log-log by hand:
    below = math.exp(math.log(49.52) + math.log(44.28 / 49.52) * math.log(8.3 / 8.0) / math.log(8.333 / 8.0))
    above = math.exp(math.log(329.4) + math.log(209.0 / 329.4) * math.log(8.4 / 8.333) / math.log(10.0 / 8.333))
    np.testing.assert_allclose(reference_data.nist_interpolate("Ni", [8.3, 8.4]), [below, above], rtol=1e-12)
    assert 44.28 < below < 49.52 and 209.0 < above < 329.4
    # At the edge itself: the value above it.
    assert reference_data.nist_interpolate("z28", 8.333) == 329.4


def test_nist_interpolation_refuses_energies_outside_the_table() -> None:
    with pytest.raises(ValueError, match="energy_kev=0.5: expected energies within the NIST table"):
        reference_data.nist_interpolate("water", 0.5)


def test_unknown_nist_table_is_refused() -> None:
    with pytest.raises(ValueError, match="name='Fe': expected one of the NIST tables"):
        reference_data.nist_mass_attenuation("Fe")


def test_xcom_elam_tables() -> None:
    photo = reference_data.xcom_elam("photoabsorption")
    scatter = reference_data.xcom_elam("scattering")
    assert list(photo) == ["H", "Li", "C", "O", "Al", "Mn", "Co", "Ni"]
    ni, ni_s = photo["Ni"], scatter["Ni"]
    # xcom_elam_photoabsorption.csv: "Ni,20000,31.4906"; xcom_elam_scattering.csv at 20 keV (SOURCES.md).
    i = int(np.flatnonzero(ni["energy_kev"] == 20.0)[0])
    assert ni["photo_cm2_g"][i] == 31.4906
    j = int(np.flatnonzero(ni_s["energy_kev"] == 20.0)[0])
    assert ni_s["coherent_cm2_g"][j] == pytest.approx(0.5947, rel=1e-3)
    assert ni_s["incoherent_cm2_g"][j] == pytest.approx(0.1165, rel=1e-3)
    with pytest.raises(ValueError, match="kind='photo'"):
        reference_data.xcom_elam("photo")


@pytest.mark.parametrize("symbol, z, j0", [("H", 1, 0.849), ("C", 6, 2.890), ("O", 8, 2.780), ("Ni", 28, 6.900)])
def test_biggs_profiles(symbol: str, z: int, j0: float) -> None:
    pz, j = reference_data.biggs_compton_profile(symbol)
    assert pz[0] == 0.0 and pz[-1] == 100.0 and j[0] == j0
    # SOURCES.md: 2 * integral J dpz (trapezoid on the table grid) gives Z within 1.3 %.
    assert 2 * trapezoid(j, pz) == pytest.approx(z, rel=0.015)


def test_biggs_unknown_element_is_refused() -> None:
    with pytest.raises(ValueError, match="symbol='Fe'"):
        reference_data.biggs_compton_profile("Fe")


def test_ffast_chantler_nickel() -> None:
    ni = reference_data.ffast_chantler(28)
    # SOURCES.md, computed there by log-log interpolation: Ni at 20 keV total 31.81, photo 31.08 cm2/g.
    total = reference_data.loglog_interpolate(ni["energy_kev"], ni["total_cm2_g"], 20.0)
    photo = reference_data.loglog_interpolate(ni["energy_kev"], ni["photo_cm2_g"], 20.0)
    assert float(total) == pytest.approx(31.81, abs=0.01)
    assert float(photo) == pytest.approx(31.08, abs=0.01)
    with pytest.raises(ValueError, match="z=5"):
        reference_data.ffast_chantler(5)


def test_cached_arrays_are_read_only() -> None:
    _, mu = reference_data.nist_mass_attenuation("water")
    with pytest.raises(ValueError):
        mu[0] = 0.0


def test_missing_data_folder_says_what_to_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(reference_data.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="set the environment variable XTWIN_REFERENCE_DATA"):
        reference_data.nist_mass_attenuation("Ni")


def test_data_folder_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    default = reference_data.data_dir()
    monkeypatch.setenv(reference_data.DATA_ENV, str(default))
    assert reference_data.data_dir() == default
    assert reference_data.nist_interpolate("Ni", 20.0) == 32.20
