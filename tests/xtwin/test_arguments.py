"""Shared argument checks: each refusal names the argument and the value."""

import numpy as np
import pytest

from xtwin import arguments


def test_positive():
    assert arguments.positive("x", 2) == 2.0
    assert arguments.positive("x", 0, allow_zero=True) == 0.0
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"x=.*expected a finite number"):
            arguments.positive("x", bad)
    with pytest.raises(TypeError, match="x='a'"):
        arguments.positive("x", "a")


def test_in_range_and_integer_and_one_of():
    assert arguments.in_range("f", 0.5, 0, 1) == 0.5
    with pytest.raises(ValueError, match=r"f=2.*\[0, 1\]"):
        arguments.in_range("f", 2, 0, 1)
    assert arguments.integer("n", np.int64(3), minimum=1) == 3
    with pytest.raises(TypeError, match="n=2.5"):
        arguments.integer("n", 2.5)
    with pytest.raises(TypeError, match="n=True"):
        arguments.integer("n", True)
    with pytest.raises(ValueError, match="n=0: expected an integer >= 1"):
        arguments.integer("n", 0, minimum=1)
    with pytest.raises(ValueError, match="mode='c'.*'a', 'b'"):
        arguments.one_of("mode", "c", ("a", "b"))


def test_energies_kev():
    e = arguments.energies_kev("energy_kev", [5.4, 20])
    assert e.dtype == float and e.tolist() == [5.4, 20.0]
    with pytest.raises(ValueError, match=r"energy_kev=8333.*did you pass eV\? 8333 eV is 8.333 keV"):
        arguments.energies_kev("energy_kev", 8333)
    with pytest.raises(ValueError, match="energy_kev.*0.05"):
        arguments.energies_kev("energy_kev", [10, 0.05])
    with pytest.raises(ValueError, match="energy_kev"):
        arguments.energies_kev("energy_kev", float("nan"))


def test_array():
    a = arguments.array("a", [[1, 2]], ndim=(2,), dtype_kind="iu")
    assert a.shape == (1, 2)
    with pytest.raises(ValueError, match="a: expected an array with ndim"):
        arguments.array("a", [1], ndim=(2, 3))
    with pytest.raises(ValueError, match=r"a: expected shape \(2,\)"):
        arguments.array("a", [1], shape=(2,))
    with pytest.raises(TypeError, match="a: expected dtype kind"):
        arguments.array("a", [1.5], dtype_kind="iu")
    with pytest.raises(ValueError, match="a: expected finite"):
        arguments.array("a", [np.nan], finite=True)


def test_size_range():
    assert arguments.size_range("d", (1, 2.5)) == (1.0, 2.5)
    with pytest.raises(ValueError, match=r"d=\(1, 2, 3\): expected \(smallest, largest\)"):
        arguments.size_range("d", (1, 2, 3))
    with pytest.raises(ValueError, match=r"d=\(3, 2\): expected smallest < largest"):
        arguments.size_range("d", (3, 2))
    with pytest.raises(ValueError, match="d=-1"):
        arguments.size_range("d", (-1, 2))


def test_finite():
    assert arguments.finite("c", -2.5) == -2.5
    with pytest.raises(ValueError, match="c=nan: expected a finite number"):
        arguments.finite("c", float("nan"))
    with pytest.raises(TypeError, match="c='x': expected a number"):
        arguments.finite("c", "x")
