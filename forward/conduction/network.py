"""Resistor network on the voxel grid: DC potentials, currents and effective conductivity.

The network of seeds/003 (PhD thesis, section 4.2.2, after Eckhardt et
al.): one node per voxel; between face neighbours a resistor made of the
two half-voxel resistances in series, ``R_i = L_i / (sigma_i A)`` with
``L_i = h / 2`` and ``sigma_i`` the voxel's conductivity along the face
normal ("2 R_bulk" inside a grain), plus ``R_GB = d_GB / (sigma_GB A)``
where the voxels belong to different grains ("2 R_bulk + R_GB"); an
electrode contact is the conducting voxel's half resistance plus the
charge-transfer resistance ``R_CT = r_CT / A`` ("R_bulk + R_CT + R_elec",
the electrode metal itself ideal, ``R_elec = 0``, as in the thesis);
blocking voxels (ZrO2, voids) have no resistor (``R = inf``). Kirchhoff's
current law at every free node gives a weighted graph Laplacian, solved
with the electrodes' potentials fixed (Dirichlet) and no current through
the outer surface elsewhere (insulating).

It is a two-point flux (finite-volume) discretisation of
``div(Sigma grad phi) = 0`` that keeps only the diagonal of each voxel's
tensor ``Sigma``; see :mod:`forward.conduction.properties` for what that
drops and :mod:`forward.conduction.fem` for the full-tensor cross-check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numba import njit, prange
from scipy.sparse.csgraph import connected_components

from forward.conduction.properties import Conductivity, ConductivityField, conductivity_field
from forward.conduction.solvers import METHODS, SolveInfo, solve_spd
from twin.container import Twin
from xtwin import arguments

SIDES = ("low", "high")


@dataclass(frozen=True, eq=False)
class Electrode:
    """An ideal metal electrode held at a fixed potential.

    Give either ``mask`` (the voxels of the grid that are the electrode:
    any number, any shape) or ``face`` (a whole face of the box, as in a
    tortuosity measurement).

    Parameters
    ----------
    name : str
        Label used in results.
    potential_V : float
        Fixed potential, V.
    mask : ndarray of bool, optional
        Electrode voxels (grid shape).
    face : (int, {"low", "high"}), optional
        Array axis and side of the box face covered by the electrode.
    contact_resistance_ohm_m2 : float
        Area-specific charge-transfer resistance of the contact, ohm m^2
        (0: the thesis' resistance-free contact).
    """

    name: str
    potential_V: float
    mask: np.ndarray | None = None
    face: tuple[int, str] | None = None
    contact_resistance_ohm_m2: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name={self.name!r}: expected a non-empty string")
        arguments.finite("potential_V", self.potential_V, unit="V")
        arguments.positive("contact_resistance_ohm_m2", self.contact_resistance_ohm_m2, allow_zero=True,
                           unit="ohm m^2")
        if (self.mask is None) == (self.face is None):
            raise ValueError(f"electrode {self.name!r}: expected exactly one of mask= or face=")
        if self.mask is not None:
            mask = arguments.array(f"electrode {self.name!r} mask", self.mask, ndim=(2, 3), dtype_kind="b")
            if not mask.any():
                raise ValueError(f"electrode {self.name!r}: its mask selects no voxel")
            object.__setattr__(self, "mask", mask)
        else:
            if (not isinstance(self.face, (tuple, list)) or len(self.face) != 2
                    or self.face[1] not in SIDES or isinstance(self.face[0], bool)
                    or not isinstance(self.face[0], (int, np.integer))):
                raise ValueError(f"electrode {self.name!r}: face={self.face!r}; expected (axis, 'low'|'high')")
            object.__setattr__(self, "face", (int(self.face[0]), self.face[1]))

    def at(self, potential_V: float) -> "Electrode":
        """The same electrode at another potential."""
        return Electrode(self.name, potential_V, self.mask, self.face, self.contact_resistance_ohm_m2)


class ElectrodeCurrents:
    """Totals over the electrodes of a solution (network or finite elements) with ``electrode_names``,
    ``electrode_potential_V`` and ``electrode_current_A`` (positive into the sample)."""

    electrode_names: tuple[str, ...]
    electrode_potential_V: np.ndarray
    electrode_current_A: np.ndarray

    @property
    def total_current_A(self) -> float:
        """Current through the sample: the sum of the currents entering it from electrodes, A."""
        return float(np.clip(self.electrode_current_A, 0, None).sum())

    @property
    def conductance_S(self) -> float:
        """Total current over the spread of electrode potentials, S (two-electrode conductance)."""
        spread = float(np.ptp(self.electrode_potential_V))
        return self.total_current_A / spread if spread > 0 else float("nan")

    def current(self, name: str) -> float:
        """Current from electrode ``name`` into the sample, A."""
        if name not in self.electrode_names:
            raise KeyError(f"electrode {name!r}: expected one of {self.electrode_names}")
        return float(self.electrode_current_A[self.electrode_names.index(name)])


@dataclass(frozen=True, eq=False)
class NetworkSolution(ElectrodeCurrents):
    """Potentials and currents of a solved network.

    Attributes
    ----------
    potential_V : ndarray, grid shape
        Node potentials, V; electrode voxels at their electrode's
        potential; NaN in blocking voxels and in conducting clusters that
        touch no electrode (floating).
    face_current_A : tuple of ndarray
        Current through the faces normal to each array axis, A, positive
        towards increasing index; shape of the grid with one fewer along
        that axis.
    face_conductance_S : tuple of ndarray
        Conductance of each face's resistor, S (0 where blocked).
    electrode_names : tuple of str
    electrode_potential_V : ndarray
        Potentials the electrodes were held at (scaled when a total current
        was imposed), V.
    electrode_current_A : ndarray
        Current flowing from each electrode into the sample, A.
    current_density_A_per_m2 : ndarray, shape (ndim, *grid)
        Voxel-centred current density (mean of the two faces along each
        axis over the face area), array-axis order, A/m^2; 0 outside the
        conducting, non-electrode voxels.
    electric_field_V_per_m : ndarray, shape (ndim, *grid)
        ``E_k = J_k / sigma_kk`` in each conducting voxel (the network's
        diagonal constitutive law), V/m; NaN elsewhere.
    conservation_rel : float
        Largest net current into a free node over the total current
        (Kirchhoff's law; ~0).
    imbalance_rel : float
        Sum of all electrode currents over the total current (global
        conservation; ~0).
    floating_voxels : int
        Conducting voxels in clusters that touch no electrode.
    solve : SolveInfo
    """

    potential_V: np.ndarray
    face_current_A: tuple[np.ndarray, ...]
    face_conductance_S: tuple[np.ndarray, ...]
    electrode_names: tuple[str, ...]
    electrode_potential_V: np.ndarray
    electrode_current_A: np.ndarray
    current_density_A_per_m2: np.ndarray
    electric_field_V_per_m: np.ndarray
    conservation_rel: float
    imbalance_rel: float
    floating_voxels: int
    solve: SolveInfo



def solve(field: ConductivityField, electrodes: list[Electrode] | tuple[Electrode, ...], *,
          current_A: float | None = None, method: str = "auto", rtol: float = 1e-10) -> NetworkSolution:
    """Solve the resistor network of ``field`` between ``electrodes``.

    Parameters
    ----------
    field : ConductivityField
        Per-voxel conductivity (:func:`forward.conduction.conductivity_field`).
    electrodes : sequence of Electrode
        At least two, at no fewer than two distinct potentials; masks must
        not overlap or touch one another.
    current_A : float, optional
        Impose this total current instead of the potentials: all electrode
        potentials are scaled by one factor (the network is linear), A.
    method : {"auto", "direct", "amg"}
        Linear solver (:func:`forward.conduction.solvers.solve_spd`).
    rtol : float
        Relative residual of the iterative solver.

    Returns
    -------
    NetworkSolution

    Notes
    -----
    Cost: O(N) to assemble (N voxels; numba kernels build the clusters and
    the CSR matrix row by row) plus the solve
    (:func:`forward.conduction.solvers.solve_spd`: direct up to 2e4 unknowns
    in 2D and 5e3 in 3D, AMG-CG beyond). To rtol 1e-8 on two cores the
    1000 x 1000 benchmark polycrystal takes 2-3 s end to end (0.4-0.5 s
    assembly and outputs) and the 200^3 one 11-23 s (3-4 s) with a 2.5-GB
    peak; see
    benchmarks/bench_conduction.py.
    """
    if not isinstance(field, ConductivityField):
        raise TypeError(f"field={field!r}: expected a ConductivityField")
    arguments.one_of("method", method, METHODS)
    electrodes = check_electrodes(field, electrodes)
    if current_A is not None:
        current_A = arguments.finite("current_A", current_A, unit="A")
        if current_A == 0:
            raise ValueError("current_A=0: expected a non-zero current (or give the potentials instead)")
    shape, ndim = field.shape, field.ndim
    n = int(np.prod(shape))
    area = field.face_area_m2
    h = field.voxel_size_um * 1e-6
    owner = np.full(shape, -1, np.int16)
    for e, electrode in enumerate(electrodes):
        if electrode.mask is not None:
            owner[electrode.mask] = e
    free = owner < 0
    has_masks = not free.all()
    # Half-voxel resistance along each axis, inf where the voxel blocks or is electrode metal.
    with np.errstate(divide="ignore"):
        half = [np.where(free, (h / 2) / (field.axial(k) * area), np.inf) for k in range(ndim)]
    contact = np.array([e.contact_resistance_ohm_m2 / area for e in electrodes] + [0.0])
    r_gb = field.gb_resistance_ohm_m2 / area
    flat = np.arange(n, dtype=np.int64).reshape(shape)

    # links[k] holds, at each voxel, the conductance of its face towards the +k neighbour (0 on the
    # high boundary); the returned face_conductance_S are views of it.
    links = np.zeros((ndim,) + shape)
    conductances = []
    d_node, d_cond, d_owner = [], [], []                # free-electrode resistors
    for k in range(ndim):
        lo, hi = _face_slices(ndim, k)
        ra, rb = half[k][lo], half[k][hi]
        resistance = ra + rb
        grains_a, grains_b = field.grain_ids[lo], field.grain_ids[hi]
        resistance[(grains_a != grains_b) & (grains_a >= 0) & (grains_b >= 0)] += r_gb
        if has_masks:
            # A face touching electrode metal: only the sample side's half resistance plus the contact.
            ea, eb = owner[lo], owner[hi]
            touch_a, touch_b = ea >= 0, eb >= 0
            resistance[touch_a] = rb[touch_a] + contact[ea[touch_a]]
            resistance[touch_b] = ra[touch_b] + contact[eb[touch_b]]
            resistance[touch_a & touch_b] = np.inf
        g = links[(k,) + lo]
        with np.errstate(divide="ignore"):
            np.divide(1.0, resistance, out=g)
        del resistance
        conductances.append(g)
        if has_masks:
            for side_owner, node in ((ea, flat[hi]), (eb, flat[lo])):
                link = (g > 0) & (side_owner >= 0)
                d_node.append(node[link]), d_cond.append(g[link]), d_owner.append(side_owner[link])
    face_links = []
    face_node, face_cond = [], []                      # face-electrode resistors (not in links)
    for e, electrode in enumerate(electrodes):
        if electrode.face is None:
            continue
        axis, side = electrode.face
        boundary = _boundary_slice(ndim, axis, side)
        with np.errstate(divide="ignore"):
            g = 1.0 / (half[axis][boundary] + contact[e])
        g = np.where(owner[boundary] < 0, g, 0.0)
        link = g > 0
        d_node.append(flat[boundary][link]), d_cond.append(g[link]), d_owner.append(np.full(link.sum(), e))
        face_node.append(d_node[-1]), face_cond.append(d_cond[-1])
        face_links.append((e, boundary, g))
    del half, flat
    d_node = np.concatenate(d_node) if d_node else np.zeros(0, np.int64)
    d_cond = np.concatenate(d_cond) if d_cond else np.zeros(0)
    d_owner = np.concatenate(d_owner).astype(int) if d_owner else np.zeros(0, int)

    n_e = len(electrodes)
    potentials = np.array([e.potential_V for e in electrodes])
    # Clusters of free conducting voxels joined by conducting faces; a cluster is live when an
    # electrode touches it, and electrodes joined through clusters form one group.
    node = (free & (field.index >= 0)).ravel()
    strides = np.array([int(np.prod(shape[k + 1:])) for k in range(ndim)], dtype=np.int64)
    flat_links = links.reshape(ndim, n)
    roots = _cluster_roots(flat_links, node, strides)
    touched, cluster = np.unique(roots[d_node], return_inverse=True)
    m_c = len(touched)
    graph = sp.coo_matrix((np.ones(len(d_node)), (cluster, m_c + d_owner)), shape=(m_c + n_e, m_c + n_e))
    _, component = connected_components(graph, directed=False)
    electrode_component = component[m_c:]
    spans = [np.ptp(potentials[electrode_component == c]) for c in np.unique(electrode_component)]
    if max(spans) == 0:
        raise ValueError("electrodes: no conducting path joins electrodes at different potentials "
                         "(blocking phases separate them, or all electrodes share one potential)")
    is_touched = np.zeros(n, bool)
    is_touched[touched] = True
    live = node & is_touched[roots]
    del roots, is_touched
    floating = int(np.count_nonzero(node)) - int(np.count_nonzero(live))

    # Unknowns: live free voxels, renumbered 0..m-1 in voxel order; the matrix is built row by row.
    number = np.cumsum(live, dtype=np.int64) - 1
    m = int(number[-1]) + 1
    extra = np.zeros(n)
    if face_node:
        np.add.at(extra, np.concatenate(face_node), np.concatenate(face_cond))
    matrix = _network_matrix(flat_links, live, number, m, strides, extra)
    del extra
    keep_d = live[d_node]
    rhs = np.bincount(number[d_node[keep_d]], d_cond[keep_d] * potentials[d_owner[keep_d]], m)
    del number
    x, info = solve_spd(matrix, rhs, method=method, rtol=rtol)

    node_current = rhs - matrix @ x
    phi = np.full(n, np.nan)
    phi[live] = x
    phi = phi.reshape(shape)
    for electrode in electrodes:
        if electrode.mask is not None:
            phi[electrode.mask] = electrode.potential_V
    currents, injected = [], np.zeros(n_e)
    for k in range(ndim):
        lo, hi = _face_slices(ndim, k)
        current = np.subtract(phi[lo], phi[hi])
        current *= conductances[k]
        np.nan_to_num(current, copy=False)
        currents.append(current)
        if has_masks:
            for side, sign in ((owner[lo], 1.0), (owner[hi], -1.0)):
                touch = side >= 0
                injected += sign * np.bincount(side[touch], current[touch], n_e)
    face_inflow = []
    for e, boundary, g in face_links:
        inflow = np.nan_to_num(g * (potentials[e] - phi[boundary]))
        injected[e] += inflow.sum()
        face_inflow.append((boundary, inflow))

    total = float(np.clip(injected, 0, None).sum())
    scale = 1.0 if current_A is None else current_A / total
    if scale != 1.0:
        phi, currents = phi * scale, [c * scale for c in currents]
        potentials, injected, total = potentials * scale, injected * scale, abs(current_A)
        face_inflow = [(b, f * scale) for b, f in face_inflow]
        node_current = node_current * scale
    density, efield = _voxel_fields(field, currents, face_inflow, electrodes, owner, area)
    scale_current = total if total > 0 else 1.0
    return NetworkSolution(
        potential_V=phi, face_current_A=tuple(currents), face_conductance_S=tuple(conductances),
        electrode_names=tuple(e.name for e in electrodes), electrode_potential_V=potentials,
        electrode_current_A=injected, current_density_A_per_m2=density, electric_field_V_per_m=efield,
        conservation_rel=float(np.abs(node_current).max(initial=0.0) / scale_current),
        imbalance_rel=float(abs(injected.sum()) / scale_current), floating_voxels=floating, solve=info)


def simulate(twin: Twin, conductivity: Conductivity | None = None, *,
             electrodes: list[Electrode] | None = None, voltage_V: float = 1.0, current_A: float | None = None,
             thickness_um: float | None = None, method: str = "auto") -> NetworkSolution:
    """DC potentials and currents in a twin between its electrodes.

    Parameters
    ----------
    twin : Twin
        A twin with grains and/or phases listed in ``conductivity``.
    conductivity : Conductivity, optional
        Transport parameters (default: seeds/003).
    electrodes : list of Electrode, optional
        Default: the twin's own electrodes (truth ``electrodes/positive_label``
        at ``voltage_V`` and ``electrodes/negative_label`` at 0 V, as in the
        polycrystal lamella).
    voltage_V : float
        Potential of the positive electrode when the twin's own are used, V.
    current_A : float, optional
        Impose the total current instead (A).
    thickness_um : float, optional
        Thickness of a 2D twin, um (default one voxel).
    method : {"auto", "direct", "amg"}
        Linear solver.

    Returns
    -------
    NetworkSolution
    """
    field = conductivity_field(twin, conductivity, thickness_um=thickness_um)
    if electrodes is None:
        electrodes = twin_electrodes(twin, voltage_V)
    return solve(field, electrodes, current_A=current_A, method=method)


def twin_electrodes(twin: Twin, voltage_V: float = 1.0, *, contact_resistance_ohm_m2: float = 0.0
                    ) -> list[Electrode]:
    """The electrodes a twin records in its truth: ``positive`` at ``voltage_V``, ``negative`` at 0 V."""
    voltage = arguments.finite("voltage_V", voltage_V, unit="V")
    out = []
    for name, potential in (("positive", voltage), ("negative", 0.0)):
        key = f"electrodes/{name}_label"
        if key not in twin.truth:
            raise ValueError(f"twin: has no {key!r} in its truth; pass electrodes= explicitly "
                             f"(for example Electrode(name, potential_V, face=(axis, 'low')))")
        out.append(Electrode(name, potential, mask=twin.labels == int(twin.truth[key]),
                             contact_resistance_ohm_m2=contact_resistance_ohm_m2))
    return out


@dataclass(frozen=True)
class EffectiveConductivity:
    """Effective conductivity of a volume between two opposite faces.

    Attributes
    ----------
    axis : int
        Array axis of the applied potential difference.
    sigma_eff_S_per_m : float
        ``I L / (A V)`` with ``L`` the box length along ``axis`` and ``A`` its
        cross-section, S/m.
    conducting_fraction : float
        Volume fraction of conducting voxels, epsilon.
    sigma_0_S_per_m : float
        Conductivity of the conducting phase when it is one isotropic
        material (NaN otherwise), S/m.
    tortuosity_factor : float
        ``tau = epsilon sigma_0 / sigma_eff`` (so ``epsilon / tau =
        sigma_eff / sigma_0``); NaN when ``sigma_0`` is not defined.
    solution : NetworkSolution
    """

    axis: int
    sigma_eff_S_per_m: float
    conducting_fraction: float
    sigma_0_S_per_m: float
    tortuosity_factor: float
    solution: NetworkSolution


def effective_conductivity(field: ConductivityField, axis: int, *, method: str = "auto"
                           ) -> EffectiveConductivity:
    """Effective conductivity and tortuosity factor along ``axis`` (electrodes on the two end faces).

    The same set-up as a tortuosity-factor measurement (TauFactor, Cooper
    et al., SoftwareX 5 (2016) 203): fixed potentials on the two faces
    normal to ``axis``, insulating side faces. For one isotropic conducting
    phase ``epsilon / tau = sigma_eff / sigma_0``; open space gives tau = 1.
    """
    if not isinstance(field, ConductivityField):
        raise TypeError(f"field={field!r}: expected a ConductivityField")
    axis = arguments.integer("axis", axis, minimum=0)
    if axis >= field.ndim:
        raise ValueError(f"axis={axis}: expected an array axis below {field.ndim}")
    if not field.conducting().any():
        raise ValueError("field: every voxel blocks; nothing conducts")
    solution = solve(field, [Electrode("inlet", 1.0, face=(axis, "low")),
                             Electrode("outlet", 0.0, face=(axis, "high"))], method=method)
    h = field.voxel_size_um * 1e-6
    length = field.shape[axis] * h
    cross = field.face_area_m2 * (int(np.prod(field.shape)) // field.shape[axis])
    sigma_eff = solution.total_current_A * length / cross
    used = np.unique(field.index[field.index >= 0])
    tensors = field.tensors_S_per_m[used]
    isotropic = (len(used) > 0 and np.allclose(tensors, tensors[0])
                 and np.allclose(tensors[0], tensors[0, 0, 0] * np.eye(field.ndim)))
    sigma_0 = float(tensors[0, 0, 0]) if isotropic else float("nan")
    epsilon = float(np.count_nonzero(field.conducting()) / field.index.size)
    return EffectiveConductivity(axis, float(sigma_eff), epsilon, sigma_0,
                                 epsilon * sigma_0 / sigma_eff if sigma_eff > 0 else float("inf"), solution)


def electrode_list(electrodes: Any, what: str = "electrodes") -> list[Electrode]:
    """``electrodes`` as a list after the checks that need no grid: type, at least two, unique names, two potentials.

    ``what`` names the argument in the error messages.
    """
    if not isinstance(electrodes, (list, tuple)) or not all(isinstance(e, Electrode) for e in electrodes):
        raise TypeError(f"{what}={electrodes!r}: expected a list of forward.conduction.Electrode")
    if len(electrodes) < 2:
        raise ValueError(f"{what}: expected at least two electrodes, got {len(electrodes)}")
    names = [e.name for e in electrodes]
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: electrode names must be unique, got {names}")
    if len({e.potential_V for e in electrodes}) < 2:
        raise ValueError(f"{what}: all at {electrodes[0].potential_V} V; expected at least two "
                         f"distinct potentials")
    return list(electrodes)


def check_electrodes(field: ConductivityField, electrodes) -> list[Electrode]:
    """Validate ``electrodes`` on ``field`` (shared by the network and FEM solvers); raises naming the fault."""
    electrodes = electrode_list(electrodes)
    owner = np.full(field.shape, -1, np.int16)
    for e, electrode in enumerate(electrodes):
        if electrode.face is not None:
            if not 0 <= electrode.face[0] < field.ndim:
                raise ValueError(f"electrode {electrode.name!r}: face axis {electrode.face[0]} outside the "
                                 f"grid's {field.ndim} axes")
            continue
        if electrode.mask.shape != field.shape:
            raise ValueError(f"electrode {electrode.name!r}: mask shape {electrode.mask.shape}, expected the "
                             f"grid's {field.shape}")
        clash = owner[electrode.mask]
        if (clash >= 0).any():
            raise ValueError(f"electrodes {electrodes[int(clash[clash >= 0][0])].name!r} and "
                             f"{electrode.name!r} overlap")
        owner[electrode.mask] = e
    for k in range(field.ndim):
        lo, hi = _face_slices(field.ndim, k)
        touch = (owner[lo] >= 0) & (owner[hi] >= 0) & (owner[lo] != owner[hi])
        if touch.any():
            a, b = int(owner[lo][touch][0]), int(owner[hi][touch][0])
            raise ValueError(f"electrodes {electrodes[a].name!r} and {electrodes[b].name!r} touch "
                             f"(a short circuit); separate them by at least one voxel")
    for electrode in electrodes:
        if electrode.face is not None:
            on_face = owner[_boundary_slice(field.ndim, *electrode.face)]
            if (on_face >= 0).any():
                raise ValueError(f"electrodes {electrodes[int(on_face[on_face >= 0][0])].name!r} and "
                                 f"{electrode.name!r} touch (a short circuit) on face {electrode.face}")
    faces = [e.face for e in electrodes if e.face is not None]
    if len(set(faces)) != len(faces):
        raise ValueError(f"electrodes: two electrodes cover the same face {faces}")
    return list(electrodes)


def _voxel_fields(field, currents, face_inflow, electrodes, owner, area):
    """Voxel-centred current density (mean of a voxel's two faces per axis) and E = J / sigma_kk."""
    ndim = field.ndim
    density = np.zeros((ndim,) + field.shape)
    efield = np.full((ndim,) + field.shape, np.nan)
    inside = (field.index >= 0) & (owner < 0)
    for k in range(ndim):
        lo, hi = _face_slices(ndim, k)
        total = np.zeros(field.shape)
        total[lo] += currents[k]
        total[hi] += currents[k]
        for (boundary, inflow), electrode in zip(face_inflow, [e for e in electrodes if e.face is not None]):
            if electrode.face[0] == k:
                # Inflow through a low face runs towards +k; through a high face towards -k.
                total[boundary] += inflow if electrode.face[1] == "low" else -inflow
        density[k] = np.where(inside, total / (2 * area), 0.0)
        sigma = field.axial(k)
        with np.errstate(divide="ignore", invalid="ignore"):
            efield[k] = np.where(inside, density[k] / sigma, np.nan)
    return density, efield


def _face_slices(ndim: int, axis: int) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    lo = [slice(None)] * ndim
    hi = [slice(None)] * ndim
    lo[axis], hi[axis] = slice(None, -1), slice(1, None)
    return tuple(lo), tuple(hi)


def _boundary_slice(ndim: int, axis: int, side: str) -> tuple:
    index: list = [slice(None)] * ndim
    index[axis] = 0 if side == "low" else -1
    return tuple(index)


@njit(cache=True)
def _cluster_roots(links, node, strides):
    """Root (smallest voxel index) of every voxel's cluster: ``node`` voxels joined by faces with ``links > 0``.

    Union-find over the faces towards the lower neighbour along each axis (a raster scan); ``links[k, q]``
    is the conductance between voxel ``q`` and ``q + strides[k]``, 0 on the high boundary, so a neighbour
    index that wraps around a grid line meets a zero link. Voxels outside ``node`` are their own root.
    Cost: O(N ndim), sequential.
    """
    n = node.shape[0]
    parent = np.arange(n)
    for p in range(n):
        if not node[p]:
            continue
        for k in range(strides.shape[0]):
            q = p - strides[k]
            if q < 0 or not node[q] or links[k, q] <= 0:
                continue
            a = p
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            b = q
            while parent[b] != b:
                parent[b] = parent[parent[b]]
                b = parent[b]
            if a < b:
                parent[b] = a
            elif b < a:
                parent[a] = b
    for p in range(n):
        parent[p] = parent[parent[p]]
    return parent


@njit(parallel=True, cache=True)
def _row_counts(links, live, strides, counts):
    n = live.shape[0]
    for p in prange(n):
        if not live[p]:
            continue
        c = 1
        for k in range(strides.shape[0]):
            q = p - strides[k]
            if q >= 0 and links[k, q] > 0 and live[q]:
                c += 1
            q = p + strides[k]
            if q < n and links[k, p] > 0 and live[q]:
                c += 1
        counts[p] = c


@njit(parallel=True, cache=True)
def _row_fill(links, live, number, strides, extra, indptr, indices, data):
    n = live.shape[0]
    ndim = strides.shape[0]
    for p in prange(n):
        if not live[p]:
            continue
        row = number[p]
        j = indptr[row]
        diagonal = extra[p]
        for k in range(ndim):                   # lower neighbours, largest stride first: increasing columns
            q = p - strides[k]
            if q >= 0:
                g = links[k, q]
                diagonal += g
                if g > 0 and live[q]:
                    indices[j] = number[q]
                    data[j] = -g
                    j += 1
        centre = j
        j += 1
        for kk in range(ndim):                  # upper neighbours, smallest stride first
            k = ndim - 1 - kk
            g = links[k, p]
            diagonal += g
            q = p + strides[k]
            if q < n and g > 0 and live[q]:
                indices[j] = number[q]
                data[j] = -g
                j += 1
        indices[centre] = row
        data[centre] = diagonal


def _network_matrix(links, live, number, m, strides, extra):
    """Kirchhoff matrix of the live voxels (canonical CSR, m x m): ``-g`` between live neighbours, on the
    diagonal the sum of all the voxel's face conductances (to live voxels and to electrode metal) plus
    ``extra`` (its links to face electrodes). Cost: O(N ndim), parallel over voxels."""
    counts = np.zeros(live.shape[0], np.int32)
    _row_counts(links, live, strides, counts)
    indptr = np.zeros(m + 1, np.int64)
    np.cumsum(counts[live], out=indptr[1:])
    del counts
    index_type = np.int32 if indptr[-1] < 2**31 and m < 2**31 else np.int64
    indptr = indptr.astype(index_type)
    indices = np.empty(int(indptr[-1]), index_type)
    data = np.empty(int(indptr[-1]))
    _row_fill(links, live, number, strides, extra, indptr, indices, data)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(m, m))
    matrix.has_sorted_indices = True
    return matrix
