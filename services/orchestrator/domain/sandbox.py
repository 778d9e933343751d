"""The port through which checks run untrusted code: candidates' programs and tests.

The execution checks depend only on this protocol; the bubblewrap adapter implements it.
A sandbox that cannot be created says why (`unavailable`), so a check reports
"not run: no sandbox" instead of passing silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import BaseModel


class SandboxLimits(BaseModel, frozen=True):
    cpu_s: int = 5
    wall_s: float = 10.0
    memory_mb: int = 512
    processes: int = 32
    output_bytes: int = 256 * 1024
    # The private writable directory is a size-capped tmpfs: writes cannot fill the host disk.
    scratch_mb: int = 16


class SandboxOutcome(BaseModel):
    exit_code: int | None
    stdout: str = ""
    stderr: str = ""
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    # Why the sandbox was killed ("wall time", "output limit"), or "" when it ended by itself.
    killed: str = ""
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.killed


class SandboxUnavailable(RuntimeError):
    """No sandbox can be created here; the message says why."""


class SandboxPort(Protocol):
    def unavailable(self) -> str:
        """Why no sandbox can be created here, or "" when one can."""
        ...

    def run_python(self, files: Mapping[str, str], main: str, limits: SandboxLimits | None = None) -> SandboxOutcome:
        """Run `python main` with `files` (name -> text) read-only in the working directory's
        sibling `/task`, no network, and a private empty scratch directory as the only writable
        place. Raises SandboxUnavailable when no sandbox can be created."""
        ...
