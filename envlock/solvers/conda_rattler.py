"""Conda solving in-process with py-rattler, for any target platform, through optional mirrors.

Mirrors only change where metadata is read from: every record keeps its canonical channel URL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from envlock.errors import DeclarationError, SolveError
from envlock.lockfile import LockedPackage
from envlock.platforms import TargetPlatform

CONDA_BASE = "https://conda.anaconda.org"


@dataclass(frozen=True)
class CondaRequest:
    specs: tuple[str, ...]
    channels: tuple[str, ...]
    platform: TargetPlatform
    mirrors: tuple[tuple[str, str], ...] = ()
    # Exact pins (name, version, build) the solve must keep: `lock --update` pins all but the updated.
    pins: tuple[tuple[str, str, str], ...] = ()
    cache_dir: Path | None = None
    source_file: Path | None = None


def canonical_channel_url(channel: str) -> str:
    if "://" in channel:
        return channel.rstrip("/")
    return f"{CONDA_BASE}/{channel.strip('/')}"


def solve_conda(request: CondaRequest) -> list[LockedPackage]:
    from rattler import Channel, Gateway, GenericVirtualPackage, MatchSpec, PackageName, Version
    from rattler.exceptions import InvalidMatchSpecError, SolverError
    from rattler.package.build_string import BuildString
    from rattler.repo_data.multi_source import MultiSource
    from rattler.repo_data.sparse import SparseRepoData
    from rattler.networking import Client, MirrorMiddleware
    from rattler.solver import solve

    for spec in request.specs:
        try:
            MatchSpec(spec)
        except InvalidMatchSpecError as exc:
            raise DeclarationError(request.source_file or "conda file", f"invalid package spec '{spec}': {exc}",
                                   field="dependencies",
                                   fix="write conda match specs such as numpy>=1.26 or python=3.10") from None

    subdirs = [request.platform.conda, "noarch"]
    sources: list[object] = []
    remote_mirrors: dict[str, list[str]] = {}
    mirrors = dict(request.mirrors)
    for channel in request.channels:
        canonical = canonical_channel_url(channel)
        mirror = mirrors.get(channel) or mirrors.get(canonical)
        if mirror and mirror.startswith("file://"):
            local = Path(unquote(urlparse(mirror).path))
            parts = [
                SparseRepoData(Channel(canonical), subdir, local / subdir / "repodata.json")
                for subdir in subdirs
                if (local / subdir / "repodata.json").is_file()
            ]
            if not parts:
                raise SolveError(f"mirror {mirror} for channel {channel} has no "
                                 f"{request.platform.conda}/repodata.json or noarch/repodata.json")
            sources.append(MultiSource(channel, parts))
        else:
            if mirror:
                remote_mirrors[canonical + "/"] = [mirror + "/"]
            sources.append(Channel(canonical))
    gateway = Gateway(
        cache_dir=request.cache_dir,
        client=Client([MirrorMiddleware(remote_mirrors)]) if remote_mirrors else None,
    )
    virtual = [
        GenericVirtualPackage(PackageName(name), Version(version), BuildString("0"))
        for name, version in request.platform.virtual_packages
    ]
    constraints = [f"{name} =={version} {build}" for name, version, build in request.pins]
    try:
        records = asyncio.run(solve(
            sources,  # type: ignore[arg-type]
            list(request.specs), gateway=gateway, platforms=subdirs, virtual_packages=virtual,
            constraints=constraints,
        ))
    except SolverError as exc:
        raise SolveError(f"the conda specs cannot be solved for {request.platform.conda}:\n"
                         f"{_indent(str(exc))}") from None
    except Exception as exc:  # rattler's gateway errors carry the failing URL
        if type(exc).__name__ in ("GatewayError", "FetchRepoDataError", "IoError"):
            raise SolveError(f"cannot read conda metadata for {request.platform.conda}: "
                             f"{_first_line(str(exc))}") from None
        raise
    channel_by_url = {canonical_channel_url(c).rstrip("/"): c for c in request.channels}
    packages = []
    for record in records:
        channel_base = record.channel.rstrip("/")
        channel = channel_by_url.get(channel_base, channel_base)
        packages.append(LockedPackage(
            manager="conda",
            name=record.name.normalized,
            version=str(record.version),
            platform=request.platform.conda,
            # The canonical download URL: <channel>/<subdir>/<file>, whatever mirror served metadata.
            url=f"{canonical_channel_url(channel)}/{record.subdir}/{record.file_name}",
            sha256=record.sha256.hex() if record.sha256 else None,
            md5=record.md5.hex() if record.md5 else None,
            build=str(record.build),
            dependencies=tuple(sorted(_dependency_map(record.depends).items())),
        ))
    return sorted(packages, key=lambda p: p.name)


def _dependency_map(depends: Sequence[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for depend in depends:
        name, _, spec = depend.partition(" ")
        result[name] = spec.strip() or "*"
    return result


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.strip().splitlines())


def _first_line(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip())[:400]
