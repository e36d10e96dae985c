"""Pictures of a twin: orthogonal slices (matplotlib) and a 3D view (pyvista, off screen).

Both write PNG files atomically and refuse to overwrite unless asked. Phase
colours are fixed by label (tab10), so a phase keeps its colour across
figures of the same twin.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import numpy as np

from twin.container import Twin
from xtwin import files

#: Largest grid edge rendered in 3D; larger twins are subsampled for the picture only.
MAX_RENDER_EDGE = 160


def _colours(n: int) -> np.ndarray:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return np.array([cmap(i % 10) for i in range(n)])


def slices_png(twin: Twin, path: str | os.PathLike, *, overwrite: bool = False, dpi: int = 110) -> Path:
    """Write the phase map of a 2D twin, or its three central orthogonal slices of a 3D one.

    Axes are in um; the legend names each phase's material.
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    files.check_writable(path, overwrite)
    n_labels = max(twin.phases) + 1
    cmap = ListedColormap(_colours(n_labels))
    norm = BoundaryNorm(np.arange(n_labels + 1) - 0.5, n_labels)
    s = twin.voxel_size_um
    if twin.ndim == 2:
        ny, nx = twin.shape
        views = [("x-y", twin.labels, (0, nx * s, 0, ny * s), ("x (um)", "y (um)"))]
    else:
        nz, ny, nx = twin.shape
        views = [(f"x-y at z={nz // 2 * s:.3g} um", twin.labels[nz // 2], (0, nx * s, 0, ny * s), ("x (um)", "y (um)")),
                 (f"x-z at y={ny // 2 * s:.3g} um", twin.labels[:, ny // 2], (0, nx * s, 0, nz * s), ("x (um)", "z (um)")),
                 (f"y-z at x={nx // 2 * s:.3g} um", twin.labels[:, :, nx // 2], (0, ny * s, 0, nz * s), ("y (um)", "z (um)"))]
    # A bare Figure (no pyplot) keeps no global state and needs no closing.
    fig = Figure(figsize=(4.2 * len(views) + 1.8, 4.2))
    axes = fig.subplots(1, len(views), squeeze=False)
    for ax, (title, image, extent, (xl, yl)) in zip(axes[0], views):
        ax.imshow(image, origin="lower", extent=extent, cmap=cmap, norm=norm, interpolation="nearest")
        ax.set(title=title, xlabel=xl, ylabel=yl)
    handles = [Patch(color=cmap(k), label=f"{k}: {m.name}") for k, m in twin.phases.items()]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1 - 1.8 / (4.2 * len(views) + 1.8), 1))
    with files.atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def volume_png(twin: Twin, path: str | os.PathLike, *, hide: Iterable[int] = (0,), overwrite: bool = False,
               window_size: tuple[int, int] = (900, 700)) -> Path:
    """Render the phases of a 3D twin as coloured surfaces, off screen, to a PNG.

    Parameters
    ----------
    hide : iterable of int
        Labels not drawn (by default 0, the surrounding medium).

    Notes
    -----
    Cost: one threshold and surface extraction per phase, O(N voxels); grids
    larger than :data:`MAX_RENDER_EDGE` per edge are subsampled first.
    """
    if twin.ndim != 3:
        raise ValueError(f"twin: expected a 3D twin for a volume rendering, got shape {twin.shape}; "
                         f"use slices_png for 2D")
    files.check_writable(path, overwrite)
    if not os.environ.get("DISPLAY"):
        # Without a screen, go straight to EGL rather than trying X first (which warns) or
        # OSMesa (absent on most machines).
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    step = max(1, int(np.ceil(max(twin.shape) / MAX_RENDER_EDGE)))
    small = twin if step == 1 else twin.replace(labels=twin.labels[::step, ::step, ::step], fields={},
                                               grain_ids=None, orientations=None,
                                               voxel_size_um=twin.voxel_size_um * step)
    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    try:
        _draw_phases(plotter, small, set(hide))
        with files.atomic_path(path, overwrite=overwrite) as tmp:
            plotter.screenshot(str(tmp))
    finally:
        plotter.close()
    return Path(path)


def _draw_phases(plotter, twin: Twin, hidden: set[int]) -> None:
    grid = twin.to_vtk()
    colours = _colours(max(twin.phases) + 1)
    plotter.set_background("white")
    drawn = 0
    for label, material in twin.phases.items():
        if label in hidden or not np.any(twin.labels == label):
            continue
        part = grid.threshold((label - 0.5, label + 0.5), scalars="phase").extract_surface(
            algorithm="dataset_surface")
        plotter.add_mesh(part, color=colours[label][:3], label=f"{label}: {material.name}", smooth_shading=False)
        drawn += 1
    if drawn:
        plotter.add_legend(bcolor="white", face="rectangle", loc="upper left", size=(0.3, 0.05 * drawn + 0.02))
    plotter.add_axes(xlabel="x", ylabel="y", zlabel="z")
    plotter.add_text(f"{' x '.join(f'{e:.3g}' for e in twin.extent_um[::-1])} um (x y z)", position="lower_right",
                     font_size=9, color="black")
    plotter.camera_position = "iso"
