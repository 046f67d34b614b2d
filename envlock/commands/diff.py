"""`envlock diff A B`: a package-level diff between any two environment sources."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from envlock.errors import DeclarationError, EnvlockError, UsageError
from envlock.installed import probe
from envlock.kinds import ImageOnly
from envlock.lock_history import lock_at_revision
from envlock.lockfile import parse_lock_text, read_lock
from envlock.packages import Change, PackageSet, compare, from_content, from_inventory, from_lock
from envlock.refs import parse_reference
from envlock.registries import Registry
from envlock.repo import Repo
from envlock.settings import load_settings
from envlock.spec import load_environment
from envlock.yamlio import MAX_LOCK_BYTES, read_text

IMAGE_SOURCE = "image:"
CURATED_SOURCE = "curated:"


def load_source(repo: Repo, source: str, platform: str, registry_opener: object) -> PackageSet:
    """A lock file path, NAME (its current lock), NAME@REV, azureml:NAME:VERSION, installed, a prefix,
    image:REF (an image's inventory now) or curated:NAME[:VERSION] (a curated environment's image now)."""
    if source.startswith(IMAGE_SOURCE):
        return image_packages(repo, source[len(IMAGE_SOURCE):], source)
    if source.startswith(CURATED_SOURCE):
        from envlock.curated import curated_image, find_curated

        name, _, version = source[len(CURATED_SOURCE):].partition(":")
        definition = find_curated(repo, "azureml", name, version or None, None if version else "latest")
        return image_packages(repo, curated_image(definition), f"{source} ({definition.name}:{definition.version})")
    if source == "installed":
        return probe(None)[0]
    path = Path(source)
    if path.is_dir() and ((path / "conda-meta").is_dir() or (path / "bin" / "python").exists()):
        return probe(str(path), label=source)[0]
    if path.is_file():
        lock = parse_lock_text(path.stem, path.name, read_text(path, MAX_LOCK_BYTES), source=source)
        return from_lock(lock, platform, source)
    if source.startswith("azureml:") or source.startswith("azureml://"):
        ref = parse_reference(source)
        if ref.version is None:
            raise UsageError(f"'{source}': name an exact version, e.g. azureml:{ref.name}:3")
        registry: Registry = registry_opener()  # type: ignore[operator]
        stored = registry.get_version(ref.name, ref.version)
        if stored is None:
            raise EnvlockError(f"{source} is not registered in {registry.url}")
        if isinstance(stored.content, ImageOnly):
            packages = image_packages(repo, stored.content.image, source)  # image only: what the image holds
        else:
            packages = from_content(stored.content, source)
        return replace(packages, runtime=stored.runtime.described())
    if "@" in source:
        name, revision = source.split("@", 1)
        return from_lock(lock_at_revision(repo, name, revision), platform, source)
    if source in repo.environment_names():
        current = read_lock(source, repo.environments_dir / source, validate=True)
        if current is None:
            raise EnvlockError(f"{source} has no lock; run envlock lock {source}")
        try:
            runtime: dict[str, str] | None = load_environment(repo, source).runtime.described()
        except DeclarationError:
            runtime = None  # the lock's packages are still worth comparing
        return replace(from_lock(current, platform, source), runtime=runtime)
    raise UsageError(f"cannot read '{source}': give a lock file, NAME, NAME@REV, azureml:NAME:VERSION, "
                     "installed, a prefix path, image:REF or curated:NAME[:VERSION]")


def image_packages(repo: Repo, image: str, label: str) -> PackageSet:
    """The packages of the environment a job on this image runs in, read from its layers now."""
    from envlock.image_inventory import read_inventory
    from envlock.image_ref import parse_image

    inventory, _ = read_inventory(parse_image(image), dict(load_settings(repo.root).image_mirrors))
    return from_inventory(inventory, label)


def run_diff(repo: Repo, first: str, second: str, platform: str, registry_opener: object) -> list[Change]:
    return compare(load_source(repo, first, platform, registry_opener),
                   load_source(repo, second, platform, registry_opener))
