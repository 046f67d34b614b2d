"""`envlock check`: the offline CI gate. Imports no solver and no azure-ai-ml."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from envlock.errors import DeclarationError
from envlock.findings import Finding
from envlock.fsutil import folder_entries
from envlock.kinds import Kind
from envlock.lockfile import LockHeader, read_header
from envlock.repo import ENV_FILE, NO_DECLARATION, NO_DECLARATION_FIX, Repo, declaration_file
from envlock.settings import Settings, load_settings
from envlock.sources import declared_as_locked

if TYPE_CHECKING:
    from envlock.spec import EnvironmentSpec

IMAGE_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def run_check(repo: Repo, names: list[str], *, strict: bool = False, all_environments: bool = False
              ) -> list[Finding]:
    try:
        settings = load_settings(repo.root)
    except DeclarationError as exc:
        return [Finding("*", "invalid-declaration", "error", repo.relative(exc.path), exc.problem, exc.fix or "",
                        exc.line, exc.field)]
    findings: list[Finding] = [
        Finding(folder.name, "no-declaration", "error", repo.relative(folder), NO_DECLARATION, NO_DECLARATION_FIX)
        for folder in (repo.undeclared_folders(set(names)) if all_environments else [])
    ]
    if not names:
        return [_nothing_declared(repo)]
    for name in names:
        findings += _check_environment(repo, name, settings, strict)
    return findings


def _nothing_declared(repo: Repo) -> Finding:
    """A gate that found nothing to check has not passed: say where declarations were looked for."""
    misnamed = sorted(repo.relative(p) for p in repo.environments_dir.glob("*/*")
                      if p.name in ("env.yaml", "environment.yml", "environment.yaml", "env.yml.txt"))
    hint = f" ({', '.join(misnamed)} must be named env.yml)" if misnamed else ""
    return Finding("*", "no-environments", "error", repo.relative(repo.environments_dir),
                   f"no environment declared: no environments/<name>/env.yml{hint}",
                   "add environments/<name>/env.yml (an AML environment YAML), or run from the right repository")


def _check_environment(repo: Repo, name: str, settings: Settings, strict: bool) -> list[Finding]:
    folder = repo.environments_dir / name
    entries = folder_entries(folder)  # one read of the folder for the lock and the sources both
    header = read_header(folder, entries)
    if declared_as_locked(header, settings, name, folder, entries):
        assert header is not None
        return _image_findings(repo, name, header.image or "", strict)
    return _parsed_environment_findings(repo, name, settings, strict, header)


def _image_findings(repo: Repo, name: str, image: str, strict: bool) -> list[Finding]:
    if IMAGE_DIGEST.search(image):
        return []
    env_file = declaration_file(repo.environments_dir / name) or repo.environments_dir / name / ENV_FILE
    return [Finding(name, "image-tag", "error" if strict else "warning", repo.relative(env_file),
                    f"base image '{image}' is given by tag, which can move",
                    "pin it by digest: image: <repo>@sha256:<digest>")]


def _parsed_environment_findings(repo: Repo, name: str, settings: Settings, strict: bool,
                                 header: LockHeader | None) -> list[Finding]:
    from envlock.spec import load_environment  # only for a declaration its lock cannot vouch for

    relative = repo.relative
    try:
        spec = load_environment(repo, name, settings)
    except DeclarationError as exc:
        return [Finding(name, "invalid-declaration", "error", relative(exc.path), exc.problem,
                        exc.fix or "", exc.line, exc.field)]
    findings = [
        Finding(name, "unpinned-pip", "error", relative(p.path), p.message, p.fix, p.line, p.field)
        for p in spec.policy_problems
    ]
    # Paths are made relative (a resolve() each) only for a finding: most environments have none.
    if spec.context is not None:
        findings += _dockerfile_findings(spec, repo, strict, locked=header is not None)
    else:
        findings += _image_findings(repo, name, spec.image, strict)
    if header is not None:
        findings += _python_findings(spec, repo, header.base_python)
    if header is None:
        findings.append(Finding(name, "missing-lock", "error", relative(spec.folder),
                                "no lock file", f"run envlock lock {name}"))
        return findings
    if not header.is_untouched:
        findings.append(Finding(name, "edited-lock", "error", relative(header.files[0]),
                                "the lock's content no longer matches the hash it recorded "
                                "(edited by hand?)",
                                f"run envlock lock {name} to regenerate it"))
    elif header.inputs_sha256 != spec.inputs_sha256():
        findings.append(Finding(name, "stale-lock", "error", relative(header.files[0]),
                                "the declaration changed since the lock was made",
                                f"run envlock lock {name}"))
    return findings


def _dockerfile_findings(spec: EnvironmentSpec, repo: Repo, strict: bool, *, locked: bool) -> list[Finding]:
    """What the lock of a build context cannot pin, at Dockerfile:line."""
    from envlock.dockerfile import is_templated

    assert spec.context is not None
    path = repo.relative(spec.context.folder / spec.context.dockerfile_path)
    dockerfile = spec.context.dockerfile
    findings = [Finding(spec.name, p.kind, "error", path, p.message, p.fix, p.line) for p in dockerfile.problems]
    for image in dockerfile.images:
        if is_templated(image.image):
            findings.append(Finding(spec.name, "templated-image", "error", path,
                                    f"FROM {image.image} is a template no registry can resolve",
                                    "write the image's tag or digest", image.line))
        elif not locked and not IMAGE_DIGEST.search(image.image):
            findings.append(Finding(spec.name, "image-tag", "error" if strict else "warning", path,
                                    f"FROM {image.image} is given by tag and the context is not locked",
                                    f"run envlock lock {spec.name} (the lock records the digest)", image.line))
    return findings


def _python_findings(spec: EnvironmentSpec, repo: Repo, base_python: str | None) -> list[Finding]:
    """A declared Python the base image does not provide (unless the Dockerfile installs one)."""
    declared = spec.settings.python
    installs_python = spec.context is not None and spec.context.dockerfile.installs_python
    if spec.kind is not Kind.BUILD_CONTEXT or declared is None or installs_python:
        return []
    where = repo.relative(spec.context.folder / spec.context.dockerfile_path) if spec.context else \
        repo.relative(spec.env_file)
    if base_python is None:
        return [Finding(spec.name, "base-python-unknown", "warning", where,
                        f"the lock does not record which Python {spec.image} provides (its registry was "
                        f"out of reach when locked), so Python {declared} is not verified",
                        f"run envlock lock {spec.name} where the image registry (or image_mirrors) is reachable")]
    if _minor(base_python) != _minor(declared):
        return [Finding(spec.name, "python-mismatch", "error", where,
                        f"declares Python {declared}, but {spec.image} provides Python {base_python} "
                        "(recorded in the lock from the image's conda-meta): the locked wheels would not install",
                        f"declare python: '{_minor(base_python)}' in envlock.yaml, or use an image with "
                        f"Python {declared}, or install Python {declared} in the Dockerfile")]
    return []


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])
