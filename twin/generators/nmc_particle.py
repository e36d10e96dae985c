"""A polycrystalline NMC secondary particle: radially aligned ("rod") or random ("gravel") primary grains.

Source: seeds/004 (Spence et al., Nanotechnology 32 (2021) 442003), section 2
and its Figure 2, reviewing Xu et al., Nat. Commun. 11 (2020) 83 (its ref.
[31]): NMC secondary particles made of radially aligned primary grains
(rod-NMC) or randomly oriented ones (gravel-NMC) were imaged by 3D TXM-XANES
at the Ni K edge after slow charging; the Ni valence follows a holistic
surface-to-bulk gradient, locally guided by the grain orientation, and
radially aligned grains give "direct lithium ion pathways" and a more
homogeneous charge distribution.

Crystallographic convention. NMC is a layered R-3m oxide (alpha-NaFeO2
type): Li+ moves within the Li slabs, i.e. within the (003) planes, normal to
the c-axis; diffusion along c is blocked. In rod-NMC the (003) planes, hence
the Li channels, run along the radial direction: the c-axis of every grain
is perpendicular to the radius (Xu et al. 2020). Orientations are unit
quaternions crystal -> sample (:mod:`twin.orientations`); a grain's c-axis is
``orientations.c_axes(q)`` in sample ``(x, y, z)`` order.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize
from scipy.spatial import cKDTree

from twin import materials, orientations
from twin.container import Provenance, Twin
from xtwin import arguments

#: Phase labels of the twin.
MEDIUM, ACTIVE = 0, 1

#: Layered nickel oxides the Ni valence mapping applies to.
LAYERED_NICKEL_OXIDES = ("NMC811", "NMC622", "LiNiO2")


def nmc_secondary_particle(*, radius_um: float = 5.0, voxel_size_um: float = 0.1, grain_size_um: float = 0.5,
                           morphology: str = "rod", aspect_ratio: float = 3.0, rod_tilt_deg: float = 10.0,
                           material: str = "NMC811", medium: str = "air", mean_soc: float = 0.5,
                           out_of_plane_ratio: float = 0.01, seed: int = 0) -> Twin:
    r"""One spherical secondary particle of primary grains with an orientation-guided state of charge.

    Parameters
    ----------
    radius_um : float
        Radius of the secondary particle, um; 5 um makes the ~10 um
        secondary particle typical of commercial NMC (seeds/004 gives no
        size; its Figure 2(a, d) has 3 um scale bars).
    voxel_size_um : float
        Voxel edge, um.
    grain_size_um : float
        Primary grain size: the diameter of the sphere whose volume is the
        mean grain volume (the particle holds ``round(R^3 / (d/2)^3)``
        seeds; the rare cell left without a voxel is dropped). At least two
        voxels.
    morphology : {"rod", "gravel"}
        ``"rod"``: grains elongated along the radius (``aspect_ratio``), c-axis
        perpendicular to the radius up to a tilt; ``"gravel"``: equiaxed
        grains with orientations uniform on SO(3).
    aspect_ratio : float
        Length / width of rod grains (>= 1); gravel grains are equiaxed.
    rod_tilt_deg : float
        Spread of rod c-axes out of the tangent plane: the c-axis is
        ``cos t * u + sin t * r``, ``u`` a uniform unit vector perpendicular
        to the radial direction ``r``, ``t ~ Normal(0, rod_tilt_deg)``.
    material : str
        Registry name of the active material, one of
        :data:`LAYERED_NICKEL_OXIDES`.
    medium : str
        Registry name of the surrounding medium (label 0).
    mean_soc : float
        Mean state of charge of the particle, ``soc = 1 - x`` for
        ``Li_x``, in [0, 1]; the model below is solved for it.
    out_of_plane_ratio : float
        ``epsilon = D_c / D_ab``, Li diffusivity across / along the layers,
        in (0, 1].
    seed : int
        Seed of the random generator.

    Returns
    -------
    Twin
        Labels (uint8): 0 medium, 1 active material. ``grain_ids`` (int32,
        -1 outside) and ``orientations``. Fields (float32, NaN outside the
        particle): ``soc`` and ``ni_oxidation_state``. Truth:

        - ``particle/centre_um`` (3,), ``particle/radius_um``,
          ``particle/volume_um3`` (exact sphere), ``particle/voxel_count``,
          ``particle/is_rod`` (bool);
        - ``grains/voxel_count``, ``grains/volume_um3``,
          ``grains/equivalent_diameter_um``, ``grains/centroid_um`` (n, 3,
          array order z, y, x), ``grains/c_axis`` (n, 3, sample x, y, z),
          ``grains/radial_angle_deg`` (angle between the c-axis and the
          radial direction through the grain's centroid, 0-90),
          ``grains/radial_factor`` (``f`` below), ``grains/mean_soc``,
          ``grains/long_axis`` (n, 3, x, y, z; principal axis of the grain's
          largest second moment) and ``grains/elongation`` (square root of
          the largest over the mean of the two other principal second
          moments: ~1 equiaxed, ~aspect ratio for a rod);
        - ``grain_size/target_um``, ``grain_size/mean_volume_um3``;
        - ``soc/mean`` (counted over the particle's voxels),
          ``soc_model/diffusion_length_um`` (Lambda below).

    Notes
    -----
    *Grains.* Seeds are uniform in the sphere. Gravel grains are their
    Voronoi cells. Rod grains are Voronoi cells after the radial map
    ``u(x) = c + R (r/R)^(1/a) (x - c)/r`` (``r = |x - c|``, ``a`` the aspect
    ratio), under which every point's radial scale is ``1/a`` of its
    tangential scale: the cells are about ``a`` times longer radially than
    wide (measured elongation ~0.9 a for a = 3) and converge to the centre
    like the rods of seeds/004, Figure 2(a).

    *State of charge (a phenomenological model, not a solution of the
    diffusion equation).* Delithiation proceeds from the surface inwards. A
    grain with c-axis ``c`` has the diffusion tensor ``D = D_ab (I - c c^T) +
    D_c c c^T``; along the radial direction ``r`` its diffusivity is ``D_ab
    f^2`` with

    .. math:: f = \sqrt{\sin^2\beta + \epsilon \cos^2\beta},

    ``beta`` the angle between ``c`` and ``r`` (``f = |sin beta|`` for
    ``epsilon = 0``: fast when the Li planes point to the surface). A
    diffusion length grows as the square root of the diffusivity, so the
    delithiated shell of grain ``g`` reaches the depth ``f_g Lambda``, with
    ``Lambda ~ sqrt(D_ab t)`` common to the particle (a time variable):

    .. math:: \mathrm{soc}(x) = \max\left(0,\ 1 - \frac{R - |x - c|}{f_{g(x)} \Lambda}\right),

    a linear graded shell over a pristine core (shrinking-core-like).
    ``Lambda`` is solved (Brent) so that the mean over the particle's voxels
    equals ``mean_soc`` (to 1e-9). For grains small against ``R`` with
    orientations independent of depth, the closed form is
    ``mean_soc = E_g[m(f_g Lambda / R)]``, with the sphere average of the
    profile ``m(lambda) = 3 lambda/2 - lambda^2 + lambda^3/4`` for ``lambda
    <= 1`` and ``1 - 1/(4 lambda)`` above (:func:`shell_mean_soc`). Rod
    grains (``f ~ 1``) reach a given mean SOC at a smaller ``Lambda``
    (earlier) and with an SOC that depends on depth only; gravel grains
    (``f`` spread over [sqrt(epsilon), 1]) lag and differ from grain to
    grain at the same depth.

    *Ni valence.* See :func:`ni_oxidation_state`.

    Cost: O(N log n_grains) for the tessellation (one k-d tree query of the
    particle's voxels), O(N) per SOC evaluation (about 40 for the root),
    O(N) for the grain tables via bincount. The default (102^3 voxels,
    8000 grains) builds in ~0.5 s.
    """
    radius = arguments.positive("radius_um", radius_um, unit="um")
    voxel = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    grain = arguments.positive("grain_size_um", grain_size_um, unit="um")
    if grain < 2 * voxel:
        raise ValueError(f"grain_size_um={grain_size_um!r}: expected at least two voxels "
                         f"(2 x voxel_size_um = {2 * voxel:g} um)")
    if grain > radius:
        raise ValueError(f"grain_size_um={grain_size_um!r}: expected at most the particle radius "
                         f"radius_um={radius_um!r} (a secondary particle holds many grains)")
    arguments.one_of("morphology", morphology, ("rod", "gravel"))
    aspect = arguments.positive("aspect_ratio", aspect_ratio)
    if aspect < 1:
        raise ValueError(f"aspect_ratio={aspect_ratio!r}: expected a length/width ratio >= 1")
    tilt = arguments.in_range("rod_tilt_deg", rod_tilt_deg, 0.0, 90.0, unit="deg")
    arguments.one_of("material", material, LAYERED_NICKEL_OXIDES)
    soc_target = arguments.in_range("mean_soc", mean_soc, 0.0, 1.0)
    epsilon = arguments.positive("out_of_plane_ratio", out_of_plane_ratio)
    if epsilon > 1:
        raise ValueError(f"out_of_plane_ratio={out_of_plane_ratio!r}: expected D_c / D_ab in (0, 1]")
    try:
        medium_material = materials.get(medium)
    except (materials.UnknownMaterialError, ValueError) as err:
        raise ValueError(f"medium={medium!r}: expected a registry material ({err})") from None
    seed = arguments.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)

    n_side = int(np.ceil(2 * radius / voxel)) + 2
    shape = (n_side,) * 3
    centre = np.full(3, n_side * voxel / 2)
    # Coordinates of the particle's voxels only: the tessellation and the fields need nothing else.
    grid = np.indices(shape).reshape(3, -1).T
    offsets = (grid + 0.5) * voxel - centre
    distance = np.linalg.norm(offsets, axis=1)
    inside = distance <= radius
    offsets, distance = offsets[inside], distance[inside]
    flat_inside = np.flatnonzero(inside)

    n_seeds = max(1, round((2 * radius / grain) ** 3))
    seeds = _uniform_in_ball(n_seeds, radius, rng)
    a = aspect if morphology == "rod" else 1.0
    cell = cKDTree(_radial_map(seeds, radius, a)).query(_radial_map(offsets, radius, a), workers=-1)[1]
    counts = np.bincount(cell, minlength=n_seeds)
    kept = np.flatnonzero(counts)
    new_id = np.full(n_seeds, -1, dtype=np.int64)
    new_id[kept] = np.arange(len(kept))
    cell, counts = new_id[cell], counts[kept]
    n = len(kept)

    centroids = np.stack([np.bincount(cell, offsets[:, k], n) for k in range(3)], axis=1) / counts[:, None]
    radial_xyz = _unit_rows(centroids)[:, ::-1]
    if morphology == "rod":
        q = _rod_orientations(radial_xyz, np.radians(tilt), rng)
    else:
        q = orientations.random_quaternions(n, rng)
    c_axis = orientations.c_axes(q)
    cos_beta = np.clip(np.abs(np.sum(c_axis * radial_xyz, axis=1)), 0.0, 1.0)
    factor = np.sqrt((1 - cos_beta ** 2) + epsilon * cos_beta ** 2)

    depth_over_factor = (radius - distance) / factor[cell]
    diffusion_length = _solve_diffusion_length(depth_over_factor, soc_target, radius)
    soc_inside = soc_profile(depth_over_factor, diffusion_length)

    labels = np.zeros(shape, dtype=np.uint8)
    labels.reshape(-1)[flat_inside] = ACTIVE
    grain_ids = np.full(shape, -1, dtype=np.int32)
    grain_ids.reshape(-1)[flat_inside] = cell
    soc = np.full(shape, np.nan, dtype=np.float32)
    soc.reshape(-1)[flat_inside] = soc_inside
    valence = np.full(shape, np.nan, dtype=np.float32)
    valence.reshape(-1)[flat_inside] = ni_oxidation_state(1.0 - soc_inside, material)

    volume = counts * voxel ** 3
    long_axis, elongation = _principal_axes(offsets, cell, counts, voxel)
    truth = {
        "particle/centre_um": centre,
        "particle/radius_um": np.array(radius),
        "particle/volume_um3": np.array(4 / 3 * np.pi * radius ** 3),
        "particle/voxel_count": np.array(int(inside.sum())),
        "particle/is_rod": np.array(morphology == "rod"),
        "grains/voxel_count": counts.astype(np.int64),
        "grains/volume_um3": volume,
        "grains/equivalent_diameter_um": np.cbrt(6 * volume / np.pi),
        "grains/centroid_um": centroids + centre,
        "grains/c_axis": c_axis,
        "grains/radial_angle_deg": np.degrees(np.arccos(cos_beta)),
        "grains/radial_factor": factor,
        "grains/mean_soc": np.bincount(cell, soc_inside, n) / counts,
        "grains/long_axis": long_axis,
        "grains/elongation": elongation,
        "grain_size/target_um": np.array(grain),
        "grain_size/mean_volume_um3": np.array(volume.mean()),
        "soc/mean": np.array(float(np.mean(soc_inside))),
        "soc_model/diffusion_length_um": np.array(diffusion_length),
    }
    params = {"radius_um": radius, "voxel_size_um": voxel, "grain_size_um": grain, "morphology": morphology,
              "aspect_ratio": aspect, "rod_tilt_deg": tilt, "material": material, "medium": medium,
              "mean_soc": soc_target, "out_of_plane_ratio": epsilon}
    return Twin(labels, voxel, {MEDIUM: medium_material, ACTIVE: materials.get(material)},
                fields={"soc": soc, "ni_oxidation_state": valence}, grain_ids=grain_ids, orientations=q,
                truth=truth, provenance=Provenance("twin.generators.nmc_particle.nmc_secondary_particle",
                                                   params, seed))


def ni_oxidation_state(li_content: float | np.ndarray, material: str = "NMC811") -> np.ndarray:
    """Average Ni valence of ``Li_x Ni_a Mn_b Co_c O2`` by charge balance, with Mn4+ and Co3+ fixed.

    With O2- and Li+: ``x + a v_Ni + 4 b + 3 c = 4``, so ``v_Ni = (4 - x - 4 b
    - 3 c) / a``. For NMC811 (a, b, c = 0.8, 0.1, 0.1): ``v_Ni = (3.3 - x) /
    0.8``, 2.875 at x = 1 and 4.125 at x = 0.

    Assumes that Ni carries all the redox, Mn stays 4+ and Co 3+: the usual
    simplification for Ni-rich NMC (XPS of pristine Ni-rich NCM: Ni2+/Ni3+,
    Co3+, Mn4+, Noh et al., J. Power Sources 233 (2013) 121; Ni2+/3+/4+ as the
    main redox couple, Manthiram et al., Adv. Energy Mater. 6 (2016) 1501010).
    Beyond Ni4+ (x < 0.1 for NMC811) the formal value exceeds 4: Co3+/4+ and
    oxygen redox take over there, which this mapping ignores.

    Parameters
    ----------
    li_content : float or ndarray
        ``x`` in [0, 1].
    material : str
        One of :data:`LAYERED_NICKEL_OXIDES`; its composition gives a, b, c.
    """
    arguments.one_of("material", material, LAYERED_NICKEL_OXIDES)
    x = np.asarray(li_content, dtype=float)
    finite = x[np.isfinite(x)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise ValueError(f"li_content: expected values in [0, 1], got [{finite.min():g}, {finite.max():g}]")
    fractions = materials.get(material).atom_fractions()
    per_o2 = {el: 2 * fractions.get(el, 0.0) / fractions["O"] for el in ("Ni", "Mn", "Co")}
    return (4 - x - 4 * per_o2["Mn"] - 3 * per_o2["Co"]) / per_o2["Ni"]


def soc_profile(depth_over_factor_um: np.ndarray, diffusion_length_um: float) -> np.ndarray:
    """The graded-shell profile ``max(0, 1 - depth / (f Lambda))`` of :func:`nmc_secondary_particle`.

    Parameters
    ----------
    depth_over_factor_um : ndarray
        Depth below the particle surface divided by the grain's radial factor ``f``, um.
    diffusion_length_um : float
        ``Lambda``, um (0: pristine; infinite: fully delithiated).
    """
    d = np.asarray(depth_over_factor_um, dtype=float)
    if diffusion_length_um <= 0:
        return np.zeros_like(d)
    return np.clip(1.0 - d / diffusion_length_um, 0.0, 1.0)


def shell_mean_soc(lam: float | np.ndarray) -> np.ndarray:
    """Sphere average of the profile ``max(0, 1 - (R - r) / (lambda R))``: the closed form.

    ``m = 3 lambda/2 - lambda^2 + lambda^3/4`` for ``lambda <= 1`` (the
    pristine core has radius ``R (1 - lambda)``) and ``1 - 1/(4 lambda)``
    beyond, from ``3/R^3 int_0^R soc(r) r^2 dr``.
    """
    lam = np.asarray(lam, dtype=float)
    small = np.minimum(lam, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(lam <= 1, 1.5 * small - small ** 2 + small ** 3 / 4, 1 - 1 / (4 * np.maximum(lam, 1.0)))


def _uniform_in_ball(n: int, radius: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniform in a ball about the origin, (n, 3) in array order."""
    direction = rng.standard_normal((n, 3))
    return _unit_rows(direction) * (radius * np.cbrt(rng.random(n)))[:, None]


def _unit_rows(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    # A point at the very centre has no radial direction: any unit vector will do.
    return np.where(norm > 0, v / np.where(norm > 0, norm, 1.0), np.array([1.0, 0.0, 0.0]))


def _radial_map(points: np.ndarray, radius: float, aspect: float) -> np.ndarray:
    """``R (r/R)^(1/a) x/r``: shrinks radial distances by ``a`` relative to tangential ones (see Notes)."""
    if aspect == 1:
        return points
    r = np.linalg.norm(points, axis=1, keepdims=True)
    scale = np.where(r > 0, radius * (np.maximum(r, 1e-300) / radius) ** (1 / aspect) / np.maximum(r, 1e-300), 0)
    return points * scale


def _rod_orientations(radial_xyz: np.ndarray, tilt_sigma_rad: float, rng: np.random.Generator) -> np.ndarray:
    """Quaternions whose c-axis is ``cos t u + sin t r`` (u tangential, uniform), uniform spin about c."""
    n = len(radial_xyz)
    helper = np.where(np.abs(radial_xyz[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = _unit_rows(np.cross(radial_xyz, helper))
    e2 = np.cross(radial_xyz, e1)
    phi = 2 * np.pi * rng.random(n)
    tangent = np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2
    t = tilt_sigma_rad * rng.standard_normal(n)
    c = np.cos(t)[:, None] * tangent + np.sin(t)[:, None] * radial_xyz
    spin = orientations.from_axis_angle(np.tile([0.0, 0.0, 1.0], (n, 1)), 2 * np.pi * rng.random(n))
    q = orientations.multiply(orientations.rotation_taking(np.array([0.0, 0.0, 1.0]), c), spin)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(q[:, :1] < 0, -q, q)


def _solve_diffusion_length(depth_over_factor: np.ndarray, target: float, radius: float) -> float:
    """``Lambda`` whose voxel-mean SOC equals ``target`` (0 and inf at the ends)."""
    if target <= 0:
        return 0.0
    if target >= 1:
        return float("inf")
    deepest = float(depth_over_factor.max())

    def excess(lam: float) -> float:
        return float(np.mean(soc_profile(depth_over_factor, lam))) - target

    high = max(deepest, radius)
    while excess(high) < 0:
        high *= 2
    return float(optimize.brentq(excess, 0.0, high, xtol=1e-12 * high, rtol=1e-12))


def _principal_axes(offsets: np.ndarray, cell: np.ndarray, counts: np.ndarray,
                    voxel: float) -> tuple[np.ndarray, np.ndarray]:
    """Long axis (n, 3, x y z) and elongation of each grain from its second moments.

    Each voxel adds its own moment voxel^2/12 per axis (a cube, not a point),
    which keeps one-voxel grains well defined. Cost: O(N) bincounts and
    n 3x3 eigen-decompositions.
    """
    n = len(counts)
    mean = np.stack([np.bincount(cell, offsets[:, k], n) for k in range(3)], axis=1) / counts[:, None]
    centred = offsets - mean[cell]
    cov = np.empty((n, 3, 3))
    for i in range(3):
        for j in range(i, 3):
            cov[:, i, j] = cov[:, j, i] = np.bincount(cell, centred[:, i] * centred[:, j], n) / counts
    cov += np.eye(3) * voxel ** 2 / 12
    values, vectors = np.linalg.eigh(cov)
    long_axis = vectors[:, ::-1, 2]  # eigenvector of the largest moment, (z, y, x) -> (x, y, z)
    elongation = np.sqrt(values[:, 2] / values[:, :2].mean(axis=1))
    return long_axis, elongation
