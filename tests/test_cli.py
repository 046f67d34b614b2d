"""The command line's shape: global options anywhere, one exit-code table, crashes kept apart from findings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
from click.testing import CliRunner

from envlock import __version__
from envlock.cli import EnvlockCommand, EnvlockGroup, cli
from envlock.errors import EXIT_CODES
from tests.conftest import CONDA_NUMPY, RepoBuilder
from tests.support.registries import conda_env, locked_repo

ROOT = Path(__file__).resolve().parent.parent


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_directory_before_or_after_the_command(repo: RepoBuilder) -> None:
    repo.env("api", conda=CONDA_NUMPY)
    before = invoke("-C", str(repo.root), "check", "--json")
    after = invoke("check", "--json", "-C", str(repo.root))
    assert before[0] == after[0] == 1  # no lock yet: a finding
    assert json.loads(before[1]) == json.loads(after[1])
    assert json.loads(after[1])[0]["kind"] == "missing-lock"
    elsewhere = invoke("check", "-C", str(repo.root / "nope"))
    assert elsewhere[0] == 2 and "-C" in elsewhere[2]


def test_version_and_the_exit_code_table_in_help_and_readme() -> None:
    code, out, _ = invoke("-V")
    assert code == 0 and __version__ in out
    code, out, _ = invoke("--help")
    assert code == 0
    readme = (ROOT / "README.md").read_text()
    for exit_code, meaning in EXIT_CODES:
        assert re.search(rf"^\s+{exit_code}\s+{re.escape(meaning)}$", out, re.M), meaning
        assert re.search(rf"^\| `{exit_code}` \| {re.escape(meaning)} \|$", readme, re.M), meaning


def test_quiet_drops_the_summary_and_verbose_is_accepted_after_the_command(repo: RepoBuilder) -> None:
    repo.env("api", conda=CONDA_NUMPY)
    loud = repo.run("check")
    quiet = repo.run("check", "-q")
    assert "checked 1 environment(s)" in loud.stderr
    assert quiet.exit_code == loud.exit_code == 1
    assert quiet.stderr == "" and quiet.stdout == loud.stdout  # the findings themselves stay
    assert repo.run("check", "-v").exit_code == 1


def crashing_cli() -> click.Group:
    def boom() -> None:
        {}["missing"]  # noqa: B018  a real KeyError from real code, as a bug would raise it

    return EnvlockGroup("envlock", commands={"boom": EnvlockCommand("boom", callback=boom)})


def test_an_unexpected_error_is_exit_3_with_one_line_and_a_log(repo: RepoBuilder) -> None:
    result = CliRunner().invoke(crashing_cli(), ["boom", "-C", str(repo.root)])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("envlock: unexpected error (KeyError: 'missing')")
    log = repo.root / ".envlock" / "envlock.log"
    assert str(log) in lines[0]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'missing'" in text
    assert f"envlock {__version__}" in text

    verbose = CliRunner().invoke(crashing_cli(), ["-v", "-C", str(repo.root), "boom"])
    assert verbose.exit_code == 3 and "Traceback (most recent call last)" in verbose.stderr


def test_an_unexpected_error_outside_a_repository_logs_to_a_temporary_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(crashing_cli(), ["boom", "-C", str(tmp_path)])
    assert result.exit_code == 3
    logged = Path(re.search(r"the traceback is in (\S+);", result.stderr).group(1))  # type: ignore[union-attr]
    assert logged.name == "envlock.log" and not logged.is_relative_to(tmp_path)
    assert "KeyError" in logged.read_text()
    assert not (tmp_path / ".envlock").exists()


def test_unknown_names_are_bad_input(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    unknown = repo.run("versions", "nosuch")
    assert unknown.exit_code == 2 and "no environment named nosuch" in unknown.stderr
    declared = repo.run("versions", "train")  # declared, not registered yet: nothing wrong
    assert declared.exit_code == 0 and "envlock register train" in declared.stdout
    assert repo.run("check", "nosuch").exit_code == 2


def test_outdated_tells_unreachable_apart_from_outdated(repo: RepoBuilder) -> None:
    repo.env("web", image="127.0.0.1:9/team/web:1.0")  # nothing listens on port 9
    result = repo.run("outdated")
    assert result.exit_code == 4, result.output
    assert "cannot reach 127.0.0.1:9" in result.stderr


def test_gc_dry_run_changes_nothing(repo: RepoBuilder) -> None:
    locked_repo(repo, ["train"])
    assert repo.run("register").exit_code == 0
    repo.env("train", conda=conda_env(extra="  - scipy\n"))
    assert repo.run("lock").exit_code == 0 and repo.run("register").exit_code == 0
    dry = repo.run("gc", "--keep", "0", "--dry-run")
    assert dry.exit_code == 0 and "would archive" in dry.stdout
    assert not any(v["archived"] for v in json.loads(repo.run("versions", "train", "--json").stdout))
    assert repo.run("gc", "--keep", "0", "--dry-run", "--apply").exit_code == 2
    applied = repo.run("gc", "--keep", "0")
    assert applied.exit_code == 0 and "archived" in applied.stdout
    assert [v["version"] for v in json.loads(repo.run("versions", "train", "--json").stdout) if v["archived"]] \
        == ["1"]
