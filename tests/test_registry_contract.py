"""One contract, two backends: the embedded SQLite registry and an AML workspace via azure-ai-ml."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from envlock.kinds import ImageWithConda
from envlock.registries import EnvironmentVersion, Registry, VersionExists, next_version, open_registry
from tests.support.aml_emulator import AmlEmulator

CONDA = "name: train\nchannels: [conda-forge]\ndependencies:\n- python=3.10.14=hd12c33a_0_cpython\n"
IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04@sha256:" + "ab" * 32


@pytest.fixture(params=["sqlite", "azureml-workspace", "azureml-registry"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "sqlite":
        yield open_registry(f"sqlite:///{tmp_path}/registry.db", tmp_path)
        return
    aml: AmlEmulator = request.getfixturevalue("aml")
    if request.param == "azureml-workspace":
        yield open_registry(aml.workspace_url, tmp_path)
    else:
        yield open_registry("azureml://registries/team-shared", tmp_path)


def draft(version: str, image: str = IMAGE, lock: str = "a" * 64) -> EnvironmentVersion:
    return EnvironmentVersion("train", version, ImageWithConda(image, CONDA), description="training",
                              tags={"envlock.lock-sha256": lock, "team": "forecasting"})


def test_create_get_and_list(registry: Registry) -> None:
    assert registry.list_versions("train") == []
    assert registry.get_version("train", "1") is None
    created = registry.create_version(draft("1"))
    assert (created.name, created.version) == ("train", "1") and created.same_content(draft("1"))
    stored = registry.get_version("train", "1")
    assert stored is not None and stored.same_content(draft("1"))
    assert stored.tags["team"] == "forecasting" and stored.lock_sha256 == "a" * 64
    assert stored.created_at and stored.description == "training"
    assert [v.version for v in registry.list_versions("train")] == ["1"]


def test_a_version_is_never_overwritten(registry: Registry) -> None:
    registry.create_version(draft("1"))
    with pytest.raises(VersionExists):
        registry.create_version(draft("1", image=IMAGE.replace("ab", "cd"), lock="b" * 64))
    stored = registry.get_version("train", "1")
    assert stored is not None and stored.same_content(draft("1")) and stored.lock_sha256 == "a" * 64


def test_listing_pages_through_every_version(registry: Registry) -> None:
    for number in range(1, 6):  # the emulator pages two at a time
        registry.create_version(draft(str(number), lock=str(number) * 64))
    versions = registry.list_versions("train")
    assert sorted(v.version for v in versions) == ["1", "2", "3", "4", "5"]
    assert next_version(versions) == "6"


def test_latest_is_the_newest_created(registry: Registry) -> None:
    assert registry.latest_version("train") is None
    for number in range(1, 4):
        registry.create_version(draft(str(number), lock=str(number) * 64))
    latest = registry.latest_version("train")
    assert latest is not None and (latest.version, latest.lock_sha256, latest.archived) == ("3", "3" * 64, False)
    registry.set_archived("train", "3", True)  # register never reuses an archived version: it must say so
    latest = registry.latest_version("train")
    assert latest is not None and (latest.version, latest.archived) == ("3", True)


def test_archive_and_restore(registry: Registry) -> None:
    registry.create_version(draft("1"))
    registry.create_version(draft("2", lock="b" * 64))
    registry.set_archived("train", "1", True)
    flags = {v.version: v.archived for v in registry.list_versions("train")}
    assert flags == {"1": True, "2": False}
    stored = registry.get_version("train", "1")
    assert stored is not None and stored.same_content(draft("1"))  # archived, still readable
    registry.set_archived("train", "1", False)
    assert not any(v.archived for v in registry.list_versions("train"))


def test_next_version_ignores_non_integer_versions() -> None:
    versions = [draft("3"), draft("10"), draft("2024-07-rc"), draft("v11")]
    assert next_version(versions) == "11"
    assert next_version([]) == "1"


def test_sqlite_content_is_immutable_in_the_database(tmp_path: Path) -> None:
    registry = open_registry(f"sqlite:///{tmp_path}/r.db", tmp_path)
    registry.create_version(draft("1"))
    connection = sqlite3.connect(tmp_path / "r.db")
    for statement in ("UPDATE environment_versions SET image = 'other'",
                      "UPDATE environment_versions SET conda_file = ''",
                      "DELETE FROM environment_versions"):
        with pytest.raises(sqlite3.IntegrityError, match="immutable|never deleted"):
            connection.execute(statement)
    connection.execute("UPDATE environment_versions SET archived = 1")  # metadata may change
    connection.commit()
    assert registry.list_versions("train")[0].archived
