"""The CI recipes in docs/ci work as written: valid against the published schemas (vendored by
check-jsonschema, so no network), pinned to this release, bounded in time, and pushing their pins."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envlock import __version__

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "docs/ci/github-actions.yml"
AZURE = ROOT / "docs/ci/azure-pipelines.yml"
CHECK_JSONSCHEMA = str(Path(sys.executable).parent / "check-jsonschema")
# schemastore's azure-pipelines schema uses regexes that are valid only in non-unicode mode
SCHEMAS = {GITHUB: ["--builtin-schema", "vendor.github-workflows"],
           AZURE: ["--builtin-schema", "vendor.azure-pipelines", "--regex-variant", "nonunicode"]}


def validate(path: Path, schema_of: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CHECK_JSONSCHEMA, *SCHEMAS[schema_of], str(path)], capture_output=True, text=True)


@pytest.mark.parametrize("recipe", [GITHUB, AZURE], ids=["github-actions", "azure-pipelines"])
def test_recipe_is_valid_against_its_published_schema(recipe: Path) -> None:
    result = validate(recipe, recipe)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_an_unquoted_flag(tmp_path: Path) -> None:
    """Azure's schema types every scalar as a string: `persistCredentials: true` is rejected."""
    broken = tmp_path / "azure-pipelines.yml"
    broken.write_text(AZURE.read_text().replace("persistCredentials: 'true'", "persistCredentials: true"))
    result = validate(broken, AZURE)
    assert result.returncode == 1 and "persistCredentials" in result.stdout


def test_both_recipes_install_this_release() -> None:
    for recipe in (GITHUB, AZURE):
        text = recipe.read_text()
        pins = re.findall(r"envlock(?:\[\w+\])? @ git\+https://\S+@(\S+?)\"", text)
        pins = [pin.replace("$(ENVLOCK_VERSION)", yaml.safe_load(text)["variables"]["ENVLOCK_VERSION"])
                if "$(" in pin else pin for pin in pins]
        assert pins and set(pins) == {f"v{__version__}"}, recipe.name


def test_github_jobs_are_bounded_and_push_their_pins() -> None:
    workflow = yaml.safe_load(GITHUB.read_text())
    assert all(isinstance(job.get("timeout-minutes"), int) for job in workflow["jobs"].values())
    register = workflow["jobs"]["register"]
    assert register["permissions"]["contents"] == "write"
    assert "git push" in register["steps"][-1]["run"]


def test_azure_pipeline_pushes_its_pins_and_lists_its_variables() -> None:
    text = AZURE.read_text()
    pipeline = yaml.safe_load(text)
    jobs = [job for stage in pipeline["stages"] for job in stage["jobs"]]
    assert all(job.get("timeoutInMinutes") for job in jobs)
    register = next(job for job in jobs if job["job"] == "register")
    assert register["steps"][0] == {"checkout": "self", "persistCredentials": "true"}
    push = register["steps"][-1]["script"]
    assert "git push origin HEAD:$(Build.SourceBranch)" in push and "[skip ci]" in push
    used = set(re.findall(r"\$\((\w+)\)", text)) | set(re.findall(r"variables\.(\w+)", text))
    header = text.split("trigger:")[0]
    for variable in used - {"ENVLOCK_VERSION", "AML_SERVICE_CONNECTION"}:  # those two are set in the file
        assert variable in header, f"{variable} is used but not listed in the recipe's header"


def test_the_release_is_named_alike_everywhere() -> None:
    """pyproject, the package, the changelog and the README's pre-commit rev name one release."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^version = "{re.escape(__version__)}"$', pyproject, re.M)
    assert re.search(rf"^## {re.escape(__version__)} ", (ROOT / "CHANGELOG.md").read_text(), re.M)
    readme = (ROOT / "README.md").read_text()
    assert re.findall(r"^\s+rev: (\S+)$", readme, re.M) == [f"v{__version__}"]
    assert f"rev: v{__version__}" in (ROOT / ".pre-commit-hooks.yaml").read_text()
