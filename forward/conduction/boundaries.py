"""Grain boundaries in a solved network: currents, potential drops, and their type relative to the field.

seeds/003 (section 4.5) reads the computed current density as an
indicator of where Na filaments nucleate: neighbouring grains that carry
very different currents build an excess potential across their boundary.
Section 4.4 (Figure 4.12) sorts boundaries by the angle between the two
grains' conduction planes, parallel (type I), perpendicular (type II) or
oblique (type III), and by how the external field drives ions in each
grain relative to the boundary: across it (black arrows), not towards it
at all (cyan), or into it from one side with no way on (red/orange
"blockade", types II b1 and III a2, where filaments were seen).

:func:`boundary_table` quantifies both for every pair of touching grains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from forward.conduction.network import NetworkSolution
from forward.conduction.properties import ConductivityField
from xtwin import arguments

#: Plane angles (deg) below which two grains' conduction planes count as parallel (type I) and above which
#: as perpendicular (type II); between them oblique (type III). Figure 4.12 draws the ideal cases; the
#: 15-degree margin is our choice.
PARALLEL_BELOW_DEG, PERPENDICULAR_ABOVE_DEG = 15.0, 75.0
#: A grain "drives ions across" the boundary when the normal component of its current for the local field
#: direction exceeds this fraction of its largest conductivity; below it the grain carries (almost) nothing
#: across. 0.1 is our choice: it separates sigma_ip-carried from sigma_op-carried (1e-3) flux robustly.
DRIVE_FRACTION = 0.1
BEHAVIOURS = ("across", "blocked", "none")


@dataclass(frozen=True, eq=False)
class BoundaryTable:
    """Per grain-boundary quantities of a solved network (one row per pair of touching grains).

    Attributes
    ----------
    grains : ndarray of int, shape (m, 2)
        Grain ids ``(i, j)``, ``i < j``.
    face_count : ndarray of int, shape (m,)
        Voxel faces the two grains share.
    current_A : ndarray, shape (m,)
        Net current through the boundary from grain i to grain j, A.
    gb_drop_V : ndarray, shape (m,)
        Largest potential drop across the boundary layer itself (its
        resistor ``R_GB`` times a face's current), V: the excess potential
        of seeds/003 section 4.5.
    node_drop_V : ndarray, shape (m,)
        Largest potential difference between voxel centres on either side
        of the boundary, V.
    current_density_A_per_m2 : ndarray, shape (m, 2)
        Mean current-density magnitude in the voxels of grain i and of
        grain j that touch the boundary, A/m^2.
    contrast : ndarray, shape (m,)
        ``|J_i - J_j| / max(J_i, J_j)`` of those means (0: equal on both
        sides, as in an isotropic conductor; 1: one side carries nothing).
    plane_angle_deg : ndarray, shape (m,)
        Angle between the grains' conduction planes (0-90 deg).
    type : ndarray of str, shape (m,)
        ``"I"`` (parallel), ``"II"`` (perpendicular) or ``"III"`` (oblique),
        Figure 4.12 of seeds/003, with the thresholds of this module.
    field_angle_deg : ndarray, shape (m,)
        Angle between the local electric field (mean over the voxels on
        both sides) and the boundary normal, 0-90 deg.
    behaviour : ndarray of str, shape (m,)
        ``"across"``: the upstream grain drives ions into the boundary and
        the downstream grain carries them on; ``"blocked"``: the upstream
        grain drives ions in but the downstream one cannot carry them on or
        drives them back (II b1, III a2); ``"none"``: the upstream grain
        drives (almost) no ions towards the boundary (the cyan cases). The
        drive of a grain is ``n . Sigma e / lambda_max(Sigma)`` with ``e``
        the unit local field and ``n`` the normal pointing downstream.
    """

    grains: np.ndarray
    face_count: np.ndarray
    current_A: np.ndarray
    gb_drop_V: np.ndarray
    node_drop_V: np.ndarray
    current_density_A_per_m2: np.ndarray
    contrast: np.ndarray
    plane_angle_deg: np.ndarray
    type: np.ndarray
    field_angle_deg: np.ndarray
    behaviour: np.ndarray

    def __len__(self) -> int:
        return len(self.grains)

    def top(self, n: int = 5, by: str = "gb_drop_V") -> np.ndarray:
        """Row indices of the ``n`` boundaries with the largest ``by`` (a numeric column)."""
        n = arguments.integer("n", n, minimum=0)
        column = getattr(self, arguments.one_of("by", by, ("gb_drop_V", "node_drop_V", "contrast", "current_A")))
        return np.argsort(-np.abs(column), kind="stable")[:n]

    def rows(self, index=None) -> list[dict]:
        """Rows as dictionaries (for tables and JSON)."""
        index = range(len(self)) if index is None else index
        return [{"grains": [int(g) for g in self.grains[r]], "face_count": int(self.face_count[r]),
                 "current_A": float(self.current_A[r]), "gb_drop_V": float(self.gb_drop_V[r]),
                 "node_drop_V": float(self.node_drop_V[r]),
                 "current_density_A_per_m2": [float(v) for v in self.current_density_A_per_m2[r]],
                 "contrast": float(self.contrast[r]), "plane_angle_deg": float(self.plane_angle_deg[r]),
                 "type": str(self.type[r]), "field_angle_deg": float(self.field_angle_deg[r]),
                 "behaviour": str(self.behaviour[r])} for r in index]


def boundary_table(field: ConductivityField, solution: NetworkSolution, *,
                   c_axes: np.ndarray | None = None) -> BoundaryTable:
    """Currents, drops and types of every grain boundary of a solved network.

    Parameters
    ----------
    field : ConductivityField
        The field the network was solved on (grain rows of its tensor table
        are the grains' section tensors).
    solution : NetworkSolution
        Its solution.
    c_axes : ndarray, shape (n_grains, 3), optional
        The grains' c-axes in sample ``(x, y, z)`` order
        (``twin.orientations.c_axes(twin.orientations)``), for the plane
        angle and type; without them those columns are NaN and ``""``.

    Returns
    -------
    BoundaryTable

    Notes
    -----
    Cost: O(N) over the voxel faces plus a sort of the boundary faces.
    """
    if not isinstance(field, ConductivityField) or not isinstance(solution, NetworkSolution):
        raise TypeError("boundary_table(field, solution): expected a ConductivityField and its NetworkSolution")
    if solution.potential_V.shape != field.shape:
        raise ValueError(f"solution: grid {solution.potential_V.shape} differs from the field's {field.shape}")
    ids = field.grain_ids.astype(np.int64)
    n_grains = int(ids.max()) + 1 if ids.size and ids.max() >= 0 else 0
    ndim = field.ndim
    magnitude = np.sqrt((solution.current_density_A_per_m2 ** 2).sum(axis=0))
    efield = np.nan_to_num(solution.electric_field_V_per_m)

    keys, current, gb_drop, node_drop, normal, e_sum, side_j = [], [], [], [], [], [], []
    r_gb = field.gb_resistance_ohm_m2 / field.face_area_m2
    for k in range(ndim):
        lo = tuple(slice(None, -1) if a == k else slice(None) for a in range(ndim))
        hi = tuple(slice(1, None) if a == k else slice(None) for a in range(ndim))
        a, b = ids[lo], ids[hi]
        face = (a != b) & (a >= 0) & (b >= 0)
        ga, gb_ = a[face], b[face]
        swap = ga > gb_                                   # orient every face from the smaller id i to j
        keys.append(np.where(swap, gb_, ga) * n_grains + np.where(swap, ga, gb_))
        i_face = solution.face_current_A[k][face]
        current.append(np.where(swap, -i_face, i_face))
        gb_drop.append(np.abs(i_face) * r_gb)
        phi = solution.potential_V
        node_drop.append(np.abs(phi[lo][face] - phi[hi][face]))
        unit = np.zeros((face.sum(), ndim))
        unit[:, k] = np.where(swap, -1.0, 1.0)
        normal.append(unit)
        ja, jb = magnitude[lo][face], magnitude[hi][face]
        side_j.append(np.stack([np.where(swap, jb, ja), np.where(swap, ja, jb)], axis=1))
        e_sum.append(efield[(slice(None),) + lo][:, face].T + efield[(slice(None),) + hi][:, face].T)
    keys = np.concatenate(keys)
    pairs, inverse, face_count = np.unique(keys, return_inverse=True, return_counts=True)
    m = len(pairs)
    grains = np.stack([pairs // max(n_grains, 1), pairs % max(n_grains, 1)], axis=1).astype(np.int64)

    def per_pair(values: np.ndarray, how: str) -> np.ndarray:
        if how == "sum":
            return np.bincount(inverse, values, m)
        out = np.zeros(m)
        np.maximum.at(out, inverse, values)
        return out

    current_A = per_pair(np.concatenate(current), "sum")
    gb_drop_V = per_pair(np.concatenate(gb_drop), "max")
    node_drop_V = per_pair(np.nan_to_num(np.concatenate(node_drop)), "max")
    normals = np.stack([per_pair(c, "sum") for c in np.concatenate(normal).T], axis=1)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-300)
    local_e = np.stack([per_pair(c, "sum") for c in np.concatenate(e_sum).T], axis=1)
    j_pair = np.stack([per_pair(c, "sum") for c in np.concatenate(side_j).T], axis=1) / face_count[:, None] \
        if m else np.zeros((0, 2))

    tensors = field.tensors_S_per_m[:n_grains]
    if c_axes is None:
        plane, kind = np.full(m, np.nan), np.full(m, "")
    else:
        c = arguments.array("c_axes", c_axes, shape=(n_grains, 3), dtype_kind="f", finite=True)
        dot = np.abs(np.einsum("ma,ma->m", c[grains[:, 0]], c[grains[:, 1]]))
        plane = np.degrees(np.arccos(np.clip(dot, 0, 1)))
        kind = np.where(plane < PARALLEL_BELOW_DEG, "I", np.where(plane > PERPENDICULAR_ABOVE_DEG, "II", "III"))
    e_norm = np.linalg.norm(local_e, axis=1)
    e_unit = local_e / np.maximum(e_norm, 1e-300)[:, None]
    cos_field = np.einsum("md,md->m", e_unit, normals)
    field_angle = np.degrees(np.arccos(np.clip(np.abs(cos_field), 0, 1)))
    # Orient the normal downstream (along the field): the upstream grain is i where n . E >= 0, else j.
    downstream = np.where(cos_field >= 0, 1.0, -1.0)[:, None] * normals
    up = np.where(cos_field >= 0, grains[:, 0], grains[:, 1])
    down = np.where(cos_field >= 0, grains[:, 1], grains[:, 0])
    drive_up, drive_down = (_drive(tensors[g], e_unit, downstream) for g in (up, down))
    behaviour = np.where(drive_up <= DRIVE_FRACTION, "none",
                         np.where(drive_down > DRIVE_FRACTION, "across", "blocked"))
    behaviour = np.where(e_norm > 0, behaviour, "none")
    contrast = np.abs(j_pair[:, 0] - j_pair[:, 1]) / np.maximum(j_pair.max(axis=1, initial=0), 1e-300)
    return BoundaryTable(grains=grains, face_count=face_count.astype(np.int64), current_A=current_A,
                         gb_drop_V=gb_drop_V, node_drop_V=node_drop_V, current_density_A_per_m2=j_pair,
                         contrast=contrast, plane_angle_deg=plane, type=kind.astype("<U3"),
                         field_angle_deg=field_angle, behaviour=behaviour.astype("<U7"))


def _drive(tensors: np.ndarray, e_unit: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """``n . Sigma e / lambda_max(Sigma)`` for each row."""
    flux = np.einsum("mab,mb->ma", tensors, e_unit)
    return np.einsum("ma,ma->m", flux, normal) / np.linalg.eigvalsh(tensors)[:, -1]
