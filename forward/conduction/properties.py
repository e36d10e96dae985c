"""Conductivity of every voxel of a twin: layered-crystal tensors, grain boundaries, backbone, other phases.

The model of seeds/003 (PhD thesis, section 4.2.2): Na-beta''-alumina
conducts Na+ within its conduction planes (normal to the crystal c-axis)
with ``sigma_ip`` and across them with ``sigma_op = sigma_ip / 1e3``; grain
boundaries are 1 nm thick with an isotropic ``sigma_GB = sigma_ip / 20``
(transport along them neglected); ZrO2 and voids block; the thick frame of
the lamella (the "backbone") is isotropic with ``sigma_ip / 250``.

Three ways to turn a grain's orientation into the conductivities of a
section or a volume (``model``):

``"tensor"``
    The bulk tensor ``Sigma = sigma_ip (I - c c^T) + sigma_op c c^T`` of a
    uniaxial (layered) conductor with c-axis ``c``. In 3D it is used as is;
    in 2D its in-plane block, which is exact for columnar grains that extend
    unchanged along the section normal (no gradient along z, ``E_z = 0``).
``"thin_film"`` (2D only; the default in 2D)
    A free-standing lamella much thinner than its grains (the thesis'
    ~170 nm window with ~1 um grains) carries no current through its
    faces, ``J_z = 0`` everywhere, so ``E_z`` adjusts and the in-plane
    tensor is the Schur complement ``Sigma_pp - Sigma_pz Sigma_zp /
    Sigma_zz``, equal to ``[(Sigma^-1)_pp]^-1``. Along the trace of the
    conduction plane in the film it gives ``sigma_ip``; across the trace
    ``1 / (cos^2 alpha / sigma_ip + sin^2 alpha / sigma_op)`` (series),
    with ``alpha`` the tilt of the plane out of the film.
``"thesis"`` (2D only)
    Equation 4-1 of seeds/003 (section 4.2.2, Figure 4.2): with ``theta``
    the angle between the plane's trace and x, and ``alpha`` its tilt,
    ``sigma_x = sigma_op |sin a||sin t| + sigma_ip (|cos t| + |cos a||sin t|)``
    and ``sigma_y = sigma_ip (|sin t| + |cos a||cos t|) + sigma_op |sin a||cos t|``.
    It weights by absolute direction cosines instead of their squares, so it
    is not a tensor: it is not invariant under a rotation of the axes and
    exceeds ``sigma_ip`` (by up to about sqrt 2, for a plane lying in the film with
    its trace at 45 deg); across the trace of a tilted plane it
    interpolates linearly in ``cos alpha`` (parallel), where the thin-film
    limit adds in series. Provided to reproduce the thesis' numbers.

The resistor network keeps the diagonal of the section tensor (a
two-point flux on the voxel grid, as the thesis' network does); the
finite-element solver (:mod:`forward.conduction.fem`) can use the full
tensor, which measures what the network's diagonal approximation costs.
It is not small for strongly anisotropic grains whose easy direction is
oblique to the grid: in a narrow insulated channel a single crystal
tilted 30 deg in the section conducts ``1 / (Sigma^-1)_xx``, which the
network overestimates by ``Sigma_xy^2 / det`` (a factor of 188 at
anisotropy 1e3); on the lamella of seeds/003 the full tensor carries
~27 % less current than its diagonal (validation/conduction/crosscheck.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from twin.container import Twin
from twin.orientations import c_axes as _c_axes
from xtwin import arguments

MODELS = ("tensor", "thin_film", "thesis")

#: In-plane conductivity of single-crystal Na-beta''-alumina, S/m: "as high as ~1 S/cm at 300 C"
#: (seeds/003, section 1.3.1). The thesis' computation uses only ratios, which fix the current pattern;
#: sigma_ip only scales currents.
SIGMA_IP_S_PER_M = 100.0


@dataclass(frozen=True)
class Conductivity:
    """Transport parameters of a layered polycrystalline conductor (seeds/003, section 4.2.2).

    Parameters
    ----------
    sigma_ip_S_per_m : float
        Conductivity within the conduction planes, S/m.
    anisotropy : float
        ``sigma_ip / sigma_op`` (>= 1); 1e3 in the thesis.
    gb_ratio : float
        ``sigma_ip / sigma_GB`` (> 0); 20 in the thesis. ``inf`` removes the
        boundaries' resistance.
    gb_thickness_nm : float
        Grain-boundary thickness, nm (>= 0); 1 nm in the thesis.
    backbone_ratio : float
        ``sigma_ip / sigma_backbone`` of the isotropic frame (>= 1); 250 in the
        thesis' full system.
    model : {"auto", "tensor", "thin_film", "thesis"}
        Orientation -> conductivity model (module docstring); ``"auto"`` is
        ``"thin_film"`` for a 2D twin and ``"tensor"`` in 3D.
    phase_S_per_m : mapping of int to float
        Isotropic conductivity, S/m, of phases without grains, by label
        (for example an electrolyte-filled pore phase of an electrode). A
        label absent from the mapping blocks (ZrO2, voids).
    backbone_phases : tuple of int
        Labels conducting isotropically with ``sigma_ip / backbone_ratio``.
    """

    sigma_ip_S_per_m: float = SIGMA_IP_S_PER_M
    anisotropy: float = 1e3
    gb_ratio: float = 20.0
    gb_thickness_nm: float = 1.0
    backbone_ratio: float = 250.0
    model: str = "auto"
    phase_S_per_m: Mapping[int, float] = field(default_factory=dict)
    backbone_phases: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        arguments.positive("sigma_ip_S_per_m", self.sigma_ip_S_per_m, unit="S/m")
        if arguments.positive("anisotropy", self.anisotropy) < 1:
            raise ValueError(f"anisotropy={self.anisotropy!r}: expected sigma_ip / sigma_op >= 1")
        if not (isinstance(self.gb_ratio, (int, float)) and self.gb_ratio == np.inf):
            arguments.positive("gb_ratio", self.gb_ratio)
        arguments.positive("gb_thickness_nm", self.gb_thickness_nm, allow_zero=True, unit="nm")
        if arguments.positive("backbone_ratio", self.backbone_ratio) < 1:
            raise ValueError(f"backbone_ratio={self.backbone_ratio!r}: expected sigma_ip / sigma_backbone >= 1")
        arguments.one_of("model", self.model, ("auto",) + MODELS)
        for label, sigma in dict(self.phase_S_per_m).items():
            arguments.integer("phase_S_per_m key", label, minimum=0)
            arguments.positive(f"phase_S_per_m[{label}]", sigma, allow_zero=True, unit="S/m")
        for label in self.backbone_phases:
            arguments.integer("backbone_phases", label, minimum=0)

    @property
    def sigma_op_S_per_m(self) -> float:
        """Conductivity across the conduction planes, S/m."""
        return self.sigma_ip_S_per_m / self.anisotropy

    @property
    def gb_resistance_ohm_m2(self) -> float:
        """Area-specific resistance of a grain boundary, ``thickness / sigma_GB``, ohm m^2."""
        return self.gb_thickness_nm * 1e-9 * self.gb_ratio / self.sigma_ip_S_per_m

    def model_for(self, ndim: int) -> str:
        """The orientation model used on a grid of ``ndim`` dimensions (refuses 2D-only models in 3D)."""
        model = self.model if self.model != "auto" else ("thin_film" if ndim == 2 else "tensor")
        if ndim == 3 and model != "tensor":
            raise ValueError(f"model={self.model!r}: {model!r} describes a 2D section; a 3D twin uses "
                             f"'tensor' (or 'auto')")
        return model

    def replace(self, **changes) -> "Conductivity":
        """A copy with some parameters changed."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values.update(changes)
        return Conductivity(**values)


def layered_tensor(c_axes: np.ndarray, sigma_ip: float, sigma_op: float) -> np.ndarray:
    """Conductivity tensors ``sigma_ip (I - c c^T) + sigma_op c c^T`` of uniaxial layered crystals.

    Parameters
    ----------
    c_axes : ndarray, shape (n, 3)
        Unit c-axes (conduction-plane normals) in sample ``(x, y, z)`` order.
    sigma_ip, sigma_op : float
        In-plane and out-of-plane conductivity (any unit; returned in it).

    Returns
    -------
    ndarray, shape (n, 3, 3)
        Tensors in sample ``(x, y, z)`` order.
    """
    c = np.asarray(c_axes, dtype=float).reshape(-1, 3)
    outer = c[:, :, None] * c[:, None, :]
    return sigma_ip * (np.eye(3) - outer) + sigma_op * outer


def thesis_conductivities(c_axes: np.ndarray, sigma_ip: float, sigma_op: float) -> np.ndarray:
    """``(sigma_x, sigma_y)`` of seeds/003 Equation 4-1 for grains with c-axes ``c_axes`` (n, 3).

    ``alpha`` is the angle between the conduction plane and the section
    (``cos alpha = |c_z|``); the plane's trace in the section is normal to
    the projection ``(c_x, c_y)`` of the c-axis, so ``theta``, the angle
    between the trace and x, has ``|cos theta| = |c_y| / r`` and ``|sin
    theta| = |c_x| / r`` with ``r = sqrt(c_x^2 + c_y^2)``. A plane lying in
    the section (r = 0) has no trace; ``theta = 0`` is taken, which gives
    ``sigma_x = sigma_y = sigma_ip``.
    """
    c = np.asarray(c_axes, dtype=float).reshape(-1, 3)
    r = np.hypot(c[:, 0], c[:, 1])
    flat = r < 1e-12
    cos_t = np.where(flat, 1.0, np.abs(c[:, 1]) / np.where(flat, 1.0, r))
    sin_t = np.where(flat, 0.0, np.abs(c[:, 0]) / np.where(flat, 1.0, r))
    cos_a, sin_a = np.abs(c[:, 2]), r
    sigma_x = sigma_op * sin_a * sin_t + sigma_ip * (cos_t + cos_a * sin_t)
    sigma_y = sigma_ip * (sin_t + cos_a * cos_t) + sigma_op * sin_a * cos_t
    return np.stack([sigma_x, sigma_y], axis=1)


def section_tensors(c_axes: np.ndarray, sigma_ip: float, sigma_op: float, ndim: int, model: str) -> np.ndarray:
    """Conductivity tensors of grains on a grid of ``ndim`` axes, in array-axis order.

    Parameters
    ----------
    c_axes : ndarray, shape (n, 3)
        Unit c-axes in sample ``(x, y, z)`` order.
    sigma_ip, sigma_op : float
        In-plane and out-of-plane conductivity.
    ndim : {2, 3}
        Grid dimension; 2D grids are ``[y, x]`` sections normal to z.
    model : {"tensor", "thin_film", "thesis"}
        See the module docstring.

    Returns
    -------
    ndarray, shape (n, ndim, ndim)
        Tensors with rows and columns in array-axis order (``[z, y, x]``
        or ``[y, x]``): the sample order reversed.
    """
    arguments.one_of("model", model, MODELS)
    if ndim == 3:
        if model != "tensor":
            raise ValueError(f"model={model!r}: only 'tensor' is defined for a 3D grid")
        return layered_tensor(c_axes, sigma_ip, sigma_op)[:, ::-1, ::-1]
    if model == "thesis":
        sx, sy = thesis_conductivities(c_axes, sigma_ip, sigma_op).T
        out = np.zeros((len(sx), 2, 2))
        out[:, 0, 0], out[:, 1, 1] = sy, sx
        return out
    if model == "tensor":
        return layered_tensor(c_axes, sigma_ip, sigma_op)[:, 1::-1, 1::-1]
    c = np.asarray(c_axes, dtype=float).reshape(-1, 3)
    outer = c[:, :, None] * c[:, None, :]
    resistivity = (np.eye(3) - outer) / sigma_ip + outer / sigma_op
    return np.linalg.inv(resistivity[:, :2, :2])[:, ::-1, ::-1]


@dataclass(frozen=True, eq=False)
class ConductivityField:
    """Conductivity of every voxel, stored as an index into a table of tensors.

    Attributes
    ----------
    index : ndarray of int32, grid shape
        Row of ``tensors_S_per_m`` for every voxel; -1 for blocking voxels.
    tensors_S_per_m : ndarray, shape (m, ndim, ndim)
        Symmetric positive-definite conductivity tensors, S/m, array-axis order.
    grain_ids : ndarray of int32, grid shape
        Grain of every voxel (-1 outside grains); a face between two
        different grains carries a grain-boundary resistance.
    gb_resistance_ohm_m2 : float
        Area-specific grain-boundary resistance, ohm m^2.
    voxel_size_um : float
        Voxel edge, um.
    thickness_um : float
        Thickness of a 2D section (the face area is ``voxel x thickness``),
        um; 3D grids ignore it.
    """

    index: np.ndarray
    tensors_S_per_m: np.ndarray
    grain_ids: np.ndarray
    gb_resistance_ohm_m2: float
    voxel_size_um: float
    thickness_um: float

    def __post_init__(self) -> None:
        index = arguments.array("index", self.index, ndim=(2, 3), dtype_kind="iu")
        ndim = index.ndim
        tensors = arguments.array("tensors_S_per_m", self.tensors_S_per_m, ndim=(3,), dtype_kind="iuf",
                                  finite=True)
        if tensors.shape[1:] != (ndim, ndim):
            raise ValueError(f"tensors_S_per_m: expected shape (m, {ndim}, {ndim}) for a {ndim}D grid, "
                             f"got {tensors.shape}")
        if not np.allclose(tensors, tensors.transpose(0, 2, 1), rtol=1e-12, atol=0.0):
            raise ValueError("tensors_S_per_m: expected symmetric tensors")
        if len(tensors) and np.linalg.eigvalsh(tensors).min() <= 0:
            raise ValueError("tensors_S_per_m: expected positive-definite tensors (a blocking voxel has "
                             "index -1, not a zero tensor)")
        if index.size and (index.min() < -1 or index.max() >= len(tensors)):
            raise ValueError(f"index: expected values in [-1, {len(tensors) - 1}], got "
                             f"[{index.min()}, {index.max()}]")
        arguments.array("grain_ids", self.grain_ids, shape=index.shape, dtype_kind="iu")
        arguments.positive("gb_resistance_ohm_m2", self.gb_resistance_ohm_m2, allow_zero=True, unit="ohm m^2")
        arguments.positive("voxel_size_um", self.voxel_size_um, unit="um")
        arguments.positive("thickness_um", self.thickness_um, unit="um")

    @property
    def shape(self) -> tuple[int, ...]:
        return self.index.shape

    @property
    def ndim(self) -> int:
        return self.index.ndim

    @property
    def face_area_m2(self) -> float:
        """Area of a face between two voxels, m^2."""
        h = self.voxel_size_um * 1e-6
        return h * h if self.ndim == 3 else h * self.thickness_um * 1e-6

    def axial(self, axis: int) -> np.ndarray:
        """Conductivity along array axis ``axis`` of every voxel, S/m (0 where blocking); float64, grid shape."""
        table = np.append(self.tensors_S_per_m[:, axis, axis], 0.0)
        return table[self.index]

    def conducting(self) -> np.ndarray:
        """Boolean mask of voxels that conduct."""
        return self.index >= 0


def conductivity_field(twin: Twin, conductivity: Conductivity | None = None, *,
                       thickness_um: float | None = None) -> ConductivityField:
    """Per-voxel conductivity of a twin under ``conductivity``.

    Voxels of a grain (``twin.grain_ids >= 0``) get their grain's tensor
    (layered crystal, ``conductivity.model``); voxels of a label in
    ``conductivity.backbone_phases`` the isotropic backbone conductivity;
    other voxels the isotropic ``conductivity.phase_S_per_m`` of their label,
    or block when their label is not listed.

    Parameters
    ----------
    twin : Twin
        2D or 3D twin; its orientations give the c-axes.
    conductivity : Conductivity, optional
        Parameters; default those of seeds/003.
    thickness_um : float, optional
        Thickness of a 2D section, um; default one voxel.

    Returns
    -------
    ConductivityField
    """
    if not isinstance(twin, Twin):
        raise TypeError(f"twin={twin!r}: expected a twin.Twin")
    conductivity = Conductivity() if conductivity is None else conductivity
    if not isinstance(conductivity, Conductivity):
        raise TypeError(f"conductivity={conductivity!r}: expected a forward.conduction.Conductivity")
    ndim = twin.ndim
    model = conductivity.model_for(ndim)
    thickness = twin.voxel_size_um if thickness_um is None else arguments.positive(
        "thickness_um", thickness_um, unit="um")
    for label in list(conductivity.phase_S_per_m) + list(conductivity.backbone_phases):
        if label not in twin.phases:
            raise ValueError(f"phase label {label!r} in conductivity: expected one of the twin's labels "
                             f"{sorted(twin.phases)}")
    sigma_ip, sigma_op = conductivity.sigma_ip_S_per_m, conductivity.sigma_op_S_per_m
    grains = twin.grain_ids if twin.grain_ids is not None else np.full(twin.shape, -1, np.int32)
    n_grains = twin.n_grains
    tensors = [section_tensors(_c_axes(twin.orientations), sigma_ip, sigma_op, ndim, model)
               if n_grains else np.zeros((0, ndim, ndim))]
    index = np.where(grains >= 0, grains, -1).astype(np.int32)
    phase_sigma = dict(conductivity.phase_S_per_m)
    for label in conductivity.backbone_phases:
        phase_sigma[label] = sigma_ip / conductivity.backbone_ratio
    row = n_grains
    for label, sigma in sorted(phase_sigma.items()):
        if sigma == 0:
            continue
        index[(twin.labels == label) & (grains < 0)] = row
        tensors.append(sigma * np.eye(ndim)[None])
        row += 1
    return ConductivityField(index=index, tensors_S_per_m=np.concatenate(tensors),
                             grain_ids=grains.astype(np.int32), voxel_size_um=twin.voxel_size_um,
                             gb_resistance_ohm_m2=conductivity.gb_resistance_ohm_m2
                             if np.isfinite(conductivity.gb_ratio) else 0.0,
                             thickness_um=thickness)


def field_from_labels(labels: np.ndarray, phase_S_per_m: Mapping[int, float], *, voxel_size_um: float,
                      thickness_um: float | None = None) -> ConductivityField:
    """Isotropic per-voxel conductivity of a labelled image (no grains), e.g. a segmented tomogram.

    Parameters
    ----------
    labels : ndarray of int, 2D or 3D
        Phase label of every voxel.
    phase_S_per_m : mapping of int to float
        Conductivity of each conducting label, S/m; other labels block.
    voxel_size_um : float
        Voxel edge, um.
    thickness_um : float, optional
        Thickness of a 2D image, um; default one voxel.
    """
    labels = arguments.array("labels", labels, ndim=(2, 3), dtype_kind="iu")
    voxel = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    index = np.full(labels.shape, -1, np.int32)
    tensors = [np.zeros((0, labels.ndim, labels.ndim))]
    for label, sigma in sorted(dict(phase_S_per_m).items()):
        label = arguments.integer("phase_S_per_m key", label, minimum=0)
        sigma = arguments.positive(f"phase_S_per_m[{label}]", sigma, allow_zero=True, unit="S/m")
        if sigma > 0:
            index[labels == label] = len(tensors) - 1
            tensors.append(sigma * np.eye(labels.ndim)[None])
    return ConductivityField(index=index, tensors_S_per_m=np.concatenate(tensors),
                             grain_ids=np.full(labels.shape, -1, np.int32), gb_resistance_ohm_m2=0.0,
                             voxel_size_um=voxel,
                             thickness_um=voxel if thickness_um is None else arguments.positive(
                                 "thickness_um", thickness_um, unit="um"))
