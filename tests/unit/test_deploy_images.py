"""The Dockerfiles build small, pinned, non-root images that start commands the project really has.

There is no Docker engine here, so the Dockerfiles are parsed: every ENTRYPOINT/CMD, and every
command a manifest gives a project image, must resolve against the `conclave` typer app (options
included) or against the CLI of a declared dependency (`ray`).
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer

from tests.unit.test_deploy_manifests import OVERLAYS, PROJECT_IMAGES, REPO, containers, image_repo, rendered

DOCKER = REPO / "docker"
DOCKERFILES = sorted(p.name for p in DOCKER.glob("*.Dockerfile"))
IMAGE_DOCKERFILE = {
    "conclave/context": "context.Dockerfile",
    "conclave/orchestrator": "orchestrator.Dockerfile",
    "conclave/ray": "ray.Dockerfile",
    "conclave/ray-gpu": "ray.Dockerfile",  # the same file with the -gpu Ray base (make images)
    "conclave/simulator": "simulator.Dockerfile",
}
# Bases pinned by exact tag only, because no digest could be looked up offline.
TAG_ONLY = {"rayproject/ray"}


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse(path: Path) -> list[Stage]:
    logical, pending = [], ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], rest).split()
            words = [w for w in words if not w.startswith("--platform")]
            stages.append(Stage(words[0], words[2] if len(words) > 2 and words[1].upper() == "AS" else None))
        else:
            stages[-1].instructions.append((keyword, rest))
    return stages


def exec_form(stage: Stage, keyword: str) -> list[str]:
    found = [rest for kw, rest in stage.instructions if kw == keyword]
    if not found:
        return []
    argv = json.loads(found[-1])  # shell form would wrap the command in /bin/sh and swallow SIGTERM
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), f"{keyword} must be exec form"
    return argv


def image_argv(dockerfile: str, command: list[str] | None = None, args: list[str] | None = None) -> list[str]:
    """What the container runs, with Kubernetes' command/args overriding ENTRYPOINT/CMD."""
    final = parse(DOCKER / dockerfile)[-1]
    if command is not None:
        return command + (args or [])
    return exec_form(final, "ENTRYPOINT") + (args if args is not None else exec_form(final, "CMD"))


def declared_dependencies() -> set[str]:
    """The runtime dependencies: the base list and every image's group (not dev tooling)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = [deps for name, deps in project["optional-dependencies"].items() if name != "dev"]
    deps = [*project["dependencies"], *(d for group in groups for d in group)]
    return {re.match(r"[A-Za-z0-9_.-]+", d)[0].lower() for d in deps}  # type: ignore[index]


def click_root(program: str) -> Any:
    if program == "conclave":
        from services.cli import app

        return typer.main.get_command(app)
    (script,) = [e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == program]
    assert script.dist and script.dist.name.lower() in declared_dependencies(), (
        f"{program} comes from {script.dist and script.dist.name}, not a dependency in pyproject.toml"
    )
    if program == "ray":
        from ray.scripts.scripts import cli

        return cli
    raise AssertionError(f"no way to check the {program} command line")


def resolve(argv: list[str]) -> None:
    """Raise AssertionError unless argv names an existing (sub)command and its options parse.

    Duck-typed on purpose: typer ships its own copy of click, so its groups are not click.Group.
    """
    assert argv, "no command"
    cmd, rest, path = click_root(argv[0]), list(argv[1:]), [argv[0]]
    while hasattr(cmd, "get_command"):
        assert rest and not rest[0].startswith("-"), f"`{' '.join(path)}` needs a subcommand"
        sub = cmd.get_command(cmd.context_class(cmd), rest[0])
        assert sub is not None, f"`{' '.join(path)}` has no subcommand {rest[0]!r}"
        cmd, path = sub, [*path, rest.pop(0)]
    try:
        cmd.make_context(" ".join(path), rest)
    except Exception as e:  # the UsageError of whichever click copy the CLI uses
        raise AssertionError(f"`{' '.join(argv)}`: {e}") from e


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_image_is_multi_stage_pinned_and_non_root(dockerfile: str) -> None:
    stages = parse(DOCKER / dockerfile)
    assert len(stages) >= 2, "build in one stage, copy only the result into the runtime stage"
    names = {s.name for s in stages}
    for stage in stages:
        if stage.base in names:
            continue
        repo, tag = image_repo(stage.base), stage.base.split("@")[0].rsplit(":", 1)[-1]
        assert ":" in stage.base.split("@")[0] and re.search(r"\d+\.\d+", tag), f"{stage.base}: exact tag"
        assert "@sha256:" in stage.base or repo in TAG_ONLY, f"{stage.base}: pin the digest"
    users = [rest for kw, rest in stages[-1].instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "the runtime stage must not run as root"


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_image_entrypoint_names_a_project_command(dockerfile: str) -> None:
    resolve(image_argv(dockerfile))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifest_commands_resolve(overlay: str) -> None:
    for d in rendered(overlay):
        if d["kind"] not in ("Deployment", "StatefulSet", "Job"):
            continue  # KubeRay writes the Ray containers' `ray start` command itself
        for c in d["spec"]["template"]["spec"]["containers"]:
            if image_repo(c["image"]) in PROJECT_IMAGES:
                resolve(image_argv(IMAGE_DOCKERFILE[image_repo(c["image"])], c.get("command"), c.get("args")))


def test_resolve_rejects_commands_the_project_lacks() -> None:
    for argv in (
        ["conclave", "context", "srve"],
        ["conclave", "context", "serve", "--no-such-flag"],
        ["conclave", "streams"],
        ["ray", "strat"],
    ):
        with pytest.raises(AssertionError):
            resolve(argv)


def test_every_project_image_has_a_dockerfile_and_is_deployed() -> None:
    used = {image_repo(c["image"]) for o in OVERLAYS for _, _, c in containers(rendered(o))}
    assert set(IMAGE_DOCKERFILE) == set(PROJECT_IMAGES) == used & set(PROJECT_IMAGES)
    assert set(IMAGE_DOCKERFILE.values()) == set(DOCKERFILES)


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins, `!` re-includes; a match on a parent counts."""
    result = False
    for pattern in patterns:
        negate, pattern = pattern.startswith("!"), pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(
            fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern.replace("**/", ""))
            for p in prefixes
        ):
            result = not negate
    return result


def test_dockerignore_sends_only_what_the_images_need() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        ".stack/nats/x",
        "tests/unit/x.py",
        "deploy/k8s/base/a.yaml",
        "services/context/__pycache__/x.pyc",
        "README.md",
    ):
        assert ignored(path, patterns), f"{path} would be sent to the Docker daemon"
    copied = {
        rest.split()[-2]
        for f in DOCKERFILES
        for s in parse(DOCKER / f)
        for kw, rest in s.instructions
        if kw == "COPY" and "--from" not in rest
    }
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such path"
        assert not ignored(source.rstrip("/"), patterns), f"COPY {source} is excluded by .dockerignore"
    assert not ignored("services/cli.py", patterns)
