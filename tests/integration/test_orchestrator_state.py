"""Deliberation records in the stack's real JetStream KV: first final state wins, and
housekeeping reads only what is still open."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from nats.js.client import JetStreamContext

from services.orchestrator.adapters.state_kv import DELIBERATIONS_BUCKET, OPEN_BUCKET, DeliberationStore
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.shared import jetstream
from services.shared.events import Role
from services.stack.api import StackInfo


@pytest.fixture
async def js(stack: StackInfo) -> AsyncIterator[JetStreamContext]:
    nc = await jetstream.connect(stack.env()["NATS_URL"], "state-test")
    try:
        yield nc.jetstream()
    finally:
        await nc.drain()


def fresh() -> DeliberationRecord:
    did = f"dlb-test-{uuid.uuid4().hex[:12]}"
    return DeliberationRecord(deliberation_id=did, role=Role.DEV, request=DeliberationRequest(task="t", role=Role.DEV))


async def open_ids(store: DeliberationStore) -> set[str]:
    return {r.deliberation_id for r in await store.unfinished()}


async def messages_under(js: JetStreamContext, deliberation_id: str) -> int:
    """Messages the open index keeps for this id: a KV delete would leave a marker here."""
    subject = f"$KV.{OPEN_BUCKET}.{deliberation_id}"
    info = await js.stream_info(f"KV_{OPEN_BUCKET}", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


async def test_a_final_state_is_kept_and_unlisted_without_a_trace(js: JetStreamContext) -> None:
    store = await DeliberationStore.open(js)
    running, done = fresh(), fresh()
    for record in (running, done):
        assert await store.create(record)
    assert not await store.create(running)
    assert await store.save(running.moved_to(State.RUNNING))
    assert await store.save(done.moved_to(State.FAILED, reason="boom"))
    assert not await store.save(done.moved_to(State.COMPLETED))
    stored = await store.get(done.deliberation_id)
    assert stored is not None and (stored.state, stored.reason) == (State.FAILED, "boom")
    ids = await open_ids(store)
    assert running.deliberation_id in ids and done.deliberation_id not in ids
    assert await messages_under(js, running.deliberation_id) == 1
    assert await messages_under(js, done.deliberation_id) == 0


async def test_an_open_entry_left_by_a_crash_is_dropped_on_the_next_scan(js: JetStreamContext) -> None:
    store = await DeliberationStore.open(js)
    record = fresh()
    assert await store.create(record)
    # A final state written without unlisting it, as a process that died in between leaves it.
    records = await js.key_value(DELIBERATIONS_BUCKET)
    await records.put(record.deliberation_id, record.moved_to(State.CANCELLED).model_dump_json().encode())
    assert await messages_under(js, record.deliberation_id) == 1
    assert record.deliberation_id not in await open_ids(store)
    assert await messages_under(js, record.deliberation_id) == 0
