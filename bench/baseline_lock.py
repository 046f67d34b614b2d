"""The bench's baseline for `envlock lock`: py-rattler and uv called directly, as bare as they go.

What envlock does for one environment, and nothing more: for each platform (in parallel) a
py-rattler solve of the conda specs from the fixture channel, then one `uv pip compile` for the
pip part with the Python the solve chose and conda's Python packages passed as constraints.

    python bench/baseline_lock.py REPO NAME
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from rattler import Channel, GenericVirtualPackage, MatchSpec, PackageName, Version
from rattler.package.build_string import BuildString
from rattler.repo_data.multi_source import MultiSource
from rattler.repo_data.sparse import SparseRepoData
from rattler.solver import solve_with_sparse_repodata
from uv import find_uv_bin

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "conda-forge-2024-07"
VIRTUAL = {"linux-64": {"__linux": "5.10", "__glibc": "2.28", "__unix": "0"}, "win-64": {"__win": "0"},
           "osx-arm64": {"__osx": "12.0", "__unix": "0"}}
UV_PLATFORM = {"linux-64": "x86_64-manylinux_2_28", "win-64": "x86_64-pc-windows-msvc",
               "osx-arm64": "aarch64-apple-darwin"}


def lock_platform(conda_platform: str, specs: list[str], pip: list[str], uv: str) -> int:
    sources = [MultiSource("conda-forge", [
        SparseRepoData(Channel("https://conda.anaconda.org/conda-forge"), subdir, FIXTURE / subdir / "repodata.json")
        for subdir in (conda_platform, "noarch")])]
    virtual = [GenericVirtualPackage(PackageName(n), Version(v), BuildString("0"))
               for n, v in VIRTUAL[conda_platform].items()]
    records = asyncio.run(solve_with_sparse_repodata([MatchSpec(s, strict=False) for s in specs], sources,
                                                     virtual_packages=virtual))
    python = next(str(r.version) for r in records if r.name.normalized == "python")
    constraints = [f"{r.name.normalized}=={r.version}" for r in records if r.name.normalized != "python"
                   and any(d.split()[0] in ("python", "python_abi") for d in r.depends)]
    if not pip:
        return len(records)
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        (folder / "requirements.in").write_text("\n".join(pip) + "\n")
        (folder / "constraints.txt").write_text("\n".join(constraints) + "\n")
        subprocess.run([uv, "pip", "compile", "--no-config", "--quiet", "--no-header", "--no-python-downloads",
                        "--python", sys.executable, "requirements.in", "--constraint", "constraints.txt",
                        "--python-version", python, "--python-platform", UV_PLATFORM[conda_platform],
                        "--index-url", "https://pypi.org/simple", "--format", "pylock.toml", "-o", "pylock.toml"],
                       cwd=folder, env=environment, check=True, capture_output=True)
    return len(records)


def main() -> None:
    repo, name = Path(sys.argv[1]), sys.argv[2]
    settings = yaml.safe_load((repo / "envlock.yaml").read_text())
    platforms = settings.get("platforms", ["linux-64"])
    declared = yaml.safe_load((repo / "environments" / name / "conda.yaml").read_text())
    specs = [d for d in declared["dependencies"] if isinstance(d, str)]
    pip = [line for d in declared["dependencies"] if isinstance(d, dict) for line in d.get("pip", [])]
    uv = find_uv_bin()
    with ThreadPoolExecutor(max_workers=len(platforms)) as pool:
        counts = list(pool.map(lambda p: lock_platform(p, specs, pip, uv), platforms))
    print(f"{name}: {dict(zip(platforms, counts, strict=True))} conda records")


if __name__ == "__main__":
    main()
