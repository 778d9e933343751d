"""How many copies JetStream keeps, for every stream and bucket the services create.

A three-node cluster keeps three (NATS_REPLICAS=3): a node can die and every stream and KV or
object bucket still has a leader and a majority. An existing stream or bucket with another
count is changed in place, never recreated: JetStream copies the data to the new peers.
KV buckets are the streams KV_<bucket>, object stores OBJ_<bucket>.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats.errors
from nats.js.api import KeyValueConfig, ObjectStoreConfig, StorageType
from nats.js.client import JetStreamContext
from nats.js.errors import APIError, NoStreamResponseError, NotFoundError, ServiceUnavailableError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

log = logging.getLogger(__name__)
T = TypeVar("T")
# JetStream error codes that mean "not yet" in a cluster still electing its leaders:
# 10008 temporarily unavailable, 10005 no suitable peers (not every node is known yet).
NOT_YET = {10008, 10005}
READY_WITHIN_S = 30.0


def not_ready(exc: BaseException) -> bool:
    """Whether JetStream may answer this call once its meta leader (or the stream's leader) is elected."""
    unanswered = nats.errors.TimeoutError | nats.errors.NoRespondersError | NoStreamResponseError
    if isinstance(exc, unanswered | ServiceUnavailableError):
        return True
    return isinstance(exc, APIError) and exc.err_code in NOT_YET


async def when_ready(call: Callable[[], Awaitable[T]], within_s: float = READY_WITHIN_S) -> T:
    """`call`, retried while the cluster elects its leaders; a lasting or other error is raised."""
    deadline = time.monotonic() + within_s
    delay = 0.1
    while True:
        try:
            return await call()
        except Exception as exc:
            if not not_ready(exc) or time.monotonic() + delay > deadline:
                raise
            log.info("jetstream not ready, retrying", extra={"error": repr(exc)[:200]})
        await asyncio.sleep(delay)
        delay = min(delay * 2, 2.0)


async def ensure_replicas(js: JetStreamContext, stream: str, replicas: int) -> bool:
    """Change an existing stream's replica count in place; False when it does not exist yet."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return False
    if info.config.num_replicas != replicas:
        await js.update_stream(info.config.evolve(num_replicas=replicas))
        log.info("stream replicas changed", extra={"stream": stream, "replicas": replicas})
    return True


def kv_config(bucket: str, replicas: int, ttl_s: float | None = None) -> KeyValueConfig:
    # One revision per key: the services keep the latest state, never its history.
    return KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s, storage=StorageType.FILE, replicas=replicas)


async def key_value(js: JetStreamContext, config: KeyValueConfig) -> KeyValue:
    """The bucket, created, or brought to the configured replicas."""

    async def open_bucket() -> KeyValue:
        await ensure_replicas(js, f"KV_{config.bucket}", config.replicas)
        return await js.create_key_value(config)

    return await when_ready(open_bucket)


async def object_store(js: JetStreamContext, config: ObjectStoreConfig) -> ObjectStore:
    """The object store, created, or brought to the configured replicas."""

    async def open_store() -> ObjectStore:
        bucket = config.bucket or ""
        await ensure_replicas(js, f"OBJ_{bucket}", config.replicas)
        return await js.create_object_store(bucket, config=config)

    return await when_ready(open_store)
