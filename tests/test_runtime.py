"""os_type, inference_config and version of an AML environment YAML: declared, locked, rendered,
registered (SQLite and an AML workspace through azure-ai-ml), read back, exported and diffed."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from envlock.lockfile import read_lock
from envlock.registries import EnvironmentVersion, VersionExists, open_registry
from envlock.runtime import InferenceConfig, Route, Runtime
from tests.conftest import CONDA_NUMPY, RepoBuilder
from tests.support.aml_emulator import AmlEmulator

EXAMPLES = Path(__file__).parent / "fixtures" / "azureml-examples-inference"
# The tfserving example's image, pinned by digest as envlock asks of a base image.
TFSERVING_IMAGE = "docker.io/tensorflow/serving@sha256:" + "5e" * 32


def example_environment() -> dict[str, object]:
    """The `environment:` of azureml-examples' tfserving custom container deployment."""
    text = (EXAMPLES / "tfserving-deployment.yml").read_text()
    # the example's {{MODEL_VERSION}} placeholders are filled in by its scripts (sed), as here
    deployment = yaml.safe_load(re.sub(r"\{\{(\w+)\}\}", r"\1", text))
    return dict(deployment["environment"])


def declare(repo: RepoBuilder, name: str = "tfserving", **fields: object) -> Path:
    environment = {"name": name, **example_environment(), "image": TFSERVING_IMAGE, "conda_file": "conda.yaml",
                   **fields}
    folder = repo.env(name, conda=CONDA_NUMPY)
    (folder / "env.yml").write_text(yaml.safe_dump(environment, sort_keys=False))
    return folder / "env.yml"


def set_route(env_file: Path, route: str, path: str) -> None:
    data = yaml.safe_load(env_file.read_text())
    data["inference_config"][route]["path"] = path
    env_file.write_text(yaml.safe_dump(data, sort_keys=False))


def example_runtime() -> Runtime:
    routes = example_environment()["inference_config"]
    assert isinstance(routes, dict)
    return Runtime(None, InferenceConfig(*(Route(r["port"], r["path"]) for r in routes.values())))


def registered(stdout: str) -> dict[str, tuple[str, str]]:
    return {name: (entry["version"], entry["status"]) for name, entry in json.loads(stdout).items()}


def test_routes_and_version_flow_through_lock_build_and_the_sqlite_registry(repo: RepoBuilder) -> None:
    env_file = declare(repo, version=1)
    assert repo.run("lock").exit_code == 0
    built = repo.run("build")
    assert built.exit_code == 0, built.output
    rendered = yaml.safe_load((repo.root / "build/tfserving/env.yml").read_text())
    assert rendered["inference_config"] == example_environment()["inference_config"]
    assert rendered["version"] == "1"
    # the rendered file is what `az ml environment create --file` takes: azure-ai-ml reads the routes
    from azure.ai.ml import load_environment

    loaded = load_environment(repo.root / "build/tfserving/env.yml")
    assert (loaded.version, loaded.inference_config.scoring_route.path) == ("1", "/v1/models/half_plus_two:predict")

    first = repo.run("register", "--json")
    assert registered(first.stdout) == {"tfserving": ("1", "created")}, first.output
    stored = open_registry(None, repo.root).get_version("tfserving", "1")
    assert stored is not None and stored.runtime == example_runtime()
    assert registered(repo.run("register", "--json").stdout) == {"tfserving": ("1", "unchanged")}

    # a route changed under the same declared version: refused, never overwritten
    packages = read_lock("tfserving", env_file.parent).packages
    set_route(env_file, "scoring_route", "/v1/models/half_plus_two:classify")
    assert repo.run("check").exit_code == 1  # the route is an input of the lock: it is stale
    assert repo.run("lock").exit_code == 0
    assert read_lock("tfserving", env_file.parent).packages == packages  # a relock, not a move
    refused = repo.run("register", "--json")
    assert refused.exit_code == 2
    line = env_file.read_text().splitlines().index("version: 1") + 1
    assert f"{env_file}:{line} (field 'version')" in refused.stdout + refused.stderr
    assert "fix: bump version:" in refused.stdout + refused.stderr
    again = open_registry(None, repo.root).get_version("tfserving", "1")
    assert again is not None and again.runtime == example_runtime()

    data = yaml.safe_load(env_file.read_text())
    env_file.write_text(yaml.safe_dump({**data, "version": "2"}, sort_keys=False))
    assert repo.run("lock").exit_code == 0
    assert registered(repo.run("register", "--json").stdout) == {"tfserving": ("2", "created")}
    second = open_registry(None, repo.root).get_version("tfserving", "2")
    assert second is not None and second.runtime.inference_config is not None
    assert second.runtime.inference_config.scoring_route == Route(8501, "/v1/models/half_plus_two:classify")

    # diff of the two versions shows the route; export writes it back into a declaration
    diff = repo.run("diff", "azureml:tfserving:1", "azureml:tfserving:2", "--json")
    assert diff.exit_code == 1
    assert json.loads(diff.stdout) == [{
        "manager": "aml", "name": "inference_config.scoring_route", "change": "changed",
        "before": "port 8501 /v1/models/half_plus_two:predict", "after": "port 8501 /v1/models/half_plus_two:classify",
    }]
    assert repo.run("export", "tfserving:1", "--as", "tfserving-old").exit_code == 0
    exported = yaml.safe_load((repo.root / "environments/tfserving-old/env.yml").read_text())
    assert exported["inference_config"] == example_environment()["inference_config"]


def test_a_changed_route_is_a_new_version_in_an_aml_workspace(repo: RepoBuilder, aml: AmlEmulator) -> None:
    env_file = declare(repo, os_type="LINUX")
    assert repo.run("lock").exit_code == 0
    first = repo.run("register", "--registry", aml.workspace_url, "--json")
    assert registered(first.stdout) == {"tfserving": ("1", "created")}, first.output
    # the wire shape the service keeps (azure-ai-ml's _to_rest_object)
    properties = aml.workspace_version("tfserving", "1").properties
    assert properties["osType"] == "Linux"
    assert properties["inferenceConfig"]["scoringRoute"] == {"port": 8501, "path": "/v1/models/half_plus_two:predict"}
    registry = open_registry(aml.workspace_url, repo.root)
    stored = registry.get_version("tfserving", "1")
    assert stored is not None and stored.runtime == Runtime("Linux", example_runtime().inference_config)
    assert [v.runtime for v in registry.list_versions("tfserving")] == [stored.runtime]
    assert registered(repo.run("register", "--registry", aml.workspace_url, "--json").stdout) == {
        "tfserving": ("1", "unchanged")}
    # routes edited by hand under the lock's tag: trusted by content, not tag (nor a recorded render)
    properties["inferenceConfig"]["scoringRoute"]["path"] = "/edited"
    tampered = repo.run("register", "--registry", aml.workspace_url, "--json")
    assert registered(tampered.stdout) == {"tfserving": (None, "refused")}, tampered.output
    properties["inferenceConfig"]["scoringRoute"]["path"] = "/v1/models/half_plus_two:predict"

    # the service never lets a version's routes change: a PUT of other routes is a conflict
    moved = Runtime("Linux", InferenceConfig(Route(9000, "/ping"), Route(9000, "/ping"), Route(9000, "/score")))
    with pytest.raises(VersionExists):
        registry.create_version(EnvironmentVersion("tfserving", "1", stored.content, tags=stored.tags, runtime=moved))
    assert not stored.same_content(EnvironmentVersion("tfserving", "1", stored.content, runtime=moved))

    set_route(env_file, "liveness_route", "/v1/models/half_plus_two/metadata")
    assert repo.run("lock").exit_code == 0
    changed = repo.run("register", "--registry", aml.workspace_url, "--json")
    assert registered(changed.stdout) == {"tfserving": ("2", "created")}, changed.output
    second = registry.get_version("tfserving", "2")
    assert second is not None and second.runtime.inference_config is not None
    assert second.runtime.inference_config.liveness_route == Route(8501, "/v1/models/half_plus_two/metadata")


def test_a_declared_version_is_created_in_an_aml_workspace(repo: RepoBuilder, aml: AmlEmulator) -> None:
    declare(repo, version="2024.07")
    assert repo.run("lock").exit_code == 0
    result = repo.run("register", "--registry", aml.workspace_url, "--json")
    assert registered(result.stdout) == {"tfserving": ("2024.07", "created")}, result.output
    assert aml.version_numbers("tfserving") == ["2024.07"]
    assert json.loads(result.stdout)["tfserving"]["reference"] == "azureml:tfserving:2024.07"


def test_declarations_without_these_fields_keep_their_inputs_hash(repo: RepoBuilder) -> None:
    from envlock.repo import Repo
    from envlock.spec import load_environment

    repo.env("plain", conda=CONDA_NUMPY)
    inputs = load_environment(Repo(repo.root), "plain").inputs()
    assert not {"os_type", "inference_config", "version"} & set(inputs)
    declare(repo, "served", os_type="linux", version=3)
    served = load_environment(Repo(repo.root), "served")
    assert served.inputs()["version"] == "3" and served.inputs()["os_type"] == "Linux"
    assert served.inputs()["inference_config"] == example_environment()["inference_config"]


BAD_FIELDS = [
    ({"os_type": "macos"}, "os_type", "os_type: linux or os_type: windows"),
    ({"os_type": "windows"}, "os_type", "remove os_type"),  # a conda file renders for linux-64
    ({"inference_config": ["/score"]}, "inference_config", "liveness_route:, readiness_route: and scoring_route:"),
    ({"inference_config": {"liveness_route": {"port": 8080, "path": "/"}}}, "inference_config.readiness_route",
     "AML needs all three routes"),
    ({"inference_config": {**example_environment()["inference_config"], "startup_route": {}}},  # type: ignore[dict-item]
     "inference_config.startup_route", "inference_config routes: liveness_route"),
    ({"version": 1.10}, "version", "quote it as written"),
    ({"version": "3:latest"}, "version", "remove it to let envlock number versions"),
    ({"version": True}, "version", "write version: 1"),
]


@pytest.mark.parametrize(("fields", "field", "fix"), BAD_FIELDS, ids=[f[1] + str(i) for i, f in enumerate(BAD_FIELDS)])
def test_bad_values_name_file_line_field_and_fix(repo: RepoBuilder, fields: dict[str, object], field: str,
                                                 fix: str) -> None:
    env_file = declare(repo, **fields)
    before = repo.snapshot()
    result = repo.run("lock", "tfserving")
    assert result.exit_code == 2, result.output
    key = field.split(".")[-1] if field != "inference_config.readiness_route" else "inference_config"
    line = next(n for n, text in enumerate(env_file.read_text().splitlines(), 1) if text.strip().startswith(key + ":"))
    assert f"{env_file}:{line} (field '{field}')" in result.output
    assert fix in result.output and "Traceback" not in result.output
    assert repo.snapshot() == before


@pytest.mark.parametrize(("route_field", "value", "fix"), [
    ("port", "http", "a number from 1 to 65535"), ("port", 70000, "a number from 1 to 65535"),
    ("path", "score", "starting with '/'"), ("path", None, "starting with '/'"),
])
def test_bad_routes_are_refused_at_their_line(repo: RepoBuilder, route_field: str, value: object, fix: str) -> None:
    routes = json.loads(json.dumps(example_environment()["inference_config"]))
    routes["scoring_route"][route_field] = value
    env_file = declare(repo, inference_config=routes)
    result = repo.run("check")
    assert result.exit_code == 2, result.output
    lines = env_file.read_text().splitlines()
    route_line = lines.index("  scoring_route:")
    line = route_line + 1 + next(i for i, text in enumerate(lines[route_line + 1:], 1)
                                 if text.strip().startswith(route_field))
    assert f"environments/tfserving/env.yml:{line} (field 'inference_config.scoring_route.{route_field}')" \
        in result.output
    assert fix in result.output


OLD_SCHEMA = """
CREATE TABLE environment_versions (
    name TEXT NOT NULL, version TEXT NOT NULL, image TEXT, conda_file TEXT,
    build_files TEXT NOT NULL DEFAULT '{}', description TEXT, tags TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1)),
    kind TEXT, dockerfile_path TEXT, UNIQUE (name, version)
);
CREATE TRIGGER environment_content_is_immutable
BEFORE UPDATE OF name, version, image, conda_file, build_files, created_at, kind, dockerfile_path
ON environment_versions BEGIN SELECT RAISE(ABORT, 'environment version content is immutable'); END;
"""


def test_a_database_made_before_the_runtime_columns_migrates(tmp_path: Path) -> None:
    """The schema of envlock before os_type/inference_config: its rows read, new rows keep routes."""
    path = tmp_path / "registry.db"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute("INSERT INTO environment_versions (name, version, image, conda_file, tags, created_at, kind) "
                   "VALUES ('tfserving', '1', ?, 'channels: [conda-forge]\n', ?, '2026-01-01T00:00:00+00:00', "
                   "'image+conda')", (TFSERVING_IMAGE, json.dumps({"envlock.lock-sha256": "a" * 64})))
    registry = open_registry(f"sqlite:///{path}", tmp_path)
    old = registry.get_version("tfserving", "1")
    assert old is not None and old.runtime == Runtime() and old.lock_sha256 == "a" * 64
    served = Runtime("Linux", example_runtime().inference_config)
    registry.create_version(EnvironmentVersion("tfserving", "2", old.content, tags={"envlock.lock-sha256": "b" * 64},
                                               runtime=served))
    stored = registry.get_version("tfserving", "2")
    assert stored is not None and stored.runtime == served
    assert old.same_content(EnvironmentVersion("x", "", old.content, runtime=Runtime("Linux")))  # Linux: the default
    assert not old.same_content(stored)
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError, match="immutable"):
        db.execute("UPDATE environment_versions SET inference_config = NULL WHERE version = '2'")
    # opening it again (another process, a later envlock) changes nothing
    again = open_registry(f"sqlite:///{path}", tmp_path).get_version("tfserving", "2")
    assert again is not None and again.runtime == served
