"""Oversized and binary poison events against the stack's own service processes: each
service stores a dead letter that keeps the original bytes exactly, terminates the
message only then, stays up (same PID, SERVING) and goes on with the next event."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from nats.js.api import StreamConfig

from services.orchestrator.domain.tracking import deliberation_id
from services.shared import events
from services.shared.deadletter import DeadLetters, original_bytes
from services.stack.api import StackInfo
from tests.e2e.support import flow, plan
from tests.integration.hostile_support import Letters, all_serving, context_showing, nats_client, recorded, service_pids

CONSUMERS = {"context-plan-approved", "orchestrator-plan-approved"}
POISON = {
    "400 KB of 0xFF": b"\xff" * 400_000,
    "200 KB of \\x01": b"\x01" * 200_000,
}


@pytest.mark.parametrize("name", list(POISON))
async def test_oversized_poison_is_kept_whole_and_the_services_stay_up(stack: StackInfo, name: str) -> None:
    env = stack.env()
    pids = service_pids()
    assert all(pids.values()), pids
    body = POISON[name]
    async with nats_client(env) as nc:
        js = nc.jetstream()
        letters = await Letters.start(js, events.PLAN_APPROVED)
        ack = await js.publish(events.PLAN_APPROVED, body, headers={"Nats-Msg-Id": uuid.uuid4().hex, "X-Probe": name})
        stored = await letters.wait_for(ack.seq, CONSUMERS)
        for consumer, letter in stored.items():
            assert letter.original_subject == events.PLAN_APPROVED and letter.source_stream == "PLANNING_EVENTS"
            assert "invalid JSON" in letter.reason and letter.deliveries >= 1, consumer
            assert letter.payload_object and letter.payload_bucket == "DEAD_LETTER_PAYLOADS", consumer
            assert letter.headers["X-Probe"] == name and letter.payload_size == len(body)
            assert await original_bytes(js, letter) == body, f"{consumer} lost the original bytes"

    # A valid plan right after is processed by both services.
    sid = f"DLQ-{uuid.uuid4().hex[:8]}"
    async with flow(env) as f:
        await f.publish(plan(sid, [events.Role.DATA]))
        await context_showing(f, sid, "DATA", f"DATA work for {sid}")
        did = deliberation_id(sid, f"{sid}-plan", 1, events.Role.DATA)
        record = await recorded(f, did)
        assert record.deliberation_id == did
    assert service_pids() == pids, "a service restarted"
    assert await all_serving(env) == {"context": "SERVING", "orchestrator": "SERVING"}


async def test_binary_payload_inline_is_base64_of_the_exact_bytes(stack: StackInfo) -> None:
    body = bytes(range(256)) * 4
    async with nats_client(stack.env()) as nc:
        js = nc.jetstream()
        letters = await Letters.start(js, events.PLAN_APPROVED)
        ack = await js.publish(events.PLAN_APPROVED, body, headers={"Nats-Msg-Id": uuid.uuid4().hex})
        stored = await letters.wait_for(ack.seq, {"context-plan-approved"})
        letter = stored["context-plan-approved"]
        assert letter.payload is None and letter.payload_b64 and not letter.payload_object
        assert await original_bytes(js, letter) == body



async def test_a_letter_that_cannot_be_stored_leaves_the_message_for_a_retry(stack: StackInfo) -> None:
    """With the payload bucket gone, the letter cannot be stored: the message is nak'ed, not
    terminated, and comes back; once the bucket is back, the letter is stored and then it goes."""
    tag = uuid.uuid4().hex[:8]
    stream, subject, bucket = f"HOSTILE_{tag}", f"hostile.{tag}.x", f"HOSTILE_PAYLOADS_{tag}"
    async with nats_client(stack.env()) as nc:
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name=stream, subjects=[f"hostile.{tag}.>"]))
        try:
            store = await js.create_object_store(bucket)
            letters = DeadLetters(js, max_inline_bytes=1024, store=store, retry_delay_s=0.2)
            await js.delete_object_store(bucket)
            body = b"\xfe" * 4096
            await js.publish(subject, body)
            sub = await js.pull_subscribe(subject, durable="poison", stream=stream)
            (msg,) = await sub.fetch(1, timeout=5)
            assert not await letters.send(msg, "test poison")
            (again,) = await sub.fetch(1, timeout=5)
            assert again.metadata.num_delivered == 2 and again.data == body
            letters.store = await js.create_object_store(bucket)
            assert await letters.send(again, "test poison")
            with pytest.raises(TimeoutError):
                await sub.fetch(1, timeout=1)
            letter = (await letters.encode(again, "test poison"))
            assert await original_bytes(js, letter.model_copy(update={"payload_bucket": bucket})) == body
        finally:
            await js.delete_stream(stream)
            with contextlib.suppress(Exception):
                await js.delete_object_store(bucket)
