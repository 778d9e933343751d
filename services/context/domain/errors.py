"""Errors the use cases raise; entrypoints map them to gRPC codes or dead letters."""

from __future__ import annotations


class ContextError(Exception):
    pass


class InvalidArgument(ContextError):
    """Bad input. `field` names the offending argument so callers can fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class NotFound(ContextError):
    def __init__(self, what: str, key: str) -> None:
        # A short prefix only: the key is untrusted and may be huge.
        shown = repr(key[:32]) + (f"... ({len(key)} chars)" if len(key) > 32 else "")
        super().__init__(f"{what} {shown} not found")
        self.what = what
        self.key = key
