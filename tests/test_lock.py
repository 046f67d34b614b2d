"""`envlock lock` against real conda-forge metadata (the fixture channel as a mirror)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml
from conda_lock.lockfile import parse_conda_lock_file

from tests.conftest import CONDA_NUMPY, FIXTURE_CHANNEL, RepoBuilder

CANONICAL = "https://conda.anaconda.org/conda-forge/"


def packages(folder: Path) -> list[dict]:  # type: ignore[type-arg]
    return yaml.safe_load((folder / "conda-lock.yml").read_text())["package"]


def versions(folder: Path, platform: str = "linux-64") -> dict[str, tuple[str, str]]:
    return {p["name"]: (p["version"], p.get("build", "")) for p in packages(folder) if p["platform"] == platform}


def test_lock_is_a_conda_lock_file_with_canonical_urls_and_hashes(repo: RepoBuilder) -> None:
    repo.settings("platforms: [linux-64, osx-arm64, win-64]\n")
    folder = repo.env("train", conda=CONDA_NUMPY)
    result = repo.run("lock")
    assert result.exit_code == 0, result.output

    parsed = parse_conda_lock_file(folder / "conda-lock.yml")  # conda-lock's own reader accepts it
    assert set(parsed.metadata.platforms) == {"linux-64", "osx-arm64", "win-64"}
    for platform in ("linux-64", "osx-arm64", "win-64"):
        python = [p for p in parsed.package if p.name == "python" and p.platform == platform]
        assert len(python) == 1 and python[0].version.startswith("3.10.")
        assert python[0].url.startswith(f"{CANONICAL}{platform}/python-3.10.")
    for package in parsed.package:
        assert package.url.startswith(CANONICAL), package.url
        assert len(package.hash.sha256 or "") == 64 and len(package.hash.md5 or "") == 32
        assert package.build
    text = (folder / "conda-lock.yml").read_text()
    assert "file://" not in text and str(FIXTURE_CHANNEL) not in text
    assert "envlock lock train" in text  # the header says how to regenerate
    assert versions(folder)["numpy"][0].startswith("1.26.")


def test_locking_twice_changes_no_byte(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    first = repo.snapshot()
    again = repo.run("lock")
    assert again.exit_code == 0
    assert "unchanged" in again.stdout
    assert repo.snapshot() == first
    forced = repo.run("lock", "--upgrade")  # a full re-solve produces the same bytes
    assert forced.exit_code == 0 and "locked" in forced.stdout
    assert repo.snapshot() == first


def test_only_stale_environments_are_solved(repo: RepoBuilder) -> None:
    repo.env("a", conda=CONDA_NUMPY)
    b = repo.env("b", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    (b / "conda.yaml").write_text(CONDA_NUMPY + "  - scipy\n")
    result = repo.run("lock", "--json")
    statuses = {o["name"]: o["status"] for o in __import__("json").loads(result.stdout)}
    assert statuses == {"a": "unchanged", "b": "locked"}
    assert "scipy" in versions(b)


def test_changed_declaration_keeps_existing_pins_and_update_moves_one(repo: RepoBuilder) -> None:
    folder = repo.env("train", conda=CONDA_NUMPY + "  - pandas\n")
    assert repo.run("lock").exit_code == 0
    before = versions(folder)
    assert before["numpy"][0] == "1.26.4"

    (folder / "conda.yaml").write_text(CONDA_NUMPY.replace("numpy<2", "numpy") + "  - pandas\n")
    assert repo.run("lock").exit_code == 0
    assert versions(folder)["numpy"] == before["numpy"]  # still allowed, so kept

    result = repo.run("lock", "--update", "numpy")
    assert result.exit_code == 0, result.output
    after = versions(folder)
    assert after["numpy"][0] == "2.0.0"
    assert after["python"] == before["python"]
    assert after["libzlib"] == before["libzlib"]


def test_update_of_a_package_not_in_any_lock(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    before = repo.snapshot()
    result = repo.run("lock", "-P", "tensorflow")
    assert result.exit_code == 2  # a package that is nowhere is bad input, like an unknown name
    assert "tensorflow" in result.stderr
    assert repo.snapshot() == before


def test_unsolvable_spec_shows_the_solver_and_keeps_files(repo: RepoBuilder) -> None:
    folder = repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    before = repo.snapshot()
    (folder / "conda.yaml").write_text(CONDA_NUMPY.replace("numpy<2", "numpy>=2.5"))
    result = repo.run("lock")
    assert result.exit_code == 1
    assert "cannot be solved for linux-64" in result.stderr
    assert "numpy" in result.stderr
    after = repo.snapshot()
    assert after.pop("environments/train/conda.yaml") != before.pop("environments/train/conda.yaml")
    assert after == before
    assert not list(folder.glob(".*.tmp"))


def test_unknown_conda_package(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY + "  - not-a-real-package\n")
    result = repo.run("lock")
    assert result.exit_code == 1
    assert "not-a-real-package" in result.stderr
    assert not (repo.root / "environments/train/conda-lock.yml").exists()


def test_gpu_virtual_package_is_respected(repo: RepoBuilder) -> None:
    # __cuda changes what solves: a spec that needs it fails without it.
    repo.env("gpu", conda=CONDA_NUMPY + "  - __cuda>=12\n")
    assert repo.run("lock").exit_code == 1
    repo.settings("environments:\n  gpu:\n    virtual_packages:\n      __cuda: '12.1'\n")
    result = repo.run("lock")
    assert result.exit_code == 0, result.output
    assert "__cuda" not in (repo.root / "environments/gpu/conda-lock.yml").read_text().split("package:")[1]


@pytest.fixture
def http_mirror() -> Iterator[str]:
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(FIXTURE_CHANNEL))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_http_mirror_gives_the_same_lock_as_the_file_mirror(repo: RepoBuilder, http_mirror: str,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    other = RepoBuilder(tmp_path_factory.mktemp("other"))
    (other.root / "environments").mkdir()
    other.settings(f"mirrors:\n  conda-forge: {http_mirror}\n", mirror=False)
    other.env("train", conda=CONDA_NUMPY)
    result = other.run("lock")
    assert result.exit_code == 0, result.output
    mine = (repo.root / "environments/train/conda-lock.yml").read_text()
    theirs = (other.root / "environments/train/conda-lock.yml").read_text()
    assert theirs == mine
    assert "127.0.0.1" not in theirs


def test_unreachable_mirror_fails_cleanly(repo: RepoBuilder) -> None:
    repo.settings("mirrors:\n  conda-forge: http://127.0.0.1:9/conda-forge\n", mirror=False)
    repo.env("train", conda=CONDA_NUMPY)
    result = repo.run("lock")
    assert result.exit_code == 4  # unreachable, not a finding
    assert "cannot read conda metadata" in result.stderr
    assert not (repo.root / "environments/train/conda-lock.yml").exists()


def test_conda_lock_itself_renders_the_lock(repo: RepoBuilder) -> None:
    """conda-lock's own CLI reads the file (what conda-lock install and micromamba consume)."""
    import subprocess
    import sys

    folder = repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    conda_lock = Path(sys.executable).parent / "conda-lock"
    result = subprocess.run([str(conda_lock), "render", "-k", "explicit", "-p", "linux-64", "conda-lock.yml"],
                            cwd=folder, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    explicit = (folder / "conda-linux-64.lock").read_text().splitlines()
    urls = {line.split("#")[0] for line in explicit if line.startswith("https://")}
    locked = {p["url"] for p in packages(folder) if p["platform"] == "linux-64"}
    assert urls == locked


def test_check_and_dry_run_write_nothing_and_say_what_would_change(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    before = repo.snapshot()
    missing = repo.run("lock", "--check")
    assert missing.exit_code == 1 and "would change" in missing.stdout
    assert repo.run("lock", "--dry-run").exit_code == 0
    assert repo.snapshot() == before
    assert repo.run("lock").exit_code == 0
    assert repo.run("lock", "--locked").exit_code == 0

    locked = repo.snapshot()
    repo.env("train", conda=CONDA_NUMPY + "  - scipy\n")
    edited = repo.snapshot()
    stale = repo.run("lock", "--locked", "--json")
    assert stale.exit_code == 1
    assert [(o["name"], o["status"]) for o in json.loads(stale.stdout)] == [("train", "would change")]
    assert repo.snapshot() == edited
    repo.env("train", conda=CONDA_NUMPY)
    assert repo.snapshot() == locked
    # -P solves to compare: numpy is already the newest numpy<2, so the lock would not change
    same = repo.run("lock", "--check", "-P", "numpy", "--json")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)[0]["status"] == "unchanged"
    assert repo.snapshot() == locked


def test_json_reports_package_counts_of_unchanged_locks(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    first = json.loads(repo.run("lock", "--json").stdout)[0]
    again = json.loads(repo.run("lock", "--json").stdout)[0]
    assert first["status"] == "locked" and again["status"] == "unchanged"
    assert again["conda_packages"] == first["conda_packages"] > 0
    assert again["lock_sha256"] == first["lock_sha256"]
    table = repo.run("lock")
    assert f"{first['conda_packages']} conda, 0 pip" in table.stdout


def test_platform_option_locks_for_the_named_platforms(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    result = repo.run("lock", "-p", "osx-arm64", "-p", "linux-64")
    assert result.exit_code == 0, result.output
    document = yaml.safe_load((repo.root / "environments/train/conda-lock.yml").read_text())
    assert document["metadata"]["platforms"] == ["osx-arm64", "linux-64"]
    check = repo.run("check", "--json")  # envlock.yaml still declares linux-64 only
    assert check.exit_code == 1 and json.loads(check.stdout)[0]["kind"] == "stale-lock"
    wrong = repo.run("lock", "-p", "solaris-64")
    assert wrong.exit_code == 2 and "solaris-64" in wrong.stderr


HEAVY_PROBE = """\
import sys
from envlock.cli import cli
try:
    cli.main(["-C", sys.argv[1], "lock"], standalone_mode=True)
except SystemExit as exit:
    assert not exit.code, exit.code
print(sorted({m.split(".")[0] for m in sys.modules} & {"conda_lock", "rattler", "pydantic", "azure"}))
"""


def test_lock_imports_no_conda_lock_and_a_fresh_relock_no_solver(repo: RepoBuilder) -> None:
    import subprocess
    import sys

    repo.env("train", conda=CONDA_NUMPY)
    probe = [sys.executable, "-c", HEAVY_PROBE, str(repo.root)]
    solving = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert solving.strip().splitlines()[-1] == "['rattler']"  # conda-lock's format, not its import
    relock = subprocess.run(probe, capture_output=True, text=True, check=True).stdout
    assert relock.strip().splitlines()[-1] == "[]"


def test_one_invalid_declaration_does_not_stop_the_others(repo: RepoBuilder) -> None:
    repo.env("good", conda=CONDA_NUMPY)
    repo.env("bad", conda=CONDA_NUMPY, env_yml="name: bad\nimgae: python:3.10\nconda_file: conda.yaml\n")
    result = repo.run("lock")
    assert result.exit_code == 2, result.output
    assert (repo.root / "environments" / "good" / "conda-lock.yml").is_file()
    assert not (repo.root / "environments" / "bad" / "conda-lock.yml").exists()
    assert "environments/bad/env.yml:2 (field 'imgae'): unknown key 'imgae'" in result.stderr
    assert "fix: did you mean 'image'?" in result.stderr and "the other 1 were locked" in result.stderr


def test_a_folder_without_a_declaration_is_reported_not_skipped(repo: RepoBuilder) -> None:
    repo.env("good", conda=CONDA_NUMPY)
    broken = repo.root / "environments" / "broken"
    (broken / "env.yml").mkdir(parents=True)  # not a file: no declaration envlock can read
    result = repo.run("lock")
    assert result.exit_code == 2, result.output
    assert "environments/broken" in result.output and "no AML environment YAML here" in result.output
    assert "fix:" in result.output
    assert (repo.root / "environments/good/conda-lock.yml").is_file()  # the others are still locked
    assert repo.run("lock", "good").exit_code == 0  # named: only what was asked for


def channel_copy(root: Path, keep: Callable[[dict], bool], noarch: str | None = None) -> Path:  # type: ignore[type-arg]
    """A local channel copy holding the fixture's linux-64 records that `keep` selects."""
    source = json.loads((FIXTURE_CHANNEL / "linux-64" / "repodata.json").read_text())
    for section in ("packages", "packages.conda"):
        source[section] = {file: record for file, record in source[section].items() if keep(record)}
    (root / "linux-64").mkdir(parents=True)
    (root / "linux-64" / "repodata.json").write_text(json.dumps(source))
    (root / "noarch").mkdir()
    (root / "noarch" / "repodata.json").write_text(noarch or json.dumps({"info": {"subdir": "noarch"},
                                                                         "packages": {}, "packages.conda": {}}))
    return root


def test_a_channel_listed_first_without_the_wanted_version_gives_way_to_the_next(
        repo: RepoBuilder, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Two local channel copies solve as the gateway solves channels read over HTTP: strict priority
    passes over a channel that has no record of the version asked for."""
    older = channel_copy(tmp_path_factory.mktemp("older"), lambda r: r["name"] == "numpy"
                         and r["version"].startswith("1.24."))
    repo.settings(f"mirrors:\n  older: {older.as_uri()}\n  conda-forge: {FIXTURE_CHANNEL.as_uri()}\n"
                  "platforms: [linux-64]\n", mirror=False)
    folder = repo.env("train", conda="channels: [older, conda-forge]\ndependencies:\n  - python=3.10\n"
                                     "  - numpy>=1.26,<2\n")
    result = repo.run("lock")
    assert result.exit_code == 0, result.output
    assert versions(folder)["numpy"][0] == "1.26.4"


@pytest.mark.parametrize(("damage", "channels"), [("not json", 1), ("record", 1), ("record", 2)])
def test_a_damaged_channel_copy_is_named_not_a_crash(repo: RepoBuilder, damage: str, channels: int,
                                                    tmp_path_factory: pytest.TempPathFactory) -> None:
    copy = channel_copy(tmp_path_factory.mktemp("copy"), lambda r: True)
    if damage == "not json":
        (copy / "linux-64" / "repodata.json").write_text("<html>moved</html>")
    else:
        data = json.loads((copy / "linux-64" / "repodata.json").read_text())
        for record in data["packages.conda"].values():
            if record["name"] == "numpy":
                record["depends"] = "x"
        (copy / "linux-64" / "repodata.json").write_text(json.dumps(data))
    other = channel_copy(tmp_path_factory.mktemp("other"), lambda r: False)  # a second channel: the gateway
    repo.settings(f"mirrors:\n  conda-forge: {copy.as_uri()}\n  other: {other.as_uri()}\nplatforms: [linux-64]\n",
                  mirror=False)
    listed = "[conda-forge, other]" if channels == 2 else "[conda-forge]"
    repo.env("train", conda=CONDA_NUMPY.replace("[conda-forge]", listed))
    result = repo.run("lock")
    assert result.exit_code == 1, result.output
    assert "unexpected error" not in result.stderr and "Traceback" not in result.stderr
    assert copy.as_uri() in result.stderr and "not conda repodata" in result.stderr
    assert not (repo.root / "environments/train/conda-lock.yml").exists()
