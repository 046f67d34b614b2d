"""`envlock check`: the offline CI gate. Imports no solver and no azure-ai-ml."""

from __future__ import annotations

import re

from envlock.errors import DeclarationError
from envlock.findings import Finding
from envlock.lockfile import read_header
from envlock.repo import Repo
from envlock.settings import Settings, load_settings
from envlock.spec import load_environment

IMAGE_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def run_check(repo: Repo, names: list[str], *, strict: bool = False) -> list[Finding]:
    try:
        settings = load_settings(repo.root)
    except DeclarationError as exc:
        return [Finding("*", "invalid-declaration", "error", exc.path, exc.problem, exc.fix or "",
                        exc.line)]
    findings: list[Finding] = []
    for name in names:
        findings += _check_environment(repo, name, settings, strict)
    return findings


def _check_environment(repo: Repo, name: str, settings: Settings, strict: bool) -> list[Finding]:
    relative = repo.relative
    try:
        spec = load_environment(repo, name, settings)
    except DeclarationError as exc:
        return [Finding(name, "invalid-declaration", "error", relative(exc.path), exc.problem,
                        exc.fix or "", exc.line)]
    findings = [
        Finding(name, "unpinned-pip", "error", relative(p.path), p.message, p.fix, p.line)
        for p in spec.policy_problems
    ]
    env_file = relative(spec.env_file)
    if not IMAGE_DIGEST.search(spec.image):
        findings.append(Finding(
            name, "image-tag", "error" if strict else "warning", env_file,
            f"base image '{spec.image}' is given by tag, which can move",
            "pin it by digest: image: <repo>@sha256:<digest>",
        ))
    header = read_header(spec.folder)
    if header is None:
        findings.append(Finding(name, "missing-lock", "error", relative(spec.folder),
                                "no lock file", f"run envlock lock {name}"))
        return findings
    lock_file = relative(header.files[0])
    if not header.is_untouched:
        findings.append(Finding(name, "edited-lock", "error", lock_file,
                                "the lock's content no longer matches the hash it recorded "
                                "(edited by hand?)",
                                f"run envlock lock {name} to regenerate it"))
    elif header.inputs_sha256 != spec.inputs_sha256():
        findings.append(Finding(name, "stale-lock", "error", lock_file,
                                "the declaration changed since the lock was made",
                                f"run envlock lock {name}"))
    return findings
