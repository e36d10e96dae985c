"""Tests of forward.tomography.simulate against closed forms and statistics.

References: Beer-Lambert with xraylib attenuation (Material.transmission) and
the chord of a disc or sphere; seeds/002 (Methods, "Preparation": about
14 % through 42 um of NMC811 at 5.4 keV); Poisson and Gaussian variances;
the erf profile of a blurred edge; scikit-image's phase correlation for the
jitter.
"""

import math

import numpy as np
import pytest
from scipy.special import ndtr
from skimage.registration import phase_cross_correlation

from forward.instrument import Beam, Detector, Scan, Spectrum
from forward.tomography.measurement import Projections
from forward.tomography.simulate import HOT_PIXEL_COUNTS, simulate
from twin.container import Provenance, Twin
from twin.materials import get

VACUUM, NMC, AL = get("vacuum"), get("NMC811"), get("Al")


def _twin(labels, voxel_um=1.0, material=NMC, **kw):
    # A fixed creation time: the provenance goes into the metadata, and two twins built across a second
    # boundary would otherwise differ there.
    kw.setdefault("provenance", Provenance(created_utc="2026-01-01T00:00:00+00:00"))
    return Twin(np.asarray(labels, dtype=np.uint8), voxel_um, {0: VACUUM, 1: material}, **kw)


def _disc(n, radius, centre=(0.0, 0.0)):
    """Voxels whose centre lies inside a disc of ``radius`` voxels around the grid centre + ``centre``."""
    c = np.arange(n) - (n - 1) / 2
    return (c[:, None] - centre[0]) ** 2 + (c[None, :] - centre[1]) ** 2 <= radius**2


def _beam(energy_kev=20.0, **kw):
    # 1e10 photons/s over 1 cm2 (1e8 um2): 100 photons per um2 per second.
    return Beam(energy_kev=energy_kev, flux_ph_per_s=1e10, size_um=1e4, **kw)


def _transmission(p):
    """Noiseless counts over the open beam (no dark signal in these detectors)."""
    return p.counts.astype(float) / p.flats.astype(float).mean(axis=0)


def _sim(twin, *, angles=(0.0,), columns=None, n_flats=1, exposure_s=10.0, noise=False, beam=None, **kw):
    detector = kw.pop("detector", None) or Detector(shape=(1, columns or twin.shape[-1]),
                                                    pixel_size_um=twin.voxel_size_um)
    scan = Scan(exposure_s=exposure_s, angles_deg=np.asarray(angles, dtype=float), n_flats=n_flats,
                n_darks=kw.pop("n_darks", 0))
    return simulate(twin, beam or _beam(), detector, scan, noise=noise, **kw)


# --- Beer-Lambert and geometry --------------------------------------------------------------------


def test_disc_projection_matches_its_chords():
    n, radius = 64, 20.0
    p = _sim(_twin(_disc(n, radius)), angles=[0, 30, 45, 60, 90, 135])
    mu_per_um = float(NMC.linear_attenuation_per_cm(20.0)) * 1e-4
    length_um = -np.log(_transmission(p)[:, 0, :]) / mu_per_um
    u = np.arange(n) - (n - 1) / 2
    chord = 2 * np.sqrt(np.clip(radius**2 - u**2, 0, None))
    inner = np.abs(u) <= radius - 2
    # A voxelised boundary moves each end of a chord by up to half a voxel along the axes and up
    # to half the voxel diagonal (0.71) across the staircase of an oblique boundary: 1.5 voxels in
    # all; near tangency the chord's slope diverges, hence the 2-voxel margin.
    assert np.abs(length_um[:, inner] - chord[inner]).max() < 1.5
    # The errors are those of rounding, not a bias: against the disc of the voxelised disc's area
    # (0.6 % more than pi R^2) their mean over all chords is near zero.
    r_eff = math.sqrt(_disc(n, radius).sum() / math.pi)
    chord_eff = 2 * np.sqrt(r_eff**2 - u[inner] ** 2)
    assert abs((length_um[:, inner] - chord_eff).mean()) < 0.05
    # The projection conserves mass: sum of chords x pixel = area, the voxel count (within float32
    # rounding and interpolation at 30-60 degrees), and the disc's pi R^2 within voxelisation.
    np.testing.assert_allclose(length_um.sum(axis=1), _disc(n, radius).sum(), rtol=2e-3)
    np.testing.assert_allclose(length_um.sum(axis=1), math.pi * radius**2, rtol=1e-2)


def test_transmission_of_42_um_nmc811_at_5_4_kev_matches_the_source():
    labels = np.zeros((64, 16))
    labels[11:53] = 1  # 42 rows of 1 um crossed by the ray at 0 degrees (it runs along y)
    t = _transmission(_sim(_twin(labels), beam=_beam(5.4)))
    np.testing.assert_allclose(t, float(NMC.transmission(42.0, 5.4)), rtol=1e-5)  # float32 counts
    # seeds/002, Methods, "Preparation": "optimum X-ray transmission (approximately 14 %)".
    assert t.mean() == pytest.approx(0.14, abs=0.01)


def test_sphere_centre_chord_in_cone_beam():
    n, radius = 32, 10.0
    c = np.arange(n) - (n - 1) / 2
    ball = c[:, None, None] ** 2 + c[None, :, None] ** 2 + c[None, None, :] ** 2 <= radius**2
    # Magnification 4: detector pixels of 4 um are 1 um at the axis; the central pixel of an odd
    # detector looks through the sphere's centre.
    detector = Detector(shape=(41, 41), pixel_size_um=4.0)
    p = _sim(_twin(ball), angles=[0.0, 90.0], detector=detector, geometry="cone", source_origin_um=1000.0,
             source_detector_um=4000.0)
    assert p.geometry == "cone" and p.pixel_size_um == pytest.approx(1.0)
    assert (p.source_origin_um, p.source_detector_um) == (1000.0, 4000.0)
    mu_per_um = float(NMC.linear_attenuation_per_cm(20.0)) * 1e-4
    length_um = -np.log(_transmission(p)[:, 20, 20]) / mu_per_um
    np.testing.assert_allclose(length_um, 2 * radius, atol=1.0)  # one voxel of voxelisation at the two ends


def test_centre_offset_moves_the_axis():
    n = 32
    p = _sim(_twin(_disc(n, 8.0)), angles=np.linspace(0, 160, 9), centre_offset_px=3.5)
    absorbed = 1 - _transmission(p)[:, 0, :]
    centroid = absorbed @ np.arange(n) / absorbed.sum(axis=1)
    # A disc centred on the axis projects symmetrically about it, at every angle.
    np.testing.assert_allclose(centroid, (n - 1) / 2 + 3.5, atol=1e-3)
    assert p.centre_offset_px == 3.5


def test_rows_see_their_z_slice_and_air_beyond_the_twin():
    labels = np.zeros((4, 8, 8))
    labels[1] = 1  # only slice z = 1 attenuates
    # Pixels of half a voxel: 12 rows span 6 um around the 4-um twin, rows 4 and 5 see slice 1.
    detector = Detector(shape=(12, 16), pixel_size_um=0.5)
    t = _transmission(_sim(_twin(labels), detector=detector))
    attenuated = (t < 1 - 1e-6).any(axis=(0, 2))
    assert np.flatnonzero(attenuated).tolist() == [4, 5]


def test_fine_pixels_binned_agree_with_pixels_of_the_voxel_size():
    twin = _twin(_disc(32, 10.0), voxel_um=0.512)
    coarse = _sim(twin, detector=Detector(shape=(1, 32), pixel_size_um=0.512), angles=[0, 45])
    fine = _sim(twin, detector=Detector(shape=(8, 256), pixel_size_um=0.064, binning=8), angles=[0, 45])
    assert fine.counts.shape == coarse.counts.shape == (2, 1, 32)
    assert fine.pixel_size_um == pytest.approx(0.512)
    # The same photons per binned pixel, and the same photons absorbed in all (within 1 %, the
    # difference between exp of a mean path and the mean of exp over a pixel at the edges).
    np.testing.assert_allclose(fine.flats, coarse.flats, rtol=1e-6)
    absorbed = [(1 - _transmission(p)).sum(axis=(1, 2)) for p in (fine, coarse)]
    np.testing.assert_allclose(absorbed[0], absorbed[1], rtol=1e-2)


def test_a_2d_twin_gives_one_row_on_any_detector():
    p = _sim(_twin(_disc(16, 5.0)), detector=Detector(shape=(16, 32), pixel_size_um=0.5, binning=2))
    assert p.counts.shape == (1, 1, 16) and p.pixel_size_um == 1.0


# --- spectrum ---------------------------------------------------------------------------------


def _staircase(thicknesses_vox, width=4):
    """Columns of blocks of Al of increasing thickness along y (the ray direction at 0 degrees)."""
    labels = np.zeros((max(thicknesses_vox) + 4, width * len(thicknesses_vox)))
    for k, t in enumerate(thicknesses_vox):
        labels[2:2 + t, k * width:(k + 1) * width] = 1
    return labels


def test_beam_hardening_appears_with_a_polychromatic_spectrum_only():
    steps = np.array([2, 5, 10, 20, 40, 80])  # voxels of 5 um: 10 to 400 um of aluminium
    twin = _twin(_staircase(steps), voxel_um=5.0, material=AL)
    spectrum = Spectrum.tungsten_tube(30.0, n=60)
    poly = _transmission(_sim(twin, beam=_beam(None, spectrum=spectrum)))[0, 0, ::4]
    mono = _transmission(_sim(twin, beam=_beam(15.0)))[0, 0, ::4]
    thickness_um = steps * 5.0
    # Independent reference: sum_E w_E exp(-mu(E) t) from the material and the spectrum.
    expected = np.array([np.dot(spectrum.weights, AL.transmission(t, spectrum.energies_kev)) for t in thickness_um])
    np.testing.assert_allclose(poly, expected, rtol=1e-5)
    apparent_poly = -np.log(poly) / thickness_um
    apparent_mono = -np.log(mono) / thickness_um
    assert np.all(np.diff(apparent_poly) < 0)  # harder beam through thicker aluminium
    np.testing.assert_allclose(apparent_mono, float(AL.linear_attenuation_per_cm(15.0)) * 1e-4, rtol=1e-5)


# --- detector -----------------------------------------------------------------------------------

#: 1e9 photons/s on 100 x 100 um for 0.01 s, 1 um pixels, efficiency 0.5: N0 = 500 photons.
N0 = 500.0


def _noisy(*, detector=None, n_flats=20, n_darks=0, **kw):
    beam = Beam(energy_kev=20.0, flux_ph_per_s=1e9, size_um=100.0)
    detector = detector or Detector(shape=(1, 64), pixel_size_um=1.0, efficiency=0.5)
    scan = Scan(exposure_s=0.01, angles_deg=[0.0, 90.0], n_flats=n_flats, n_darks=n_darks)
    return simulate(_twin(np.zeros((64, 64))), beam, detector, scan, **kw)


def test_flat_counts_are_poisson_around_n0():
    p = _noisy(n_flats=80)
    flats = p.flats.astype(float).ravel()  # 5120 independent pixels
    assert p.metadata["simulation"]["photons_per_pixel"] == pytest.approx(N0)
    # Standard error of the mean sqrt(500/5120) = 0.31 counts; 4 of them.
    assert flats.mean() == pytest.approx(N0, abs=1.3)
    # Poisson: variance = mean. Relative standard error of a sample variance sqrt(2/n) = 2 %; 4 of them.
    assert flats.var(ddof=1) == pytest.approx(flats.mean(), rel=0.08)
    assert np.all(flats == np.round(flats))  # photon counts are whole numbers without read noise
    assert p.counts.mean() == pytest.approx(N0, rel=0.01)  # a vacuum twin: projections are flats


def test_read_noise_and_dark_counts_add_their_variances():
    detector = Detector(shape=(1, 64), pixel_size_um=1.0, efficiency=0.5, read_noise_e=15.0, dark_counts=100.0)
    p = _noisy(detector=detector, n_flats=80, n_darks=80)
    darks, flats = p.darks.astype(float).ravel(), p.flats.astype(float).ravel()
    # Dark: Poisson(100) + N(0, 15^2): mean 100, variance 100 + 225; 4 standard errors as above.
    assert darks.mean() == pytest.approx(100.0, abs=4 * math.sqrt(325 / darks.size))
    assert darks.var(ddof=1) == pytest.approx(325.0, rel=0.08)
    # Flat: Poisson(500 + 100) + N(0, 15^2).
    assert flats.mean() == pytest.approx(600.0, abs=4 * math.sqrt(825 / flats.size))
    assert flats.var(ddof=1) == pytest.approx(825.0, rel=0.08)


@pytest.mark.parametrize("b", [2, 4])
def test_binning_sums_counts(b):
    detector = Detector(shape=(8, 64), pixel_size_um=1.0, efficiency=0.5, binning=b)
    p = _noisy(detector=detector, n_flats=80)
    assert p.flats.shape == (80, 1, 64 // b) and p.pixel_size_um == b
    flats = p.flats.astype(float).ravel()
    # b^2 pixels of N0 summed on chip: Poisson of mean b^2 N0 (4 standard errors).
    assert flats.mean() == pytest.approx(b * b * N0, abs=4 * math.sqrt(b * b * N0 / flats.size))
    assert flats.var(ddof=1) == pytest.approx(b * b * N0, rel=4 * math.sqrt(2 / flats.size))


def test_dead_and_hot_pixels_in_every_frame():
    detector = Detector(shape=(1, 64), pixel_size_um=1.0, efficiency=0.5, read_noise_e=5.0, dark_counts=20.0,
                        dead_pixels=[(0, 5)], hot_pixels=[(0, 40)])
    p = _noisy(detector=detector, n_flats=3, n_darks=3)
    for frames in (p.counts, p.flats, p.darks):
        assert np.all(frames[:, 0, 5] == 0.0)
        assert np.all(frames[:, 0, 40] == HOT_PIXEL_COUNTS)
        assert np.all(frames[:, 0, 6] > 0)


def test_psf_blurs_an_edge_into_an_erf():
    labels = np.zeros((16, 64))
    labels[:, 32:] = 1  # a half plane: 16 um of NMC811 for x > 0 at 0 degrees
    fwhm = 3.0
    detector = Detector(shape=(1, 64), pixel_size_um=1.0, psf_fwhm_px=fwhm)
    t = _transmission(_sim(_twin(labels), detector=detector))[0, 0]
    t1 = float(NMC.transmission(16.0, 20.0))
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    # The intensity step between columns 31 and 32 convolved with a Gaussian of sigma (pixels).
    expected = t1 + (1 - t1) * ndtr(-(np.arange(64) - 31.5) / sigma)
    # The sampled kernel's sum differs from the continuous erf by < 1e-3 for sigma > 1 pixel.
    np.testing.assert_allclose(t, expected, atol=1e-3)


def test_gaussian_beam_profile_shows_in_the_flats():
    beam = Beam(energy_kev=20.0, flux_ph_per_s=1e9, size_um=40.0, profile="gaussian")
    detector = Detector(shape=(1, 64), pixel_size_um=1.0)
    p = simulate(_twin(np.zeros((64, 64))), beam, detector, Scan(exposure_s=1.0, angles_deg=[0.0], n_flats=1),
                 noise=False)
    x = np.arange(64) - 31.5
    flat = p.flats[0, 0].astype(float)
    # FWHM 40 um: exp(-4 ln 2 x^2 / 40^2), peak fluence flux / (pi/(4 ln 2) 40^2).
    np.testing.assert_allclose(flat / flat.max(), np.exp(-4 * math.log(2) * (x / 40.0) ** 2) / np.exp(
        -4 * math.log(2) * (0.5 / 40.0) ** 2), rtol=1e-6)
    assert flat.max() == pytest.approx(beam.fluence_ph_per_um2(1.0) * np.exp(-4 * math.log(2) * (0.5 / 40) ** 2),
                                       rel=1e-6)


# --- jitter, determinism, metadata ----------------------------------------------------------


def test_jitter_recorded_is_the_shift_applied():
    twin = _twin(_disc(48, 9.0, centre=(0.0, 4.0)))
    angles = np.linspace(0, 170, 8)
    still = _transmission(_sim(twin, angles=angles))[:, 0, :]
    p = _sim(twin, angles=angles, jitter_px=2.0, seed=7)
    moved = _transmission(p)[:, 0, :]
    shifts = np.array(p.metadata["simulation"]["jitter_px"])
    assert shifts.shape == (8,) and 1.0 < shifts.std() < 4.0
    # scikit-image's phase correlation (reference implementation) recovers each shift; its sign
    # convention gives the shift that registers the moved image onto the still one. Linear
    # interpolation blurs a profile shifted by a fraction t by t (1 - t) px^2, which moves the
    # correlation peak of an 18-px disc by up to about 0.2 px.
    found = [-phase_cross_correlation(1 - s, 1 - m, upsample_factor=100)[0][0] for s, m in zip(still, moved)]
    np.testing.assert_allclose(found, shifts, atol=0.2)
    # Linear interpolation moves the centroid of the absorbed fraction by exactly the shift.
    cols = np.arange(48)

    def centroid(t):
        return (1 - t) @ cols / (1 - t).sum(axis=1)

    np.testing.assert_allclose(centroid(moved) - centroid(still), shifts, atol=1e-3)


def test_same_seed_same_scan():
    kw = {"detector": Detector(shape=(1, 64), pixel_size_um=1.0, efficiency=0.5, read_noise_e=3.0),
          "jitter_px": 0.5}
    a, b, c = _noisy(seed=3, **kw), _noisy(seed=3, **kw), _noisy(seed=4, **kw)
    assert a == b
    assert not np.array_equal(a.counts, c.counts)


def test_metadata_records_provenance_energy_and_survives_nxtomo(tmp_path):
    twin = _twin(_disc(16, 4.0), provenance=Provenance("tests.disc", {"radius_vox": 4.0}, seed=11))
    p = _sim(twin, angles=[0.0, 90.0], beam=_beam(17.0), jitter_px=0.1, seed=5, noise=True)
    meta = p.metadata
    assert meta["twin"]["generator"] == "tests.disc"
    assert meta["twin"]["parameters"] == {"radius_vox": 4.0} and meta["twin"]["seed"] == 11
    assert meta["simulation"]["seed"] == 5 and meta["simulation"]["energy_kev"] == 17.0
    assert len(meta["simulation"]["jitter_px"]) == 2
    assert meta["instrument"]["scan"]["n_angles"] == 2
    assert p.energy_kev == 17.0 and p.exposure_s == 10.0
    p.to_nxtomo(tmp_path / "sim.nx")
    assert Projections.from_nxtomo(tmp_path / "sim.nx") == p


# --- refusals -----------------------------------------------------------------------------------


def _refusals(*cases):
    return [pytest.param(*case, id=case[-1]) for case in cases]


_SLICE = _twin(_disc(16, 4.0))
_DET = Detector(shape=(1, 16), pixel_size_um=1.0)
_SCAN = Scan(exposure_s=1.0, angles_deg=[0.0, 90.0])
_BEAM = _beam()


@pytest.mark.parametrize("call, error, match", _refusals(
    (lambda: simulate(np.zeros((4, 4)), _BEAM, _DET, _SCAN), TypeError, "expected a twin.Twin"),
    (lambda: simulate(_SLICE, "beam", _DET, _SCAN), TypeError, "expected a forward.instrument.Beam"),
    (lambda: simulate(_SLICE, _BEAM, _DET, Scan(exposure_s=1.0)), ValueError, "scan.angles_deg=None"),
    (lambda: simulate(_SLICE, _BEAM, _DET, Scan(exposure_s=1.0, angles_deg=np.linspace(0, np.pi, 20))),
     ValueError, "looks like radians"),
    (lambda: simulate(_SLICE, _BEAM, _DET, Scan(exposure_s=1.0, angles_deg=[0.0], raster_step_um=1.0,
                                                raster_shape=(2, 2))), ValueError, "raster"),
    (lambda: simulate(_SLICE, _BEAM, _DET, _SCAN, geometry="fan"), ValueError, "geometry='fan'"),
    (lambda: simulate(_SLICE, _BEAM, _DET, _SCAN, geometry="cone", source_origin_um=1e3, source_detector_um=4e3),
     ValueError, "cone-beam geometry needs a 3D twin"),
    (lambda: simulate(_twin(np.zeros((4, 4, 4))), _BEAM, _DET, _SCAN, geometry="cone", source_origin_um=1e3),
     ValueError, "cone geometry needs both distances"),
    (lambda: simulate(_SLICE, _BEAM, _DET, _SCAN, source_origin_um=1e3), ValueError, "expected None for parallel"),
    (lambda: simulate(_SLICE, _BEAM, Detector(shape=(1, 8), pixel_size_um=2.0), _SCAN), ValueError,
     "expected at most the twin's voxel"),
    (lambda: simulate(_SLICE, _BEAM, Detector(shape=(1, 8), pixel_size_um=1.0, energy_resolution_fwhm_kev=1.0),
                      _SCAN), ValueError, "expected an integrating detector"),
    (lambda: simulate(_SLICE, _BEAM, _DET, _SCAN, jitter_px=-1.0), ValueError, "jitter_px=-1.0"),
    (lambda: simulate(_SLICE, _BEAM, _DET, _SCAN, centre_offset_px=math.inf), ValueError, "centre_offset_px=inf"),
    (lambda: simulate(_SLICE, _BEAM, _DET, _SCAN, seed=-1), ValueError, "seed=-1"),
    # An energy given in eV is refused when the beam is built, before any simulation.
    (lambda: simulate(_SLICE, Beam(energy_kev=5400.0), _DET, _SCAN), ValueError, "did you pass eV"),
))
def test_refusals(call, error, match):
    with pytest.raises(error, match=match):
        call()
