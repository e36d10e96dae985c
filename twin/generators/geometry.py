"""Geometry shared by the generators: voxel coordinates, balls, packing, Voronoi/Laguerre cells.

Positions are in um in array-axis order (``(z, y, x)`` in 3D, ``(y, x)`` in
2D); voxel ``i`` along an axis has its centre at ``(i + 0.5) *
voxel_size_um``. A voxel belongs to a shape when its centre does.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import special
from scipy.spatial import cKDTree

from xtwin import arguments


def voxel_centres_um(shape: Sequence[int], voxel_size_um: float) -> list[np.ndarray]:
    """Sparse open grids of voxel-centre coordinates, um, one per axis (broadcastable)."""
    return np.meshgrid(*[(np.arange(n) + 0.5) * voxel_size_um for n in shape], indexing="ij", sparse=True)


def layer_slice(low_um: float, high_um: float, voxel_size_um: float) -> slice:
    """The voxel layers along one axis whose centres ``(i + 1/2) s`` lie in ``[low_um, high_um)``."""
    # Rounding keeps boundaries that are multiples of the voxel size exact despite float noise.
    s = voxel_size_um
    return slice(int(np.ceil(round(low_um / s - 0.5, 9))), int(np.ceil(round(high_um / s - 0.5, 9))))


def ball_window(shape: Sequence[int], voxel_size_um: float, centre_um: np.ndarray,
                radius_um: float) -> tuple[tuple[slice, ...], np.ndarray]:
    """The bounding box of a ball in the grid and the ball's mask inside it.

    Returns ``(slices, inside)`` with ``inside`` a boolean array of the box's
    shape. Cost O(r^d) voxels, independent of the grid size: this is what
    makes rasterising many particles in a large grid affordable.
    """
    lo = np.maximum(np.floor((np.asarray(centre_um) - radius_um) / voxel_size_um).astype(int), 0)
    hi = np.minimum(np.ceil((np.asarray(centre_um) + radius_um) / voxel_size_um).astype(int) + 1, shape)
    slices = tuple(slice(a, b) for a, b in zip(lo, hi))
    axes = np.meshgrid(*[(np.arange(a, b) + 0.5) * voxel_size_um - c for a, b, c in zip(lo, hi, centre_um)],
                       indexing="ij", sparse=True)
    return slices, sum(a * a for a in axes) <= radius_um * radius_um


def paint_balls(labels: np.ndarray, voxel_size_um: float, centres_um: np.ndarray, radii_um: np.ndarray,
                value: int | np.ndarray, *, where: np.ndarray | None = None) -> np.ndarray:
    """Set ``labels`` to ``value`` inside each ball, in place; return each ball's painted voxel count.

    Parameters
    ----------
    labels : ndarray
        Grid to paint (modified).
    centres_um : ndarray, shape (n, ndim)
    radii_um : ndarray, shape (n,)
    value : int or ndarray of shape (n,)
        Label per ball (e.g. a particle id).
    where : ndarray of bool, optional
        Paint only voxels where this mask of the grid's shape is True.

    Notes
    -----
    Cost: O(sum of ball volumes in voxels); one Python iteration per ball,
    none per voxel.
    """
    values = np.broadcast_to(np.asarray(value), (len(radii_um),))
    counts = np.zeros(len(radii_um), dtype=np.int64)
    for i, (c, r) in enumerate(zip(centres_um, radii_um)):
        slices, inside = ball_window(labels.shape, voxel_size_um, c, r)
        if where is not None:
            inside = inside & where[slices]
        labels[slices][inside] = values[i]
        counts[i] = np.count_nonzero(inside)
    return counts


def pack_spheres(radii_um: np.ndarray, low_um: np.ndarray, high_um: np.ndarray, rng: np.random.Generator, *,
                 gap_um: float = 0.0, max_tries: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Random sequential addition of non-overlapping spheres inside a box, largest first.

    Each sphere's centre is drawn uniformly in the box shrunk by its radius;
    a candidate closer than ``r_i + r_j + gap_um`` to a placed sphere is
    redrawn, up to ``max_tries`` times, after which the sphere is skipped.
    Candidates are tested in vectorised batches.

    Parameters
    ----------
    radii_um : ndarray, shape (n,)
    low_um, high_um : ndarray, shape (ndim,)
        Box corners, um. A coordinate whose extent is shorter than the
        sphere's diameter is centred in it (a monolayer on a support).
    rng : numpy.random.Generator

    Returns
    -------
    centres_um : ndarray, shape (m, ndim)
    placed : ndarray of int, shape (m,)
        Indices into ``radii_um`` of the spheres placed, in placement order.

    Notes
    -----
    Cost: O(n x m x max_tries) distance tests for n spheres of which m are
    placed, about 18 ms per sphere once 2000 are placed (benchmarks/):
    fine for the hundreds of particles of a powder or electrode; a spatial
    index would be needed for dense packings of thousands.
    """
    low_um, high_um = np.asarray(low_um, float), np.asarray(high_um, float)
    order = np.argsort(radii_um)[::-1]
    centres, placed = [], []
    placed_r = np.empty(0)
    for i in order:
        r = radii_um[i]
        lo, hi = low_um + r, high_um - r
        lo, hi = np.where(lo > hi, (low_um + high_um) / 2, lo), np.where(lo > hi, (low_um + high_um) / 2, hi)
        candidates = rng.uniform(lo, hi, size=(max_tries, len(lo)))
        if centres:
            d = np.linalg.norm(candidates[:, None, :] - np.asarray(centres)[None], axis=-1)
            ok = np.all(d >= placed_r[None] + r + gap_um, axis=1)
            if not ok.any():
                continue
            c = candidates[np.argmax(ok)]
        else:
            c = candidates[0]
        centres.append(c)
        placed.append(i)
        placed_r = np.append(placed_r, r)
    return np.asarray(centres).reshape(-1, len(low_um)), np.asarray(placed, dtype=np.int64)


def laguerre_labels(shape: Sequence[int], voxel_size_um: float, seeds_um: np.ndarray,
                    weights_um2: np.ndarray | None = None, *, periodic: bool = False) -> np.ndarray:
    """Label each voxel with its Voronoi (or Laguerre/power) cell, int32, O(N log n_seeds), slab by slab.

    Without ``weights_um2`` the cell of seed i holds the voxels nearest to
    it. With weights the power distance |x - s_i|^2 - w_i decides
    (Laguerre tessellation, which controls grain sizes); it is computed
    with a k-d tree by lifting each seed to a fourth coordinate
    sqrt(max(w) - w_i), which turns the power distance into a Euclidean one.

    Parameters
    ----------
    seeds_um : ndarray, shape (n, ndim)
    weights_um2 : ndarray, shape (n,), optional
    periodic : bool
        Wrap the box (for periodic microstructures).
    """
    seeds = np.asarray(seeds_um, dtype=float)
    ndim = len(shape)
    if seeds.ndim != 2 or seeds.shape[1] != ndim:
        raise ValueError(f"seeds_um: expected shape (n, {ndim}), got {seeds.shape}")
    box = np.asarray(shape) * voxel_size_um
    if weights_um2 is not None:
        w = np.asarray(weights_um2, dtype=float)
        lift = np.sqrt(w.max() - w)
        seeds = np.column_stack([seeds, lift])
        box = np.append(box, 2 * lift.max() + 1.0)
    tree = cKDTree(np.mod(seeds, box) if periodic else seeds, boxsize=box if periodic else None)
    labels = np.empty(tuple(shape), dtype=np.int32)
    # Query one slab of the first axis at a time: the voxel-centre coordinates of a whole 512^3 grid
    # would take 3 GB.
    rest = np.meshgrid(*[(np.arange(n) + 0.5) * voxel_size_um for n in shape[1:]], indexing="ij")
    extra = [np.zeros(rest[0].size)] if weights_um2 is not None else []
    for k in range(shape[0]):
        first = np.full(rest[0].size, (k + 0.5) * voxel_size_um)
        points = np.column_stack([first, *[c.ravel() for c in rest], *extra])
        labels[k] = tree.query(points, workers=-1)[1].reshape(shape[1:])
    return labels


def lognormal_diameters(n: int, median_um: float, sigma: float, rng: np.random.Generator, *,
                        low_um: float | None = None, high_um: float | None = None) -> np.ndarray:
    """``n`` log-normal diameters (median ``median_um``, shape ``sigma`` of ln d), optionally truncated.

    Truncation redraws values outside [low_um, high_um], so the result
    follows the truncated log-normal exactly (what a KS test should use).
    """
    n = arguments.integer("n", n, minimum=0)
    median = arguments.positive("median_um", median_um, unit="um")
    sigma = arguments.positive("sigma", sigma, allow_zero=True)
    lo = 0.0 if low_um is None else low_um
    hi = np.inf if high_um is None else high_um
    if not lo < hi:
        raise ValueError(f"low_um={low_um!r}, high_um={high_um!r}: expected low < high")
    inside = lognormal_fraction_inside(median, sigma, lo, hi)
    # Truncation redraws until enough values fall inside: refuse what would take (almost) forever.
    if inside < 1e-3:
        raise ValueError(f"median_um={median_um!r}, sigma={sigma!r}: only {inside:.2g} of the log-normal lies in "
                         f"[{lo:g}, {hi:g}] um; expected at least 0.1 %")
    out = np.empty(0)
    while out.size < n:
        d = median * np.exp(sigma * rng.standard_normal(max(2 * (n - out.size), 16)))
        out = np.concatenate([out, d[(d >= lo) & (d <= hi)]])
    return out[:n]


def lognormal_fraction_inside(median_um: float, sigma: float, low_um: float, high_um: float) -> float:
    """Probability that a log-normal diameter (median, shape sigma) lies in [low_um, high_um]."""
    if sigma == 0:
        return 1.0 if low_um <= median_um <= high_um else 0.0
    z = np.log(np.array([max(low_um, 1e-300), high_um]) / median_um) / sigma
    return float(np.diff(special.ndtr(z))[0])


def check_particle_sizes(voxel_size_um: float, median_diameter_um: float, sigma: float,
                         diameter_range_um: tuple[float, float]) -> None:
    """Refuse particles below two voxels and a size distribution with (almost) nothing in its range.

    The message names the generators' arguments ``voxel_size_um``,
    ``median_diameter_um``, ``sigma`` and ``diameter_range_um``.
    """
    low, high = diameter_range_um
    if low < 2 * voxel_size_um:
        raise ValueError(f"voxel_size_um={voxel_size_um!r}: expected at most half the smallest particle diameter, "
                         f"diameter_range_um[0] = {low:g} um")
    inside = lognormal_fraction_inside(median_diameter_um, sigma, low, high)
    if inside < 1e-3:
        raise ValueError(f"median_diameter_um={median_diameter_um!r}, sigma={sigma!r}: expected a log-normal with "
                         f"at least 0.1 % of its diameters in diameter_range_um = ({low:g}, {high:g}) um, "
                         f"got {inside:.2g}")
