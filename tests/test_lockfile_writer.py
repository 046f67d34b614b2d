"""envlock writes conda-lock.yml without importing conda-lock: proven byte-identical to conda-lock's models."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from conda_lock.lockfile import parse_conda_lock_file
from conda_lock.lockfile.v1.models import HashModel, LockMeta
from conda_lock.lockfile.v2prelim.models import LockedDependency, Lockfile

from envlock import __version__
from envlock.lockfile import (
    CONDA_LOCK_FILE,
    META_PREFIX,
    PACKAGE_SECTION,
    Lock,
    LockedPackage,
    _header_lines,
    read_header,
    read_lock,
    render_lock_files,
)

ROOT = Path(__file__).resolve().parent.parent


def conda_lock_reference(lock: Lock) -> str:
    """The file as conda-lock's own models produce it (what envlock 0.1 wrote through them)."""
    content = Lockfile(
        package=[
            LockedDependency(
                name=p.name, version=p.version, manager=p.manager, platform=p.platform,  # type: ignore[arg-type]
                dependencies=dict(p.dependencies), url=p.url,
                hash=HashModel(md5=p.md5, sha256=p.sha256), build=p.build, categories={"main"},
            )
            for p in lock.packages
        ],
        metadata=LockMeta(
            content_hash={platform: lock.inputs_sha256 for platform in lock.platforms},
            channels=[{"url": c, "used_env_vars": []} for c in lock.channels],  # type: ignore[misc]
            platforms=list(lock.platforms),
            sources=list(lock.sources),
            custom_metadata={
                f"{META_PREFIX}version": __version__,
                f"{META_PREFIX}inputs-sha256": lock.inputs_sha256,
                f"{META_PREFIX}image": lock.image,
                f"{META_PREFIX}resolvers": ", ".join(f"{n} {v}" for n, v in lock.resolvers),
                f"{META_PREFIX}lock-sha256": lock.lock_sha256,
            },
        ),
    )
    content.alphasort_inplace()
    content.filter_virtual_packages_inplace()
    output: dict[str, Any] = content.to_v1().dict_for_output()
    header = _header_lines(lock, f"To install locally: conda-lock install -n {lock.name} {CONDA_LOCK_FILE}")
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return "\n".join(header) + "\n" + yaml.dump(output, Dumper=dumper, sort_keys=False,
                                                 default_flow_style=False, width=1000)


def repository_lock(name: str) -> Lock:
    lock = read_lock(name, ROOT / "environments" / name)
    assert lock is not None
    return lock


def edge_cases() -> Lock:
    """What real locks rarely show at once: virtual packages, no build, pip by git, odd versions."""
    base = repository_lock("gpu-train")
    extra = (
        LockedPackage("conda", "__cuda", "12.1", "linux-64", "https://conda.anaconda.org/x/__cuda", None, "0" * 32),
        LockedPackage("conda", "zlib-ng", "2.0", "linux-64", "https://conda.anaconda.org/conda-forge/linux-64/z.conda",
                      "a" * 64, "b" * 32, "h1_0", (("zz", ">=1"), ("aa", "1.0 *"), ("python", "*"))),
        LockedPackage("pip", "Ünicode-pkg", "1.0.post1", "linux-64",
                      "https://files.pythonhosted.org/packages/u/unicode_pkg-1.0.post1-py3-none-any.whl", "c" * 64),
        LockedPackage("pip", "from-git", "0.1", "linux-64", "git+https://github.com/o/r@" + "d" * 40, None),
        LockedPackage("pip", "yes", "1.10", "linux-64", "https://example.org/yes-1.10.tar.gz#egg=yes", "e" * 64),
    )
    return replace(base, packages=extra + base.packages, image="registry.example/img:tag@sha256:" + "f" * 64,
                   channels=("conda-forge", "https://conda.anaconda.org/pytorch"), sources=("conda.yaml",))


@pytest.mark.parametrize("make_lock", [lambda: repository_lock("training"), lambda: repository_lock("gpu-train"),
                                       edge_cases], ids=["training-3-platforms-pip", "gpu-train", "edge-cases"])
def test_writer_is_byte_identical_to_conda_locks_models(make_lock: Any, tmp_path: Path) -> None:
    lock = make_lock()
    written, files = render_lock_files(lock, tmp_path)
    text = files[tmp_path / CONDA_LOCK_FILE]
    assert text == conda_lock_reference(written)
    (tmp_path / CONDA_LOCK_FILE).write_text(text)
    parsed = parse_conda_lock_file(tmp_path / CONDA_LOCK_FILE)  # and conda-lock reads it back
    assert len(parsed.package) == len([p for p in lock.packages if not p.name.startswith("__")])
    header = read_header(tmp_path)
    assert header is not None and header.is_untouched and header.image == lock.image
    assert header.recorded_lock_sha256 == written.lock_sha256


def test_header_read_without_yaml_agrees_with_yaml(tmp_path: Path) -> None:
    """The pattern read of custom_metadata and a YAML read give the same values, quoted or not."""
    lock = replace(repository_lock("gpu-train"), image="img: with colon #and hash")
    _, files = render_lock_files(lock, tmp_path)
    text = files[tmp_path / CONDA_LOCK_FILE]
    (tmp_path / CONDA_LOCK_FILE).write_text(text)
    header = read_header(tmp_path)
    meta = yaml.safe_load(text.split(PACKAGE_SECTION)[0])["metadata"]["custom_metadata"]
    assert header is not None and header.image == meta["envlock.image"] == "img: with colon #and hash"
    assert header.is_untouched
    (tmp_path / CONDA_LOCK_FILE).write_bytes(text.replace("\n", "\r\n").encode())
    assert read_header(tmp_path).is_untouched  # type: ignore[union-attr]  # CRLF checkouts stay untouched
