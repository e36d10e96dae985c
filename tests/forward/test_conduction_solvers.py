"""Tests of forward.conduction.solvers: SuperLU and the aggregation-AMG K-cycle preconditioned flexible CG.

References are closed forms: a chain of equal resistors between two fixed potentials has a linear
potential, and so has a uniform grid between two opposite Dirichlet faces with insulating sides
(Kirchhoff's law: every interior node is the mean of its neighbours, which a linear function is);
a uniform slab carries I = sigma A V / L. Heterogeneous cases compare the two solvers with each other.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from forward.conduction import Electrode, field_from_labels, solve, solvers
from forward.conduction.solvers import ConvergenceError, SolveInfo, solve_spd


def _chain(n: int, g: float = 2.0) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """n nodes in a row between 1 V (left) and 0 V (right), conductance g everywhere: x_i = 1 - (i+1)/(n+1)."""
    matrix = sp.diags([-g, 2 * g, -g], [-1, 0, 1], shape=(n, n), format="csr")
    rhs = np.zeros(n)
    rhs[0] = g * 1.0
    return matrix, rhs, 1.0 - np.arange(1, n + 1) / (n + 1)


def _grid(ny: int, nx: int, conductance_x: np.ndarray, conductance_y: np.ndarray) -> sp.csr_matrix:
    """Kirchhoff matrix of an ny x nx grid: x-faces conductance_x (ny, nx+1, the outer ones to Dirichlet
    nodes at the left and right), y-faces conductance_y (ny-1, nx); insulating top and bottom."""
    index = np.arange(ny * nx).reshape(ny, nx)
    rows, cols, vals = [], [], []
    gx = conductance_x[:, 1:-1]
    rows += [index[:, :-1].ravel()]
    cols += [index[:, 1:].ravel()]
    vals += [gx.ravel()]
    rows += [index[:-1].ravel()]
    cols += [index[1:].ravel()]
    vals += [conductance_y.ravel()]
    i, j, g = (np.concatenate(a) for a in (rows, cols, vals))
    diagonal = np.bincount(i, g, ny * nx) + np.bincount(j, g, ny * nx)
    diagonal[index[:, 0]] += conductance_x[:, 0]
    diagonal[index[:, -1]] += conductance_x[:, -1]
    return sp.csr_matrix((np.concatenate([-g, -g, diagonal]),
                          (np.concatenate([i, j, np.arange(ny * nx)]), np.concatenate([j, i, np.arange(ny * nx)]))),
                         shape=(ny * nx, ny * nx))


def _uniform_grid(ny: int, nx: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Uniform grid, 1 V on the left, 0 V on the right: the potential is linear in x, (nx - j) / (nx + 1)."""
    gx, gy = np.ones((ny, nx + 1)), np.ones((ny - 1, nx))
    matrix = _grid(ny, nx, gx, gy)
    rhs = np.zeros((ny, nx))
    rhs[:, 0] = 1.0
    exact = np.broadcast_to(1.0 - np.arange(1, nx + 1) / (nx + 1), (ny, nx))
    return matrix, rhs.ravel(), exact.ravel()


def _random_anisotropic_grid(ny: int, nx: int, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Grid of square 'grains' (8 x 8 nodes), each with its own axial conductances: one axis sigma_ip,
    the other sigma_ip / 1e3 (grid-aligned layered crystals), faces the series sum of their halves."""
    rng = np.random.default_rng(seed)
    grains = (np.arange(ny)[:, None] // 8) * (nx // 8 + 1) + np.arange(nx)[None, :] // 8
    n_grains = grains.max() + 1
    strong_x = rng.random(n_grains) < 0.5
    sx = np.where(strong_x, 1.0, 1e-3)[grains] * rng.uniform(0.5, 2.0, n_grains)[grains]
    sy = np.where(strong_x, 1e-3, 1.0)[grains] * rng.uniform(0.5, 2.0, n_grains)[grains]
    padded = np.pad(sx, ((0, 0), (1, 1)), mode="edge")
    gx = 2.0 / (1.0 / padded[:, :-1] + 1.0 / padded[:, 1:])
    gy = 2.0 / (1.0 / sy[:-1] + 1.0 / sy[1:])
    matrix = _grid(ny, nx, gx, gy)
    rhs = np.zeros((ny, nx))
    rhs[:, 0] = gx[:, 0]
    return matrix, rhs.ravel()


# ----------------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("method", ["direct", "amg"])
def test_resistor_chain_has_a_linear_potential(method):
    matrix, rhs, exact = _chain(3000)
    x, info = solve_spd(matrix, rhs, method=method, rtol=1e-12)
    assert info.method == method
    # Error <= cond(A) x residual; cond ~ 4 n^2 / pi^2 = 3.6e6 for the chain.
    np.testing.assert_allclose(x, exact, rtol=0, atol=1e-5 if method == "amg" else 1e-12)
    assert info.relative_residual <= (1e-12 if method == "amg" else 1e-14)


@pytest.mark.parametrize("shape, method", [((100, 100), "direct"), ((150, 160), "amg")])
def test_uniform_grid_between_two_faces_is_linear_and_auto_picks_by_size(shape, method):
    # 1e4 unknowns (5 non-zeros per row) are solved directly, 2.4e4 by AMG under "auto".
    matrix, rhs, exact = _uniform_grid(*shape)
    x, info = solve_spd(matrix, rhs, rtol=1e-11)
    assert info.method == method
    assert info.unknowns == shape[0] * shape[1]
    np.testing.assert_allclose(x, exact, rtol=0, atol=1e-8)


def test_auto_uses_a_lower_limit_for_denser_rows():
    # A 3D 7-point grid fills in much faster under LU: AMG from DIRECT_MAX_UNKNOWNS_DENSE unknowns on.
    def laplacian_3d(m: int) -> sp.csr_matrix:
        one = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
        eye = sp.identity(m)
        return (sp.kron(sp.kron(one, eye), eye) + sp.kron(sp.kron(eye, one), eye)
                + sp.kron(sp.kron(eye, eye), one)).tocsr()
    small, large = laplacian_3d(17), laplacian_3d(18)
    assert small.shape[0] <= solvers.DIRECT_MAX_UNKNOWNS_DENSE < large.shape[0]
    assert solve_spd(small, np.ones(small.shape[0]))[1].method == "direct"
    x, info = solve_spd(large, np.ones(large.shape[0]), rtol=1e-10)
    assert info.method == "amg"
    reference, _ = solve_spd(large, np.ones(large.shape[0]), method="direct")
    np.testing.assert_allclose(x, reference, rtol=1e-7)


@pytest.mark.parametrize("shape", [(40, 30, 20), (12, 120, 130)])
def test_uniform_slab_current_through_the_network_with_amg(shape):
    # I = sigma A V / L for a slab between two face electrodes (the half voxels at both ends add up to one
    # voxel, so the length is the full box); 2.4e4 unknowns, and 1.9e5 with a short axis along the current.
    sigma, voxel_um = 2.5, 0.2
    field = field_from_labels(np.ones(shape, np.int32), {1: sigma}, voxel_size_um=voxel_um)
    solution = solve(field, [Electrode("in", 1.5, face=(0, "low")), Electrode("out", 0.0, face=(0, "high"))],
                     method="amg", rtol=1e-10)
    h = voxel_um * 1e-6
    expected = sigma * (shape[1] * shape[2] * h * h) * 1.5 / (shape[0] * h)
    assert solution.solve.method == "amg"
    assert solution.solve.relative_residual <= 1e-10
    assert solution.total_current_A == pytest.approx(expected, rel=1e-8)
    linear = 1.5 * (1.0 - (np.arange(shape[0]) + 0.5) / shape[0])
    np.testing.assert_allclose(solution.potential_V, np.broadcast_to(linear[:, None, None], shape), atol=1e-8)


# ----------------------------------------------------------------------------------- heterogeneous systems
def test_direct_and_amg_agree_on_random_anisotropic_grains():
    matrix, rhs = _random_anisotropic_grid(120, 150)
    direct, info_direct = solve_spd(matrix, rhs, method="direct")
    amg, info_amg = solve_spd(matrix, rhs, method="amg", rtol=1e-12)
    assert info_direct.method == "direct" and info_amg.method == "amg"
    np.testing.assert_allclose(amg, direct, rtol=0, atol=1e-8 * np.abs(direct).max())
    # The reported residual is the true one of the returned solution, and within rtol.
    assert info_amg.relative_residual == pytest.approx(np.linalg.norm(rhs - matrix @ amg) / np.linalg.norm(rhs),
                                                       rel=1e-6)
    assert info_amg.relative_residual <= 1e-12
    assert info_direct.relative_residual <= 1e-13
    assert info_amg.levels >= 3 and 1.0 < info_amg.operator_complexity < 2.0
    assert 0 < info_amg.iterations <= 60
    assert info_direct.iterations == 0 and info_direct.levels == 0


def test_amg_is_deterministic_and_meets_each_rtol():
    matrix, rhs = _random_anisotropic_grid(160, 140, seed=1)
    iterations = []
    for rtol in (1e-4, 1e-8, 1e-11):
        x, info = solve_spd(matrix, rhs, method="amg", rtol=rtol)
        again, _ = solve_spd(matrix, rhs, method="amg", rtol=rtol)
        np.testing.assert_array_equal(x, again)
        assert info.relative_residual <= rtol
        iterations.append(info.iterations)
    assert 1 <= iterations[0] < iterations[1] < iterations[2]


def test_rotated_anisotropic_finite_element_matrix_converges():
    # Q1 stiffness of a diffusion tensor with anisotropy 1e3 rotated by 30 deg: positive off-diagonal
    # entries, couplings not aligned with the grid (pyamg.gallery supplies the stencil).
    import pyamg.gallery

    stencil = pyamg.gallery.diffusion_stencil_2d(epsilon=1e-3, theta=np.pi / 6, type="FE")
    matrix = pyamg.gallery.stencil_grid(stencil, (90, 90), format="csr")
    rhs = np.random.default_rng(2).random(matrix.shape[0])
    x, info = solve_spd(matrix, rhs, method="amg", rtol=1e-10)
    reference, _ = solve_spd(matrix, rhs, method="direct")
    assert info.relative_residual <= 1e-10
    np.testing.assert_allclose(x, reference, rtol=0, atol=1e-6 * np.abs(reference).max())


def test_amg_on_a_matrix_without_couplings_falls_back_to_one_exact_level():
    # No off-diagonal entries: nothing to aggregate, the single level is factorised and one step solves it.
    diagonal = np.linspace(1.0, 3.0, 30_000)
    x, info = solve_spd(sp.diags(diagonal, format="csr"), np.ones(30_000), method="amg")
    np.testing.assert_allclose(x, 1.0 / diagonal, rtol=1e-12)
    assert info.levels == 1 and info.iterations == 1


def test_starting_guess_and_zero_right_hand_side():
    matrix, rhs, exact = _chain(2000)
    x, info = solve_spd(matrix, rhs, method="amg", rtol=1e-8, x0=exact)
    assert info.iterations == 0
    np.testing.assert_array_equal(x, exact)
    for method in ("direct", "amg"):
        x, info = solve_spd(matrix, np.zeros(2000), method=method)
        assert not x.any() and info.iterations == 0 and info.relative_residual == 0


def test_solve_info_fields():
    matrix, rhs, _ = _chain(500)
    _, info = solve_spd(matrix, rhs, method="amg")
    assert isinstance(info, SolveInfo)
    assert info.unknowns == 500 and info.setup_s >= 0 and info.solve_s >= 0


# ----------------------------------------------------------------------------------- failures and refusals
def test_non_convergence_raises_with_rtol_and_iterations():
    matrix, rhs = _random_anisotropic_grid(100, 100)
    with pytest.raises(ConvergenceError, match=r"after 2 iterations \(maxiter=2\) > rtol=1e-12"):
        solve_spd(matrix, rhs, method="amg", rtol=1e-12, maxiter=2)
    assert issubclass(ConvergenceError, RuntimeError)


def test_stagnation_below_double_precision_accuracy_raises_early():
    # A chain of 5e4 resistors has cond(A) ~ 1e9: rounding alone leaves ||b - A x|| / ||b|| ~ 1e-8, so
    # rtol = 1e-10 cannot be met; the solver says so instead of running to maxiter.
    matrix = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50_000, 50_000), format="csr")
    with pytest.raises(ConvergenceError, match="stagnated: relative residual .* > rtol=1e-10") as caught:
        solve_spd(matrix, np.ones(50_000), method="amg", rtol=1e-10, maxiter=2000)
    iterations = int(str(caught.value).split(" after ")[1].split()[0])
    assert iterations < 200
    x, info = solve_spd(matrix, np.ones(50_000), method="amg", rtol=1e-7)
    assert info.relative_residual <= 1e-7


def test_refuses_a_matrix_that_is_not_positive_definite():
    matrix, rhs, _ = _chain(100)
    with pytest.raises(ValueError, match="not positive definite: 1 diagonal entries <= 0"):
        solve_spd(sp.csr_matrix(matrix.multiply(np.where(np.arange(100) == 7, -1.0, 1.0)[:, None])), rhs)
    singular = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(50, 50), format="lil")
    singular[0, 0] = singular[-1, -1] = 1.0                 # a floating chain: singular
    with pytest.raises(ValueError, match="singular"):
        solve_spd(singular.tocsr(), np.ones(50), method="direct")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"method": "cg"}, ValueError, "method"),
    ({"rtol": 0.0}, ValueError, "rtol=0.0"),
    ({"rtol": -1e-8}, ValueError, "rtol"),
    ({"rtol": float("nan")}, ValueError, "rtol"),
    ({"rtol": 1.0}, ValueError, "rtol=1.0: expected a relative residual below 1"),
    ({"rtol": "small"}, TypeError, "rtol"),
    ({"maxiter": 0}, ValueError, "maxiter=0"),
    ({"maxiter": 2.5}, TypeError, "maxiter=2.5"),
    ({"x0": np.zeros(7)}, ValueError, r"x0: expected shape \(10,\)"),
    ({"x0": np.full(10, np.nan)}, ValueError, "x0: expected finite"),
])
def test_refuses_bad_arguments(kwargs, error, message):
    matrix, rhs, _ = _chain(10)
    with pytest.raises(error, match=message):
        solve_spd(matrix, rhs, **kwargs)


def test_refuses_bad_matrices_and_right_hand_sides():
    matrix, rhs, _ = _chain(10)
    with pytest.raises(ValueError, match=r"square matrix, got shape \(10, 9\)"):
        solve_spd(matrix[:, :9], rhs)
    with pytest.raises(TypeError, match="matrix=list"):
        solve_spd([[1.0]], np.ones(1))
    with pytest.raises(TypeError, match="real entries"):
        solve_spd(sp.csr_matrix(matrix, dtype=complex), rhs)
    bad = matrix.copy()
    bad.data[3] = np.inf
    with pytest.raises(ValueError, match="finite entries"):
        solve_spd(bad, rhs)
    with pytest.raises(ValueError, match=r"rhs: expected shape \(10,\)"):
        solve_spd(matrix, np.ones(11))
    with pytest.raises(ValueError, match="rhs: expected finite"):
        solve_spd(matrix, np.where(np.arange(10) == 2, np.nan, 1.0))
    with pytest.raises(ValueError, match="rhs: expected an array with ndim"):
        solve_spd(matrix, np.ones((10, 1)))
