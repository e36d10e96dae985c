"""Validation of X-ray Compton scattering imaging (seeds/001): coin cells -> XCS cubes -> EMF and lithium maps.

Scenarios (twin.generators.coin_cell, 3D; forward.compton.simulate with the
seeds/001 set-up: 114.64 keV sheet 25 x 0.25 mm, 200 um pinhole at 160 mm,
magnification 1, HEXITEC 80 x 80 x 1000 channels, Poisson counts):

- the liquid-electrolyte cell (NMC811 cathode, 62.5 um voxels) with its
  through-thickness lithium profile (x_top / x_middle = 0.65 / 0.72, the
  source's EMF ratio) and, for (c), a radial lithium gradient (lateral
  contrast 0.9 over 4 mm, larger than the generator's illustrative 0.1 so
  that a map has something to resolve), sheets in the cathode's top region
  (furthest from the separator) and its middle;
- the solid-state cell (25 um voxels over the central 5 mm), sheets in the
  Li anode and at the anode/SPE interphase.

Masks are the twin's component labels imaged through the pinhole (the
registered XCT masks of the source; a pixel counts when at least 90 % of the
Compton photons reaching it come from the component).

Checks:

(a) the Compton peak of the global spectrum against the closed form
    E / (1 + (E / mc^2)(1 - cos 90 deg)) = 93.63 keV;
(b) the EMF (eq. 3-5, inverse.compton) of each region with its counting
    uncertainty: its ordering (middle > top in the cathode; anode >
    interphase) and its value against the noise-free EMF of the same region
    (the expected counts of the same twin and instrument: the truth of an
    instrument-dependent quantity), within 3 sigma;
(c) a calibration EMF -> x from four uniformly lithiated reference cells
    (simulated measurements, inverse.compton.fit_calibration), then the
    lithium map of the graded cell at 8 x 8 pixel binning against the
    twin's x, weighted as each pixel sees it: correlation, RMSE and the
    reported uncertainty.

What the source reports and the twin does not reproduce: the EMF differs by
10 % between the cathode's top and middle (0.65 vs 0.72) for the lithium
ratio the twin holds; in the impulse approximation with Hartree-Fock
profiles the lithium electrons are too few among Ni/Mn/Co/O for that: the
EMF moves by ~0.06 per unit x (forward.compton.plan), so the simulated
regions differ by ~0.2 %. The ordering is reproduced, the size is not; the
check uses the twin's own truth.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forward.compton import detector, physics
from forward.compton.camera import PinholeCamera
from forward.compton.measurement import Measurement
from forward.compton.simulate import sheet_scatter, simulate
from inverse.compton import EmfResult, bin_pixels, emf, emf_map, fit_calibration, sum_spectra
from twin.container import Twin
from twin.generators.coin_cell import coin_cell
from validation.report import Check, Report
from xtwin import arguments, files

#: Incident flux and exposure per sheet position (seeds/001 does not state the flux; its scans took ~12 min).
#: An hour for the solid-state cell; the cathode's top and middle differ in EMF by only ~3e-4 in the twin
#: (module docstring), so their sheets count for 30 h (a 3-sigma ordering); the lithium map and each
#: calibration cell for 48 h, which brings x to ~0.01 per 2 x 2 mm block (forward.compton.plan: the EMF of
#: NMC811 moves by only ~0.05 per unit x, so lithium maps of a cathode need days of counting at this flux).
FLUX_PH_PER_S = 1e12
EXPOSURE_S = 3600.0
DEPTH_EXPOSURE_S = 30 * 3600.0
MAP_EXPOSURE_S = CALIBRATION_EXPOSURE_S = 48 * 3600.0
#: Thickness of the sheet beam, um (seeds/001: 25 mm x 0.25 mm).
SHEET_UM = 250.0
#: Radial lithium gradient of the mapping scenario (coin_cell parameters).
LATERAL_CONTRAST, EDGE_WIDTH_MM = 0.9, 4.0
#: Lithium contents of the uniformly lithiated calibration cells.
CALIBRATION_X = (0.1, 0.2, 0.3, 0.4)
#: Pixel binning of the lithium map (2 x 2 mm at the sheet).
MAP_BINNING = 8
#: A pixel belongs to a component when this fraction of its Compton photons comes from it.
MASK_FRACTION = 0.9
SOURCE_EMF = {"top": 0.65, "middle": 0.72, "anode": 1.7, "interphase": 1.1}


@dataclass(frozen=True, eq=False)
class Region:
    """A sheet position, its measurement, the component mask and the EMF measured and expected there."""

    name: str
    sheet_z_um: float
    measurement: Measurement
    mask: np.ndarray
    measured: EmfResult
    expected: EmfResult


def lib_twin(seed: int = 0, **changes) -> Twin:
    """The liquid-electrolyte NMC811 cell at 62.5 um voxels (the separator thickened to one voxel)."""
    return coin_cell(variant="lib", ndim=3, voxel_size_um=62.5, separator_thickness_um=62.5, seed=seed, **changes)


def ssb_twin(seed: int = 0) -> Twin:
    """The solid-state cell's central 5 mm at 25 um voxels (30 um SPE membrane, 65 um cathode)."""
    return coin_cell(variant="ssb", ndim=3, voxel_size_um=25.0, field_of_view_mm=5.0, seed=seed)


def pixel_truth(twin: Twin, sheet_z_um: float, labels: tuple[int, ...], camera: PinholeCamera,
                detector_shape: tuple[int, int] = (80, 80), pixel_um: float = 250.0
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: Compton photons from components ``labels``, from everything, and their x_li-weighted sum.

    Every illuminated voxel is imaged through the pinhole centre onto the pixel it falls in
    (:meth:`PinholeCamera.project`) with its expected Compton photons of eq. (1) as weight.
    """
    scatter = sheet_scatter(twin, sheet_z_um=sheet_z_um, flux_ph_per_s=FLUX_PH_PER_S, exposure_s=EXPOSURE_S,
                            camera=camera)
    rc = np.rint(camera.project(scatter.points_um, pixel_um, detector_shape)).astype(int)
    inside = (rc >= 0).all(axis=1) & (rc[:, 0] < detector_shape[0]) & (rc[:, 1] < detector_shape[1])
    pixel = rc[inside, 0] * detector_shape[1] + rc[inside, 1]
    s = twin.voxel_size_um
    nz, ny, nx = twin.shape
    centre = np.array([sheet_z_um, ny * s / 2, nx * s / 2])
    k, j, i = np.floor((scatter.points_um[inside] + centre) / s).astype(int).T
    weight = scatter.compton_counts[inside]
    own = np.isin(twin.labels[k, j, i], labels)
    field = np.nan_to_num(twin.fields["x_li"][k, j, i]) if "x_li" in twin.fields else np.zeros(k.size)
    n = detector_shape[0] * detector_shape[1]
    total = np.bincount(pixel, weight, n).reshape(detector_shape)
    part = np.bincount(pixel, weight * own, n).reshape(detector_shape)
    x_sum = np.bincount(pixel, weight * own * field, n).reshape(detector_shape)
    return part, total, x_sum


def measure_region(twin: Twin, name: str, sheet_z_um: float, labels: tuple[int, ...], seed: int,
                   camera: PinholeCamera, exposure_s: float = EXPOSURE_S) -> Region:
    """Simulate one sheet (Poisson and noise-free) and the EMF of the pixels that see components ``labels``."""
    # One simulation: the noise-free cube, then its Poisson draw (what simulate(noise=True) does with the seed).
    clean = simulate(twin, sheet_z_um=sheet_z_um, flux_ph_per_s=FLUX_PH_PER_S, exposure_s=exposure_s,
                     camera=camera, noise=False)
    noisy = dataclasses.replace(clean, counts=detector.counts(clean.counts, seed))
    part, total, _ = pixel_truth(twin, sheet_z_um, labels, camera)
    mask = (total > 0) & (part >= MASK_FRACTION * total)
    if not mask.any():
        raise ValueError(f"region {name!r}: no pixel sees components {labels} at sheet_z_um={sheet_z_um:g}")
    edges = noisy.energy_edges_kev
    return Region(name, sheet_z_um, noisy, mask, emf(sum_spectra(noisy.counts, mask), edges),
                  emf(sum_spectra(clean.counts, mask), edges))


def _region_checks(regions: dict[str, Region], low: str, high: str) -> list[Check]:
    lo, hi = regions[low], regions[high]
    out = []
    for r in (lo, hi):
        out.append(Check(
            f"emf_{r.name}", float(r.measured.emf), 3 * float(r.measured.sigma), truth=float(r.expected.emf),
            comparison="abs",
            why=f"EMF (eq. 3-5, linear background under the peak) of the summed spectra of the {r.name} "
                f"pixels against the noise-free EMF of the same region and instrument (the EMF is "
                f"instrument-dependent); 3 sigma of the reported counting uncertainty "
                f"(seeds/001 reports {SOURCE_EMF[r.name]} there)"))
    diff = float(hi.measured.emf - lo.measured.emf)
    sigma = float(np.hypot(hi.measured.sigma, lo.measured.sigma))
    out.append(Check(
        f"emf_{high}_minus_{low}", diff, 3 * sigma, truth=float(hi.expected.emf - lo.expected.emf),
        comparison="abs",
        why=f"EMF difference between the {high} and {low} regions against the noise-free difference, within "
            f"3 sigma"))
    out.append(Check(
        f"emf_{high}_above_{low}", float(diff <= 0), 0, comparison="max",
        why=f"ordering of seeds/001 ({high} {SOURCE_EMF[high]} > {low} {SOURCE_EMF[low]}): 1 if the measured "
            f"{high} EMF is not above the {low} EMF"))
    return out


def run(*, seed: int = 0, out_dir: str | Path | None = None) -> Report:
    """All Compton checks as one report. Cost: about 40-60 s on two cores (20 sheet simulations)."""
    seed = arguments.integer("seed", seed, minimum=0)
    camera = PinholeCamera()
    checks, timings = [], {}

    start = time.perf_counter()
    lib = lib_twin(seed)
    z0, z1 = (float(v) for v in lib.truth["cathode/z_range_um"])
    cathode = int(lib.truth["cathode/label"])
    regions = {"top": measure_region(lib, "top", z1 - SHEET_UM, (cathode,), seed, camera, DEPTH_EXPOSURE_S),
               "middle": measure_region(lib, "middle", 0.5 * (z0 + z1), (cathode,), seed + 1, camera,
                                        DEPTH_EXPOSURE_S)}
    spectrum = regions["middle"].measurement.spectrum()
    e = regions["middle"].measurement.energy_kev
    k = int(np.argmax(spectrum[(e > 80) & (e < 105)])) + int(np.flatnonzero(e > 80)[0])
    # Vertex of the parabola through the highest channel and its neighbours.
    y0, y1, y2 = spectrum[k - 1:k + 2].astype(float)
    peak = e[k] + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2) * (e[1] - e[0])
    checks.append(Check(
        "compton_peak_kev", peak, 0.2, truth=float(physics.compton_energy_kev(physics.INCIDENT_KEV, 90.0)),
        unit="keV", comparison="abs",
        why="maximum of the global spectrum (parabola through three 0.2 keV channels) against the Compton "
            "energy at 90 deg (seeds/001: 'the Compton scattering peak is at 94 keV'); 0.2 keV for the "
            "asymmetric Doppler broadening and the +-5.7 deg acceptance"))
    checks += _region_checks(regions, "top", "middle")
    timings["cathode_regions"] = time.perf_counter() - start

    start = time.perf_counter()
    ssb = ssb_twin(seed)
    a0, a1 = (float(v) for v in ssb.truth["anode/z_range_um"])
    anode = int(ssb.truth["anode/label"])
    membrane = int(ssb.truth["separator/label"])
    m0 = float(np.flatnonzero((ssb.labels == membrane).any(axis=(1, 2))).min() * ssb.voxel_size_um)
    # The interphase sheet starts at the membrane's cathode side: the whole SPE membrane and the first 220 um of
    # the anode (a sheet centred on the anode face would also take in the cathode below the 30 um membrane).
    ssb_regions = {"anode": measure_region(ssb, "anode", 0.5 * (a0 + a1), (anode,), seed + 2, camera),
                   "interphase": measure_region(ssb, "interphase", m0 + SHEET_UM / 2,
                                                (anode, membrane), seed + 3, camera)}
    checks += _region_checks(ssb_regions, "interphase", "anode")
    timings["solid_state"] = time.perf_counter() - start

    start = time.perf_counter()
    mapping = lithium_map(seed, camera)
    checks += mapping.checks()
    timings["lithium_map"] = time.perf_counter() - start

    artefacts = []
    if out_dir is not None:
        artefacts = _pictures(Path(out_dir), regions["middle"], mapping)
    return Report("compton", checks, seed=seed, timings_s=timings, artefacts=artefacts)


@dataclass(frozen=True, eq=False)
class LithiumMap:
    """Calibration (EMF of the reference cells in the central block), the recovered lithium map of the graded
    cell and its truth (binned pixels)."""

    calibration_x: np.ndarray
    calibration_emf: np.ndarray
    calibration_sigma: np.ndarray
    x: np.ndarray
    x_sigma: np.ndarray
    truth: np.ndarray
    mask: np.ndarray

    def checks(self) -> list[Check]:
        m = self.mask
        est, truth, sig = self.x[m], self.truth[m], self.x_sigma[m]
        pulls = (est - truth) / sig
        return [
            Check("li_map_correlation", 1.0 - float(np.corrcoef(est, truth)[0, 1]), 0.2, comparison="max",
                  why=f"1 - Pearson correlation of the calibrated per-block lithium content ({MAP_BINNING} x "
                      f"{MAP_BINNING} pixels, {int(m.sum())} blocks in the cathode) with the twin's x seen by "
                      f"each block; the radial gradient spans ~{np.ptp(truth):.2f} in x against a counting "
                      f"error of ~{np.median(sig):.3f} per block"),
            Check("li_map_rmse", float(np.sqrt(np.mean((est - truth) ** 2))), 2.0 * float(np.median(sig)),
                  comparison="max",
                  why="root-mean-square error of the lithium map; at most twice the median reported 1-sigma "
                      "uncertainty (counting noise of the map and of the calibration)"),
            Check("li_map_pull_sd", float(np.std(pulls)), 0.35, truth=1.0, comparison="abs",
                  why="standard deviation of (x - truth) / sigma over the blocks: ~1 when the reported "
                      "uncertainties are honest; 0.35 allows for blocks whose voxels mix the gradient"),
        ]


def lithium_map(seed: int, camera: PinholeCamera) -> LithiumMap:
    """(c): calibrate EMF -> x on uniformly lithiated cells, then map x in the graded cell's middle sheet."""
    graded = lib_twin(seed, lateral_contrast=LATERAL_CONTRAST, edge_width_mm=EDGE_WIDTH_MM)
    z0, z1 = (float(v) for v in graded.truth["cathode/z_range_um"])
    z = 0.5 * (z0 + z1)
    label = int(graded.truth["cathode/label"])
    part, total, x_sum = pixel_truth(graded, z, (label,), camera)
    mask = (total > 0) & (part >= MASK_FRACTION * total)
    inside = graded.labels == label

    def block_emf(m: Measurement) -> EmfResult:
        return emf_map(np.where(mask[..., None], m.counts, 0), m.energy_edges_kev, binning=MAP_BINNING)

    # One calibration line per block: the scattering angle, and with it the p_z scale, changes by +-3.6 deg
    # across the detector, which a single line would turn into a radial EMF pattern (a flat field, as the
    # source's PTFE disk).
    refs = [block_emf(simulate(graded.with_field("x_li", np.where(inside, np.float32(x), np.float32(np.nan))),
                               sheet_z_um=z, flux_ph_per_s=FLUX_PH_PER_S, exposure_s=CALIBRATION_EXPOSURE_S,
                               camera=camera, seed=seed + 10 + k)) for k, x in enumerate(CALIBRATION_X)]
    full = bin_pixels(mask.astype(float), MAP_BINNING) >= MAP_BINNING * MAP_BINNING   # blocks inside the cathode
    ref_emf, ref_sigma = np.array([r.emf[full] for r in refs]), np.array([r.sigma[full] for r in refs])
    calibration = fit_calibration(np.array(CALIBRATION_X), ref_emf, ref_sigma)

    measured = block_emf(simulate(graded, sheet_z_um=z, flux_ph_per_s=FLUX_PH_PER_S, exposure_s=MAP_EXPOSURE_S,
                                  camera=camera, seed=seed + 20))
    x, x_sigma = np.full(full.shape, np.nan), np.full(full.shape, np.nan)
    x[full], x_sigma[full] = calibration.predict_x(measured.emf[full], measured.sigma[full])
    truth = bin_pixels(x_sum, MAP_BINNING) / np.maximum(bin_pixels(part, MAP_BINNING), 1e-300)
    central = int(np.argmin(np.abs(np.flatnonzero(full) - full.size // 2)))
    return LithiumMap(np.array(CALIBRATION_X), ref_emf[:, central], ref_sigma[:, central], x, x_sigma, truth,
                      full & np.isfinite(x))


def _pictures(out: Path, region: Region, mapping: LithiumMap) -> list[str]:
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    m = region.measurement
    fig = Figure(figsize=(15, 4), layout="constrained")
    ax_spec, ax_cal, ax_x, ax_truth = fig.subplots(1, 4)
    ax_spec.semilogy(m.energy_kev, np.maximum(m.spectrum(), 0.5), lw=0.8)
    for energy, label in ((physics.compton_energy_kev(physics.INCIDENT_KEV, 90.0), "Compton"),
                          (physics.INCIDENT_KEV, "Rayleigh")):
        ax_spec.axvline(energy, color="0.6", ls=":")
        ax_spec.text(energy, m.spectrum().max(), label, rotation=90, va="top", ha="right", fontsize=8)
    ax_spec.set(xlabel="energy (keV)", ylabel="counts per 0.2 keV", title="global spectrum, cathode middle",
                xlim=(20, 130))
    ax_cal.errorbar(mapping.calibration_x, mapping.calibration_emf, mapping.calibration_sigma, fmt="o")
    ax_cal.set(xlabel="x in Li_x NMC811", ylabel="EMF", title="calibration cells (central block)")
    for ax, (title, image) in zip((ax_x, ax_truth), (("x from EMF (8 x 8 binned)", mapping.x),
                                                    ("x of the twin", mapping.truth))):
        shown = ax.imshow(np.where(mapping.mask, image, np.nan), cmap="viridis",
                          vmin=np.nanmin(mapping.truth[mapping.mask]), vmax=np.nanmax(mapping.truth[mapping.mask]))
        ax.set(title=title, xlabel="block", ylabel="block")
    fig.colorbar(shown, ax=[ax_x, ax_truth], label="x", fraction=0.03)
    with files.atomic_path(out / "compton_emf.png", overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return ["compton_emf.png"]
