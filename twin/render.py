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


def slices_png(twin: Twin, path: str | os.PathLike, *, field: str | None = None, overwrite: bool = False,
               dpi: int = 110) -> Path:
    """Write the map of a 2D twin, or its three central orthogonal slices of a 3D one.

    Parameters
    ----------
    field : str, optional
        What to colour: the phases (default, with a legend naming each
        material), ``"grain_ids"`` (one colour per grain, voxels outside
        grains white), or the name of a field (viridis with a colour bar;
        NaN, where the field is undefined, white).

    Axes are in um.
    """
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm, ListedColormap
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    files.check_writable(path, overwrite)
    if field is None:
        values = twin.labels
        n_labels = max(twin.phases) + 1
        cmap = ListedColormap(_colours(n_labels))
        norm = BoundaryNorm(np.arange(n_labels + 1) - 0.5, n_labels)
    elif field == "grain_ids":
        if twin.grain_ids is None:
            raise ValueError("field='grain_ids': this twin has no grains")
        # Scrambled ids so that neighbouring grains rarely share a colour.
        scramble = np.random.default_rng(0).permutation(max(twin.n_grains, 1))
        values = np.where(twin.grain_ids >= 0, scramble[np.maximum(twin.grain_ids, 0)] % 20, np.nan)
        cmap, norm = colormaps["tab20"].with_extremes(bad="white"), BoundaryNorm(np.arange(21) - 0.5, 20)
    elif field in twin.fields:
        values = twin.fields[field].astype(float)
        cmap, norm = colormaps["viridis"].with_extremes(bad="white"), None
    else:
        raise ValueError(f"field={field!r}: expected None, 'grain_ids' or one of the twin's fields "
                         f"{list(twin.fields)}")
    s = twin.voxel_size_um
    if twin.ndim == 2:
        ny, nx = twin.shape
        views = [("x-y", values, (0, nx * s, 0, ny * s), ("x (um)", "y (um)"))]
    else:
        nz, ny, nx = twin.shape
        views = [(f"x-y at z={nz // 2 * s:.3g} um", values[nz // 2], (0, nx * s, 0, ny * s), ("x (um)", "y (um)")),
                 (f"x-z at y={ny // 2 * s:.3g} um", values[:, ny // 2], (0, nx * s, 0, nz * s), ("x (um)", "z (um)")),
                 (f"y-z at x={nx // 2 * s:.3g} um", values[:, :, nx // 2], (0, ny * s, 0, nz * s), ("y (um)", "z (um)"))]
    # Size panels to their aspect ratio so that a flat section (a coin cell, 20 mm x 3 mm) stays readable.
    panel_w, panel_h = 4.2, 4.2
    if twin.ndim == 2:
        aspect = twin.shape[1] / twin.shape[0]
        panel_w = float(np.clip(4.2 * aspect, 4.2, 14.0))
        panel_h = float(np.clip(panel_w / aspect + 1.0, 2.4, 6.0))
    # A bare Figure (no pyplot) keeps no global state and needs no closing.
    fig = Figure(figsize=(panel_w * len(views) + 1.8, panel_h), layout="constrained")
    axes = fig.subplots(1, len(views), squeeze=False)
    vmin, vmax = (np.nanmin(values), np.nanmax(values)) if norm is None and np.isfinite(values).any() else (None, None)
    for ax, (title, image, extent, (xl, yl)) in zip(axes[0], views):
        shown = ax.imshow(image, origin="lower", extent=extent, cmap=cmap, norm=norm, vmin=vmin, vmax=vmax,
                          interpolation="nearest")
        ax.set(title=title, xlabel=xl, ylabel=yl)
    if field is None:
        handles = [Patch(color=cmap(k), label=f"{k}: {m.name}") for k, m in twin.phases.items()]
        fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    elif field != "grain_ids":
        fig.colorbar(shown, ax=list(axes[0]), label=field, fraction=0.03)
    else:
        fig.suptitle(f"{twin.n_grains} grains")
    with files.atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def volume_png(twin: Twin, path: str | os.PathLike, *, hide: Iterable[int] = (0,), cutaway: bool = True,
               overwrite: bool = False, window_size: tuple[int, int] = (900, 700)) -> Path:
    """Render the phases of a 3D twin as coloured surfaces, off screen, to a PNG.

    Parameters
    ----------
    hide : iterable of int
        Labels not drawn (by default 0, the surrounding medium).
    cutaway : bool
        Remove the quarter of the volume facing the camera (x and y above
        the centre), so that inner parts (an electrode inside a capillary,
        voids inside particles) show.

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
        _draw_phases(plotter, small, set(hide), cutaway)
        with files.atomic_path(path, overwrite=overwrite) as tmp:
            plotter.screenshot(str(tmp))
    finally:
        plotter.close()
    return Path(path)


def _draw_phases(plotter, twin: Twin, hidden: set[int], cutaway: bool) -> None:
    grid = twin.to_vtk()
    if cutaway:
        (x0, x1, y0, y1, z0, z1) = grid.bounds
        grid = grid.clip_box(((x0 + x1) / 2, x1, (y0 + y1) / 2, y1, z0, z1), invert=True, crinkle=True)
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
        plotter.add_legend(bcolor="white", face="rectangle", loc="upper left", size=(0.4, 0.06 * drawn + 0.02))
    plotter.add_axes(xlabel="x", ylabel="y", zlabel="z")
    plotter.add_text(f"{' x '.join(f'{e:.3g}' for e in twin.extent_um[::-1])} um (x y z)", position="lower_right",
                     font_size=9, color="black")
    plotter.camera_position = "iso"
