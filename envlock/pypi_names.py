"""Which conda packages are Python distributions, and their names on PyPI.

A conda record is a Python project when it depends on `python` or `python_abi` (noarch: python
packages depend on python; compiled ones on python_abi). Most keep their PyPI name; the few
that do not are listed here.
"""

from __future__ import annotations

from envlock.lockfile import LockedPackage
from envlock.solvers.pip_uv import normalize_name

# conda-forge name -> PyPI name, where they differ
CONDA_TO_PYPI = {
    "python-tzdata": "tzdata",
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "py-xgboost-gpu": "xgboost",
    "tensorflow-base": "tensorflow",
    "matplotlib-base": "matplotlib",
    "pyqt": "pyqt5",
    "msgpack-python": "msgpack",
    "typing_extensions": "typing-extensions",
}
# Python itself is no PyPI project (CPython advisories are not in the PyPI ecosystem).
NOT_PYTHON_PROJECTS = frozenset({"python", "python_abi"})


def pypi_name(package: LockedPackage) -> str | None:
    """The PyPI name to check a locked package under, or None when PyPI has no such project."""
    if package.manager == "pip":
        return normalize_name(package.name)
    depends = dict(package.dependencies)
    if package.name in NOT_PYTHON_PROJECTS or not ("python" in depends or "python_abi" in depends):
        return None
    return normalize_name(CONDA_TO_PYPI.get(package.name, package.name))
