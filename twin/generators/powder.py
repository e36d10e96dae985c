"""A monolayer of NMC secondary particles on a Kapton support, as imaged by lab nano-CT (seeds/002).

The sample of seeds/002 (Methods, "Preparation"): NMC811 or NMC622 powder
dispersed over the adhesive side of Kapton tape and tapped until about one
layer of particles remains, imaged in a 64 x 64 um field of view with
512-nm voxels. SEM puts the secondary particles between 5 and 30 um in
diameter (Methods, "Preparation"); about 30 particles fall in one 64 x 64 um
radiograph (Methods, "X-Ray Imaging"). About 55 % of the NMC622 particles
hold internal voids, about 2 um across, non-spherical (sphericity about 0.65)
and taking about 4 % of the particle's volume (Results, Table 1: void
equivalent diameter 2.4 um, volume 9 um3, dead volume 3.8 %, frequency 55
in 100). The secondary particles are agglomerates of primary particles of
a micron or a few hundred nanometres, which gives a surface roughness whose
proxy (largest minus smallest of 8 azimuthal radii in a plane) is about
1 um whatever the particle size (Results, Figure 2).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from twin import materials
from twin.container import Provenance, Twin
from twin.generators.geometry import ball_window, check_particle_sizes, lognormal_diameters, pack_spheres
from twin.materials import Material
from twin.orientations import random_quaternions, to_matrix
from xtwin import arguments

#: Name of the material of label 3: the medium's composition, a phase of its own.
VOID_NAME = "void (internal)"
#: Labels of the powder twin.
AIR, SUPPORT, PARTICLE, VOID = 0, 1, 2, 3

# The radial displacement is clipped at this many standard deviations, so that
# particle clearances and void margins can be guaranteed from it.
_ROUGHNESS_CLIP = 2.0
# Spacing of the grid on which the displacement field is synthesised, in
# correlation lengths, and the margin of that grid around the particle.
_FIELD_STEP = 0.25
_FIELD_MARGIN = 2.0
# Finest roughness_length_um accepted, as a fraction of the largest diameter:
# keeps the synthesis grid of the largest particle below ~270^3 points.
_FINEST_ROUGHNESS = 1 / 64
# Spread (standard deviation of the natural log) of the void volumes within a
# particle and of each void's semi-axes about its equivalent radius; the
# semi-axis log-ratios are clipped at +-2 spreads.
_VOID_VOLUME_SPREAD = 0.3
_VOID_AXIS_SPREAD = 0.3
_PLACEMENT_TRIES = 200


def powder_monolayer(*, material: str = "NMC811", n_particles: int = 14, median_diameter_um: float = 9.0,
                     sigma: float = 0.4, diameter_range_um: tuple[float, float] = (5.0, 30.0),
                     field_of_view_um: float = 64.0, voxel_size_um: float = 0.512, height_um: float | None = None,
                     support: str = "Kapton", support_thickness_um: float = 5.0, medium: str = "air",
                     void_particle_fraction: float = 0.55, void_volume_fraction: float = 0.04,
                     void_diameter_um: float = 2.0, roughness_um: float = 0.35, roughness_length_um: float = 1.0,
                     seed: int = 0) -> Twin:
    """A single layer of polydisperse NMC secondary particles resting on a Kapton support.

    Geometry: grid ``[z, y, x]``, z up. The support is a slab filling the
    lowest ``support_thickness_um`` of the grid (the tape is thicker; only
    its top is in the field of view); particles rest on its top surface, do
    not overlap and lie wholly inside the lateral field of view, in
    ``medium`` (air). Particles are drawn first (``n_particles`` diameters
    from a log-normal truncated to ``diameter_range_um``) and then placed
    by random sequential addition, largest first
    (:func:`~twin.generators.geometry.pack_spheres` on their footprints):
    **when they do not all fit in one layer, only those that fit are placed**;
    truth records how many were requested and placed, and the diameters of
    both sets (the KS test of the size distribution uses the drawn ones:
    placement favours the large).

    Roughness: the surface radius in direction u is ``R + delta(R u)``, with
    ``delta`` a Gaussian random field of standard deviation
    ``roughness_um`` and covariance ``exp(-(r / roughness_length_um)^2)``
    (bumps about one primary particle across), clipped at +-2 standard
    deviations (which, with the linear interpolation of the field, leaves
    a standard deviation of about 0.93 ``roughness_um``). The default,
    0.35 um with 1-um bumps, gives a roughness proxy (largest minus
    smallest of 8 azimuthal radii in the xy plane through the centre,
    measured on the 512-nm voxels) of 1.0 um on average, the value of
    seeds/002 (Results, Figure 2); smooth spheres give 0.37 um from the
    voxels alone. The particle is lifted so that its rough surface touches
    the support at its lowest point. ``roughness_um=0`` gives spheres.

    Voids: ``round(void_particle_fraction * n_placed)`` particles, chosen at
    random among those that can hold their voids clear of the surface, hold
    internal voids whose total nominal volume is ``void_volume_fraction``
    of the particle's nominal sphere, split into ``max(1, round(V /
    (pi/6 void_diameter_um^3)))`` triaxial ellipsoids of random
    orientation (log-normal volumes and semi-axis ratios, spread 0.3: non-
    spherical as in seeds/002). Each void's bounding sphere stays 1.75
    voxels inside the particle's smallest possible surface radius and 1.75
    voxels from every other void's, so no void voxel touches the particle's
    exterior, even by a corner, and the connected components (any
    connectivity) of label 3 are exactly the voids of the ``voids/`` table.
    When a particle cannot hold that many voids, it holds fewer, larger
    ones of the same total volume: with the defaults the mean equivalent
    diameter comes out near 2.4 um rather than 2 um (seeds/002 gives 2 um
    in the text and 2.4 um in Table 1). Particles too small for even one
    void (with the defaults, below about 6 um) never hold voids; when too
    few particles are large enough, all those that are hold voids.

    Parameters
    ----------
    material : str
        Registered material of the particles (``"NMC811"``, ``"NMC622"``, ...).
    n_particles : int
        Number of particle diameters drawn. The default covers about a third
        of the default field of view and all 14 fit for 9 seeds in 10
        (seeds/002 counts about 30 particles per 64-um radiograph, including
        those cut by its edges).
    median_diameter_um, sigma : float
        Median, um, and standard deviation of ln(diameter) of the
        log-normal. seeds/002: NMC622 particles "predominantly" 8 um
        (Results) with a mean equivalent diameter of 6.4 um (Table 1); the
        NMC811 particles of Figure 1 reach 22 um.
    diameter_range_um : (float, float)
        Truncation of the diameters, um (seeds/002, Methods: 5 to 30 um).
    field_of_view_um : float
        Lateral edge of the square field of view (x and y), um.
    voxel_size_um : float
        Voxel edge, um (seeds/002: 0.512 um at binning 8).
    height_um : float or None
        Height of the grid (z), um; None: just enough for the support, the
        largest allowed particle and one voxel of air.
    support, medium : str
        Registered materials of the support slab (label 1) and of the
        surroundings (label 0).
    support_thickness_um : float
        Thickness of the support slab in the grid, um.
    void_particle_fraction : float
        Fraction of the placed particles holding internal voids, in [0, 1].
    void_volume_fraction : float
        Nominal void volume in a host particle over its nominal volume, in
        [0, 0.3].
    void_diameter_um : float
        Mean equivalent diameter of one void, um.
    roughness_um : float
        Standard deviation of the radial surface displacement, um (>= 0).
    roughness_length_um : float
        Correlation length of the displacement (primary-particle size), um;
        at least 1/64 of the largest allowed diameter when there is roughness.
    seed : int
        Seed of the random generator.

    Returns
    -------
    Twin
        Labels (uint8): 0 ``medium``, 1 ``support``, 2 particle solid, 3
        internal void (material ``"void (internal)"``: the medium's
        composition). Field ``particle_id`` (int32): index of the particle
        of each voxel, its voids included, -1 elsewhere. Truth:

        - ``particles/centre_um`` (n, 3): nominal centres, um, [z, y, x];
        - ``particles/nominal_diameter_um``, ``particles/nominal_volume_um3``
          (sphere of that diameter);
        - ``particles/voxel_count``: solid and void voxels (equal to the
          count of ``particle_id == i``), ``particles/solid_voxel_count``,
          ``particles/volume_um3`` (voxel count x voxel volume) and
          ``particles/radius_um`` (equivalent radius of that volume);
        - ``particles/has_void`` (bool), ``particles/void_count``,
          ``particles/void_volume_um3`` (voxel-exact);
        - ``voids/particle`` (owning particle), ``voids/centre_um`` (m, 3),
          ``voids/semi_axes_um`` (m, 3), ``voids/nominal_volume_um3``,
          ``voids/voxel_count``, ``voids/volume_um3`` (voxel-exact);
        - ``drawn/diameter_um``: all drawn diameters, in drawing order;
          ``particles/drawn_index`` maps particles to them;
        - scalars ``n_particles_requested``, ``n_particles_placed``,
          ``void_particle_fraction`` (achieved), ``void_volume_fraction``
          (void voxels over voxels of the host particles),
          ``support/top_um``.

    Raises
    ------
    ValueError
        For out-of-range parameters: among them a field of view smaller
        than the smallest allowed particle, particles below two voxels, a
        height that cannot hold the largest particle, and a log-normal with
        less than 0.1 % of its mass inside ``diameter_range_um``.

    Notes
    -----
    Cost: O(n_particles^2) placement tests; O(D^3 / voxel^3) per particle
    to paint it and O((4 D / roughness_length_um + 16)^3) to synthesise its
    roughness; O(void size) per void. One Python iteration per particle and
    per void, none per voxel. Defaults: 73 x 125 x 125 voxels in ~0.2 s.
    A 512^3 grid holds 0.7 GB of arrays (uint8 labels, int32
    ``particle_id``) and the process peaks at about 0.86 GB (benchmarks/);
    it builds in ~3 s with 14 particles (``voxel_size_um=0.125,
    height_um=64``) and ~7 s with 270 (``field_of_view_um=262.144,
    height_um=262.144, n_particles=270``) on two cores.
    """
    medium_mat = materials.named("medium", medium)
    support_mat = materials.named("support", support)
    particle_mat = materials.named("material", material)
    names = [medium_mat.name, support_mat.name, particle_mat.name, VOID_NAME]
    if len(set(names)) != len(names):
        raise ValueError(f"material={material!r}, support={support!r}, medium={medium!r}: expected three "
                         f"different materials (and none called {VOID_NAME!r})")
    n_drawn = arguments.integer("n_particles", n_particles, minimum=0)
    median = arguments.positive("median_diameter_um", median_diameter_um, unit="um")
    sigma = arguments.positive("sigma", sigma, allow_zero=True)
    d_lo, d_hi = arguments.size_range("diameter_range_um", diameter_range_um)
    voxel = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    fov = arguments.positive("field_of_view_um", field_of_view_um, unit="um")
    if fov < d_lo:
        raise ValueError(f"field_of_view_um={field_of_view_um!r}: expected at least the smallest particle "
                         f"diameter, diameter_range_um[0] = {d_lo:g} um")
    check_particle_sizes(voxel, median, sigma, (d_lo, d_hi))
    n_lateral = round(fov / voxel)
    thickness = arguments.positive("support_thickness_um", support_thickness_um, unit="um")
    p_void = arguments.in_range("void_particle_fraction", void_particle_fraction, 0.0, 1.0)
    f_void = arguments.in_range("void_volume_fraction", void_volume_fraction, 0.0, 0.3)
    d_void = arguments.positive("void_diameter_um", void_diameter_um, unit="um")
    rough = arguments.positive("roughness_um", roughness_um, allow_zero=True, unit="um")
    length = arguments.positive("roughness_length_um", roughness_length_um, unit="um")
    if rough > 0 and length < d_hi * _FINEST_ROUGHNESS:
        raise ValueError(f"roughness_length_um={roughness_length_um!r}: expected at least "
                         f"{d_hi * _FINEST_ROUGHNESS:.3g} um (1/64 of the largest diameter, "
                         f"{d_hi:g} um), or roughness_um=0")
    bound = _ROUGHNESS_CLIP * rough
    n_support = max(1, round(thickness / voxel))
    nz_min = n_support + math.ceil((d_hi + 2 * bound) / voxel) + 1
    if height_um is None:
        nz = nz_min
    else:
        nz = round(arguments.positive("height_um", height_um, unit="um") / voxel)
        if nz < nz_min:
            raise ValueError(f"height_um={height_um!r}: expected at least {nz_min * voxel:g} um, the support "
                             f"({n_support * voxel:g} um), the largest particle ({d_hi:g} um, roughness "
                             f"included) and one voxel of air")
    rng = np.random.default_rng(arguments.integer("seed", seed, minimum=0))

    shape = (nz, n_lateral, n_lateral)
    fov_actual = n_lateral * voxel
    top = n_support * voxel
    drawn = lognormal_diameters(n_drawn, median, sigma, rng, low_um=d_lo, high_um=d_hi)
    # A voxel of clearance keeps neighbours apart in the grid (a segmentation can
    # separate them), on top of the largest outward bumps of both surfaces.
    gap = 2 * bound + voxel
    footprint = drawn / 2 + gap / 2
    fits = np.flatnonzero(2 * footprint <= fov_actual)
    xy, order = pack_spheres(footprint[fits], np.zeros(2), np.full(2, fov_actual), rng,
                             max_tries=_PLACEMENT_TRIES)
    drawn_index = fits[order]
    radii = drawn[drawn_index] / 2
    n = len(radii)

    labels = np.zeros(shape, dtype=np.uint8)
    labels[:n_support] = SUPPORT
    particle_id = np.full(shape, -1, dtype=np.int32)
    centres = np.empty((n, 3))
    voxel_count = np.zeros(n, dtype=np.int64)
    for i, (r, c_yx) in enumerate(zip(radii, xy)):
        surface = _RoughSurface(r, rough, length, rng) if rough > 0 else None
        # Lift the particle so that its lowest surface point touches the support.
        lift = surface.displacement(np.array([[-r, 0.0, 0.0]]))[0] if surface else 0.0
        centres[i] = (top + r + lift, *c_yx)
        voxel_count[i] = _paint_particle(labels, particle_id, voxel, centres[i], r, bound, surface, i)

    voids = _add_voids(labels, particle_id, voxel, centres, radii, bound, p_void, f_void, d_void, rng)
    void_voxels = np.bincount(voids["particle"], weights=voids["voxel_count"], minlength=n).astype(np.int64)
    void_count = np.bincount(voids["particle"], minlength=n)
    has_void = void_count > 0
    voxel_volume = voxel**3
    volume = voxel_count * voxel_volume
    host_voxels = voxel_count[has_void].sum()
    truth = {
        "particles/centre_um": centres,
        "particles/nominal_diameter_um": 2 * radii,
        "particles/nominal_volume_um3": 4 / 3 * np.pi * radii**3,
        "particles/voxel_count": voxel_count,
        "particles/solid_voxel_count": voxel_count - void_voxels,
        "particles/volume_um3": volume,
        "particles/radius_um": np.cbrt(3 * volume / (4 * np.pi)),
        "particles/has_void": has_void,
        "particles/void_count": void_count,
        "particles/void_volume_um3": void_voxels * voxel_volume,
        "particles/drawn_index": drawn_index,
        "voids/particle": voids["particle"],
        "voids/centre_um": voids["centre_um"],
        "voids/semi_axes_um": voids["semi_axes_um"],
        "voids/nominal_volume_um3": 4 / 3 * np.pi * np.prod(voids["semi_axes_um"], axis=1),
        "voids/voxel_count": voids["voxel_count"],
        "voids/volume_um3": voids["voxel_count"] * voxel_volume,
        "drawn/diameter_um": drawn,
        "n_particles_requested": np.array(n_drawn),
        "n_particles_placed": np.array(n),
        "void_particle_fraction": np.array(has_void.mean() if n else 0.0),
        "void_volume_fraction": np.array(void_voxels.sum() / host_voxels if host_voxels else 0.0),
        "support/top_um": np.array(top),
    }
    void_mat = Material(VOID_NAME, medium_mat.mass_fractions, medium_mat.density_g_cm3,
                        formula=medium_mat.formula, density_source=medium_mat.density_source,
                        description=f"internal voids of the particles, filled with {medium_mat.name}")
    params = {"material": material, "n_particles": n_drawn, "median_diameter_um": median, "sigma": sigma,
              "diameter_range_um": [d_lo, d_hi], "field_of_view_um": fov, "voxel_size_um": voxel,
              "height_um": height_um if height_um is None else float(height_um), "support": support,
              "support_thickness_um": thickness, "medium": medium, "void_particle_fraction": p_void,
              "void_volume_fraction": f_void, "void_diameter_um": d_void, "roughness_um": rough,
              "roughness_length_um": length}
    return Twin(labels, voxel, {AIR: medium_mat, SUPPORT: support_mat, PARTICLE: particle_mat, VOID: void_mat},
                fields={"particle_id": particle_id}, truth=truth,
                provenance=Provenance("twin.generators.powder.powder_monolayer", params, seed))





class _RoughSurface:
    """Radial displacement of one particle's surface: a clipped Gaussian random field.

    White noise on a cube of spacing ``length / 4`` around the particle is
    smoothed with a Gaussian of standard deviation ``length / 2`` (periodic,
    so the variance is the same everywhere), which gives the covariance
    ``exp(-(r / length)^2)``, and scaled to standard deviation ``rms``. It
    is read at the nominal surface point ``R u`` by trilinear interpolation.
    """

    def __init__(self, radius_um: float, rms_um: float, length_um: float, rng: np.random.Generator) -> None:
        self.step = _FIELD_STEP * length_um
        n = math.ceil((2 * radius_um + 2 * _FIELD_MARGIN * length_um) / self.step) + 1
        self.origin = -0.5 * (n - 1) * self.step
        sigma = 0.5 * length_um / self.step
        field = ndimage.gaussian_filter(rng.standard_normal((n, n, n)), sigma, mode="wrap")
        # Variance of smoothed unit white noise: (sum of squared 1D kernel weights)^3.
        impulse = np.zeros(2 * math.ceil(4 * sigma) + 3)
        impulse[impulse.size // 2] = 1.0
        weights = ndimage.gaussian_filter1d(impulse, sigma, mode="constant")
        self.field = field * (rms_um / np.sqrt(np.sum(weights**2) ** 3))
        self.radius = radius_um
        self.bound = _ROUGHNESS_CLIP * rms_um

    def displacement(self, offsets_um: np.ndarray) -> np.ndarray:
        """Displacement, um, in the directions of ``offsets_um`` (k, 3) from the centre."""
        norm = np.linalg.norm(offsets_um, axis=1, keepdims=True)
        points = self.radius * offsets_um / np.where(norm > 0, norm, 1.0)
        coords = ((points - self.origin) / self.step).T
        delta = ndimage.map_coordinates(self.field, coords, order=1, mode="nearest")
        return np.clip(delta, -self.bound, self.bound)


def _window_offsets(slices: tuple[slice, ...], voxel: float, centre: np.ndarray) -> list[np.ndarray]:
    """Offsets, um, of a window's voxel centres from ``centre``: sparse, broadcastable, one per axis."""
    return np.meshgrid(*[(np.arange(s.start, s.stop) + 0.5) * voxel - c for s, c in zip(slices, centre)],
                       indexing="ij", sparse=True)


def _paint_particle(labels: np.ndarray, particle_id: np.ndarray, voxel: float, centre: np.ndarray, radius: float,
                    bound: float, surface: _RoughSurface | None, index: int) -> int:
    """Paint one particle over the medium only (never over the support); return its voxel count.

    Cost O((R + bound)^3 / voxel^3); the displacement field is read only in
    the shell R +- bound where the surface can lie.
    """
    slices, ball = ball_window(labels.shape, voxel, centre, radius + bound)
    if surface is not None:
        offsets = _window_offsets(slices, voxel, centre)
        dist = np.sqrt(sum(o * o for o in offsets))
        shell = ball & (dist > radius - bound)
        where = np.nonzero(shell)
        local = np.stack([np.broadcast_to(o, ball.shape)[where] for o in offsets], axis=1)
        ball = ball & (dist <= radius - bound)
        ball[where] = dist[where] <= radius + surface.displacement(local)
    inside = ball & (labels[slices] == AIR)
    labels[slices][inside] = PARTICLE
    particle_id[slices][inside] = index
    return int(np.count_nonzero(inside))


def _add_voids(labels: np.ndarray, particle_id: np.ndarray, voxel: float, centres: np.ndarray, radii: np.ndarray,
               bound: float, p_void: float, f_void: float, d_void: float,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw, place and paint the internal voids; return the void table.

    Hosts are visited in random order until ``round(p_void * n)`` hold
    voids; a particle whose largest void cannot sit ``margin`` inside its
    smallest surface radius is skipped. Voids are placed largest first by
    random sequential addition of their bounding spheres. Cost O(n_voids^2)
    placement tests and O(void size) painting.
    """
    n = len(radii)
    wanted = round(p_void * n) if f_void > 0 else 0
    # 1.75 voxels: more than the sqrt(3)-voxel distance to a diagonal neighbour, so that no void voxel
    # touches the exterior or another void even by a corner.
    margin, clearance = bound + 1.75 * voxel, 1.75 * voxel
    mean_volume = np.pi / 6 * d_void**3
    rows: list[tuple[int, np.ndarray, np.ndarray, int]] = []
    hosts = 0
    for i in rng.permutation(n):
        if hosts == wanted:
            break
        target = f_void * 4 / 3 * np.pi * radii[i] ** 3
        # Fewer, larger voids when the first count does not fit: the volume is what is asked for.
        for k in range(max(1, round(target / mean_volume)), 0, -1):
            voids = _place_voids(k, target, radii[i] - margin, clearance, rng)
            if voids is not None:
                break
        else:
            continue
        for c, axes, rotation in zip(*voids):
            c = centres[i] + c
            rows.append((int(i), c, axes, _paint_ellipsoid(labels, particle_id, voxel, c, axes, rotation, int(i))))
        hosts += 1
    return {"particle": np.array([r[0] for r in rows], dtype=np.int64),
            "centre_um": np.array([r[1] for r in rows]).reshape(-1, 3),
            "semi_axes_um": np.array([r[2] for r in rows]).reshape(-1, 3),
            "voxel_count": np.array([r[3] for r in rows], dtype=np.int64)}


def _place_voids(k: int, volume: float, inner_um: float, clearance: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Draw ``k`` ellipsoidal voids of total volume ``volume`` and place them in a ball of radius ``inner_um``.

    Returns their centres relative to the ball's centre (k, 3), semi-axes
    (k, 3) and rotation matrices (k, 3, 3), or None when they do not fit.
    Each void lies inside the ball and the bounding spheres of any two are
    at least ``clearance`` apart (random sequential addition, largest first).
    """
    share = rng.lognormal(0.0, _VOID_VOLUME_SPREAD, k)
    r_eq = np.cbrt(3 * volume * share / share.sum() / (4 * np.pi))
    log_axes = np.clip(rng.normal(0.0, _VOID_AXIS_SPREAD, (k, 3)), -2 * _VOID_AXIS_SPREAD, 2 * _VOID_AXIS_SPREAD)
    axes = r_eq[:, None] * np.exp(log_axes - log_axes.mean(axis=1, keepdims=True))
    reach = axes.max(axis=1)
    room = inner_um - reach
    if room.min() < 0:
        return None
    rotations = to_matrix(random_quaternions(k, rng))
    centres = np.zeros((k, 3))
    order = np.argsort(reach)[::-1]
    for m, j in enumerate(order):
        direction = rng.standard_normal((_PLACEMENT_TRIES, 3))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        candidates = direction * (room[j] * np.cbrt(rng.random(_PLACEMENT_TRIES)))[:, None]
        placed = order[:m]
        d = np.linalg.norm(candidates[:, None] - centres[placed][None], axis=-1)
        ok = np.all(d >= reach[placed] + reach[j] + clearance, axis=1)
        if not ok.any():
            return None
        centres[j] = candidates[np.argmax(ok)]
    return centres, axes, rotations


def _paint_ellipsoid(labels: np.ndarray, particle_id: np.ndarray, voxel: float, centre: np.ndarray,
                     semi_axes: np.ndarray, rotation: np.ndarray, owner: int) -> int:
    """Turn the solid voxels of particle ``owner`` inside an ellipsoid into void; return their count.

    ``rotation`` (3, 3) has the ellipsoid's axes as columns. Cost O(a_max^3 / voxel^3).
    """
    slices, ball = ball_window(labels.shape, voxel, centre, semi_axes.max())
    offsets = _window_offsets(slices, voxel, centre)
    # Coordinates along the ellipsoid's axes: rotation^T (x - c), summed per axis.
    q = sum((sum(rotation[m, k] * offsets[m] for m in range(3)) / semi_axes[k]) ** 2 for k in range(3))
    inside = ball & (q <= 1.0) & (particle_id[slices] == owner) & (labels[slices] == PARTICLE)
    labels[slices][inside] = VOID
    return int(np.count_nonzero(inside))
