"""Conda solving in-process with py-rattler, for any target platform, through optional mirrors.

Mirrors only change where metadata is read from: every record keeps its canonical channel URL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from envlock.errors import DeclarationError, ServiceUnreachable, SolveError, indent
from envlock.extras import require_extra
from envlock.lockfile import LockedPackage
from envlock.platforms import TargetPlatform
from envlock.yamlio import line_of_list_item

CONDA_BASE = "https://conda.anaconda.org"


@dataclass(frozen=True)
class CondaRequest:
    """One conda solve: specs, channels and the platform to solve for."""

    specs: tuple[str, ...]
    channels: tuple[str, ...]
    platform: TargetPlatform
    mirrors: tuple[tuple[str, str], ...] = ()
    # (name, version, build) of the previous lock: kept where the specs allow (minimal churn).
    preferences: tuple[tuple[str, str, str], ...] = ()
    cache_dir: Path | None = None


def canonical_channel_url(channel: str) -> str:
    if "://" in channel:
        return channel.rstrip("/")
    return f"{CONDA_BASE}/{channel.strip('/')}"


def validate_specs(path: Path, specs: Sequence[str]) -> None:
    """Parse every spec as the solver will, so a typo is a declaration error before any solve."""
    require_extra("lock", "locking conda environments", "rattler")
    from rattler import MatchSpec
    from rattler.exceptions import InvalidMatchSpecError

    for spec in specs:
        try:
            MatchSpec(spec, strict=False)  # conda's own syntax, name=version=build included
        except InvalidMatchSpecError as exc:
            raise DeclarationError(path, f"invalid package spec '{spec}': {exc}", field="dependencies",
                                   line=line_of_list_item(path, spec),
                                   fix="write conda match specs such as numpy>=1.26 or python=3.10") from None


def solve_conda(request: CondaRequest) -> list[LockedPackage]:
    require_extra("lock", "locking conda environments", "rattler")
    from rattler import Channel, Gateway, GenericVirtualPackage, MatchSpec, PackageName, Version
    from rattler.exceptions import SolverError
    from rattler.networking import Client, MirrorMiddleware
    from rattler.package.build_string import BuildString
    from rattler.repo_data.multi_source import MultiSource
    from rattler.repo_data.sparse import SparseRepoData
    from rattler.solver import solve, solve_with_sparse_repodata

    subdirs = [request.platform.conda, "noarch"]
    sources: list[object] = []
    local_files: list[SparseRepoData] = []
    local_mirrors: list[str] = []
    remote_mirrors: dict[str, list[str]] = {}
    mirrors = dict(request.mirrors)
    for channel in request.channels:
        canonical = canonical_channel_url(channel)
        mirror = mirrors.get(channel) or mirrors.get(canonical)
        if mirror and mirror.startswith("file://"):
            local = Path(unquote(urlparse(mirror).path))
            parts = [_local_repodata(Channel(canonical), mirror, local, subdir) for subdir in subdirs
                     if (local / subdir / "repodata.json").is_file()]
            if not parts:
                raise SolveError(f"mirror {mirror} for channel {channel} has no "
                                 f"{request.platform.conda}/repodata.json or noarch/repodata.json")
            sources.append(MultiSource(channel, parts))
            local_files += parts
            local_mirrors.append(mirror)
        else:
            if mirror:
                remote_mirrors[canonical + "/"] = [mirror + "/"]
            sources.append(Channel(canonical))
    virtual = [
        GenericVirtualPackage(PackageName(name), Version(version), BuildString("0"))
        for name, version in request.platform.virtual_packages
    ]
    specs = [MatchSpec(spec, strict=False) for spec in request.specs]
    wanted = set(request.preferences)
    preferred_names = sorted({name for name, _, _ in wanted})

    def preferred(records: Sequence[Any]) -> list[Any]:
        return [record for record in records
                if (record.name.normalized, str(record.version), str(record.build)) in wanted]

    if len(sources) == 1 and local_files:
        # One channel, read from a local copy: its files are solved directly, two platforms side by
        # side in three quarters of the gateway's time. Not for several channels: the gateway's
        # strict priority passes over a channel with no record of a requested version, this does not.
        async def run() -> list[Any]:
            locked = [record for part in local_files for name in preferred_names
                      for record in preferred(part.load_records(name))]
            return await solve_with_sparse_repodata(specs, sources, locked_packages=locked,  # type: ignore[arg-type]
                                                    virtual_packages=virtual)
    else:
        gateway = Gateway(
            cache_dir=request.cache_dir,
            client=Client([MirrorMiddleware(remote_mirrors)]) if remote_mirrors else None,
        )

        async def run() -> list[Any]:
            locked: list[Any] = []
            if wanted:
                found = await gateway.query(sources, subdirs, preferred_names,  # type: ignore[arg-type]
                                            recursive=False)
                locked = [record for records in found for record in preferred(records)]
            return await solve(sources, specs, gateway=gateway, platforms=subdirs,  # type: ignore[arg-type]
                               virtual_packages=virtual, locked_packages=locked)

    try:
        records = asyncio.run(run())
    except SolverError as exc:
        raise SolveError(f"the conda specs cannot be solved for {request.platform.conda}:\n"
                         f"{indent(str(exc))}") from None
    except Exception as exc:  # rattler's gateway errors carry the failing URL
        # a record of a local copy that is not repodata: the sparse solve raises OSError, the
        # gateway (several channels) an error about the "sparse repodata" it read the copy into
        if local_files and (isinstance(exc, OSError) or "sparse repodata" in str(exc)):
            raise SolveError(f"mirror {', '.join(local_mirrors)}: a record for {request.platform.conda} is not "
                             f"conda repodata: {_first_line(str(exc))}\n  fix: copy its repodata.json again "
                             f"from the channel") from None
        if type(exc).__name__ in ("GatewayError", "FetchRepoDataError", "IoError"):
            raise ServiceUnreachable(f"cannot read conda metadata for {request.platform.conda}: "
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


def _local_repodata(channel: Any, mirror: str, folder: Path, subdir: str) -> Any:
    from rattler.repo_data.sparse import SparseRepoData

    path = folder / subdir / "repodata.json"
    try:
        return SparseRepoData(channel, subdir, path)
    except OSError as exc:
        raise SolveError(f"mirror {mirror}: {subdir}/repodata.json is not conda repodata: "
                         f"{_first_line(str(exc))}\n  fix: copy it again from the channel") from None


def _dependency_map(depends: Sequence[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for depend in depends:
        name, _, spec = depend.partition(" ")
        result[name] = spec.strip() or "*"
    return result


def _first_line(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip())[:400]
