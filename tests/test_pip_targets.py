"""Pip resolution for the target Python and platform, not the host (uses the real PyPI)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.version import Version

from envlock.processes import run_child
from envlock.solvers import pip_uv
from tests.conftest import RepoBuilder

PYTEST_IN_CONDA = """\
channels: [conda-forge]
dependencies:
  - python=3.10
  - pip
  - pip:
    - pytest==8.3.*
"""


def pip_names(lock_text: str, platform: str) -> set[str]:
    return {p["name"] for p in yaml.safe_load(lock_text)["package"]
            if p["manager"] == "pip" and p["platform"] == platform}


def test_conda_python_310_gets_the_backports_pytest_needs_below_311(repo: RepoBuilder,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    uv_targets: list[str] = []

    def counted(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        uv_targets.append(command[command.index("--python-platform") + 1])
        return run_child(command, **kwargs)

    monkeypatch.setattr(pip_uv, "run_child", counted)  # envlock's own helper, still the real uv
    repo.settings("platforms: [linux-64, win-64]\n")
    folder = repo.env("tests310", conda=PYTEST_IN_CONDA)
    result = repo.run("lock")
    assert result.exit_code == 0, result.output
    # one uv process per platform, no retries or extra calls
    assert sorted(uv_targets) == ["x86_64-manylinux_2_28", "x86_64-pc-windows-msvc"]
    text = (folder / "conda-lock.yml").read_text()
    for platform in ("linux-64", "win-64"):
        names = pip_names(text, platform)
        assert {"pytest", "tomli", "exceptiongroup"} <= names, names
        assert "pip" not in names  # conda provides pip; pip must not reinstall it
    assert "colorama" in pip_names(text, "win-64") and "colorama" not in pip_names(text, "linux-64")
    pip_urls = [p["url"] for p in yaml.safe_load(text)["package"] if p["manager"] == "pip"]
    assert all(url.startswith("https://files.pythonhosted.org/") for url in pip_urls)
    assert "/opt/" not in text and "file:" not in text
    assert "uv " in text.splitlines()[0]  # the header names the resolvers and versions


def test_pip_only_python_312_does_not_get_them(repo: RepoBuilder) -> None:
    repo.settings("environments:\n  api:\n    python: '3.12'\n")
    folder = repo.env("api", requirements="pytest==8.3.*\n")
    result = repo.run("lock")
    assert result.exit_code == 0, result.output
    text = (folder / "requirements.txt").read_text()
    names = set(re.findall(r"^([a-z0-9-]+)==", text, flags=re.M))
    assert "pytest" in names and "tomli" not in names and "exceptiongroup" not in names
    assert "# envlock-target: python 3.12 on linux-64" in text
    assert re.search(r"^pytest==8\.3\.\d+ \\\n    --hash=sha256:[0-9a-f]{64}", text, flags=re.M)
    assert "index-url" not in text and "/opt/" not in text
    assert repo.run("check").exit_code == 0

    edited = text.replace("pytest==8.3.", "pytest==8.2.")
    (folder / "requirements.txt").write_text(edited)
    check = repo.run("check", "--json")
    assert check.exit_code == 1 and '"kind": "edited-lock"' in check.stdout


def test_unknown_pip_package_and_unreachable_index(repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UV_HTTP_RETRIES", "0")
    repo.settings("environments:\n  api:\n    python: '3.12'\n")
    repo.env("api", requirements="envlock-no-such-package-7f3a==1.0\n")
    result = repo.run("lock")
    assert result.exit_code == 1
    assert "envlock-no-such-package-7f3a" in result.stderr
    assert not (repo.root / "environments/api/requirements.txt").exists()

    repo.settings("pip_index_url: https://127.0.0.1:9/simple\nenvironments:\n  api:\n    python: '3.12'\n")
    (repo.root / "environments/api/requirements.in").write_text("requests\n")
    result = repo.run("lock")
    assert result.exit_code == 4  # the index is unreachable
    assert "cannot reach the pip index https://127.0.0.1:9/simple" in result.stderr



def pins_by_platform(folder: Path, package: str) -> dict[str, str]:
    """{platform: version of package} from a pip-only lock's requirements files."""
    pins = {}
    for path in folder.glob("requirements*.txt"):
        text = path.read_text()
        platform = re.search(r"^# envlock-target: python \S+ on (\S+)$", text, flags=re.M)
        version = re.search(rf"^{package}==(\S+) ", text, flags=re.M)
        assert platform and version, text
        pins[platform.group(1)] = version.group(1)
    return pins


def test_each_platform_gets_its_own_newest_version_whatever_the_platform_order(tmp_path: Path) -> None:
    # tensorflow-io-gcs-filesystem has had no Windows wheel (and no sdist) since 0.32. uv's universal
    # resolution (`--universal` with tool.uv.environments) solves the platforms in the declared order
    # and prefers what an earlier platform chose: win-64 first gave linux-64 0.31.0 too (issue 12),
    # so envlock resolves each platform with its own uv call.
    pins = []
    for index, order in enumerate(("[win-64, linux-64]", "[linux-64, win-64]")):
        repo = RepoBuilder(tmp_path / str(index))
        repo.root.mkdir()
        repo.settings(f"platforms: {order}\nenvironments:\n  tf:\n    python: '3.10'\n")
        folder = repo.env("tf", requirements="tensorflow-io-gcs-filesystem\n")
        result = repo.run("lock")
        assert result.exit_code == 0, result.output
        pins.append(pins_by_platform(folder, "tensorflow-io-gcs-filesystem"))
    assert pins[0] == pins[1]
    newest_on_linux, newest_on_windows = (Version(pins[0][p]) for p in ("linux-64", "win-64"))
    assert newest_on_linux > newest_on_windows >= Version("0.31")


@pytest.mark.parametrize(("python", "platform", "best"), [
    ("3.7", "linux-64", "cp37-cp37m-manylinux_2_28_x86_64"),
    ("3.10", "win-64", "cp310-cp310-win_amd64"),
    ("3.12", "osx-arm64", "cp312-cp312-macosx_12_0_arm64"),
])
def test_wheel_tags_are_the_targets_whatever_python_runs_envlock(python: str, platform: str, best: str) -> None:
    from envlock.platforms import target_platform

    ranks = pip_uv._supported_tags(python, target_platform(platform, ()))
    assert min(ranks, key=ranks.__getitem__) == best
    assert f"py{python.replace('.', '')}-none-any" in ranks
    running = f"cp{sys.version_info[0]}{sys.version_info[1]}"  # the interpreter's own ABI is not the target's
    assert running == best.split("-")[0] or not any(tag.startswith(f"{running}-{running}") for tag in ranks)
