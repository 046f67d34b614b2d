"""Find environment references in AML job, pipeline, sweep, schedule and component YAML, with positions.

Positions (line, and character offsets of the scalar) let preflight name `file:line` and let
pin rewrite only the reference text, leaving comments, order, quoting, anchors, tags, line
endings and a byte-order mark alone. A file that cannot be read is skipped with its reason, and
the scan goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "build", "environments", ".envlock", "__pycache__",
                ".mypy_cache", ".ruff_cache", ".pytest_cache", "fixtures"}
JOB_TYPES = {"command", "pipeline", "sweep", "parallel", "spark", "automl", "import", "data_transfer"}
# The schema file names of what can carry an environment: jobs, components, schedules, deployments.
JOB_SCHEMA_WORDS = ("job", "component", "schedule", "deployment")
BOM = "\ufeff"
LOCAL_INSTALL = re.compile(r"\b(pip3?|conda|mamba|micromamba)\s+install\b")
_PROPERTY = re.compile(r"(?:&[^\s,\[\]{}]+|![^\s,\[\]{}]*)\s*")  # an anchor or a tag before a scalar
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class JobText:
    """A job file's text as written: BOM noted apart, line endings untouched."""

    path: Path
    text: str
    bom: bool = False

    def encode(self, text: str) -> bytes:
        return ((BOM if self.bom else "") + text).encode("utf-8")


class UnreadableFile(Exception):
    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True)
class EnvironmentUse:
    """One place a job or pipeline file names an environment."""

    file: Path
    line: int
    step: str  # where in the file: "environment", "jobs.train.environment", "trial.environment"
    pipeline: str | None  # the pipeline a step belongs to (its file), for cross-step consistency
    value: str | None  # the reference text; None for an inline (anonymous) environment
    start: int = 0  # character offsets of the reference text itself (quotes included, anchor/tag not)
    end: int = 0
    rewritable: bool = True  # False for block and multi-line scalars, which pin leaves alone
    pipeline_line: int | None = None  # the line in the pipeline file naming this step's environment

    @property
    def is_file_reference(self) -> bool:
        """`environment: file:./env.yml`: an anonymous environment built from a local file."""
        return self.value is not None and self.value.strip().startswith("file:")


@dataclass(frozen=True)
class LocalInstall:
    """`pip install` (or conda/mamba) in a job's command: packages added outside the environment."""

    file: Path
    line: int
    step: str
    tool: str


@dataclass(frozen=True)
class SkippedFile:
    """A job file preflight could not read, and why."""

    file: Path
    reason: str
    line: int | None = None


@dataclass
class Scan:
    """What a scan of job and pipeline files found."""

    files: int = 0
    uses: list[EnvironmentUse] = field(default_factory=list)
    installs: list[LocalInstall] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def references(self) -> int:
        """Distinct places that name an environment (a component file reached twice counts once)."""
        return len({(use.file, use.line, use.start) for use in self.uses})


def job_files(root: Path, paths: list[Path]) -> list[Path]:
    """The YAML files to scan: the given files, or every *.yml/*.yaml under the given folders."""
    found: list[Path] = []
    for path in paths or [root]:
        if path.is_file():
            found.append(path)
            continue
        for candidate in sorted(path.rglob("*")):
            relative = candidate.relative_to(path).parts
            if candidate.suffix in (".yml", ".yaml") and \
                    not any(part in SKIPPED_DIRS or part.startswith(".") for part in relative[:-1]) and \
                    not candidate.is_symlink() and candidate.is_file():
                found.append(candidate)
    return found


def read_job_text(path: Path) -> JobText:
    """The text of a YAML file, or UnreadableFile saying why (not UTF-8, unreadable)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableFile(f"cannot be read: {error.strerror or error}") from None
    bom = data.startswith(BOM.encode("utf-8"))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise UnreadableFile(f"is not UTF-8 text (byte 0x{data[error.start]:02x}), which AML cannot read "
                             "either", line) from None
    return JobText(path, text[1:] if bom else text, bom)


def compose_documents(job: JobText) -> list[yaml.Node]:
    """Every YAML document in the file (`---` separated); UnreadableFile when it is not YAML."""
    try:
        return [node for node in yaml.compose_all(job.text, Loader=_Loader) if node is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        why = "a template, not YAML" if "{{" in job.text else "not valid YAML"
        raise UnreadableFile(f"is {why} ({problem})", mark.line + 1 if mark else None) from None


def scan_files(root: Path, paths: list[Path]) -> Scan:
    """Every environment use and local install in the job files under `paths`; unreadable files listed."""
    scan = Scan()
    for path in job_files(root, paths):
        scan.files += 1
        try:
            found = _Walker(root).file(path)
        except UnreadableFile as skipped:
            scan.skipped.append(SkippedFile(path, skipped.reason, skipped.line))
            continue
        scan.uses += found.uses
        scan.installs += found.installs
    return scan


def environment_uses(path: Path, root: Path | None = None) -> list[EnvironmentUse]:
    """Every environment reference in one file ([] when the file is not in AML job shape)."""
    return _Walker(root or path.parent).file(path).uses


def is_job_shape(node: yaml.Node) -> bool:
    if not isinstance(node, yaml.MappingNode):
        return False
    keys = {str(key.value): value for key, value in node.value if isinstance(key, yaml.ScalarNode)}
    schema = keys.get("$schema")
    if isinstance(schema, yaml.ScalarNode) and "azureml" in str(schema.value).lower():
        schema_name = str(schema.value).rsplit("/", 1)[-1].lower()
        return "flow" not in schema_name and any(word in schema_name for word in JOB_SCHEMA_WORDS)
    if "nodes" in keys or "on" in keys or _is_github_workflow(keys.get("jobs")):
        return False  # a prompt flow (flow.dag.yaml) or a GitHub workflow: their `environment` is not AML's
    kind = keys.get("type")
    if isinstance(kind, yaml.ScalarNode) and kind.value in JOB_TYPES:
        return True
    return any(key in keys for key in ("command", "jobs", "trial", "create_job")) or \
        ("endpoint_name" in keys and "environment" in keys)


def _is_github_workflow(jobs: yaml.Node | None) -> bool:
    if not isinstance(jobs, yaml.MappingNode):
        return False
    return any(isinstance(step, yaml.MappingNode) and any(k.value in ("runs-on", "steps") for k, _ in step.value)
               for _, step in jobs.value)


@dataclass
class _Found:
    """The environment uses and local installs found in one file."""

    uses: list[EnvironmentUse] = field(default_factory=list)
    installs: list[LocalInstall] = field(default_factory=list)


class _Walker:
    """Walks one file and the component and job files it names (each followed once)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.found = _Found()
        self.visited: set[Path] = set()

    def file(self, path: Path) -> _Found:
        job = read_job_text(path)
        self.visited.add(path.resolve())
        for document in compose_documents(job):
            if isinstance(document, yaml.MappingNode) and is_job_shape(document):
                self._walk(job, document, "", None)
        return self.found

    def _follow(self, job: JobText, value: yaml.ScalarNode, prefix: str, pipeline: str | None,
                origin: int | None) -> None:
        """A step's `component: ./file.yml` or a schedule's `create_job: ./job.yml`: read that file too."""
        text = str(value.value).strip()
        if text.startswith("azureml:") or "${{" in text:
            return
        try:
            target = (job.path.parent / text.removeprefix("file:")).resolve()
        except (RuntimeError, OSError):  # a symlink loop: nothing to follow
            return
        if target in self.visited or not target.is_file() or not target.is_relative_to(self.root):
            return
        self.visited.add(target)
        try:
            followed = read_job_text(target)
            documents = compose_documents(followed)
        except UnreadableFile:
            return  # reported when the scan reaches that file itself
        for document in documents:
            if isinstance(document, yaml.MappingNode) and is_job_shape(document):
                self._walk(followed, document, prefix, pipeline, origin or value.start_mark.line + 1)

    def _walk(self, job: JobText, node: yaml.MappingNode, prefix: str, pipeline: str | None,
              origin: int | None = None) -> None:
        """`origin`: the line of the `component:` or `create_job:` that led here from the file scanned."""
        for key_node, value in node.value:
            key = str(key_node.value)
            where = f"{prefix}{key}"
            if key == "environment":
                self._environment(job, key_node, value, where, pipeline, origin)
            elif key == "command" and isinstance(value, yaml.ScalarNode):
                self._local_installs(job, value, where)
            elif key == "jobs" and isinstance(value, yaml.MappingNode):
                for step_key, step in value.value:
                    if isinstance(step, yaml.MappingNode):
                        self._walk(job, step, f"{where}.{step_key.value}.", str(job.path))
            elif key in ("trial", "component", "task", "create_job") and isinstance(value, yaml.MappingNode):
                self._walk(job, value, f"{where}.", pipeline, origin)
            elif (key in ("component", "create_job") or (key == "job" and prefix.endswith("create_job."))) \
                    and isinstance(value, yaml.ScalarNode) and value.value:
                self._follow(job, value, f"{where}.", pipeline, origin)

    def _environment(self, job: JobText, key_node: yaml.Node, value: yaml.Node, where: str,
                     pipeline: str | None, origin: int | None) -> None:
        if isinstance(value, yaml.MappingNode):
            line = key_node.start_mark.line + 1
            self.found.uses.append(EnvironmentUse(job.path, line, where, pipeline, None,
                                                  pipeline_line=origin or line))
        elif isinstance(value, yaml.ScalarNode) and value.value:
            start, end = _scalar_span(job.text, value)
            single_line = value.style in (None, "", "'", '"') and "\n" not in job.text[start:end]
            line = value.start_mark.line + 1
            self.found.uses.append(EnvironmentUse(job.path, line, where, pipeline, str(value.value), start, end,
                                                  single_line, origin or line))

    def _local_installs(self, job: JobText, value: yaml.ScalarNode, where: str) -> None:
        start, end = value.start_mark.index, value.end_mark.index
        span = job.text[start:end]
        for match in LOCAL_INSTALL.finditer(span):
            line = value.start_mark.line + 1 + span.count("\n", 0, match.start())
            self.found.installs.append(LocalInstall(job.path, line, where, f"{match.group(1)} install"))


def _scalar_span(text: str, node: yaml.ScalarNode) -> tuple[int, int]:
    """The offsets of the scalar's own text: a node's marks also cover its `&anchor` and `!tag`."""
    start, end = node.start_mark.index, node.end_mark.index
    while match := _PROPERTY.match(text, start, end):
        if match.end() == start:
            break
        start = match.end()
    return start, end


def replace_scalars(text: str, replacements: list[tuple[EnvironmentUse, str]]) -> str:
    """Rewrite reference scalars in place, keeping each one's quoting; an alias's anchor is rewritten once."""
    unique = {use.start: (use, new) for use, new in replacements if use.rewritable}
    for use, new_value in sorted(unique.values(), key=lambda item: item[0].start, reverse=True):
        original = text[use.start:use.end]
        quote = original[0] if original[:1] in ("'", '"') else ""
        text = text[:use.start] + f"{quote}{new_value}{quote}" + text[use.end:]
    return text
