"""A declared docker build context (env.yml `build: {path, dockerfile_path}`), read as AML uploads it.

The context is every file under `path`; its Dockerfile is read for the images and the
requirements/conda files it installs, each of which is locked like any other declaration.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envlock.dockerfile import Dockerfile, InstalledFile, is_templated, parse_dockerfile
from envlock.errors import DeclarationError
from envlock.fsutil import resolve
from envlock.hashing import sha256_json
from envlock.kinds import DOCKERFILE
from envlock.yamlio import declaration_error, reject_unknown_keys

BUILD_KEYS = ("path", "dockerfile_path")


@dataclass(frozen=True)
class ContextDeclaration:
    """A Docker build context declared as an environment: its files and its parsed Dockerfile."""

    folder: Path
    dockerfile_path: str
    files: tuple[tuple[str, str], ...]  # path inside the context (posix) -> text, sorted
    dockerfile: Dockerfile

    @property
    def sha256(self) -> str:
        """The whole context: every file's path and text."""
        return sha256_json(dict(self.files))

    def text(self, path: str) -> str:
        return dict(self.files)[path]

    def file_path(self, installed: InstalledFile) -> Path:
        return self.folder / installed.path


def load_context(env_path: Path, repo_root: Path, build: Any) -> ContextDeclaration:
    if not isinstance(build, dict):
        raise declaration_error(env_path, ["build"], "build must be a mapping",
                                "write build: {path: docker-context, dockerfile_path: Dockerfile}")
    reject_unknown_keys(env_path, ["build"], build, BUILD_KEYS, "AML build keys")
    path = build.get("path")
    if not isinstance(path, str) or not path.strip() or "{{" in path:
        raise declaration_error(env_path, ["build", "path"], "build.path must name the context folder",
                                "write path: <folder next to env.yml>, e.g. path: context")
    dockerfile_path = build.get("dockerfile_path", DOCKERFILE)
    if not isinstance(dockerfile_path, str) or not dockerfile_path.strip() or "{{" in dockerfile_path:
        raise declaration_error(env_path, ["build", "dockerfile_path"],
                                "build.dockerfile_path must name the Dockerfile inside the context",
                                "write dockerfile_path: Dockerfile")
    folder = resolve(env_path.parent / path)
    root = repo_root.resolve()
    if folder != root and root not in folder.parents:
        raise declaration_error(env_path, ["build", "path"], f"build.path '{path}' leaves the repository",
                                "keep the build context inside the repository")
    if not folder.is_dir():
        raise declaration_error(env_path, ["build", "path"], f"build context folder '{path}' not found",
                                f"create {env_path.parent / path} with a Dockerfile, or correct build.path")
    files = _context_files(env_path, folder, root)
    dockerfile_path = posixpath.normpath(dockerfile_path.strip())
    texts = dict(files)
    if dockerfile_path not in texts:
        raise declaration_error(env_path, ["build", "dockerfile_path"],
                                f"no {dockerfile_path} in the build context {path}",
                                f"add {path}/{dockerfile_path} or correct build.dockerfile_path")
    dockerfile = parse_dockerfile(dockerfile_path, texts[dockerfile_path], frozenset(texts))
    if not dockerfile.images:
        raise DeclarationError(folder / dockerfile_path, "the Dockerfile has no FROM image", field="FROM",
                               fix="start it with FROM <image>@sha256:<digest> (or a tag the lock pins)")
    return ContextDeclaration(folder, dockerfile_path, files, dockerfile)


def _context_files(env_path: Path, folder: Path, root: Path) -> tuple[tuple[str, str], ...]:
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() and root not in resolve(path).parents:
            raise DeclarationError(path, "a link in the build context points outside the repository",
                                   field="build.path", fix="replace the link with the file itself")
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise DeclarationError(path, "envlock handles build contexts of text files only", field="build.path",
                                   fix="keep binary files out of the context (download them in a RUN step "
                                   "that checks their sha256)") from None
        files.append((path.relative_to(folder).as_posix(), text))
    return tuple(files)


def unresolvable_image(context: ContextDeclaration) -> DeclarationError | None:
    """A FROM line no registry can resolve: an azureml-assets template such as {{latest-image-tag}}."""
    for line in context.dockerfile.images:
        if is_templated(line.image):
            return DeclarationError(context.folder / context.dockerfile_path,
                                    f"FROM {line.image} is a template (azureml-assets fills in the tag when it "
                                    "publishes)", field="FROM", line=line.line,
                                    fix="write the image's tag or digest, e.g. FROM <repository>:<tag>")
    return None
