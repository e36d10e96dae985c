"""Linear combination fitting, PCA and k-means clustering of many XANES spectra (seeds/004, section 4).

seeds/004 (section 4, "Data analysis") lists, besides whiteline fitting, "linear combination fitting" of each
pixel's spectrum with reference spectra of known phases, and principal component analysis and clustering
to find the chemical phases of a large spectro-imaging data set without references.

* :func:`lcf`: ``y ~ sum_k w_k r_k`` with ``w >= 0`` (and optionally ``sum w = 1``), for N spectra at once.
  With few references (K <= 8), the non-negative least-squares solution is found exactly by enumerating the
  2^K - 1 active sets: for each subset S, the unconstrained (or sum-constrained) least-squares weights of all
  spectra come from one K_S x K_S solve and one matrix product; the feasible (all weights >= 0) subset of
  lowest residual is the NNLS optimum (the NNLS problem is convex and its solution is the unconstrained
  solution on its own support). Cost O(2^K N (n_E + K)).
* :func:`pca`: principal components from the eigen-decomposition of the n_E x n_E covariance (one pass over
  the data, O(N n_E^2)), scores, explained variance.
* :func:`kmeans`: Lloyd's algorithm with k-means++ seeding (Arthur & Vassilvitskii 2007), seeded Generator,
  vectorised distances, O(iterations N k n_features).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from xtwin import arguments

from .normalise import BLOCK_SPECTRA, _spectra

__all__ = ["LcfResult", "lcf", "PcaResult", "pca", "KMeansResult", "kmeans"]

#: Largest number of references :func:`lcf` accepts (2^K subsets are enumerated).
MAX_REFERENCES = 8


@dataclass(frozen=True)
class LcfResult:
    """Weights ``(..., K)``, their 1-sigma uncertainties, residual sum of squares ``(...)``, R-factor ``(...)``
    (``sum r^2 / sum y^2``) and ``ok`` (finite spectrum)."""

    weights: np.ndarray
    weights_sigma: np.ndarray
    rss: np.ndarray
    r_factor: np.ndarray
    ok: np.ndarray


def lcf(spectra, references, *, sum_to_one: bool = False, noise=None) -> LcfResult:
    """Non-negative linear combination fit of every spectrum with a few references.

    Parameters
    ----------
    spectra : array (..., n_E)
        Normalised spectra, energy last (NaN spectra give NaN weights and ``ok = False``).
    references : array (K, n_E)
        Reference spectra on the same energy grid (interpolate first, e.g. ``Spectrum.interpolate``).
    sum_to_one : bool
        Also impose ``sum_k w_k = 1`` (fractions of phases).
    noise : float or array, optional
        Per-point noise of the spectra (scalar or leading shape) for the weight uncertainties; default
        ``sqrt(rss / (n_E - n_free))``.

    Returns
    -------
    LcfResult
        Weights of the best feasible active set; uncertainties from the covariance ``sigma^2 (R_S R_S^T)^-1``
        of the free weights (those at zero get 0). Exact NNLS (see module docstring).
    """
    y = _spectra("spectra", spectra)
    r = arguments.array("references", references, ndim=(2,), dtype_kind="iuf", finite=True).astype(float)
    n_k, n_e = r.shape
    if n_k < 1 or n_k > MAX_REFERENCES:
        raise ValueError(f"references: expected 1 to {MAX_REFERENCES} reference spectra, got {n_k}")
    if n_e != y.shape[-1]:
        raise ValueError(f"references: expected {y.shape[-1]} points per reference (the spectra's energies), "
                         f"got shape {r.shape}")
    if np.linalg.matrix_rank(r) < n_k:
        raise ValueError("references: expected linearly independent reference spectra")
    if not isinstance(sum_to_one, bool):
        raise TypeError(f"sum_to_one={sum_to_one!r}: expected a bool")
    shape = y.shape[:-1]
    flat = y.reshape(-1, n_e)
    n = flat.shape[0]
    sig = None
    if noise is not None:
        sig = np.broadcast_to(np.asarray(noise, dtype=float), shape).reshape(-1)
    gram = r @ r.T
    subsets = [list(s) for size in range(1, n_k + 1) for s in itertools.combinations(range(n_k), size)]
    weights = np.full((n, n_k), np.nan)
    wsig = np.full((n, n_k), np.nan)
    rss_out = np.full(n, np.nan)
    rfac = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    for s in range(0, n, BLOCK_SPECTRA):
        block = np.asarray(flat[s:s + BLOCK_SPECTRA], dtype=float)
        good = np.all(np.isfinite(block), axis=-1)
        b = np.where(good[:, None], block, 0.0)
        ry = b @ r.T  # (m, K)
        yy = np.sum(b * b, axis=-1)
        # the empty set (all weights 0, rss = y.y) is feasible without the sum constraint
        best = np.full(b.shape[0], np.inf) if sum_to_one else yy.copy()
        best_w = np.zeros((b.shape[0], n_k))
        best_set = np.full(b.shape[0], -1)
        for si, sub in enumerate(subsets):
            g = gram[np.ix_(sub, sub)]
            gi = np.linalg.inv(g)
            w = ry[:, sub] @ gi  # unconstrained LS on the subset
            if sum_to_one:
                ones = np.ones(len(sub))
                u = gi @ ones
                lam = (1.0 - w.sum(axis=-1)) / (ones @ u)
                w = w + lam[:, None] * u
            rss = yy - 2.0 * np.sum(w * ry[:, sub], axis=-1) + np.einsum("ni,ij,nj->n", w, g, w)
            feasible = np.all(w >= -1e-12, axis=-1) & (rss < best - 1e-12 * (1.0 + yy))
            best = np.where(feasible, rss, best)
            full = np.zeros((b.shape[0], n_k))
            full[:, sub] = np.maximum(w, 0.0)
            best_w = np.where(feasible[:, None], full, best_w)
            best_set = np.where(feasible, si, best_set)
        rss_b = np.maximum(best, 0.0)
        sl = slice(s, s + b.shape[0])
        weights[sl] = best_w
        rss_out[sl] = rss_b
        with np.errstate(divide="ignore", invalid="ignore"):
            rfac[sl] = rss_b / yy
        # uncertainties per active set
        ws = np.zeros((b.shape[0], n_k))
        for si in np.unique(best_set[best_set >= 0]):
            sub = subsets[si]
            rows = best_set == si
            gi = np.linalg.inv(gram[np.ix_(sub, sub)])
            if sum_to_one:
                ones = np.ones(len(sub))
                u = gi @ ones
                gi = gi - np.outer(u, u) / (ones @ u)
            n_free = len(sub) - (1 if sum_to_one else 0)
            if sig is None:
                s2 = rss_b[rows] / max(n_e - n_free, 1)
            else:
                s2 = sig[sl][rows] ** 2
            d = np.sqrt(np.maximum(np.diag(gi), 0.0))
            tmp = np.zeros((int(rows.sum()), n_k))
            tmp[:, sub] = np.sqrt(s2)[:, None] * d
            ws[rows] = tmp
        wsig[sl] = ws
        ok[sl] = good
    weights[~ok] = np.nan
    wsig[~ok] = np.nan
    rss_out[~ok] = np.nan
    rfac[~ok] = np.nan
    return LcfResult(weights.reshape(shape + (n_k,)), wsig.reshape(shape + (n_k,)), rss_out.reshape(shape),
                     rfac.reshape(shape), ok.reshape(shape))


@dataclass(frozen=True)
class PcaResult:
    """Principal components.

    Attributes
    ----------
    mean : ndarray (n_E,)
    components : ndarray (n_components, n_E)
        Orthonormal, by decreasing variance (sign: largest absolute entry positive).
    explained_variance : ndarray (n_components,)
    explained_variance_ratio : ndarray (n_components,)
    scores : ndarray (..., n_components)
        Projections of the (finite) spectra; NaN for spectra with NaN.
    """

    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    scores: np.ndarray


def pca(spectra, n_components: int = 3) -> PcaResult:
    """PCA of spectra ``(..., n_E)`` from the covariance matrix (spectra with NaN are left out), O(N n_E^2)."""
    y = _spectra("spectra", spectra)
    n_e = y.shape[-1]
    nc = arguments.integer("n_components", n_components, minimum=1)
    if nc > n_e:
        raise ValueError(f"n_components={n_components!r}: expected at most {n_e} (the number of energies)")
    flat = y.reshape(-1, n_e)
    good = np.all(np.isfinite(flat), axis=-1)
    m = int(good.sum())
    if m < 2:
        raise ValueError(f"spectra: expected at least 2 spectra without NaN, got {m}")
    total = np.zeros(n_e)
    for s in range(0, flat.shape[0], BLOCK_SPECTRA):
        b = np.asarray(flat[s:s + BLOCK_SPECTRA], dtype=float)
        total += b[good[s:s + BLOCK_SPECTRA]].sum(axis=0)
    mean = total / m
    cov = np.zeros((n_e, n_e))
    for s in range(0, flat.shape[0], BLOCK_SPECTRA):
        b = np.asarray(flat[s:s + BLOCK_SPECTRA], dtype=float)[good[s:s + BLOCK_SPECTRA]] - mean
        cov += b.T @ b
    cov /= m - 1
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1]
    vals, vecs = np.maximum(vals[order], 0.0), vecs[:, order]
    comps = vecs[:, :nc].T
    sign = np.sign(comps[np.arange(nc), np.argmax(np.abs(comps), axis=1)])
    comps = comps * sign[:, None]
    scores = np.full((flat.shape[0], nc), np.nan)
    for s in range(0, flat.shape[0], BLOCK_SPECTRA):
        b = np.asarray(flat[s:s + BLOCK_SPECTRA], dtype=float)
        scores[s:s + BLOCK_SPECTRA] = (b - mean) @ comps.T
    total_var = vals.sum()
    ratio = vals[:nc] / total_var if total_var > 0 else np.zeros(nc)
    return PcaResult(mean, comps, vals[:nc], ratio, scores.reshape(y.shape[:-1] + (nc,)))


@dataclass(frozen=True)
class KMeansResult:
    """Labels ``(...)`` (-1 for spectra with NaN), centres ``(k, n_features)``, inertia (sum of squared
    distances), iterations run and whether the assignment converged."""

    labels: np.ndarray
    centres: np.ndarray
    inertia: float
    iterations: int
    converged: bool


def _sq_distances(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.maximum(np.sum(x * x, axis=1)[:, None] - 2.0 * x @ c.T + np.sum(c * c, axis=1)[None, :], 0.0)


def kmeans(features, k: int, *, seed: int = 0, max_iterations: int = 100) -> KMeansResult:
    """k-means clustering of ``features`` (..., n_features) (spectra, or PCA scores), k-means++ seeding.

    Parameters
    ----------
    features : array (..., n_features)
    k : int
        Number of clusters, >= 1 and <= number of finite rows.
    seed : int
        Seed of the numpy Generator for the k-means++ draws.
    max_iterations : int
        Lloyd iterations at most.

    Returns
    -------
    KMeansResult
        Clusters are numbered by increasing first coordinate of their centre (a deterministic order).
    """
    x = _spectra("features", features)
    nf = x.shape[-1]
    flat = x.reshape(-1, nf).astype(float)
    good = np.all(np.isfinite(flat), axis=-1)
    pts = flat[good]
    k = arguments.integer("k", k, minimum=1)
    if k > pts.shape[0]:
        raise ValueError(f"k={k}: expected at most the number of finite rows, {pts.shape[0]}")
    iters = arguments.integer("max_iterations", max_iterations, minimum=1)
    rng = np.random.default_rng(arguments.integer("seed", seed, minimum=0))
    centres = np.empty((k, nf))
    centres[0] = pts[rng.integers(pts.shape[0])]
    d2 = _sq_distances(pts, centres[:1])[:, 0]
    for j in range(1, k):
        total = d2.sum()
        i = rng.choice(pts.shape[0], p=d2 / total) if total > 0 else rng.integers(pts.shape[0])
        centres[j] = pts[i]
        d2 = np.minimum(d2, _sq_distances(pts, centres[j:j + 1])[:, 0])
    labels = np.full(pts.shape[0], -1)
    converged = False
    it = 0
    while it < iters:
        it += 1
        new = np.argmin(_sq_distances(pts, centres), axis=1)
        if np.array_equal(new, labels):
            converged = True
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, pts[:, f], minlength=k) for f in range(nf)], axis=1)
        nonempty = counts > 0
        centres[nonempty] = sums[nonempty] / counts[nonempty, None]
    order = np.argsort(centres[:, 0], kind="stable")
    rank = np.empty(k, dtype=int)
    rank[order] = np.arange(k)
    inertia = float(np.sum(np.min(_sq_distances(pts, centres), axis=1)))
    out = np.full(flat.shape[0], -1)
    out[good] = rank[labels]
    return KMeansResult(out.reshape(x.shape[:-1]), centres[order], inertia, it, converged)
