"""The ``xtwin`` command line.

Sub-commands mirror the packages (DESIGN.md, "Command line"). Exit status:
0 on success, 1 when a validation falls outside its tolerance, 2 for bad
usage (unknown arguments, bad values, refused overwrites, unreadable files).
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

import xtwin
from xtwin import files

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _emit_json(payload: Any, target: str, force: bool) -> None:
    text = json.dumps(payload, indent=2) + "\n"
    if target == "-":
        sys.stdout.write(text)
    else:
        files.write_text(target, text, overwrite=force)
        print(f"wrote {target}", file=sys.stderr)


def _materials(args: argparse.Namespace) -> int:
    from twin import materials

    rows = []
    for name in materials.names():
        m = materials.get(name)
        mu_rho = float(m.mass_attenuation_cm2_g(args.energy_kev))
        rows.append({"name": m.name, "formula": m.formula or "", "density_g_cm3": m.density_g_cm3,
                     "mu_rho_cm2_g": mu_rho, "mu_per_cm": mu_rho * m.density_g_cm3,
                     "electron_density_per_A3": m.electron_density_per_A3(),
                     "density_source": m.density_source})
    if args.json:
        _emit_json({"energy_kev": args.energy_kev, "materials": rows}, args.json, args.force)
        return EXIT_OK
    print(f"{'name':20s} {'formula':24s} {'rho g/cm3':>10s} {'mu/rho cm2/g':>13s} {'mu 1/cm':>11s}"
          f" {'n_e e/A3':>9s}   at {args.energy_kev:g} keV")
    for r in rows:
        print(f"{r['name']:20s} {r['formula'][:24]:24s} {r['density_g_cm3']:10.4g} {r['mu_rho_cm2_g']:13.5g}"
              f" {r['mu_per_cm']:11.5g} {r['electron_density_per_A3']:9.4f}")
    print(f"intercalation hosts (need x): {', '.join(materials.HOSTS)}")
    return EXIT_OK


def _twin_info(args: argparse.Namespace) -> int:
    from twin import io

    t = io.load(args.file)
    info = {"file": str(args.file), "shape": list(t.shape), "voxel_size_um": t.voxel_size_um,
            "extent_um": list(t.extent_um),
            "phases": {str(k): {"name": m.name, "formula": m.formula, "density_g_cm3": m.density_g_cm3}
                       for k, m in t.phases.items()},
            "volume_fractions": t.volume_fractions(), "fields": {k: str(v.dtype) for k, v in t.fields.items()},
            "n_grains": t.n_grains, "truth": {k: list(v.shape) for k, v in t.truth.items()},
            "provenance": {"generator": t.provenance.generator, "parameters": dict(t.provenance.parameters),
                           "seed": t.provenance.seed, "xtwin_version": t.provenance.xtwin_version,
                           "created_utc": t.provenance.created_utc}}
    if args.json:
        _emit_json(info, args.json, args.force)
        return EXIT_OK
    print(f"{args.file}: {t.ndim}D twin, shape {t.shape} (z, y, x), voxel {t.voxel_size_um:g} um, "
          f"extent {' x '.join(f'{e:.4g}' for e in t.extent_um)} um")
    for label, m in t.phases.items():
        print(f"  phase {label}: {m.name:20s} {m.density_g_cm3:8.4g} g/cm3  "
              f"volume fraction {info['volume_fractions'][m.name]:.4f}")
    print(f"  fields: {', '.join(t.fields) or '-'}; grains: {t.n_grains}; truth: {', '.join(t.truth) or '-'}")
    p = t.provenance
    print(f"  made by {p.generator} (seed {p.seed}) with xtwin {p.xtwin_version} at {p.created_utc}")
    return EXIT_OK


def _twin_render(args: argparse.Namespace) -> int:
    from twin import io, render

    t = io.load(args.file)
    if args.slices or args.field or t.ndim == 2:
        render.slices_png(t, args.output, field=args.field, overwrite=args.force)
    else:
        render.volume_png(t, args.output, overwrite=args.force)
    print(f"wrote {args.output}")
    return EXIT_OK


def _twin_export(args: argparse.Namespace) -> int:
    from twin import io

    io.save_vtk(io.load(args.file), args.output, overwrite=args.force)
    print(f"wrote {args.output}")
    return EXIT_OK


def _twin_build(args: argparse.Namespace) -> int:
    from twin.generators import KINDS

    params = {name: getattr(args, f"param_{name}") for name in _generator_parameters(KINDS[args.kind])}
    params = {name: tuple(v) if isinstance(v, list) else v for name, v in params.items()}
    t = KINDS[args.kind](**params)
    t.save(args.output, overwrite=args.force)
    print(f"wrote {args.output}: {t!r}")
    return EXIT_OK


def _generator_parameters(func) -> dict[str, inspect.Parameter]:
    return {name: p for name, p in inspect.signature(func).parameters.items() if p.kind is p.KEYWORD_ONLY}


def _doc_lines(func) -> dict[str, str]:
    """First description line of each numpydoc parameter, for --help."""
    lines = (inspect.getdoc(func) or "").splitlines()
    out, current = {}, None
    for line in lines:
        head = re.match(r"^(\w+(?:, \w+)*) : ", line)
        if head:
            current = head.group(1).split(", ")
        elif current and line.startswith("    ") and line.strip():
            for name in current:
                out.setdefault(name, line.strip())
            current = None
    return out


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _add_generator_options(p: argparse.ArgumentParser, func) -> None:
    """One --option per keyword-only parameter, typed by its default."""
    docs = _doc_lines(func)
    for name, param in _generator_parameters(func).items():
        default, flag = param.default, "--" + name.replace("_", "-")
        text = f"{docs.get(name, '')} (default: {default!r})"
        dest = f"param_{name}"
        if isinstance(default, bool):
            p.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction, default=default, help=text)
        elif isinstance(default, tuple):
            kind = float if any(isinstance(v, float) for v in default) else type(default[0])
            # nargs="+": the generator checks the length (a shape may be 2D or 3D).
            p.add_argument(flag, dest=dest, type=kind, nargs="+", default=default, metavar=name.upper(), help=text)
        elif isinstance(default, (int, float, str)):
            p.add_argument(flag, dest=dest, type=type(default), default=default, metavar=name.upper(), help=text)
        else:  # None: a number, a JSON list or a plain string
            p.add_argument(flag, dest=dest, type=_json_or_text, default=default, metavar=name.upper(), help=text)


def _show_plan(plan: Any, payload: dict, args: argparse.Namespace) -> int:
    """Print a plan's table, or write ``payload`` as JSON with ``--json``."""
    if args.json:
        _emit_json(payload, args.json, args.force)
    else:
        print(plan.table())
    return EXIT_OK


def _plan_tomo(args: argparse.Namespace) -> int:
    import dataclasses

    from forward.tomography.plan import plan_scan

    plan = plan_scan(args.material, args.thickness_um, args.energy_kev, args.columns, args.binning,
                     args.target_snr, args.flux_ph_per_s, pixel_size_um=args.pixel_size_um,
                     beam_area_um2=args.beam_area_um2, efficiency=args.efficiency,
                     n_projections=args.n_projections, target_transmission=args.target_transmission,
                     overhead_s_per_projection=args.overhead_s, n_flats=args.n_flats, n_darks=args.n_darks)
    return _show_plan(plan, dataclasses.asdict(plan), args)


def _plan_saxs(args: argparse.Namespace) -> int:
    from forward.saxs.plan import plan_saxs

    plan = plan_saxs(tuple(args.area_um), tuple(args.step_um), args.exposure_s, energy_kev=args.energy_kev,
                     saxs_distance_m=args.saxs_distance_m,
                     waxs_distance_m=None if args.no_waxs else args.waxs_distance_m,
                     saxs_detector=args.saxs_detector, waxs_detector=args.waxs_detector,
                     flux_ph_per_s=args.flux_ph_per_s, beam_fwhm_um=tuple(args.beam_fwhm_um),
                     material=args.material, thickness_um=args.thickness_um, radius_A=args.radius_A,
                     volume_fraction=args.volume_fraction, delta_sld_per_A2=args.delta_sld_per_A2,
                     polydispersity=args.polydispersity, background_per_cm=args.background_per_cm,
                     n_bins=args.n_bins, n_projections=args.n_projections, overhead_s_per_point=args.overhead_s)
    return _show_plan(plan, plan.to_dict(), args)


def _plan_compton(args: argparse.Namespace) -> int:
    from forward.compton.plan import plan_compton

    plan = plan_compton(args.material, x_li=args.x_li, target_sigma=args.target_sigma,
                        flux_ph_per_s=args.flux_ph_per_s, energy_kev=args.energy_kev, angle_deg=args.angle_deg,
                        sheet_mm=tuple(args.sheet_mm), solid_fraction=args.solid_fraction,
                        incident_path_mm=args.incident_path_mm, exit_path_mm=args.exit_path_mm,
                        window_transmission=args.window_transmission, pinhole_diameter_um=args.pinhole_diameter_um,
                        pinhole_to_sheet_mm=args.pinhole_to_sheet_mm, magnification=args.magnification,
                        kept_fraction=args.kept_fraction, fwhm_kev=args.fwhm_kev, binning=args.binning,
                        n_positions=args.n_positions, overhead_s_per_position=args.overhead_s,
                        binnings=tuple(args.binnings), resolution_fwhm_kev=tuple(args.resolution_fwhm_kev))
    return _show_plan(plan, plan.to_dict(), args)


def _plan_xanes(args: argparse.Namespace) -> int:
    from forward.xanes.plan import plan_xanes

    plan = plan_xanes(args.material, thickness_um=args.thickness_um, valence=args.valence,
                      target_whiteline_sigma_ev=args.target_whiteline_sigma_ev,
                      fit_half_width_ev=args.fit_half_width_ev, edge_region=tuple(args.edge_region),
                      n_flats=args.n_flats, pixel_um=args.pixel_um, field_of_view_um=args.field_of_view_um,
                      flux_ph_per_s=args.flux_ph_per_s, efficiency=args.efficiency,
                      overhead_per_energy_s=args.overhead_s, n_angles=args.n_angles, exposure_3d_s=args.exposure_3d_s,
                      n_energies_3d=args.n_energies_3d)
    return _show_plan(plan, plan.to_dict(), args)


def _simulate_tomo(args: argparse.Namespace) -> int:
    from forward.instrument import Beam, Detector, Scan
    from forward.tomography.simulate import simulate
    from twin import io

    t = io.load(args.twin)
    pixel = args.pixel_size_um or t.voxel_size_um
    rows = t.shape[0] if t.ndim == 3 else 1
    columns = args.columns or int(round(max(t.shape[-2:]) * 1.42 * t.voxel_size_um / pixel))
    beam = Beam(energy_kev=args.energy_kev, flux_ph_per_s=args.flux_ph_per_s,
                size_um=max(t.extent_um) * 2)
    detector = Detector(shape=(int(round(rows * t.voxel_size_um / pixel)), columns), pixel_size_um=pixel,
                        binning=args.binning, efficiency=args.efficiency, read_noise_e=args.read_noise_e)
    scan = Scan.tomography(args.n_angles, args.exposure_s, arc_deg=args.arc_deg, n_flats=args.n_flats,
                           n_darks=args.n_darks)
    projections = simulate(t, beam, detector, scan, centre_offset_px=args.centre_offset_px,
                           jitter_px=args.jitter_px, seed=args.seed, progress=True)
    if args.output.suffix in (".tif", ".tiff") or args.tiff:
        projections.to_tiff(args.output, overwrite=args.force)
    else:
        projections.to_nxtomo(args.output, overwrite=args.force)
    print(f"wrote {args.output}: {projections!r}")
    return EXIT_OK


def _fit_tomo(args: argparse.Namespace) -> int:
    import h5py

    from forward.tomography.measurement import Projections
    from inverse.tomography.reconstruct import reconstruct_projections

    source = Path(args.input)
    if source.is_dir():
        measured = Projections.from_tiff(source)
    else:
        with h5py.File(source, "r") as f:
            data_exchange = "exchange" in f
        reader = Projections.from_data_exchange if data_exchange else Projections.from_nxtomo
        measured = reader(source, pixel_size_um=args.pixel_size_um)
    options = {"filter": args.filter} if args.method == "fbp" else {"iterations": args.iterations, "progress": True}
    if args.method == "tv":
        options["weight_per_cm"] = args.tv_weight
    rec = reconstruct_projections(measured, method=args.method, centre_offset_px=args.centre_offset_px,
                                  ring_strength=3 if args.rings else None, align=args.align, **options)
    with files.atomic_path(args.output, overwrite=args.force) as tmp:
        with h5py.File(tmp, "w") as f:
            d = f.create_dataset("volume_per_cm", data=rec.volume_per_cm, compression="gzip", shuffle=True)
            d.attrs.update({"units": "1/cm", "axes": "zyx"[3 - rec.volume_per_cm.ndim:],
                            "voxel_size_um": rec.voxel_size_um, "method": rec.method,
                            "parameters_json": json.dumps(dict(rec.parameters)), "source": str(source)})
    centre = rec.parameters["centre_offset_px"]
    summary = {"input": str(source), "output": str(args.output), "method": rec.method,
               "shape": list(rec.volume_per_cm.shape), "voxel_size_um": rec.voxel_size_um,
               "centre_offset_px": centre, "centre_from": rec.parameters["centre_from"],
               "iterations": rec.iterations,
               "mu_per_cm": {"min": float(rec.volume_per_cm.min()), "mean": float(rec.volume_per_cm.mean()),
                             "max": float(rec.volume_per_cm.max())}}
    if args.json:
        _emit_json(summary, args.json, args.force)
    else:
        print(f"{source} -> {args.output}: {rec.method} reconstruction {rec.volume_per_cm.shape} of "
              f"{rec.voxel_size_um:g} um voxels, centre offset {centre:.3f} px ({rec.parameters['centre_from']}), "
              f"mu in 1/cm [{summary['mu_per_cm']['min']:.4g}, {summary['mu_per_cm']['max']:.4g}]")
    return EXIT_OK


def _conductivity(args: argparse.Namespace):
    from forward.conduction import Conductivity

    phases = {}
    for item in args.phase or ():
        label, _, sigma = item.partition("=")
        try:
            phases[int(label)] = float(sigma)
        except ValueError:
            raise ValueError(f"--phase {item!r}: expected LABEL=SIGMA_S_PER_M, e.g. 1=0.5") from None
    return Conductivity(sigma_ip_S_per_m=args.sigma_ip_S_per_m, anisotropy=args.anisotropy, gb_ratio=args.gb_ratio,
                        gb_thickness_nm=args.gb_thickness_nm, backbone_ratio=args.backbone_ratio, model=args.model,
                        phase_S_per_m=phases, backbone_phases=tuple(args.backbone or ()))


def _simulate_conduction(args: argparse.Namespace) -> int:
    from forward.conduction import conductivity_field, solve, twin_electrodes
    from forward.conduction.boundaries import boundary_table
    from forward.conduction.io import save_solution
    from twin import io
    from twin.orientations import c_axes

    t = io.load(args.twin)
    field = conductivity_field(t, _conductivity(args), thickness_um=args.thickness_um)
    solution = solve(field, twin_electrodes(t, args.voltage_V), method=args.method)
    rows = []
    if t.grain_ids is not None and t.n_grains:
        table = boundary_table(field, solution, c_axes=c_axes(t.orientations))
        rows = table.rows(table.top(args.top))
    if args.output:
        save_solution(solution, args.output, voxel_size_um=t.voxel_size_um, overwrite=args.force)
    if args.png:
        from forward.conduction.render import current_map_png

        current_map_png(solution, t.grain_ids if t.grain_ids is not None else np.full(t.shape, -1), t.voxel_size_um,
                        args.png, boundaries=table if rows else None, overwrite=args.force)
    summary = {"twin": str(args.twin), "total_current_A": solution.total_current_A,
               "conductance_S": solution.conductance_S,
               "electrodes": {n: {"potential_V": float(v), "current_A": float(i)} for n, v, i in
                              zip(solution.electrode_names, solution.electrode_potential_V,
                                  solution.electrode_current_A)},
               "conservation_rel": solution.conservation_rel, "solver": solution.solve.method,
               "unknowns": solution.solve.unknowns, "top_boundaries": rows}
    if args.json:
        _emit_json(summary, args.json, args.force)
    else:
        print(f"{args.twin}: I = {solution.total_current_A:.6g} A at {np.ptp(solution.electrode_potential_V):g} V "
              f"(G = {solution.conductance_S:.6g} S), Kirchhoff residual {solution.conservation_rel:.1e}, "
              f"{solution.solve.unknowns} unknowns ({solution.solve.method})")
        if rows:
            print(f"{'rank':>4s} {'grains':>9s} {'GB drop V':>10s} {'contrast':>8s} {'type':>4s} {'behaviour':>9s}")
            for rank, r in enumerate(rows, start=1):
                print(f"{rank:4d} {r['grains'][0]:4d}/{r['grains'][1]:<4d} {r['gb_drop_V']:10.4g} "
                      f"{r['contrast']:8.3f} {r['type']:>4s} {r['behaviour']:>9s}")
    return EXIT_OK


def _read_labels(source: Path) -> tuple[np.ndarray, float | None]:
    """Labels from a twin HDF5, a .npy array, or a TIFF file/folder; the voxel size when the file holds it."""
    if source.is_dir() or source.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        paths = sorted(source.glob("*.tif*")) if source.is_dir() else [source]
        if not paths:
            raise FileNotFoundError(f"{source}: no .tif/.tiff files in this folder")
        return np.squeeze(np.stack([tifffile.imread(p) for p in paths])), None
    if source.suffix == ".npy":
        return np.load(source, allow_pickle=False), None
    from twin import io

    t = io.load(source)
    return t.labels, t.voxel_size_um


def _fit_conduction(args: argparse.Namespace) -> int:
    from forward.conduction import effective_conductivity, field_from_labels

    labels, voxel = _read_labels(args.input)
    voxel = args.voxel_size_um or voxel
    if voxel is None:
        raise ValueError(f"{args.input}: the file holds no voxel size; pass --voxel-size-um")
    phases = {int(p): args.sigma_S_per_m for p in args.conducting}
    result = effective_conductivity(field_from_labels(labels, phases, voxel_size_um=voxel), args.axis,
                                    method=args.method)
    summary = {"input": str(args.input), "shape": list(labels.shape), "voxel_size_um": voxel, "axis": args.axis,
               "conducting_labels": sorted(phases), "sigma_0_S_per_m": args.sigma_S_per_m,
               "sigma_eff_S_per_m": result.sigma_eff_S_per_m, "relative_conductivity":
               result.sigma_eff_S_per_m / args.sigma_S_per_m, "volume_fraction": result.conducting_fraction,
               "tortuosity": result.tortuosity_factor, "conservation_rel": result.solution.conservation_rel}
    if args.json:
        _emit_json(summary, args.json, args.force)
    else:
        print(f"{args.input}: axis {args.axis}, volume fraction {result.conducting_fraction:.4f}, "
              f"sigma_eff/sigma_0 = {summary['relative_conductivity']:.5g}, "
              f"tortuosity factor tau = {result.tortuosity_factor:.5g}")
    return EXIT_OK


def _simulate_saxs(args: argparse.Namespace) -> int:
    from forward.saxs.io import save_columns, save_nxcansas
    from forward.saxs.scan import ScanningSWAXS, raster
    from inverse.saxs import maps
    from twin import io

    t = io.load(args.twin)
    if args.time_min is not None or args.soc is not None:
        from twin.generators.capillary import sodiation_state

        t = sodiation_state(t, args.soc, time_min=args.time_min)
    settings = ScanningSWAXS(exposure_s=args.exposure_s, flux_ph_per_s=args.flux_ph_per_s,
                             step_um=tuple(args.step_um), energy_kev=args.energy_kev)
    scan = raster(t, settings, noise=not args.no_noise, seed=args.seed)
    m = maps.masks(scan.transmission, maps.region_mean(scan.curves, 0.12, 0.3))
    if args.output:
        save_nxcansas(scan.curves, args.output, overwrite=args.force, title=f"xtwin scanning SWAXS of {args.twin}")
    if args.columns:
        if not m.electrode.any():
            raise ValueError(f"{args.twin}: no raster point scatters like an electrode at 0.12-0.3 1/A; "
                             f"nothing to average for --columns")
        save_columns(scan.curves[m.electrode].mean(), args.columns, overwrite=args.force)
    q = scan.q_inv_A
    summary = {"twin": str(args.twin), "raster_rows": scan.shape[0], "raster_columns": scan.shape[1],
               "q_range_inv_A": [float(q[0]), float(q[-1])], "n_q": int(q.size),
               "transmission_range": [float(scan.transmission.min()), float(scan.transmission.max())],
               "electrode_points": int(m.electrode.sum()), "steel_points": int(m.steel.sum()),
               "scan_time_s": float(scan.transmission.size * settings.exposure_s),
               "soc": scan.metadata.get("soc"), "output": str(args.output) if args.output else None}
    if args.json:
        _emit_json(summary, args.json, args.force)
    else:
        print(f"{args.twin}: {scan.shape[0]} x {scan.shape[1]} raster points, {q.size} q from {q[0]:.4g} to "
              f"{q[-1]:.4g} 1/A, transmission {summary['transmission_range'][0]:.3g}-"
              f"{summary['transmission_range'][1]:.3g}, {summary['electrode_points']} electrode and "
              f"{summary['steel_points']} steel points, {summary['scan_time_s']:g} s of exposure")
    return EXIT_OK


def _read_curves(source: Path):
    from forward.saxs.io import load_columns, load_nxcansas

    if source.suffix.lower() in (".h5", ".hdf5", ".nxs", ".nx5"):
        return load_nxcansas(source)
    return load_columns(source)


def _fit_saxs(args: argparse.Namespace) -> int:
    from inverse.saxs.fit import fit_curves

    curves = _read_curves(args.input)
    q_range = None if args.q_min is None and args.q_max is None else (
        args.q_min if args.q_min is not None else float(curves.q_inv_A[0]),
        args.q_max if args.q_max is not None else float(curves.q_inv_A[-1]))
    fit = fit_curves(curves, model=args.model, free=args.free, q_range_inv_A=q_range)
    ok = fit.converged
    summary = {"input": str(args.input), "model": fit.model, "curves": len(fit), "converged": int(ok.sum()),
               "free": list(fit.free), "parameters": {}}
    for name in fit.free:
        values, errors = fit[name], fit.uncertainty(name)
        summary["parameters"][name] = {"values": values.tolist(), "uncertainties": errors.tolist()}
    if fit.model == "waxs":
        summary["parameters"]["d002_A"] = {"values": fit.d002_A.tolist(),
                                           "uncertainties": fit.d002_uncertainty_A.tolist()}
    summary["chi2_reduced"] = fit.chi2_reduced.tolist()
    if args.json:
        _emit_json(summary, args.json, args.force)
        return EXIT_OK
    print(f"{args.input}: {len(fit)} curve(s), {int(ok.sum())} converged, model {fit.model}")
    for name, p in summary["parameters"].items():
        v, e = np.asarray(p["values"]), np.asarray(p["uncertainties"])
        if len(fit) == 1:
            print(f"  {name:28s} {v[0]:12.6g} +- {e[0]:.3g}")
        elif ok.any():
            print(f"  {name:28s} mean {v[ok].mean():12.6g}  sd {v[ok].std():10.3g}  median uncertainty "
                  f"{np.median(e[ok]):.3g}")
    return EXIT_OK


def _simulate_compton(args: argparse.Namespace) -> int:
    from forward.compton.simulate import simulate
    from twin import io

    t = io.load(args.twin)
    m = simulate(t, sheet_z_um=args.sheet_z_um, flux_ph_per_s=args.flux_ph_per_s, exposure_s=args.exposure_s,
                 noise=not args.no_noise, seed=args.seed)
    if args.output:
        m.save_hdf5(args.output, overwrite=args.force, title=f"xtwin XCS cube of {args.twin}")
    if args.spectrum:
        m.save_spectrum(args.spectrum, overwrite=args.force)
    spectrum = m.spectrum()
    window = (m.energy_kev > 80) & (m.energy_kev < 105)
    summary = {"twin": str(args.twin), "cube": list(m.shape), "counts": float(m.counts.sum()),
               "compton_peak_kev": float(m.energy_kev[window][np.argmax(spectrum[window])]),
               "sheet_z_um": args.sheet_z_um, "exposure_s": args.exposure_s,
               "output": str(args.output) if args.output else None}
    if args.json:
        _emit_json(summary, args.json, args.force)
    else:
        print(f"{args.twin}: {m.shape[0]} x {m.shape[1]} pixels x {m.shape[2]} channels, {summary['counts']:.4g} "
              f"counts, Compton peak at {summary['compton_peak_kev']:.1f} keV")
    return EXIT_OK


def _fit_compton(args: argparse.Namespace) -> int:
    from forward.compton.measurement import load_hdf5, load_spectrum
    from inverse.compton import emf, emf_map, sum_spectra

    m = load_hdf5(args.input) if args.input.suffix.lower() in (".h5", ".hdf5", ".nxs") else load_spectrum(args.input)
    mask = None if args.mask is None else np.load(args.mask, allow_pickle=False)
    options = {} if args.background else {"background": None}
    total = emf(sum_spectra(m.counts, mask), m.energy_edges_kev, **options)
    summary = {"input": str(args.input), "pixels": list(m.shape[:2]), "emf": float(total.emf),
               "emf_sigma": float(total.sigma), "background": "linear" if args.background else "none"}
    if m.shape[:2] != (1, 1):
        cube = m.counts if mask is None else np.where(np.asarray(mask, bool)[..., None], m.counts, 0)
        result = emf_map(cube, m.energy_edges_kev, binning=args.binning, **options)
        ok = np.isfinite(result.emf)
        summary.update({"binning": args.binning, "map_shape": list(result.emf.shape),
                        "emf_map": np.where(ok, result.emf, None).tolist(),
                        "emf_sigma_map": np.where(ok, result.sigma, None).tolist(),
                        "map_median": float(np.median(result.emf[ok])) if ok.any() else None,
                        "map_median_sigma": float(np.median(result.sigma[ok])) if ok.any() else None})
        if args.output:
            files.check_writable(args.output, args.force)
            with files.atomic_path(args.output, overwrite=args.force) as tmp:
                np.save(tmp, np.stack([result.emf, result.sigma]), allow_pickle=False)
    if args.json:
        _emit_json(summary, args.json, args.force)
        return EXIT_OK
    print(f"{args.input}: EMF of the {'masked' if mask is not None else 'summed'} spectrum "
          f"{total.emf:.5f} +- {total.sigma:.5f}")
    if "map_median" in summary and summary["map_median"] is not None:
        print(f"  EMF map {summary['map_shape'][0]} x {summary['map_shape'][1]} ({args.binning} x {args.binning} "
              f"binning): median {summary['map_median']:.5f}, median sigma {summary['map_median_sigma']:.5f}")
    return EXIT_OK


def _simulate_xanes(args: argparse.Namespace) -> int:
    from forward.xanes.stack import energy_grid, simulate_2d, simulate_3d
    from twin import io

    t = io.load(args.twin)
    energies = energy_grid(args.edge_ev)
    if args.n_angles:
        angles = np.linspace(0.0, 180.0, args.n_angles, endpoint=False)
        stack = simulate_3d(t, energies, angles, snr=args.snr, drift_px=args.drift_px, seed=args.seed)
    else:
        stack = simulate_2d(t, energies, snr=args.snr, drift_px=args.drift_px, seed=args.seed)
    stack.save_hdf5(args.output, overwrite=args.force)
    summary = {"twin": str(args.twin), "output": str(args.output), "images": list(stack.images.shape),
               "energies_ev": [float(energies[0]), float(energies[-1])], "n_energies": int(energies.size),
               "snr": args.snr}
    if args.json:
        _emit_json(summary, args.json, args.force)
    else:
        print(f"{args.twin}: {energies.size} energies {energies[0]:.0f}-{energies[-1]:.0f} eV, images "
              f"{stack.images.shape} at SNR {args.snr:g} -> {args.output}")
    return EXIT_OK


def _fit_xanes(args: argparse.Namespace) -> int:
    from inverse.xanes import (absorbance, edge_jump_mask, fit_whiteline, normalise, register, shift_images,
                               spectra_from_stack)

    if args.input.suffix.lower() in (".h5", ".hdf5", ".nxs"):
        from forward.xanes.stack import XanesStack

        stack = XanesStack.load_hdf5(args.input)
        if stack.images.ndim != 3:
            raise ValueError(f"{args.input}: a 3D (tomographic) stack; reconstruct each energy first, or fit a 2D "
                             f"stack")
        energies = stack.energies_ev
        mu = stack.images if stack.signal == "absorbance" else absorbance(stack.images, stack.flats, stack.darks)
        if args.align:
            mu = shift_images(mu, -register(mu))
        spectra = spectra_from_stack(mu)
    else:
        from forward.xanes.edge import read_reference

        spectrum = read_reference(args.input)
        energies, spectra = spectrum.energy_ev, np.asarray(spectrum.mu)[None]
    norm = normalise(energies, spectra, nominal_e0_ev=args.e0_ev)
    search = None if args.e0_ev is None else (args.e0_ev - 5.0, args.e0_ev + 25.0)
    # Pixels of a stack whose edge step is under a fifth of the sample's (background) are not fitted.
    mask = edge_jump_mask(norm.edge_jump) if spectra.shape[0] > 1 or spectra.ndim > 2 else None
    white = fit_whiteline(energies, norm.mu_norm, search_ev=search, noise=norm.noise, mask=mask)
    maps = {"e0_ev": norm.e0_ev, "whiteline_ev": white.energy_ev, "whiteline_sigma_ev": white.energy_sigma_ev,
            "edge_step": norm.edge_jump}
    if args.output:
        import h5py

        with files.atomic_path(args.output, overwrite=args.force) as tmp, h5py.File(tmp, "w") as f:
            for name, values in maps.items():
                f.create_dataset(name, data=np.asarray(values, dtype=float)).attrs["units"] = (
                    "eV" if name.endswith("_ev") else "")
    ok = np.isfinite(np.asarray(white.energy_ev, float))
    summary = {"input": str(args.input), "spectra": int(np.asarray(norm.e0_ev).size), "fitted": int(ok.sum())}
    for name, values in maps.items():
        v = np.asarray(values, float)[ok]
        summary[name] = float(v[0]) if v.size == 1 else (float(np.median(v)) if v.size else None)
    if args.json:
        _emit_json(summary, args.json, args.force)
        return EXIT_OK
    label = "" if summary["spectra"] == 1 else "median of fitted pixels: "
    print(f"{args.input}: {summary['fitted']} of {summary['spectra']} spectra fitted; {label}E0 "
          f"{summary['e0_ev']:.2f} eV, white line {summary['whiteline_ev']:.2f} +- "
          f"{summary['whiteline_sigma_ev']:.2f} eV, edge step {summary['edge_step']:.4g}")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    import validation

    report = validation.run(args.modality, seed=args.seed, out_dir=args.out)
    print(report.table())
    if args.json:
        _emit_json(report.to_dict(), args.json, args.force)
    return EXIT_OK if report.passed else EXIT_FAILED


def _demo(args: argparse.Namespace) -> int:
    from xtwin import demo

    summary = demo.run(args.out, seed=args.seed, overwrite=args.force)
    for s in summary["sections"]:
        print(f"  {s['name']:12s} {'passed' if s['passed'] else 'FAILED'}  ({summary['timings_s'][s['name']]:.1f} s)")
    print(f"wrote {Path(args.out) / 'report.html'} and {Path(args.out) / 'summary.json'}")
    return EXIT_OK if summary["passed"] else EXIT_FAILED


def _add_conductivity_options(q: argparse.ArgumentParser) -> None:
    from forward.conduction.properties import SIGMA_IP_S_PER_M

    q.add_argument("--sigma-ip-S-per-m", type=float, default=SIGMA_IP_S_PER_M, help="in-plane conductivity")
    q.add_argument("--anisotropy", type=float, default=1e3, help="sigma_ip / sigma_op (default 1e3)")
    q.add_argument("--gb-ratio", type=float, default=20.0, help="sigma_ip / sigma_GB (default 20; inf: no GB)")
    q.add_argument("--gb-thickness-nm", type=float, default=1.0)
    q.add_argument("--backbone-ratio", type=float, default=250.0, help="sigma_ip / sigma_backbone (default 250)")
    q.add_argument("--backbone", type=int, nargs="*", metavar="LABEL", help="labels conducting as the backbone "
                   "(5, the lamella frame: the thesis' full system)")
    q.add_argument("--model", choices=("auto", "tensor", "thin_film", "thesis"), default="auto")
    q.add_argument("--phase", nargs="*", metavar="LABEL=S_PER_M", help="isotropic conductivity of other phases")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``xtwin`` (exposed for documentation and tests)."""
    import validation

    parser = argparse.ArgumentParser(prog="xtwin", description="Digital twin of X-ray experiments on battery "
                                     "materials: twins, forward models, inverse solvers, validation.")
    parser.add_argument("--version", action="version", version=f"xtwin {xtwin.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser, json_help: str = "write JSON to FILE ('-' or no FILE: stdout)") -> None:
        p.add_argument("--json", nargs="?", const="-", metavar="FILE", help=json_help)
        p.add_argument("--force", action="store_true", help="overwrite existing output files")

    p = sub.add_parser("demo", help="run the main job on built-in defaults and write a report")
    p.add_argument("--out", default="xtwin-demo", help="output folder (default: xtwin-demo)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    p.add_argument("--force", action="store_true", help="replace an earlier demo in --out")
    p.set_defaults(func=_demo)

    p = sub.add_parser("materials", help="list the material registry and attenuation at an energy")
    p.add_argument("--energy-kev", type=float, default=20.0, help="photon energy, keV (default 20)")
    common(p)
    p.set_defaults(func=_materials)

    p = sub.add_parser("twin", help="inspect, render, export or generate twins")
    twin_sub = p.add_subparsers(dest="twin_command", required=True, metavar="ACTION")
    q = twin_sub.add_parser("info", help="describe a twin HDF5 file")
    q.add_argument("file", type=Path)
    common(q)
    q.set_defaults(func=_twin_info)
    q = twin_sub.add_parser("render", help="render a twin to PNG (3D view, or slices with --slices)")
    q.add_argument("file", type=Path)
    q.add_argument("-o", "--output", required=True, type=Path, help="PNG file")
    q.add_argument("--slices", action="store_true", help="three orthogonal slices instead of a 3D view")
    q.add_argument("--field", default=None, help="colour slices by a field (e.g. soc) or by grain_ids")
    q.add_argument("--force", action="store_true", help="overwrite the PNG")
    q.set_defaults(func=_twin_render)
    q = twin_sub.add_parser("export", help="export a twin to VTK image data (.vti) for ParaView")
    q.add_argument("file", type=Path)
    q.add_argument("-o", "--output", required=True, type=Path, help=".vti file")
    q.add_argument("--force", action="store_true", help="overwrite the output")
    q.set_defaults(func=_twin_export)
    from twin.generators import KINDS

    q = twin_sub.add_parser("build", help="build a twin with a generator; `xtwin twin build KIND -h` lists options")
    kinds = q.add_subparsers(dest="kind", required=True, metavar="KIND")
    for kind, func in KINDS.items():
        summary = (inspect.getdoc(func) or kind).splitlines()[0]
        k = kinds.add_parser(kind, help=summary, description=summary)
        k.add_argument("-o", "--output", required=True, type=Path, help="twin HDF5 file")
        k.add_argument("--force", action="store_true", help="overwrite the output")
        _add_generator_options(k, func)
        k.set_defaults(func=_twin_build)

    p = sub.add_parser("plan", help="plan an experiment before beamtime")
    plan_sub = p.add_subparsers(dest="modality", required=True, metavar="MODALITY")
    q = plan_sub.add_parser("tomo", help="transmission, energy, projections, photons, exposure and scan time")
    q.add_argument("--material", default="NMC811", help="registry material (default NMC811)")
    q.add_argument("--thickness-um", type=float, default=42.0, help="sample thickness, um (default 42)")
    q.add_argument("--energy-kev", type=float, default=5.4, help="photon energy, keV (default 5.4)")
    q.add_argument("--columns", type=int, default=1000, help="detector columns across the sample (default 1000)")
    q.add_argument("--binning", type=int, default=8, help="detector binning (default 8)")
    q.add_argument("--pixel-size-um", type=float, default=0.064,
                   help="unbinned pixel at the sample, um (default 0.064, the TXM of seeds/002)")
    q.add_argument("--target-snr", type=float, default=20.0, help="SNR of -ln T per binned pixel (default 20)")
    q.add_argument("--target-transmission", type=float, default=0.14, help="transmission to find energies for")
    q.add_argument("--flux-ph-per-s", type=float, default=1e9, help="photon flux on the sample (default 1e9)")
    q.add_argument("--beam-area-um2", type=float, default=None, help="beam area (default: the field of view)")
    q.add_argument("--efficiency", type=float, default=1.0, help="detector efficiency (default 1)")
    q.add_argument("--n-projections", type=int, default=None, help="projections to plan (default: Nyquist)")
    q.add_argument("--overhead-s", type=float, default=1.0, help="overhead per projection, s (default 1)")
    q.add_argument("--n-flats", type=int, default=10)
    q.add_argument("--n-darks", type=int, default=0)
    common(q)
    q.set_defaults(func=_plan_tomo)
    q = plan_sub.add_parser("saxs", help="scanning SWAXS / SAXS tomography: time, dose, q-ranges, counts per q-bin")
    q.add_argument("--area-um", type=float, nargs=2, default=[1500.0, 300.0], metavar=("H", "V"),
                   help="scanned area, horizontal and vertical, um (default 1500 300, seeds/000)")
    q.add_argument("--step-um", type=float, nargs=2, default=[25.0, 15.0], metavar=("H", "V"),
                   help="raster steps, um (default 25 15)")
    q.add_argument("--exposure-s", type=float, default=0.1, help="exposure per point, s (default 0.1)")
    q.add_argument("--overhead-s", type=float, default=0.0, help="overhead per point, s (default 0)")
    q.add_argument("--energy-kev", type=float, default=13.2, help="photon energy, keV (default 13.2)")
    q.add_argument("--saxs-distance-m", type=float, default=2.0, help="SAXS detector distance, m (default 2)")
    q.add_argument("--waxs-distance-m", type=float, default=0.6, help="WAXS detector distance, m (default 0.6)")
    q.add_argument("--no-waxs", action="store_true", help="no WAXS detector")
    q.add_argument("--saxs-detector", default="eiger_9m", choices=["eiger_9m", "pilatus_2m"])
    q.add_argument("--waxs-detector", default="pilatus_300k_w", choices=["pilatus_300k_w"])
    q.add_argument("--flux-ph-per-s", type=float, default=1e11, help="photons/s on the sample (default 1e11)")
    q.add_argument("--beam-fwhm-um", type=float, nargs=2, default=[25.0, 15.0], metavar=("H", "V"),
                   help="beam FWHM, um (default 25 15)")
    q.add_argument("--material", default="hard carbon", help="sample material (default 'hard carbon')")
    q.add_argument("--thickness-um", type=float, default=500.0, help="sample thickness, um (default 500)")
    q.add_argument("--radius-A", type=float, default=6.5, help="sphere (micropore) radius, A (default 6.5)")
    q.add_argument("--volume-fraction", type=float, default=0.2, help="sphere volume fraction (default 0.2)")
    q.add_argument("--delta-sld-per-A2", type=float, default=None,
                   help="contrast, 1/A^2 (default: the SLD of the material, empty pores)")
    q.add_argument("--polydispersity", type=float, default=0.0, help="Schulz relative width (default 0)")
    q.add_argument("--background-per-cm", type=float, default=0.0, help="flat background, 1/cm (default 0)")
    q.add_argument("--n-bins", type=int, default=100, help="log q-bins on the SAXS detector (default 100)")
    q.add_argument("--n-projections", type=int, default=72, help="projections per tomogram (default 72)")
    common(q)
    q.set_defaults(func=_plan_saxs)
    q = plan_sub.add_parser("compton", help="Compton imaging (XCS): counts and time per pixel for an EMF precision, "
                                            "resolution bias of the EMF, scan time (seeds/001)")
    q.add_argument("--material", default="NMC811", help="registry material or host (default NMC811)")
    q.add_argument("--x-li", type=float, default=None, help="lithium content x of a host such as 'Li_x NMC811'")
    q.add_argument("--target-sigma", type=float, default=0.01, help="EMF standard deviation per pixel (default 0.01)")
    q.add_argument("--flux-ph-per-s", type=float, default=1e12, help="photons/s in the sheet (default 1e12, assumed)")
    q.add_argument("--energy-kev", type=float, default=114.64, help="incident energy, keV (default 114.64)")
    q.add_argument("--angle-deg", type=float, default=90.0, help="scattering angle, deg (default 90)")
    q.add_argument("--sheet-mm", type=float, nargs=2, default=[25.0, 0.25], metavar=("W", "H"),
                   help="sheet beam width and height, mm (default 25 0.25)")
    q.add_argument("--solid-fraction", type=float, default=1.0, help="volume fraction of the material (default 1)")
    q.add_argument("--incident-path-mm", type=float, default=7.0, help="material before the voxel, mm (default 7)")
    q.add_argument("--exit-path-mm", type=float, default=0.5, help="material towards the pinhole, mm (default 0.5)")
    q.add_argument("--window-transmission", type=float, default=1.0, help="further transmission, can etc. (default 1)")
    q.add_argument("--pinhole-diameter-um", type=float, default=200.0, help="pinhole diameter, um (default 200)")
    q.add_argument("--pinhole-to-sheet-mm", type=float, default=160.0, help="pinhole-sheet distance, mm (default 160)")
    q.add_argument("--magnification", type=float, default=1.0, help="camera magnification (default 1)")
    q.add_argument("--kept-fraction", type=float, default=1.0, help="events kept by charge-sharing rejection")
    q.add_argument("--fwhm-kev", type=float, default=None, help="resolution at the peak, keV (default: HEXITEC law)")
    q.add_argument("--binning", type=int, default=1, help="n x n pixel binning (default 1)")
    q.add_argument("--n-positions", type=int, default=3, help="sheet positions scanned (default 3)")
    q.add_argument("--overhead-s", type=float, default=30.0, help="overhead per sheet position, s (default 30)")
    q.add_argument("--binnings", type=int, nargs="+", default=[1, 2, 4, 8], help="binnings of the time table")
    q.add_argument("--resolution-fwhm-kev", type=float, nargs="+", default=[0.0, 0.5, 0.93, 1.5, 2.0],
                   help="resolutions (keV FWHM) of the EMF bias table")
    common(q)
    q.set_defaults(func=_plan_compton)
    q = plan_sub.add_parser("xanes", help="2D/3D TXM-XANES: energy grid, counts for a white-line precision, scan "
                                          "time and dose (seeds/004)")
    q.add_argument("--material", default="NMC811", help="registry material holding Ni (default NMC811)")
    q.add_argument("--thickness-um", type=float, default=5.0, help="path through the sample, um (default 5)")
    q.add_argument("--valence", type=float, default=3.5, help="Ni valence (default 3.5)")
    q.add_argument("--target-whiteline-sigma-ev", type=float, default=0.25,
                   help="white-line standard deviation per pixel, eV (default 0.25)")
    q.add_argument("--fit-half-width-ev", type=float, default=3.0, help="white-line fit window, +- eV (default 3)")
    q.add_argument("--edge-region", type=float, nargs=3, default=[-15.0, 30.0, 1.0], metavar=("START", "STOP", "STEP"),
                   help="fine grid across the edge, eV from the edge (default -15 30 1)")
    q.add_argument("--n-flats", type=int, default=1, help="flat frames per energy (default 1)")
    q.add_argument("--pixel-um", type=float, default=0.03, help="pixel at the sample, um (default 0.03)")
    q.add_argument("--field-of-view-um", type=float, default=40.0, help="field of view, um (default 40)")
    q.add_argument("--flux-ph-per-s", type=float, default=1e12, help="photons/s on the field (default 1e12, assumed)")
    q.add_argument("--efficiency", type=float, default=0.1, help="zone plate x detector efficiency (default 0.1)")
    q.add_argument("--overhead-s", type=float, default=5.0, help="overhead per energy, s (default 5)")
    q.add_argument("--n-angles", type=int, default=900, help="3D: projections per tomogram (default 900)")
    q.add_argument("--exposure-3d-s", type=float, default=0.05, help="3D: exposure per projection, s (default 0.05)")
    q.add_argument("--n-energies-3d", type=int, default=None, help="3D: energies (default: the whole grid)")
    common(q)
    q.set_defaults(func=_plan_xanes)

    p = sub.add_parser("simulate", help="simulate what an instrument records from a twin")
    sim_sub = p.add_subparsers(dest="modality", required=True, metavar="MODALITY")
    q = sim_sub.add_parser("tomo", help="projections, flats and darks of a twin (NXtomo or TIFF stack)")
    q.add_argument("twin", type=Path, help="twin HDF5 file")
    q.add_argument("-o", "--output", required=True, type=Path, help=".nxs/.h5 (NXtomo) or a folder with --tiff")
    q.add_argument("--tiff", action="store_true", help="write a TIFF stack folder instead of NXtomo")
    q.add_argument("--energy-kev", type=float, default=5.4)
    q.add_argument("--n-angles", type=int, default=141, help="projections (default 141, seeds/002)")
    q.add_argument("--arc-deg", type=float, default=180.0)
    q.add_argument("--exposure-s", type=float, default=1.0)
    q.add_argument("--flux-ph-per-s", type=float, default=1e9)
    q.add_argument("--pixel-size-um", type=float, default=None, help="unbinned pixel (default: the voxel)")
    q.add_argument("--columns", type=int, default=None, help="unbinned detector columns (default: whole sample)")
    q.add_argument("--binning", type=int, default=1)
    q.add_argument("--efficiency", type=float, default=1.0)
    q.add_argument("--read-noise-e", type=float, default=0.0)
    q.add_argument("--n-flats", type=int, default=10)
    q.add_argument("--n-darks", type=int, default=10)
    q.add_argument("--centre-offset-px", type=float, default=0.0)
    q.add_argument("--jitter-px", type=float, default=0.0)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--force", action="store_true")
    q.set_defaults(func=_simulate_tomo)
    q = sim_sub.add_parser("conduction", help="DC potentials and currents between a twin's electrodes "
                                              "(resistor network, seeds/003)")
    q.add_argument("twin", type=Path, help="twin HDF5 file with electrodes (e.g. `twin build polycrystal --lamella`)")
    q.add_argument("--voltage-V", type=float, default=1.0, help="potential of the positive electrode (default 1 V)")
    _add_conductivity_options(q)
    q.add_argument("--thickness-um", type=float, default=None, help="thickness of a 2D twin (default one voxel)")
    q.add_argument("--method", choices=("auto", "direct", "amg"), default="auto")
    q.add_argument("--top", type=int, default=5, help="grain boundaries listed (largest drops first)")
    q.add_argument("-o", "--output", type=Path, default=None, help="solution as .h5 (HDF5) or .vti (ParaView)")
    q.add_argument("--png", type=Path, default=None, help="current-density map PNG")
    common(q)
    q.set_defaults(func=_simulate_conduction)

    q = sim_sub.add_parser("saxs", help="scanning SWAXS raster of a twin (seeds/000): NXcanSAS map of curves")
    q.add_argument("twin", type=Path, help="twin HDF5 file (e.g. `twin build capillary`)")
    q.add_argument("-o", "--output", type=Path, default=None, help="NXcanSAS HDF5 of every raster point's curve")
    q.add_argument("--columns", type=Path, default=None, help="q I sigma text of the electrode-mean curve")
    q.add_argument("--time-min", type=float, default=None, help="sodiation time of a capillary twin, min")
    q.add_argument("--soc", type=float, default=None, help="state of charge of a capillary twin, 0-1")
    q.add_argument("--energy-kev", type=float, default=13.2, help="photon energy (default 13.2 keV, seeds/000)")
    q.add_argument("--exposure-s", type=float, default=0.1, help="exposure per point (default 0.1 s, seeds/000)")
    q.add_argument("--step-um", type=float, nargs=2, default=(25.0, 15.0), metavar=("H", "V"),
                   help="raster steps (default 25 15 um, seeds/000)")
    q.add_argument("--flux-ph-per-s", type=float, default=1e11, help="photons per second in the beam")
    q.add_argument("--no-noise", action="store_true", help="expected counts instead of Poisson draws")
    q.add_argument("--seed", type=int, default=0)
    common(q)
    q.set_defaults(func=_simulate_saxs)

    q = sim_sub.add_parser("compton", help="XCS cube of a coin-cell twin: 80 x 80 pixel spectra behind a pinhole "
                                           "(seeds/001)")
    q.add_argument("twin", type=Path, help="3D twin HDF5 file (e.g. `twin build coin_cell --ndim 3`)")
    q.add_argument("--sheet-z-um", type=float, required=True, help="height of the sheet beam's centre, um")
    q.add_argument("-o", "--output", type=Path, default=None, help="cube as HDF5 (NXdata with an energy axis)")
    q.add_argument("--spectrum", type=Path, default=None, help="global spectrum as energy_kev counts columns")
    q.add_argument("--exposure-s", type=float, default=720.0, help="acquisition time (default 720 s)")
    q.add_argument("--flux-ph-per-s", type=float, default=1e12, help="photons per second in the sheet")
    q.add_argument("--no-noise", action="store_true", help="expected counts instead of Poisson draws")
    q.add_argument("--seed", type=int, default=0)
    common(q)
    q.set_defaults(func=_simulate_compton)

    q = sim_sub.add_parser("xanes", help="full-field XANES stack of a twin across an absorption edge (seeds/004)")
    q.add_argument("twin", type=Path, help="3D twin HDF5 with a ni_oxidation_state field (e.g. `twin build "
                                           "nmc_particle`)")
    q.add_argument("-o", "--output", type=Path, required=True, help="stack HDF5 (NXdata with an energy axis)")
    q.add_argument("--edge-ev", type=float, default=8333.0, help="edge of the energy grid (default Ni K, 8333 eV)")
    q.add_argument("--snr", type=float, default=200.0, help="per-pixel signal-to-noise of the flats (default 200)")
    q.add_argument("--drift-px", type=float, default=0.5, help="rms drift between energies, pixels")
    q.add_argument("--n-angles", type=int, default=0, help="projections per energy for 3D XANES (default 0: 2D)")
    q.add_argument("--seed", type=int, default=0)
    common(q)
    q.set_defaults(func=_simulate_xanes)

    p = sub.add_parser("fit", help="apply an inverse solver to measured or simulated data")
    fit_sub = p.add_subparsers(dest="modality", required=True, metavar="MODALITY")
    q = fit_sub.add_parser("tomo", help="reconstruct NXtomo, Data Exchange or TIFF-stack projections")
    q.add_argument("input", type=Path, help="NXtomo (.nxs/.h5), APS Data Exchange (.h5) or a TIFF stack folder")
    q.add_argument("-o", "--output", required=True, type=Path, help="reconstruction HDF5 (volume_per_cm, 1/cm)")
    q.add_argument("--method", choices=("fbp", "sirt", "cgls", "tv"), default="fbp")
    q.add_argument("--filter", default="ramp", choices=("ramp", "shepp-logan", "cosine", "hamming", "hann"))
    q.add_argument("--iterations", type=int, default=100, help="iterations of sirt/cgls/tv (default 100)")
    q.add_argument("--tv-weight", type=float, default=1.0, help="TV weight, 1/cm (tv only)")
    q.add_argument("--centre-offset-px", type=float, default=None, help="known centre offset (default: find it)")
    q.add_argument("--pixel-size-um", type=float, default=None, help="pixel size when the file lacks it")
    q.add_argument("--rings", action="store_true", help="suppress ring artefacts (stripe removal)")
    q.add_argument("--align", action="store_true", help="estimate and undo per-projection jitter")
    common(q)
    q.set_defaults(func=_fit_tomo)
    q = fit_sub.add_parser("conduction", help="effective conductivity and tortuosity factor of a labelled volume")
    q.add_argument("input", type=Path, help="labels: twin HDF5, .npy, a TIFF stack file or a folder of TIFFs")
    q.add_argument("--conducting", type=int, nargs="+", required=True, metavar="LABEL",
                   help="label(s) of the conducting phase")
    q.add_argument("--axis", type=int, default=0, help="array axis of the potential difference (default 0)")
    q.add_argument("--sigma-S-per-m", type=float, default=1.0, help="conductivity of the conducting phase")
    q.add_argument("--voxel-size-um", type=float, default=None, help="voxel edge when the file lacks it")
    q.add_argument("--method", choices=("auto", "direct", "amg"), default="auto")
    common(q)
    q.set_defaults(func=_fit_conduction)

    q = fit_sub.add_parser("saxs", help="fit the seeds/000 SAXS or WAXS model to curves (NXcanSAS or columns)")
    q.add_argument("input", type=Path, help="NXcanSAS (.h5/.nxs; one curve or a map) or q I [sigma] columns")
    q.add_argument("--model", choices=("saxs", "waxs"), default="saxs",
                   help="eq. 1-3 (power law, micropores, background) or eq. 4 (002, PVDF, Na peaks)")
    q.add_argument("--free", nargs="+", default=None, metavar="NAME", help="parameters to fit (default: the model's)")
    q.add_argument("--q-min", type=float, default=None, help="lowest q fitted, 1/A")
    q.add_argument("--q-max", type=float, default=None, help="highest q fitted, 1/A")
    common(q)
    q.set_defaults(func=_fit_saxs)

    q = fit_sub.add_parser("compton", help="EMF (eq. 3-5 of seeds/001) of an XCS cube or spectrum, and its map")
    q.add_argument("input", type=Path, help="cube HDF5 (.h5/.nxs) or energy_kev counts columns")
    q.add_argument("--binning", type=int, default=1, help="n x n pixels per EMF map point (default 1)")
    q.add_argument("--mask", type=Path, default=None,
                   help=".npy boolean mask of the pixels (e.g. a registered XCT mask)")
    q.add_argument("--no-background", dest="background", action="store_false",
                   help="raw eq. 4-5 integrals (default: subtract a linear background under the peak)")
    q.add_argument("-o", "--output", type=Path, default=None, help=".npy of the EMF map and its sigma (2, ny, nx)")
    common(q)
    q.set_defaults(func=_fit_compton)

    q = fit_sub.add_parser("xanes", help="E0, white line and edge step of spectra (XDI, CSV, columns) or a 2D stack")
    q.add_argument("input", type=Path, help="stack HDF5 (.h5) or one spectrum (XDI, CSV or energy mu columns)")
    q.add_argument("--e0-ev", type=float, default=None,
                   help="nominal edge energy for the pre/post-edge windows (default: from the mean spectrum)")
    q.add_argument("--align", action="store_true", help="register the images between energies first")
    q.add_argument("-o", "--output", type=Path, default=None, help="HDF5 of the per-pixel maps")
    common(q)
    q.set_defaults(func=_fit_xanes)

    p = sub.add_parser("validate", help="run a validation and report each check against its tolerance")
    p.add_argument("modality", choices=sorted(validation.MODALITIES))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=None, help="folder for pictures and tables")
    common(p, "write the report as JSON to FILE ('-' or no FILE: stdout)")
    p.set_defaults(func=_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``xtwin`` console script; returns the exit status."""
    from twin.io import TwinFileError
    from twin.materials import UnknownMaterialError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into `head`: not an error of ours
        sys.stderr.close()
        return EXIT_OK
    except (ValueError, TypeError, FileExistsError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
            UnknownMaterialError, TwinFileError) as err:
        print(f"xtwin: error: {err}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
