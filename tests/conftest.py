"""Shared test helpers: repositories in tmp_path, the real conda-forge fixture channel, the CLI."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from envlock.cli import cli

FIXTURE_CHANNEL = Path(__file__).parent / "fixtures" / "conda-forge-2024-07"
DIGEST_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04@sha256:" + "ab" * 32


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@dataclass
class RepoBuilder:
    root: Path

    def settings(self, text: str = "", mirror: bool = True) -> None:
        prefix = f"mirrors:\n  conda-forge: {FIXTURE_CHANNEL.as_uri()}\n" if mirror else ""
        (self.root / "envlock.yaml").write_text(prefix + textwrap.dedent(text))

    def env(self, name: str, *, conda: str | None = None, requirements: str | None = None,
            env_yml: str | None = None, image: str = DIGEST_IMAGE) -> Path:
        folder = self.root / "environments" / name
        folder.mkdir(parents=True, exist_ok=True)
        if env_yml is None:
            env_yml = f"name: {name}\nimage: {image}\n" + ("conda_file: conda.yaml\n" if conda else "")
        (folder / "env.yml").write_text(textwrap.dedent(env_yml))
        if conda is not None:
            (folder / "conda.yaml").write_text(textwrap.dedent(conda))
        if requirements is not None:
            (folder / "requirements.in").write_text(textwrap.dedent(requirements))
        return folder

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, ["-C", str(self.root), *args], catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    def snapshot(self) -> dict[str, bytes]:
        """Every file under the repository, for asserting that nothing changed."""
        return {
            str(path.relative_to(self.root)): path.read_bytes()
            for path in sorted(self.root.rglob("*")) if path.is_file()
        }


@pytest.fixture
def repo(tmp_path: Path) -> RepoBuilder:
    builder = RepoBuilder(tmp_path)
    (tmp_path / "environments").mkdir()
    builder.settings()
    return builder


CONDA_NUMPY = """\
channels: [conda-forge]
dependencies:
  - python=3.10
  - numpy<2
"""


pytest_plugins = ["tests.support.registries", "tests.support.oci_registry", "tests.support.osv_server",
                  "tests.support.simple_index"]
