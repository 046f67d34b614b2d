"""No credential is echoed or stored; no local path reaches a lock."""

from __future__ import annotations

import pytest

from envlock.secrets import has_credentials, mask, strip_credentials
from tests.conftest import RepoBuilder


@pytest.mark.parametrize(("text", "masked"), [
    ("https://user:SECRET@pypi.internal/simple", "https://***@pypi.internal/simple"),
    ("https://conda.anaconda.org/t/tk-SECRET/private", "https://conda.anaconda.org/t/***/private"),
    ("https://acct.blob.core.windows.net/c/x?sv=1&sig=SECRET%3D", "https://acct.blob.core.windows.net/c/x?sv=1&sig=***"),
    ("git+https://SECRET@github.com/o/r.git@" + "a" * 40, "git+https://***@github.com/o/r.git@" + "a" * 40),
])
def test_mask_hides_every_form_of_url_credentials(text: str, masked: str) -> None:
    assert mask(text) == masked and "SECRET" not in mask(text) and has_credentials(text)


@pytest.mark.parametrize("text", ["https://pypi.org/simple", "mypkg @ https://h/x.whl", "git@github.com:o/r",
                                  "azureml:train:1", "azureml:train@latest", "azureml://registries/azureml/environments/x/labels/latest"])
def test_mask_leaves_ordinary_text_alone(text: str) -> None:
    assert mask(text) == text and not has_credentials(text)


def test_strip_credentials_keeps_host_and_path() -> None:
    assert strip_credentials("https://u:p@files.internal:8443/a/b.whl#sha256=1") == "https://files.internal:8443/a/b.whl#sha256=1"


def test_an_unreachable_credentialed_pip_index_is_never_echoed(repo: RepoBuilder) -> None:
    repo.settings("pip_index_url: https://user:SECRET@127.0.0.1:9/simple\n"
                  "environments:\n  api: {python: '3.12'}\n")
    repo.env("api", requirements="tomli==2.0.1\n")
    result = repo.run("lock")
    assert result.exit_code != 0
    assert "SECRET" not in result.output, result.output
    assert not (repo.root / "environments/api/requirements.txt").exists()


@pytest.mark.parametrize(("channel", "words"), [
    ("https://user:SECRET@conda.internal/forge", "carries credentials"),
    ("https://conda.anaconda.org/t/SECRET/private", "carries credentials"),
    ("file:///srv/conda-forge", "local path"),
    ("/srv/conda-forge", "local path"),
])
def test_credentialed_or_local_channels_are_refused(repo: RepoBuilder, channel: str, words: str) -> None:
    repo.env("train", conda=f"channels: ['{channel}']\ndependencies: [python=3.10]\n")
    before = repo.snapshot()
    for command in ("check", "lock"):
        result = repo.run(command)
        assert result.exit_code == 2, result.output
        assert words in result.output and "conda.yaml:1" in result.output and "mirrors" in result.output
        assert "SECRET" not in result.output
    assert repo.snapshot() == before


def test_a_credentialed_pip_url_requirement_is_refused(repo: RepoBuilder) -> None:
    repo.env("train", conda="channels: [conda-forge]\ndependencies:\n  - python=3.10\n  - pip:\n"
                           "    - mypkg @ https://user:SECRET@files.internal/mypkg-1.0-py3-none-any.whl\n")
    result = repo.run("check")
    assert result.exit_code == 2 and "carries credentials" in result.output and "conda.yaml:5" in result.output
    assert "SECRET" not in result.output
