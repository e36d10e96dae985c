"""Safe file writing: atomic replacement and no silent overwrite.

An interrupted run leaves either the old file or the new one, never half of
one (DESIGN.md, "Errors and data"): writers produce a temporary file in the
destination folder, which is renamed over the target only once complete.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np


def check_writable(path: str | os.PathLike, overwrite: bool) -> Path:
    """Return ``path`` as a Path, refusing an existing file unless ``overwrite``."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(f"{p}: is a directory, expected a file path")
    if p.exists() and not overwrite:
        raise FileExistsError(
            f"{p}: file exists; pass overwrite=True (or --force on the command line) to replace it"
        )
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix so that libraries that pick
    a format from the extension (VTK, PNG) behave. On an exception the
    temporary file is removed and ``path`` is left as it was.

    Parameters
    ----------
    path : path-like
        Final destination.
    overwrite : bool
        Replace an existing file. Without it an existing ``path`` raises
        ``FileExistsError`` before anything is written.
    """
    target = check_writable(path, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # A second check closes the window in which another process created the file.
        check_writable(target, overwrite)
        # mkstemp creates mode 0600; give the file the permissions a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str, *, overwrite: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def hdf5_text(value: Any) -> str:
    """An HDF5 attribute or scalar dataset as text: bytes decoded as UTF-8, a one-element array unwrapped."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray):
        return hdf5_text(value.ravel()[0]) if value.size else ""
    return str(value)
