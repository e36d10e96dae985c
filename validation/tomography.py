"""Validation of absorption tomography: the lab nano-CT of NMC622 powder of seeds/002, end to end.

twin (``powder_monolayer``, NMC622, 512 nm voxels, 64 um field of view, 55 %
voided particles) -> :func:`forward.tomography.simulate` (5.4 keV, 141
projections over 180 deg, 1 s each, Poisson and read noise, an unknown
rotation-centre offset and per-projection jitter) -> flat/dark correction,
jitter alignment, centre finding, filtered back-projection -> tri-phase
segmentation and watershed -> Table-1 particle metrics, compared with the
same metrics computed on the twin's true particle labels (seeds/002,
Experimental Section and Table 1). Inverse steps see only the
:class:`~forward.tomography.measurement.Projections`, never the twin.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from forward.instrument import Beam, Detector, Scan
from forward.tomography.simulate import simulate
from inverse.tomography.metrics import particle_metrics, summarise, void_metrics
from inverse.tomography.preprocess import align_jitter, find_centre, normalise
from inverse.tomography.reconstruct import fbp
from inverse.tomography.segment import INTERNAL_VOID, otsu, segment_particles, tri_phase
from twin.generators import powder_monolayer
from validation.report import Check, Report
from xtwin import arguments, files

#: The scan of seeds/002 (Methods, "Preparation" and "X-Ray Imaging").
ENERGY_KEV, N_PROJECTIONS, EXPOSURE_S = 5.4, 141, 1.0
#: Open-beam photons per 512 nm pixel and projection: gives the particle SNR of about 10 that seeds/002 reports.
OPEN_BEAM_COUNTS = 3000.0
READ_NOISE_E = 5.0
#: Unknown to the inverse side; recovered by find_centre and align_jitter.
CENTRE_OFFSET_PX, JITTER_PX = 1.7, 0.3
#: Particles at least this many voxels across enter the volume comparison (issue 5, acceptance).
MIN_DIAMETER_VOXELS = 10


def scenario(seed: int = 0):
    """The twin, beam, detector and scan of the seeds/002 powder scan."""
    twin = powder_monolayer(material="NMC622", seed=seed)
    nz, ny, nx = twin.shape
    pixel = twin.voxel_size_um
    columns = int(np.ceil(np.hypot(ny, nx))) + 4
    area = (columns * pixel, nz * pixel)
    flux = OPEN_BEAM_COUNTS * area[0] * area[1] / (pixel * pixel * EXPOSURE_S)
    beam = Beam(energy_kev=ENERGY_KEV, flux_ph_per_s=flux, size_um=area)
    detector = Detector(shape=(nz, columns), pixel_size_um=pixel, read_noise_e=READ_NOISE_E)
    scan = Scan.tomography(N_PROJECTIONS, EXPOSURE_S, n_flats=10, n_darks=10)
    return twin, beam, detector, scan


def run(*, seed: int = 0, out_dir: str | Path | None = None) -> Report:
    """Simulate, reconstruct, segment and measure the seeds/002 scan; compare with the twin's truth.

    Cost: about 10 s on two cores (simulation and FBP of 141 x 73 x 178
    projections of a 73 x 125 x 125 twin, segmentation and metrics).
    """
    seed = arguments.integer("seed", seed, minimum=0)
    timings = {}
    start = time.perf_counter()
    twin, beam, detector, scan = scenario(seed)
    measured = simulate(twin, beam, detector, scan, centre_offset_px=CENTRE_OFFSET_PX, jitter_px=JITTER_PX,
                        seed=seed)
    timings["simulate"] = time.perf_counter() - start

    start = time.perf_counter()
    line, _ = normalise(measured.counts, measured.flats, measured.darks)
    shifts, line = align_jitter(line, measured.angles_deg)
    centre = find_centre(line, measured.angles_deg)
    rec = fbp(line, measured.angles_deg, measured.pixel_size_um, filter="shepp-logan", centre_offset_px=centre,
              output_shape=twin.shape)
    volume = rec.volume_per_cm
    labels = segment_particles(volume, rec.voxel_size_um)
    voids = tri_phase(volume > otsu(volume)) == INTERNAL_VOID
    recovered = particle_metrics(labels, rec.voxel_size_um, voids=voids)
    recovered_voids = void_metrics(labels, voids, rec.voxel_size_um)
    timings["invert"] = time.perf_counter() - start

    start = time.perf_counter()
    true_labels = np.where(twin.fields["particle_id"] >= 0, twin.fields["particle_id"] + 1, 0)
    true_voids = twin.labels == twin.label_of("void (internal)")
    truth = particle_metrics(true_labels, twin.voxel_size_um, voids=true_voids)
    truth_voids = void_metrics(true_labels, true_voids, twin.voxel_size_um)
    summary, truth_summary = summarise(recovered, recovered_voids), summarise(truth, truth_voids)
    checks = _checks(twin, measured, shifts, centre, volume, labels, true_labels, voids, true_voids,
                     recovered, truth, summary, truth_summary)
    timings["compare"] = time.perf_counter() - start

    artefacts = []
    if out_dir is not None:
        artefacts = _artefacts(Path(out_dir), twin, volume, labels, voids, summary, truth_summary)
    return Report("tomo", checks, seed=seed, timings_s=timings, artefacts=artefacts)


def _matching(true_labels: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """For each true particle 1..n, the recovered label sharing most voxels with it (0 if none)."""
    n_true, n_rec = int(true_labels.max()), int(labels.max())
    pairs = np.bincount(true_labels.ravel().astype(np.int64) * (n_rec + 1) + labels.ravel(),
                        minlength=(n_true + 1) * (n_rec + 1)).reshape(n_true + 1, n_rec + 1)
    pairs[:, 0] = 0
    best = pairs.argmax(axis=1)
    best[pairs.max(axis=1) == 0] = 0
    return best[1:]


def _void_matches(true_voids: np.ndarray, voids: np.ndarray) -> tuple[int, int, int, int]:
    """(true voids found, true voids, found voids that are real, found voids), by voxel overlap."""
    structure = np.ones((3, 3, 3), bool)
    t_lab, n_t = ndimage.label(true_voids, structure)
    r_lab, n_r = ndimage.label(voids, structure)
    found = np.unique(t_lab[(t_lab > 0) & voids])
    real = np.unique(r_lab[(r_lab > 0) & true_voids])
    return len(found), n_t, len(real), n_r


def _checks(twin, measured, shifts, centre, volume, labels, true_labels, voids, true_voids, recovered, truth,
            summary, truth_summary) -> list[Check]:
    mu_true = float(twin.phases[twin.label_of("NMC622")].linear_attenuation_per_cm(ENERGY_KEV))
    solid = (twin.labels == twin.label_of("NMC622"))
    # Erode the solid by two voxels so that the interior mean is free of edge blur.
    interior = ndimage.binary_erosion(solid, iterations=2)
    jitter_true = np.asarray(measured.metadata["simulation"]["jitter_px"])
    jitter_error = float(np.sqrt(np.mean((shifts - (jitter_true - jitter_true.mean())) ** 2)))

    match = _matching(true_labels, labels)
    big = truth.equivalent_diameter_um >= MIN_DIAMETER_VOXELS * twin.voxel_size_um
    order_true = np.argsort(truth.label)
    order_rec = {int(label): i for i, label in enumerate(recovered.label)}
    rec_rows = np.array([order_rec.get(int(m), -1) for m in match])
    ok = big[order_true] & (rec_rows >= 0)
    vol_true = truth.volume_um3[order_true][ok]
    vol_rec = recovered.volume_um3[rec_rows[ok]]
    sph_true = truth.sphericity[order_true][ok]
    sph_rec = recovered.sphericity[rec_rows[ok]]
    found, n_true_voids, real, n_found = _void_matches(true_voids, voids)
    return [
        Check("attenuation_nmc622_interior_rel_error", float(np.mean(volume[interior])), 0.05, truth=mu_true,
              unit="1/cm", why="mean FBP value inside the NMC622 particles (2 voxels from any edge) vs xraylib mu at "
                               "5.4 keV; 5 % allows the noise average and the Shepp-Logan filter's bias"),
        Check("centre_offset_px", centre, 0.25, truth=CENTRE_OFFSET_PX, unit="px", comparison="abs",
              why="rotation-centre offset found from the projections vs the one simulated; a quarter pixel keeps "
                  "FBP arcs below the noise"),
        Check("jitter_rms_error_px", jitter_error, 0.15, unit="px", comparison="max",
              why="rms error of the per-projection shifts found by the centre-of-mass sinusoid (up to a common "
                  "offset) vs the simulated jitter of 0.3 px rms"),
        Check("particle_count", int(labels.max()), 0, truth=int(true_labels.max()), comparison="abs",
              why="every particle found, none split or merged (watershed with 1 um h-maxima)"),
        Check("particle_volume_rel_error_median", float(np.median(np.abs(vol_rec / vol_true - 1))), 0.05,
              comparison="max",
              why=f"median |V_rec / V_true - 1| over the {int(ok.sum())} particles >= {MIN_DIAMETER_VOXELS} voxels "
                  f"across (issue 5 acceptance: within 5 %)"),
        Check("particle_volume_rel_error_max", float(np.max(np.abs(vol_rec / vol_true - 1))), 0.10,
              comparison="max", why="worst particle >= 10 voxels across; 10 % bounds a one-voxel shell of a "
                                    "5 um particle"),
        Check("sphericity_abs_error_median", float(np.median(np.abs(sph_rec - sph_true))), 0.05, comparison="max",
              why="median |sphericity_rec - sphericity_true| by the same marching-cubes function on both label "
                  "sets; 0.05 is a tenth of the spread of Table 1"),
        Check("void_recall", found / max(n_true_voids, 1), 0.25, truth=1.0, comparison="abs",
              why=f"{found} of {n_true_voids} true internal voids overlap a found void; voids of ~2 um are 4 voxels "
                  f"across and blur fills the smallest"),
        Check("void_precision", real / max(n_found, 1), 0.2, truth=1.0, comparison="abs",
              why=f"{real} of {n_found} found voids overlap a true void; noise can enclose single dark voxels"),
        Check("void_frequency_percent", summary.void_frequency_percent, 15.0,
              truth=truth_summary.void_frequency_percent, unit="%", comparison="abs",
              why="voided particles per 100 (Table 1: 55 for NMC622); 15 points allow one or two small voids lost "
                  "in ~14 particles"),
        Check("dead_volume_percent", summary.dead_volume_percent, 1.5, truth=truth_summary.dead_volume_percent,
              unit="%", comparison="abs",
              why="mean dead volume of voided particles (Table 1: 3.8 %); blur shrinks 4-voxel voids by about a "
                  "fifth, so 1.5 points"),
    ]


def _artefacts(out: Path, twin, volume, labels, voids, summary, truth_summary) -> list[str]:
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    z = int(np.argmax(np.count_nonzero(voids, axis=(1, 2)))) if voids.any() else twin.shape[0] // 2
    extent = (0, twin.shape[2] * twin.voxel_size_um, 0, twin.shape[1] * twin.voxel_size_um)
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    shown = axes[0].imshow(volume[z], origin="lower", extent=extent, cmap="gray")
    fig.colorbar(shown, ax=axes[0], label="mu (1/cm)")
    axes[0].set_title(f"FBP slice z = {z * twin.voxel_size_um:.1f} um")
    axes[1].imshow(twin.labels[z], origin="lower", extent=extent, cmap="tab10", vmin=0, vmax=9,
                   interpolation="nearest")
    axes[1].set_title("twin truth (phases)")
    axes[2].imshow(volume[z], origin="lower", extent=extent, cmap="gray")
    overlay = np.ma.masked_equal(np.where(voids[z], -1, np.where(labels[z] > 0, labels[z] % 20 + 1, 0)), 0)
    axes[2].imshow(overlay, origin="lower", extent=extent, cmap="tab20", alpha=0.45, interpolation="nearest")
    axes[2].contour(voids[z], levels=[0.5], colors="red", linewidths=0.8, extent=extent)
    axes[2].set_title("segmentation (voids outlined red)")
    for ax in axes:
        ax.set(xlabel="x (um)", ylabel="y (um)")
    with files.atomic_path(out / "tomo_slice.png", overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    rows = ["quantity,recovered,truth"]
    flat_rec, flat_true = _flatten(summary.as_dict()), _flatten(truth_summary.as_dict())
    rows += [f"{key},{_fmt(value)},{_fmt(flat_true.get(key))}" for key, value in flat_rec.items()]
    files.write_text(out / "tomo_table1.csv", "\n".join(rows) + "\n", overwrite=True)
    text = f"Recovered from the simulated scan\n{summary.to_text()}\n\nTwin truth\n{truth_summary.to_text()}\n"
    files.write_text(out / "tomo_table1.txt", text, overwrite=True)
    return ["tomo_slice.png", "tomo_table1.csv", "tomo_table1.txt"]


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _fmt(value) -> str:
    return "" if value is None else f"{value:.6g}" if isinstance(value, (int, float)) else str(value)
