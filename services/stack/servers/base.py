"""What every server kind provides to the supervisor."""

import hashlib
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.stack.config import StackConfig


class StackError(RuntimeError):
    """A server could not be prepared or started; the message carries its log tail.

    `started` names the servers this call did start, so a caller can undo exactly those.
    """

    def __init__(self, message: str, started: list[str] | None = None) -> None:
        super().__init__(message)
        self.started = started or []


@dataclass
class Health:
    ok: bool
    version: str = ""
    detail: str = ""
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class Launch:
    argv: list[str]
    env: Mapping[str, str]
    cwd: Path | None = None
    note: str = ""


class Server:
    """A server kind. Subclasses set `name` and implement port, launch and probe."""

    name: str = ""
    # Servers of one kind (the NATS cluster's nodes): `--only nats` names them all.
    family: str = ""
    # A line the server logs once fully started; the probe alone can answer too early.
    ready_line: str = ""
    slow: bool = False  # started in the first wave but waited for concurrently
    # Servers that must be healthy before this one starts, when `up` starts them too.
    needs: tuple[str, ...] = ()

    def port(self, cfg: StackConfig) -> int:
        raise NotImplementedError

    def wanted(self, cfg: StackConfig) -> bool:
        """Whether `up` starts this server for this configuration."""
        return True

    def config_key(self, cfg: StackConfig) -> str:
        """The settings a running server was started with; a healthy server started with
        other ones is restarted rather than reused."""
        return ""

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        """Install or build what is missing, then say how to start the server."""
        raise NotImplementedError

    def probe(self, cfg: StackConfig) -> Health:
        """One quick health check; must not raise for an unreachable server."""
        raise NotImplementedError

    def after_stop(self, cfg: StackConfig) -> None:
        """Clean up what the server leaves outside the state dir."""

    def after_down(self, cfg: StackConfig) -> None:
        """Forget what a deliberate `down` ends, unlike a crash the server should recover from."""

    def data_dir(self, cfg: StackConfig) -> Path:
        path = cfg.path("data", self.name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start_timeout(self, cfg: StackConfig) -> float:
        return cfg.start_timeout


def base_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra)
    return env


def tool(cfg: StackConfig, name: str) -> str:
    """A binary from the venv's bin dir first, then PATH."""

    candidate = cfg.bin_dir / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name}: not found in {cfg.bin_dir} nor on PATH")
    return found


def short_path(cfg: StackConfig, preferred: Path, limit: int, stand_in: str) -> Path:
    """`preferred`, or when it is longer than `limit` (a Unix socket's or Ray's path limits) a path
    in /tmp, `stand_in` with `{digest}` naming this state dir."""
    if len(str(preferred)) <= limit:
        return preferred
    digest = hashlib.sha256(str(cfg.state_dir.resolve()).encode()).hexdigest()[:10]
    return Path(stand_in.format(digest=digest))
