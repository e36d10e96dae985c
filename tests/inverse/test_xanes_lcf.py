"""Tests of inverse.xanes.lcf: non-negative linear combination fitting, PCA and k-means."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from forward.xanes.edge import NI_K_MODEL, mu_normalised
from inverse.xanes import kmeans, lcf, pca

E = np.concatenate([np.arange(8280.0, 8330.0, 5.0), np.arange(8330.0, 8370.0, 1.0), np.arange(8370.0, 8480.0, 11.0)])
REFS = mu_normalised(NI_K_MODEL, E, np.array([2.0, 3.0, 4.0]))  # Ni2+, Ni3+, Ni4+ model references


def test_lcf_recovers_known_fractions_exactly():
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(3), size=(40, 50))
    w[0, 0] = (0.0, 1.0, 0.0)  # on the boundary of the feasible set
    y = w @ REFS
    res = lcf(y, REFS, sum_to_one=True)
    np.testing.assert_allclose(res.weights, w, atol=1e-8)
    np.testing.assert_allclose(res.rss, 0.0, atol=1e-10)
    free = lcf(y, REFS)
    np.testing.assert_allclose(free.weights, w, atol=1e-8)
    assert res.weights.shape == (40, 50, 3) and res.ok.all()


def test_lcf_with_noise_has_calibrated_uncertainties():
    rng = np.random.default_rng(1)
    n = 4000
    w = rng.dirichlet(np.ones(2) * 5, size=n)
    refs = REFS[[0, 2]]
    y = w @ refs + rng.normal(0, 0.01, (n, E.size))
    res = lcf(y, refs, noise=0.01)
    pull = (res.weights[:, 0] - w[:, 0]) / res.weights_sigma[:, 0]
    assert abs(np.mean(pull)) < 0.1 and 0.9 < np.std(pull) < 1.1


def test_lcf_equals_scipy_nnls_on_random_problems():
    # independent reference: the Lawson-Hanson active-set NNLS of scipy, one spectrum at a time
    rng = np.random.default_rng(2)
    refs = rng.normal(size=(4, 30))
    y = rng.normal(size=(200, 30))
    res = lcf(y, refs)
    for i in range(0, 200, 7):
        w, rnorm = nnls(refs.T, y[i])
        np.testing.assert_allclose(res.weights[i], w, atol=1e-8)
        assert res.rss[i] == pytest.approx(rnorm ** 2, rel=1e-8)
    assert np.all(res.weights >= 0) and np.any(res.weights == 0)


def test_lcf_nan_spectrum_not_ok():
    y = np.stack([REFS[0], REFS[1]])
    y[1, 3] = np.nan
    res = lcf(y, REFS)
    assert res.ok.tolist() == [True, False] and np.all(np.isnan(res.weights[1]))


def test_pca_of_two_phase_mixtures_has_one_component():
    # mixtures of two references minus their mean lie on one line: a single component holds all variance
    rng = np.random.default_rng(3)
    f = rng.uniform(0, 1, 500)
    y = f[:, None] * REFS[0] + (1 - f[:, None]) * REFS[2]
    res = pca(y, 3)
    assert res.explained_variance_ratio[0] == pytest.approx(1.0, abs=1e-12)
    d = (REFS[0] - REFS[2]) / np.linalg.norm(REFS[0] - REFS[2])
    assert abs(res.components[0] @ d) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(res.mean + res.scores[:, :1] * res.components[0], y, atol=1e-10)


def test_kmeans_separates_three_valence_clusters():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 3, 3000)
    y = REFS[labels] + rng.normal(0, 0.02, (3000, E.size))
    scores = pca(y, 2).scores
    res = kmeans(scores, 3, seed=0)
    assert res.converged
    # clusters match the truth up to renumbering
    pairs = {(a, b) for a, b in zip(labels, res.labels)}
    assert len(pairs) == 3
    again = kmeans(scores, 3, seed=0)
    assert np.array_equal(again.labels, res.labels)


def test_refusals():
    with pytest.raises(ValueError, match="1 to 8"):
        lcf(np.ones((2, 5)), np.ones((9, 5)))
    with pytest.raises(ValueError, match="points per reference"):
        lcf(np.ones((2, 5)), np.ones((2, 6)))
    with pytest.raises(ValueError, match="independent"):
        lcf(np.ones((2, 5)), np.ones((2, 5)))
    with pytest.raises(ValueError, match="n_components"):
        pca(np.ones((5, 4)), 5)
    with pytest.raises(ValueError, match="at least 2"):
        pca(np.full((5, 4), np.nan), 1)
    with pytest.raises(ValueError, match="k=9"):
        kmeans(np.ones((5, 2)), 9)
