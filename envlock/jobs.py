"""Find environment references in AML job, pipeline, sweep and component YAML, with positions.

Positions (line, and character offsets of the scalar) let preflight name `file:line` and let
pin rewrite only the reference text, leaving comments, order, quoting and indentation alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from envlock.errors import DeclarationError

SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "build", "environments", ".envlock", "__pycache__",
                ".mypy_cache", ".ruff_cache", ".pytest_cache", "fixtures"}
JOB_TYPES = {"command", "pipeline", "sweep", "parallel", "spark", "automl", "import", "data_transfer"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class EnvironmentUse:
    file: Path
    line: int
    step: str  # where in the file: "environment", "jobs.train.environment", "trial.environment"
    pipeline: str | None  # the pipeline a step belongs to (its file), for cross-step consistency
    value: str | None  # the reference text; None for an inline (anonymous) environment
    start: int = 0  # character offsets of the scalar in the file, quotes included
    end: int = 0


def job_files(root: Path, paths: list[Path]) -> list[Path]:
    """The YAML files to scan: the given files, or every *.yml/*.yaml under the given folders."""
    found: list[Path] = []
    for path in paths or [root]:
        if path.is_file():
            found.append(path)
            continue
        for candidate in sorted(path.rglob("*")):
            relative = candidate.relative_to(path).parts
            if candidate.suffix in (".yml", ".yaml") and candidate.is_file() and \
                    not any(part in SKIPPED_DIRS or part.startswith(".") for part in relative[:-1]):
                found.append(candidate)
    return found


def environment_uses(path: Path) -> list[EnvironmentUse]:
    """Every environment reference in one file ([] when the file is not in AML job shape)."""
    text = path.read_text(encoding="utf-8")
    if "environment" not in text:
        return []
    try:
        document = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise DeclarationError(path, f"invalid YAML: {getattr(exc, 'problem', exc)}",
                               line=mark.line + 1 if mark else None, fix="correct the YAML syntax") from None
    if not isinstance(document, yaml.MappingNode) or not _is_job_shape(document):
        return []
    return list(_walk(path, document, "", None))


def _is_job_shape(node: yaml.MappingNode) -> bool:
    keys = {key.value: value for key, value in node.value if isinstance(key, yaml.ScalarNode)}
    schema = keys.get("$schema")
    if isinstance(schema, yaml.ScalarNode) and "azureml" in str(schema.value).lower():
        return True
    kind = keys.get("type")
    if isinstance(kind, yaml.ScalarNode) and kind.value in JOB_TYPES:
        return True
    return "command" in keys or "jobs" in keys or "trial" in keys


def _walk(path: Path, node: yaml.MappingNode, prefix: str, pipeline: str | None) -> Iterator[EnvironmentUse]:
    for key_node, value in node.value:
        key = str(key_node.value)
        where = f"{prefix}{key}"
        if key == "environment":
            if isinstance(value, yaml.ScalarNode) and value.value:
                yield EnvironmentUse(path, value.start_mark.line + 1, where, pipeline, str(value.value),
                                     value.start_mark.index, value.end_mark.index)
            elif isinstance(value, yaml.MappingNode):
                yield EnvironmentUse(path, key_node.start_mark.line + 1, where, pipeline, None)
        elif key == "jobs" and isinstance(value, yaml.MappingNode):
            for step_key, step in value.value:
                if isinstance(step, yaml.MappingNode):
                    yield from _walk(path, step, f"{where}.{step_key.value}.", str(path))
        elif key in ("trial", "component", "task") and isinstance(value, yaml.MappingNode):
            yield from _walk(path, value, f"{where}.", pipeline)


def replace_scalars(text: str, replacements: list[tuple[EnvironmentUse, str]]) -> str:
    """Rewrite reference scalars in place, keeping each one's quoting."""
    for use, new_value in sorted(replacements, key=lambda item: item[0].start, reverse=True):
        original = text[use.start:use.end]
        quote = original[0] if original[:1] in ("'", '"') else ""
        text = text[:use.start] + f"{quote}{new_value}{quote}" + text[use.end:]
    return text
