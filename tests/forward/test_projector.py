"""Tests of forward/tomography/projector.py: exact adjoints, analytic chords, references, refusals.

References: closed-form chord lengths of discs, ellipses, spheres and slabs
(A. C. Kak and M. Slaney, *Principles of Computerized Tomographic
Imaging*, IEEE Press 1988, sec. 3.2: the projection of an ellipse of unit
density is ``2 a b sqrt(h^2 - u^2) / h^2``); a float64 numpy transcription
of Joseph's formula (IEEE Trans. Med. Imaging 1 (1982) 192);
scikit-image's ``radon`` and astra-toolbox's CPU ``linear`` projector (which
is Joseph's) as independent implementations.

Tolerances used below:

* ``FLOAT32_SUMS = 1e-5``: the projectors add float32 terms, at most a few
  hundred per ray or voxel here; n additions of positive terms err by at
  most n 2^-24 relative (2e-5 for n = 300) and in practice by about
  sqrt(n) 2^-24 (1e-6).
* Voxelisation tolerance of the analytic chords, ``w_max / 2``: a Joseph
  ray sum is a Riemann sum, at steps ``w <= w_max`` along the ray, of the
  image interpolated linearly between voxel centres (``w_max = sqrt(2) s``
  for parallel beams, ``sqrt(2) s / cos(cone half-angle)`` for the cone).
  The phantoms hold exact area (volume) fractions, so the interpolated rim
  lies where the true rim is to second order, and it rises from 0 to 1 over
  at least one step. Sampling a piecewise-linear rise of width ``L >= w``
  at spacing ``w`` errs by at most ``w^2 / (8 L)`` at each of its two
  kinks, ``w / 4`` per rim crossing and ``w / 2`` for the two crossings of a
  chord. Rays within 0.8 of the radius are compared (near the rim the
  chord is shorter than a voxel and the rise is no longer sampled).
  Measured: at most 0.35 s against the bound 0.71 s.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from forward.tomography.projector import ConeProjector, ParallelProjector

FLOAT32_SUMS = 1e-5
#: Half the longest parallel-beam step of a unit voxel: the chord tolerance (module docstring).
PARALLEL_CHORD_TOL = math.sqrt(2.0) / 2


def _fractions(shape: tuple[int, ...], inside, m: int = 8) -> np.ndarray:
    """Area (2D) or volume (3D) fraction of each unit voxel inside an analytic object, float32.

    ``inside(*coordinates)`` takes coordinates relative to the grid centre
    in voxels (z, y, x order) and returns a boolean array; each voxel is
    sampled at m points per axis (the fraction errs by about 1/m of the
    voxels the rim cuts, well below the chord tolerance).
    """
    centres = np.meshgrid(*[np.arange(n) - 0.5 * (n - 1) for n in shape], indexing="ij", sparse=True)
    offsets = (np.arange(m) + 0.5) / m - 0.5
    total = np.zeros(shape)
    for sub in np.stack(np.meshgrid(*[offsets] * len(shape), indexing="ij"), axis=-1).reshape(-1, len(shape)):
        total += inside(*[c + o for c, o in zip(centres, sub)])
    return (total / m ** len(shape)).astype(np.float32)


def _joseph_reference(image: np.ndarray, s: float, p: float, angles_deg, n_columns: int, offset: float) -> np.ndarray:
    """Joseph's projection written out in float64 numpy, straight from the definition.

    For each ray, step along the axis it runs closest to, at every grid
    line, interpolate linearly between the two voxels of the other axis
    that bracket the crossing (zero outside the grid) and weight by the
    path per step ``s / max(|cos|, |sin|)``.
    """
    ny, nx = image.shape
    padded = np.pad(image.astype(float), 1)  # index -1 and n read zeros
    u = (np.arange(n_columns) - 0.5 * (n_columns - 1) - offset) * p
    out = np.zeros((len(angles_deg), n_columns))
    for a, theta in enumerate(np.radians(angles_deg)):
        c, sn = math.cos(theta), math.sin(theta)
        if abs(sn) >= abs(c):  # step along x, interpolate in y: y = (u - x cos) / sin
            x = (np.arange(nx) - 0.5 * (nx - 1)) * s
            f = (u[:, None] - x[None, :] * c) / sn / s + 0.5 * (ny - 1)
            k = np.floor(f).astype(int)
            keep = (k >= -1) & (k <= ny - 1)
            k, t = np.clip(k, -1, ny - 1), f - np.floor(f)
            cols = np.arange(nx)[None, :] + 1
            values = (1 - t) * padded[k + 1, cols] + t * padded[k + 2, cols]
            out[a] = s / abs(sn) * np.where(keep, values, 0.0).sum(axis=1)
        else:  # step along y, interpolate in x: x = (u - y sin) / cos
            y = (np.arange(ny) - 0.5 * (ny - 1)) * s
            f = (u[:, None] - y[None, :] * sn) / c / s + 0.5 * (nx - 1)
            k = np.floor(f).astype(int)
            keep = (k >= -1) & (k <= nx - 1)
            k, t = np.clip(k, -1, nx - 1), f - np.floor(f)
            rows = np.arange(ny)[None, :] + 1
            values = (1 - t) * padded[rows, k + 1] + t * padded[rows, k + 2]
            out[a] = s / abs(c) * np.where(keep, values, 0.0).sum(axis=1)
    return out


def _inner(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a.ravel().astype(float), b.ravel().astype(float)))


# ---------------------------------------------------------------------- exact adjoints
@pytest.mark.parametrize("shape, voxel, kwargs", [
    ((37, 52), 0.9, {"pixel_size": 0.7, "centre_offset_px": 2.3}),
    # Two z-blocks (70 slices, the second padded), fewer columns than the slice needs, pixel != voxel.
    ((70, 23, 31), 1.1, {"pixel_size": 1.3, "centre_offset_px": -1.7, "n_columns": 30}),
    ((5, 16, 9), 1.0, {"centre_offset_px": 0.5}),
])
def test_parallel_adjoint_is_the_transpose(shape, voxel, kwargs):
    rng = np.random.default_rng(1)
    # Angles over the full circle, including the axis-aligned and 45-degree ones where the stepping axis switches.
    angles = np.concatenate([[0.0, 45.0, 90.0, 135.0, 180.0, 270.0, -45.0], rng.uniform(0, 360, 30)])
    op = ParallelProjector(shape, voxel, angles, **kwargs)
    x = rng.random(shape, dtype=np.float32)
    y = rng.random(op.projection_shape, dtype=np.float32)
    lhs, rhs = _inner(op.direct(x), y), _inner(x, op.adjoint(y))
    assert abs(lhs - rhs) <= FLOAT32_SUMS * abs(lhs)


def test_cone_adjoint_is_the_transpose():
    rng = np.random.default_rng(2)
    shape = (12, 30, 25)
    op = ConeProjector(shape, 1.1, np.linspace(0, 360, 24, endpoint=False), source_origin=60.0,
                       source_detector=150.0, centre_offset_px=1.3)
    x = rng.random(shape, dtype=np.float32)
    y = rng.random(op.projection_shape, dtype=np.float32)
    lhs, rhs = _inner(op.direct(x), y), _inner(x, op.adjoint(y))
    assert abs(lhs - rhs) <= FLOAT32_SUMS * abs(lhs)


# ---------------------------------------------------------------------- independent implementations
@pytest.mark.parametrize("voxel, pixel, offset, n_columns", [(1.0, 1.0, 0.0, 60), (0.9, 0.7, 2.3, 75),
                                                                (1.2, 1.5, -3.5, 31)])
def test_direct_equals_a_float64_transcription_of_joseph(voxel, pixel, offset, n_columns):
    rng = np.random.default_rng(3)
    image = rng.random((33, 41), dtype=np.float32)
    angles = np.concatenate([[0.0, 30.0, 45.0, 60.0, 90.0, 135.0, 180.0, 225.0, 300.0], rng.uniform(0, 360, 12)])
    got = ParallelProjector(image.shape, voxel, angles, n_columns=n_columns, pixel_size=pixel,
                            centre_offset_px=offset).direct(image)
    want = _joseph_reference(image, voxel, pixel, angles, n_columns, offset)
    assert np.max(np.abs(got - want)) <= FLOAT32_SUMS * np.max(np.abs(want))


def test_backprojection_equals_a_float64_pixel_driven_sum():
    rng = np.random.default_rng(4)
    angles = rng.uniform(0, 180, 17)
    op = ParallelProjector((21, 26), 0.8, angles, n_columns=37, pixel_size=0.6, centre_offset_px=1.4)
    sino = rng.random(op.projection_shape, dtype=np.float32)
    ny, nx = op.shape
    x = ((np.arange(nx) - 0.5 * (nx - 1)) * op.voxel_size)[None, :]
    y = ((np.arange(ny) - 0.5 * (ny - 1)) * op.voxel_size)[:, None]
    want = np.zeros((ny, nx))
    padded = np.pad(sino.astype(float), ((0, 0), (1, 1)))
    for a, theta in enumerate(np.radians(angles)):
        f = (x * math.cos(theta) + y * math.sin(theta)) / op.pixel_size + op.j_axis
        k = np.floor(f).astype(int)
        keep = (k >= -1) & (k <= op.n_columns - 1)  # beyond, both neighbours are off the detector
        k, t = np.clip(k, -1, op.n_columns - 1), f - np.floor(f)
        want += np.where(keep, (1 - t) * padded[a, k + 1] + t * padded[a, k + 2], 0.0)
    assert np.max(np.abs(op.backproject(sino) - want)) <= FLOAT32_SUMS * np.max(np.abs(want))


def test_volume_paths_equal_the_slice_paths():
    """The z-blocked 3D kernels give, slice by slice, what the 2D kernels give (to float32 sums)."""
    rng = np.random.default_rng(5)
    volume = rng.random((70, 19, 24), dtype=np.float32)
    angles = rng.uniform(0, 360, 23)
    kwargs = {"pixel_size": 0.8, "centre_offset_px": 1.6}
    op3 = ParallelProjector(volume.shape, 1.0, angles, **kwargs)
    op2 = ParallelProjector(volume.shape[1:], 1.0, angles, **kwargs)
    sino = rng.random(op3.projection_shape, dtype=np.float32)
    direct, adjoint, back = op3.direct(volume), op3.adjoint(sino), op3.backproject(sino)
    for z in (0, 33, 64, 69):  # both blocks, and the last slice before the second block's padding
        np.testing.assert_allclose(direct[:, z], op2.direct(volume[z]), rtol=0, atol=FLOAT32_SUMS * direct.max())
        np.testing.assert_allclose(adjoint[z], op2.adjoint(sino[:, z]), rtol=0, atol=FLOAT32_SUMS * adjoint.max())
        np.testing.assert_allclose(back[z], op2.backproject(sino[:, z]), rtol=0, atol=FLOAT32_SUMS * back.max())


def test_matches_scikit_image_radon():
    from skimage.data import shepp_logan_phantom
    from skimage.transform import radon, resize

    n = 129  # odd: scikit-image's rotation centre n // 2 is then the projector's (n - 1) / 2
    yy, xx = np.mgrid[:n, :n] - 0.5 * (n - 1)
    outside = xx**2 + yy**2 > (0.5 * (n - 1)) ** 2  # radon(circle=True) wants zeros outside the inscribed circle
    angles = np.linspace(0, 180, 90, endpoint=False)
    op = ParallelProjector((n, n), 1.0, angles, n_columns=n)
    # scikit-image rotates the image by -theta (rows pointing down): its theta is this projector's -theta.
    # Smooth phantom: both methods interpolate linearly, exact to O(h^2 g''): for Gaussians of sigma >= 6
    # voxels the relative error is at most h^2 / (8 sigma^2) = 3.5e-3 of the peak.
    blobs = np.exp(-((xx - 10) ** 2 + (yy + 5) ** 2) / (2 * 12.0**2)) + 0.5 * np.exp(
        -((xx + 20) ** 2 + (yy - 15) ** 2) / (2 * 6.0**2))
    blobs[outside] = 0
    ours, theirs = op.direct(blobs.astype(np.float32)), radon(blobs, theta=-angles, circle=True).T
    assert np.max(np.abs(ours - theirs)) <= 1 / (8 * 6.0**2) * np.max(theirs)  # measured 6e-4
    # Shepp-Logan has sharp edges: Joseph (linear along one axis at grid lines) and scikit-image (bilinear
    # rotation, then column sums) place each edge crossing differently by up to half a voxel, on chords of
    # ~100 voxels with a few edges each: about 1 % in L2 (measured 0.35 %).
    phantom = resize(shepp_logan_phantom(), (n, n), anti_aliasing=True)
    phantom[outside] = 0
    ours, theirs = op.direct(phantom.astype(np.float32)), radon(phantom, theta=-angles, circle=True).T
    assert np.linalg.norm(ours - theirs) <= 0.01 * np.linalg.norm(theirs)


def test_matches_astra_linear_projector():
    """astra-toolbox's CPU 'linear' projector is Joseph's: the same numbers to float32 rounding."""
    import astra

    rng = np.random.default_rng(6)
    n, n_columns, pixel, offset = 64, 101, 0.7, 2.5
    image = rng.random((n, n), dtype=np.float32)
    angles = np.linspace(0, 180, 37)
    ours = ParallelProjector((n, n), 1.0, angles, n_columns=n_columns, pixel_size=pixel,
                             centre_offset_px=offset).direct(image)
    # astra's angle runs the other way (its theta is -theta here); its vector geometry places the ray
    # direction, the detector centre (shifted by -offset pixels) and the pixel step explicitly.
    t = -np.radians(angles)
    vectors = np.stack([np.sin(t), -np.cos(t), -offset * pixel * np.cos(t), -offset * pixel * np.sin(t),
                        pixel * np.cos(t), pixel * np.sin(t)], axis=1)
    projector = astra.create_projector("linear", astra.create_proj_geom("parallel_vec", n_columns, vectors),
                                       astra.create_vol_geom(n, n))
    sino_id, theirs = astra.create_sino(image, projector)
    astra.data2d.delete(sino_id)
    astra.projector.delete(projector)
    assert np.linalg.norm(ours - theirs) <= FLOAT32_SUMS * np.linalg.norm(theirs)  # measured 3.4e-6


# ---------------------------------------------------------------------- analytic phantoms
def test_disc_projects_to_its_chords():
    n, radius = 101, 40.0
    disc = _fractions((n, n), lambda y, x: x**2 + y**2 <= radius**2)
    for pixel, offset in [(1.0, 0.0), (0.7, 1.3)]:
        op = ParallelProjector(disc.shape, 1.0, np.linspace(0, 180, 91), pixel_size=pixel, centre_offset_px=offset)
        chord = 2 * np.sqrt(np.clip(radius**2 - op.u**2, 0, None))
        inner = np.abs(op.u) <= 0.8 * radius
        assert np.max(np.abs(op.direct(disc)[:, inner] - chord[inner])) <= PARALLEL_CHORD_TOL  # measured 0.35


def test_ellipse_projects_to_its_chords():
    n, a, b, phi = 101, 42.0, 22.0, math.radians(30.0)
    c, s = math.cos(phi), math.sin(phi)
    ellipse = _fractions((n, n), lambda y, x: ((c * x + s * y) / a) ** 2 + ((-s * x + c * y) / b) ** 2 <= 1)
    angles = np.linspace(0, 180, 61)
    op = ParallelProjector(ellipse.shape, 1.0, angles, centre_offset_px=-0.5)
    sino = op.direct(ellipse)
    for k, theta in enumerate(np.radians(angles)):
        h = math.hypot(a * math.cos(theta - phi), b * math.sin(theta - phi))  # support along (cos, sin)
        chord = 2 * a * b * np.sqrt(np.clip(h**2 - op.u**2, 0, None)) / h**2
        inner = np.abs(op.u) <= 0.8 * h
        assert np.max(np.abs(sino[k, inner] - chord[inner])) <= PARALLEL_CHORD_TOL


def test_sphere_projects_to_its_chords_in_parallel_beam():
    n, radius = 49, 20.0
    ball = _fractions((n, n, n), lambda z, y, x: x**2 + y**2 + z**2 <= radius**2)
    op = ParallelProjector(ball.shape, 1.0, np.linspace(0, 180, 19), pixel_size=0.8, centre_offset_px=1.5)
    z = np.arange(n) - 0.5 * (n - 1)
    d2 = z[:, None] ** 2 + op.u[None, :] ** 2  # squared distance of the ray (row z, column u) from the centre
    chord = 2 * np.sqrt(np.clip(radius**2 - d2, 0, None))
    inner = d2 <= (0.8 * radius) ** 2
    assert np.max(np.abs(op.direct(ball)[:, inner] - chord[inner])) <= PARALLEL_CHORD_TOL  # measured 0.33


@pytest.mark.parametrize("source_origin, source_detector", [(100.0, 250.0), (40.0, 120.0)])
def test_sphere_projects_to_its_chords_in_cone_beam(source_origin, source_detector):
    """Every ray from the point source: chord 2 sqrt(R^2 - d^2), d its distance from the centre."""
    n, radius = 49, 20.0
    ball = _fractions((n, n, n), lambda z, y, x: x**2 + y**2 + z**2 <= radius**2)
    op = ConeProjector(ball.shape, 1.0, np.linspace(0, 360, 12, endpoint=False), source_origin=source_origin,
                       source_detector=source_detector, detector_shape=(31, 81), centre_offset_px=0.7)
    projections = op.direct(ball)
    half_angle = math.atan(0.5 * 31 * op.pixel_size / source_detector)  # 8.8 and 21 degrees
    tol = math.sqrt(2.0) / math.cos(half_angle) / 2
    u, v = np.meshgrid(op.u, op.v)
    for k, theta in enumerate(op.angles_rad):
        c, s = math.cos(theta), math.sin(theta)
        source = np.array([source_origin * s, -source_origin * c, 0.0])
        offset = source_detector - source_origin
        detector = np.stack([-offset * s + u * c, offset * c + u * s, v], axis=-1)
        ray = detector - source
        d = np.linalg.norm(np.cross(source, ray), axis=-1) / np.linalg.norm(ray, axis=-1)
        chord = 2 * np.sqrt(np.clip(radius**2 - d**2, 0, None))
        inner = d <= 0.8 * radius
        assert np.max(np.abs(projections[k][inner] - chord[inner])) <= tol  # measured 0.35


@pytest.mark.parametrize("shape", [(31, 201), (3, 31, 201)])
def test_slab_projects_to_its_thickness_over_cos(shape):
    """A slab |y| <= T/2 seen at |theta| < 45 deg: path T / |cos theta|, exact (whole rows, no interpolation)."""
    slab = np.zeros(shape, dtype=np.float32)
    centre = (shape[-2] - 1) // 2
    slab[..., centre - 4:centre + 5, :] = 1.0  # 9 rows: T = 9 voxels of 0.5
    angles = np.array([-40.0, -20.0, 0.0, 10.0, 33.0, 44.0, 180.0, 200.0])
    op = ParallelProjector(shape, 0.5, angles, pixel_size=0.5)
    sino = op.direct(slab).reshape(len(angles), -1, op.n_columns)
    # Rays whose path through the slab stays inside the grid's x range: |u| <= 60 voxels.
    inner = np.abs(op.u) <= 60 * 0.5
    expected = 9 * 0.5 / np.abs(np.cos(np.radians(angles)))
    np.testing.assert_allclose(sino[:, :, inner], np.broadcast_to(expected[:, None, None], sino[:, :, inner].shape),
                               rtol=FLOAT32_SUMS)


@pytest.mark.parametrize("pixel", [1.0, 0.7])
def test_projections_conserve_the_area(pixel):
    """Sum over columns x pixel = area, at every angle.

    Joseph conserves mass only on average over sub-pixel positions: by
    Poisson summation one voxel sends ``(1/d) [1 + 2 sum_m sinc^2(m/d)
    cos(2 pi m phi)]`` to the detector, d the detector step in voxels of the
    interpolation axis (1/d in [0.71, 1] for pixel = voxel; >= 1.01 for
    pixel = 0.7 voxel, where sinc^2 nearly vanishes). Over a disc of radius
    R the cosines weigh the Fourier transform of its projection at m/d,
    ``|2 J1(z)/z| <= 2 sqrt(2/(pi z))/z`` with ``z = 2 pi R / d >= 178`` for
    R = 40: 6.7e-4, times 2 sinc^2(0.71) = 0.25: 1.7e-4. Tolerance 1e-3
    (measured 1.0e-4).
    """
    n, radius = 101, 40.0
    disc = _fractions((n, n), lambda y, x: x**2 + y**2 <= radius**2)
    op = ParallelProjector(disc.shape, 1.0, np.linspace(0, 180, 181), pixel_size=pixel, centre_offset_px=0.3)
    mass = op.direct(disc).astype(float).sum(axis=1) * pixel
    np.testing.assert_allclose(mass, disc.astype(float).sum(), rtol=1e-3)


@pytest.mark.parametrize("offset, pixel", [(0.0, 1.0), (2.5, 1.0), (-3.0, 0.8), (1.5, 0.6)])
def test_the_axis_lands_at_the_centre_plus_offset(offset, pixel):
    """A voxel on the rotation axis projects, at every angle, centred on column (n - 1)/2 + offset.

    Its footprint is a triangle centred on its projection, sampled at the
    columns; with the centre on a column or half-way between two (odd
    detector, integer or half-integer offset) the samples are symmetric
    about it and their centroid is exactly there.
    """
    n_columns = 45
    volume = np.zeros((5, 31, 31), dtype=np.float32)
    volume[3, 15, 15] = 1.0  # the axis passes through voxel (15, 15) of every slice
    angles = np.linspace(0, 360, 37)
    op = ParallelProjector(volume.shape, 1.0, angles, n_columns=n_columns, pixel_size=pixel, centre_offset_px=offset)
    projections = op.direct(volume)
    assert np.all(projections[:, [0, 1, 2, 4]] == 0)  # only row 3 sees the voxel
    row = projections[:, 3].astype(float)
    centroid = (row * np.arange(n_columns)).sum(axis=1) / row.sum(axis=1)
    np.testing.assert_allclose(centroid, 0.5 * (n_columns - 1) + offset, atol=1e-4)
    if offset == 0.0:  # odd detector, no offset: the peak is the middle column
        assert np.all(np.argmax(row, axis=1) == (n_columns - 1) // 2)


# ---------------------------------------------------------------------- refusals
@pytest.mark.parametrize("shape", [(10,), (2, 3, 4, 5)])
def test_refuses_a_shape_of_the_wrong_rank(shape):
    with pytest.raises(ValueError, match=r"shape=.*expected \(ny, nx\) or \(nz, ny, nx\)"):
        ParallelProjector(shape, 1.0, [0.0, 90.0])


def test_refuses_an_empty_axis():
    with pytest.raises(ValueError, match="shape=0: expected an integer >= 1"):
        ParallelProjector((0, 8), 1.0, [0.0, 90.0])


def test_refuses_angles_in_radians():
    with pytest.raises(ValueError, match="angles_deg: the angles span only 3.142; expected degrees"):
        ParallelProjector((8, 8), 1.0, np.linspace(0, np.pi, 50))


def test_refuses_no_angles():
    with pytest.raises(ValueError, match="angles_deg: expected at least one projection angle"):
        ParallelProjector((8, 8), 1.0, [])


def test_refuses_a_detector_beyond_the_fixed_point_range():
    with pytest.raises(ValueError, match="centre_offset_px=10000000.0: .* expected less than 4.19e"):
        ParallelProjector((8, 8), 1.0, [0.0, 90.0], centre_offset_px=1e7)


def test_refuses_a_volume_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"volume: expected shape \(8, 9\), got \(9, 8\)"):
        ParallelProjector((8, 9), 1.0, [0.0, 90.0]).direct(np.zeros((9, 8)))


@pytest.mark.parametrize("method", ["adjoint", "backproject"])
def test_refuses_projections_of_the_wrong_shape(method):
    op = ParallelProjector((4, 8, 8), 1.0, [0.0, 45.0, 90.0], n_columns=12)
    with pytest.raises(ValueError, match=r"projections: expected shape \(3, 4, 12\) .* got \(3, 12, 4\)"):
        getattr(op, method)(np.zeros((3, 12, 4), np.float32))


def test_cone_refuses_projections_of_the_wrong_shape():
    op = ConeProjector((4, 8, 8), 1.0, [0.0, 90.0], source_origin=50.0, source_detector=100.0,
                       detector_shape=(6, 20))
    with pytest.raises(ValueError, match=r"projections: expected shape \(2, 6, 20\), got \(2, 20, 6\)"):
        op.adjoint(np.zeros((2, 20, 6), np.float32))


def test_cone_refuses_a_source_inside_the_sample():
    # Half diagonal of a 40 x 40 slice of 1-unit voxels: 28.3.
    with pytest.raises(ValueError, match="source_origin=20.0: expected more than the volume's half diagonal 28.28"):
        ConeProjector((10, 40, 40), 1.0, [0.0, 90.0], source_origin=20.0, source_detector=100.0)


def test_cone_refuses_a_cone_angle_of_45_degrees_or_more():
    # 200 rows of 1.0 at 100 from the source: half-angle atan(100 / 100) = 45 degrees.
    with pytest.raises(ValueError, match=r"detector_shape=\(200, 50\): cone half-angle 45.0 deg, expected below 45"):
        ConeProjector((10, 20, 20), 1.0, [0.0, 90.0], source_origin=50.0, source_detector=100.0,
                      detector_shape=(200, 50), pixel_size=1.0)


def test_cone_refuses_a_detector_before_the_axis():
    with pytest.raises(ValueError, match="source_detector=40.0: expected more than source_origin=50.0"):
        ConeProjector((10, 20, 20), 1.0, [0.0, 90.0], source_origin=50.0, source_detector=40.0)


def test_cone_refuses_a_slice():
    with pytest.raises(ValueError, match=r"shape=\(20, 20\): expected \(nz, ny, nx\) for a cone-beam volume"):
        ConeProjector((20, 20), 1.0, [0.0, 90.0], source_origin=50.0, source_detector=100.0)
