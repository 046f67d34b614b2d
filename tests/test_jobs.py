"""Reading real job YAML: the azureml-examples sample and hand-made variants, each finding at its file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from envlock.kinds import ImageOnly
from envlock.registries import EnvironmentVersion, open_registry
from tests.conftest import RepoBuilder

CORPUS = Path(__file__).parent / "corpus"
EXAMPLES = "corpus/azureml-examples/cli/"
VARIANTS = "corpus/variants/"

# Every finding `preflight --offline` makes on the corpus: (file, line, kind). Nothing else.
EXPECTED_OFFLINE = {
    (EXAMPLES + "endpoints/online/custom-container/minimal/multimodel/minimal-multimodel-deployment.yml", 12,
     "skipped-file"),  # a {{...}} template
    (EXAMPLES + "endpoints/online/custom-container/torchserve/densenet/torchserve-deployment.yml", 9,
     "skipped-file"),
    (EXAMPLES + "endpoints/online/managed/sample/blue-deployment.yml", 9, "inline-environment"),
    (EXAMPLES + "jobs/basics/hello-git.yml", 3, "local-install"),
    (EXAMPLES + "jobs/basics/hello-git.yml", 5, "inline-environment"),
    (EXAMPLES + "jobs/basics/hello-world.yml", 3, "inline-environment"),
    (EXAMPLES + "jobs/nebulaml/cifar10_deepspeed/job.yml", 8, "bad-reference"),
    (EXAMPLES + "jobs/pipelines-with-components/basics/3a_basic_pipeline/componentA.yml", 10, "inline-environment"),
    (EXAMPLES + "jobs/pipelines-with-components/basics/3a_basic_pipeline/componentB.yml", 10, "inline-environment"),
    (EXAMPLES + "jobs/pipelines-with-components/basics/3a_basic_pipeline/componentC.yml", 10, "inline-environment"),
    (EXAMPLES + "jobs/pipelines-with-components/pipeline_with_hyperparameter_sweep/predict.yml", 16, "floating-label"),
    (EXAMPLES + "jobs/pipelines-with-components/pipeline_with_hyperparameter_sweep/predict.yml", 16,
     "registry-environment"),
    (EXAMPLES + "jobs/pipelines-with-components/pipeline_with_hyperparameter_sweep/predict.yml", 18, "local-install"),
    (EXAMPLES + "jobs/pipelines-with-components/pipeline_with_hyperparameter_sweep/train.yml", 62, "floating-label"),
    (EXAMPLES + "jobs/pipelines-with-components/pipeline_with_hyperparameter_sweep/train.yml", 62,
     "registry-environment"),
    (EXAMPLES + "jobs/pipelines-with-components/pipeline_with_hyperparameter_sweep/train.yml", 65, "local-install"),
    (EXAMPLES + "jobs/single-step/gpu_perf/gpu_perf_job.yml", 11, "inline-environment"),  # file:./environments/...
    (EXAMPLES + "jobs/single-step/lightgbm/iris/job-sweep.yml", 10, "floating-label"),
    (EXAMPLES + "jobs/single-step/lightgbm/iris/job-sweep.yml", 10, "registry-environment"),
    (EXAMPLES + "jobs/single-step/pytorch/iris/job.yml", 4, "local-install"),
    (EXAMPLES + "jobs/single-step/pytorch/iris/job.yml", 15, "floating-label"),
    (EXAMPLES + "jobs/single-step/pytorch/iris/job.yml", 15, "registry-environment"),
    (EXAMPLES + "schedules/simple-pipeline-job.yml", 11, "floating-label"),
    (EXAMPLES + "schedules/simple-pipeline-job.yml", 11, "registry-environment"),
    (EXAMPLES + "schedules/simple-pipeline-job.yml", 16, "floating-label"),
    (EXAMPLES + "schedules/simple-pipeline-job.yml", 16, "registry-environment"),
    (EXAMPLES + "schedules/simple-pipeline-job.yml", 21, "floating-label"),
    (EXAMPLES + "schedules/simple-pipeline-job.yml", 21, "registry-environment"),
    (VARIANTS + "anchors-pipeline.yml", 7, "floating-label"),  # the alias on line 11 is the same node
    (VARIANTS + "bom-job.yml", 3, "floating-label"),
    (VARIANTS + "components/pipeline.yml", 6, "mixed-versions"),  # train:1 and :2 through component files
    (VARIANTS + "components/pipeline.yml", 13, "registry-environment"),  # not mixed: a registry's train
    (VARIANTS + "components/train.yml", 5, "local-install"),
    (VARIANTS + "components/train.yml", 6, "local-install"),
    (VARIANTS + "crlf-job.yml", 4, "no-version"),
    (VARIANTS + "file-ref-job.yml", 3, "inline-environment"),
    (VARIANTS + "latin1-job.yml", 2, "skipped-file"),
    (VARIANTS + "multi-document.yml", 7, "floating-label"),
    (VARIANTS + "multi-document.yml", 7, "registry-environment"),
    (VARIANTS + "no-version-job.yml", 3, "no-version"),
    (VARIANTS + "schedule-inline.yml", 9, "floating-label"),
    (VARIANTS + "scheduled/job.yml", 3, "local-install"),  # reached through schedule-file.yml's create_job
}


def corpus_repo(repo: RepoBuilder) -> RepoBuilder:
    shutil.copytree(CORPUS, repo.root / "corpus")
    return repo


def findings(result_stdout: str) -> set[tuple[str, int, str]]:
    return {(f["file"], f["line"], f["kind"]) for f in json.loads(result_stdout)}


def test_every_corpus_file_is_read_and_every_finding_is_placed(repo: RepoBuilder) -> None:
    corpus_repo(repo)
    result = repo.run("preflight", "--offline", "--json")
    assert result.exit_code == 1, result.output
    assert findings(result.stdout) == EXPECTED_OFFLINE
    # 39 corpus files outside environments/ folders and envlock.yaml; prompt flows and workflows read, not flagged
    assert "scanned 40 file(s) (3 skipped): 28 environment reference(s)" in result.stderr
    skipped = {f["file"]: f for f in json.loads(result.stdout) if f["kind"] == "skipped-file"}
    assert all(f["severity"] == "warning" for f in skipped.values())
    assert "not UTF-8" in skipped[VARIANTS + "latin1-job.yml"]["message"]
    assert "template" in skipped[EXAMPLES + "endpoints/online/custom-container/torchserve/densenet/"
                                            "torchserve-deployment.yml"]["message"]


def test_strict_makes_skipped_files_errors(repo: RepoBuilder) -> None:
    corpus_repo(repo)
    result = repo.run("preflight", "--offline", "--strict", "--json", "corpus/variants/latin1-job.yml")
    assert result.exit_code == 1
    assert [(f["kind"], f["severity"]) for f in json.loads(result.stdout)] == [("skipped-file", "error")]
    assert repo.run("preflight", "--offline", "corpus/variants/flow.dag.yaml",
                    "corpus/variants/github-workflow.yml").exit_code == 0


def test_preflight_runs_in_a_repository_without_environments(tmp_path: Path) -> None:
    shutil.copytree(CORPUS / "variants", tmp_path / "jobs")
    result = RepoBuilder(tmp_path).run("preflight", "--offline", "--json", "jobs/bom-job.yml")
    assert findings(result.stdout) == {("jobs/bom-job.yml", 3, "floating-label")}


def test_arm_ids_and_schedules_are_checked_against_the_registry(repo: RepoBuilder) -> None:
    corpus_repo(repo)
    registry = open_registry(None, repo.root)
    registry.create_version(EnvironmentVersion("train", "1", ImageOnly("img"), tags={"envlock.lock-sha256": "a" * 64}))
    registry.set_archived("train", "1", True)
    result = repo.run("preflight", "--json", "corpus/variants/arm-id-job.yml", "corpus/variants/schedule-file.yml")
    assert findings(result.stdout) == {
        (VARIANTS + "arm-id-job.yml", 3, "archived-version"),
        (VARIANTS + "arm-id-job.yml", 3, "unmanaged"),
        (VARIANTS + "scheduled/job.yml", 3, "local-install"),
        (VARIANTS + "scheduled/job.yml", 5, "archived-version"),
        (VARIANTS + "scheduled/job.yml", 5, "unmanaged"),
    }


PINNED = {  # file -> (text before, text after): the only bytes pin may change
    "bom-job.yml": ("azureml:train@latest", "azureml:train:7"),
    "crlf-job.yml": ('"azureml:train"', '"azureml:train:7"'),
    "anchors-pipeline.yml": ("&train_env !!str azureml:train@latest", "&train_env !!str azureml:train:7"),
    "arm-id-job.yml": ("/environments/train/versions/1", "/environments/train/versions/7"),
    "multi-document.yml": ("azureml:train:1", "azureml:train:7"),
    "scheduled/job.yml": ("azureml:train:1", "azureml:train:7"),
    "components/prep.yml": ("azureml:train:1", "azureml:train:7"),
    "components/train.yml": ("azureml:train:2", "azureml:train:7"),
    "schedule-inline.yml": ("azureml:train@latest", "azureml:train:7"),
    "no-version-job.yml": ("environment: azureml:train\n", "environment: azureml:train:7\n"),
}


def test_pin_changes_only_the_reference_bytes(repo: RepoBuilder) -> None:
    from azure.ai.ml import load_job
    from azure.ai.ml.entities._load_functions import load_schedule

    repo.env("train", conda="channels: [conda-forge]\ndependencies: [python=3.10]\n")
    shutil.copytree(CORPUS / "variants", repo.root / "jobs")
    jobs = repo.root / "jobs"
    (jobs / "bom-job.yml").chmod(0o644)
    (jobs / "crlf-job.yml").chmod(0o664)
    before = {name: (jobs / name).read_bytes() for name in PINNED}
    untouched = {p: p.read_bytes() for p in jobs.rglob("*") if p.is_file() and p.relative_to(jobs).as_posix()
                 not in PINNED}
    (repo.root / "registered.json").write_text(json.dumps({"train": {"version": "7"}}))

    result = repo.run("pin", "--from", str(repo.root / "registered.json"), "--json", "jobs")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == len(PINNED)  # the anchor once, not again for its alias
    for name, (old, new) in PINNED.items():
        expected = before[name].replace(old.encode(), new.encode())
        assert expected != before[name] and (jobs / name).read_bytes() == expected, name
    assert (jobs / "bom-job.yml").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (jobs / "crlf-job.yml").read_bytes() and b"\n" not in \
        (jobs / "crlf-job.yml").read_bytes().replace(b"\r\n", b"")
    assert (jobs / "bom-job.yml").stat().st_mode & 0o777 == 0o644
    assert (jobs / "crlf-job.yml").stat().st_mode & 0o777 == 0o664
    assert all(path.read_bytes() == data for path, data in untouched.items())
    for name in ("bom-job.yml", "crlf-job.yml", "anchors-pipeline.yml", "arm-id-job.yml", "scheduled/job.yml",
                 "components/pipeline.yml", "no-version-job.yml"):
        job = load_job(jobs / name)  # azure-ai-ml reads every pinned file
        assert job is not None
    assert str(load_job(jobs / "anchors-pipeline.yml").jobs["train"].component.environment) == "train:7"
    schedule = load_schedule(jobs / "schedule-inline.yml")  # what `az ml schedule create` reads with
    assert str(schedule.create_job.environment) == "train:7"

    again = repo.run("pin", "--from", str(repo.root / "registered.json"), "jobs")
    assert again.exit_code == 0 and "pinned 0 reference(s)" in again.stderr


def test_pin_pins_the_valid_environments_and_reports_the_rest(repo: RepoBuilder) -> None:
    repo.env("train", conda="channels: [conda-forge]\ndependencies: [python=3.10]\n")
    repo.env("broken", env_yml="name: broken\nimage: x\nconda_file: missing.yaml\n")
    (repo.root / "jobs").mkdir()
    (repo.root / "jobs" / "a.yml").write_text("command: x\nenvironment: azureml:train@latest\n")
    (repo.root / "jobs" / "b.yml").write_text("command: x\nenvironment: azureml:broken@latest\n")
    (repo.root / "registered.json").write_text(json.dumps({"train": {"version": "3"}}))
    result = repo.run("pin", "--from", str(repo.root / "registered.json"))
    assert result.exit_code == 2, result.output
    assert (repo.root / "jobs" / "a.yml").read_text().endswith("azureml:train:3\n")
    assert (repo.root / "jobs" / "b.yml").read_text().endswith("azureml:broken@latest\n")
    assert "environments/broken/env.yml:3 (field 'conda_file')" in result.stderr
    assert "conda file 'missing.yaml' not found" in result.stderr
