"""`envlock check`: the offline gate, its findings and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import CONDA_NUMPY, DIGEST_IMAGE, RepoBuilder


def findings(repo: RepoBuilder, *args: str) -> tuple[int, list[dict]]:  # type: ignore[type-arg]
    result = repo.run("check", "--json", *args)
    return result.exit_code, json.loads(result.stdout)


def test_missing_stale_and_edited_locks(repo: RepoBuilder) -> None:
    a = repo.env("a", conda=CONDA_NUMPY)
    repo.env("b", conda=CONDA_NUMPY)
    c = repo.env("c", conda=CONDA_NUMPY)
    assert repo.run("lock", "a", "c").exit_code == 0
    assert findings(repo, "a", "c") == (0, [])

    (a / "conda.yaml").write_text(CONDA_NUMPY + "  - scipy\n")
    lock = c / "conda-lock.yml"
    lock.write_text(lock.read_text().replace("version: 1.26.4", "version: 1.26.3", 1))
    code, found = findings(repo)
    assert code == 1
    assert {(f["environment"], f["kind"]) for f in found} == {
        ("a", "stale-lock"), ("b", "missing-lock"), ("c", "edited-lock"),
    }
    assert all(f["severity"] == "error" and f["fix"] for f in found)

    human = repo.run("check")
    assert human.exit_code == 1
    assert len(human.stdout.strip().splitlines()) == 3
    assert "environments/c/conda-lock.yml" in human.stdout

    assert repo.run("lock").exit_code == 0  # relocking clears every finding
    assert findings(repo) == (0, [])


def test_comment_only_change_is_not_stale(repo: RepoBuilder) -> None:
    folder = repo.env("a", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    (folder / "conda.yaml").write_text("# training env\n" + CONDA_NUMPY)
    assert findings(repo) == (0, [])


def test_image_by_tag_is_a_warning_unless_strict(repo: RepoBuilder) -> None:
    repo.env("a", conda=CONDA_NUMPY, image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest")
    assert repo.run("lock").exit_code == 0
    code, found = findings(repo)
    assert code == 0 and [(f["kind"], f["severity"]) for f in found] == [("image-tag", "warning")]
    assert found[0]["file"] == "environments/a/env.yml"
    code, found = findings(repo, "--strict")
    assert code == 1 and found[0]["severity"] == "error"


def test_bad_declaration_is_reported_with_exit_2(repo: RepoBuilder) -> None:
    repo.env("a", env_yml="name: a\nimage: x\nconda_fil: conda.yaml\n")
    code, found = findings(repo)
    assert code == 2
    assert found[0]["kind"] == "invalid-declaration" and found[0]["line"] == 3


def test_check_imports_no_solver_and_no_azure(repo: RepoBuilder) -> None:
    repo.env("a", conda=CONDA_NUMPY)
    # main() ends the process itself; what it imported is reported from an exit handler, which it runs
    probe = (
        "import atexit, sys; from envlock.cli import main; sys.argv=['envlock','-C',sys.argv[1],'check']\n"
        "atexit.register(lambda: print('HEAVY', [m for m in sys.modules\n"
        "    if m.split('.')[0] in ('rattler','azure','conda_lock','uv','pydantic')]))\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(repo.root)], capture_output=True, text=True)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


# ---------------------------------------------------------------- the declaration's files recorded in the lock

def _trusted(repo: RepoBuilder, name: str) -> bool:
    from envlock.lockfile import read_header
    from envlock.settings import load_settings
    from envlock.sources import declared_as_locked

    folder = repo.root / "environments" / name
    return declared_as_locked(read_header(folder), load_settings(repo.root), name, folder)


def test_check_trusts_a_lock_whose_declaration_files_are_unchanged(repo: RepoBuilder) -> None:
    from envlock.lockfile import read_header

    folder = repo.env("a", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    header = read_header(folder)
    assert header is not None and header.sources_sha256 and header.is_untouched
    assert _trusted(repo, "a") and findings(repo) == (0, [])

    (folder / "README.md").write_text("notes\n")  # any byte in the folder: parsed again, still fresh
    assert not _trusted(repo, "a") and findings(repo) == (0, [])
    (folder / "README.md").unlink()
    assert _trusted(repo, "a")

    (folder / "conda.yaml").write_text(CONDA_NUMPY + "  - scipy\n")
    assert not _trusted(repo, "a")
    assert [f["kind"] for f in findings(repo)[1]] == ["stale-lock"]


def test_settings_are_part_of_what_the_lock_records(repo: RepoBuilder) -> None:
    repo.settings("platforms: [linux-64]\n")
    repo.env("a", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    assert _trusted(repo, "a")
    repo.settings("platforms: [linux-64, win-64]\n")
    assert not _trusted(repo, "a")
    assert [f["kind"] for f in findings(repo)[1]] == ["stale-lock"]


def test_an_edited_lock_is_never_trusted(repo: RepoBuilder) -> None:
    folder = repo.env("a", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    lock = folder / "conda-lock.yml"
    lock.write_text(lock.read_text().replace("version: 1.26.4", "version: 1.26.3", 1))
    assert not _trusted(repo, "a")
    assert [f["kind"] for f in findings(repo)[1]] == ["edited-lock"]


def test_files_outside_the_folder_or_linked_are_not_recorded(repo: RepoBuilder) -> None:
    from envlock.lockfile import read_header

    nested = repo.env("nested", env_yml="name: nested\nimage: " + DIGEST_IMAGE + "\nconda_file: deps/conda.yaml\n")
    (nested / "deps").mkdir()
    (nested / "deps" / "conda.yaml").write_text(CONDA_NUMPY)
    linked = repo.env("linked", conda=CONDA_NUMPY)
    (linked / "notes.md").symlink_to(repo.root / "envlock.yaml")
    assert repo.run("lock").exit_code == 0
    assert read_header(nested) is not None and read_header(nested).sources_sha256 is None  # type: ignore[union-attr]
    assert read_header(linked) is not None and read_header(linked).sources_sha256 is None  # type: ignore[union-attr]
    assert findings(repo) == (0, [])
    (nested / "deps" / "conda.yaml").write_text(CONDA_NUMPY + "  - scipy\n")
    assert [(f["environment"], f["kind"]) for f in findings(repo)[1]] == [("nested", "stale-lock")]


def test_a_folder_linked_in_from_outside_is_refused_and_not_read(repo: RepoBuilder, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path_factory.mktemp("outside")
    (outside / "env.yml").write_text(f"name: linked\nimage: {DIGEST_IMAGE}\n")
    (repo.root / "environments" / "linked").symlink_to(outside)
    repo.env("a", conda=CONDA_NUMPY)
    assert repo.run("lock", "a").exit_code == 0
    result = repo.run("check")
    assert result.exit_code == 2 and "environments/linked is a symlink" in result.output
    assert repo.run("lock").exit_code == 2  # refused by lock too, never locked through the link
    assert sorted(p.name for p in outside.iterdir()) == ["env.yml"]
