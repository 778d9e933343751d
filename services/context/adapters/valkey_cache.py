"""Cache-aside store for assembled contexts in ValKey, never stale.

Every entry key embeds the story's current generation token. Invalidation is one
MSET of fresh random tokens for the touched stories: atomic, O(stories), and no
reader can reach an entry written under an older token. A token that disappears
(eviction) is replaced by a fresh one on the next read, never by a reusable
default, so an old entry cannot come back into view.

ValKey is an accelerator only. Errors put the cache in a short "down" window in
which it is bypassed; invalidations that could not be written are kept and
flushed before the cache is trusted again, so a reader never sees an entry from
before a change it could not invalidate.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable

import redis.asyncio as redis
from redis.exceptions import RedisError

from services.context.adapters.service_metrics import CACHE_HITS, CACHE_INVALIDATIONS, CACHE_MISSES

log = logging.getLogger(__name__)

_READ = """
local token = redis.call('GET', KEYS[1])
if not token then
  token = ARGV[3]
  redis.call('SET', KEYS[1], token)
end
return {token, redis.call('GET', ARGV[1] .. token .. ARGV[2])}
"""


class ValkeyCache:
    def __init__(self, client: redis.Redis, ttl_s: int, retry_after_s: float = 1.0) -> None:
        self.client = client
        self.ttl_s = ttl_s
        self.retry_after_s = retry_after_s
        self._read = client.register_script(_READ)
        self._down_until = 0.0
        self._pending: set[str] = set()

    @classmethod
    def from_url(cls, url: str, ttl_s: int) -> ValkeyCache:
        # Short timeouts: a dead cache must cost milliseconds, not the request.
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=0.25,
            socket_timeout=0.5,
            retry_on_timeout=False,
            health_check_interval=0,
        )
        return cls(client, ttl_s)

    @staticmethod
    def gen_key(story_id: str) -> str:
        return f"ctx:gen:{{{story_id}}}"

    @staticmethod
    def entry_parts(story_id: str, suffix: str) -> tuple[str, str]:
        return f"ctx:{{{story_id}}}:", f":{suffix}"

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed(self, what: str, exc: Exception) -> None:
        if self.available():
            log.warning("valkey unavailable, serving from neo4j", extra={"op": what, "error": repr(exc)})
        self._down_until = time.monotonic() + self.retry_after_s

    async def get(self, story_id: str, suffix: str) -> tuple[str, bytes | None] | None:
        """(generation token, cached value or None); None when the cache cannot be used."""
        if not self.available() or not await self._flush_pending():
            CACHE_MISSES.labels("unavailable").inc()
            return None
        prefix, tail = self.entry_parts(story_id, suffix)
        try:
            token, value = await self._read(keys=[self.gen_key(story_id)], args=[prefix, tail, uuid.uuid4().hex])
        except (RedisError, OSError) as exc:
            self._failed("get", exc)
            CACHE_MISSES.labels("unavailable").inc()
            return None
        if value is None:
            CACHE_MISSES.labels("absent").inc()
        else:
            CACHE_HITS.inc()
        return (token.decode() if isinstance(token, bytes) else str(token)), value

    async def put(self, story_id: str, suffix: str, token: str, value: bytes) -> None:
        if not self.available():
            return
        prefix, tail = self.entry_parts(story_id, suffix)
        try:
            await self.client.set(f"{prefix}{token}{tail}", value, ex=self.ttl_s)
        except (RedisError, OSError) as exc:
            self._failed("put", exc)

    async def invalidate(self, story_ids: Iterable[str]) -> bool:
        """True when ValKey confirmed; otherwise remembered and retried before the next read."""
        stories = set(story_ids)
        self._pending.update(stories)
        written = await self._flush_pending(force=True)
        CACHE_INVALIDATIONS.labels("written" if written else "deferred").inc(len(stories))
        return written

    async def _flush_pending(self, force: bool = False) -> bool:
        if not self._pending:
            return True
        if not force and not self.available():
            return False
        stories = list(self._pending)
        try:
            await self.client.mset({self.gen_key(s): uuid.uuid4().hex for s in stories})
        except (RedisError, OSError) as exc:
            self._failed("invalidate", exc)
            return False
        self._pending.difference_update(stories)
        return True

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self.client.aclose()
