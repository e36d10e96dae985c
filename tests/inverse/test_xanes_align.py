"""Tests of inverse.xanes.align: sub-pixel registration (Guizar-Sicairos 2008) and Fourier shifts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from inverse.xanes import register, shift_images


def _texture(shape=(96, 128), seed=1):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 3)


def test_register_recovers_known_shifts_to_a_tenth_pixel():
    rng = np.random.default_rng(2)
    base = _texture()
    true = rng.uniform(-4.0, 4.0, (8, 2))
    true[0] = 0.0
    # XANES-like contrast change between energies: scale and offset differ per image
    scale = np.linspace(0.5, 1.5, 8)[:, None, None]
    images = scale * shift_images(np.repeat(base[None], 8, 0), true) + np.linspace(0, 3, 8)[:, None, None]
    images += rng.normal(0, 0.05 * base.std(), images.shape)
    est = register(images, reference=0)
    assert np.max(np.abs(est - true)) < 0.1
    rel = register(images, reference="mean")
    assert np.max(np.abs((rel - rel[0]) - true)) < 0.1
    assert np.max(np.abs(register(images, reference=0, whiten=True) - true)) < 0.1
    # integer shifts without upsampling are exact
    ints = np.array([[0, 0], [3, -5], [-7, 2]])
    stack = shift_images(np.repeat(base[None], 3, 0), ints)
    np.testing.assert_array_equal(register(stack, reference=0, upsample=1), ints)


def test_shift_images_round_trip_and_integer_roll():
    base = _texture((32, 40))
    s = np.array([[2.0, -3.0]])
    np.testing.assert_allclose(shift_images(base[None], s)[0], np.roll(base, (2, -3), axis=(0, 1)), atol=1e-12)
    # sub-pixel shifts are exactly invertible on odd sizes (no Nyquist row/column to lose in the real part)
    odd = _texture((33, 41))
    back = shift_images(shift_images(odd[None], s + 0.37), -(s + 0.37))
    np.testing.assert_allclose(back[0], odd, atol=1e-12)


def test_refusals():
    with pytest.raises(ValueError, match="ndim"):
        register(np.ones((4, 4)))
    with pytest.raises(ValueError, match="finite"):
        register(np.full((2, 8, 8), np.nan))
    with pytest.raises(ValueError, match="reference=5"):
        register(np.ones((2, 8, 8)), reference=5)
    with pytest.raises(ValueError, match="reference"):
        register(np.ones((2, 8, 8)), reference="median")
    with pytest.raises(ValueError, match="shifts_px"):
        shift_images(np.ones((2, 8, 8)), np.zeros((3, 2)))
