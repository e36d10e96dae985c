"""The demo: the main job writes a report of every section, and refuses to clobber a folder."""

import html
import json

import pytest

from twin import io
from xtwin import demo
from xtwin.cli import EXIT_OK, EXIT_USAGE, main


def test_demo_writes_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == EXIT_OK
    summary = json.loads((out / "summary.json").read_text())
    assert summary["passed"] is True
    names = [s["name"] for s in summary["sections"]]
    assert names[:3] == ["twin", "samples", "materials"]
    from twin.generators import KINDS

    # One picture (at least) of every generator kind besides the main twin's spheres.
    images = summary["sections"][1]["images"]
    assert all(f"sample_{k}.png" in images for k in KINDS if k != "spheres")
    for section in summary["sections"]:
        for image in section["images"]:
            assert (out / image).read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text()
    assert all(html.escape(s["title"]) in page for s in summary["sections"])
    # The saved twin is the documented default and reloads exactly.
    twin = io.load(out / "twin.h5")
    assert twin.provenance.seed == 0
    assert twin.truth["spheres/radius_um"].size == summary["sections"][0]["facts"]["particles"]
    materials = summary["sections"][2]["report"]
    assert materials["modality"] == "materials" and materials["passed"]
    conduction = next(s for s in summary["sections"] if s["name"] == "conduction")
    assert conduction["report"]["modality"] == "conduction" and conduction["report"]["passed"]
    assert any(image.endswith(".png") for image in conduction["images"])
    # The boundary table: header plus the top boundaries, largest potential drop first.
    rows = next(iter(conduction["facts"].values())).splitlines()
    drops = [float(row.split(",")[3]) for row in rows[1:]]
    assert rows[0].startswith("rank,grain_i,grain_j,gb_drop_V") and drops == sorted(drops, reverse=True)
    saxs = next(s for s in summary["sections"] if s["name"] == "saxs")
    assert saxs["report"]["modality"] == "saxs" and saxs["report"]["passed"]
    assert {"saxs_operando_curves.png", "saxs_difference_maps.png", "saxs_tomogram.png"} <= set(saxs["images"])
    compton = next(s for s in summary["sections"] if s["name"] == "compton")
    assert compton["report"]["modality"] == "compton" and compton["report"]["passed"]
    assert "compton_emf.png" in compton["images"]
    xanes = next(s for s in summary["sections"] if s["name"] == "xanes")
    assert xanes["report"]["modality"] == "xanes" and xanes["report"]["passed"]
    assert "xanes_valence.png" in xanes["images"]


def test_demo_refuses_non_empty_folder(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["demo", "--out", str(tmp_path)]) == EXIT_USAGE
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_demo_refuses_file_as_folder(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    with pytest.raises(NotADirectoryError, match="out_dir"):
        demo.run(target, progress=False)
