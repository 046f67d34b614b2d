"""Bad declarations: exit 2, one message naming file, line, field and fix; nothing written."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CONDA_NUMPY, RepoBuilder


def assert_rejected(repo: RepoBuilder, *needles: str) -> str:
    before = repo.snapshot()
    result = repo.run("lock")
    assert result.exit_code == 2, result.output
    message = result.stderr
    assert message.startswith("envlock: error: ")
    for needle in needles:
        assert needle in message, message
    assert "fix:" in message
    assert repo.snapshot() == before
    return message


def test_invalid_yaml_names_file_and_line(repo: RepoBuilder) -> None:
    repo.env("web", conda=CONDA_NUMPY, env_yml="name: web\nimage: [unclosed\nconda_file: conda.yaml\n")
    assert_rejected(repo, "environments/web/env.yml:", "invalid YAML")


def test_mistyped_key_suggests_the_right_one(repo: RepoBuilder) -> None:
    repo.env("web", conda=CONDA_NUMPY, env_yml="name: web\nimgae: python:3.10\nconda_file: conda.yaml\n")
    message = assert_rejected(repo, "env.yml:2", "unknown key 'imgae'", "did you mean 'image'")
    assert "field 'imgae'" in message


def test_unknown_key_in_conda_file(repo: RepoBuilder) -> None:
    repo.env("web", conda="channels: [conda-forge]\ndependencies: [python=3.10]\nchannel: x\n")
    assert_rejected(repo, "conda.yaml:3", "unknown key 'channel'", "did you mean 'channels'")


@pytest.mark.parametrize("name", ["-leading-dash", "has space"])
def test_names_aml_rejects(repo: RepoBuilder, name: str) -> None:
    repo.env(name, conda=CONDA_NUMPY, env_yml=f"name: '{name}'\nimage: x\nconda_file: conda.yaml\n")
    assert_rejected(repo, "not a valid AML environment name", "field 'name'")


def test_name_must_match_folder(repo: RepoBuilder) -> None:
    repo.env("web", conda=CONDA_NUMPY, env_yml="name: other\nimage: x\nconda_file: conda.yaml\n")
    assert_rejected(repo, "env.yml:1", "differs from its folder 'web'")


def test_missing_conda_file(repo: RepoBuilder) -> None:
    repo.env("web", env_yml="name: web\nimage: x\nconda_file: conda.yml\n")
    assert_rejected(repo, "env.yml:3", "conda file 'conda.yml' not found", "field 'conda_file'")


@pytest.mark.parametrize("requirement, problem", [
    ("./src/mypkg", "local path"),
    ("-e ../lib", "local path"),
    ("mypkg @ file:///home/me/mypkg", "local path"),
    ("git+https://github.com/org/repo.git@main", "without a pinned commit"),
    ("git+https://github.com/org/repo.git", "without a pinned commit"),
    ("--extra-index-url https://pkgs.internal/simple", "index options"),
])
def test_pip_requirements_that_cannot_be_locked(repo: RepoBuilder, requirement: str, problem: str) -> None:
    repo.env("web", conda=f"""\
        channels: [conda-forge]
        dependencies:
          - python=3.10
          - pip
          - pip:
            - requests
            - {requirement}
        """)
    assert_rejected(repo, "conda.yaml:7", problem, "field 'dependencies.pip'")
    check = repo.run("check")
    assert check.exit_code == 1
    assert "unpinned-pip" not in check.stdout  # human output names the file and message instead
    assert "conda.yaml:7" in check.stdout and problem in check.stdout


def test_pinned_git_commit_is_accepted_by_check(repo: RepoBuilder) -> None:
    repo.env("web", conda=f"""\
        channels: [conda-forge]
        dependencies:
          - python=3.10
          - pip:
            - git+https://github.com/org/repo.git@{"a" * 40}
        """)
    findings = repo.run("check", "--json")
    assert "unpinned-pip" not in findings.stdout
    assert "missing-lock" in findings.stdout


def test_mistyped_settings_key(repo: RepoBuilder) -> None:
    repo.settings("platfroms: [linux-64]\n")
    repo.env("web", conda=CONDA_NUMPY)
    assert_rejected(repo, "envlock.yaml:3", "unknown key 'platfroms'", "did you mean 'platforms'")


def test_unknown_platform(repo: RepoBuilder) -> None:
    repo.settings("platforms: [linux-64, osx-arm]\n")
    repo.env("web", conda=CONDA_NUMPY)
    assert_rejected(repo, "envlock.yaml:3", "unknown platform 'osx-arm'", "did you mean 'osx-arm64'")


def test_pip_only_needs_a_declared_python(repo: RepoBuilder) -> None:
    repo.env("api", requirements="requests\n")
    assert_rejected(repo, "requirements.in", "must declare its target Python", "python: '3.12'")


def test_unquoted_python_version_is_caught(repo: RepoBuilder) -> None:
    repo.settings("environments:\n  api:\n    python: 3.10\n")
    repo.env("api", requirements="requests\n")
    assert_rejected(repo, "envlock.yaml:5", "is not X.Y", "quote the version")


def test_build_context_needs_its_folder(repo: RepoBuilder) -> None:
    repo.env("web", env_yml="name: web\nbuild:\n  path: docker\n")
    assert_rejected(repo, "env.yml:3", "build context folder 'docker' not found")


def test_invalid_conda_spec(repo: RepoBuilder) -> None:
    repo.env("web", conda="channels: [conda-forge]\ndependencies:\n  - numpy>=>1\n")
    result = repo.run("lock")
    assert result.exit_code == 2
    assert "conda.yaml:3" in result.stderr and "invalid package spec 'numpy>=>1'" in result.stderr


def test_no_environments_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = RepoBuilder(tmp_path).run("check")
    assert result.exit_code == 2
    assert "no environments/ folder" in result.stderr


def test_a_declaration_is_found_by_its_shape_whatever_its_name(repo: RepoBuilder) -> None:
    """azureml-examples' layout: docker-image-plus-conda.yaml is the AML environment YAML, and its
    conda file is called env.yml."""
    folder = repo.root / "environments" / "pydata"
    folder.mkdir()
    (folder / "docker-image-plus-conda.yaml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json\n"
        "name: pydata\nimage: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04\nconda_file: env.yml\n"
        "description: Environment created from a Docker image plus Conda environment.\n")
    (folder / "env.yml").write_text(CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    found = json.loads(repo.run("check", "--json").stdout)
    assert [(f["file"], f["kind"]) for f in found] == [("environments/pydata/docker-image-plus-conda.yaml",
                                                         "image-tag")]


def test_a_folder_without_a_declaration_is_reported(repo: RepoBuilder) -> None:
    repo.env("train", conda=CONDA_NUMPY)
    assert repo.run("lock").exit_code == 0
    stray = repo.root / "environments" / "scoring"
    stray.mkdir()
    (stray / "conda.yaml").write_text(CONDA_NUMPY)  # a conda file, but no AML environment YAML beside it
    result = repo.run("check", "--json")
    assert result.exit_code == 1
    assert [(f["environment"], f["file"], f["kind"]) for f in json.loads(result.stdout)] == [
        ("scoring", "environments/scoring", "no-declaration")]


def test_the_defaults_channel_maps_to_what_the_repository_configures(repo: RepoBuilder) -> None:
    repo.env("train", conda="channels:\n  - defaults\ndependencies:\n  - python=3.10\n")
    refused = repo.run("lock")
    assert refused.exit_code == 2
    assert "conda.yaml:2 (field 'channels.0')" in refused.stderr
    assert "defaults_channels: [conda-forge]" in refused.stderr
    repo.settings("defaults_channels: [conda-forge]\n")
    assert repo.run("lock").exit_code == 0, repo.run("lock").output
    lock = (repo.root / "environments" / "train" / "conda-lock.yml").read_text()
    assert "url: conda-forge\n" in lock and "defaults" not in lock


def test_requirements_taken_without_packaging_are_ones_packaging_accepts() -> None:
    """The fast path for plain requirements never lets through what PEP 508 (packaging) refuses,
    and everything it refuses still reaches packaging."""
    import itertools

    from packaging.requirements import InvalidRequirement, Requirement

    from envlock.spec import PLAIN_REQUIREMENT

    names = ["numpy", "scikit-learn", "a", "zope.interface", "Py_Yaml", "a-", "-a", "a..b", "ünicode"]
    extras = ["", "[dev]", "[a,b]", "[ a ]", "[]", "[a,]"]
    specifiers = ["", ">=1.26", ">= 1.26", "==2.2.*", "!=1.*", "~=1", "~=1.4", "<2", ">1.0.0.0", "==1.0rc1",
                  ">=1.*", "==٣", "===1.0", "==1.*.2", ">=1,<2", ">=1 , <2", ",<2", ">=1,", "=1",
                  "; python_version<'3.11'", " @ https://host/a.whl", ">=1\t", "\t==1"]
    plain = 0
    for name, extra, specifier in itertools.product(names, extras, specifiers):
        text = f"{name}{extra}{specifier}"
        if not PLAIN_REQUIREMENT.fullmatch(text):
            continue
        plain += 1
        try:
            requirement = Requirement(text)
        except InvalidRequirement as exc:
            raise AssertionError(f"{text!r} passed the fast path but packaging refuses it: {exc}") from None
        assert requirement.url is None and not requirement.marker, text
    assert plain > 100  # the fast path does take the common forms
    assert not PLAIN_REQUIREMENT.fullmatch("numpy>=1.26rc1") and not PLAIN_REQUIREMENT.fullmatch("a==1.0\n")


@pytest.mark.parametrize("requirement", ["numpy>=>1", "numpy>=1.*", "a~=1", "pandas[dev", "a==٣"])
def test_a_requirement_outside_the_plain_forms_is_still_checked(repo: RepoBuilder, requirement: str) -> None:
    repo.env("web", conda=CONDA_NUMPY + f"  - pip:\n    - {requirement}\n")
    assert_rejected(repo, "not a valid pip requirement", "dependencies.pip")


def test_requirements_in_is_read_as_pip_reads_it(repo: RepoBuilder) -> None:
    """A BOM, CRLF endings and a comment after a tab, as editors on Windows leave them."""
    from envlock.repo import find_repo
    from envlock.settings import load_settings
    from envlock.spec import load_environment

    repo.settings("environments:\n  api:\n    python: '3.12'\n")
    folder = repo.env("api")
    (folder / "requirements.in").write_bytes(b"\xef\xbb\xbfsix>=1.16\r\nattrs\t# pinned later\r\n# a comment\r\n"
                                             b"idna==3.*  #and another\r\n")
    found = find_repo(repo.root)
    spec = load_environment(found, "api", load_settings(found.root))
    assert spec.pip_dependencies == ("six>=1.16", "attrs", "idna==3.*")


def test_a_specifier_without_a_name_is_not_taken_for_a_home_folder(repo: RepoBuilder) -> None:
    repo.env("web", conda=CONDA_NUMPY + "  - pip:\n    - ~=1.2\n")
    message = assert_rejected(repo, "not a valid pip requirement", "dependencies.pip")
    assert "local path" not in message


@pytest.mark.parametrize(("variables", "words"), [
    ("variables: [A, B]\n", ("conda.yaml:4", "variables must be a mapping")),
    ("variables:\n  ENVLOCK_LOCK_SHA256: x\n", ("conda.yaml:5", "set by envlock")),
    ("variables:\n  1BAD: x\n", ("conda.yaml:5", "not an environment variable name")),
    ("variables:\n  FLAG: true\n", ("conda.yaml:5", "must be a string or a number", "quote it")),
])
def test_conda_variables_are_checked(repo: RepoBuilder, variables: str, words: tuple[str, ...]) -> None:
    repo.env("web", conda="channels: [conda-forge]\ndependencies:\n  - python=3.10\n" + variables)
    assert_rejected(repo, *words)
