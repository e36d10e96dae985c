"""The in situ biasing lamella of seeds/003 (section 4.5, Figure 4.15): isotropic, reduced and full systems.

A generated Na-beta''-alumina lamella (4 um x 5 um window of ~1 um grains,
170 nm thick, section 4.2.1; ZrO2 and voids blocking) between the Au/Pt
electrode on its top edge (0 V) and the Cu-grid contact on its left edge
(+15 V, the biasing voltage of section 4.3), with a 1 um frame along the
bottom and right edges. Four computations on the same twin:

- isotropic electrolyte (``sigma_ip`` everywhere, no grain boundaries),
  Figure 4.15a: "a significant gradient in the y-direction";
- reduced system (frame blocking), Figure 4.15c;
- full system (frame isotropic at ``sigma_ip / 250``), Figure 4.15d;
- reduced system without grain-boundary resistance.

Checked: current conservation; the y-gradient of the isotropic case; that
anisotropy makes the current density differ between neighbouring grains
("distinctively different among grains", section 4.5) far more than
geometry alone; and Rayleigh's monotonicity law (adding conductance, the
frame, or removing resistance, the boundaries, can only raise the total
current), which holds exactly for any resistor network. Reported: the
boundaries with the largest potential drops (CSV) and the current maps.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from forward.conduction import Conductivity, conductivity_field, solve, twin_electrodes
from forward.conduction.boundaries import BoundaryTable, boundary_table
from forward.conduction.network import NetworkSolution
from twin.container import Twin
from twin.generators import KINDS
from twin.generators.polycrystal import BACKBONE, ELECTROLYTE
from twin.orientations import c_axes
from validation.report import Check
from xtwin import files

#: Window 4 um x 5 um plus a 1 um frame; 50 nm voxels; 170 nm thick (seeds/003, section 4.2.1).
FIELD_OF_VIEW_UM, FRAME_UM, VOXEL_UM, THICKNESS_UM = (5.0, 6.0), 1.0, 0.05, 0.17
#: Bias on the Cu grid, V (seeds/003, section 4.3: "the positive biasing voltage (i.e. 15 V)").
BIAS_V = 15.0
SYSTEMS = ("isotropic", "reduced", "full", "reduced_no_gb")


@dataclass(frozen=True, eq=False)
class LamellaRun:
    """The twin and, per system, its field, solution and boundary table."""

    twin: Twin
    solutions: dict[str, NetworkSolution]
    boundaries: dict[str, BoundaryTable]


def scenario(seed: int = 0) -> Twin:
    """The generated lamella (window, frame, electrodes) of seeds/003."""
    return KINDS["polycrystal"](ndim=2, field_of_view_um=FIELD_OF_VIEW_UM, voxel_size_um=VOXEL_UM, lamella=True,
                                frame_width_um=FRAME_UM, seed=seed)


def compute(twin: Twin) -> LamellaRun:
    """Solve the four systems of the module docstring on ``twin``."""
    parameters = {"isotropic": Conductivity(anisotropy=1.0, gb_ratio=np.inf),
                  "reduced": Conductivity(), "full": Conductivity(backbone_phases=(BACKBONE,)),
                  "reduced_no_gb": Conductivity(gb_ratio=np.inf)}
    electrodes = twin_electrodes(twin, BIAS_V)
    axes = c_axes(twin.orientations)
    solutions, tables = {}, {}
    for name in SYSTEMS:
        field = conductivity_field(twin, parameters[name], thickness_um=THICKNESS_UM)
        solutions[name] = solve(field, electrodes)
        tables[name] = boundary_table(field, solutions[name], c_axes=axes)
    return LamellaRun(twin, solutions, tables)


def checks(seed: int = 0, out_dir: str | Path | None = None) -> tuple[list[Check], list[str]]:
    """The lamella checks and the artefacts written to ``out_dir`` (file names)."""
    run = compute(scenario(seed))
    sol, tab = run.solutions, run.boundaries
    window = run.twin.labels == ELECTROLYTE
    j_iso = np.sqrt((sol["isotropic"].current_density_A_per_m2 ** 2).sum(axis=0))
    ny = run.twin.shape[0]
    rows = np.arange(ny)[:, None] * np.ones(run.twin.shape[1], bool)
    # Window rows span y = frame .. top: compare its upper and lower thirds.
    lo_row = int(round(FRAME_UM / VOXEL_UM))
    third = (ny - lo_row) // 3
    upper = window & (rows >= ny - third)
    lower = window & (rows >= lo_row) & (rows < lo_row + third)
    gradient = float(j_iso[lower].mean() / j_iso[upper].mean())
    contrast = {name: float(np.median(tab[name].contrast)) for name in ("isotropic", "reduced", "full")}
    out = [
        Check("lamella_conservation_rel", max(s.conservation_rel for s in sol.values()), 1e-8, comparison="max",
              why="Kirchhoff's law at every free node, all four systems (issue 6 acceptance: 1e-8)"),
        Check("lamella_isotropic_lower_over_upper_current_density", gradient, 0.67, comparison="max",
              why="isotropic electrolyte between electrodes that do not face each other: 'a significant "
                  "gradient in the y-direction' (seeds/003 section 4.5, Figure 4.15a); the lower third of "
                  "the window carries at most 2/3 of the upper third's mean |J| (0.44-0.54 over seeds 0-3)"),
        Check("lamella_boundary_contrast_isotropic_over_anisotropic", contrast["isotropic"] / contrast["reduced"],
              0.5, comparison="max",
              why="anisotropic grains make |J| jump across boundaries ('distinctively different among grains', "
                  "section 4.5): the median contrast across boundaries of the isotropic case, geometry only, "
                  "is at most half that of the reduced system (0.18-0.28 over seeds 0-3)"),
        Check("lamella_rayleigh_reduced_over_full_current",
              sol["reduced"].total_current_A / sol["full"].total_current_A, 1.0 + 1e-9, comparison="max",
              why="Rayleigh monotonicity: a conducting frame adds conductance, so the full system carries at "
                  "least the reduced system's current (exact, up to the solver's 1e-10 residual)"),
        Check("lamella_rayleigh_reduced_over_no_gb_current",
              sol["reduced"].total_current_A / sol["reduced_no_gb"].total_current_A, 1.0 + 1e-9,
              comparison="max",
              why="Rayleigh monotonicity: grain-boundary resistance can only lower the current (exact)"),
    ]
    artefacts = []
    if out_dir is not None:
        artefacts = _artefacts(Path(out_dir), run)
    return out, artefacts


def boundary_csv(table: BoundaryTable, n: int = 10) -> str:
    """The ``n`` boundaries with the largest grain-boundary drop, as CSV text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["rank", "grain_i", "grain_j", "gb_drop_V", "node_drop_V", "current_A", "J_i_A_per_m2",
                     "J_j_A_per_m2", "contrast", "plane_angle_deg", "type", "field_angle_deg", "behaviour"])
    for rank, row in enumerate(table.rows(table.top(n)), start=1):
        writer.writerow([rank, *row["grains"], f"{row['gb_drop_V']:.4g}", f"{row['node_drop_V']:.4g}",
                         f"{row['current_A']:.4g}", *(f"{v:.4g}" for v in row["current_density_A_per_m2"]),
                         f"{row['contrast']:.3f}", f"{row['plane_angle_deg']:.1f}", row["type"],
                         f"{row['field_angle_deg']:.1f}", row["behaviour"]])
    return buffer.getvalue()


def _artefacts(out_dir: Path, run: LamellaRun) -> list[str]:
    from forward.conduction.render import current_map_png

    out_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for system in ("isotropic", "reduced", "full"):
        name = f"conduction_{system}.png"
        current_map_png(run.solutions[system], run.twin.grain_ids, run.twin.voxel_size_um, out_dir / name,
                        boundaries=run.boundaries[system] if system != "isotropic" else None,
                        titles=[f"{system} system: |J| at {BIAS_V:g} V, field arrows, top-5 GB drops"],
                        overwrite=True)
        names.append(name)
    for system in ("reduced", "full"):
        name = f"conduction_boundaries_{system}.csv"
        files.write_text(out_dir / name, boundary_csv(run.boundaries[system]), overwrite=True)
        names.append(name)
    return names
