"""Measure `envlock inventory` on a multi-layer image: time and bytes read.

Builds an image from real material: this virtual environment's site-packages (real files,
hundreds of dist-info folders) split over gzip and zstd layers, conda-meta records for the
packages of the conda-forge snapshot in tests/fixtures, and a top layer of whiteouts; pushes it
into Debian's docker-registry on 127.0.0.1; then runs `envlock inventory` on it as a user would.

    .venv/bin/python bench/measure_inventory.py
"""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.image_layers import MEDIA_TYPES, Layer, conda_record, layer  # noqa: E402
from tests.support.oci_registry import OciRegistry  # noqa: E402

PREFIX = "/opt/conda/envs/train"
SITE = f"{PREFIX}/lib/python3.11/site-packages"


def folder_layer(paths: list[Path], base: Path, compression: str) -> Layer:
    import hashlib

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in paths:
            archive.add(path, arcname=f"{SITE.strip('/')}/{path.relative_to(base)}")
    tar = buffer.getvalue()
    blob = gzip.compress(tar, compresslevel=6, mtime=0) if compression == "gzip" else \
        zstandard.ZstdCompressor(level=3).compress(tar)
    return Layer(blob, MEDIA_TYPES[compression], "sha256:" + hashlib.sha256(tar).hexdigest())


def main() -> None:
    site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    entries = sorted(site.iterdir())
    thirds = [entries[i::3] for i in range(3)]
    repodata = json.loads((ROOT / "tests/fixtures/conda-forge-2024-07/linux-64/repodata.json").read_text())
    records: dict[str, bytes] = {}
    for _fn, record in sorted({**repodata.get("packages", {}), **repodata.get("packages.conda", {})}.items())[:400]:
        records.update(conda_record(PREFIX, record["name"], record["version"], record["build"], files=200))
    started = time.perf_counter()
    layers = [
        layer(records, compression="gzip"),
        folder_layer(thirds[0], site, "gzip"),
        folder_layer(thirds[1], site, "zstd"),
        folder_layer(thirds[2], site, "gzip"),
        layer({}, whiteouts=tuple(f"{SITE}/{p.name}" for p in thirds[0] if p.name.endswith(".dist-info"))[:5]),
    ]
    print(f"built {len(layers)} layers in {time.perf_counter() - started:.1f} s: "
          f"{sum(len(x.blob) for x in layers) / 1e6:.1f} MB compressed", file=sys.stderr)
    with tempfile.TemporaryDirectory() as scratch:
        registry = OciRegistry(Path(scratch))
        try:
            registry.push_image("measure/train", "1", layers,
                                env=[f"CONDA_PREFIX={PREFIX}", f"PATH={PREFIX}/bin:/usr/bin"])
            command = [str(Path(sys.executable)), "-m", "envlock", "inventory", "--json",
                       f"{registry.host}/measure/train:1"]
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, cwd=scratch)
            elapsed = time.perf_counter() - started
        finally:
            registry.stop()
    if result.returncode != 0:
        sys.exit(result.stderr)
    packages = json.loads(result.stdout)["packages"]
    conda = sum(1 for p in packages if p["manager"] == "conda")
    print(f"$ envlock inventory --json 127.0.0.1:<port>/measure/train:1\n{result.stderr.strip()}\n"
          f"{conda} conda packages, {len(packages) - conda} Python distributions; "
          f"whole command {elapsed:.2f} s (process start included)")


if __name__ == "__main__":
    main()
