"""A porous composite electrode on a current collector: active particles, carbon-binder domain, electrolyte.

The electrode layer holds three phases: spherical active particles
(NMC811 by default) packed at random with slight overlaps, as sintered or
calendered particles touch; a carbon-binder domain (CBD) of carbon black
and PVDF, placed where the binder gathers during drying, in the necks
between particles and along their surfaces; and electrolyte in the
remaining pores. Its volume is what brings the porosity to the requested
target. The layer sits on an aluminium (cathode) or copper (anode) foil.
No source document describes such an electrode in numbers; the
composition and the CBD's nanoporosity are stated assumptions (see
:func:`porous_electrode`), the materials come from :mod:`twin.materials`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from twin import materials
from twin.container import Provenance, Twin
from twin.generators.geometry import ball_window, check_particle_sizes, lognormal_diameters
from xtwin import arguments

#: Labels of the electrode twin.
ELECTROLYTE, COLLECTOR, ACTIVE, CBD = 0, 1, 2, 3
SOC_MODES = ("none", "gradient", "per_particle")
#: Largest active-material volume fraction accepted, counted with the
#: particles shrunk to their contact radius (1 - particle_overlap) r: random
#: packings of polydisperse spheres jam near 0.64, a little less between the
#: collector and the top surface; the relaxation below reaches 0.58 reliably.
MAX_PACKING = 0.58

# Relaxation of the packing: stop when no pair overlaps by more than this
# fraction of its contact distance beyond the allowed overlap; give up after
# so many sweeps.
_RELAX_TOL = 0.005
_RELAX_SWEEPS = 5000
# CBD placement: the local active fraction is averaged over a Gaussian of this
# standard deviation (the size of a neck), and patchiness is added as a
# smooth random field of this correlation scale and amplitude.
_NECK_UM = 1.0
_PATCH_UM = 2.0
_PATCH_AMPLITUDE = 0.1


def porous_electrode(*, active: str = "NMC811", electrolyte: str = "LiPF6 EC:DMC", collector: str = "Al",
                     porosity: float = 0.35, thickness_um: float = 40.0, collector_thickness_um: float = 10.0,
                     field_of_view_um: float = 40.0, voxel_size_um: float = 0.5, median_diameter_um: float = 8.0,
                     sigma: float = 0.35, diameter_range_um: tuple[float, float] = (3.0, 20.0),
                     particle_overlap: float = 0.05, cbd_mass_fraction: float = 0.04,
                     cbd_carbon_mass_fraction: float = 0.5, cbd_nanoporosity: float = 0.5,
                     soc_mode: str = "none", soc_top: float = 0.8, soc_bottom: float = 0.4, soc_min: float = 0.2,
                     soc_max: float = 0.9, seed: int = 0) -> Twin:
    """A porous composite electrode layer at a target porosity and thickness on a current collector foil.

    Geometry: grid ``[z, y, x]``, z up: the collector foil fills the lowest
    ``collector_thickness_um``, the electrode layer the ``thickness_um``
    above it, whose top face is the separator side. The layer is periodic
    in x and y (a piece of a wide electrode): particles crossing a side
    re-enter on the opposite side, and their voxels are counted with them.

    Construction:

    1. Composition. ``cbd_mass_fraction`` of the solid mass is CBD (carbon
       black and PVDF, ``cbd_carbon_mass_fraction`` of it carbon black),
       the rest active material. The CBD domain has ``cbd_nanoporosity``
       unresolved pores filled with electrolyte (its material is a mixture
       by volume), so it takes the volume of its solid over ``1 -
       cbd_nanoporosity``. The defaults, 96:2:2 by mass and a half-porous
       CBD, are common assumptions for NMC cathodes, not numbers from the
       source documents. The active-material target is then ``(1 -
       porosity)`` times the active share of the solid volume.
    2. Particles. Log-normal diameters (truncated to ``diameter_range_um``,
       and to the thickness and field of view when these are smaller) are
       drawn until their volumes come nearest to the target; centres are drawn at
       random in the layer (each particle inside it in z) and relaxed: each
       sweep pushes apart every pair closer than ``(1 - particle_overlap)``
       times the sum of their radii, the smaller particle moving more,
       until no pair overlaps beyond that by more than 0.5 % of it. A voxel
       covered by two particles goes to the one of smallest power distance
       ``|x - c|^2 - r^2`` (the radical plane splits the neck).
    3. CBD. Every pore voxel is scored by the local active fraction (a
       Gaussian average of 1 um standard deviation, highest in necks and
       crevices next to particles) plus a smooth random field (2 um, 0.1
       amplitude) for patchiness. The highest-scoring pore voxels become
       CBD, exactly as many as leave ``round(porosity * N_layer)``
       electrolyte voxels: this is a bisection on the score threshold
       carried to its end, so the counted porosity is the target within
       half a voxel of the layer.

    Parameters
    ----------
    active, electrolyte : str
        Registered materials of the particles (label 2) and of the pores
        (label 0).
    collector : str
        Registered material of the current-collector foil (label 1): ``"Al"``
        for cathodes, ``"Cu"`` for anodes (CRC densities 2.699 and 8.96 g/cm3).
    porosity : float
        Target fraction of the layer's volume that is electrolyte (resolved
        pores; the CBD's nanopores are not counted), in (0, 1).
    thickness_um, collector_thickness_um : float
        Thickness of the electrode layer and of the foil, um.
    field_of_view_um : float
        Lateral edge of the square, periodic piece of electrode, um.
    voxel_size_um : float
        Voxel edge, um.
    median_diameter_um, sigma : float
        Median, um, and standard deviation of ln(diameter) of the particles.
    diameter_range_um : (float, float)
        Truncation of the diameters, um.
    particle_overlap : float
        Overlap allowed between particles, as a fraction of the sum of their
        radii, in [0, 0.3].
    cbd_mass_fraction : float
        Mass fraction of carbon black and binder in the solid, in (0, 1).
    cbd_carbon_mass_fraction : float
        Mass fraction of carbon black in the CBD solid (the rest is PVDF).
    cbd_nanoporosity : float
        Electrolyte-filled volume fraction inside the CBD, in [0, 0.9].
    soc_mode : {"none", "gradient", "per_particle"}
        State-of-charge field ``soc`` (float32, NaN outside active voxels):
        none; linear in z from ``soc_bottom`` at the collector to
        ``soc_top`` at the separator side; or one value per particle,
        uniform in [``soc_min``, ``soc_max``].
    soc_top, soc_bottom, soc_min, soc_max : float
        In [0, 1] (``soc_min <= soc_max``).
    seed : int
        Seed of the random generator.

    Returns
    -------
    Twin
        Labels (uint8): 0 ``electrolyte``, 1 ``collector``, 2 ``active``,
        3 ``"CBD"``. Field ``particle_id`` (int32): particle of each active
        voxel, -1 elsewhere; field ``soc`` unless ``soc_mode="none"``.
        Truth:

        - ``particles/centre_um`` (n, 3), um, [z, y, x], in [0, field of
          view) laterally; ``particles/diameter_um``,
          ``particles/radius_um``, ``particles/nominal_volume_um3`` (the
          sphere's);
        - ``particles/voxel_count`` (equal to the count of
          ``particle_id == i``) and ``particles/volume_um3`` (voxel count x
          voxel volume); ``particles/soc`` (mean over the particle's voxels)
          unless ``soc_mode="none"``;
        - ``drawn/diameter_um`` (all drawn diameters, all placed, in the
          order of the particles) and ``drawn/diameter_range_um`` (the
          truncation actually used, for a KS test);
        - scalars, counted in the layer's voxels: ``porosity``,
          ``cbd_volume_fraction``, ``active_volume_fraction``,
          ``total_porosity`` (with the CBD's nanopores); the targets
          ``porosity_target`` and ``active_volume_fraction_target``;
          ``thickness_um`` and ``collector_thickness_um`` (as gridded),
          ``layer/bottom_um`` and ``layer/top_um`` (z of the faces);
          ``packing/max_overlap`` (largest overlap of a pair over the sum
          of its radii).

    Raises
    ------
    ValueError
        For out-of-range parameters, and when the active-material fraction
        implied by ``porosity`` and ``cbd_mass_fraction`` is beyond what a
        random packing of these particles can reach.

    Notes
    -----
    Cost: O(sweeps x n log n) for the packing (n particles, at most 5000
    sweeps); O(particle volume) per particle to paint it; O(N) for the CBD
    (two Gaussian filters and a partition of the pore voxels). Defaults
    (100 x 80 x 80 voxels, about 75 particles) in ~0.15 s.
    """
    active_mat = materials.named("active", active)
    electrolyte_mat = materials.named("electrolyte", electrolyte)
    collector_mat = materials.named("collector", collector)
    if len({active_mat.name, electrolyte_mat.name, collector_mat.name, "CBD"}) != 4:
        raise ValueError(f"active={active!r}, electrolyte={electrolyte!r}, collector={collector!r}: expected "
                         f"three different materials (and none called 'CBD')")
    phi = _open_fraction("porosity", porosity)
    thickness = arguments.positive("thickness_um", thickness_um, unit="um")
    foil = arguments.positive("collector_thickness_um", collector_thickness_um, unit="um")
    fov = arguments.positive("field_of_view_um", field_of_view_um, unit="um")
    voxel = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    median = arguments.positive("median_diameter_um", median_diameter_um, unit="um")
    sigma = arguments.positive("sigma", sigma, allow_zero=True)
    d_lo, d_hi = arguments.size_range("diameter_range_um", diameter_range_um)
    if thickness < d_lo:
        raise ValueError(f"thickness_um={thickness_um!r}: expected at least the smallest particle diameter, "
                         f"diameter_range_um[0] = {d_lo:g} um")
    if fov < d_lo:
        raise ValueError(f"field_of_view_um={field_of_view_um!r}: expected at least the smallest particle "
                         f"diameter, diameter_range_um[0] = {d_lo:g} um")
    check_particle_sizes(voxel, median, sigma, (d_lo, d_hi))
    n_z, n_lateral, n_foil = round(thickness / voxel), round(fov / voxel), round(foil / voxel)
    if n_foil < 1:
        raise ValueError(f"collector_thickness_um={collector_thickness_um!r}: expected at least half a voxel "
                         f"({voxel / 2:g} um)")
    overlap = arguments.in_range("particle_overlap", particle_overlap, 0.0, 0.3)
    w_cbd = _open_fraction("cbd_mass_fraction", cbd_mass_fraction)
    w_carbon = arguments.in_range("cbd_carbon_mass_fraction", cbd_carbon_mass_fraction, 0.0, 1.0)
    nano = arguments.in_range("cbd_nanoporosity", cbd_nanoporosity, 0.0, 0.9)
    arguments.one_of("soc_mode", soc_mode, SOC_MODES)
    soc_top, soc_bottom, soc_min, soc_max = (arguments.in_range(name, value, 0.0, 1.0) for name, value in
                                             (("soc_top", soc_top), ("soc_bottom", soc_bottom),
                                              ("soc_min", soc_min), ("soc_max", soc_max)))
    if soc_min > soc_max:
        raise ValueError(f"soc_min={soc_min!r}, soc_max={soc_max!r}: expected soc_min <= soc_max")

    cbd_solid = materials.mix_by_mass("CBD solid", [(materials.get("carbon black"), w_carbon),
                                                    (materials.get("PVDF"), 1 - w_carbon)])
    cbd_mat = materials.mix_by_volume(
        "CBD", [(cbd_solid, 1 - nano), (electrolyte_mat, nano)],
        description=f"carbon black {w_carbon:g} + PVDF {1 - w_carbon:g} by mass, {nano:g} nanopores of "
                    f"{electrolyte_mat.name}")
    # Volume per unit solid mass of each domain; the CBD domain includes its nanopores.
    v_active = (1 - w_cbd) / active_mat.density_g_cm3
    v_cbd = w_cbd / cbd_solid.density_g_cm3 / (1 - nano)
    am_target = (1 - phi) * v_active / (v_active + v_cbd)
    if am_target * (1 - overlap) ** 3 > MAX_PACKING:
        raise ValueError(
            f"porosity={porosity!r}, cbd_mass_fraction={cbd_mass_fraction!r}: these ask for an active-material "
            f"volume fraction of {am_target:.3f}, beyond random packings of spheres overlapping by at most "
            f"{overlap:g} of the sum of their radii (at most {MAX_PACKING / (1 - overlap) ** 3:.3f}); "
            f"raise the porosity, the CBD fraction or particle_overlap")
    rng = np.random.default_rng(arguments.integer("seed", seed, minimum=0))

    t_layer, side = n_z * voxel, n_lateral * voxel
    d_max = min(d_hi, t_layer, side)
    if d_max <= d_lo:
        raise ValueError(f"diameter_range_um={diameter_range_um!r}: the layer ({t_layer:g} um as gridded) and "
                         f"field of view ({side:g} um) leave no room for particles larger than {d_lo:g} um")
    # The layer or the field of view may truncate the distribution further.
    check_particle_sizes(voxel, median, sigma, (d_lo, d_max))
    diameters = _draw_to_volume(am_target * side * side * t_layer, median, sigma, d_lo, d_max, rng)
    radii = diameters / 2
    start = np.column_stack([rng.uniform(radii, t_layer - radii), rng.uniform(0, side, (2, len(radii))).T])
    centres, max_overlap = _relax(start, radii, side, t_layer, overlap)
    if max_overlap > overlap + 2 * _RELAX_TOL:
        raise ValueError(
            f"porosity={porosity!r}, cbd_mass_fraction={cbd_mass_fraction!r}: {len(radii)} particles for an "
            f"active-material fraction of {am_target:.3f} could not be packed with overlaps below "
            f"{overlap:g} (reached {max_overlap:.3f}); raise the porosity or particle_overlap")
    z0 = n_foil * voxel
    centres[:, 0] += z0

    shape = (n_foil + n_z, n_lateral, n_lateral)
    particle_id = np.full(shape, -1, dtype=np.int32)
    for i in range(len(radii)):
        _paint_periodic(particle_id, voxel, centres, radii, side, i)
    voxel_count = np.bincount(particle_id.ravel() + 1, minlength=len(radii) + 1)[1:]

    labels = np.zeros(shape, dtype=np.uint8)
    labels[:n_foil] = COLLECTOR
    labels[particle_id >= 0] = ACTIVE
    layer = labels[n_foil:]
    n_layer = layer.size
    n_active = int(voxel_count.sum())
    n_pore = round(phi * n_layer)
    n_cbd = n_layer - n_active - n_pore
    if n_cbd < 0:
        raise ValueError(f"cbd_mass_fraction={cbd_mass_fraction!r}: the particles fill "
                         f"{n_active / n_layer:.4f} of the layer, more than 1 - porosity = {1 - phi:.4f}, "
                         f"leaving nothing for the CBD; raise cbd_mass_fraction")
    _place_cbd(layer, voxel, n_cbd, rng)

    fields = {"particle_id": particle_id}
    truth_soc = {}
    if soc_mode != "none":
        soc = np.full(shape, np.nan, dtype=np.float32)
        if soc_mode == "gradient":
            height = (np.arange(n_z) + 0.5) / n_z
            soc[n_foil:] = (soc_bottom + (soc_top - soc_bottom) * height)[:, None, None]
            soc[labels != ACTIVE] = np.nan
        inside = particle_id >= 0
        if soc_mode == "per_particle":
            soc[inside] = rng.uniform(soc_min, soc_max, len(radii))[particle_id[inside]]
        sums = np.bincount(particle_id[inside], weights=soc[inside].astype(np.float64), minlength=len(radii))
        truth_soc["particles/soc"] = sums / np.maximum(voxel_count, 1)
        fields["soc"] = soc

    counts = np.bincount(layer.ravel(), minlength=4)
    truth = {
        "particles/centre_um": centres,
        "particles/diameter_um": diameters,
        "particles/radius_um": radii,
        "particles/nominal_volume_um3": np.pi / 6 * diameters**3,
        "particles/voxel_count": voxel_count,
        "particles/volume_um3": voxel_count * voxel**3,
        **truth_soc,
        "drawn/diameter_um": diameters,
        "drawn/diameter_range_um": np.array([d_lo, d_max]),
        "porosity": np.array(counts[ELECTROLYTE] / n_layer),
        "porosity_target": np.array(phi),
        "cbd_volume_fraction": np.array(counts[CBD] / n_layer),
        "active_volume_fraction": np.array(counts[ACTIVE] / n_layer),
        "active_volume_fraction_target": np.array(am_target),
        "total_porosity": np.array((counts[ELECTROLYTE] + nano * counts[CBD]) / n_layer),
        "thickness_um": np.array(t_layer),
        "collector_thickness_um": np.array(z0),
        "layer/bottom_um": np.array(z0),
        "layer/top_um": np.array(z0 + t_layer),
        "packing/max_overlap": np.array(max_overlap),
    }
    params = {"active": active, "electrolyte": electrolyte, "collector": collector, "porosity": phi,
              "thickness_um": thickness, "collector_thickness_um": foil, "field_of_view_um": fov,
              "voxel_size_um": voxel, "median_diameter_um": median, "sigma": sigma,
              "diameter_range_um": [d_lo, d_hi], "particle_overlap": overlap, "cbd_mass_fraction": w_cbd,
              "cbd_carbon_mass_fraction": w_carbon, "cbd_nanoporosity": nano, "soc_mode": soc_mode,
              "soc_top": soc_top, "soc_bottom": soc_bottom, "soc_min": soc_min, "soc_max": soc_max}
    return Twin(labels, voxel, {ELECTROLYTE: electrolyte_mat, COLLECTOR: collector_mat,
                                ACTIVE: active_mat, CBD: cbd_mat},
                fields=fields, truth=truth,
                provenance=Provenance("twin.generators.electrode.porous_electrode", params, seed))


def _open_fraction(name: str, value: object) -> float:
    """A number strictly between 0 and 1."""
    v = arguments.in_range(name, value, 0.0, 1.0)
    if v in (0.0, 1.0):
        raise ValueError(f"{name}={value!r}: expected a number in the open interval (0, 1)")
    return v


def _draw_to_volume(volume_um3: float, median: float, sigma: float, low: float, high: float,
                    rng: np.random.Generator) -> np.ndarray:
    """Truncated log-normal diameters, in drawing order, whose spheres' volume is closest to ``volume_um3``.

    Drawn in batches of the expected count until the volume is reached, so
    the cost is O(n); the kept diameters are the first k, k chosen to bring
    the total nearest to the target (it errs by at most half a particle).
    """
    drawn = np.empty(0)
    batch = max(16, math.ceil(volume_um3 / (np.pi / 6 * median**3)))
    while True:
        drawn = np.concatenate([drawn, lognormal_diameters(batch, median, sigma, rng, low_um=low, high_um=high)])
        total = np.cumsum(np.pi / 6 * drawn**3)
        if total[-1] >= volume_um3:
            return drawn[:int(np.argmin(np.abs(total - volume_um3))) + 1]


def _relax(centres: np.ndarray, radii: np.ndarray, side: float, thickness: float,
           overlap: float) -> tuple[np.ndarray, float]:
    """Push overlapping particles apart until pairs overlap by at most ``overlap`` (+ tolerance).

    Centres (n, 3) are [z, y, x] in the layer (z from its bottom), periodic
    in y and x with period ``side``; each particle stays inside [0,
    thickness] in z. Each sweep finds the close pairs with a k-d tree and
    moves both members of every pair along their axis by their share of the
    excess (the smaller particle moves more: shares go as the other's
    volume); all moves of a sweep are applied at once. Returns the centres
    and the largest overlap, as a fraction of the pair's sum of radii.
    Cost O(sweeps x n log n).
    """
    pos = centres.copy()
    contact = 1.0 - overlap
    volume = radii**3
    for _ in range(_RELAX_SWEEPS):
        i, j, d, dist = _close_pairs(pos, radii, side, thickness, contact)
        reach = radii[i] + radii[j]
        excess = contact * reach - dist
        push = excess > _RELAX_TOL * reach
        if not push.any():
            break
        i, j, d, dist, excess, reach = i[push], j[push], d[push], dist[push], excess[push], reach[push]
        unit = d / np.maximum(dist, 1e-12)[:, None]
        share_i = (volume[j] / (volume[i] + volume[j]))[:, None]
        # A little beyond the contact, so that a pair does not stall just above the tolerance.
        step = (excess + 0.5 * _RELAX_TOL * reach)[:, None] * unit
        move = np.zeros_like(pos)
        np.add.at(move, i, -share_i * step)
        np.add.at(move, j, (1 - share_i) * step)
        pos += move
        pos[:, 0] = np.clip(pos[:, 0], radii, thickness - radii)
    i, j, _, dist = _close_pairs(pos, radii, side, thickness, 1.0)
    return pos, float(np.max(1 - dist / (radii[i] + radii[j]), initial=0.0))


def _close_pairs(pos: np.ndarray, radii: np.ndarray, side: float, thickness: float,
                 contact: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i, j) closer than ``contact`` x the largest diameter, their separations and distances.

    Wraps ``pos`` laterally into [0, side) in place. Cost O(n log n).
    """
    pos[:, 1:] %= side
    # Rounding can give exactly side for a tiny negative coordinate; the tree needs [0, side).
    pos[:, 1:][pos[:, 1:] >= side] = 0.0
    # A z period longer than the layer plus any pair distance: the tree is periodic in y, x only.
    box = np.array([2 * (thickness + 4 * radii.max()) + 1, side, side])
    pairs = cKDTree(pos, boxsize=box).query_pairs(2 * radii.max() * contact, output_type="ndarray")
    i, j = pairs.T if len(pairs) else (np.empty(0, int), np.empty(0, int))
    d = _minimum_image(pos[j] - pos[i], side)
    return i, j, d, np.linalg.norm(d, axis=1)


def _minimum_image(d: np.ndarray, side: float) -> np.ndarray:
    """Separations (k, 3) with their y and x components wrapped into [-side/2, side/2]."""
    d = d.copy()
    d[:, 1:] -= side * np.round(d[:, 1:] / side)
    return d


def _paint_periodic(particle_id: np.ndarray, voxel: float, centres: np.ndarray, radii: np.ndarray, side: float,
                    i: int) -> None:
    """Give particle ``i`` the voxels of its ball (and of its periodic images) that no nearer particle holds.

    "Nearer" is the power distance |x - c|^2 - r^2, so the final owner of a
    voxel covered by several balls does not depend on the painting order.
    Cost O(r^3 / voxel^3).
    """
    r = radii[i]
    for dy in (-side, 0.0, side):
        for dx in (-side, 0.0, side):
            c = centres[i] + np.array([0.0, dy, dx])
            if c[1] + r < 0 or c[1] - r > side or c[2] + r < 0 or c[2] - r > side:
                continue
            slices, ball = ball_window(particle_id.shape, voxel, c, r)
            window = particle_id[slices]
            where = np.nonzero(ball)
            owner = window[where]
            take = owner < 0
            held = np.flatnonzero(~take)
            if held.size:
                x = np.stack([(where[k][held] + slices[k].start + 0.5) * voxel for k in range(3)], axis=1)
                mine = np.sum((x - c) ** 2, axis=1) - r * r
                j = owner[held]
                theirs = np.sum(_minimum_image(x - centres[j], side) ** 2, axis=1) - radii[j] ** 2
                take[held] = mine < theirs
            window[tuple(w[take] for w in where)] = i


def _place_cbd(layer: np.ndarray, voxel: float, n_cbd: int, rng: np.random.Generator) -> None:
    """Turn the ``n_cbd`` best-scoring pore voxels of the layer (z, y, x) into CBD, in place.

    Score: Gaussian average of the active indicator (standard deviation
    1 um; periodic in y, x) plus 0.1 times a unit-variance smooth random
    field (2 um). Cost O(N) for the filters and the partition.
    """
    modes = ("nearest", "wrap", "wrap")
    score = ndimage.gaussian_filter((layer == ACTIVE).astype(np.float32), _NECK_UM / voxel, mode=modes)
    patches = ndimage.gaussian_filter(rng.standard_normal(layer.shape).astype(np.float32), _PATCH_UM / voxel,
                                      mode=modes)
    score += _PATCH_AMPLITUDE / max(float(patches.std()), 1e-12) * patches
    pore = np.flatnonzero(layer.ravel() == ELECTROLYTE)
    if n_cbd:
        best = np.argpartition(-score.ravel()[pore], n_cbd - 1)[:n_cbd]
        layer.flat[pore[best]] = CBD
