"""Real image layer tarballs for the OCI tests: conda-meta records, dist-info folders, whiteouts,
gzip / zstd / plain compression, as `docker build` and conda/pip leave them."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

import zstandard

MEDIA_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "none": "application/vnd.oci.image.layer.v1.tar",
}


@dataclass(frozen=True)
class Layer:
    blob: bytes
    media_type: str
    diff_id: str


def layer(files: dict[str, bytes], *, whiteouts: tuple[str, ...] = (), opaque: tuple[str, ...] = (),
          links: dict[str, str] | None = None, compression: str = "gzip") -> Layer:
    """A layer tarball: files (path -> content), whiteouts of lower paths, opaque directories, hard links."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        folders: set[str] = set()
        for path in [*files, *whiteouts, *(f"{d}/x" for d in opaque), *(links or {})]:
            parts = path.strip("/").split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folders.add("/".join(parts[:depth]))
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(info)
        for folder in opaque:
            _add(archive, f"{folder.strip('/')}/.wh..wh..opq", b"")
        for path in whiteouts:
            folder, _, name = path.strip("/").rpartition("/")
            _add(archive, f"{folder}/.wh.{name}" if folder else f".wh.{name}", b"")
        for path, content in files.items():
            _add(archive, path.strip("/"), content)
        for path, target in (links or {}).items():
            info = tarfile.TarInfo(path.strip("/"))
            info.type, info.linkname = tarfile.LNKTYPE, target.strip("/")
            archive.addfile(info)
    tar = buffer.getvalue()
    if compression == "gzip":
        blob = gzip.compress(tar, mtime=0)
    elif compression == "zstd":
        blob = zstandard.ZstdCompressor().compress(tar)
    else:
        blob = tar
    return Layer(blob, MEDIA_TYPES[compression], "sha256:" + hashlib.sha256(tar).hexdigest())


def _add(archive: tarfile.TarFile, path: str, content: bytes) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mode = len(content), 0o644
    archive.addfile(info, io.BytesIO(content))


def conda_record(prefix: str, name: str, version: str, build: str, channel: str = "conda-forge",
                 files: int = 3) -> dict[str, bytes]:
    """conda-meta/<name>-<version>-<build>.json as conda writes it (with its file list)."""
    base = f"https://conda.anaconda.org/{channel}"
    fn = f"{name}-{version}-{build}.conda"
    record = {
        "name": name, "version": version, "build": build, "build_number": 0,
        "channel": f"{base}/linux-64", "subdir": "linux-64", "fn": fn, "url": f"{base}/linux-64/{fn}",
        "md5": hashlib.md5(fn.encode()).hexdigest(), "sha256": hashlib.sha256(fn.encode()).hexdigest(),
        "depends": [], "files": [f"lib/{name}/file{i}.py" for i in range(files)],
    }
    path = f"{prefix.strip('/')}/conda-meta/{fn[:-len('.conda')]}.json"
    return {path: json.dumps(record, indent=2).encode()}


def dist_info(site_packages: str, name: str, version: str, installer: str = "pip") -> dict[str, bytes]:
    """<name>-<version>.dist-info/ with METADATA, INSTALLER and RECORD."""
    folder = f"{site_packages.strip('/')}/{name.replace('-', '_')}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name}\n\nLong description.\n"
    return {
        f"{folder}/METADATA": metadata.encode(),
        f"{folder}/INSTALLER": f"{installer}\n".encode(),
        f"{folder}/RECORD": f"{name}/__init__.py,,\n".encode(),
    }


def curated_layers(prefix: str, conda: list[tuple[str, str, str]], pip: list[tuple[str, str]],
                   python_minor: int = 10) -> tuple[list[Layer], list[str]]:
    """(layers, config Env) of an image shaped like AML's curated ones: a base conda (gzip), the job's
    environment with conda records and their dist-info (zstd), then a pip layer (gzip)."""
    site = f"{prefix}/lib/python3.{python_minor}/site-packages"
    environment: dict[str, bytes] = {}
    for name, version, build in conda:
        environment.update(conda_record(prefix, name, version, build))
        if name not in ("python", "pip"):
            environment.update(dist_info(site, name, version, installer="conda"))
    pip_files: dict[str, bytes] = {}
    for name, version in pip:
        pip_files.update(dist_info(site, name, version))
    layers = [layer(conda_record("/opt/miniconda", "conda", "24.5.0", "py312_0")),
              layer(environment, compression="zstd"), layer(pip_files)]
    return layers, [f"AZUREML_CONDA_ENVIRONMENT_PATH={prefix}", f"PATH={prefix}/bin:/opt/miniconda/bin:/usr/bin"]
