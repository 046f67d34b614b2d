"""What is installed: probe a running interpreter and its prefix, or read installer output.

The probe runs inside the target interpreter (any Python, no envlock needed there) and reports
pip distributions through importlib.metadata and conda packages through conda-meta/*.json.
"""

from __future__ import annotations

import json
import platform as host_platform
import re
import subprocess
import sys
from pathlib import Path

from packaging.utils import canonicalize_name as normalize_name

from envlock.errors import EnvlockError
from envlock.packages import Key, PackageSet

PROBE = r"""
import glob, json, os, sys, platform
from importlib import metadata
dists = []
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name:
        continue
    installer = (dist.read_text("INSTALLER") or "").strip()
    version = dist.version
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        direct = {}
    vcs = direct.get("vcs_info") or {}
    if vcs.get("vcs") and vcs.get("commit_id"):  # installed from git: the URL and commit are the pin
        version = vcs["vcs"] + "+" + direct["url"] + "@" + vcs["commit_id"]
    dists.append({"name": name, "version": version, "installer": installer})
conda = []
for path in glob.glob(os.path.join(sys.prefix, "conda-meta", "*.json")):
    with open(path) as handle:
        record = json.load(handle)
    conda.append({"name": record["name"], "version": record["version"], "build": record.get("build")})
print(json.dumps({"prefix": sys.prefix, "system": platform.system(), "machine": platform.machine(),
                  "python": platform.python_version(), "dists": dists, "conda": conda,
                  "has_conda_meta": os.path.isdir(os.path.join(sys.prefix, "conda-meta"))}))
"""


def host_conda_platform(system: str | None = None, machine: str | None = None) -> str:
    system = (system or host_platform.system()).lower()
    machine = (machine or host_platform.machine()).lower()
    arch = {"x86_64": "64", "amd64": "64", "aarch64": "aarch64", "arm64": "arm64"}.get(machine, machine)
    prefix = {"linux": "linux", "darwin": "osx", "windows": "win"}.get(system, system)
    if prefix == "linux" and arch == "arm64":
        arch = "aarch64"
    return f"{prefix}-{arch}"


def probe(python: str | None = None, label: str = "installed") -> tuple[PackageSet, str]:
    """The packages a Python environment has, and its conda platform."""
    executable = python or sys.executable
    if Path(executable).is_dir():  # a prefix: use its interpreter
        candidates = [Path(executable) / "bin" / "python", Path(executable) / "python.exe"]
        executable = str(next((c for c in candidates if c.exists()), candidates[0]))
    try:
        # -I: isolated, so neither the working directory nor PYTHON* variables add distributions
        result = subprocess.run([executable, "-I", "-c", PROBE], capture_output=True, text=True, timeout=120)
    except OSError as error:
        raise EnvlockError(f"cannot run {executable}: {error}") from None
    if result.returncode != 0:
        raise EnvlockError(f"cannot inspect {executable}: {result.stderr.strip()[-300:]}")
    report = json.loads(result.stdout)
    packages: dict[Key, tuple[str, str | None]] = {}
    for record in report["conda"]:
        packages[("conda", record["name"])] = (record["version"], record.get("build"))
    for dist in report["dists"]:
        if dist["installer"] == "conda":
            continue  # a conda package's Python metadata; conda-meta already has it
        packages[("pip", normalize_name(dist["name"]))] = (dist["version"], None)
    platform = host_conda_platform(report["system"], report["machine"])
    return PackageSet(f"{label} ({report['prefix']})", packages, has_conda=report["has_conda_meta"],
                      python=report["python"]), platform


_EXPLICIT = re.compile(r"^(?:https?|file)://\S+/([^/\s#]+?)(?:\.conda|\.tar\.bz2)(?:#\S+)?$")
_LINK_LINE = re.compile(r"^\s+(\S+)\s+\S+::(\S+)\s*$")
_MAMBA_LINE = re.compile(r"^\s*\+\s+(\S+)\s+(\S+)\s+(\S+)\s+\S+")
# What comes before each line of an image build log: BuildKit's "#12 3.456 ", AML's
# "2024-09-05T15:26:38: " and ACR's "2020/01/23 04:40:19 ".
_LOG_PREFIX = re.compile(r"^(?:#\d+ [\d.]+ |\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?:? |"
                         r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} )")
# conda env create prints no plan, only its downloads: "numpy-1.26.4  | 7.0 MB  | ##### | 100%"
_DOWNLOAD_LINE = re.compile(r"^([A-Za-z0-9_.\-]+)-([^-\s|]+)\s+\|\s+[\d.]+\s*[KMG]?B\s+\|")
_FREEZE_URL = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)\s*@\s*(git\+\S+)$")
_FREEZE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\-]*)\s*==\s*(\S+)$")


def parse_installer_output(text: str, label: str) -> PackageSet:
    """pip freeze, conda list --explicit, or an AML image build log (pip and conda lines)."""
    packages: dict[Key, tuple[str, str | None]] = {}
    saw_conda = False
    for raw in text.splitlines():
        line = _LOG_PREFIX.sub("", raw)
        if match := _EXPLICIT.match(line.strip()):
            name, version, build = match.group(1).rsplit("-", 2)
            packages[("conda", name)] = (version, build)
            saw_conda = True
        elif "Successfully installed " in line:
            for item in line.split("Successfully installed ", 1)[1].split():
                name, _, version = item.rpartition("-")
                if name:
                    packages[("pip", normalize_name(name))] = (version, None)
        elif (match := _LINK_LINE.match(line)) and match.group(2).count("-") >= 2:
            name, version, build = match.group(2).rsplit("-", 2)
            packages[("conda", name)] = (version, build)
            saw_conda = True
        elif match := _DOWNLOAD_LINE.match(line.strip()):
            packages.setdefault(("conda", match.group(1)), (match.group(2), None))
            saw_conda = True
        elif match := _MAMBA_LINE.match(line):
            packages[("conda", match.group(1))] = (match.group(2), match.group(3))
            saw_conda = True
        elif (match := _FREEZE_URL.match(line.strip())) or (match := _FREEZE.match(line.strip())):
            packages[("pip", normalize_name(match.group(1)))] = (match.group(2), None)
    if not packages:
        raise EnvlockError(f"{label}: no packages found; expected pip freeze, conda list --explicit "
                           "or an image build log")
    return PackageSet(label, packages, has_conda=saw_conda)
