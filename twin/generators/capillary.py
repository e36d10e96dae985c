"""A hard-carbon electrode in a quartz capillary cell, with a sodiation path for its nanostructure.

The operando cell of seeds/000 (Olsson et al., scanning SWAXS of hard-carbon anodes), Methods,
"Electrochemical cell preparation": "a quartz capillary with an internal diameter of 1.5 mm and
wall thickness of 150 um"; "Stainless steel pins were used as current collectors, polished to
obtain a flat substrate, and the hard carbon electrode was prepared by dip coating the flat tip
of the stainless-steel pin"; "85 wt.% hard carbon [...], 10 wt.% polyvinylidene fluoride (PVDF)
binder [...] and 5 wt.-% carbon additives (Carbon black Super P)"; electrolyte "1M NaPF6 in
EC:PC [...] 1:1 by weight"; "a pin with Na metal attached to it as counter electrode". Section
2 shows "the spherical cap shape of the dip coated electrode" (Fig. 3c). Section 3 and Fig. 8:
"The plating starts close to the current collector and progressively grows from the bottom of
the electrode", so the pin enters from below and z (the capillary axis) points up.

What the source does not give is assumed and said so: the pin diameter (1.0 mm, which must
fit the 1.5 mm bore) and the cap height (0.3 mm, the height of the mapped electrode area
"1.5*0.3 mm^2", Introduction). With these, eq. S1 (voxel volume x 0.85 x 1.5 g/cm3) gives
0.17 mg of hard carbon, the mass Table S1 lists for the "low degree of sodiation" electrode.

The sodiation path (:class:`SodiationPath`) turns the state of charge into per-voxel
nanostructure fields following the source's account (Abstract; Sections 3-4; Table S2):
"sodiation through micropore filling is the more dominating mechanism in the later stages of
sodiation, i.e. in the plateau region of the voltage profile, while intercalation occurs
continuously"; "the region close to the current collector shows a clear intensity decrease,
indicating a higher degree of pore filling occurring in this part of the electrode [...] The
radial gradient with higher degree of sodiation closer to the current collector can instead be
a result of a low electronic conductivity in the electrode"; "plating starts at the interface
between the electrode and the current collector"; "an increased level of inhomogeneity at
higher degree of sodiation"; and the low-q increase "consistent with SEI formation which is
formed at higher voltages in the initial stages of sodiation".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter

from twin import materials
from twin.container import Provenance, Twin
from twin.generators.geometry import layer_slice
from twin.materials import mix_by_mass, mix_by_volume
from xtwin import arguments

#: Capillary bore and wall, um (seeds/000, Methods).
CAPILLARY_INNER_DIAMETER_UM = 1500.0
CAPILLARY_WALL_UM = 150.0
#: Slurry composition by mass (seeds/000, Methods).
MASS_FRACTIONS = {"hard carbon": 0.85, "PVDF": 0.10, "carbon black": 0.05}
#: Estimated C-rate of the operando cell (seeds/000, Table S1; Section 3).
OPERANDO_C_RATE = 0.8
#: Specific capacity assumed by the source for the C-rate, mAh/g (Supporting Information, eq. S2).
SPECIFIC_CAPACITY_MAH_G = 300.0
#: Na per C at that capacity: x = Q M_C / F with F = 26801 mAh/mol, for the "Na_x C (hard carbon)" host.
NA_PER_C_FULL = SPECIFIC_CAPACITY_MAH_G * 12.011 / 26801.0
#: Average interlayer spacing of the operando scans op 1-5, Angstrom (seeds/000, Table S2).
D002_TABLE_A = (4.06, 4.12, 4.14, 4.16, 4.27)
#: Times of op 1-5, min: "recorded every 10 min", "After 65 min (op 5)" (Section 3).
OP_TIMES_MIN = (25.0, 35.0, 45.0, 55.0, 65.0)


def _d002_knots() -> tuple[np.ndarray, np.ndarray]:
    """State of charge and d002 of Table S2, extended to soc 0 and 1.

    op k sits at soc = t_k x 0.8 / 60. The ends are linear extrapolations: to soc 0 with the
    slope of op 1-4 (the slope region), to soc 1 with the mean slope of op 1-5.
    """
    soc = np.array(OP_TIMES_MIN) * OPERANDO_C_RATE / 60.0
    d = np.array(D002_TABLE_A)
    start = d[0] - soc[0] * (d[3] - d[0]) / (soc[3] - soc[0])
    end = d[-1] + (1 - soc[-1]) * (d[-1] - d[0]) / (soc[-1] - soc[0])
    return np.concatenate([[0.0], soc, [1.0]]), np.concatenate([[start], d, [end]])


@dataclass(frozen=True)
class SodiationPath:
    """How the hard carbon's nanostructure evolves with the state of charge ``soc`` in [0, 1].

    ``soc`` is the charge passed over the nominal capacity (300 mAh/g of hard carbon, eq. S2);
    at a C-rate C it is reached after ``60 soc / C`` minutes. Each voxel of the electrode has a
    normalised height xi above the current collector (0 at the pin, 1 at the cap's apex) and
    two smooth random fields eta (unit variance, clipped to +-3) drawn once per electrode.

    * Local sodiation: ``s = clip(soc + soc^2 (gradient (mean(xi) - xi) + heterogeneity
      eta_s), 0, 1)``: higher near the collector, a spread growing from zero (the pristine
      electrode is "highly homogenous", Section 2) as soc^2; its mean over the electrode is
      soc until the clip binds.
    * ``pore_filling = P(s)``, piecewise linear through (0, 0), (soc_plateau,
      pore_filling_at_plateau) and (1, pore_filling_full): slow in the slope region, fast in
      the plateau.
    * ``d002_A = D(s)``, a monotone (PCHIP) curve through Table S2 (:func:`_d002_knots`):
      intercalation throughout.
    * ``plated_na_fraction``: zero up to ``soc_plating``; then a front rising from the
      collector, ``plated_fraction_max clip((f(soc) - xi) / plating_front_width, 0, 1)`` with
      ``f = (soc - soc_plating) / (1 - soc_plating) (1 + plating_front_width)``, which fills
      the whole electrode at soc = 1.
    * ``sei_thickness_nm = sei_thickness_full_nm (1 - exp(-soc / sei_soc_scale)) /
      (1 - exp(-1 / sei_soc_scale)) (1 + sei_heterogeneity eta_sei)``: formed early, with
      its own spatial pattern (the source finds the low-q changes "not correlated" with the
      micropore changes).

    Every field is non-decreasing in soc at every voxel; ``gradient + 3 heterogeneity <= 0.5``
    is required because it guarantees ds/dsoc >= 0.

    Parameters
    ----------
    soc_plateau : float
        End of the slope region. 0.5: the ex situ electrode stopped "in the sloping region"
        had passed 0.3C x 100 min = 0.5 of its capacity (Section 4).
    soc_plating : float
        Onset of plating. 2/3: "after about 50 min a decrease in voltage is observed indicating
        the onset of sodium plating" at 0.8C (Section 3).
    pore_filling_at_plateau, pore_filling_full : float
        Fraction of the micropore volume filled with Na at ``soc_plateau`` and at soc = 1.
        0.1 ("some pore filling already occurs at low degree of sodiation", Section 4) and
        0.5: with a mean-field contrast (carbon skeleton 1.5/0.8 g/cm3, 0.564 e/A^3; Na 0.279
        e/A^3) the micropore intensity (Delta rho)^2 then falls by 35 % at op 5, the "~35 %"
        of Section 3.
    gradient : float
        Difference in local sodiation between collector and apex per soc^2.
    heterogeneity : float
        Standard deviation of the local sodiation per soc^2.
    plated_fraction_max : float
        Volume fraction of plated Na in a voxel behind the front (it takes pore space).
    plating_front_width : float
        Width of the plating front in units of the cap height.
    sei_thickness_full_nm, sei_soc_scale, sei_heterogeneity : float
        SEI thickness at soc = 1 (15 nm, a typical value for carbonate electrolytes; the source
        gives none), the soc over which most of it forms, and its relative spatial spread.
    c_rate : float
        C-rate for :meth:`soc_at`; 0.8 (Table S1, operando cell).
    """

    soc_plateau: float = 0.5
    soc_plating: float = 2.0 / 3.0
    pore_filling_at_plateau: float = 0.1
    pore_filling_full: float = 0.5
    gradient: float = 0.3
    heterogeneity: float = 0.05
    plated_fraction_max: float = 0.3
    plating_front_width: float = 0.25
    sei_thickness_full_nm: float = 15.0
    sei_soc_scale: float = 0.15
    sei_heterogeneity: float = 0.1
    c_rate: float = OPERANDO_C_RATE

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, arguments.positive(f.name, getattr(self, f.name), allow_zero=True))
        arguments.in_range("soc_plateau", self.soc_plateau, 0.0, 1.0)
        arguments.in_range("soc_plating", self.soc_plating, 0.0, 1.0)
        if not 0 < self.soc_plateau < self.soc_plating < 1:
            raise ValueError(f"soc_plating={self.soc_plating!r}: expected 0 < soc_plateau ({self.soc_plateau!r}) "
                             f"< soc_plating < 1: plating starts after the plateau has begun")
        arguments.in_range("pore_filling_full", self.pore_filling_full, 0.0, 1.0)
        if self.pore_filling_at_plateau > self.pore_filling_full:
            raise ValueError(f"pore_filling_at_plateau={self.pore_filling_at_plateau!r}: expected at most "
                             f"pore_filling_full={self.pore_filling_full!r}")
        if self.gradient + 3 * self.heterogeneity > 0.5:
            raise ValueError(f"gradient={self.gradient!r}, heterogeneity={self.heterogeneity!r}: expected "
                             f"gradient + 3 heterogeneity <= 0.5 so that every voxel sodiates monotonically")
        arguments.in_range("plated_fraction_max", self.plated_fraction_max, 0.0, 1.0)
        arguments.positive("plating_front_width", self.plating_front_width)
        arguments.positive("sei_soc_scale", self.sei_soc_scale)
        arguments.in_range("sei_heterogeneity", self.sei_heterogeneity, 0.0, 1 / 3)
        arguments.positive("c_rate", self.c_rate)

    def soc_at(self, time_min: float) -> float:
        """State of charge after ``time_min`` minutes at :attr:`c_rate`: soc = t C / 60."""
        t = arguments.positive("time_min", time_min, allow_zero=True, unit="min")
        soc = t * self.c_rate / 60.0
        if soc > 1:
            raise ValueError(f"time_min={time_min!r}: at c_rate={self.c_rate:g} the cell is full after "
                             f"{60 / self.c_rate:g} min; expected a time within that")
        return soc

    def sodiation(self, soc: float, xi: np.ndarray, xi_mean: float, eta: np.ndarray) -> np.ndarray:
        """Local degree of sodiation s in [0, 1] at height ``xi`` with noise ``eta``."""
        soc = arguments.in_range("soc", soc, 0.0, 1.0)
        s = soc + soc * soc * (self.gradient * (xi_mean - xi) + self.heterogeneity * eta)
        return np.clip(s, 0.0, 1.0)

    def pore_filling(self, s: np.ndarray) -> np.ndarray:
        """Filled fraction of the micropore volume at local sodiation ``s``."""
        return np.interp(s, [0.0, self.soc_plateau, 1.0], [0.0, self.pore_filling_at_plateau, self.pore_filling_full])

    def d002_A(self, s: np.ndarray) -> np.ndarray:
        """Average interlayer spacing at local sodiation ``s``, Angstrom (Table S2)."""
        soc, d = _d002_knots()
        return PchipInterpolator(soc, d)(np.clip(s, 0.0, 1.0))

    def plated_na_fraction(self, soc: float, xi: np.ndarray) -> np.ndarray:
        """Volume fraction of plated Na at height ``xi``: a front rising from the collector."""
        soc = arguments.in_range("soc", soc, 0.0, 1.0)
        w = self.plating_front_width
        front = (soc - self.soc_plating) / (1 - self.soc_plating) * (1 + w)
        return self.plated_fraction_max * np.clip((front - xi) / w, 0.0, 1.0)

    def sei_thickness_nm(self, soc: float, eta: np.ndarray) -> np.ndarray:
        """SEI thickness, nm: fast early growth, relative spread ``sei_heterogeneity``."""
        soc = arguments.in_range("soc", soc, 0.0, 1.0)
        k = self.sei_soc_scale
        mean = self.sei_thickness_full_nm * (1 - math.exp(-soc / k)) / (1 - math.exp(-1 / k))
        return mean * (1 + self.sei_heterogeneity * eta)

    def fields_at(self, soc: float, xi: np.ndarray, eta_sodiation: np.ndarray,
                  eta_sei: np.ndarray) -> dict[str, np.ndarray]:
        """All state fields at ``soc`` for electrode voxels at heights ``xi`` (1D arrays).

        Returns ``sodiation``, ``pore_filling``, ``d002_A``, ``plated_na_fraction`` and
        ``sei_thickness_nm`` as float64 arrays of ``xi``'s shape. Cost O(len(xi)).
        """
        xi = np.asarray(xi, dtype=float)
        s = self.sodiation(soc, xi, float(xi.mean()) if xi.size else 0.0, eta_sodiation)
        return {"sodiation": s, "pore_filling": self.pore_filling(s), "d002_A": self.d002_A(s),
                "plated_na_fraction": self.plated_na_fraction(soc, xi),
                "sei_thickness_nm": self.sei_thickness_nm(soc, eta_sei)}


_PATH_FIELDS = tuple(f.name for f in dataclasses.fields(SodiationPath))


def capillary_cell(*, ndim: int = 3, voxel_size_um: float = 10.0, pin_diameter_um: float = 1000.0,
                   cap_height_um: float = 300.0, pin_length_um: float = 300.0,
                   electrolyte_above_um: float = 300.0, counter_electrode: bool = False,
                   counter_gap_um: float = 500.0, counter_thickness_um: float = 200.0,
                   porosity: float = 0.5, micropore_fraction: float = 0.2, micropore_radius_A: float = 6.5,
                   structure_variation: float = 0.02, heterogeneity_length_um: float = 50.0,
                   soc: float = 0.0, time_min: float | None = None,
                   soc_plateau: float = 0.5, soc_plating: float = 2.0 / 3.0,
                   pore_filling_at_plateau: float = 0.1, pore_filling_full: float = 0.5,
                   gradient: float = 0.3, heterogeneity: float = 0.05, plated_fraction_max: float = 0.3,
                   plating_front_width: float = 0.25, sei_thickness_full_nm: float = 15.0,
                   sei_soc_scale: float = 0.15, sei_heterogeneity: float = 0.1,
                   c_rate: float = OPERANDO_C_RATE, seed: int = 0) -> Twin:
    """The capillary cell of seeds/000 with its hard-carbon electrode at state of charge ``soc``.

    Parameters
    ----------
    ndim : {2, 3}
        3: ``[z, y, x]`` with the capillary axis along z (up) through the lateral centre;
        2: the section through the axis, ``[z, y]``.
    voxel_size_um : float
        Voxel edge, um (the source's SAXS raster is 25 x 15 um).
    pin_diameter_um : float
        Current-collector pin, also the base of the electrode cap; 1000 um (assumed, < 1500).
    cap_height_um : float
        Height of the spherical-cap electrode, at most the pin radius (a hemisphere); 300 um.
    pin_length_um : float
        Length of pin inside the grid below the electrode.
    electrolyte_above_um : float
        Electrolyte above the cap's apex (without counter electrode), um.
    counter_electrode : bool
        Add the Na metal counter electrode on a second pin coming from the top.
    counter_gap_um, counter_thickness_um : float
        Distance from the cap's apex to the Na, and the Na's thickness, um (not in the source).
    porosity : float
        Electrolyte-filled volume fraction of the electrode (assumed 0.5 for a dried, not
        calendered dip coating; the source gives none).
    micropore_fraction : float
        Mean volume fraction of closed micropores in the hard carbon (assumed 0.2; the source
        calls micropores "pores smaller than 2 nm" without a volume).
    micropore_radius_A : float
        Mean micropore radius, Angstrom: 6.5, the radius of a sphere whose Guinier knee
        (q R_g = 1, R = sqrt(5/3) R_g) sits at q = 0.2 1/A, inside the micropore region
        q ~ 0.1-0.5 1/A of eq. 1 (Section 2).
    structure_variation : float
        Relative spatial spread of micropore fraction and radius (small: the pristine
        electrode is "highly homogenous").
    heterogeneity_length_um : float
        Correlation length (Gaussian sigma) of the random fields, um.
    soc : float
        State of charge in [0, 1]; see :class:`SodiationPath`.
    time_min : float, optional
        Time of galvanostatic sodiation at ``c_rate``; sets soc = t C / 60 (then ``soc`` must
        stay 0).
    soc_plateau, ..., c_rate
        Parameters of :class:`SodiationPath`.
    seed : int
        Seed of the random fields.

    Returns
    -------
    Twin
        Labels: 0 air, 1 quartz glass, 2 NaPF6 EC:PC, 3 stainless-steel pin, 4 electrode
        (porous hard carbon/PVDF/carbon black 85/10/5 wt % with electrolyte in its pores,
        homogenised; the hard carbon as "Na_x C (hard carbon)" at the mean sodiation and the
        mean plated Na in the pores), and with ``counter_electrode`` 5 Na metal and 6 its
        pin. Fields, float32, NaN outside the electrode: ``micropore_fraction``,
        ``micropore_radius_A``, ``sodiation``, ``pore_filling``, ``d002_A``,
        ``plated_na_fraction``, ``sei_thickness_nm``.

        Truth: for each part P of capillary, electrolyte, pin, electrode (and
        counter_electrode, counter_pin): ``P/label``, ``P/voxel_count`` and its exact
        ``P/volume_um3`` in the grid (3D) or ``P/section_area_um2`` (2D);
        ``capillary/inner_radius_um``, ``capillary/outer_radius_um``, ``pin/radius_um``,
        ``pin/top_z_um``, ``electrode/base_radius_um``, ``electrode/cap_height_um``,
        ``electrode/sphere_radius_um``, ``electrode/sphere_centre_z_um``,
        ``electrode/cap_volume_um3`` (pi h^2 (3R - h) / 3, also in 2D),
        ``electrode/porosity``, ``electrode/mass_fractions`` (hard carbon, PVDF, carbon black),
        ``electrode/hard_carbon_mass_mg``, ``electrode/mass_eq_s1_mg`` (the source's estimate:
        volume x 1.5 g/cm3 x 0.85); ``state/soc``, ``state/time_min`` (at ``c_rate``),
        ``state/na_x_hard_carbon`` and ``state/mean_<field>`` for every field plus
        ``state/std_pore_filling``; ``path/<parameter>`` for every path parameter and
        ``path/d002_soc_knots``, ``path/d002_A_knots``.

    Notes
    -----
    A forward model resolves each electrode voxel as: solid (1 - porosity) of which hard
    carbon has the volume fraction implied by :data:`MASS_FRACTIONS`; in the hard carbon,
    closed micropores of volume fraction ``micropore_fraction`` and mean radius
    ``micropore_radius_A``, a fraction ``pore_filling`` of that volume holding Na (of the metal's
    density); graphene interlayers at ``d002_A``; pores holding electrolyte except
    ``plated_na_fraction`` of the voxel, which is Na metal; particle surfaces coated by
    ``sei_thickness_nm`` of SEI. The path is kinematic: it reproduces the source's account of
    where and when each mechanism acts, not a charge balance between them.

    Cost: O(N voxels) to label the grid, plus three separable Gaussian filters, O(M sigma)
    each, over the electrode's bounding box of M voxels (sigma = heterogeneity_length_um in
    voxels). The default 3D grid is 90 x 184 x 184 voxels
    (3.0 M) with 132 k electrode voxels and builds in under 0.5 s.
    """
    ndim = arguments.one_of("ndim", arguments.integer("ndim", ndim), (2, 3))
    s = arguments.positive("voxel_size_um", voxel_size_um, unit="um")
    r_in, r_out = CAPILLARY_INNER_DIAMETER_UM / 2, CAPILLARY_INNER_DIAMETER_UM / 2 + CAPILLARY_WALL_UM
    pin_d = arguments.positive("pin_diameter_um", pin_diameter_um, unit="um")
    if pin_d >= CAPILLARY_INNER_DIAMETER_UM:
        raise ValueError(f"pin_diameter_um={pin_diameter_um!r}: expected less than the capillary's inner "
                         f"diameter, {CAPILLARY_INNER_DIAMETER_UM:g} um")
    a = pin_d / 2
    h = arguments.positive("cap_height_um", cap_height_um, unit="um")
    if h > a:
        raise ValueError(f"cap_height_um={cap_height_um!r}: expected at most the pin radius {a:g} um (a spherical "
                         f"cap no larger than a hemisphere on the pin's flat tip)")
    if h < 2 * s:
        raise ValueError(f"cap_height_um={cap_height_um!r}: expected at least two voxels ({2 * s:g} um) so the "
                         f"electrode is resolved; use a smaller voxel_size_um")
    pin_len = arguments.positive("pin_length_um", pin_length_um, allow_zero=True, unit="um")
    above = arguments.positive("electrolyte_above_um", electrolyte_above_um, allow_zero=True, unit="um")
    if not isinstance(counter_electrode, (bool, np.bool_)):
        raise TypeError(f"counter_electrode={counter_electrode!r}: expected True or False")
    gap = arguments.positive("counter_gap_um", counter_gap_um, unit="um")
    na_t = arguments.positive("counter_thickness_um", counter_thickness_um, unit="um")
    phi = arguments.in_range("porosity", porosity, 0.0, 0.95)
    f_mp = arguments.in_range("micropore_fraction", micropore_fraction, 0.0, 0.9)
    r_mp = arguments.positive("micropore_radius_A", micropore_radius_A, unit="Angstrom")
    variation = arguments.in_range("structure_variation", structure_variation, 0.0, 0.3)
    if f_mp * (1 + 3 * variation) > 1:
        raise ValueError(f"micropore_fraction={micropore_fraction!r}: with structure_variation={variation:g} "
                         f"local fractions would exceed 1")
    corr = arguments.positive("heterogeneity_length_um", heterogeneity_length_um, unit="um")
    path_args = dict(soc_plateau=soc_plateau, soc_plating=soc_plating,
                     pore_filling_at_plateau=pore_filling_at_plateau, pore_filling_full=pore_filling_full,
                     gradient=gradient, heterogeneity=heterogeneity, plated_fraction_max=plated_fraction_max,
                     plating_front_width=plating_front_width, sei_thickness_full_nm=sei_thickness_full_nm,
                     sei_soc_scale=sei_soc_scale, sei_heterogeneity=sei_heterogeneity, c_rate=c_rate)
    path = SodiationPath(**path_args)
    if path.plated_fraction_max > phi:
        raise ValueError(f"plated_fraction_max={plated_fraction_max!r}: expected at most the electrode porosity "
                         f"{phi:g}, the pore space plated Na can take")
    soc = arguments.in_range("soc", soc, 0.0, 1.0)
    if time_min is not None:
        if soc != 0:
            raise ValueError(f"time_min={time_min!r}, soc={soc!r}: give one of them, not both")
        soc = path.soc_at(time_min)
    seed = arguments.integer("seed", seed, minimum=0)
    rng = np.random.default_rng(seed)

    # ------------------------------------------------------------ grid and geometry
    z_base = pin_len
    z_apex = z_base + h
    height = z_apex + (gap + na_t + 2 * s if counter_electrode else above)
    n_lat = 2 * math.ceil((r_out + 2 * s) / s)
    nz = max(1, math.ceil(height / s))
    height = nz * s
    shape = (nz, n_lat) if ndim == 2 else (nz, n_lat, n_lat)
    lateral = [(np.arange(n) + 0.5) * s - n * s / 2 for n in shape[1:]]
    r_lat = np.abs(lateral[0]) if ndim == 2 else np.hypot(*np.meshgrid(*lateral, indexing="ij"))
    z_centres = (np.arange(nz) + 0.5) * s
    big_r = (a * a + h * h) / (2 * h)
    z_sphere = z_apex - big_r

    label = {"capillary": 1, "electrolyte": 2, "pin": 3, "electrode": 4, "counter_electrode": 5, "counter_pin": 6}
    labels = np.zeros(shape, dtype=np.uint8)
    labels[:, r_lat < r_in] = label["electrolyte"]
    labels[:, (r_lat >= r_in) & (r_lat < r_out)] = label["capillary"]
    labels[layer_slice(0.0, z_base, s)][:, r_lat < a] = label["pin"]
    zs = layer_slice(z_base, z_apex, s)
    dz = z_centres[zs].reshape((-1,) + (1,) * (ndim - 1)) - z_sphere
    in_cap = (r_lat * r_lat + dz * dz <= big_r * big_r) & (r_lat < a)
    labels[zs][in_cap] = label["electrode"]
    z_na = (z_apex + gap, z_apex + gap + na_t)
    if counter_electrode:
        labels[layer_slice(*z_na, s)][:, r_lat < a] = label["counter_electrode"]
        labels[layer_slice(z_na[1], height, s)][:, r_lat < a] = label["counter_pin"]

    # ------------------------------------------------------------ fields on the electrode voxels
    box = labels[zs]
    inside = box == label["electrode"]
    xi = np.broadcast_to(((z_centres[zs] - z_base) / h).reshape((-1,) + (1,) * (ndim - 1)), box.shape)[inside]
    sigma = corr / s
    eta = [_smooth_noise(box.shape, sigma, inside, rng) for _ in range(3)]
    eta_structure, eta_sodiation, eta_sei = eta
    state = path.fields_at(soc, xi, eta_sodiation, eta_sei)
    values = {"micropore_fraction": f_mp * (1 + variation * eta_structure),
              "micropore_radius_A": r_mp * (1 + variation * eta_structure), **state}
    fields = {}
    for name, v in values.items():
        full = np.full(shape, np.nan, dtype=np.float32)
        full[zs][inside] = v
        fields[name] = full

    # ------------------------------------------------------------ materials
    electrolyte = materials.get("NaPF6 EC:PC")
    mean_s = float(state["sodiation"].mean())
    mean_plated = float(state["plated_na_fraction"].mean())
    na_x = mean_s * NA_PER_C_FULL
    pristine = mix_by_mass("hard carbon/PVDF/carbon black 85/10/5",
                           [(materials.get(name), w) for name, w in MASS_FRACTIONS.items()])
    # Na enters the hard carbon at constant particle volume (the host's convention), so the
    # solid is mixed by the pristine volume fractions with the host at the mean sodiation.
    volumes = {name: w / materials.get(name).density_g_cm3 for name, w in MASS_FRACTIONS.items()}
    solid_parts = [(materials.get("Na_x C (hard carbon)", x=na_x) if name == "hard carbon" else materials.get(name),
                    v / sum(volumes.values())) for name, v in volumes.items()]
    solid = mix_by_volume(f"sodiated solid (x={na_x:.4f})", solid_parts)
    parts = [(solid, 1 - phi), (electrolyte, phi - mean_plated)]
    if mean_plated > 0:
        parts.append((materials.get("Na metal"), mean_plated))
    electrode = mix_by_volume(
        f"electrode (hard carbon 85/10/5, porosity {phi:g}, soc {soc:.3f})", parts,
        description="dip-coated hard-carbon electrode of seeds/000, homogenised; nanostructure in the fields")
    phases = {0: materials.get("air"), label["capillary"]: materials.get("quartz glass"),
              label["electrolyte"]: electrolyte, label["pin"]: materials.get("stainless steel"),
              label["electrode"]: electrode}
    if counter_electrode:
        phases[label["counter_electrode"]] = materials.get("Na metal")
        steel = materials.get("stainless steel")
        phases[label["counter_pin"]] = dataclasses.replace(steel, name="stainless steel (counter-electrode pin)")

    # ------------------------------------------------------------ truth
    cap_volume = math.pi * h * h * (3 * big_r - h) / 3
    unit = "volume_um3" if ndim == 3 else "section_area_um2"

    def cylinder(r: float, length: float) -> float:
        """Volume of a coaxial cylinder, or the area of its axial section in 2D."""
        return math.pi * r * r * length if ndim == 3 else 2 * r * length

    if ndim == 3:
        cap_measure = cap_volume
    else:
        # Circular segment of the section: R^2 acos((R - h)/R) - (R - h) sqrt(2 R h - h^2).
        cap_measure = big_r ** 2 * math.acos((big_r - h) / big_r) - (big_r - h) * math.sqrt(2 * big_r * h - h * h)
    amounts = {"capillary": cylinder(r_out, height) - cylinder(r_in, height), "pin": cylinder(a, z_base),
               "electrode": cap_measure}
    if counter_electrode:
        amounts["counter_electrode"] = cylinder(a, na_t)
        amounts["counter_pin"] = cylinder(a, height - z_na[1])
    amounts["electrolyte"] = cylinder(r_in, height) - sum(v for k, v in amounts.items() if k != "capillary")
    counts = np.bincount(labels.ravel(), minlength=7)
    truth: dict[str, np.ndarray] = {}
    for name, amount in amounts.items():
        truth.update({f"{name}/label": np.array(label[name]), f"{name}/voxel_count": np.array(counts[label[name]]),
                      f"{name}/{unit}": np.array(amount)})
    hc_mass_mg = cap_volume * 1e-12 * (1 - phi) * pristine.density_g_cm3 * MASS_FRACTIONS["hard carbon"] * 1e3
    truth.update({
        "capillary/inner_radius_um": np.array(r_in), "capillary/outer_radius_um": np.array(r_out),
        "pin/radius_um": np.array(a), "pin/top_z_um": np.array(z_base),
        "electrode/base_radius_um": np.array(a), "electrode/cap_height_um": np.array(h),
        "electrode/sphere_radius_um": np.array(big_r), "electrode/sphere_centre_z_um": np.array(z_sphere),
        "electrode/cap_volume_um3": np.array(cap_volume), "electrode/porosity": np.array(phi),
        "electrode/mass_fractions": np.array(list(MASS_FRACTIONS.values())),
        "electrode/hard_carbon_mass_mg": np.array(hc_mass_mg),
        "electrode/mass_eq_s1_mg": np.array(cap_volume * 1e-12 * 1.5 * MASS_FRACTIONS["hard carbon"] * 1e3),
        "state/soc": np.array(soc), "state/time_min": np.array(60 * soc / path.c_rate),
        "state/na_x_hard_carbon": np.array(na_x), "state/std_pore_filling": np.array(state["pore_filling"].std()),
    })
    if counter_electrode:
        truth["counter_electrode/z_range_um"] = np.array(z_na)
    for name, v in values.items():
        truth[f"state/mean_{name}"] = np.array(float(v.mean()))
    for name in _PATH_FIELDS:
        truth[f"path/{name}"] = np.array(getattr(path, name))
    knots = _d002_knots()
    truth["path/d002_soc_knots"], truth["path/d002_A_knots"] = knots
    params = {"ndim": ndim, "voxel_size_um": s, "pin_diameter_um": pin_d, "cap_height_um": h,
              "pin_length_um": pin_len, "electrolyte_above_um": above, "counter_electrode": bool(counter_electrode),
              "counter_gap_um": gap, "counter_thickness_um": na_t, "porosity": phi,
              "micropore_fraction": f_mp, "micropore_radius_A": r_mp, "structure_variation": variation,
              "heterogeneity_length_um": corr, "soc": soc if time_min is None else 0.0, "time_min": time_min,
              **{k: getattr(path, k) for k in _PATH_FIELDS}}
    return Twin(labels, s, phases, fields=fields, truth=truth,
                provenance=Provenance("twin.generators.capillary.capillary_cell", params, seed))


def sodiation_state(twin: Twin, soc: float | None = None, *, time_min: float | None = None) -> Twin:
    """The same capillary cell (geometry, structure, random fields) at another state of charge.

    Rebuilds the twin from its provenance with a new ``soc`` (or ``time_min`` at the twin's
    ``c_rate``); because the random fields come from the same seed, every voxel follows its
    own path. Cost: one :func:`capillary_cell` build.
    """
    if not isinstance(twin, Twin) or twin.provenance.generator != "twin.generators.capillary.capillary_cell":
        raise TypeError(f"twin={twin!r}: expected a twin built by twin.generators.capillary.capillary_cell")
    if (soc is None) == (time_min is None):
        raise ValueError(f"soc={soc!r}, time_min={time_min!r}: give exactly one of them")
    params = {**twin.provenance.parameters, "soc": 0.0 if soc is None else soc, "time_min": time_min}
    return capillary_cell(**params, seed=twin.provenance.seed)



def _smooth_noise(shape: tuple[int, ...], sigma_voxels: float, inside: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise over a box, standardised over ``inside`` and clipped to +-3.

    Returns the values at the ``inside`` voxels (1D). Cost O(box voxels x sigma) per axis.
    """
    field = gaussian_filter(rng.standard_normal(shape), sigma_voxels, mode="reflect")[inside]
    if field.size > 1 and field.std() > 0:
        field = (field - field.mean()) / field.std()
    else:
        field = np.zeros_like(field)
    return np.clip(field, -3.0, 3.0)
