"""Tests of inverse.tomography.segment: Otsu thresholds, tri-phase flood fill, void owners, watershed labels.

References: closed-form Otsu thresholds of Gaussian mixtures (between-class
variance from the normal CDF and partial means), hand-built masks whose
phases are known, and the powder twin of seeds/002 (per-particle and per-void
truth) blurred and made noisy at the source's signal-to-noise ratio.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage, optimize, stats

from inverse.tomography.segment import (EXTERNAL, INTERNAL_VOID, SOLID, assign_voids, multi_otsu, otsu,
                                        segment_particles, tri_phase)
from twin.generators.powder import VOID, powder_monolayer

FULL = np.ones((3, 3, 3), dtype=bool)


# ---------------------------------------------------------------------- Otsu, closed forms
def _between_class(thresholds, w, mu, sd):
    """Otsu's criterion sum_k omega_k m_k^2 (between-class variance + const) of a Gaussian mixture.

    Class k holds the mixture between consecutive thresholds; its weight is
    sum_i w_i [Phi(z)] and its first moment sum_i w_i [mu_i Phi(z) - sd_i phi(z)]
    between the bounds, z = (t - mu_i) / sd_i.
    """
    cum_w, cum_m = [0.0], [0.0]
    for t in thresholds:
        z = (t - mu) / sd
        cum_w.append(np.sum(w * stats.norm.cdf(z)))
        cum_m.append(np.sum(w * (mu * stats.norm.cdf(z) - sd * stats.norm.pdf(z))))
    cum_w.append(1.0)
    cum_m.append(np.sum(w * mu))
    omega, m = np.diff(cum_w), np.diff(cum_m)
    return -np.inf if np.any(omega <= 0) else np.sum(m * m / omega)


def _mixture(w, mu, sd, seed, n=96):
    rng = np.random.default_rng(seed)
    k = rng.choice(len(w), n**3, p=w)
    return rng.normal(mu[k], sd[k]).reshape(n, n, n)


# Tolerance, in histogram bins ((max - min) / 256): the threshold is the centre of the last bin of the
# lower class while the class boundary is that bin's upper edge (-1/2 bin), the optimum is resolved to
# a bin (+-1/2), and 96^3 samples move it by ~0.3 bin (spread over seeds). Only overlapping classes are
# used: for well-separated ones the criterion is flat across the gap and the maximum is ill-defined.
BIN_TOL = 1.5


@pytest.mark.parametrize("w, mu, sd", [
    ((0.5, 0.5), (0.0, 4.0), (1.0, 1.0)),   # symmetric: the threshold is the midpoint, 2
    ((0.7, 0.3), (1.0, 5.0), (0.8, 1.5)),   # unequal weights and widths
])
def test_otsu_matches_closed_form_two_gaussians(w, mu, sd):
    w, mu, sd = map(np.asarray, (w, mu, sd))
    ref = optimize.minimize_scalar(lambda t: -_between_class([t], w, mu, sd), bounds=(mu[0], mu[1]),
                                   method="bounded", options={"xatol": 1e-9}).x
    if w[0] == w[1] and sd[0] == sd[1]:
        assert ref == pytest.approx(mu.mean(), abs=1e-6)
    x = _mixture(w, mu, sd, seed=0)
    assert abs(otsu(x) - ref) <= BIN_TOL * np.ptp(x) / 256


def test_multi_otsu_matches_closed_form_three_gaussians():
    w, mu, sd = np.array([0.5, 0.3, 0.2]), np.array([0.0, 3.0, 6.0]), np.ones(3)
    ref = optimize.minimize(lambda t: -_between_class(np.sort(t), w, mu, sd), x0=[1.5, 4.5],
                            method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-14}).x
    x = _mixture(w, mu, sd, seed=1)
    t = multi_otsu(x, 3)
    assert t.shape == (2,)
    np.testing.assert_array_less(np.abs(t - np.sort(ref)), BIN_TOL * np.ptp(x) / 256)


def test_multi_otsu_two_classes_is_otsu():
    x = _mixture(np.array([0.6, 0.4]), np.array([0.0, 3.0]), np.ones(2), seed=2, n=32)
    assert multi_otsu(x, 2)[0] == pytest.approx(otsu(x), abs=np.ptp(x) / 256)


# ---------------------------------------------------------------------- tri-phase flood fill
def _hollow_ball(n=21, outer=8.0, inner=4.0):
    z, y, x = np.ogrid[:n, :n, :n]
    r = np.sqrt((z - n // 2) ** 2 + (y - n // 2) ** 2 + (x - n // 2) ** 2)
    return r <= outer, r <= inner


def test_tri_phase_hollow_ball():
    ball, cavity = _hollow_ball()
    phases = tri_phase(ball & ~cavity)
    assert phases.dtype == np.uint8
    np.testing.assert_array_equal(phases == INTERNAL_VOID, cavity)
    np.testing.assert_array_equal(phases == SOLID, ball & ~cavity)
    np.testing.assert_array_equal(phases == EXTERNAL, ~ball)


def test_tri_phase_channel_to_outside_opens_the_void():
    ball, cavity = _hollow_ball()
    solid = ball & ~cavity
    solid[10, 10, 10:] = False          # a one-voxel channel from the cavity to the border, through faces
    assert not np.any(tri_phase(solid) == INTERNAL_VOID)


def test_tri_phase_corner_contact_stays_enclosed():
    # A pore voxel touching the outside only by a corner is not "in direct contact" (face flood).
    solid = np.ones((5, 5, 5), dtype=bool)
    solid[:2, :2, :2] = False           # external pocket at the corner of the volume
    solid[2, 2, 2] = False              # touches the pocket's voxel (1, 1, 1) by a corner only
    phases = tri_phase(solid)
    assert phases[2, 2, 2] == INTERNAL_VOID
    assert np.all(phases[:2, :2, :2] == EXTERNAL)


def test_tri_phase_all_solid_border_makes_every_pore_internal():
    solid = np.ones((6, 6, 6), dtype=bool)
    solid[2:4, 2:4, 2:4] = False
    solid[1, 4, 1] = False
    assert np.count_nonzero(tri_phase(solid) == INTERNAL_VOID) == 9


def test_tri_phase_min_void_voxels_fills_specks():
    ball, cavity = _hollow_ball()
    solid = ball & ~cavity
    solid[10, 10, 4] = False            # one dark voxel inside the shell (r = 6; noise)
    assert np.count_nonzero(tri_phase(solid) == INTERNAL_VOID) == cavity.sum() + 1
    phases = tri_phase(solid, min_void_voxels=2)
    np.testing.assert_array_equal(phases == INTERNAL_VOID, cavity)
    assert phases[10, 10, 4] == SOLID


def test_tri_phase_2d():
    yy, xx = np.mgrid[:15, :15]
    r = np.hypot(yy - 7, xx - 7)
    phases = tri_phase((r <= 6) & (r > 3))
    np.testing.assert_array_equal(phases == INTERNAL_VOID, r <= 3)


# ---------------------------------------------------------------------- void owners
def test_assign_voids_gives_each_void_its_particle():
    labels = np.zeros((21, 44, 21), dtype=np.int32)
    ball, cavity = _hollow_ball()
    labels[:, :21][ball & ~cavity] = 3
    labels[:, 22:43][ball & ~cavity] = 7
    voids = np.zeros(labels.shape, dtype=bool)
    voids[:, :21] = cavity
    voids[:, 22:43] = cavity
    voids[0, 0, 0] = True                 # outside every particle: no owner
    out = assign_voids(labels, voids)
    assert np.all(out[:, :21][cavity] == 3) and np.all(out[:, 22:43][cavity] == 7)
    assert out[0, 0, 0] == 0
    np.testing.assert_array_equal(out[~voids], labels[~voids])
    # Labels that already cover the voids are left as they are.
    np.testing.assert_array_equal(assign_voids(out, voids), out)


# ---------------------------------------------------------------------- watershed of touching particles
def _balls(shape, centres, radius):
    grid = np.indices(shape, sparse=True)
    return np.any([sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2 for centre in centres], axis=0)


def test_touching_balls_are_split():
    # Two balls of radius 10 voxels, centres 16 apart: the neck radius is 6, so each distance maximum
    # is 4 voxels above the saddle, deeper than h = 1 um / 0.5 um = 2 voxels.
    mask = _balls((30, 30, 50), [(15, 15, 17), (15, 15, 33)], 10)
    volume = np.where(mask, 400.0, 1.0)
    labels = segment_particles(volume, 0.5)
    assert labels.max() == 2
    sizes = np.bincount(labels.ravel())[1:]
    # Symmetric pair: the watershed line falls in the mid-plane, each side within a plane of half.
    assert abs(sizes[0] - sizes[1]) <= np.count_nonzero(mask[:, :, 25])
    assert segment_particles(volume, 0.5, separate_touching=False).max() == 1


def test_peanut_stays_one_particle():
    # Two balls of radius 8 with centres 4 voxels apart: the distance map has two equal tops with a
    # saddle a fraction of a voxel below them, one h-dome, one particle. (skimage's h_maxima marks each
    # top separately here, 2 markers, and a watershed on them would cut the particle in two.)
    mask = _balls((32, 32, 40), [(16, 16, 18), (16, 16, 22)], 8)
    assert segment_particles(np.where(mask, 400.0, 0.0), 0.5).max() == 1


def test_touching_discs_are_split_in_2d():
    yy, xx = np.mgrid[:30, :50]
    mask = (np.hypot(yy - 15, xx - 17) <= 10) | (np.hypot(yy - 15, xx - 33) <= 10)
    assert segment_particles(np.where(mask, 1.0, 0.0), 0.5).max() == 2


def test_segment_particles_drops_specks_and_uses_otsu():
    mask = _balls((30, 30, 30), [(15, 15, 15)], 8)
    volume = np.where(mask, 400.0, 0.0)
    volume[2, 2, 2] = volume[2, 27, 27] = 400.0      # single bright voxels: noise
    labels = segment_particles(volume, 0.5)
    assert labels.max() == 1 and np.count_nonzero(labels) == mask.sum()
    np.testing.assert_array_equal(labels, segment_particles(volume, 0.5, threshold=otsu(volume)))
    assert segment_particles(volume, 0.5, min_size_voxels=1).max() == 3


# ---------------------------------------------------------------------- the powder twin of seeds/002
# Realistic data: the twin's attenuation at 5.4 keV (seeds/002, Methods) blurred by a Gaussian of 0.7
# voxel (a PSF of ~0.8 um FWHM at 512 nm) and with Gaussian noise of standard deviation = mean particle
# attenuation / 10.4, the average SNR of the particles in the source's 5-min tomograms (Results 2.1).
SNR = 10.4
BLUR_VOXELS = 0.7
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def powders():
    out = []
    for seed in SEEDS:
        twin = powder_monolayer(material="NMC622", seed=seed)
        mu = twin.linear_attenuation_per_cm(5.4)
        particle_mu = mu[twin.labels == twin.label_of("NMC622")].mean()
        rng = np.random.default_rng(100 + seed)
        volume = ndimage.gaussian_filter(mu, BLUR_VOXELS) + rng.normal(0.0, particle_mu / SNR, mu.shape)
        labels = segment_particles(volume, twin.voxel_size_um)
        phases = tri_phase(volume > otsu(volume))
        out.append((twin, labels, phases))
    return out


def _owners(labels, truth_id, n):
    """Truth particle (majority of the twin's particle_id) of each recovered label 1..n."""
    pairs = np.unique(labels[labels > 0].astype(np.int64) * (truth_id.max() + 2) + truth_id[labels > 0] + 1,
                      return_counts=True)
    lab, tid = np.divmod(pairs[0], truth_id.max() + 2)
    owner = np.full(n + 1, -2)
    for k in range(1, n + 1):
        sel = lab == k
        owner[k] = tid[sel][np.argmax(pairs[1][sel])] - 1
    return owner[1:]


def test_powder_particle_count_and_volumes(powders):
    for twin, labels, _ in powders:
        truth_count = twin.truth["particles/voxel_count"]
        n = int(labels.max())
        assert n == int(twin.truth["n_particles_placed"])
        owner = _owners(labels, twin.fields["particle_id"], n)
        assert sorted(owner) == list(range(n))           # one recovered label per particle
        counts = np.bincount(labels.ravel())[1:]
        # Particles larger than 10 voxels across (all of the default 5-30 um ones at 512 nm). Labels cover
        # solid and voids, like the truth's voxel_count. 5 % (issue 5, acceptance); observed <= 1.7 %.
        across = np.cbrt(6 * truth_count / np.pi)
        big = across[owner] > 10
        assert big.sum() >= n - 1
        rel = counts[big] / truth_count[owner][big] - 1
        assert np.all(np.abs(rel) < 0.05), rel


def test_powder_voids_found_and_owned(powders):
    found = matched_truth = n_truth = n_found = 0
    for twin, labels, phases in powders:
        truth_voids, m = ndimage.label(twin.labels == VOID, structure=FULL)
        voids, k = ndimage.label(phases == INTERNAL_VOID, structure=FULL)
        both = (voids > 0) & (truth_voids > 0)
        n_truth += m
        n_found += k
        matched_truth += np.unique(truth_voids[both]).size
        found += np.unique(voids[both]).size
        # Every recovered void that overlaps a true one lies in the label of that void's particle.
        owner = _owners(labels, twin.fields["particle_id"], int(labels.max()))
        rec_owner = owner[labels[both] - 1]
        np.testing.assert_array_equal(rec_owner, twin.fields["particle_id"][both])
    # Voids are 30-360 voxels (>= ~4 voxels across) at SNR 10: all found; a dark noise voxel may close
    # into a one-voxel false void now and then (one in the 3 seeds here).
    assert matched_truth / n_truth == 1.0
    assert found / n_found >= 0.95


# ---------------------------------------------------------------------- refusals
def test_otsu_refuses_1d():
    with pytest.raises(ValueError, match="volume: expected an array with ndim in"):
        otsu(np.arange(10.0))


def test_otsu_refuses_4d():
    with pytest.raises(ValueError, match="ndim"):
        otsu(np.zeros((2, 2, 2, 2)))


def test_otsu_refuses_nan():
    x = np.random.default_rng(0).random((8, 8))
    x[3, 3] = np.nan
    with pytest.raises(ValueError, match="volume: expected finite values"):
        otsu(x)


def test_otsu_refuses_constant():
    with pytest.raises(ValueError, match="at least two distinct grey values"):
        otsu(np.full((4, 4), 3.0))


def test_otsu_refuses_boolean():
    with pytest.raises(TypeError, match="volume: expected dtype kind"):
        otsu(np.eye(4, dtype=bool))


def test_multi_otsu_refuses_one_class():
    with pytest.raises(ValueError, match="classes=1: expected an integer >= 2"):
        multi_otsu(np.random.default_rng(0).random((8, 8)), 1)


def test_multi_otsu_refuses_too_many_classes():
    with pytest.raises(ValueError, match="classes=6: expected at most 5"):
        multi_otsu(np.random.default_rng(0).random((8, 8)), 6)


def test_multi_otsu_refuses_fractional_classes():
    with pytest.raises(TypeError, match="classes=2.5: expected an integer"):
        multi_otsu(np.random.default_rng(0).random((8, 8)), 2.5)


def test_multi_otsu_refuses_too_few_values():
    with pytest.raises(ValueError, match="at least classes=3 distinct values, found 2"):
        multi_otsu(np.eye(5), 3)


def test_segment_refuses_voxel_size():
    with pytest.raises(ValueError, match="voxel_size_um=0"):
        segment_particles(np.eye(5), 0)


def test_segment_refuses_nan_threshold():
    with pytest.raises(ValueError, match="threshold=nan"):
        segment_particles(np.eye(5), 0.5, threshold=float("nan"))


def test_segment_refuses_text_threshold():
    with pytest.raises(TypeError, match="threshold='auto'"):
        segment_particles(np.eye(5), 0.5, threshold="auto")


def test_segment_refuses_min_size():
    with pytest.raises(ValueError, match="min_size_voxels=0"):
        segment_particles(np.eye(5), 0.5, min_size_voxels=0)


def test_segment_refuses_h():
    with pytest.raises(ValueError, match="h_um=-1"):
        segment_particles(np.eye(5), 0.5, h_um=-1)


def test_tri_phase_refuses_grey_values():
    with pytest.raises(TypeError, match="binary_solid: expected a boolean mask"):
        tri_phase(np.eye(5))


def test_tri_phase_refuses_1d():
    with pytest.raises(ValueError, match="binary_solid: expected an array with ndim in"):
        tri_phase(np.ones(5, dtype=bool))


def test_tri_phase_refuses_min_void():
    with pytest.raises(ValueError, match="min_void_voxels=0"):
        tri_phase(np.eye(5, dtype=bool), min_void_voxels=0)


def test_assign_voids_refuses_shape():
    with pytest.raises(ValueError, match=r"voids: expected shape \(5, 5\)"):
        assign_voids(np.zeros((5, 5), int), np.zeros((5, 6), bool))


def test_assign_voids_refuses_negative_labels():
    with pytest.raises(ValueError, match="labels: expected labels >= 0"):
        assign_voids(-np.ones((5, 5), int), np.zeros((5, 5), bool))


def test_assign_voids_refuses_float_labels():
    with pytest.raises(TypeError, match="labels: expected dtype kind"):
        assign_voids(np.zeros((5, 5)), np.zeros((5, 5), bool))


def test_assign_voids_refuses_grey_voids():
    with pytest.raises(TypeError, match="voids: expected a boolean mask"):
        assign_voids(np.zeros((5, 5), int), np.zeros((5, 5)))
