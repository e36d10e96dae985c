"""Finite elements for DC conduction on the voxel grid: the cross-check of the resistor network.

The same boundary-value problem as :mod:`forward.conduction.network` (the
steady charge balance of seeds/003, section 4.2.2, whose pixel network is
its two-point-flux discretisation), ``div(Sigma grad phi) = 0`` in the
conducting voxels, ``phi = V_e`` on electrode ``e`` and ``J . n = 0`` on
every other surface, discretised by conforming Galerkin finite elements.

Weak form
    Find ``phi`` in ``H^1(Omega)``, ``Omega`` the interior of the union of
    conducting voxels, with ``phi = V_e`` on the electrodes, such that
    ``a(phi, v) = int_Omega grad(v)^T Sigma grad(phi) dV = 0`` for every
    test function ``v`` that vanishes on the electrodes. Insulating
    surfaces need nothing (natural condition); interfaces with blocking
    voxels are outer surfaces of ``Omega``.
Element
    Q1 Lagrange (bilinear in 2D, trilinear in 3D; fenics-basix
    ``ElementFamily.P``, degree 1, on the quadrilateral or hexahedron), one
    element per voxel, nodes at the voxel corners, so the potential is
    continuous. ``Sigma`` is constant in each voxel: the full tensor
    (off-diagonal terms included) or, with ``full_tensor=False``, its
    diagonal, which is the PDE the network discretises.
Pinch points
    Two conducting voxels that touch only at a corner (or, in 3D, along an
    edge) with blocking voxels around are not joined in ``Omega``: a point
    in 2D or a line in 3D has zero capacity, so no current crosses it in
    the continuum. Such a node gets one degree of freedom per group of
    face-connected voxels around it. (Sharing the node instead would pass
    an O(sigma t) current through the point at every resolution: the FEM
    would then converge to the continuum only logarithmically, and to a
    different limit than the network, which joins face neighbours only.)
Quadrature and assembly
    The element matrix of a voxel of edge ``h`` is linear in the tensor,
    ``K_e = (A / h) sum_ab Sigma_ab R^(ab)`` with ``A`` the face area
    (``h^2`` in 3D; ``h t`` for a 2D section of thickness ``t``, as the
    network's :attr:`ConductivityField.face_area_m2`) and ``R^(ab)_ij =
    int_[0,1]^d dN_i/dr_a dN_j/dr_b dr`` on the reference cell, computed
    once from basix's basis gradients with its degree-2 Gauss-Jacobi rule
    (2^d points; the integrand has degree 2 in each coordinate, so the rule
    is exact). Every distinct tensor of the field gets its ``K_e`` (a
    table); the global matrix is assembled without a loop over elements:
    for each pair of element nodes, all voxels' table entries become COO
    triplets at once (the upper triangle; the diagonal by ``bincount``),
    summed into a CSR matrix and mirrored, so it is exactly symmetric.
Cost
    Assembly: (2^d - 1) 2^(d-1) COO triplets per voxel (6 in 2D, 28 in 3D;
    ~16 bytes each, so ~0.5 GB at peak per million 3D voxels) and O(N)
    work, about 0.8 s for 500 x 500 and 0.5 s for 50^3 voxels here. The
    solve (:func:`forward.conduction.solvers.solve_spd`) is on about
    ``prod(shape + 1)`` unknowns with 9 (2D) or 27 (3D) nonzeros a row,
    against 5 or 7 for the network: with AMG-CG at 1e-10, 500 x 500
    random anisotropic voxels took 11 s against the network's 7 s on this
    loaded two-core machine (load average 4.7).

What differs from the network
    * The unknowns are potentials at voxel corners, not centres;
      :attr:`FemSolution.potential_voxel_V` is the Q1 field at the voxel
      centres (mean of the corners), for comparison on the network's grid.
    * The full tensor: a tilted layered grain drives a current across the
      field direction, which the network's diagonal conductances cannot
      represent (in a narrow channel along x the conductivity is
      ``1 / (Sigma^-1)_xx``, not ``Sigma_xx``).
    * No grain-boundary or contact resistance: an interface resistance
      makes the potential jump across a face, which continuous elements
      cannot represent (it would need discontinuous or interface elements);
      such fields and electrodes are refused.
    * Face electrodes on adjacent faces of the box share the nodes of their
      common edge and are refused.
    * Conforming elements minimise the dissipated power over their space,
      so the FEM's current is an upper bound of the exact current through
      the same voxel geometry and decreases under refinement (nested
      spaces); the network has no such bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from forward.conduction.network import Electrode, ElectrodeCurrents, check_electrodes
from forward.conduction.properties import ConductivityField
from forward.conduction.solvers import METHODS, SolveInfo, solve_spd
from xtwin import arguments


@dataclass(frozen=True, eq=False)
class FemSolution(ElectrodeCurrents):
    """Potentials and electrode currents of a finite-element solution.

    Attributes
    ----------
    potential_node_V : ndarray, grid shape + 1 on every axis
        Potential at the voxel corners, V (at a pinch point the mean of its
        degrees of freedom); electrode nodes at their electrode's potential;
        NaN at nodes touched only by blocking voxels and in conducting
        clusters that touch no electrode (floating).
    potential_voxel_V : ndarray, grid shape
        The Q1 field at each voxel centre (mean of its corners), V;
        electrode voxels at their potential; NaN in blocking voxels and in
        floating clusters.
    electric_field_V_per_m : ndarray, shape (ndim, *grid)
        ``-grad phi`` at each voxel centre, array-axis order, V/m; NaN
        outside conducting, non-electrode, non-floating voxels.
    current_density_A_per_m2 : ndarray, shape (ndim, *grid)
        ``Sigma E`` at each voxel centre with the tensor the solve used,
        A/m^2; 0 where the field is NaN.
    electrode_names : tuple of str
    electrode_potential_V : ndarray
        Potentials of the electrodes, V.
    electrode_current_A : ndarray
        Current from each electrode into the sample, A: the reaction
        ``(K phi)_p`` summed over the electrode's fixed degrees of freedom
        (positive into the sample, the network's sign).
    conservation_rel : float
        Largest ``|(K phi)_p|`` at a free degree of freedom over the total
        current (~0).
    imbalance_rel : float
        Sum of all electrode currents over the total current (~0).
    energy_W : float
        ``phi^T K phi``, the dissipated power, W; equals ``sum_e V_e I_e``.
    floating_nodes : int
        Free degrees of freedom in clusters that touch no electrode.
    pinch_nodes : int
        Nodes split into more than one degree of freedom.
    full_tensor : bool
        Whether the off-diagonal tensor terms were used.
    solve : SolveInfo
    """

    potential_node_V: np.ndarray
    potential_voxel_V: np.ndarray
    electric_field_V_per_m: np.ndarray
    current_density_A_per_m2: np.ndarray
    electrode_names: tuple[str, ...]
    electrode_potential_V: np.ndarray
    electrode_current_A: np.ndarray
    conservation_rel: float
    imbalance_rel: float
    energy_W: float
    floating_nodes: int
    pinch_nodes: int
    full_tensor: bool
    solve: SolveInfo


@cache
def reference_matrices(ndim: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference stiffness matrices of the Q1 element on the unit square or cube (from basix).

    Parameters
    ----------
    ndim : {2, 3}

    Returns
    -------
    R : ndarray, shape (ndim, ndim, 2**ndim, 2**ndim)
        ``R[a, b, i, j] = int dN_i/dr_a dN_j/dr_b dr`` over ``[0, 1]^ndim``;
        reference coordinate ``r_a`` runs along array axis ``a``.
    corners : ndarray of int, shape (2**ndim, ndim)
        Offset of each element node from the voxel's lowest corner along
        the array axes (basix's node order).
    """
    import basix

    if ndim not in (2, 3):
        raise ValueError(f"ndim={ndim!r}: expected 2 or 3")
    cell = {2: basix.CellType.quadrilateral, 3: basix.CellType.hexahedron}[ndim]
    element = basix.create_element(basix.ElementFamily.P, cell, 1, basix.LagrangeVariant.equispaced)
    points, weights = basix.make_quadrature(cell, 2)
    gradients = element.tabulate(1, points)[1:, :, :, 0]            # (ndim, n_points, n_nodes)
    R = np.einsum("q,aqi,bqj->abij", weights, gradients, gradients)
    corners = np.rint(element.points).astype(np.int64)
    R.setflags(write=False)
    corners.setflags(write=False)
    return R, corners


@dataclass(frozen=True, eq=False)
class Stiffness:
    """The assembled Q1 stiffness matrix of a field, before boundary conditions.

    Attributes
    ----------
    matrix : scipy.sparse.csr_matrix, shape (n_dof, n_dof)
        ``K``, S; symmetric, positive semi-definite (constants on each
        connected cluster span its null space).
    dof_node : ndarray of int64, shape (n_dof,)
        Flat index into the node grid (``field.shape + 1``) of each degree
        of freedom (one per node, more at pinch points).
    element_dofs : ndarray of int64, shape (*grid, 2**ndim)
        Degree of freedom of each corner of each voxel (basix's node order;
        -1 for voxels that are neither conducting nor electrode metal).
    stiff : ndarray of bool, shape (n_dof,)
        Degrees of freedom touched by a conducting, non-metal voxel.
    """

    matrix: sp.csr_matrix
    dof_node: np.ndarray
    element_dofs: np.ndarray
    stiff: np.ndarray


def stiffness(field: ConductivityField, *, full_tensor: bool = True, metal: np.ndarray | None = None) -> Stiffness:
    """Assemble the Q1 stiffness matrix of ``field`` (no boundary condition), S.

    Parameters
    ----------
    field : ConductivityField
    full_tensor : bool
        Full tensors (True) or their diagonals.
    metal : ndarray of bool, grid shape, optional
        Electrode-metal voxels: they join the topology (their corners are
        degrees of freedom, shared with face-adjacent sample voxels) but
        contribute no stiffness (ideal metal).

    Returns
    -------
    Stiffness

    Notes
    -----
    Cost: O(4^d N) for N voxels, see the module docstring.
    """
    if not isinstance(field, ConductivityField):
        raise TypeError(f"field={field!r}: expected a ConductivityField")
    if not isinstance(full_tensor, (bool, np.bool_)):
        raise TypeError(f"full_tensor={full_tensor!r}: expected True or False")
    ndim, shape = field.ndim, field.shape
    metal = np.zeros(shape, bool) if metal is None else np.asarray(metal, bool)
    R, corners = reference_matrices(ndim)
    n_local = len(corners)
    h = field.voxel_size_um * 1e-6

    tensors = np.asarray(field.tensors_S_per_m, dtype=float)
    if not full_tensor:
        tensors = tensors * np.eye(ndim)
    tensors = 0.5 * (tensors + np.swapaxes(tensors, 1, 2))
    table = (field.face_area_m2 / h) * np.einsum("mab,abij->mij", tensors, R)
    table = 0.5 * (table + np.swapaxes(table, 1, 2))

    conducting = field.conducting()
    element_dofs, dof_node = _dofs(conducting | metal, corners)
    assembled = conducting & ~metal
    dofs = element_dofs[assembled]                                   # (n_el, n_local)
    rows_of = field.index[assembled]
    n_dof = len(dof_node)
    diagonal = np.zeros(n_dof)
    rows, cols, vals = [], [], []
    for i in range(n_local):
        diagonal += np.bincount(dofs[:, i], table[rows_of, i, i], minlength=n_dof)
        for j in range(i + 1, n_local):
            rows.append(dofs[:, i]), cols.append(dofs[:, j]), vals.append(table[:, i, j][rows_of])
    upper = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_dof, n_dof)).tocsr()
    matrix = (upper + upper.T + sp.diags(diagonal)).tocsr()
    stiff = np.zeros(n_dof, bool)
    stiff[dofs.ravel()] = True
    return Stiffness(matrix=matrix, dof_node=dof_node, element_dofs=element_dofs, stiff=stiff)


def solve_fem(field: ConductivityField, electrodes: list[Electrode] | tuple[Electrode, ...], *,
              full_tensor: bool = True, method: str = "auto", rtol: float = 1e-10) -> FemSolution:
    """Solve ``div(Sigma grad phi) = 0`` with Q1 finite elements on the voxel grid of ``field``.

    Parameters
    ----------
    field : ConductivityField
        Per-voxel conductivity; ``field.gb_resistance_ohm_m2`` must be 0
        (build it with ``Conductivity(gb_ratio=float('inf'))``).
    electrodes : sequence of Electrode
        As for :func:`forward.conduction.network.solve`: a mask electrode
        (ideal metal voxels) fixes the corners of its voxels, a face
        electrode every node on its face of the box. No contact resistance.
    full_tensor : bool
        Use the full tensor (True) or only its diagonal (False: the
        network's PDE, so both converge to one solution under refinement).
    method : {"auto", "direct", "amg"}
        Linear solver (:func:`forward.conduction.solvers.solve_spd`).
    rtol : float
        Relative residual of the iterative solver.

    Returns
    -------
    FemSolution

    Notes
    -----
    Cost: O(N) assembly for N voxels (see the module docstring) and a
    solve on about N nodes: a direct solve up to
    :data:`forward.conduction.solvers.DIRECT_MAX_UNKNOWNS_DENSE` unknowns
    (the Q1 stencil has 9 or 27 entries per row), AMG-CG beyond.
    """
    if not isinstance(field, ConductivityField):
        raise TypeError(f"field={field!r}: expected a ConductivityField")
    if not isinstance(full_tensor, (bool, np.bool_)):
        raise TypeError(f"full_tensor={full_tensor!r}: expected True or False")
    arguments.one_of("method", method, METHODS)
    arguments.positive("rtol", rtol)
    if field.gb_resistance_ohm_m2 > 0:
        raise ValueError(f"field.gb_resistance_ohm_m2={field.gb_resistance_ohm_m2!r}: the finite elements are "
                         f"continuous and cannot model a grain-boundary (interface) resistance, which needs "
                         f"non-conforming elements; expected 0 (build the field with "
                         f"Conductivity(gb_ratio=float('inf')) for the cross-check)")
    electrodes = check_electrodes(field, electrodes)
    for electrode in electrodes:
        if electrode.contact_resistance_ohm_m2 > 0:
            raise ValueError(f"electrode {electrode.name!r}: contact_resistance_ohm_m2="
                             f"{electrode.contact_resistance_ohm_m2!r}; the finite elements fix the potential "
                             f"at the contact and cannot model a contact resistance; expected 0")
    if not field.conducting().any():
        raise ValueError("field: every voxel blocks; nothing conducts")

    ndim, shape = field.ndim, field.shape
    node_shape = tuple(s + 1 for s in shape)
    n_nodes = int(np.prod(node_shape))
    metal = np.zeros(shape, bool)
    for electrode in electrodes:
        if electrode.mask is not None:
            metal |= electrode.mask
    K = stiffness(field, full_tensor=full_tensor, metal=metal)
    n_dof = len(K.dof_node)
    occupied = K.element_dofs[..., 0] >= 0

    # Degrees of freedom each electrode fixes.
    potentials = np.array([e.potential_V for e in electrodes], float)
    n_e = len(electrodes)
    owner = np.full(n_dof, -1, np.int64)
    for e, electrode in enumerate(electrodes):
        if electrode.mask is not None:
            dofs = np.unique(K.element_dofs[electrode.mask].ravel())
        else:
            on_face = np.zeros(node_shape, bool)
            on_face[_boundary(ndim, *electrode.face)] = True
            dofs = np.flatnonzero(on_face.ravel()[K.dof_node])
        clash = owner[dofs] >= 0
        if clash.any():
            other = electrodes[int(owner[dofs[clash][0]])].name
            raise ValueError(f"electrodes {other!r} and {electrode.name!r} share nodes (face electrodes on "
                             f"adjacent faces of the box meet along an edge): the finite elements would fix "
                             f"them twice; use faces that do not meet, or masks one voxel apart")
        owner[dofs] = e

    # Clusters: degrees of freedom joined through occupied voxels, and electrodes (super-nodes n_dof + e).
    corner_dofs = K.element_dofs[occupied]
    links_a = corner_dofs[:, 1:].ravel()
    links_b = np.repeat(corner_dofs[:, 0], corner_dofs.shape[1] - 1)
    fixed_dofs = np.flatnonzero(owner >= 0)
    graph = sp.coo_matrix((np.ones(len(links_a) + len(fixed_dofs)),
                           (np.concatenate([links_a, fixed_dofs]),
                            np.concatenate([links_b, n_dof + owner[fixed_dofs]]))),
                          shape=(n_dof + n_e, n_dof + n_e))
    _, component = connected_components(graph, directed=False)
    electrode_component = component[n_dof:]
    spans = [np.ptp(potentials[electrode_component == c]) for c in np.unique(electrode_component)]
    if max(spans) == 0:
        raise ValueError("electrodes: no conducting path joins electrodes at different potentials "
                         "(blocking phases separate them, or all electrodes share one potential)")
    live = K.stiff & np.isin(component[:n_dof], electrode_component)
    free = live & (owner < 0)
    fixed = live & (owner >= 0)
    floating = int(np.count_nonzero(K.stiff & (owner < 0))) - int(np.count_nonzero(free))

    u = np.zeros(n_dof)
    u[fixed] = potentials[owner[fixed]]
    A = K.matrix
    a_free = A[free]
    rhs = -(a_free[:, fixed] @ u[fixed])
    x, info = solve_spd(a_free[:, free], rhs, method=method, rtol=rtol)
    u[free] = x

    reaction = A @ u
    injected = np.bincount(owner[fixed], reaction[fixed], minlength=n_e)
    energy = float(u @ reaction)
    total = float(np.clip(injected, 0, None).sum())
    scale_current = total if total > 0 else 1.0

    u = np.where(live | (owner >= 0), u, np.nan)
    u[owner >= 0] = potentials[owner[owner >= 0]]
    known = np.isfinite(u)
    count = np.bincount(K.dof_node[known], minlength=n_nodes)
    with np.errstate(invalid="ignore"):
        phi = (np.bincount(K.dof_node[known], u[known], minlength=n_nodes) / count).reshape(node_shape)
    voxel, efield, density = _centre_fields(u, K.element_dofs, field, full_tensor, metal, electrodes)
    return FemSolution(
        potential_node_V=phi, potential_voxel_V=voxel, electric_field_V_per_m=efield,
        current_density_A_per_m2=density, electrode_names=tuple(e.name for e in electrodes),
        electrode_potential_V=potentials, electrode_current_A=injected,
        conservation_rel=float(np.abs(reaction[free]).max(initial=0.0) / scale_current),
        imbalance_rel=float(abs(injected.sum()) / scale_current), energy_W=energy, floating_nodes=floating,
        pinch_nodes=int(n_dof - len(np.unique(K.dof_node))), full_tensor=bool(full_tensor), solve=info)


def _dofs(occupied: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Degrees of freedom of the voxels ``occupied``: one per node and group of face-connected voxels around it.

    The voxels around a node are indexed by the corner ``c`` of theirs that
    sits on the node (the voxel ``p - c`` for node ``p``); two of them share
    a face through the node when their ``c`` differ along one axis. Groups
    are labelled by their smallest index, by min-propagation over these
    adjacencies (at most 2^d sweeps, vectorised over nodes).
    """
    shape = occupied.shape
    node_shape = tuple(s + 1 for s in shape)
    n_nodes = int(np.prod(node_shape))
    n_local = len(corners)
    around = np.zeros((n_local,) + node_shape, bool)
    for k, corner in enumerate(corners):
        around[k][_corner_slice(corner, shape)] = occupied
    around = around.reshape(n_local, n_nodes)
    label = np.where(around, np.arange(n_local)[:, None], n_local).astype(np.int8)
    pairs = [(k, l) for k in range(n_local) for l in range(k + 1, n_local)
             if np.abs(corners[k] - corners[l]).sum() == 1]
    for _ in range(n_local):
        changed = False
        for k, l in pairs:
            both = around[k] & around[l]
            low = np.minimum(label[k], label[l])
            update = both & ((label[k] != low) | (label[l] != low))
            if update.any():
                label[k][update] = low[update]
                label[l][update] = low[update]
                changed = True
        if not changed:
            break
    root = (around & (label == np.arange(n_local)[:, None])).T              # (n_nodes, n_local)
    ids = np.full(root.shape, -1, np.int64)
    ids[root] = np.arange(int(np.count_nonzero(root)))
    dof_node = np.nonzero(root)[0].astype(np.int64)
    flat = np.arange(n_nodes, dtype=np.int64).reshape(node_shape)
    element_dofs = np.full(shape + (n_local,), -1, np.int64)
    for k, corner in enumerate(corners):
        node = flat[_corner_slice(corner, shape)][occupied]
        element_dofs[..., k][occupied] = ids[node, label[k, node]]
    return element_dofs, dof_node


def _centre_fields(u, element_dofs, field, full_tensor, metal, electrodes):
    """Potential, -grad phi and Sigma E at voxel centres from the corner degrees of freedom."""
    ndim = field.ndim
    _, corners = reference_matrices(ndim)
    occupied = element_dofs[..., 0] >= 0
    corner_values = np.where(occupied[..., None], u[np.maximum(element_dofs, 0)], np.nan)   # (*grid, n_local)
    voxel = corner_values.mean(axis=-1)
    for electrode in electrodes:
        if electrode.mask is not None:
            voxel[electrode.mask] = electrode.potential_V
    voxel = np.where(field.conducting() | metal, voxel, np.nan)
    # At the centre dN_i/dr_a = (2 c_ia - 1) / 2^(ndim-1): the mean difference of the corners across the voxel.
    h = field.voxel_size_um * 1e-6
    sign = (2 * corners - 1).astype(float)
    efield = -np.moveaxis(corner_values @ sign, -1, 0) / (2 ** (ndim - 1) * h)
    inside = field.conducting() & ~metal & np.isfinite(voxel)
    efield = np.where(inside, efield, np.nan)
    tensors = np.asarray(field.tensors_S_per_m, dtype=float)
    if not full_tensor:
        tensors = tensors * np.eye(ndim)
    table = np.concatenate([tensors, np.zeros((1, ndim, ndim))])
    sigma = table[np.where(field.conducting(), field.index, len(table) - 1)]     # (*grid, ndim, ndim)
    density = np.moveaxis(np.einsum("...ab,...b->...a", sigma, np.moveaxis(np.nan_to_num(efield), 0, -1)), -1, 0)
    return voxel, efield, density


def _corner_slice(corner, shape) -> tuple[slice, ...]:
    """Slice of the node grid holding corner ``corner`` of every voxel."""
    return tuple(slice(int(c), int(c) + n) for c, n in zip(corner, shape))


def _boundary(ndim: int, axis: int, side: str) -> tuple:
    index: list = [slice(None)] * ndim
    index[axis] = 0 if side == "low" else -1
    return tuple(index)
