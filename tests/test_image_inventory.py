"""Image inventories read through the OCI API from a real docker-registry: real layer tarballs
(gzip, zstd, plain), whiteouts and opaque directories, an index, and ACR-style token auth."""

from __future__ import annotations

import json

import pytest

from envlock.errors import ImageError
from envlock.image_inventory import ImageInventory, read_inventory
from envlock.oci import parse_image
from envlock.oci_auth import ACR_TOKEN_VARIABLE
from tests.conftest import RepoBuilder
from tests.support.aml_emulator import AmlEmulator
from tests.support.image_layers import Layer, conda_record, dist_info, layer
from tests.support.oci_registry import OciRegistry, TokenService

ENV = "/azureml-envs/sklearn-1.5"
SITE = f"{ENV}/lib/python3.10/site-packages"
CONFIG_ENV = [f"AZUREML_CONDA_ENVIRONMENT_PATH={ENV}", f"PATH={ENV}/bin:/opt/miniconda/bin:/usr/bin"]


def curated_layers() -> list[Layer]:
    """A curated-style image: a base conda, then the environment, then a pip layer that removes a
    package (whiteouts) and a layer that replaces the base's conda-meta (opaque directory)."""
    base = {**conda_record("/opt/miniconda", "python", "3.12.4", "h2_0_cpython"),
            **conda_record("/opt/miniconda", "conda", "24.5.0", "py312_0")}
    environment = {
        **conda_record(ENV, "python", "3.10.14", "hd12c33a_0_cpython"),
        **conda_record(ENV, "numpy", "1.26.4", "py310hb13e2d6_0"),
        **conda_record(ENV, "scikit-learn", "1.5.1", "py310h146d792_0"),
        **conda_record(ENV, "tk", "8.6.13", "noxft_h4845f30_101"),
        **dist_info(SITE, "scikit-learn", "1.5.1", installer="conda"),
        **dist_info(SITE, "tomli", "2.0.1"),
        **dist_info(SITE, "mlflow-skinny", "2.15.1"),
    }
    removal = {**dist_info(SITE, "azureml-core", "1.57.0")}
    return [
        layer(base, compression="gzip"),
        layer(environment, compression="zstd", links={f"{ENV}/conda-meta/numpy-copy.json":
                                                     f"{ENV}/conda-meta/numpy-1.26.4-py310hb13e2d6_0.json"}),
        layer(removal, compression="gzip",
              whiteouts=(f"{SITE}/tomli-2.0.1.dist-info", f"{ENV}/conda-meta/tk-8.6.13-noxft_h4845f30_101.json",
                         f"{ENV}/conda-meta/numpy-copy.json")),
        layer(conda_record("/opt/miniconda", "python", "3.12.5", "h2_0_cpython"), compression="none",
              opaque=("/opt/miniconda/conda-meta",)),
    ]


def names(inventory: ImageInventory, prefix: str | None = None) -> dict[tuple[str, str], str]:
    return {(p.manager, p.name): p.version for p in inventory.packages if prefix is None or p.prefix == prefix}


def test_layers_stack_with_whiteouts_and_every_compression(oci_registry: OciRegistry) -> None:
    layers = curated_layers()
    digest = oci_registry.push_image("inventory/sklearn", "1", layers, env=CONFIG_ENV, index=True)
    inventory, stats = read_inventory(parse_image(f"{oci_registry.host}/inventory/sklearn:1"))

    assert inventory.environment_prefix == ENV
    assert names(inventory, ENV) == {
        ("conda", "python"): "3.10.14", ("conda", "numpy"): "1.26.4", ("conda", "scikit-learn"): "1.5.1",
        ("pip", "scikit-learn"): "1.5.1", ("pip", "mlflow-skinny"): "2.15.1", ("pip", "azureml-core"): "1.57.0",
    }
    # the opaque directory hid the base's older records; only the new python remains
    assert names(inventory, "/opt/miniconda") == {("conda", "python"): "3.12.5"}
    sklearn = next(p for p in inventory.packages if p.name == "scikit-learn" and p.manager == "conda")
    assert sklearn.build == "py310h146d792_0" and sklearn.channel == "https://conda.anaconda.org/conda-forge"
    assert sklearn.sha256 and len(sklearn.sha256) == 64 and sklearn.md5
    installers = {p.name: p.installer for p in inventory.packages if p.manager == "pip"}
    assert installers["scikit-learn"] == "conda" and installers["mlflow-skinny"] == "pip"
    assert {p.name for p in inventory.in_environment()} == {"python", "numpy", "scikit-learn", "mlflow-skinny",
                                                            "azureml-core"}
    assert stats.layers == 4
    assert stats.compressed_bytes == sum(len(item.blob) for item in layers)
    assert stats.uncompressed_bytes > stats.compressed_bytes
    # by digest: the index resolves to the same amd64 manifest
    by_digest, _ = read_inventory(parse_image(f"{oci_registry.host}/inventory/sklearn@{digest}"))
    assert by_digest == inventory and inventory.image_digest == digest != inventory.manifest_digest


def test_without_a_prefix_variable_the_path_decides(oci_registry: OciRegistry) -> None:
    layers = [layer({**dist_info("/usr/local/lib/python3.12/site-packages", "requests", "2.32.3"),
                     **dist_info("/usr/lib/python3/dist-packages", "six", "1.16.0")})]
    oci_registry.push_image("inventory/slim", "1", layers, env=["PATH=/usr/local/bin:/usr/bin"])
    inventory, _ = read_inventory(parse_image(f"{oci_registry.host}/inventory/slim:1"))
    assert inventory.environment_prefix == "/usr/local"
    assert [(p.prefix, p.name) for p in inventory.packages] == [("/usr", "six"), ("/usr/local", "requests")]
    assert [p.name for p in inventory.in_environment()] == ["requests"]


def test_a_layer_that_is_not_a_tarball_is_an_error(oci_registry: OciRegistry) -> None:
    broken = Layer(b"\x1f\x8b this is not gzip", "application/vnd.oci.image.layer.v1.tar+gzip", "sha256:" + "0" * 64)
    oci_registry.push_image("inventory/broken", "1", [broken])
    with pytest.raises(ImageError, match="not a readable tar archive"):
        read_inventory(parse_image(f"{oci_registry.host}/inventory/broken:1"))


@pytest.fixture
def private_image(token_registry: tuple[OciRegistry, TokenService]) -> tuple[OciRegistry, TokenService, str]:
    registry, tokens = token_registry
    registry.push_image("private/sklearn", "1", curated_layers()[:2], env=CONFIG_ENV)
    tokens.private.add("private/sklearn")
    return registry, tokens, f"{registry.host}/private/sklearn:1"


def test_private_registry_refuses_anonymous_reads(private_image: tuple[OciRegistry, TokenService, str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokens, image = private_image
    monkeypatch.delenv(ACR_TOKEN_VARIABLE, raising=False)
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    monkeypatch.setenv("PATH", "/nonexistent")  # no az: no Azure sign-in to exchange
    with pytest.raises(ImageError, match="needs credentials and no Azure sign-in"):
        read_inventory(parse_image(image))


def test_acr_refresh_token_from_az_acr_login(private_image: tuple[OciRegistry, TokenService, str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    registry, tokens, image = private_image
    tokens.refresh_tokens.add("acr-refresh-secret")
    other = '{"accessToken": "not-for-this-registry", "loginServer": "example.azurecr.io"}'
    mine = f'{{"accessToken": "acr-refresh-secret", "loginServer": "{registry.host}"}}'
    monkeypatch.setenv(ACR_TOKEN_VARIABLE, f"[{other}, {mine}]")
    seen = len(tokens.calls)
    inventory, _ = read_inventory(parse_image(image))
    assert ("conda", "scikit-learn") in names(inventory)
    calls = tokens.calls[seen:]
    assert [(method, path) for method, path, _ in calls] == [("POST", "/oauth2/token")]
    assert calls[0][2]["refresh_token"] == "acr-refresh-secret"
    assert calls[0][2]["scope"] == "repository:private/sklearn:pull"

    monkeypatch.setenv(ACR_TOKEN_VARIABLE, "acr-refresh-secret")
    with pytest.raises(ImageError) as error:
        read_inventory(parse_image(image))
    assert "az acr login" in error.value.message and "acr-refresh-secret" not in error.value.message


def test_azure_credential_exchanged_at_oauth2_exchange(private_image: tuple[OciRegistry, TokenService, str],
                                                       emulator: AmlEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    _, tokens, image = private_image
    monkeypatch.delenv(ACR_TOKEN_VARIABLE, raising=False)
    tokens.aad_tokens.add("emulator-token")  # what the emulator's `az account get-access-token` prints
    seen = len(tokens.calls)
    inventory, _ = read_inventory(parse_image(image))
    assert ("pip", "mlflow-skinny") in names(inventory)
    calls = tokens.calls[seen:]
    assert [(method, path) for method, path, _ in calls] == [
        ("GET", "/oauth2/token"), ("POST", "/oauth2/exchange"), ("POST", "/oauth2/token")]
    assert calls[1][2]["access_token"] == "emulator-token" and calls[1][2]["grant_type"] == "access_token"
    assert calls[2][2]["refresh_token"].startswith("refresh-")

    tokens.aad_tokens.clear()
    with pytest.raises(ImageError, match="refused the Azure credential"):
        read_inventory(parse_image(image))


def test_inventory_command(oci_registry: OciRegistry, repo: RepoBuilder) -> None:
    digest = oci_registry.push_image("inventory/cli", "1", curated_layers(), env=CONFIG_ENV, index=True)
    repo.settings(f"image_mirrors:\n  mcr.microsoft.com: {oci_registry.url}\n")
    result = repo.run("inventory", "mcr.microsoft.com/inventory/cli:1")
    assert result.exit_code == 0, result.output
    assert f"mcr.microsoft.com/inventory/cli@{digest}  (environment {ENV})" in result.stdout
    assert "scikit-learn" in result.stdout and "/opt/miniconda" not in result.stdout
    assert "read 4 layers:" in result.stderr
    every = json.loads(repo.run("inventory", "--all", "--json", "mcr.microsoft.com/inventory/cli:1").stdout)
    assert {p["prefix"] for p in every["packages"]} == {ENV, "/opt/miniconda"}
    missing = repo.run("inventory", "mcr.microsoft.com/inventory/cli:2")
    assert missing.exit_code == 1 and "no such tag" in missing.stderr
