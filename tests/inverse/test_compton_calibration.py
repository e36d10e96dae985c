"""inverse.compton.calibration: EMF -> lithium content by weighted least squares, with propagated errors."""

import numpy as np
import pytest

from inverse.compton.calibration import fit_calibration


def test_calibration_recovers_a_known_line_and_its_uncertainty():
    rng = np.random.default_rng(5)
    x = np.linspace(0.2, 1.0, 6)
    sigma = np.full(6, 0.004)
    a_true, b_true = 0.62, 0.11
    fits = [fit_calibration(x, a_true + b_true * x + rng.normal(0, sigma), sigma) for _ in range(2000)]
    slopes = np.array([f.slope for f in fits])
    # Unbiased, and the covariance matches the spread (closed form: var b = s^2 / sum (x - xbar)^2).
    assert slopes.mean() == pytest.approx(b_true, abs=3 * slopes.std() / np.sqrt(2000))
    closed = 0.004 / np.sqrt(((x - x.mean()) ** 2).sum())
    assert fits[0].slope_sigma == pytest.approx(closed, rel=1e-10)
    assert slopes.std(ddof=1) == pytest.approx(closed, rel=0.1)
    chi2 = np.array([f.chi2 for f in fits])
    assert chi2.mean() == pytest.approx(4, rel=0.1)  # dof = 6 - 2


def test_exact_line_and_inverse_prediction():
    x = np.array([0.0, 0.5, 1.0])
    cal = fit_calibration(x, 0.6 + 0.1 * x, [0.01, 0.01, 0.01])
    assert cal.intercept == pytest.approx(0.6, abs=1e-12) and cal.slope == pytest.approx(0.1, abs=1e-12)
    assert cal.chi2 == pytest.approx(0.0, abs=1e-20)
    emf_map = np.array([[0.65, np.nan], [0.7, 0.62]])
    xs, sx = cal.predict_x(emf_map, 0.005)
    np.testing.assert_allclose(xs, [[0.5, np.nan], [1.0, 0.2]], atol=1e-12)
    c = cal.covariance
    expect = np.sqrt((0.005**2 + c[0, 0] + 2 * 0.5 * c[0, 1] + 0.25 * c[1, 1]) / 0.01)
    assert sx[0, 0] == pytest.approx(expect, rel=1e-12)
    # Monte Carlo of the propagation (line and measurement both uncertain).
    rng = np.random.default_rng(0)
    draws = rng.multivariate_normal([cal.intercept, cal.slope], c, size=20000)
    measured = 0.65 + rng.normal(0, 0.005, 20000)
    assert np.std((measured - draws[:, 0]) / draws[:, 1]) == pytest.approx(sx[0, 0], rel=0.05)
    assert cal.emf(0.5) == pytest.approx(0.65)


def test_scaled_covariance_and_refusals():
    x = np.array([0.0, 0.3, 0.6, 1.0])
    y = np.array([0.60, 0.64, 0.65, 0.71])
    plain = fit_calibration(x, y)
    scaled = fit_calibration(x, y, scale_covariance=True)
    np.testing.assert_allclose(scaled.covariance, plain.covariance * plain.chi2 / 2)
    with pytest.raises(ValueError, match="two reference states"):
        fit_calibration([0.5, 0.5], [0.6, 0.7])
    with pytest.raises(ValueError, match="emf_sigma"):
        fit_calibration(x, y, [0.01, 0.0, 0.01, 0.01])
    with pytest.raises(ValueError, match="shape"):
        fit_calibration(x, y[:3])
    with pytest.raises(ValueError, match="at least 3"):
        fit_calibration(x[:2], y[:2], scale_covariance=True)
    with pytest.raises(ValueError, match="emf_sigma"):
        plain.predict_x(0.6, -0.1)


def test_per_pixel_calibration_equals_one_fit_per_pixel():
    # Four reference maps of 2 x 3 pixels with different noisy lines: the vectorised fit must equal the scalar fit
    # of each pixel, and predict_x must invert each pixel's own line.
    rng = np.random.default_rng(4)
    x = np.array([0.1, 0.2, 0.3, 0.4])
    a, b = rng.uniform(0.8, 1.0, (2, 3)), rng.uniform(0.03, 0.08, (2, 3))
    sigma = rng.uniform(1e-4, 1e-3, (4, 2, 3))
    emf_maps = a + b * x[:, None, None] + sigma * rng.normal(size=(4, 2, 3))
    cal = fit_calibration(x, emf_maps, sigma)
    for i in range(2):
        for j in range(3):
            one = fit_calibration(x, emf_maps[:, i, j], sigma[:, i, j])
            assert cal.slope[i, j] == pytest.approx(one.slope, rel=1e-10)
            assert cal.intercept[i, j] == pytest.approx(one.intercept, rel=1e-10)
            np.testing.assert_allclose(cal.covariance[i, j], one.covariance, rtol=1e-10)
            assert cal.chi2[i, j] == pytest.approx(one.chi2, rel=1e-8)
    x_back, _ = cal.predict_x(cal.emf(0.25))
    np.testing.assert_allclose(x_back, 0.25, rtol=1e-12)
    with pytest.raises(ValueError, match=r"emf_value: expected shape \(4, ...\)"):
        fit_calibration(x, emf_maps[:3])
