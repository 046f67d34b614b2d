"""`envlock clone-curated` and `envlock outdated`: curated definitions from the AML emulator's
registry endpoints (real azure-ai-ml client), image digests from a real docker-registry."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from envlock.oci import ImageError, parse_image
from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.image_layers import curated_layers
from tests.support.oci_registry import OciRegistry, TokenService
from tests.support.registries import run_cli

CURATED_REPO = "azureml/curated/sklearn-1.5"
DOCKERFILE = """\
FROM mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04:20250101.v1
COPY conda_dependencies.yaml /tmp/conda_dependencies.yaml
RUN conda env create -p $AZUREML_CONDA_ENVIRONMENT_PATH -f /tmp/conda_dependencies.yaml
"""
CONDA_DEPENDENCIES = """\
name: project_environment
channels:
  - conda-forge
dependencies:
  - python=3.10.14
  - pip={{latest-pip-version}}
  - numpy~=1.26.0
  - pip:
    - tomli~={{latest-tomli-version}}
"""


def add_sklearn(aml: AmlEmulator, version: str) -> None:
    aml.add_curated("sklearn-1.5", version, description="Scikit-learn 1.5 (curated)",
                    tags={"OS": "Ubuntu24.04", "Training": ""},
                    files={"Dockerfile": DOCKERFILE, "conda_dependencies.yaml": CONDA_DEPENDENCIES})
    time.sleep(0.01)  # distinct creation times: "latest" is the newest


CURATED_PREFIX = "/azureml-envs/sklearn-1.5"
# What each curated version's image holds in its environment: conda (name, version, build), pip (name, version)
CURATED_CONTENT = {
    "6": ([("python", "3.10.14", "hd12c33a_0_cpython"), ("scikit-learn", "1.5.1", "py310h146d792_0"),
           ("numpy", "1.26.4", "py310hb13e2d6_0")], [("mlflow-skinny", "2.15.1"), ("azureml-core", "1.57.0")]),
    "7": ([("python", "3.10.14", "hd12c33a_0_cpython"), ("scikit-learn", "1.5.2", "py310h146d792_1"),
           ("numpy", "1.26.4", "py310hb13e2d6_0")], [("mlflow-skinny", "2.16.0"), ("azureml-core", "1.57.0")]),
}


def push_curated(registry: OciRegistry, version: str, content: str | None = None) -> str:
    """A curated image as MCR publishes it: a base layer, the environment (zstd), a pip layer (gzip)."""
    conda, pip = CURATED_CONTENT[content or version]
    layers, env = curated_layers(CURATED_PREFIX, conda, pip)
    return registry.push_image(CURATED_REPO, version, layers, labels={"content": content or version}, env=env)


@pytest.fixture
def curated(repo: RepoBuilder, aml: AmlEmulator, oci_registry: OciRegistry) -> RepoBuilder:
    add_sklearn(aml, "6")
    add_sklearn(aml, "7")
    push_curated(oci_registry, "6")
    push_curated(oci_registry, "7")
    repo.settings(f"image_mirrors:\n  mcr.microsoft.com: {oci_registry.url}\n")
    return repo


def test_clone_is_the_curated_image_by_digest_with_its_inventory(curated: RepoBuilder, oci_registry: OciRegistry,
                                                                  aml: AmlEmulator) -> None:
    result = curated.run("clone-curated", "sklearn-1.5", "--json")
    assert result.exit_code == 0, result.output
    digest = push_curated(oci_registry, "7")  # same content: same digest
    summary = json.loads(result.stdout)
    assert summary["status"] == "cloned" and summary["source_version"] == "7"
    assert (summary["conda_packages"], summary["pip_packages"]) == (3, 2)
    folder = curated.root / "environments/sklearn-1.5"
    assert sorted(p.name for p in folder.iterdir()) == ["env.yml", "envlock.yaml", "image-lock.yml"]
    env_yml = yaml.safe_load((folder / "env.yml").read_text())
    assert env_yml["image"] == f"mcr.microsoft.com/{CURATED_REPO}@{digest}" and "conda_file" not in env_yml
    assert "sklearn-1.5 version 7" in env_yml["description"]
    provenance = yaml.safe_load((folder / "envlock.yaml").read_text())["provenance"]
    assert provenance["source_name"] == "sklearn-1.5" and provenance["source_version"] == "7"
    assert provenance["image_tag"] == f"mcr.microsoft.com/{CURATED_REPO}:7"
    assert provenance["image_digest"] == digest and provenance["cloned_on"]
    lock = yaml.safe_load((folder / "image-lock.yml").read_text())
    assert lock["metadata"]["envlock.image-digest"] == digest
    assert lock["metadata"]["envlock.environment-prefix"] == CURATED_PREFIX
    sklearn = next(p for p in lock["package"] if p["name"] == "scikit-learn" and p["manager"] == "conda")
    assert (sklearn["version"], sklearn["build"], sklearn["prefix"]) == ("1.5.2", "py310h146d792_1", CURATED_PREFIX)
    assert len(sklearn["sha256"]) == 64 and sklearn["channel"] == "https://conda.anaconda.org/conda-forge"
    assert {p["name"] for p in lock["package"] if p["prefix"] == "/opt/miniconda"} == {"conda"}
    assert curated.run("check", "--strict").exit_code == 0

    before = curated.snapshot()
    again = curated.run("clone-curated", "AzureML-sklearn-1.5", "--as", "sklearn-1.5", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["status"] == "unchanged"
    assert curated.snapshot() == before

    registered = curated.run("register", "--json")
    assert json.loads(registered.stdout)["sklearn-1.5"]["status"] == "created"
    assert curated.run("build", "sklearn-1.5").exit_code == 0
    rendered = yaml.safe_load((curated.root / "build/sklearn-1.5/env.yml").read_text())
    assert rendered["image"] == env_yml["image"] and "conda_file" not in rendered and "build" not in rendered


def test_diff_between_curated_versions_and_against_the_curated_now(curated: RepoBuilder,
                                                                   oci_registry: OciRegistry) -> None:
    assert curated.run("clone-curated", "sklearn-1.5", "--version", "6", "--as", "sklearn-old").exit_code == 0
    assert curated.run("clone-curated", "sklearn-1.5").exit_code == 0
    changes = json.loads(curated.run("diff", "sklearn-old", "sklearn-1.5", "--json").stdout)
    assert {(c["manager"], c["name"], c["before"], c["after"]) for c in changes} == {
        ("conda", "scikit-learn", "1.5.1=py310h146d792_0", "1.5.2=py310h146d792_1"),
        ("pip", "mlflow-skinny", "2.15.1", "2.16.0"),
    }
    text = curated.run("diff", "sklearn-old", "sklearn-1.5")
    assert text.exit_code == 1 and "scikit-learn" in text.stdout and "1.5.1" in text.stdout

    # the clone against the curated environment now, and two curated versions directly
    same = curated.run("diff", "sklearn-1.5", "curated:sklearn-1.5")
    assert same.exit_code == 0, same.output
    push_curated(oci_registry, "7", content="6")  # Microsoft rebuilt version 7 under the same tag
    moved = json.loads(curated.run("diff", "sklearn-1.5", "curated:sklearn-1.5", "--json").stdout)
    assert ("scikit-learn", "1.5.2=py310h146d792_1", "1.5.1=py310h146d792_0") in {
        (c["name"], c["before"], c["after"]) for c in moved}
    versions = curated.run("diff", "curated:sklearn-1.5:6", f"image:mcr.microsoft.com/{CURATED_REPO}:6")
    assert versions.exit_code == 0, versions.output


def test_verify_inside_a_job_on_the_clone(curated: RepoBuilder, tmp_path: Path) -> None:
    assert curated.run("clone-curated", "sklearn-1.5").exit_code == 0
    explicit = "\n".join(f"https://conda.anaconda.org/conda-forge/linux-64/{n}-{v}-{b}.conda"
                         for n, v, b in CURATED_CONTENT["7"][0])
    freeze = "\n".join(f"{n}=={v}" for n, v in CURATED_CONTENT["7"][1])
    observed = tmp_path / "build.log"
    observed.write_text(f"@EXPLICIT\n{explicit}\n{freeze}\n")
    lock = curated.root / "environments/sklearn-1.5/image-lock.yml"
    original = lock.read_text()
    recorded = yaml.safe_load(original)["metadata"]["envlock.inputs-sha256"]
    lock.write_text(original.replace(recorded, "0" * 64, 1))  # the hash covers what decides freshness
    edited = json.loads(curated.run("check", "--json", "sklearn-1.5").stdout)
    assert ("sklearn-1.5", "edited-lock") in {(f["environment"], f["kind"]) for f in edited}
    lock.write_text(original)
    ok = curated.run("verify", "--lock", str(lock), "--from", str(observed))
    assert ok.exit_code == 0, ok.output
    observed.write_text(f"@EXPLICIT\n{explicit}\n{freeze.replace('2.16.0', '2.17.0')}\n")
    differs = curated.run("verify", "--lock", str(lock), "--from", str(observed))
    assert differs.exit_code == 1 and "mlflow-skinny" in differs.output


def test_a_pinned_version_and_the_workspace_era_name(curated: RepoBuilder) -> None:
    result = curated.run("clone-curated", "AzureML-sklearn-1.5", "--version", "6", "--as", "sklearn-old")
    assert result.exit_code == 0, result.output
    provenance = yaml.safe_load((curated.root / "environments/sklearn-old/envlock.yaml").read_text())["provenance"]
    assert provenance["source_version"] == "6"
    assert provenance["image_tag"].endswith(":6")


def test_unknown_names_and_versions_list_close_matches(curated: RepoBuilder) -> None:
    before = curated.snapshot()
    unknown = curated.run("clone-curated", "sklearn-1.6")
    assert unknown.exit_code == 1
    assert "no curated environment named sklearn-1.6" in unknown.stderr and "sklearn-1.5" in unknown.stderr
    missing = curated.run("clone-curated", "sklearn-1.5", "--version", "99")
    assert missing.exit_code == 1 and "no version 99" in missing.stderr
    assert curated.snapshot() == before


def test_unknown_tag_and_unreachable_registry_write_nothing(curated: RepoBuilder, aml: AmlEmulator) -> None:
    add_sklearn(aml, "8")  # its image was never pushed
    before = curated.snapshot()
    result = curated.run("clone-curated", "sklearn-1.5")
    assert result.exit_code == 1 and "no such tag" in result.stderr
    curated.settings("image_mirrors:\n  mcr.microsoft.com: http://127.0.0.1:9\n")
    before = curated.snapshot()
    result = curated.run("clone-curated", "sklearn-1.5", "--version", "7")
    assert result.exit_code == 4 and "cannot reach 127.0.0.1:9" in result.stderr  # unreachable, not a finding
    assert curated.snapshot() == before


@pytest.fixture
def junk_registry() -> Iterator[str]:
    class Junk(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            body = b"<html>not a manifest</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Junk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_malformed_manifest_writes_nothing(curated: RepoBuilder, junk_registry: str) -> None:
    curated.settings(f"image_mirrors:\n  mcr.microsoft.com: {junk_registry}\n")
    before = curated.snapshot()
    result = curated.run("clone-curated", "sklearn-1.5")
    assert result.exit_code == 1 and "malformed manifest" in result.stderr
    assert curated.snapshot() == before


def test_image_only_curated_environment(curated: RepoBuilder, aml: AmlEmulator, oci_registry: OciRegistry) -> None:
    aml.add_curated("minimal-py311-inference", "3", files={"Dockerfile": "FROM mcr.microsoft.com/azureml/x:1\n"})
    digest = oci_registry.push("azureml/curated/minimal-py311-inference", "3", "three")
    result = curated.run("clone-curated", "minimal-py311-inference")
    assert result.exit_code == 0, result.output
    folder = curated.root / "environments/minimal-py311-inference"
    assert sorted(p.name for p in folder.iterdir()) == ["env.yml", "envlock.yaml", "image-lock.yml"]
    assert "conda_file" not in yaml.safe_load((folder / "env.yml").read_text())
    assert curated.run("check", "--strict").exit_code == 0
    registered = json.loads(curated.run("register", "--json").stdout)
    assert registered["minimal-py311-inference"]["status"] == "created"
    assert curated.run("build").exit_code == 0
    rendered = yaml.safe_load((curated.root / "build/minimal-py311-inference/env.yml").read_text())
    assert rendered["image"].endswith(digest) and "build" not in rendered
    exported = curated.run("export", "minimal-py311-inference:1", "--as", "mini-copy")
    assert exported.exit_code == 0, exported.output
    assert yaml.safe_load((curated.root / "environments/mini-copy/env.yml").read_text())["image"].endswith(digest)


def test_outdated_reports_new_versions_moved_tags_and_tag_digests(curated: RepoBuilder, aml: AmlEmulator,
                                                                   oci_registry: OciRegistry) -> None:
    assert curated.run("clone-curated", "sklearn-1.5").exit_code == 0
    tagged_digest = oci_registry.push("team/base", "2024.07", "base")
    curated.env("by-tag", conda="channels: [conda-forge]\ndependencies: [python=3.10]\n",
                image=f"{oci_registry.host}/team/base:2024.07")
    assert curated.run("lock", "by-tag").exit_code == 0
    lock_text = (curated.root / "environments/by-tag/conda-lock.yml").read_text()
    assert f"envlock.image-digest: {tagged_digest}" in lock_text  # the digest the tag named at lock time

    current = curated.run("outdated", "--json")
    assert current.exit_code == 0, current.output
    kinds = {(e["environment"], e["kind"]) for e in json.loads(current.stdout)}
    assert kinds == {("sklearn-1.5", "current"), ("by-tag", "current")}

    moved_base = oci_registry.push("team/base", "2024.07", "base-rebuilt")
    tag_moved = curated.run("outdated", "--json", "by-tag")
    assert tag_moved.exit_code == 1
    [entry] = json.loads(tag_moved.stdout)
    assert (entry["kind"], entry["current"], entry["latest"]) == ("tag-moved", tagged_digest, moved_base)
    assert "moved since the lock" in entry["fix"] and "envlock lock by-tag --upgrade" in entry["fix"]
    assert curated.run("lock", "by-tag", "--upgrade").exit_code == 0
    assert curated.run("outdated", "by-tag").exit_code == 0

    add_sklearn(aml, "8")
    newer = curated.run("outdated", "--json", "sklearn-1.5")
    assert newer.exit_code == 1
    assert [(e["kind"], e["current"], e["latest"]) for e in json.loads(newer.stdout)] == [
        ("newer-curated-version", "7", "8")]

    moved = push_curated(oci_registry, "7", content="6")
    entries = json.loads(curated.run("outdated", "--json", "sklearn-1.5").stdout)
    assert ("tag-moved", moved) in {(e["kind"], e["latest"]) for e in entries}

    push_curated(oci_registry, "8", content="7")
    updated = curated.run("clone-curated", "sklearn-1.5", "--json")
    assert json.loads(updated.stdout)["status"] == "updated"
    assert curated.run("outdated", "sklearn-1.5").exit_code == 0


def test_an_image_only_declaration_by_tag_locks_its_digest(curated: RepoBuilder, oci_registry: OciRegistry) -> None:
    first = oci_registry.push("team/runtime", "1", "one")
    curated.env("runtime", image=f"{oci_registry.host}/team/runtime:1")
    assert curated.run("lock", "runtime").exit_code == 0
    lock = yaml.safe_load((curated.root / "environments/runtime/image-lock.yml").read_text())
    assert lock["metadata"]["envlock.image-digest"] == first
    assert curated.run("build", "runtime").exit_code == 0
    rendered = yaml.safe_load((curated.root / "build/runtime/env.yml").read_text())
    assert rendered["image"] == f"{oci_registry.host}/team/runtime@{first}"  # what was inventoried
    assert curated.run("outdated", "runtime").exit_code == 0
    second = oci_registry.push("team/runtime", "1", "two")
    moved = curated.run("outdated", "--json", "runtime")
    assert moved.exit_code == 1
    assert [(e["kind"], e["current"], e["latest"]) for e in json.loads(moved.stdout)] == [
        ("tag-moved", first, second)]


def test_token_auth_registry(curated: RepoBuilder, token_registry: tuple[OciRegistry, TokenService]) -> None:
    registry, tokens = token_registry
    digest = registry.push(CURATED_REPO, "7", "seven-behind-auth")
    curated.settings(f"image_mirrors:\n  mcr.microsoft.com: {registry.url}\n")
    seen = len(tokens.requests)
    result = curated.run("clone-curated", "sklearn-1.5", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["image"].endswith(digest)
    assert set(tokens.requests[seen:]) == {f"repository:{CURATED_REPO}:pull"}  # pull only, anonymous


def test_clone_through_environment_variables_alone(curated: RepoBuilder, aml: AmlEmulator) -> None:
    result = run_cli(curated.root, "clone-curated", "sklearn-1.5", env=aml.client_environment())
    assert result.returncode == 0, result.stderr
    assert "next: envlock register sklearn-1.5" in result.stdout


@pytest.mark.parametrize("text, expected", [
    ("mcr.microsoft.com/azureml/curated/sklearn-1.5:7",
     ("mcr.microsoft.com", "azureml/curated/sklearn-1.5", "7", None)),
    ("python:3.10", ("docker.io", "library/python", "3.10", None)),
    ("localhost:5000/team/base", ("localhost:5000", "team/base", "latest", None)),
    ("ghcr.io/org/img@sha256:" + "a" * 64, ("ghcr.io", "org/img", None, "sha256:" + "a" * 64)),
])
def test_parse_image(text: str, expected: tuple[str, str, str | None, str | None]) -> None:
    ref = parse_image(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == expected


def test_parse_image_rejects_a_bad_digest() -> None:
    with pytest.raises(ImageError):
        parse_image("mcr.microsoft.com/x@sha256:abc")


def test_rebuild_copies_the_curated_build_context(curated: RepoBuilder, oci_registry: OciRegistry) -> None:
    base = oci_registry.push("azureml/openmpi5.0-ubuntu24.04", "20250101.v1", "base")
    result = curated.run("clone-curated", "sklearn-1.5", "--rebuild", "--as", "sklearn-own", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "cloned"
    folder = curated.root / "environments/sklearn-own"
    env_yml = yaml.safe_load((folder / "env.yml").read_text())
    assert env_yml["build"] == {"path": "context", "dockerfile_path": "Dockerfile"} and "image" not in env_yml
    assert (folder / "context/Dockerfile").read_text() == DOCKERFILE
    assert (folder / "context/conda_dependencies.yaml").read_text() == CONDA_DEPENDENCIES
    provenance = yaml.safe_load((folder / "envlock.yaml").read_text())["provenance"]
    assert provenance["source_version"] == "7"
    assert provenance["build_context"].rstrip("/").endswith("/sklearn-1.5/7/context")
    assert curated.run("check", "sklearn-own").exit_code == 0
    assert curated.run("build", "sklearn-own").exit_code == 0
    rendered = (curated.root / "build/sklearn-own/context/Dockerfile").read_text()
    assert f"mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04@{base}" in rendered

    before = curated.snapshot()
    again = curated.run("clone-curated", "sklearn-1.5", "--rebuild", "--as", "sklearn-own", "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["status"] == "unchanged"
    assert curated.snapshot() == before


def test_a_curated_inference_image_keeps_its_routes_in_the_clone(repo: RepoBuilder, aml: AmlEmulator,
                                                                  oci_registry: OciRegistry) -> None:
    """As azureml-assets' general-langchain-app-deployment defines it: AML probes and scores on 8080 /."""
    route = {"port": 8080, "path": "/"}
    aml.add_curated("sklearn-1.5", "7", image=f"mcr.microsoft.com/{CURATED_REPO}:7",
                    inference_config={"livenessRoute": route, "readinessRoute": route, "scoringRoute": route})
    push_curated(oci_registry, "7")
    repo.settings(f"image_mirrors:\n  mcr.microsoft.com: {oci_registry.url}\n")
    result = repo.run("clone-curated", "sklearn-1.5", "--json")
    assert result.exit_code == 0, result.output
    env_yml = yaml.safe_load((repo.root / "environments/sklearn-1.5/env.yml").read_text())
    assert env_yml["inference_config"] == {name: route for name in ("liveness_route", "readiness_route",
                                                                     "scoring_route")}
    assert "os_type" not in env_yml  # Linux, AML's default
    registered = repo.run("register", "--json")
    assert json.loads(registered.stdout)["sklearn-1.5"]["status"] == "created", registered.output
    from envlock.registries import open_registry

    stored = open_registry(None, repo.root).get_version("sklearn-1.5", "1")
    assert stored is not None and stored.runtime.inference_config is not None
    assert stored.runtime.inference_config.as_dict()["scoring_route"] == route
