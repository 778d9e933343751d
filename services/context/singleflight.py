"""Concurrent callers asking for the same key share one computation."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Future[T]] = {}

    async def run(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[key] = flight
        try:
            result = await compute()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except Exception as exc:
            flight.set_exception(exc)
            flight.exception()  # mark retrieved: followers re-raise it, nobody else must
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            del self._flights[key]

    def in_flight(self) -> int:
        return len(self._flights)


class StoryFlights(Generic[T]):
    """Readers of one story share a computation, but never one that started before the story
    last changed: every change opens a new epoch, and epochs are part of the key."""

    def __init__(self) -> None:
        self._flights: SingleFlight[T] = SingleFlight()
        self._epochs: defaultdict[str, int] = defaultdict(int)

    def changed(self, story_ids: Iterable[str]) -> None:
        for story_id in story_ids:
            self._epochs[story_id] += 1

    async def run(self, story_id: str, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        return await self._flights.run((story_id, key, self._epochs[story_id]), compute)
