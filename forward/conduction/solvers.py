"""Linear solvers for the symmetric positive-definite systems of the resistor network and the finite elements.

Two methods, chosen by size under ``method="auto"``:

``"direct"``
    Sparse LU (SuperLU) in its symmetric mode (diagonal pivots, minimum-degree
    ordering of ``A + A^T``), which suits these symmetric positive-definite
    matrices: half the fill-in of the default column ordering. Fast for small
    systems; its cost grows like ``n^1.5`` in 2D and ``n^2`` in 3D.
``"amg"``
    Flexible conjugate gradients preconditioned by an aggregation-based
    algebraic multigrid K-cycle, the scheme of AGMG (Notay, Electron. Trans.
    Numer. Anal. 37 (2010) 123; K-cycle: Notay & Vassilevski, Numer. Linear
    Algebra Appl. 15 (2008) 123). Set-up: on every level, strong
    couplings ``a_ij^2 >= theta^2 |a_ii a_jj|`` (``theta =``
    :data:`STRENGTH_THETA`; the symmetric strength of smoothed aggregation,
    which drops the weak direction of a strongly anisotropic grain), pyamg's
    standard aggregation of the strength graph (Vanek et al., Computing 56
    (1996) 179), piecewise-constant prolongation ``P`` and the Galerkin
    coarse matrix ``P^T A P``, down to at most :data:`MAX_COARSE` unknowns,
    which are solved exactly. Cycle: one forward Gauss-Seidel sweep before
    and one backward sweep after the coarse correction, and on every
    coarse level but the last the correction is two steps of flexible CG
    preconditioned by the next level's cycle (the K-cycle; the second step
    is skipped once the first has reduced the coarse residual by
    :data:`K_CYCLE_REDUCTION`). The outer iteration is flexible CG (one
    previous direction kept, as in AGMG) in float64 on the input matrix.

Why this scheme: on the random anisotropic polycrystals of seeds/003
(``sigma_ip / sigma_op = 1e3``, grain-boundary resistances) the
unsmoothed aggregation hierarchy costs a fraction of a second per million
unknowns to build, and the K-cycle makes up for its weaker interpolation:
23 and 18 outer iterations to 1e-8 on the 1000^2 and 200^3 benchmark
polycrystals (set-up + iterations 0.3 + 1.7 s and 3-6 + 7-14 s on two
cores, depending on the machine's load), against 52 and 26 for pyamg's
smoothed-aggregation CG with default options (2-3 + 7-9 s and 34-46 +
48-55 s). Classical (Ruge-Stueben)
AMG needs its second coarsening pass here (then 9 iterations in 2D, but
2 s of set-up; 53 s of set-up in 3D even without the second pass); see
benchmarks/bench_conduction.py and benchmarks/README.md. At a given
residual the smooth part of the error is larger than with smoothed
aggregation, and the net current through a network (the sum of the
residual's entries) converges last: its relative imbalance is about 6e-6
at rtol 1e-8 and 5e-9 at rtol 1e-10 on the 2D benchmark.

Implementation: the set-up's strength filter and Galerkin product and the
whole cycle are numba kernels, parallel over rows on the levels with at
least a million unknowns (``_SERIAL_BELOW``) and serial on the others.
Gauss-Seidel is "hybrid": the rows are cut into two contiguous blocks per
thread (two in all on a serial level), each swept in order using the
other blocks' values from before the sweep, and each thread sweeps its two
blocks interleaved so that the processor overlaps their chains of
dependent updates; the result is deterministic for a given number of
threads. The hierarchy's matrices and the cycle's vectors are float32
(half the memory traffic; the K-cycle's inner products are float64
sums); the outer iteration's matrix products, residuals and scalars are
float64, so the requested relative residual is met in double precision
and checked at the end on the true residual ``b - A x``.
"""

from __future__ import annotations

import time
import types
from dataclasses import dataclass

import numba
import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numba import njit, prange

from xtwin import arguments

METHODS = ("auto", "direct", "amg")

#: Largest system solved directly under ``method="auto"`` when its rows hold at most
#: :data:`SPARSE_ROW_NONZEROS` non-zeros on average (a 2D network: 5-point stencil). Measured on 2D
#: polycrystal networks (benchmarks/README.md, conduction section): SuperLU and AMG-CG to 1e-10 both
#: take 0.06 s at 1.8e4 unknowns; SuperLU is 1.6 times slower at 3.7e4 and 2 times at 8.4e4.
DIRECT_MAX_UNKNOWNS = 20_000
#: The same for denser rows (3D 7-point networks, finite-element matrices), whose fill-in grows
#: faster: on 3D networks AMG-CG is 2 times faster at 3.8e3 unknowns (0.015 s against 0.028 s), 8 times
#: at 7.4e3 and 18 times at 1.5e4. Below this size the direct solve costs under 0.1 s and is exact.
DIRECT_MAX_UNKNOWNS_DENSE = 5_000
#: Average non-zeros per row up to which a matrix counts as 2D-like for ``method="auto"``.
SPARSE_ROW_NONZEROS = 5.5
#: Strength-of-connection threshold of the aggregation (symmetric measure).
STRENGTH_THETA = 0.08
#: Largest coarsest level, solved by a dense Cholesky factorisation.
MAX_COARSE = 400
#: Most levels of the hierarchy.
MAX_LEVELS = 25
#: Coarsening stops when a level keeps more than this fraction of the unknowns.
MIN_COARSENING = 0.85
#: The K-cycle skips its second inner iteration when the first cut the coarse residual by this factor.
K_CYCLE_REDUCTION = 0.25
#: Precision of the finest level's copy of the matrix and of its work vectors inside the preconditioner.
FINE_DTYPE = np.float32
#: Precision of the coarse levels.
COARSE_DTYPE = np.float32
#: The AMG solve stops as stagnated when its residual has not halved in this many iterations.
STAGNATION_ITERATIONS = 100
#: Default most outer iterations of the AMG solve.
MAX_ITERATIONS = 500
#: Levels with fewer unknowns run the serial kernels. Each parallel loop costs a thread wake-up and, on a
#: busy machine, a wait for the other core: on the 2D benchmark polycrystal (9.3e5 unknowns) two threads
#: iterated in 1.66 s and one in 1.77 s, but with another process busy on the second core 3.5 s against
#: 2.2 s; on the 3D one (7.4e6) parallel fine levels saved 4-5 s of 16.5 s and cost nothing under load.
_SERIAL_BELOW = 1_000_000


class ConvergenceError(RuntimeError):
    """The iterative solver stopped before reaching the requested relative residual."""


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
        Outer Krylov iterations (0 for the direct solve).
    relative_residual : float
        ``||b - A x|| / ||b||`` of the returned solution.
    setup_s, solve_s : float
        Wall time of the preconditioner set-up (or factorisation) and of the solve, s.
    levels : int
        Levels of the multigrid hierarchy (0 for the direct solve).
    operator_complexity : float
        Non-zeros of all levels' matrices over those of the input matrix (0 for the direct solve).
    """

    method: str
    unknowns: int
    iterations: int
    relative_residual: float
    setup_s: float
    solve_s: float
    levels: int = 0
    operator_complexity: float = 0.0


def solve_spd(matrix: sp.spmatrix, rhs: np.ndarray, *, method: str = "auto", rtol: float = 1e-10,
              x0: np.ndarray | None = None, maxiter: int = MAX_ITERATIONS) -> tuple[np.ndarray, SolveInfo]:
    """Solve ``matrix x = rhs`` for a symmetric positive-definite sparse ``matrix``.

    Parameters
    ----------
    matrix : scipy.sparse matrix or array, shape (n, n)
        Symmetric positive definite (a weighted graph Laplacian with
        Dirichlet rows eliminated, or a stiffness matrix); only its
        non-zeros are used. Symmetry is assumed, not checked.
    rhs : ndarray, shape (n,)
        Right-hand side (finite).
    method : {"auto", "direct", "amg"}
        Sparse LU (SuperLU), AMG-preconditioned flexible CG (module
        docstring), or ``"direct"`` up to :data:`DIRECT_MAX_UNKNOWNS`
        unknowns (:data:`DIRECT_MAX_UNKNOWNS_DENSE` when the rows hold more
        than :data:`SPARSE_ROW_NONZEROS` non-zeros on average, as in 3D) and
        ``"amg"`` beyond.
    rtol : float
        Relative residual ``||b - A x|| / ||b||`` at which CG stops (0 < rtol < 1).
    x0 : ndarray, shape (n,), optional
        Starting guess for CG (ignored by the direct solve).
    maxiter : int
        Most CG iterations.

    Returns
    -------
    x : ndarray, shape (n,)
    info : SolveInfo

    Raises
    ------
    ConvergenceError
        CG did not reach ``rtol`` within ``maxiter`` iterations.
    ValueError
        Bad arguments, or a matrix that is singular or not positive definite.

    Notes
    -----
    Cost: the direct solve grows like n^1.5 in 2D and n^2 in 3D (fill-in);
    AMG-CG like n log(1 / rtol): set-up and solve to 1e-8 took about 2 s for
    the 0.93e6 unknowns of the 1000^2 benchmark polycrystal and 10-20 s for
    the 7.4e6 of the 200^3 one on two cores; the whole network solve of the
    latter peaked at 2.5 GB. The first call in a fresh environment compiles the
    numba kernels (about 20 s, cached on disk afterwards).
    """
    arguments.one_of("method", method, METHODS)
    rtol = arguments.positive("rtol", rtol)
    if rtol >= 1:
        raise ValueError(f"rtol={rtol!r}: expected a relative residual below 1")
    maxiter = arguments.integer("maxiter", maxiter, minimum=1)
    if not (sp.issparse(matrix) or isinstance(matrix, np.ndarray)):
        raise TypeError(f"matrix={type(matrix).__name__}: expected a scipy.sparse matrix or an ndarray")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix: expected a square matrix, got shape {matrix.shape}")
    if np.dtype(matrix.dtype).kind not in "iuf":
        raise TypeError(f"matrix: expected real entries, got dtype {matrix.dtype}")
    n = matrix.shape[0]
    b = arguments.array("rhs", rhs, ndim=(1,), dtype_kind="iuf", finite=True).astype(np.float64)
    if b.shape != (n,):
        raise ValueError(f"rhs: expected shape ({n},) to match the matrix, got {b.shape}")
    if x0 is not None:
        x0 = arguments.array("x0", x0, ndim=(1,), dtype_kind="iuf", finite=True).astype(np.float64)
        if x0.shape != (n,):
            raise ValueError(f"x0: expected shape ({n},) to match the matrix, got {x0.shape}")
    A = _as_csr(matrix)
    if not np.all(np.isfinite(A.data)):
        raise ValueError("matrix: expected finite entries, found NaN or infinity")
    if method == "auto":
        limit = DIRECT_MAX_UNKNOWNS if A.nnz <= SPARSE_ROW_NONZEROS * n else DIRECT_MAX_UNKNOWNS_DENSE
        method = "direct" if n <= limit else "amg"
    b_norm = float(np.linalg.norm(b))
    if n == 0 or b_norm == 0:
        return np.zeros(n), SolveInfo(method, n, 0, 0.0, 0.0, 0.0)
    diagonal = A.diagonal()
    if np.any(diagonal <= 0):
        raise ValueError(f"matrix: not positive definite: {int(np.count_nonzero(diagonal <= 0))} diagonal "
                         f"entries <= 0 (first at row {int(np.argmax(diagonal <= 0))})")
    if method == "direct":
        return _direct(A, b, b_norm)
    t0 = time.perf_counter()
    hierarchy = _Hierarchy(A, diagonal)
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    x, iterations, residual, stagnated = hierarchy.fcg(b, b_norm, x0, rtol, maxiter)
    solve = time.perf_counter() - t1
    if not residual <= rtol and stagnated:
        raise ConvergenceError(
            f"AMG-preconditioned CG stagnated: relative residual {residual:.3g} after {iterations} iterations "
            f"> rtol={rtol:g} ({n} unknowns), no longer halving; rtol is probably below the accuracy double "
            f"precision allows for this matrix (about 1e-16 times its condition number): raise rtol")
    if not residual <= rtol:
        raise ConvergenceError(
            f"AMG-preconditioned CG did not converge: relative residual {residual:.3g} after {iterations} "
            f"iterations (maxiter={maxiter}) > rtol={rtol:g} ({n} unknowns); raise maxiter or rtol, or check "
            f"that the matrix is symmetric positive definite")
    return x, SolveInfo("amg", n, iterations, residual, setup, solve, len(hierarchy.levels),
                        hierarchy.operator_complexity)


def _as_csr(matrix) -> sp.csr_matrix:
    """Canonical float64 CSR with int32 indices (no copy when it is already so)."""
    A = sp.csr_matrix(matrix, dtype=np.float64)
    if A.nnz >= 2**31:
        raise ValueError(f"matrix: {A.nnz} non-zeros; expected fewer than 2^31")
    if A.indices.dtype != np.int32 or A.indptr.dtype != np.int32:
        A = sp.csr_matrix((A.data, A.indices.astype(np.int32), A.indptr.astype(np.int32)), shape=A.shape)
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()
    A.eliminate_zeros()
    return A


def _direct(A: sp.csr_matrix, b: np.ndarray, b_norm: float) -> tuple[np.ndarray, SolveInfo]:
    t0 = time.perf_counter()
    try:
        lu = spla.splu(A.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
    except RuntimeError as error:  # SuperLU: "Factor is exactly singular"
        raise ValueError(f"matrix: singular ({error}); expected a positive-definite matrix") from None
    setup = time.perf_counter() - t0
    t1 = time.perf_counter()
    x = lu.solve(b)
    solve = time.perf_counter() - t1
    if not np.all(np.isfinite(x)):
        raise ValueError("matrix: the direct solve gave non-finite values; expected a positive-definite matrix")
    residual = float(np.linalg.norm(b - A @ x)) / b_norm
    return x, SolveInfo("direct", A.shape[0], 0, residual, setup, solve)


class _Level:
    """One level of the hierarchy: its matrix (float32 values), smoother data, aggregates and work vectors."""

    def __init__(self, A: sp.csr_matrix, diagonal: np.ndarray, chunks: int, dtype) -> None:
        self.n = A.shape[0]
        self.dtype = np.dtype(dtype)
        self.nnz = A.nnz
        # Unsigned views of the index arrays: numba then skips its negative-index wrap-around test,
        # which costs about as much as the arithmetic in these sparse loops.
        self.indptr, self.indices = A.indptr.astype(np.uint64), A.indices.view(np.uint32)
        self.data = A.data.astype(dtype)
        self.invdiag = (1.0 / diagonal).astype(dtype)
        self.chunks = chunks
        self.parallel = chunks > 1
        # Aggregates: set by the hierarchy when the level is coarsened.
        self.agg = self.mptr = self.midx = None
        # Work vectors (float32): xo, the values before a Gauss-Seidel sweep; rhs, v, d, w, q, r2 for the
        # K-cycle when this level is a coarse level.
        self.xo = np.empty(self.n, dtype)
        self.rhs = np.empty(self.n, dtype)
        self.v = np.empty(self.n, dtype)
        self.d = np.empty(self.n, dtype)
        self.w = np.empty(self.n, dtype)
        self.q = np.empty(self.n, dtype)
        self.r2 = np.empty(self.n, dtype)

    def kernel(self, name: str):
        return _PARALLEL[name] if self.parallel else _SERIAL[name]


class _Hierarchy:
    """Aggregation hierarchy of ``A`` and the K-cycle / flexible-CG solve (module docstring)."""

    def __init__(self, A: sp.csr_matrix, diagonal: np.ndarray) -> None:
        self.A = A
        threads = numba.get_num_threads()
        self.levels: list[_Level] = []
        current = A
        while True:
            n = current.shape[0]
            if current is not A:
                diagonal = current.diagonal()
                if not np.all(diagonal > 0):
                    raise ValueError("matrix: not positive definite (a coarse AMG level has a diagonal entry <= 0)")
            level = _Level(current, diagonal, threads if n >= _SERIAL_BELOW and threads > 1 else 1,
                           FINE_DTYPE if current is A else COARSE_DTYPE)
            self.levels.append(level)
            if n <= MAX_COARSE or len(self.levels) == MAX_LEVELS:
                break
            agg, n_coarse = _aggregate(current, diagonal, level.parallel)
            if n_coarse == 0 or n_coarse > MIN_COARSENING * n:
                break
            level.agg = agg
            mptr, midx = _members(agg, n_coarse)
            level.mptr, level.midx = mptr.view(np.uint64), midx.view(np.uint32)
            current = _galerkin(current, agg, mptr, midx, n_coarse, level.parallel)
        self.coarse = self.levels[-1]
        self.coarse.agg = None
        coarse_matrix = current
        if self.coarse.n <= 4 * MAX_COARSE:
            try:
                factor = scipy.linalg.cho_factor(coarse_matrix.toarray())
            except np.linalg.LinAlgError:
                raise ValueError("matrix: not positive definite (Cholesky of the coarsest AMG level failed)") from None
            self._coarse_solve = lambda r: scipy.linalg.cho_solve(factor, r.astype(np.float64))
        else:  # aggregation stalled (few strong couplings): sparse LU of what is left
            lu = spla.splu(coarse_matrix.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options={"SymmetricMode": True})
            self._coarse_solve = lambda r: lu.solve(r.astype(np.float64))
        self.operator_complexity = sum(level.nnz for level in self.levels) / max(A.nnz, 1)

    # -- the preconditioner ------------------------------------------------------------------------------
    def _cycle(self, k: int, r: np.ndarray, x: np.ndarray) -> None:
        """``x = B_k r``: one K-cycle on level ``k`` (``x`` is overwritten)."""
        level = self.levels[k]
        if level is self.coarse:
            x[:] = self._coarse_solve(r)
            return
        f = level.kernel
        f("presmooth")(level.indptr, level.indices, level.data, level.invdiag, x, r, level.xo, level.chunks)
        nxt = self.levels[k + 1]
        # level.q is free here: the K-cycle on this level fills it only after its calls to this cycle.
        f("residual")(level.indptr, level.indices, level.data, x, r, level.q)
        f("gather")(level.q, level.mptr, level.midx, nxt.rhs)
        if nxt is self.coarse:
            correction = nxt.v
            correction[:] = self._coarse_solve(nxt.rhs)
        else:
            correction = self._k_correction(k + 1)
        f("postsmooth")(level.indptr, level.indices, level.data, level.invdiag, x, r, level.xo, level.agg,
                        correction, level.chunks)

    def _k_correction(self, k: int) -> np.ndarray:
        """Solve ``A_k e = rhs_k`` by two steps of flexible CG preconditioned by ``_cycle(k)``; return ``e``."""
        level = self.levels[k]
        g = level.kernel
        rc, v, d, w, q, r2 = level.rhs, level.v, level.d, level.w, level.q, level.r2
        self._cycle(k, rc, v)
        rho1, a1 = g("spmv_dots")(level.indptr, level.indices, level.data, v, rc, w)
        if not a1 > 0:
            v[:] = 0
            return v
        alpha = rho1 / a1
        real = level.dtype.type
        rr2, rr = g("axpy_norms")(rc, w, real(alpha), r2)
        if rr2 <= K_CYCLE_REDUCTION**2 * rr:
            g("scale")(v, real(alpha))
            return v
        self._cycle(k, r2, d)
        gamma, beta, a2 = g("spmv_dots3")(level.indptr, level.indices, level.data, d, w, r2, q)
        denominator = beta - gamma * gamma / a1
        if not denominator > 0:
            g("scale")(v, real(alpha))
            return v
        c2 = a2 / denominator
        c1 = alpha - gamma * c2 / a1
        g("combine")(v, real(c1), d, real(c2))
        return v

    # -- the outer iteration -----------------------------------------------------------------------------
    def fcg(self, b: np.ndarray, b_norm: float, x0, rtol: float, maxiter: int
            ) -> tuple[np.ndarray, int, float, bool]:
        """Flexible CG (one previous direction kept) on the float64 matrix.

        Returns x, the iterations, the true relative residual and whether the iteration stagnated (the
        residual did not halve in :data:`STAGNATION_ITERATIONS` iterations, or the true residual, checked
        whenever the recurrence claims convergence, did not halve over three restarts in a row: the
        requested residual is below what double precision can reach).
        """
        fine = self.levels[0]
        f = fine.kernel
        indptr, indices, data = fine.indptr, fine.indices, self.A.data
        n = fine.n
        x = np.zeros(n) if x0 is None else x0.copy()
        r = np.empty(n)
        p = np.zeros(n)
        q = np.zeros(n)
        r32 = np.empty(n, fine.dtype)
        z32 = np.empty(n, fine.dtype)
        target = (rtol * b_norm) ** 2
        rr = f("residual64")(indptr, indices, data, x, b, r, r32)
        pq_previous = 0.0
        iterations = 0
        best, best_at, best_true, slow_restarts = rr, 0, np.inf, 0
        stagnated = False
        while iterations < maxiter:
            if rr <= target:
                # Confirm on the true residual (the recurrence drifts); restart from it if it disagrees.
                rr = f("residual64")(indptr, indices, data, x, b, r, r32)
                if rr <= target:
                    break
                slow_restarts = slow_restarts + 1 if rr > 0.25 * best_true else 0
                if slow_restarts == 3:
                    stagnated = True
                    break
                best, best_at, best_true = rr, iterations, min(rr, best_true)
                pq_previous = 0.0
            if len(self.levels) == 1:
                z = self._coarse_solve(r)           # exact, in float64
            else:
                self._cycle(0, r32, z32)
                z = z32
            beta = f("dot32_64")(z, q) / pq_previous if pq_previous > 0 else 0.0
            f("direction")(z, beta, p)
            pq, pr = f("spmv64_dots")(indptr, indices, data, p, r, q)
            if not pq > 0:
                raise ValueError("matrix: not positive definite (p^T A p <= 0 in CG)")
            alpha = pr / pq
            rr = f("update")(x, r, p, q, alpha, r32)
            pq_previous = pq
            iterations += 1
            if rr < 0.25 * best:
                best, best_at = rr, iterations
            elif iterations - best_at >= STAGNATION_ITERATIONS:
                stagnated = True
                break
        rr = f("residual64")(indptr, indices, data, x, b, r, r32)
        return x, iterations, float(np.sqrt(rr)) / b_norm, stagnated


# -- set-up --------------------------------------------------------------------------------------------------
def _aggregate(A: sp.csr_matrix, diagonal: np.ndarray, parallel: bool) -> tuple[np.ndarray, int]:
    """Aggregate of every row (-1: left alone) from the strong couplings of ``A`` (``diagonal`` > 0: its
    diagonal); and the aggregate count."""
    import pyamg.amg_core

    n = A.shape[0]
    kernels = _PARALLEL if parallel else _SERIAL
    counts = np.empty(n + 1, np.int32)
    counts[0] = 0
    kernels["strength_count"](A.indptr, A.indices, A.data, diagonal, STRENGTH_THETA**2, counts[1:])
    c_ptr = np.cumsum(counts, dtype=np.int64)
    if c_ptr[-1] >= 2**31:
        raise ValueError(f"matrix: {c_ptr[-1]} strong couplings; expected fewer than 2^31")
    c_ptr = c_ptr.astype(np.int32)
    c_idx = np.empty(int(c_ptr[-1]), np.int32)
    kernels["strength_fill"](A.indptr, A.indices, A.data, diagonal, STRENGTH_THETA**2, c_ptr, c_idx)
    agg = np.empty(n, np.int32)
    roots = np.empty(n, np.int32)
    n_coarse = int(pyamg.amg_core.standard_aggregation(n, c_ptr, c_idx, agg, roots))
    return agg, n_coarse


@njit(cache=True)
def _members(agg: np.ndarray, n_coarse: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each aggregate as CSR (pointer, row indices), rows in increasing order."""
    ptr = np.zeros(n_coarse + 1, np.int64)
    for i in range(agg.shape[0]):
        if agg[i] >= 0:
            ptr[agg[i] + 1] += 1
    for c in range(n_coarse):
        ptr[c + 1] += ptr[c]
    fill = ptr[:-1].copy()
    idx = np.empty(ptr[-1], np.int32)
    for i in range(agg.shape[0]):
        a = agg[i]
        if a >= 0:
            idx[fill[a]] = i
            fill[a] += 1
    return ptr, idx


def _galerkin(A: sp.csr_matrix, agg: np.ndarray, mptr: np.ndarray, midx: np.ndarray, n_coarse: int,
              parallel: bool) -> sp.csr_matrix:
    """``P^T A P`` for the piecewise-constant prolongation ``P`` of ``agg`` (float64 CSR, unsorted columns)."""
    kernels = _PARALLEL if parallel else _SERIAL
    chunks = max(1, min(4 * numba.get_num_threads(), n_coarse // 1024)) if parallel else 1
    counts = np.zeros(n_coarse + 1, np.int64)
    kernels["galerkin_count"](A.indptr, A.indices, agg, mptr, midx, n_coarse, chunks, counts[1:])
    ptr = np.cumsum(counts)
    indices = np.empty(int(ptr[-1]), np.int32)
    data = np.empty(int(ptr[-1]), np.float64)
    kernels["galerkin_fill"](A.indptr, A.indices, A.data, agg, mptr, midx, n_coarse, chunks, ptr, indices, data)
    coarse = sp.csr_matrix((data, indices, ptr.astype(np.int32)), shape=(n_coarse, n_coarse))
    coarse.eliminate_zeros()
    return coarse


# -- kernels (compiled twice: parallel over rows, and serial for small levels) --------------------------------
def _strength_count(indptr, indices, data, diagonal, theta2, counts):
    for i in prange(counts.shape[0]):
        c = 0
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            if j == i or data[jj] * data[jj] >= theta2 * diagonal[i] * diagonal[j]:
                c += 1
        counts[i] = c


def _strength_fill(indptr, indices, data, diagonal, theta2, c_ptr, c_idx):
    for i in prange(c_ptr.shape[0] - 1):
        k = c_ptr[i]
        for jj in range(indptr[i], indptr[i + 1]):
            j = indices[jj]
            if j == i or data[jj] * data[jj] >= theta2 * diagonal[i] * diagonal[j]:
                c_idx[k] = j
                k += 1


def _galerkin_count(indptr, indices, agg, mptr, midx, n_coarse, chunks, counts):
    for t in prange(chunks):
        marker = np.full(n_coarse, -1, np.int32)
        for c in range(t * n_coarse // chunks, (t + 1) * n_coarse // chunks):
            k = 0
            for m in range(mptr[c], mptr[c + 1]):
                i = midx[m]
                for jj in range(indptr[i], indptr[i + 1]):
                    a = agg[indices[jj]]
                    if a >= 0 and marker[a] != c:
                        marker[a] = c
                        k += 1
            counts[c] = k


def _galerkin_fill(indptr, indices, data, agg, mptr, midx, n_coarse, chunks, ptr, c_idx, c_data):
    for t in prange(chunks):
        marker = np.full(n_coarse, -1, np.int64)
        for c in range(t * n_coarse // chunks, (t + 1) * n_coarse // chunks):
            start = ptr[c]
            k = start
            for m in range(mptr[c], mptr[c + 1]):
                i = midx[m]
                for jj in range(indptr[i], indptr[i + 1]):
                    a = agg[indices[jj]]
                    if a >= 0:
                        if marker[a] < start:
                            marker[a] = k
                            c_idx[k] = a
                            c_data[k] = data[jj]
                            k += 1
                        else:
                            c_data[marker[a]] += data[jj]


def _presmooth(indptr, indices, data, invdiag, x, b, xo, chunks):
    """``x`` from 0 by one forward hybrid Gauss-Seidel sweep on ``A x = b``; ``xo = x``.

    The rows are cut into ``2 chunks`` contiguous blocks, swept independently (off-block values are those
    from before the sweep, here 0); each parallel chunk sweeps its two blocks interleaved, row by row, so
    that the processor overlaps the two chains of dependent updates.
    """
    n = x.shape[0]
    for c in prange(chunks):
        lo = c * n // chunks
        hi = (c + 1) * n // chunks
        mid = (lo + hi) // 2
        for i in range(lo, hi):
            x[i] = 0
        for k in range(hi - mid):
            if k < mid - lo:
                i = lo + k
                s = b[i]
                for jj in range(indptr[i], indptr[i + 1]):
                    j = indices[jj]
                    if lo <= j < mid:
                        s -= data[jj] * x[j]
                x[i] += s * invdiag[i]
                xo[i] = x[i]
            i = mid + k
            s = b[i]
            for jj in range(indptr[i], indptr[i + 1]):
                j = indices[jj]
                if mid <= j < hi:
                    s -= data[jj] * x[j]
            x[i] += s * invdiag[i]
            xo[i] = x[i]


def _postsmooth(indptr, indices, data, invdiag, x, b, xo, agg, e, chunks):
    """``x += P e`` then one backward hybrid Gauss-Seidel sweep (blocks as :func:`_presmooth`; ``xo`` holds
    ``x`` before the correction, off-block values are ``xo + P e``)."""
    n = x.shape[0]
    for c in prange(chunks):
        lo = c * n // chunks
        hi = (c + 1) * n // chunks
        mid = (lo + hi) // 2
        for i in range(lo, hi):
            a = agg[i]
            if a >= 0:
                x[i] += e[a]
        for k in range(hi - mid):
            if k < mid - lo:
                i = mid - 1 - k
                s = b[i]
                for jj in range(indptr[i], indptr[i + 1]):
                    j = indices[jj]
                    if lo <= j < mid:
                        s -= data[jj] * x[j]
                    else:
                        a = agg[j]
                        s -= data[jj] * (xo[j] + e[a] if a >= 0 else xo[j])
                x[i] += s * invdiag[i]
            i = hi - 1 - k
            s = b[i]
            for jj in range(indptr[i], indptr[i + 1]):
                j = indices[jj]
                if mid <= j < hi:
                    s -= data[jj] * x[j]
                else:
                    a = agg[j]
                    s -= data[jj] * (xo[j] + e[a] if a >= 0 else xo[j])
            x[i] += s * invdiag[i]


def _residual(indptr, indices, data, x, b, r):
    """``r = b - A x``."""
    for i in prange(x.shape[0]):
        t = b[i]
        for jj in range(indptr[i], indptr[i + 1]):
            t -= data[jj] * x[indices[jj]]
        r[i] = t


def _gather(r, mptr, midx, rc):
    """``rc = P^T r``."""
    for c in prange(rc.shape[0]):
        s = 0.0
        for m in range(mptr[c], mptr[c + 1]):
            s += r[midx[m]]
        rc[c] = s


def _spmv_dots(indptr, indices, data, v, r, w):
    """``w = A v``; return ``v.r``, ``v.w``."""
    s1 = 0.0
    s2 = 0.0
    for i in prange(v.shape[0]):
        t = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            t += data[jj] * v[indices[jj]]
        w[i] = t
        s1 += np.float64(v[i]) * r[i]
        s2 += np.float64(v[i]) * t
    return s1, s2


def _spmv_dots3(indptr, indices, data, d, w, r, q):
    """``q = A d``; return ``d.w``, ``d.q``, ``d.r``."""
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for i in prange(d.shape[0]):
        t = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            t += data[jj] * d[indices[jj]]
        q[i] = t
        s1 += np.float64(d[i]) * w[i]
        s2 += np.float64(d[i]) * t
        s3 += np.float64(d[i]) * r[i]
    return s1, s2, s3


def _axpy_norms(r, w, alpha, out):
    """``out = r - alpha w``; return ``|out|^2``, ``|r|^2``."""
    s1 = 0.0
    s2 = 0.0
    for i in prange(r.shape[0]):
        t = r[i] - alpha * w[i]
        out[i] = t
        s1 += np.float64(t) * t
        s2 += np.float64(r[i]) * r[i]
    return s1, s2


def _scale(v, alpha):
    for i in prange(v.shape[0]):
        v[i] *= alpha


def _combine(v, c1, d, c2):
    """``v = c1 v + c2 d``."""
    for i in prange(v.shape[0]):
        v[i] = c1 * v[i] + c2 * d[i]


def _residual64(indptr, indices, data, x, b, r, r32):
    """``r = b - A x`` (float64, and its float32 copy); return ``|r|^2``."""
    s = 0.0
    for i in prange(x.shape[0]):
        t = b[i]
        for jj in range(indptr[i], indptr[i + 1]):
            t -= data[jj] * x[indices[jj]]
        r[i] = t
        r32[i] = t
        s += t * t
    return s


def _dot32_64(z, q):
    s = 0.0
    for i in prange(z.shape[0]):
        s += np.float64(z[i]) * q[i]
    return s


def _direction(z, beta, p):
    """``p = z - beta p``."""
    for i in prange(z.shape[0]):
        p[i] = z[i] - beta * p[i]


def _spmv64_dots(indptr, indices, data, p, r, q):
    """``q = A p``; return ``p.q``, ``p.r``."""
    s1 = 0.0
    s2 = 0.0
    for i in prange(p.shape[0]):
        t = 0.0
        for jj in range(indptr[i], indptr[i + 1]):
            t += data[jj] * p[indices[jj]]
        q[i] = t
        s1 += p[i] * t
        s2 += p[i] * r[i]
    return s1, s2


def _update(x, r, p, q, alpha, r32):
    """``x += alpha p``; ``r -= alpha q`` (and its float32 copy); return ``|r|^2``."""
    s = 0.0
    for i in prange(x.shape[0]):
        x[i] += alpha * p[i]
        t = r[i] - alpha * q[i]
        r[i] = t
        r32[i] = t
        s += t * t
    return s


_KERNELS = {"strength_count": _strength_count, "strength_fill": _strength_fill, "galerkin_count": _galerkin_count,
            "galerkin_fill": _galerkin_fill, "presmooth": _presmooth, "postsmooth": _postsmooth,
            "residual": _residual, "gather": _gather,
            "spmv_dots": _spmv_dots, "spmv_dots3": _spmv_dots3, "axpy_norms": _axpy_norms, "scale": _scale,
            "combine": _combine, "residual64": _residual64, "dot32_64": _dot32_64, "direction": _direction,
            "spmv64_dots": _spmv64_dots, "update": _update}


def _renamed(fn, suffix: str):
    """A copy of ``fn`` under another qualified name, so that numba caches its two compilations apart."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix, fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    copy.__doc__ = fn.__doc__
    return copy


_PARALLEL = {name: njit(parallel=True, cache=True)(_renamed(fn, "_parallel")) for name, fn in _KERNELS.items()}
_SERIAL = {name: njit(cache=True)(_renamed(fn, "_serial")) for name, fn in _KERNELS.items()}
