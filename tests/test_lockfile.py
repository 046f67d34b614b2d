"""The lock hash covers the whole lock: header edits are caught by check, build and register."""

from __future__ import annotations

import pytest

from envlock.lockfile import _header_from_texts, lock_sha256, read_header
from tests.conftest import CONDA_NUMPY, RepoBuilder

EDITS = [
    ("- url: conda-forge\n", "- url: https://evil.example/chan\n"),
    ("  - linux-64\n", "  - linux-aarch64\n"),
    ("envlock.inputs-sha256: ", "envlock.inputs-sha256: 00"),
    ("envlock.image: ", "envlock.image: evil.example/x@"),
    ("envlock.sources-sha256: ", "envlock.sources-sha256: 00"),
]


@pytest.fixture(scope="module")
def locked_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = RepoBuilder(tmp_path_factory.mktemp("locked"))
    (repo.root / "environments").mkdir()
    repo.settings()
    repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    return (repo.root / "environments/train/conda-lock.yml").read_text()


@pytest.mark.parametrize(("old", "new"), EDITS, ids=["channel", "platform", "inputs-hash", "image", "sources-hash"])
def test_an_edited_header_fails_check_and_is_refused_by_build_and_register(
        repo: RepoBuilder, locked_text: str, old: str, new: str) -> None:
    folder = repo.env("train", conda=CONDA_NUMPY)
    assert old in locked_text
    (folder / "conda-lock.yml").write_text(locked_text.replace(old, new, 1))
    before = repo.snapshot()
    check = repo.run("check", "--json")
    assert check.exit_code == 1 and '"edited-lock"' in check.stdout
    for command in ("build", "register"):
        result = repo.run(command)
        assert result.exit_code == 2, result.output
        assert "conda-lock.yml" in result.output and "envlock lock train" in result.output
    assert {k: v for k, v in repo.snapshot().items() if not k.startswith(".envlock/")} == before


def test_the_hash_line_itself_and_line_endings_do_not_count(repo: RepoBuilder, locked_text: str) -> None:
    folder = repo.env("train", conda=CONDA_NUMPY)
    (folder / "conda-lock.yml").write_bytes(locked_text.replace("\n", "\r\n").encode())
    header = read_header(folder)
    assert header is not None and header.is_untouched
    assert lock_sha256([("conda-lock.yml", locked_text)])[0] == header.recorded_lock_sha256


def test_a_torn_multi_file_pip_lock_is_detected(repo: RepoBuilder) -> None:
    repo.settings("environments:\n  api: {python: '3.12', platforms: [linux-64, win-64]}\n")
    folder = repo.env("api", requirements="tomli==2.0.1\n")
    assert repo.run("lock").exit_code == 0
    windows = folder / "requirements-win-64.txt"
    assert windows.is_file()
    header = read_header(folder)
    assert header is not None and header.is_untouched
    # A kill after the platform file was replaced and before requirements.txt (written last):
    windows.write_text(windows.read_text().replace("tomli==2.0.1", "tomli==2.0.2", 1))
    check = repo.run("check", "--json")
    assert check.exit_code == 1 and '"edited-lock"' in check.stdout


@pytest.mark.parametrize("variant", ["as written", "CRLF", "non-ASCII", "edited"])
def test_the_byte_path_of_the_header_reads_what_the_text_path_reads(
        repo: RepoBuilder, locked_text: str, variant: str) -> None:
    """check hashes an ASCII, LF lock as bytes; any other reads as text: both must agree."""
    text = {"as written": locked_text, "CRLF": locked_text, "non-ASCII": locked_text.replace("# ", "# é ", 1),
            "edited": locked_text.replace("version: 1.26.4", "version: 1.26.3", 1)}[variant]
    folder = repo.env("train", conda=CONDA_NUMPY)
    path = folder / "conda-lock.yml"
    path.write_bytes(text.replace("\n", "\r\n").encode() if variant == "CRLF" else text.encode())
    header = read_header(folder)
    assert header == _header_from_texts([path], [text])
    assert header is not None and header.sources_sha256 and header.inputs_sha256 and header.image
    assert header.is_untouched == (variant in ("as written", "CRLF"))
