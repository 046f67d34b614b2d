"""Read a Dockerfile for what a lock must pin, and rewrite it to install exactly the lock.

What it finds: FROM images; the requirements and conda files RUN installs (`pip install -r`,
`conda env create/update -f`, `mamba/micromamba install|create -f`) mapped back to the context
file a COPY brought in; and what no lock can pin (`pip install pkg` or `conda install pkg`
without an exact version, ADD of a URL). Nothing here talks to the network.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from typing import Literal

Manager = Literal["pip", "conda"]

PIP_PROGRAM = re.compile(r"^(?:.*/)?pip(?:3(?:\.\d+)?)?$")
PYTHON_PROGRAM = re.compile(r"^(?:.*/)?python(?:3(?:\.\d+)?)?$")
CONDA_PROGRAM = re.compile(r"^(?:.*/)?(conda|mamba|micromamba)$")
SEPARATOR = re.compile(r"(&&|\|\||;|\|)")
PIP_VALUE_OPTIONS = {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "-c",
                     "--constraint", "-t", "--target", "--prefix", "--root", "--platform", "--python-version",
                     "--implementation", "--abi", "--cache-dir", "--src", "--upgrade-strategy", "--progress-bar",
                     "--timeout", "--retries", "--proxy", "--log", "--report", "--only-binary", "--no-binary"}
CONDA_VALUE_OPTIONS = {"-n", "--name", "-p", "--prefix", "-c", "--channel", "--override-channels-from",
                       "--repodata-fn", "--platform", "--subdir", "-r", "--root-prefix"}
CONDA_RUN_OPTIONS = {"-n", "--name", "-p", "--prefix", "--cwd"}
EXACT_PIP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],]*===?[^*,;<>!=~\s]+$")
EXACT_CONDA = re.compile(r"^[A-Za-z0-9_.\-:/]+(==[^*\s,|<>]+|=[^=*\s,|<>]+=[^=*\s,|<>]+)$")
UNSAFE = re.compile(r"[\s<>|&;()*?'\"\\`!#~]")
TEMPLATE = re.compile(r"\{\{.*?\}\}")


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    line: int  # where it starts (1-based)
    end_line: int
    keyword: str  # upper case
    arguments: str  # continuation lines joined with a space


@dataclass(frozen=True)
class ImageLine:
    """A FROM line: the image it names and the stage it starts."""

    line: int
    image: str  # as written
    stage: str | None  # the AS name


@dataclass(frozen=True)
class InstalledFile:
    """A requirements or conda file a RUN line installs, and the context file it came from."""

    line: int
    manager: Manager
    path: str  # in the build context
    argument: str  # as the RUN line names it
    environment: tuple[str, ...] = ()  # conda: -n NAME / -p PREFIX as given


@dataclass(frozen=True)
class DockerfileProblem:
    """Something in a Dockerfile that keeps its image from being reproducible."""

    line: int
    kind: str  # "unpinned-install", "add-url", "missing-file", "templated-image"
    message: str
    fix: str


@dataclass(frozen=True)
class Dockerfile:
    """A parsed Dockerfile: its instructions, base images, installed files and problems."""

    path: str  # in the build context
    instructions: tuple[Instruction, ...]
    images: tuple[ImageLine, ...]
    installs: tuple[InstalledFile, ...]
    problems: tuple[DockerfileProblem, ...]
    installs_python: bool  # a RUN line or an installed conda file provides its own Python


def parse_dockerfile(path: str, text: str, context_files: frozenset[str] = frozenset()) -> Dockerfile:
    instructions = _instructions(text)
    images: list[ImageLine] = []
    stages: set[str] = set()
    copied: dict[str, str] = {}  # destination (as written, and its basename) -> context path
    installs: list[InstalledFile] = []
    problems: list[DockerfileProblem] = []
    installs_python = False
    for instruction in instructions:
        if instruction.keyword == "FROM":
            image = _from_image(instruction)
            if image is None:
                continue
            if image.image.lower() not in stages and image.image != "scratch":
                images.append(image)
            if image.stage:
                stages.add(image.stage.lower())
        elif instruction.keyword in ("COPY", "ADD"):
            words = _split(instruction.arguments)
            options = [w for w in words if w.startswith("--")]
            sources, destination = [w for w in words if not w.startswith("--")][:-1], \
                ([w for w in words if not w.startswith("--")] or [""])[-1]
            if any(o.startswith("--from") for o in options):
                continue
            for source in sources:
                if instruction.keyword == "ADD" and re.match(r"^(https?|git)://|^git@", source):
                    problems.append(DockerfileProblem(
                        instruction.line, "add-url", f"ADD {source} downloads content no lock can pin",
                        "download it in a RUN step that checks its sha256, or add the file to the context"))
                    continue
                source = posixpath.normpath(source).lstrip("/")
                target = destination if not destination.endswith(("/", ".")) and len(sources) == 1 \
                    else posixpath.join(destination, posixpath.basename(source))
                copied[posixpath.normpath(target)] = source
                copied.setdefault(posixpath.basename(target), source)
        elif instruction.keyword == "RUN":
            for command in _commands(instruction.arguments):
                found, problem, python = _install_command(instruction.line, command)
                installs_python = installs_python or python
                problems += problem
                for manager, argument, environment in found:
                    origin = copied.get(posixpath.normpath(argument)) or copied.get(posixpath.basename(argument))
                    if origin is None and posixpath.normpath(argument).lstrip("/") in context_files:
                        origin = posixpath.normpath(argument).lstrip("/")
                    if origin is None or (context_files and origin not in context_files):
                        problems.append(DockerfileProblem(
                            instruction.line, "missing-file",
                            f"installs {argument}, which no COPY brings from the build context",
                            f"COPY {posixpath.basename(argument)} into the image before this line"))
                        continue
                    installs.append(InstalledFile(instruction.line, manager, origin, argument, environment))
    return Dockerfile(path, tuple(instructions), tuple(images), tuple(installs), tuple(problems), installs_python)


def _instructions(text: str) -> list[Instruction]:
    result: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # docker drops comment lines inside a continued instruction
        if not pending:
            start = number
        continued = stripped.endswith("\\")
        pending.append(stripped[:-1].strip() if continued else stripped)
        if continued:
            continue
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        result.append(Instruction(start, number, keyword.upper(), arguments.strip()))
        pending = []
    if pending:
        joined = " ".join(part for part in pending if part)
        keyword, _, arguments = joined.partition(" ")
        result.append(Instruction(start, start + len(pending) - 1, keyword.upper(), arguments.strip()))
    return result


def _from_image(instruction: Instruction) -> ImageLine | None:
    words = [w for w in instruction.arguments.split() if not w.startswith("--")]
    if not words:
        return None
    stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    return ImageLine(instruction.line, words[0], stage)


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _commands(arguments: str) -> list[list[str]]:
    """The simple commands of a RUN line (split at &&, ||, ;, |), each as its words."""
    if arguments.startswith("["):  # exec form: one command
        import json

        try:
            words = json.loads(arguments)
            return [[str(w) for w in words]] if isinstance(words, list) else []
        except ValueError:
            return []
    return [_split(part) for part in SEPARATOR.split(arguments) if part.strip() and not SEPARATOR.fullmatch(part)]


def _strip_runner(words: list[str]) -> list[str]:
    """`VAR=x conda run -n env python -m pip install ...` -> `pip install ...`."""
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        words = words[1:]
    if words and words[0] in ("sudo", "exec", "command"):
        words = words[1:]
    if len(words) >= 2 and CONDA_PROGRAM.match(words[0]) and words[1] == "run":
        rest = words[2:]
        while rest and rest[0].startswith("-"):
            rest = rest[2:] if rest[0] in CONDA_RUN_OPTIONS else rest[1:]
        words = rest
    if len(words) >= 3 and PYTHON_PROGRAM.match(words[0]) and words[1] == "-m" and words[2] == "pip":
        words = ["pip", *words[3:]]
    if len(words) >= 2 and words[0] == "uv" and words[1] == "pip":
        words = ["pip", *words[2:]]
    return words


def _install_command(line: int, words: list[str]) -> tuple[
        list[tuple[Manager, str, tuple[str, ...]]], list[DockerfileProblem], bool]:
    words = _strip_runner(words)
    if not words:
        return [], [], False
    if PIP_PROGRAM.match(words[0]) and len(words) > 1 and words[1] == "install":
        return _pip_install(line, words[2:])
    conda = CONDA_PROGRAM.match(words[0])
    if conda and len(words) > 1:
        sub = words[1:3] if words[1] == "env" else words[1:2]
        if sub in (["install"], ["create"], ["update"], ["env", "create"], ["env", "update"]):
            return _conda_install(line, " ".join([conda.group(1), *sub]), words[1 + len(sub):])
    return [], [], False


def _pip_install(line: int, arguments: list[str]) -> tuple[
        list[tuple[Manager, str, tuple[str, ...]]], list[DockerfileProblem], bool]:
    files: list[tuple[Manager, str, tuple[str, ...]]] = []
    unpinned: list[str] = []
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if word in ("-r", "--requirement"):
            if index + 1 < len(arguments):
                files.append(("pip", arguments[index + 1], ()))
            index += 2
            continue
        if word.startswith("--requirement=") or (word.startswith("-r") and len(word) > 2 and word[2] != "-"):
            files.append(("pip", word.split("=", 1)[1] if "=" in word else word[2:], ()))
        elif word in ("-e", "--editable"):
            unpinned.append(f"-e {arguments[index + 1] if index + 1 < len(arguments) else ''}")
            index += 2
            continue
        elif word in PIP_VALUE_OPTIONS:
            index += 2
            continue
        elif not word.startswith("-") and (not EXACT_PIP.match(word) or TEMPLATE.search(word)):
            unpinned.append(word)
        index += 1
    return files, _unpinned(line, "pip install", unpinned), False


def _conda_install(line: int, command: str, arguments: list[str]) -> tuple[
        list[tuple[Manager, str, tuple[str, ...]]], list[DockerfileProblem], bool]:
    files: list[tuple[Manager, str, tuple[str, ...]]] = []
    environment: list[str] = []
    packages: list[str] = []
    index = 0
    file_arguments = []
    while index < len(arguments):
        word = arguments[index]
        value = arguments[index + 1] if index + 1 < len(arguments) else ""
        if word in ("-f", "--file"):
            file_arguments.append(value)
            index += 2
            continue
        if word.startswith("--file="):
            file_arguments.append(word.split("=", 1)[1])
        elif word in ("-n", "--name", "-p", "--prefix"):
            environment += [word, value]
            index += 2
            continue
        elif word in CONDA_VALUE_OPTIONS:
            index += 2
            continue
        elif not word.startswith("-"):
            packages.append(word)
        index += 1
    for argument in file_arguments:
        files.append(("conda", argument, tuple(environment)))
    problems = _unpinned(line, command, [p for p in packages if not EXACT_CONDA.match(p) or TEMPLATE.search(p)])
    installs_python = any(re.match(r"^python([=<>!~ ]|$)", p) for p in packages)
    return files, problems, installs_python


def _unpinned(line: int, command: str, packages: list[str]) -> list[DockerfileProblem]:
    if not packages:
        return []
    pin = "==<version>" if command == "pip install" else "=<version>=<build>"
    listed = ", ".join(packages)
    return [DockerfileProblem(
        line, "unpinned-install", f"{command} {listed}: no exact version, so each build may install something else",
        f"move them to a requirements or conda file this Dockerfile installs (the lock pins it), or pin each as "
        f"name{pin}")]


def is_templated(image: str) -> bool:
    return bool(TEMPLATE.search(image))


# ---------------------------------------------------------------- rewriting


@dataclass(frozen=True)
class CondaRewrite:
    """How one installed conda file is installed from its explicit lock instead."""

    explicit_file: str  # in the context
    pip_file: str | None  # pinned pip part, installed after the conda packages


def render_pinned(dockerfile: Dockerfile, text: str, digests: dict[int, str],
                  conda: dict[str, CondaRewrite], environment_names: dict[str, str]) -> str:
    """The Dockerfile with FROM lines by digest and installs from locked files.

    digests: FROM line -> pinned image. Pip installs of a requirements file get
    `--require-hashes --no-deps` (the rendered context holds the locked file under the same name);
    conda installs of an environment file install its explicit lock (then its pinned pip part).
    """
    lines = text.splitlines()
    by_line = {i.line: i for i in dockerfile.instructions}
    installs = {(i.line, i.argument): i for i in dockerfile.installs}
    out: list[str] = []
    skip_until = 0
    for number, raw in enumerate(lines, start=1):
        if number <= skip_until:
            continue
        instruction = by_line.get(number)
        if instruction is None:
            out.append(raw)
            continue
        if instruction.keyword == "FROM" and number in digests:
            image = next(i.image for i in dockerfile.images if i.line == number)
            out.append(f"FROM {instruction.arguments.replace(image, digests[number], 1)}")
            skip_until = instruction.end_line
        elif instruction.keyword == "RUN" and any(line == number for line, _ in installs):
            for installed in (i for (line, _), i in installs.items() if line == number and i.manager == "conda"):
                rewrite = conda[installed.path]
                sources = [rewrite.explicit_file, *([rewrite.pip_file] if rewrite.pip_file else [])]
                folder = posixpath.dirname(installed.argument)
                out.append(f"COPY {' '.join(sources)} {folder + '/' if folder else './'}")
            parts = SEPARATOR.split(instruction.arguments)
            rewritten = [_rewrite_command(part, number, installs, conda, environment_names) for part in parts]
            out.append("RUN " + "".join(rewritten))
            skip_until = instruction.end_line
        else:
            out.append(raw)
    return "\n".join(out) + "\n"


def _rewrite_command(part: str, line: int, installs: dict[tuple[int, str], InstalledFile],
                     conda: dict[str, CondaRewrite], environment_names: dict[str, str]) -> str:
    if SEPARATOR.fullmatch(part) or not part.strip():
        return part
    words = _split(part)
    stripped = _strip_runner(words)
    runner = words[:len(words) - len(stripped)]
    matches = [installs[(line, a)] for (ln, a) in installs if ln == line and a in stripped]
    if not matches:
        return part
    installed = matches[0]
    lead = " " if part.startswith(" ") else ""
    trail = " " if part.endswith(" ") else ""
    if installed.manager == "pip":
        index = stripped.index("install") + 1
        command = [*runner, *stripped[:index], "--require-hashes", "--no-deps", *stripped[index:]]
        return lead + _join(command) + trail
    rewrite = conda[installed.path]
    program = stripped[0]
    environment = list(installed.environment)
    if not environment:
        environment = ["-n", environment_names[installed.path]] if installed.path in environment_names else []
    updating = stripped[1] == "update" or stripped[1:3] == ["env", "update"] or stripped[1] == "install"
    verb = "install" if updating else "create"
    folder = posixpath.dirname(installed.argument)
    command = [*runner, program, verb, "-y", *environment, "--file", posixpath.join(folder, posixpath.basename(
        rewrite.explicit_file))]
    text = _join(command)
    if rewrite.pip_file:
        pip = [program if program.endswith("conda") and program != "micromamba" else "conda", "run", *environment,
               "python", "-m", "pip", "install", "--no-cache-dir", "--require-hashes", "--no-deps", "-r",
               posixpath.join(folder, posixpath.basename(rewrite.pip_file))]
        if program.endswith("micromamba"):
            pip[0] = program
        text += " && " + _join(pip)
    return lead + text + trail


def _join(words: list[str]) -> str:
    """Shell words joined back; $VARIABLES stay unquoted so the shell still expands them."""
    return " ".join(shlex.quote(w) if UNSAFE.search(w) or not w else w for w in words)
