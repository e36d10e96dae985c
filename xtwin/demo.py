"""``xtwin demo``: the main job on built-in defaults, as one report that grows with the project.

Each modality contributes a *section*: a function ``(out_dir, seed) ->
Section`` registered in :data:`SECTIONS`. The demo runs them in order, then
writes ``summary.json`` (one entry per section, each carrying its validation
report in the JSON shape of DESIGN.md) and ``report.html`` that shows the
pictures and tables. A new modality adds one function and one line to
:data:`SECTIONS`.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from tqdm import tqdm

import xtwin
from xtwin import files
from validation.report import Report


@dataclass(frozen=True)
class Section:
    """One modality's part of the demo.

    Parameters
    ----------
    name : str
        Short key (``"twin"``, ``"materials"``, ``"tomo"``).
    title : str
        Heading in the HTML report.
    text : str
        A paragraph for people (plain text).
    facts : dict
        Numbers worth a glance, JSON-serialisable (shown as a table).
    images : tuple of str
        PNG files in the output folder, shown in order.
    report : Report or None
        The section's validation report, if it validates something.
    """

    name: str
    title: str
    text: str
    facts: dict[str, Any] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    report: Report | None = None

    @property
    def passed(self) -> bool:
        """True unless the section's validation report failed."""
        return self.report is None or self.report.passed


def twin_section(out: Path, seed: int) -> Section:
    """Build the default twin (NMC811 spheres in air), save it to HDF5 and VTK, and picture it."""
    from twin import io, render
    from twin.generators import random_spheres

    twin = random_spheres(seed=seed)
    io.save(twin, out / "twin.h5", overwrite=True)
    io.save_vtk(twin, out / "twin.vti", overwrite=True)
    render.slices_png(twin, out / "twin_slices.png", overwrite=True)
    render.volume_png(twin, out / "twin_3d.png", overwrite=True)
    fractions = twin.volume_fractions()
    return Section(
        "twin", "The virtual sample",
        "A 3D twin of NMC811 secondary particles in air, voxel for voxel known. It is saved losslessly as "
        "twin.h5 (inspect with `xtwin twin info`) and as twin.vti for ParaView or pyvista.",
        facts={"shape (z, y, x)": list(twin.shape), "voxel_size_um": twin.voxel_size_um,
               "extent_um (z, y, x)": [round(e, 3) for e in twin.extent_um],
               "particles": int(twin.truth["spheres/radius_um"].size),
               **{f"volume fraction {k}": round(v, 4) for k, v in fractions.items()},
               "files": ["twin.h5", "twin.vti"]},
        images=("twin_slices.png", "twin_3d.png"))


#: Per generator kind: arguments that differ from its defaults in the demo, the field to picture, and the
#: phases left out of the 3D view (the surrounding medium, and liquids that would hide the electrode).
SAMPLE_SHOWCASE = {
    "powder": ({}, "particle_id", (0,)),
    "electrode": ({"soc_mode": "gradient"}, "soc", (0,)),
    "coin_cell": ({}, "x_li", (0,)),
    "capillary": ({"soc": 0.8}, "pore_filling", (0, 2)),
    "polycrystal": ({"lamella": True}, "grain_ids", (0,)),
    "nmc_particle": ({}, "soc", (0,)),
}


def samples_section(out: Path, seed: int) -> Section:
    """Build every generator's sample and picture its phases, one field, and a 3D view for 3D twins."""
    from twin import render
    from twin.generators import KINDS

    images, facts = [], {}
    for kind, generate in KINDS.items():
        if kind == "spheres":  # shown in the twin section
            continue
        kwargs, field, hide = SAMPLE_SHOWCASE.get(kind, ({}, None, (0,)))
        start = time.perf_counter()
        twin = generate(**kwargs, seed=seed)
        facts[kind] = (f"{twin.ndim}D {'x'.join(map(str, twin.shape))} voxels of {twin.voxel_size_um:g} um, "
                       f"phases: {', '.join(twin.phase_names().values())}; fields: {', '.join(twin.fields) or '-'}; "
                       f"{twin.n_grains} grains; built in {time.perf_counter() - start:.1f} s"
                       + (f" with {kwargs}" if kwargs else ""))
        images.append(render.slices_png(twin, out / f"sample_{kind}.png", overwrite=True).name)
        if field is not None:
            images.append(render.slices_png(twin, out / f"sample_{kind}_{field}.png", field=field,
                                            overwrite=True).name)
        if twin.ndim == 3:
            images.append(render.volume_png(twin, out / f"sample_{kind}_3d.png", hide=hide, overwrite=True).name)
    return Section(
        "samples", "Samples of the source documents",
        "One twin of each kind that `xtwin twin build KIND` makes, on its default parameters: the samples of the "
        "five source documents, each with its ground truth recorded next to the voxels.",
        facts=facts, images=tuple(images))


def _pictures(report) -> tuple[str, ...]:
    """The PNG artefacts of a validation report, shown in its section."""
    return tuple(a for a in report.artefacts if a.endswith(".png"))


def materials_section(out: Path, seed: int) -> Section:
    """Validate the materials physics against NIST and Biggs tables."""
    from validation import materials

    report = materials.run(seed=seed, out_dir=out)
    return Section(
        "materials", "Materials: attenuation and Compton profiles against reference tables",
        "xtwin's mass attenuation (xraylib, mixture rule) and Compton profiles compared with the NIST "
        "Hubbell-Seltzer tables, XCOM partial cross sections and the Biggs Compton profiles.",
        facts={"checks": len(report.checks), "passed": sum(c.passed for c in report.checks)},
        images=_pictures(report), report=report)


def tomo_section(out: Path, seed: int) -> Section:
    """The lab nano-CT of an NMC622 powder (seeds/002): simulate, reconstruct, segment, measure, compare."""
    from validation import tomography

    report = tomography.run(seed=seed, out_dir=out)
    table = (out / "tomo_table1.txt").read_text(encoding="utf-8")
    return Section(
        "tomo", "Absorption tomography: the 5-minute nano-CT of NMC622 powder (seeds/002)",
        "141 projections at 5.4 keV through a monolayer of NMC622 particles on Kapton (512 nm voxels, Poisson and "
        "read noise, an unknown rotation-centre offset and jitter); flat/dark correction, jitter alignment, centre "
        "finding, filtered back-projection, tri-phase flood fill and watershed; Table-1 metrics against the twin.",
        facts={"Table 1 (recovered, then truth)": table},
        images=_pictures(report), report=report)


def conduction_section(out: Path, seed: int) -> Section:
    """Na+ current in the polycrystalline Na-beta''-alumina lamella (seeds/003): network, FEM, closed forms, fits."""
    from validation import conduction

    report = conduction.run(seed=seed, out_dir=out)
    table = (out / "conduction_boundaries_reduced.csv").read_text(encoding="utf-8")
    return Section(
        "conduction", "Ion transport: current density in a polycrystalline Na-beta''-alumina lamella (seeds/003)",
        "A resistor network on the voxels of a generated lamella (layered grains with sigma_ip/sigma_op = 1e3, "
        "1 nm grain boundaries at sigma_ip/20, blocking ZrO2 and voids) between two electrodes that do not face "
        "each other, at the thesis' 15 V bias: the isotropic, reduced (frame blocking) and full (frame at "
        "sigma_ip/250) systems of Figure 4.15, with the grain boundaries of largest potential drop circled; "
        "closed-form cases, a Q1 finite-element cross-check and parameter fits with uncertainties.",
        facts={"top grain boundaries of the reduced system (largest drop first)": table},
        images=_pictures(report), report=report)


def saxs_section(out: Path, seed: int) -> Section:
    """Operando scanning SWAXS and SAXS tomography of the sodiating hard-carbon anode (seeds/000)."""
    from validation import saxs

    report = saxs.run(seed=seed, out_dir=out)
    found = {c.name: c for c in report.checks}
    rows = ["scan      q002 fitted  q002 twin  (1/A)"] + [
        f"{label:8s}  {found[f'waxs_q002_{label}'].value:11.4f}  {found[f'waxs_q002_{label}'].truth:9.4f}"
        for label in ["pristine"] + [f"op{k}" for k in range(1, 6)]]
    return Section(
        "saxs", "Scanning SWAXS and SAXS tomography of a sodiating hard-carbon anode (seeds/000)",
        "The capillary cell rastered with a 25 x 15 um, 13.2 keV beam (0.1 s per point, Eiger 9M and Pilatus "
        "300K-W) at its pristine state and op 1-5 of 0.8C sodiation: electrode-mean SAXS/WAXS curves, the "
        "eq. 5 micropore difference maps and the metallic Na map; the 002 peak fitted with eq. 4 (Table S2), "
        "pore filling from the micropore intensity, where plating starts; then two SAXS tomograms (72 "
        "projections) inverted to a per-voxel pore-filling map.",
        facts={"002 peak position by scan": "\n".join(rows),
               "micropore intensity decrease at op 5 (seeds/000: ~35 %)":
                   f"{found['micropore_decrease_op5'].value:.1%}",
               "plating first seen in scan (0 = pristine)": f"{found['plating_onset_scan'].value:g}",
               "tomogram pore-filling RMSE": f"{found['tomo_pore_filling_rmse'].value:.3f}"},
        images=_pictures(report), report=report)


def compton_section(out: Path, seed: int) -> Section:
    """Compton scattering imaging of coin cells: spectra, EMF and a calibrated lithium map (seeds/001)."""
    from validation import compton

    report = compton.run(seed=seed, out_dir=out)
    found = {c.name: c for c in report.checks}
    return Section(
        "compton", "Compton scattering imaging (XCS) of lithium in coin cells (seeds/001)",
        "A 114.64 keV sheet beam through simulated coin cells, imaged through a 200 um pinhole at 90 deg onto an "
        "80 x 80 HEXITEC CdZnTe detector (0.2 keV channels, 0.93 keV FWHM at 59.5 keV, escape peaks, charge "
        "sharing, Poisson counts): the global spectrum, the EMF (eq. 3-5) of the cathode's top and middle and of "
        "the solid-state cell's anode and interphase, and a lithium map from a per-block calibration.",
        facts={"Compton peak (keV, closed form 93.63)": f"{found['compton_peak_kev'].value:.2f}",
               "EMF anode / interphase (seeds/001: 1.7 / 1.1)":
                   f"{found['emf_anode'].value:.3f} / {found['emf_interphase'].value:.3f}",
               "EMF cathode middle / top (seeds/001: 0.72 / 0.65)":
                   f"{found['emf_middle'].value:.4f} / {found['emf_top'].value:.4f}",
               "lithium map RMSE (x)": f"{found['li_map_rmse'].value:.4f}"},
        images=_pictures(report), report=report)


def xanes_section(out: Path, seed: int) -> Section:
    """2D and 3D XANES of rod and gravel NMC particles: valence maps and gradient vectors (seeds/004)."""
    from validation import xanes

    report = xanes.run(seed=seed, out_dir=out)
    found = {c.name: c for c in report.checks}
    return Section(
        "xanes", "XANES spectro-microscopy of NMC particles at the Ni K edge (seeds/004)",
        "Full-field Ni K-edge stacks (67 energies, drift, flats, PSF, Poisson noise at SNR 100 and 300) of rod and "
        "gravel NMC811 particles at half charge; registration, normalisation, white-line fits of every pixel, "
        "valence and SOC maps; in 3D a tomogram per energy and the local valence-gradient vectors.",
        facts={"valence RMSE rod, SNR 100 / 300": f"{found['valence_rmse_rod_snr100'].value:.3f} / "
                                                  f"{found['valence_rmse_rod_snr300'].value:.3f}",
               "radial alignment of gradients, rod / gravel (random: 0.5)":
                   f"{found['gradient_radial_alignment_rod'].value:.3f} / "
                   f"{found['gradient_radial_alignment_gravel'].value:.3f}"},
        images=_pictures(report), report=report)


#: The demo's sections, in order; each modality appends its own.
SECTIONS: list[Callable[[Path, int], Section]] = [twin_section, samples_section, materials_section, tomo_section,
                                                  conduction_section, saxs_section, compton_section,
                                                  xanes_section]


def run(out_dir: str | Path = "xtwin-demo", *, seed: int = 0, overwrite: bool = False,
        progress: bool = True) -> dict[str, Any]:
    """Run every demo section and write ``summary.json`` and ``report.html`` in ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Output folder; an existing non-empty folder is refused unless ``overwrite``.
    seed : int
        Seed handed to every section.
    overwrite : bool
        Replace the files of an earlier demo in ``out_dir``.
    progress : bool
        Show a progress bar over the sections.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir={str(out)!r}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FileExistsError(f"out_dir={str(out)!r}: folder is not empty; pass overwrite=True "
                              f"(--force) to replace an earlier demo's files")
    out.mkdir(parents=True, exist_ok=True)
    sections, timings = [], {}
    for make in tqdm(SECTIONS, desc="xtwin demo", unit="section", disable=not progress):
        start = time.perf_counter()
        section = make(out, seed)
        timings[section.name] = round(time.perf_counter() - start, 3)
        sections.append(section)
    summary = {
        "xtwin_version": xtwin.__version__, "seed": seed, "passed": all(s.passed for s in sections),
        "timings_s": timings,
        "sections": [{"name": s.name, "title": s.title, "passed": s.passed, "facts": s.facts,
                      "images": list(s.images), "report": None if s.report is None else s.report.to_dict()}
                     for s in sections],
    }
    files.write_text(out / "summary.json", json.dumps(summary, indent=2) + "\n", overwrite=True)
    files.write_text(out / "report.html", _html(sections, summary), overwrite=True)
    return summary


def _cell(value: Any) -> str:
    text = html.escape(str(value))
    return f"<pre>{text}</pre>" if "\n" in text else text


def _html(sections: list[Section], summary: dict[str, Any]) -> str:
    e = html.escape
    verdict = "all checks passed" if summary["passed"] else "SOME CHECKS FAILED"
    parts = ["<!doctype html><html><head><meta charset='utf-8'><title>xtwin demo</title><style>"
             "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
             "font-size:90%;text-align:left}.fail{color:#b00;font-weight:bold}.pass{color:#070}"
             "img{max-width:100%;margin:.5em 0}</style></head><body>",
             f"<h1>xtwin {e(summary['xtwin_version'])} demo</h1>",
             f"<p>seed {summary['seed']}; <span class='{'pass' if summary['passed'] else 'fail'}'>"
             f"{verdict}</span>; timings (s): {e(json.dumps(summary['timings_s']))}</p>"]
    for s in sections:
        parts.append(f"<h2 id='{e(s.name)}'>{e(s.title)}</h2><p>{e(s.text)}</p>")
        if s.facts:
            rows = "".join(f"<tr><th>{e(k)}</th><td>{_cell(v)}</td></tr>" for k, v in s.facts.items())
            parts.append(f"<table>{rows}</table>")
        parts.extend(f"<img src='{e(name)}' alt='{e(name)}'>" for name in s.images)
        if s.report is not None:
            head = "<tr><th>check</th><th>value</th><th>truth</th><th>tolerance</th><th>unit</th><th></th><th>why</th></tr>"
            rows = "".join(
                f"<tr><td>{e(c.name)}</td><td>{c.value:.5g}</td><td>{'' if c.truth is None else f'{c.truth:.5g}'}</td>"
                f"<td>{c.tolerance:.3g} ({c.comparison})</td><td>{e(c.unit)}</td>"
                f"<td class='{'pass' if c.passed else 'fail'}'>{'pass' if c.passed else 'FAIL'}</td>"
                f"<td>{e(c.why)}</td></tr>" for c in s.report.checks)
            parts.append(f"<table>{head}{rows}</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
