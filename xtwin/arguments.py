"""Argument checks shared by every package.

Every public function refuses bad input early with a message that names the
argument, the value received and what was expected (DESIGN.md, "Errors and
data"), instead of letting a bare numpy traceback surface from deep inside.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

#: Photon energies for which xraylib's cross-section tables are defined, keV.
#: Below 0.1 keV and above 800 keV its splines refuse to extrapolate
#: (checked for Z = 1..98 with xraylib 4.3).
XRAYLIB_ENERGY_RANGE_KEV = (0.1, 800.0)


def positive(name: str, value: Any, *, allow_zero: bool = False, unit: str = "") -> float:
    """Return ``value`` as a float, refusing NaN, infinities and values <= 0.

    Parameters
    ----------
    name : str
        Argument name used in the error message.
    value : float
        Value to check.
    allow_zero : bool
        Accept exactly zero.
    unit : str
        Unit appended to the message, e.g. ``"g/cm3"``.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: expected a number{_in(unit)}") from None
    bound = ">= 0" if allow_zero else "> 0"
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name}={value!r}: expected a finite number {bound}{_in(unit)}")
    return v


def finite(name: str, value: Any, *, unit: str = "") -> float:
    """Return ``value`` as a float, refusing non-numbers, NaN and infinities (any sign allowed)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: expected a number{_in(unit)}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name}={value!r}: expected a finite number{_in(unit)}")
    return v


def in_range(name: str, value: Any, low: float, high: float, *, unit: str = "") -> float:
    """Return ``value`` as a float, refusing it unless ``low <= value <= high``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: expected a number{_in(unit)}") from None
    if not (np.isfinite(v) and low <= v <= high):
        raise ValueError(f"{name}={value!r}: expected a number in [{low}, {high}]{_in(unit)}")
    return v


def integer(name: str, value: Any, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, refusing floats with a fraction, bools and values below ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}={value!r}: expected an integer")
    v = int(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}={value!r}: expected an integer >= {minimum}")
    return v


def size_range(name: str, value: Any, *, unit: str = "um") -> tuple[float, float]:
    """Return a ``(smallest, largest)`` pair of positive sizes with smallest < largest."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ValueError(f"{name}={value!r}: expected (smallest, largest){_in(unit)}")
    low, high = (positive(name, v, unit=unit) for v in value)
    if low >= high:
        raise ValueError(f"{name}={value!r}: expected smallest < largest")
    return low, high


def one_of(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(map(repr, choices))}")
    return value


def energies_kev(name: str, value: Any) -> np.ndarray:
    """Return photon energies as a float array, refusing values outside xraylib's range.

    A value that lies out of range but would be in range divided by 1000 is
    almost certainly an energy in eV (8333 for the Ni K edge): the message
    says so.
    """
    try:
        e = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}={value!r}: expected a number or array of numbers in keV") from None
    low, high = XRAYLIB_ENERGY_RANGE_KEV
    bad = ~np.isfinite(e) | (e < low) | (e > high)
    if np.any(bad):
        first = e[bad].flat[0] if e.ndim else float(e)
        hint = ""
        if np.isfinite(first) and low <= first / 1000 <= high:
            hint = f" (did you pass eV? {first:g} eV is {first / 1000:g} keV)"
        raise ValueError(
            f"{name}={_short(value)}: expected photon energies in keV within "
            f"[{low}, {high}] keV, the range of xraylib's tables; got {first:g}{hint}"
        )
    return e


#: More angles than this spanning at most 2 pi are taken for radians (a few may be a limited-angle scan).
RADIANS_MIN_ANGLES = 8


def angles_deg(value: Any, n: int | None = None) -> np.ndarray:
    """Return projection angles in degrees as a 1D float array, refusing what looks like radians.

    Refuses an empty or non-finite set, a count other than ``n`` (one angle
    per projection), and more than :data:`RADIANS_MIN_ANGLES` angles that
    span at most 2 pi.
    """
    a = array("angles_deg", value, ndim=(1,), dtype_kind="iuf", finite=True).astype(float)
    if a.size == 0:
        raise ValueError("angles_deg: expected at least one projection angle")
    if n is not None and a.size != n:
        raise ValueError(f"angles_deg: expected {n} angles, one angle per projection, got {a.size}")
    span = float(np.ptp(a))
    if a.size > RADIANS_MIN_ANGLES and 0 < span <= 2 * np.pi + 1e-9:
        raise ValueError(f"angles_deg: the angles span only {span:.4g}; expected degrees (e.g. 0-180) for these "
                         f"{a.size} angles, got what looks like radians (multiply by 180/pi)")
    return a


def json_mapping(name: str, value: Any) -> Mapping[str, Any]:
    """A read-only, JSON-normalised copy of ``value`` (tuples become lists), which therefore compares equal
    after a round trip through a file; refuses what JSON cannot hold."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name}={value!r}: expected a mapping of JSON-serialisable values")
    try:
        text = json.dumps(dict(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected JSON-serialisable values (numbers, strings, lists, dicts), {err}") \
            from None
    return MappingProxyType(json.loads(text))


def array(name: str, value: Any, *, ndim: Iterable[int] | None = None, shape: tuple | None = None,
          dtype_kind: str | None = None, finite: bool = False) -> np.ndarray:
    """Return ``value`` as an ndarray after checking its rank, shape, dtype kind and finiteness.

    ``dtype_kind`` is a string of accepted numpy kinds: ``"iu"`` for integers,
    ``"f"`` for floats, ``"iuf"`` for any real number, ``"b"`` for booleans.
    """
    a = np.asarray(value)
    if ndim is not None and a.ndim not in tuple(ndim):
        raise ValueError(f"{name}: expected an array with ndim in {tuple(ndim)}, got shape {a.shape}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {a.shape}")
    if dtype_kind is not None and a.dtype.kind not in dtype_kind:
        raise TypeError(f"{name}: expected dtype kind in {dtype_kind!r}, got {a.dtype}")
    if finite and a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: expected finite values, found NaN or infinity")
    return a


def _in(unit: str) -> str:
    return f" (in {unit})" if unit else ""


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."
