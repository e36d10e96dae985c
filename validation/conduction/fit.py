"""Round trips of the conduction inverse: simulate DC data on a twin, fit its transport parameters, compare.

Each scenario simulates with known parameters through
:func:`forward.conduction.solve`, adds seeded Gaussian noise, fits with
:mod:`inverse.conduction` (which sees the microstructure and the data,
never the twin's truth or the parameters) and checks the answer:

``iv_*``
    The 2D biasing lamella of seeds/003 (section 4.2.1, Figure 4.1; 2.0 x
    2.5 um, 0.5 um grains, 50 nm voxels) measured between four electrode
    pairs (the lamella's own two electrodes, and three other pairs along
    other directions), 11 voltages from -1 to 1 V each, current noise 0.1 %
    of the largest current: ``sigma_ip``, ``anisotropy`` and the contact
    resistance fitted together (``gb_ratio`` held at the thesis' 20: four
    conductances fix it well for some grain maps and not at all for others,
    relative uncertainty 0.08 to > 10 over seeds 0-7; the map fits it).
``tlm_*``
    A transmission-line measurement: two electrode strips across a 1 x 3 um
    polycrystal at four gaps (0.2-2 um); separates the contact resistance
    from the bulk. The same fit of one gap alone must report both as not
    identifiable (one conductance fixes one combination).
``map_*``
    The lamella's potential map (1 mV noise on 1 V): ``anisotropy`` and
    ``gb_ratio``; ``sigma_ip`` is not identifiable from it (potentials with
    fixed electrode potentials depend only on conductivity ratios) and must
    be reported so.

Truth values are those of seeds/003, section 4.2.2 (``sigma_ip/sigma_op =
1e3``, ``sigma_ip/sigma_GB = 20``, 1 nm boundaries), with ``sigma_ip = 100
S/m`` (~1 S/cm, section 1.3.1) and an area-specific contact resistance of
1e-8 ohm m^2 (of the order of the bulk resistance across the lamella, so
that it matters; the thesis takes its contacts as resistance-free).

Cost: about 6 s on two idle cores (about 170 network solves of 1000-2000
unknowns for the I-V fit, 120 for the TLM fits, 45 for the maps).
"""

from __future__ import annotations

import numpy as np

from forward.conduction import Conductivity, Electrode, conductivity_field, solve
from inverse.conduction import ConductionFit, IVData, fit_iv, fit_map
from twin.container import Twin
from twin.generators import KINDS
from validation.report import Check
from xtwin import arguments

#: The parameters the data are simulated with (seeds/003, section 4.2.2; sigma_ip from section 1.3.1).
TRUTH = Conductivity(sigma_ip_S_per_m=100.0, anisotropy=1e3, gb_ratio=20.0)
CONTACT_OHM_M2 = 1e-8
#: Where the fits start: every parameter off by a factor 2-5.
START = Conductivity(sigma_ip_S_per_m=40.0, anisotropy=300.0, gb_ratio=5.0)
START_CONTACT_OHM_M2 = 5e-8
#: Current noise of the I-V scenarios, as a fraction of the largest current of each experiment.
IV_NOISE = 1e-3
#: Applied voltages of the lamella I-V curves, V.
VOLTAGES_V = np.linspace(-1.0, 1.0, 11)
#: Potential-map noise, V (electrodes at 1 V and 0 V).
MAP_NOISE_V = 1e-3
#: TLM gaps between the electrode strips, voxels (50 nm).
TLM_GAPS = (4, 10, 20, 40)
#: Largest relative uncertainty for a recovered parameter to count as measured (a check that the 3-sigma
#: agreement is not won by a uselessly wide error bar).
MEANINGFUL = {"sigma_ip_S_per_m": 0.02, "anisotropy": 0.2, "gb_ratio": 0.25, "contact_resistance_ohm_m2": 0.05}


def lamella(seed: int = 0) -> Twin:
    """The small 2D biasing lamella of the scenarios (2.0 x 2.5 um, 0.5 um grains, 40 x 50 voxels)."""
    return KINDS["polycrystal"](ndim=2, lamella=True, field_of_view_um=(2.0, 2.5), grain_size_um=0.5, seed=seed)


def lamella_setups(twin: Twin) -> dict[str, list[Electrode]]:
    """Four two-terminal set-ups on the lamella (potentials per volt applied: 1 and 0).

    The lamella's own electrodes (labels 4 and 3, seeds/003 Figure 4.1),
    then the positive contact against a strip on the right edge, a strip
    on the bottom edge against the negative electrode, and two small pads
    on the bottom and right edges: different mixes of directions, grains
    and boundaries, so that the four conductances weigh the parameters
    differently.
    """
    def box(y0, y1, x0, x1):
        mask = np.zeros(twin.shape, bool)
        mask[y0:y1, x0:x1] = True
        return mask

    ny, nx = twin.shape
    positive, negative = twin.labels == 4, twin.labels == 3
    return {"lamella": [Electrode("positive", 1.0, mask=positive), Electrode("negative", 0.0, mask=negative)],
            "across": [Electrode("positive", 1.0, mask=positive),
                       Electrode("right", 0.0, mask=box(0, ny - 10, nx - 3, nx))],
            "upwards": [Electrode("bottom", 1.0, mask=box(0, 2, 8, nx)), Electrode("negative", 0.0, mask=negative)],
            "pads": [Electrode("pad_a", 1.0, mask=box(0, 3, nx // 2 - 5, nx // 2 + 1)),
                     Electrode("pad_b", 0.0, mask=box(ny // 2, ny // 2 + 6, nx - 3, nx))]}


def tlm_twin(seed: int = 0) -> Twin:
    """A 1 x 3 um polycrystal (0.4 um grains, 20 x 60 voxels of 50 nm) for the transmission-line scenario."""
    return KINDS["polycrystal"](ndim=2, field_of_view_um=(1.0, 3.0), grain_size_um=0.4, seed=seed)


def tlm_setups(twin: Twin, gaps=TLM_GAPS) -> dict[str, list[Electrode]]:
    """Two 2-voxel electrode strips across the whole height, ``gap`` voxels apart, one set-up per gap."""
    def strip(x0):
        mask = np.zeros(twin.shape, bool)
        mask[:, x0:x0 + 2] = True
        return mask

    return {f"gap_{gap}": [Electrode("a", 1.0, mask=strip(2)), Electrode("b", 0.0, mask=strip(4 + gap))]
            for gap in gaps}


def measure_iv(twin: Twin, setups: dict[str, list[Electrode]], *, conductivity: Conductivity = TRUTH,
               contact_resistance_ohm_m2: float = CONTACT_OHM_M2, voltages_V=VOLTAGES_V,
               noise: float = IV_NOISE, seed: int = 0) -> list[IVData]:
    """Simulated I-V experiments: ``I = G V`` of the network plus Gaussian noise of ``noise x max|I|``.

    The forward side: it uses the parameters and every electrode gets the
    contact resistance. Returns :class:`~inverse.conduction.IVData` with
    absolute sigmas.
    """
    rng = np.random.default_rng(seed)
    field = conductivity_field(twin, conductivity)
    voltages = np.asarray(voltages_V, float)
    out = []
    for name, electrodes in setups.items():
        contacted = [Electrode(e.name, e.potential_V, e.mask, e.face, contact_resistance_ohm_m2) for e in electrodes]
        conductance = solve(field, contacted).current(electrodes[0].name)
        sigma = noise * abs(conductance) * np.abs(voltages).max()
        currents = conductance * voltages + rng.normal(0.0, sigma, voltages.shape)
        out.append(IVData(electrodes, voltages, currents, sigma, name=name))
    return out


def _truth_of(name: str) -> float:
    return CONTACT_OHM_M2 if name == "contact_resistance_ohm_m2" else getattr(TRUTH, name)


def _recovery_checks(prefix: str, fit: ConductionFit, what: str, names=None) -> list[Check]:
    """|recovered - truth| <= 3 sigma, and sigma small enough to mean something, per parameter."""
    checks = []
    for name in fit.names if names is None else names:
        unit = {"sigma_ip_S_per_m": "S/m", "contact_resistance_ohm_m2": "ohm m^2"}.get(name, "")
        checks.append(Check(
            f"{prefix}_{name}", fit.values[name], 3 * fit.uncertainties[name], truth=_truth_of(name), unit=unit,
            comparison="abs",
            why=f"{what}: the fitted value must lie within 3 of its own reported 1-sigma uncertainties of the truth "
                f"(a Gaussian estimate does so with 99.7 % probability; the noise is seeded, so the outcome is "
                f"reproducible); the tolerance is that 3 sigma"))
        checks.append(Check(
            f"{prefix}_{name}_relative_uncertainty", fit.relative_uncertainties[name], MEANINGFUL[name],
            comparison="max",
            why=f"{what}: the reported relative 1-sigma uncertainty must be small enough for the 3-sigma check to "
                f"mean something (at most {MEANINGFUL[name]:g}; 0.1 % current noise or 1 mV potential noise "
                f"give {0.1 * MEANINGFUL[name]:g}-{0.5 * MEANINGFUL[name]:g} here)"))
    return checks


def checks(seed: int = 0) -> list[Check]:
    """The round trips of the module docstring as checks.

    Parameters
    ----------
    seed : int
        Seed of the twins and of the noise.

    Returns
    -------
    list of Check

    Notes
    -----
    Cost: about 6 s on two idle cores.
    """
    seed = arguments.integer("seed", seed, minimum=0)
    out: list[Check] = []

    twin = lamella(seed)
    setups = lamella_setups(twin)
    experiments = measure_iv(twin, setups, seed=seed)
    # gb_ratio is held at the thesis' 20: how much four conductances say about it depends on the grains of the
    # twin (relative uncertainty 0.08 to >10 over seeds 0-7 at this noise); the potential map below fits it.
    iv = fit_iv(twin, experiments, free=("sigma_ip_S_per_m", "anisotropy", "contact_resistance_ohm_m2"),
                start=START.replace(gb_ratio=TRUTH.gb_ratio), contact_resistance_ohm_m2=START_CONTACT_OHM_M2)
    out += _recovery_checks("iv", iv, "four I-V experiments on the lamella: sigma_ip, anisotropy, contact")
    out.append(Check("iv_reduced_chi2", iv.reduced_chi2, 0.5, truth=1.0, comparison="abs",
                     why=f"the noise is Gaussian with the sigmas given, so chi2/dof ~ 1 +- sqrt(2/dof) = "
                         f"{np.sqrt(2 / iv.dof):.2f} (dof {iv.dof}); 0.5 is beyond 2 standard deviations"))

    tlm = tlm_twin(seed)
    tlm_data = measure_iv(tlm, tlm_setups(tlm), voltages_V=np.linspace(0.1, 1.0, 10), noise=2e-3, seed=seed + 1)
    both = ("sigma_ip_S_per_m", "contact_resistance_ohm_m2")
    tlm_start = TRUTH.replace(sigma_ip_S_per_m=START.sigma_ip_S_per_m)      # anisotropy, gb_ratio known
    fit = fit_iv(tlm, tlm_data, free=both, start=tlm_start, contact_resistance_ohm_m2=START_CONTACT_OHM_M2)
    out += _recovery_checks("tlm", fit, f"transmission-line set of {len(TLM_GAPS)} gaps, sigma_ip and contact")
    single = fit_iv(tlm, tlm_data[1:2], free=both, start=tlm_start, contact_resistance_ohm_m2=START_CONTACT_OHM_M2)
    out.append(Check("tlm_single_gap_identifiable_parameters", sum(single.identifiable.values()), 0,
                     comparison="max",
                     why="one gap gives one conductance, which fixes one combination of sigma_ip and the contact "
                         "resistance: both must be reported as not identifiable (count of identifiable ones = 0)"))

    solution = solve(conductivity_field(twin, TRUTH), setups["lamella"])
    rng = np.random.default_rng(seed + 2)
    measured = solution.potential_V + rng.normal(0.0, MAP_NOISE_V, twin.shape)
    potential = fit_map(twin, setups["lamella"], potential_V=measured, potential_sigma_V=MAP_NOISE_V,
                        free=("sigma_ip_S_per_m", "anisotropy", "gb_ratio"), start=START)
    out += _recovery_checks("map", potential, "potential map of the lamella (1 mV noise)", ("anisotropy", "gb_ratio"))
    out.append(Check("map_sigma_ip_identifiable", float(potential.identifiable["sigma_ip_S_per_m"]), 0,
                     comparison="max",
                     why="with the electrodes at fixed potentials the potential map does not change when every "
                         "conductivity is scaled by one factor: sigma_ip must be reported as not identifiable (0)"))
    return out
