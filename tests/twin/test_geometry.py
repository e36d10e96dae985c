"""Generator geometry: balls, packing, tessellations and size distributions."""

import numpy as np
import pytest
from scipy import stats

from twin.generators import geometry as g


def test_ball_window_matches_full_grid_test():
    shape, size = (30, 40, 50), 0.5
    centre, r = np.array([7.3, 10.1, 3.2]), 4.4
    slices, inside = g.ball_window(shape, size, centre, r)
    full = sum((a - c) ** 2 for a, c in zip(g.voxel_centres_um(shape, size), centre)) <= r * r
    window = np.zeros(shape, bool)
    window[slices] = inside
    assert np.array_equal(window, full)  # also clipped correctly at the grid's edge (z - r < 0)


def test_paint_balls_counts_and_mask():
    labels = np.zeros((40, 40, 40), np.uint8)
    counts = g.paint_balls(labels, 1.0, np.array([[20.0, 20, 20]]), np.array([10.0]), 3)
    assert counts[0] == np.count_nonzero(labels == 3)
    # Voxel-counted volume of a 10-voxel ball is within 1 % of 4/3 pi r^3 = 4188.8.
    assert counts[0] == pytest.approx(4 / 3 * np.pi * 1000, rel=0.01)
    mask = np.zeros_like(labels, bool)
    mask[:20] = True
    counts = g.paint_balls(labels, 1.0, np.array([[20.0, 20, 20]]), np.array([10.0]), 5, where=mask)
    assert counts[0] == np.count_nonzero(labels == 5) and np.all(labels[20:][labels[20:] != 0] == 3)


def test_pack_spheres_no_overlap_inside_box_and_deterministic():
    radii = np.linspace(1, 4, 40)
    low, high = np.zeros(3), np.array([30.0, 30, 30])
    c1, p1 = g.pack_spheres(radii, low, high, np.random.default_rng(0))
    c2, p2 = g.pack_spheres(radii, low, high, np.random.default_rng(0))
    assert np.array_equal(c1, c2) and np.array_equal(p1, p2)
    r = radii[p1]
    d = np.linalg.norm(c1[:, None] - c1[None], axis=-1) + np.eye(len(r)) * 1e9
    assert np.all(d >= r[:, None] + r[None] - 1e-9)
    assert np.all(c1 - r[:, None] >= -1e-9) and np.all(c1 + r[:, None] <= 30 + 1e-9)
    assert list(r) == sorted(r, reverse=True)  # largest first


def test_pack_spheres_centres_thin_axis():
    # A box thinner than a sphere along z centres the spheres in z (a monolayer).
    c, p = g.pack_spheres(np.full(5, 3.0), np.zeros(3), np.array([4.0, 50, 50]), np.random.default_rng(1))
    assert np.allclose(c[:, 0], 2.0)


def test_voronoi_labels_are_nearest_seed():
    rng = np.random.default_rng(2)
    seeds = rng.uniform(0, 20, (15, 2))
    labels = g.laguerre_labels((20, 20), 1.0, seeds)
    centres = np.stack(np.meshgrid(np.arange(20) + 0.5, np.arange(20) + 0.5, indexing="ij"), -1)
    brute = np.argmin(np.linalg.norm(centres[:, :, None] - seeds, axis=-1), axis=-1)
    assert np.array_equal(labels, brute)


def test_laguerre_labels_minimise_power_distance():
    rng = np.random.default_rng(3)
    seeds, w = rng.uniform(0, 16, (12, 3)), rng.uniform(0, 9, 12)
    labels = g.laguerre_labels((16, 16, 16), 1.0, seeds, w)
    centres = np.stack(np.meshgrid(*[np.arange(16) + 0.5] * 3, indexing="ij"), -1)
    power = np.sum((centres[..., None, :] - seeds) ** 2, axis=-1) - w
    assert np.array_equal(labels, np.argmin(power, axis=-1))


def test_periodic_voronoi_wraps():
    seeds = np.array([[0.5, 0.5], [5.5, 5.5]])
    labels = g.laguerre_labels((10, 10), 1.0, seeds, periodic=True)
    assert labels[9, 9] == 0  # nearer to (0.5, 0.5) through the wrap than to (5.5, 5.5)


def test_lognormal_diameters_truncated_ks():
    d = g.lognormal_diameters(3000, 12.0, 0.5, np.random.default_rng(4), low_um=5, high_um=30)
    base = stats.lognorm(s=0.5, scale=12.0)
    cdf = lambda x: (base.cdf(x) - base.cdf(5)) / (base.cdf(30) - base.cdf(5))  # noqa: E731
    assert d.min() >= 5 and d.max() <= 30
    assert stats.kstest(d, cdf).pvalue > 1e-3


def test_refusals():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="low_um=30.*high_um=5"):
        g.lognormal_diameters(5, 10, 0.3, rng, low_um=30, high_um=5)
    with pytest.raises(ValueError, match="median_um=40"):
        g.lognormal_diameters(5, 40, 0.0, rng, low_um=5, high_um=30)
    with pytest.raises(ValueError, match=r"seeds_um: expected shape \(n, 3\)"):
        g.laguerre_labels((4, 4, 4), 1.0, np.zeros((3, 2)))


def test_layer_slice_selects_voxel_centres_in_half_open_interval():
    # Centres at 0.5, 1.5, 2.5, ... um for 1 um voxels: [1, 3) holds centres 1.5 and 2.5.
    assert g.layer_slice(1.0, 3.0, 1.0) == slice(1, 3)
    # A boundary on a voxel centre belongs to the upper interval: [0.5, 2.5) holds 0.5 and 1.5.
    assert g.layer_slice(0.5, 2.5, 1.0) == slice(0, 2)
    # Float noise at multiples of the voxel size does not move boundaries: 0.3/0.1 is 2.9999999999999996.
    assert g.layer_slice(0.0, 0.3, 0.1) == slice(0, 3)


def test_lognormal_refuses_a_range_holding_almost_nothing():
    # Median 100 um with sigma 0.1: P(5 <= d <= 30) ~ Phi(ln(0.3)/0.1) ~ 1e-33, which would loop forever.
    with pytest.raises(ValueError, match=r"median_um=100, sigma=0.1: only .* lies in \[5, 30\]"):
        g.lognormal_diameters(5, 100, 0.1, np.random.default_rng(0), low_um=5, high_um=30)


def test_lognormal_fraction_inside_closed_form():
    # Half of a log-normal lies below its median; [median/e^s, median e^s] holds Phi(1) - Phi(-1) = 0.6827.
    assert g.lognormal_fraction_inside(10, 0.5, 0, 10) == pytest.approx(0.5)
    assert g.lognormal_fraction_inside(10, 0.5, 10 * np.exp(-0.5), 10 * np.exp(0.5)) == pytest.approx(0.682689, abs=1e-6)


def test_check_particle_sizes_refusals():
    with pytest.raises(ValueError, match="voxel_size_um=3.*half the smallest particle diameter"):
        g.check_particle_sizes(3.0, 10.0, 0.4, (5.0, 30.0))
    with pytest.raises(ValueError, match="median_diameter_um=100"):
        g.check_particle_sizes(0.5, 100.0, 0.1, (5.0, 30.0))
