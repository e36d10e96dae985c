"""HEXITEC CdZnTe pixel detector of seeds/001 (section 2.1): energy response, charge sharing and counting.

seeds/001, section 2.1: 80 x 80 pixels of 250 um, 2 mm thick CdZnTe, spectra of 0-200 keV in 0.2 keV bins,
9 kHz frames, 0.93 +- 0.19 keV FWHM at the 59.54 keV Am-241 line, 10 mm Pb shielding, a 200 um pinhole in 2 mm
W, and "charge-sharing events that spanned more than two neighboring pixels were excluded".

Everything is expressed per pixel and per photon incident at normal incidence on that pixel. The central
object is the response matrix ``R`` (:func:`response_matrix`), shape ``(n_channels, n_energies)``: column ``j``
is the expected number of recorded events in each channel for one photon of exactly ``energies_kev[j]``.
A cube of incident photon numbers ``(nx, ny, n_energies)`` becomes expected counts ``(nx, ny, n_channels)``
with one matrix product (:func:`apply_response`); :func:`expected_counts` adds the W/Pb fluorescence lines
and the frame-rate limit, :func:`counts` draws Poisson noise.

Model (stated approximations)
-----------------------------
Sensor
    Cd0.9Zn0.1Te, 5.78 g/cm3 (Schlesinger et al., Mater. Sci. Eng. R 32 (2001) 103, table 1), attenuation from
    xraylib through :class:`twin.materials.Material`. A photon interacts with probability
    ``1 - exp(-mu_tot t)``; the first interaction is photoelectric with probability ``mu_pe / mu_tot`` and
    incoherent with ``mu_inc / mu_tot`` (:func:`efficiency`, :func:`photoabsorption_efficiency`). Rayleigh
    interactions deposit nothing. Multiple interactions are not followed.
Photoabsorption
    Deposits the full energy unless a K fluorescence photon of Cd, Te (or Zn) leaves the sensor (escape
    peaks at ``E - E_line``). Per photoabsorption, ``P(line) = f_K,Z(E) omega_K,Z r_line P_geo(E, E_line)``
    with ``f_K,Z = w_Z sigma_K,Z(E) / sum_i w_i sigma_pe,i(E)`` (K-shell share of the photoabsorption,
    xraylib ``CS_Photo_Partial``), ``omega_K`` the K fluorescence yield (``FluorYield``), ``r_line`` the
    radiative rate (``RadRate``) and ``P_geo`` the probability that an isotropically emitted line photon
    leaves through the front or back face of a laterally infinite slab (:func:`slab_escape_probability`;
    for a thick slab it tends to the classic front-surface result ``(1 - r ln(1 + 1/r)) / 2``,
    ``r = mu_line / mu_incident``). Lateral escape into neighbouring pixels (which appears as a two-pixel
    event) and L-shell escape are not modelled. Line energies from xraylib ``LineEnergy`` (KL2, KL3, KM2,
    KM3, KN2, KN3).
Incoherent scattering in the sensor
    Deposits the Klein-Nishina recoil energy (free electron at rest, 0 to the Compton edge); the scattered
    photon is assumed to leave the pixel (``sensor_compton=False`` drops these events).
Energy resolution
    ``FWHM(E) = sqrt(a^2 + b^2 E)``: an electronic-noise term ``a`` and the Fano term
    ``b^2 = (2 sqrt(2 ln 2))^2 F w`` with the pair-creation energy ``w = 4.64 eV`` (Schlesinger et al. 2001)
    and ``F = 0.1`` (measured Fano factors of CdTe/CdZnTe scatter around 0.09-0.15; Devanathan et al.,
    Nucl. Instrum. Methods A 565 (2006) 637). ``a`` is chosen so that ``FWHM(59.54 keV) = 0.93 keV``
    (seeds/001, section 2.1): ``b^2 = 2.57e-3 keV``, ``a = 0.844 keV``, FWHM(93.6 keV) = 0.98 keV. A line is
    a Gaussian integrated exactly over each channel; hole trapping (low-energy tailing) is not modelled.
Threshold
    Events with a measured (smeared) energy below ``threshold_kev`` are not recorded (exact, by clipping
    the channel edges of the Gaussian integral); events above ``energy_max_kev`` are lost.
Charge sharing
    The charge cloud is taken as a square of side ``charge_cloud_um`` (default 50 um: thermal diffusion
    over 2 mm at 1000 V and 291 K gives sigma = d sqrt(2 kT / eV) = 14 um, FWHM 33 um, plus the
    photoelectron range; seeds/001 notes that the cloud is similar in size to the inter-pixel gap, which is
    50 um for the 250 um pitch of HEXITEC). An event closer than ``s = charge_cloud_um / 2`` to a pixel edge
    shares charge: with ``x = charge_cloud_um / pixel_um`` the single, two-pixel and corner (3-4 pixel)
    fractions are ``(1 - x)^2``, ``2 x (1 - x)`` and ``x^2`` (0.64, 0.32, 0.04 by default). For a uniform
    cloud, the neighbour receives a fraction ``q`` of the charge uniformly distributed in (0, 1/2).
    Modes (``charge_sharing``):

    - ``"raw"``: no correction; both hits of shared events are recorded as separate events (energies
      ``E (1 - q)`` in the pixel, ``E q`` in a neighbour); corner events are treated as two-pixel events.
    - ``"reject_multi"``: as raw, but events over more than two pixels are rejected.
    - ``"add"`` (default): two-pixel events are summed back to ``E`` (noise of two pixels:
      ``FWHM^2 = 2 a^2 + b^2 E``), events over more than two pixels are rejected - the rule of seeds/001,
      section 2.1, with the summing ("charge sharing addition") assumed for the two-pixel events.
    - ``"discard"``: all multi-pixel events rejected ("charge sharing discrimination").

    In every mode a neighbour hit below the threshold (``E q < threshold``, judged on the deposited
    energy) is not seen, so the event counts as a single event of energy ``E (1 - q)``: a low-energy tail
    of width ``threshold_kev`` under each line. Corner events are rejected whole in the rejecting modes.
    Sharing is applied to photopeak and escape deposits and to the sensor-Compton continuum alike. The
    neighbour hits of ``"raw"``/``"reject_multi"`` go to the 4 nearest neighbours in :func:`apply_response`
    for image cubes (``ndim >= 3``); for single spectra they are added to the pixel itself (the
    expectation for uniform illumination).
Counting
    Expected counts are Poisson distributed (:func:`counts`). The peak-hold ASIC records at most one event
    per pixel and frame: with ``lambda`` events per pixel per frame the recorded number is
    ``n_frames (1 - exp(-lambda))``; the spectrum shape is kept (pile-up sum peaks are not modelled). At the
    count rates of XCS (a few events per pixel per second against 9 kHz) the loss is < 1e-3.
Fluorescence of the camera
    Tungsten (pinhole) and lead (shield) K lines reach each pixel at ``tungsten_k_ph_per_s`` and
    ``lead_k_ph_per_s`` photons per second (parameters; seeds/001 gives no values, so the defaults are 0),
    split over the K lines by the xraylib radiative rates and passed through the same response
    (:func:`fluorescence_lines`, :func:`background_counts`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xraylib
import xraylib_np
from scipy.special import ndtr

from twin.materials import Material, element_z
from xtwin import arguments

__all__ = ["AM241_KEV", "CDZNTE_DENSITY_G_CM3", "CDZNTE_FORMULA", "CHARGE_SHARING_MODES", "FANO_FACTOR",
           "FWHM_PER_SIGMA", "Hexitec", "K_LINES", "PAIR_ENERGY_EV", "apply_response", "background_counts",
           "counts", "efficiency", "escape_lines", "escape_probabilities", "expected_counts",
           "fluorescence_lines", "frames", "measure", "photoabsorption_efficiency", "response_matrices",
           "response_matrix", "slab_escape_probability"]

#: The Am-241 gamma line used for the resolution quoted in seeds/001, section 2.1, keV.
AM241_KEV = 59.54
#: Sensor composition and density: Schlesinger et al., Mater. Sci. Eng. R 32 (2001) 103 (Cd0.9Zn0.1Te 5.78 g/cm3).
CDZNTE_FORMULA = "Cd0.9Zn0.1Te"
CDZNTE_DENSITY_G_CM3 = 5.78
#: Electron-hole pair creation energy of CdZnTe, eV (Schlesinger et al. 2001).
PAIR_ENERGY_EV = 4.64
#: Fano factor assumed for CdZnTe (measured 0.09-0.15: Devanathan et al., NIM A 565 (2006) 637).
FANO_FACTOR = 0.1
#: FWHM / sigma of a Gaussian, 2 sqrt(2 ln 2).
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
#: K lines followed for escape and camera fluorescence (Siegbahn name, xraylib macro).
K_LINES = (("Ka1", xraylib.KL3_LINE), ("Ka2", xraylib.KL2_LINE), ("Kb1", xraylib.KM3_LINE),
           ("Kb3", xraylib.KM2_LINE), ("Kb2(N3)", xraylib.KN3_LINE), ("Kb2(N2)", xraylib.KN2_LINE))
#: Charge-sharing treatments, see the module docstring.
CHARGE_SHARING_MODES = ("raw", "reject_multi", "add", "discard")
_ELECTRON_REST_KEV = 510.99895  # CODATA 2018
_GAUSS_LEGENDRE = np.polynomial.legendre.leggauss(64)


@dataclass(frozen=True)
class Hexitec:
    """The HEXITEC CdZnTe spectroscopic imaging detector (seeds/001, section 2.1).

    Parameters
    ----------
    shape_px : tuple of int
        Pixels (rows, columns); 80 x 80.
    pixel_um : float
        Pixel pitch, um; 250.
    thickness_mm : float
        Sensor thickness, mm; 2.
    energy_max_kev : float
        Upper end of the spectra, keV; 200 (channels start at 0 keV).
    bin_kev : float
        Channel width, keV; 0.2. ``energy_max_kev / bin_kev`` must be an integer (1000 channels).
    fwhm_kev_at_59 : float
        Energy resolution (FWHM) at 59.54 keV, keV; 0.93. Must exceed the Fano term at 59.54 keV.
    fano_factor : float
        Fano factor F (>= 0); 0.1.
    pair_energy_ev : float
        Mean energy per electron-hole pair, eV; 4.64.
    threshold_kev : float
        Low-energy threshold on the measured energy, keV, in [0, energy_max_kev); 3.
    frame_rate_hz : float
        Frame rate, Hz; 9000.
    charge_cloud_um : float
        Side of the (square, uniform) charge cloud, um, in [0, pixel_um]; 50. 0 switches sharing off.
    charge_sharing : str
        One of :data:`CHARGE_SHARING_MODES`; ``"add"``.
    escape : bool
        Model the K escape peaks of the sensor elements.
    sensor_compton : bool
        Model the recoil continuum of incoherent scattering in the sensor.
    tungsten_k_ph_per_s, lead_k_ph_per_s : float
        W (pinhole) and Pb (shield) K fluorescence photons reaching each pixel per second, >= 0; 0.
    sensor_formula : str
        Sensor composition (xraylib formula); ``"Cd0.9Zn0.1Te"``.
    sensor_density_g_cm3 : float
        Sensor density, g/cm3; 5.78.
    """

    shape_px: tuple[int, int] = (80, 80)
    pixel_um: float = 250.0
    thickness_mm: float = 2.0
    energy_max_kev: float = 200.0
    bin_kev: float = 0.2
    fwhm_kev_at_59: float = 0.93
    fano_factor: float = FANO_FACTOR
    pair_energy_ev: float = PAIR_ENERGY_EV
    threshold_kev: float = 3.0
    frame_rate_hz: float = 9000.0
    charge_cloud_um: float = 50.0
    charge_sharing: str = "add"
    escape: bool = True
    sensor_compton: bool = True
    tungsten_k_ph_per_s: float = 0.0
    lead_k_ph_per_s: float = 0.0
    sensor_formula: str = CDZNTE_FORMULA
    sensor_density_g_cm3: float = CDZNTE_DENSITY_G_CM3

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        shape = self.shape_px
        if not isinstance(shape, (tuple, list)) or len(shape) != 2:
            raise ValueError(f"shape_px={shape!r}: expected (rows, columns), two integers >= 1")
        put("shape_px", tuple(arguments.integer("shape_px", n, minimum=1) for n in shape))
        put("pixel_um", arguments.positive("pixel_um", self.pixel_um, unit="um"))
        put("thickness_mm", arguments.positive("thickness_mm", self.thickness_mm, unit="mm"))
        put("energy_max_kev", arguments.positive("energy_max_kev", self.energy_max_kev, unit="keV"))
        put("bin_kev", arguments.positive("bin_kev", self.bin_kev, unit="keV"))
        n = self.energy_max_kev / self.bin_kev
        if abs(n - round(n)) > 1e-6 * max(n, 1.0) or round(n) < 1:
            raise ValueError(f"bin_kev={self.bin_kev!r}: expected a channel width dividing "
                             f"energy_max_kev={self.energy_max_kev!r} into a whole number of channels")
        put("fano_factor", arguments.positive("fano_factor", self.fano_factor, allow_zero=True))
        put("pair_energy_ev", arguments.positive("pair_energy_ev", self.pair_energy_ev, unit="eV"))
        put("fwhm_kev_at_59", arguments.positive("fwhm_kev_at_59", self.fwhm_kev_at_59, unit="keV"))
        fano_fwhm = math.sqrt(self.fano_term_kev * AM241_KEV)
        if self.fwhm_kev_at_59 <= fano_fwhm:
            raise ValueError(f"fwhm_kev_at_59={self.fwhm_kev_at_59!r}: expected a FWHM above the Fano limit "
                             f"{fano_fwhm:.4f} keV at {AM241_KEV} keV (F={self.fano_factor}, "
                             f"w={self.pair_energy_ev} eV)")
        put("threshold_kev", arguments.positive("threshold_kev", self.threshold_kev, allow_zero=True, unit="keV"))
        if self.threshold_kev >= self.energy_max_kev:
            raise ValueError(f"threshold_kev={self.threshold_kev!r}: expected a threshold below "
                             f"energy_max_kev={self.energy_max_kev!r}")
        put("frame_rate_hz", arguments.positive("frame_rate_hz", self.frame_rate_hz, unit="Hz"))
        cloud = arguments.positive("charge_cloud_um", self.charge_cloud_um, allow_zero=True, unit="um")
        if cloud > self.pixel_um:
            raise ValueError(f"charge_cloud_um={self.charge_cloud_um!r}: expected a charge cloud no larger than "
                             f"the pixel, <= pixel_um={self.pixel_um!r} um")
        put("charge_cloud_um", cloud)
        arguments.one_of("charge_sharing", self.charge_sharing, CHARGE_SHARING_MODES)
        for name in ("escape", "sensor_compton"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name}={getattr(self, name)!r}: expected True or False")
            put(name, bool(getattr(self, name)))
        for name in ("tungsten_k_ph_per_s", "lead_k_ph_per_s"):
            put(name, arguments.positive(name, getattr(self, name), allow_zero=True, unit="photons/s per pixel"))
        put("sensor_density_g_cm3", arguments.positive("sensor_density_g_cm3", self.sensor_density_g_cm3,
                                                       unit="g/cm3"))
        if not isinstance(self.sensor_formula, str):
            raise TypeError(f"sensor_formula={self.sensor_formula!r}: expected a chemical formula string")
        try:
            _sensor(self.sensor_formula, self.sensor_density_g_cm3)
        except ValueError:
            raise ValueError(f"sensor_formula={self.sensor_formula!r}: expected a chemical formula parsed by "
                             f"xraylib, such as {CDZNTE_FORMULA!r}") from None

    # ------------------------------------------------------------------ channels and resolution
    @property
    def n_channels(self) -> int:
        """Number of energy channels (1000)."""
        return int(round(self.energy_max_kev / self.bin_kev))

    @property
    def edges_kev(self) -> np.ndarray:
        """Channel edges, keV, shape (n_channels + 1,): 0, 0.2, ..., 200."""
        return np.arange(self.n_channels + 1) * self.bin_kev

    @property
    def centres_kev(self) -> np.ndarray:
        """Channel centres, keV, shape (n_channels,): 0.1, 0.3, ..., 199.9."""
        return (np.arange(self.n_channels) + 0.5) * self.bin_kev

    @property
    def fano_term_kev(self) -> float:
        """``b^2 = (2 sqrt(2 ln 2))^2 F w``, keV (FWHM^2 per keV of deposited energy); 2.57e-3 keV."""
        return FWHM_PER_SIGMA ** 2 * self.fano_factor * self.pair_energy_ev * 1e-3

    @property
    def noise_fwhm_kev(self) -> float:
        """Electronic-noise term ``a`` of FWHM(E) = sqrt(a^2 + b^2 E), keV; 0.844 keV by default."""
        return math.sqrt(self.fwhm_kev_at_59 ** 2 - self.fano_term_kev * AM241_KEV)

    def fwhm_kev(self, energy_kev: Any, *, summed: bool = False) -> np.ndarray:
        """Energy resolution FWHM(E) = sqrt(a^2 + b^2 E), keV (``summed``: two pixels' noise, 2 a^2)."""
        e = np.maximum(np.asarray(energy_kev, dtype=float), 0.0)
        return np.sqrt((2.0 if summed else 1.0) * self.noise_fwhm_kev ** 2 + self.fano_term_kev * e)

    # ------------------------------------------------------------------ geometry
    @property
    def sensor(self) -> Material:
        """The sensor material (:class:`twin.materials.Material`)."""
        return _sensor(self.sensor_formula, self.sensor_density_g_cm3)

    @property
    def pixel_area_cm2(self) -> float:
        """Pixel area, cm2 (6.25e-4 cm2 for 250 um)."""
        return (self.pixel_um * 1e-4) ** 2

    @property
    def sharing_fractions(self) -> tuple[float, float, float]:
        """Fractions of events on one pixel, shared by two pixels and by 3-4 pixels (corners).

        ``(1 - x)^2, 2 x (1 - x), x^2`` with ``x = charge_cloud_um / pixel_um`` (module docstring).
        """
        x = self.charge_cloud_um / self.pixel_um
        return (1.0 - x) ** 2, 2.0 * x * (1.0 - x), x * x


@functools.lru_cache(maxsize=8)
def _sensor(formula: str, density: float) -> Material:
    return Material.from_formula("sensor", formula, density, density_source="Schlesinger et al. 2001 (CdZnTe)")


# ---------------------------------------------------------------------- efficiency and escape
def _energies(value: Any) -> np.ndarray:
    e = arguments.energies_kev("energies_kev", value)
    if e.ndim > 1 or e.size == 0:
        raise ValueError(f"energies_kev: expected a non-empty 1D array of photon energies in keV, got shape "
                         f"{e.shape}")
    return np.atleast_1d(e)


def _interactions(detector: Hexitec, e: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities of a photoelectric and of an incoherent first interaction, and mu_tot (1/cm)."""
    s = detector.sensor
    mu = s.linear_attenuation_per_cm(e)
    p = -np.expm1(-mu * detector.thickness_mm * 0.1)
    return p * s.linear_attenuation_per_cm(e, "photo") / mu, p * s.linear_attenuation_per_cm(e, "compton") / mu, mu


def photoabsorption_efficiency(detector: Hexitec, energy_kev: Any) -> np.ndarray:
    """Probability that a photon at normal incidence is photoabsorbed in the sensor (first interaction).

    ``(mu_pe / mu_tot) (1 - exp(-mu_tot t))``; 0.744 for 2 mm Cd0.9Zn0.1Te at 100 keV.
    """
    e = arguments.energies_kev("energy_kev", energy_kev)
    return _interactions(detector, np.atleast_1d(e))[0].reshape(e.shape)


def efficiency(detector: Hexitec, energy_kev: Any) -> np.ndarray:
    """Probability that a photon at normal incidence deposits energy: photoelectric or incoherent first interaction.

    ``((mu_pe + mu_inc) / mu_tot) (1 - exp(-mu_tot t))`` (``mu_inc`` only if ``sensor_compton``); 0.801 for
    2 mm Cd0.9Zn0.1Te at 100 keV. Threshold, energy range and charge-sharing rejection are not included:
    the sum of a response column equals this number when none of them removes events.
    """
    e = np.atleast_1d(arguments.energies_kev("energy_kev", energy_kev))
    pe, inc, _ = _interactions(detector, e)
    return (pe + inc if detector.sensor_compton else pe).reshape(np.shape(energy_kev))


def slab_escape_probability(mu_incident_per_cm: Any, mu_line_per_cm: Any, thickness_cm: float) -> np.ndarray:
    """Probability that an isotropic photon emitted at the interaction depth leaves a slab through its faces.

    Normal incidence; interaction depth z distributed as ``mu e^{-mu z}`` on (0, t) (conditional on
    interacting); emission isotropic; escape through the front face with ``exp(-mu_f z / c)`` and through
    the back face with ``exp(-mu_f (t - z) / c)``, ``c`` the direction cosine, integrated in closed form over
    z and by 64-point Gauss-Legendre over c. Laterally infinite (pixel edges ignored). For ``t -> inf`` it
    tends to the classic front-surface result ``(1 - r ln(1 + 1/r)) / 2``, ``r = mu_f / mu``.

    Parameters
    ----------
    mu_incident_per_cm, mu_line_per_cm : array_like
        Total linear attenuation at the incident and at the line energy, 1/cm, > 0 (broadcast).
    thickness_cm : float
        Slab thickness, cm.
    """
    mu = np.asarray(mu_incident_per_cm, dtype=float)[..., None]
    muf = np.asarray(mu_line_per_cm, dtype=float)[..., None]
    t = arguments.positive("thickness_cm", thickness_cm, unit="cm")
    x, w = _GAUSS_LEGENDRE
    c = 0.5 * (x + 1.0)
    a = muf / c
    front = mu * -np.expm1(-(mu + a) * t) / (mu + a)
    d = mu - a
    safe = np.where(np.abs(d) * t > 1e-8, d, 1.0)
    back = np.where(np.abs(d) * t > 1e-8, mu * (np.exp(-a * t) - np.exp(-mu * t)) / safe, mu * t * np.exp(-mu * t))
    p = 0.5 * ((front + back) @ (0.5 * w))
    return p / -np.expm1(-mu[..., 0] * t)


def escape_lines(detector: Hexitec) -> list[tuple[str, str, float, float]]:
    """Sensor K lines that can escape: ``(element, line, line_energy_kev, omega_K x radiative_rate)``.

    Energies from xraylib ``LineEnergy``: Cd Ka1 23.17, Kb1 26.09; Te Ka1 27.47, Kb1 31.00 keV (and Zn).
    """
    return _escape_lines(detector.sensor_formula, detector.sensor_density_g_cm3)


@functools.lru_cache(maxsize=8)
def _escape_lines(formula: str, density: float) -> list[tuple[str, str, float, float]]:
    out = []
    for z in _sensor(formula, density).elements:
        z = int(z)
        for name, line in K_LINES:
            try:
                energy, rate = xraylib.LineEnergy(z, line), xraylib.RadRate(z, line)
            except ValueError:  # line absent for this element (e.g. Zn Kb2)
                continue
            if energy > 0 and rate > 0:
                out.append((xraylib.AtomicNumberToSymbol(z), name, energy,
                            xraylib.FluorYield(z, xraylib.K_SHELL) * rate))
    return out


def escape_probabilities(detector: Hexitec, energies_kev: Any) -> tuple[np.ndarray, np.ndarray]:
    """Escape probability of each sensor K line per photoabsorbed photon.

    Returns
    -------
    line_kev : ndarray, shape (n_lines,)
        Line energies, keV (the escape peak of a photon E lies at ``E - line_kev``), order of
        :func:`escape_lines`.
    probability : ndarray, shape (n_lines, n_energies)
        ``f_K,Z(E) omega_K r_line P_geo(E, E_line)`` (module docstring); 0 below the K edge.
    """
    e = _energies(energies_kev)
    lines = escape_lines(detector)
    s = detector.sensor
    if not lines:
        return np.zeros(0), np.zeros((0, e.size))
    z = np.array([element_z(sym) for sym, *_ in lines])
    line_kev = np.array([en for _, _, en, _ in lines])
    yield_rate = np.array([y for *_, y in lines])
    weight = np.array([s.mass_fractions[int(zz)] for zz in z])
    sigma_k = xraylib_np.CS_Photo_Partial(z, np.array([xraylib.K_SHELL]), e)[:, 0, :]  # cm2/g
    f_k = weight[:, None] * sigma_k / s.mass_attenuation_cm2_g(e, "photo")[None, :]
    geo = slab_escape_probability(s.linear_attenuation_per_cm(e)[None, :],
                                  s.linear_attenuation_per_cm(line_kev)[:, None], detector.thickness_mm * 0.1)
    return line_kev, f_k * yield_rate[:, None] * geo


# ---------------------------------------------------------------------- response
def _gauss(detector: Hexitec, d: np.ndarray, w: np.ndarray, summed: bool) -> np.ndarray:
    """Gaussian lines at deposits ``d`` (weights ``w``) integrated over the channels above the threshold."""
    edges = np.maximum(detector.edges_kev, detector.threshold_kev)
    sigma = detector.fwhm_kev(d, summed=summed) / FWHM_PER_SIGMA
    cdf = ndtr((edges[:, None] - d[None, :]) / sigma[None, :])
    return np.diff(cdf, axis=0) * w[None, :]


def _uniform(detector: Hexitec, u0: np.ndarray, u1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Histogram on the channels of deposits uniform on (u0, u1) with total weight w, shape (n_ch, m)."""
    lo, hi = detector.edges_kev[:-1, None], detector.edges_kev[1:, None]
    width = u1 - u0
    overlap = np.clip(np.minimum(hi, u1[None, :]) - np.maximum(lo, u0[None, :]), 0.0, None)
    scale = np.where(width > 0, w / np.where(width > 0, width, 1.0), 0.0)
    return overlap * scale[None, :]


def _share(detector: Hexitec, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                        np.ndarray]:
    """Split point deposits by charge sharing.

    Returns the single-event weights, the summed-event weights (both points at ``d``), and the deposit
    histograms (n_ch, m) of the hits recorded in the pixel itself and in its neighbours.
    """
    f1, f2, f4 = detector.sharing_fractions
    mode, thr = detector.charge_sharing, detector.threshold_kev
    zero = np.zeros_like(d)
    if f2 == 0.0 and f4 == 0.0:
        return w, zero, np.zeros((detector.n_channels, d.size)), np.zeros((detector.n_channels, d.size))
    if mode in ("raw", "reject_multi"):
        shared = w * (f2 + f4 if mode == "raw" else f2)
        own = _uniform(detector, 0.5 * d, d, shared)
        return w * f1, zero, own, _uniform(detector, zero, 0.5 * d, shared)
    # "add" / "discard": a neighbour hit E q below the threshold (q < thr / E) is not seen.
    q_max = np.minimum(0.5, thr / np.where(d > 0, d, 1.0))
    hidden = w * f2 * 2.0 * q_max
    summed = w * f2 - hidden if mode == "add" else zero
    own = _uniform(detector, d * (1.0 - q_max), d, hidden)
    return w * f1, summed, own, np.zeros_like(own)


@functools.lru_cache(maxsize=8)
def _continuum_maps(detector: Hexitec) -> tuple[np.ndarray, np.ndarray]:
    """Responses (own pixel, neighbours) to deposits at the channel centres, shape (n_ch, n_ch)."""
    c = detector.centres_kev
    single, summed, own, nb = _share(detector, c, np.ones_like(c))
    g1 = _gauss(detector, c, np.ones_like(c), False)
    own_map = g1 * single[None, :] + g1 @ own
    if np.any(summed):
        own_map += _gauss(detector, c, summed, True)
    return own_map, g1 @ nb


def _recoil_histogram(detector: Hexitec, e: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Klein-Nishina recoil-energy deposits T in (0, T_max) of incoherent scattering, total weight w, (n_ch, m).

    dsigma/dE' ~ E'/E + E/E' - sin^2(theta), cos(theta) = 1 - mc^2 (1/E' - 1/E), T = E - E' (free electron).
    """
    k = e / _ELECTRON_REST_KEV
    t_max = e * 2 * k / (1 + 2 * k)
    lo = np.minimum(detector.edges_kev[:-1, None], t_max[None, :])
    hi = np.minimum(detector.edges_kev[1:, None], t_max[None, :])
    t = 0.5 * (lo + hi)
    ep = e[None, :] - t
    cos = 1.0 - _ELECTRON_REST_KEV * (1.0 / ep - 1.0 / e[None, :])
    density = ep / e + e / ep - (1.0 - cos ** 2)
    h = density * (hi - lo)
    total = h.sum(axis=0)
    # Deposits beyond the last channel edge (E > ~560 keV): keep the in-range share of an analytic total.
    return h * np.where(total > 0, w / np.where(total > 0, total, 1.0), 0.0)[None, :] \
        * np.where(t_max > detector.energy_max_kev, _in_range_share(e, detector.energy_max_kev), 1.0)[None, :]


def _in_range_share(e: np.ndarray, t_cut: float) -> np.ndarray:
    """Share of the recoil distribution below t_cut (fine midpoint integration; only for E > ~560 keV)."""
    k = e / _ELECTRON_REST_KEV
    t_max = e * 2 * k / (1 + 2 * k)
    u = (np.arange(4000) + 0.5) / 4000
    t = u[:, None] * t_max[None, :]
    ep = e[None, :] - t
    cos = 1.0 - _ELECTRON_REST_KEV * (1.0 / ep - 1.0 / e[None, :])
    density = ep / e + e / ep - (1.0 - cos ** 2)
    return (density * (t < t_cut)).sum(axis=0) / density.sum(axis=0)


def response_matrices(detector: Hexitec, energies_kev: Any) -> tuple[np.ndarray, np.ndarray]:
    """Response split into the events recorded in the pixel itself and in its neighbours.

    Parameters
    ----------
    detector : Hexitec
    energies_kev : array_like, shape (n_energies,)
        Incident photon energies, keV, within xraylib's range.

    Returns
    -------
    own, neighbours : ndarray, shape (n_channels, n_energies)
        Expected recorded events per channel for one photon of each energy on the pixel. ``neighbours``
        (the smaller hit of shared events in ``"raw"``/``"reject_multi"`` mode, summed over the 4
        neighbours) is zero in the ``"add"`` and ``"discard"`` modes.
    """
    if not isinstance(detector, Hexitec):
        raise TypeError(f"detector={detector!r}: expected a Hexitec")
    e = _energies(energies_kev)
    p_pe, p_inc, _ = _interactions(detector, e)
    if detector.escape:
        line_kev, p_esc = escape_probabilities(detector, e)
    else:
        line_kev, p_esc = np.zeros(0), np.zeros((0, e.size))
    points = [(e, p_pe * (1.0 - p_esc.sum(axis=0)))]
    points += [(e - line_kev[i], p_pe * p_esc[i]) for i in range(line_kev.size) if np.any(p_esc[i] > 0)]
    own = np.zeros((detector.n_channels, e.size))
    dep_own = np.zeros_like(own)
    dep_nb = np.zeros_like(own)
    for d, w in points:  # one pass per escape line (<= 16), vectorised over energies
        single, summed, h_own, h_nb = _share(detector, d, w)
        own += _gauss(detector, d, single, False)
        if np.any(summed):
            own += _gauss(detector, d, summed, True)
        dep_own += h_own
        dep_nb += h_nb
    g1 = _gauss(detector, detector.centres_kev, np.ones(detector.n_channels), False)
    own += g1 @ dep_own
    nb = g1 @ dep_nb
    if detector.sensor_compton:
        recoil = _recoil_histogram(detector, e, p_inc)
        own_map, nb_map = _continuum_maps(detector)
        own += own_map @ recoil
        nb += nb_map @ recoil
    return own, nb


def response_matrix(detector: Hexitec, energies_kev: Any) -> np.ndarray:
    """Detector response, shape (n_channels, n_energies): expected events per channel per incident photon.

    Column ``j`` is the spectrum recorded (own pixel plus the neighbour hits of shared events) for one
    photon of exactly ``energies_kev[j]`` at normal incidence: efficiency, escape peaks, sensor-Compton
    continuum, Gaussian resolution, threshold and charge sharing (module docstring). Pass photon numbers
    integrated over each input bin at its centre. With the threshold at 0, no charge sharing and a line
    well inside 0-200 keV, each column sums to :func:`efficiency`.

    Parameters
    ----------
    detector : Hexitec
    energies_kev : array_like, shape (n_energies,)
        Incident photon energies, keV.

    Returns
    -------
    ndarray, shape (n_channels, n_energies)
    """
    own, nb = response_matrices(detector, energies_kev)
    return own + nb


def apply_response(detector: Hexitec, photons: Any, energies_kev: Any = None, *,
                   matrices: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Expected counts per channel from incident photon numbers, by one matrix product.

    Parameters
    ----------
    detector : Hexitec
    photons : array_like, shape (..., n_energies)
        Photons incident on each pixel at each energy (e.g. a cube (80, 80, n_energies)), >= 0.
    energies_kev : array_like, shape (n_energies,), optional
        Their energies, keV; not needed if ``matrices`` are given.
    matrices : (own, neighbours), optional
        Precomputed :func:`response_matrices` (reuse them across calls).

    Returns
    -------
    ndarray, shape (..., n_channels)
        ``photons @ R.T``. In ``"raw"``/``"reject_multi"`` mode and for ``ndim >= 3`` the neighbour hits go
        a quarter each to the 4 nearest pixels of the last two spatial axes (lost beyond the edge); for
        ``ndim < 3`` they stay in the pixel.
    """
    if matrices is None:
        if energies_kev is None:
            raise ValueError("energies_kev=None: expected the photon energies (keV) when matrices are not given")
        matrices = response_matrices(detector, energies_kev)
    own, nb = matrices
    p = arguments.array("photons", photons, dtype_kind="iuf", finite=True)
    if p.ndim == 0 or p.shape[-1] != own.shape[1]:
        raise ValueError(f"photons: expected shape (..., {own.shape[1]}) to match the response, got {p.shape}")
    if np.any(p < 0):
        raise ValueError("photons: expected photon numbers >= 0, found negative values")
    p = p.astype(float, copy=False)
    if not np.any(nb):
        return p @ own.T
    if p.ndim < 3:
        return p @ (own + nb).T
    out = p @ own.T
    spill = 0.25 * (p @ nb.T)
    out[..., 1:, :, :] += spill[..., :-1, :, :]
    out[..., :-1, :, :] += spill[..., 1:, :, :]
    out[..., :, 1:, :] += spill[..., :, :-1, :]
    out[..., :, :-1, :] += spill[..., :, 1:, :]
    return out


# ---------------------------------------------------------------------- fluorescence, frames and counts
def fluorescence_lines(element: str | int) -> tuple[np.ndarray, np.ndarray]:
    """K lines of an element: energies (keV, xraylib ``LineEnergy``) and relative intensities (sum 1).

    Intensities are the xraylib radiative rates of :data:`K_LINES`, renormalised over these lines.
    W: Ka1 59.32, Ka2 57.98, Kb1 67.24 keV; Pb: Ka1 74.97, Ka2 72.80, Kb1 84.94 keV.
    """
    z = element_z(element)
    energy, rate = [], []
    for _, line in K_LINES:
        try:
            en, r = xraylib.LineEnergy(z, line), xraylib.RadRate(z, line)
        except ValueError:
            continue
        if en > 0 and r > 0:
            energy.append(en)
            rate.append(r)
    if not rate:
        raise ValueError(f"element={element!r}: xraylib has no K lines for it")
    rate = np.array(rate)
    return np.array(energy), rate / rate.sum()


def background_counts(detector: Hexitec, exposure_s: float) -> np.ndarray:
    """Expected counts per channel in each pixel from the W and Pb K fluorescence of the camera, shape (n_ch,).

    ``tungsten_k_ph_per_s`` and ``lead_k_ph_per_s`` photons per second per pixel, split over the K lines
    (:func:`fluorescence_lines`) and passed through :func:`response_matrix`.
    """
    t = arguments.positive("exposure_s", exposure_s, unit="s")
    out = np.zeros(detector.n_channels)
    for element, rate in (("W", detector.tungsten_k_ph_per_s), ("Pb", detector.lead_k_ph_per_s)):
        if rate > 0:
            energy, intensity = fluorescence_lines(element)
            out += response_matrix(detector, energy) @ (rate * t * intensity)
    return out


def frames(detector: Hexitec, exposure_s: float) -> int:
    """Number of frames in an exposure: ``round(frame_rate_hz x exposure_s)``, at least 1."""
    t = arguments.positive("exposure_s", exposure_s, unit="s")
    return max(1, int(round(detector.frame_rate_hz * t)))


def expected_counts(detector: Hexitec, photon_rate_ph_per_s: Any, energies_kev: Any = None, *,
                    exposure_s: float, matrices: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Expected counts per pixel and channel for incident photon rates, an exposure and the frame rate.

    ``apply_response(rate x exposure) + background_counts``, then the one-event-per-pixel-per-frame limit:
    with ``lambda = N / n_frames`` recorded events per frame the counts become ``N (1 - e^-lambda) / lambda``
    (spectrum shape kept).

    Parameters
    ----------
    detector : Hexitec
    photon_rate_ph_per_s : array_like, shape (..., n_energies)
        Photons per second incident on each pixel at each energy, >= 0.
    energies_kev : array_like, shape (n_energies,), optional
        Energies, keV (or give ``matrices``).
    exposure_s : float
        Acquisition time, s, > 0.
    matrices : (own, neighbours), optional
        Precomputed :func:`response_matrices`.

    Returns
    -------
    ndarray, shape (..., n_channels), float
    """
    t = arguments.positive("exposure_s", exposure_s, unit="s")
    rate = arguments.array("photon_rate_ph_per_s", photon_rate_ph_per_s, dtype_kind="iuf", finite=True)
    if np.any(rate < 0):
        raise ValueError("photon_rate_ph_per_s: expected rates >= 0, found negative values")
    out = apply_response(detector, rate * t, energies_kev, matrices=matrices)
    out = out + background_counts(detector, t)
    lam = out.sum(axis=-1, keepdims=True) / frames(detector, t)
    keep = np.where(lam > 0, -np.expm1(-lam) / np.where(lam > 0, lam, 1.0), 1.0)
    return out * keep


def counts(expected: Any, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """One Poisson draw of the expected counts, int64, same shape (``seed``: int or numpy Generator)."""
    lam = arguments.array("expected", expected, dtype_kind="iuf", finite=True)
    if np.any(lam < 0):
        raise ValueError("expected: expected counts >= 0, found negative values")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.poisson(lam).astype(np.int64)


def measure(detector: Hexitec, photon_rate_ph_per_s: Any, energies_kev: Any = None, *, exposure_s: float,
            seed: int | np.random.Generator | None = None,
            matrices: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Poisson counts for incident photon rates: :func:`counts` of :func:`expected_counts`."""
    return counts(expected_counts(detector, photon_rate_ph_per_s, energies_kev, exposure_s=exposure_s,
                                  matrices=matrices), seed)
