"""The resistor network against Q1 finite elements (issue 6, validation (b)).

Two independent discretisations of ``div(Sigma grad phi) = 0``
(seeds/003, section 4.2.2): the thesis' two-point-flux pixel network
(:mod:`forward.conduction.network`, potentials at voxel centres) and
conforming Q1 finite elements on the same voxels
(:mod:`forward.conduction.fem`, potentials at voxel corners). Given the
same diagonal tensors they solve the same PDE, so their difference is
discretisation error of one or both and must shrink as the SAME voxel
microstructure is refined (every voxel split into ``r x r``,
``np.repeat`` of the field's index and grain arrays: the geometry does
not change, only the mesh).

Checks:

* a random 2D polycrystal of the thesis' material (``KINDS["polycrystal"]``,
  sigma_ip / sigma_op = 1e3, thin-film tensors, voids and ZrO2 blocking,
  no grain-boundary resistance, which the FEM cannot represent), driven
  between the two x faces, at refinements 1, 2 and 4: the relative L2
  difference of the voxel-centre potentials and the relative difference of
  the total current at each level, and the ratio of successive
  differences;
* the network's modelling error for off-diagonal tensor terms, on a
  tilted layered single crystal in a channel with insulating sides, whose
  conductivity along the channel is known in closed form: ``1 /
  (Sigma^-1)_xx`` when the channel is long and narrow (the transverse
  current must vanish, so a transverse field builds up), ``Sigma_xx`` when
  it is short and wide (the transverse field must vanish). The network,
  with only ``Sigma_xx``, gets the first wrong by ``Sigma_xy^2 / det
  Sigma``.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

from forward.conduction.fem import solve_fem
from forward.conduction.network import Electrode, solve
from forward.conduction.properties import Conductivity, ConductivityField, conductivity_field, section_tensors
from twin.generators import KINDS
from validation.report import Check
from xtwin import arguments

#: Refinement factors of the polycrystal (each voxel split into r x r).
LEVELS = (1, 2, 4)
#: Voxel edge of the coarsest polycrystal, um (a 40 x 50 grid over the thesis' 4 um x 5 um window).
VOXEL_UM = 0.1
# Tolerances from a survey of seeds 0-9 (largest differences seen at each level: potential 0.055, 0.027,
# 0.0136; current 0.151, 0.070, 0.033), doubled; ratios of successive differences seen 0.42-0.56 (potential)
# and 0.41-0.49 (current), i.e. an observed order 0.8-1.3.
POTENTIAL_TOL = {1: 0.11, 2: 0.055, 4: 0.028}
CURRENT_TOL = {1: 0.3, 2: 0.14, 4: 0.066}
RATIO_TOL = 0.75
RATIO_SEEN = {"potential": "0.42-0.56", "current": "0.41-0.49"}
#: Tilt of the single crystal's c-axis from x in the x-y plane, degrees, and its anisotropy (the thesis').
TILT_DEG, ANISOTROPY = 30.0, 1e3
#: Channel geometry, voxels: narrow (width, two lengths) and wide (length, two widths). The end effects decay
#: over about W sqrt(sigma_xx^2 / det) / pi ~ 2.5 W here, so lengths of 75 W or more leave them below 1e-12.
NARROW_W, NARROW_L = 4, (300, 600)
WIDE_L, WIDE_W = 4, (300, 600)


def refine(field: ConductivityField, factor: int) -> ConductivityField:
    """The same voxel microstructure on a grid ``factor`` times finer along every axis."""
    factor = arguments.integer("factor", factor, minimum=1)

    def up(a: np.ndarray) -> np.ndarray:
        for axis in range(a.ndim):
            a = np.repeat(a, factor, axis=axis)
        return a

    return dataclasses.replace(field, index=up(field.index), grain_ids=up(field.grain_ids),
                               voxel_size_um=field.voxel_size_um / factor)


def polycrystal_differences(seed: int = 0, levels: tuple[int, ...] = LEVELS) -> list[dict]:
    """Network versus diagonal-tensor FEM on a refined 2D polycrystal.

    Returns
    -------
    list of dict
        One per level: ``level``, ``shape``, ``potential_l2_rel`` (``||phi_net
        - phi_fem|| / ||phi_fem||`` over conducting voxels, FEM at voxel
        centres), ``current_rel`` (``|I_net - I_fem| / I_fem``), and both
        currents, A.
    """
    twin = KINDS["polycrystal"](ndim=2, voxel_size_um=VOXEL_UM, seed=seed)
    coarse = conductivity_field(twin, Conductivity(gb_ratio=float("inf")))
    electrodes = [Electrode("inlet", 1.0, face=(1, "low")), Electrode("outlet", 0.0, face=(1, "high"))]
    out = []
    for level in levels:
        field = refine(coarse, level)
        network = solve(field, electrodes)
        fem = solve_fem(field, electrodes, full_tensor=False)
        inside = field.conducting() & np.isfinite(network.potential_V) & np.isfinite(fem.potential_voxel_V)
        a, b = network.potential_V[inside], fem.potential_voxel_V[inside]
        out.append({"level": level, "shape": field.shape,
                    "potential_l2_rel": float(np.linalg.norm(a - b) / np.linalg.norm(b)),
                    "current_rel": abs(network.total_current_A - fem.total_current_A) / fem.total_current_A,
                    "network_current_A": network.total_current_A, "fem_current_A": fem.total_current_A})
    return out


def crystal_tensor(tilt_deg: float = TILT_DEG, anisotropy: float = ANISOTROPY) -> np.ndarray:
    """2x2 tensor (array order [y, x]), S/m, of a layered crystal with its c-axis in the section at ``tilt_deg``
    from x (columnar: the in-plane block of the bulk tensor)."""
    t = np.radians(tilt_deg)
    c = np.array([[np.cos(t), np.sin(t), 0.0]])
    sigma_ip = Conductivity().sigma_ip_S_per_m
    return section_tensors(c, sigma_ip, sigma_ip / anisotropy, 2, "tensor")[0]


def _uniform(tensor: np.ndarray, shape: tuple[int, int]) -> ConductivityField:
    return ConductivityField(index=np.zeros(shape, np.int32), tensors_S_per_m=tensor[None],
                             grain_ids=np.full(shape, -1, np.int32), gb_resistance_ohm_m2=0.0,
                             voxel_size_um=1.0, thickness_um=1.0)


def channel_conductivities(tensor: np.ndarray) -> dict[str, float]:
    """Conductivity along x (array axis 1) of a uniform crystal in a narrow and in a wide channel, S/m.

    Face electrodes on the two x faces, insulating sides. The resistance of
    a channel is its bulk part plus end (or side) corrections that do not
    depend on its length (width) once it is long (wide) compared with their
    decay length, so the slope ``dR/dL`` (``dI/dW``) between two lengths
    (widths) gives the bulk conductivity without any end effect: exactly,
    up to round-off, for the FEM, whose discrete solution is linear away
    from the ends (Q1 represents linear fields exactly). The network's
    channel is one-dimensional and exact for its own (diagonal) model.
    """
    electrodes = [Electrode("inlet", 1.0, face=(1, "low")), Electrode("outlet", 0.0, face=(1, "high"))]
    out = {}
    for solver, name in ((lambda f: solve_fem(f, electrodes, full_tensor=True), "fem_full"),
                         (lambda f: solve_fem(f, electrodes, full_tensor=False), "fem_diagonal"),
                         (lambda f: solve(f, electrodes), "network")):
        # Unit voxels and thickness, 1 V: R in ohm with lengths in um -> sigma = dL / (dR W t) in S/um -> x 1e6.
        r = [1.0 / solver(_uniform(tensor, (NARROW_W, n))).total_current_A for n in NARROW_L]
        out[f"{name}_narrow"] = (NARROW_L[1] - NARROW_L[0]) / ((r[1] - r[0]) * NARROW_W) * 1e6
        i = [solver(_uniform(tensor, (n, WIDE_L))).total_current_A for n in WIDE_W]
        out[f"{name}_wide"] = (i[1] - i[0]) * WIDE_L / (WIDE_W[1] - WIDE_W[0]) * 1e6
    return out


def checks(seed: int = 0) -> list[Check]:
    """Network versus finite elements: convergence on a polycrystal, off-diagonal modelling error.

    Cost: about 3-5 s on two cores (the finest polycrystal, 160 x 200, dominates).
    """
    seed = arguments.integer("seed", seed, minimum=0)
    rows = polycrystal_differences(seed)
    out = []
    for row in rows:
        r = row["level"]
        out.append(Check(
            f"network_vs_fem_potential_l2_rel_refine{r}", row["potential_l2_rel"], POTENTIAL_TOL[r],
            f"relative L2 difference of the voxel-centre potential, network vs Q1 FEM (diagonal tensors), on a "
            f"2D polycrystal (sigma_ip/sigma_op = 1e3, voids and ZrO2, {row['shape'][0]} x {row['shape'][1]} "
            f"voxels of {VOXEL_UM / r:g} um, face electrodes); both carry O(h) errors at grain and pore "
            f"corners. Tolerance: twice the largest value seen over seeds 0-9 at this level", comparison="max"))
        out.append(Check(
            f"network_vs_fem_current_rel_refine{r}", row["current_rel"], CURRENT_TOL[r],
            f"relative difference of the total current, network {row['network_current_A']:.5g} A vs FEM "
            f"{row['fem_current_A']:.5g} A (the FEM's is an upper bound of the exact current). Tolerance: "
            f"twice the largest value seen over seeds 0-9 at this level", comparison="max"))
    for key, label in (("potential_l2_rel", "potential"), ("current_rel", "current")):
        ratio = max(b[key] / a[key] for a, b in itertools.pairwise(rows))
        out.append(Check(
            f"network_vs_fem_{label}_refinement_ratio", ratio, RATIO_TOL,
            f"largest ratio of the {label} difference between successive refinements (x2): it must shrink. "
            f"Seen over seeds 0-9: {RATIO_SEEN[label]} (observed order ~1, limited by the corner singularities "
            f"of the voids and of the strongly anisotropic grains); tolerance {RATIO_TOL} (order >= 0.4) leaves "
            f"margin for other microstructures", comparison="max"))

    fem_currents = [row["fem_current_A"] for row in rows]
    out.append(Check(
        "fem_current_monotone_under_refinement", max(b / a for a, b in itertools.pairwise(fem_currents)),
        1 + 1e-9,
        "largest ratio of the FEM's total current between successive refinements: conforming elements minimise "
        "the dissipated power I V over their space, and the refined spaces contain the coarse ones, so the "
        "current can only decrease (to the exact one) (Galerkin orthogonality; 1e-9 for round-off)",
        comparison="max"))

    tensor = crystal_tensor()
    sigma = channel_conductivities(tensor)
    sxx, syy, sxy = tensor[1, 1], tensor[0, 0], tensor[0, 1]
    det = sxx * syy - sxy * sxy
    narrow = det / syy                      # 1 / (Sigma^-1)_xx
    setting = (f"a layered single crystal, c-axis in the section at {TILT_DEG:g} deg from x, sigma_ip/sigma_op = "
               f"{ANISOTROPY:g}, in a channel with insulating sides")
    out += [
        Check("fem_full_tensor_narrow_channel_sigma", sigma["fem_full_narrow"], 1e-6,
              f"{setting}, long and narrow ({NARROW_W} voxels wide, slope between lengths {NARROW_L}): J_y = 0 "
              f"forces a transverse field and sigma = 1 / (Sigma^-1)_xx = det / Sigma_yy (closed form). Q1 is "
              f"exact for the linear bulk field; 1e-6 is the issue's bound for exact cases",
              truth=narrow, unit="S/m"),
        Check("fem_full_tensor_wide_channel_sigma", sigma["fem_full_wide"], 1e-6,
              f"{setting}, short and wide ({WIDE_L} voxels long, slope between widths {WIDE_W}): E_y = 0 in the "
              f"bulk and sigma = Sigma_xx (closed form); exact for Q1", truth=sxx, unit="S/m"),
        Check("network_narrow_channel_sigma", sigma["network_narrow"], 1e-6,
              f"{setting}: the network keeps only Sigma_xx and gives Sigma_xx in any channel (exact for its "
              f"diagonal model), so it misses the off-diagonal term", truth=sxx, unit="S/m"),
        Check("fem_diagonal_narrow_channel_sigma", sigma["fem_diagonal_narrow"], 1e-6,
              f"{setting}: the FEM with full_tensor=False solves the network's PDE and agrees with it",
              truth=sxx, unit="S/m"),
        Check("network_offdiagonal_overestimate", sigma["network_narrow"] / sigma["fem_full_narrow"] - 1, 1e-6,
              f"the network's modelling error for off-diagonal terms: in the narrow channel it overestimates the "
              f"conductivity of {setting} by Sigma_xy^2 / det Sigma (closed form; a factor "
              f"{1 + sxy * sxy / det:.4g}), while in the wide channel it is exact. A polycrystal lies between",
              truth=sxy * sxy / det),
    ]
    return out


