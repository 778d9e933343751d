"""Domain errors; adapters map them onto transport codes (gRPC INVALID_ARGUMENT etc.)."""

from __future__ import annotations

from typing import Any


class ValidationError(ValueError):
    """Bad input, naming the offending field so the caller can fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class CouncilFailed(Exception):
    """No proposal survived, so there is nothing to rank."""

    def __init__(self, reason: str, *, failures: list[Any] | None = None, usage: list[Any] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        # AgentFailure and StageUsage objects; typed loosely to keep this module import-free.
        self.failures = failures or []
        self.usage = usage or []


class EmptyAnswer(ValueError):
    """A model answered with nothing where a proposal was due."""


class NotFound(LookupError):
    """An unknown council, deliberation or story."""


class AlreadyExists(LookupError):
    """A council for the role exists already."""


class Unavailable(ConnectionError):
    """A dependency (the Ray job API) did not answer: nothing is known, so try again later."""
