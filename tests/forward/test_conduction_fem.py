"""Q1 finite elements for DC conduction (forward.conduction.fem) against closed forms and the network."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import sympy

from forward.conduction import fem
from forward.conduction.fem import reference_matrices, solve_fem, stiffness
from forward.conduction.network import Electrode, solve
from forward.conduction.properties import ConductivityField, field_from_labels


def faces(axis: int, high_V: float = 0.0, low_V: float = 1.0) -> list[Electrode]:
    return [Electrode("inlet", low_V, face=(axis, "low")), Electrode("outlet", high_V, face=(axis, "high"))]


def uniform(tensor, shape, voxel_um=1.0, thickness_um=1.0) -> ConductivityField:
    tensor = np.asarray(tensor, float)
    return ConductivityField(index=np.zeros(shape, np.int32), tensors_S_per_m=tensor[None],
                             grain_ids=np.full(shape, -1, np.int32), gb_resistance_ohm_m2=0.0,
                             voxel_size_um=voxel_um, thickness_um=thickness_um)


def random_tensors(rng, n, ndim, anisotropy=30.0):
    """Random symmetric positive-definite tensors (random rotation, eigenvalues 1..anisotropy), S/m."""
    q, _ = np.linalg.qr(rng.normal(size=(n, ndim, ndim)))
    eig = np.exp(rng.uniform(0, np.log(anisotropy), size=(n, ndim)))
    return np.einsum("nij,nj,nkj->nik", q, eig, q)


# --- the reference element ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("ndim", [2, 3])
def test_reference_matrices_match_symbolic_integration(ndim):
    # Independent reference: the shape functions are products prod_k phi_c(r_k) of the 1D hat functions
    # phi_0 = 1 - r, phi_1 = r, so each R[a, b, i, j] is a product of 1D integrals, which sympy does exactly:
    # int phi_c phi_d (mass), int phi_c' phi_d (mixed) and int phi_c' phi_d' (stiffness).
    R, corners = reference_matrices(ndim)
    r = sympy.Symbol("r")
    phi = (1 - r, r)

    def integral(c, d, dc, dd):
        f = sympy.diff(phi[c], r) if dc else phi[c]
        g = sympy.diff(phi[d], r) if dd else phi[d]
        return float(sympy.integrate(f * g, (r, 0, 1)))

    table = {(c, d, dc, dd): integral(c, d, dc, dd) for c, d, dc, dd in itertools.product((0, 1), repeat=4)}
    for a, b in itertools.product(range(ndim), repeat=2):
        for i, j in itertools.product(range(len(corners)), repeat=2):
            expected = np.prod([table[(corners[i][k], corners[j][k], k == a, k == b)] for k in range(ndim)])
            assert R[a, b, i, j] == pytest.approx(expected, abs=1e-14)


def test_isotropic_square_element_is_the_textbook_matrix():
    # Bilinear element on a square, isotropic sigma, thickness t: K = sigma t / 6 [[4,-1,-1,-2], ...] for the node
    # order (0,0), (1,0), (0,1), (1,1) (e.g. Hughes, The Finite Element Method, section 3.2).
    field = uniform(2.5 * np.eye(2), (1, 1), voxel_um=3.0, thickness_um=0.7)
    K = stiffness(field).matrix.toarray()
    expected = 2.5 * 0.7e-6 / 6 * np.array([[4, -1, -1, -2], [-1, 4, -2, -1], [-1, -2, 4, -1], [-2, -1, -1, 4]])
    np.testing.assert_allclose(K, expected, rtol=1e-13, atol=0)


# --- the assembled matrix ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("ndim", [2, 3])
def test_stiffness_symmetric_positive_semidefinite_with_constant_null_space(ndim):
    rng = np.random.default_rng(1)
    shape = (5, 6) if ndim == 2 else (3, 4, 5)
    index = rng.integers(-1, 4, size=shape).astype(np.int32)
    field = ConductivityField(index=index, tensors_S_per_m=random_tensors(rng, 4, ndim),
                              grain_ids=np.full(shape, -1, np.int32), gb_resistance_ohm_m2=0.0,
                              voxel_size_um=0.5, thickness_um=2.0)
    K = stiffness(field)
    A = K.matrix.toarray()
    assert np.array_equal(A, A.T)
    eig = np.linalg.eigvalsh(A)
    assert eig.min() > -1e-12 * eig.max()
    np.testing.assert_allclose(A @ np.ones(len(A)), 0.0, atol=1e-12 * np.abs(A).max())
    # Positive definite once one degree of freedom of each connected cluster is fixed: the null space is the
    # constants per cluster, as many as zero eigenvalues.
    from scipy.sparse.csgraph import connected_components
    n_clusters = connected_components(K.matrix != 0, directed=False)[0]
    assert np.count_nonzero(eig < 1e-10 * eig.max()) == n_clusters


def test_stiffness_equals_an_element_loop():
    # Independent assembly: a Python loop over the voxels of a small grid adding K_e = (A/h) sum Sigma_ab R^ab.
    rng = np.random.default_rng(2)
    shape = (3, 4)
    tensors = random_tensors(rng, 3, 2)
    index = rng.integers(0, 3, size=shape).astype(np.int32)
    field = ConductivityField(index=index, tensors_S_per_m=tensors, grain_ids=np.full(shape, -1, np.int32),
                              gb_resistance_ohm_m2=0.0, voxel_size_um=2.0, thickness_um=0.3)
    R, corners = reference_matrices(2)
    nodes = np.arange(4 * 5).reshape(4, 5)
    reference = np.zeros((20, 20))
    for y, x in itertools.product(range(3), range(4)):
        Ke = 0.3e-6 * np.einsum("ab,abij->ij", tensors[index[y, x]], R)
        dofs = [nodes[y + c[0], x + c[1]] for c in corners]
        reference[np.ix_(dofs, dofs)] += Ke
    K = stiffness(field)
    assert np.array_equal(K.dof_node, np.arange(20))
    np.testing.assert_allclose(K.matrix.toarray(), reference, rtol=1e-13, atol=1e-13 * np.abs(reference).max())
    # Diagonal-only assembly keeps only Sigma_aa.
    diag = stiffness(field, full_tensor=False).matrix.toarray()
    ref_diag = np.zeros((20, 20))
    for y, x in itertools.product(range(3), range(4)):
        Ke = 0.3e-6 * np.einsum("ab,abij->ij", tensors[index[y, x]] * np.eye(2), R)
        dofs = [nodes[y + c[0], x + c[1]] for c in corners]
        ref_diag[np.ix_(dofs, dofs)] += Ke
    np.testing.assert_allclose(diag, ref_diag, rtol=1e-13, atol=1e-13 * np.abs(ref_diag).max())


@pytest.mark.parametrize("ndim", [2, 3])
def test_patch_test_linear_field_is_exact(ndim):
    # A constant anisotropic full tensor and a linear potential on every boundary node: the Dirichlet solution is
    # that linear field (Q1 contains linear functions; consistency of the Galerkin method).
    rng = np.random.default_rng(3)
    shape = (6, 7) if ndim == 2 else (4, 5, 6)
    tensor = random_tensors(rng, 1, ndim, anisotropy=100.0)[0]
    field = uniform(tensor, shape, voxel_um=0.25)
    K = stiffness(field)
    coords = np.stack(np.unravel_index(K.dof_node, tuple(s + 1 for s in shape)), axis=1) * 0.25e-6
    gradient = rng.normal(size=ndim) * 1e5
    exact = 0.3 + coords @ gradient
    boundary = np.zeros(len(exact), bool)
    for k in range(ndim):
        boundary |= (coords[:, k] == 0) | np.isclose(coords[:, k], shape[k] * 0.25e-6)
    A = K.matrix.tocsr()
    interior = ~boundary
    u = np.linalg.solve(A[interior][:, interior].toarray(), -A[interior][:, boundary] @ exact[boundary])
    np.testing.assert_allclose(u, exact[interior], rtol=0, atol=1e-12 * np.abs(exact).max())


# --- closed forms through solve_fem ------------------------------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((6, 9), 1), ((7, 5), 0), ((4, 5, 6), 2), ((4, 5, 6), 0)])
def test_uniform_slab_current(shape, axis):
    # I = sigma A V / L (exact for Q1: the solution is linear).
    sigma, h, t, V = 3.0, 0.5, 2.0, 1.5
    field = uniform(sigma * np.eye(len(shape)), shape, voxel_um=h, thickness_um=t)
    sol = solve_fem(field, faces(axis, low_V=V))
    cross = int(np.prod(shape)) // shape[axis] * field.face_area_m2
    expected = sigma * cross * V / (shape[axis] * h * 1e-6)
    assert sol.total_current_A == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(sol.electrode_current_A, [expected, -expected], rtol=1e-10)
    assert sol.conservation_rel < 1e-10 and sol.imbalance_rel < 1e-10
    # The potential is linear: at voxel centres V (1 - (i + 1/2) / n), as the network's.
    centre = (np.arange(shape[axis]) + 0.5) / shape[axis]
    expected_phi = np.expand_dims(V * (1 - centre), [k for k in range(len(shape)) if k != axis])
    np.testing.assert_allclose(sol.potential_voxel_V, np.broadcast_to(expected_phi, shape), atol=1e-12)
    np.testing.assert_allclose(sol.potential_voxel_V, solve(field, faces(axis, low_V=V)).potential_V, atol=1e-12)
    # J = sigma V / L along the axis, 0 across; E = V / L.
    j = np.zeros(len(shape))
    j[axis] = sigma * V / (shape[axis] * h * 1e-6)
    j_everywhere = np.broadcast_to(j, shape + (len(shape),))
    np.testing.assert_allclose(np.moveaxis(sol.current_density_A_per_m2, 0, -1), j_everywhere,
                               rtol=1e-10, atol=1e-10 * j[axis])
    np.testing.assert_allclose(np.moveaxis(sol.electric_field_V_per_m, 0, -1) * sigma, j_everywhere,
                               rtol=1e-10, atol=1e-10 * j[axis])


@pytest.mark.parametrize("ndim", [2, 3])
def test_layers_in_series_and_parallel(ndim):
    # Layers normal to the current: I = V A / sum(L_i / sigma_i); along it: I = (V / L) sum(sigma_i A_i). Exact for
    # Q1 (piecewise-linear potential with kinks on nodes; linear potential).
    sigmas = {1: 1.0, 2: 7.0, 3: 0.25}
    widths = [2, 3, 4]                                          # voxels per layer
    layer = np.repeat([1, 2, 3], widths)
    n, h = 5, 0.2
    shape = (n,) * (ndim - 1) + (len(layer),)
    labels = np.broadcast_to(layer, shape).astype(np.int64)
    field = field_from_labels(labels, sigmas, voxel_size_um=h, thickness_um=0.6)
    area = n ** (ndim - 1) * field.face_area_m2
    series = solve_fem(field, faces(ndim - 1))
    expected = area / sum(w * h * 1e-6 / sigmas[k] for k, w in zip((1, 2, 3), widths))
    assert series.total_current_A == pytest.approx(expected, rel=1e-10)
    assert series.total_current_A == pytest.approx(solve(field, faces(ndim - 1)).total_current_A, rel=1e-10)
    parallel = solve_fem(field, faces(0))
    slice_area = n ** (ndim - 2) * field.face_area_m2          # one voxel column across the layers
    expected = sum(sigmas[k] * w * slice_area for k, w in zip((1, 2, 3), widths)) / (n * h * 1e-6)
    assert parallel.total_current_A == pytest.approx(expected, rel=1e-10)


def test_mask_electrodes_current_and_sign_match_the_network():
    # Metal voxels at the two ends of an isotropic bar: both put the potential on the metal/sample faces, so
    # I = sigma A (V1 - V2) / ((n - 2) h) exactly, flowing from the high electrode into the sample (positive).
    shape = (4, 10)
    sigma, h = 2.0, 0.5
    field = uniform(sigma * np.eye(2), shape, voxel_um=h, thickness_um=1.0)
    left = np.zeros(shape, bool)
    left[:, 0] = True
    right = np.zeros(shape, bool)
    right[:, -1] = True
    for v_left, v_right in ((1.0, 0.0), (-0.5, 2.0)):
        electrodes = [Electrode("left", v_left, mask=left), Electrode("right", v_right, mask=right)]
        sol, net = solve_fem(field, electrodes), solve(field, electrodes)
        expected = sigma * 4 * field.face_area_m2 * (v_left - v_right) / (8 * h * 1e-6)
        np.testing.assert_allclose(sol.electrode_current_A, [expected, -expected], rtol=1e-10)
        np.testing.assert_allclose(sol.electrode_current_A, net.electrode_current_A, rtol=1e-10)
        assert sol.total_current_A == pytest.approx(net.total_current_A, rel=1e-10)
        assert sol.current("left") == pytest.approx(expected, rel=1e-10)
        np.testing.assert_allclose(sol.potential_voxel_V, net.potential_V, atol=1e-12)


def test_energy_equals_sum_of_potential_times_current():
    # sum_e V_e I_e = phi^T K phi (Tellegen / discrete Green identity), with phi^T K phi summed element by element
    # in a Python loop from the node potentials (independent of the solver's assembly), on a heterogeneous
    # anisotropic field with three electrodes.
    rng = np.random.default_rng(4)
    shape = (12, 14)
    tensors = random_tensors(rng, 5, 2)
    index = rng.integers(0, 5, size=shape).astype(np.int32)
    field = ConductivityField(index=index, tensors_S_per_m=tensors, grain_ids=np.full(shape, -1, np.int32),
                              gb_resistance_ohm_m2=0.0, voxel_size_um=0.1, thickness_um=0.2)
    top = np.zeros(shape, bool)
    top[0, 5:9] = True
    electrodes = faces(1, high_V=-0.3, low_V=0.8) + [Electrode("top", 2.0, mask=top)]
    sol = solve_fem(field, electrodes)
    power = float(np.dot(sol.electrode_potential_V, sol.electrode_current_A))
    R, corners = reference_matrices(2)
    energy = 0.0
    for y, x in itertools.product(range(shape[0]), range(shape[1])):
        if top[y, x]:
            continue                                            # ideal metal: no stiffness
        Ke = (field.face_area_m2 / 0.1e-6) * np.einsum("ab,abij->ij", tensors[index[y, x]], R)
        u = np.array([sol.potential_node_V[y + c[0], x + c[1]] for c in corners])
        energy += u @ Ke @ u
    assert power == pytest.approx(energy, rel=1e-10)
    assert sol.energy_W == pytest.approx(energy, rel=1e-10)
    assert sol.imbalance_rel < 1e-10 and sol.conservation_rel < 1e-10
    # Current enters at the highest potential and leaves at the lowest.
    assert sol.current("top") > 0 and sol.current("outlet") < 0


def test_amg_agrees_with_direct():
    rng = np.random.default_rng(5)
    shape = (30, 40)
    index = rng.integers(0, 4, size=shape).astype(np.int32)
    field = ConductivityField(index=index, tensors_S_per_m=random_tensors(rng, 4, 2),
                              grain_ids=np.full(shape, -1, np.int32), gb_resistance_ohm_m2=0.0, voxel_size_um=1.0,
                              thickness_um=1.0)
    direct = solve_fem(field, faces(1), method="direct")
    amg = solve_fem(field, faces(1), method="amg", rtol=1e-12)
    assert amg.solve.method == "amg" and direct.solve.method == "direct"
    assert amg.total_current_A == pytest.approx(direct.total_current_A, rel=1e-9)
    np.testing.assert_allclose(amg.potential_node_V, direct.potential_node_V, atol=1e-9)


def test_full_tensor_differs_from_diagonal_only_through_off_diagonal_terms():
    # A diagonal tensor gives the same answer either way; a tilted one does not. With insulating sides the
    # current lies between the two variational bounds: the linear potential is an admissible trial field
    # (Dirichlet principle: I <= Sigma_xx V A / L; it is in the Q1 space, so the bound holds for the FEM too) and
    # the uniform x-current an admissible flux (Thomson principle: I >= V A / (L (Sigma^-1)_xx)); the conforming
    # FEM's current is above the exact one, hence above the lower bound as well.
    diag = uniform(np.diag([2.0, 5.0]), (6, 8))
    a, b = solve_fem(diag, faces(1)), solve_fem(diag, faces(1), full_tensor=False)
    assert a.total_current_A == pytest.approx(b.total_current_A, rel=1e-12)
    tilted = uniform(np.array([[3.0, 1.0], [1.0, 2.0]]), (6, 8))
    full, only = solve_fem(tilted, faces(1)), solve_fem(tilted, faces(1), full_tensor=False)
    assert full.full_tensor and not only.full_tensor
    # Narrow-channel bound: 1 / (Sigma^-1)_xx <= sigma_eff <= Sigma_xx (insulating sides between the two limits).
    sigma_eff = full.total_current_A * 8e-6 / (6 * tilted.face_area_m2)
    assert (3.0 * 2.0 - 1.0) / 3.0 < sigma_eff < 2.0
    assert only.total_current_A * 8e-6 / (6 * tilted.face_area_m2) == pytest.approx(2.0, rel=1e-10)


def test_floating_cluster_is_nan_like_the_network():
    labels = np.ones((7, 9), int)
    labels[2:5, 2:5] = 0
    labels[3, 3] = 1                                            # an island inside a blocking ring
    field = field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0)
    sol, net = solve_fem(field, faces(1)), solve(field, faces(1))
    assert np.isnan(sol.potential_voxel_V[3, 3]) and np.isnan(net.potential_V[3, 3])
    assert sol.floating_nodes == 4 and net.floating_voxels == 1
    assert np.isnan(sol.potential_node_V[3:5, 3:5]).all()
    assert np.isnan(sol.potential_voxel_V[2, 2]) and np.isfinite(sol.potential_voxel_V[0]).all()


def test_corner_contact_carries_no_current():
    # Two conducting voxels touching only at a corner are not joined (a point has zero capacity): the node is
    # split, and a path that exists only through the corner is no path, as in the network.
    labels = np.ones((4, 4), int)
    labels[1, 1] = labels[2, 2] = 0
    sol = solve_fem(field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0), faces(1))
    assert sol.pinch_nodes == 1
    assert np.isfinite(sol.potential_node_V).all()             # the split node reports the mean of its two values
    checker = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]])
    with pytest.raises(ValueError, match="no conducting path"):
        solve_fem(field_from_labels(checker, {1: 1.0}, voxel_size_um=1.0), faces(1))
    with pytest.raises(ValueError, match="no conducting path"):
        solve(field_from_labels(checker, {1: 1.0}, voxel_size_um=1.0), faces(1))


def test_edge_contact_in_3d_carries_no_current():
    # Two voxel columns along x that overlap over one voxel length but touch only along an edge: no path.
    labels = np.zeros((2, 2, 4), int)
    labels[0, 0, :3] = 1
    labels[1, 1, 2:] = 1
    field = field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0)
    with pytest.raises(ValueError, match="no conducting path"):
        solve_fem(field, faces(2))
    # 16 corner nodes of the 3-voxel column and 12 of the 2-voxel one: the 2 shared edge nodes are split.
    dof_node = stiffness(field).dof_node
    assert len(dof_node) == 16 + 12 and len(np.unique(dof_node)) == 26
    labels[0, 1, 2] = 1                                         # a face-connected bridge: now a path
    sol = solve_fem(field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0), faces(2))
    assert sol.total_current_A > 0 and sol.pinch_nodes == 0


def test_2d_current_scales_with_thickness():
    field = uniform(np.eye(2), (5, 5), thickness_um=1.0)
    thick = dataclasses.replace(field, thickness_um=3.5)
    assert solve_fem(thick, faces(0)).total_current_A == pytest.approx(
        3.5 * solve_fem(field, faces(0)).total_current_A, rel=1e-12)


# --- refusals ------------------------------------------------------------------------------------------------------

def test_refuses_grain_boundary_resistance():
    field = dataclasses.replace(uniform(np.eye(2), (4, 4)), gb_resistance_ohm_m2=1e-10)
    with pytest.raises(ValueError, match=r"gb_resistance_ohm_m2=1e-10.*gb_ratio=float\('inf'\)"):
        solve_fem(field, faces(1))


def test_refuses_contact_resistance():
    electrodes = [Electrode("inlet", 1.0, face=(1, "low"), contact_resistance_ohm_m2=1e-9),
                  Electrode("outlet", 0.0, face=(1, "high"))]
    with pytest.raises(ValueError, match="'inlet'.*contact_resistance_ohm_m2=1e-09"):
        solve_fem(uniform(np.eye(2), (4, 4)), electrodes)


def test_refuses_no_path():
    labels = np.ones((5, 6), int)
    labels[:, 3] = 2                                            # a blocking wall across the sample
    with pytest.raises(ValueError, match="no conducting path"):
        solve_fem(field_from_labels(labels, {1: 1.0}, voxel_size_um=1.0), faces(1))


def test_refuses_all_blocking():
    with pytest.raises(ValueError, match="every voxel blocks"):
        solve_fem(field_from_labels(np.zeros((4, 4), int), {1: 1.0}, voxel_size_um=1.0), faces(1))


def test_refuses_face_electrodes_on_adjacent_faces():
    electrodes = [Electrode("a", 1.0, face=(0, "low")), Electrode("b", 0.0, face=(1, "low"))]
    with pytest.raises(ValueError, match="'a' and 'b' share nodes"):
        solve_fem(uniform(np.eye(2), (4, 4)), electrodes)


def test_refuses_touching_masks_and_bad_arguments():
    mask_a = np.zeros((4, 4), bool)
    mask_a[0, 0] = True
    mask_b = np.zeros((4, 4), bool)
    mask_b[0, 1] = True
    with pytest.raises(ValueError, match="touch"):
        solve_fem(uniform(np.eye(2), (4, 4)), [Electrode("a", 1.0, mask=mask_a), Electrode("b", 0.0, mask=mask_b)])
    with pytest.raises(TypeError, match="full_tensor=1"):
        solve_fem(uniform(np.eye(2), (4, 4)), faces(1), full_tensor=1)
    with pytest.raises(ValueError, match="method='lu'"):
        solve_fem(uniform(np.eye(2), (4, 4)), faces(1), method="lu")
    with pytest.raises(TypeError, match="field="):
        solve_fem(np.ones((4, 4)), faces(1))
    with pytest.raises(TypeError, match="field="):
        stiffness(np.ones((4, 4)))
    with pytest.raises(ValueError, match="ndim=4"):
        fem.reference_matrices(4)


# --- validation -----------------------------------------------------------------------------------------------------

def test_crosscheck_checks_pass():
    from validation.conduction.crosscheck import checks

    results = checks(0)
    failed = [(c.name, c.value, c.truth, c.tolerance) for c in results if not c.passed]
    assert not failed
    names = {c.name for c in results}
    assert {"network_vs_fem_potential_l2_rel_refine4", "network_vs_fem_current_refinement_ratio",
            "network_offdiagonal_overestimate", "fem_full_tensor_narrow_channel_sigma"} <= names
    by_name = {c.name: c for c in results}
    # The network's off-diagonal error for the thesis' anisotropy and a 30-degree tilt: Sigma_xy^2 / det ~ 187.
    assert by_name["network_offdiagonal_overestimate"].truth == pytest.approx(187.125, rel=1e-3)
