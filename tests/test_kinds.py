"""Each kind of environment version is one type, kept through lock, render and the SQLite registry."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from envlock.kinds import BuildContext, EnvironmentContent, ImageOnly, ImageWithConda, Kind
from envlock.lockfile import read_lock
from envlock.registries import EnvironmentVersion, open_registry
from tests.conftest import CONDA_NUMPY, DIGEST_IMAGE, RepoBuilder

CONTENTS: list[EnvironmentContent] = [
    ImageOnly(DIGEST_IMAGE),
    ImageWithConda(DIGEST_IMAGE, "channels: [conda-forge]\ndependencies: [python=3.10]\n"),
    BuildContext((("Dockerfile", f"FROM {DIGEST_IMAGE}\n"), ("requirements.txt", "six==1.16.0\n")),
                 dockerfile_path="Dockerfile"),
]


@pytest.mark.parametrize("content", CONTENTS, ids=lambda c: c.kind.value)
def test_sqlite_registry_keeps_the_kind(tmp_path: Path, content: EnvironmentContent) -> None:
    registry = open_registry(f"sqlite:///{tmp_path}/r.db", tmp_path)
    registry.create_version(EnvironmentVersion("e", "1", content, tags={"envlock.lock-sha256": "a" * 64}))
    stored = registry.get_version("e", "1")
    assert stored is not None and stored.content == content and stored.content.kind is content.kind


def test_a_database_made_before_the_kind_column_is_read(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE environment_versions (name TEXT NOT NULL, version TEXT NOT NULL, image TEXT, "
                   "conda_file TEXT, build_files TEXT NOT NULL DEFAULT '{}', description TEXT, "
                   "tags TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, archived INTEGER NOT NULL "
                   "DEFAULT 0, UNIQUE (name, version))")
        db.execute("INSERT INTO environment_versions VALUES ('e', '1', NULL, NULL, ?, NULL, '{}', 't', 0)",
                   (json.dumps({"Dockerfile": "FROM x\n"}),))
        db.execute("INSERT INTO environment_versions VALUES ('e', '2', 'img', NULL, '{}', NULL, '{}', 't', 0)")
    registry = open_registry(f"sqlite:///{path}", tmp_path)
    kinds = {v.version: v.content for v in registry.list_versions("e")}
    assert kinds == {"1": BuildContext((("Dockerfile", "FROM x\n"),)), "2": ImageOnly("img")}


def test_lock_and_render_carry_the_declared_kind(repo: RepoBuilder) -> None:
    repo.env("conda", conda=CONDA_NUMPY)
    repo.env("image")
    assert repo.run("build").exit_code == 0
    from envlock.fresh_render import rendered_for
    from envlock.repo import Repo

    rendered = {r.name: r.content for r in rendered_for(Repo(repo.root), ["conda", "image"])}
    assert isinstance(rendered["conda"], ImageWithConda) and isinstance(rendered["image"], ImageOnly)
    image_lock = read_lock("image", repo.root / "environments" / "image")
    conda_lock = read_lock("conda", repo.root / "environments" / "conda")
    assert image_lock is not None and image_lock.kind is Kind.IMAGE
    assert conda_lock is not None and conda_lock.kind is Kind.IMAGE_CONDA
    manifest = json.loads((repo.root / "build" / "manifest.json").read_text())["environments"]
    assert {n: e["kind"] for n, e in manifest.items()} == {"conda": "image+conda", "image": "image"}


def test_a_build_context_known_only_by_its_location_is_not_diffed_as_empty() -> None:
    from envlock.errors import EnvlockError
    from envlock.packages import from_content

    with pytest.raises(EnvlockError, match="stored at https://acct.blob/x/"):
        from_content(BuildContext((), location="https://acct.blob/x/"), "azureml:api:1")
    packages = from_content(CONTENTS[2], "sqlite").packages
    assert packages == {("pip", "six"): ("1.16.0", None)}
