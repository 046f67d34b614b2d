"""`make demo`: the main job on this repository's example environments, no Azure account needed.

Copies environments/ into a scratch repository (.envlock/demo), locks it from scratch (conda
metadata from the real conda-forge snapshot in tests/fixtures, mirrored; pip from PyPI), builds
what AML would receive, checks it, registers it in the embedded SQLite registry, then changes
one declaration to show that only it is relocked and gets a new version.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the demo's image registry is the tests' real docker-registry helper
from tests.support.aml_emulator import AmlEmulator  # noqa: E402
from tests.support.image_layers import conda_record, curated_layers, layer  # noqa: E402
from tests.support.oci_registry import OciRegistry  # noqa: E402

DEMO = ROOT / ".envlock" / "demo"
ENVLOCK = [sys.executable, "-m", "envlock"]


def step(title: str, *args: str, check: bool = True,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    print(f"\n$ envlock {' '.join(args)}    # {title}", flush=True)
    started = time.perf_counter()
    result = subprocess.run([*ENVLOCK, "-C", str(DEMO), *args], text=True, capture_output=True,
                            env={**os.environ, **env} if env else None)
    sys.stdout.write(result.stdout)
    sys.stdout.write(result.stderr)
    print(f"  ({time.perf_counter() - started:.1f} s, exit {result.returncode})")
    if check and result.returncode not in (0,):
        sys.exit(f"demo step failed: envlock {' '.join(args)}")
    return result


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    DEMO.mkdir(parents=True)
    shutil.copytree(ROOT / "environments", DEMO / "environments",
                    ignore=shutil.ignore_patterns("conda-lock.yml", "requirements.txt", "requirements-*.txt"))
    settings = (ROOT / "envlock.yaml").read_text().replace(
        "conda-forge: tests/fixtures/conda-forge-2024-07",
        f"conda-forge: {(ROOT / 'tests/fixtures/conda-forge-2024-07').as_uri()}",
    )
    (DEMO / "envlock.yaml").write_text(settings)
    registry = add_build_context()
    names = sorted(p.name for p in (DEMO / "environments").iterdir())
    print(f"envlock demo in {DEMO.relative_to(ROOT)}: {', '.join(names)}")

    step("before locking: every environment is missing its lock", "check", check=False)
    step("solve every declaration for its target platforms", "lock")
    step("nothing is stale, so nothing is solved and no byte changes", "lock")
    step("render what AML receives into build/", "build")
    rendered = DEMO / "build" / "torch-serving" / "context" / "Dockerfile"
    print(f"\n$ cat {rendered.relative_to(DEMO)}    # the build context AML builds: FROM by digest, hashes required")
    print("".join(f"  {line}\n" for line in rendered.read_text().splitlines() if not line.startswith("#")), end="")
    step("the CI gate (image tags are warnings unless --strict)", "check")
    step("register each lock as an immutable version in the embedded registry", "register",
         "--output", str(DEMO / "registered.json"))
    step("the same locks again: content-addressed, so nothing new", "register")
    training = DEMO / "environments" / "training" / "conda.yaml"
    training.write_text(training.read_text().replace("numpy>=1.26", "numpy>=1.26,<2"))
    step("a changed declaration (numpy<2): only training is relocked", "lock")
    step("...and gets version 2; the others stay at 1", "register")
    step("render the new lock", "build", "training")
    step("every version, newest first", "versions", "training")
    step("audit every lock against real PyPA advisories (offline export bundled with the tests)", "audit",
         "--offline-db", str(ROOT / "tests" / "fixtures" / "osv-pypa-2024-10"), "--no-yanked")
    step("training:2's SBOM, rebuilt from its lock and checked against the hash in its tags", "sbom",
         "azureml:training:2", "-o", str(DEMO / "training-2.cdx.json"))
    step("what clean-up would archive (dry run)", "gc", "--keep", "1", "--dry-run")

    dockerfile = DEMO / "environments" / "torch-serving" / "context" / "Dockerfile"
    pinned = dockerfile.read_text()
    dockerfile.write_text(pinned + "RUN pip install transformers\n")
    step("an unpinned RUN pip install is reported at Dockerfile:line", "check", "torch-serving", check=False)
    dockerfile.write_text(pinned)
    curated_clone_diff(registry)
    registry.stop()

    manifest = json.loads((DEMO / "build" / "manifest.json").read_text())
    print("\nSummary")
    for name, entry in manifest["environments"].items():
        folder = DEMO / "environments" / name
        lock = next((folder / f for f in ("context-lock.yml", "conda-lock.yml") if (folder / f).is_file()),
                    folder / "requirements.txt")
        print(f"  {name:12} lock {lock.name:17} sha256 {entry['lock_sha256'][:16]}  "
              f"-> build/{name}/{{{', '.join(sorted(entry['files']))}}}")
    print("\nThe repository's own locks are committed; `envlock check` there:")
    result = subprocess.run([*ENVLOCK, "-C", str(ROOT), "check"], text=True, capture_output=True)
    print(result.stdout + result.stderr, end="")


def add_build_context() -> OciRegistry:
    """A build-context environment (demo/build-context, modeled on azureml-assets' pytorch definition)
    whose FROM image lives in a real docker-registry on 127.0.0.1, as an ACR would hold it."""
    registry = OciRegistry(ROOT / ".envlock" / "demo-registry")
    prefix = "/opt/conda"
    base = {**conda_record(prefix, "python", "3.10.14", "hd12c33a_0_cpython"),
            **conda_record(prefix, "pip", "24.0", "pyhd8ed1ab_0")}
    registry.push_image("aifx/acpt/stable-ubuntu2204-py310", "biweekly.202607.1", [layer(base)],
                        env=[f"CONDA_PREFIX={prefix}", f"PATH={prefix}/bin:/usr/bin"])
    target = DEMO / "environments" / "torch-serving"
    shutil.copytree(ROOT / "demo" / "build-context", target)
    dockerfile = target / "context" / "Dockerfile"
    image = f"{registry.host}/aifx/acpt/stable-ubuntu2204-py310:biweekly.202607.1"
    dockerfile.write_text(dockerfile.read_text().replace("{base}", image))
    return registry


def curated_clone_diff(registry: OciRegistry) -> None:
    """A curated clone that is the curated image by digest, its inventory read from the image's layers,
    then Microsoft publishes a new version: diff shows it package by package. The curated definitions
    come from the AML emulator through azure-ai-ml; MCR is the docker-registry above (image_mirrors)."""
    emulator = AmlEmulator(ROOT / ".envlock" / "demo-aml").start()
    prefix = "/azureml-envs/sklearn-1.5"
    published = {
        "6": ([("python", "3.10.14", "hd12c33a_0_cpython"), ("scikit-learn", "1.5.1", "py310h146d792_0"),
               ("numpy", "1.26.4", "py310hb13e2d6_0")], [("mlflow-skinny", "2.15.1"), ("azureml-core", "1.57.0")]),
        "7": ([("python", "3.10.14", "hd12c33a_0_cpython"), ("scikit-learn", "1.5.2", "py310h146d792_1"),
               ("numpy", "1.26.4", "py310hb13e2d6_0")], [("mlflow-skinny", "2.16.0"), ("azureml-core", "1.57.0")]),
    }
    try:
        for version, (conda, pip) in published.items():
            layers, image_env = curated_layers(prefix, conda, pip)
            registry.push_image("azureml/curated/sklearn-1.5", version, layers, env=image_env)
            emulator.add_curated("sklearn-1.5", version, description="Scikit-learn 1.5 (curated)",
                                 files={"Dockerfile": "FROM mcr.microsoft.com/azureml/openmpi5.0-ubuntu24.04:1\n"})
            time.sleep(0.01)  # distinct creation times: the last one is "latest"
        with (DEMO / "envlock.yaml").open("a") as settings:
            settings.write(f"image_mirrors:\n  mcr.microsoft.com: {registry.url}\n")
        aml = {k: v for k, v in emulator.client_environment().items() if k != "ENVLOCK_REGISTRY"}
        step("own curated sklearn-1.5 version 6: its image by digest, its inventory in the lock",
             "clone-curated", "sklearn-1.5", "--version", "6", env=aml)
        step("what the curated image holds now, read from its layers (no pull)",
             "inventory", "mcr.microsoft.com/azureml/curated/sklearn-1.5:7")
        step("Microsoft moved on: a newer curated version", "outdated", "sklearn-1.5", check=False, env=aml)
        step("the clone against the curated environment now, package by package",
             "diff", "sklearn-1.5", "curated:sklearn-1.5", check=False, env=aml)
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
