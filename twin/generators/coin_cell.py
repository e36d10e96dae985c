"""A CR2032 coin cell: casing, spacers, wave spring, Li anode, separator and a homogenised cathode.

The two cells of seeds/001 (XCS-CT of coin cells, Huang et al.), Results:

* ``variant="lib"``: "a thick (~ 1 mm) Li_xNi0.8Mn0.1Co0.1O2 (NMC811) cathode made by
  directional ice templating [...], a lithium metal anode (~ 250 um), a polypropylene (PP)
  separator (~ 20 um) and a stainless steel spacer (0.5 mm)"; "The PP separator was soaked
  with a liquid electrolyte". The cell was imaged "at the fully charged state".
* ``variant="ssb"``: "a cathode (65 um in thickness) containing a mixture of
  Li_xNi0.6Mn0.2Co0.2O2 (NMC622) material, a polyethylene oxide (PEO) SPE and an [...]
  (LiTFSI) salt, an SPE membrane containing a mixture of PEO and LiTFSI salt (30 um thick),
  an Li metal anode (250 um thick), a stainless steel spring, and two stainless steel
  spacers (500 um thick)"; "the diameter of the anode (16 mm) was larger than that of the
  cathode (14 mm)". Imaged "in the middle of charging".

The Li distribution measured there, which the ``x_li`` field reproduces:

* through the thickness (LIB, Fig. 3): "the overall EMF was 0.65 in the top region of the
  cathode [...]. For comparison, the overall EMF in the middle region of the cathode [...]
  was calculated to be 0.72 [...] i.e. a higher lithium-ion concentration in the middle
  depth region than the top depth region (furthest from the separator)", with "the
  lithium-ion concentration [...] directly proportional to the EMF" (Methods), so x_top /
  x_middle = 0.65 / 0.72 by default;
* laterally (SSB, Fig. 4d-e): "a higher EMF in the middle of the anode and SPE membrane
  compared with the circular edge of the images because the diameter of the anode (16 mm)
  was larger than that of the cathode (14 mm) [...] Therefore, the middle region [...]
  overlapped with the cathode was more active and contained higher lithium-ion
  concentrations." The source maps this in the anode and membrane; as issue 4 asks, the
  same radial shape (high over the anode-cathode overlap, falling at its rim and beyond)
  is applied to the cathode's lithiation.

Casing dimensions are not in the source: the CR2032 designation (IEC 60086-3 coding) fixes
20 mm diameter and 3.2 mm height; the rest are typical laboratory coin-cell parts and are
named as such in :data:`CASING`.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from twin import materials
from twin.container import Provenance, Twin
from twin.generators.geometry import layer_slice
from twin.materials import Material, mix_by_mass, mix_by_volume
from xtwin import arguments

#: Casing and spring dimensions, um, in the frame with the can at the bottom (z = 0 its outer face).
CASING = {
    # IEC 60086-3 size code "2032": 20 mm diameter, 3.2 mm height.
    "diameter": 20000.0,
    "height": 3200.0,
    # Negative-terminal (cap) diameter of CR2032 cells, 17.7 mm in manufacturers' drawings.
    "cap_diameter": 17700.0,
    # Crimped rim of the can, below the cap top: the cap protrudes 0.3 mm (typical drawings).
    "crimp_below_top": 300.0,
    # Lower end of the cap skirt and polymer gasket (J-ring) dimensions: typical, schematic.
    "skirt_bottom": 1200.0,
    "gasket_foot": 300.0,
    "gasket_collar": 300.0,
    # Three-wave spring of 0.3 mm strip, 15.0 mm outer and 10.0 mm inner diameter (typical
    # CR2032 hardware; seeds/001 names "a stainless steel spring" without dimensions).
    "spring_outer_diameter": 15000.0,
    "spring_inner_diameter": 10000.0,
    "spring_strip": 300.0,
    "spring_waves": 3,
}

#: Default x_top / x_middle: EMF 0.65 (top) over 0.72 (middle), seeds/001 Results (Fig. 3).
TOP_TO_MIDDLE_RATIO = 0.65 / 0.72

_VARIANTS = {
    # host, electrolyte in the pores, cathode thickness, separator thickness, spacers,
    # default porosity, CBD fraction, x at mid-depth, cap-down orientation (see coin_cell).
    "lib": dict(host="Li_x NMC811", electrolyte="LiPF6 EC:DMC", cathode_um=1000.0, separator_um=20.0,
                n_spacers=1, porosity=0.40, cbd=0.05, x_middle=0.30, cap_down=True),
    "ssb": dict(host="Li_x NMC622", electrolyte="PEO+LiTFSI", cathode_um=65.0, separator_um=30.0,
                n_spacers=2, porosity=0.40, cbd=0.0, x_middle=0.60, cap_down=False),
}

_COMPONENTS = ("can", "cap", "gasket", "spacer", "spring", "anode", "separator", "cathode", "gas")


@dataclasses.dataclass(frozen=True)
class _Ring:
    """An annular cylinder r_in <= r < r_out, z_lo <= z < z_hi (um, cell frame)."""

    r_in: float
    r_out: float
    z_lo: float
    z_hi: float

    def flipped(self, height: float) -> _Ring:
        """The same ring mirrored in z about the middle of a cell of ``height`` um."""
        return _Ring(self.r_in, self.r_out, height - self.z_hi, height - self.z_lo)


def coin_cell(*, variant: str = "lib", ndim: int = 2, voxel_size_um: float = 10.0,
              field_of_view_mm: float | None = None, cathode_thickness_um: float | None = None,
              cathode_diameter_mm: float = 14.0, anode_thickness_um: float = 250.0,
              anode_diameter_mm: float = 16.0, separator_thickness_um: float | None = None,
              separator_diameter_mm: float = 17.0, separator_porosity: float = 0.41,
              spacer_thickness_um: float = 500.0, spacer_diameter_mm: float = 15.5,
              n_spacers: int | None = None, spring: bool = True, wall_thickness_um: float = 250.0,
              gasket: str = "PP", porosity: float | None = None, cbd_volume_fraction: float | None = None,
              x_li_middle: float | None = None, top_to_middle_ratio: float = TOP_TO_MIDDLE_RATIO,
              peak_depth: float = 0.5, lateral_contrast: float = 0.1, edge_width_mm: float = 1.0,
              cap_down: bool | None = None, seed: int = 0) -> Twin:
    """A CR2032 coin cell with the layer stack of seeds/001 and a Li-content field in its cathode.

    Parameters
    ----------
    variant : {"lib", "ssb"}
        ``"lib"``: ~1 mm porous NMC811 cathode soaked in 1 M LiPF6 EC:DMC, 20 um PP separator,
        one spacer. ``"ssb"``: 65 um NMC622 + PEO/LiTFSI composite cathode, 30 um PEO/LiTFSI
        membrane, two spacers. Parameters left at ``None`` take the variant's value from the
        source (module docstring) or the assumption stated below.
    ndim : {2, 3}
        2: the vertical section through the cell axis, array axes ``[z, y]`` (z up, the stack
        axis; y along a diameter); 3: the whole cell, ``[z, y, x]``. The axis is at the
        lateral centre of the grid.
    voxel_size_um : float
        Voxel edge, um. Every layer must be at least one voxel thick.
    field_of_view_mm : float, optional
        Lateral edge of the grid (a centred square in 3D, a centred line in 2D), mm; by default
        the whole 20 mm cell plus two voxels of air on each side.
    cathode_thickness_um, cathode_diameter_mm : float
        Cathode disc: 1000 um (LIB) or 65 um (SSB); 14 mm (SSB, source; the LIB's is not
        given and taken equal).
    anode_thickness_um, anode_diameter_mm : float
        Li metal disc: 250 um and 16 mm (source; the LIB's diameter is not given).
    separator_thickness_um, separator_diameter_mm : float
        Separator (LIB, 20 um PP) or PEO/LiTFSI membrane (SSB, 30 um); 17 mm, between the
        anode and the cap's inner diameter (not in the source).
    separator_porosity : float
        Electrolyte volume fraction of the PP separator (LIB only): 0.41, the Celgard 2400
        datasheet value.
    spacer_thickness_um, spacer_diameter_mm, n_spacers : float, float, int
        Stainless-steel spacers: 500 um (source), 15.5 mm (typical), 1 (LIB) or 2 (SSB).
    spring : bool
        Include the wave spring between the spacers and the cap (the source shows one in the
        SSB; the LIB stack needs one too to fill the casing).
    wall_thickness_um : float
        Sheet thickness of can and cap, 250 um (typical 0.2-0.3 mm stainless steel).
    gasket : {"PP", "PTFE"}
        Gasket polymer.
    porosity : float
        Volume fraction of the cathode taken by its electrolyte: liquid in the LIB's pores,
        PEO/LiTFSI in the SSB composite. 0.40 assumed for both (the source gives pore sizes,
        5-20 um, but no porosity).
    cbd_volume_fraction : float
        Carbon-binder (carbon black + PVDF, 1:1 by mass) volume fraction of the cathode: 0.05
        (LIB, assumed) or 0 (SSB: the source lists NMC622, PEO and LiTFSI only).
    x_li_middle : float
        Li content x of Li_x NMC at mid-depth on the axis: 0.30 (LIB, "fully charged",
        assumed) or 0.60 (SSB, "middle of charging", assumed).
    top_to_middle_ratio : float
        x at the face furthest from the separator over ``x_li_middle``, in [0, 1]; default
        0.65 / 0.72 from the EMFs of the source.
    peak_depth : float
        Where x peaks, as a fraction of the thickness from the separator face, in [0, 0.95].
    lateral_contrast : float
        Relative drop of x far outside the anode-cathode overlap, in [0, 1). The source shows
        the centre-to-edge difference only as a colour map; 0.1 is illustrative.
    edge_width_mm : float
        Width of the lateral fall-off around the rim of the overlap, mm.
    cap_down : bool, optional
        Orientation of z: the source's LIB image has the cathode above the separator (its
        "top region" is "furthest from the separator"), so the cell lies cap down; its SSB
        sheet beam moves "downwards" from the anode to the anode/SPE interphase, so that
        cell lies can down. ``None`` follows the source.
    seed : int
        Seed of the random generator (the angular phase of the wave spring).

    Returns
    -------
    Twin
        One label per component, each with its own material: 0 air, 1 can, 2 cap, 3 gasket,
        4 spacer(s), 5 wave spring, 6 Li metal anode, 7 separator or membrane, 8 cathode,
        9 argon filling the rest of the cell. Field ``x_li`` (float32, NaN outside the
        cathode).

        Truth, for each component C of can, cap, gasket, spacer, spring, anode, separator,
        cathode, gas: ``C/label``, ``C/z_range_um`` (2,), ``C/inner_diameter_mm``,
        ``C/outer_diameter_mm``, ``C/voxel_count`` and the exact ``C/volume_mm3`` of the part
        inside the grid (3D) or ``C/section_area_mm2`` (2D). Cathode: ``cathode/porosity``,
        ``cathode/active_volume_fraction``, ``cathode/cbd_volume_fraction``,
        ``cathode/x_li_mean``, ``cathode/depth_um`` and ``cathode/x_li_profile`` (mean x of
        each voxel row of the cathode against its depth from the separator face). Profile:
        ``x_li/middle``, ``x_li/top``, ``x_li/at_separator``, ``x_li/peak_depth``,
        ``x_li/lateral_contrast``, ``x_li/edge_width_mm``, ``x_li/overlap_diameter_mm``; and
        ``cell/diameter_mm``, ``cell/height_mm``, ``cell/wall_thickness_mm``,
        ``spring/phase_rad``.

    Notes
    -----
    The cathode is homogenised: at these voxel sizes (pores of 5-20 um, source Fig. 3a) one
    voxel holds active material, electrolyte and carbon-binder, so its material is
    ``mix_by_volume`` of the three at ``porosity`` and ``cbd_volume_fraction``, with the host
    at the cathode's mean x. The composition of a single voxel follows from ``x_li``: a
    forward model that resolves composition should use
    ``mix_by_volume([(materials.get(host, x), 1 - porosity - cbd), (electrolyte, porosity),
    (cbd, cbd)])`` with host ``"Li_x NMC811"`` or ``"Li_x NMC622"``.

    Profile: with depth zeta (0 at the separator face, 1 at the far face) and radius r,
    ``x = x_d(zeta) * (1 - lateral_contrast * (1 - L(r)))`` where
    ``x_d = x_mid - (x_mid - x_top) ((zeta - peak_depth) / (1 - peak_depth))^2`` (a parabola
    through x_mid at the peak and x_top at the far face) and ``L(r) = S(r) / S(0)``,
    ``S(r) = 1 / (1 + exp((r - r_ov) / w))``, r_ov the radius of the anode-cathode overlap
    and w = ``edge_width_mm``. The source reports no value at the separator face; the
    parabola's symmetric extension is an assumption.

    The casing is schematic (rectangular sections of sheet metal and gasket); internal parts
    must fit inside the cap's skirt.

    Cost: O(N voxels) per component (each annulus is masked in the lateral plane and painted
    on its z slab); memory 5 bytes per voxel (labels + ``x_li``). The default 2D section at
    10 um is 2004 x 324 pixels. In 3D the thinnest layer bounds the voxel size (20 um for the
    LIB's separator): the whole LIB cell is then 1004 x 1004 x 164 = 165 M voxels (0.8 GB), so
    crop with ``field_of_view_mm`` (6 mm: 14.8 M voxels, under a second).
    """
    # ------------------------------------------------------------ validation (cheap, first)
    variant = arguments.one_of("variant", variant, tuple(_VARIANTS))
    spec = _VARIANTS[variant]
    ndim = arguments.one_of("ndim", arguments.integer("ndim", ndim), (2, 3))
    s = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    t_wall = arguments.in_range("wall_thickness_um", wall_thickness_um, 50.0, 500.0, unit="um")
    cathode_um = spec["cathode_um"] if cathode_thickness_um is None else cathode_thickness_um
    separator_um = spec["separator_um"] if separator_thickness_um is None else separator_thickness_um
    layers = {"cathode_thickness_um": arguments.positive("cathode_thickness_um", cathode_um, unit="um"),
              "separator_thickness_um": arguments.positive("separator_thickness_um", separator_um, unit="um"),
              "anode_thickness_um": arguments.positive("anode_thickness_um", anode_thickness_um, unit="um"),
              "spacer_thickness_um": arguments.positive("spacer_thickness_um", spacer_thickness_um, unit="um"),
              "wall_thickness_um": t_wall}
    n_sp = spec["n_spacers"] if n_spacers is None else arguments.integer("n_spacers", n_spacers, minimum=0)
    for name, value in layers.items():
        if name == "spacer_thickness_um" and n_sp == 0:
            continue
        if value < s:
            raise ValueError(f"{name}={value!r}: the layer is thinner than one voxel (voxel_size_um={s:g}) and "
                             f"would vanish; use voxel_size_um <= {value:g}")
    cap_inner_mm = (CASING["cap_diameter"] - 2 * t_wall) / 1000
    diameters = {"cathode_diameter_mm": cathode_diameter_mm, "anode_diameter_mm": anode_diameter_mm,
                 "separator_diameter_mm": separator_diameter_mm, "spacer_diameter_mm": spacer_diameter_mm}
    for name, value in diameters.items():
        d = arguments.positive(name, value, unit="mm")
        if d > cap_inner_mm:
            raise ValueError(f"{name}={value!r}: expected at most {cap_inner_mm:g} mm, the inner diameter of the "
                             f"cap for wall_thickness_um={t_wall:g}")
        diameters[name] = d
    if not isinstance(spring, (bool, np.bool_)):
        raise TypeError(f"spring={spring!r}: expected True or False")
    gasket = arguments.one_of("gasket", gasket, ("PP", "PTFE"))
    sep_porosity = arguments.in_range("separator_porosity", separator_porosity, 0.0, 1.0)
    phi = arguments.in_range("porosity", spec["porosity"] if porosity is None else porosity, 0.0, 1.0)
    cbd = arguments.in_range("cbd_volume_fraction", spec["cbd"] if cbd_volume_fraction is None
                             else cbd_volume_fraction, 0.0, 1.0)
    if phi + cbd >= 1.0:
        raise ValueError(f"porosity={phi!r}, cbd_volume_fraction={cbd!r}: expected a sum < 1 so that the "
                         f"cathode holds active material")
    x_mid = arguments.in_range("x_li_middle", spec["x_middle"] if x_li_middle is None else x_li_middle, 0.0, 1.0)
    ratio = arguments.in_range("top_to_middle_ratio", top_to_middle_ratio, 0.0, 1.0)
    peak = arguments.in_range("peak_depth", peak_depth, 0.0, 0.95)
    x_top = ratio * x_mid
    x_sep = x_mid - (x_mid - x_top) * (peak / (1 - peak)) ** 2
    if x_sep < 0:
        raise ValueError(f"peak_depth={peak_depth!r}: with top_to_middle_ratio={ratio:g} the parabola gives x = "
                         f"{x_sep:.3g} < 0 at the separator face; expected peak_depth closer to 0.5")
    contrast = arguments.in_range("lateral_contrast", lateral_contrast, 0.0, 0.99)
    edge_um = 1000 * arguments.positive("edge_width_mm", edge_width_mm, unit="mm")
    cap_down_arg = cap_down
    if cap_down is None:
        cap_down = spec["cap_down"]
    elif not isinstance(cap_down, (bool, np.bool_)):
        raise TypeError(f"cap_down={cap_down!r}: expected True, False or None")
    seed = arguments.integer("seed", seed, minimum=0)

    height, radius = CASING["height"], CASING["diameter"] / 2
    stack = (layers["cathode_thickness_um"] + layers["separator_thickness_um"] + layers["anode_thickness_um"]
             + n_sp * layers["spacer_thickness_um"])
    room = height - 2 * t_wall - (CASING["spring_strip"] if spring else 0.0)
    if stack > room:
        raise ValueError(f"cathode_thickness_um={layers['cathode_thickness_um']:g}: the stack (cathode, separator, "
                         f"anode, {n_sp} spacer(s){', spring' if spring else ''}) is {stack:g} um thick but the "
                         f"casing holds {room:g} um; use thinner layers or fewer spacers")
    if field_of_view_mm is None:
        width = CASING["diameter"] + 4 * s
    else:
        width = 1000 * arguments.positive("field_of_view_mm", field_of_view_mm, unit="mm")
        if width < 2 * s:
            raise ValueError(f"field_of_view_mm={field_of_view_mm!r}: expected at least two voxels "
                             f"({2 * s / 1000:g} mm)")
    n_lat = 2 * max(1, math.ceil(width / (2 * s)))
    nz = math.ceil(height / s) + 4
    shape = (nz, n_lat) if ndim == 2 else (nz, n_lat, n_lat)
    params = {"variant": variant, "ndim": ndim, "voxel_size_um": s, "field_of_view_mm": field_of_view_mm,
              "cathode_thickness_um": cathode_thickness_um, "cathode_diameter_mm": cathode_diameter_mm,
              "anode_thickness_um": anode_thickness_um, "anode_diameter_mm": anode_diameter_mm,
              "separator_thickness_um": separator_thickness_um, "separator_diameter_mm": separator_diameter_mm,
              "separator_porosity": sep_porosity, "spacer_thickness_um": spacer_thickness_um,
              "spacer_diameter_mm": spacer_diameter_mm, "n_spacers": n_spacers, "spring": bool(spring),
              "wall_thickness_um": t_wall, "gasket": gasket, "porosity": porosity,
              "cbd_volume_fraction": cbd_volume_fraction, "x_li_middle": x_li_middle,
              "top_to_middle_ratio": ratio, "peak_depth": peak, "lateral_contrast": contrast,
              "edge_width_mm": edge_width_mm,
              "cap_down": None if cap_down_arg is None else bool(cap_down_arg)}
    rng = np.random.default_rng(seed)

    # ------------------------------------------------------------ geometry in the can-down frame
    rings = _casing_rings(t_wall)
    z = t_wall
    layer_order = [("cathode", layers["cathode_thickness_um"], diameters["cathode_diameter_mm"]),
                   ("separator", layers["separator_thickness_um"], diameters["separator_diameter_mm"]),
                   ("anode", layers["anode_thickness_um"], diameters["anode_diameter_mm"])]
    if n_sp:
        layer_order.append(("spacer", n_sp * layers["spacer_thickness_um"], diameters["spacer_diameter_mm"]))
    for name, thickness, diameter in layer_order:
        rings[name] = [_Ring(0.0, 500.0 * diameter, z, z + thickness)]
        z += thickness
    separator_face = t_wall + layers["cathode_thickness_um"]
    strip = CASING["spring_strip"]
    spring_mid = (z + height - t_wall) / 2
    spring_amp = (height - t_wall - z - strip) / 2
    phase = float(rng.uniform(0.0, 2 * np.pi))
    if cap_down:
        rings = {k: [r.flipped(height) for r in v] for k, v in rings.items()}
        separator_face, spring_mid = height - separator_face, height - spring_mid
        # Mirroring z -> H - z negates the wave: z_s = mid - amp cos(...).
        spring_amp = -spring_amp
    z0 = 2 * s
    rings = {k: [dataclasses.replace(r, z_lo=r.z_lo + z0, z_hi=r.z_hi + z0) for r in v] for k, v in rings.items()}
    separator_face += z0
    spring_mid += z0

    # ------------------------------------------------------------ materials and labels
    steel = materials.get("stainless steel")
    gasket_material = materials.get("PP") if gasket == "PP" else materials.get("PTFE")
    electrolyte = materials.get(spec["electrolyte"])
    if variant == "lib":
        separator_material = mix_by_volume(f"separator (PP + {electrolyte.name})",
                                           [(materials.get("PP"), 1 - sep_porosity),
                                            (electrolyte, sep_porosity)],
                                           description="PP separator soaked in electrolyte (seeds/001)")
    else:
        separator_material = electrolyte
    label = {name: i + 1 for i, name in enumerate(_COMPONENTS)}
    phases = {0: materials.get("air"),
              label["can"]: _renamed(steel, "can (stainless steel)"),
              label["cap"]: _renamed(steel, "cap (stainless steel)"),
              label["gasket"]: _renamed(gasket_material, f"gasket ({gasket})"),
              label["spacer"]: _renamed(steel, "spacer (stainless steel)"),
              label["spring"]: _renamed(steel, "wave spring (stainless steel)"),
              label["anode"]: materials.get("Li metal"),
              label["separator"]: separator_material,
              label["gas"]: materials.get("argon")}

    # ------------------------------------------------------------ rasterise
    lateral = [(np.arange(n) + 0.5) * s - n * s / 2 for n in shape[1:]]
    if ndim == 2:
        r_lat = np.abs(lateral[0])
        phi_lat = np.where(lateral[0] >= 0, np.pi / 2, -np.pi / 2)
    else:
        yy, xx = np.meshgrid(*lateral, indexing="ij")
        r_lat, phi_lat = np.hypot(yy, xx), np.arctan2(yy, xx)
    z_centres = (np.arange(nz) + 0.5) * s
    labels = np.zeros(shape, dtype=np.uint8)
    envelope = [_Ring(0.0, radius, z0, z0 + height - CASING["crimp_below_top"]),
                _Ring(0.0, CASING["cap_diameter"] / 2, z0 + height - CASING["crimp_below_top"], z0 + height)]
    if cap_down:
        envelope = [_Ring(e.r_in, e.r_out, 2 * z0 + height - e.z_hi, 2 * z0 + height - e.z_lo) for e in envelope]
    for ring in envelope:
        _paint(labels, ring, r_lat, s, label["gas"])
    for name, parts in rings.items():
        for ring in parts:
            _paint(labels, ring, r_lat, s, label[name])
    spring_range = (spring_mid - abs(spring_amp) - strip / 2, spring_mid + abs(spring_amp) + strip / 2)
    if spring:
        r_in, r_out = CASING["spring_inner_diameter"] / 2, CASING["spring_outer_diameter"] / 2
        zs = layer_slice(*spring_range, s)
        wave = spring_mid + spring_amp * np.cos(CASING["spring_waves"] * phi_lat + phase)
        dz = z_centres[zs].reshape((-1,) + (1,) * (ndim - 1)) - wave
        in_strip = (dz >= -strip / 2) & (dz < strip / 2) & ((r_lat >= r_in) & (r_lat < r_out))
        labels[zs][in_strip] = label["spring"]

    # ------------------------------------------------------------ cathode field and material
    cathode_ring = rings["cathode"][0]
    zc = layer_slice(cathode_ring.z_lo, cathode_ring.z_hi, s)
    zeta = np.abs(z_centres[zc] - separator_face) / layers["cathode_thickness_um"]
    x_depth = x_mid - (x_mid - x_top) * ((zeta - peak) / (1 - peak)) ** 2
    r_overlap = 500.0 * min(diameters["anode_diameter_mm"], diameters["cathode_diameter_mm"])
    fall = 1 / (1 + np.exp(np.clip((r_lat - r_overlap) / edge_um, -50, 50)))
    fall0 = 1 / (1 + math.exp(max(-r_overlap / edge_um, -50)))
    x_lateral = 1 - contrast * (1 - fall / fall0)
    x_li = np.full(shape, np.nan, dtype=np.float32)
    slab = (x_depth.reshape((-1,) + (1,) * (ndim - 1)) * x_lateral).astype(np.float32)
    in_cathode = labels[zc] == label["cathode"]
    x_li[zc][in_cathode] = slab[in_cathode]
    # The label is painted before its material exists: its mean composition depends on the field.
    x_values = x_li[zc][in_cathode]
    x_mean = float(x_values.mean()) if x_values.size else float(x_depth.mean())
    host = materials.get(spec["host"], x=x_mean)
    cbd_material = mix_by_mass("carbon-binder (carbon black + PVDF 1:1)",
                               [(materials.get("carbon black"), 0.5), (materials.get("PVDF"), 0.5)])
    parts = [(host, 1 - phi - cbd), (electrolyte, phi)] + ([(cbd_material, cbd)] if cbd > 0 else [])
    phases[label["cathode"]] = mix_by_volume(
        f"cathode ({spec['host']} x={x_mean:.3f}, porosity {phi:g}, homogenised)", parts,
        description=f"{variant.upper()} cathode of seeds/001 homogenised at the voxel scale; per-voxel x in the "
                    f"field x_li")
    row_counts = in_cathode.reshape(in_cathode.shape[0], -1).sum(axis=1)
    row_sums = np.where(in_cathode, x_li[zc], 0).reshape(in_cathode.shape[0], -1).sum(axis=1, dtype=np.float64)
    profile = np.divide(row_sums, row_counts, out=np.full(row_counts.shape, np.nan), where=row_counts > 0)

    # ------------------------------------------------------------ truth
    half = n_lat * s / 2
    counts = np.bincount(labels.ravel(), minlength=len(_COMPONENTS) + 1)
    measure = _volume_mm3 if ndim == 3 else _section_mm2
    unit = "volume_mm3" if ndim == 3 else "section_area_mm2"
    truth: dict[str, np.ndarray] = {
        "cell/diameter_mm": np.array(CASING["diameter"] / 1000), "cell/height_mm": np.array(height / 1000),
        "cell/wall_thickness_mm": np.array(t_wall / 1000), "spring/phase_rad": np.array(phase),
    }
    occupied = 0.0
    for name in _COMPONENTS[:-1]:
        parts_ = rings.get(name, [])
        if name == "spring":
            if not spring:
                continue
            r_in, r_out = CASING["spring_inner_diameter"] / 2, CASING["spring_outer_diameter"] / 2
            # A strip of vertical thickness t over a surface z = f(phi): its volume is t x area.
            amount = measure(_Ring(r_in, r_out, 0.0, strip), half)
            z_range, d_in, d_out = spring_range, 2 * r_in, 2 * r_out
        elif not parts_:
            continue
        else:
            amount = sum(measure(r, half) for r in parts_)
            z_range = (min(r.z_lo for r in parts_), max(r.z_hi for r in parts_))
            d_in, d_out = 2 * min(r.r_in for r in parts_), 2 * max(r.r_out for r in parts_)
        occupied += amount
        truth.update({f"{name}/label": np.array(label[name]), f"{name}/z_range_um": np.array(z_range),
                      f"{name}/inner_diameter_mm": np.array(d_in / 1000),
                      f"{name}/outer_diameter_mm": np.array(d_out / 1000),
                      f"{name}/{unit}": np.array(amount), f"{name}/voxel_count": np.array(counts[label[name]])})
    truth.update({"gas/label": np.array(label["gas"]),
                  "gas/z_range_um": np.array((z0 + t_wall, z0 + height - t_wall)),
                  "gas/inner_diameter_mm": np.array(0.0),
                  "gas/outer_diameter_mm": np.array(CASING["diameter"] / 1000 - 2 * t_wall / 1000),
                  f"gas/{unit}": np.array(sum(measure(e, half) for e in envelope) - occupied),
                  "gas/voxel_count": np.array(counts[label["gas"]]),
                  "cathode/porosity": np.array(phi), "cathode/active_volume_fraction": np.array(1 - phi - cbd),
                  "cathode/cbd_volume_fraction": np.array(cbd), "cathode/x_li_mean": np.array(x_mean),
                  "cathode/depth_um": zeta * layers["cathode_thickness_um"], "cathode/x_li_profile": profile,
                  "x_li/middle": np.array(x_mid), "x_li/top": np.array(x_top), "x_li/at_separator": np.array(x_sep),
                  "x_li/peak_depth": np.array(peak), "x_li/lateral_contrast": np.array(contrast),
                  "x_li/edge_width_mm": np.array(edge_um / 1000),
                  "x_li/overlap_diameter_mm": np.array(2 * r_overlap / 1000)})
    return Twin(labels, s, phases, fields={"x_li": x_li}, truth=truth,
                provenance=Provenance("twin.generators.coin_cell.coin_cell", params, seed))


# ---------------------------------------------------------------------- helpers
def _casing_rings(t: float) -> dict[str, list[_Ring]]:
    """Can, cap and gasket as annular cylinders, can-down frame, um (see :data:`CASING`)."""
    h, r = CASING["height"], CASING["diameter"] / 2
    r_cap = CASING["cap_diameter"] / 2
    crimp = h - CASING["crimp_below_top"]
    skirt, foot, collar = CASING["skirt_bottom"], CASING["gasket_foot"], CASING["gasket_collar"]
    return {
        # Floor, side wall, and the crimped lip folded over the gasket.
        "can": [_Ring(0.0, r, 0.0, t), _Ring(r - t, r, t, crimp), _Ring(r_cap + collar, r - t, crimp - t, crimp)],
        # Top disc and skirt reaching down into the can.
        "cap": [_Ring(0.0, r_cap, h - t, h), _Ring(r_cap - t, r_cap, skirt, h - t)],
        # Foot under the skirt, wall between skirt and can, collar between skirt and lip.
        "gasket": [_Ring(r_cap - t, r - t, skirt - foot, skirt), _Ring(r_cap, r - t, skirt, crimp - t),
                   _Ring(r_cap, r_cap + collar, crimp - t, crimp)],
    }



def _paint(labels: np.ndarray, ring: _Ring, r_lat: np.ndarray, s: float, value: int) -> None:
    """Set ``labels`` to ``value`` in ``ring``: O(lateral pixels + painted voxels)."""
    mask = (r_lat >= ring.r_in) & (r_lat < ring.r_out)
    labels[layer_slice(ring.z_lo, ring.z_hi, s)][:, mask] = value


def _renamed(material: Material, name: str) -> Material:
    """The same material under another name (phase names must be unique within a twin)."""
    return dataclasses.replace(material, name=name)


def _disc_in_square_um2(r: float, a: float) -> float:
    """Area of the disc of radius ``r`` centred in the square [-a, a]^2, um^2."""
    if r <= a:
        return math.pi * r * r
    if r >= a * math.sqrt(2):
        return 4 * a * a
    # One quadrant: columns x < b are cut by the square, the rest by the circle.
    b = math.sqrt(r * r - a * a)
    return 4 * (a * b + r * r / 2 * (math.asin(a / r) - math.asin(b / r)))


def _volume_mm3(ring: _Ring, half_width: float) -> float:
    """Volume of ``ring`` inside the grid's lateral square of half-edge ``half_width``, mm3."""
    area = _disc_in_square_um2(ring.r_out, half_width) - _disc_in_square_um2(ring.r_in, half_width)
    return area * (ring.z_hi - ring.z_lo) * 1e-9


def _section_mm2(ring: _Ring, half_width: float) -> float:
    """Area of ``ring``'s axial section inside the grid's lateral line [-half_width, half_width], mm2."""
    width = 2 * (min(ring.r_out, half_width) - min(ring.r_in, half_width))
    return width * (ring.z_hi - ring.z_lo) * 1e-6
