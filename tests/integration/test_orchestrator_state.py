"""Deliberation records in a real JetStream KV and the events announcing them: first final
state wins, a final state is announced once, and housekeeping reads only what is still open.

The NATS server is the tests' own: the stack's Orchestrator would otherwise housekeep these
hand-made records (a RUNNING one with no Ray job is, to it, a job lost with its Ray head)
and hold the admission lease the lease test takes turns on."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from services.orchestrator import handlers, housekeeping
from services.orchestrator.adapters.state_kv import OPEN_BUCKET, AdmissionLease, DeliberationStore
from services.orchestrator.domain.admission import budget
from services.orchestrator.domain.lifecycle import event_fields
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.orchestrator.ports import Deps
from services.shared import event_parsing, events, jetstream, streams
from services.shared.events import Role
from services.stack import api
from services.stack.api import StackConfig
from tests.fakes import EchoModel, FakeContext, FakeCouncils, FakeJobs, FakeLease
from tests.waiting import until


@pytest.fixture(scope="module")
def own_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cfg = StackConfig.private(Path(tmp_path_factory.mktemp("state")) / "stack", services=False)
    try:
        yield api.up(cfg, only=["nats"]).env()["NATS_URL"]
    finally:
        api.down(cfg)


@pytest.fixture
async def nc(own_nats: str) -> AsyncIterator[Client]:
    client = await jetstream.connect(own_nats, "state-test")
    try:
        await jetstream.ensure_streams(client.jetstream())
        yield client
    finally:
        await client.drain()


STREAM = streams.stream_for(events.DELIBERATION_EVENTS).name


async def last_seq(nc: Client) -> int:
    return int((await nc.jetstream().stream_info(STREAM)).state.last_seq)


async def stored_since(nc: Client, seq: int, deliberation_id: str) -> list[str]:
    """Event ids JetStream stored for this deliberation after `seq`: what consumers will see
    (a duplicate Msg-Id is acked but not stored, so core subscribers are no judge of that)."""
    config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=seq + 1,
                            ack_policy=AckPolicy.NONE)
    sub = await nc.jetstream().pull_subscribe(events.DELIBERATION_EVENTS, stream=STREAM, config=config)
    ids = []
    try:
        while True:
            try:
                msgs = await sub.fetch(100, timeout=1)
            except TimeoutError:
                return ids
            for msg in msgs:
                event = event_parsing.parse_event(msg.subject, msg.data)
                if getattr(event, "deliberation_id", "") == deliberation_id:
                    ids.append(event.event_id)
    finally:
        await sub.unsubscribe()


def fresh() -> DeliberationRecord:
    did = f"dlb-test-{uuid.uuid4().hex[:12]}"
    return DeliberationRecord(deliberation_id=did, role=Role.DEV, request=DeliberationRequest(task="t", role=Role.DEV))


async def open_ids(store: DeliberationStore) -> set[str]:
    return {r.deliberation_id for r in await store.records_in_open_index()}


async def messages_under(nc: Client, deliberation_id: str) -> int:
    """Messages the open index keeps for this id: a KV delete would leave a marker here."""
    subject = f"$KV.{OPEN_BUCKET}.{deliberation_id}"
    info = await nc.jetstream().stream_info(f"KV_{OPEN_BUCKET}", subjects_filter=subject)
    return (info.state.subjects or {}).get(subject, 0)


def kv_deps(nc: Client, store: DeliberationStore) -> Deps:
    """The real KV store and JetStream; the ports these tests do not touch are fakes."""
    return Deps(llm=EchoModel(), councils=FakeCouncils(), deliberations=store, jobs=FakeJobs(),
                         context=FakeContext(), publish=partial(jetstream.publish, nc.jetstream()),
                         lease=FakeLease(), budget=budget(16))


async def test_a_final_state_is_stored_announced_once_and_unlisted_without_a_trace(nc: Client) -> None:
    store = await DeliberationStore.open(nc.jetstream())
    announce = partial(handlers.store_then_announce, kv_deps(nc, store))
    running, done = fresh(), fresh()
    for record in (running, done):
        assert await store.create(record)
    assert not await store.create(running)
    since = await last_seq(nc)
    assert await announce(running, events.DeliberationStarted(**event_fields(running)))
    assert await announce(done, events.DeliberationFailed(**event_fields(done), reason="boom"))
    assert not await announce(done, events.DeliberationCancelled(**event_fields(done), reason="late"))
    stored = await store.get(done.deliberation_id)
    assert stored is not None and (stored.state, stored.reason) == (State.FAILED, "boom")
    assert await stored_since(nc, since, done.deliberation_id) == [f"{done.deliberation_id}.failed"]
    ids = await open_ids(store)
    assert running.deliberation_id in ids and done.deliberation_id not in ids
    assert await messages_under(nc, running.deliberation_id) == 1
    assert await messages_under(nc, done.deliberation_id) == 0
    assert not await store.create(done)  # a redelivered plan finds it and lists nothing again
    assert await messages_under(nc, done.deliberation_id) == 0
    assert await announce(running, events.DeliberationCancelled(**event_fields(running), reason="test over"))


async def test_a_final_state_whose_publisher_died_is_announced_by_housekeeping(nc: Client) -> None:
    store = await DeliberationStore.open(nc.jetstream())
    record = fresh()
    assert await store.create(record)
    since = await last_seq(nc)
    # Stored as cancelled by a process that died before publishing.
    assert await store.save(record.moved_to(State.CANCELLED, reason="superseded"))
    deps = kv_deps(nc, store)
    # The stack's own Orchestrator runs the same housekeeping and may get there first; either
    # way the event goes out exactly once.
    await housekeeping.announce_unannounced(deps, await store.records_in_open_index())
    assert await stored_since(nc, since, record.deliberation_id) == [f"{record.deliberation_id}.cancelled"]
    assert await messages_under(nc, record.deliberation_id) == 0
    assert record.deliberation_id not in await open_ids(store)


async def test_one_replica_holds_the_admission_lease_until_it_stops_renewing(nc: Client) -> None:
    js = nc.jetstream()
    bucket = f"test_lease_{uuid.uuid4().hex[:8]}"  # not the stack's own, which its orchestrator holds
    try:
        first = await AdmissionLease.open(js, "replica-a", ttl_s=1.0, bucket=bucket)
        second = await AdmissionLease.open(js, "replica-b", ttl_s=1.0, bucket=bucket)
        assert await first.hold() and await first.hold(), "the holder renews"
        assert not await second.hold()
        # replica-a stops renewing (it died): the TTL frees the lease and replica-b takes it.
        await until(second.hold, 10, "the lease to pass to replica-b", interval=0.2)
        assert not await first.hold()
    finally:
        await js.delete_key_value(bucket)


async def test_the_open_index_is_read_whole_while_ids_leave_it(nc: Client) -> None:
    """Admission reads the open index while final states purge ids from it: every read ends, and
    sees every id that stays."""
    store = await DeliberationStore.open(nc.jetstream())
    staying = [fresh() for _ in range(20)]
    leaving = [fresh() for _ in range(300)]
    for record in staying + leaving:
        assert await store.create(record)

    async def purge_all() -> None:
        for record in leaving:
            await store.remove_from_open_index(record.deliberation_id)

    purging = asyncio.create_task(purge_all())
    reads = 0
    while not purging.done() or reads == 0:
        seen = await asyncio.wait_for(open_ids(store), 10)
        assert {r.deliberation_id for r in staying} <= seen
        reads += 1
    await purging
    assert {r.deliberation_id for r in staying} <= await open_ids(store)
    assert not {r.deliberation_id for r in leaving} & await open_ids(store)
