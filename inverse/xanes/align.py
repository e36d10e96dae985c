"""Sub-pixel registration of the images of a XANES stack (drift between energies, seeds/004 section 4).

Changing the energy moves the zone plate and the sample stage, so the images of a TXM-XANES scan drift by a
fraction of a pixel to a few pixels; seeds/004 (section 4, "Data analysis") aligns them before any per-pixel
spectrum is read. Method: cross-correlation peak located to ``1/upsample`` pixel by the matrix-multiply DFT of
Guizar-Sicairos, Thurman & Fienup, Opt. Lett. 33 (2008) 156 ("Efficient subpixel image registration
algorithms"): (1) FFT cross-correlation, integer peak; (2) the cross-correlation evaluated by a small DFT only
in a 1.5 x 1.5 pixel neighbourhood of that peak, upsampled ``upsample`` times, as two matrix products.
Vectorised over the images of the stack (one batched FFT, batched einsum for step 2); own implementation.

:func:`shift_images` applies (or undoes) the shifts by the Fourier shift theorem (periodic boundaries, exact
for band-limited images), also batched.
"""

from __future__ import annotations

import numpy as np

from xtwin import arguments

__all__ = ["register", "shift_images"]


def _stack(images) -> np.ndarray:
    a = arguments.array("images", images, ndim=(3,), dtype_kind="iuf")
    if a.shape[0] < 1 or a.shape[1] < 4 or a.shape[2] < 4:
        raise ValueError(f"images: expected a stack (n_E, ny, nx) of images at least 4 x 4, got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("images: expected finite values (fill NaN pixels, e.g. with the image mean, before "
                         "registering)")
    return a


def _upsampled_dft(data: np.ndarray, size: int, upsample: int, offsets: np.ndarray) -> np.ndarray:
    """Inverse DFT of ``data`` (m, ny, nx) at the real-space points ``(offsets + g - size // 2) / upsample``,
    ``g = 0 .. size - 1`` along each axis (offsets (m, 2) in upsampled pixels; rows, columns), as two batched
    matrix products (Guizar-Sicairos et al. 2008, the ``dftups`` step)."""
    m, ny, nx = data.shape
    fy = np.fft.ifftshift(np.arange(ny)) - ny // 2
    fx = np.fft.ifftshift(np.arange(nx)) - nx // 2
    grid = np.arange(size) - size // 2
    ky = np.exp(2j * np.pi / (ny * upsample) * (grid[None, :, None] + offsets[:, 0, None, None]) * fy[None, None, :])
    kx = np.exp(2j * np.pi / (nx * upsample) * fx[None, :, None] * (grid[None, None, :] + offsets[:, 1, None, None]))
    return np.einsum("mak,mkl,mlb->mab", ky, data, kx, optimize=True)


def register(images, *, reference: int | str = "mean", upsample: int = 20, whiten: bool = False) -> np.ndarray:
    """Shift (rows, columns), px, of every image relative to a reference, to ``1/upsample`` pixel.

    Parameters
    ----------
    images : array (n_E, ny, nx)
        Image stack (absorbance or transmission), finite.
    reference : int or "mean"
        Index of the reference image, or ``"mean"`` (the mean image of the stack; its own drift averages out).
    upsample : int
        Upsampling factor of the refinement (20: 0.05-px steps).
    whiten : bool
        Phase correlation (normalise the cross-power spectrum to unit magnitude) instead of the plain cross
        correlation; sharper for strongly textured images, noisier at low counts.

    Returns
    -------
    ndarray (n_E, 2)
        Shift ``(dy, dx)`` in pixels such that ``image[k](r) ~ reference(r - shift[k])``: pass ``-shift`` to
        :func:`shift_images` to align the stack.

    Notes
    -----
    Cost O(n_E ny nx log(ny nx)) for the FFTs plus O(n_E (1.5 upsample)^2 (ny + nx)) for the refinement.
    Each image has its mean subtracted first (contrast changes across the edge must not bias the peak).
    """
    a = _stack(images).astype(float)
    up = arguments.integer("upsample", upsample, minimum=1)
    n_e, ny, nx = a.shape
    if isinstance(reference, str):
        arguments.one_of("reference", reference, ("mean",))
        ref = a.mean(axis=0)
    else:
        idx = arguments.integer("reference", reference, minimum=0)
        if idx >= n_e:
            raise ValueError(f"reference={reference!r}: expected an image index < {n_e} or 'mean'")
        ref = a[idx]
    a = a - a.mean(axis=(1, 2), keepdims=True)
    ref = ref - ref.mean()
    f_img = np.fft.fft2(a)
    f_ref = np.fft.fft2(ref)
    cross = f_img * np.conj(f_ref)
    if whiten:
        cross = cross / np.maximum(np.abs(cross), 1e-300)
    corr = np.abs(np.fft.ifft2(cross))
    flat = np.argmax(corr.reshape(n_e, -1), axis=1)
    peak = np.stack(np.unravel_index(flat, (ny, nx)), axis=1).astype(float)
    size = np.array([ny, nx])
    peak = np.where(peak > size // 2, peak - size, peak)
    if up == 1:
        return peak
    peak = np.round(peak * up) / up
    width = int(np.ceil(up * 1.5))
    offsets = peak * up  # centre of the upsampled window, in upsampled pixels
    region = np.abs(_upsampled_dft(cross, width, up, offsets))
    flat = np.argmax(region.reshape(n_e, -1), axis=1)
    fine = np.stack(np.unravel_index(flat, (width, width)), axis=1) - width // 2
    return peak + fine / up


def shift_images(images, shifts_px) -> np.ndarray:
    """Shift every image by ``shifts_px[k] = (dy, dx)`` pixels (Fourier shift theorem, periodic), float64.

    ``shift_images(images, -register(images))`` aligns a stack on its reference. NaN pixels are refused.
    The real part is kept, so on even image sizes a sub-pixel shift drops the imaginary part of the Nyquist
    row/column (a round trip is then exact only to that component; odd sizes are exactly invertible).
    Cost O(n_E ny nx log(ny nx)).
    """
    a = _stack(images).astype(float)
    s = arguments.array("shifts_px", shifts_px, ndim=(2,), dtype_kind="iuf", finite=True).astype(float)
    if s.shape != (a.shape[0], 2):
        raise ValueError(f"shifts_px: expected shape {(a.shape[0], 2)} (one (dy, dx) per image), got {s.shape}")
    ny, nx = a.shape[1:]
    fy = np.fft.fftfreq(ny)[None, :, None]
    fx = np.fft.fftfreq(nx)[None, None, :]
    ramp = np.exp(-2j * np.pi * (fy * s[:, 0, None, None] + fx * s[:, 1, None, None]))
    return np.fft.ifft2(np.fft.fft2(a) * ramp).real
