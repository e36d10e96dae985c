"""Polycrystalline Na-beta''-alumina: grains, textures, grain-boundary network, voids, ZrO2, a TEM lamella.

The sample of seeds/003 (PhD thesis, chapter 4): a polycrystalline
Na-beta''-alumina solid electrolyte (Iontec pellet, section 4.2.1) whose
layered crystal structure conducts Na+ within the conduction planes normal
to the c-axis (sigma_ip / sigma_op = 1e3, section 4.2.2), with grain
boundaries, micron-sized voids (section 4.6, Figure 4.16) and insulating
ZrO2 impurities ("bright particles", Figure 4.6a; ideally blocking in the
resistor network of section 4.2.2). The in situ biasing experiment used a
FIB lamella with a ~4 um x 5 um, ~170 nm thick electron-transparent window
(section 4.2.1) between two electrodes that do not face each other: the
Au/Pt layer on the top edge (negative, grounded through the W tip) and the
Cu grid to which the lamella is soldered (positive), sections 2.7 (5) and 4.5,
Figures 4.1 and 4.15.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from twin import materials, orientations
from twin.container import Provenance, Twin
from twin.generators.geometry import ball_window, laguerre_labels
from xtwin import arguments

#: Phase labels of the twin.
VOID, ELECTROLYTE, ZRO2, NEGATIVE_ELECTRODE, POSITIVE_ELECTRODE, BACKBONE = 0, 1, 2, 3, 4, 5

# Poisson-Voronoi cells: mean equivalent diameter / equivalent diameter of the mean cell measure, for cell
# measures following a gamma law of shape k = (3 d + 1) / 2 (Ferenc and Neda, Physica A 385 (2007) 518):
# Gamma(k + 1/d) / (Gamma(k) k^(1/d)). Only the first guess of the seed count; the realised mean is then
# corrected (see _tessellate), with at most _MAX_TESSELLATIONS tessellations.
_MAX_TESSELLATIONS = 8
_POISSON_VORONOI_RATIO = {d: math.gamma((3 * d + 1) / 2 + 1 / d) / (math.gamma((3 * d + 1) / 2)
                                                                   * ((3 * d + 1) / 2) ** (1 / d)) for d in (2, 3)}


def polycrystal(*, ndim: int = 2, field_of_view_um: tuple[float, ...] | None = None,
                voxel_size_um: float = 0.05, grain_size_um: float = 1.0, tessellation: str = "voronoi",
                size_dispersion: float = 0.4, texture: str = "random", texture_kappa: float = 10.0,
                fibre_axis: tuple[float, float, float] = (0.0, 0.0, 1.0), void_fraction: float = 0.02,
                void_diameter_um: float = 0.5, zro2_fraction: float = 0.05, zro2_diameter_um: float = 0.2,
                lamella: bool = False, electrode_thickness_um: float = 0.25, electrode_gap_um: float = 0.5,
                frame_width_um: float = 0.0,
                electrolyte: str = "Na-beta''-alumina", negative_electrode: str = "Au",
                positive_electrode: str = "Cu", seed: int = 0) -> Twin:
    """A 2D or 3D polycrystal of a layered solid electrolyte with voids, ZrO2 and optional electrodes.

    Grains are the cells of a periodic Voronoi or Laguerre tessellation of
    the box (a grain that crosses a face of the box continues at the
    opposite face, so no grain is cut short by the field of view);
    orientations are uniform or a fibre texture; voids and ZrO2 inclusions
    are small balls centred on triple junctions; with ``lamella=True`` two
    electrodes that do not face each other are added on two perpendicular
    edges, as in the in situ biasing lamella of seeds/003 (section 4.2.1,
    Figure 4.1; "the two electrodes are not opposed to each other",
    section 4.5).

    Parameters
    ----------
    ndim : int
        2 (a section, axes ``[y, x]``; the lamella window seen along the
        beam) or 3 (axes ``[z, y, x]``).
    field_of_view_um : tuple of float, optional
        Box edges in array-axis order, um. Default ``(4.0, 5.0)`` in 2D,
        the ~4 um x 5 um electron-transparent window of the thesis' lamella
        (seeds/003, section 4.2.1), and ``(2.0, 4.0, 5.0)`` in 3D. Every
        edge must hold at least two grains.
    voxel_size_um : float
        Voxel edge, um.
    grain_size_um : float
        Target mean grain size: the number mean, over the grains of the
        twin, of each grain's equivalent diameter, ``2 sqrt(A / pi)`` in 2D
        (equivalent circle) or ``(6 V / pi)^(1/3)`` in 3D (equivalent
        sphere), with ``A`` or ``V`` its voxel count times the voxel area or
        volume (voids and ZrO2 excluded). At least two voxels. The default,
        1 um, is the thesis' lamella: ~22 numbered grains (G1-G22, Figures
        4.6-4.7) in a ~20 um^2 window give ~0.9 um^2 per grain, i.e. ~1.1 um.
    tessellation : {"voronoi", "laguerre"}
        Voronoi cells of uniform random seeds, or Laguerre (power) cells of
        the same seeds with weights ``w_i = r_i^2``, ``r_i = s/2 exp(sigma
        z_i)``, ``z_i`` standard normal, ``s`` the mean seed spacing: a
        broader grain-size distribution (its spread is recorded in truth).
    size_dispersion : float
        ``sigma`` of the Laguerre weights (log-normal shape, >= 0); unused
        for Voronoi.
    texture : {"random", "fibre"}
        Orientations uniform on SO(3), or a fibre texture: c-axes drawn
        from a von Mises-Fisher law about ``fibre_axis`` with concentration
        ``texture_kappa``, uniform rotation about the c-axis
        (:func:`twin.orientations.fibre_texture`; E[c . axis] = coth(kappa)
        - 1/kappa). The thesis found random orientations (section 4.3.2).
    texture_kappa : float
        Concentration of the fibre texture (>= 0; 0 is uniform).
    fibre_axis : (float, float, float)
        Fibre axis in sample coordinates ``(x, y, z)``; z is the normal of a
        2D section (the electron beam through the lamella).
    void_fraction, zro2_fraction : float
        Volume fractions of voids and ZrO2 in the electrolyte region (the
        grid without electrodes). The thesis gives no fractions; the
        defaults (2 % and 5 %) are small, as its images show. Realised
        exactly (to one voxel): see Notes.
    void_diameter_um, zro2_diameter_um : float
        Diameters of the void and ZrO2 balls (discs in 2D), um, at least one
        voxel. Voids are "micron-sized" in the bulk (section 4.6, Figure
        4.16); the thesis gives no ZrO2 size, 0.2 um is a choice.
    lamella : bool
        Add the two electrodes of the in situ biasing lamella (see Notes).
    electrode_thickness_um : float
        Width of each electrode strip, um, at least one voxel.
    electrode_gap_um : float
        Gap between the electrodes at the corner where their edges meet, um (> 0).
    frame_width_um : float
        Width of the lamella's thick frame (bottom and right edges), um.
        0 (none) is the thesis' reduced system. Its voxels get label 5 (the electrolyte's material, no grains): the
        thesis' full system gives them an isotropic conductivity
        sigma_ip/250 (seeds/003, sections 4.2.2 and 4.5). Lamella only.
    electrolyte : str
        Registry name of the grains' material.
    negative_electrode, positive_electrode : str
        Materials of the electrodes: a registry name, or ``"Au"``, ``"Pt"``,
        ``"Cu"``. The thesis used an Au layer with the FIB Pt layer on top
        (negative) and the Cu lift-out grid (positive).
    seed : int
        Seed of the random generator.

    Returns
    -------
    Twin
        Labels (uint8): 0 void (vacuum), 1 electrolyte, 2 ZrO2, and with a
        lamella 3 negative and 4 positive electrode, 5 its frame. ``grain_ids`` (int32,
        -1 for voids, ZrO2 and electrodes) and ``orientations`` (quaternions,
        crystal -> sample). Truth:

        - ``grains/voxel_count``, ``grains/area_um2`` (2D) or
          ``grains/volume_um3`` (3D), ``grains/equivalent_diameter_um``,
          ``grains/centroid_um`` (n, ndim; array-axis order; the centroid
          in the periodic box, wrapped into it), ``grains/c_axis`` (n, 3;
          unit conduction-plane normal in sample ``(x, y, z)`` order, see
          :mod:`twin.orientations`);
        - ``grain_size/target_um``, ``grain_size/mean_um`` (measured as
          defined above), ``grain_size/std_um``;
        - ``boundaries/grains`` (m, 2; i < j, every pair of grains sharing
          at least one voxel face inside the grid), ``boundaries/face_count``,
          ``boundaries/length_um`` (2D) or ``boundaries/area_um2`` (3D)
          (face count x voxel edge or face area), ``boundaries/misorientation_deg``
          (trigonal 32 symmetry of R-3m), ``boundaries/plane_angle_deg`` (angle
          between the two grains' conduction planes, 0-90; the "misorientation
          of Na+ ion transport path" of Table 4-1);
        - ``volume_fraction/void``, ``volume_fraction/zro2``,
          ``volume_fraction/electrolyte`` (counted over the electrolyte
          region), ``voids/centre_um``, ``zro2/centre_um`` (ball centres);
        - with a lamella: ``electrodes/negative_box_um`` and
          ``electrodes/positive_box_um`` (2, ndim: low and high corners, array
          order; the electrode is the voxels whose centre lies in the box),
          ``electrodes/negative_label``, ``electrodes/positive_label``.

    Notes
    -----
    *Seed count.* The number of seeds starts from the Poisson-Voronoi
    relation between the mean cell measure and the mean equivalent
    diameter, then is corrected from the realised mean of the tessellation
    (with the expected void/ZrO2 loss) by the measured ratio, then by
    bisection once counts giving too large and too small grains are known,
    until it is within 1.5 % of the target or the bracket closes (at most
    eight tessellations); seeds are
    taken in a fixed random order, so the result is deterministic.

    *Inclusions.* ZrO2, then voids, are balls centred on voxels of triple
    junctions (>= 3 grains among a voxel and its face neighbours), in random
    order, then on two-grain boundary voxels, then anywhere, painted only
    over electrolyte voxels until the target voxel count
    ``round(fraction x region voxels)`` is reached; the last ball is
    trimmed to its voxels nearest the centre so the count is exact.

    *Lamella.* In-plane axes as in the thesis' Figure 4.2: x along the
    lamella, y up (the largest y index is the top edge, the pellet surface
    under the Au/Pt layer). The negative electrode covers the top edge from
    ``x = electrode_gap_um`` to the right end, ``electrode_thickness_um``
    deep; the positive electrode (the contact to the Cu grid) covers the
    left edge from the bottom up to ``electrode_gap_um`` below the negative
    strip. In 3D both strips run through the whole z range. Without a
    frame the twin is the thesis' "reduced system" (section 4.5): the thick
    frame ("backbone", sigma_ip/250) around the window is not modelled and
    the positive contact stands for the path from the grid through the
    frame. With ``frame_width_um > 0`` the box holds the window plus a frame
    of that width along its bottom and right edges (the electrode strips
    run on over it), so one twin serves both the reduced system (frame
    blocking) and the full system (frame conducting).

    Cost: O(N log n_grains) per tessellation (k-d tree), at most eight
    (usually 1-3); O(N) for boundaries, junctions and tables (N voxels);
    O(inclusion volume) to paint the balls. The 2D default (80 x 100)
    builds in ~0.03 s, the 3D default (40 x 80 x 100) in ~0.4 s.
    """
    ndim = arguments.integer("ndim", ndim, minimum=2)
    if ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r}: expected 2 or 3")
    if field_of_view_um is None:
        field_of_view_um = (4.0, 5.0) if ndim == 2 else (2.0, 4.0, 5.0)
    if not isinstance(field_of_view_um, (tuple, list)) or len(field_of_view_um) != ndim:
        raise ValueError(f"field_of_view_um={field_of_view_um!r}: expected {ndim} box edges in um "
                         f"({'(y, x)' if ndim == 2 else '(z, y, x)'})")
    fov = np.array([arguments.positive("field_of_view_um", f, unit="um") for f in field_of_view_um])
    voxel = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    grain = arguments.positive("grain_size_um", grain_size_um, unit="um")
    if grain < 2 * voxel:
        raise ValueError(f"grain_size_um={grain_size_um!r}: expected at least two voxels "
                         f"(2 x voxel_size_um = {2 * voxel:g} um)")
    if fov.min() < 2 * grain:
        raise ValueError(f"field_of_view_um={field_of_view_um!r}: every edge must hold at least two grains "
                         f"of grain_size_um={grain:g} (>= {2 * grain:g} um)")
    arguments.one_of("tessellation", tessellation, ("voronoi", "laguerre"))
    dispersion = arguments.positive("size_dispersion", size_dispersion, allow_zero=True)
    arguments.one_of("texture", texture, ("random", "fibre"))
    kappa = arguments.positive("texture_kappa", texture_kappa, allow_zero=True)
    axis = _unit_vector("fibre_axis", fibre_axis)
    f_void = arguments.in_range("void_fraction", void_fraction, 0.0, 1.0)
    f_zro2 = arguments.in_range("zro2_fraction", zro2_fraction, 0.0, 1.0)
    if f_void + f_zro2 > 0.5:
        raise ValueError(f"void_fraction={void_fraction!r}, zro2_fraction={zro2_fraction!r}: expected a sum "
                         f"<= 0.5 (inclusions in a polycrystal, not a matrix of them)")
    d_void = arguments.positive("void_diameter_um", void_diameter_um, unit="um")
    d_zro2 = arguments.positive("zro2_diameter_um", zro2_diameter_um, unit="um")
    for name, d, given in (("void_diameter_um", d_void, void_diameter_um),
                           ("zro2_diameter_um", d_zro2, zro2_diameter_um)):
        if d < voxel:
            raise ValueError(f"{name}={given!r}: expected at least one voxel ({voxel:g} um)")
    if not isinstance(lamella, (bool, np.bool_)):
        raise TypeError(f"lamella={lamella!r}: expected True or False")
    thickness = arguments.positive("electrode_thickness_um", electrode_thickness_um, unit="um")
    gap = arguments.positive("electrode_gap_um", electrode_gap_um, unit="um")
    frame = arguments.positive("frame_width_um", frame_width_um, allow_zero=True, unit="um")
    if frame > 0 and not lamella:
        raise ValueError(f"frame_width_um={frame_width_um!r}: a frame belongs to a lamella; pass lamella=True")
    if frame > 0 and frame + thickness + gap > fov[-2:].min() / 2:
        raise ValueError(f"frame_width_um={frame_width_um!r}: expected frame + electrode thickness + gap <= half "
                         f"the smaller in-plane edge ({fov[-2:].min() / 2:g} um)")
    if lamella:
        if thickness < voxel:
            raise ValueError(f"electrode_thickness_um={electrode_thickness_um!r}: expected at least one voxel "
                             f"({voxel:g} um)")
        if thickness + gap > fov[-2:].min() / 2:
            raise ValueError(f"electrode_thickness_um={electrode_thickness_um!r}, electrode_gap_um="
                             f"{electrode_gap_um!r}: their sum must be at most half the smaller in-plane edge "
                             f"({fov[-2:].min() / 2:g} um) so that each electrode covers most of its edge")
    seed = arguments.integer("seed", seed, minimum=0)
    phases = {VOID: materials.get("vacuum"), ELECTROLYTE: materials.named("electrolyte", electrolyte),
              ZRO2: materials.get("ZrO2")}
    if lamella:
        phases[NEGATIVE_ELECTRODE] = materials.named("negative_electrode", negative_electrode)
        phases[POSITIVE_ELECTRODE] = materials.named("positive_electrode", positive_electrode)
    if frame > 0:
        phases[BACKBONE] = dataclasses.replace(phases[ELECTROLYTE], name=f"{phases[ELECTROLYTE].name} (frame)")
    rng = np.random.default_rng(seed)

    shape = tuple(int(n) for n in np.maximum(np.round(fov / voxel), 1).astype(int))
    box = np.array(shape) * voxel
    labels = np.full(shape, ELECTROLYTE, dtype=np.uint8)
    truth: dict[str, np.ndarray] = {}
    if lamella:
        boxes = _electrode_boxes(box, thickness, gap)
        for name, value in (("negative", NEGATIVE_ELECTRODE), ("positive", POSITIVE_ELECTRODE)):
            labels[_box_mask(shape, voxel, boxes[name])] = value
            truth[f"electrodes/{name}_box_um"] = boxes[name]
            truth[f"electrodes/{name}_label"] = np.array(value)
    if frame > 0:
        mid = [(np.arange(n) + 0.5) * voxel for n in shape[-2:]]
        in_frame = (mid[0][:, None] < frame) | (mid[1][None, :] > box[-1] - frame)
        labels[(labels == ELECTROLYTE) & in_frame] = BACKBONE
        truth["frame/width_um"] = np.array(frame)
        truth["frame/label"] = np.array(BACKBONE)
    region = labels == ELECTROLYTE

    cells, seeds_um = _tessellate(shape, voxel, region, grain, tessellation == "laguerre", dispersion,
                                  f_void + f_zro2, rng)
    ids = np.where(region, cells, -1).astype(np.int32)
    order = _junction_order(ids)
    n_region = int(np.count_nonzero(region))
    centres = {}
    for name, value, fraction, diameter in (("zro2", ZRO2, f_zro2, d_zro2), ("voids", VOID, f_void, d_void)):
        candidates = _candidate_voxels(order, labels == ELECTROLYTE, rng)
        centres[name] = _paint_inclusions(labels, voxel, candidates, value, round(fraction * n_region),
                                          diameter / 2)
    ids[labels != ELECTROLYTE] = -1

    # Drop grains that lost every voxel to inclusions or electrodes; renumber the rest 0..n-1.
    counts = np.bincount(ids[ids >= 0], minlength=len(seeds_um))
    kept = np.flatnonzero(counts)
    new_id = np.full(len(seeds_um), -1, dtype=np.int32)
    new_id[kept] = np.arange(len(kept), dtype=np.int32)
    ids = np.where(ids >= 0, new_id[np.maximum(ids, 0)], -1).astype(np.int32)
    counts, seeds_um = counts[kept], seeds_um[kept]
    n = len(kept)

    if texture == "random":
        q = orientations.random_quaternions(n, rng)
    else:
        q = orientations.fibre_texture(n, axis, kappa, rng)

    cell_measure = voxel ** ndim
    size = counts * cell_measure
    diameter = _equivalent_diameters(size, ndim)
    pairs, faces = grain_boundary_faces(ids)
    truth.update({
        "grains/voxel_count": counts.astype(np.int64),
        ("grains/area_um2" if ndim == 2 else "grains/volume_um3"): size,
        "grains/equivalent_diameter_um": diameter,
        "grains/centroid_um": _periodic_centroids(ids, voxel, seeds_um, counts),
        "grains/c_axis": orientations.c_axes(q),
        "grain_size/target_um": np.array(grain),
        "grain_size/mean_um": np.array(diameter.mean()),
        "grain_size/std_um": np.array(diameter.std()),
        "boundaries/grains": pairs,
        "boundaries/face_count": faces,
        ("boundaries/length_um" if ndim == 2 else "boundaries/area_um2"): faces * voxel ** (ndim - 1),
        "boundaries/misorientation_deg": orientations.misorientation_deg(q[pairs[:, 0]], q[pairs[:, 1]],
                                                                         "trigonal"),
        "boundaries/plane_angle_deg": orientations.plane_angle_deg(q[pairs[:, 0]], q[pairs[:, 1]]),
        "volume_fraction/void": np.array(np.count_nonzero(labels == VOID) / n_region),
        "volume_fraction/zro2": np.array(np.count_nonzero(labels == ZRO2) / n_region),
        "volume_fraction/electrolyte": np.array(np.count_nonzero(labels == ELECTROLYTE) / n_region),
        "voids/centre_um": centres["voids"],
        "zro2/centre_um": centres["zro2"],
    })
    params = {"ndim": ndim, "field_of_view_um": [float(f) for f in fov], "voxel_size_um": voxel,
              "grain_size_um": grain, "tessellation": tessellation, "size_dispersion": dispersion,
              "texture": texture, "texture_kappa": kappa, "fibre_axis": [float(a) for a in fibre_axis],
              "void_fraction": f_void, "void_diameter_um": d_void, "zro2_fraction": f_zro2,
              "zro2_diameter_um": d_zro2, "lamella": bool(lamella), "electrode_thickness_um": thickness,
              "electrode_gap_um": gap, "frame_width_um": frame, "electrolyte": electrolyte, "negative_electrode": negative_electrode,
              "positive_electrode": positive_electrode}
    return Twin(labels, voxel, phases, grain_ids=ids, orientations=q, truth=truth,
                provenance=Provenance("twin.generators.polycrystal.polycrystal", params, seed))


def grain_boundary_faces(grain_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of grains that share voxel faces, and how many faces each pair shares.

    Parameters
    ----------
    grain_ids : ndarray of int, 2D or 3D
        Grain of every voxel, negative outside grains (ignored).

    Returns
    -------
    pairs : ndarray of int64, shape (m, 2)
        Grain ids ``(i, j)`` with ``i < j``, sorted.
    face_count : ndarray of int64, shape (m,)
        Faces between voxels of grain i and grain j, counted along every
        axis (faces on the grid's outer boundary are not counted).

    Notes
    -----
    Cost: O(N) array shifts plus a sort of the boundary faces.
    """
    ids = np.asarray(grain_ids).astype(np.int64)
    n = int(ids.max()) + 1 if ids.size else 0
    keys = []
    for axis in range(ids.ndim):
        a = np.moveaxis(ids, axis, 0)
        lo, hi = a[:-1], a[1:]
        face = (lo != hi) & (lo >= 0) & (hi >= 0)
        first, second = np.minimum(lo[face], hi[face]), np.maximum(lo[face], hi[face])
        keys.append(first * n + second)
    unique, counts = np.unique(np.concatenate(keys) if keys else np.empty(0, np.int64), return_counts=True)
    return np.stack([unique // max(n, 1), unique % max(n, 1)], axis=1).astype(np.int64), counts.astype(np.int64)



def _unit_vector(name: str, value) -> np.ndarray:
    try:
        v = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: expected three numbers (x, y, z)") from None
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0:
        raise ValueError(f"{name}={value!r}: expected a non-zero finite vector (x, y, z)")
    return v / np.linalg.norm(v)


def _electrode_boxes(box: np.ndarray, thickness: float, gap: float) -> dict[str, np.ndarray]:
    """Low/high corners (array order) of the negative (top edge) and positive (left edge) electrodes."""
    low, high = np.zeros_like(box), box.astype(float).copy()
    negative = np.stack([low.copy(), high.copy()])
    negative[0, -2] = box[-2] - thickness          # top: the largest y
    negative[0, -1] = gap                          # leave the top-left corner free
    positive = np.stack([low.copy(), high.copy()])
    positive[1, -1] = thickness                    # left: the smallest x
    positive[1, -2] = box[-2] - thickness - gap    # stop a gap below the top strip
    return {"negative": negative, "positive": positive}


def _box_mask(shape: tuple[int, ...], voxel: float, corners: np.ndarray) -> np.ndarray:
    """Voxels whose centre lies in the half-open box [low, high)."""
    axes = np.meshgrid(*[(np.arange(n) + 0.5) * voxel for n in shape], indexing="ij", sparse=True)
    mask = np.ones(shape, dtype=bool)
    for c, lo, hi in zip(axes, corners[0], corners[1]):
        mask &= (c >= lo) & (c < hi)
    return mask


def _equivalent_diameters(measure: np.ndarray, ndim: int) -> np.ndarray:
    return 2 * np.sqrt(measure / np.pi) if ndim == 2 else np.cbrt(6 * measure / np.pi)


def _tessellate(shape, voxel, region, target, laguerre, dispersion, inclusion_fraction, rng):
    """Periodic Voronoi/Laguerre cells whose realised mean equivalent diameter is close to ``target``.

    Returns the cell of every voxel (int32, the grid's shape) and the seeds (n, ndim), um.
    """
    ndim = len(shape)
    box = np.array(shape) * voxel
    volume = float(np.prod(box))
    ball = (lambda d: np.pi / 4 * d * d) if ndim == 2 else (lambda d: np.pi / 6 * d ** 3)
    # Inclusions later remove this share of every grain on average: predict the grains' final measure.
    grain_voxel_measure = voxel ** ndim * (1 - inclusion_fraction)
    n = max(1, round(int(np.count_nonzero(region)) * grain_voxel_measure
                     / ball(target / _POISSON_VORONOI_RATIO[ndim])))
    n_cap = 3 * n + 16
    # One fixed random order of seeds (and weight variates): taking its first n keeps the result
    # deterministic while n is corrected.
    positions = rng.random((n_cap, ndim)) * box
    z = rng.standard_normal(n_cap)
    best, too_few, too_many = None, 0, n_cap + 1
    for _ in range(_MAX_TESSELLATIONS):
        weights = None
        if laguerre:
            spacing = (volume / n) ** (1 / ndim)
            weights = (0.5 * spacing * np.exp(dispersion * z[:n])) ** 2
        cells = laguerre_labels(shape, voxel, positions[:n], weights, periodic=True)
        counts = np.bincount(cells[region], minlength=n)
        mean = _equivalent_diameters(counts[counts > 0] * grain_voxel_measure, ndim).mean()
        error = abs(mean / target - 1)
        if best is None or error < best[0]:
            best = (error, cells, n)
        if error < 0.015:
            break
        # Scale n by the measured ratio until the target is bracketed by counts known to give too large and
        # too small grains, then bisect (the mean is not monotonic seed by seed, so stop when the bracket closes).
        if mean > target:
            too_few = max(too_few, n)
        else:
            too_many = min(too_many, n)
        if too_many - too_few < 2:
            break
        if too_few and too_many <= n_cap:
            n = (too_few + too_many) // 2  # bisection once bracketed
        else:
            n = int(np.clip(round(n * (mean / target) ** ndim), too_few + 1, too_many - 1))
    _, cells, n = best
    return cells, positions[:n]


def _junction_order(ids: np.ndarray) -> np.ndarray:
    """Number of distinct grains among each voxel and its face neighbours (0 outside grains).

    Cost: O(N) with a sort of 2 ndim + 1 values per voxel.
    """
    padded = np.pad(ids, 1, mode="edge")
    centre = tuple(slice(1, -1) for _ in range(ids.ndim))
    stack = [ids]
    for axis in range(ids.ndim):
        for step in (-1, 1):
            index = list(centre)
            index[axis] = slice(1 + step, padded.shape[axis] - 1 + step)
            neighbour = padded[tuple(index)]
            # Non-grain neighbours (-1) count as the voxel's own grain: they add no grain.
            stack.append(np.where(neighbour >= 0, neighbour, ids))
    values = np.sort(np.stack(stack), axis=0)
    order = 1 + np.count_nonzero(np.diff(values, axis=0), axis=0)
    return np.where(ids >= 0, order, 0)


def _candidate_voxels(order: np.ndarray, free: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flat indices of free voxels: triple junctions, then two-grain boundaries, then the rest, each shuffled."""
    tiers = [np.flatnonzero(free & (order >= 3)), np.flatnonzero(free & (order == 2)),
             np.flatnonzero(free & (order == 1))]
    return np.concatenate([rng.permutation(t) for t in tiers])


def _paint_inclusions(labels: np.ndarray, voxel: float, candidates: np.ndarray, value: int, target: int,
                      radius: float) -> np.ndarray:
    """Paint balls of ``value`` over electrolyte voxels, centred on ``candidates`` in turn, until exactly
    ``target`` voxels are painted; return the centres used (k, ndim), um.

    Cost: O(ball volume) per ball; candidates already painted are skipped.
    """
    flat = labels.reshape(-1)
    painted, centres = 0, []
    for index in candidates:
        if painted >= target:
            break
        if flat[index] != ELECTROLYTE:
            continue
        centre = (np.array(np.unravel_index(index, labels.shape)) + 0.5) * voxel
        slices, inside = ball_window(labels.shape, voxel, centre, radius)
        window = labels[slices]
        free = inside & (window == ELECTROLYTE)
        k = int(np.count_nonzero(free))
        if painted + k > target:
            # Trim the last ball to its voxels nearest the centre (stable order breaks ties).
            where = np.argwhere(free)
            offsets = (where + np.array([s.start for s in slices]) + 0.5) * voxel - centre
            keep = where[np.argsort(np.sum(offsets ** 2, axis=1), kind="stable")[:target - painted]]
            free = np.zeros_like(free)
            free[tuple(keep.T)] = True
            k = target - painted
        window[free] = value
        painted += k
        centres.append(centre)
    return np.asarray(centres, dtype=float).reshape(-1, labels.ndim)


def _periodic_centroids(ids: np.ndarray, voxel: float, seeds_um: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Centroid of each grain in the periodic box (minimum image about its seed), wrapped into the box."""
    inside = ids >= 0
    g = ids[inside]
    box = np.array(ids.shape) * voxel
    centroids = np.empty((len(counts), ids.ndim))
    for axis, n in enumerate(ids.shape):
        coord = np.broadcast_to(((np.arange(n) + 0.5) * voxel).reshape([-1 if a == axis else 1
                                                                       for a in range(ids.ndim)]), ids.shape)
        offset = coord[inside] - seeds_um[g, axis]
        offset -= box[axis] * np.round(offset / box[axis])
        centroids[:, axis] = np.mod(seeds_um[:, axis] + np.bincount(g, offset, len(counts)) / counts, box[axis])
    return centroids
