"""Docker build contexts declared as AML writes them (env.yml build:), modeled on azureml-assets'
sklearn and pytorch curated definitions: Dockerfile reading, lock, render and check, with FROM
images resolved through a real docker-registry on 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from envlock.dockerfile import parse_dockerfile
from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.image_layers import conda_record, layer
from tests.support.oci_registry import OciRegistry
from tests.support.registries import conda_env, locked_repo, run_cli

ASSETS = Path(__file__).parent / "fixtures" / "azureml-assets"
ENV = "/azureml-envs/sklearn"
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}")


def verbatim(name: str) -> tuple[str, frozenset[str]]:
    context = ASSETS / name / "context"
    return (context / "Dockerfile").read_text(), frozenset(p.name for p in context.iterdir())


def test_reads_the_curated_sklearn_dockerfile_as_published() -> None:
    text, files = verbatim("sklearn-1.1")
    dockerfile = parse_dockerfile("Dockerfile", text, files)
    assert [i.image for i in dockerfile.images] == ["mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:"
                                                    "{{latest-image-tag}}"]
    [installed] = dockerfile.installs
    assert (installed.manager, installed.path, installed.environment) == \
        ("conda", "conda_dependencies.yaml", ("-p", "$CONDA_PREFIX"))
    assert dockerfile.problems == ()


def test_reports_inline_installs_of_the_newer_sklearn_dockerfile_at_their_line() -> None:
    text, files = verbatim("sklearn-1.5")
    dockerfile = parse_dockerfile("Dockerfile", text, files)
    lines = text.splitlines()
    found = {p.line: p.message for p in dockerfile.problems if p.kind == "unpinned-install"}
    conda_line = next(n for n, line in enumerate(lines, 1) if line.startswith("RUN conda create"))
    pip_line = next(n for n, line in enumerate(lines, 1) if line.startswith("RUN conda run -p $CONDA_PREFIX pip"))
    assert found[conda_line].startswith("conda create python=3.10, pip=26.1.2, pandas~=1.5.3, scipy~=1.10.0")
    assert "scikit-learn-intelex=={{latest-pypi-version}}" in found[pip_line]  # a template is no pin
    assert "scikit-learn~=1.5.0" in found[pip_line] and "py-spy==0.3.12" not in found[pip_line]
    assert dockerfile.installs_python  # conda create ... python=3.10 brings its own Python


def test_reads_the_curated_pytorch_dockerfile_requirements_install() -> None:
    text, files = verbatim("acpt-pytorch-2.8-cuda12.6")
    dockerfile = parse_dockerfile("Dockerfile", text, files)
    [installed] = dockerfile.installs
    assert (installed.line, installed.manager, installed.path) == (7, "pip", "requirements.txt")
    assert not dockerfile.installs_python


def push_base(oci_registry: OciRegistry, repository: str, tag: str, python: str) -> str:
    """A conda base image whose inventory says which Python it provides."""
    files = conda_record(ENV, "python", python, "h0_cpython")
    return oci_registry.push_image(repository, tag, [layer(files)], env=[f"CONDA_PREFIX={ENV}",
                                                                         f"PATH={ENV}/bin:/usr/bin"])


SKLEARN_DOCKERFILE = """\
FROM {image}

WORKDIR /

ENV CONDA_PREFIX=/azureml-envs/sklearn
ENV PATH=$CONDA_PREFIX/bin:$PATH

COPY conda_dependencies.yaml .
RUN conda env create -p $CONDA_PREFIX -f conda_dependencies.yaml -q && \\
    rm conda_dependencies.yaml && \\
    conda clean -a -y
"""

SKLEARN_CONDA = """\
name: sklearn
channels:
- conda-forge
dependencies:
- python=3.10
- pip
- numpy~=1.26.0
- pip:
  - six=={{latest-pypi-version}}
"""

PYTORCH_DOCKERFILE = """\
FROM {image}

ENV PIP_PROGRESS_BAR=off

# Install pip dependencies
COPY requirements.txt .
RUN pip install -r requirements.txt --no-cache-dir
RUN pip install 'idna>=3.15'
ADD https://example.com/tool.tar.gz /opt/
"""


def build_env(repo: RepoBuilder, name: str, files: dict[str, str]) -> Path:
    folder = repo.root / "environments" / name
    (folder / "context").mkdir(parents=True)
    (folder / "env.yml").write_text(f"name: {name}\nbuild:\n  path: context\n  dockerfile_path: Dockerfile\n")
    for path, text in files.items():
        (folder / "context" / path).write_text(text)
    return folder


@pytest.fixture
def contexts(repo: RepoBuilder, oci_registry: OciRegistry) -> RepoBuilder:
    push_base(oci_registry, "azureml/openmpi4.1.0-ubuntu20.04", "20240709.v1", "3.10.14")
    image = f"{oci_registry.host}/azureml/openmpi4.1.0-ubuntu20.04:20240709.v1"
    build_env(repo, "sklearn", {"Dockerfile": SKLEARN_DOCKERFILE.format(image=image),
                                "conda_dependencies.yaml": SKLEARN_CONDA})
    build_env(repo, "pytorch", {"Dockerfile": PYTORCH_DOCKERFILE.format(image=image),
                                "requirements.txt": "six\n# a comment as azureml-assets writes them\n"})
    return repo


def test_lock_build_and_check_build_contexts(contexts: RepoBuilder, oci_registry: OciRegistry) -> None:
    repo = contexts
    before = repo.run("check", "--json")
    found = {(f["environment"], f["kind"], f.get("line")) for f in json.loads(before.stdout)}
    assert ("pytorch", "image-tag", 1) in found  # FROM by tag in a context not locked yet
    assert ("pytorch", "unpinned-install", 8) in found and ("pytorch", "add-url", 9) in found
    assert ("sklearn", "missing-lock", None) in found

    locked = repo.run("lock")
    assert locked.exit_code == 0, locked.output
    folder = repo.root / "environments" / "sklearn"
    index = yaml.safe_load((folder / "context-lock.yml").read_text())
    [image] = index["content"]["images"]
    assert image["line"] == 1 and DIGEST.search(image["pinned"])
    assert index["content"]["base-python"] == "3.10.14"
    assert (folder / "locks" / "conda_dependencies.yaml" / "conda-lock.yml").is_file()

    built = repo.run("build")
    assert built.exit_code == 0, built.output
    context = repo.root / "build" / "sklearn" / "context"
    dockerfile = (context / "Dockerfile").read_text()
    assert f"FROM {image['pinned']}" in dockerfile
    assert "COPY conda_dependencies.yaml.explicit.txt conda_dependencies.yaml.pip.txt ./" in dockerfile
    assert "conda create -y -p $CONDA_PREFIX --file conda_dependencies.yaml.explicit.txt" in dockerfile
    assert "--require-hashes --no-deps -r conda_dependencies.yaml.pip.txt" in dockerfile
    explicit = (context / "conda_dependencies.yaml.explicit.txt").read_text()
    assert "@EXPLICIT" in explicit and re.search(r"/numpy-1\.26\.\d+-.*#[0-9a-f]{32}$", explicit, re.M)
    assert re.search(r"^six==1\.\d+\.\d+ \\\n    --hash=sha256:",
                     (context / "conda_dependencies.yaml.pip.txt").read_text(), re.M)
    env_yml = yaml.safe_load((repo.root / "build" / "sklearn" / "env.yml").read_text())
    assert env_yml["build"] == {"path": "context", "dockerfile_path": "Dockerfile"}

    pytorch = (repo.root / "build" / "pytorch" / "context" / "Dockerfile").read_text()
    assert "RUN pip install --require-hashes --no-deps -r requirements.txt --no-cache-dir" in pytorch
    assert re.search(r"^six==.* \\\n    --hash=sha256:",
                     (repo.root / "build" / "pytorch" / "context" / "requirements.txt").read_text(), re.M)

    after = json.loads(repo.run("check", "--json").stdout)
    kinds = {(f["environment"], f["kind"]) for f in after}
    assert ("pytorch", "image-tag") not in kinds and ("sklearn", "missing-lock") not in kinds
    assert {f["file"] for f in after if f["kind"] == "unpinned-install"} == {
        "environments/pytorch/context/Dockerfile"}

    again = repo.snapshot()
    assert repo.run("lock").exit_code == 0 and repo.snapshot() == again  # fresh: nothing re-solved

    # The lock's hash covers what decides freshness too: an edited inputs hash is an edited lock.
    index_path = folder / "context-lock.yml"
    original = index_path.read_text()
    index_path.write_text(original.replace(index["inputs-sha256"], "0" * 64, 1))
    edited = {(f["environment"], f["kind"]) for f in json.loads(repo.run("check", "--json").stdout)}
    assert ("sklearn", "edited-lock") in edited
    index_path.write_text(original)

    (repo.root / "environments" / "pytorch" / "context" / "requirements.txt").write_text("six\nidna\n")
    stale = {(f["environment"], f["kind"]) for f in json.loads(repo.run("check", "--json").stdout)}
    assert ("pytorch", "stale-lock") in stale and ("sklearn", "stale-lock") not in stale


def test_outdated_reports_a_from_tag_moved_since_the_context_lock(repo: RepoBuilder,
                                                                   oci_registry: OciRegistry) -> None:
    first = push_base(oci_registry, "team/context-base", "1", "3.10.14")
    image = f"{oci_registry.host}/team/context-base:1"
    build_env(repo, "torch", {"Dockerfile": PYTORCH_DOCKERFILE.format(image=image), "requirements.txt": "six\n"})
    unlocked = repo.run("outdated", "--json", "torch")
    assert unlocked.exit_code == 0, unlocked.output
    [entry] = json.loads(unlocked.stdout)
    assert (entry["kind"], entry["latest"]) == ("image-by-tag", first)
    assert f"FROM {oci_registry.host}/team/context-base@{first} on Dockerfile:1" in entry["fix"]

    assert repo.run("lock", "torch").exit_code == 0
    current = repo.run("outdated", "--json", "torch")
    assert current.exit_code == 0, current.output
    assert [(e["environment"], e["kind"], e["current"]) for e in json.loads(current.stdout)] == \
        [("torch", "current", first)]

    moved = push_base(oci_registry, "team/context-base", "1", "3.10.15")  # the tag now names another image
    assert moved != first
    outdated = repo.run("outdated", "--json", "torch")
    assert outdated.exit_code == 1, outdated.output
    [entry] = json.loads(outdated.stdout)
    assert (entry["environment"], entry["kind"], entry["current"], entry["latest"], entry["outdated"]) == \
        ("torch", "tag-moved", first, moved, True)
    assert f"the tag {image} on Dockerfile:1 moved since the lock: envlock lock torch --upgrade" in entry["fix"]


def test_a_templated_from_line_is_refused_with_its_line(repo: RepoBuilder) -> None:
    folder = build_env(repo, "curated", {})
    shutil.copytree(ASSETS / "sklearn-1.1" / "context", folder / "context", dirs_exist_ok=True)
    result = repo.run("lock")
    assert result.exit_code == 2
    assert "Dockerfile:1" in result.output and "{{latest-image-tag}}" in result.output


@pytest.mark.parametrize("env_yml, message", [
    ("name: x\nbuild:\n  path: nowhere\n", "build context folder 'nowhere' not found"),
    ("name: x\nimage: python:3.10\nbuild:\n  path: context\n", "image: and build: cannot be used together"),
    ("name: x\nbuild:\n  path: ../../..\n", "leaves the repository"),
    ("name: x\nbuild:\n  path: context\n  dockerfile_path: Other\n", "no Other in the build context"),
])
def test_bad_build_declarations(repo: RepoBuilder, env_yml: str, message: str) -> None:
    folder = build_env(repo, "x", {"Dockerfile": "FROM python:3.10\n"})
    (folder / "env.yml").write_text(textwrap.dedent(env_yml))
    before = repo.snapshot()
    result = repo.run("lock")
    assert result.exit_code == 2 and message in result.output and "env.yml" in result.output
    assert repo.snapshot() == before


def test_register_a_build_context_through_the_sdk_upload(contexts: RepoBuilder, aml: AmlEmulator) -> None:
    """The real azure-ai-ml uploads the rendered context to the workspace's blob datastore (through
    the CONNECT proxy, TLS from the test CA) and creates the version with build.contextUri."""
    repo = contexts
    assert repo.run("build", "pytorch").exit_code == 0
    wiring = {**aml.client_environment(), **aml.storage_environment()}
    first = run_cli(repo.root, "register", "pytorch", "--json", env=wiring)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["pytorch"]["status"] == "created"
    requests = list(aml.state.requests)
    service = [r for r in requests if r[1] != "/metadata/endpoints"]  # the SDK rereads cloud metadata
    print(f"BUILD-CONTEXT REGISTRATION: {len(requests)} requests, {len(service)} besides cloud metadata: "
          + ", ".join(f"{m} {p.split('/')[-1] or p}" for m, p in service))

    rendered_folder = repo.root / "build" / "pytorch" / "context"
    rendered = {p.relative_to(rendered_folder).as_posix(): p.read_bytes()
                for p in rendered_folder.rglob("*") if p.is_file()}
    uploaded = aml.uploaded()
    context_uri = aml.workspace_version("pytorch", "1").properties["build"]["contextUri"]
    print("contextUri", context_uri)
    prefix = context_uri.split("/azureml-blobstore-envlock/", 1)[1]
    assert {path[len(prefix):]: data for path, data in uploaded.items()} == rendered
    assert aml.workspace_version("pytorch", "1").properties["build"]["dockerfilePath"] == "Dockerfile"
    assert aml.proxy is not None and aml.proxy.tunnels and \
        all(t.endswith(".blob.core.emulator.test:443") for t in aml.proxy.tunnels)

    again = run_cli(repo.root, "register", "pytorch", "--json", env=wiring)
    assert again.returncode == 0 and json.loads(again.stdout)["pytorch"]["status"] == "unchanged"
    assert aml.version_numbers("pytorch") == ["1"]
    second = [r for r in aml.state.requests[len(requests):] if r[1] != "/metadata/endpoints"]
    print(f"SAME LOCK AGAIN: {', '.join(f'{m} {p.split(chr(47))[-1]}' for m, p in second)}")
    assert not [r for r in second if r[0] in ("PUT", "HEAD")]  # no upload, no new version


def test_register_reports_every_environment_and_writes_every_success(repo: RepoBuilder) -> None:
    locked_repo(repo, ["good", "stale"])
    (repo.root / "environments" / "stale" / "conda.yaml").write_text(conda_env(extra="  - pandas\n"))
    output = repo.root / "registered.json"
    result = repo.run("register", "--output", str(output), "--json")
    assert result.exit_code == 1
    statuses = {name: entry["status"] for name, entry in json.loads(result.stdout).items()}
    assert statuses == {"good": "created", "stale": "failed"}
    assert "stale: the lock is stale; run envlock lock stale" in result.stderr
    assert list(json.loads(output.read_text())) == ["good"]


def test_check_refuses_a_declared_python_the_base_image_does_not_provide(repo: RepoBuilder,
                                                                        oci_registry: OciRegistry) -> None:
    """The lock records the base image's Python (its conda-meta, or PYTHON_VERSION in its config)."""
    push_base(oci_registry, "azureml/minimal-py39-inference", "1", "3.9.19")
    oci_registry.push_image("library/python", "3.12-slim", [], env=["PYTHON_VERSION=3.12.4"])
    repo.settings("environments:\n  api:\n    python: '3.12'\n")
    repo.env("api", requirements="six\n", image=f"{oci_registry.host}/azureml/minimal-py39-inference:1")
    assert repo.run("lock").exit_code == 0
    assert "# envlock-base-python: 3.9.19" in (repo.root / "environments" / "api" / "requirements.txt").read_text()
    result = repo.run("check", "--json")
    [mismatch] = [f for f in json.loads(result.stdout) if f["kind"] == "python-mismatch"]
    assert result.exit_code == 1 and mismatch["severity"] == "error"
    assert "declares Python 3.12" in mismatch["message"] and "provides Python 3.9.19" in mismatch["message"]

    repo.env("api", requirements="six\n", image=f"{oci_registry.host}/library/python:3.12-slim")
    assert repo.run("lock").exit_code == 0
    after = json.loads(repo.run("check", "--json").stdout)
    assert not [f for f in after if f["kind"].startswith(("python-", "base-python"))]
