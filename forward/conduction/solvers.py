"""Linear solvers for the symmetric positive-definite systems of the resistor network and the finite elements.

A sparse direct factorisation for small systems; algebraic multigrid
(pyamg smoothed aggregation) as the preconditioner of conjugate gradients
for large ones; ``"auto"`` picks by size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from xtwin import arguments

METHODS = ("auto", "direct", "amg")

#: Largest system solved directly under ``method="auto"``.
DIRECT_MAX_UNKNOWNS = 200_000


@dataclass(frozen=True)
class SolveInfo:
    """How a linear system was solved.

    Attributes
    ----------
    method : str
        ``"direct"`` or ``"amg"``.
    unknowns : int
        Size of the system.
    iterations : int
        Krylov iterations (0 for the direct solve).
    relative_residual : float
        ``||b - A x|| / ||b||`` of the returned solution.
    setup_s, solve_s : float
        Wall time of the preconditioner set-up (or factorisation) and of the solve, s.
    """

    method: str
    unknowns: int
    iterations: int
    relative_residual: float
    setup_s: float
    solve_s: float


def solve_spd(matrix: sp.spmatrix, rhs: np.ndarray, *, method: str = "auto", rtol: float = 1e-10,
              x0: np.ndarray | None = None) -> tuple[np.ndarray, SolveInfo]:
    """Solve ``matrix x = rhs`` for a symmetric positive-definite sparse ``matrix``.

    Parameters
    ----------
    matrix : scipy.sparse matrix, shape (n, n)
        Symmetric positive definite (a weighted graph Laplacian with
        Dirichlet rows eliminated, or a stiffness matrix).
    rhs : ndarray, shape (n,)
        Right-hand side.
    method : {"auto", "direct", "amg"}
        Sparse LU (SuperLU), AMG-preconditioned CG, or by size.
    rtol : float
        Relative residual ``||b - A x|| / ||b||`` at which CG stops.
    x0 : ndarray, optional
        Starting guess for CG.

    Returns
    -------
    x : ndarray, shape (n,)
    info : SolveInfo

    Notes
    -----
    Cost: the direct solve grows like n^1.5 in 2D and n^2 in 3D (fill-in);
    AMG-CG like n log(1 / rtol).
    """
    arguments.one_of("method", method, METHODS)
    rtol = arguments.positive("rtol", rtol)
    A = sp.csr_matrix(matrix)
    b = np.asarray(rhs, dtype=float)
    n = A.shape[0]
    if method == "auto":
        method = "direct" if n <= DIRECT_MAX_UNKNOWNS else "amg"
    b_norm = float(np.linalg.norm(b))
    if n == 0 or b_norm == 0:
        return np.zeros(n), SolveInfo(method, n, 0, 0.0, 0.0, 0.0)
    t0 = time.perf_counter()
    if method == "direct":
        x = spla.spsolve(A.tocsc(), b)
        setup, iterations = time.perf_counter() - t0, 0
        t1 = time.perf_counter()
    else:
        import pyamg

        ml = pyamg.smoothed_aggregation_solver(A, symmetry="hermitian")
        setup = time.perf_counter() - t0
        t1 = time.perf_counter()
        residuals: list[float] = []
        x = ml.solve(b, x0=x0, tol=rtol, accel="cg", maxiter=500, residuals=residuals)
        iterations = max(len(residuals) - 1, 0)
    solve = time.perf_counter() - t1
    residual = float(np.linalg.norm(b - A @ x)) / b_norm
    return x, SolveInfo(method, n, iterations, residual, setup, solve)
