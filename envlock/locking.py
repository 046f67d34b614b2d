"""Turn one EnvironmentSpec into a Lock: conda solve per platform, then pip for what conda chose."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from envlock.kinds import Kind
from envlock.lockfile import ContextLock, Lock, LockedInstall, LockedPackage, PinnedImage
from envlock.platforms import TargetPlatform, target_platform
from envlock.settings import Settings
from envlock.solvers import resolver_versions
from envlock.solvers.conda_rattler import CondaRequest, solve_conda
from envlock.sources import recordable_sources_sha256
from envlock.spec import EnvironmentSpec


@dataclass(frozen=True)
class LockRequest:
    """What to lock, with the previous lock to keep versions from and what to upgrade."""

    spec: EnvironmentSpec
    settings: Settings
    previous: Lock | None = None
    update: frozenset[str] = frozenset()
    upgrade_all: bool = False


def lock_environment(request: LockRequest) -> Lock:
    spec = request.spec
    if spec.context is not None:
        return lock_build_context(request)
    if spec.kind is Kind.IMAGE:
        return lock_image(spec, request.settings)
    sources_sha256 = recordable_sources_sha256(spec)  # the files as read, before the solve's seconds
    # Platforms are independent solves (rattler in-process, uv as a subprocess): run them together,
    # and ask the image's registry for its tag's digest meanwhile.
    pool = ThreadPoolExecutor(max_workers=len(spec.settings.platforms) + 1)
    try:
        image_digest = pool.submit(tag_digest, spec.image, request.settings)
        per_platform = list(pool.map(lambda platform: _lock_platform(request, platform), spec.settings.platforms))
        digest = image_digest.result()
    finally:  # a failed solve is reported at once, without waiting for a registry out of reach
        pool.shutdown(wait=False, cancel_futures=True)
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
        base_python=base_image_python(spec.image, request.settings) if spec.kind is Kind.BUILD_CONTEXT else None,
        image_digest=digest,
        sources_sha256=sources_sha256,
    )


def lock_build_context(request: LockRequest) -> Lock:
    """Each FROM image by digest, the base image's Python, and each installed file locked on its own."""
    from envlock.buildcontext import unresolvable_image
    from envlock.oci import parse_image, resolve_digest
    from envlock.spec import installed_spec

    spec = request.spec
    context = spec.context
    assert context is not None
    error = unresolvable_image(context)
    if error is not None:
        raise error
    images = []
    for line in context.dockerfile.images:
        reference = parse_image(line.image)
        digest = reference.digest or resolve_digest(reference, dict(request.settings.image_mirrors))
        images.append(PinnedImage(line.line, line.image, reference.pinned(digest)))
    base_python = None if context.dockerfile.installs_python else \
        base_image_python(images[-1].pinned, request.settings)
    previous = {i.path: i.lock for i in request.previous.context.installs} \
        if request.previous is not None and request.previous.context is not None else {}
    installs: list[LockedInstall] = []
    conda_python: str | None = None
    seen: set[str] = set()
    # Conda files first: a requirements file pip installs afterwards targets their Python.
    for installed in sorted(context.dockerfile.installs, key=lambda i: (i.manager != "conda", i.line)):
        if installed.path in seen:
            continue
        seen.add(installed.path)
        python = spec.settings.python or conda_python or base_python
        sub = installed_spec(spec, installed, python)
        locked = lock_environment(LockRequest(sub, request.settings, previous.get(installed.path), request.update,
                                              request.upgrade_all))
        if installed.manager == "conda":
            conda_python = next((p.version for p in locked.packages if p.name == "python"
                                 and p.manager == "conda"), conda_python)
        installs.append(LockedInstall(installed.line, installed.manager, installed.path, locked))
    installs.sort(key=lambda i: i.line)
    return Lock(
        name=spec.name, kind=Kind.BUILD_CONTEXT, image=images[-1].pinned, platforms=spec.settings.platforms,
        channels=(), packages=tuple(p for i in installs for p in i.lock.packages),
        inputs_sha256=spec.inputs_sha256(),
        resolvers=tuple(sorted({r for i in installs for r in i.lock.resolvers})),
        sources=tuple(i.path for i in installs), python=base_python, base_python=base_python,
        context=ContextLock(context.sha256, context.dockerfile_path, base_python, tuple(images), tuple(installs)),
    )


def base_image_python(image: str, settings: Settings) -> str | None:
    """The Python an image provides: PYTHON_VERSION in its config (official python images), else the
    one conda Python of the job's environment in its inventory (AML images). None when the image
    cannot be read (registry out of reach) or names no single Python."""
    import json

    from envlock.errors import EnvlockError
    from envlock.image_inventory import read_inventory
    from envlock.oci import RegistryClient, parse_image

    reference = parse_image(image)
    mirrors = dict(settings.image_mirrors)
    try:
        client = RegistryClient(reference, mirrors, timeout=30)
        _, manifest = client.platform_manifest(reference.digest or reference.tag or "latest")
        config_digest = str((manifest.document.get("config") or {}).get("digest", ""))
        with client.blob(config_digest) as stream:
            config = json.loads(stream.read(16 * 1024 * 1024))
        variables = dict(str(v).split("=", 1) for v in (config.get("config") or {}).get("Env") or [] if "=" in str(v))
        if variables.get("PYTHON_VERSION"):
            return variables["PYTHON_VERSION"]
        inventory, _ = read_inventory(reference, mirrors, timeout=30)
    except (EnvlockError, ValueError, AttributeError):
        return None
    versions = {p.version for p in inventory.in_environment() if p.manager == "conda" and p.name == "python"}
    return versions.pop() if len(versions) == 1 else None


def lock_image(spec: EnvironmentSpec, settings: Settings) -> Lock:
    """An image-only environment: the digest its reference names and what the image holds.

    Where the image's registry is out of reach (an air-gapped network), the lock is the image
    reference alone, as before inventories, and says so on stderr.
    """
    import sys

    from envlock.errors import ServiceUnreachable
    from envlock.image_inventory import read_inventory
    from envlock.image_lockfile import IMAGE_PLATFORM, locked_packages
    from envlock.image_ref import parse_image

    image = parse_image(spec.image)
    try:
        inventory, _ = read_inventory(image, dict(settings.image_mirrors))
    except ServiceUnreachable as error:
        sys.stderr.write(f"envlock: warning: {spec.name}: {error.message}; locked without the image's inventory\n")
        return Lock(name=spec.name, kind=Kind.IMAGE, image=spec.image, platforms=spec.settings.platforms,
                    channels=(), packages=(), inputs_sha256=spec.inputs_sha256(), resolvers=())
    return Lock(name=spec.name, kind=Kind.IMAGE, image=spec.image, platforms=(IMAGE_PLATFORM,), channels=(),
                packages=locked_packages(inventory), inputs_sha256=spec.inputs_sha256(), resolvers=(),
                image_digest=inventory.image_digest, inventory=inventory)


def tag_digest(image: str, settings: Settings) -> str | None:
    """The digest a base image's tag names now, recorded so `outdated` can tell when the tag moves.

    Best effort: a lock is made from channel metadata and does not need the image's registry, so
    an unreachable registry (an air-gapped network, mcr.microsoft.com out of reach) records nothing.
    """
    from envlock.errors import ImageError, ServiceUnreachable
    from envlock.image_ref import parse_image

    try:
        reference = parse_image(image)
        if reference.is_pinned:
            return None
        from envlock.oci import resolve_digest

        return resolve_digest(reference, dict(settings.image_mirrors), timeout=10)
    except (ImageError, ServiceUnreachable):
        return None


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
    from envlock.solvers.pip_uv import PipRequest, resolve_pip

    python = next((p.version for p in conda_packages if p.name == "python"), spec.python)
    if python is None:  # the spec loader requires python for a pip section; this is a safety net
        raise ValueError(f"{spec.name}: no python version to resolve pip packages for")
    return resolve_pip(PipRequest(
        requirements=spec.pip_dependencies,
        python_version=python,
        platform=platform,
        index_url=request.settings.pip_index_url,
        provided=tuple(sorted(python_distributions(conda_packages).items())),
        preferences=tuple(sorted((p.name, p.version) for p in previous if p.manager == "pip" and p.version)),
        upgrade=tuple(sorted(request.update)),
        upgrade_all=request.upgrade_all,
    ))


def python_distributions(conda_packages: Collection[LockedPackage]) -> dict[str, str]:
    """Conda packages that are Python distributions, by PyPI name: pip must not replace them."""
    from packaging.version import InvalidVersion, Version

    from envlock.pypi_names import pypi_name

    provided = {}
    for package in conda_packages:
        name = pypi_name(package)
        if name is None:
            continue
        try:
            Version(package.version)
        except InvalidVersion:
            continue
        provided[name] = package.version
    return provided
