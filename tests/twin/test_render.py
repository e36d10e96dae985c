"""Tests of twin.render: PNG slices (matplotlib) and an off-screen 3D view (pyvista)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from twin import materials  # noqa: E402
from twin.container import Provenance, Twin  # noqa: E402
from twin.render import slices_png, volume_png  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROV = Provenance("tests", created_utc="2024-01-01T00:00:00+00:00")
PHASES = {0: materials.get("air"), 1: materials.get("NMC811"), 2: materials.get("graphite")}
# Phase colours are tab10 by label (twin/render.py): 0 blue, 1 orange, 2 green.
TAB10 = {0: (0x1F, 0x77, 0xB4), 1: (0xFF, 0x7F, 0x0E), 2: (0x2C, 0xA0, 0x2C)}


def _twin3d() -> Twin:
    # A 20^3 box of air holding a ball of NMC811 (radius 6 voxels) and a graphite slab at the bottom.
    z, y, x = np.mgrid[:20, :20, :20] + 0.5
    labels = np.zeros((20, 20, 20), np.uint8)
    labels[(x - 10) ** 2 + (y - 10) ** 2 + (z - 11) ** 2 <= 36] = 1
    labels[:3] = 2
    return Twin(labels, 0.5, PHASES, provenance=PROV)


def _twin2d() -> Twin:
    labels = np.zeros((30, 40), np.uint8)
    labels[5:20, 5:25] = 1
    labels[22:, :] = 2
    return Twin(labels, 1.0, PHASES, provenance=PROV)


def _rgb_255(path) -> np.ndarray:
    image = mpimg.imread(path)
    assert image.dtype == np.float32 and image.ndim == 3 and image.shape[2] in (3, 4)
    return np.round(image[..., :3] * 255).astype(int)


def _count_colour(rgb: np.ndarray, colour, tol: int = 2) -> int:
    return int(np.count_nonzero(np.all(np.abs(rgb - np.array(colour)) <= tol, axis=-1)))


def _distinct_colours(rgb: np.ndarray) -> int:
    return len(np.unique(rgb.reshape(-1, 3), axis=0))


@pytest.mark.parametrize("make", [_twin2d, _twin3d], ids=["2d", "3d"])
def test_slices_png_writes_phase_colours(tmp_path, make):
    twin = make()
    path = slices_png(twin, tmp_path / "slices.png")
    assert path == tmp_path / "slices.png"
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["slices.png"]
    rgb = _rgb_255(path)
    assert _distinct_colours(rgb) > 1
    # Every phase present is drawn in its own colour over a real area (not just the legend patch).
    for label in (0, 1, 2):
        assert _count_colour(rgb, TAB10[label]) > 500, label
    # tab10 colour 3 (red) belongs to no phase and must not appear
    assert _count_colour(rgb, (0xD6, 0x27, 0x28)) == 0


def test_slices_png_areas_follow_volume_fractions(tmp_path):
    # 2D map: the plotted areas of the phases are in the ratio of their voxel counts
    # (legend patches, a few hundred pixels at most, are negligible against the map).
    twin = _twin2d()
    rgb = _rgb_255(slices_png(twin, tmp_path / "s.png"))
    counts = {k: _count_colour(rgb, TAB10[k]) for k in (0, 1, 2)}
    fractions = twin.volume_fractions()
    measured = counts[1] / counts[2]
    expected = fractions["NMC811"] / fractions["graphite"]  # 300 / 320 voxels
    assert measured == pytest.approx(expected, rel=0.1)
    # y points up (origin="lower"): graphite rows y >= 22 are drawn above NMC811 rows 5 <= y < 20, and
    # NMC811 (x < 25 of 40) sits left of the map's centre.
    rows_orange, cols_orange = np.nonzero(np.all(np.abs(rgb - TAB10[1]) <= 2, axis=-1))
    rows_green, cols_green = np.nonzero(np.all(np.abs(rgb - TAB10[2]) <= 2, axis=-1))
    assert np.median(rows_green) < rows_orange.min()
    assert np.median(cols_orange) < np.median(cols_green)


def test_slices_png_refuses_overwrite(tmp_path):
    path = tmp_path / "s.png"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        slices_png(_twin2d(), path)
    assert path.read_bytes() == b"old"
    slices_png(_twin2d(), path, overwrite=True)
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_slices_png_refusal_leaves_no_open_figure(tmp_path):
    path = tmp_path / "s.png"
    path.write_bytes(b"old")
    before = set(plt.get_fignums())
    with pytest.raises(FileExistsError):
        slices_png(_twin2d(), path)
    assert set(plt.get_fignums()) == before


def test_slices_png_closes_its_figure(tmp_path):
    before = set(plt.get_fignums())
    slices_png(_twin3d(), tmp_path / "s.png")
    assert set(plt.get_fignums()) == before


def test_volume_png_renders_phases(tmp_path):
    path = volume_png(_twin3d(), tmp_path / "v.png", window_size=(320, 240))
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert sorted(os.listdir(tmp_path)) == ["v.png"]
    rgb = _rgb_255(path)
    assert rgb.shape[:2] == (240, 320)  # (height, width) of window_size
    assert _distinct_colours(rgb) > 20  # shaded surfaces, legend, text on white
    assert _count_colour(rgb, (255, 255, 255), tol=0) > 0.2 * rgb.shape[0] * rgb.shape[1]  # background
    # Shaded orange (NMC811, label 1) and green (graphite, label 2): hue tests robust to lighting.
    r, g, b = (rgb[..., i].astype(float) for i in range(3))
    orange = (r > 80) & (r > 1.5 * g) & (g > 1.5 * b)
    green = (g > 60) & (g > 1.5 * r) & (g > 1.5 * b)
    assert np.count_nonzero(orange) > 200
    assert np.count_nonzero(green) > 200


def test_volume_png_refuses_2d_twin(tmp_path):
    with pytest.raises(ValueError, match=r"^twin: expected a 3D twin.*use slices_png"):
        volume_png(_twin2d(), tmp_path / "v.png")
    assert os.listdir(tmp_path) == []


def test_volume_png_refuses_overwrite(tmp_path):
    path = tmp_path / "v.png"
    path.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        volume_png(_twin3d(), path, window_size=(64, 48))
    assert path.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["v.png"]
