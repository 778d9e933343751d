"""The one way tests wait: for a condition, with a bound, saying what they waited for."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def until(
    check: Callable[[], Awaitable[T] | T], within: float, what: str, interval: float = 0.05
) -> T:
    """The first truthy result of `check` (an AssertionError counts as not yet); fails the test
    with `what` and the last result once `within` seconds have passed."""
    deadline = time.monotonic() + within
    last: Any = None
    while True:
        try:
            result = check()
            last = await result if inspect.isawaitable(result) else result
            if last:
                return last  # type: ignore[no-any-return]
        except AssertionError as exc:
            last = exc
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out after {within:g}s waiting for {what} (last: {last!r})"
        await asyncio.sleep(min(interval, remaining))


def until_sync(check: Callable[[], T], within: float, what: str, interval: float = 0.05) -> T:
    """`until` for tests outside an event loop."""
    deadline = time.monotonic() + within
    while not (last := check()):
        assert time.monotonic() < deadline, f"timed out after {within:g}s waiting for {what} (last: {last!r})"
        time.sleep(interval)
    return last
