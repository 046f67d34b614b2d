"""A locked build context -> the context AML builds without drift.

FROM lines name the digest recorded in the lock; a requirements file pip installs is replaced by
its locked linux-64 form (installed with --require-hashes --no-deps); a conda file is installed
from an explicit lock (exact package URLs with md5) copied in beside it, then its pinned pip part.
"""

from __future__ import annotations

import posixpath
import re

import yaml

from envlock.buildcontext import ContextDeclaration
from envlock.dockerfile import CondaRewrite, render_pinned
from envlock.kinds import BuildContext
from envlock.lockfile import ContextLock, LockedPackage, pip_requirement_lines

EXPLICIT_SUFFIX = ".explicit.txt"
PIP_SUFFIX = ".pip.txt"


def render_context(declared: ContextDeclaration, locked: ContextLock, platform: str, header: str) -> BuildContext:
    texts = dict(declared.files)
    conda: dict[str, CondaRewrite] = {}
    names: dict[str, str] = {}
    for install in locked.installs:
        packages = install.lock.for_platform(platform)
        if install.manager == "pip":
            texts[install.path] = header + pip_requirement_lines(packages)
            continue
        explicit = install.path + EXPLICIT_SUFFIX
        texts[explicit] = header + explicit_lines(packages)
        pip_lines = pip_requirement_lines(packages)
        pip_file = install.path + PIP_SUFFIX if pip_lines else None
        if pip_file:
            texts[pip_file] = header + pip_lines
        conda[install.path] = CondaRewrite(explicit, pip_file)
        data = yaml.safe_load(declared.text(install.path))
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            names[install.path] = data["name"]
    digests = {image.line: image.pinned for image in locked.images}
    dockerfile = render_pinned(declared.dockerfile, declared.text(declared.dockerfile_path), digests, conda, names)
    directives = re.match(r"(?:#\s*(?:syntax|escape|check)\s*=.*\n)*", dockerfile)
    end = directives.end() if directives else 0  # parser directives must stay first
    texts[declared.dockerfile_path] = dockerfile[:end] + header + dockerfile[end:]
    return BuildContext(tuple(sorted(texts.items())), declared.dockerfile_path)


def explicit_lines(packages: list[LockedPackage]) -> str:
    """conda's explicit format: what `conda create --file` installs with no solve."""
    lines = ["@EXPLICIT"]
    for package in sorted((p for p in packages if p.manager == "conda"), key=lambda p: p.name):
        suffix = f"#{package.md5}" if package.md5 else f"#sha256:{package.sha256}" if package.sha256 else ""
        lines.append(package.url + suffix)
    return "\n".join(lines) + "\n"


def copied_beside(argument: str) -> str:
    """The folder a RUN line's file argument is in, as a COPY destination."""
    folder = posixpath.dirname(argument)
    return folder + "/" if folder else "./"
