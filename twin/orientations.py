"""Crystal orientations as unit quaternions: sampling, textures and misorientation.

Convention: a quaternion ``q = (w, x, y, z)`` (scalar first) rotates crystal
coordinates into sample coordinates, ``v_sample = R(q) v_crystal``; the
crystal c-axis ``[0, 0, 1]`` of a layered material (Na-beta''-alumina, NMC)
is the normal of its conduction planes, so ``c_axes(q)`` gives the plane
normals in the sample frame. Sample axes are ``(x, y, z)``, matching the
twin's array axes ``[z, y, x]`` read backwards. Quaternions are returned
with ``w >= 0`` (q and -q are the same rotation).
"""

from __future__ import annotations

import numpy as np

from xtwin import arguments


def _rng(rng: np.random.Generator | int) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _canonical(q: np.ndarray) -> np.ndarray:
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def random_quaternions(n: int, rng: np.random.Generator | int = 0) -> np.ndarray:
    """``n`` orientations uniformly distributed on SO(3), shape (n, 4).

    Shoemake's subgroup algorithm (Graphics Gems III, 1992): three uniform
    variates give a quaternion uniform on the unit 3-sphere, hence a
    rotation uniform in the Haar measure; c-axes are then uniform on the
    unit sphere.
    """
    n = arguments.integer("n", n, minimum=0)
    u1, u2, u3 = _rng(rng).random((3, n))
    a, b = np.sqrt(1 - u1), np.sqrt(u1)
    q = np.stack([b * np.cos(2 * np.pi * u3), a * np.sin(2 * np.pi * u2), a * np.cos(2 * np.pi * u2),
                  b * np.sin(2 * np.pi * u3)], axis=1)
    return _canonical(q)


def from_axis_angle(axes: np.ndarray, angles_rad: np.ndarray) -> np.ndarray:
    """Quaternions of rotations by ``angles_rad`` about unit ``axes`` (n, 3)."""
    axes = np.asarray(axes, dtype=float)
    axes = axes / np.linalg.norm(axes, axis=-1, keepdims=True)
    half = 0.5 * np.asarray(angles_rad, dtype=float)[..., None]
    return np.concatenate([np.cos(half), np.sin(half) * axes], axis=-1)


def multiply(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product ``p q`` (rotation q first, then p), broadcasting over leading axes."""
    pw, px, py, pz = np.moveaxis(np.asarray(p, dtype=float), -1, 0)
    qw, qx, qy, qz = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    return np.stack([pw * qw - px * qx - py * qy - pz * qz, pw * qx + px * qw + py * qz - pz * qy,
                     pw * qy - px * qz + py * qw + pz * qx, pw * qz + px * qy - py * qx + pz * qw], axis=-1)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions, shape (..., 3, 3), crystal -> sample."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=float), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=-2)


def c_axes(q: np.ndarray) -> np.ndarray:
    """Crystal c-axes (conduction-plane normals of a layered crystal) in the sample frame, (..., 3)."""
    return to_matrix(q)[..., :, 2]


def rotation_taking(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Quaternions of the shortest rotations taking unit vectors ``a`` onto ``b`` (..., 3)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    a, b = np.broadcast_arrays(a, b)
    dot = np.sum(a * b, axis=-1)
    axis = np.cross(a, b)
    # Antiparallel vectors: any axis perpendicular to a will do.
    anti = dot < -1 + 1e-12
    if np.any(anti):
        helper = np.where(np.abs(a[anti][:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
        axis = axis.copy()
        axis[anti] = np.cross(a[anti], helper)
    q = np.concatenate([(1 + dot)[..., None], axis], axis=-1)
    q[anti] = np.concatenate([np.zeros((anti.sum(), 1)), axis[anti]], axis=-1)
    return _canonical(q)


def sample_fisher(n: int, mean_axis: np.ndarray, kappa: float, rng: np.random.Generator | int = 0) -> np.ndarray:
    """Unit vectors from the von Mises-Fisher distribution on the sphere, shape (n, 3).

    Density proportional to exp(kappa mu . v); kappa = 0 is uniform. The
    cosine to the mean axis is drawn by inverting its CDF exactly (Wood,
    Commun. Stat. Simul. 23 (1994) 157, the 3D case): w = 1 + ln(u + (1 - u)
    exp(-2 kappa)) / kappa. Its mean is coth(kappa) - 1/kappa.
    """
    n = arguments.integer("n", n, minimum=0)
    kappa = arguments.positive("kappa", kappa, allow_zero=True)
    g = _rng(rng)
    u, phi = g.random(n), 2 * np.pi * g.random(n)
    if kappa == 0:
        w = 2 * u - 1
    else:
        w = 1 + np.log(u + (1 - u) * np.exp(-2 * kappa)) / kappa
    s = np.sqrt(np.clip(1 - w * w, 0, None))
    local = np.stack([s * np.cos(phi), s * np.sin(phi), w], axis=1)
    turn = rotation_taking(np.array([0.0, 0.0, 1.0]), np.asarray(mean_axis, dtype=float))
    return local @ to_matrix(turn).T


def fibre_texture(n: int, fibre_axis: np.ndarray = (0.0, 0.0, 1.0), kappa: float = 10.0,
                  rng: np.random.Generator | int = 0) -> np.ndarray:
    """Orientations whose c-axes cluster around ``fibre_axis`` (a fibre texture), shape (n, 4).

    The c-axes follow a von Mises-Fisher distribution of concentration
    ``kappa`` about the fibre axis (0: uniform; 10: about 80 % within 37
    degrees); the rotation about each c-axis is uniform, as in a fibre
    texture. Strength is thus one number with a closed-form check:
    E[c . fibre_axis] = coth(kappa) - 1/kappa.
    """
    g = _rng(rng)
    c = sample_fisher(n, fibre_axis, kappa, g)
    spin = from_axis_angle(np.tile([0.0, 0.0, 1.0], (len(c), 1)), 2 * np.pi * g.random(len(c)))
    return _canonical(multiply(rotation_taking(np.array([0.0, 0.0, 1.0]), c), spin))


#: Proper rotations of the trigonal point group 32 (D3), the rotational part of -3m, the Laue class of the R-3m
#: layered oxides (NMC, LiCoO2) and of Na-beta''-alumina: three about c, three two-fold axes in the plane.
TRIGONAL_SYMMETRY = np.concatenate([
    from_axis_angle(np.tile([0.0, 0.0, 1.0], (3, 1)), np.arange(3) * 2 * np.pi / 3),
    from_axis_angle(np.stack([np.cos(np.arange(3) * np.pi / 3), np.sin(np.arange(3) * np.pi / 3),
                              np.zeros(3)], axis=1), np.full(3, np.pi)),
])

#: Proper rotations of the hexagonal point group 622 (D6), as quaternions: six about c, six two-fold in the plane.
HEXAGONAL_SYMMETRY = np.concatenate([
    from_axis_angle(np.tile([0.0, 0.0, 1.0], (6, 1)), np.arange(6) * np.pi / 3),
    from_axis_angle(np.stack([np.cos(np.arange(6) * np.pi / 6), np.sin(np.arange(6) * np.pi / 6),
                              np.zeros(6)], axis=1), np.full(6, np.pi)),
])


_SYMMETRIES = {"none": np.array([[1.0, 0.0, 0.0, 0.0]]), "trigonal": TRIGONAL_SYMMETRY,
               "hexagonal": HEXAGONAL_SYMMETRY}


def misorientation_deg(qa: np.ndarray, qb: np.ndarray, symmetry: str = "trigonal") -> np.ndarray:
    """Misorientation angle between orientations ``qa`` and ``qb`` (..., 4), degrees.

    The smallest rotation angle of ``qa^-1 qb`` over the proper rotations of
    the crystal's point group: ``"none"`` (0-180 deg), ``"trigonal"`` (32,
    for the R-3m structures of NMC and Na-beta''-alumina; at most 104.5
    deg) or ``"hexagonal"`` (622; at most 93.8 deg).
    """
    arguments.one_of("symmetry", symmetry, tuple(_SYMMETRIES))
    qa = np.asarray(qa, dtype=float)
    inv_a = qa * np.array([1.0, -1.0, -1.0, -1.0])
    delta = multiply(inv_a, np.asarray(qb, dtype=float))
    ops = _SYMMETRIES[symmetry]
    # The angle depends only on |w| of delta * s; crystal symmetry on one side suffices for the minimum angle.
    w = np.abs(multiply(delta[..., None, :], ops)[..., 0])
    return np.degrees(2 * np.arccos(np.clip(w.max(axis=-1), 0.0, 1.0)))


def plane_angle_deg(qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
    """Angle between the conduction planes (c-axes, sign ignored) of two orientations, degrees, 0-90."""
    dot = np.abs(np.sum(c_axes(qa) * c_axes(qb), axis=-1))
    return np.degrees(np.arccos(np.clip(dot, 0.0, 1.0)))
