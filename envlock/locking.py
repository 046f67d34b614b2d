"""Turn one EnvironmentSpec into a Lock: conda solve per platform, then pip for what conda chose."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from envlock.kinds import Kind
from envlock.lockfile import Lock, LockedPackage
from envlock.platforms import TargetPlatform, target_platform
from envlock.settings import Settings
from envlock.solvers import resolver_versions
from envlock.solvers.conda_rattler import CondaRequest, solve_conda
from envlock.solvers.pip_uv import PipRequest, normalize_name, resolve_pip
from envlock.spec import EnvironmentSpec

# Conda packages published on PyPI under another name.
CONDA_TO_PYPI = {"python-tzdata": "tzdata", "pytorch": "torch", "pytorch-cpu": "torch"}


@dataclass(frozen=True)
class LockRequest:
    spec: EnvironmentSpec
    settings: Settings
    previous: Lock | None = None
    update: frozenset[str] = frozenset()
    upgrade_all: bool = False


def lock_environment(request: LockRequest) -> Lock:
    spec = request.spec
    # Platforms are independent solves (rattler in-process, uv as a subprocess): run them together.
    with ThreadPoolExecutor(max_workers=len(spec.settings.platforms)) as pool:
        per_platform = list(pool.map(lambda platform: _lock_platform(request, platform), spec.settings.platforms))
    return Lock(
        name=spec.name,
        kind=spec.kind,
        image=spec.image,
        platforms=spec.settings.platforms,
        channels=spec.channels,
        packages=tuple(package for packages in per_platform for package in packages),
        inputs_sha256=spec.inputs_sha256(),
        resolvers=resolver_versions(conda=spec.kind is Kind.IMAGE_CONDA, pip=bool(spec.pip_dependencies)),
        sources=(spec.conda_file.name,) if spec.conda_file else ("requirements.in",) if spec.pip_dependencies else (),
        python=spec.python,
    )


def _lock_platform(request: LockRequest, conda_platform: str) -> list[LockedPackage]:
    spec = request.spec
    platform = target_platform(conda_platform, spec.settings.virtual_packages)
    previous = request.previous.for_platform(conda_platform) if request.previous else []
    conda_packages: list[LockedPackage] = []
    if spec.kind is Kind.IMAGE_CONDA:
        conda_packages = solve_conda(CondaRequest(
            specs=spec.conda_dependencies,
            channels=spec.channels,
            platform=platform,
            mirrors=request.settings.mirrors,
            preferences=_conda_preferences(previous, request),
        ))
    if not spec.pip_dependencies:
        return conda_packages
    return conda_packages + _resolve_pip(spec, request, platform, conda_packages, previous)


def _conda_preferences(previous: list[LockedPackage], request: LockRequest) -> tuple[tuple[str, str, str], ...]:
    """The previous lock's conda packages, less those being updated: kept where still allowed."""
    if request.upgrade_all:
        return ()
    return tuple(
        (p.name, p.version, p.build or "*")
        for p in previous
        if p.manager == "conda" and p.name not in request.update
    )


def _resolve_pip(spec: EnvironmentSpec, request: LockRequest, platform: TargetPlatform,
                 conda_packages: list[LockedPackage], previous: list[LockedPackage]) -> list[LockedPackage]:
    python = next((p.version for p in conda_packages if p.name == "python"), spec.python)
    if python is None:  # the spec loader requires python for a pip section; this is a safety net
        raise ValueError(f"{spec.name}: no python version to resolve pip packages for")
    return resolve_pip(PipRequest(
        requirements=spec.pip_dependencies,
        python_version=python,
        platform=platform,
        index_url=request.settings.pip_index_url,
        provided=tuple(sorted(python_distributions(conda_packages).items())),
        preferences=tuple(sorted((p.name, p.version) for p in previous if p.manager == "pip")),
        upgrade=tuple(sorted(request.update)),
        upgrade_all=request.upgrade_all,
    ))


def python_distributions(conda_packages: Collection[LockedPackage]) -> dict[str, str]:
    """Conda packages that are Python distributions, by PyPI name: pip must not replace them."""
    from packaging.version import InvalidVersion, Version

    provided = {}
    for package in conda_packages:
        depends = dict(package.dependencies)
        if package.name == "python" or not ("python" in depends or "python_abi" in depends):
            continue
        try:
            Version(package.version)
        except InvalidVersion:
            continue
        provided[normalize_name(CONDA_TO_PYPI.get(package.name, package.name))] = package.version
    return provided
