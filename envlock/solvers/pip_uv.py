"""Pip resolution with uv for a target Python and platform (pip-tools can only resolve for the host).

Output is read from uv's pylock.toml (PEP 751), which lists every file with its URL and hash;
envlock keeps the files installable on the target platform.

One call per platform, not one `--universal` call for all: uv solves a universal resolution's
environments in order and prefers what an earlier one chose, so a platform can get an older version
than its own resolution gives (platforms [win-64, linux-64] locked tensorflow-io-gcs-filesystem
0.31.0 on linux-64 instead of 0.37.1), and the output does not show when that happened (issue 12).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import tomllib

from envlock.errors import ServiceUnreachable, SolveError, indent
from envlock.extras import require_extra
from envlock.fsutil import remove_stale_temp_dirs
from envlock.lockfile import LockedPackage
from envlock.network_limits import network_limits
from envlock.platforms import TargetPlatform
from envlock.processes import run_child


@dataclass(frozen=True)
class PipRequest:
    """One pip resolution for a target Python and platform, with what conda provides."""

    requirements: tuple[str, ...]
    python_version: str
    platform: TargetPlatform
    index_url: str
    # name -> version provided by conda; pip must agree with them and not install them again
    provided: tuple[tuple[str, str], ...] = ()
    # name -> version from the previous lock, kept unless upgraded
    preferences: tuple[tuple[str, str], ...] = ()
    upgrade: tuple[str, ...] = ()
    upgrade_all: bool = False


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


_uv_lookup = threading.Lock()


@functools.cache
def _uv_binary_cached() -> str:
    require_extra("lock", "resolving pip requirements", "uv")
    from uv import find_uv_bin

    return find_uv_bin()


PIP_TEMP_PREFIX = "envlock-pip-"


def uv_binary() -> str:
    # find_uv_bin reads sysconfig, whose first use is not thread-safe.
    with _uv_lookup:
        return _uv_binary_cached()


def resolve_pip(request: PipRequest) -> list[LockedPackage]:
    remove_stale_temp_dirs(PIP_TEMP_PREFIX)  # left by an envlock that was killed
    with tempfile.TemporaryDirectory(prefix=f"{PIP_TEMP_PREFIX}{os.getpid()}-") as temp:
        folder = Path(temp)
        (folder / "requirements.in").write_text("\n".join(request.requirements) + "\n")
        (folder / "constraints.txt").write_text(
            "".join(f"{name}=={version}\n" for name, version in request.provided)
        )
        if request.preferences and not request.upgrade_all:
            (folder / "pylock.toml").write_text(_preferences_pylock(request.preferences))
        command = [
            # The running interpreter only builds sdists for metadata; --python-version is the
            # target. Without these, uv looks for (and tries to download) the target's Python.
            uv_binary(), "pip", "compile", "--no-config", "--quiet", "--no-header",
            "--no-python-downloads", "--python", sys.executable,
            "requirements.in", "--constraint", "constraints.txt",
            "--python-version", request.python_version,
            "--python-platform", request.platform.uv_python_platform(),
            "--index-url", request.index_url, "--format", "pylock.toml", "-o", "pylock.toml",
        ]
        for package in request.upgrade:
            command += ["--upgrade-package", package]
        if request.upgrade_all:
            command.append("--upgrade")
        result = run_child(command, cwd=folder, env=_uv_environment(request.platform),
                           capture_output=True, text=True)
        if result.returncode != 0:
            message, unreachable = _explain_failure(result.stderr, request)
            raise (ServiceUnreachable if unreachable else SolveError)(message)
        document = tomllib.loads((folder / "pylock.toml").read_text())
    provided = {normalize_name(name) for name, _ in request.provided}
    supported = _supported_tags(request.python_version, request.platform)
    packages = []
    for entry in document.get("packages", []):
        if normalize_name(entry["name"]) in provided:
            continue
        packages.append(_locked(entry, request, supported))
    return sorted(packages, key=lambda p: p.name)


def _locked(entry: dict[str, Any], request: PipRequest, supported: dict[str, int]) -> LockedPackage:
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    name, version = normalize_name(entry["name"]), str(entry.get("version", ""))
    platform = request.platform.conda
    if "vcs" in entry:
        vcs = entry["vcs"]
        url = f"git+{_public_url(vcs['url'])}@{vcs['commit-id']}"
        return LockedPackage("pip", name, version, platform, url, None)
    ranked: list[tuple[int, str, str]] = []
    for wheel in entry.get("wheels", []):
        filename = wheel.get("name") or wheel["url"].rsplit("/", 1)[-1]
        try:
            tags = parse_wheel_filename(filename)[3]
        except InvalidWheelFilename:
            continue
        ranks = [supported[str(tag)] for tag in tags if str(tag) in supported]
        if ranks:
            ranked.append((min(ranks), wheel["url"], wheel["hashes"]["sha256"]))
    if ranked:
        ranked.sort()
        _, url, sha256 = ranked[0]
        hashes = tuple(sorted({digest for _, _, digest in ranked}))
        return LockedPackage("pip", name, version, platform, _public_url(url), sha256, hashes=hashes)
    sdist = entry.get("sdist")
    if sdist:
        digest = sdist["hashes"]["sha256"]
        return LockedPackage("pip", name, version, platform, _public_url(sdist["url"]), digest,
                             hashes=(digest,))
    raise SolveError(f"pip package {name} {version} has no file that installs on {platform} "
                     f"with Python {request.python_version}")


def _supported_tags(python_version: str, platform: TargetPlatform) -> dict[str, int]:
    """Every wheel tag the target accepts, ranked as pip ranks them (lower is preferred)."""
    from packaging.tags import compatible_tags, cpython_tags

    major, minor = (int(part) for part in python_version.split(".")[:2])
    platforms = platform.wheel_platform_tags()
    ordered = [
        # the target's ABI (conda's default CPython build), not the running interpreter's build flags
        *cpython_tags((major, minor), abis=[f"cp{major}{minor}{'m' if (major, minor) < (3, 8) else ''}"],
                      platforms=platforms),
        *compatible_tags((major, minor), interpreter=f"cp{major}{minor}", platforms=platforms),
    ]
    ranks: dict[str, int] = {}
    for rank, tag in enumerate(ordered):
        ranks.setdefault(str(tag), rank)
    return ranks


def _public_url(url: str) -> str:
    """The URL without credentials; a lockfile never holds them, nor a local file path."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise SolveError(f"a pip package resolved to {parts.scheme}: {url.split('@')[-1]}; "
                         "locks only reference index URLs reachable by every machine")
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _preferences_pylock(preferences: tuple[tuple[str, str], ...]) -> str:
    lines = ['lock-version = "1.0"', 'created-by = "envlock"', ""]
    for name, version in preferences:
        lines += ["[[packages]]", f'name = "{name}"', f'version = "{version}"', ""]
    return "\n".join(lines)


# uv settings that tune the network but cannot change a resolution's result.
PASSED_THROUGH = ("UV_CACHE_DIR", "UV_OFFLINE", "UV_HTTP_TIMEOUT", "UV_HTTP_RETRIES")


def _uv_environment(platform: TargetPlatform) -> dict[str, str]:
    # The host's pip/uv configuration (extra local indexes, constraints) must not leak into locks.
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("PIP_", "UV_")) or key in PASSED_THROUGH
    }
    environment["NO_COLOR"] = "1"
    # uv waits 30 s per read and retries 3 times by default: envlock's limits apply to it as well
    limits = network_limits()
    environment.setdefault("UV_HTTP_TIMEOUT", str(max(1, round(limits.read_timeout))))
    environment.setdefault("UV_HTTP_RETRIES", str(limits.retries))
    if platform.system == "osx":
        environment["MACOSX_DEPLOYMENT_TARGET"] = platform.virtual_version("__osx") or "12.0"
    return environment


def _explain_failure(stderr: str, request: PipRequest) -> tuple[str, bool]:
    """uv's failure as one message, and whether it is the index that could not be reached."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", stderr).strip()
    target = f"Python {request.python_version} on {request.platform.conda}"
    lowered = text.lower()
    if any(marker in lowered for marker in ("failed to fetch", "connect", "dns error", "timed out")) \
            and "not found in the package registry" not in lowered:
        return (f"cannot reach the pip index {request.index_url} while resolving for {target}:\n"
                f"{indent(text)}\n  fix: check the network or pip_index_url in envlock.yaml"), True
    if "not found in the package registry" in lowered:
        return (f"unknown pip package while resolving for {target}:\n{indent(text)}\n"
                "  fix: correct the package name in the declaration"), False
    return f"the pip requirements cannot be resolved for {target}:\n{indent(text)}", False
