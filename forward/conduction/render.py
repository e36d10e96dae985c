"""Pictures of a solved network: current-density maps with grain boundaries and electric-field arrows.

The picture of seeds/003 Figure 4.15: |J| in colour (log scale, as the
grains differ by orders of magnitude), grain boundaries as thin lines,
arrows for the electric field, the boundaries with the largest drops
circled. PNG files are written atomically and never overwrite silently.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from forward.conduction.boundaries import BoundaryTable
from forward.conduction.network import NetworkSolution
from xtwin import files


def current_map_png(solution: NetworkSolution, grain_ids: np.ndarray, voxel_size_um: float,
                    path: str | os.PathLike, *, boundaries: BoundaryTable | None = None, highlight: int = 5,
                    titles: Sequence[str] | None = None, overwrite: bool = False, dpi: int = 110) -> Path:
    """Write |J| of a 2D network (or the middle z-slice of a 3D one) with boundaries and field arrows.

    Parameters
    ----------
    solution : NetworkSolution
        A solved 2D or 3D network.
    grain_ids : ndarray of int
        Grain of every voxel (-1 outside grains), for the boundary lines.
    voxel_size_um : float
        Voxel edge, um (axes are in um).
    path : path-like
        PNG to write.
    boundaries : BoundaryTable, optional
        Circles the ``highlight`` boundaries with the largest grain-boundary drop.
    titles : sequence of str, optional
        Title of the panel.
    """
    from matplotlib.colors import LogNorm
    from matplotlib.figure import Figure

    files.check_writable(path, overwrite)
    j = np.sqrt((solution.current_density_A_per_m2 ** 2).sum(axis=0))
    efield = np.nan_to_num(solution.electric_field_V_per_m)
    ids = np.asarray(grain_ids)
    if j.ndim == 3:
        mid = j.shape[0] // 2
        j, ids, efield = j[mid], ids[mid], efield[1:, mid]
    ny, nx = j.shape
    s = voxel_size_um
    fig = Figure(figsize=(7.5, 6.2 * ny / nx + 0.6), layout="constrained")
    ax = fig.subplots()
    positive = j[j > 0]
    norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max()) if positive.size else None
    shown = ax.imshow(np.where(j > 0, j, np.nan), origin="lower", extent=(0, nx * s, 0, ny * s), norm=norm,
                      cmap="inferno", interpolation="nearest")
    fig.colorbar(shown, ax=ax, label="|J| (A/m$^2$)", fraction=0.04)
    potential = solution.potential_V if solution.potential_V.ndim == 2 else solution.potential_V[mid]
    metal = np.isfinite(potential) & (j == 0)          # electrode voxels: fixed potential, no current computed
    ax.imshow(np.where(metal, 1.0, np.nan), origin="lower", extent=(0, nx * s, 0, ny * s), cmap="Greys",
              vmin=0, vmax=2, interpolation="nearest")
    edge = np.zeros((ny, nx), bool)
    edge[:, 1:] |= (ids[:, 1:] != ids[:, :-1]) & (ids[:, 1:] >= 0) & (ids[:, :-1] >= 0)
    edge[1:, :] |= (ids[1:, :] != ids[:-1, :]) & (ids[1:, :] >= 0) & (ids[:-1, :] >= 0)
    ax.contour(edge.astype(float), levels=[0.5], colors="white", linewidths=0.4, origin="lower",
               extent=(0, nx * s, 0, ny * s))
    step = max(1, max(ny, nx) // 24)
    yy, xx = np.mgrid[step // 2:ny:step, step // 2:nx:step]
    ey, ex = efield[0][yy, xx], efield[1][yy, xx]
    magnitude = np.hypot(ex, ey)
    shown_arrow = magnitude > 0
    ax.quiver((xx[shown_arrow] + 0.5) * s, (yy[shown_arrow] + 0.5) * s, ex[shown_arrow] / magnitude[shown_arrow],
              ey[shown_arrow] / magnitude[shown_arrow], color="cyan", scale=40, width=0.002)
    if boundaries is not None and len(boundaries):
        for rank, row in enumerate(boundaries.top(highlight)):
            a, b = boundaries.grains[row]
            touching = np.argwhere(_touching(ids, int(a), int(b)))
            if touching.size:
                cy, cx = (touching.mean(axis=0) + 0.5) * s
                ax.plot(cx, cy, "o", mfc="none", mec="lime", ms=14, mew=1.5)
                ax.annotate(str(rank + 1), (cx, cy), color="lime", fontsize=9, ha="center", va="center")
    ax.set(xlabel="x (um)", ylabel="y (um)", title=titles[0] if titles else "current density and field")
    with files.atomic_path(path, overwrite=overwrite) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return Path(path)


def _touching(ids: np.ndarray, a: int, b: int) -> np.ndarray:
    """Voxels of grain a or b that have a face neighbour in the other grain."""
    out = np.zeros(ids.shape, bool)
    for axis in (0, 1):
        lo = tuple(slice(None, -1) if k == axis else slice(None) for k in (0, 1))
        hi = tuple(slice(1, None) if k == axis else slice(None) for k in (0, 1))
        pair = ((ids[lo] == a) & (ids[hi] == b)) | ((ids[lo] == b) & (ids[hi] == a))
        out[lo] |= pair
        out[hi] |= pair
    return out
