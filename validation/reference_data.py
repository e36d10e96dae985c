"""Readers for the independent reference tables in ``../shared/data``.

The validation and the tests compare xtwin with data that nobody on the
team computed (DESIGN.md, "Physics"); ``shared/data/SOURCES.md`` gives the
origin and licence of every file. The readers here only parse: they hold
no physics beyond log-log interpolation between tabulated points.

The data folder is ``$XTWIN_REFERENCE_DATA`` if that is set, else
``<repository root>/../shared/data``.

Returned arrays are cached and read-only; copy them before modifying.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import xraylib

#: Environment variable that points at the reference data folder.
DATA_ENV = "XTWIN_REFERENCE_DATA"

_NIST_DIR = Path("attenuation") / "nist_hubbell_seltzer"
_XCOM_FILES = {"photoabsorption": "xcom_elam_photoabsorption.csv", "scattering": "xcom_elam_scattering.csv"}
_BIGGS_FILE = Path("compton") / "biggs1975_compton_profiles_selected.dat"
_FFAST_DIR = Path("attenuation") / "ffast_chantler"
_FFAST_COLUMNS = ("energy_kev", "f1", "f2", "photo_cm2_g", "coh_inc_cm2_g", "total_cm2_g", "k_cm2_g",
                  "wavelength_nm")


def data_dir() -> Path:
    """Return the reference data folder.

    Returns
    -------
    Path
        ``$XTWIN_REFERENCE_DATA`` if set, else ``<repo>/../shared/data``,
        where ``<repo>`` is the folder that holds the ``validation`` package.

    Raises
    ------
    FileNotFoundError
        If the folder does not exist; the message says what to set.
    """
    env = os.environ.get(DATA_ENV)
    folder = Path(env) if env else Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    if not folder.is_dir():
        origin = f"{DATA_ENV}={env!r}" if env else f"the default location (no {DATA_ENV} set)"
        raise FileNotFoundError(
            f"reference data folder {folder} not found, from {origin}; set the environment variable "
            f"{DATA_ENV} to the folder that holds attenuation/ and compton/ (shared/data of the xtwin project)")
    return folder


def _frozen(a: np.ndarray) -> np.ndarray:
    # Cached arrays are shared between callers: make them read-only so that one caller cannot corrupt another's.
    a = np.ascontiguousarray(a, dtype=float)
    a.flags.writeable = False
    return a


def _data_lines(path: Path) -> list[str]:
    """Non-empty lines of ``path`` that are not ``#`` comments."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: reference file missing from the data folder {data_dir()}")
    return [s for s in (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
            if s and not s.startswith("#")]


# ---------------------------------------------------------------------- NIST Hubbell & Seltzer
def nist_names() -> list[str]:
    """Names of the NIST tables present (file stems: ``"z28"``, ``"water"``)."""
    return sorted(p.stem for p in (data_dir() / _NIST_DIR).glob("*.csv"))


def _nist_stem(name: str | int) -> str:
    if isinstance(name, (int, np.integer)) and not isinstance(name, bool):
        stem = f"z{int(name):02d}"
    elif isinstance(name, str) and name in nist_names():
        stem = name
    else:
        try:
            stem = f"z{xraylib.SymbolToAtomicNumber(str(name)):02d}"
        except ValueError:
            stem = ""
    if stem not in nist_names():
        raise ValueError(f"name={name!r}: expected one of the NIST tables {', '.join(nist_names())}, "
                         f"an element symbol or an atomic number among them")
    return stem


@functools.lru_cache(maxsize=None)
def _read_nist(path: Path) -> tuple[np.ndarray, np.ndarray]:
    table = np.array([line.split(",") for line in _data_lines(path)], dtype=float)
    # The header says "meV" but the values are MeV (SOURCES.md): 1e-3 MeV = 1 keV is the first row.
    return _frozen(table[:, 0] * 1e3), _frozen(table[:, 1])


def nist_mass_attenuation(name: str | int) -> tuple[np.ndarray, np.ndarray]:
    """Tabulated NIST mass attenuation coefficients (Hubbell & Seltzer, NIST SRD 126).

    Parameters
    ----------
    name : str or int
        File stem (``"z28"``, ``"water"``), element symbol (``"Ni"``) or
        atomic number (28) of one of the tables in
        ``attenuation/nist_hubbell_seltzer``.

    Returns
    -------
    energy_kev : ndarray, shape (n,)
        Photon energies, keV, ascending; an absorption edge appears as the
        same energy twice (value below the edge first).
    mu_rho_cm2_g : ndarray, shape (n,)
        Total mass attenuation coefficient with coherent scattering, cm2/g.
    """
    return _read_nist(data_dir() / _NIST_DIR / f"{_nist_stem(name)}.csv")


def loglog_interpolate(x_table: np.ndarray, y_table: np.ndarray, x: float | np.ndarray) -> np.ndarray:
    """Log-log interpolation in a table whose discontinuities are repeated abscissae.

    Each query uses the pair ``x_table[i] <= x < x_table[i + 1]``; a repeated
    abscissa (an absorption edge) is a zero-width pair that no query falls
    into, so no interpolation straddles an edge. A query exactly at an edge
    takes the value above it; the last tabulated point is included.

    Parameters
    ----------
    x_table, y_table : ndarray, shape (n,)
        Positive abscissae, ascending (repeats allowed), and positive values.
    x : float or ndarray
        Query points within ``[x_table[0], x_table[-1]]``.

    Returns
    -------
    ndarray
        Interpolated values, shape of ``x``, exactly the tabulated value at a
        tabulated point. O(n_query log n).
    """
    xq = np.asarray(x, dtype=float)
    if np.any(~np.isfinite(xq) | (xq < x_table[0]) | (xq > x_table[-1])):
        raise ValueError(f"x={x!r}: expected values within the table, [{x_table[0]:g}, {x_table[-1]:g}]")
    i = np.clip(np.searchsorted(x_table, xq, side="right") - 1, 0, len(x_table) - 2)
    lx, ly = np.log(x_table), np.log(y_table)
    t = (np.log(xq) - lx[i]) / (lx[i + 1] - lx[i])
    y = np.exp(ly[i] + t * (ly[i + 1] - ly[i]))
    # exp(log(y)) may be off by an ulp: return tabulated points exactly.
    return np.where(xq == x_table[i], y_table[i], np.where(xq == x_table[i + 1], y_table[i + 1], y))


def nist_interpolate(name: str | int, energy_kev: float | np.ndarray) -> np.ndarray:
    """NIST mu/rho at arbitrary energies by log-log interpolation that respects edges.

    Parameters
    ----------
    name : str or int
        Table, as for :func:`nist_mass_attenuation`.
    energy_kev : float or ndarray
        Photon energies, keV, within the table (1 keV - 20 MeV).

    Returns
    -------
    ndarray
        mu/rho, cm2/g, shape of ``energy_kev``. Exact at tabulated energies;
        at an edge energy, the value above the edge.
    """
    e, mu = nist_mass_attenuation(name)
    try:
        return loglog_interpolate(e, mu, energy_kev)
    except ValueError:
        raise ValueError(f"energy_kev={energy_kev!r}: expected energies within the NIST table of {name!r}, "
                         f"[{e[0]:g}, {e[-1]:g}] keV") from None


# ---------------------------------------------------------------------- XCOM via elam.dat
@functools.lru_cache(maxsize=None)
def _read_xcom(path: Path) -> dict[str, dict[str, np.ndarray]]:
    lines = _data_lines(path)
    header = lines[0].split(",")
    if header[:2] != ["element", "energy_eV"]:
        raise ValueError(f"{path}: expected a header 'element,energy_eV,...', got {lines[0]!r}")
    rows = np.array([line.split(",") for line in lines[1:]])
    elements, values = rows[:, 0], rows[:, 1:].astype(float)
    # Column names in cm2/g spelt the xtwin way: "photo_cm2_per_g" -> "photo_cm2_g".
    names = ["energy_kev"] + [h.replace("_cm2_per_g", "_cm2_g") for h in header[2:]]
    scale = np.array([1e-3] + [1.0] * (len(names) - 1))
    out = {}
    for symbol in dict.fromkeys(elements):  # file order, each element once
        block = values[elements == symbol] * scale
        out[str(symbol)] = {n: _frozen(block[:, j]) for j, n in enumerate(names)}
    return out


def xcom_elam(kind: str) -> dict[str, dict[str, np.ndarray]]:
    """Partial cross sections of NIST XCOM v2.1 as stored in elam.dat (Elam, Ravel & Sieber 2002).

    Parameters
    ----------
    kind : {"photoabsorption", "scattering"}
        Which file: ``xcom_elam_photoabsorption.csv`` or
        ``xcom_elam_scattering.csv``.

    Returns
    -------
    dict
        Element symbol -> dict of arrays, shape (n,): ``"energy_kev"`` (keV,
        ascending, edges repeated) and ``"photo_cm2_g"`` for
        photoabsorption, or ``"coherent_cm2_g"`` and ``"incoherent_cm2_g"``
        for scattering (all cm2/g).
    """
    if kind not in _XCOM_FILES:
        raise ValueError(f"kind={kind!r}: expected one of {', '.join(map(repr, _XCOM_FILES))}")
    return _read_xcom(data_dir() / "attenuation" / _XCOM_FILES[kind])


# ---------------------------------------------------------------------- Biggs Compton profiles
@functools.lru_cache(maxsize=None)
def _read_biggs(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: reference file missing from the data folder {data_dir()}")
    # DABAX layout (see the file's #C lines): '#S Z symbol' opens a block whose data rows are
    # pz, total J, then per-electron sub-shell profiles.
    blocks: dict[str, list[list[float]]] = {}
    rows: list[list[float]] | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if s.startswith("#S"):
            rows = blocks.setdefault(s.split()[2], [])
        elif s and not s.startswith("#") and rows is not None:
            rows.append([float(v) for v in s.split()[:2]])
    return {sym: (_frozen(np.array(r)[:, 0]), _frozen(np.array(r)[:, 1])) for sym, r in blocks.items()}


def biggs_compton_profile(symbol: str) -> tuple[np.ndarray, np.ndarray]:
    """Hartree-Fock atomic Compton profile of Biggs, Mendelsohn & Mann (1975).

    From the DABAX extract ``compton/biggs1975_compton_profiles_selected.dat``
    (H, Li, C, O, Al, Mn, Co, Ni).

    Parameters
    ----------
    symbol : str
        Element symbol, e.g. ``"Ni"``.

    Returns
    -------
    pz_au : ndarray, shape (31,)
        Electron momentum projection, atomic units, 0 to 100.
    j_total : ndarray, shape (31,)
        Total profile of the atom, electrons per atomic unit of momentum,
        one side: 2 * integral_0^inf J dpz = Z (to about 1 % on this grid).
    """
    table = _read_biggs(data_dir() / _BIGGS_FILE)
    if symbol not in table:
        raise ValueError(f"symbol={symbol!r}: expected one of the tabulated elements {', '.join(table)}")
    return table[symbol]


# ---------------------------------------------------------------------- FFAST (Chantler)
@functools.lru_cache(maxsize=None)
def _read_ffast(path: Path) -> dict[str, np.ndarray]:
    table = np.array([line.split() for line in _data_lines(path)], dtype=float)
    return {n: _frozen(table[:, j]) for j, n in enumerate(_FFAST_COLUMNS)}


def ffast_chantler(z: int) -> dict[str, np.ndarray]:
    """FFAST form factors and cross sections of Chantler (coarse grid).

    Parameters
    ----------
    z : int
        Atomic number of a tabulated element (1, 3, 6, 8, 13, 28).

    Returns
    -------
    dict
        Arrays of shape (n,): ``energy_kev`` (keV), ``f1``, ``f2`` (electrons
        per atom), ``photo_cm2_g``, ``coh_inc_cm2_g``, ``total_cm2_g``,
        ``k_cm2_g`` (K-shell part; all cm2/g) and ``wavelength_nm``. Edges
        are not repeated: the grid steps over them.
    """
    valid = isinstance(z, (int, np.integer)) and not isinstance(z, bool)
    path = data_dir() / _FFAST_DIR / f"{int(z) if valid else 0:02d}.dat"
    if not (valid and path.is_file()):
        available = sorted(int(p.stem) for p in (data_dir() / _FFAST_DIR).glob("*.dat"))
        raise ValueError(f"z={z!r}: expected one of the tabulated atomic numbers {available}")
    return _read_ffast(path)
