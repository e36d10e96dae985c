"""Tomographic projectors: X-ray transforms of a voxel grid as linear operators.

Each projector is an operator ``A`` with ``direct(x) = A x`` (line
integrals through the volume) and ``adjoint(y) = A^T y`` (its exact
transpose, so that <A x, y> = <x, A^T y> to rounding; iterative solvers need
nothing else), in the style of CIL and ASTRA.

Geometry (all lengths in one unit, the one of ``voxel_size``; line
integrals come out in that unit times the unit of the values):

* the rotation axis is the volume's first axis ``z`` and passes through the
  centre of each slice; pixel ``(iy, ix)`` has its centre at
  ``x = (ix - (nx - 1)/2) s``, ``y = (iy - (ny - 1)/2) s``;
* at angle ``theta`` a parallel ray reaches the detector at
  ``u = x cos(theta) + y sin(theta)``; detector column ``j`` sits at
  ``u_j = (j - (n_columns - 1)/2 - centre_offset_px) p`` (``p`` the
  detector pixel at the sample plane), so a positive ``centre_offset_px``
  moves the projection of the axis to larger columns;
* projections are ordered ``[angle, row, column]`` (row = ``z``), as in
  NXtomo; a 2D slice gives ``[angle, column]``.

Methods: Joseph's ray-driven projector (Joseph, IEEE Trans. Med. Imaging 1
(1982) 192): along each ray, step one pixel at a time along the axis the
ray is closest to and interpolate linearly between the two nearest pixels
of the other axis; the path length per step is s / max(|cos|, |sin|). For
filtered back-projection, :meth:`ParallelProjector.backproject` is the
pixel-driven back-projector with linear interpolation on the detector (the
usual choice for FBP; it is not the exact adjoint). The cone-beam projector
uses the same scheme in 3D with bilinear interpolation.

Kernels are compiled with numba and run in parallel over angles (direct)
or over rows (back-projection); the exact adjoints accumulate per thread,
which costs one extra volume per thread in memory.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

from xtwin import arguments


# ---------------------------------------------------------------------- parallel-beam kernels
@njit(cache=True)
def _joseph_ray_range(u, c, sn, s, n_main, c_main, n_other, c_other, along_x):
    """Steps i of the main axis at which the ray u meets the grid (the other index lies in (-1, n_other))."""
    # f(i) = (u - (i - c_main) s cm) / (co s) + c_other is linear in i; keep -1 < f < n_other.
    cm, co = (c, sn) if along_x else (sn, c)
    if cm == 0.0:
        return 0, n_main
    slope = -cm / co
    f0 = u / (co * s) + c_other + c_main * cm / co
    lo, hi = (-1.0 - f0) / slope, (n_other - f0) / slope
    if lo > hi:
        lo, hi = hi, lo
    # Clamp as floats first: a nearly parallel ray gives bounds far beyond the int64 range.
    lo, hi = min(max(lo, 0.0), float(n_main)), min(max(hi, -1.0), float(n_main))
    return math.floor(lo), min(n_main, math.ceil(hi) + 1)


@njit(parallel=True, cache=True)
def _parallel_joseph(vol, cos, sin, u, s, out, adjoint, n_chunks):
    """Joseph projection of vol (n_chunks or 1, ny, nx, nz) into out (na, nu, nz), or its transpose.

    Direct: reads vol[0], adds into out. Adjoint: reads out, adds into
    vol[k], one copy of the volume per chunk of angles (no write races).
    """
    ny, nx, nz = vol.shape[1], vol.shape[2], vol.shape[3]
    na, nu = cos.shape[0], u.shape[0]
    cy, cx = 0.5 * (ny - 1), 0.5 * (nx - 1)
    for k in prange(n_chunks):
        kv = np.int64(k) if adjoint else np.int64(0)  # prange indices are unsigned: keep one integer type
        for a in range(k, na, n_chunks):
            c, sn = cos[a], sin[a]
            along_x = abs(sn) >= abs(c)
            w = s / (abs(sn) if along_x else abs(c))
            n_main, n_other = (nx, ny) if along_x else (ny, nx)
            c_main, c_other = (cx, cy) if along_x else (cy, cx)
            d_main, d_other = (c, sn) if along_x else (sn, c)
            slope = -d_main / d_other
            for j in range(nu):
                i_lo, i_hi = _joseph_ray_range(u[j], c, sn, s, n_main, c_main, n_other, c_other, along_x)
                # f(i) is linear in i: one division per ray, not per step.
                f_lo = (u[j] - (i_lo - c_main) * s * d_main) / (d_other * s) + c_other
                for i in range(i_lo, i_hi):
                    f = f_lo + (i - i_lo) * slope
                    i0 = math.floor(f)
                    t = f - i0
                    if i0 >= 0 and i0 < n_other:
                        iy = i0 if along_x else i
                        ix = i if along_x else i0
                        wt = w * (1.0 - t)
                        if adjoint:
                            for z in range(nz):
                                vol[kv, iy, ix, z] += wt * out[a, j, z]
                        else:
                            for z in range(nz):
                                out[a, j, z] += wt * vol[kv, iy, ix, z]
                    if i0 + 1 >= 0 and i0 + 1 < n_other:
                        iy = i0 + 1 if along_x else i
                        ix = i if along_x else i0 + 1
                        wt = w * t
                        if adjoint:
                            for z in range(nz):
                                vol[kv, iy, ix, z] += wt * out[a, j, z]
                        else:
                            for z in range(nz):
                                out[a, j, z] += wt * vol[kv, iy, ix, z]


@njit(parallel=True, cache=True)
def _parallel_backproject(sino, cos, sin, j_axis, s, p, vol):
    """Pixel-driven back-projection of sino (na, nu, nz) into vol (ny, nx, nz), linear on the detector."""
    ny, nx, nz = vol.shape
    na, nu = sino.shape[0], sino.shape[1]
    cy, cx = 0.5 * (ny - 1), 0.5 * (nx - 1)
    for iy in prange(ny):
        y = (iy - cy) * s
        for ix in range(nx):
            x = (ix - cx) * s
            for a in range(na):
                f = (x * cos[a] + y * sin[a]) / p + j_axis
                j0 = math.floor(f)
                if j0 < -1 or j0 >= nu:
                    continue
                t = f - j0
                if j0 >= 0:
                    for z in range(nz):
                        vol[iy, ix, z] += (1.0 - t) * sino[a, j0, z]
                if j0 + 1 < nu:
                    for z in range(nz):
                        vol[iy, ix, z] += t * sino[a, j0 + 1, z]


# ---------------------------------------------------------------------- cone-beam kernel
@njit(parallel=True, cache=True)
def _cone_joseph(vol, cos, sin, sod, sdd, u, v, s, out, adjoint, acc):
    """Joseph projection along the rays from a point source to a flat detector (rows v, columns u).

    The source sits at distance ``sod`` from the axis, opposite the
    detector at ``sdd - sod`` behind the axis; both turn with the angle. vol
    is (ny, nx, nz); out is (na, nv, nu).
    """
    ny, nx, nz = vol.shape
    na, nv, nu = out.shape
    cy, cx, cz = 0.5 * (ny - 1), 0.5 * (nx - 1), 0.5 * (nz - 1)
    n_chunks = acc.shape[0]
    for k in prange(n_chunks):
        for a in range(k, na, n_chunks):
            c, sn = cos[a], sin[a]
            # Source and detector centre: the beam runs along e = (-sin, cos) in (x, y).
            sx, sy = sod * sn, -sod * c
            for r in range(nv):
                for j in range(nu):
                    # Detector point: centre + u * (cos, sin) in (x, y), v along z.
                    dx = (sdd - sod) * -sn + u[j] * c
                    dy = (sdd - sod) * c + u[j] * sn
                    rx, ry, rz = dx - sx, dy - sy, v[r]
                    length = math.sqrt(rx * rx + ry * ry + rz * rz)
                    along_x = abs(rx) >= abs(ry)
                    main = rx if along_x else ry
                    w = s * length / abs(main)
                    for i in range(nx if along_x else ny):
                        coord = (i - (cx if along_x else cy)) * s
                        t = (coord - (sx if along_x else sy)) / main
                        other = (sy + t * ry) / s + cy if along_x else (sx + t * rx) / s + cx
                        fz = (t * rz) / s + cz
                        n_other = ny if along_x else nx
                        o0, z0 = math.floor(other), math.floor(fz)
                        if o0 < -1 or o0 >= n_other or z0 < -1 or z0 >= nz:
                            continue
                        to, tz = other - o0, fz - z0
                        for mo in range(2):
                            oo = o0 + mo
                            if oo < 0 or oo >= n_other:
                                continue
                            wo = to if mo == 1 else 1.0 - to
                            for mz in range(2):
                                zz = z0 + mz
                                if zz < 0 or zz >= nz:
                                    continue
                                wt = w * wo * (tz if mz == 1 else 1.0 - tz)
                                iy, ix = (oo, i) if along_x else (i, oo)
                                if adjoint:
                                    acc[k, iy, ix, zz] += wt * out[a, r, j]
                                else:
                                    out[a, r, j] += wt * vol[iy, ix, zz]


# ---------------------------------------------------------------------- operators
def _angles_rad(angles_deg) -> np.ndarray:
    a = arguments.array("angles_deg", angles_deg, ndim=(1,), dtype_kind="iuf", finite=True)
    if a.size == 0:
        raise ValueError("angles_deg: expected at least one projection angle")
    if np.ptp(a) <= 2 * np.pi + 1e-9 and a.size > 8 and np.ptp(a) > 0:
        # A full set of angles spanning at most 2 pi looks like radians.
        raise ValueError(f"angles_deg: the angles span only {np.ptp(a):.4g}; expected degrees (e.g. 0-180), "
                         f"got what looks like radians")
    return np.radians(a.astype(float))


def _to_yxz(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if x.shape != shape:
        raise ValueError(f"volume: expected shape {shape}, got {x.shape}")
    x = np.asarray(x, dtype=np.float32)
    return np.ascontiguousarray(x[None] if x.ndim == 2 else x).transpose(1, 2, 0).copy()


def _from_yxz(v: np.ndarray, ndim: int) -> np.ndarray:
    out = np.ascontiguousarray(v.transpose(2, 0, 1))
    return out[0] if ndim == 2 else out


class ParallelProjector:
    """Parallel-beam X-ray transform of a 2D slice or a 3D volume (axis along z).

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` or ``(nz, ny, nx)``.
    voxel_size : float
        Voxel edge; line integrals are in this unit.
    angles_deg : array
        Projection angles, degrees.
    n_columns : int, optional
        Detector columns (default: ``ceil(sqrt(2) max(ny, nx) s / p)``,
        enough to see the whole slice at every angle).
    pixel_size : float, optional
        Detector pixel at the sample plane, same unit (default the voxel).
    centre_offset_px : float
        Column offset of the rotation axis from the detector centre.

    Notes
    -----
    Cost: O(n_angles x n_columns x max(ny, nx) x nz) per direct or adjoint
    application; memory of the adjoint: one volume per thread.
    """

    def __init__(self, shape: tuple[int, ...], voxel_size: float, angles_deg, *, n_columns: int | None = None,
                 pixel_size: float | None = None, centre_offset_px: float = 0.0) -> None:
        self.shape = tuple(arguments.integer("shape", n, minimum=1) for n in shape)
        if len(self.shape) not in (2, 3):
            raise ValueError(f"shape={shape!r}: expected (ny, nx) or (nz, ny, nx)")
        self.voxel_size = arguments.positive("voxel_size", voxel_size)
        self.pixel_size = self.voxel_size if pixel_size is None else arguments.positive("pixel_size", pixel_size)
        self.angles_rad = _angles_rad(angles_deg)
        ny, nx = self.shape[-2:]
        default = math.ceil(math.hypot(ny, nx) * self.voxel_size / self.pixel_size)
        self.n_columns = default if n_columns is None else arguments.integer("n_columns", n_columns, minimum=1)
        self.centre_offset_px = float(centre_offset_px)
        self.j_axis = 0.5 * (self.n_columns - 1) + self.centre_offset_px
        self.u = (np.arange(self.n_columns) - self.j_axis) * self.pixel_size
        self._cos, self._sin = np.cos(self.angles_rad), np.sin(self.angles_rad)

    @property
    def nz(self) -> int:
        return self.shape[0] if len(self.shape) == 3 else 1

    @property
    def projection_shape(self) -> tuple[int, ...]:
        """``(n_angles, n_columns)`` for a slice, ``(n_angles, nz, n_columns)`` for a volume."""
        n = len(self.angles_rad)
        return (n, self.n_columns) if len(self.shape) == 2 else (n, self.nz, self.n_columns)

    def direct(self, volume: np.ndarray) -> np.ndarray:
        """Line integrals A x, float32, shape :attr:`projection_shape`."""
        vol = _to_yxz(volume, self.shape)[None]
        out = np.zeros((len(self.angles_rad), self.n_columns, self.nz), dtype=np.float32)
        _parallel_joseph(vol, self._cos, self._sin, self.u, self.voxel_size, out, False, self._chunks())
        return self._projections(out)

    def adjoint(self, projections: np.ndarray) -> np.ndarray:
        """Exact transpose A^T y, float32, the volume's shape."""
        sino = self._sinogram(projections)
        acc = np.zeros((self._chunks(), *self.shape[-2:], self.nz), dtype=np.float32)
        _parallel_joseph(acc, self._cos, self._sin, self.u, self.voxel_size, sino, True, acc.shape[0])
        return _from_yxz(acc.sum(axis=0), len(self.shape))

    def _chunks(self) -> int:
        return min(numba.get_num_threads(), len(self.angles_rad))

    def backproject(self, projections: np.ndarray) -> np.ndarray:
        """Pixel-driven back-projection (sum over angles, linear on the detector), float32.

        Used by filtered back-projection; close to, but not exactly, the
        transpose of :meth:`direct`.
        """
        sino = self._sinogram(projections)
        vol = np.zeros((*self.shape[-2:], self.nz), dtype=np.float32)
        _parallel_backproject(sino, self._cos, self._sin, self.j_axis, self.voxel_size, self.pixel_size, vol)
        return _from_yxz(vol, len(self.shape))

    def _sinogram(self, projections: np.ndarray) -> np.ndarray:
        p = np.asarray(projections)
        if p.shape != self.projection_shape:
            raise ValueError(f"projections: expected shape {self.projection_shape} (angles, [rows,] columns), "
                             f"got {p.shape}")
        p = p.astype(np.float32, copy=False)
        return np.ascontiguousarray(p[:, None, :] if p.ndim == 2 else p).transpose(0, 2, 1).copy()

    def _projections(self, out: np.ndarray) -> np.ndarray:
        p = np.ascontiguousarray(out.transpose(0, 2, 1))
        return p[:, 0, :] if len(self.shape) == 2 else p


class ConeProjector:
    """Cone-beam X-ray transform of a 3D volume for a flat-panel lab micro-CT (circular orbit).

    Parameters
    ----------
    shape : (nz, ny, nx)
    voxel_size : float
    angles_deg : array
    source_origin : float
        Distance from the source to the rotation axis (same unit).
    source_detector : float
        Distance from the source to the detector.
    detector_shape : (rows, columns), optional
        Default: enough to see the magnified volume.
    pixel_size : float, optional
        Detector pixel (on the detector, not at the sample); default the
        voxel times the magnification ``source_detector / source_origin``.
    centre_offset_px : float
        Column offset of the projected rotation axis.

    Notes
    -----
    Cost: O(n_angles x rows x columns x max(ny, nx)) per application.
    The cone angle must stay below 45 degrees (rays never run mostly along z).
    """

    def __init__(self, shape: tuple[int, int, int], voxel_size: float, angles_deg, *, source_origin: float,
                 source_detector: float, detector_shape: tuple[int, int] | None = None,
                 pixel_size: float | None = None, centre_offset_px: float = 0.0) -> None:
        self.shape = tuple(arguments.integer("shape", n, minimum=1) for n in shape)
        if len(self.shape) != 3:
            raise ValueError(f"shape={shape!r}: expected (nz, ny, nx) for a cone-beam volume")
        self.voxel_size = arguments.positive("voxel_size", voxel_size)
        self.angles_rad = _angles_rad(angles_deg)
        self.source_origin = arguments.positive("source_origin", source_origin)
        self.source_detector = arguments.positive("source_detector", source_detector)
        nz, ny, nx = self.shape
        half_diag = 0.5 * math.hypot(ny, nx) * self.voxel_size
        if self.source_origin <= half_diag:
            raise ValueError(f"source_origin={source_origin}: expected more than the volume's half diagonal "
                             f"{half_diag:g} (the source would sit inside the sample)")
        if self.source_detector <= self.source_origin:
            raise ValueError(f"source_detector={source_detector}: expected more than source_origin={source_origin}")
        magnification = self.source_detector / (self.source_origin - half_diag)
        self.pixel_size = (self.voxel_size * self.source_detector / self.source_origin if pixel_size is None
                           else arguments.positive("pixel_size", pixel_size))
        if detector_shape is None:
            rows = math.ceil(nz * self.voxel_size * magnification / self.pixel_size)
            cols = math.ceil(2 * half_diag * magnification / self.pixel_size)
            detector_shape = (rows, cols)
        self.detector_shape = tuple(arguments.integer("detector_shape", n, minimum=1) for n in detector_shape)
        rows, cols = self.detector_shape
        cone = math.atan(0.5 * rows * self.pixel_size / self.source_detector)
        if cone >= math.pi / 4:
            raise ValueError(f"detector_shape={detector_shape}: cone half-angle {math.degrees(cone):.1f} deg, "
                             f"expected below 45 deg")
        self.centre_offset_px = float(centre_offset_px)
        self.u = (np.arange(cols) - 0.5 * (cols - 1) - self.centre_offset_px) * self.pixel_size
        self.v = (np.arange(rows) - 0.5 * (rows - 1)) * self.pixel_size
        self._cos, self._sin = np.cos(self.angles_rad), np.sin(self.angles_rad)

    @property
    def projection_shape(self) -> tuple[int, int, int]:
        """``(n_angles, rows, columns)``."""
        return (len(self.angles_rad), *self.detector_shape)

    def direct(self, volume: np.ndarray) -> np.ndarray:
        """Line integrals along the cone-beam rays, float32, (n_angles, rows, columns)."""
        vol = _to_yxz(volume, self.shape)
        out = np.zeros(self.projection_shape, dtype=np.float32)
        _cone_joseph(vol, self._cos, self._sin, self.source_origin, self.source_detector, self.u, self.v,
                     self.voxel_size, out, False, np.zeros((1, 1, 1, 1), np.float32))
        return out

    def adjoint(self, projections: np.ndarray) -> np.ndarray:
        """Exact transpose of :meth:`direct`, float32, the volume's shape."""
        p = np.asarray(projections)
        if p.shape != self.projection_shape:
            raise ValueError(f"projections: expected shape {self.projection_shape}, got {p.shape}")
        n_chunks = min(numba.get_num_threads(), len(self.angles_rad))
        nz, ny, nx = self.shape
        acc = np.zeros((n_chunks, ny, nx, nz), dtype=np.float32)
        _cone_joseph(np.zeros((ny, nx, nz), np.float32), self._cos, self._sin, self.source_origin,
                     self.source_detector, self.u, self.v, self.voxel_size,
                     np.ascontiguousarray(p, dtype=np.float32), True, acc)
        return _from_yxz(acc.sum(axis=0), 3)
