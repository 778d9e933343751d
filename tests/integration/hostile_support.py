"""Helpers for the tests that attack the stack's own service processes: their PIDs,
their health, and the dead letters they leave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from nats.aio.client import Client as NATS
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as opb
from services.shared import events, jetstream
from services.stack import supervisor
from services.stack.api import StackConfig
from tests.e2e.support import Flow
from tests.waiting import until

SERVICES = ("context", "orchestrator")


def service_pids() -> dict[str, int | None]:
    """The PIDs the stack recorded for its two services (None when not running)."""
    records = supervisor.store(StackConfig())
    return {name: getattr(records.load(name), "pid", None) for name in SERVICES}


async def health(addr: str, service: str = "") -> str:
    async with grpc.aio.insecure_channel(addr) as channel:
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=5
            )
        except grpc.RpcError as exc:
            return f"{exc.code().name}"
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def all_serving(env: dict[str, str]) -> dict[str, str]:
    return {name: await health(env[f"{name.upper()}_ADDR"]) for name in SERVICES}


@dataclass
class Letters:
    """Dead letters stored on one dlq subject after a given stream sequence."""

    js: JetStreamContext
    subject: str
    since: int

    @classmethod
    async def start(cls, js: JetStreamContext, subject: str) -> Letters:
        info = await js.stream_info("DEAD_LETTERS")
        return cls(js, events.dead_letter_subject(subject), info.state.last_seq)

    async def read(self) -> list[events.DeadLetter]:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.since + 1)
        sub = await self.js.pull_subscribe(self.subject, stream="DEAD_LETTERS", config=config)
        letters = []
        try:
            while True:
                try:
                    batch = await sub.fetch(100, timeout=1)
                except TimeoutError:
                    break
                for msg in batch:
                    await msg.ack()
                    letters.append(events.DeadLetter.model_validate_json(msg.data))
        finally:
            await sub.unsubscribe()
        return letters

    async def wait_for(self, seq: int, consumers: set[str], within: float = 60) -> dict[str, events.DeadLetter]:
        """The letter each of `consumers` stored for source sequence `seq`."""

        async def every_letter() -> dict[str, events.DeadLetter] | None:
            found = {d.consumer: d for d in await self.read() if d.source_seq == seq and d.consumer in consumers}
            return found if set(found) == consumers else None

        return await until(every_letter, within, f"letters for seq {seq} from {sorted(consumers)}", 0.5)


@asynccontextmanager
async def nats_client(env: dict[str, str]) -> AsyncIterator[NATS]:
    nc = await jetstream.connect(env["NATS_URL"], "hostile-tests")
    try:
        yield nc
    finally:
        await nc.close()


async def recorded(f: Flow, did: str, within: float = 30) -> opb.DeliberationRecord:
    """The Orchestrator's record of a deliberation, once it has one."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await f.record(did)
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND and time.monotonic() < deadline, exc
            await asyncio.sleep(0.5)


async def context_showing(f: Flow, story_id: str, role: str, text: str, within: float = 30) -> str:
    """The role's context once the story is recorded and shows `text`."""
    deadline = time.monotonic() + within
    while True:
        try:
            context = await f.context_for(story_id, role)
            if text in context:
                return context
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND, exc
        assert time.monotonic() < deadline, f"{role} context of {story_id} never showed {text!r}"
        await asyncio.sleep(0.25)
