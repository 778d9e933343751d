"""The results of running code in the sandbox: plain data, carried by candidates and events."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["passed", "failed", "errored"]


class CaseResult(BaseModel):
    suite: str
    test: str
    status: Status
    ms: float = 0.0
    message: str = ""


class CodeRun(BaseModel):
    """One sandbox run: the code of `code_of` against the test suites of `suites`."""

    code_of: str
    suites: list[str] = Field(default_factory=list)
    tests: list[CaseResult] = Field(default_factory=list)
    wall_ms: float = 0.0
    cpu_ms: float = 0.0
    # Why the sandbox ended the run early ("wall time", "output limit"), or why it never ran.
    killed: str = ""
    # The code's own output and the tail of stderr, truncated.
    output: str = ""

    def passed(self, suite: str | None = None) -> set[tuple[str, str]]:
        return {(t.suite, t.test) for t in self.tests if t.status == "passed" and suite in (None, t.suite)}

    def count(self, suite: str) -> int:
        return sum(t.suite == suite for t in self.tests)
