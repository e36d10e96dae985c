"""Pinhole camera of Compton scattering imaging (XCS): voxel -> detector pixel, blur and solid angle.

Set-up of seeds/001, section 2.1: "A high-energy X-ray imaging technology (HEXITEC) detector in a pinhole
camera arrangement was positioned at 90 deg to the incident X-ray beam above the sample [...] through a
200 um-diameter pinhole in a 2 mm-thick tungsten plate with an acceptance angle of 5.7 deg at ~160 mm from
the sheet X-ray beam [...] the distance ratio between the detector to the pinhole and the pinhole to the
sample was ~1:1, achieving a field of view of ~80 x 80 pixels array or 20 mm x 20 mm with a spatial
resolution of 250 um per pixel".

Frame
-----
Points are given in the twin's array order ``(z, y, x)``, um, relative to the *look-at point* C, where the
pinhole axis meets the illuminated sheet. The beam travels along +x. The pinhole sits at
``P = a n`` with ``a = pinhole_to_sheet_mm`` and the unit axis ``n = (sin t, 0, cos t)`` in (z, y, x),
``t = angle_deg`` the angle between the beam and the axis: at 90 deg the pinhole looks straight down the
cell axis z onto the xy plane (seeds/001, Fig. 1). The detector is perpendicular to ``n`` at
``b = detector_to_pinhole_mm`` behind the pinhole, centred on the axis; its columns run along
``e_col = (-cos t, 0, sin t)`` (+x at 90 deg) and its rows along ``e_row = +y``.

Central projection through the pinhole centre: a point r at depth ``w = (P - r) . n`` in front of the
pinhole images to the detector coordinates ``(v, u) = -(b / w) ((r - P) . e_row, (r - P) . e_col)`` -
inverted, magnification ``M = b / w`` (``b / a`` on the sheet, 1 for the source's 1:1 geometry).
Fractional pixel coordinates are ``row = v / pitch + (n_rows - 1) / 2`` (pixel i covers
``[i - 1/2, i + 1/2]``), likewise for columns.

Blur: a point on the sheet illuminates, through a pinhole of diameter d, a disc of diameter
``D = d (a + b) / a = d (1 + M)`` on the detector, i.e. ``d (1 + M) / M`` referred to the sheet
(400 um for d = 200 um at M = 1: the resolution of a pinhole camera, e.g. Barrett & Swindell,
"Radiological Imaging" (1981), ch. 5). The finite thickness of the sheet (250 um at 160 mm) changes M by
1e-3 and is neglected in the blur.

Solid angle of the pinhole from a point at distance R and angle ``alpha`` off the axis:
``Omega = A cos(alpha) / R^2 = A cos^3(alpha) / w^2`` with ``A = pi d^2 / 4`` (small aperture, A << R^2),
times the open fraction of the channel. A cylindrical channel of diameter d through ``tungsten_mm`` = L
is seen from ``alpha`` as two circles offset by ``c = L tan(alpha)``; the open fraction is their overlap
``f = (2 / pi) (acos(c/d) - (c/d) sqrt(1 - (c/d)^2))``, which vanishes at ``tan(alpha) = d / L``:
``atan(0.2 / 2) = 5.71 deg``, the source's acceptance angle. ``channel="knife_edge"`` models a
double-cone pinhole instead (f = 1 inside the acceptance). Rays beyond ``acceptance_deg`` off the axis
are stopped in both cases. The tungsten outside the channel is opaque: 2 mm of W transmits exp(-17) at
94 keV (xraylib).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xtwin import arguments

__all__ = ["PinholeCamera", "CHANNELS"]

#: Pinhole channel shapes: a straight cylinder through the plate, or a knife-edge (double cone).
CHANNELS = ("cylindrical", "knife_edge")


def _points(points_um: np.ndarray) -> np.ndarray:
    p = arguments.array("points_um", points_um, dtype_kind="iuf", finite=True)
    if p.ndim < 1 or p.shape[-1] != 3:
        raise ValueError(f"points_um: expected an array of (z, y, x) points, shape (..., 3), got {p.shape}")
    return p.astype(float, copy=False)


@dataclass(frozen=True)
class PinholeCamera:
    """A pinhole camera looking at the illuminated sheet (geometry of seeds/001, section 2.1).

    Parameters
    ----------
    pinhole_diameter_um : float
        Pinhole diameter d, um (200).
    pinhole_to_sheet_mm : float
        Distance a from the look-at point on the sheet to the pinhole along its axis, mm (160).
    detector_to_pinhole_mm : float
        Distance b from the pinhole to the detector plane, mm (160: magnification b / a = 1).
    angle_deg : float
        Angle between the beam (+x) and the pinhole axis, deg (90: the camera above the sample).
        Must leave the beam outside the acceptance cone: ``acceptance_deg < angle_deg < 180 -
        acceptance_deg``; an angle of 0 (the camera in the beam) is refused.
    acceptance_deg : float
        Largest angle between a ray and the pinhole axis that passes, deg, in (0, 45] (5.7).
    tungsten_mm : float
        Thickness L of the tungsten plate, mm (2); sets the vignetting of a cylindrical channel.
    channel : {"cylindrical", "knife_edge"}
        Shape of the pinhole channel (module docstring).
    """

    pinhole_diameter_um: float = 200.0
    pinhole_to_sheet_mm: float = 160.0
    detector_to_pinhole_mm: float = 160.0
    angle_deg: float = 90.0
    acceptance_deg: float = 5.7
    tungsten_mm: float = 2.0
    channel: str = "cylindrical"

    def __post_init__(self) -> None:
        _set = object.__setattr__
        _set(self, "pinhole_diameter_um", arguments.positive("pinhole_diameter_um", self.pinhole_diameter_um,
                                                             unit="um"))
        a = arguments.positive("pinhole_to_sheet_mm", self.pinhole_to_sheet_mm, unit="mm")
        b = arguments.positive("detector_to_pinhole_mm", self.detector_to_pinhole_mm, unit="mm")
        if self.pinhole_diameter_um / 1000 >= min(a, b):
            raise ValueError(f"pinhole_diameter_um={self.pinhole_diameter_um!r}: expected a pinhole much smaller "
                             f"than the distances ({a:g} mm, {b:g} mm)")
        _set(self, "pinhole_to_sheet_mm", a)
        _set(self, "detector_to_pinhole_mm", b)
        acc = arguments.in_range("acceptance_deg", self.acceptance_deg, 0.0, 45.0, unit="deg")
        if acc == 0:
            raise ValueError(f"acceptance_deg={self.acceptance_deg!r}: expected an angle > 0 deg")
        _set(self, "acceptance_deg", acc)
        angle = arguments.finite("angle_deg", self.angle_deg, unit="deg")
        if not acc < angle < 180.0 - acc:
            raise ValueError(f"angle_deg={self.angle_deg!r}: expected a scattering angle between the acceptance "
                             f"{acc:g} and {180 - acc:g} deg (at 0 or 180 deg the camera would look along the "
                             "beam); the source uses 90 deg")
        _set(self, "angle_deg", angle)
        _set(self, "tungsten_mm", arguments.positive("tungsten_mm", self.tungsten_mm, unit="mm"))
        arguments.one_of("channel", self.channel, CHANNELS)

    # ------------------------------------------------------------------ scalars
    @property
    def magnification(self) -> float:
        """M = b / a for a point on the sheet (dimensionless)."""
        return self.detector_to_pinhole_mm / self.pinhole_to_sheet_mm

    @property
    def blur_on_detector_um(self) -> float:
        """Diameter of the disc a point of the sheet casts on the detector, d (1 + M), um."""
        return self.pinhole_diameter_um * (1.0 + self.magnification)

    @property
    def blur_at_sheet_um(self) -> float:
        """The same disc referred to the sheet, d (1 + M) / M, um (400 um for the source's camera)."""
        return self.blur_on_detector_um / self.magnification

    @property
    def pinhole_area_um2(self) -> float:
        """Aperture area pi d^2 / 4, um^2."""
        return math.pi * self.pinhole_diameter_um**2 / 4

    def pixel_at_sheet_um(self, pixel_um: float) -> float:
        """Detector pixel pitch referred to the sheet, pitch / M, um."""
        return arguments.positive("pixel_um", pixel_um, unit="um") / self.magnification

    # ------------------------------------------------------------------ frame
    def _basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pinhole position (um), axis n, e_row, e_col in (z, y, x)."""
        t = math.radians(self.angle_deg)
        n = np.array([math.sin(t), 0.0, math.cos(t)])
        e_col = np.array([-math.cos(t), 0.0, math.sin(t)])
        e_row = np.array([0.0, 1.0, 0.0])
        return 1000.0 * self.pinhole_to_sheet_mm * n, n, e_row, e_col

    @property
    def pinhole_position_um(self) -> np.ndarray:
        """Pinhole centre P relative to the look-at point, (z, y, x), um."""
        return self._basis()[0]

    def directions(self, points_um: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors from the points to the pinhole centre (..., 3) and their distances R (...), um."""
        d = self.pinhole_position_um - _points(points_um)
        r = np.sqrt(np.einsum("...i,...i->...", d, d))
        if np.any(r <= 0):
            raise ValueError("points_um: a point lies on the pinhole")
        return d / r[..., None], r

    def scattering_angle_deg(self, points_um: np.ndarray) -> np.ndarray:
        """Angle between the beam (+x) and the ray from each point to the pinhole, deg.

        cos theta = k2 . x_hat with k2 the unit vector from the point to the pinhole centre: 90 deg on
        the axis, 90 -+ 3.6 deg at x = +-10 mm for the source's camera. O(N points).
        """
        k2, _ = self.directions(points_um)
        return np.degrees(np.arccos(np.clip(k2[..., 2], -1.0, 1.0)))

    def off_axis_deg(self, points_um: np.ndarray) -> np.ndarray:
        """Angle between the ray from each point to the pinhole and the pinhole axis, deg."""
        k2, _ = self.directions(points_um)
        _, n, _, _ = self._basis()
        return np.degrees(np.arccos(np.clip(k2 @ n, -1.0, 1.0)))

    def project(self, points_um: np.ndarray, pixel_um: float, shape: tuple[int, int]) -> np.ndarray:
        """Fractional detector pixel coordinates ``(row, col)`` of points imaged through the pinhole centre.

        Parameters
        ----------
        points_um : array, shape (..., 3)
            Points (z, y, x), um, relative to the look-at point, in front of the pinhole.
        pixel_um : float
            Detector pixel pitch, um.
        shape : (int, int)
            Detector (rows, columns).

        Returns
        -------
        ndarray, shape (..., 2)
            (row, col); pixel (i, j) covers ``[i - 1/2, i + 1/2] x [j - 1/2, j + 1/2]``. The image is
            inverted: +y maps to smaller rows, +x (at 90 deg) to smaller columns. O(N points).
        """
        p = _points(points_um)
        pitch = arguments.positive("pixel_um", pixel_um, unit="um")
        rows, cols = (arguments.integer("shape", int(s), minimum=1) for s in shape)
        pinhole, n, e_row, e_col = self._basis()
        d = p - pinhole
        depth = -(d @ n)
        if np.any(depth <= 0):
            raise ValueError("points_um: expected points in front of the pinhole (between the sheet and the "
                             "pinhole plane)")
        scale = -1000.0 * self.detector_to_pinhole_mm / depth
        v, u = scale * (d @ e_row), scale * (d @ e_col)
        return np.stack([v / pitch + 0.5 * (rows - 1), u / pitch + 0.5 * (cols - 1)], axis=-1)

    def pixel_directions(self, pixel_um: float, shape: tuple[int, int]) -> np.ndarray:
        """Unit vectors from each detector pixel centre back through the pinhole to the sheet, (rows, cols, 3).

        Every point imaged onto a pixel lies on this ray, so the scattering angle of the photons a
        pixel records is fixed by the pixel (to within the pinhole's angular size, d / b = 1.3 mrad).
        """
        pitch = arguments.positive("pixel_um", pixel_um, unit="um")
        rows, cols = (arguments.integer("shape", int(s), minimum=1) for s in shape)
        _, n, e_row, e_col = self._basis()
        v = (np.arange(rows) - 0.5 * (rows - 1)) * pitch
        u = (np.arange(cols) - 0.5 * (cols - 1)) * pitch
        b = 1000.0 * self.detector_to_pinhole_mm
        # Detector point relative to the pinhole: -b n + v e_row + u e_col; the ray to the sheet is its negative.
        ray = b * n - v[:, None, None] * e_row - u[None, :, None] * e_col
        return ray / np.linalg.norm(ray, axis=-1, keepdims=True)

    def pixel_scattering_angle_deg(self, pixel_um: float, shape: tuple[int, int]) -> np.ndarray:
        """Scattering angle of the photons recorded by each pixel, (rows, cols), deg.

        The photon travels from the sheet towards the pixel: k2 = -ray, cos theta = k2 . x_hat.
        """
        ray = self.pixel_directions(pixel_um, shape)
        return np.degrees(np.arccos(np.clip(-ray[..., 2], -1.0, 1.0)))

    # ------------------------------------------------------------------ radiometry
    def open_fraction(self, off_axis_deg: np.ndarray) -> np.ndarray:
        """Open fraction of the pinhole seen from ``off_axis_deg`` (module docstring); 0 beyond the acceptance."""
        alpha = np.radians(np.abs(np.asarray(off_axis_deg, dtype=float)))
        inside = alpha <= math.radians(self.acceptance_deg)
        if self.channel == "knife_edge":
            return inside.astype(float)
        c = np.minimum(1000.0 * self.tungsten_mm * np.tan(alpha) / self.pinhole_diameter_um, 1.0)
        overlap = (2 / math.pi) * (np.arccos(c) - c * np.sqrt(1.0 - c * c))
        return np.where(inside, overlap, 0.0)

    def solid_angle_sr(self, points_um: np.ndarray) -> np.ndarray:
        """Solid angle of the open pinhole seen from each point, sr.

        ``Omega = A cos(alpha) / R^2 x f(alpha)``: A the aperture area, R the distance to the pinhole
        centre, alpha the angle off the axis, f the open fraction (:meth:`open_fraction`). O(N points).
        """
        k2, r = self.directions(points_um)
        _, n, _, _ = self._basis()
        cos_alpha = np.clip(k2 @ n, -1.0, 1.0)
        alpha_deg = np.degrees(np.arccos(cos_alpha))
        omega = self.pinhole_area_um2 * np.maximum(cos_alpha, 0.0) / r**2
        return omega * self.open_fraction(alpha_deg)

    def blur_kernel(self, pixel_um: float, oversample: int) -> np.ndarray:
        """Disc of diameter :attr:`blur_on_detector_um` on a grid of ``pixel_um / oversample`` sub-pixels.

        Each entry is the fraction of the disc's area in that sub-pixel (estimated on a 16 x 16 grid of
        points per sub-pixel); the kernel sums to 1 and has an odd size, centred.
        """
        pitch = arguments.positive("pixel_um", pixel_um, unit="um")
        o = arguments.integer("oversample", oversample, minimum=1)
        sub = pitch / o
        radius = 0.5 * self.blur_on_detector_um / sub  # in sub-pixels
        half = int(math.ceil(radius + 0.5))
        k = 16
        offsets = (np.arange(k) + 0.5) / k - 0.5
        centres = np.arange(-half, half + 1)
        grid = (centres[:, None] + offsets[None, :]).ravel()  # fine sample positions, sub-pixels
        inside = (grid[:, None] ** 2 + grid[None, :] ** 2) <= radius**2
        n = 2 * half + 1
        kernel = inside.reshape(n, k, n, k).sum(axis=(1, 3)).astype(float)
        total = kernel.sum()
        if total == 0:  # a disc smaller than the sampling: a delta
            kernel[half, half] = 1.0
            return kernel
        return kernel / total

    def field_of_view_mm(self, pixel_um: float, shape: tuple[int, int]) -> tuple[float, float]:
        """(rows, columns) extent of the detector referred to the sheet, mm (20 x 20 for 80 x 80 x 250 um, M = 1)."""
        sheet_pixel = self.pixel_at_sheet_um(pixel_um)
        return (shape[0] * sheet_pixel / 1000, shape[1] * sheet_pixel / 1000)
