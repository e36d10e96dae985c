"""The operando scanning-SWAXS experiment of seeds/000 (section 3), simulated on the capillary twin and analysed.

The capillary cell (twin.generators.capillary; 20 um voxels to keep the
run short) is rastered at its pristine state and at op 1-5 (25-65 min at
0.8C, seeds/000 section 3) with the beam, steps, exposure and detectors of
seeds/000 Methods (forward.saxs.scan.operando). The analysis then sees only
the scans:

- masks (inverse.saxs.maps.masks): steel where the diode reads below 0.1,
  electrode from the scattering at 0.12-0.3 1/A (seeds/000, Methods);
- the cell background: the mean curve of the electrolyte-only pixels above
  the electrode (seeds/000, Methods: "background subtraction was made using
  the scattering intensity in an area of the cell above the electrode
  containing only electrolyte");
- (a) the electrode-mean WAXS curve of every scan fitted with eq. 4
  (inverse.saxs.fit, 1.0-2.4 1/A: 002, binder at 1.45, metallic and
  pseudo-metallic Na, linear background) plus the cell background with a
  scale chosen by least chi^2 on a grid (the electrode displaces part of
  the electrolyte, so the full background over-subtracts); the 002 width is
  held at that of the pristine stack height (forward.saxs.model
  STACK_HEIGHT_A, what an ex situ measurement of the dry electrode gives),
  because a free width trades off against the electrolyte's and the
  quartz's broad peaks at the same q (seeds/000 SI: "the strong background
  of electrolyte [...] overlaps with the 002-peak"). q002 -> d002 by Bragg;
- every electrode pixel's SAXS curve, pristine and op 5, fitted with eq. 1-3
  (inverse.saxs.fit, ``SCANNING_SAXS_*``): convergence, reduced chi^2, the
  micropore radius, and the pore filling from the micropore-scale ratio;
- (b) eq. 5 on the electrode-mean micropore intensity (0.12-0.4 1/A, cell
  background subtracted) and its inversion to a pore filling
  (inverse.saxs.maps.pore_filling_from_micropore_change);
- (c) the metallic Na peak at 2.07 1/A per pixel and the first scan and
  height at which it rises (inverse.saxs.maps.plating_onset).

Truth: the twin's fields at each state (mean of 2 pi / d002 and of the pore
filling over the electrode voxels; plated Na fraction; the pin's top face).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forward.saxs.model import STACK_HEIGHT_A, peak_sigma_for_size
from forward.saxs.scan import ScanResult, ScanningSWAXS, operando
from inverse.saxs import maps
from inverse.saxs.fit import (SCANNING_SAXS_FREE, SCANNING_SAXS_Q_RANGE_INV_A, SCANNING_SAXS_START, CurveFit,
                              fit_curves)
from twin.container import Twin
from twin.generators.capillary import D002_TABLE_A, OP_TIMES_MIN, capillary_cell, sodiation_state
from validation.report import Check
from xtwin import files

#: Voxel edge of the validation twin, um (the default 10 um twin rasters 8x slower for the same checks).
VOXEL_UM = 20.0
#: Scan times, min: pristine, then op 1-5 (seeds/000, section 3).
TIMES_MIN = (0.0,) + tuple(OP_TIMES_MIN)
#: q-regions, 1/A (seeds/000, section 3 and Methods).
MICROPORE_Q = (0.12, 0.4)
ELECTRODE_Q = (0.12, 0.3)
WAXS_FIT_Q = (1.0, 2.4)
#: Parameters fitted to the WAXS curves (the 002 width held, see the module docstring).
WAXS_FREE = ("g002_amplitude_per_cm", "q002_inv_A", "pvdf_amplitude_per_cm", "na_metal_amplitude_per_cm",
             "na_pseudo_amplitude_per_cm", "background_per_cm", "background_slope_per_cm_A")
#: Scales of the cell background tried in the WAXS fit.
BACKGROUND_SCALES = np.linspace(0.0, 1.2, 25)
#: Rows of electrolyte above the electrode's top row used as the background region, and its half width, um.
BACKGROUND_ROWS = (3, 10)
BACKGROUND_HALF_WIDTH_UM = 300.0
#: The source's mean micropore-intensity decrease at op 5 (seeds/000, section 3: "a decrease of ~35%").
SOURCE_MICROPORE_DECREASE = 0.35


@dataclass(frozen=True, eq=False)
class OperandoRun:
    """The scans, what was recovered from them, and the truth."""

    twin: Twin
    scans: list[ScanResult]
    electrode: np.ndarray
    steel: np.ndarray
    background: np.ndarray
    waxs: CurveFit
    background_scale: np.ndarray
    saxs: tuple[CurveFit, CurveFit]
    micropore_change: np.ndarray
    pore_filling: np.ndarray
    plating: maps.PlatingOnset
    collector_z_um: float
    truth_q002_inv_A: np.ndarray
    truth_pore_filling: np.ndarray
    truth_plated: np.ndarray
    truth_plated_top_um: np.ndarray
    truth_micropore_radius_A: float


def scenario(seed: int = 0) -> Twin:
    """The pristine capillary cell of seeds/000 at :data:`VOXEL_UM`."""
    return capillary_cell(voxel_size_um=VOXEL_UM, seed=seed)


def compute(twin: Twin, seed: int = 0) -> OperandoRun:
    """Simulate the operando series on ``twin`` and analyse it (module docstring). Cost: about 10-15 s."""
    scans = operando(twin, times_min=TIMES_MIN, settings=ScanningSWAXS(), seed=seed)
    pristine = scans[0]
    m = maps.masks(pristine.transmission, maps.region_mean(pristine.curves, *ELECTRODE_Q))
    electrode, steel = m.electrode, m.steel
    top = np.flatnonzero(electrode.any(axis=1)).max()
    background = np.zeros_like(electrode)
    rows = slice(top + BACKGROUND_ROWS[0], top + BACKGROUND_ROWS[1])
    background[rows, np.abs(pristine.x_um) < BACKGROUND_HALF_WIDTH_UM] = True
    background &= ~steel

    q = pristine.q_inv_A
    mean = np.array([s.curves.intensity_per_cm[electrode].mean(axis=0) for s in scans])
    sigma = np.array([np.sqrt((s.curves.sigma_per_cm[electrode] ** 2).sum(axis=0)) / electrode.sum() for s in scans])
    cell = np.array([s.curves.intensity_per_cm[background].mean(axis=0) for s in scans])

    # (a) WAXS: every scan x every background scale in one batch; keep the scale of least chi^2 per scan.
    w = (q > WAXS_FIT_Q[0]) & (q < WAXS_FIT_Q[1])
    n, k = len(scans), BACKGROUND_SCALES.size
    data = mean[:, None, w] - BACKGROUND_SCALES[None, :, None] * cell[:, None, w]
    errors = np.broadcast_to(sigma[:, None, w], data.shape)
    fit = fit_curves((q[w], data.reshape(n * k, -1), errors.reshape(n * k, -1)), model="waxs", free=WAXS_FREE,
                     start={"g002_sigma_inv_A": float(peak_sigma_for_size(STACK_HEIGHT_A))})
    best = fit.chi2.reshape(n, k).argmin(axis=1)
    rows = np.arange(n) * k + best
    waxs = dataclasses.replace(fit, values=fit.values[rows], uncertainties=fit.uncertainties[rows],
                               covariance=fit.covariance[rows], chi2=fit.chi2[rows], converged=fit.converged[rows],
                               iterations=fit.iterations[rows], batch_shape=(n,))

    # Every electrode pixel's SAXS curve, pristine and op 5, fitted at once (eq. 1-3).
    saxs = tuple(fit_curves(s.curves[electrode], model="saxs", free=SCANNING_SAXS_FREE, start=SCANNING_SAXS_START,
                            q_range_inv_A=SCANNING_SAXS_Q_RANGE_INV_A) for s in (scans[0], scans[-1]))

    # (b) micropores: eq. 5 on the background-subtracted electrode means.
    micro = np.array([maps.region_mean((q, c), *MICROPORE_Q) for c in mean - cell])
    change = micro / micro[0] - 1.0
    filling = maps.pore_filling_from_micropore_change(1.0 + change)

    # (c) plating: the sharp Na 110 peak per pixel, against the pristine scan's noise.
    peaks = np.array([maps.peak_height_map(s.curves) for s in scans])
    collector = maps.collector_height_um(steel, pristine.z_um)
    plating = maps.plating_onset(peaks, pristine.z_um, collector_z_um=collector, mask=electrode)

    truth_q, truth_fill, truth_plated, truth_top = [], [], [], []
    z_voxel = (np.arange(twin.shape[0]) + 0.5) * twin.voxel_size_um
    label = int(twin.truth["electrode/label"])
    for time_min in TIMES_MIN:
        state = sodiation_state(twin, time_min=time_min)
        inside = state.labels == label
        truth_q.append(float(np.mean(2 * np.pi / state.fields["d002_A"][inside])))
        truth_fill.append(float(np.mean(state.fields["pore_filling"][inside])))
        plated = np.nan_to_num(state.fields["plated_na_fraction"]) > 0
        truth_plated.append(float(np.mean(state.fields["plated_na_fraction"][inside])))
        truth_top.append(float(z_voxel[plated.any(axis=tuple(range(1, plated.ndim)))].max() + twin.voxel_size_um / 2
                               - float(twin.truth["pin/top_z_um"])) if plated.any() else np.nan)
    radius = float(np.mean(twin.fields["micropore_radius_A"][twin.labels == label]))
    return OperandoRun(twin, scans, electrode, steel, background, waxs, BACKGROUND_SCALES[best], saxs, change,
                       filling, plating, collector, np.array(truth_q), np.array(truth_fill), np.array(truth_plated),
                       np.array(truth_top), radius)


def checks(run: OperandoRun) -> list[Check]:
    """(a) 002 position and spacing, (b) micropore change and pore filling, (c) plating onset, as checks."""
    out = []
    q002 = run.waxs["q002_inv_A"]
    for k, label in enumerate(["pristine"] + [f"op{j}" for j in range(1, len(TIMES_MIN))]):
        out.append(Check(
            f"waxs_q002_{label}", q002[k], 0.02, truth=run.truth_q002_inv_A[k], unit="1/A", comparison="abs",
            why="002 position fitted (eq. 4) to the electrode-mean WAXS curve against the mean 2 pi / d002 of the "
                "electrode voxels; 0.02 1/A allows for the electrolyte and quartz peaks at the same q, whose "
                "subtraction the source calls the limit of its absolute values (SI, Table S2 caption); measured "
                "errors 0.001-0.015 1/A"))
    shift, truth_shift = q002[1] - q002[-1], run.truth_q002_inv_A[1] - run.truth_q002_inv_A[-1]
    out.append(Check("waxs_q002_shift_op1_op5", shift, 0.025, truth=truth_shift, unit="1/A", comparison="abs",
                     why="decrease of q002 from op 1 to op 5 (intercalation widening the interlayer spacing; "
                         "seeds/000 Table S2: 1.55 -> 1.47 1/A); the background trade-off compresses it by "
                         "about a quarter (measured 0.055 against 0.072 1/A)"))
    out.append(Check("waxs_q002_increases_op1_op5", float(np.sum(np.diff(q002[1:]) > 0)), 0, comparison="max",
                     why="q002 must fall monotonically over op 1-5 as in Table S2 (count of increases = 0)"))
    d = run.waxs.d002_A
    for j, published in enumerate(D002_TABLE_A, start=1):
        out.append(Check(f"waxs_d002_op{j}_vs_table_s2", d[j], 0.1, truth=published, unit="A", comparison="abs",
                         why="interlayer spacing 2 pi / q002 (Bragg) against seeds/000 Table S2 (the twin's "
                             "sodiation path passes through these values at op 1-5); 0.1 A is the q002 "
                             "tolerance above carried to d (2 pi / 1.5^2 x 0.02 = 0.056 A) plus the spread "
                             "of d002 across the electrode, which the mean of 2 pi / d does not carry"))
    pristine, op5 = run.saxs
    ok = pristine.converged & op5.converged
    out.append(Check("saxs_pixel_fits_not_converged", 1.0 - float(ok.mean()), 0.05, comparison="max",
                     why="fraction of electrode pixels whose eq. 1-3 fit (pristine or op 5) did not converge "
                         "(inverse.saxs.fit, SCANNING_SAXS_* settings); measured 0.005"))
    out.append(Check("saxs_pixel_fits_chi2_reduced", float(np.median(op5.chi2_reduced[ok])), 0.3, truth=1.0,
                     comparison="abs",
                     why="median reduced chi^2 of the op 5 pixel fits: ~1 when the model holds every term of the "
                         "curves and the Poisson sigmas are right; 0.3 for the spread of 120 degrees of freedom"))
    out.append(Check("saxs_micropore_radius_A", float(np.median(pristine["micropore_radius_A"][ok])), 0.3,
                     truth=run.truth_micropore_radius_A, unit="A", comparison="abs",
                     why="median fitted micropore radius of the pristine pixels against the mean radius of the "
                         "twin's micropores; 0.3 A for the 2 % spatial variation of the radius summed along each "
                         "beam path"))
    ratio = op5["micropore_scale_per_cm"][ok] / pristine["micropore_scale_per_cm"][ok]
    out.append(Check("saxs_pixel_pore_filling_op5", float(np.mean(maps.pore_filling_from_micropore_change(ratio))),
                     0.05, truth=run.truth_pore_filling[-1], comparison="abs",
                     why="mean pore filling from the per-pixel micropore scale ratio op 5 / pristine against the "
                         "twin's; the inversion takes the matrix as pristine, and intercalated Na (op 5: 0.8 of "
                         "its full amount) makes it denser, which biases the filling low by about 0.04"))
    out.append(Check("micropore_decrease_op5", -run.micropore_change[-1], 0.05, truth=SOURCE_MICROPORE_DECREASE,
                     comparison="abs",
                     why="mean decrease of the electrode's micropore-region intensity (0.12-0.4 1/A, eq. 5, "
                         "cell background subtracted) at op 5 against the ~35 % of seeds/000 section 3; "
                         "0.05 because the source rounds it and the twin's pore filling is calibrated to it "
                         "only through the contrast model"))
    for k in range(1, len(TIMES_MIN)):
        out.append(Check(f"pore_filling_op{k}", run.pore_filling[k], 0.03, truth=run.truth_pore_filling[k],
                         comparison="abs",
                         why="mean micropore filling inverted from the micropore-intensity ratio (I ~ "
                             "(rho_matrix - f rho_Na)^2) against the mean of the twin's pore_filling over the "
                             "electrode; 0.03 covers the intercalation contrast the inversion ignores and the "
                             "Porod tail in the region (measured errors 0.006-0.013)"))
    first_plated = int(np.flatnonzero(run.truth_plated > 0)[0])
    onset = -1 if run.plating.scan_index is None else run.plating.scan_index
    out.append(Check("plating_onset_scan", onset, 0, truth=first_plated, comparison="abs",
                     why="first scan whose electrode pixels show the metallic Na peak at 2.07 1/A (5 robust "
                         "sigma of the pristine scan, at least 3 pixels) must be the first state in which the "
                         "twin holds plated Na (seeds/000: plating after about 50 min)"))
    step = float(ScanningSWAXS().step_um[1])
    out.append(Check("plating_lowest_height_um", run.plating.lowest_height_um, step, comparison="max", unit="um",
                     why="the lowest pixel with plated Na at onset must lie within one vertical step (15 um) "
                         "of the current collector found from the diode: plating starts at the "
                         "electrode/collector interface (seeds/000, section 3)"))
    top = run.truth_plated_top_um[first_plated]
    out.append(Check("plating_onset_height_um", run.plating.height_um, 2 * step, truth=top / 2, unit="um",
                     comparison="abs",
                     why="median height above the collector of the pixels with plated Na at onset against half "
                         "the height of the twin's plating front then (a front rising from the collector fills "
                         "the band below it); two vertical steps for the 15 um raster and beam"))
    return out


def artefacts(run: OperandoRun, out_dir: Path) -> list[str]:
    """Electrode-mean curves of every scan, and the eq. 5 micropore difference maps and Na peak map (PNGs)."""
    from matplotlib.figure import Figure

    out_dir.mkdir(parents=True, exist_ok=True)
    q = run.scans[0].q_inv_A
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    saxs_ax, waxs_ax = fig.subplots(1, 2)
    colours = [f"C{k}" for k in range(len(run.scans))]
    for k, (scan, c) in enumerate(zip(run.scans, colours)):
        curve = scan.curves.intensity_per_cm[run.electrode].mean(axis=0)
        label = "pristine" if k == 0 else f"op {k} ({TIMES_MIN[k]:g} min)"
        saxs_ax.loglog(q[q < 0.6], curve[q < 0.6], color=c, label=label)
        waxs_ax.plot(q[q > 0.6], curve[q > 0.6], color=c)
    saxs_ax.axvspan(*MICROPORE_Q, color="0.9")
    saxs_ax.set(xlabel="q (1/A)", ylabel="I (1/cm)", title="SAXS, electrode mean (grey: micropore region)")
    saxs_ax.legend(fontsize=8)
    for q_mark in (1.45, 2.07):
        waxs_ax.axvline(q_mark, color="0.6", lw=0.8, ls=":")
    waxs_ax.set(xlabel="q (1/A)", ylabel="I (1/cm)", title="WAXS: 002, PVDF 1.45, Na 2.07 1/A")
    with files.atomic_path(out_dir / "saxs_operando_curves.png", overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")

    scans = run.scans
    micro = np.array([maps.region_mean(s.curves, *MICROPORE_Q) for s in scans])
    diff = maps.difference_map(micro[1:], micro[0], mask=run.electrode)
    peak = np.where(run.electrode, maps.peak_height_map(scans[-1].curves), np.nan)
    extent = [scans[0].x_um[0], scans[0].x_um[-1], scans[0].z_um[0], scans[0].z_um[-1]]
    fig = Figure(figsize=(3.0 * (len(scans)), 3.2), layout="constrained")
    axes = fig.subplots(1, len(scans))
    for k, ax in enumerate(axes[:-1]):
        shown = ax.imshow(diff[k], origin="lower", extent=extent, cmap="RdBu_r", vmin=-0.6, vmax=0.6, aspect="auto")
        ax.set(title=f"eq. 5, op {k + 1}", xlabel="x (um)")
    axes[0].set_ylabel("z (um)")
    fig.colorbar(shown, ax=list(axes[:-1]), label="micropore intensity change", fraction=0.02)
    shown = axes[-1].imshow(peak, origin="lower", extent=extent, cmap="viridis", aspect="auto")
    axes[-1].set(title="Na 2.07 1/A peak, op 5", xlabel="x (um)")
    fig.colorbar(shown, ax=axes[-1], label="1/cm", fraction=0.05)
    with files.atomic_path(out_dir / "saxs_difference_maps.png", overwrite=True) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    return ["saxs_operando_curves.png", "saxs_difference_maps.png"]
