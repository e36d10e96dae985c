"""Validation: twin -> forward -> inverse, compared with the truth.

Each modality has a module here with ``run(*, seed=0, out_dir=None) ->
Report``; :data:`MODALITIES` maps the names that ``xtwin validate`` takes to
those modules, imported only when asked for.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from validation.report import Check, Report

#: Modality name -> module holding its ``run``.
MODALITIES = {"materials": "validation.materials", "tomo": "validation.tomography",
              "conduction": "validation.conduction", "saxs": "validation.saxs", "compton": "validation.compton",
              "xanes": "validation.xanes"}


def run(modality: str, *, seed: int = 0, out_dir: str | Path | None = None) -> Report:
    """Run the validation of ``modality`` and return its :class:`Report`."""
    if modality not in MODALITIES:
        raise ValueError(f"modality={modality!r}: expected one of {', '.join(MODALITIES)}")
    return importlib.import_module(MODALITIES[modality]).run(seed=seed, out_dir=out_dir)


__all__ = ["Check", "Report", "MODALITIES", "run"]
