"""forward.xanes.stack: the XANES stack container, its files, energy grids and the 2D/3D simulation."""

import json

import numpy as np
import pytest

from forward.xanes import edge
from forward.xanes.stack import (XanesStack, energy_grid, load_spectrum_columns, save_spectrum_columns,
                                 simulate_2d, simulate_3d)
from twin import materials
from twin.container import Twin
from twin.generators.nmc_particle import nmc_secondary_particle

NMC = materials.get("NMC811")


def slab_twin(valence_top: float, valence_bottom: float, nz: int = 20, n: int = 8, voxel_um: float = 0.1) -> Twin:
    """NMC811 filling the whole grid (a slab nz voxels thick along z), two valences in the two z halves."""
    labels = np.ones((nz, n, n), np.uint8)
    v = np.empty((nz, n, n), np.float32)
    v[: nz // 2], v[nz // 2:] = valence_top, valence_bottom
    return Twin(labels, voxel_um, {0: materials.get("air"), 1: NMC}, fields={"ni_oxidation_state": v})


@pytest.fixture(scope="module")
def particle():
    # radius 1.5 um at 0.1 um voxels: 32^3, builds in ~0.1 s
    return nmc_secondary_particle(radius_um=1.5, voxel_size_um=0.1, grain_size_um=0.4, mean_soc=0.5, seed=3)


ENERGIES = np.array([8300.0, 8340.0, 8350.0, 8355.0, 8400.0])


def test_energy_grid_regions():
    e = energy_grid(8333.0)
    assert len(e) == 9 + 45 + 13
    assert e[0] == 8273.0 and e[-1] == 8483.0
    d = np.diff(e)
    assert np.allclose(d[:9], 5.0) and np.allclose(d[9:53], 1.0) and np.allclose(d[54:], 10.0)
    fine = energy_grid(8333.0, edge_region=(-15.0, 30.0, 0.5))
    assert len(fine) == 9 + 90 + 13


def test_uniform_slab_is_beer_lambert_exactly():
    twin = slab_twin(3.3, 3.3)
    s = simulate_2d(twin, ENERGIES, noise=False, drift_px=0.0, psf_fwhm_um=None, flat_variation=0.1)
    length_cm = 20 * 0.1e-4
    mu = edge.mu_per_cm(NMC, None, "Ni", 3.3, ENERGIES)
    t = s.images / s.flats
    np.testing.assert_allclose(t, np.broadcast_to(np.exp(-mu * length_cm)[:, None, None], t.shape), rtol=2e-6)
    np.testing.assert_allclose(s.absorbance(), np.broadcast_to((mu * length_cm)[:, None, None], t.shape), rtol=1e-5)
    # the flats vary with energy (and across the field) as asked
    assert np.ptp(s.truth["flat_scale"]) > 0.01 and np.ptp(s.flats.mean(axis=(1, 2))) > 0.01 * s.flats.mean()
    # a uniform field is left unchanged by drift and blur
    s2 = simulate_2d(twin, ENERGIES, noise=False, drift_px=2.0, psf_fwhm_um=0.2, flat_variation=0.1)
    np.testing.assert_allclose(s2.images / s2.flats, t, rtol=1e-5)


def test_valence_interpolation_within_stated_bound():
    # 3.37 is off the 0.05 grid of nodes starting at 3.0: the absorbance is interpolated
    twin = slab_twin(3.0, 3.37)
    s = simulate_2d(twin, energy_grid(8333.0), noise=False, drift_px=0.0, psf_fwhm_um=None, valence_step=0.05)
    e = s.energies_ev
    half_cm = 10 * 0.1e-4
    exact = (edge.mu_per_cm(NMC, None, "Ni", 3.0, e) + edge.mu_per_cm(NMC, None, "Ni", 3.37, e)) * half_cm
    _, jump = edge.edge_background_cm2_per_g("Ni", e)
    jump_abs = jump * NMC.mass_fractions[28] * NMC.density_g_cm3 * half_cm
    err = np.abs(s.absorbance()[:, 0, 0] - exact)
    bound = s.metadata["valence_interp_error"]
    assert np.all(err <= bound * jump_abs * 1.001 + 1e-6)
    assert err.max() > 0.1 * bound * jump_abs.max()  # the bound is not vacuous
    # 0.05^2 / 8 * 2.5^2 * max|mu_n''| (0.065 /eV^2) = 1.3e-4 of the jump
    assert bound == pytest.approx(0.05 ** 2 / 8 * 2.5 ** 2 * 0.0647, rel=0.01)


def test_drift_recorded_and_applied(particle):
    still = simulate_2d(particle, ENERGIES, noise=False, drift_px=0.0, psf_fwhm_um=None)
    moved = simulate_2d(particle, ENERGIES, noise=False, drift_px=1.0, psf_fwhm_um=None, seed=7)
    shifts = moved.truth["shifts_px"]
    assert shifts.shape == (5, 2) and np.all(np.abs(shifts) > 0) and np.std(shifts) > 0.2
    assert np.array_equal(simulate_2d(particle, ENERGIES, noise=False, drift_px=1.0, seed=7).truth["shifts_px"],
                          shifts)
    ny, nx = still.frame_shape
    yy, xx = np.mgrid[:ny, :nx]

    def centroid(stack):
        w = 1.0 - stack.images / stack.flats  # 1 - T moves with the sample
        return np.stack([(w * yy).sum(axis=(1, 2)) / w.sum(axis=(1, 2)),
                         (w * xx).sum(axis=(1, 2)) / w.sum(axis=(1, 2))], axis=1)

    np.testing.assert_allclose(centroid(moved) - centroid(still), shifts, atol=0.02)


def test_psf_blurs_with_the_stated_width():
    labels = np.zeros((4, 64, 64), np.uint8)
    labels[:, 32, 32] = 1
    v = np.full(labels.shape, np.nan, np.float32)
    v[labels == 1] = 3.0
    twin = Twin(labels, 0.05, {0: materials.get("vacuum"), 1: NMC}, fields={"ni_oxidation_state": v})
    s = simulate_2d(twin, ENERGIES[:2], noise=False, drift_px=0.0, psf_fwhm_um=0.3, flat_variation=0.0)
    w = 1.0 - s.images[0].astype(float) / s.flats[0]
    yy, xx = np.mgrid[:64, :64]
    var_x = (w * (xx - 32) ** 2).sum() / w.sum()
    sigma_px = 0.3 / (2 * np.sqrt(2 * np.log(2))) / 0.05
    assert var_x == pytest.approx(sigma_px ** 2, rel=0.02)


@pytest.mark.parametrize("snr", [100.0, 200.0])
def test_snr_of_flat_regions(particle, snr):
    # SNR = mean / std of the counts in a flat (sample-free) region: N0 = snr^2 (Poisson)
    energies = np.linspace(8300.0, 8400.0, 20)
    s = simulate_2d(particle, energies, snr=snr, flat_variation=0.0, drift_px=0.0, psf_fwhm_um=None, seed=1)
    free = s.truth["edge_path_um"] == 0
    assert free.sum() > 250  # the corners outside the particle's disc
    counts = s.images[:, free].astype(float)
    achieved = counts.mean() / np.sqrt(np.mean(counts.var(axis=1)))
    assert achieved == pytest.approx(snr, rel=0.05)
    # with flat variation the SNR follows the local open beam: sqrt(N0 s(E) g(y, x))
    s = simulate_2d(particle, energies, snr=snr, flat_variation=0.2, drift_px=0.0, psf_fwhm_um=None, seed=1)
    expected = snr ** 2 * s.truth["flat_scale"][:, None] * s.truth["illumination"][free][None, :]
    z = (s.images[:, free] - expected) / np.sqrt(expected)
    assert np.std(z) == pytest.approx(1.0, rel=0.05) and abs(np.mean(z)) < 0.05
    assert s.metadata["photons_per_pixel"] == snr ** 2


def test_particle_truth_and_spectrum(particle):
    s = simulate_2d(particle, energy_grid(8333.0), seed=2)
    mv = s.truth["mean_valence"]
    inside = s.truth["edge_path_um"] > 1.0
    valence = particle.fields["ni_oxidation_state"]
    assert np.nanmin(valence) - 1e-6 <= mv[inside].min() and mv[inside].max() <= np.nanmax(valence) + 1e-6
    spec = s.spectrum(inside, label="particle")
    i_wl = np.argmax(spec.mu)
    # white line of the projected mix between those of the extreme valences
    lo, hi = edge.whiteline_of_model(edge.NI_K_MODEL, [np.nanmin(valence), np.nanmax(valence)])
    assert lo - 1.5 <= spec.energy_ev[i_wl] <= hi + 1.5
    pixel = s.spectrum((16, 16))
    assert pixel.mu.shape == spec.mu.shape


def test_hdf5_round_trip_and_no_silent_overwrite(particle, tmp_path):
    s = simulate_2d(particle, ENERGIES, dark_counts=5.0, seed=4)
    path = tmp_path / "stack.h5"
    s.save_hdf5(path)
    back = XanesStack.load_hdf5(path)
    assert np.array_equal(back.images, s.images) and np.array_equal(back.flats, s.flats)
    assert np.array_equal(back.darks, s.darks) and np.array_equal(back.energies_ev, s.energies_ev)
    assert back.pixel_um == s.pixel_um and dict(back.metadata) == dict(s.metadata)
    assert set(back.truth) == set(s.truth)
    assert np.array_equal(back.truth["shifts_px"], s.truth["shifts_px"])
    with pytest.raises(FileExistsError, match="overwrite"):
        s.save_hdf5(path)
    s.save_hdf5(path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.h5"]  # no temporary left behind
    import h5py
    with h5py.File(path) as f:
        assert f["entry/data"].attrs["signal"] == "data" and f["entry/data/energy"].attrs["units"] == "eV"
        assert list(f["entry/data"].attrs["axes"]) == ["energy", "y", "x"]


def test_masked_nan_round_trip(tmp_path):
    images = np.ones((3, 4, 5), np.float32)
    images[:, 1, 2] = np.nan
    mask = np.ones((4, 5), bool)
    mask[1, 2] = False
    s = XanesStack(images, [8300.0, 8340.0, 8400.0], 0.05, signal="absorbance", mask=mask)
    s.save_hdf5(tmp_path / "a.h5")
    back = XanesStack.load_hdf5(tmp_path / "a.h5")
    assert np.array_equal(back.mask, mask) and np.isnan(back.images[0, 1, 2]) and back.signal == "absorbance"
    assert np.allclose(back.spectrum().mu, 1.0)


def test_spectrum_columns_round_trip(particle, tmp_path):
    spec = simulate_2d(particle, ENERGIES, seed=5).spectrum(label="whole field")
    path = save_spectrum_columns(spec, tmp_path / "spec.dat")
    back = load_spectrum_columns(path)
    np.testing.assert_allclose(back.energy_ev, spec.energy_ev)
    np.testing.assert_allclose(back.mu, spec.mu, rtol=1e-8)
    with pytest.raises(FileExistsError):
        save_spectrum_columns(spec, path)


def test_simulate_3d_matches_projector_and_fbp(particle):
    from forward.tomography.projector import ParallelProjector
    from inverse.tomography.reconstruct import fbp

    angles = np.linspace(0.0, 180.0, 60, endpoint=False)
    s = simulate_3d(particle, ENERGIES[[0, 3]], angles, noise=False, drift_px=0.0, psf_fwhm_um=None)
    assert s.is_3d and s.images.shape[:2] == (2, 60) and s.flats.shape == (2, *s.frame_shape)
    labels = particle.labels
    v = particle.fields["ni_oxidation_state"]
    mu = np.zeros(labels.shape)
    mu[labels == 1] = edge.mu_per_cm(NMC, None, "Ni", v[labels == 1], ENERGIES[3])
    mu[labels == 0] = materials.get("air").linear_attenuation_per_cm(ENERGIES[3] / 1000)
    direct = ParallelProjector(labels.shape, 0.1, angles).direct(mu * 1e-4)  # 1/cm -> 1/um: line integrals in um
    np.testing.assert_allclose(s.absorbance()[1], direct, rtol=1e-3, atol=2e-4)
    rec = fbp(s.absorbance()[1], angles, s.pixel_um, output_shape=labels.shape)
    core = np.zeros(labels.shape, bool)
    core[10:22, 10:22, 10:22] = True
    assert float(np.mean(rec.volume_per_cm[core])) == pytest.approx(float(mu[core].mean()), rel=0.05)


def test_refusals(particle):
    img = np.ones((3, 4, 4), np.float32)
    with pytest.raises(ValueError, match="strictly increasing"):
        XanesStack(img, [8300.0, 8290.0, 8400.0], 0.05, flats=img)
    with pytest.raises(ValueError, match="did you pass keV"):
        XanesStack(img, [8.3, 8.34, 8.4], 0.05, flats=img)
    with pytest.raises(ValueError, match="expected 3 energies"):
        XanesStack(img, [8300.0, 8400.0], 0.05, flats=img)
    with pytest.raises(ValueError, match="all-zero"):
        XanesStack(img, [8300.0, 8340.0, 8400.0], 0.05, flats=np.zeros_like(img))
    with pytest.raises(ValueError, match="flats: expected shape"):
        XanesStack(img, [8300.0, 8340.0, 8400.0], 0.05, flats=img[:, :2])
    with pytest.raises(ValueError, match="darks: expected shape"):
        XanesStack(img, [8300.0, 8340.0, 8400.0], 0.05, flats=img, darks=np.zeros(3))
    bad = img.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        XanesStack(bad, [8300.0, 8340.0, 8400.0], 0.05, flats=img)
    with pytest.raises(ValueError, match="NaN"):
        XanesStack(bad, [8300.0, 8340.0, 8400.0], 0.05, flats=img, mask=np.ones((4, 4), bool))
    with pytest.raises(ValueError, match="absorbance"):
        XanesStack(img, [8300.0, 8340.0, 8400.0], 0.05, flats=img, signal="absorbance")
    with pytest.raises(ValueError, match="angles_deg"):
        XanesStack(img[:, None], [8300.0, 8340.0, 8400.0], 0.05)
    with pytest.raises(ValueError, match="pixel_um"):
        XanesStack(img, [8300.0, 8340.0, 8400.0], -1.0)
    with pytest.raises(ValueError, match="flats=None"):
        XanesStack(img, [8300.0, 8340.0, 8400.0], 0.05).absorbance()
    with pytest.raises(ValueError, match="3D twin"):
        simulate_2d(Twin(np.ones((4, 4), np.uint8), 0.1, {1: NMC}), ENERGIES)
    nan_twin = slab_twin(3.0, np.nan)
    with pytest.raises(ValueError, match="finite valence"):
        simulate_2d(nan_twin, ENERGIES)
    with pytest.raises(ValueError, match="valence_field"):
        simulate_2d(particle, ENERGIES, valence_field="soc_x")
    with pytest.raises(ValueError, match="snr"):
        simulate_2d(particle, ENERGIES, snr=0)
    with pytest.raises(ValueError, match="around the Ni K edge"):
        simulate_2d(particle, [6000.0, 6100.0])
    with pytest.raises(ValueError, match="drift_px"):
        simulate_2d(particle, ENERGIES, drift_px=-1)
    with pytest.raises(ValueError, match="edge_region"):
        energy_grid(8333.0, edge_region=(30.0, -15.0, 1.0))
    with pytest.raises(ValueError, match="in order"):
        energy_grid(8333.0, edge_region=(-80.0, 30.0, 1.0))
    with pytest.raises(FileNotFoundError):
        XanesStack.load_hdf5("/nonexistent/stack.h5")


def test_metadata_is_json(particle):
    s = simulate_2d(particle, ENERGIES[:2], seed=0)
    text = json.dumps(dict(s.metadata))
    assert "along z" in text and s.metadata["snr"] == 200.0
