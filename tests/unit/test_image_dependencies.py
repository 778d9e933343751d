"""Each image installs pinned dependencies, and only the groups of what it runs.

The Dockerfiles are parsed (there is no Docker engine here): every `pip install` must be
constrained by constraints.txt, every package named on it must be pinned, and every
dependency the project declares must have a pin. Then each image's commands are imported
with the modules of every dependency outside that image's groups made unimportable.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import subprocess
import sys
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.unit.test_deploy_images import DOCKER, DOCKERFILES, parse
from tests.unit.test_deploy_manifests import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
PINS = {
    canonicalize_name(line.split("==")[0]): line.split("==")[1]
    for line in (REPO / "constraints.txt").read_text().splitlines()
    if "==" in line and not line.startswith("#")
}
# What each image runs, imported as its entrypoint would.
IMAGE_MODULES = {
    "context.Dockerfile": ["services.context.bootstrap"],
    "orchestrator.Dockerfile": ["services.orchestrator.bootstrap"],
    "simulator.Dockerfile": ["services.simulator.app"],
    "ray.Dockerfile": ["services.orchestrator.entrypoints.job_launch",
                       "services.orchestrator.entrypoints.job_forkserver"],
}


def pip_lines(dockerfile: str) -> list[str]:
    return [rest for stage in parse(DOCKER / dockerfile) for kw, rest in stage.instructions
            if kw == "RUN" and re.search(r"pip3? install", rest)]


def extras_of(line: str) -> set[str]:
    found = re.findall(r"(?:\.|\.whl\)?)\[([a-z,]+)\]", line)
    return {e for group in found for e in group.split(",")}


def groups(extras: set[str]) -> list[Requirement]:
    """The project's requirements for these extras, self-references expanded."""
    out = [Requirement(r) for r in PROJECT["dependencies"]]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for raw in PROJECT["optional-dependencies"][extra]:
            req = Requirement(raw)
            if canonicalize_name(req.name) == "conclave":
                todo += sorted(req.extras)
            else:
                out.append(req)
    return out


def closure(reqs: list[Requirement]) -> set[str]:
    """Installed distributions these requirements pull in, transitively."""
    seen: set[str] = set()
    todo = [(canonicalize_name(r.name), set(r.extras)) for r in reqs]
    while todo:
        name, extras = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for raw in requires:
            req = Requirement(raw)
            env = [{"extra": e} for e in extras] or [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(e) for e in env):
                todo.append((canonicalize_name(req.name), set(req.extras)))
    return seen


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_every_pip_install_is_pinned(dockerfile: str) -> None:
    lines = pip_lines(dockerfile)
    assert lines, f"{dockerfile}: no pip install found"
    for line in lines:
        for command in (c for c in line.split("&&") if re.search(r"pip3? install", c)):
            assert re.search(r"(-c|--constraint)[ =]\S*constraints\.txt", command), f"{dockerfile}: {command}"
            # A package named outright (not the project itself) carries its exact version too.
            for named in re.findall(r'"([A-Za-z][\w.-]*(?:\[[\w,]+\])?[^"]*)"', command):
                assert "==" in named, f"{dockerfile}: {named} is not pinned"


def test_every_declared_dependency_has_a_pin() -> None:
    declared = [Requirement(r) for r in PROJECT["dependencies"]]
    declared += [Requirement(r) for group in PROJECT["optional-dependencies"].values() for r in group]
    missing = {r.name for r in declared if canonicalize_name(r.name) not in PINS | {"conclave": ""}}
    assert not missing, f"add pins to constraints.txt for {sorted(missing)}"


def test_the_context_image_carries_no_ray_or_openai() -> None:
    (line,) = pip_lines("context.Dockerfile")
    carried = closure(groups(extras_of(line)))
    assert "ray" not in carried and "openai" not in carried


@pytest.mark.parametrize("dockerfile", sorted(IMAGE_MODULES))
def test_an_image_runs_with_only_its_groups(dockerfile: str) -> None:
    (line,) = pip_lines(dockerfile)
    carried = closure(groups(extras_of(line)))
    every = closure(groups(set(PROJECT["optional-dependencies"]) - {"dev"}))
    modules = md.packages_distributions()
    foreign = sorted(
        m for m, dists in modules.items()
        if m.isidentifier() and {canonicalize_name(d) for d in dists} <= every - carried
    )
    assert dockerfile == "simulator.Dockerfile" or foreign, "nothing to block: the groups did not split"
    code = (
        "import sys\n"
        f"for m in {foreign!r}: sys.modules[m] = None\n"
        "import importlib\n"
        f"for m in ['services.cli', *{IMAGE_MODULES[dockerfile]!r}]: importlib.import_module(m)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{dockerfile} needs a module outside its groups:\n{run.stderr[-2000:]}"
