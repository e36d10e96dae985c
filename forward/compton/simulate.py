"""Simulate an XCS data cube from a twin: eq. (1) of seeds/001 voxel by voxel, a pinhole camera and a HEXITEC.

Geometry (seeds/001, section 2.1 and Fig. 1)
--------------------------------------------
The twin is ``[z, y, x]`` with z the cell axis (vertical). A sheet beam, ``sheet_width_mm`` wide along y
and ``sheet_thickness_um`` thick along z (25 mm x 0.25 mm in the source), travels horizontally along +x at
the height ``sheet_z_um`` (measured from the grid's lower z face), so the xy plane at that height is
illuminated; a voxel takes the part of its height inside the sheet (top-hat profile). The pinhole camera
(:class:`forward.compton.camera.PinholeCamera`) looks down the cell axis onto that plane from above;
its axis meets the sheet at the look-at point, the lateral centre of the grid unless ``centre_yx_um`` is
given. The synchrotron beam is linearly polarised horizontally, i.e. along y; scattering towards the camera
is in the vertical plane, where the Klein-Nishina cross section is largest (azimuth 90 deg from the
polarisation).

Eq. (1), per illuminated voxel v (seeds/001, eq. 1)
---------------------------------------------------
    N_C,v = phi0 t1 t2 n_e dV (dsigma_KN/dOmega)(E1, theta_v, phi_v) Omega_v          (Compton, counts)
    N_R,v = phi0 t1 t2' dV (dsigma_R/dOmega)(E1, theta_v, phi_v) Omega_v              (Rayleigh, counts)

with ``phi0 = flux_ph_per_s exposure_s / (sheet width x thickness)`` (photons per cm^2), t1 the
transmission from the face where the beam enters the grid (x = 0) to the voxel centre at E1, t2 the
transmission from the voxel centre along the ray to the pinhole at the Compton energy of the camera axis
(93.6 keV at 90 deg) and t2' the same at E1, n_e the electron density, dV the illuminated volume, theta_v
and phi_v the scattering angle and azimuth of the ray to the pinhole centre, and Omega_v the solid angle
of the pinhole (:meth:`PinholeCamera.solid_angle_sr`). Cross sections from :mod:`forward.compton.physics`
(Klein-Nishina per electron; Rayleigh with xraylib form factors). The Compton counts are spread over E2
with the per-electron line shape S(E2) of the voxel's material (impulse approximation,
:func:`physics.line_shape_per_kev`, integral <= 1 through the binding cut-off); the Rayleigh counts form a
line at E1.

Approximations, stated
----------------------
* Attenuation outside the twin's grid (air between the cell and the pinhole, the beam path before the
  grid) is neglected; attenuation uses the phase materials (the Li field changes mu by < 0.1 %).
* t2 of the whole Compton line is taken at the Compton energy of the camera axis (93.6 keV): across the
  field the peak moves by +-1 keV, which changes mu of steel by ~2 %, t2 by < 0.5 % through 0.75 mm of
  steel. The ray to the pinhole is sampled once per z slice at its crossing of the slice centre
  (nearest voxel laterally), path s / cos.
* The line shape of a detector pixel uses the scattering angle of that pixel's ray through the pinhole
  centre (every point imaged on a pixel lies on that ray), interpolated linearly between angle nodes
  ``angle_step_deg`` apart; the Klein-Nishina and Rayleigh factors use each voxel's own angle.
* The beam's bandwidth (1e-3, 0.11 keV) is neglected against the detector resolution.
* Spatial mapping: each voxel centre is projected through the pinhole centre and deposited bilinearly on
  a detector grid ``oversample`` times finer than the pixels, blurred by the pinhole's disc
  (:meth:`PinholeCamera.blur_kernel`) and summed into pixels; light imaged outside the detector is lost.

Vectorisation and cost
----------------------
Voxels are grouped by material: per-pixel weights per material (one ``np.bincount``), then spectra =
sparse(pixels x (materials x angle nodes)) @ (line shapes @ detector response^T): the cube costs
O(N sheet voxels + N materials x N angles x N energies x N channels + N pixels x N channels), not
O(N voxels x N energies). The t2 rays cost O(N sheet voxels x N slices above the sheet). A 256^3 coin
cell into 80 x 80 x 1000 channels takes a few seconds (benchmarks/bench_compton.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import scipy.sparse
from scipy.signal import fftconvolve

import xtwin
from forward.compton import physics
from forward.compton.camera import PinholeCamera
from forward.compton.measurement import Measurement
from twin.container import Twin
from twin.materials import Material
from xtwin import arguments

__all__ = ["SheetScatter", "coin_cell_cathode", "incident_spectra", "sheet_scatter", "simulate", "voxel_materials"]

#: Host and electrolyte of the coin-cell variants (twin/generators/coin_cell.py, docstring: "a forward
#: model that resolves composition should use mix_by_volume([(materials.get(host, x), 1 - porosity - cbd),
#: (electrolyte, porosity), (cbd, cbd)])").
_COIN_CELL = {"lib": ("Li_x NMC811", "LiPF6 EC:DMC"), "ssb": ("Li_x NMC622", "PEO+LiTFSI")}
_COIN_CELL_GENERATOR = "twin.generators.coin_cell.coin_cell"
#: Default detector geometry and channels when simulating without a detector (HEXITEC, seeds/001 2.1).
_DEFAULT_SHAPE = (80, 80)
_DEFAULT_PIXEL_UM = 250.0
_DEFAULT_EDGES_KEV = np.linspace(0.0, 200.0, 1001)
#: Lowest energy of the incident-spectrum grid, keV (below, the line shapes are negligible and xraylib stops).
_MIN_INPUT_KEV = 1.0


# ---------------------------------------------------------------------- composition
def coin_cell_cathode(twin: Twin) -> Callable[[float], Material]:
    """The homogenised cathode of a coin-cell twin at Li content x, as the generator builds it at its mean x.

    Uses the twin's provenance (``variant``) and truth (``cathode/porosity``,
    ``cathode/cbd_volume_fraction``) and the recipe of ``twin.generators.coin_cell``: mix by volume of
    the host at x, the electrolyte and the carbon-binder (carbon black + PVDF 1:1 by mass).
    """
    from twin import materials
    from twin.materials import mix_by_mass, mix_by_volume

    if twin.provenance.generator != _COIN_CELL_GENERATOR:
        raise ValueError(f"twin: expected a twin from {_COIN_CELL_GENERATOR}, got one from "
                         f"{twin.provenance.generator!r}")
    variant = twin.provenance.parameters.get("variant")
    if variant not in _COIN_CELL:
        raise ValueError(f"twin: coin-cell variant {variant!r} unknown; expected one of {', '.join(_COIN_CELL)}")
    host_name, electrolyte_name = _COIN_CELL[variant]
    phi = float(twin.truth["cathode/porosity"])
    cbd = float(twin.truth["cathode/cbd_volume_fraction"])
    electrolyte = materials.get(electrolyte_name)
    cbd_material = mix_by_mass("carbon-binder (carbon black + PVDF 1:1)",
                               [(materials.get("carbon black"), 0.5), (materials.get("PVDF"), 0.5)])

    def at(x: float) -> Material:
        host = materials.get(host_name, x=float(x))
        parts = [(host, 1 - phi - cbd), (electrolyte, phi)] + ([(cbd_material, cbd)] if cbd > 0 else [])
        return mix_by_volume(f"cathode ({host_name} x={float(x):.4g}, porosity {phi:g})", parts)

    return at


def voxel_materials(twin: Twin, field_materials: Mapping[int, Callable[[float], Material]] | None = None, *,
                    field_name: str = "x_li", field_step: float = 0.01) -> tuple[np.ndarray, list[Material]]:
    """Material index of every voxel and the list of materials: one per phase, plus one per field level.

    Voxels of a label in ``field_materials`` whose field ``field_name`` is finite take the material
    ``field_materials[label](x)`` with x rounded to a multiple of ``field_step`` (one material per distinct
    level); others take their phase's material. Returns (index array of the twin's shape, int32; materials).
    O(N voxels).
    """
    labels = sorted(twin.phases)
    mats = [twin.phases[k] for k in labels]
    table = np.zeros(max(labels) + 1, dtype=np.int32)
    table[labels] = np.arange(len(labels))
    index = table[twin.labels]
    if not field_materials:
        return index, mats
    step = arguments.positive("field_step", field_step)
    if field_name not in twin.fields:
        raise ValueError(f"field_name={field_name!r}: the twin has no such field; it has {sorted(twin.fields)}")
    values = twin.fields[field_name]
    for label, make in field_materials.items():
        if label not in twin.phases:
            raise ValueError(f"field_materials: label {label!r} is not a phase of the twin ({sorted(twin.phases)})")
        where = (twin.labels == label) & np.isfinite(values)
        if not where.any():
            continue
        level = np.round(values[where] / step).astype(np.int64)
        distinct, inverse = np.unique(level, return_inverse=True)
        start = len(mats)
        mats.extend(make(float(k * step)) for k in distinct)
        index[where] = start + inverse.astype(np.int32)
    return index, mats


def _default_field_materials(twin: Twin) -> dict[int, Callable[[float], Material]] | None:
    if twin.provenance.generator == _COIN_CELL_GENERATOR and "x_li" in twin.fields:
        return {int(twin.truth["cathode/label"]): coin_cell_cathode(twin)}
    return None


# ---------------------------------------------------------------------- eq. (1) per voxel
@dataclass(frozen=True)
class SheetScatter:
    """Per-voxel terms of eq. (1) for the illuminated voxels (flat arrays of length N).

    Attributes
    ----------
    points_um : (N, 3)
        Voxel centres (z, y, x) relative to the look-at point, um.
    material : (N,) int
        Index into ``materials``.
    materials : list of Material
    volume_cm3 : (N,)
        Illuminated volume dV (voxel volume x its fraction inside the sheet), cm^3.
    t1, t2_compton, t2_rayleigh : (N,)
        Transmissions (module docstring).
    angle_deg, azimuth_deg : (N,)
        Scattering angle and azimuth (from the polarisation, y) of the ray to the pinhole, deg.
    solid_angle_sr : (N,)
        Pinhole solid angle, sr.
    compton_counts, rayleigh_counts : (N,)
        N_C,v and N_R,v of eq. (1), expected photons reaching the pinhole.
    phi0_per_cm2 : float
        Photons per cm^2 of sheet cross section during the exposure.
    t2_energy_kev : float
        Energy at which t2 of the Compton line is evaluated, keV.
    """

    points_um: np.ndarray
    material: np.ndarray
    materials: list
    volume_cm3: np.ndarray
    t1: np.ndarray
    t2_compton: np.ndarray
    t2_rayleigh: np.ndarray
    angle_deg: np.ndarray
    azimuth_deg: np.ndarray
    solid_angle_sr: np.ndarray
    compton_counts: np.ndarray
    rayleigh_counts: np.ndarray
    phi0_per_cm2: float
    t2_energy_kev: float


def _overlap(lo: np.ndarray, hi: np.ndarray, a: float, b: float) -> np.ndarray:
    """Length of [lo, hi] inside [a, b]."""
    return np.clip(np.minimum(hi, b) - np.maximum(lo, a), 0.0, None)


def sheet_scatter(twin: Twin, *, sheet_z_um: float, flux_ph_per_s: float, exposure_s: float,
                  sheet_thickness_um: float = 250.0, sheet_width_mm: float = 25.0,
                  energy_kev: float = physics.INCIDENT_KEV, camera: PinholeCamera | None = None,
                  polarisation: float = 1.0, centre_yx_um: tuple[float, float] | None = None,
                  field_materials: Any = "auto", field_step: float = 0.01) -> SheetScatter:
    """The terms of eq. (1) of seeds/001 for every illuminated voxel of a 3D twin (module docstring).

    Parameters
    ----------
    twin : Twin
        3D, ``[z, y, x]``, z the cell axis.
    sheet_z_um : float
        Height of the sheet's centre above the grid's lower z face, um.
    flux_ph_per_s : float
        Photons per second through the sheet's cross section.
    exposure_s : float
        Acquisition time, s.
    sheet_thickness_um, sheet_width_mm : float
        Sheet thickness (z) and width (y); 250 um and 25 mm in the source.
    energy_kev : float
        Incident energy E1, keV (114.64).
    camera : PinholeCamera
        Default: the source's (200 um, 160 mm : 160 mm, 90 deg).
    polarisation : float
        Degree of linear (horizontal, y) polarisation of the beam, in [0, 1]; 1 by default (synchrotron
        beam in the orbit plane; the source does not state it).
    centre_yx_um : (float, float), optional
        Look-at point (y, x) in the grid frame, um; default the lateral centre of the grid.
    field_materials : "auto", None or mapping label -> callable(x) -> Material
        Per-voxel composition from the field ``x_li`` (:func:`voxel_materials`); ``"auto"`` does this for
        the cathode of a coin-cell twin and nothing otherwise.
    field_step : float
        Resolution of the field levels (one material per level).

    Returns
    -------
    SheetScatter

    Notes
    -----
    Cost: O(N voxels) for the material map, O(N sheet voxels x N z slices above the sheet) for t2.
    """
    if not isinstance(twin, Twin):
        raise TypeError(f"twin={twin!r}: expected a twin.Twin")
    if twin.ndim != 3:
        raise ValueError(f"twin: expected a 3D twin [z, y, x] (the sheet illuminates an xy plane), got shape "
                         f"{twin.shape}")
    camera = PinholeCamera() if camera is None else camera
    if not isinstance(camera, PinholeCamera):
        raise TypeError(f"camera={camera!r}: expected a forward.compton.camera.PinholeCamera")
    e1 = float(arguments.energies_kev("energy_kev", energy_kev))
    flux = arguments.positive("flux_ph_per_s", flux_ph_per_s, unit="photons/s")
    exposure = arguments.positive("exposure_s", exposure_s, unit="s")
    thickness = arguments.positive("sheet_thickness_um", sheet_thickness_um, unit="um")
    width_um = 1000.0 * arguments.positive("sheet_width_mm", sheet_width_mm, unit="mm")
    pol = arguments.in_range("polarisation", polarisation, 0.0, 1.0)
    s = twin.voxel_size_um
    nz, ny, nx = twin.shape
    zc = arguments.in_range("sheet_z_um", sheet_z_um, 0.0, nz * s, unit="um")
    if centre_yx_um is None:
        yc, xc = 0.5 * ny * s, 0.5 * nx * s
    else:
        if not isinstance(centre_yx_um, (tuple, list)) or len(centre_yx_um) != 2:
            raise ValueError(f"centre_yx_um={centre_yx_um!r}: expected (y, x) in um")
        yc = arguments.finite("centre_yx_um[0]", centre_yx_um[0], unit="um")
        xc = arguments.finite("centre_yx_um[1]", centre_yx_um[1], unit="um")

    # Sheet slices and their fraction inside the sheet; lateral fraction inside the beam width.
    z_lo = np.arange(nz) * s
    fz = _overlap(z_lo, z_lo + s, zc - thickness / 2, zc + thickness / 2) / s
    slices = np.flatnonzero(fz > 0)
    y_lo = np.arange(ny) * s
    fy = _overlap(y_lo, y_lo + s, yc - width_um / 2, yc + width_um / 2) / s

    if isinstance(field_materials, str):
        arguments.one_of("field_materials", field_materials, ("auto",))
        field_materials = _default_field_materials(twin)
    index, mats = voxel_materials(twin, field_materials, field_step=field_step)
    n_e = np.array([0.0 if (m.is_vacuum or not m.mass_fractions) else physics.electron_density_per_cm3(m)
                    for m in mats])

    # Attenuation per phase (1/um) at E1 and at the Compton energy of the camera axis.
    e_t2 = float(physics.compton_energy_kev(e1, camera.angle_deg))
    labels = sorted(twin.phases)
    mu_table = np.zeros((max(labels) + 1, 2), dtype=np.float32)
    for k in labels:
        m = twin.phases[k]
        mu_table[k] = [0.0, 0.0] if m.is_vacuum else m.linear_attenuation_per_cm(np.array([e1, e_t2])) * 1e-4

    # Illuminated voxels (scattering material, inside the beam).
    sub = index[slices]  # (n_slices, ny, nx)
    weight_geom = fz[slices][:, None, None] * fy[None, :, None] * np.ones((1, 1, nx))
    keep = (weight_geom > 0) & (n_e[sub] > 0)
    kk, jj, ii = np.nonzero(keep)
    k_vox = slices[kk]
    points = np.stack([(k_vox + 0.5) * s - zc, (jj + 0.5) * s - yc, (ii + 0.5) * s - xc], axis=-1)
    mat = sub[kk, jj, ii]
    volume_cm3 = weight_geom[kk, jj, ii] * s**3 * 1e-12

    # t1: along +x from the grid's entrance face to the voxel centre, at E1.
    mu1_sheet = mu_table[twin.labels[slices], 0].astype(np.float64)  # (n_slices, ny, nx), 1/um
    optical = (np.cumsum(mu1_sheet, axis=2) - 0.5 * mu1_sheet) * s
    t1 = np.exp(-optical[kk, jj, ii])

    # t2: along the ray to the pinhole, one sample per z slice above the voxel (module docstring).
    k2, _ = camera.directions(points)
    if np.any(k2[:, 0] <= 0):
        raise ValueError("camera: expected the pinhole above the sheet (rays towards +z)")
    t2c, t2r = _ray_transmission(twin.labels, mu_table, s, k_vox, points, k2, zc, yc, xc)

    angle = np.degrees(np.arccos(np.clip(k2[:, 2], -1.0, 1.0)))
    azimuth = np.degrees(np.arctan2(k2[:, 0], k2[:, 1]))  # from the polarisation (y) towards z
    omega = camera.solid_angle_sr(points)
    phi0 = flux * exposure / (width_um * thickness * 1e-8)  # photons per cm^2
    kn = physics.klein_nishina_dsigma_domega_cm2(e1, angle, polarised=pol, azimuth_deg=azimuth)
    compton = phi0 * t1 * t2c * n_e[mat] * volume_cm3 * kn * omega
    rayleigh = np.zeros_like(compton)
    for m in np.unique(mat):
        sel = mat == m
        dcs = physics.rayleigh_dsigma_domega_per_cm(mats[m], e1, angle[sel], polarised=pol,
                                                    azimuth_deg=azimuth[sel])
        rayleigh[sel] = phi0 * t1[sel] * t2r[sel] * volume_cm3[sel] * dcs * omega[sel]
    return SheetScatter(points, mat, mats, volume_cm3, t1, t2c, t2r, angle, azimuth, omega, compton, rayleigh,
                        phi0, e_t2)


def _ray_transmission(labels: np.ndarray, mu_table: np.ndarray, s: float, k_vox: np.ndarray, points: np.ndarray,
                      k2: np.ndarray, zc: float, yc: float, xc: float) -> tuple[np.ndarray, np.ndarray]:
    """exp(-int mu dl) from each voxel centre towards the pinhole at the two energies of ``mu_table``.

    Half a slice in the voxel's own slice, then one nearest-voxel sample per slice above, path s / k2_z.
    Loops over z slices (not voxels): O(N rays x N slices).
    """
    nz, ny, nx = labels.shape
    step = s / k2[:, 0]
    y0, x0 = points[:, 1] + yc, points[:, 2] + xc  # grid frame, um
    z0 = points[:, 0] + zc
    tau = mu_table[labels[k_vox, ((y0 / s).astype(np.intp)), ((x0 / s).astype(np.intp))]].astype(np.float64)
    tau *= 0.5 * step[:, None]
    slope_y, slope_x = k2[:, 1] / k2[:, 0], k2[:, 2] / k2[:, 0]
    for k in range(int(k_vox.min()) + 1, nz):
        active = np.flatnonzero(k_vox < k)
        dz = (k + 0.5) * s - z0[active]
        iy = np.floor((y0[active] + slope_y[active] * dz) / s).astype(np.intp)
        ix = np.floor((x0[active] + slope_x[active] * dz) / s).astype(np.intp)
        inside = (iy >= 0) & (iy < ny) & (ix >= 0) & (ix < nx)
        rows = active[inside]
        tau[rows] += mu_table[labels[k, iy[inside], ix[inside]]] * step[rows, None]
    return np.exp(-tau[:, 1]), np.exp(-tau[:, 0])


# ---------------------------------------------------------------------- voxels -> pixels
def _pixel_weights(scatter: SheetScatter, camera: PinholeCamera, pixel_um: float, shape: tuple[int, int],
                   oversample: int) -> np.ndarray:
    """Counts reaching each pixel, per material (Compton) and in total (Rayleigh): (rows, cols, n_mat + 1)."""
    rows, cols = shape
    o = oversample
    kernel = camera.blur_kernel(pixel_um, o)
    pad = kernel.shape[0] // 2 + 1
    fr_n, fc_n = rows * o + 2 * pad, cols * o + 2 * pad
    rc = camera.project(scatter.points_um, pixel_um, shape)
    fr = (rc[:, 0] + 0.5) * o - 0.5 + pad  # fine-grid coordinates (centres at integers)
    fc = (rc[:, 1] + 0.5) * o - 0.5 + pad
    n_mat = len(scatter.materials)
    layer = np.concatenate([scatter.material, np.full(scatter.material.size, n_mat)])
    values = np.concatenate([scatter.compton_counts, scatter.rayleigh_counts])
    fr, fc = np.tile(fr, 2), np.tile(fc, 2)
    r0, c0 = np.floor(fr).astype(np.intp), np.floor(fc).astype(np.intp)
    tr, tc = fr - r0, fc - c0
    size = (n_mat + 1) * fr_n * fc_n
    fine = np.zeros(size)
    for dr, dc, w in ((0, 0, (1 - tr) * (1 - tc)), (0, 1, (1 - tr) * tc), (1, 0, tr * (1 - tc)), (1, 1, tr * tc)):
        r, c = r0 + dr, c0 + dc
        ok = (r >= 0) & (r < fr_n) & (c >= 0) & (c < fc_n)
        flat = (layer[ok] * fr_n + r[ok]) * fc_n + c[ok]
        fine += np.bincount(flat, weights=(values * w)[ok], minlength=size)
    fine = fine.reshape(n_mat + 1, fr_n, fc_n)
    used = np.flatnonzero(fine.reshape(n_mat + 1, -1).any(axis=1))
    blurred = np.zeros_like(fine)
    if used.size:
        blurred[used] = np.maximum(fftconvolve(fine[used], kernel[None], mode="same", axes=(1, 2)), 0.0)
    crop = blurred[:, pad:pad + rows * o, pad:pad + cols * o]
    return crop.reshape(n_mat + 1, rows, o, cols, o).sum(axis=(2, 4)).transpose(1, 2, 0)


# ---------------------------------------------------------------------- the cube
def _detector_geometry(detector: Any) -> tuple[tuple[int, int], float, np.ndarray]:
    if detector is None:
        return _DEFAULT_SHAPE, _DEFAULT_PIXEL_UM, _DEFAULT_EDGES_KEV
    from forward.compton.detector import Hexitec

    if not isinstance(detector, Hexitec):
        raise TypeError(f"detector={detector!r}: expected a forward.compton.detector.Hexitec, 'hexitec' or None")
    return tuple(detector.shape_px), float(detector.pixel_um), np.asarray(detector.edges_kev, dtype=float)


def incident_spectra(scatter: SheetScatter, camera: PinholeCamera, *, pixel_um: float, shape: tuple[int, int],
                     energies_kev: np.ndarray, widths_kev: np.ndarray, energy_kev: float,
                     oversample: int = 4, angle_step_deg: float = 0.1) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """Factors of the photons reaching each pixel per energy bin: (A, B) with spectra = A @ B.

    A: sparse (n_pixels, n_mat x n_angles + 1) per-pixel counts per material and angle node (linear
    interpolation in the pixel's scattering angle) and the Rayleigh counts in the last column; B:
    (n_mat x n_angles + 1, n_E) line shapes (per-electron S(E2), 1/keV, times the bin width) and the
    Rayleigh line at E1 (split linearly between the two nodes around it). Pixels in row-major order.
    """
    w = _pixel_weights(scatter, camera, pixel_um, shape, oversample)  # (rows, cols, n_mat + 1)
    n_mat = len(scatter.materials)
    theta = camera.pixel_scattering_angle_deg(pixel_um, shape).ravel()
    lo, hi = float(theta.min()), float(theta.max())
    n_nodes = max(2, int(math.ceil((hi - lo) / angle_step_deg)) + 1)
    nodes = np.linspace(lo, hi if hi > lo else lo + angle_step_deg, n_nodes)
    pos = (theta - nodes[0]) / (nodes[1] - nodes[0])
    j = np.clip(np.floor(pos).astype(np.intp), 0, n_nodes - 2)
    a = pos - j
    n_pix = theta.size
    flat = w.reshape(n_pix, n_mat + 1)
    present = np.flatnonzero(flat[:, :n_mat].any(axis=0))
    rows_idx, cols_idx, vals = [], [], []
    pix = np.arange(n_pix)
    for m in present:
        for node, frac in ((j, 1 - a), (j + 1, a)):
            rows_idx.append(pix)
            cols_idx.append(m * n_nodes + node)
            vals.append(flat[:, m] * frac)
    rows_idx.append(pix)
    cols_idx.append(np.full(n_pix, n_mat * n_nodes))
    vals.append(flat[:, n_mat])
    n_cols = n_mat * n_nodes + 1
    a_mat = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows_idx), np.concatenate(cols_idx))),
                                    shape=(n_pix, n_cols))
    b_mat = np.zeros((n_cols, energies_kev.size))
    for m in present:
        b_mat[m * n_nodes:(m + 1) * n_nodes] = physics.line_shape_per_kev(
            scatter.materials[m], energy_kev, nodes[:, None], energies_kev[None, :]) * widths_kev[None, :]
    k = np.searchsorted(energies_kev, energy_kev) - 1
    if 0 <= k < energies_kev.size - 1:
        frac = (energy_kev - energies_kev[k]) / (energies_kev[k + 1] - energies_kev[k])
        b_mat[-1, k], b_mat[-1, k + 1] = 1 - frac, frac
    return a_mat, b_mat


def simulate(twin: Twin, *, sheet_z_um: float, flux_ph_per_s: float, exposure_s: float,
             sheet_thickness_um: float = 250.0, sheet_width_mm: float = 25.0,
             energy_kev: float = physics.INCIDENT_KEV, camera: PinholeCamera | None = None, detector: Any = "hexitec",
             seed: int = 0, noise: bool = True, polarisation: float = 1.0,
             centre_yx_um: tuple[float, float] | None = None, field_materials: Any = "auto",
             field_step: float = 0.01, oversample: int = 4, angle_step_deg: float = 0.1) -> Measurement:
    """Simulate the XCS data cube of a sheet through a twin (module docstring; seeds/001 eq. 1).

    Parameters
    ----------
    twin, sheet_z_um, flux_ph_per_s, exposure_s, sheet_thickness_um, sheet_width_mm, energy_kev, camera,
    polarisation, centre_yx_um, field_materials, field_step
        As in :func:`sheet_scatter`.
    detector : Hexitec, "hexitec" or None
        ``"hexitec"``: ``forward.compton.detector.Hexitec()`` (the source's). None: an ideal detector -
        the photons reaching each pixel (80 x 80 x 250 um) per 0.2 keV channel, float, without response
        and without noise (``noise`` is ignored).
    seed : int
        Seed of the Poisson draws (and charge sharing) of the detector.
    noise : bool
        Poisson counts (int) or expected counts (float).
    oversample : int
        Sub-pixels per pixel edge for the voxel -> pixel mapping and the blur (4).
    angle_step_deg : float
        Spacing of the scattering-angle nodes of the line shapes, deg (0.1: the peak moves 0.03 keV
        between nodes).

    Returns
    -------
    Measurement
        Cube (rows, columns, channels), the detector's pixel pitch, exposure and metadata (simulation
        parameters, camera, twin provenance; ``metadata["simulation"]`` holds the totals of eq. (1)).

    Notes
    -----
    Cost: :func:`sheet_scatter`, one ``bincount`` and FFT blur per material, the line-shape table
    (N materials x N angle nodes x N energies), one sparse matmul for the incident cube and one dense
    matmul with the detector response (with the W/Pb fluorescence and frame-rate limit of
    :func:`forward.compton.detector.expected_counts`). The 256^3 coin cell into 80 x 80 x 1000 channels: a few
    seconds on two cores (benchmarks/bench_compton.py: 8.4 s).
    """
    if isinstance(detector, str):
        arguments.one_of("detector", detector, ("hexitec",))
        from forward.compton.detector import Hexitec

        detector = Hexitec()
    camera = PinholeCamera() if camera is None else camera
    seed = arguments.integer("seed", seed, minimum=0)
    o = arguments.integer("oversample", oversample, minimum=1)
    step = arguments.positive("angle_step_deg", angle_step_deg, unit="deg")
    scatter = sheet_scatter(twin, sheet_z_um=sheet_z_um, flux_ph_per_s=flux_ph_per_s, exposure_s=exposure_s,
                            sheet_thickness_um=sheet_thickness_um, sheet_width_mm=sheet_width_mm,
                            energy_kev=energy_kev, camera=camera, polarisation=polarisation,
                            centre_yx_um=centre_yx_um, field_materials=field_materials, field_step=field_step)
    e1 = float(energy_kev)
    scatter_exposure = float(exposure_s)
    shape, pixel_um, edges = _detector_geometry(detector)
    centres = 0.5 * (edges[1:] + edges[:-1])
    widths = np.diff(edges)
    use = (centres >= _MIN_INPUT_KEV) & (centres <= e1 + 2.0 * widths.max())
    a_mat, b_mat = incident_spectra(scatter, camera, pixel_um=pixel_um, shape=shape, energies_kev=centres[use],
                                    widths_kev=widths[use], energy_kev=e1, oversample=o, angle_step_deg=step)
    incident = np.asarray(a_mat @ b_mat).reshape(shape + (b_mat.shape[1],))  # photons per pixel and input bin
    if detector is None:
        counts = np.zeros(shape + (centres.size,))
        counts[..., use] = incident
    else:
        from forward.compton import detector as hexitec

        matrices = hexitec.response_matrices(detector, centres[use])
        expected = hexitec.expected_counts(detector, incident / scatter_exposure, exposure_s=scatter_exposure,
                                           matrices=matrices)
        counts = hexitec.counts(expected, seed) if noise else expected
    metadata = _metadata(twin, scatter, camera, detector, sheet_z_um=float(sheet_z_um),
                         sheet_thickness_um=float(sheet_thickness_um), sheet_width_mm=float(sheet_width_mm),
                         energy_kev=e1, flux_ph_per_s=float(flux_ph_per_s), polarisation=float(polarisation),
                         seed=seed, noise=bool(noise) and detector is not None, oversample=o, angle_step_deg=step,
                         centre_yx_um=None if centre_yx_um is None else [float(v) for v in centre_yx_um])
    return Measurement(counts, edges, pixel_um=pixel_um, exposure_s=float(exposure_s), metadata=metadata)


def _metadata(twin: Twin, scatter: SheetScatter, camera: PinholeCamera, detector: Any, **sim: Any) -> dict:
    prov = twin.provenance
    return {
        "simulation": {"function": "forward.compton.simulate.simulate", "xtwin_version": xtwin.__version__,
                       **sim, "phi0_per_cm2": scatter.phi0_per_cm2, "t2_energy_kev": scatter.t2_energy_kev,
                       "illuminated_voxels": int(scatter.material.size),
                       "compton_counts_at_pinhole": float(scatter.compton_counts.sum()),
                       "rayleigh_counts_at_pinhole": float(scatter.rayleigh_counts.sum()),
                       "image_inverted": True},
        "camera": {"pinhole_diameter_um": camera.pinhole_diameter_um,
                   "pinhole_to_sheet_mm": camera.pinhole_to_sheet_mm,
                   "detector_to_pinhole_mm": camera.detector_to_pinhole_mm, "angle_deg": camera.angle_deg,
                   "acceptance_deg": camera.acceptance_deg, "tungsten_mm": camera.tungsten_mm,
                   "channel": camera.channel, "magnification": camera.magnification},
        "detector": None if detector is None else repr(detector),
        "twin": {"generator": prov.generator, "parameters": dict(prov.parameters), "seed": prov.seed,
                 "shape": list(twin.shape), "voxel_size_um": twin.voxel_size_um,
                 "phases": {str(k): v for k, v in twin.phase_names().items()}},
    }
