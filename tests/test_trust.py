"""Trust content, not tags: the render digest a lock records, and what register concludes from it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from envlock.kinds import BuildContext, ImageOnly, ImageWithConda, canonical_content, same_content
from envlock.lockfile import read_header
from envlock.registries import EnvironmentVersion
from envlock.trust import LOCK_HASH_STAND_IN, holds_recorded_render, stored_render_sha256
from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.registries import conda_env, locked_repo, run_cli

LOCK = "0123456789abcdef" * 4
CONDA = f"name: train\ndependencies:\n- python=3.10.14=h_0\nvariables:\n  ENVLOCK_LOCK_SHA256: {LOCK}\n"


@pytest.mark.parametrize("first, second", [
    (ImageWithConda("img", CONDA), ImageWithConda("img", "# a comment AML drops\n" + yaml.safe_dump(
        yaml.safe_load(CONDA), sort_keys=True, default_flow_style=True))),
    (ImageWithConda("img", CONDA), ImageWithConda("img", CONDA.replace("3.10.14", "3.10.15"))),
    (ImageWithConda("img", CONDA), ImageWithConda("other", CONDA)),
    (ImageOnly("img@sha256:" + "ab" * 32), ImageOnly("img@sha256:" + "ab" * 32)),
    (ImageOnly("img"), ImageWithConda("img", CONDA)),
    (BuildContext((("Dockerfile", "FROM x\n"),)), BuildContext((("Dockerfile", "FROM x\n"),), location="blob://1")),
    (BuildContext((("Dockerfile", "FROM x\n"),)), BuildContext((("Dockerfile", "FROM y\n"),))),
    (ImageWithConda("img", "x: 2024-01-01\n"), ImageWithConda("img", "x: '2024-01-01'\n")),
])
def test_canonical_content_is_equal_exactly_when_the_content_is(first: object, second: object) -> None:
    assert (canonical_content(first) == canonical_content(second)) == same_content(first, second)  # type: ignore[arg-type]


def test_content_that_cannot_be_read_has_no_canonical_form() -> None:
    assert canonical_content(BuildContext((), location="https://acct.blob/x/")) is None
    assert canonical_content(ImageWithConda("img", "dependencies: [unclosed\n")) is None


def _version(content: ImageWithConda | ImageOnly | BuildContext, lock: str = LOCK) -> EnvironmentVersion:
    return EnvironmentVersion("train", "1", content, tags={"envlock.lock-sha256": lock})


def test_the_stored_digest_puts_the_stand_in_where_the_lock_hash_is() -> None:
    stored = stored_render_sha256(_version(ImageWithConda("img", CONDA)))
    stand_in = stored_render_sha256(_version(ImageWithConda("img", CONDA.replace(LOCK, LOCK_HASH_STAND_IN)), "b" * 64))
    assert stored is not None and stand_in is None  # content already naming the stand-in could pass for a render
    assert stored == stored_render_sha256(_version(ImageWithConda("img", CONDA)))
    assert stored != stored_render_sha256(_version(ImageWithConda("img", CONDA.replace("h_0", "h_1"))))


def test_the_recorded_render_is_what_register_stores_for_each_kind(repo: RepoBuilder) -> None:
    """Lock, register, read the registry: the header's render digest equals the stored version's."""
    from envlock.registries import open_registry

    repo.env("conda", conda=conda_env())
    repo.env("image")
    assert repo.run("lock").exit_code == 0
    assert repo.run("register").exit_code == 0
    registry = open_registry(None, repo.root)
    for name in ("conda", "image"):
        header = read_header(repo.root / "environments" / name)
        stored = registry.get_version(name, "1")
        assert header is not None and stored is not None and header.is_untouched
        assert header.render_sha256 is not None and stored_render_sha256(stored) == header.render_sha256
        assert holds_recorded_render(stored, header)
        edited = replace(stored, content=ImageOnly("someone/else:1"))
        assert not holds_recorded_render(edited, header)  # tagged with the lock, other content


def test_unchanged_is_decided_without_parsing_or_rendering_the_lock(repo: RepoBuilder, aml: AmlEmulator,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The newest version as azure-ai-ml reads it back digests to what the header recorded."""
    from envlock.commands import register
    from envlock.registries import open_registry
    from envlock.repo import Repo

    locked_repo(repo, ["train"])
    [created] = register.run_register(Repo(repo.root), ["train"], open_registry(aml.workspace_url, repo.root),
                                      show_progress=False)
    assert created.status == "created"

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("the lock was parsed or rendered")

    monkeypatch.setattr(register, "rendered_with_locks", refuse)
    monkeypatch.setattr("envlock.lockfile._conda_lock_from_text", refuse)
    [again] = register.run_register(Repo(repo.root), ["train"], open_registry(aml.workspace_url, repo.root),
                                    show_progress=False)
    assert (again.version, again.status) == ("1", "unchanged")


def test_an_edited_version_carrying_the_lock_hash_is_refused_in_aml(repo: RepoBuilder, aml: AmlEmulator) -> None:
    locked_repo(repo, ["train"])
    wiring = aml.client_environment()
    assert run_cli(repo.root, "register", env=wiring).returncode == 0
    stored = aml.workspace_version("train", "1")
    conda = yaml.safe_load(stored.properties["condaFile"])
    conda["dependencies"].append("curl=8.8.0=h_0")  # `az ml environment create` of an edited file, tag kept
    with aml.lock:
        stored.properties["condaFile"] = yaml.safe_dump(conda)
    result = run_cli(repo.root, "register", "--json", env=wiring)
    assert result.returncode == 1
    assert json.loads(result.stdout)["train"]["status"] == "refused"
    assert "train:1 carries this lock's hash but its content differs" in result.stderr


def test_a_lock_without_a_recorded_render_still_registers(tmp_path: Path) -> None:
    """Locks written before render-sha256 (the checked-in examples) take the full path: rendered, compared."""
    from click.testing import CliRunner

    from envlock.cli import cli

    root = Path(__file__).resolve().parent.parent
    header = read_header(root / "environments" / "training")
    assert header is not None and header.is_untouched and header.render_sha256 is None
    registry = f"sqlite:///{tmp_path}/registry.db"
    for status in ("created", "unchanged"):
        result = CliRunner().invoke(cli, ["-C", str(root), "register", "training", "--registry", registry, "--json"])
        assert json.loads(result.stdout)["training"]["status"] == status, result.output
