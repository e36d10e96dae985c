"""xtwin: a digital twin of X-ray experiments on battery materials.

The physics lives in the import packages ``twin`` (virtual samples),
``forward`` (instruments and forward models), ``inverse`` (reconstruction
and fitting) and ``validation`` (round trips and reports). This package
holds what they share: the version, argument checks, safe file writing and
the ``xtwin`` command line.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("xtwin")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
