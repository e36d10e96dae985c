"""Tests of inverse/saxs/tomography.py: a ball of known dSigma/dOmega per q bin reconstructed.

Reference: the phantom itself. A quartz ball (mu = 18.6 1/cm at 13.2 keV, so the diode correction
matters: T = 0.64 through its 240 um diameter) scatters I(q) = 3 (1 + q) 1/cm, its surroundings
nothing. Projections from forward.saxs.scan (Joseph projector, beam=False, no noise), 72 angles
over 180 deg (seeds/000), then per-q reconstruction. Tolerance: the mean over the ball's interior
(more than two voxels from the rim, where the voxelised edge blurs) within 3 % for FBP and SIRT;
outside the ball below 5 % of I; the attenuation within 5 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from forward.saxs.detector import AreaDetector
from forward.saxs.scan import TOMOGRAPHY_ANGLES_DEG, ScanningSWAXS, tomography_projections
from inverse.saxs import tomography
from twin import materials
from twin.container import Twin

Q = np.array([0.05, 0.2])
SMALL = ScanningSWAXS(saxs=AreaDetector("small SAXS", (401, 401), 1000.0, 2.0, beamstop_radius_mm=1.5),
                      waxs=AreaDetector("small WAXS", (300, 40), 1000.0, 0.6, beam_centre_px=(-30.5, 19.5)))


@dataclass
class FlatTerms:
    value: np.ndarray

    def intensity_per_cm(self, q_inv_A):
        return np.outer(self.value, 1.0 + np.asarray(q_inv_A))


def ball(n=40, s=10.0, radius=120.0, nz=2):
    c = (np.arange(n) - (n - 1) / 2) * s
    yy, xx = np.meshgrid(c, c, indexing="ij")
    r = np.hypot(yy, xx)
    labels = np.where(np.broadcast_to(r <= radius, (nz, n, n)), 1, 2).astype(np.uint8)
    tw = Twin(labels, s, {1: materials.get("quartz glass"), 2: materials.get("vacuum")})
    mask = labels == 1
    return tw, (mask, FlatTerms(np.full(int(mask.sum()), 3.0))), r


@pytest.fixture(scope="module")
def projections():
    tw, scattering, r = ball()
    return tw, tomography_projections(tw, Q, TOMOGRAPHY_ANGLES_DEG, settings=SMALL, beam=False,
                                      scattering=scattering), r


def _regions(rec_shape, r_grid, n):
    # The reconstruction grid is the detector width (n_cols) square, centred like the twin.
    m = rec_shape[-1]
    c = (np.arange(m) - (m - 1) / 2) * 10.0
    yy, xx = np.meshgrid(c, c, indexing="ij")
    rr = np.hypot(yy, xx)
    return rr < 120.0 - 20.0, (rr > 120.0 + 20.0) & (rr < (n / 2) * 10.0 - 10.0)


@pytest.mark.parametrize("method", ["fbp", "sirt"])
def test_ball_of_known_intensity_is_recovered_per_q(projections, method):
    tw, p, r = projections
    rec = tomography.reconstruct(p, method=method, iterations=150)
    assert rec.intensity_per_cm.shape[:2] == (Q.size, 2)
    inside, outside = _regions(rec.intensity_per_cm.shape, r, tw.shape[-1])
    truth = 3.0 * (1 + Q)
    for k in range(Q.size):
        slab = rec.intensity_per_cm[k, 1]
        assert slab[inside].mean() == pytest.approx(truth[k], rel=0.03)
        assert np.abs(slab[outside]).mean() < 0.05 * truth[k]
    mu = float(materials.get("quartz glass").linear_attenuation_per_cm(13.2))
    assert rec.attenuation_per_cm[1][inside].mean() == pytest.approx(mu, rel=0.05)
    np.testing.assert_allclose(rec.region_mean(0.04, 0.06), rec.intensity_per_cm[0])


def test_without_the_transmission_correction_the_ball_reads_low(projections):
    tw, p, r = projections
    raw = tomography.reconstruct(p.scattering, corrected=True, q_inv_A=p.q_inv_A, angles_deg=p.angles_deg,
                                 pixel_um=p.pixel_um, attenuation=False)
    good = tomography.reconstruct(p.scattering, q_inv_A=p.q_inv_A, angles_deg=p.angles_deg,
                                  transmission=p.transmission, pixel_um=p.pixel_um)
    inside, _ = _regions(raw.intensity_per_cm.shape, r, tw.shape[-1])
    # exp(-mu L) with L up to 240 um: at least 5 % low without the diode correction.
    assert raw.intensity_per_cm[0, 0][inside].mean() < 0.95 * good.intensity_per_cm[0, 0][inside].mean()
    smooth = tomography.reconstruct(p, smooth=True)
    assert smooth.intensity_per_cm.shape == good.intensity_per_cm.shape


def test_single_slice_input(projections):
    tw, p, r = projections
    rec = tomography.reconstruct(p.scattering[:, :, 0], q_inv_A=p.q_inv_A, angles_deg=p.angles_deg,
                                 transmission=p.transmission[:, 0], pixel_um=p.pixel_um)
    assert rec.intensity_per_cm.ndim == 3 and rec.attenuation_per_cm.ndim == 2
    inside, _ = _regions(rec.intensity_per_cm.shape, r, tw.shape[-1])
    assert rec.intensity_per_cm[1][inside].mean() == pytest.approx(3.0 * 1.2, rel=0.03)


def test_bad_input_is_refused(projections):
    _, p, _ = projections
    with pytest.raises(ValueError, match="method"):
        tomography.reconstruct(p, method="art")
    with pytest.raises(ValueError, match="q_inv_A"):
        tomography.reconstruct(p.scattering)
    with pytest.raises(ValueError, match="transmission"):
        tomography.reconstruct(p.scattering, q_inv_A=p.q_inv_A, angles_deg=p.angles_deg, pixel_um=p.pixel_um)
    with pytest.raises(ValueError, match="transmission"):
        tomography.reconstruct(p.scattering, q_inv_A=p.q_inv_A, angles_deg=p.angles_deg, pixel_um=p.pixel_um,
                               transmission=p.transmission[:3])
    with pytest.raises(ValueError, match="transmission"):
        tomography.reconstruct(p.scattering, q_inv_A=p.q_inv_A, angles_deg=p.angles_deg, pixel_um=p.pixel_um,
                               transmission=p.transmission + 1.0)
    with pytest.raises(ValueError, match="nq"):
        tomography.reconstruct(p.scattering, q_inv_A=p.q_inv_A[:1], angles_deg=p.angles_deg,
                               pixel_um=p.pixel_um, transmission=p.transmission)
    with pytest.raises(ValueError, match="pixel_um"):
        tomography.reconstruct(p.scattering, q_inv_A=p.q_inv_A, angles_deg=p.angles_deg, pixel_um=10.0,
                               transmission=p.transmission)
    with pytest.raises(TypeError, match="smooth"):
        tomography.reconstruct(p, smooth="yes")
    with pytest.raises(ValueError, match="min_transmission"):
        tomography.reconstruct(p, min_transmission=2.0)
