"""Azimuthally integrated SAXS/WAXS curves: :class:`Curves`, one curve or a map of curves.

A :class:`Curves` is the ``Measurement`` of the scattering modality (DESIGN.md, "The flow of data"):
the differential scattering cross-section per unit volume of one or many
sample positions on a common q grid, in absolute units (1/cm), with optional
uncertainties, a transmission per curve (the diode of a scanning SWAXS
experiment, seeds/000 Methods) and a position per curve. The forward models
(:mod:`forward.saxs.detector`, :mod:`forward.saxs.scan`) produce them, the
readers of :mod:`forward.saxs.io` build them from NXcanSAS and column files,
and the inverse code (:mod:`inverse.saxs`) consumes them without knowing
which.

Conventions
-----------
* ``q_inv_A`` is the modulus of the scattering vector ``q = 4 pi sin(theta) /
  lambda`` in 1/Angstrom, shape ``(nq,)``, finite, > 0 and strictly
  increasing (a shared grid: one azimuthal integration of every frame).
* ``intensity_per_cm`` has shape ``(..., nq)``: the leading axes ``...`` index
  the curves (none for one curve, ``(ny, nx)`` for a raster map, ``(n,)`` for
  a batch). Values are finite; negative values are allowed (a background
  subtraction can leave them).
* ``sigma_per_cm`` (one standard deviation, 1/cm) has the same shape as the
  intensity and is > 0 everywhere.
* ``transmission`` has the leading shape ``(...)``, each value in (0, 1].
* ``positions_um`` has shape ``(..., d)`` with ``d`` in 1..3: the sample
  position of each curve, um (for a raster, ``(y, x)``).

The 1/nm check
--------------
Many programs write q in 1/nm; a curve in 1/nm passed as 1/Angstrom is ten
times too far out in q. Two rules catch it when it can be caught:

1. ``metadata["q_unit"]`` (or ``"Q_unit"``), when present, must name
   1/Angstrom (``"1/A"``, ``"1/angstrom"``, ``"A^-1"``, ...); a 1/nm unit is
   refused with the conversion.
2. ``max(q) > Q_MAX_INV_A = 10`` 1/Angstrom is refused. q = 10 1/A at the
   13.2 keV of seeds/000 needs 2 theta = 97 degrees (and q cannot exceed
   4 pi / lambda = 13.4 1/A there); no SAXS or WAXS experiment of this
   modality reaches it (a WAXS curve up to the Na metal peak at 2.07 1/A, in
   1/nm, reads 20.7), while a total-scattering (PDF) measurement at high
   energy, which could, is out of scope.

A SAXS-only curve in 1/nm (0.05 - 5 1/nm) cannot be told from one in 1/A by
its numbers; only the unit in the metadata or the file says.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from xtwin import arguments

__all__ = ["Curves", "Q_MAX_INV_A", "loglog_interpolate"]

#: Largest q accepted, 1/Angstrom: beyond it a curve is taken to be in 1/nm (see the module docstring).
Q_MAX_INV_A = 10.0
_Q_UNITS_A = {"1/a", "1/angstrom", "a^-1", "a-1", "1/å", "å^-1", "å-1", "å⁻¹", "a⁻¹", "inverse angstrom",
              "1/angstroms"}
_Q_UNITS_NM = {"1/nm", "nm^-1", "nm-1", "nm⁻¹", "inverse nanometre", "inverse nanometer", "1/nanometre",
               "1/nanometer"}


def _float_array(name: str, value: Any) -> np.ndarray:
    """Real array as float64 (float32 kept), refusing non-numbers."""
    try:
        a = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected an array of numbers, got {type(value).__name__}") from None
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected an array of real numbers, got dtype {a.dtype}")
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def _first_bad(a: np.ndarray, bad: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"{float(a[index])!r} at index {index}"


def _readonly(a: np.ndarray) -> np.ndarray:
    view = a.view()
    view.flags.writeable = False
    return view


def _check_q(q: Any, metadata: Mapping[str, Any]) -> np.ndarray:
    a = _float_array("q_inv_A", q)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"q_inv_A: expected a 1D array of at least one q value (1/Angstrom), got shape {a.shape}")
    bad = ~np.isfinite(a)
    if bad.any():
        raise ValueError(f"q_inv_A: expected finite q values (1/Angstrom), found {_first_bad(a, bad)}")
    if (a <= 0).any():
        raise ValueError(f"q_inv_A: expected q > 0 (1/Angstrom; q is the modulus of the scattering vector), found "
                         f"{_first_bad(a, a <= 0)}")
    if a.size > 1 and not (np.diff(a) > 0).all():
        i = int(np.argmax(np.diff(a) <= 0))
        raise ValueError(f"q_inv_A: expected strictly increasing q, found q[{i}]={float(a[i])!r} >= "
                         f"q[{i + 1}]={float(a[i + 1])!r}")
    for key in ("q_unit", "Q_unit"):
        if key in metadata:
            unit = str(metadata[key]).strip().lower().replace(" ", "")
            if unit in {u.replace(" ", "") for u in _Q_UNITS_NM}:
                raise ValueError(f"metadata[{key!r}]={metadata[key]!r}: q must be in 1/Angstrom; divide q in 1/nm "
                                 f"by 10 (1 1/nm = 0.1 1/A) and set the unit to '1/A'")
            if unit not in {u.replace(" ", "") for u in _Q_UNITS_A}:
                raise ValueError(f"metadata[{key!r}]={metadata[key]!r}: expected a q unit of 1/Angstrom ('1/A')")
    q_max = float(a[-1])
    if q_max > Q_MAX_INV_A:
        raise ValueError(f"q_inv_A: max q = {q_max:g} exceeds {Q_MAX_INV_A:g} 1/Angstrom, beyond any SAXS/WAXS "
                         f"q-range (q = 10 1/A needs 2 theta = 97 deg at 13.2 keV); is q in 1/nm? Divide by 10 "
                         f"(1 1/nm = 0.1 1/A)")
    return _readonly(a)


def loglog_interpolate(q_new_inv_A: Any, q_inv_A: np.ndarray, values: np.ndarray, *,
                       log: bool | None = None) -> np.ndarray:
    """Interpolate curves sampled on ``q_inv_A`` at ``q_new_inv_A``, log-log where possible.

    Parameters
    ----------
    q_new_inv_A : array_like, shape (m,)
        Where to interpolate, 1/Angstrom, inside ``[q[0], q[-1]]``.
    q_inv_A : ndarray, shape (nq,)
        Increasing grid, > 0.
    values : ndarray, shape (..., nq)
        Curves on that grid.
    log : bool or None
        Interpolate ``log I`` against ``log q`` (True), linearly (False), or
        log-log when every value is > 0 and linearly otherwise (None).

    Returns
    -------
    ndarray, shape (..., m)
        Vectorised over the leading axes (one ``searchsorted``, no Python
        loop); O(n_curves x m).
    """
    qn = np.atleast_1d(np.asarray(q_new_inv_A, dtype=float))
    if qn.ndim != 1 or not np.all(np.isfinite(qn)):
        raise ValueError(f"q_new_inv_A: expected a 1D array of finite q values, got shape {qn.shape}")
    q = np.asarray(q_inv_A, dtype=float)
    v = np.asarray(values, dtype=float)
    lo, hi = float(q[0]), float(q[-1])
    outside = (qn < lo * (1 - 1e-12)) | (qn > hi * (1 + 1e-12))
    if outside.any():
        raise ValueError(f"q_new_inv_A: {float(qn[outside][0])!r} lies outside the curve's q-range [{lo:g}, {hi:g}] "
                         "1/Angstrom; no extrapolation")
    if q.size == 1:
        return np.broadcast_to(v, v.shape[:-1] + (qn.size,)).copy()
    if log is None:
        log = bool(np.all(v > 0))
    x, xn = (np.log(q), np.log(np.clip(qn, lo, hi))) if log else (q, np.clip(qn, lo, hi))
    y = np.log(v) if log else v
    i = np.clip(np.searchsorted(x, xn, side="right") - 1, 0, q.size - 2)
    w = (xn - x[i]) / (x[i + 1] - x[i])
    out = y[..., i] * (1 - w) + y[..., i + 1] * w
    return np.exp(out) if log else out


@dataclass(frozen=True, eq=False)
class Curves:
    """One scattering curve or a map of curves on a shared q grid, absolute units.

    Parameters
    ----------
    q_inv_A : array_like, shape (nq,)
        Scattering vector modulus, 1/Angstrom, finite, > 0, strictly
        increasing; ``max q > Q_MAX_INV_A`` is refused as 1/nm (module
        docstring).
    intensity_per_cm : array_like, shape (..., nq)
        Differential scattering cross-section per unit volume
        dSigma/dOmega, 1/cm (1/cm/sr), finite; the leading axes index the
        curves.
    sigma_per_cm : array_like, shape (..., nq), or None
        One-standard-deviation uncertainty of the intensity, 1/cm, > 0.
    transmission : array_like, shape (...), or None
        Sample transmission of each curve, in (0, 1].
    positions_um : array_like, shape (..., d), or None
        Sample position of each curve (d = 1..3 coordinates, e.g. (y, x) of
        a raster), um, finite.
    metadata : mapping
        JSON-serialisable description (energy_kev, instrument, source file,
        ...). ``metadata["q_unit"]``, when given, must be 1/Angstrom.

    Notes
    -----
    Float32 input stays float32 (maps of many curves), other real input
    becomes float64; arrays are kept as read-only views. Two Curves compare
    equal when every array is equal (same dtype) and the metadata are equal.
    """

    q_inv_A: np.ndarray
    intensity_per_cm: np.ndarray
    sigma_per_cm: np.ndarray | None = None
    transmission: np.ndarray | None = None
    positions_um: np.ndarray | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _set = object.__setattr__  # frozen dataclass: fields are written once, here
        metadata = arguments.json_mapping("metadata", self.metadata)
        _set(self, "metadata", metadata)
        q = _check_q(self.q_inv_A, metadata)
        _set(self, "q_inv_A", q)
        intensity = _float_array("intensity_per_cm", self.intensity_per_cm)
        if intensity.ndim == 0 or intensity.shape[-1] != q.size:
            raise ValueError(f"intensity_per_cm: expected shape (..., {q.size}) with the last axis along q_inv_A "
                             f"(nq = {q.size}), got shape {intensity.shape}")
        bad = ~np.isfinite(intensity)
        if bad.any():
            raise ValueError(f"intensity_per_cm: expected finite values (1/cm), found {_first_bad(intensity, bad)}")
        _set(self, "intensity_per_cm", _readonly(intensity))
        if self.sigma_per_cm is not None:
            sigma = _float_array("sigma_per_cm", self.sigma_per_cm)
            if sigma.shape != intensity.shape:
                raise ValueError(f"sigma_per_cm: expected the shape of intensity_per_cm {intensity.shape}, got "
                                 f"{sigma.shape}")
            bad = ~(sigma > 0) | ~np.isfinite(sigma)
            if bad.any():
                raise ValueError(f"sigma_per_cm: expected finite uncertainties > 0 (1/cm), found "
                                 f"{_first_bad(sigma, bad)}")
            _set(self, "sigma_per_cm", _readonly(sigma))
        lead = intensity.shape[:-1]
        if self.transmission is not None:
            t = _float_array("transmission", self.transmission)
            if t.shape != lead:
                raise ValueError(f"transmission: expected one value per curve, shape {lead}, got {t.shape}")
            bad = ~((t > 0) & (t <= 1))
            if bad.any():
                raise ValueError(f"transmission: expected values in (0, 1], found {_first_bad(t, bad)}")
            _set(self, "transmission", _readonly(t))
        if self.positions_um is not None:
            p = _float_array("positions_um", self.positions_um)
            if p.shape[:-1] != lead or p.ndim == 0 or not 1 <= p.shape[-1] <= 3:
                raise ValueError(f"positions_um: expected shape {lead + ('d',)} with d in 1..3 (one position per "
                                 f"curve), got {p.shape}")
            bad = ~np.isfinite(p)
            if bad.any():
                raise ValueError(f"positions_um: expected finite positions (um), found {_first_bad(p, bad)}")
            _set(self, "positions_um", _readonly(p))

    # ------------------------------------------------------------------ shape
    @property
    def shape(self) -> tuple[int, ...]:
        """Leading shape: ``()`` for one curve, ``(ny, nx)`` for a map."""
        return self.intensity_per_cm.shape[:-1]

    @property
    def n_q(self) -> int:
        """Number of q points."""
        return self.q_inv_A.size

    @property
    def n_curves(self) -> int:
        """Number of curves (1 for a single curve)."""
        return math.prod(self.shape)

    def __len__(self) -> int:
        """Number of curves (the product of the leading shape; 1 for a single curve)."""
        return self.n_curves

    def __getitem__(self, index: Any) -> "Curves":
        """Curves of a sub-map: ``curves[3]``, ``curves[:, 2:5]``; indexes the leading axes only."""
        if not self.shape:
            raise IndexError("a single curve has no leading axes to index")
        idx = index if isinstance(index, tuple) else (index,)

        def lead(a: np.ndarray | None) -> np.ndarray | None:
            # Index the leading axes of a (..., k) array: move the last axis first, index, move it back.
            return None if a is None else np.moveaxis(np.moveaxis(a, -1, 0)[(slice(None),) + idx], 0, -1)

        try:
            np.empty(self.shape, dtype=np.int8)[idx]
        except IndexError as err:
            raise IndexError(f"index {index!r}: {err} (leading shape {self.shape}; the q axis is not indexed, use "
                             "region_mean or interpolate)") from None
        return Curves(self.q_inv_A, lead(self.intensity_per_cm), lead(self.sigma_per_cm),
                      None if self.transmission is None else self.transmission[idx], lead(self.positions_um),
                      dict(self.metadata))

    def reshape(self, *shape: int) -> "Curves":
        """The same curves with a new leading shape (``curves.reshape(-1)`` flattens a map)."""
        if len(shape) == 1 and isinstance(shape[0], tuple):
            shape = shape[0]
        lead = np.empty(self.shape, dtype=np.int8).reshape(shape).shape
        return Curves(self.q_inv_A, self.intensity_per_cm.reshape(lead + (self.n_q,)),
                      None if self.sigma_per_cm is None else self.sigma_per_cm.reshape(lead + (self.n_q,)),
                      None if self.transmission is None else self.transmission.reshape(lead),
                      None if self.positions_um is None else self.positions_um.reshape(lead + (-1,)),
                      dict(self.metadata))

    # ------------------------------------------------------------------ reductions
    def mean(self) -> "Curves":
        """The mean of all curves, one curve: sigma ``sqrt(sum sigma^2) / n`` (independent errors), the mean
        transmission; for averaging a region of a map (``curves[mask].mean()``)."""
        if not self.shape:
            return self
        n = self.n_curves
        flat = self.reshape(-1)
        sigma = None if flat.sigma_per_cm is None else np.sqrt((flat.sigma_per_cm.astype(float) ** 2).sum(axis=0)) / n
        return Curves(self.q_inv_A, flat.intensity_per_cm.astype(float).mean(axis=0), sigma,
                      None if flat.transmission is None else float(flat.transmission.mean()), None,
                      dict(self.metadata, averaged_curves=n))

    def _q_mask(self, q_min_inv_A: float, q_max_inv_A: float) -> np.ndarray:
        lo = arguments.positive("q_min_inv_A", q_min_inv_A, unit="1/Angstrom")
        hi = arguments.positive("q_max_inv_A", q_max_inv_A, unit="1/Angstrom")
        if hi <= lo:
            raise ValueError(f"q_max_inv_A={q_max_inv_A!r}: expected more than q_min_inv_A={q_min_inv_A!r}")
        inside = (self.q_inv_A >= lo) & (self.q_inv_A <= hi)
        if not inside.any():
            raise ValueError(f"q_min_inv_A={q_min_inv_A!r}, q_max_inv_A={q_max_inv_A!r}: no q point in this "
                             f"region; the curves cover [{self.q_inv_A[0]:g}, {self.q_inv_A[-1]:g}] 1/Angstrom")
        return inside

    def region_mean(self, q_min_inv_A: float, q_max_inv_A: float, *, return_sigma: bool = False):
        """Mean intensity of each curve over the q points in ``[q_min, q_max]``, 1/cm.

        The q-region averages of seeds/000 (Methods: "the scattering
        intensity in the selected q-regions were averaged in each pixel"):
        the arithmetic mean of the tabulated points, no weighting by bin
        width.

        Parameters
        ----------
        q_min_inv_A, q_max_inv_A : float
            Region, 1/Angstrom, 0 < q_min < q_max; it must hold a q point.
        return_sigma : bool
            Also return the propagated uncertainty ``sqrt(sum sigma^2) / n``
            (independent points; needs ``sigma_per_cm``).

        Returns
        -------
        ndarray, shape (...)
            (and the uncertainty, same shape, with ``return_sigma``).
        """
        inside = self._q_mask(q_min_inv_A, q_max_inv_A)
        n = int(inside.sum())
        mean = self.intensity_per_cm[..., inside].mean(axis=-1, dtype=np.float64)
        if not return_sigma:
            return mean
        if self.sigma_per_cm is None:
            raise ValueError("return_sigma=True: these curves have no sigma_per_cm")
        sigma = np.sqrt(np.sum(np.square(self.sigma_per_cm[..., inside], dtype=np.float64), axis=-1)) / n
        return mean, sigma

    def interpolate(self, q_inv_A: Any, *, log: bool | None = None) -> np.ndarray:
        """Intensity at ``q_inv_A``, 1/cm, shape ``(..., m)``: see :func:`loglog_interpolate`."""
        return loglog_interpolate(q_inv_A, self.q_inv_A, self.intensity_per_cm, log=log)

    # ------------------------------------------------------------------ comparison
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Curves):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                        and np.array_equal(a, b)):
                    return False
            elif isinstance(a, Mapping):
                if dict(a) != dict(b):
                    return False
            elif a != b:
                return False
        return True

    __hash__ = None  # array contents: not hashable

    def __repr__(self) -> str:
        return (f"Curves(shape={self.shape}, nq={self.n_q}, q {self.q_inv_A[0]:.4g}..{self.q_inv_A[-1]:.4g} 1/A, "
                f"sigma={'yes' if self.sigma_per_cm is not None else 'no'}, "
                f"transmission={'yes' if self.transmission is not None else 'no'}, "
                f"positions={'yes' if self.positions_um is not None else 'no'})")
