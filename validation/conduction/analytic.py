"""Analytic reference cases of the DC resistor network (issue 6, validation part (a)).

Every case runs :mod:`forward.conduction` on a grid whose answer is known
in closed form and returns one :class:`~validation.report.Check` per
compared number:

- a uniform slab, ``I = sigma A V / L`` (2D, 3D, face and voxel electrodes);
- layers in series (harmonic mean) and in parallel (arithmetic mean);
- the 2D two-phase checkerboard, ``sigma_eff = sqrt(sigma_1 sigma_2)``
  (Dykhne, Sov. Phys. JETP 32 (1971) 63; Keller, J. Math. Phys. 5 (1964)
  548), and Keller's reciprocity ``sigma_x(s1, s2) sigma_y(s2, s1) = s1 s2``
  on a random two-phase image;
- a single tilted layered crystal (the rotated tensor of a uniaxial
  conductor, its in-plane Schur complement in a thin film, and seeds/003
  Equation 4-1);
- Hashin-Shtrikman bounds (J. Appl. Phys. 33 (1962) 3125) and Wiener bounds
  for a random isotropic two-phase 3D medium.

What is exact for the network and what is not
---------------------------------------------
The network is a two-point-flux discretisation: its answer is exact when
every row of voxels along the current is the same chain of resistors, so that
no current flows sideways (slabs, layers whose interfaces lie on voxel
faces, a uniform anisotropic crystal between two opposite faces, where only
the diagonal of the tensor matters). Those checks use a relative tolerance
of 1e-9: the direct solver's round-off is about 1e-14, and the margin
covers an iterative solve to its default relative residual of 1e-10.

The checkerboard is exact only in the continuum. Near a corner where four
tiles meet the potential is singular, ``phi ~ r^lambda`` with
``lambda = (2/pi) arccos(|s1 - s2| / (s1 + s2))`` (0.390 for a contrast of
10), so the network's error falls as ``(h / tile)^(2 lambda)``: measured
on 8 x 8 tiles at contrast 10, -27.8 %, -17.7 %, -10.8 %, -6.4 % and
-3.8 % for 2, 4, 8, 16 and 32 voxels per tile, observed order 0.76 against
``2 lambda = 0.78`` (contrast 4: order 1.17 against 1.18; contrast 100:
0.19 against 0.25, -44 % at 32 voxels per tile). A checkerboard of single
voxels has only mixed faces, each of the harmonic-mean conductance, and the
network returns the harmonic mean ``2 s1 s2 / (s1 + s2)`` (to 0.47 / N on
N x N voxels): 42.5 % below ``sqrt(s1 s2)`` at contrast 10. Resolve tiles by
tens of voxels, or extrapolate.

Keller's reciprocity ``sigma_x(s1, s2) sigma_y(s2, s1) = s1 s2`` (square
sample, phases swapped, electrodes turned by 90 deg) is an identity of the
continuum only; the voxel network's planar dual is not the voxel network of
the swapped image. Measured on a random 16 x 16 pixel image at contrast 10:
-34 % with one voxel per pixel, -20, -11, -6.4 and -3.6 % with 2, 4, 8, 16
voxels per pixel (orders 0.74-0.84, about the checkerboard's); at contrast 4, -15, -7.2, -3.1,
-1.3, -0.54 %. Only the converged product is asserted.

The Wiener bounds (harmonic and arithmetic means of the voxel
conductivities) hold exactly for the network of any image between face
electrodes: Thomson's principle with a uniform trial current gives the
lower one, Dirichlet's principle with a linear trial potential and the
harmonic mean of two half-voxels being at most their arithmetic mean the
upper one. The Hashin-Shtrikman bounds hold for statistically isotropic
infinite media; a finite thresholded Gaussian field is close to that, and
the network lies well inside them (at 30-85 % of the interval for volume
fractions 0.3-0.7, contrasts 10 and 100 and correlation lengths 1.5 and 3
voxels on 64^3): nothing here approaches the bounds closely enough for
discretisation to cross them.

Cost: 1.5-8 s on two cores, depending on their load; most of it the two 40^3
AMG solves and the 256^2 checkerboard.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from forward.conduction import (
    Conductivity,
    Electrode,
    conductivity_field,
    effective_conductivity,
    field_from_labels,
    layered_tensor,
    solve,
    thesis_conductivities,
)
from twin import materials
from twin.container import Twin
from validation.report import Check
from xtwin import arguments

#: Relative tolerance of cases that are exact for the network: round-off of the solve, with margin.
EXACT_REL = 1e-9

#: Parameters of the anisotropic cases: seeds/003's ratio sigma_ip / sigma_op = 1e3.
SIGMA_IP, ANISOTROPY = 100.0, 1e3
SIGMA_OP = SIGMA_IP / ANISOTROPY

#: Checkerboard: contrast, tiles per side (even: the continuum square is then exact, see checkerboard()),
#: voxels per tile of the coarse and fine grids.
CHECKER_CONTRAST, CHECKER_TILES, CHECKER_COARSE, CHECKER_FINE = 10.0, 8, 16, 32


# ---------------------------------------------------------------------------------------- closed forms
def checkerboard(tiles: int, voxels_per_tile: int) -> np.ndarray:
    """Labels (0, 1) of a square checkerboard of ``tiles`` x ``tiles`` square tiles, int32.

    With an even number of tiles per side a 90 deg rotation of the square
    swaps the phases, so Keller's reciprocity on the square gives
    ``sigma_eff^2 = s1 s2`` exactly in the continuum, electrodes and all.
    """
    tiles = arguments.integer("tiles", tiles, minimum=1)
    n = arguments.integer("voxels_per_tile", voxels_per_tile, minimum=1)
    i = np.arange(tiles * n) // n
    return ((i[:, None] + i[None, :]) % 2).astype(np.int32)


def corner_exponent(sigma_1: float, sigma_2: float) -> float:
    """Exponent ``lambda`` of the potential ``r^lambda`` at a checkerboard corner.

    ``lambda = (2/pi) arccos(|s1 - s2| / (s1 + s2))`` (equivalently
    ``(4/pi) arctan sqrt(s_min / s_max)``): 1 for equal phases, 0 for an
    infinite contrast. Energy errors of a grid of spacing h fall as
    ``h^(2 lambda)``.
    """
    s1, s2 = (arguments.positive(n, v) for n, v in (("sigma_1", sigma_1), ("sigma_2", sigma_2)))
    return float(2 / np.pi * np.arccos(abs(s1 - s2) / (s1 + s2)))


def hashin_shtrikman_bounds(fraction_1: float, sigma_1: float, sigma_2: float, ndim: int = 3
                            ) -> tuple[float, float]:
    """Hashin-Shtrikman bounds on the conductivity of an isotropic two-phase medium.

    ``HS(s_a, s_b) = s_a + f_b / (1 / (s_b - s_a) + f_a / (d s_a))``: the lower
    bound with ``s_a`` the smaller conductivity, the upper with the larger
    (Hashin and Shtrikman, J. Appl. Phys. 33 (1962) 3125; ``d`` the dimension).

    Returns
    -------
    (lower, upper) : tuple of float
    """
    f1 = arguments.in_range("fraction_1", fraction_1, 0.0, 1.0)
    s1, s2 = (arguments.positive(n, v) for n, v in (("sigma_1", sigma_1), ("sigma_2", sigma_2)))
    f2 = 1.0 - f1

    def bound(sa, fa, sb, fb):
        return sa if sa == sb or fb == 0 else sa + fb / (1.0 / (sb - sa) + fa / (ndim * sa))

    a, b = bound(s1, f1, s2, f2), bound(s2, f2, s1, f1)
    return min(a, b), max(a, b)


def wiener_bounds(fraction_1: float, sigma_1: float, sigma_2: float) -> tuple[float, float]:
    """Harmonic and arithmetic means of a two-phase medium (Wiener bounds), ``(lower, upper)``."""
    f1 = arguments.in_range("fraction_1", fraction_1, 0.0, 1.0)
    s1, s2 = (arguments.positive(n, v) for n, v in (("sigma_1", sigma_1), ("sigma_2", sigma_2)))
    return 1.0 / (f1 / s1 + (1 - f1) / s2), f1 * s1 + (1 - f1) * s2


def rotated_c_axis(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Image of the crystal c-axis ``e_z`` under the rotation by ``angle_rad`` about ``axis`` (Rodrigues).

    ``R e_z = e_z cos a + (u x e_z) sin a + u (u . e_z)(1 - cos a)``; written
    out here so that the reference does not go through
    :mod:`twin.orientations`.
    """
    u = np.asarray(axis, dtype=float)
    u = u / np.linalg.norm(u)
    ez = np.array([0.0, 0.0, 1.0])
    return ez * np.cos(angle_rad) + np.cross(u, ez) * np.sin(angle_rad) + u * u[2] * (1 - np.cos(angle_rad))


def rotation_matrix(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rotation matrix by ``angle_rad`` about unit ``axis`` (Rodrigues' formula), 3 x 3."""
    u = np.asarray(axis, dtype=float)
    u = u / np.linalg.norm(u)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def single_crystal(shape: tuple[int, ...], quaternion: np.ndarray, voxel_size_um: float = 0.05) -> Twin:
    """A twin that is one grain of Na-beta''-alumina with orientation ``quaternion`` filling ``shape``."""
    return Twin(labels=np.ones(shape, np.uint8), voxel_size_um=voxel_size_um,
                phases={1: materials.get("Na-beta''-alumina")}, grain_ids=np.zeros(shape, np.int32),
                orientations=np.asarray(quaternion, dtype=float).reshape(1, 4))


def _quaternion(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    u = np.asarray(axis, dtype=float)
    u = u / np.linalg.norm(u)
    return np.concatenate([[np.cos(angle_rad / 2)], np.sin(angle_rad / 2) * u])


def _sigma_eff(labels: np.ndarray, sigmas: dict, axis: int, *, voxel_size_um: float = 1.0,
               thickness_um: float | None = None, method: str = "auto") -> float:
    field = field_from_labels(labels, sigmas, voxel_size_um=voxel_size_um, thickness_um=thickness_um)
    return effective_conductivity(field, axis, method=method).sigma_eff_S_per_m


# ---------------------------------------------------------------------------------------- the checks
def checks(seed: int = 0) -> list[Check]:
    """Run every analytic case and return its checks.

    Parameters
    ----------
    seed : int
        Seed of the random images (Keller reciprocity, Hashin-Shtrikman).

    Returns
    -------
    list of Check

    Notes
    -----
    Cost: 1.5-8 s on two cores (two 40^3 AMG solves, a 256^2 and a
    128^2 checkerboard, small grids otherwise).
    """
    seed = arguments.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)
    out: list[Check] = []
    out += _slab_checks()
    out += _layer_checks()
    out += _checkerboard_checks()
    out += _keller_checks(rng)
    out += _tilted_crystal_checks()
    out += _thesis_checks()
    out += _bounds_checks(rng)
    return out


def _slab_checks() -> list[Check]:
    out = []
    sigma, volts = 3.7, 2.5
    why = ("uniform slab between face electrodes: I = sigma A V / L exactly for the network (every row is "
           f"the same chain of half-voxel resistors); tolerance {EXACT_REL:g} = solver round-off with margin")
    # 2D: 20 x 30 voxels of 0.5 um, 2 um thick, current along x (array axis 1).
    voxel, thickness = 0.5, 2.0
    field = field_from_labels(np.ones((20, 30), np.int32), {1: sigma}, voxel_size_um=voxel,
                              thickness_um=thickness)
    sol = solve(field, [Electrode("in", volts, face=(1, "low")), Electrode("out", 0.0, face=(1, "high"))])
    area, length = 20 * voxel * thickness * 1e-12, 30 * voxel * 1e-6
    out.append(Check("uniform_slab_2d_current", sol.total_current_A, EXACT_REL, why,
                     truth=sigma * area * volts / length, unit="A"))
    # 3D: 8 x 10 x 12 voxels of 0.2 um, current along z (array axis 0).
    voxel = 0.2
    field = field_from_labels(np.ones((8, 10, 12), np.int32), {1: sigma}, voxel_size_um=voxel)
    sol = solve(field, [Electrode("in", volts, face=(0, "low")), Electrode("out", 0.0, face=(0, "high"))])
    area, length = 10 * 12 * (voxel * 1e-6) ** 2, 8 * voxel * 1e-6
    out.append(Check("uniform_slab_3d_current", sol.total_current_A, EXACT_REL, why,
                     truth=sigma * area * volts / length, unit="A"))
    # Voxel (mask) electrodes: the first and last columns are metal, the sample between them is L = (n - 2) h.
    labels = np.ones((12, 16), np.int32)
    field = field_from_labels(labels, {1: sigma}, voxel_size_um=1.0)
    left, right = np.zeros(labels.shape, bool), np.zeros(labels.shape, bool)
    left[:, 0], right[:, -1] = True, True
    sol = solve(field, [Electrode("in", volts, mask=left), Electrode("out", 0.0, mask=right)])
    out.append(Check("uniform_slab_voxel_electrodes_current", sol.total_current_A, EXACT_REL,
                     why + "; voxel electrodes are ideal metal, so L is the gap between the electrode columns",
                     truth=sigma * (12 * 1e-12) * volts / (14 * 1e-6), unit="A"))
    return out


def _layer_checks() -> list[Check]:
    out = []
    sigmas = np.array([1.0, 10.0, 0.5, 3.0])
    widths = np.array([3, 5, 2, 4])
    table = {i: s for i, s in enumerate(sigmas)}
    strip = np.repeat(np.arange(len(sigmas)), widths).astype(np.int32)
    f = widths / widths.sum()
    harmonic, arithmetic = 1.0 / np.sum(f / sigmas), np.sum(f * sigmas)
    why_s = ("layers normal to the current, interfaces on voxel faces: resistances add, sigma_eff = "
             f"L / sum(l_i / sigma_i) exactly for the network; tolerance {EXACT_REL:g} (round-off)")
    why_p = ("layers along the current, interfaces on voxel faces: every layer carries its own uniform "
             f"current, sigma_eff = sum(f_i sigma_i) exactly; tolerance {EXACT_REL:g} (round-off)")
    series_2d = np.broadcast_to(strip[None, :], (7, strip.size)).copy()        # varies along x
    out.append(Check("layers_series_2d_sigma_eff", _sigma_eff(series_2d, table, 1, thickness_um=0.3),
                     EXACT_REL, why_s, truth=harmonic, unit="S/m"))
    out.append(Check("layers_parallel_2d_sigma_eff", _sigma_eff(series_2d.T.copy(), table, 1, thickness_um=0.3),
                     EXACT_REL, why_p, truth=arithmetic, unit="S/m"))
    series_3d = np.broadcast_to(strip[:, None, None], (strip.size, 5, 6)).copy()  # varies along z
    out.append(Check("layers_series_3d_sigma_eff", _sigma_eff(series_3d, table, 0), EXACT_REL, why_s,
                     truth=harmonic, unit="S/m"))
    out.append(Check("layers_parallel_3d_sigma_eff", _sigma_eff(series_3d, table, 2), EXACT_REL, why_p,
                     truth=arithmetic, unit="S/m"))
    return out


def _checkerboard_checks() -> list[Check]:
    s1, s2 = 1.0, CHECKER_CONTRAST
    exact = np.sqrt(s1 * s2)
    lam = corner_exponent(s1, s2)
    coarse = _sigma_eff(checkerboard(CHECKER_TILES, CHECKER_COARSE), {0: s1, 1: s2}, 1)
    fine = _sigma_eff(checkerboard(CHECKER_TILES, CHECKER_FINE), {0: s1, 1: s2}, 1)
    e_coarse, e_fine = coarse / exact - 1, fine / exact - 1
    order = float(np.log2(e_coarse / e_fine))
    ratio = 2.0 ** (2 * lam)
    extrapolated = fine + (fine - coarse) / (ratio - 1)
    out = [
        Check("checkerboard_sigma_eff", fine, 0.05,
              f"2D checkerboard, {CHECKER_TILES} x {CHECKER_TILES} tiles of {CHECKER_FINE}^2 voxels, contrast "
              f"{CHECKER_CONTRAST:g}: Dykhne/Keller sqrt(s1 s2), exact for the continuum square with an even "
              f"number of tiles; the network's error falls as (h / tile)^(2 lambda), 2 lambda = {2 * lam:.3f}, "
              "and measures -3.8 % here (-6.4 % at 16, -10.8 % at 8 voxels per tile); tolerance 5 %",
              truth=exact, unit="S/m"),
        Check("checkerboard_convergence_order", order, 0.05,
              f"observed order log2(err({CHECKER_COARSE}) / err({CHECKER_FINE})) of the checkerboard error "
              f"against the corner-singularity order 2 lambda = (4/pi) arccos(|s1 - s2| / (s1 + s2)); measured "
              "0.745 and 0.760 for 8 -> 16 -> 32 voxels per tile, approaching it from below; tolerance 0.05",
              truth=2 * lam, comparison="abs"),
        Check("checkerboard_extrapolated_sigma_eff", extrapolated, 0.005,
              f"Richardson extrapolation of the {CHECKER_COARSE}- and {CHECKER_FINE}-voxel tiles with the "
              "known order 2 lambda: the discretisation error removed, sqrt(s1 s2) recovered to 0.13 %; "
              "tolerance 0.5 % (the next term of the expansion)", truth=exact, unit="S/m"),
    ]
    n = 64
    single = _sigma_eff(checkerboard(n, 1), {0: s1, 1: s2}, 1)
    out.append(Check("checkerboard_single_voxel_tiles_harmonic_mean", single, 1.0 / n,
                     f"a checkerboard of single voxels ({n} x {n}) has only mixed faces, each of the conductance of "
                     "the harmonic mean, so the network gives 2 s1 s2 / (s1 + s2), not sqrt(s1 s2) (42.5 % "
                     "lower at contrast 10); the ends of the rows add 0.47 / N; tolerance 1 / N",
                     truth=2 * s1 * s2 / (s1 + s2), unit="S/m"))
    return out


def _keller_checks(rng: np.random.Generator) -> list[Check]:
    contrast, pixels, refine = 4.0, 16, 8
    base = (rng.random((pixels, pixels)) < 0.5).astype(np.int32)
    image = np.kron(base, np.ones((refine, refine), np.int32))
    product = (_sigma_eff(image, {0: 1.0, 1: contrast}, 1) * _sigma_eff(image, {0: contrast, 1: 1.0}, 0)
               / contrast)
    return [Check("keller_reciprocity_random_image", product, 0.02,
                  f"Keller: sigma_x(s1, s2) sigma_y(s2, s1) = s1 s2 on a square, any two-phase image; here a "
                  f"random {pixels} x {pixels} pixel image refined to {refine} x {refine} voxels per pixel, "
                  f"contrast {contrast:g}. Not an identity of the voxel network (-15 % with 1 voxel per pixel); "
                  "the error falls with refinement at order 1.2-1.3 (-7.2, -3.1, -1.3, -0.54 % for 2, 4, 8, "
                  "16 voxels per pixel; the checkerboard corner order is 1.18): -1.0 to -1.4 % over seeds 0-5; "
                  "tolerance 2 %", truth=1.0)]


def _tilted_crystal_checks() -> list[Check]:
    out = []
    axis, angle = np.array([1.0, 2.0, 3.0]), 0.7
    c = rotated_c_axis(axis, angle)
    rotation = rotation_matrix(axis, angle)
    reference = rotation @ np.diag([SIGMA_IP, SIGMA_IP, SIGMA_OP]) @ rotation.T
    tensor_error = float(np.abs(layered_tensor(c[None], SIGMA_IP, SIGMA_OP)[0] - reference).max() / SIGMA_IP)
    out.append(Check("tilted_crystal_tensor_vs_rotation", tensor_error, 1e-12,
                     "layered_tensor(c) against R diag(s_ip, s_ip, s_op) R^T with R from Rodrigues' formula "
                     "(rotation of 0.7 rad about (1, 2, 3)); max abs difference / s_ip; round-off",
                     comparison="max"))
    conductivity = Conductivity(sigma_ip_S_per_m=SIGMA_IP, anisotropy=ANISOTROPY, model="tensor")
    twin = single_crystal((6, 7, 8), _quaternion(axis, angle))
    field = conductivity_field(twin, conductivity)
    why = ("one tilted layered crystal between two opposite face electrodes: the field is uniform and the "
           "network (diagonal of the tensor) gives sigma_kk = s_ip (1 - c_k^2) + s_op c_k^2 exactly, c from "
           f"Rodrigues' formula; s_ip / s_op = {ANISOTROPY:g}; tolerance {EXACT_REL:g} (round-off)")
    for name, array_axis, k in (("x", 2, 0), ("y", 1, 1), ("z", 0, 2)):
        sigma = effective_conductivity(field, array_axis).sigma_eff_S_per_m
        out.append(Check(f"tilted_crystal_3d_sigma_{name}", sigma, EXACT_REL, why,
                         truth=SIGMA_IP * (1 - c[k] ** 2) + SIGMA_OP * c[k] ** 2, unit="S/m"))
    # 2D thin film, arbitrary orientation: Sherman-Morrison inverse of the in-plane resistivity block,
    # sigma_pp = s_ip [I - k c_p c_p^T / (1 + k |c_p|^2)] with k = s_ip / s_op - 1.
    twin2 = single_crystal((9, 11), _quaternion(axis, angle))
    field2 = conductivity_field(twin2, conductivity.replace(model="thin_film"))
    kk, r2 = ANISOTROPY - 1, c[0] ** 2 + c[1] ** 2
    for name, array_axis, k in (("x", 1, 0), ("y", 0, 1)):
        sigma = effective_conductivity(field2, array_axis).sigma_eff_S_per_m
        out.append(Check(f"tilted_crystal_thin_film_sigma_{name}", sigma, EXACT_REL,
                         "thin film (J_z = 0): the in-plane tensor is [(Sigma^-1)_pp]^-1; by Sherman-Morrison "
                         "its diagonal is s_ip (1 - k c_i^2 / (1 + k (c_x^2 + c_y^2))), k = s_ip / s_op - 1; "
                         f"uniform field, exact for the network; tolerance {EXACT_REL:g}",
                         truth=SIGMA_IP * (1 - kk * c[k] ** 2 / (1 + kk * r2)), unit="S/m"))
    # Thin film with the trace of the plane along x and a tilt alpha: sigma_ip along, series across.
    alpha = np.deg2rad(35.0)
    twin3 = single_crystal((9, 11), _quaternion([1.0, 0.0, 0.0], -alpha))   # c = (0, sin a, cos a)
    field3 = conductivity_field(twin3, conductivity.replace(model="thin_film"))
    across = 1.0 / (np.cos(alpha) ** 2 / SIGMA_IP + np.sin(alpha) ** 2 / SIGMA_OP)
    why = ("thin-film model, conduction plane tilted by 35 deg out of the film with its trace along x: "
           "sigma_ip along the trace, 1 / (cos^2 a / s_ip + sin^2 a / s_op) across it (in series); uniform "
           f"field, exact for the network; tolerance {EXACT_REL:g}")
    out.append(Check("thin_film_along_trace_sigma", effective_conductivity(field3, 1).sigma_eff_S_per_m,
                     EXACT_REL, why, truth=SIGMA_IP, unit="S/m"))
    out.append(Check("thin_film_across_trace_sigma", effective_conductivity(field3, 0).sigma_eff_S_per_m,
                     EXACT_REL, why, truth=across, unit="S/m"))
    return out


def _thesis_c_axis(theta_deg: float, alpha_deg: float) -> np.ndarray:
    """c-axis of a plane whose trace makes ``theta`` with x and which is tilted by ``alpha`` out of the section."""
    t, a = np.deg2rad(theta_deg), np.deg2rad(alpha_deg)
    return np.array([-np.sin(t) * np.sin(a), np.cos(t) * np.sin(a), np.cos(a)])


def _thesis_checks() -> list[Check]:
    out = []
    why = ("seeds/003 section 4.2.2 Equation 4-1 evaluated at a special orientation; closed form; round-off "
           "tolerance 1e-12")
    cases = (("thesis_eq41_trace_x_upright", 0.0, 90.0, SIGMA_IP, SIGMA_OP,
              "theta = 0, alpha = 90 deg: sigma_x = sigma_ip, sigma_y = sigma_op"),
             ("thesis_eq41_trace_y_upright", 90.0, 90.0, SIGMA_OP, SIGMA_IP,
              "theta = 90 deg, alpha = 90 deg: sigma_x = sigma_op, sigma_y = sigma_ip"),
             ("thesis_eq41_plane_in_film", 0.0, 0.0, SIGMA_IP, SIGMA_IP,
              "plane in the film (alpha = 0): sigma_ip in both directions"))
    for name, theta, alpha, sx, sy, text in cases:
        got = thesis_conductivities(_thesis_c_axis(theta, alpha)[None], SIGMA_IP, SIGMA_OP)[0]
        out.append(Check(f"{name}_sigma_x", got[0], 1e-12, f"{why}: {text}", truth=sx, unit="S/m"))
        out.append(Check(f"{name}_sigma_y", got[1], 1e-12, f"{why}: {text}", truth=sy, unit="S/m"))
    alpha = 35.0
    got = thesis_conductivities(_thesis_c_axis(0.0, alpha)[None], SIGMA_IP, SIGMA_OP)[0]
    a = np.deg2rad(alpha)
    out.append(Check("thesis_eq41_across_trace_parallel", got[1], 1e-12,
                     f"{why}: theta = 0, alpha = 35 deg: across the trace Eq. 4-1 interpolates linearly, "
                     "sigma_ip cos a + sigma_op sin a (the thin-film model adds in series instead)",
                     truth=SIGMA_IP * np.cos(a) + SIGMA_OP * np.sin(a), unit="S/m"))
    # The network with model "thesis" uses (sigma_x, sigma_y) as the diagonal: a uniform crystal gives them back.
    theta, alpha = 30.0, 50.0
    c = _thesis_c_axis(theta, alpha)
    q = _quaternion(np.cross([0.0, 0.0, 1.0], c), np.arccos(c[2]))     # takes e_z onto c
    field = conductivity_field(single_crystal((9, 11), q),
                               Conductivity(sigma_ip_S_per_m=SIGMA_IP, anisotropy=ANISOTROPY, model="thesis"))
    t, a = np.deg2rad(theta), np.deg2rad(alpha)
    sx = SIGMA_OP * abs(np.sin(a) * np.sin(t)) + SIGMA_IP * (abs(np.cos(t)) + abs(np.cos(a) * np.sin(t)))
    sy = SIGMA_IP * (abs(np.sin(t)) + abs(np.cos(a) * np.cos(t))) + SIGMA_OP * abs(np.sin(a) * np.cos(t))
    for name, array_axis, truth in (("x", 1, sx), ("y", 0, sy)):
        out.append(Check(f"thesis_network_sigma_{name}", effective_conductivity(field, array_axis).sigma_eff_S_per_m,
                         EXACT_REL, "one crystal (theta = 30 deg, alpha = 50 deg) under model 'thesis' between "
                         "opposite faces: the network returns Eq. 4-1 written out from seeds/003; uniform "
                         f"field; tolerance {EXACT_REL:g}", truth=truth, unit="S/m"))
    return out


def _bounds_checks(rng: np.random.Generator) -> list[Check]:
    n, correlation = 40, 1.5
    noise = ndimage.gaussian_filter(rng.standard_normal((n, n, n)), correlation, mode="wrap")
    image = (noise > np.median(noise)).astype(np.int32)
    f1 = float(np.mean(image == 0))
    out = []
    for contrast in (10.0, 100.0):
        sigma = _sigma_eff(image, {0: 1.0, 1: contrast}, 0, method="amg")
        hs_lo, hs_hi = hashin_shtrikman_bounds(f1, 1.0, contrast, 3)
        w_lo, w_hi = wiener_bounds(f1, 1.0, contrast)
        tag = f"contrast_{contrast:g}"
        out.append(Check(f"hashin_shtrikman_position_{tag}", (sigma - hs_lo) / (hs_hi - hs_lo), 0.5,
                         f"random isotropic two-phase medium ({n}^3 thresholded Gaussian noise, correlation "
                         f"{correlation} voxels, phase fractions 0.5, contrast {contrast:g}): position of the "
                         "network's sigma_eff in the Hashin-Shtrikman interval (0 lower, 1 upper bound) must lie "
                         "in [0, 1]; measured 0.48-0.54 (contrast 10) and 0.54-0.59 (contrast 100) over seeds "
                         "0-5, 0.52 and 0.58 on 64^3: far from either bound, so discretisation does not threaten "
                         "them", truth=0.5, comparison="abs"))
        out.append(Check(f"wiener_position_{tag}", (sigma - w_lo) / (w_hi - w_lo), 0.5,
                         "the same medium in the Wiener interval (harmonic to arithmetic mean), which bounds the "
                         "network of any image between face electrodes exactly (Thomson's and Dirichlet's "
                         "principles); must lie in [0, 1]", truth=0.5, comparison="abs"))
    return out
