"""Curves: validation, shape of maps, region means and interpolation."""

import numpy as np
import pytest

from forward.saxs.curves import Q_MAX_INV_A, Curves, loglog_interpolate

Q = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.5])


def _map(shape=(2, 3)):
    rng = np.random.default_rng(1)
    intensity = rng.uniform(1, 2, shape + (Q.size,))
    return Curves(Q, intensity, intensity * 0.1, transmission=np.full(shape, 0.5),
                  positions_um=rng.uniform(0, 100, shape + (2,)), metadata={"energy_kev": 13.2})


def test_single_curve_shape_and_float_types():
    c = Curves(Q, np.arange(1, 7))
    assert c.shape == () and c.n_q == 6 and len(c) == 1 and c.n_curves == 1
    assert c.intensity_per_cm.dtype == np.float64  # integers become float64
    c32 = Curves(Q, np.ones(6, np.float32))
    assert c32.intensity_per_cm.dtype == np.float32  # float32 maps stay float32
    assert not c.intensity_per_cm.flags.writeable


def test_map_indexing_and_reshape():
    m = _map()
    assert m.shape == (2, 3) and len(m) == 6
    one = m[1, 2]
    assert one.shape == () and one.transmission == 0.5
    assert np.array_equal(one.intensity_per_cm, m.intensity_per_cm[1, 2])
    assert np.array_equal(one.positions_um, m.positions_um[1, 2])
    row = m[:, 1:]
    assert row.shape == (2, 2) and np.array_equal(row.sigma_per_cm, m.sigma_per_cm[:, 1:])
    flat = m.reshape(-1)
    assert flat.shape == (6,) and np.array_equal(flat.intensity_per_cm[4], m.intensity_per_cm[1, 1])
    assert flat.reshape(2, 3) == m
    with pytest.raises(IndexError, match="leading shape"):
        m[0, 0, 0]
    with pytest.raises(IndexError, match="single curve"):
        one[0]


def test_region_mean_by_hand():
    m = _map()
    # q in [0.05, 0.2] holds points 2, 3, 4.
    expected = m.intensity_per_cm[..., 2:5].mean(axis=-1)
    assert np.allclose(m.region_mean(0.05, 0.2), expected, rtol=1e-15)
    mean, sigma = m.region_mean(0.05, 0.2, return_sigma=True)
    assert np.allclose(sigma, np.sqrt((m.sigma_per_cm[..., 2:5] ** 2).sum(-1)) / 3, rtol=1e-15)
    assert m.region_mean(0.05, 0.2).shape == (2, 3)


def test_region_mean_refusals():
    m = _map()
    with pytest.raises(ValueError, match=r"no q point in this region; the curves cover \[0.01, 0.5\]"):
        m.region_mean(0.6, 0.9)
    with pytest.raises(ValueError, match="q_max_inv_A=0.1: expected more than q_min_inv_A=0.2"):
        m.region_mean(0.2, 0.1)
    with pytest.raises(ValueError, match="q_min_inv_A=-0.1"):
        m.region_mean(-0.1, 0.1)
    with pytest.raises(ValueError, match="no sigma_per_cm"):
        Curves(Q, np.ones(6)).region_mean(0.01, 0.1, return_sigma=True)


def test_loglog_interpolation_is_exact_for_a_power_law():
    # log I is linear in log q for I = 3 q^-4 (Porod): log-log interpolation is exact.
    c = Curves(Q, 3.0 * Q ** -4.0)
    q = np.array([0.015, 0.07, 0.33])
    assert np.allclose(c.interpolate(q), 3.0 * q ** -4.0, rtol=1e-12)
    # Linear interpolation when a value is <= 0.
    lin = loglog_interpolate([0.015], Q, np.array([0.0, 1, 2, 3, 4, 5]))
    assert lin[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="outside the curve's q-range"):
        c.interpolate([0.6])


def test_refuses_negative_q():
    with pytest.raises(ValueError, match=r"q_inv_A: expected q > 0 .* found -0.01 at index \(0,\)"):
        Curves([-0.01, 0.1], [1.0, 2.0])


def test_refuses_nan_q_and_decreasing_q():
    with pytest.raises(ValueError, match=r"q_inv_A: expected finite q values .* found nan at index \(1,\)"):
        Curves([0.01, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"strictly increasing q, found q\[1\]=0.2 >= q\[2\]=0.1"):
        Curves([0.1, 0.2, 0.1], [1.0, 2.0, 3.0])


def test_refuses_q_in_inverse_nm():
    # A WAXS curve up to the Na metal peak written in 1/nm: 20.7 instead of 2.07 1/A.
    q_nm = np.linspace(5.0, 25.0, 50)
    with pytest.raises(ValueError, match=r"q_inv_A: max q = 25 exceeds 10 1/Angstrom.*1/nm\? Divide by 10"):
        Curves(q_nm, np.ones(50))
    assert Q_MAX_INV_A == 10.0
    with pytest.raises(ValueError, match=r"metadata\['q_unit'\]='1/nm': q must be in 1/Angstrom; divide"):
        Curves(Q, np.ones(6), metadata={"q_unit": "1/nm"})
    with pytest.raises(ValueError, match=r"metadata\['q_unit'\]='degrees': expected a q unit of 1/Angstrom"):
        Curves(Q, np.ones(6), metadata={"q_unit": "degrees"})
    assert Curves(Q, np.ones(6), metadata={"q_unit": "1/A"}).metadata["q_unit"] == "1/A"


def test_refuses_intensity_of_wrong_length_or_nan():
    with pytest.raises(ValueError, match=r"intensity_per_cm: expected shape \(..., 6\) .* got shape \(5,\)"):
        Curves(Q, np.ones(5))
    with pytest.raises(ValueError, match=r"intensity_per_cm: expected shape \(..., 6\) .* got shape \(\)"):
        Curves(Q, 1.0)
    bad = np.ones((2, 6))
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match=r"intensity_per_cm: expected finite values \(1/cm\), found nan at index "
                                         r"\(1, 3\)"):
        Curves(Q, bad)
    with pytest.raises(TypeError, match="intensity_per_cm: expected an array of real numbers"):
        Curves(Q, np.array(["a"] * 6))


def test_refuses_sigma_mismatch_and_non_positive_sigma():
    with pytest.raises(ValueError, match=r"sigma_per_cm: expected the shape of intensity_per_cm \(2, 6\), got \(6,\)"):
        Curves(Q, np.ones((2, 6)), np.ones(6))
    with pytest.raises(ValueError, match=r"sigma_per_cm: expected finite uncertainties > 0 \(1/cm\), found 0.0 at "
                                         r"index \(2,\)"):
        Curves(Q, np.ones(6), np.array([1, 1, 0.0, 1, 1, 1]))
    with pytest.raises(ValueError, match=r"found -1.0 at index \(0,\)"):
        Curves(Q, np.ones(6), -np.ones(6))
    with pytest.raises(ValueError, match=r"sigma_per_cm: .* found nan"):
        Curves(Q, np.ones(6), np.full(6, np.nan))


def test_refuses_bad_transmission_positions_and_metadata():
    with pytest.raises(ValueError, match=r"transmission: expected one value per curve, shape \(2,\), got \(\)"):
        Curves(Q, np.ones((2, 6)), transmission=0.5)
    with pytest.raises(ValueError, match=r"transmission: expected values in \(0, 1\], found 1.5 at index \(1,\)"):
        Curves(Q, np.ones((2, 6)), transmission=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"positions_um: expected shape \(2, 'd'\) with d in 1..3"):
        Curves(Q, np.ones((2, 6)), positions_um=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"positions_um: expected finite positions"):
        Curves(Q, np.ones((2, 6)), positions_um=[[0.0, np.inf], [0.0, 0.0]])
    with pytest.raises(TypeError, match="metadata: expected JSON-serialisable"):
        Curves(Q, np.ones(6), metadata={"x": object()})


def test_equality_compares_arrays_and_dtype():
    a = Curves(Q, np.ones(6))
    assert a == Curves(Q, np.ones(6))
    assert a != Curves(Q, np.ones(6, np.float32))
    assert a != Curves(Q, np.ones(6), np.ones(6))
    assert "nq=6" in repr(a)
