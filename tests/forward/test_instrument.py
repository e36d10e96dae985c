"""Tests of forward.instrument: reference values, round trips, properties and one test per refusal."""

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import trapezoid

from forward.instrument import Beam, Detector, Scan, Spectrum

def _refusals(*cases):
    """Parametrize (make, error, match) cases, each named after the message it expects."""
    return [pytest.param(*case, id=case[-1]) for case in cases]


# --- Spectrum -----------------------------------------------------------------


def test_spectrum_normalises_and_copies_its_inputs():
    e = np.array([10.0, 20.0, 30.0])
    s = Spectrum(e, [1, 2, 1])
    e[0] = 99.0  # the caller's array changing later must not change the spectrum
    np.testing.assert_array_equal(s.energies_kev, [10.0, 20.0, 30.0])
    np.testing.assert_allclose(s.weights, [0.25, 0.5, 0.25], rtol=0, atol=1e-15)
    assert s.mean_energy_kev == pytest.approx(20.0, rel=1e-15)
    with pytest.raises(ValueError, match="read-only"):
        s.weights[0] = 1.0


def test_monochromatic_spectrum():
    s = Spectrum.monochromatic(20)
    assert s.energies_kev.tolist() == [20.0]
    assert s.weights.tolist() == [1.0]
    assert s.mean_energy_kev == 20.0


def _kramers_closed_form(s):
    """Mean energy and expected midpoint-rule error for weight (k - E)/E on the sampled interval.

    Over [a, k]: N = int (k - E) dE = (k - a)^2 / 2 and D = int (k - E)/E dE
    = k ln(k/a) - (k - a), so <E> = N / D. The numerator's integrand is
    linear (the midpoint rule is exact); the denominator's error is
    h^2/24 (f'(k) - f'(a)) with f' = -k/E^2 (Euler-Maclaurin).
    """
    h = s.energies_kev[1] - s.energies_kev[0]
    a, k = s.energies_kev[0] - h / 2, s.energies_kev[-1] + h / 2
    num = (k - a) ** 2 / 2
    den = k * np.log(k / a) - (k - a)
    den_error = h**2 / 24 * (k / a**2 - 1 / k)
    return num / den, den_error / den


def test_kramers_mean_energy_matches_closed_form():
    s = Spectrum.tungsten_tube(60, n=500)
    assert s.energies_kev[0] > 1.0 and s.energies_kev[-1] < 60.0
    mean, rel_error = _kramers_closed_form(s)
    # Predicted discretisation error: 1.9e-4 relative for n=500, 60 kVp.
    assert 1e-4 < rel_error < 2.5e-4
    assert s.mean_energy_kev == pytest.approx(mean, rel=1.2 * rel_error)
    # Refining the grid 4x cuts the error 16x: the discretisation is second order.
    fine = Spectrum.tungsten_tube(60, n=2000)
    assert fine.mean_energy_kev == pytest.approx(_kramers_closed_form(fine)[0], rel=2e-5)


def test_aluminium_filter_hardens_the_spectrum():
    bare = Spectrum.tungsten_tube(60)
    filtered = Spectrum.tungsten_tube(60, filtration_mm_al=1.0)
    np.testing.assert_array_equal(bare.energies_kev, filtered.energies_kev)
    assert filtered.mean_energy_kev > bare.mean_energy_kev + 5.0


def test_aluminium_filter_transmission_matches_nist():
    # 61 kVp in 90 bins puts bin centres (1 + 1/3 + 2i/3 keV) at exactly 20 and 40 keV.
    bare = Spectrum.tungsten_tube(61, n=90)
    filtered = Spectrum.tungsten_tube(61, n=90, filtration_mm_al=1.0)
    i20, i40 = (int(np.flatnonzero(np.isclose(bare.energies_kev, e))[0]) for e in (20.0, 40.0))
    ratio = (filtered.weights[i20] / bare.weights[i20]) / (filtered.weights[i40] / bare.weights[i40])
    # NIST XCOM / Hubbell & Seltzer table for Al, mu/rho with coherent scattering:
    # 3.441 cm2/g at 20 keV, 0.5685 cm2/g at 40 keV; 1 mm = 0.1 cm of 2.699 g/cm3.
    assert ratio == pytest.approx(np.exp(-(3.441 - 0.5685) * 2.699 * 0.1), rel=1e-2)


def test_spectrum_column_round_trip_is_exact(tmp_path):
    s = Spectrum.tungsten_tube(45, n=123, filtration_mm_al=0.5)
    path = s.to_columns(tmp_path / "tube.txt")
    back = Spectrum.from_columns(path)
    np.testing.assert_array_equal(back.energies_kev, s.energies_kev)
    np.testing.assert_array_equal(back.weights, s.weights)
    assert back == s and hash(back) == hash(s)


def test_spectrum_columns_overwrite_only_when_asked(tmp_path):
    path = tmp_path / "s.txt"
    Spectrum.monochromatic(20).to_columns(path)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        Spectrum.monochromatic(30).to_columns(path)
    assert Spectrum.from_columns(path).mean_energy_kev == 20.0
    Spectrum.monochromatic(30).to_columns(path, overwrite=True)
    assert Spectrum.from_columns(path).mean_energy_kev == 30.0


# Zeros and six decades either side of 1: subnormal weights lose relative precision
# on division, and a spectrum has no use for them.
weights_lists = st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=40).filter(
    lambda w: sum(w) > 0
)


@given(weights_lists)
def test_spectrum_weights_always_normalised(w):
    s = Spectrum(1.0 + 0.5 * np.arange(len(w)), w)
    assert abs(s.weights.sum() - 1.0) <= 1e-12
    np.testing.assert_allclose(s.weights * sum(w), w, rtol=1e-12, atol=0)


@settings(max_examples=30)
@given(weights_lists)
def test_spectrum_column_round_trip_property(w):
    s = Spectrum(1.0 + 0.5 * np.arange(len(w)), w)
    with tempfile.TemporaryDirectory() as d:
        assert Spectrum.from_columns(s.to_columns(Path(d) / "s.txt")) == s


@pytest.mark.parametrize(
    "make, error, match",
    _refusals(
        (lambda: Spectrum([[10.0, 20.0]], [[1, 1]]), ValueError, "energies_kev: expected a non-empty 1D"),
        (lambda: Spectrum([], []), ValueError, "energies_kev: expected a non-empty 1D"),
        (lambda: Spectrum([8333, 8400], [1, 1]), ValueError, "energies_kev.*did you pass eV"),
        (lambda: Spectrum([10, 10], [1, 1]), ValueError, "energies_kev: expected strictly increasing"),
        (lambda: Spectrum([10, 20], [1, 1, 1]), ValueError, r"weights: expected shape \(2,\)"),
        (lambda: Spectrum([10, 20], [1, -1]), ValueError, "weights: expected weights >= 0"),
        (lambda: Spectrum([10, 20], [0, 0]), ValueError, "weights: expected at least one weight > 0"),
        (lambda: Spectrum([10, 20], [1, np.nan]), ValueError, "weights: expected finite"),
        (lambda: Spectrum.monochromatic(8333), ValueError, "energy_kev.*did you pass eV"),
        (lambda: Spectrum.tungsten_tube(1.0), ValueError, "kvp=1.0"),
        (lambda: Spectrum.tungsten_tube(60000), ValueError, "kvp=60000"),
        (lambda: Spectrum.tungsten_tube(60, n=0), ValueError, "n=0"),
        (lambda: Spectrum.tungsten_tube(60, n=2.5), TypeError, "n=2.5"),
        (lambda: Spectrum.tungsten_tube(60, filtration_mm_al=-1), ValueError, "filtration_mm_al=-1"),
        (lambda: Spectrum.tungsten_tube(60, filtration_mm_al=1e5), ValueError, "filtration_mm_al=.*absorbs"),
    ),
)
def test_spectrum_refusals(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_from_columns_refuses_three_columns(tmp_path):
    path = tmp_path / "three.txt"
    path.write_text("10 1 0\n20 1 0\n")
    with pytest.raises(ValueError, match="expected two columns"):
        Spectrum.from_columns(path)


def test_from_columns_refuses_text(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("10 one\n")
    with pytest.raises(ValueError, match="expected two numeric columns"):
        Spectrum.from_columns(path)


# --- Beam -----------------------------------------------------------------------


def test_wavelength():
    assert Beam(energy_kev=12.398).wavelength_A == pytest.approx(1.0000, abs=1e-4)
    # Cu K-alpha1: 8047.8227 eV <-> 1.5405929 A (Hoelzer et al. 1997, Phys. Rev. A 56, 4554).
    assert Beam(energy_kev=8.0478227).wavelength_A == pytest.approx(1.5405929, rel=1e-6)


def test_monochromatic_beam_defaults():
    b = Beam(energy_kev=20)
    assert b.energy_kev == 20.0 and isinstance(b.energy_kev, float)
    assert not b.is_polychromatic
    assert b.size_um == (1000.0, 1000.0)


def test_beam_from_spectrum_takes_its_mean_energy():
    s = Spectrum.tungsten_tube(60)
    b = Beam(spectrum=s)
    assert b.energy_kev == s.mean_energy_kev
    assert b.is_polychromatic
    assert Beam(energy_kev=s.mean_energy_kev * (1 + 1e-12), spectrum=s).energy_kev == pytest.approx(b.energy_kev)
    assert Beam(spectrum=s) == b and hash(Beam(spectrum=s)) == hash(b)


def test_scalar_size_is_square():
    assert Beam(energy_kev=20, size_um=50).size_um == (50.0, 50.0)
    assert Beam(energy_kev=20, size_um=[3, 4]).size_um == (3.0, 4.0)


def test_flat_fluence():
    b = Beam(energy_kev=20, flux_ph_per_s=2e12, size_um=(100, 50))
    # 2e12 ph/s x 0.5 s over 100 um x 50 um
    assert b.fluence_ph_per_um2(0.5) == pytest.approx(1e12 / 5000, rel=1e-15)


def test_gaussian_peak_fluence_matches_numerical_integral():
    fwhm_h, fwhm_v, flux, t = 3.0, 5.0, 1e10, 0.5
    b = Beam(energy_kev=20, flux_ph_per_s=flux, profile="gaussian", size_um=(fwhm_h, fwhm_v))
    # A Gaussian of peak 1 with these FWHMs (it is 1/2 at x = FWHM/2), integrated
    # over +-5 FWHM, where the tails are below 1e-30; its integral is the area
    # that holds the total fluence at the peak value.
    x = np.linspace(-5 * fwhm_h, 5 * fwhm_h, 2001)
    y = np.linspace(-5 * fwhm_v, 5 * fwhm_v, 2001)
    g = np.exp(-4 * np.log(2) * ((x[None, :] / fwhm_h) ** 2 + (y[:, None] / fwhm_v) ** 2))
    area = trapezoid(trapezoid(g, x, axis=1), y)
    assert b.effective_area_um2 == pytest.approx(area, rel=1e-9)
    assert b.fluence_ph_per_um2(t) == pytest.approx(flux * t / area, rel=1e-9)


@pytest.mark.parametrize(
    "make, error, match",
    _refusals(
        (lambda: Beam(energy_kev=8333), ValueError, "energy_kev=8333.*did you pass eV"),
        (lambda: Beam(energy_kev=0.01), ValueError, "energy_kev=0.01"),
        (lambda: Beam(energy_kev=[20, 30]), ValueError, "energy_kev=.*expected a single photon energy"),
        (lambda: Beam(), ValueError, "energy_kev=None"),
        (lambda: Beam(energy_kev=30, spectrum=Spectrum.tungsten_tube(60)), ValueError, "energy_kev=30.*mean energy"),
        (lambda: Beam(spectrum=[20.0]), TypeError, "spectrum="),
        (lambda: Beam(energy_kev=20, bandwidth_rel=-0.1), ValueError, "bandwidth_rel=-0.1"),
        (lambda: Beam(energy_kev=20, bandwidth_rel=1.0), ValueError, r"bandwidth_rel=1.0: expected a number in \[0, 1\)"),
        (lambda: Beam(energy_kev=20, flux_ph_per_s=0), ValueError, "flux_ph_per_s=0"),
        (lambda: Beam(energy_kev=20, profile="top-hat"), ValueError, "profile='top-hat'"),
        (lambda: Beam(energy_kev=20, size_um=-1), ValueError, "size_um=-1"),
        (lambda: Beam(energy_kev=20, size_um=(1, 2, 3)), ValueError, r"size_um: expected shape \(2,\)"),
        (lambda: Beam(energy_kev=20, size_um=(1, 0)), ValueError, r"size_um\[1\]=0"),
        (lambda: Beam(energy_kev=20).fluence_ph_per_um2(0), ValueError, "exposure_s=0"),
    ),
)
def test_beam_refusals(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --- Detector ---------------------------------------------------------------------


def test_hexitec_matches_source():
    d = Detector.hexitec()
    assert d.shape == (80, 80) and d.pixel_size_um == 250.0 and d.energy_bin_kev == 0.2
    # Leung et al. 2024, Sec. 2.1: "80 x 80 pixels array or 20 mm x 20 mm".
    assert d.field_of_view_um == (20000.0, 20000.0)
    assert d.is_energy_resolving
    assert d.fwhm_kev(59.54) == pytest.approx(0.93, rel=1e-15)
    assert d.fwhm_kev(93.6) == pytest.approx(0.93 * np.sqrt(93.6 / 59.54), rel=1e-15)
    np.testing.assert_allclose(d.fwhm_kev([59.54, 4 * 59.54]), [0.93, 1.86], rtol=1e-15)


def test_txm_nanoct_matches_source():
    d = Detector.txm_nanoct()
    # Heenan et al. 2020, Sec. 4: 1024 x 1024 pixels, binning 8 -> "effective pixel
    # size of 512 nm", field of view "64 x 64 um" (a round figure: 1024 x 64 nm = 65.5 um).
    assert d.shape == (1024, 1024) and d.binning == 8
    assert d.binned_pixel_size_um == pytest.approx(0.512, rel=1e-15)
    assert d.binned_shape == (128, 128)
    np.testing.assert_allclose(d.field_of_view_um, (64.0, 64.0), rtol=0.025)
    assert not d.is_energy_resolving


def test_binned_shape_drops_incomplete_blocks():
    assert Detector(shape=(10, 7), pixel_size_um=1, binning=3).binned_shape == (3, 2)


def test_pixel_mask():
    d = Detector(shape=(4, 5), pixel_size_um=1, dead_pixels=[(0, 0), (2, 3)], hot_pixels=np.array([[3, 4]]))
    mask = d.pixel_mask()
    assert mask.shape == (4, 5) and mask.dtype == bool
    assert sorted(zip(*np.nonzero(~mask))) == [(0, 0), (2, 3), (3, 4)]
    assert Detector(shape=(4, 5), pixel_size_um=1).pixel_mask().all()


def test_detector_equality_and_read_only_pixels():
    d = Detector(shape=(4, 5), pixel_size_um=1, dead_pixels=[(1, 1)])
    assert d == Detector(shape=[4, 5], pixel_size_um=1.0, dead_pixels=np.array([[1, 1]]))
    assert d != Detector(shape=(4, 5), pixel_size_um=1)
    with pytest.raises(ValueError, match="read-only"):
        d.dead_pixels[0, 0] = 2


@pytest.mark.parametrize(
    "kw, error, match",
    _refusals(
        (dict(shape=(4, 5, 6)), ValueError, r"shape=\(4, 5, 6\): expected \(rows, cols\)"),
        (dict(shape=(4.0, 5)), TypeError, r"shape\[0\]=4.0: expected an integer"),
        (dict(shape=(4, 0)), ValueError, r"shape\[1\]=0: expected an integer >= 1"),
        (dict(pixel_size_um=0), ValueError, "pixel_size_um=0"),
        (dict(binning=0), ValueError, "binning=0"),
        (dict(binning=5), ValueError, r"binning=5: expected at most min\(shape\) = 4"),
        (dict(efficiency=0), ValueError, r"efficiency=0: expected a number in \(0, 1\]"),
        (dict(efficiency=1.5), ValueError, "efficiency=1.5"),
        (dict(read_noise_e=-1), ValueError, "read_noise_e=-1"),
        (dict(dark_counts=-0.5), ValueError, "dark_counts=-0.5"),
        (dict(energy_resolution_fwhm_kev=-1), ValueError, "energy_resolution_fwhm_kev=-1"),
        (dict(energy_resolution_fwhm_kev=1, resolution_reference_kev=59540), ValueError,
         "resolution_reference_kev=59540.*did you pass eV"),
        (dict(energy_resolution_fwhm_kev=1, energy_bin_kev=0), ValueError, "energy_bin_kev=0"),
        (dict(energy_bin_kev=0.2), ValueError, "energy_bin_kev=0.2: an integrating detector"),
        (dict(dead_pixels=[(4, 0)]), ValueError, r"dead_pixels: pixel \(row=4, col=0\) lies outside"),
        (dict(dead_pixels=[(0, -1)]), ValueError, r"dead_pixels: pixel \(row=0, col=-1\) lies outside"),
        (dict(dead_pixels=[1, 2]), ValueError, "dead_pixels: expected an array with ndim"),
        (dict(hot_pixels=[(1, 2, 3)]), ValueError, r"hot_pixels: expected an \(n, 2\) array"),
        (dict(hot_pixels=[(1.5, 2)]), TypeError, "hot_pixels: expected dtype kind"),
        (dict(psf_fwhm_px=-1), ValueError, "psf_fwhm_px=-1"),
    ),
)
def test_detector_refusals(kw, error, match):
    with pytest.raises(error, match=match):
        Detector(**{"shape": (4, 5), "pixel_size_um": 1.0, **kw})


def test_integrating_detector_has_no_resolution():
    with pytest.raises(ValueError, match="energy_resolution_fwhm_kev=None"):
        Detector(shape=(4, 5), pixel_size_um=1).fwhm_kev(20)


def test_fwhm_refuses_energy_in_ev():
    with pytest.raises(ValueError, match="energy_kev=.*did you pass eV"):
        Detector.hexitec().fwhm_kev(59540)


# --- Scan -------------------------------------------------------------------------


def test_single_exposure():
    s = Scan(exposure_s=2)
    assert s.n_points == 1 and s.total_time_s == 2.0


def test_tomography_angles_and_time():
    s = Scan.tomography(4, 1.0)
    np.testing.assert_array_equal(s.angles_deg, [0, 45, 90, 135])
    np.testing.assert_array_equal(Scan.tomography(5, 1.0, arc_deg=360, endpoint=True).angles_deg, [0, 90, 180, 270, 360])
    # Heenan et al. 2020 nano-CT: 141 projections of 1 s; here with 10 flats,
    # 5 darks and 0.5 s of motion per projection: 141 x 1.5 + 15 x 1 = 226.5 s.
    s = Scan.tomography(141, 1.0, n_flats=10, n_darks=5, overhead_s=0.5)
    assert s.n_points == 141 and s.total_time_s == pytest.approx(226.5, rel=1e-15)


def test_raster_scan_time():
    s = Scan(exposure_s=0.1, raster_step_um=50, raster_shape=(20, 30), overhead_s=0.05)
    assert s.raster_step_um == (50.0, 50.0)
    assert s.n_points == 600 and s.total_time_s == pytest.approx(600 * 0.15, rel=1e-14)
    # rotation and raster together (raster tomography): every angle rasters the map
    both = Scan(exposure_s=1, angles_deg=[0, 90, 180], raster_step_um=(1, 2), raster_shape=(2, 5))
    assert both.n_points == 30 and both.total_time_s == 30.0


def test_scan_is_frozen_and_comparable():
    s = Scan.tomography(3, 1.0)
    assert s == Scan(exposure_s=1.0, angles_deg=[0.0, 60.0, 120.0]) and hash(s) == hash(Scan.tomography(3, 1.0))
    with pytest.raises(ValueError, match="read-only"):
        s.angles_deg[0] = 1.0


@given(
    st.floats(1e-3, 1e3), st.floats(1e-3, 1e3), st.integers(1, 2000),
    st.integers(0, 50), st.integers(0, 50), st.floats(0, 10),
)
def test_total_time_is_monotone_in_exposure(t1, t2, n_angles, n_flats, n_darks, overhead_s):
    short, long_ = sorted((t1, t2))
    times = [Scan.tomography(n_angles, t, n_flats=n_flats, n_darks=n_darks, overhead_s=overhead_s).total_time_s
             for t in (short, long_)]
    assert times[0] <= times[1]


@pytest.mark.parametrize(
    "make, error, match",
    _refusals(
        (lambda: Scan(exposure_s=-1), ValueError, "exposure_s=-1"),
        (lambda: Scan(exposure_s=1, angles_deg=[[0, 1]]), ValueError, "angles_deg: expected an array with ndim"),
        (lambda: Scan(exposure_s=1, angles_deg=[0, np.nan]), ValueError, "angles_deg: expected finite"),
        (lambda: Scan(exposure_s=1, angles_deg=[]), ValueError, "angles_deg: expected at least one angle"),
        (lambda: Scan(exposure_s=1, angles_deg=["a"]), TypeError, "angles_deg: expected dtype kind"),
        (lambda: Scan(exposure_s=1, raster_step_um=1), ValueError, "raster_step_um=1, raster_shape=None: expected both"),
        (lambda: Scan(exposure_s=1, raster_shape=(2, 2)), ValueError, r"raster_step_um=None, raster_shape=\(2, 2\)"),
        (lambda: Scan(exposure_s=1, raster_step_um=(1, -1), raster_shape=(2, 2)), ValueError, r"raster_step_um\[1\]=-1"),
        (lambda: Scan(exposure_s=1, raster_step_um=1, raster_shape=(0, 2)), ValueError, r"raster_shape\[0\]=0"),
        (lambda: Scan(exposure_s=1, raster_step_um=1, raster_shape=(2, 2.5)), TypeError, r"raster_shape\[1\]=2.5"),
        (lambda: Scan(exposure_s=1, raster_step_um=1, raster_shape=(2, 2, 2)), ValueError,
         r"raster_shape=\(2, 2, 2\): expected \(n_vertical, n_horizontal\)"),
        (lambda: Scan(exposure_s=1, n_flats=-1), ValueError, "n_flats=-1"),
        (lambda: Scan(exposure_s=1, n_darks=1.5), TypeError, "n_darks=1.5"),
        (lambda: Scan(exposure_s=1, overhead_s=-1), ValueError, "overhead_s=-1"),
        (lambda: Scan.tomography(0, 1.0), ValueError, "n_angles=0"),
        (lambda: Scan.tomography(10, 1.0, arc_deg=0), ValueError, "arc_deg=0"),
    ),
)
def test_scan_refusals(make, error, match):
    with pytest.raises(error, match=match):
        make()


# --- all instruments ----------------------------------------------------------------


@pytest.mark.parametrize(
    "instrument, field",
    [
        (Spectrum.monochromatic(20), "weights"),
        (Beam(energy_kev=20), "energy_kev"),
        (Detector.hexitec(), "pixel_size_um"),
        (Scan(exposure_s=1), "exposure_s"),
    ],
    ids=["Spectrum", "Beam", "Detector", "Scan"],
)
def test_instruments_are_frozen(instrument, field):
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instrument, field, 1.0)
