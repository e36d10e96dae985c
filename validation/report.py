"""Validation reports: one JSON shape for every modality.

A :class:`Report` is a list of :class:`Check` s, each comparing a recovered
or computed value with the twin's truth or an independent reference within
a tolerance stated next to the reason for it (DESIGN.md, "Validation
reports"). ``xtwin validate MODALITY --json FILE`` writes it; the demo
report is assembled from the same objects.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import xtwin
from xtwin import files

#: How a check compares ``value`` with ``truth`` against ``tolerance``.
COMPARISONS = ("rel", "abs", "max")


@dataclass(frozen=True)
class Check:
    """One comparison of a value with its truth or reference.

    Parameters
    ----------
    name : str
        Identifier, snake_case, unique within a report.
    value : float
        What xtwin computed or recovered. For ``comparison="rel"`` and
        ``"abs"`` this is the raw value and ``truth`` the reference; for
        ``"max"`` it is already an error measure that must not exceed the
        tolerance (``truth`` is then None).
    tolerance : float
        Largest accepted error (relative for ``"rel"``).
    why : str
        Reason for the tolerance and where the reference comes from.
    truth : float or None
        Reference value.
    unit : str
        Unit of ``value`` and ``truth`` ("" if dimensionless).
    comparison : {"rel", "abs", "max"}
        ``rel``: |value - truth| / |truth| <= tolerance; ``abs``:
        |value - truth| <= tolerance; ``max``: value <= tolerance.
    """

    name: str
    value: float
    tolerance: float
    why: str
    truth: float | None = None
    unit: str = ""
    comparison: str = "rel"

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"comparison={self.comparison!r}: expected one of {COMPARISONS}")
        if self.comparison != "max" and self.truth is None:
            raise ValueError(f"check {self.name!r}: comparison={self.comparison!r} needs a truth value")
        if not (self.tolerance >= 0):
            raise ValueError(f"tolerance={self.tolerance!r}: expected a number >= 0")
        object.__setattr__(self, "value", float(self.value))
        if self.truth is not None:
            object.__setattr__(self, "truth", float(self.truth))

    @property
    def error(self) -> float:
        """The error compared with the tolerance (relative for ``"rel"``); NaN if undefined."""
        if self.comparison == "max":
            return self.value
        diff = abs(self.value - self.truth)
        if self.comparison == "abs":
            return diff
        return diff / abs(self.truth) if self.truth != 0 else (0.0 if diff == 0 else math.inf)

    @property
    def passed(self) -> bool:
        """True when the error is finite and within the tolerance."""
        err = self.error
        return math.isfinite(err) and err <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        """The check as the JSON object of DESIGN.md."""
        return {"name": self.name, "value": _json_float(self.value), "tolerance": self.tolerance,
                "unit": self.unit, "truth": _json_float(self.truth), "comparison": self.comparison,
                "error": _json_float(self.error), "passed": self.passed, "why": self.why}


@dataclass(frozen=True)
class Report:
    """The outcome of one modality's validation.

    Parameters
    ----------
    modality : str
        ``"materials"``, ``"tomo"``, ``"saxs"``, ...
    checks : sequence of Check
        At least one.
    seed : int or None
        Seed of every random draw of the run.
    timings_s : mapping
        Wall-clock seconds of the stages (``"simulate"``, ``"invert"``).
    artefacts : sequence of str
        Files written next to the report (relative paths).
    """

    modality: str
    checks: Sequence[Check]
    seed: int | None = None
    timings_s: Mapping[str, float] = field(default_factory=dict)
    artefacts: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.checks:
            raise ValueError(f"report {self.modality!r}: expected at least one check")
        names = [c.name for c in self.checks]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"report {self.modality!r}: check names must be unique, repeated: {duplicated}")
        object.__setattr__(self, "checks", tuple(self.checks))
        object.__setattr__(self, "artefacts", tuple(self.artefacts))
        object.__setattr__(self, "timings_s", dict(self.timings_s))

    @property
    def passed(self) -> bool:
        """True only when every check passed."""
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """The report as the JSON object of DESIGN.md."""
        return {"modality": self.modality, "xtwin_version": xtwin.__version__, "seed": self.seed,
                "passed": self.passed, "checks": [c.to_dict() for c in self.checks],
                "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
                "artefacts": list(self.artefacts)}

    def to_json(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the report as JSON, atomically."""
        return files.write_text(path, json.dumps(self.to_dict(), indent=2) + "\n", overwrite=overwrite)

    def table(self) -> str:
        """A plain-text table for people."""
        rows = [("check", "value", "truth", "error", "tol", "ok")]
        for c in self.checks:
            rows.append((c.name, f"{c.value:.5g}", "-" if c.truth is None else f"{c.truth:.5g}",
                         f"{c.error:.3g}", f"{c.tolerance:.3g}", "pass" if c.passed else "FAIL"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)) for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        verdict = "PASSED" if self.passed else "FAILED"
        n_ok = sum(c.passed for c in self.checks)
        lines.append(f"{self.modality}: {verdict} ({n_ok}/{len(self.checks)} checks)")
        return "\n".join(lines)


def _json_float(x: float | None) -> float | str | None:
    # JSON has no NaN/inf; spell them so a reader sees them instead of a parse error.
    if x is None or math.isfinite(x):
        return x
    return str(x)
